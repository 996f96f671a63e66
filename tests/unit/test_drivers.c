/* Sources and the encoder: every pixel format against a reference image. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <turbojpeg.h>

#include "ag.h"
#include "drv.h"

#define W 64
#define H 48

/* Reference image in full-resolution Y, U, V (4:4:4), smooth so that
 * subsampling loses little. */
static uint8_t ry[H][W], ru[H][W], rv[H][W];

static void make_reference(void)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			ry[y][x] = (uint8_t)(40 + x * 2 + y);
			ru[y][x] = (uint8_t)(100 + x / 2);
			rv[y][x] = (uint8_t)(150 - y / 2);
		}
}

/* Chroma of the 2x2 (or 2x1) cell at (x, y), as a camera would give it. */
static uint8_t cu(int x, int y) { return ru[y & ~1][x & ~1]; }
static uint8_t cv(int x, int y) { return rv[y & ~1][x & ~1]; }

static uint8_t buf[4][W * H * 3];

static void build(enum drv_pixfmt fmt, struct drv_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->fmt = fmt;
	f->width = W;
	f->height = H;
	switch (fmt) {
	case DRV_FMT_YUYV:
	case DRV_FMT_UYVY:
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x += 2) {
				uint8_t *p = buf[0] + y * W * 2 + x * 2;
				if (fmt == DRV_FMT_YUYV) {
					p[0] = ry[y][x]; p[1] = cu(x, y); p[2] = ry[y][x + 1]; p[3] = cv(x, y);
				} else {
					p[0] = cu(x, y); p[1] = ry[y][x]; p[2] = cv(x, y); p[3] = ry[y][x + 1];
				}
			}
		f->plane[0] = buf[0];
		f->stride[0] = W * 2;
		break;
	case DRV_FMT_NV12:
	case DRV_FMT_YU12:
	case DRV_FMT_GREY:
		for (int y = 0; y < H; y++)
			memcpy(buf[0] + y * W, ry[y], W);
		f->plane[0] = buf[0];
		f->stride[0] = W;
		for (int y = 0; y < H / 2; y++)
			for (int x = 0; x < W / 2; x++) {
				if (fmt == DRV_FMT_NV12) {
					buf[1][y * W + x * 2] = cu(x * 2, y * 2);
					buf[1][y * W + x * 2 + 1] = cv(x * 2, y * 2);
				} else {
					buf[1][y * (W / 2) + x] = cu(x * 2, y * 2);
					buf[2][y * (W / 2) + x] = cv(x * 2, y * 2);
				}
			}
		f->plane[1] = buf[1];
		f->plane[2] = buf[2];
		f->stride[1] = fmt == DRV_FMT_NV12 ? W : W / 2;
		f->stride[2] = W / 2;
		break;
	default:
		fail();
	}
}

/* An encoder for ec, the pattern frame in fmt into f, and its JPEG. */
static struct drv_encoder *encode_built(const struct drv_encoder_config *ec, enum drv_pixfmt fmt,
					struct drv_frame *f, const uint8_t **jpeg, size_t *len)
{
	struct drv_encoder *e;
	assert_int_equal(drv_encoder_create(ec, &e), 0);
	build(fmt, f);
	assert_int_equal(drv_encoder_encode(e, f, jpeg, len), 0);
	return e;
}

/* Decode and compare with the reference: the worst channel difference. */
static int decoded_worst(const uint8_t *jpeg, size_t len, unsigned s, bool colour)
{
	tjhandle d = tjInitDecompress();
	int w, h, ss, cs;
	assert_int_equal(tjDecompressHeader3(d, jpeg, (unsigned long)len, &w, &h, &ss, &cs), 0);
	assert_int_equal(w, W / (int)s);
	assert_int_equal(h, H / (int)s);
	static uint8_t rgb[W * H * 3];
	assert_int_equal(tjDecompress2(d, jpeg, (unsigned long)len, rgb, w, 0, h, TJPF_RGB, TJFLAG_ACCURATEDCT), 0);
	tjDestroy(d);
	int worst = 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			/* reference: average of the s x s block, converted to RGB */
			double Y = 0, U = 0, V = 0;
			for (unsigned dy = 0; dy < s; dy++)
				for (unsigned dx = 0; dx < s; dx++) {
					Y += ry[y * (int)s + (int)dy][x * (int)s + (int)dx];
					U += cu(x * (int)s + (int)dx, y * (int)s + (int)dy);
					V += cv(x * (int)s + (int)dx, y * (int)s + (int)dy);
				}
			Y /= s * s;
			U = colour ? U / (s * s) - 128 : 0;
			V = colour ? V / (s * s) - 128 : 0;
			double ref[3] = { Y + 1.402 * V, Y - 0.344136 * U - 0.714136 * V, Y + 1.772 * U };
			for (int c = 0; c < 3; c++) {
				double r = ref[c] < 0 ? 0 : ref[c] > 255 ? 255 : ref[c];
				int diff = abs((int)rgb[(y * w + x) * 3 + c] - (int)(r + 0.5));
				if (diff > worst)
					worst = diff;
			}
		}
	return worst;
}

