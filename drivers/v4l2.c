/*
 * V4L2 capture: mmap streaming, frames handed out without a copy (the
 * buffer goes back to the driver at the next grab), the newest frame when
 * several are waiting, and recovery from timeouts, bad buffers and unplugs
 * (the device is reopened by path on later grabs). A camera format the
 * encoder cannot take is converted to YU12 or RGB24 (fmtconv.h) where the
 * build can: asked for by fourcc, or chosen by libv4lconvert under "auto"
 * when the camera offers nothing the encoder takes.
 */
#define AG_LOG_TAG "camera"
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fmtconv.h"
#include "source_impl.h"

#define MAX_BUFFERS 32

struct v4l2 {
	int fd;
	uint32_t fourcc;
	enum drv_pixfmt fmt;
	unsigned width, height, bpl;
	struct {
		void *start;
		size_t len;
	} buf[MAX_BUFFERS];
	unsigned nbuf;
	int held;          /* buffer index handed out in the last frame, or -1 */
	bool streaming;
	unsigned timeouts; /* in a row */
	bool said_size;
	struct ag_ratelimit gone_rl, bad_rl;
	uint64_t next_reopen_ms;
	uint64_t reopen_delay_ms;
	uint64_t seq;
	struct fmtconv *conv; /* converting, else NULL */
	bool limited;         /* YUV frames in the limited range */
};

static const struct {
	uint32_t fourcc;
	enum drv_pixfmt fmt;
} formats[] = {
	/* the order is the preference of camera.format "auto" */
	{ V4L2_PIX_FMT_MJPEG, DRV_FMT_MJPEG },
	{ V4L2_PIX_FMT_JPEG, DRV_FMT_MJPEG },
	{ V4L2_PIX_FMT_YUYV, DRV_FMT_YUYV },
	{ V4L2_PIX_FMT_UYVY, DRV_FMT_UYVY },
	{ V4L2_PIX_FMT_NV12, DRV_FMT_NV12 },
	{ V4L2_PIX_FMT_YUV420, DRV_FMT_YU12 },
	{ V4L2_PIX_FMT_GREY, DRV_FMT_GREY },
	{ V4L2_PIX_FMT_RGB24, DRV_FMT_RGB24 },
	{ V4L2_PIX_FMT_BGR24, DRV_FMT_BGR24 },
};

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

static void fourcc_str(uint32_t f, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((f >> (8 * i)) & 0xff);
		out[i] = (c >= 32 && c < 127) ? c : '?';
	}
	out[4] = '\0';
}

static void unmap_all(struct v4l2 *v)
{
	for (unsigned i = 0; i < v->nbuf; i++)
		if (v->buf[i].start && v->buf[i].start != MAP_FAILED)
			munmap(v->buf[i].start, v->buf[i].len);
	v->nbuf = 0;
}

static void device_close(struct v4l2 *v)
{
	if (v->fd < 0)
		return;
	if (v->streaming) {
		enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		xioctl(v->fd, VIDIOC_STREAMOFF, &t);
		v->streaming = false;
	}
	unmap_all(v);
	fmtconv_destroy(v->conv);
	v->conv = NULL;
	close(v->fd);
	v->fd = -1;
	v->held = -1;
}

static int queue(struct v4l2 *v, unsigned i)
{
	struct v4l2_buffer b;
	memset(&b, 0, sizeof(b));
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	b.index = i;
	return xioctl(v->fd, VIDIOC_QBUF, &b);
}

static int stream_on(struct v4l2 *v, const char *dev)
{
	for (unsigned i = 0; i < v->nbuf; i++) {
		if (queue(v, i) < 0) {
			ag_log_warn("%s: VIDIOC_QBUF", dev);
			return ag_errno_code(errno);
		}
	}
	enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (xioctl(v->fd, VIDIOC_STREAMON, &t) < 0) {
		ag_log_warn("%s: VIDIOC_STREAMON", dev);
		return ag_errno_code(errno);
	}
	v->streaming = true;
	v->held = -1;
	return 0;
}

static int stream_restart(struct v4l2 *v, const char *dev)
{
	enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	xioctl(v->fd, VIDIOC_STREAMOFF, &t); /* returns every buffer to us */
	v->streaming = false;
	v->held = -1;
	return stream_on(v, dev);
}

