/*
 * Packed 4:2:2 and NV12 chroma to planes. The SIMD versions do whole
 * blocks of pixels and leave the rest of the row to the C version. The
 * instruction set is what the compiler targets (SSE2 is part of x86-64,
 * NEON of AArch64): no run-time detection, nothing to configure.
 */
#include "yuvsplit.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define SPLIT_SSE2 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define SPLIT_NEON 1
#endif

void yuv_split_422_c(const uint8_t *row, unsigned w, bool uyvy, uint8_t *y, uint8_t *u, uint8_t *v)
{
	unsigned yo = uyvy ? 1 : 0, co = uyvy ? 0 : 1;
	for (unsigned x = 0; x < w / 2; x++) {
		const uint8_t *p = row + 4 * x;
		y[2 * x] = p[yo];
		y[2 * x + 1] = p[yo + 2];
		u[x] = p[co];
		v[x] = p[co + 2];
	}
}

void yuv_split_420_c(const uint8_t *r0, const uint8_t *r1, unsigned w, bool uyvy, uint8_t *y0,
		     uint8_t *y1, uint8_t *u, uint8_t *v)
{
	unsigned yo = uyvy ? 1 : 0, co = uyvy ? 0 : 1;
	for (unsigned x = 0; x < w / 2; x++) {
		const uint8_t *a = r0 + 4 * x, *b = r1 + 4 * x;
		y0[2 * x] = a[yo];
		y0[2 * x + 1] = a[yo + 2];
		y1[2 * x] = b[yo];
		y1[2 * x + 1] = b[yo + 2];
		u[x] = (uint8_t)((a[co] + b[co] + 1) >> 1);
		v[x] = (uint8_t)((a[co + 2] + b[co + 2] + 1) >> 1);
	}
}

void yuv_deinterleave_c(const uint8_t *uv, unsigned n, uint8_t *u, uint8_t *v)
{
	for (unsigned x = 0; x < n; x++) {
		u[x] = uv[2 * x];
		v[x] = uv[2 * x + 1];
	}
}

#if SPLIT_SSE2
const char yuv_split_impl[] = "sse2";

/* 16 pixels (32 bytes) of packed 4:2:2 into 16 luma bytes and 8 U V pairs. */
static inline void sse2_take(const uint8_t *p, bool uyvy, __m128i *yy, __m128i *uv)
{
	const __m128i lo = _mm_set1_epi16(0x00ff);
	__m128i a = _mm_loadu_si128((const __m128i *)p), b = _mm_loadu_si128((const __m128i *)(p + 16));
	__m128i ev = _mm_packus_epi16(_mm_and_si128(a, lo), _mm_and_si128(b, lo));
	__m128i od = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
	*yy = uyvy ? od : ev;
	*uv = uyvy ? ev : od;
}

/* 8 U V pairs into 8 bytes of u and of v. */
static inline void sse2_put_uv(__m128i uv, uint8_t *u, uint8_t *v)
{
	const __m128i lo = _mm_set1_epi16(0x00ff), z = _mm_setzero_si128();
	_mm_storel_epi64((__m128i *)u, _mm_packus_epi16(_mm_and_si128(uv, lo), z));
	_mm_storel_epi64((__m128i *)v, _mm_packus_epi16(_mm_srli_epi16(uv, 8), z));
}

void yuv_split_422(const uint8_t *row, unsigned w, bool uyvy, uint8_t *y, uint8_t *u, uint8_t *v)
{
	unsigned x = 0;
	for (; x + 16 <= w; x += 16) {
		__m128i yy, uv;
		sse2_take(row + 2 * x, uyvy, &yy, &uv);
		_mm_storeu_si128((__m128i *)(y + x), yy);
		sse2_put_uv(uv, u + x / 2, v + x / 2);
	}
	yuv_split_422_c(row + 2 * x, w - x, uyvy, y + x, u + x / 2, v + x / 2);
}

void yuv_split_420(const uint8_t *r0, const uint8_t *r1, unsigned w, bool uyvy, uint8_t *y0,
		   uint8_t *y1, uint8_t *u, uint8_t *v)
{
	unsigned x = 0;
	for (; x + 16 <= w; x += 16) {
		__m128i ya, ca, yb, cb;
		sse2_take(r0 + 2 * x, uyvy, &ya, &ca);
		sse2_take(r1 + 2 * x, uyvy, &yb, &cb);
		_mm_storeu_si128((__m128i *)(y0 + x), ya);
		_mm_storeu_si128((__m128i *)(y1 + x), yb);
		sse2_put_uv(_mm_avg_epu8(ca, cb), u + x / 2, v + x / 2); /* (a + b + 1) >> 1 */
	}
	yuv_split_420_c(r0 + 2 * x, r1 + 2 * x, w - x, uyvy, y0 + x, y1 + x, u + x / 2, v + x / 2);
}