static void check_decoded(const uint8_t *jpeg, size_t len, unsigned s, bool colour)
{
	int worst = decoded_worst(jpeg, len, s, colour);
	/* quality 100: only rounding and the DCT's small error remain */
	if (worst > 6) {
		print_error("worst channel difference %d\n", worst);
		fail();
	}
}

/* One encoder setting on one format, checked as test_formats says. */
static void format_case(enum drv_pixfmt fmt, enum drv_subsamp ss, unsigned scale)
{
	struct drv_encoder_config ec = { 100, ss, scale };
	struct drv_frame f;
	const uint8_t *jpeg;
	size_t len;
	struct drv_encoder *e = encode_built(&ec, fmt, &f, &jpeg, &len);
	print_message("%s subsampling %d scale 1/%u\n", drv_pixfmt_name(fmt), (int)ss, scale);
	check_decoded(jpeg, len, scale, fmt != DRV_FMT_GREY);
	/* the same buffers serve the next frame */
	const uint8_t *again;
	assert_int_equal(drv_encoder_encode(e, &f, &again, &len), 0);
	assert_ptr_equal(again, jpeg);
	drv_encoder_destroy(e);
}

/*
 * A camera in the limited range (luma 16..235, chroma 16..240) sends the
 * reference scene squeezed; marked limited, it decodes to the full-range
 * reference as closely as an unsqueezed frame does. Unmarked, the same
 * frame decodes visibly off (the check can fail).
 */
static void limited_case(enum drv_pixfmt fmt, enum drv_subsamp ss, unsigned scale)
{
	static uint8_t fy[H][W], fu[H][W], fv[H][W];
	memcpy(fy, ry, sizeof(fy));
	memcpy(fu, ru, sizeof(fu));
	memcpy(fv, rv, sizeof(fv));
	for (int y = 0; y < H; y++) /* the camera's picture */
		for (int x = 0; x < W; x++) {
			ry[y][x] = (uint8_t)(16 + (fy[y][x] * 219 + 127) / 255);
			ru[y][x] = (uint8_t)(128 + ((fu[y][x] - 128) * 224 + (fu[y][x] >= 128 ? 127 : -127)) / 255);
			rv[y][x] = (uint8_t)(128 + ((fv[y][x] - 128) * 224 + (fv[y][x] >= 128 ? 127 : -127)) / 255);
		}
	struct drv_frame f;
	build(fmt, &f);
	memcpy(ry, fy, sizeof(ry)); /* what it shows */
	memcpy(ru, fu, sizeof(ru));
	memcpy(rv, fv, sizeof(rv));
	struct drv_encoder_config ec = { 100, ss, scale };
	struct drv_encoder *e;
	assert_int_equal(drv_encoder_create(&ec, &e), 0);
	bool colour = fmt != DRV_FMT_GREY;
	const uint8_t *jpeg;
	size_t len;
	print_message("limited %s subsampling %d scale 1/%u\n", drv_pixfmt_name(fmt), (int)ss, scale);
	assert_int_equal(drv_encoder_encode(e, &f, &jpeg, &len), 0);
	int unmarked = decoded_worst(jpeg, len, scale, colour);
	f.limited = true;
	assert_int_equal(drv_encoder_encode(e, &f, &jpeg, &len), 0);
	check_decoded(jpeg, len, scale, colour);
	if (unmarked < 10) {
		print_error("unmarked, the squeezed frame is only %d off\n", unmarked);
		fail();
	}
	drv_encoder_destroy(e);
}