/* Open the node, pick the format, map buffers, start streaming. */
static int device_open(struct drv_source *src, struct v4l2 *v, bool first)
{
	const char *dev = src->cfg.device;
	v->fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (v->fd < 0) {
		int e = errno;
		if (first)
			ag_log_err("%s: cannot open: %s", dev, strerror(e));
		return e == ENOENT || e == ENODEV || e == ENXIO ? AG_ENODEV : ag_errno_code(e);
	}
	struct v4l2_capability cap;
	memset(&cap, 0, sizeof(cap));
	if (xioctl(v->fd, VIDIOC_QUERYCAP, &cap) < 0) {
		ag_log_err("%s: not a V4L2 device (VIDIOC_QUERYCAP: %s)", dev, strerror(errno));
		goto fail_inval;
	}
	uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
		ag_log_err("%s (%s): not a streaming video capture device", dev, (const char *)cap.card);
		goto fail_inval;
	}
	/* what the device offers */
	uint32_t offered[128]; /* vivid alone offers 83 */
	unsigned noff = 0;
	char list[128 * 5 + 1] = "";
	size_t ll = 0;
	for (unsigned i = 0; noff < AG_NELEM(offered); i++) {
		struct v4l2_fmtdesc fd;
		memset(&fd, 0, sizeof(fd));
		fd.index = i;
		fd.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		if (xioctl(v->fd, VIDIOC_ENUM_FMT, &fd) < 0)
			break;
		offered[noff++] = fd.pixelformat;
		char fc[5];
		fourcc_str(fd.pixelformat, fc);
		if (ll < sizeof(list))
			ll += (size_t)snprintf(list + ll, sizeof(list) - ll, "%s%s", ll ? " " : "", fc);
	}
	uint32_t want = 0;
	bool convert = false;
	if (src->cfg.fourcc[0]) {
		/* a camera format by fourcc: taken directly when it can be, else converted */
		const char *c = src->cfg.fourcc;
		uint32_t fc = v4l2_fourcc(c[0], c[1], c[2], c[3]);
		for (unsigned i = 0; i < noff && !want; i++)
			if (offered[i] == fc)
				want = fc;
		if (!want) {
			ag_log_err("%s: does not offer %s; it offers: %s", dev, c, list);
			goto fail_unsupported;
		}
		convert = true;
		for (size_t k = 0; k < AG_NELEM(formats); k++)
			if (formats[k].fourcc == fc) {
				v->fmt = formats[k].fmt;
				convert = false;
			}
	} else {
		for (size_t k = 0; k < AG_NELEM(formats) && !want; k++) {
			if (src->cfg.format != DRV_FMT_AUTO && formats[k].fmt != src->cfg.format)
				continue;
			for (unsigned i = 0; i < noff; i++)
				if (offered[i] == formats[k].fourcc) {
					want = formats[k].fourcc;
					v->fmt = formats[k].fmt;
					break;
				}
		}
		if (!want && src->cfg.format == DRV_FMT_AUTO && fmtconv_built) {
			/* nothing the encoder takes: what libv4lconvert would convert from */
			if (fmtconv_create(v->fd, &v->conv) < 0) {
				ag_log_err("%s: cannot set up libv4lconvert", dev);
				goto fail_io;
			}
			if (fmtconv_pick(v->conv, src->cfg.width, src->cfg.height, &want) == 0)
				convert = true;
		}
		if (!want) {
			if (src->cfg.format != DRV_FMT_AUTO)
				ag_log_err("%s: does not offer %s; it offers: %s", dev, drv_pixfmt_name(src->cfg.format), list);
			else if (fmtconv_built)
				ag_log_err("%s: none of its formats (%s) can be encoded or converted: fieldcam takes MJPG YUYV UYVY NV12 YU12 GREY RGB3 BGR3, and what libv4lconvert converts",
					   dev, list);
			else
				ag_log_err("%s: none of its formats (%s) can be encoded: fieldcam takes MJPG YUYV UYVY NV12 YU12 GREY RGB3 BGR3 (this build has no libv4lconvert to convert others)",
					   dev, list);
			goto fail_unsupported;
		}
	}
	if (convert) {
		char fc[5];
		fourcc_str(want, fc);
		if (!fmtconv_built) {
			ag_log_err("%s: %s needs conversion by libv4lconvert, which this build does not have; fieldcam takes MJPG YUYV UYVY NV12 YU12 GREY RGB3 BGR3; the device offers: %s",
				   dev, fc, list);
			goto fail_unsupported;
		}
		if (!v->conv && fmtconv_create(v->fd, &v->conv) < 0) {
			ag_log_err("%s: cannot set up libv4lconvert", dev);
			goto fail_io;
		}
	}
	struct v4l2_format f;
	memset(&f, 0, sizeof(f));
	f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	f.fmt.pix.width = src->cfg.width;
	f.fmt.pix.height = src->cfg.height;
	f.fmt.pix.pixelformat = want;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	if (xioctl(v->fd, VIDIOC_S_FMT, &f) < 0) {
		ag_log_err("%s: VIDIOC_S_FMT: %s", dev, strerror(errno));
		goto fail_io;
	}
	if (f.fmt.pix.pixelformat != want) {
		char a[5], b[5];
		fourcc_str(want, a);
		fourcc_str(f.fmt.pix.pixelformat, b);
		ag_log_err("%s: asked for %s, the driver chose %s", dev, a, b);
		goto fail_unsupported;
	}
	v->fourcc = want;
	/* The range of the samples. V4L2's rule (V4L2_MAP_QUANTIZATION_DEFAULT):
	 * a colour YUV format is in the limited range unless the driver says
	 * full, or by default for the JPEG colorspace (as the Pi camera's driver
	 * reports). Luma-only formats are taken as full range unless the driver
	 * says limited: monochrome sensors send 0..255, and so does vivid's
	 * GREY under the default (its darkest bar is 0). RGB (also what
	 * libv4lconvert makes of RGB and Bayer) is full range: see below. */
	bool luma_only = want == V4L2_PIX_FMT_GREY || want == V4L2_PIX_FMT_Y10 || want == V4L2_PIX_FMT_Y12 ||
			 want == V4L2_PIX_FMT_Y16;
	v->limited = f.fmt.pix.quantization == V4L2_QUANTIZATION_LIM_RANGE ||
		     (f.fmt.pix.quantization == V4L2_QUANTIZATION_DEFAULT && !luma_only &&
		      f.fmt.pix.colorspace != V4L2_COLORSPACE_JPEG);
	v->width = f.fmt.pix.width;
	v->height = f.fmt.pix.height;
	v->bpl = f.fmt.pix.bytesperline;
	if (v->conv) {
		int rgb = 0, rc = fmtconv_start(v->conv, &f, &rgb);
		if (rc < 0) {
			char fc[5];
			fourcc_str(want, fc);
			if (rc == AG_EUNSUPPORTED)
				ag_log_err("%s: libv4lconvert cannot convert %s; fieldcam takes MJPG YUYV UYVY NV12 YU12 GREY RGB3 BGR3; the device offers: %s",
					   dev, fc, list);
			else
				ag_log_err("%s: cannot convert %ux%u %s frames (%s)", dev, v->width, v->height, fc, ag_strerror(rc));
			goto fail_unsupported;
		}
		v->fmt = rgb ? DRV_FMT_RGB24 : DRV_FMT_YU12; /* what the frames become */
	}
	if (v->fmt == DRV_FMT_MJPEG || v->fmt == DRV_FMT_RGB24 || v->fmt == DRV_FMT_BGR24)
		v->limited = false;
	if (v->width != src->cfg.width || v->height != src->cfg.height) {
		if (!v->said_size)
			ag_log_warnx("%s: asked for %ux%u, the driver gives %ux%u: using that", dev,
				     src->cfg.width, src->cfg.height, v->width, v->height);
		v->said_size = true;
	}
	if (v->conv)
		v->bpl = v->width * (v->fmt == DRV_FMT_RGB24 ? 3 : 1); /* of the frames made from the buffers */
	unsigned min_bpl = v->width * (v->fmt == DRV_FMT_YUYV || v->fmt == DRV_FMT_UYVY ? 2 :
				       v->fmt == DRV_FMT_RGB24 || v->fmt == DRV_FMT_BGR24 ? 3 : 1);
	if (v->fmt != DRV_FMT_MJPEG && v->bpl < min_bpl)
		v->bpl = min_bpl;

	struct v4l2_requestbuffers rb;
	memset(&rb, 0, sizeof(rb));
	rb.count = src->cfg.buffers ? src->cfg.buffers : 4;
	if (rb.count > MAX_BUFFERS)
		rb.count = MAX_BUFFERS;
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rb.memory = V4L2_MEMORY_MMAP;
	if (xioctl(v->fd, VIDIOC_REQBUFS, &rb) < 0 || rb.count < 2) {
		ag_log_err("%s: cannot get mmap buffers (VIDIOC_REQBUFS: %s)", dev, strerror(errno));
		goto fail_io;
	}
	for (unsigned i = 0; i < rb.count; i++) {
		struct v4l2_buffer b;
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		b.index = i;
		if (xioctl(v->fd, VIDIOC_QUERYBUF, &b) < 0) {
			ag_log_err("%s: VIDIOC_QUERYBUF: %s", dev, strerror(errno));
			goto fail_io;
		}
		v->buf[i].len = b.length;
		v->buf[i].start = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, b.m.offset);
		if (v->buf[i].start == MAP_FAILED) {
			ag_log_err("%s: mmap: %s", dev, strerror(errno));
			v->buf[i].start = NULL;
			goto fail_io;
		}
		v->nbuf = i + 1;
	}
	/* frame sizes the encoder relies on must fit in the buffers */
	size_t need = (size_t)v->bpl * v->height;
	if (v->fmt == DRV_FMT_NV12 || v->fmt == DRV_FMT_YU12)
		need = need * 3 / 2;
	if (v->fmt != DRV_FMT_MJPEG && !v->conv && v->buf[0].len < need) {
		ag_log_err("%s: buffers of %zu bytes cannot hold a %ux%u frame", dev, v->buf[0].len, v->width, v->height);
		goto fail_io;
	}
	if (stream_on(v, dev) < 0 && stream_restart(v, dev) < 0)
		goto fail_io; /* a second try: a one-off QBUF/STREAMON error must not stop us */
	char fc[5];
	fourcc_str(v->fourcc, fc);
	snprintf(src->desc, sizeof(src->desc), "%.40s (%.40s) %ux%u %s%s%s", dev, (const char *)cap.card, v->width,
		 v->height, fc, !v->conv ? "" : v->fmt == DRV_FMT_RGB24 ? " converted to RGB24" : " converted to YU12",
		 v->limited ? ", limited range" : "");
	v->timeouts = 0;
	return 0;
