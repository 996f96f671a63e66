/* Unit tests of the base library: sizes, durations, CRC-32C, files, logging. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ag.h"

static void test_parse_size_good(void **state)
{
	(void)state;
	static const struct { const char *s; uint64_t v; } t[] = {
		{ "0", 0 }, { "4096", 4096 }, { "512MiB", 512ull << 20 }, { "8 MiB", 8ull << 20 },
		{ "64k", 65536 }, { "64K", 65536 }, { "1KiB", 1024 }, { "1kB", 1000 },
		{ "1.5GiB", 3ull << 29 }, { "2G", 2ull << 30 }, { "1TB", 1000000000000ull },
		{ "10B", 10 }, { " 7 ", 7 }, { "1MB", 1000000 }, { "0.5KiB", 512 },
	};
	for (size_t i = 0; i < AG_NELEM(t); i++) {
		uint64_t v = 99;
		assert_int_equal(ag_parse_size(t[i].s, &v), 0);
		assert_true(v == t[i].v);
	}
}

static void test_parse_size_bad(void **state)
{
	(void)state;
	static const char *bad[] = { "", " ", "MiB", "-1", "1e3", "0x10", "12 parsecs", "1.", ".5",
				     "1.5", "1.0001KiB", "5 MiB extra", "1iB", "1,5MiB", "++1" };
	for (size_t i = 0; i < AG_NELEM(bad); i++) {
		uint64_t v = 42;
		assert_int_equal(ag_parse_size(bad[i], &v), AG_EINVAL);
		assert_true(v == 42); /* untouched on failure */
	}
	uint64_t v;
	assert_int_equal(ag_parse_size("99999999999TiB", &v), AG_ETOOBIG);
	assert_int_equal(ag_parse_size(NULL, &v), AG_EINVAL);
}

static void test_parse_duration(void **state)
{
	(void)state;
	static const struct { const char *s; uint64_t v; } t[] = {
		{ "0", 0 }, { "1500", 1500 }, { "250ms", 250 }, { "30s", 30000 }, { "5m", 300000 },
		{ "1h", 3600000 }, { "2d", 172800000 }, { "1h30m", 5400000 }, { "1.5s", 1500 },
		{ "1m 30s", 90000 }, { "10min", 600000 }, { "0.5h", 1800000 },
	};
	for (size_t i = 0; i < AG_NELEM(t); i++) {
		uint64_t v = 99;
		assert_int_equal(ag_parse_duration(t[i].s, &v), 0);
		assert_true(v == t[i].v);
	}
	static const char *bad[] = { "", "s", "10x", "-5s", "1.5ms5", "5 5", "10s 20",
				     "1e3s", "0.0001s", "3 seconds", "1h 30" };
	for (size_t i = 0; i < AG_NELEM(bad); i++) {
		uint64_t v = 42;
		assert_int_not_equal(ag_parse_duration(bad[i], &v), 0);
		assert_true(v == 42);
	}
	uint64_t v;
	assert_int_equal(ag_parse_duration("999999999999999d", &v), AG_ETOOBIG);
}

