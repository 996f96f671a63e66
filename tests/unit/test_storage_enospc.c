/*
 * The spool on a small, really full file system: a 2 MiB tmpfs mounted in
 * a private mount namespace (so it goes away with the test). Needs root;
 * skipped (exit 77) where mounting is not allowed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ag.h"
#include "stg.h"

static char dir[64];

static int fresh_fs(void **state)
{
	(void)state;
	umount(dir);
	return mount("tmpfs", dir, "tmpfs", 0, "size=2m") == 0 ? 0 : -1;
}

static size_t payload_for(uint64_t seq, uint8_t *buf)
{
	size_t len = 15000 + (seq * 7919) % 10000;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 31 + i * 7);
	return len;
}

static struct stg_spool *open_spool(enum stg_on_full full)
{
	struct stg_spool_config cfg;
	stg_spool_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.max_bytes = 64 << 20; /* far more than the file system holds */
	cfg.segment_bytes = 256 << 10;
	cfg.sync = STG_SYNC_BATCH;
	cfg.on_full = full;
	struct stg_spool *sp;
	assert_int_equal(stg_spool_open(&cfg, &sp), 0);
	return sp;
}

static int append(struct stg_spool *sp, uint64_t *seq)
{
	static uint8_t buf[32768];
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	size_t len = payload_for(st.next_seq, buf);
	return stg_spool_append(sp, buf, len, NULL, 0, st.next_seq, seq);
}

/* Every pending record is intact; returns how many. */
static uint64_t verify(struct stg_spool *sp)
{
	static uint8_t buf[32768];
	struct stg_record rec = { 0 };
	uint64_t n = 0, after = 0;
	while (stg_spool_peek(sp, after, &rec) == 0) {
		size_t len = payload_for(rec.seq, buf);
		assert_int_equal(rec.len, len);
		assert_memory_equal(rec.payload, buf, len);
		after = rec.seq;
		n++;
	}
	stg_record_release(&rec);
	return n;
}

/* drop_oldest: a full file system drops the oldest segment and goes on. */
static void test_drop_oldest_on_full_fs(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(STG_FULL_DROP_OLDEST);
	for (int i = 0; i < 400; i++) {
		uint64_t seq;
		assert_int_equal(append(sp, &seq), 0);
		if (i % 10 == 0)
			assert_int_equal(stg_spool_sync(sp, NULL), 0);
	}
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_true(st.dropped > 0);
	assert_true(st.disk_bytes <= 2u << 20);
	assert_true(st.pending_records + st.dropped == 400);
	assert_true(verify(sp) == st.pending_records);
	stg_spool_close(sp);
	/* and it all survives a reopen */
	sp = open_spool(STG_FULL_DROP_OLDEST);
	stg_spool_stats(sp, &st);
	assert_true(st.corrupt == 0);
	assert_true(verify(sp) == st.pending_records);
	stg_spool_close(sp);
}

/* pause_capture: appends fail cleanly, nothing stored is harmed, and
 * delivering records makes room again. */
static void test_pause_on_full_fs(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(STG_FULL_PAUSE_CAPTURE);
	int rc = 0, n = 0;
	uint64_t seq;
	while (n < 400 && (rc = append(sp, &seq)) == 0)
		n++;
	assert_true(rc == AG_ENOSPC || rc == AG_EFULL);
	assert_true(n > 10);
	assert_true(verify(sp) == (uint64_t)n);
	/* deliver half: the sealed segments go, room comes back */
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_int_equal(stg_spool_ack(sp, st.cursor + (uint64_t)n / 2), 0);
	assert_int_equal(append(sp, &seq), 0);
	stg_spool_close(sp);
}

/* Another program fills the disk; the spool waits and carries on when
 * space returns. */
static void test_space_returns(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(STG_FULL_DROP_OLDEST);
	char filler[128];
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	int fd = open(filler, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	static uint8_t junk[65536];
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	close(fd);
	uint64_t seq;
	int rc = 0;
	for (int i = 0; i < 5 && rc == 0; i++)
		rc = append(sp, &seq);
	assert_int_equal(rc, AG_ENOSPC);
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(append(sp, &seq), 0);
	assert_int_equal(stg_spool_sync(sp, NULL), 0);
	assert_true(verify(sp) >= 1);
	stg_spool_close(sp);
}

int main(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("skipped: needs root to mount a small tmpfs (%s)\n", strerror(errno));
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/fc-enospc-XXXXXX");
	if (!mkdtemp(dir) || mount("tmpfs", dir, "tmpfs", 0, "size=2m") < 0) {
		printf("skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
		return 77;
	}
	ag_log_set_level(getenv("FC_DEBUG") ? AG_LOG_DEBUG : AG_LOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_drop_oldest_on_full_fs, fresh_fs),
		cmocka_unit_test_setup(test_pause_on_full_fs, fresh_fs),
		cmocka_unit_test_setup(test_space_returns, fresh_fs),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	umount(dir);
	rmdir(dir);
	return rc;
}