fail_inval:
	device_close(v);
	return AG_EINVAL;
fail_unsupported:
	device_close(v);
	return AG_EUNSUPPORTED;
fail_io:
	device_close(v);
	return AG_EIO;
}

static int v4l2_open(struct drv_source *src)
{
	struct v4l2 *v = calloc(1, sizeof(*v));
	if (!v)
		return AG_ENOMEM;
	v->fd = -1;
	v->held = -1;
	v->gone_rl.interval_ms = 600000;
	v->bad_rl.interval_ms = 60000;
	v->reopen_delay_ms = 500;
	int rc = device_open(src, v, true);
	if (rc < 0) {
		free(v);
		return rc;
	}
	src->priv = v;
	return 0;
}

static void v4l2_close(struct drv_source *src)
{
	struct v4l2 *v = src->priv;
	if (!v)
		return;
	device_close(v);
	free(v);
}

static void fill_frame(struct v4l2 *v, const struct v4l2_buffer *b, const uint8_t *base, struct drv_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->fmt = v->fmt;
	f->width = v->width;
	f->height = v->height;
	f->plane[0] = base;
	f->stride[0] = v->bpl;
	switch (v->fmt) {
	case DRV_FMT_MJPEG:
		f->size = b->bytesused;
		break;
	case DRV_FMT_NV12:
		f->plane[1] = base + (size_t)v->bpl * v->height;
		f->stride[1] = v->bpl;
		break;
	case DRV_FMT_YU12:
		f->plane[1] = base + (size_t)v->bpl * v->height;
		f->stride[1] = v->bpl / 2;
		f->plane[2] = f->plane[1] + (size_t)(v->bpl / 2) * (v->height / 2);
		f->stride[2] = v->bpl / 2;
		break;
	default:
		break;
	}
	f->captured_ms = ag_wall_ms();
	f->device_us = (uint64_t)b->timestamp.tv_sec * 1000000u + (uint64_t)b->timestamp.tv_usec;
	f->sequence = v->seq++;
	f->limited = v->limited;
}

