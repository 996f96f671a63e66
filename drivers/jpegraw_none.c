/* Builds without libjpeg: the strip encoder handles nothing. */
#include "jpegraw.h"

int jpegraw_create(struct jpegraw **out)
{
	*out = NULL;
	return 0;
}

void jpegraw_destroy(struct jpegraw *j)
{
	(void)j;
}

int jpegraw_encode(struct jpegraw *j, const struct drv_frame *f, bool is420, unsigned quality,
		   uint8_t *out, size_t cap, size_t *len)
{
	(void)j, (void)f, (void)is420, (void)quality, (void)out, (void)cap, (void)len;
	return 0;
}
