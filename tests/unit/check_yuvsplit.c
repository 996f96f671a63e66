/*
 * The packed 4:2:2 and NV12 row kernels (drivers/yuvsplit.h), both the
 * build's SIMD versions and the portable C ones, against a reference
 * written here pixel by pixel, on random rows of many widths (all block
 * remainders), with guard bytes after every output; the same for the
 * limited-to-full range stretch, whose reference is the formula in
 * floating point (within rounding) and its ends exact. Plain C without
 * cmocka, so that it also runs cross-compiled under qemu-user (the NEON
 * versions): tests/drivers.cmake does that when it finds the tools.
 * Exits 0 when every byte matches, 1 naming the first that does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yuvsplit.h"

#define MAXW 1928
#define GUARD 40

static uint8_t r0[MAXW * 2 + GUARD], r1[MAXW * 2 + GUARD];
static uint8_t want[4][MAXW + GUARD], got[4][MAXW + GUARD];
static unsigned seed = 12345;
static int failures;

static uint8_t rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return (uint8_t)(seed >> 16);
}

static void compare(const char *what, const char *impl, unsigned w, int plane, size_t n)
{
	for (size_t i = 0; i < n + GUARD; i++)
		if (got[plane][i] != want[plane][i]) {
			if (failures++ < 10)
				fprintf(stderr, "%s (%s) width %u: plane %d byte %zu is %u, want %u%s\n", what, impl, w,
					plane, i, got[plane][i], want[plane][i], i >= n ? " (past the end)" : "");
			return;
		}
}

typedef void split422_fn(const uint8_t *, unsigned, bool, uint8_t *, uint8_t *, uint8_t *);
typedef void split420_fn(const uint8_t *, const uint8_t *, unsigned, bool, uint8_t *, uint8_t *, uint8_t *,
			 uint8_t *);
typedef void deint_fn(const uint8_t *, unsigned, uint8_t *, uint8_t *);

static void check_width(unsigned w, const char *impl, split422_fn *s422, split420_fn *s420, deint_fn *di)
{
	for (int uyvy = 0; uyvy < 2; uyvy++) {
		for (size_t i = 0; i < sizeof(r0); i++) {
			r0[i] = rnd();
			r1[i] = rnd();
		}
		/* reference: Y0 U Y1 V (YUYV) or U Y0 V Y1 (UYVY) per pair of pixels */
		memset(want, 0xA5, sizeof(want));
		for (unsigned x = 0; x < w; x++) {
			const uint8_t *pa = r0 + (x / 2) * 4, *pb = r1 + (x / 2) * 4;
			unsigned yi = uyvy ? 1 + 2 * (x & 1) : 2 * (x & 1);
			want[0][x] = pa[yi];
			want[1][x] = pb[yi];
		}
		for (unsigned c = 0; c < w / 2; c++) {
			const uint8_t *pa = r0 + c * 4;
			unsigned ui = uyvy ? 0 : 1, vi = uyvy ? 2 : 3;
			want[2][c] = pa[ui];
			want[3][c] = pa[vi];
		}
		memset(got, 0xA5, sizeof(got));
		s422(r0, w, uyvy, got[0], got[2], got[3]);
		compare(uyvy ? "uyvy 4:2:2" : "yuyv 4:2:2", impl, w, 0, w);
		compare(uyvy ? "uyvy 4:2:2" : "yuyv 4:2:2", impl, w, 2, w / 2);
		compare(uyvy ? "uyvy 4:2:2" : "yuyv 4:2:2", impl, w, 3, w / 2);
		/* 4:2:0: the chroma of both rows, rounded half up */
		for (unsigned c = 0; c < w / 2; c++) {
			const uint8_t *pa = r0 + c * 4, *pb = r1 + c * 4;
			unsigned ui = uyvy ? 0 : 1, vi = uyvy ? 2 : 3;
			want[2][c] = (uint8_t)((pa[ui] + pb[ui] + 1) / 2);
			want[3][c] = (uint8_t)((pa[vi] + pb[vi] + 1) / 2);
		}
		memset(got, 0xA5, sizeof(got));
		s420(r0, r1, w, uyvy, got[0], got[1], got[2], got[3]);
		for (int p = 0; p < 4; p++)
			compare(uyvy ? "uyvy 4:2:0" : "yuyv 4:2:0", impl, w, p, p < 2 ? w : w / 2);
	}
	/* NV12 chroma: w / 2 pairs */
	memset(want, 0xA5, sizeof(want));
	for (unsigned c = 0; c < w / 2; c++) {
		want[2][c] = r0[2 * c];
		want[3][c] = r0[2 * c + 1];
	}
	memset(got, 0xA5, sizeof(got));
	di(r0, w / 2, got[2], got[3]);
	compare("nv12 chroma", impl, w, 2, w / 2);
	compare("nv12 chroma", impl, w, 3, w / 2);
}

