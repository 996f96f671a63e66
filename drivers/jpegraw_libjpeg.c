/*
 * Strip encoder on libjpeg(-turbo)'s raw-data interface, set up as
 * TurboJPEG sets up its own compressor (turbojpeg.c, setCompDefaults():
 * same tables, the fast integer DCT below quality 96, the same edge
 * padding), so the bytes equal tjCompressFromYUVPlanes()'s. What differs:
 * the conversion runs one iMCU row (16 or 8 rows) at a time into a buffer
 * of a few tens of KiB, right before libjpeg reads it, so no whole-frame
 * planes are written and read back, and rows past the bottom edge are
 * repeated row pointers, not copies.
 */
#define AG_LOG_TAG "encoder"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "jpegraw.h"
#include "yuvsplit.h"

struct jpegraw {
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	struct jpeg_destination_mgr dest;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	uint8_t *strip; /* 16 luma rows and 8 rows of each chroma */
	size_t strip_cap;
	uint8_t *out;
	size_t cap;
};

static void on_error(j_common_ptr c)
{
	struct jpegraw *j = c->client_data;
	(*c->err->format_message)(c, j->msg);
	longjmp(j->jb, 1);
}

static void on_message(j_common_ptr c)
{
	(void)c; /* warnings and traces: nothing to print from a library */
}

static void dest_init(j_compress_ptr c)
{
	struct jpegraw *j = c->client_data;
	c->dest->next_output_byte = j->out;
	c->dest->free_in_buffer = j->cap;
}

static boolean dest_full(j_compress_ptr c)
{
	/* out holds tjBufSize(), the worst case: this does not happen */
	struct jpegraw *j = c->client_data;
	snprintf(j->msg, sizeof(j->msg), "output buffer of %zu bytes full", j->cap);
	longjmp(j->jb, 1);
}

static void dest_term(j_compress_ptr c)
{
	(void)c;
}

int jpegraw_create(struct jpegraw **out)
{
	struct jpegraw *j = calloc(1, sizeof(*j));
	if (!j)
		return AG_ENOMEM;
	j->ci.err = jpeg_std_error(&j->jerr);
	j->jerr.error_exit = on_error;
	j->jerr.output_message = on_message;
	j->ci.client_data = j;
	if (setjmp(j->jb)) {
		ag_log_err("libjpeg: %s", j->msg);
		free(j);
		return AG_ENOMEM;
	}
	jpeg_create_compress(&j->ci);
	j->dest.init_destination = dest_init;
	j->dest.empty_output_buffer = dest_full;
	j->dest.term_destination = dest_term;
	j->ci.dest = &j->dest;
	*out = j;
	return 0;
}

void jpegraw_destroy(struct jpegraw *j)
{
	if (!j)
		return;
	jpeg_destroy_compress(&j->ci);
	free(j->strip);
	free(j);
}

/* Repeat the last sample of each of n rows out to width pw (pw > w). */
static void pad_right(JSAMPARRAY rows, unsigned n, unsigned w, unsigned pw)
{
	if (pw == w)
		return;
	for (unsigned r = 0; r < n; r++)
		memset(rows[r] + w, rows[r][w - 1], pw - w);
}