/* Every format, subsampling and downscale through one case function. */
static void every_case(void (*one)(enum drv_pixfmt, enum drv_subsamp, unsigned))
{
	make_reference();
	static const enum drv_pixfmt fmts[] = { DRV_FMT_YUYV, DRV_FMT_UYVY, DRV_FMT_NV12, DRV_FMT_YU12, DRV_FMT_GREY };
	static const enum drv_subsamp sss[] = { DRV_SUBSAMP_420, DRV_SUBSAMP_422, DRV_SUBSAMP_444 };
	static const unsigned scales[] = { 1, 2, 4 };
	for (size_t fi = 0; fi < AG_NELEM(fmts); fi++)
		for (size_t si = 0; si < AG_NELEM(sss); si++)
			for (size_t ki = 0; ki < AG_NELEM(scales); ki++)
				one(fmts[fi], sss[si], scales[ki]);
}

static void test_formats(void **state)
{
	(void)state;
	every_case(format_case);
}

static void test_limited_range(void **state)
{
	(void)state;
	every_case(limited_case);
}

/*
 * Packed 4:2:2 and NV12 at full size (the strip encoder where the build
 * has libjpeg, else planes and TurboJPEG) give byte for byte the JPEG that
 * tjCompressFromYUVPlanes() makes from planes built here pixel by pixel:
 * sizes that are and are not whole MCUs, padded rows, both DCTs (quality
 * 85 uses the fast one, 97 the accurate one).
 */
static void test_same_as_turbojpeg(void **state)
{
	(void)state;
	static const unsigned sizes[][2] = { { 64, 48 }, { 70, 38 }, { 30, 10 }, { 2, 2 }, { 1920, 1080 }, { 18, 34 } };
	static const enum drv_pixfmt fmts[] = { DRV_FMT_YUYV, DRV_FMT_UYVY, DRV_FMT_NV12 };
	static const unsigned quals[] = { 85, 97 };
	tjhandle c = tjInitCompress();
	assert_non_null(c);
	unsigned seed = 1;
	for (size_t si = 0; si < AG_NELEM(sizes); si++) {
		unsigned w = sizes[si][0], h = sizes[si][1], pad = si & 1 ? 0 : 12;
		size_t stride = (size_t)w * 2 + pad;
		uint8_t *src = malloc(stride * h + 16), *ref = malloc((size_t)w * h * 2);
		uint8_t *uv = malloc((size_t)(w + pad) * (h / 2));
		assert_non_null(src);
		/* a smooth picture with some noise: like a photo, and every byte matters */
		for (size_t i = 0; i < stride * h + 16; i++) {
			seed = seed * 1103515245u + 12345u;
			src[i] = (uint8_t)((i % stride) / 3 + (i / stride) + ((seed >> 16) & 15));
		}
		for (size_t fi = 0; fi < AG_NELEM(fmts); fi++)
			for (int is420 = 1; is420 >= 0; is420--) {
				enum drv_pixfmt fmt = fmts[fi];
				if (fmt == DRV_FMT_NV12 && !is420)
					continue;
				bool uyvy = fmt == DRV_FMT_UYVY;
				unsigned ch = is420 ? h / 2 : h;
				uint8_t *y = ref, *u = y + (size_t)w * h, *v = u + (size_t)(w / 2) * ch;
				struct drv_frame f = { .fmt = fmt, .width = w, .height = h };
				f.plane[0] = src;
				f.stride[0] = (unsigned)stride;
				for (unsigned r = 0; r < h; r++)
					for (unsigned x = 0; x < w; x++)
						y[(size_t)r * w + x] = fmt == DRV_FMT_NV12 ? src[r * stride + x] :
								       src[r * stride + 2 * x + (uyvy ? 1 : 0)];
				if (fmt == DRV_FMT_NV12) {
					/* the chroma plane: interleaved U V rows, taken from the noise */
					for (unsigned r = 0; r < ch; r++)
						for (unsigned x = 0; x < w / 2; x++) {
							uv[(size_t)r * (w + pad) + 2 * x] = src[r * stride + 4 * x + 1];
							uv[(size_t)r * (w + pad) + 2 * x + 1] = src[r * stride + 4 * x + 3];
							u[(size_t)r * (w / 2) + x] = src[r * stride + 4 * x + 1];
							v[(size_t)r * (w / 2) + x] = src[r * stride + 4 * x + 3];
						}
					f.plane[1] = uv;
					f.stride[1] = w + pad;
				} else {
					unsigned uo = uyvy ? 0 : 1;
					for (unsigned r = 0; r < ch; r++)
						for (unsigned x = 0; x < w / 2; x++) {
							const uint8_t *a = src + (is420 ? 2 * r : r) * stride + 4 * x;
							const uint8_t *b = is420 ? a + stride : a;
							u[(size_t)r * (w / 2) + x] = (uint8_t)((a[uo] + b[uo] + 1) >> 1);
							v[(size_t)r * (w / 2) + x] = (uint8_t)((a[uo + 2] + b[uo + 2] + 1) >> 1);
						}
				}
				for (size_t qi = 0; qi < AG_NELEM(quals); qi++) {
					const unsigned char *pl[3] = { y, u, v };
					int st[3] = { (int)w, (int)(w / 2), (int)(w / 2) };
					int ss = is420 ? TJSAMP_420 : TJSAMP_422;
					unsigned char *want = NULL;
					unsigned long wlen = 0;
					assert_int_equal(tjCompressFromYUVPlanes(c, pl, (int)w, st, (int)h, ss, &want, &wlen,
										 (int)quals[qi], 0), 0);
					struct drv_encoder_config ec = { quals[qi], is420 ? DRV_SUBSAMP_420 : DRV_SUBSAMP_422, 1 };
					struct drv_encoder *e;
					assert_int_equal(drv_encoder_create(&ec, &e), 0);
					const uint8_t *jpeg;
					size_t len;
					assert_int_equal(drv_encoder_encode(e, &f, &jpeg, &len), 0);
					if (len != wlen || memcmp(jpeg, want, len) != 0) {
						print_error("%s %ux%u 4:2:%d q%u: %zu bytes, TurboJPEG %lu\n", drv_pixfmt_name(fmt), w,
							    h, is420 ? 0 : 2, quals[qi], len, wlen);
						fail();
					}
					tjFree(want);
					drv_encoder_destroy(e);
				}
			}
		free(src);
		free(ref);
		free(uv);
	}
	tjDestroy(c);
}

