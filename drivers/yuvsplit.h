/*
 * Row kernels that split packed 4:2:2 (YUYV, UYVY) and NV12 chroma into
 * planes, private to drivers/ (and its unit test). The plain names use
 * SSE2 on x86-64, NEON on AArch64 (chosen at compile time) and portable C
 * elsewhere; the _c versions are always built, as the reference the SIMD
 * versions are checked against. All give the same bytes.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* "sse2", "neon" or "c": what the plain names below use in this build. */
extern const char yuv_split_impl[];

/*
 * One row of packed 4:2:2 to planar 4:2:2: w pixels (even) from row into
 * y (w bytes), u and v (w / 2 bytes each). uyvy: U Y0 V Y1, else Y0 U Y1 V.
 */
void yuv_split_422(const uint8_t *row, unsigned w, bool uyvy, uint8_t *y, uint8_t *u, uint8_t *v);
void yuv_split_422_c(const uint8_t *row, unsigned w, bool uyvy, uint8_t *y, uint8_t *u, uint8_t *v);

/*
 * Two rows of packed 4:2:2 to planar 4:2:0: the luma of r0 and r1 into y0
 * and y1 (w bytes each), their chroma averaged, (a + b + 1) >> 1, into u
 * and v (w / 2 bytes each). w is even.
 */
void yuv_split_420(const uint8_t *r0, const uint8_t *r1, unsigned w, bool uyvy, uint8_t *y0,
		   uint8_t *y1, uint8_t *u, uint8_t *v);
void yuv_split_420_c(const uint8_t *r0, const uint8_t *r1, unsigned w, bool uyvy, uint8_t *y0,
		     uint8_t *y1, uint8_t *u, uint8_t *v);

/* n interleaved U V pairs (an NV12 chroma row) into u and v. */
void yuv_deinterleave(const uint8_t *uv, unsigned n, uint8_t *u, uint8_t *v);
void yuv_deinterleave_c(const uint8_t *uv, unsigned n, uint8_t *u, uint8_t *v);

/*
 * n samples from the limited ("video") range to JPEG's full range, src to
 * dst (the same buffer is fine): luma (chroma false) 16..235 to 0..255,
 * chroma 16..240 to 0..255 about 128; samples outside are clamped first.
 */
void yuv_expand(const uint8_t *src, uint8_t *dst, unsigned n, bool chroma);
void yuv_expand_c(const uint8_t *src, uint8_t *dst, unsigned n, bool chroma);
