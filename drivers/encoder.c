/*
 * JPEG encoding with TurboJPEG straight from YUV planes: planar 4:2:0
 * sources at 4:2:0 go in without a copy; packed 4:2:2 and NV12 at full
 * size go through the strip encoder (jpegraw.h) where the build has
 * libjpeg, else are split into preallocated planes by the SIMD kernels
 * (yuvsplit.h); other cases are converted (downscaled on the way when
 * asked) by the general conversion; RGB and grey go to TurboJPEG
 * directly. MJPEG frames are checked and passed through. Buffers are kept
 * and only grow.
 */
#define AG_LOG_TAG "encoder"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "drv.h"
#include "jpegraw.h"
#include "yuvsplit.h"

struct drv_encoder {
	struct drv_encoder_config cfg;
	tjhandle c, d;
	struct jpegraw *raw; /* NULL in builds without libjpeg */
	uint8_t dht[1024];  /* the standard Huffman tables as DHT segments */
	size_t dht_len;
	uint8_t *fixed;     /* an MJPEG frame with the tables put in */
	size_t fixed_cap;
	uint8_t *out;      /* tjAlloc'd output, out_cap bytes */
	unsigned long out_cap;
	uint8_t *planes;   /* converted Y, U, V */
	size_t planes_cap;
	uint8_t *rgb;      /* downscaled RGB */
	size_t rgb_cap;
};

void drv_encoder_config_defaults(struct drv_encoder_config *cfg)
{
	cfg->quality = 85;
	cfg->subsamp = DRV_SUBSAMP_420;
	cfg->downscale = 1;
}

static int tj_subsamp(enum drv_subsamp s)
{
	switch (s) {
	case DRV_SUBSAMP_422: return TJSAMP_422;
	case DRV_SUBSAMP_444: return TJSAMP_444;
	case DRV_SUBSAMP_GRAY: return TJSAMP_GRAY;
	default: return TJSAMP_420;
	}
}

/*
 * The TurboJPEG handles are made at their first use: a camera whose frames
 * all go to the strip encoder never pages TurboJPEG in (about 0.1 MB of
 * RSS). Returns 0 or AG_ENOMEM (logged).
 */
static int handles(struct drv_encoder *e, bool comp, bool decomp)
{
	if ((comp && !e->c && !(e->c = tjInitCompress())) || (decomp && !e->d && !(e->d = tjInitDecompress()))) {
		ag_log_err("TurboJPEG: cannot create a handle");
		return AG_ENOMEM;
	}
	return 0;
}

/*
 * Many UVC webcams send MJPEG without Huffman tables (the decoder is meant
 * to use the standard ones of ITU T.81 K.3). libjpeg writes exactly those
 * tables when it does not optimise, so they are taken from a tiny colour
 * JPEG that TurboJPEG makes here, rather than typed in again. That is
 * done at the first frame that needs them: a camera that never sends one
 * never pages in TurboJPEG's compressor for it (about 0.8 MB of RSS).
 */
static int learn_tables(struct drv_encoder *e)
{
	uint8_t rgb[16 * 16 * 3];
	for (size_t i = 0; i < sizeof(rgb); i++)
		rgb[i] = (uint8_t)(i * 37);
	uint8_t *jpeg = NULL;
	unsigned long len = 0;
	if (handles(e, true, false) < 0)
		return AG_ENOMEM;
	if (tjCompress2(e->c, rgb, 16, 0, 16, TJPF_RGB, &jpeg, &len, TJSAMP_420, 75, 0) < 0)
		return AG_EIO;
	size_t i = 2;
	e->dht_len = 0;
	while (i + 4 <= len && jpeg[i] == 0xFF && jpeg[i + 1] != 0xDA) {
		size_t seg = (size_t)jpeg[i + 2] << 8 | jpeg[i + 3];
		if (jpeg[i + 1] == 0xC4 && e->dht_len + seg + 2 <= sizeof(e->dht)) {
			memcpy(e->dht + e->dht_len, jpeg + i, seg + 2);
			e->dht_len += seg + 2;
		}
		i += seg + 2;
	}
	tjFree(jpeg);
	/* they must be the standard ones: luminance DC code counts of K.3 */
	static const uint8_t dc0[] = { 0x00, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0 };
	if (e->dht_len < 4 + sizeof(dc0) || memcmp(e->dht + 4, dc0, sizeof(dc0)) != 0) {
		e->dht_len = 0;
		return AG_EIO;
	}
	return 0;
}