/* The device went away: close it and try again later. */
static int gone(struct drv_source *src, struct v4l2 *v)
{
	if (ag_ratelimit_allow(&v->gone_rl, ag_now_ms(), NULL))
		ag_log_warnx("%s: device gone (unplugged?): reopening it when it comes back", src->cfg.device);
	device_close(v);
	v->next_reopen_ms = ag_now_ms() + v->reopen_delay_ms;
	return AG_ENODEV;
}

static int v4l2_grab(struct drv_source *src, struct drv_frame *f, uint64_t timeout_ms)
{
	struct v4l2 *v = src->priv;
	const char *dev = src->cfg.device;
	if (v->fd < 0) {
		uint64_t now = ag_now_ms();
		if (now < v->next_reopen_ms) {
			uint64_t wait = v->next_reopen_ms - now;
			ag_sleep_ms(wait < timeout_ms ? wait : timeout_ms);
			if (ag_now_ms() < v->next_reopen_ms)
				return AG_ENODEV;
		}
		int rc = device_open(src, v, false);
		if (rc < 0) {
			v->next_reopen_ms = ag_now_ms() + v->reopen_delay_ms;
			if (v->reopen_delay_ms < 30000)
				v->reopen_delay_ms *= 2;
			return AG_ENODEV;
		}
		v->reopen_delay_ms = 500;
		if (ag_ratelimit_reset(&v->gone_rl))
			ag_log_info("%s: back: %s", dev, src->desc);
	}
	/* the frame handed out last time goes back to the driver */
	if (v->held >= 0) {
		int q = queue(v, (unsigned)v->held);
		v->held = -1;
		if (q < 0) {
			if (errno == ENODEV)
				return gone(src, v);
			/* the driver refused the buffer back: start streaming afresh */
			if (ag_ratelimit_allow(&v->bad_rl, ag_now_ms(), NULL))
				ag_log_warn("%s: VIDIOC_QBUF: restarting streaming", dev);
			if (stream_restart(v, dev) < 0 && stream_restart(v, dev) < 0)
				return gone(src, v);
		}
	}
	struct pollfd p = { v->fd, POLLIN, 0 };
	int pr = poll(&p, 1, (int)(timeout_ms > 60000 ? 60000 : timeout_ms));
	if (pr < 0)
		return errno == EINTR ? AG_EAGAIN : AG_EIO;
	if (pr == 0) {
		/* no frame: after a second timeout in a row, restart streaming */
		if (++v->timeouts >= 2) {
			ag_log_warnx("%s: no frame for %llu ms twice: restarting streaming", dev,
				     (unsigned long long)timeout_ms);
			v->timeouts = 0;
			if (stream_restart(v, dev) < 0)
				return errno == ENODEV ? gone(src, v) : AG_ETIMEDOUT;
		}
		return AG_ETIMEDOUT;
	}
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
		if (!(p.revents & POLLIN)) {
			/* POLLERR alone: streaming stopped (a fatal driver error) or unplug */
			if (ag_ratelimit_allow(&v->bad_rl, ag_now_ms(), NULL))
				ag_log_warnx("%s: streaming stopped with an error: restarting it", dev);
			if (stream_restart(v, dev) < 0)
				return gone(src, v);
			return AG_EAGAIN;
		}
	}
	v->timeouts = 0;
	/* take every waiting buffer and keep the newest: the freshest picture */
	struct v4l2_buffer b, newest;
	memset(&newest, 0, sizeof(newest)); /* set when have is; some compilers cannot tell */
	bool have = false;
	for (unsigned tries = 0; tries < 2 * v->nbuf + 2; tries++) {
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		if (xioctl(v->fd, VIDIOC_DQBUF, &b) < 0) {
			int e = errno;
			if (e == EAGAIN)
				break;
			if (e == ENODEV)
				return gone(src, v);
			if (e == EIO) {
				/* a bad frame: the buffer may still be ours; try the next one */
				if (ag_ratelimit_allow(&v->bad_rl, ag_now_ms(), NULL))
					ag_log_warnx("%s: VIDIOC_DQBUF: I/O error: frame skipped", dev);
				continue;
			}
			if (e == EPIPE || e == EINVAL) {
				/* streaming stopped under us */
				if (stream_restart(v, dev) < 0)
					return gone(src, v);
				break;
			}
			ag_log_warnx("%s: VIDIOC_DQBUF: %s", dev, strerror(e));
			break;
		}
		if (b.index >= v->nbuf)
			continue;
		if (b.bytesused > v->buf[b.index].len)
			b.flags |= V4L2_BUF_FLAG_ERROR;
		if ((b.flags & V4L2_BUF_FLAG_ERROR) || b.bytesused == 0) {
			if (ag_ratelimit_allow(&v->bad_rl, ag_now_ms(), NULL))
				ag_log_warnx("%s: the driver marked a frame bad: skipped", dev);
			queue(v, b.index);
			continue;
		}
		if (have)
			queue(v, newest.index);
		newest = b;
		have = true;
	}
	if (!have)
		return AG_EAGAIN;
	v->held = (int)newest.index;
	const uint8_t *base = v->buf[newest.index].start;
	if (v->conv) {
		const char *why;
		if (fmtconv_frame(v->conv, base, newest.bytesused, &base, &why) < 0) {
			if (ag_ratelimit_allow(&v->bad_rl, ag_now_ms(), NULL))
				ag_log_warnx("%s: libv4lconvert: %s: frame skipped", dev, why);
			return AG_ECORRUPT;
		}
	}
	fill_frame(v, &newest, base, f);
	return 0;
}

const struct drv_backend drv_backend_v4l2 = {
	.name = "v4l2",
	.open = v4l2_open,
	.close = v4l2_close,
	.grab = v4l2_grab,
};
