#define AG_LOG_TAG "results"
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"
#include "stg.h"

struct stg_results {
	int fd;
	bool fsync_each;
	char *path;
	pthread_mutex_t mu; /* appends, and the swap of fd on a reopen */
	atomic_bool reopen;
	char *line;
	size_t cap;
};

int stg_results_open(const char *path, bool fsync_each, struct stg_results **out)
{
	struct stg_results *r = calloc(1, sizeof(*r));
	if (!r)
		return AG_ENOMEM;
	r->fsync_each = fsync_each;
	pthread_mutex_init(&r->mu, NULL);
	atomic_init(&r->reopen, false);
	r->path = strdup(path);
	r->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (r->fd < 0 || !r->path) {
		int e = errno;
		int rc = r->path ? ag_errno_code(e) : AG_ENOMEM;
		ag_log_warn("%s: cannot open results file", path);
		stg_results_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void stg_results_reopen(struct stg_results *r)
{
	atomic_store(&r->reopen, true);
}

/*
 * Under r->mu: a reopen asked for is done here. The old file is synced
 * before the lock is let go, so a sync that comes later and finds the new
 * file still covers every line appended before it (see stg_results_sync).
 * A path that cannot be opened keeps the old file.
 */
static void swap_locked(struct stg_results *r)
{
	if (!atomic_exchange(&r->reopen, false))
		return;
	int nfd = open(r->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (nfd < 0) {
		ag_log_warn("%s: cannot open again: results go on into the file opened before", r->path);
		return;
	}
	int old = dup(r->fd);
	if (old < 0 || dup3(nfd, r->fd, O_CLOEXEC) < 0) {
		ag_log_warn("%s: cannot switch to the new file", r->path);
		if (old >= 0)
			close(old);
		close(nfd);
		return;
	}
	close(nfd);
	if (fdatasync(old) < 0 && errno != EINVAL)
		ag_log_warn("%s: fdatasync of the file before the reopen", r->path);
	close(old);
	ag_log_info("%s: opened again", r->path);
}

int stg_results_append(struct stg_results *r, const char *line)
{
	size_t n = strlen(line);
	if (memchr(line, '\n', n))
		return AG_EINVAL;
	pthread_mutex_lock(&r->mu);
	swap_locked(r);
	if (n + 2 > r->cap) {
		char *nl = realloc(r->line, n + 2);
		if (!nl) {
			pthread_mutex_unlock(&r->mu);
			return AG_ENOMEM;
		}
		r->line = nl;
		r->cap = n + 2;
	}
	memcpy(r->line, line, n);
	r->line[n] = '\n';
	/* one write with O_APPEND: a line is never split by another writer */
	int rc = ag_write_all(r->fd, r->line, n + 1);
	if (rc == 0 && r->fsync_each && fdatasync(r->fd) < 0)
		rc = ag_errno_code(errno);
	pthread_mutex_unlock(&r->mu);
	if (rc < 0)
		ag_log_warn("%s: result not written", r->path);
	return rc;
}

int stg_results_sync(struct stg_results *r)
{
	/* a copy of the descriptor taken under the lock: if a reopen comes
	 * after it, this still syncs the file the lines went to, and a reopen
	 * before it synced the old file itself */
	pthread_mutex_lock(&r->mu);
	swap_locked(r);
	int fd = dup(r->fd);
	pthread_mutex_unlock(&r->mu);
	if (fd < 0 || fdatasync(fd) < 0) {
		int rc = ag_errno_code(errno);
		ag_log_warn("%s: fdatasync", r->path);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

void stg_results_close(struct stg_results *r)
{
	if (!r)
		return;
	if (r->fd >= 0) {
		if (fdatasync(r->fd) < 0 && errno != EINVAL)
			ag_log_warn("%s: fdatasync", r->path);
		close(r->fd);
	}
	pthread_mutex_destroy(&r->mu);
	free(r->path);
	free(r->line);
	free(r);
}

static int state_file(const char *dir, const char *name, const char *ext, char *buf, size_t len)
{
	if (!*name || name[0] == '.')
		return AG_EINVAL;
	for (const char *p = name; *p; p++)
		if (!(( *p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return AG_EINVAL;
	if ((size_t)snprintf(buf, len, "%s/%s.%s", dir, name, ext) >= len)
		return AG_ETOOBIG;
	return 0;
}

static int state_path(const char *dir, const char *name, char *buf, size_t len)
{
	return state_file(dir, name, "json", buf, len);
}

int stg_state_write(const char *dir, const char *name, const char *json)
{
	char path[PATH_MAX];
	int rc = state_path(dir, name, path, sizeof(path));
	if (rc < 0)
		return rc;
	if ((rc = ag_mkdir_p(dir, 0750)) < 0)
		return rc;
	rc = ag_file_replace(path, json, strlen(json), 0640);
	if (rc < 0)
		ag_log_warn("%s: state not written", path);
	return rc;
}

int stg_state_read(const char *dir, const char *name, char **json)
{
	char path[PATH_MAX];
	int rc = state_path(dir, name, path, sizeof(path));
	if (rc < 0)
		return rc;
	return ag_file_read(path, 16u << 20, json, NULL);
}

int stg_state_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int rc = state_path(dir, name, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return stg_state_log_remove(dir, name);
		return ag_errno_code(errno);
	}
	/* the log goes after the state file: a log is never left alone */
	rc = stg_state_log_remove(dir, name);
	int rc2 = ag_fsync_dir(dir);
	return rc < 0 ? rc : rc2;
}

int stg_state_log_append(const char *dir, const char *name, const char *lines, size_t len)
{
	char path[PATH_MAX];
	int rc = state_file(dir, name, "log", path, sizeof(path));
	if (rc < 0)
		return rc;
	if (len == 0 || lines[len - 1] != '\n')
		return AG_EINVAL;
	bool created = false;
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		created = fd >= 0;
	}
	if (fd < 0) {
		rc = ag_errno_code(errno);
		ag_log_warn("%s: cannot open", path);
		return rc;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = ag_errno_code(errno);
		close(fd);
		return rc;
	}
	rc = ag_write_all(fd, lines, len);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = ag_errno_code(errno);
	if (rc < 0) {
		ag_log_warn("%s: not appended", path);
		/* no half line for the next append to run into */
		if (ftruncate(fd, st.st_size) < 0 || fdatasync(fd) < 0)
			ag_log_warn("%s: cannot cut back to %lld bytes", path, (long long)st.st_size);
	}
	close(fd);
	if (rc == 0 && created)
		rc = ag_fsync_dir(dir);
	return rc;
}

int stg_state_log_read(const char *dir, const char *name, bool repair, char **text, size_t *len)
{
	char path[PATH_MAX];
	*text = NULL;
	*len = 0;
	int rc = state_file(dir, name, "log", path, sizeof(path));
	if (rc < 0)
		return rc;
	char *buf = NULL;
	size_t n = 0;
	rc = ag_file_read(path, 64u << 20, &buf, &n);
	if (rc == AG_ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	size_t keep = n;
	while (keep && buf[keep - 1] != '\n')
		keep--;
	if (keep < n && repair) {
		ag_log_warnx("%s: cutting a torn last line (%zu bytes)", path, n - keep);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)keep) < 0 || fdatasync(fd) < 0) {
			rc = ag_errno_code(errno);
			ag_log_warn("%s: cannot cut the torn line", path);
		}
		if (fd >= 0)
			close(fd);
		if (rc < 0) {
			free(buf);
			return rc;
		}
	}
	buf[keep] = '\0';
	*text = buf;
	*len = keep;
	return 0;
}

int stg_state_log_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int rc = state_file(dir, name, "log", path, sizeof(path));
	if (rc < 0)
		return rc;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : ag_errno_code(errno);
	return ag_fsync_dir(dir);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void stg_state_list_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

int stg_state_list(const char *dir, char ***names)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno != ENOENT) {
			rc = ag_errno_code(errno);
			ag_log_warn("%s: cannot list state files", dir);
			return rc;
		}
	} else {
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);
			char tmp[PATH_MAX];
			if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
				continue;
			char *name = strndup(e->d_name, len - 5);
			if (!name) {
				rc = AG_ENOMEM;
				goto fail;
			}
			/* Only names stg_state_write() accepts (skips temp files). */
			if (state_path(dir, name, tmp, sizeof(tmp)) < 0) {
				free(name);
				continue;
			}
			if (n + 2 > cap) {
				size_t ncap = cap ? cap * 2 : 8;
				char **nv = realloc(v, ncap * sizeof(*nv));
				if (!nv) {
					free(name);
					rc = AG_ENOMEM;
					goto fail;
				}
				v = nv;
				cap = ncap;
			}
			v[n++] = name;
			v[n] = NULL;
		}
		closedir(d);
		d = NULL;
	}
	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return AG_ENOMEM;
	}
	qsort(v, n, sizeof(*v), cmp_name);
	*names = v;
	return (int)n;
fail:
	if (d)
		closedir(d);
	if (v)
		v[n] = NULL;
	stg_state_list_free(v);
	return rc;
}