/* Offset of the SOS marker, and whether a DHT segment comes before it. */
static size_t find_sos(const uint8_t *p, size_t n, bool *has_dht)
{
	size_t i = 2;
	*has_dht = false;
	while (i + 4 <= n && p[i] == 0xFF) {
		while (i + 1 < n && p[i + 1] == 0xFF)
			i++; /* fill bytes */
		if (p[i + 1] == 0xDA)
			return i;
		if (p[i + 1] == 0xC4)
			*has_dht = true;
		i += 2 + ((size_t)p[i + 2] << 8 | p[i + 3]);
	}
	return 0;
}

int drv_encoder_create(const struct drv_encoder_config *cfg, struct drv_encoder **out)
{
	if (cfg->quality < 1 || cfg->quality > 100 ||
	    (cfg->downscale != 1 && cfg->downscale != 2 && cfg->downscale != 4))
		return AG_EINVAL;
	struct drv_encoder *e = calloc(1, sizeof(*e));
	if (!e)
		return AG_ENOMEM;
	e->cfg = *cfg;
	if (jpegraw_create(&e->raw) < 0) {
		drv_encoder_destroy(e);
		return AG_ENOMEM;
	}
	*out = e;
	return 0;
}

void drv_encoder_destroy(struct drv_encoder *e)
{
	if (!e)
		return;
	if (e->c)
		tjDestroy(e->c);
	if (e->d)
		tjDestroy(e->d);
	jpegraw_destroy(e->raw);
	tjFree(e->out);
	free(e->fixed);
	free(e->planes);
	free(e->rgb);
	free(e);
}

/* Make sure the output buffer holds the worst case for w x h. */
static int out_reserve(struct drv_encoder *e, unsigned w, unsigned h, int ss)
{
	unsigned long need = tjBufSize((int)w, (int)h, ss);
	if (need == (unsigned long)-1)
		return AG_EINVAL;
	if (need <= e->out_cap)
		return 0;
	tjFree(e->out);
	e->out = tjAlloc((int)need);
	e->out_cap = e->out ? need : 0;
	return e->out ? 0 : AG_ENOMEM;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	uint8_t *nb = realloc(*buf, need);
	if (!nb)
		return AG_ENOMEM;
	*buf = nb;
	*cap = need;
	return 0;
}

/* Luma of source pixel (x, y). */
static inline unsigned src_y(const struct drv_frame *f, unsigned x, unsigned y)
{
	const uint8_t *p = f->plane[0] + (size_t)y * f->stride[0];
	switch (f->fmt) {
	case DRV_FMT_YUYV: return p[2 * x];
	case DRV_FMT_UYVY: return p[2 * x + 1];
	default: return p[x];
	}
}

/* Chroma (U, V) at source pixel (x, y). */
static inline void src_uv(const struct drv_frame *f, unsigned x, unsigned y, unsigned *u, unsigned *v)
{
	const uint8_t *p;
	switch (f->fmt) {
	case DRV_FMT_YUYV:
		p = f->plane[0] + (size_t)y * f->stride[0] + (x / 2) * 4;
		*u = p[1];
		*v = p[3];
		return;
	case DRV_FMT_UYVY:
		p = f->plane[0] + (size_t)y * f->stride[0] + (x / 2) * 4;
		*u = p[0];
		*v = p[2];
		return;
	case DRV_FMT_NV12:
		p = f->plane[1] + (size_t)(y / 2) * f->stride[1] + (x / 2) * 2;
		*u = p[0];
		*v = p[1];
		return;
	case DRV_FMT_YU12:
		*u = f->plane[1][(size_t)(y / 2) * f->stride[1] + x / 2];
		*v = f->plane[2][(size_t)(y / 2) * f->stride[2] + x / 2];
		return;
	default:
		*u = *v = 128;
		return;
	}
}

