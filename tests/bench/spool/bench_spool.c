/*
 * Spool benchmark (not a test): on the file system of DIR,
 *  1. append 300 KiB records for SECONDS with sync=batch (group commit every
 *     second) next to a plain write()+fdatasync() loop with the same record
 *     size and the same one-second sync cadence, and print the ratio;
 *  2. device bytes written per payload byte (/proc/self/io write_bytes);
 *  3. recovery time of a 1 GiB spool after a clean stop and after SIGKILL.
 * usage: bench_spool [SECONDS] [DIR]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag.h"
#include "stg.h"

#define REC (300u * 1024)

static uint64_t write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	uint64_t v = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %" SCNu64, &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void rmrf(const char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
}

static struct stg_spool *open_spool(const char *dir, uint64_t max)
{
	struct stg_spool_config cfg;
	stg_spool_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.max_bytes = max;
	cfg.segment_bytes = 8 << 20;
	cfg.sync = STG_SYNC_BATCH;
	struct stg_spool *sp;
	if (stg_spool_open(&cfg, &sp) < 0) {
		fprintf(stderr, "cannot open spool in %s\n", dir);
		exit(1);
	}
	return sp;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	const char *base = argc > 2 ? argv[2] : ".";
	char dir[512], plain[600];
	snprintf(dir, sizeof(dir), "%s/bench-spool-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	snprintf(plain, sizeof(plain), "%s/plain.dat", dir);
	uint8_t *buf = malloc(REC);
	for (size_t i = 0; i < REC; i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 9));
	static const char meta[] = "{\"device_id\":\"bench\",\"boot\":1,\"frame\":1}";

	/*
	 * 1. three rounds of each, alternating, each in a fresh process (so
	 * neither inherits the other's page cache state or heap); medians.
	 */
	char sdir[600];
	snprintf(sdir, sizeof(sdir), "%s/spool", dir);
	double r_plain[3], r_spool[3], wb_ratio = 0;
	for (int r = 0; r < 6; r++) {
		int p[2];
		if (pipe(p) < 0)
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			double res[2] = { 0, 0 };
			uint64_t n = 0, t0 = ag_now_us(), last_sync = t0;
			if (r % 2 == 0) {
				int fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC, 0644);
				while (ag_now_us() - t0 < (uint64_t)(secs / 3 * 1e6)) {
					if (ag_write_all(fd, buf, REC) < 0)
						_exit(1);
					n++;
					if (ag_now_us() - last_sync >= 1000000) {
						fdatasync(fd);
						last_sync = ag_now_us();
					}
				}
				fdatasync(fd);
				close(fd);
				unlink(plain);
			} else {
				struct stg_spool *sp = open_spool(sdir, 64ull << 30);
				uint64_t wb0 = write_bytes();
				while (ag_now_us() - t0 < (uint64_t)(secs / 3 * 1e6)) {
					if (stg_spool_append(sp, buf, REC, meta, sizeof(meta) - 1, ag_wall_ms(), NULL) < 0)
						_exit(1);
					n++;
					if (ag_now_us() - last_sync >= 1000000) {
						stg_spool_sync(sp, NULL);
						last_sync = ag_now_us();
					}
				}
				stg_spool_sync(sp, NULL);
				stg_spool_close(sp);
				uint64_t wb = write_bytes() - wb0;
				res[1] = (double)wb / ((double)n * (REC + sizeof(meta) - 1));
				rmrf(sdir);
			}
			res[0] = (double)n / ((double)(ag_now_us() - t0) / 1e6);
			if (write(p[1], res, sizeof(res)) != (ssize_t)sizeof(res))
				_exit(1);
			_exit(0);
		}
		close(p[1]);
		double res[2] = { 0, 0 };
		if (read(p[0], res, sizeof(res)) != (ssize_t)sizeof(res))
			return 1;
		close(p[0]);
		waitpid(pid, NULL, 0);
		if (r % 2 == 0) {
			r_plain[r / 2] = res[0];
		} else {
			r_spool[r / 2] = res[0];
			wb_ratio = res[1];
		}
	}
	qsort(r_plain, 3, sizeof(double), cmp_double);
	qsort(r_spool, 3, sizeof(double), cmp_double);
	printf("append 300 KiB records, sync every 1 s, 3 rounds of %.1f s each, medians:\n", secs / 3);
	printf("  plain write+fdatasync: %8.1f records/s %8.1f MB/s\n", r_plain[1], r_plain[1] * REC / 1e6);
	printf("  fieldcam spool:        %8.1f records/s %8.1f MB/s\n", r_spool[1], r_spool[1] * REC / 1e6);
	printf("  ratio spool/plain:     %8.2fx\n", r_spool[1] / r_plain[1]);
	if (wb_ratio > 0)
		printf("  device bytes written per payload byte: %.3f\n", wb_ratio);
	else
		printf("  device bytes written per payload byte: not measurable (write_bytes is 0 here)\n");
	struct stg_spool *sp;
	/* 3. a 1 GiB spool: recovery after a clean stop, then after a kill */
	sp = open_spool(sdir, 2ull << 30);
	uint64_t target = 1ull << 30, written = 0;
	while (written < target) {
		if (stg_spool_append(sp, buf, REC, meta, sizeof(meta) - 1, ag_wall_ms(), NULL) < 0)
			return 1;
		written += REC;
	}
	stg_spool_close(sp);
	uint64_t t0 = ag_now_us();
	sp = open_spool(sdir, 2ull << 30);
	double t_clean = (double)(ag_now_us() - t0) / 1e6;
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	stg_spool_close(sp);
	pid_t pid = fork();
	if (pid == 0) {
		struct stg_spool *c = open_spool(sdir, 2ull << 30);
		for (int i = 0;; i++) /* kill it mid-segment */
			stg_spool_append(c, buf, REC, meta, sizeof(meta) - 1, ag_wall_ms(), NULL);
		stg_spool_close(c);
		_exit(0);
	}
	ag_sleep_ms(600);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = ag_now_us();
	sp = open_spool(sdir, 4ull << 30);
	double t_kill = (double)(ag_now_us() - t0) / 1e6;
	struct stg_spool_stats st2;
	stg_spool_stats(sp, &st2);
	stg_spool_close(sp);
	printf("recovery of a %.2f GiB spool (%" PRIu64 " records, %" PRIu64 " segments):\n",
	       (double)st.disk_bytes / (1 << 30), st.pending_records, st.segments);
	printf("  after a clean stop: %.3f s\n", t_clean);
	printf("  after SIGKILL:      %.3f s (%" PRIu64 " records, %" PRIu64 " torn bytes cut)\n", t_kill,
	       st2.pending_records, st2.torn_bytes);
	rmrf(dir);
	free(buf);
	return 0;
}
