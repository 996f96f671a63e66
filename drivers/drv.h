/*
 * fieldcam drivers: frame sources and the JPEG encoder (TurboJPEG). Uses
 * only the base (ag.h).
 *
 *	struct drv_source_config sc;
 *	drv_source_config_defaults(&sc);
 *	sc.device = "testpattern";
 *	struct drv_source *src;
 *	drv_source_open(&sc, &src);
 *	struct drv_encoder_config ec;
 *	drv_encoder_config_defaults(&ec);
 *	struct drv_encoder *enc;
 *	drv_encoder_create(&ec, &enc);
 *	struct drv_frame f;
 *	if (drv_source_grab(src, &f, 2000) == 0) {
 *		const uint8_t *jpeg; size_t len;
 *		drv_encoder_encode(enc, &f, &jpeg, &len);   // borrowed until the next encode
 *	}
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ag.h"

enum drv_pixfmt {
	DRV_FMT_AUTO,  /* choose: MJPEG when offered, else a YUV format */
	DRV_FMT_MJPEG, /* a whole JPEG in plane[0], size bytes */
	DRV_FMT_YUYV,  /* packed 4:2:2 Y0 U Y1 V */
	DRV_FMT_UYVY,  /* packed 4:2:2 U Y0 V Y1 */
	DRV_FMT_NV12,  /* Y plane, then interleaved U V at half size */
	DRV_FMT_YU12,  /* I420: Y, U, V planes, 4:2:0 */
	DRV_FMT_GREY,  /* Y only */
	DRV_FMT_RGB24,
	DRV_FMT_BGR24,
};

/* "auto", "mjpeg", "yuyv", "uyvy", "nv12", "yu12", "grey", "rgb24", "bgr24".
 * Returns 0 or AG_EINVAL. */
int drv_pixfmt_parse(const char *s, enum drv_pixfmt *out);
const char *drv_pixfmt_name(enum drv_pixfmt f);

enum drv_subsamp { DRV_SUBSAMP_420, DRV_SUBSAMP_422, DRV_SUBSAMP_444, DRV_SUBSAMP_GRAY };
/* "420", "422", "444", "gray". Returns 0 or AG_EINVAL. */
int drv_subsamp_parse(const char *s, enum drv_subsamp *out);

/* One frame, borrowed from its source until the next grab or close. */
struct drv_frame {
	enum drv_pixfmt fmt;
	unsigned width, height;
	const uint8_t *plane[3];
	unsigned stride[3];  /* bytes per row of each plane */
	size_t size;         /* MJPEG: bytes in plane[0] */
	uint64_t captured_ms;/* CLOCK_REALTIME when the frame was taken */
	uint64_t device_us;  /* the device's own time stamp (V4L2 buffer time), 0 if none */
	uint64_t sequence;   /* frame counter of the source */
	/* YUV and GREY: samples in the limited ("video") range, luma 16..235
	 * and chroma 16..240, as V4L2 says of the camera's format; the
	 * encoder stretches them to JPEG's full range. False: full range. */
	bool limited;
};

struct drv_source_config {
	const char *device;  /* "/dev/videoN", "testpattern" or "files:DIR" */
	unsigned width, height;
	enum drv_pixfmt format;
	/* V4L2 only: a camera format by its fourcc ("YVYU"), or "" to go by
	 * format. One the encoder cannot take is converted to YU12 by
	 * libv4lconvert where the build has it. */
	char fourcc[5];
	unsigned buffers;    /* V4L2 mmap buffers */
};
void drv_source_config_defaults(struct drv_source_config *cfg);

/*
 * Set cfg->format and cfg->fourcc from a camera.format or -f value: a name
 * of drv_pixfmt_parse(), or a V4L2 fourcc of 3 or 4 capitals and digits
 * ("YVYU", "RGBP", "BA81", "Y16": padded with spaces as V4L2 does).
 * Returns 0 or AG_EINVAL (cfg unchanged).
 */
int drv_source_config_format(struct drv_source_config *cfg, const char *s);

struct drv_source;

/*
 * Open a source. Returns 0, AG_EINVAL (bad device string or size),
 * AG_ENOENT (no such device or folder), AG_ENODEV, AG_EUNSUPPORTED (this
 * build cannot read that kind of device), AG_ENOMEM. Logs one line
 * naming the problem.
 */
int drv_source_open(const struct drv_source_config *cfg, struct drv_source **out);
void drv_source_close(struct drv_source *src);

/*
 * Take one frame, waiting at most timeout_ms. The frame is valid until the
 * next grab or close. Returns 0, AG_ETIMEDOUT, AG_EAGAIN (nothing this
 * time, try again), AG_ENODEV (device gone: the source keeps trying to
 * reopen it on later calls), AG_ECORRUPT (a bad frame was dropped), AG_EIO.
 */
int drv_source_grab(struct drv_source *src, struct drv_frame *f, uint64_t timeout_ms);

/* "testpattern 1280x720 yu12" and the like, for logs. */
const char *drv_source_describe(const struct drv_source *src);

struct drv_encoder_config {
	unsigned quality;           /* 1..100 */
	enum drv_subsamp subsamp;
	unsigned downscale;         /* 1, 2 or 4 */
};
void drv_encoder_config_defaults(struct drv_encoder_config *cfg);

struct drv_encoder;

int drv_encoder_create(const struct drv_encoder_config *cfg, struct drv_encoder **out);
void drv_encoder_destroy(struct drv_encoder *enc);

/*
 * Encode a frame to JPEG. MJPEG frames are validated (a header that
 * decodes, SOI and EOI) and passed through unchanged unless downscale is
 * set. *jpeg is borrowed until the next call. Buffers grow only when the
 * frame size grows: no allocation per frame in steady state.
 * Returns 0, AG_ECORRUPT (a bad MJPEG frame), AG_EINVAL, AG_ENOMEM, AG_EIO.
 */
int drv_encoder_encode(struct drv_encoder *enc, const struct drv_frame *f,
		       const uint8_t **jpeg, size_t *len);

/*
 * Re-encode a JPEG at another quality and scale (for images over an
 * upload limit). *out is borrowed until the next encoder call.
 */
int drv_encoder_reencode(struct drv_encoder *enc, const uint8_t *jpeg, size_t len,
			 unsigned quality, unsigned downscale, const uint8_t **out, size_t *out_len);

/* Size of a JPEG from its header: 0 or AG_ECORRUPT. */
int drv_jpeg_size(const uint8_t *jpeg, size_t len, unsigned *width, unsigned *height);

/* Version of the libjpeg-turbo this was built against ("2.1.5"). */
const char *drv_turbojpeg_version(void);

/* ---- device listing (fieldcam devices) -------------------------------- */

struct drv_size_info {
	unsigned width, height;
	unsigned fps[8];   /* frame rates offered at this size (whole numbers) */
	unsigned nfps;
};

struct drv_format_info {
	char fourcc[5];
	char description[32];
	bool stepwise;     /* any size in [min..max] rather than the list */
	unsigned min_w, max_w, min_h, max_h;
	struct drv_size_info sizes[24];
	unsigned nsizes;
};

struct drv_device_info {
	char path[64];
	char card[32];
	char driver[16];
	char bus[32];
	struct drv_format_info formats[16];
	unsigned nformats;
};

/*
 * List the V4L2 video capture devices (/dev/video*, in number order).
 * *out is a heap array (free()); *n may be 0. Nodes that are not capture
 * devices (metadata, output) are left out. Returns 0 or AG_ENOMEM.
 */
int drv_devices_list(struct drv_device_info **out, size_t *n);
