/*
 * Strip encoder, private to drivers/: compresses packed 4:2:2 (YUYV,
 * UYVY) and NV12 frames at full size with libjpeg's raw-data interface,
 * converting 8 or 16 rows at a time into a small buffer that stays in the
 * cache, instead of whole-frame planes. The JPEG is byte for byte what
 * tjCompressFromYUVPlanes() makes from the same planes at that quality.
 * jpegraw_libjpeg.c is built when libjpeg is found, else jpegraw_none.c,
 * which handles nothing (the encoder then splits into planes and uses
 * TurboJPEG).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drv.h"

struct jpegraw;

/* Sets *out (NULL in builds without libjpeg). Returns 0 or AG_ENOMEM. */
int jpegraw_create(struct jpegraw **out);
void jpegraw_destroy(struct jpegraw *j);

/*
 * Compress f (YUYV or UYVY to 4:2:0 or 4:2:2, NV12 to 4:2:0; even width
 * and height) at quality 1..100 into out, which holds cap bytes
 * (tjBufSize()). Returns 1 and sets *len when done; 0 when this build or
 * this frame is not handled here (nothing written); AG_ENOMEM; AG_EIO
 * (libjpeg failed, logged).
 */
int jpegraw_encode(struct jpegraw *j, const struct drv_frame *f, bool is420, unsigned quality,
		   uint8_t *out, size_t cap, size_t *len);
