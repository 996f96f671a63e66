/* The spool, results log and state files, on a real file system. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ag.h"
#include "stg.h"

static char dir[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fc-spool-XXXXXX");
	ag_log_set_level(AG_LOG_ERR); /* expected warnings stay quiet */
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Deterministic payload for seq: length and bytes derive from it. */
static size_t payload_for(uint64_t seq, uint8_t *buf, size_t cap)
{
	size_t len = 100 + (seq * 7919) % 1500;
	if (len > cap)
		len = cap;
	uint32_t x = (uint32_t)seq * 2654435761u;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	return len;
}

static struct stg_spool *open_spool(uint64_t max, uint64_t seg, enum stg_sync sync, enum stg_on_full full)
{
	struct stg_spool_config cfg;
	stg_spool_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.max_bytes = max;
	cfg.segment_bytes = seg;
	cfg.sync = sync;
	cfg.on_full = full;
	struct stg_spool *sp = NULL;
	int rc = stg_spool_open(&cfg, &sp);
	assert_int_equal(rc, 0);
	return sp;
}

static uint64_t append_n(struct stg_spool *sp, int n)
{
	uint8_t buf[2000];
	uint64_t seq = 0;
	for (int i = 0; i < n; i++) {
		/* payload derived from the seq it will get */
		struct stg_spool_stats st;
		stg_spool_stats(sp, &st);
		size_t len = payload_for(st.next_seq, buf, sizeof(buf));
		char meta[64];
		int ml = snprintf(meta, sizeof(meta), "{\"seq\":%" PRIu64 "}", st.next_seq);
		assert_int_equal(stg_spool_append(sp, buf, len, meta, (size_t)ml, 1700000000000ull + st.next_seq, &seq), 0);
		assert_true(seq == st.next_seq);
	}
	return seq;
}

/* Peek and check every pending record; returns how many, acks them if ack. */
static uint64_t drain(struct stg_spool *sp, bool ack, uint64_t *first, uint64_t *last)
{
	struct stg_record rec = { 0 };
	uint8_t buf[2000];
	uint64_t n = 0, after = 0;
	while (stg_spool_peek(sp, after, &rec) == 0) {
		size_t len = payload_for(rec.seq, buf, sizeof(buf));
		assert_int_equal(rec.len, len);
		assert_memory_equal(rec.payload, buf, len);
		char meta[64];
		int ml = snprintf(meta, sizeof(meta), "{\"seq\":%" PRIu64 "}", rec.seq);
		assert_int_equal(rec.meta_len, (size_t)ml);
		assert_memory_equal(rec.meta, meta, (size_t)ml);
		assert_true(rec.captured_ms == 1700000000000ull + rec.seq);
		if (!n && first)
			*first = rec.seq;
		if (last)
			*last = rec.seq;
		n++;
		if (ack)
			assert_int_equal(stg_spool_ack(sp, rec.seq), 0);
		else
			after = rec.seq;
	}
	stg_record_release(&rec);
	return n;
}

static void test_roundtrip_and_restart(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(1 << 20, 64 << 10, STG_SYNC_ALWAYS, STG_FULL_DROP_OLDEST);
	assert_true(append_n(sp, 100) == 100);
	uint64_t first = 0, last = 0;
	assert_true(drain(sp, false, &first, &last) == 100);
	assert_true(first == 1 && last == 100);
	stg_spool_close(sp);

	/* everything survives a restart, and sequence numbers go on */
	sp = open_spool(1 << 20, 64 << 10, STG_SYNC_ALWAYS, STG_FULL_DROP_OLDEST);
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_true(st.pending_records == 100);
	assert_true(st.next_seq == 101);
	assert_true(st.corrupt == 0 && st.torn_bytes == 0);
	assert_true(st.segments > 1); /* rolled at 64 KiB */
	/* ack half */
	assert_int_equal(stg_spool_ack(sp, 50), 0);
	stg_spool_close(sp);
	sp = open_spool(1 << 20, 64 << 10, STG_SYNC_ALWAYS, STG_FULL_DROP_OLDEST);
	assert_true(drain(sp, false, &first, &last) == 50);
	assert_true(first == 51 && last == 100);
	assert_true(append_n(sp, 1) == 101);
	assert_true(drain(sp, true, NULL, NULL) == 51);
	stg_spool_stats(sp, &st);
	assert_true(st.pending_records == 0);
	stg_spool_close(sp);
	/* delivered segments are gone; the cursor keeps the sequence going */
	sp = open_spool(1 << 20, 64 << 10, STG_SYNC_ALWAYS, STG_FULL_DROP_OLDEST);
	stg_spool_stats(sp, &st);
	assert_true(st.pending_records == 0);
	assert_true(st.segments <= 1);
	assert_true(append_n(sp, 1) == 102);
	stg_spool_close(sp);
}

