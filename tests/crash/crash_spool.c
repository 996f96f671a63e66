/*
 * Crash test of the spool: a child appends numbered records with
 * sync=always and reports each durable sequence number (and each durable
 * acknowledgement) on a pipe; the parent SIGKILLs it at a random moment,
 * then reopens the spool and checks that every reported record that is not
 * yet delivered is present and intact, that no reported acknowledgement was
 * lost, and that nothing corrupt is returned.
 *
 * usage: crash_spool KILLS [SEED]   (prints one summary line)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ag.h"
#include "stg.h"

static char dir[128];

static size_t payload_for(uint64_t seq, uint8_t *buf, size_t cap)
{
	size_t len = 1000 + (seq * 7919) % 20000;
	if (len > cap)
		len = cap;
	uint32_t x = (uint32_t)seq * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	return len;
}

static void config(struct stg_spool_config *cfg, bool readonly)
{
	stg_spool_config_defaults(cfg);
	cfg->dir = dir;
	cfg->max_bytes = 16 << 20;
	cfg->segment_bytes = 64 << 10; /* frequent segment rolls */
	cfg->sync = STG_SYNC_ALWAYS;
	cfg->readonly = readonly;
}

static void report(int fd, char kind, uint64_t seq)
{
	char m[9];
	m[0] = kind;
	memcpy(m + 1, &seq, 8);
	if (ag_write_all(fd, m, sizeof(m)) < 0)
		_exit(3);
}

static void child(int wfd)
{
	struct stg_spool_config cfg;
	config(&cfg, false);
	struct stg_spool *sp;
	if (stg_spool_open(&cfg, &sp) < 0)
		_exit(2);
	static uint8_t buf[32768];
	for (int i = 0;; i++) {
		struct stg_spool_stats st;
		stg_spool_stats(sp, &st);
		size_t len = payload_for(st.next_seq, buf, sizeof(buf));
		uint64_t seq;
		if (stg_spool_append(sp, buf, len, "{}", 2, st.next_seq, &seq) < 0)
			_exit(4);
		report(wfd, 'D', seq);
		/* deliver now and then: cursor writes and segment deletions */
		if (i % 7 == 6 && st.pending_records > 20) {
			uint64_t upto = st.cursor + 15;
			if (stg_spool_ack(sp, upto) == 0)
				report(wfd, 'A', upto);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: crash_spool KILLS [SEED]\n");
		return 2;
	}
	long kills = strtol(argv[1], NULL, 10);
	unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : (unsigned)time(NULL);
	srand(seed);
	snprintf(dir, sizeof(dir), "/tmp/fc-crash-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	ag_log_set_level(AG_LOG_ERR);
	/* durable[] holds every reported sequence number; acked the highest
	 * reported acknowledgement */
	size_t cap = 1 << 16, n = 0;
	uint64_t *durable = malloc(cap * sizeof(*durable));
	uint64_t acked = 0, checked = 0, torn_total = 0;
	static uint8_t buf[32768];
	int failures = 0;
	for (long k = 0; k < kills && failures == 0; k++) {
		int p[2];
		if (pipe(p) < 0)
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			child(p[1]);
		}
		close(p[1]);
		/* kill after a random 0..25 ms: during append, sync, roll or delete */
		uint64_t deadline = ag_now_us() + (uint64_t)(rand() % 25000);
		char m[9];
		size_t have = 0;
		uint64_t now_us = ag_now_us();
		if (deadline > now_us)
			ag_sleep_ms((deadline - now_us) / 1000);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st)) {
			fprintf(stderr, "child exited with %d before the kill\n", WEXITSTATUS(st));
			failures++;
			break;
		}
		/* everything reported before the kill is in the pipe */
		for (;;) {
			ssize_t r = read(p[0], m + have, sizeof(m) - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			if (have < sizeof(m))
				continue;
			have = 0;
			uint64_t v;
			memcpy(&v, m + 1, 8);
			if (m[0] == 'A') {
				if (v > acked)
					acked = v;
			} else {
				if (n == cap) {
					cap *= 2;
					durable = realloc(durable, cap * sizeof(*durable));
				}
				durable[n++] = v;
			}
		}
		close(p[0]);

		/* recover: read-only most times, a real (writable) recovery every 5th */
		struct stg_spool_config cfg;
		config(&cfg, k % 5 != 4);
		struct stg_spool *sp;
		if (stg_spool_open(&cfg, &sp) < 0) {
			fprintf(stderr, "kill %ld: recovery failed\n", k);
			failures++;
			break;
		}
		struct stg_spool_stats s;
		stg_spool_stats(sp, &s);
		torn_total += s.torn_bytes;
		if (s.corrupt) {
			fprintf(stderr, "kill %ld: %" PRIu64 " corrupt records after a crash\n", k, s.corrupt);
			failures++;
		}
		if (s.cursor < acked + 1) {
			fprintf(stderr, "kill %ld: acknowledgement lost: cursor %" PRIu64 ", reported %" PRIu64 "\n",
				k, s.cursor, acked);
			failures++;
		}
		/* walk the pending records; each must be intact */
		struct stg_record rec = { 0 };
		uint64_t after = 0, next_expected = s.cursor;
		size_t di = 0;
		while (di < n && durable[di] < s.cursor)
			di++;
		while (stg_spool_peek(sp, after, &rec) == 0) {
			size_t len = payload_for(rec.seq, buf, sizeof(buf));
			if (rec.len != len || memcmp(rec.payload, buf, len) != 0 || rec.captured_ms != rec.seq) {
				fprintf(stderr, "kill %ld: record %" PRIu64 " has wrong content\n", k, rec.seq);
				failures++;
			}
			if (rec.seq != next_expected && rec.seq > next_expected) {
				/* a gap is allowed only past the last reported record */
				if (di < n && durable[di] < rec.seq) {
					fprintf(stderr, "kill %ld: durable record %" PRIu64 " missing\n", k, durable[di]);
					failures++;
				}
			}
			while (di < n && durable[di] <= rec.seq)
				di++;
			next_expected = rec.seq + 1;
			after = rec.seq;
			checked++;
		}
		if (di < n) {
			fprintf(stderr, "kill %ld: durable record %" PRIu64 " missing (last on disk %" PRIu64 ")\n", k,
				durable[di], after);
			failures++;
		}
		stg_record_release(&rec);
		stg_spool_close(sp);
	}
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("crash_spool: seed %u: %ld kills, %zu durable records reported, %" PRIu64
	       " records checked after recovery, %" PRIu64 " torn bytes cut, %d failures\n",
	       seed, kills, n, checked, torn_total, failures);
	free(durable);
	return failures ? 1 : 0;
}