static void test_format(void **state)
{
	(void)state;
	char b[32];
	ag_format_size(512ull << 20, b, sizeof(b));
	assert_string_equal(b, "512MiB");
	ag_format_size(1000, b, sizeof(b));
	assert_string_equal(b, "1000");
	ag_format_size(3ull << 30, b, sizeof(b));
	assert_string_equal(b, "3GiB");
	ag_format_duration(5400000, b, sizeof(b));
	assert_string_equal(b, "1h30m");
	ag_format_duration(250, b, sizeof(b));
	assert_string_equal(b, "250ms");
	ag_format_duration(0, b, sizeof(b));
	assert_string_equal(b, "0s");
	/* what is printed parses back to the same value */
	for (uint64_t ms = 1; ms < 100000000000ull; ms = ms * 7 + 3) {
		uint64_t back;
		ag_format_duration(ms, b, sizeof(b));
		assert_int_equal(ag_parse_duration(b, &back), 0);
		assert_true(back == ms);
	}
	ag_format_rfc3339(1718000000123ull, b, sizeof(b));
	assert_string_equal(b, "2024-06-10T06:13:20.123Z");
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_true(ag_crc32c(0, "123456789", 9) == 0xE3069283u);
	assert_true(ag_crc32c(0, "", 0) == 0);
	/* RFC 3720 B.4: 32 bytes of zeros, and of 0xff */
	unsigned char z[32] = { 0 }, f[32];
	memset(f, 0xff, sizeof(f));
	assert_true(ag_crc32c(0, z, 32) == 0x8A9136AAu);
	assert_true(ag_crc32c(0, f, 32) == 0x62A8AB43u);
	/* chaining equals one pass, at every split */
	unsigned char buf[100];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	uint32_t whole = ag_crc32c(0, buf, sizeof(buf));
	for (size_t k = 0; k <= sizeof(buf); k++)
		assert_true(ag_crc32c(ag_crc32c(0, buf, k), buf + k, sizeof(buf) - k) == whole);
	/* the CPU's instruction and the tables agree, at every length and offset */
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len++)
			assert_true(ag_crc32c(0x1234u, buf + off, len) == ag_crc32c_sw(0x1234u, buf + off, len));
	assert_true(ag_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fc-base-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_files(void **state)
{
	(void)state;
	char path[256], deep[256];
	snprintf(path, sizeof(path), "%s/state.json", tmpdir);
	assert_int_equal(ag_file_replace(path, "hello", 5, 0644), 0);
	assert_int_equal(ag_file_replace(path, "world!", 6, 0644), 0);
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(ag_file_read(path, 100, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "world!");
	free(data);
	/* no temp file left behind */
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(ag_file_read(path, 5, &data, &len), AG_ETOOBIG);
	snprintf(deep, sizeof(deep), "%s/missing", tmpdir);
	assert_int_equal(ag_file_read(deep, 100, &data, &len), AG_ENOENT);
	assert_int_equal(ag_file_read(tmpdir, 100, &data, &len), AG_EINVAL);

	snprintf(deep, sizeof(deep), "%s/a/b/c/", tmpdir);
	assert_int_equal(ag_mkdir_p(deep, 0755), 0);
	assert_int_equal(ag_mkdir_p(deep, 0755), 0); /* exists: fine */
	assert_int_equal(ag_mkdir_p(path, 0755), AG_EINVAL); /* a file is in the way */
	assert_int_equal(ag_fsync_dir(tmpdir), 0);

	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ag_pwrite_all(fd, "AB", 2, 1), 0);
	char rb[16];
	assert_int_equal(ag_pread_full(fd, rb, sizeof(rb), 0), 6);
	assert_memory_equal(rb, "wABld!", 6);
	close(fd);
	/* write to a read-only descriptor fails with a code, not a crash */
	fd = open(path, O_RDONLY);
	assert_true(ag_write_all(fd, "x", 1) < 0);
	close(fd);
}

static void test_log(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	ag_log_set_fd(p[1]);
	ag_log_set_stamps(false);
	ag_log_set_level(AG_LOG_INFO);
	ag_log_write(AG_LOG_WARN, "spool", 0, "two\nlines %d", 7);
	ag_log_write(AG_LOG_DEBUG, "spool", 0, "hidden");
	errno = ENOSPC;
	ag_log_write(AG_LOG_ERR, "spool", errno, "write %s", "seg");
	ag_log_set_fd(-1);
	close(p[1]);
	char buf[512] = { 0 };
	ssize_t n = ag_read_full(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 0);
	assert_string_equal(buf, "<4>spool: two lines 7\n<3>spool: write seg: No space left on device\n");

	enum ag_log_level l;
	assert_int_equal(ag_log_level_parse("debug", &l), 0);
	assert_int_equal(l, AG_LOG_DEBUG);
	assert_int_equal(ag_log_level_parse("verbose", &l), AG_EINVAL);
}

static void test_ratelimit(void **state)
{
	(void)state;
	struct ag_ratelimit rl = { .interval_ms = 1000 };
	unsigned sup = 99;
	assert_true(ag_ratelimit_allow(&rl, 5000, &sup));
	assert_int_equal(sup, 0);
	assert_false(ag_ratelimit_allow(&rl, 5100, NULL));
	assert_false(ag_ratelimit_allow(&rl, 5999, NULL));
	assert_true(ag_ratelimit_allow(&rl, 6000, &sup));
	assert_int_equal(sup, 2);
	assert_true(ag_ratelimit_reset(&rl));
	assert_false(ag_ratelimit_reset(&rl));
	assert_true(ag_ratelimit_allow(&rl, 6001, &sup));
}

static void test_strings(void **state)
{
	(void)state;
	char b[4];
	assert_int_equal(ag_strlcpy(b, "abcdef", sizeof(b)), 6);
	assert_string_equal(b, "abc");
	char *s = ag_asprintf("%s-%d", "cam", 7);
	assert_string_equal(s, "cam-7");
	free(s);
	assert_null(ag_strdup(NULL));
	assert_string_equal(ag_strerror(AG_ENOSPC), "no space left on device");
	assert_int_equal(ag_errno_code(ENOSPC), AG_ENOSPC);
	assert_int_equal(ag_errno_code(ENODEV), AG_ENODEV);
	uint64_t a = ag_now_ms();
	ag_sleep_ms(2);
	assert_true(ag_now_ms() >= a + 2);
}

struct setter {
	struct ag_event *ev;
	uint64_t delay_ms;
};

static void *set_later(void *arg)
{
	struct setter *s = arg;
	ag_sleep_ms(s->delay_ms);
	ag_event_set(s->ev);
	return NULL;
}

static void test_event(void **state)
{
	(void)state;
	struct ag_event ev;
	assert_int_equal(ag_event_init(&ev), 0);
	assert_false(ag_event_is_set(&ev));
	assert_false(ag_event_wait_ms(&ev, 5)); /* times out */
	/* a set from another thread wakes a long wait early */
	struct setter s = { &ev, 20 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, set_later, &s), 0);
	assert_true(ag_event_wait_ms(&ev, 60000));
	pthread_join(t, NULL);
	assert_true(ag_event_wait_ms(&ev, 0)); /* stays set */
	ag_event_clear(&ev);
	assert_false(ag_event_is_set(&ev));
	ag_event_cleanup(&ev);
	ag_event_cleanup(&ev); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_good),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test_setup_teardown(test_files, setup_dir, teardown_dir),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
