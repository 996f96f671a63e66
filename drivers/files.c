/*
 * files:DIR replays JPEG files (passed through) and PNM files (P5 grey,
 * P6 RGB, maxval 255; encoded) in name order, looping. Other files are
 * ignored. A file that cannot be read or parsed is skipped with one line.
 */
#define AG_LOG_TAG "camera"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "source_impl.h"

#define MAX_FILE (64u << 20)

struct files {
	char **names;
	size_t n, next;
	char *dir;
	char *data; /* the current file */
	uint64_t seq;
};

static int has_ext(const char *name, const char *ext)
{
	size_t l = strlen(name), e = strlen(ext);
	return l > e && strcasecmp(name + l - e, ext) == 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void files_close(struct drv_source *src)
{
	struct files *fs = src->priv;
	if (!fs)
		return;
	for (size_t i = 0; i < fs->n; i++)
		free(fs->names[i]);
	free(fs->names);
	free(fs->data);
	free(fs->dir);
	free(fs);
}

static int files_open(struct drv_source *src)
{
	const char *dir = src->cfg.device + 6;
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		ag_log_err("%s: cannot open folder: %s", dir, strerror(e));
		return ag_errno_code(e);
	}
	struct files *fs = calloc(1, sizeof(*fs));
	if (!fs) {
		closedir(d);
		return AG_ENOMEM;
	}
	src->priv = fs;
	fs->dir = strdup(dir);
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(d)) != NULL) {
		const char *nm = e->d_name;
		if (nm[0] == '.' || !(has_ext(nm, ".jpg") || has_ext(nm, ".jpeg") || has_ext(nm, ".pgm") ||
				      has_ext(nm, ".ppm") || has_ext(nm, ".pnm")))
			continue;
		if (fs->n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(fs->names, cap * sizeof(*nn));
			if (!nn)
				break;
			fs->names = nn;
		}
		fs->names[fs->n] = strdup(nm);
		if (fs->names[fs->n])
			fs->n++;
	}
	closedir(d);
	if (!fs->dir || fs->n == 0) {
		ag_log_err("%s: no .jpg, .jpeg, .pgm or .ppm files to replay", dir);
		files_close(src);
		src->priv = NULL;
		return AG_ENOENT;
	}
	qsort(fs->names, fs->n, sizeof(*fs->names), cmp);
	snprintf(src->desc, sizeof(src->desc), "files:%.80s (%zu files)", dir, fs->n);
	return 0;
}

/* Parse a binary PNM header: "P5|P6 W H 255" and one white space. */
static int parse_pnm(const char *d, size_t len, struct drv_frame *f)
{
	if (len < 3 || d[0] != 'P' || (d[1] != '5' && d[1] != '6'))
		return AG_ECORRUPT;
	size_t i = 2;
	unsigned v[3];
	for (int k = 0; k < 3; k++) {
		while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r' || d[i] == '#')) {
			if (d[i] == '#')
				while (i < len && d[i] != '\n')
					i++;
			else
				i++;
		}
		unsigned long x = 0;
		size_t start = i;
		while (i < len && d[i] >= '0' && d[i] <= '9' && x < 100000)
			x = x * 10 + (unsigned long)(d[i++] - '0');
		if (i == start)
			return AG_ECORRUPT;
		v[k] = (unsigned)x;
	}
	if (i >= len || v[2] != 255 || v[0] == 0 || v[1] == 0 || v[0] > 16384 || v[1] > 16384)
		return AG_ECORRUPT;
	i++; /* the single white space before the data */
	unsigned bpp = d[1] == '6' ? 3 : 1;
	if (len - i < (size_t)v[0] * v[1] * bpp)
		return AG_ECORRUPT;
	f->fmt = bpp == 3 ? DRV_FMT_RGB24 : DRV_FMT_GREY;
	f->width = v[0];
	f->height = v[1];
	f->plane[0] = (const uint8_t *)d + i;
	f->stride[0] = v[0] * bpp;
	return 0;
}

static int files_grab(struct drv_source *src, struct drv_frame *f, uint64_t timeout_ms)
{
	(void)timeout_ms;
	struct files *fs = src->priv;
	for (size_t tries = 0; tries < fs->n; tries++) {
		const char *nm = fs->names[fs->next];
		fs->next = (fs->next + 1) % fs->n;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", fs->dir, nm);
		free(fs->data);
		fs->data = NULL;
		size_t len = 0;
		int rc = ag_file_read(path, MAX_FILE, &fs->data, &len);
		if (rc < 0) {
			ag_log_warnx("%s: cannot read: %s", path, ag_strerror(rc));
			continue;
		}
		memset(f, 0, sizeof(*f));
		if (has_ext(nm, ".jpg") || has_ext(nm, ".jpeg")) {
			f->fmt = DRV_FMT_MJPEG;
			f->plane[0] = (const uint8_t *)fs->data;
			f->size = len;
			unsigned w, h;
			if (drv_jpeg_size(f->plane[0], len, &w, &h) < 0) {
				ag_log_warnx("%s: not a JPEG that decodes: skipped", path);
				continue;
			}
			f->width = w;
			f->height = h;
		} else if (parse_pnm(fs->data, len, f) < 0) {
			ag_log_warnx("%s: not a binary PNM (P5/P6, maxval 255): skipped", path);
			continue;
		}
		f->captured_ms = ag_wall_ms();
		f->sequence = fs->seq++;
		return 0;
	}
	ag_log_err("%s: no readable image left to replay", fs->dir);
	return AG_EIO;
}

const struct drv_backend drv_backend_files = {
	.name = "files",
	.open = files_open,
	.close = files_close,
	.grab = files_grab,
};