/*
 * Fast paths at full size for what cameras mostly send: packed 4:2:2 to
 * 4:2:0 or 4:2:2 planes in one pass over the frame, and NV12's chroma
 * de-interleaved (its Y plane is used in place). Returns 1 if it handled
 * the frame, 0 to fall back to the general conversion.
 */
static int fast_planes(struct drv_encoder *e, const struct drv_frame *f, int ss,
		       const unsigned char *pl[3], int st[3])
{
	unsigned w = f->width, h = f->height;
	bool packed = f->fmt == DRV_FMT_YUYV || f->fmt == DRV_FMT_UYVY;
	if ((w | h) & 1)
		return 0;
	if (f->limited && (f->fmt == DRV_FMT_GREY || (f->fmt == DRV_FMT_YU12 && ss == TJSAMP_420))) {
		/* planar, but to be stretched: into our planes, a row at a time */
		int np = f->fmt == DRV_FMT_GREY ? 1 : 3;
		size_t ys = (size_t)w * h, cs = (size_t)(w / 2) * (h / 2);
		if (grow(&e->planes, &e->planes_cap, ys + (np == 3 ? 2 * cs : 0)) < 0)
			return -1;
		for (int i = 0; i < np; i++) {
			unsigned pw = i ? w / 2 : w, ph = i ? h / 2 : h;
			uint8_t *dst = e->planes + (i ? ys + (size_t)(i - 1) * cs : 0);
			for (unsigned r = 0; r < ph; r++)
				yuv_expand(f->plane[i] + (size_t)r * f->stride[i], dst + (size_t)r * pw, pw, i > 0);
			pl[i] = dst;
			st[i] = (int)pw;
		}
		if (np == 1) {
			pl[1] = pl[2] = NULL;
			st[1] = st[2] = 0;
		}
		return 1;
	}
	if (packed && (ss == TJSAMP_420 || ss == TJSAMP_422)) {
		unsigned ch = ss == TJSAMP_420 ? h / 2 : h;
		size_t ys = (size_t)w * h, cs = (size_t)(w / 2) * ch;
		if (grow(&e->planes, &e->planes_cap, ys + 2 * cs) < 0)
			return -1;
		uint8_t *y = e->planes, *u = y + ys, *v = u + cs;
		bool uyvy = f->fmt == DRV_FMT_UYVY;
		size_t st0 = f->stride[0], cw = w / 2;
		if (ss == TJSAMP_422)
			for (unsigned r = 0; r < h; r++)
				yuv_split_422(f->plane[0] + r * st0, w, uyvy, y + (size_t)r * w, u + r * cw, v + r * cw);
		else
			/* 4:2:0: the chroma of each pair of rows averaged */
			for (unsigned r = 0; r < h; r += 2)
				yuv_split_420(f->plane[0] + r * st0, f->plane[0] + (r + 1) * st0, w, uyvy,
					      y + (size_t)r * w, y + (size_t)(r + 1) * w, u + (r / 2) * cw, v + (r / 2) * cw);
		if (f->limited) {
			yuv_expand(y, y, (unsigned)ys, false);
			yuv_expand(u, u, (unsigned)(2 * cs), true); /* v follows u */
		}
		pl[0] = y;
		pl[1] = u;
		pl[2] = v;
		st[0] = (int)w;
		st[1] = st[2] = (int)(w / 2);
		return 1;
	}
	if (f->fmt == DRV_FMT_NV12 && ss == TJSAMP_420) {
		/* the luma is used in place unless it is to be stretched */
		size_t cs = (size_t)(w / 2) * (h / 2), ys = f->limited ? (size_t)w * h : 0;
		if (grow(&e->planes, &e->planes_cap, ys + 2 * cs) < 0)
			return -1;
		uint8_t *u = e->planes + ys, *v = u + cs;
		for (unsigned r = 0; r < h / 2; r++)
			yuv_deinterleave(f->plane[1] + (size_t)r * f->stride[1], w / 2, u + (size_t)r * (w / 2),
					 v + (size_t)r * (w / 2));
		pl[0] = f->plane[0];
		st[0] = (int)f->stride[0];
		if (f->limited) {
			for (unsigned r = 0; r < h; r++)
				yuv_expand(f->plane[0] + (size_t)r * f->stride[0], e->planes + (size_t)r * w, w, false);
			yuv_expand(u, u, (unsigned)(2 * cs), true);
			pl[0] = e->planes;
			st[0] = (int)w;
		}
		pl[1] = u;
		pl[2] = v;
		st[1] = st[2] = (int)(w / 2);
		return 1;
	}
	return 0;
}

