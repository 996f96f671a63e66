/*
 * Encode benchmark (not a test): N encodes of one YUYV frame (a raw file)
 * at quality 85, 4:2:0, in CPU seconds (CLOCK_PROCESS_CPUTIME_ID):
 *   1. fieldcam's encode path (drv_encoder_encode);
 *   2. tjCompressFromYUVPlanes() on planes split beforehand: the call
 *      tjbench times, here on the very same planes and the same clock.
 * fieldcam encodes N frames first, alone, for its peak RSS; then both do
 * N frames in 5 rounds, taking turns, and the fastest round of each
 * counts: other processes on the core only ever add time. The median
 * round is printed as well.
 * usage: bench_encode FRAME.yuyv WIDTH HEIGHT N
 * prints: fieldcam N frames S cpu_s_per_frame B jpeg_bytes R peak_rss_kb F frame_rss_kb M median
 *         turbojpeg N frames S cpu_s_per_frame B jpeg_bytes M median
 * (peak_rss_kb: measured before the TurboJPEG planes exist; frame_rss_kb:
 * the peak with only the frame loaded, before any encoding)
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

#define ROUNDS 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
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
	for (int i = 0; i < n; i++)
		if (drv_encoder_encode(e, &f, &jpeg, &jl) < 0)
			return 1;
	long rss = peak_rss_kb();

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
	int per = n / ROUNDS > 0 ? n / ROUNDS : 1;
	/* the same frame from a camera that says it is in the limited range
	 * (most YUV webcams): stretched to full range on the way */
	struct drv_frame fl = f;
	fl.limited = true;
	double fc[ROUNDS], tj[ROUNDS], fcl[ROUNDS];
	size_t jll = 0;
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = cpu_now();
		for (int i = 0; i < per; i++) {
			sz = cap;
			if (tjCompressFromYUVPlanes(c, planes, (int)w, strides, (int)h, TJSAMP_420, &out, &sz, 85,
						    TJFLAG_NOREALLOC) < 0)
				return 1;
		}
		tj[r] = (cpu_now() - t0) / per;
		t0 = cpu_now();
		for (int i = 0; i < per; i++)
			if (drv_encoder_encode(e, &f, &jpeg, &jl) < 0)
				return 1;
		fc[r] = (cpu_now() - t0) / per;
		t0 = cpu_now();
		for (int i = 0; i < per; i++)
			if (drv_encoder_encode(e, &fl, &jpeg, &jll) < 0)
				return 1;
		fcl[r] = (cpu_now() - t0) / per;
	}
	qsort(fc, ROUNDS, sizeof(double), cmp_double);
	qsort(tj, ROUNDS, sizeof(double), cmp_double);
	qsort(fcl, ROUNDS, sizeof(double), cmp_double);
	printf("fieldcam %d frames %.5f cpu_s_per_frame %zu jpeg_bytes %ld peak_rss_kb %ld frame_rss_kb %.5f median\n",
	       per * ROUNDS, fc[0], jl, rss, frame_rss, fc[ROUNDS / 2]);
	printf("fieldcam_limited %d frames %.5f cpu_s_per_frame %zu jpeg_bytes %.5f median\n", per * ROUNDS, fcl[0], jll,
	       fcl[ROUNDS / 2]);
	printf("turbojpeg %d frames %.5f cpu_s_per_frame %lu jpeg_bytes %.5f median\n", per * ROUNDS, tj[0], sz,
	       tj[ROUNDS / 2]);
	drv_encoder_destroy(e);
	tjFree(out);
	tjDestroy(c);
	free(pl);
	free(data);
	return 0;
}