static void test_mjpeg(void **state)
{
	(void)state;
	make_reference();
	struct drv_encoder_config ec;
	drv_encoder_config_defaults(&ec);
	struct drv_frame f;
	const uint8_t *jpeg;
	size_t len;
	struct drv_encoder *e = encode_built(&ec, DRV_FMT_YU12, &f, &jpeg, &len);
	uint8_t *copy = malloc(len + 8);
	memcpy(copy, jpeg, len);
	struct drv_frame m = { .fmt = DRV_FMT_MJPEG, .width = W, .height = H };
	m.plane[0] = copy;
	m.size = len;
	/* passed through byte for byte */
	const uint8_t *out;
	size_t olen;
	assert_int_equal(drv_encoder_encode(e, &m, &out, &olen), 0);
	assert_ptr_equal(out, copy);
	assert_int_equal(olen, len);
	/* padding after EOI, as some cameras send, is cut off */
	memset(copy + len, 0, 8);
	m.size = len + 8;
	assert_int_equal(drv_encoder_encode(e, &m, &out, &olen), 0);
	assert_int_equal(olen, len);
	/* truncated, no EOI, no SOI, garbage */
	m.size = len / 2;
	assert_int_equal(drv_encoder_encode(e, &m, &out, &olen), AG_ECORRUPT);
	m.size = len - 2;
	assert_int_equal(drv_encoder_encode(e, &m, &out, &olen), AG_ECORRUPT);
	copy[0] = 0;
	m.size = len;
	assert_int_equal(drv_encoder_encode(e, &m, &out, &olen), AG_ECORRUPT);
	memset(copy, 0x5A, len);
	copy[0] = 0xFF; copy[1] = 0xD8; copy[len - 2] = 0xFF; copy[len - 1] = 0xD9;
	assert_int_equal(drv_encoder_encode(e, &m, &out, &olen), AG_ECORRUPT);
	free(copy);
	/* re-encode smaller */
	assert_int_equal(drv_encoder_encode(e, &f, &jpeg, &len), 0);
	copy = malloc(len);
	memcpy(copy, jpeg, len);
	assert_int_equal(drv_encoder_reencode(e, copy, len, 50, 2, &out, &olen), 0);
	unsigned w, h;
	assert_int_equal(drv_jpeg_size(out, olen, &w, &h), 0);
	assert_int_equal(w, W / 2);
	assert_int_equal(h, H / 2);
	assert_true(olen < len);
	free(copy);
	drv_encoder_destroy(e);
}