static void test_group_commit(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(1 << 20, 64 << 10, STG_SYNC_BATCH, STG_FULL_DROP_OLDEST);
	append_n(sp, 10);
	assert_true(stg_spool_durable_seq(sp) == 0);
	uint64_t d = 0;
	assert_int_equal(stg_spool_sync(sp, &d), 0);
	assert_true(d == 10);
	append_n(sp, 5);
	assert_true(stg_spool_durable_seq(sp) == 10);
	stg_spool_close(sp); /* close syncs */
	sp = open_spool(1 << 20, 64 << 10, STG_SYNC_BATCH, STG_FULL_DROP_OLDEST);
	assert_true(drain(sp, false, NULL, NULL) == 15);
	stg_spool_close(sp);
}

static void test_drop_oldest(void **state)
{
	(void)state;
	/* 256 KiB spool, 64 KiB segments, ~900-byte records */
	struct stg_spool *sp = open_spool(256 << 10, 64 << 10, STG_SYNC_NONE, STG_FULL_DROP_OLDEST);
	append_n(sp, 1000);
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_true(st.disk_bytes <= 256 << 10);
	assert_true(st.dropped > 0);
	/* exact accounting: every record is pending or dropped */
	assert_true(st.pending_records + st.dropped == 1000);
	uint64_t first = 0, last = 0;
	assert_true(drain(sp, false, &first, &last) == st.pending_records);
	assert_true(last == 1000);
	assert_true(first == st.dropped + 1); /* the oldest went first */
	stg_spool_close(sp);
}

static size_t count_segments(void)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "seg-", 4) == 0 && strstr(de->d_name, ".fcs"))
			n++;
	closedir(d);
	return n;
}

/* defer_delete: acks leave the files; collect deletes exactly the
 * delivered segments; a full spool deletes delivered ones before it drops
 * anything; a restart deletes what a crash left. */
static void test_deferred_delete(void **state)
{
	(void)state;
	struct stg_spool_config cfg;
	stg_spool_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.max_bytes = 256 << 10;
	cfg.segment_bytes = 32 << 10;
	cfg.sync = STG_SYNC_NONE;
	cfg.defer_delete = true;
	struct stg_spool *sp = NULL;
	assert_int_equal(stg_spool_open(&cfg, &sp), 0);
	append_n(sp, 150); /* ~4 segments */
	size_t before = count_segments();
	assert_true(before >= 3);
	uint64_t first = 0, last = 0;
	assert_true(drain(sp, true, &first, &last) == 150);
	assert_int_equal(count_segments(), before); /* nothing deleted by the acks */
	int n = stg_spool_collect(sp);
	assert_int_equal((size_t)n, before - 1);     /* all but the active one */
	assert_int_equal(count_segments(), 1);
	assert_int_equal(stg_spool_collect(sp), 0);
	/* fill past max_bytes with everything delivered: nothing may be dropped */
	append_n(sp, 100);
	assert_true(drain(sp, true, NULL, NULL) == 100);
	append_n(sp, 200);
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_int_equal(st.dropped, 0);
	assert_true(st.disk_bytes <= 256 << 10);
	/* acked but not collected, then a restart: recovery deletes them */
	assert_true(drain(sp, true, NULL, NULL) == 200);
	assert_true(count_segments() > 1);
	stg_spool_close(sp);
	assert_int_equal(count_segments(), 1);
	assert_int_equal(stg_spool_open(&cfg, &sp), 0);
	stg_spool_stats(sp, &st);
	assert_int_equal(st.pending_records, 0);
	stg_spool_close(sp);
}

