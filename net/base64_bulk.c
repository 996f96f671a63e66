/*
 * Fast base64 for image bytes (see base64_bulk.h): a vector kernel for the
 * bulk where the CPU has one, a table-driven loop for the rest and the
 * padded tail.
 *
 * x86-64 (SSSE3, checked at run time; the build targets plain SSE2): 12
 * input bytes a step. A byte shuffle puts each 3-byte group [a b c] into a
 * 32-bit lane as [b a c b]; two masked 16-bit multiplies move the four
 * 6-bit fields into the four bytes of the lane; a 16-entry offset table,
 * indexed by a saturating subtract and a compare, turns each field into
 * its character (A-Z, a-z, 0-9, '+', '/'). After Mula and Lemire,
 * "Faster Base64 Encoding and Decoding using AVX2 Instructions" (2018).
 *
 * AArch64 (NEON, always there): 48 input bytes a step, de-interleaved by
 * vld3q into the first, second and third bytes of 16 groups; shifts and
 * masks give the four fields, vqtbl4q looks each up in the 64-character
 * alphabet, and vst4q interleaves them back into 64 characters.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <tmmintrin.h>
#define B64_SSSE3 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define B64_NEON 1
#endif

#include "base64_bulk.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static char pairs[4096][2]; /* 12 bits -> two characters */
static pthread_once_t once = PTHREAD_ONCE_INIT;
#ifdef B64_SSSE3
static int have_ssse3;
#endif

static void init(void)
{
	for (int i = 0; i < 4096; i++) {
		pairs[i][0] = alphabet[i >> 6];
		pairs[i][1] = alphabet[i & 63];
	}
#ifdef B64_SSSE3
	unsigned a, b, c, d;
	have_ssse3 = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3);
#endif
}

#ifdef B64_SSSE3
/* Whole 12-byte steps while 16 bytes can be loaded; returns bytes taken. */
__attribute__((target("ssse3"))) static size_t bulk_ssse3(const unsigned char *in, size_t n, char *out)
{
	const __m128i shuf = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	const __m128i m0 = _mm_set1_epi32(0x0fc0fc00), k0 = _mm_set1_epi32(0x04000040);
	const __m128i m1 = _mm_set1_epi32(0x003f03f0), k1 = _mm_set1_epi32(0x01000010);
	const __m128i lut = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
					  '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
	const __m128i s51 = _mm_set1_epi8(51), c26 = _mm_set1_epi8(26), c13 = _mm_set1_epi8(13);
	size_t i = 0;
	for (; i + 16 <= n; i += 12, out += 16) {
		__m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + i)), shuf);
		__m128i idx = _mm_or_si128(_mm_mulhi_epu16(_mm_and_si128(v, m0), k0),
					   _mm_mullo_epi16(_mm_and_si128(v, m1), k1));
		/* 0..25 -> 13, 26..51 -> 0, 52..63 -> 1..12: the offset's slot */
		__m128i slot = _mm_or_si128(_mm_subs_epu8(idx, s51), _mm_and_si128(_mm_cmpgt_epi8(c26, idx), c13));
		_mm_storeu_si128((__m128i *)(void *)out, _mm_add_epi8(idx, _mm_shuffle_epi8(lut, slot)));
	}
	return i;
}
#endif

#ifdef B64_NEON
/* Whole 48-byte steps; returns bytes taken. */
static size_t bulk_neon(const unsigned char *in, size_t n, char *out)
{
	uint8x16x4_t tbl;
	for (int k = 0; k < 4; k++)
		tbl.val[k] = vld1q_u8((const uint8_t *)alphabet + 16 * k);
	const uint8x16_t m63 = vdupq_n_u8(63);
	size_t i = 0;
	for (; i + 48 <= n; i += 48, out += 64) {
		uint8x16x3_t v = vld3q_u8(in + i);
		uint8x16x4_t r;
		r.val[0] = vshrq_n_u8(v.val[0], 2);
		r.val[1] = vandq_u8(vorrq_u8(vshlq_n_u8(v.val[0], 4), vshrq_n_u8(v.val[1], 4)), m63);
		r.val[2] = vandq_u8(vorrq_u8(vshlq_n_u8(v.val[1], 2), vshrq_n_u8(v.val[2], 6)), m63);
		r.val[3] = vandq_u8(v.val[2], m63);
		for (int k = 0; k < 4; k++)
			r.val[k] = vqtbl4q_u8(tbl, r.val[k]);
		vst4q_u8((uint8_t *)out, r);
	}
	return i;
}
#endif

size_t net_b64_bulk(const unsigned char *in, size_t n, char *out)
{
	pthread_once(&once, init);
	char *o = out;
	size_t i = 0;
#ifdef B64_SSSE3
	if (have_ssse3) {
		i = bulk_ssse3(in, n, o);
		o += i / 3 * 4;
	}
#endif
#ifdef B64_NEON
	i = bulk_neon(in, n, o);
	o += i / 3 * 4;
#endif
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		memcpy(o, pairs[v >> 12], 2);
		memcpy(o + 2, pairs[v & 4095], 2);
		o += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		o[0] = alphabet[v >> 18];
		o[1] = alphabet[(v >> 12) & 63];
		o[2] = o[3] = '=';
		o += 4;
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		o[0] = alphabet[v >> 18];
		o[1] = alphabet[(v >> 12) & 63];
		o[2] = alphabet[(v >> 6) & 63];
		o[3] = '=';
		o += 4;
	}
	return (size_t)(o - out);
}
