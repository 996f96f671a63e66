/*
 * Encode benchmark (not a test): N encodes of one 1920x1080 YUYV frame
 * (a raw file) through fieldcam's encode path at quality 85, 4:2:0.
 * Prints CPU seconds per frame and the process's peak RSS.
 * usage: bench_encode FRAME.yuyv WIDTH HEIGHT N
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "ag.h"
#include "drv.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	if (ag_file_read(argv[1], 64u << 20, &data, &len) < 0 || len < (size_t)w * h * 2) {
		fprintf(stderr, "%s: cannot read a %ux%u YUYV frame\n", argv[1], w, h);
		return 1;
	}
	struct drv_encoder_config ec = { 85, DRV_SUBSAMP_420, 1 };
	struct drv_encoder *e;
	if (drv_encoder_create(&ec, &e) < 0)
		return 1;
	struct drv_frame f = { .fmt = DRV_FMT_YUYV, .width = w, .height = h };
	f.plane[0] = (const uint8_t *)data;
	f.stride[0] = w * 2;
	const uint8_t *jpeg;
	size_t jl = 0;
	drv_encoder_encode(e, &f, &jpeg, &jl); /* warm up */
	double t0 = cpu_now();
	for (int i = 0; i < n; i++)
		if (drv_encoder_encode(e, &f, &jpeg, &jl) < 0)
			return 1;
	double t = cpu_now() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("fieldcam %d frames %.5f cpu_s_per_frame %zu jpeg_bytes %ld peak_rss_kb\n", n, t / n, jl, ru.ru_maxrss);
	drv_encoder_destroy(e);
	free(data);
	return 0;
}
