/* Builds without libv4lconvert: nothing is converted. */
#include "ag.h"
#include "fmtconv.h"

const int fmtconv_built = 0;

int fmtconv_create(int fd, struct fmtconv **out)
{
	(void)fd, (void)out;
	return AG_EUNSUPPORTED;
}

void fmtconv_destroy(struct fmtconv *c)
{
	(void)c;
}

int fmtconv_pick(struct fmtconv *c, unsigned w, unsigned h, uint32_t *fourcc)
{
	(void)c, (void)w, (void)h, (void)fourcc;
	return AG_EUNSUPPORTED;
}

int fmtconv_start(struct fmtconv *c, const struct v4l2_format *src, int *rgb)
{
	(void)c, (void)src, (void)rgb;
	return AG_EUNSUPPORTED;
}

int fmtconv_frame(struct fmtconv *c, const uint8_t *frame, size_t len, const uint8_t **out, const char **why)
{
	(void)c, (void)frame, (void)len, (void)out;
	*why = "no conversion in this build";
	return AG_ECORRUPT;
}
