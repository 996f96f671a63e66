/*
 * A moving synthetic scene in I420, at any size: a sky-to-ground gradient,
 * a sun that crosses the frame, swaying bars, a frame counter in blocks
 * and fine texture, so it compresses like a real picture, not a flat
 * colour. Frame n is the same on every run (tests can rely on it).
 */
#define AG_LOG_TAG "camera"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_impl.h"

struct tp {
	uint8_t *y, *u, *v;
	unsigned w, h;
	uint64_t n;
};

static int tp_open(struct drv_source *src)
{
	struct tp *t = calloc(1, sizeof(*t));
	if (!t)
		return AG_ENOMEM;
	t->w = src->cfg.width;
	t->h = src->cfg.height;
	size_t ys = (size_t)t->w * t->h, cs = ys / 4;
	t->y = malloc(ys);
	t->u = malloc(cs);
	t->v = malloc(cs);
	if (!t->y || !t->u || !t->v) {
		free(t->y);
		free(t->u);
		free(t->v);
		free(t);
		return AG_ENOMEM;
	}
	src->priv = t;
	snprintf(src->desc, sizeof(src->desc), "testpattern %ux%u yu12", t->w, t->h);
	return 0;
}

static void tp_close(struct drv_source *src)
{
	struct tp *t = src->priv;
	if (!t)
		return;
	free(t->y);
	free(t->u);
	free(t->v);
	free(t);
}

static inline uint32_t hash2(uint32_t x, uint32_t y)
{
	uint32_t h = x * 374761393u + y * 668265263u;
	h = (h ^ (h >> 13)) * 1274126177u;
	return h ^ (h >> 16);
}

static void render(struct tp *t)
{
	unsigned w = t->w, h = t->h;
	uint64_t n = t->n;
	/* the sun moves left to right over 120 frames; bars sway */
	int sx = (int)((n % 120) * w / 120);
	int sy = (int)(h / 4 + (h / 8) * ((n / 7) % 3));
	int r = (int)(h / 10) + 4;
	int horizon = (int)(h * 3 / 5);
	for (unsigned y = 0; y < h; y++) {
		uint8_t *row = t->y + (size_t)y * w;
		int base = (int)y < horizon ? 170 - (int)(y * 60 / (unsigned)horizon)
					    : 90 - (int)((y - (unsigned)horizon) * 40 / (h - (unsigned)horizon + 1));
		for (unsigned x = 0; x < w; x++) {
			int v = base + (int)(hash2(x, y) & 15) - 8; /* texture */
			int dx = (int)x - sx, dy = (int)y - sy;
			if (dx * dx + dy * dy < r * r)
				v = 235;
			/* swaying bars in the ground */
			if ((int)y > horizon && ((x + n * 3 + y / 4) / (w / 16 + 1)) % 2)
				v += 30;
			row[x] = (uint8_t)(v < 16 ? 16 : v > 235 ? 235 : v);
		}
	}
	/* frame counter: 16 bits as blocks along the top */
	unsigned bw = w / 20, bh = h / 30 + 1;
	for (unsigned b = 0; b < 16; b++) {
		uint8_t v = ((n >> b) & 1) ? 235 : 16;
		for (unsigned y = 2; y < 2 + bh && y < h; y++)
			memset(t->y + (size_t)y * w + 2 + b * (bw + 1), v, bw > 1 ? bw - 1 : 1);
	}
	unsigned cw = w / 2, ch = h / 2;
	for (unsigned y = 0; y < ch; y++) {
		for (unsigned x = 0; x < cw; x++) {
			int sky = (int)(y * 2) < horizon;
			int u = sky ? 160 : 100, v = sky ? 110 : 120;
			int dx = (int)(x * 2) - sx, dy = (int)(y * 2) - sy;
			if (dx * dx + dy * dy < r * r) {
				u = 60;
				v = 170;
			}
			u += (int)((x + n) % 32) / 4 - 4;
			t->u[(size_t)y * cw + x] = (uint8_t)u;
			t->v[(size_t)y * cw + x] = (uint8_t)v;
		}
	}
}

static int tp_grab(struct drv_source *src, struct drv_frame *f, uint64_t timeout_ms)
{
	(void)timeout_ms;
	struct tp *t = src->priv;
	render(t);
	memset(f, 0, sizeof(*f));
	f->fmt = DRV_FMT_YU12;
	f->width = t->w;
	f->height = t->h;
	f->plane[0] = t->y;
	f->plane[1] = t->u;
	f->plane[2] = t->v;
	f->stride[0] = t->w;
	f->stride[1] = f->stride[2] = t->w / 2;
	f->captured_ms = ag_wall_ms();
	f->sequence = t->n++;
	return 0;
}

const struct drv_backend drv_backend_testpattern = {
	.name = "testpattern",
	.open = tp_open,
	.close = tp_close,
	.grab = tp_grab,
};