/* MJPEG without Huffman tables (cheap UVC webcams) gets the standard ones. */
static void test_mjpeg_without_dht(void **state)
{
	(void)state;
	make_reference();
	struct drv_encoder_config ec;
	drv_encoder_config_defaults(&ec);
	struct drv_frame f;
	const uint8_t *jpeg;
	size_t len;
	struct drv_encoder *e = encode_built(&ec, DRV_FMT_YUYV, &f, &jpeg, &len);
	uint8_t *orig = malloc(len), *stripped = malloc(len);
	memcpy(orig, jpeg, len);
	/* copy without the DHT segments */
	size_t i = 2, n = 2, tables = 0;
	memcpy(stripped, orig, 2);
	while (orig[i] == 0xFF && orig[i + 1] != 0xDA) {
		size_t seg = (size_t)orig[i + 2] << 8 | orig[i + 3];
		if (orig[i + 1] == 0xC4)
			tables++;
		else {
			memcpy(stripped + n, orig + i, seg + 2);
			n += seg + 2;
		}
		i += seg + 2;
	}
	memcpy(stripped + n, orig + i, len - i);
	n += len - i;
	assert_true(tables > 0);
	assert_true(n < len);
	struct drv_frame m = { .fmt = DRV_FMT_MJPEG, .width = W, .height = H };
	m.plane[0] = stripped;
	m.size = n;
	const uint8_t *out;
	size_t olen;
	assert_int_equal(drv_encoder_encode(e, &m, &out, &olen), 0);
	/* TurboJPEG writes the standard tables just before the scan, as we do */
	assert_int_equal(olen, len);
	assert_memory_equal(out, orig, len);
	free(orig);
	free(stripped);
	drv_encoder_destroy(e);
}

static void test_testpattern(void **state)
{
	(void)state;
	struct drv_source_config sc;
	drv_source_config_defaults(&sc);
	sc.device = "testpattern";
	sc.width = 320;
	sc.height = 240;
	struct drv_source *src;
	assert_int_equal(drv_source_open(&sc, &src), 0);
	struct drv_frame a, b;
	assert_int_equal(drv_source_grab(src, &a, 100), 0);
	static uint8_t first[320 * 240];
	memcpy(first, a.plane[0], sizeof(first));
	assert_int_equal(drv_source_grab(src, &b, 100), 0);
	assert_int_equal(b.width, 320);
	assert_true(b.sequence == a.sequence + 1);
	assert_true(memcmp(first, b.plane[0], sizeof(first)) != 0); /* it moves */
	/* not flat: a JPEG of it is not tiny */
	struct drv_encoder_config ec;
	drv_encoder_config_defaults(&ec);
	struct drv_encoder *e;
	assert_int_equal(drv_encoder_create(&ec, &e), 0);
	const uint8_t *jpeg;
	size_t len;
	assert_int_equal(drv_encoder_encode(e, &b, &jpeg, &len), 0);
	assert_true(len > 5000);
	drv_encoder_destroy(e);
	drv_source_close(src);
	sc.width = 321;
	assert_int_equal(drv_source_open(&sc, &src), AG_EINVAL);
	sc.width = 320;
	sc.device = "video0";
	assert_int_equal(drv_source_open(&sc, &src), AG_EINVAL);
}