static void test_pause_capture(void **state)
{
	(void)state;
	struct stg_spool *sp = open_spool(256 << 10, 64 << 10, STG_SYNC_NONE, STG_FULL_PAUSE_CAPTURE);
	uint8_t buf[2000];
	int rc = 0, n = 0;
	while (n < 2000) {
		size_t len = payload_for((uint64_t)n + 1, buf, sizeof(buf));
		char meta[64];
		int ml = snprintf(meta, sizeof(meta), "{\"seq\":%d}", n + 1);
		rc = stg_spool_append(sp, buf, len, meta, (size_t)ml, 1700000000000ull + (uint64_t)n + 1, NULL);
		if (rc != 0)
			break;
		n++;
	}
	assert_int_equal(rc, AG_EFULL);
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_true(st.full);
	assert_true(st.dropped == 0);
	assert_true(st.pending_records == (uint64_t)n);
	/* deliver everything: room again */
	assert_true(drain(sp, true, NULL, NULL) == (uint64_t)n);
	stg_spool_stats(sp, &st);
	assert_false(st.full);
	append_n(sp, 1);
	stg_spool_close(sp);
}

/* Build a small spool of one open segment; return its segment path. */
static void one_segment_spool(int records, char *seg, size_t seglen, off_t *size)
{
	teardown(NULL);
	setup(NULL);
	struct stg_spool *sp = open_spool(1 << 20, 256 << 10, STG_SYNC_ALWAYS, STG_FULL_DROP_OLDEST);
	append_n(sp, records);
	stg_spool_close(sp);
	DIR *d = opendir(dir);
	struct dirent *e;
	seg[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "seg-", 4) == 0 && strstr(e->d_name, ".fcs"))
			snprintf(seg, seglen, "%.127s/%.200s", dir, e->d_name);
	closedir(d);
	assert_true(seg[0]);
	struct stat st;
	assert_int_equal(stat(seg, &st), 0);
	*size = st.st_size;
}

/* Cut the last segment at every offset: recovery keeps exactly the records
 * that end before the cut and counts the rest as torn. */
static void test_truncate_every_offset(void **state)
{
	(void)state;
	char seg[512];
	off_t size;
	one_segment_spool(6, seg, sizeof(seg), &size);
	uint8_t *orig = malloc((size_t)size);
	int fd = open(seg, O_RDONLY);
	assert_int_equal(ag_pread_full(fd, orig, (size_t)size, 0), size);
	close(fd);
	/* record boundaries */
	off_t ends[16];
	int nrec = 0;
	for (off_t off = 0; off < size && nrec < 16;) {
		uint32_t ml, len;
		memcpy(&ml, orig + off + 8, 4);
		memcpy(&len, orig + off + 12, 4);
		off += 40 + ml + len;
		ends[nrec++] = off;
	}
	assert_int_equal(nrec, 6);
	char idx[600];
	snprintf(idx, sizeof(idx), "%.*s.idx", (int)(strlen(seg) - 4), seg);
	for (off_t cut = 0; cut <= size; cut++) {
		fd = open(seg, O_WRONLY | O_TRUNC);
		assert_int_equal(ag_pwrite_all(fd, orig, (size_t)cut, 0), 0);
		close(fd);
		unlink(idx); /* make it the scanned last segment */
		char cur[200];
		snprintf(cur, sizeof(cur), "%s/cursor", dir);
		unlink(cur);
		struct stg_spool_config cfg;
		stg_spool_config_defaults(&cfg);
		cfg.dir = dir;
		cfg.max_bytes = 1 << 20;
		cfg.segment_bytes = 256 << 10;
		cfg.readonly = true; /* inspect without changing the file */
		struct stg_spool *sp;
		assert_int_equal(stg_spool_open(&cfg, &sp), 0);
		int expect = 0;
		while (expect < nrec && ends[expect] <= cut)
			expect++;
		struct stg_spool_stats st;
		stg_spool_stats(sp, &st);
		if (st.pending_records != (uint64_t)expect) {
			print_error("cut at %lld: %" PRIu64 " records, expected %d\n", (long long)cut,
				    st.pending_records, expect);
			fail();
		}
		off_t kept = expect ? ends[expect - 1] : 0;
		assert_true(st.torn_bytes == (uint64_t)(cut - kept));
		assert_true(st.corrupt == 0);
		assert_true(drain(sp, false, NULL, NULL) == (uint64_t)expect);
		stg_spool_close(sp);
	}
	/* a writable open really cuts the torn tail, and appends go on after it */
	fd = open(seg, O_WRONLY | O_TRUNC);
	assert_int_equal(ag_pwrite_all(fd, orig, (size_t)(ends[2] + 17), 0), 0);
	close(fd);
	unlink(idx);
	struct stg_spool *sp = open_spool(1 << 20, 256 << 10, STG_SYNC_ALWAYS, STG_FULL_DROP_OLDEST);
	struct stat sb;
	assert_int_equal(stat(seg, &sb), 0);
	assert_int_equal(sb.st_size, ends[2]);
	assert_true(append_n(sp, 1) == 4);
	assert_true(drain(sp, false, NULL, NULL) == 4);
	stg_spool_close(sp);
	free(orig);
}