void yuv_deinterleave(const uint8_t *uv, unsigned n, uint8_t *u, uint8_t *v)
{
	const __m128i lo = _mm_set1_epi16(0x00ff);
	unsigned x = 0;
	for (; x + 16 <= n; x += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(uv + 2 * x));
		__m128i b = _mm_loadu_si128((const __m128i *)(uv + 2 * x + 16));
		_mm_storeu_si128((__m128i *)(u + x), _mm_packus_epi16(_mm_and_si128(a, lo), _mm_and_si128(b, lo)));
		_mm_storeu_si128((__m128i *)(v + x), _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8)));
	}
	yuv_deinterleave_c(uv + 2 * x, n - x, u + x, v + x);
}

#elif SPLIT_NEON
const char yuv_split_impl[] = "neon";

/* 32 pixels (64 bytes): val[] is Y0 U Y1 V for YUYV, U Y0 V Y1 for UYVY. */
void yuv_split_422(const uint8_t *row, unsigned w, bool uyvy, uint8_t *y, uint8_t *u, uint8_t *v)
{
	int yi = uyvy ? 1 : 0, ci = uyvy ? 0 : 1;
	unsigned x = 0;
	for (; x + 32 <= w; x += 32) {
		uint8x16x4_t p = vld4q_u8(row + 2 * x);
		uint8x16x2_t yy = { { p.val[yi], p.val[yi + 2] } };
		vst2q_u8(y + x, yy);
		vst1q_u8(u + x / 2, p.val[ci]);
		vst1q_u8(v + x / 2, p.val[ci + 2]);
	}
	yuv_split_422_c(row + 2 * x, w - x, uyvy, y + x, u + x / 2, v + x / 2);
}

void yuv_split_420(const uint8_t *r0, const uint8_t *r1, unsigned w, bool uyvy, uint8_t *y0,
		   uint8_t *y1, uint8_t *u, uint8_t *v)
{
	int yi = uyvy ? 1 : 0, ci = uyvy ? 0 : 1;
	unsigned x = 0;
	for (; x + 32 <= w; x += 32) {
		uint8x16x4_t a = vld4q_u8(r0 + 2 * x), b = vld4q_u8(r1 + 2 * x);
		uint8x16x2_t ya = { { a.val[yi], a.val[yi + 2] } }, yb = { { b.val[yi], b.val[yi + 2] } };
		vst2q_u8(y0 + x, ya);
		vst2q_u8(y1 + x, yb);
		vst1q_u8(u + x / 2, vrhaddq_u8(a.val[ci], b.val[ci])); /* (a + b + 1) >> 1 */
		vst1q_u8(v + x / 2, vrhaddq_u8(a.val[ci + 2], b.val[ci + 2]));
	}
	yuv_split_420_c(r0 + 2 * x, r1 + 2 * x, w - x, uyvy, y0 + x, y1 + x, u + x / 2, v + x / 2);
}

void yuv_deinterleave(const uint8_t *uv, unsigned n, uint8_t *u, uint8_t *v)
{
	unsigned x = 0;
	for (; x + 16 <= n; x += 16) {
		uint8x16x2_t p = vld2q_u8(uv + 2 * x);
		vst1q_u8(u + x, p.val[0]);
		vst1q_u8(v + x, p.val[1]);
	}
	yuv_deinterleave_c(uv + 2 * x, n - x, u + x, v + x);
}

#else
const char yuv_split_impl[] = "c";

void yuv_split_422(const uint8_t *row, unsigned w, bool uyvy, uint8_t *y, uint8_t *u, uint8_t *v)
{
	yuv_split_422_c(row, w, uyvy, y, u, v);
}

void yuv_split_420(const uint8_t *r0, const uint8_t *r1, unsigned w, bool uyvy, uint8_t *y0,
		   uint8_t *y1, uint8_t *u, uint8_t *v)
{
	yuv_split_420_c(r0, r1, w, uyvy, y0, y1, u, v);
}

void yuv_deinterleave(const uint8_t *uv, unsigned n, uint8_t *u, uint8_t *v)
{
	yuv_deinterleave_c(uv, n, u, v);
}
#endif
