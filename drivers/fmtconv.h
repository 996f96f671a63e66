/*
 * Camera formats the encoder cannot take, converted by libv4lconvert, the
 * conversion library of libv4l (what libv4l2 converts with): YUV formats
 * to YU12 (I420), the others (RGB565, 32-bit RGB, HSV, Bayer, vendor
 * formats) to RGB24, which TurboJPEG turns into YCbCr itself, exactly.
 * (libv4lconvert 1.22's own RGB565 to YU12 swaps red and blue, its RGB565
 * to RGB24 does not: seen on vivid.) Private to drivers/v4l2.c. fmtconv_libv4l.c is built when libv4l2
 * and libv4lconvert are found; fmtconv_none.c otherwise (the static
 * firmware), where fmtconv_create() says AG_EUNSUPPORTED.
 *
 * libv4l2's own wrapper (v4l2_open/v4l2_ioctl/v4l2_mmap) is not used: it
 * converts only when the device lacks the format asked for and picks the
 * source format itself, so it cannot be told to capture, say, YVYU from a
 * device that also offers YU12; here the device is driven as usual and
 * each frame is converted from the format chosen.
 */
#pragma once

#include <linux/videodev2.h>
#include <stdint.h>

struct fmtconv;

/* Whether this build has the conversion. */
extern const int fmtconv_built;

/* For the open device fd (kept open by the caller). Returns 0, AG_EUNSUPPORTED (not built), AG_ENOMEM. */
int fmtconv_create(int fd, struct fmtconv **out);
void fmtconv_destroy(struct fmtconv *c);

/*
 * The device format libv4lconvert would convert to YU12 for a frame of
 * about w x h: sets *fourcc. Returns 0 or AG_EUNSUPPORTED (nothing it can
 * convert).
 */
int fmtconv_pick(struct fmtconv *c, unsigned w, unsigned h, uint32_t *fourcc);

/*
 * Frames will come as src (what VIDIOC_S_FMT gave). Chooses the output,
 * YU12 or RGB24 (*rgb), and sizes its buffer. Returns 0, AG_EINVAL (odd
 * width or height), AG_EUNSUPPORTED (libv4lconvert does not know the
 * format: 1.22 has no NV21, VYUY or 422P, for one), AG_ENOMEM.
 */
int fmtconv_start(struct fmtconv *c, const struct v4l2_format *src, int *rgb);

/*
 * Convert one frame of len bytes. *out (YU12: width x height, then the U
 * and V planes at half size; RGB24: width x 3 bytes a row) is borrowed
 * until the next call. Returns 0 or AG_ECORRUPT with *why set
 * (libv4lconvert's message).
 */
int fmtconv_frame(struct fmtconv *c, const uint8_t *frame, size_t len, const uint8_t **out, const char **why);