/* Flip one bit inside each record in turn: exactly that record is lost. */
static void test_bit_flips(void **state)
{
	(void)state;
	char seg[512];
	off_t size;
	one_segment_spool(5, seg, sizeof(seg), &size);
	uint8_t *orig = malloc((size_t)size);
	int fd = open(seg, O_RDONLY);
	assert_int_equal(ag_pread_full(fd, orig, (size_t)size, 0), size);
	close(fd);
	char idx[600];
	snprintf(idx, sizeof(idx), "%.*s.idx", (int)(strlen(seg) - 4), seg);
	/* positions: in a header, in meta, in payload, last byte */
	off_t where[] = { 3, 10, 20, 37, 45, 200, 1000, size / 2, size - 1 };
	for (size_t w = 0; w < AG_NELEM(where); w++) {
		uint8_t *m = malloc((size_t)size);
		memcpy(m, orig, (size_t)size);
		m[where[w]] ^= 0x10;
		fd = open(seg, O_WRONLY | O_TRUNC);
		assert_int_equal(ag_pwrite_all(fd, m, (size_t)size, 0), 0);
		close(fd);
		free(m);
		unlink(idx);
		struct stg_spool_config cfg;
		stg_spool_config_defaults(&cfg);
		cfg.dir = dir;
		cfg.max_bytes = 1 << 20;
		cfg.segment_bytes = 256 << 10;
		cfg.readonly = true;
		struct stg_spool *sp;
		assert_int_equal(stg_spool_open(&cfg, &sp), 0);
		struct stg_spool_stats st;
		stg_spool_stats(sp, &st);
		/* one record is gone: as corrupt, or (the last one) as a torn tail */
		uint64_t got = drain(sp, false, NULL, NULL);
		stg_spool_stats(sp, &st);
		if (got != 4 || st.corrupt + (st.torn_bytes ? 1 : 0) != 1) {
			print_error("flip at %lld: %" PRIu64 " good, corrupt %" PRIu64 ", torn %" PRIu64 "\n",
				    (long long)where[w], got, st.corrupt, st.torn_bytes);
			fail();
		}
		stg_spool_close(sp);
	}
	free(orig);
}

/* Zeroed 4 KiB pages in a sealed segment (with its index), a deleted
 * segment, a damaged cursor: recovery finishes and counts. */