/* The compression proper; libjpeg's errors leave through j->jb. */
static void compress(struct jpegraw *j, const struct drv_frame *f, bool is420, unsigned quality)
{
	struct jpeg_compress_struct *ci = &j->ci;
	unsigned w = f->width, h = f->height;
	/* the widths libjpeg reads: whole blocks of each component */
	unsigned yw = (w + 7) / 8 * 8, cw = (w + 15) / 16 * 8;
	unsigned ly = is420 ? 16 : 8, lc = 8; /* rows per iMCU row: luma, chroma */
	uint8_t *sy = j->strip, *su = sy + (size_t)yw * ly, *sv = su + (size_t)cw * lc;
	JSAMPROW yrow[16], urow[8], vrow[8];
	JSAMPARRAY planes[3] = { yrow, urow, vrow };
	bool packed = f->fmt != DRV_FMT_NV12, uyvy = f->fmt == DRV_FMT_UYVY;
	/* NV12's luma is read where it is when no padding or range change is needed */
	bool y_in_place = !packed && yw == w && !f->limited;

	ci->image_width = w;
	ci->image_height = h;
	ci->input_components = 3;
	ci->in_color_space = JCS_RGB;
	jpeg_set_defaults(ci);
	jpeg_set_quality(ci, (int)quality, TRUE);
	ci->dct_method = quality >= 96 ? JDCT_ISLOW : JDCT_FASTEST;
	jpeg_set_colorspace(ci, JCS_YCbCr);
	ci->comp_info[0].h_samp_factor = 2;
	ci->comp_info[0].v_samp_factor = is420 ? 2 : 1;
	for (int c = 1; c < 3; c++)
		ci->comp_info[c].h_samp_factor = ci->comp_info[c].v_samp_factor = 1;
	ci->raw_data_in = TRUE;
	jpeg_start_compress(ci, TRUE);
	for (unsigned k = 0; k < lc; k++) {
		urow[k] = su + (size_t)k * cw;
		vrow[k] = sv + (size_t)k * cw;
	}
	for (unsigned r = 0; r < h; r += ly) {
		unsigned n = h - r < ly ? h - r : ly; /* luma rows in this strip */
		unsigned nc = is420 ? n / 2 : n;       /* chroma rows */
		for (unsigned k = 0; k < n; k++)
			yrow[k] = y_in_place ? (JSAMPROW)(f->plane[0] + (size_t)(r + k) * f->stride[0]) : sy + (size_t)k * yw;
		if (packed) {
			const uint8_t *src = f->plane[0] + (size_t)r * f->stride[0];
			size_t st = f->stride[0];
			if (is420)
				for (unsigned k = 0; k < n; k += 2)
					yuv_split_420(src + k * st, src + (k + 1) * st, w, uyvy, yrow[k], yrow[k + 1],
						      urow[k / 2], vrow[k / 2]);
			else
				for (unsigned k = 0; k < n; k++)
					yuv_split_422(src + k * st, w, uyvy, yrow[k], urow[k], vrow[k]);
		} else {
			for (unsigned k = 0; k < n && !y_in_place; k++) {
				const uint8_t *src = f->plane[0] + (size_t)(r + k) * f->stride[0];
				if (f->limited)
					yuv_expand(src, yrow[k], w, false);
				else
					memcpy(yrow[k], src, w);
			}
			for (unsigned k = 0; k < nc; k++)
				yuv_deinterleave(f->plane[1] + (size_t)(r / 2 + k) * f->stride[1], w / 2, urow[k], vrow[k]);
		}
		if (f->limited) { /* to JPEG's full range while the strip is in the cache */
			for (unsigned k = 0; k < n && packed; k++)
				yuv_expand(yrow[k], yrow[k], w, false);
			for (unsigned k = 0; k < nc; k++) {
				yuv_expand(urow[k], urow[k], w / 2, true);
				yuv_expand(vrow[k], vrow[k], w / 2, true);
			}
		}
		if (!y_in_place)
			pad_right(yrow, n, w, yw);
		pad_right(urow, nc, w / 2, cw);
		pad_right(vrow, nc, w / 2, cw);
		/* below the bottom edge: the last row again, as TurboJPEG pads */
		for (unsigned k = n; k < ly; k++)
			yrow[k] = yrow[n - 1];
		for (unsigned k = nc; k < lc; k++) {
			urow[k] = urow[nc - 1];
			vrow[k] = vrow[nc - 1];
		}
		jpeg_write_raw_data(ci, planes, ly);
		/* the strip rows again for the next iMCU row */
		for (unsigned k = nc; k < lc; k++) {
			urow[k] = su + (size_t)k * cw;
			vrow[k] = sv + (size_t)k * cw;
		}
	}
	jpeg_finish_compress(ci);
}

int jpegraw_encode(struct jpegraw *j, const struct drv_frame *f, bool is420, unsigned quality,
		   uint8_t *out, size_t cap, size_t *len)
{
	bool packed = f->fmt == DRV_FMT_YUYV || f->fmt == DRV_FMT_UYVY;
	bool nv12 = f->fmt == DRV_FMT_NV12 && is420;
	if (!j || (!packed && !nv12) || ((f->width | f->height) & 1) || quality < 1 || quality > 100)
		return 0;
	size_t yw = (f->width + 7) / 8 * 8, cw = (f->width + 15) / 16 * 8;
	size_t need = yw * (is420 ? 16 : 8) + 2 * cw * 8;
	if (need > j->strip_cap) {
		uint8_t *nb = realloc(j->strip, need);
		if (!nb)
			return AG_ENOMEM;
		j->strip = nb;
		j->strip_cap = need;
	}
	j->out = out;
	j->cap = cap;
	if (setjmp(j->jb)) {
		jpeg_abort_compress(&j->ci);
		ag_log_err("libjpeg: %s", j->msg);
		return AG_EIO;
	}
	compress(j, f, is420, quality);
	*len = cap - j->ci.dest->free_in_buffer;
	return 1;
}
