/*
 * Encode benchmark (not a test): N encodes of one YUYV frame (a raw file)
 * at quality 85, 4:2:0, in CPU seconds (CLOCK_PROCESS_CPUTIME_ID):
 *   1. fieldcam's encode path (drv_encoder_encode), then the peak RSS;
 *   2. tjCompressFromYUVPlanes() on planes split beforehand: the call
 *      tjbench times, here on the very same planes and the same clock.
 * usage: bench_encode FRAME.yuyv WIDTH HEIGHT N
 * prints: fieldcam N frames S cpu_s_per_frame B jpeg_bytes R peak_rss_kb F frame_rss_kb
 *         turbojpeg N frames S cpu_s_per_frame B jpeg_bytes
 * (frame_rss_kb: the peak RSS with the frame loaded, before any encoding)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <turbojpeg.h>

#include "ag.h"
#include "drv.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench_encode FRAME.yuyv WIDTH HEIGHT N\n");
		return 2;
	}
	unsigned w = (unsigned)atoi(argv[2]), h = (unsigned)atoi(argv[3]);
	int n = atoi(argv[4]);
	char *data;
	size_t len;
	if (w < 2 || h < 2 || (w | h) & 1 || n < 1 || ag_file_read(argv[1], 64u << 20, &data, &len) < 0 ||
	    len < (size_t)w * h * 2) {
		fprintf(stderr, "%s: cannot read a %ux%u YUYV frame\n", argv[1], w, h);
		return 1;
	}
	long frame_rss = peak_rss_kb();
	struct drv_encoder_config ec = { 85, DRV_SUBSAMP_420, 1 };
	struct drv_encoder *e;
	if (drv_encoder_create(&ec, &e) < 0)
		return 1;
	struct drv_frame f = { .fmt = DRV_FMT_YUYV, .width = w, .height = h };
	f.plane[0] = (const uint8_t *)data;
	f.stride[0] = w * 2;
	const uint8_t *jpeg;
	size_t jl = 0;
	if (drv_encoder_encode(e, &f, &jpeg, &jl) < 0) /* warm up */
		return 1;
	double t0 = cpu_now();
	for (int i = 0; i < n; i++)
		if (drv_encoder_encode(e, &f, &jpeg, &jl) < 0)
			return 1;
	double t = cpu_now() - t0;
	printf("fieldcam %d frames %.5f cpu_s_per_frame %zu jpeg_bytes %ld peak_rss_kb %ld frame_rss_kb\n", n, t / n,
	       jl, peak_rss_kb(), frame_rss);
	drv_encoder_destroy(e);

	/* TurboJPEG alone, from planes made here (4:2:0, chroma of row pairs averaged) */
	uint8_t *pl = malloc((size_t)w * h * 3 / 2);
	if (!pl)
		return 1;
	uint8_t *y = pl, *u = y + (size_t)w * h, *v = u + (size_t)(w / 2) * (h / 2);
	const uint8_t *src = (const uint8_t *)data;
	for (unsigned r = 0; r < h; r++)
		for (unsigned x = 0; x < w; x++)
			y[(size_t)r * w + x] = src[(size_t)r * w * 2 + 2 * x];
	for (unsigned r = 0; r < h / 2; r++)
		for (unsigned x = 0; x < w / 2; x++) {
			const uint8_t *a = src + (size_t)2 * r * w * 2 + 4 * x, *b = a + (size_t)w * 2;
			u[(size_t)r * (w / 2) + x] = (uint8_t)((a[1] + b[1] + 1) >> 1);
			v[(size_t)r * (w / 2) + x] = (uint8_t)((a[3] + b[3] + 1) >> 1);
		}
	tjhandle c = tjInitCompress();
	unsigned long cap = tjBufSize((int)w, (int)h, TJSAMP_420), sz = cap;
	unsigned char *out = tjAlloc((int)cap);
	const unsigned char *planes[3] = { y, u, v };
	int strides[3] = { (int)w, (int)(w / 2), (int)(w / 2) };
	if (!c || !out || tjCompressFromYUVPlanes(c, planes, (int)w, strides, (int)h, TJSAMP_420, &out, &sz, 85,
						  TJFLAG_NOREALLOC) < 0)
		return 1;
	t0 = cpu_now();
	for (int i = 0; i < n; i++) {
		sz = cap;
		if (tjCompressFromYUVPlanes(c, planes, (int)w, strides, (int)h, TJSAMP_420, &out, &sz, 85,
					    TJFLAG_NOREALLOC) < 0)
			return 1;
	}
	t = cpu_now() - t0;
	printf("turbojpeg %d frames %.5f cpu_s_per_frame %lu jpeg_bytes\n", n, t / n, sz);
	tjFree(out);
	tjDestroy(c);
	free(pl);
	free(data);
	return 0;
}
