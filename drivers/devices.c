/* Listing of V4L2 capture devices with formats, sizes and frame rates. */
#define AG_LOG_TAG "camera"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "drv.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

static void rates(int fd, uint32_t fourcc, struct drv_size_info *s)
{
	for (unsigned i = 0; s->nfps < AG_NELEM(s->fps); i++) {
		struct v4l2_frmivalenum fi;
		memset(&fi, 0, sizeof(fi));
		fi.index = i;
		fi.pixel_format = fourcc;
		fi.width = s->width;
		fi.height = s->height;
		if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) < 0)
			break;
		const struct v4l2_fract *f = fi.type == V4L2_FRMIVAL_TYPE_DISCRETE ? &fi.discrete : &fi.stepwise.min;
		if (f->numerator)
			s->fps[s->nfps++] = (f->denominator + f->numerator / 2) / f->numerator;
		if (fi.type != V4L2_FRMIVAL_TYPE_DISCRETE)
			break;
	}
}

static void describe(int fd, struct drv_device_info *d)
{
	for (unsigned i = 0; d->nformats < AG_NELEM(d->formats); i++) {
		struct v4l2_fmtdesc desc;
		memset(&desc, 0, sizeof(desc));
		desc.index = i;
		desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		if (xioctl(fd, VIDIOC_ENUM_FMT, &desc) < 0)
			break;
		struct drv_format_info *f = &d->formats[d->nformats++];
		memset(f, 0, sizeof(*f));
		for (int k = 0; k < 4; k++) {
			char c = (char)((desc.pixelformat >> (8 * k)) & 0xff);
			f->fourcc[k] = (c >= 32 && c < 127) ? c : '?';
		}
		snprintf(f->description, sizeof(f->description), "%s", (const char *)desc.description);
		for (unsigned j = 0; f->nsizes < AG_NELEM(f->sizes); j++) {
			struct v4l2_frmsizeenum fs;
			memset(&fs, 0, sizeof(fs));
			fs.index = j;
			fs.pixel_format = desc.pixelformat;
			if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0)
				break;
			if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE) {
				f->stepwise = true;
				f->min_w = fs.stepwise.min_width;
				f->max_w = fs.stepwise.max_width;
				f->min_h = fs.stepwise.min_height;
				f->max_h = fs.stepwise.max_height;
				break;
			}
			struct drv_size_info *s = &f->sizes[f->nsizes++];
			s->width = fs.discrete.width;
			s->height = fs.discrete.height;
			rates(fd, desc.pixelformat, s);
		}
	}
}

static int cmp_num(const void *a, const void *b)
{
	const struct drv_device_info *x = a, *y = b;
	int nx = atoi(x->path + 10), ny = atoi(y->path + 10); /* after "/dev/video" */
	return nx - ny;
}

int drv_devices_list(struct drv_device_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *dir = opendir("/dev");
	if (!dir)
		return 0;
	struct drv_device_info *list = NULL;
	size_t cnt = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, "video", 5) != 0 || !e->d_name[5])
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/dev/%.50s", e->d_name);
		int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct v4l2_capability cap;
		memset(&cap, 0, sizeof(cap));
		uint32_t caps = 0;
		if (xioctl(fd, VIDIOC_QUERYCAP, &cap) == 0)
			caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
		if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
			close(fd);
			continue;
		}
		struct drv_device_info *nl = realloc(list, (cnt + 1) * sizeof(*nl));
		if (!nl) {
			close(fd);
			rc = AG_ENOMEM;
			break;
		}
		list = nl;
		struct drv_device_info *d = &list[cnt++];
		memset(d, 0, sizeof(*d));
		ag_strlcpy(d->path, path, sizeof(d->path));
		snprintf(d->card, sizeof(d->card), "%s", (const char *)cap.card);
		snprintf(d->driver, sizeof(d->driver), "%s", (const char *)cap.driver);
		snprintf(d->bus, sizeof(d->bus), "%s", (const char *)cap.bus_info);
		describe(fd, d);
		close(fd);
	}
	closedir(dir);
	if (rc < 0) {
		free(list);
		return rc;
	}
	if (cnt)
		qsort(list, cnt, sizeof(*list), cmp_num);
	*out = list;
	*n = cnt;
	return 0;
}