static void test_files_source(void **state)
{
	(void)state;
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/fc-files-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char path[128];
	/* a P5 grey image, a P6 colour image, a JPEG, junk and an unrelated file */
	snprintf(path, sizeof(path), "%s/a.pgm", dir);
	FILE *fp = fopen(path, "wb");
	fprintf(fp, "P5\n# comment\n4 2\n255\n");
	fwrite("\x10\x20\x30\x40\x50\x60\x70\x80", 1, 8, fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/b.ppm", dir);
	fp = fopen(path, "wb");
	fprintf(fp, "P6 2 2 255\n");
	fwrite("\xff\x00\x00\x00\xff\x00\x00\x00\xff\xff\xff\xff", 1, 12, fp);
	fclose(fp);
	make_reference();
	struct drv_encoder_config ec;
	drv_encoder_config_defaults(&ec);
	struct drv_frame f;
	const uint8_t *jpeg;
	size_t len;
	struct drv_encoder *e = encode_built(&ec, DRV_FMT_YU12, &f, &jpeg, &len);
	snprintf(path, sizeof(path), "%s/c.jpg", dir);
	assert_int_equal(ag_file_replace(path, jpeg, len, 0644), 0);
	snprintf(path, sizeof(path), "%s/d.jpg", dir);
	assert_int_equal(ag_file_replace(path, "not a jpeg", 10, 0644), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	assert_int_equal(ag_file_replace(path, "hello", 5, 0644), 0);

	char dev[80];
	snprintf(dev, sizeof(dev), "files:%s", dir);
	struct drv_source_config sc;
	drv_source_config_defaults(&sc);
	sc.device = dev;
	struct drv_source *src;
	ag_log_set_level(AG_LOG_ERR);
	assert_int_equal(drv_source_open(&sc, &src), 0);
	/* name order, d.jpg skipped, then around again */
	static const enum drv_pixfmt want[] = { DRV_FMT_GREY, DRV_FMT_RGB24, DRV_FMT_MJPEG, DRV_FMT_GREY };
	for (size_t i = 0; i < AG_NELEM(want); i++) {
		assert_int_equal(drv_source_grab(src, &f, 100), 0);
		assert_int_equal(f.fmt, want[i]);
		const uint8_t *out;
		size_t olen;
		assert_int_equal(drv_encoder_encode(e, &f, &out, &olen), 0);
		unsigned w, h;
		assert_int_equal(drv_jpeg_size(out, olen, &w, &h), 0);
		assert_int_equal(w, f.width);
	}
	assert_int_equal(f.width, 4);
	assert_int_equal(f.height, 2);
	assert_int_equal(f.plane[0][7], 0x80);
	drv_source_close(src);
	drv_encoder_destroy(e);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	sc.device = "files:/nonexistent-folder";
	assert_int_equal(drv_source_open(&sc, &src), AG_ENOENT);
}

static void test_parse(void **state)
{
	(void)state;
	enum drv_pixfmt f;
	assert_int_equal(drv_pixfmt_parse("nv12", &f), 0);
	assert_int_equal(f, DRV_FMT_NV12);
	assert_string_equal(drv_pixfmt_name(DRV_FMT_BGR24), "bgr24");
	assert_int_equal(drv_pixfmt_parse("NV12", &f), AG_EINVAL);
	/* camera.format / -f: names, or a V4L2 fourcc for the camera's own format */
	struct drv_source_config sc;
	drv_source_config_defaults(&sc);
	assert_int_equal(drv_source_config_format(&sc, "YVYU"), 0);
	assert_string_equal(sc.fourcc, "YVYU");
	assert_int_equal(sc.format, DRV_FMT_AUTO);
	assert_int_equal(drv_source_config_format(&sc, "Y16"), 0);
	assert_string_equal(sc.fourcc, "Y16 ");
	assert_int_equal(drv_source_config_format(&sc, "nv12"), 0);
	assert_string_equal(sc.fourcc, "");
	assert_int_equal(sc.format, DRV_FMT_NV12);
	assert_int_equal(drv_source_config_format(&sc, "yvyu"), AG_EINVAL);
	assert_int_equal(drv_source_config_format(&sc, "YVYUV"), AG_EINVAL);
	assert_int_equal(drv_source_config_format(&sc, "Y1"), AG_EINVAL);
	assert_int_equal(drv_source_config_format(&sc, "Y-16"), AG_EINVAL);
	assert_int_equal(sc.format, DRV_FMT_NV12);
	assert_string_equal(sc.fourcc, "");
	enum drv_subsamp s;
	assert_int_equal(drv_subsamp_parse("gray", &s), 0);
	assert_int_equal(s, DRV_SUBSAMP_GRAY);
	assert_int_equal(drv_subsamp_parse("411", &s), AG_EINVAL);
	struct drv_encoder_config ec = { 0, DRV_SUBSAMP_420, 1 };
	struct drv_encoder *e;
	assert_int_equal(drv_encoder_create(&ec, &e), AG_EINVAL);
	ec.quality = 80;
	ec.downscale = 3;
	assert_int_equal(drv_encoder_create(&ec, &e), AG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_limited_range),
		cmocka_unit_test(test_same_as_turbojpeg),
		cmocka_unit_test(test_mjpeg),
		cmocka_unit_test(test_mjpeg_without_dht),
		cmocka_unit_test(test_testpattern),
		cmocka_unit_test(test_files_source),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