/*
 * Convert a YUV frame to planes at subsampling ss, downscaled by s (luma
 * is averaged over s x s; chroma averaged over its output cell).
 */
static int to_planes(struct drv_encoder *e, const struct drv_frame *f, unsigned s, int ss,
		     unsigned ow, unsigned oh, const unsigned char *pl[3], int st[3])
{
	int pw[3], ph[3];
	size_t total = 0;
	int np = ss == TJSAMP_GRAY ? 1 : 3;
	for (int i = 0; i < np; i++) {
		pw[i] = tjPlaneWidth(i, (int)ow, ss);
		ph[i] = tjPlaneHeight(i, (int)oh, ss);
		if (pw[i] <= 0 || ph[i] <= 0)
			return AG_EINVAL;
		total += (size_t)pw[i] * (size_t)ph[i];
	}
	if (grow(&e->planes, &e->planes_cap, total) < 0)
		return AG_ENOMEM;
	uint8_t *y = e->planes;
	unsigned area = s * s;
	for (unsigned oy = 0; oy < oh; oy++) {
		uint8_t *row = y + (size_t)oy * (size_t)pw[0];
		for (unsigned ox = 0; ox < ow; ox++) {
			unsigned sum = 0;
			for (unsigned dy = 0; dy < s; dy++)
				for (unsigned dx = 0; dx < s; dx++)
					sum += src_y(f, ox * s + dx, oy * s + dy);
			row[ox] = (uint8_t)((sum + area / 2) / area);
		}
		/* pad to the plane width TurboJPEG expects */
		for (int px = (int)ow; px < pw[0]; px++)
			row[px] = row[ow - 1];
	}
	for (int py = (int)oh; py < ph[0]; py++)
		memcpy(y + (size_t)py * (size_t)pw[0], y + (size_t)(oh - 1) * (size_t)pw[0], (size_t)pw[0]);
	pl[0] = y;
	st[0] = pw[0];
	if (np == 1) {
		if (f->limited)
			yuv_expand(y, y, (unsigned)((size_t)pw[0] * (size_t)ph[0]), false);
		return 0;
	}
	uint8_t *u = y + (size_t)pw[0] * (size_t)ph[0];
	uint8_t *v = u + (size_t)pw[1] * (size_t)ph[1];
	/* each chroma sample covers hs x vs output pixels = hs*s x vs*s source pixels */
	unsigned hs = (unsigned)((int)ow + pw[1] - 1) / (unsigned)pw[1];
	unsigned vs = (unsigned)((int)oh + ph[1] - 1) / (unsigned)ph[1];
	unsigned cx = hs * s, cy = vs * s;
	/* the source chroma resolution bounds how many samples are worth averaging */
	unsigned stepx = (f->fmt == DRV_FMT_GREY) ? cx : 2, stepy = (f->fmt == DRV_FMT_YUYV || f->fmt == DRV_FMT_UYVY) ? 1 : 2;
	if (stepx > cx)
		stepx = cx;
	if (stepy > cy)
		stepy = cy;
	for (int py = 0; py < ph[1]; py++) {
		for (int px = 0; px < pw[1]; px++) {
			unsigned su = 0, sv = 0, cnt = 0;
			for (unsigned dy = 0; dy < cy; dy += stepy) {
				unsigned sy = (unsigned)py * cy + dy;
				if (sy >= f->height)
					sy = f->height - 1;
				for (unsigned dx = 0; dx < cx; dx += stepx) {
					unsigned sx = (unsigned)px * cx + dx, uu, vv;
					if (sx >= f->width)
						sx = f->width - 1;
					src_uv(f, sx, sy, &uu, &vv);
					su += uu;
					sv += vv;
					cnt++;
				}
			}
			u[(size_t)py * (size_t)pw[1] + (size_t)px] = (uint8_t)((su + cnt / 2) / cnt);
			v[(size_t)py * (size_t)pw[2] + (size_t)px] = (uint8_t)((sv + cnt / 2) / cnt);
		}
	}
	pl[1] = u;
	pl[2] = v;
	st[1] = pw[1];
	st[2] = pw[2];
	if (f->limited) {
		yuv_expand(y, y, (unsigned)((size_t)pw[0] * (size_t)ph[0]), false);
		yuv_expand(u, u, (unsigned)((size_t)pw[1] * (size_t)ph[1] + (size_t)pw[2] * (size_t)ph[2]), true);
	}
	return 0;
}

