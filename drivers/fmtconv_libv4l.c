/* Conversion to YU12 with libv4lconvert. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libv4lconvert.h>

#include "ag.h"
#include "fmtconv.h"

const int fmtconv_built = 1;

struct fmtconv {
	struct v4lconvert_data *lib;
	struct v4l2_format src, dst;
	uint8_t *out;
	size_t out_len;
};

int fmtconv_create(int fd, struct fmtconv **out)
{
	struct fmtconv *c = calloc(1, sizeof(*c));
	if (!c)
		return AG_ENOMEM;
	c->lib = v4lconvert_create(fd);
	if (!c->lib) {
		free(c);
		return AG_ENOMEM;
	}
	*out = c;
	return 0;
}

void fmtconv_destroy(struct fmtconv *c)
{
	if (!c)
		return;
	v4lconvert_destroy(c->lib);
	free(c->out);
	free(c);
}

int fmtconv_pick(struct fmtconv *c, unsigned w, unsigned h, uint32_t *fourcc)
{
	struct v4l2_format dst, src;
	memset(&dst, 0, sizeof(dst));
	memset(&src, 0, sizeof(src));
	dst.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	dst.fmt.pix.width = w;
	dst.fmt.pix.height = h;
	dst.fmt.pix.pixelformat = V4L2_PIX_FMT_YUV420;
	dst.fmt.pix.field = V4L2_FIELD_NONE;
	if (v4lconvert_try_format(c->lib, &dst, &src) < 0 || dst.fmt.pix.pixelformat != V4L2_PIX_FMT_YUV420 ||
	    src.fmt.pix.pixelformat == 0)
		return AG_EUNSUPPORTED;
	*fourcc = src.fmt.pix.pixelformat;
	return 0;
}

/* Sources libv4lconvert takes as YUV: these become YU12, the rest RGB24. */
static const uint32_t yuv_sources[] = {
	V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_YVYU, V4L2_PIX_FMT_UYVY, V4L2_PIX_FMT_VYUY, V4L2_PIX_FMT_YUV420,
	V4L2_PIX_FMT_YVU420, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV21, V4L2_PIX_FMT_NV16, V4L2_PIX_FMT_NV61,
	V4L2_PIX_FMT_YUV422P, V4L2_PIX_FMT_M420, V4L2_PIX_FMT_HM12, V4L2_PIX_FMT_SPCA501,
	V4L2_PIX_FMT_SPCA505, V4L2_PIX_FMT_SPCA508, V4L2_PIX_FMT_CIT_YYVYUY, V4L2_PIX_FMT_KONICA420,
	V4L2_PIX_FMT_SN9C20X_I420,
};

int fmtconv_start(struct fmtconv *c, const struct v4l2_format *src, int *rgb)
{
	unsigned w = src->fmt.pix.width, h = src->fmt.pix.height;
	if ((w | h) & 1 || w == 0 || h == 0)
		return AG_EINVAL;
	*rgb = 1;
	for (size_t i = 0; i < AG_NELEM(yuv_sources); i++)
		if (src->fmt.pix.pixelformat == yuv_sources[i])
			*rgb = 0;
	c->src = *src;
	memset(&c->dst, 0, sizeof(c->dst));
	c->dst.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	c->dst.fmt.pix.width = w;
	c->dst.fmt.pix.height = h;
	c->dst.fmt.pix.pixelformat = *rgb ? V4L2_PIX_FMT_RGB24 : V4L2_PIX_FMT_YUV420;
	c->dst.fmt.pix.field = V4L2_FIELD_NONE;
	c->dst.fmt.pix.bytesperline = *rgb ? w * 3 : w;
	c->dst.fmt.pix.sizeimage = *rgb ? w * h * 3 : w * h * 3 / 2;
	size_t need = c->dst.fmt.pix.sizeimage;
	if (need > c->out_len) {
		uint8_t *nb = realloc(c->out, need);
		if (!nb)
			return AG_ENOMEM;
		c->out = nb;
		c->out_len = need;
	}
	/* a blank frame tells whether libv4lconvert knows the format at all
	 * (EINVAL, "Unknown src format"); compressed formats may fail on it for
	 * other reasons, which the frames themselves will settle */
	size_t in = src->fmt.pix.sizeimage ? src->fmt.pix.sizeimage : (size_t)src->fmt.pix.bytesperline * h;
	uint8_t *blank = calloc(1, in ? in : 1);
	if (!blank)
		return AG_ENOMEM;
	errno = 0;
	int n = v4lconvert_convert(c->lib, &c->src, &c->dst, blank, (int)in, c->out, (int)c->out_len);
	int e = errno;
	free(blank);
	return n < 0 && e == EINVAL ? AG_EUNSUPPORTED : 0;
}

int fmtconv_frame(struct fmtconv *c, const uint8_t *frame, size_t len, const uint8_t **out, const char **why)
{
	/* libv4lconvert does not write to the source; its prototype is not const */
	int n = v4lconvert_convert(c->lib, &c->src, &c->dst, (unsigned char *)(uintptr_t)frame, (int)len, c->out,
				   (int)c->out_len);
	if (n < (int)c->dst.fmt.pix.sizeimage) {
		*why = n < 0 ? v4lconvert_get_error_message(c->lib) : "short output";
		return AG_ECORRUPT;
	}
	*out = c->out;
	return 0;
}
