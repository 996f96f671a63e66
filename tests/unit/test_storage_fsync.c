/*
 * A failed fdatasync: on Linux the dirty pages may be gone, so the spool
 * must not retry the sync as if it had worked, but write the unsynced
 * records again to a new segment. fdatasync is interposed here (this
 * executable's definition wins over the C library's) to fail on demand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "ag.h"
#include "stg.h"

static int fail_next; /* fail this many calls */
static int calls_failed;

int fdatasync(int fd)
{
	if (fail_next > 0) {
		fail_next--;
		calls_failed++;
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

static char dir[64];

static struct stg_spool *open_spool(enum stg_sync sync)
{
	struct stg_spool_config cfg;
	stg_spool_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.max_bytes = 8 << 20;
	cfg.segment_bytes = 64 << 10;
	cfg.sync = sync;
	struct stg_spool *sp;
	assert_int_equal(stg_spool_open(&cfg, &sp), 0);
	return sp;
}

static size_t payload_for(uint64_t seq, uint8_t *buf)
{
	size_t len = 5000 + (seq * 7919) % 20000;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 13 + i);
	return len;
}

static void append_n(struct stg_spool *sp, int n)
{
	static uint8_t buf[32768];
	for (int i = 0; i < n; i++) {
		struct stg_spool_stats st;
		stg_spool_stats(sp, &st);
		size_t len = payload_for(st.next_seq, buf);
		assert_int_equal(stg_spool_append(sp, buf, len, "{}", 2, st.next_seq, NULL), 0);
	}
}

static uint64_t verify(struct stg_spool *sp)
{
	static uint8_t buf[32768];
	struct stg_record rec = { 0 };
	uint64_t n = 0, after = 0;
	while (stg_spool_peek(sp, after, &rec) == 0) {
		size_t len = payload_for(rec.seq, buf);
		assert_int_equal(rec.len, len);
		assert_memory_equal(rec.payload, buf, len);
		assert_true(rec.seq == after + 1); /* no gap */
		after = rec.seq;
		n++;
	}
	stg_record_release(&rec);
	return n;
}

static void test_batch_sync_fails(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(STG_SYNC_BATCH);
	append_n(sp, 10);
	assert_int_equal(stg_spool_sync(sp, NULL), 0);
	/* 12 more, over several segments, then the group commit fails once */
	append_n(sp, 12);
	fail_next = 1;
	uint64_t durable = 0;
	assert_int_equal(stg_spool_sync(sp, &durable), 0); /* rewritten and synced */
	assert_int_equal(calls_failed, 1);
	assert_true(durable == 22);
	assert_true(verify(sp) == 22);
	append_n(sp, 3);
	stg_spool_close(sp);
	sp = open_spool(STG_SYNC_BATCH);
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_true(st.corrupt == 0);
	assert_true(verify(sp) == 25);
	stg_spool_close(sp);
}

static void test_always_sync_fails_twice(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(STG_SYNC_ALWAYS);
	append_n(sp, 4);
	/* the sync and the rewrite's sync both fail: the append reports it */
	fail_next = 2;
	static uint8_t buf[32768];
	size_t len = payload_for(5, buf);
	assert_int_equal(stg_spool_append(sp, buf, len, "{}", 2, 5, NULL), AG_EIO);
	/* the spool goes on */
	fail_next = 0;
	uint64_t seq = 0;
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	len = payload_for(st.next_seq, buf);
	assert_int_equal(stg_spool_append(sp, buf, len, "{}", 2, st.next_seq, &seq), 0);
	stg_spool_close(sp);
	sp = open_spool(STG_SYNC_ALWAYS);
	stg_spool_stats(sp, &st);
	assert_true(st.pending_records >= 5); /* the four before, and the last */
	stg_spool_close(sp);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fc-fsync-XXXXXX");
	fail_next = calls_failed = 0;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	ag_log_set_level(getenv("FC_DEBUG") ? AG_LOG_DEBUG : AG_LOG_ERR - 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_sync_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_always_sync_fails_twice, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