static void test_damage(void **state)
{
	(void)state;
	teardown(NULL);
	setup(NULL);
	struct stg_spool *sp = open_spool(4 << 20, 64 << 10, STG_SYNC_BATCH, STG_FULL_DROP_OLDEST);
	append_n(sp, 300);
	assert_int_equal(stg_spool_ack(sp, 20), 0);
	stg_spool_close(sp);
	/* list segments */
	char segs[64][256];
	int ns = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL && ns < 64)
		if (strncmp(e->d_name, "seg-", 4) == 0 && strstr(e->d_name, ".fcs"))
			snprintf(segs[ns++], 256, "%.100s/%.100s", dir, e->d_name);
	closedir(d);
	assert_true(ns >= 4);
	qsort(segs, (size_t)ns, 256, (int (*)(const void *, const void *))strcmp);
	/* zero a page in the middle of the second segment: its index still
	 * points at the records, so the damage shows at peek time */
	int fd = open(segs[1], O_WRONLY);
	uint8_t zero[4096] = { 0 };
	assert_int_equal(ag_pwrite_all(fd, zero, sizeof(zero), 8192), 0);
	close(fd);
	/* and delete the third segment entirely */
	assert_int_equal(unlink(segs[2]), 0);
	/* damage one cursor slot: the other one holds */
	char cur[200];
	snprintf(cur, sizeof(cur), "%s/cursor", dir);
	fd = open(cur, O_RDWR);
	uint8_t junk[32];
	memset(junk, 0xAB, sizeof(junk));
	uint8_t slots[64];
	assert_int_equal(ag_pread_full(fd, slots, 64, 0), 64);
	/* damage the newer slot: find it by generation */
	uint64_t g0, g1;
	memcpy(&g0, slots + 8, 8);
	memcpy(&g1, slots + 40, 8);
	assert_int_equal(ag_pwrite_all(fd, junk, 32, g0 > g1 ? 0 : 32), 0);
	close(fd);

	sp = open_spool(4 << 20, 64 << 10, STG_SYNC_BATCH, STG_FULL_DROP_OLDEST);
	uint64_t first = 0, last = 0;
	uint64_t got = drain(sp, false, &first, &last);
	struct stg_spool_stats st;
	stg_spool_stats(sp, &st);
	assert_true(last == 300);
	assert_true(first <= 21); /* the older cursor slot may redeliver a few */
	assert_true(st.corrupt >= 1); /* the zeroed page */
	assert_true(got < 300 - 20);
	/* every record returned passed its CRC (drain checks the bytes) */
	stg_spool_close(sp);

	/* both cursor slots gone: every record on disk is delivered again */
	fd = open(cur, O_WRONLY | O_TRUNC);
	assert_int_equal(ag_write_all(fd, junk, 32), 0);
	close(fd);
	sp = open_spool(4 << 20, 64 << 10, STG_SYNC_BATCH, STG_FULL_DROP_OLDEST);
	assert_true(drain(sp, false, &first, NULL) > 0);
	stg_spool_close(sp);
}