/*
 * Check a JPEG's structure: SOI, marker segments with sane lengths up to
 * SOS, a frame header (SOF) before it, and EOI at the end (trailing zero
 * padding, which some cameras add, is not counted). Sets the real length.
 */
static int jpeg_check(const uint8_t *p, size_t len, size_t *real_len)
{
	if (len < 4 || p[0] != 0xFF || p[1] != 0xD8)
		return AG_ECORRUPT;
	size_t n = len;
	while (n > 2 && p[n - 1] == 0x00)
		n--;
	if (n < 4 || p[n - 2] != 0xFF || p[n - 1] != 0xD9)
		return AG_ECORRUPT;
	size_t i = 2;
	bool sof = false;
	for (;;) {
		if (i + 4 > n || p[i] != 0xFF)
			return AG_ECORRUPT;
		while (i < n && p[i] == 0xFF)
			i++; /* fill bytes */
		if (i + 3 > n)
			return AG_ECORRUPT;
		uint8_t m = p[i++];
		if (m == 0xD8 || m == 0xD9 || (m >= 0xD0 && m <= 0xD7) || m == 0x00)
			return AG_ECORRUPT; /* no SOS before these */
		size_t seg = (size_t)p[i] << 8 | p[i + 1];
		if (seg < 2 || i + seg > n - 2)
			return AG_ECORRUPT;
		if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
			sof = true;
		if (m == 0xDA) {
			if (!sof)
				return AG_ECORRUPT;
			break;
		}
		i += seg;
	}
	*real_len = n;
	return 0;
}

int drv_jpeg_size(const uint8_t *jpeg, size_t len, unsigned *width, unsigned *height)
{
	size_t n;
	if (jpeg_check(jpeg, len, &n) < 0)
		return AG_ECORRUPT;
	tjhandle d = tjInitDecompress();
	if (!d)
		return AG_ENOMEM;
	int w, h, ss, cs;
	int rc = tjDecompressHeader3(d, jpeg, (unsigned long)n, &w, &h, &ss, &cs);
	tjDestroy(d);
	if (rc < 0 || w <= 0 || h <= 0)
		return AG_ECORRUPT;
	*width = (unsigned)w;
	*height = (unsigned)h;
	return 0;
}

