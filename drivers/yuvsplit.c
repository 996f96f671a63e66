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

/*
 * Limited ("video") range to JPEG's full range: luma 16..235 and chroma
 * 16..240 stretched to 0..255 (chroma about 128), samples outside clamped
 * first; t is the clamped sample less 16. Luma: t * 255 / 219 rounded, as
 * (t * 298 + 128) >> 8. Chroma: t * 255 / 224 + 0.5 (128 stays 128)
 * rounded half down, so that both ends are exact, as ((t << 7) + 112) * 583
 * >> 16 (583 / 512 ~ 255 / 224), at most 255. Within 0.6 of the formula
 * everywhere; every product fits the 16-bit lanes of the vector versions,
 * which give the same bytes.
 */
static inline uint8_t expand1(unsigned v, bool chroma)
{
	unsigned t = v > 16 ? v - 16 : 0;
	if (!chroma)
		return (uint8_t)(((t > 219 ? 219 : t) * 298 + 128) >> 8);
	unsigned c = (((t > 224 ? 224 : t) << 7) + 112) * 583 >> 16;
	return (uint8_t)(c > 255 ? 255 : c);
}

void yuv_expand_c(const uint8_t *src, uint8_t *dst, unsigned n, bool chroma)
{
	for (unsigned i = 0; i < n; i++)
		dst[i] = expand1(src[i], chroma);
}

#if SPLIT_SSE2
void yuv_expand(const uint8_t *src, uint8_t *dst, unsigned n, bool chroma)
{
	const __m128i c16 = _mm_set1_epi8(16), zero = _mm_setzero_si128();
	const __m128i max = _mm_set1_epi8((char)(chroma ? 224 : 219));
	const __m128i k298 = _mm_set1_epi16(298), r128 = _mm_set1_epi16(128);
	const __m128i k583 = _mm_set1_epi16(583), o112 = _mm_set1_epi16(112);
	unsigned i = 0;
	for (; i + 16 <= n; i += 16) {
		__m128i t = _mm_min_epu8(_mm_subs_epu8(_mm_loadu_si128((const __m128i *)(src + i)), c16), max);
		__m128i lo = _mm_unpacklo_epi8(t, zero), hi = _mm_unpackhi_epi8(t, zero);
		if (chroma) {
			lo = _mm_mulhi_epu16(_mm_add_epi16(_mm_slli_epi16(lo, 7), o112), k583);
			hi = _mm_mulhi_epu16(_mm_add_epi16(_mm_slli_epi16(hi, 7), o112), k583);
		} else {
			lo = _mm_srli_epi16(_mm_add_epi16(_mm_mullo_epi16(lo, k298), r128), 8);
			hi = _mm_srli_epi16(_mm_add_epi16(_mm_mullo_epi16(hi, k298), r128), 8);
		}
		_mm_storeu_si128((__m128i *)(dst + i), _mm_packus_epi16(lo, hi)); /* 256 -> 255 */
	}
	yuv_expand_c(src + i, dst + i, n - i, chroma);
}
#elif SPLIT_NEON
void yuv_expand(const uint8_t *src, uint8_t *dst, unsigned n, bool chroma)
{
	const uint8x16_t c16 = vdupq_n_u8(16), max = vdupq_n_u8(chroma ? 224 : 219);
	const uint8x8_t k42 = vdup_n_u8(298 - 256);
	const uint16x8_t r128 = vdupq_n_u16(128), o56 = vdupq_n_u16(56);
	const int16x8_t k583 = vdupq_n_s16(583);
	unsigned i = 0;
	for (; i + 16 <= n; i += 16) {
		uint8x16_t t = vminq_u8(vqsubq_u8(vld1q_u8(src + i), c16), max);
		uint8x8_t a = vget_low_u8(t), b = vget_high_u8(t);
		uint8x8_t ra, rb;
		if (chroma) {
			/* (2 * ((t << 6) + 56) * 583) >> 16 is ((t << 7) + 112) * 583 >> 16 */
			int16x8_t xa = vreinterpretq_s16_u16(vaddq_u16(vshll_n_u8(a, 6), o56));
			int16x8_t xb = vreinterpretq_s16_u16(vaddq_u16(vshll_n_u8(b, 6), o56));
			ra = vqmovun_s16(vqdmulhq_s16(xa, k583));
			rb = vqmovun_s16(vqdmulhq_s16(xb, k583));
		} else {
			/* t * 298 = (t << 8) + t * 42 */
			ra = vshrn_n_u16(vaddq_u16(vmlal_u8(vshll_n_u8(a, 8), a, k42), r128), 8);
			rb = vshrn_n_u16(vaddq_u16(vmlal_u8(vshll_n_u8(b, 8), b, k42), r128), 8);
		}
		vst1q_u8(dst + i, vcombine_u8(ra, rb));
	}
	yuv_expand_c(src + i, dst + i, n - i, chroma);
}
#else
void yuv_expand(const uint8_t *src, uint8_t *dst, unsigned n, bool chroma)
{
	yuv_expand_c(src, dst, n, chroma);
}
#endif