static void test_reject_results_state(void **state)
{
	(void)state;
	teardown(NULL);
	setup(NULL);
	struct stg_spool *sp = open_spool(1 << 20, 64 << 10, STG_SYNC_ALWAYS, STG_FULL_DROP_OLDEST);
	append_n(sp, 2);
	struct stg_record rec = { 0 };
	assert_int_equal(stg_spool_peek(sp, 0, &rec), 0);
	assert_int_equal(stg_spool_reject(sp, &rec, "cam-1700-1", "HTTP 400 INVALID_ARGUMENT: bad image"), 0);
	assert_int_equal(stg_spool_reject(sp, &rec, "../evil", "x"), AG_EINVAL);
	char path[256];
	snprintf(path, sizeof(path), "%s/rejected/cam-1700-1.jpg", dir);
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(ag_file_read(path, 1 << 20, &data, &len), 0);
	assert_int_equal(len, rec.len);
	assert_memory_equal(data, rec.payload, len);
	free(data);
	snprintf(path, sizeof(path), "%s/rejected/cam-1700-1.json", dir);
	assert_int_equal(ag_file_read(path, 1 << 20, &data, &len), 0);
	assert_non_null(strstr(data, "\"reason\":\"HTTP 400 INVALID_ARGUMENT: bad image\""));
	assert_non_null(strstr(data, "\"seq\":1"));
	free(data);
	/* rejected means delivered: the next peek is record 2 */
	assert_int_equal(stg_spool_peek(sp, 0, &rec), 0);
	assert_true(rec.seq == 2);
	stg_record_release(&rec);
	stg_spool_close(sp);

	char rpath[256];
	snprintf(rpath, sizeof(rpath), "%s/results.jsonl", dir);
	struct stg_results *r;
	assert_int_equal(stg_results_open(rpath, true, &r), 0);
	assert_int_equal(stg_results_append(r, "{\"id\":\"a\"}"), 0);
	assert_int_equal(stg_results_append(r, "{\"id\":\"b\"}"), 0);
	assert_int_equal(stg_results_append(r, "two\nlines"), AG_EINVAL);
	stg_results_close(r);
	assert_int_equal(ag_file_read(rpath, 1 << 20, &data, &len), 0);
	assert_string_equal(data, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
	free(data);

	char sdir[256];
	snprintf(sdir, sizeof(sdir), "%s/batches", dir);
	assert_int_equal(stg_state_write(sdir, "batch-0001", "{\"state\":\"open\"}"), 0);
	assert_int_equal(stg_state_write(sdir, "batch-0001", "{\"state\":\"submitted\"}"), 0);
	char *json = NULL;
	assert_int_equal(stg_state_read(sdir, "batch-0001", &json), 0);
	assert_string_equal(json, "{\"state\":\"submitted\"}");
	free(json);
	assert_int_equal(stg_state_write(sdir, "../x", "{}"), AG_EINVAL);
	char **names = NULL;
	assert_int_equal(stg_state_list(sdir, &names), 1);
	assert_string_equal(names[0], "batch-0001");
	assert_null(names[1]);
	stg_state_list_free(names);
	assert_int_equal(stg_state_write(sdir, "batch-0000", "{}"), 0);
	char junk[300];
	snprintf(junk, sizeof(junk), "%s/.tmp.json", sdir);
	assert_int_equal(ag_file_replace(junk, "x", 1, 0640), 0);
	snprintf(junk, sizeof(junk), "%s/notes.txt", sdir);
	assert_int_equal(ag_file_replace(junk, "x", 1, 0640), 0);
	assert_int_equal(stg_state_list(sdir, &names), 2);
	assert_string_equal(names[0], "batch-0000");
	assert_string_equal(names[1], "batch-0001");
	assert_null(names[2]);
	stg_state_list_free(names);
	assert_int_equal(stg_state_remove(sdir, "batch-0000"), 0);
	snprintf(junk, sizeof(junk), "%s/missing", dir);
	assert_int_equal(stg_state_list(junk, &names), 0);
	assert_null(names[0]);
	stg_state_list_free(names);
	/* the state's log: whole lines appended; a torn tail left out, and cut with repair */
	size_t n = 0;
	assert_int_equal(stg_state_log_read(sdir, "batch-0001", true, &json, &n), 0);
	assert_null(json);
	assert_int_equal(stg_state_log_append(sdir, "batch-0001", "{\"id\":\"a\"}\n", 11), 0);
	assert_int_equal(stg_state_log_append(sdir, "batch-0001", "{\"id\":\"b\"}\n{\"id\":\"c\"}\n", 22), 0);
	assert_int_equal(stg_state_log_append(sdir, "batch-0001", "no newline", 10), AG_EINVAL);
	assert_int_equal(stg_state_log_append(sdir, "../x", "x\n", 2), AG_EINVAL);
	char lpath[300];
	snprintf(lpath, sizeof(lpath), "%s/batch-0001.log", sdir);
	int fd = open(lpath, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"id\":\"d", 8), 8); /* a kill mid-append */
	close(fd);
	assert_int_equal(stg_state_log_read(sdir, "batch-0001", false, &json, &n), 0);
	assert_string_equal(json, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n");
	assert_int_equal(n, 33);
	free(json);
	struct stat st;
	assert_int_equal(stat(lpath, &st), 0);
	assert_int_equal(st.st_size, 41); /* without repair the file is left as it is */
	assert_int_equal(stg_state_log_read(sdir, "batch-0001", true, &json, &n), 0);
	free(json);
	assert_int_equal(stat(lpath, &st), 0);
	assert_int_equal(st.st_size, 33);
	assert_int_equal(stg_state_log_append(sdir, "batch-0001", "{\"id\":\"d\"}\n", 11), 0);
	assert_int_equal(stg_state_log_read(sdir, "batch-0001", true, &json, &n), 0);
	assert_string_equal(json, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n{\"id\":\"d\"}\n");
	free(json);
	/* removing the state removes its log */
	assert_int_equal(stg_state_remove(sdir, "batch-0001"), 0);
	assert_int_equal(stat(lpath, &st), -1);
	assert_int_equal(stg_state_read(sdir, "batch-0001", &json), AG_ENOENT);
	assert_int_equal(stg_state_remove(sdir, "batch-0001"), 0);
	assert_int_equal(stg_state_log_remove(sdir, "batch-0001"), 0);
}

static void test_bad_config_and_ids(void **state)
{
	(void)state;
	struct stg_spool_config cfg;
	stg_spool_config_defaults(&cfg);
	struct stg_spool *sp = NULL;
	assert_int_equal(stg_spool_open(&cfg, &sp), AG_EINVAL); /* no dir */
	cfg.dir = dir;
	cfg.max_bytes = cfg.segment_bytes; /* less than two segments */
	assert_int_equal(stg_spool_open(&cfg, &sp), AG_EINVAL);
	cfg.max_bytes = 1 << 20;
	cfg.segment_bytes = 64 << 10;
	cfg.dir = "/proc/fieldcam-cannot-create";
	assert_true(stg_spool_open(&cfg, &sp) < 0);
	cfg.dir = dir;
	assert_int_equal(stg_spool_open(&cfg, &sp), 0);
	static uint8_t big[600 << 10];
	assert_int_equal(stg_spool_append(sp, big, sizeof(big), NULL, 0, 1, NULL), AG_ETOOBIG);
	stg_spool_close(sp);
	char id[64];
	assert_int_equal(stg_record_id(id, sizeof(id), "cam07", 1718000000, 42), 19);
	assert_string_equal(id, "cam07-1718000000-42");
	assert_int_equal(stg_record_id(id, 8, "cam07", 1718000000, 42), AG_ETOOBIG);
}

/* ---- results.file reopened after a rotation ---------------------------- */

#define ROT_MAX 20000

struct rot_writer {
	struct stg_results *r;
	atomic_bool *stop;
	int id, n;
};

/* Lines until told to stop (and at least 500), a sync every 50. */
static void *rot_write(void *arg)
{
	struct rot_writer *w = arg;
	char line[64];
	for (w->n = 0; w->n < ROT_MAX && (w->n < 500 || !atomic_load(w->stop)); w->n++) {
		snprintf(line, sizeof(line), "{\"w\":%d,\"i\":%d}", w->id, w->n);
		if (stg_results_append(w->r, line) != 0)
			return (void *)1;
		if (w->n % 50 == 0 && stg_results_sync(w->r) != 0)
			return (void *)1;
	}
	return NULL;
}

/* Every whole line of path, counted into seen[w][i]; false on a torn or
 * foreign line. */
static bool rot_count(const char *path, int seen[2][ROT_MAX])
{
	char *data = NULL;
	size_t len = 0;
	if (ag_file_read(path, 1 << 24, &data, &len) != 0)
		return false;
	bool ok = len == 0 || data[len - 1] == '\n';
	for (char *p = data, *nl; ok && p < data + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(data + len - p));
		int w, i, used = 0;
		ok = nl && sscanf(p, "{\"w\":%d,\"i\":%d}%n", &w, &i, &used) == 2 && p + used == nl && w >= 0 &&
		     w < 2 && i >= 0 && i < ROT_MAX;
		if (ok)
			seen[w][i]++;
	}
	free(data);
	return ok;
}

static void test_results_reopen(void **state)
{
	(void)state;
	char path[256], moved[300];
	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	struct stg_results *r;
	assert_int_equal(stg_results_open(path, false, &r), 0);
	assert_int_equal(stg_results_append(r, "{\"id\":\"a\"}"), 0);
	/* logrotate moves the file, then SIGHUP: the next line goes to a new file */
	snprintf(moved, sizeof(moved), "%s.1", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(stg_results_append(r, "{\"id\":\"b\"}"), 0); /* no reopen asked yet */
	stg_results_reopen(r);
	assert_int_equal(stg_results_append(r, "{\"id\":\"c\"}"), 0);
	assert_int_equal(stg_results_sync(r), 0);
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(ag_file_read(moved, 1 << 20, &data, &len), 0);
	assert_string_equal(data, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
	free(data);
	assert_int_equal(ag_file_read(path, 1 << 20, &data, &len), 0);
	assert_string_equal(data, "{\"id\":\"c\"}\n");
	free(data);
	/* a path that cannot be opened again: the lines go on into the open file */
	char sub[300], subpath[320];
	snprintf(sub, sizeof(sub), "%s/gone", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(subpath, sizeof(subpath), "%s/r.jsonl", sub);
	struct stg_results *r2;
	assert_int_equal(stg_results_open(subpath, false, &r2), 0);
	char moved2[300];
	snprintf(moved2, sizeof(moved2), "%s/r-moved.jsonl", dir);
	assert_int_equal(rename(subpath, moved2), 0);
	assert_int_equal(rmdir(sub), 0);
	stg_results_reopen(r2);
	assert_int_equal(stg_results_append(r2, "{\"id\":\"d\"}"), 0);
	assert_int_equal(stg_results_sync(r2), 0);
	stg_results_close(r2);
	assert_int_equal(ag_file_read(moved2, 1 << 20, &data, &len), 0);
	assert_string_equal(data, "{\"id\":\"d\"}\n");
	free(data);
	stg_results_close(r);

	/* two writers and 20 rotations while they write (each as soon as the
	 * new file has a line): every line once, whole, in one of the files */
	snprintf(path, sizeof(path), "%s/busy.jsonl", dir);
	assert_int_equal(stg_results_open(path, false, &r), 0);
	atomic_bool stop;
	atomic_init(&stop, false);
	struct rot_writer w[2] = { { r, &stop, 0, 0 }, { r, &stop, 1, 0 } };
	pthread_t t[2];
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&t[k], NULL, rot_write, &w[k]), 0);
	const int rotations = 20;
	for (int k = 0; k < rotations; k++) {
		struct stat st;
		for (int waited = 0; stat(path, &st) != 0 || st.st_size == 0; waited++) {
			if (waited > 20000)
				fail_msg("no line in the new file after rotation %d", k);
			usleep(500);
		}
		snprintf(moved, sizeof(moved), "%s.%d", path, k);
		assert_int_equal(rename(path, moved), 0);
		stg_results_reopen(r);
	}
	atomic_store(&stop, true);
	for (int k = 0; k < 2; k++) {
		void *ret;
		assert_int_equal(pthread_join(t[k], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(stg_results_sync(r), 0);
	stg_results_close(r);
	static int seen[2][ROT_MAX];
	memset(seen, 0, sizeof(seen));
	struct stat st;
	if (stat(path, &st) == 0) /* the writers may have stopped before a new line */
		assert_true(rot_count(path, seen));
	for (int k = 0; k < rotations; k++) {
		snprintf(moved, sizeof(moved), "%s.%d", path, k);
		assert_true(rot_count(moved, seen));
	}
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < ROT_MAX; i++)
			if (seen[k][i] != (i < w[k].n))
				fail_msg("writer %d line %d (of %d) seen %d times", k, i, w[k].n, seen[k][i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_results_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_every_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bit_flips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_results_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config_and_ids, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