int drv_encoder_reencode(struct drv_encoder *e, const uint8_t *jpeg, size_t len, unsigned quality,
			 unsigned downscale, const uint8_t **out, size_t *out_len)
{
	size_t n;
	int w, h, ss, cs;
	if (quality < 1 || quality > 100 || (downscale != 1 && downscale != 2 && downscale != 4))
		return AG_EINVAL;
	if (handles(e, true, true) < 0)
		return AG_ENOMEM;
	if (jpeg_check(jpeg, len, &n) < 0 ||
	    tjDecompressHeader3(e->d, jpeg, (unsigned long)n, &w, &h, &ss, &cs) < 0 || w <= 0 || h <= 0)
		return AG_ECORRUPT;
	if (ss < 0 || ss == TJSAMP_440 || ss == TJSAMP_411)
		ss = TJSAMP_420;
	int ow = (w + (int)downscale - 1) / (int)downscale, oh = (h + (int)downscale - 1) / (int)downscale;
	/* decode scaled to RGB, then compress; simple and exact for any subsampling */
	size_t need = (size_t)ow * (size_t)oh * 3;
	if (grow(&e->rgb, &e->rgb_cap, need) < 0)
		return AG_ENOMEM;
	if (tjDecompress2(e->d, jpeg, (unsigned long)n, e->rgb, ow, 0, oh, TJPF_RGB, 0) < 0) {
		ag_log_warnx("re-encode: %s", tjGetErrorStr2(e->d));
		return AG_ECORRUPT;
	}
	int rc = out_reserve(e, (unsigned)ow, (unsigned)oh, ss);
	if (rc < 0)
		return rc;
	unsigned long size = e->out_cap;
	if (tjCompress2(e->c, e->rgb, ow, 0, oh, TJPF_RGB, &e->out, &size, ss, (int)quality,
			TJFLAG_NOREALLOC) < 0) {
		ag_log_err("re-encode: %s", tjGetErrorStr2(e->c));
		return AG_EIO;
	}
	*out = e->out;
	*out_len = size;
	return 0;
}