typedef void expand_fn(const uint8_t *, uint8_t *, unsigned, bool);

/* Limited to full range: each of 256 values against the formula (within
 * 0.5 + the 8.8 fixed point's error), the ends exact, and the build's
 * kernel byte for byte equal to the C one at this length, in place too. */
static void check_expand(unsigned n, const char *impl, expand_fn *ex)
{
	for (int chroma = 0; chroma < 2; chroma++) {
		for (unsigned i = 0; i < n; i++)
			r0[i] = (uint8_t)(i < 256 ? i : rnd());
		memset(want[0], 0xA5, sizeof(want[0]));
		memset(got[0], 0xA5, sizeof(got[0]));
		yuv_expand_c(r0, want[0], n, chroma);
		ex(r0, got[0], n, chroma);
		compare(chroma ? "expand chroma" : "expand luma", impl, n, 0, n);
		memcpy(got[1], r0, n);
		ex(got[1], got[1], n, chroma);
		if (memcmp(got[1], want[0], n) != 0 && failures++ < 10)
			fprintf(stderr, "expand (%s) in place, length %u: differs\n", impl, n);
		for (unsigned i = 0; i < n && i < 256; i++) {
			double lo = 16, hi = chroma ? 240 : 235, v = i < lo ? lo : i > hi ? hi : i;
			double exact = chroma ? (v - 128) * 255 / 224 + 128 : (v - 16) * 255 / 219;
			double d = want[0][i] - exact;
			if ((d > 0.6 || d < -0.6) && failures++ < 10)
				fprintf(stderr, "expand %s: %u gives %u, the formula %.2f\n", chroma ? "chroma" : "luma", i,
					want[0][i], exact);
		}
		if (n >= 256 && (want[0][16] != 0 || want[0][chroma ? 240 : 235] != 255 ||
				 (chroma && want[0][128] != 128)) && failures++ < 10)
			fprintf(stderr, "expand %s: the ends or the middle are not exact\n", chroma ? "chroma" : "luma");
	}
}

int main(void)
{
	for (unsigned n = 0; n <= 300; n++) {
		check_expand(n, yuv_split_impl, yuv_expand);
		check_expand(n, "c", yuv_expand_c);
	}
	unsigned widths = 0;
	for (unsigned w = 2; w <= 200; w += 2, widths++) {
		check_width(w, yuv_split_impl, yuv_split_422, yuv_split_420, yuv_deinterleave);
		check_width(w, "c", yuv_split_422_c, yuv_split_420_c, yuv_deinterleave_c);
	}
	static const unsigned big[] = { 640, 1280, 1282, 1920, 1926 };
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++, widths++) {
		check_width(big[i], yuv_split_impl, yuv_split_422, yuv_split_420, yuv_deinterleave);
		check_width(big[i], "c", yuv_split_422_c, yuv_split_420_c, yuv_deinterleave_c);
	}
	if (failures) {
		fprintf(stderr, "yuvsplit: %d mismatches\n", failures);
		return 1;
	}
	printf("yuvsplit: %s and c kernels match the reference at %u widths, and the range stretch at 301 lengths\n",
	       yuv_split_impl, widths);
	return 0;
}