int drv_encoder_encode(struct drv_encoder *e, const struct drv_frame *f, const uint8_t **jpeg, size_t *len)
{
	unsigned s = e->cfg.downscale;
	int ss = tj_subsamp(e->cfg.subsamp);
	if (f->width == 0 || f->height == 0)
		return AG_EINVAL;
	if (f->fmt == DRV_FMT_MJPEG) {
		size_t n;
		int w, h, jss, cs;
		const uint8_t *src = f->plane[0];
		if (handles(e, false, true) < 0)
			return AG_ENOMEM;
		if (jpeg_check(src, f->size, &n) < 0)
			return AG_ECORRUPT;
		bool has_dht;
		size_t sos = find_sos(src, n, &has_dht);
		if (!sos)
			return AG_ECORRUPT;
		if (!has_dht) {
			if (e->dht_len == 0 && learn_tables(e) < 0) {
				ag_log_err("TurboJPEG: cannot take its standard Huffman tables");
				return AG_EIO;
			}
			/* put the standard tables in, just before the scan */
			if (grow(&e->fixed, &e->fixed_cap, n + e->dht_len) < 0)
				return AG_ENOMEM;
			memcpy(e->fixed, src, sos);
			memcpy(e->fixed + sos, e->dht, e->dht_len);
			memcpy(e->fixed + sos + e->dht_len, src + sos, n - sos);
			struct drv_frame g = *f;
			g.plane[0] = e->fixed;
			g.size = n + e->dht_len;
			f = &g;
			n = g.size;
			/* the rest reads from the fixed copy */
			if (tjDecompressHeader3(e->d, e->fixed, (unsigned long)n, &w, &h, &jss, &cs) < 0 || w <= 0 || h <= 0)
				return AG_ECORRUPT;
			if (s == 1) {
				*jpeg = e->fixed;
				*len = n;
				return 0;
			}
			return drv_encoder_reencode(e, e->fixed, n, e->cfg.quality, s, jpeg, len);
		}
		if (jpeg_check(f->plane[0], f->size, &n) < 0 ||
		    tjDecompressHeader3(e->d, f->plane[0], (unsigned long)n, &w, &h, &jss, &cs) < 0 ||
		    w <= 0 || h <= 0)
			return AG_ECORRUPT;
		if (s == 1) {
			*jpeg = f->plane[0];
			*len = n;
			return 0;
		}
		return drv_encoder_reencode(e, f->plane[0], n, e->cfg.quality, s, jpeg, len);
	}
	unsigned ow = f->width / s, oh = f->height / s;
	if (ow == 0 || oh == 0)
		return AG_EINVAL;
	if (f->fmt == DRV_FMT_GREY && ss != TJSAMP_GRAY)
		ss = TJSAMP_GRAY; /* no colour to keep */
	int rc = out_reserve(e, ow, oh, ss);
	if (rc < 0)
		return rc;
	unsigned long size = e->out_cap;
	if (f->fmt == DRV_FMT_RGB24 || f->fmt == DRV_FMT_BGR24) {
		const uint8_t *src = f->plane[0];
		int pitch = (int)f->stride[0];
		if (s > 1) {
			if (grow(&e->rgb, &e->rgb_cap, (size_t)ow * oh * 3) < 0)
				return AG_ENOMEM;
			for (unsigned y = 0; y < oh; y++)
				for (unsigned x = 0; x < ow; x++)
					for (unsigned c = 0; c < 3; c++) {
						unsigned sum = 0;
						for (unsigned dy = 0; dy < s; dy++)
							for (unsigned dx = 0; dx < s; dx++)
								sum += f->plane[0][(size_t)(y * s + dy) * f->stride[0] + (x * s + dx) * 3 + c];
						e->rgb[((size_t)y * ow + x) * 3 + c] = (uint8_t)((sum + s * s / 2) / (s * s));
					}
			src = e->rgb;
			pitch = (int)ow * 3;
		}
		if (handles(e, true, false) < 0)
			return AG_ENOMEM;
		rc = tjCompress2(e->c, src, (int)ow, pitch, (int)oh,
				 f->fmt == DRV_FMT_RGB24 ? TJPF_RGB : TJPF_BGR, &e->out, &size, ss,
				 (int)e->cfg.quality, TJFLAG_NOREALLOC);
	} else {
		const unsigned char *pl[3];
		int st[3];
		if (f->fmt == DRV_FMT_YU12 && s == 1 && ss == TJSAMP_420 && !f->limited) {
			/* already planar 4:2:0: no copy */
			for (int i = 0; i < 3; i++) {
				pl[i] = f->plane[i];
				st[i] = (int)f->stride[i];
			}
		} else if (f->fmt == DRV_FMT_GREY && s == 1 && !f->limited) {
			pl[0] = f->plane[0];
			st[0] = (int)f->stride[0];
			pl[1] = pl[2] = NULL;
			st[1] = st[2] = 0;
		} else if (s == 1 && (ss == TJSAMP_420 || ss == TJSAMP_422) &&
			   (rc = jpegraw_encode(e->raw, f, ss == TJSAMP_420, e->cfg.quality, e->out, e->out_cap, len)) != 0) {
			if (rc < 0)
				return rc;
			*jpeg = e->out;
			return 0;
		} else if (s == 1 && (rc = fast_planes(e, f, ss, pl, st)) != 0) {
			if (rc < 0)
				return AG_ENOMEM;
		} else if ((rc = to_planes(e, f, s, ss, ow, oh, pl, st)) < 0) {
			return rc;
		}
		if (handles(e, true, false) < 0)
			return AG_ENOMEM;
		rc = tjCompressFromYUVPlanes(e->c, pl, (int)ow, st, (int)oh, ss, &e->out, &size,
					     (int)e->cfg.quality, TJFLAG_NOREALLOC);
	}
	if (rc < 0) {
		ag_log_err("TurboJPEG: %s", tjGetErrorStr2(e->c));
		return AG_EIO;
	}
	*jpeg = e->out;
	*len = size;
	return 0;
}
