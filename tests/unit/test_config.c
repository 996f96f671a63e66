/*
 * Configuration loader and command front. Bad configs run through the real
 * `fieldcam config check` binary: each must exit 2 with a line naming the
 * key and the problem.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ag.h"
#include "config.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fc-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run the fieldcam binary with args; capture stdout+stderr into out. */
static int run_bin(char *out, size_t outlen, const char *const *args)
{
	const char *bin = getenv("FIELDCAM_BIN");
	assert_non_null(bin);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		char *argv[16];
		int n = 0;
		argv[n++] = (char *)bin;
		for (; args[n - 1] && n < 15; n++)
			argv[n] = (char *)args[n - 1];
		argv[n] = NULL;
		execv(bin, argv);
		_exit(127);
	}
	close(p[1]);
	ssize_t got = ag_read_full(p[0], out, outlen - 1);
	close(p[0]);
	out[got > 0 ? got : 0] = '\0';
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A minimal valid config for online mode; cases below break one thing. */
#define GOOD_ONLINE \
	"\"online\":{\"endpoint\":\"projects/p/locations/us-central1/endpoints/123\"}," \
	"\"auth\":{\"type\":\"token_file\",\"token_file\":\"/run/token\"}"

static const struct bad_case {
	const char *json;
	const char *expect; /* substring of the one error line */
} bad_cases[] = {
	{ "", ":1:1: not valid JSON" },
	{ "{\"camera\": {\"width\": 640,}}", ": not valid JSON" },
	{ "{} {}", ":1:4: text after the JSON object" },
	{ "[1,2]", "expected a JSON object at the top, got an array" },
	{ "{\"camera\":{\"widht\":640}}", "camera.widht: unknown key (did you mean camera.width?)" },
	{ "{\"frobnicate\":1}", "frobnicate: unknown key" },
	{ "{\"camera\":5}", "camera: expected an object, got a number" },
	{ "{\"camera\":{\"width\":9000}}", "camera.width: 9000 not in 16..7680" },
	{ "{\"camera\":{\"width\":\"640\"}}", "camera.width: expected a whole number, got a string" },
	{ "{\"camera\":{\"width\":640.5}}", "camera.width: 640.5 is not a whole number" },
	{ "{\"camera\":{\"width\":-2}}", "camera.width: -2 not in 16..7680" },
	{ "{\"camera\":{\"width\":641}}", "camera.width/camera.height: 641x720 must both be even" },
	{ "{\"camera\":{\"height\":null}}", "camera.height: null is not allowed" },
	{ "{\"camera\":{\"quality\":0}}", "camera.quality: 0 not in 1..100" },
	{ "{\"camera\":{\"quality\":101}}", "camera.quality: 101 not in 1..100" },
	{ "{\"camera\":{\"format\":\"h264\"}}", "camera.format: \"h264\" is not one of auto, mjpeg, yuyv" },
	{ "{\"camera\":{\"format\":\"yvyu\"}}", "camera.format: \"yvyu\" is not one of auto, mjpeg, yuyv, uyvy, nv12, yu12, grey, rgb24, bgr24, or a V4L2 fourcc of 3 or 4 capitals and digits such as YVYU" },
	{ "{\"camera\":{\"format\":\"Y-16\"}}", "camera.format: \"Y-16\" is not one of auto" },
	{ "{\"camera\":{\"format\":\"YUYV2\"}}", "camera.format: \"YUYV2\" is not one of auto" },
	{ "{\"camera\":{\"format\":5}}", "camera.format: expected a string, got a number" },
	{ "{\"camera\":{\"subsampling\":420}}", "camera.subsampling: expected a string (one of 420, 422, 444, gray), got the number 420; write it in quotes" },
	{ "{\"camera\":{\"interval\":\"10 parsecs\"}}", "camera.interval: \"10 parsecs\" is not a duration" },
	{ "{\"camera\":{\"interval\":\"50ms\"}}", "camera.interval: \"50ms\" not in 100ms..1d" },
	{ "{\"camera\":{\"interval\":true}}", "camera.interval: expected a duration (milliseconds, or a string like \"30s\"), got a boolean" },
	{ "{\"camera\":{\"device\":\"video0\"}}", "camera.device: \"video0\" is not a device path" },
	{ "{\"camera\":{\"device\":\"files:\"}}", "camera.device: \"files:\" needs a folder after \"files:\"" },
	{ "{\"camera\":{\"downscale\":3}}", "camera.downscale: 3 is not 1, 2 or 4" },
	{ "{\"camera\":{\"buffers\":1}}", "camera.buffers: 1 not in 2..32" },
	{ "{\"camera\":{\"width\":640,\"width\":800}}", "camera.width: key given twice" },
	{ "{\"spool\":{\"max_bytes\":\"lots\"}}", "spool.max_bytes: \"lots\" is not a size" },
	{ "{\"spool\":{\"max_bytes\":\"512KiB\"}}", "spool.max_bytes: \"512KiB\" not in 1MiB..1TiB" },
	{ "{\"spool\":{\"max_bytes\":\"16MiB\",\"segment_bytes\":\"16MiB\"}}", "spool.segment_bytes: 16MiB must be at most half of spool.max_bytes (16MiB)" },
	{ "{\"spool\":{\"max_bytes\":1.5}}", "spool.max_bytes: 1.5 is not a whole number of bytes" },
	{ "{\"spool\":{\"sync\":\"sometimes\"}}", "spool.sync: \"sometimes\" is not one of always, batch, none" },
	{ "{\"spool\":{\"on_full\":\"panic\"}}", "spool.on_full: \"panic\" is not one of drop_oldest, pause_capture" },
	{ "{\"spool\":{\"dir\":\"\"}}", "spool.dir: \"\" must not be empty" },
	{ "{\"upload\":{\"mode\":\"offline\"}}", "upload.mode: \"offline\" is not one of online, batch, none" },
	{ "{\"upload\":{\"mode\":\"online\"}}", "online.endpoint: missing, upload.mode \"online\" needs it" },
	{ "{\"upload\":{\"max_inflight\":0}," GOOD_ONLINE "}", "upload.max_inflight: 0 not in 1..8" },
	{ "{\"online\":{\"endpoint\":\"endpoints/123\"}}", "online.endpoint: \"endpoints/123\" is not projects/P/locations/L/endpoints/E" },
	{ "{\"online\":{\"kind\":\"gemini\",\"endpoint\":\"projects/p/locations/l/endpoints/1\"},\"auth\":{\"type\":\"none\"}}", "online.endpoint: online.kind \"gemini\" needs projects/P/locations/L/publishers/google/models/M" },
	{ "{\"online\":{\"confidence_threshold\":1.5}," GOOD_ONLINE "}", "online.confidence_threshold: 1.5 not in 0..1" },
	{ "{\"online\":{\"max_predictions\":0}," GOOD_ONLINE "}", "online.max_predictions: 0 not in 1..100" },
	{ "{\"online\":{\"labels\":[\"a\",\"a\"]}," GOOD_ONLINE "}", "online.labels[1]: \"a\" is listed twice" },
	{ "{\"online\":{\"labels\":[\"a\",3]}," GOOD_ONLINE "}", "online.labels[1]: is not a string" },
	{ "{\"upload\":{\"mode\":\"batch\"},\"auth\":{\"type\":\"none\"},\"batch\":{\"model\":\"projects/p/locations/l/models/m\"}}", "batch.bucket: missing, upload.mode \"batch\" needs it" },
	{ "{\"batch\":{\"bucket\":\"Bad Bucket\"}}", "batch.bucket: \"Bad Bucket\" may hold only lowercase letters" },
	{ "{\"batch\":{\"bucket\":\"ab\"}}", "batch.bucket: \"ab\" must be 3..63 characters" },
	{ "{\"batch\":{\"prefix\":\"/abs\"}}", "batch.prefix: \"/abs\" must not start with '/'" },
	{ "{\"upload\":{\"mode\":\"batch\"},\"auth\":{\"type\":\"none\"},\"batch\":{\"bucket\":\"bkt\",\"model\":\"publishers/google/models/gemini-2.5-flash\"}}", "batch.model: batch.format \"automl\" needs projects/P/locations/L/models/M" },
	{ "{\"batch\":{\"max_age\":\"10ms\"}}", "batch.max_age: \"10ms\" not in 1s..7d" },
	{ "{\"auth\":{\"type\":\"password\"}}", "auth.type: \"password\" is not one of service_account, token_file, api_key, none" },
	{ "{\"online\":{\"endpoint\":\"projects/p/locations/l/endpoints/1\"}}", "auth.key_file: missing, auth.type \"service_account\" needs it" },
	{ "{\"online\":{\"endpoint\":\"projects/p/locations/l/endpoints/1\"},\"auth\":{\"type\":\"api_key\",\"api_key\":\"k\"}}", "auth.type: \"api_key\" works only with upload.mode \"online\" and online.kind \"gemini\"" },
	{ "{\"api\":{\"aiplatform\":\"http://example.com\"}}", "api.aiplatform: \"http://example.com\" uses http: HTTPS is required unless the host is loopback" },
	{ "{\"api\":{\"storage\":\"ftp://127.0.0.1/\"}}", "api.storage: \"ftp://127.0.0.1/\" is not an https:// URL" },
	{ "{\"api\":{\"oauth_token_uri\":\"nonsense\"}}", "api.oauth_token_uri: \"nonsense\" is not a URL" },
	{ "{\"retry\":{\"initial\":\"10m\",\"max\":\"5m\"}}", "retry.initial: 10m is longer than retry.max (5m)" },
	{ "{\"retry\":{\"multiplier\":0.5}}", "retry.multiplier: 0.5 not in 1..10" },
	{ "{\"device_id\":\"cam 7\"}", "device_id: \"cam 7\" may hold only letters, digits, '-' and '_'" },
	{ "{\"log\":{\"level\":\"verbose\"}}", "log.level: \"verbose\" is not one of error, warn, info, debug" },
};

static void test_bad_configs(void **state)
{
	(void)state;
	char path[128], out[8192];
	snprintf(path, sizeof(path), "%s/bad.json", tmpdir);
	for (size_t i = 0; i < AG_NELEM(bad_cases); i++) {
		write_file(path, bad_cases[i].json);
		const char *args[] = { "config", "check", "-c", path, NULL };
		int rc = run_bin(out, sizeof(out), args);
		if (rc != 2 || !strstr(out, bad_cases[i].expect)) {
			print_error("case %zu: %s\nexit %d, output:\n%s\nexpected: %s\n", i,
				    bad_cases[i].json, rc, out, bad_cases[i].expect);
			fail();
		}
		/* each line names the file */
		char prefix[160];
		snprintf(prefix, sizeof(prefix), "config: %s", path);
		assert_non_null(strstr(out, prefix));
	}
}

/* All problems are reported, not just the first. */
static void test_every_error_reported(void **state)
{
	(void)state;
	char path[128], out[8192];
	snprintf(path, sizeof(path), "%s/many.json", tmpdir);
	write_file(path, "{\"camera\":{\"width\":1,\"quality\":0,\"colour\":1},\"spool\":{\"sync\":\"x\"}}");
	const char *args[] = { "config", "check", "-c", path, NULL };
	assert_int_equal(run_bin(out, sizeof(out), args), 2);
	assert_non_null(strstr(out, "camera.width"));
	assert_non_null(strstr(out, "camera.quality"));
	assert_non_null(strstr(out, "camera.colour: unknown key"));
	assert_non_null(strstr(out, "spool.sync"));
}

static void test_cli_usage(void **state)
{
	(void)state;
	char out[8192], path[128];
	const char *a1[] = { "config", "check", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a1), 2);
	assert_non_null(strstr(out, "fieldcam config check: missing -c FILE"));
	const char *a2[] = { "frobnicate", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a2), 2);
	assert_non_null(strstr(out, "unknown command 'frobnicate'"));
	const char *a3[] = { "config", "check", "-c", "/nonexistent/fieldcam.json", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a3), 2);
	assert_non_null(strstr(out, "config: /nonexistent/fieldcam.json: cannot read: No such file or directory"));
	const char *a4[] = { "config", "check", "-c", tmpdir, NULL };
	assert_int_equal(run_bin(out, sizeof(out), a4), 2);
	assert_non_null(strstr(out, "cannot read: Is a directory"));
	const char *a5[] = { "config", "check", "--bogus", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a5), 2);
	assert_non_null(strstr(out, "unknown option '--bogus'"));
	const char *a6[] = { "config", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a6), 2);
	assert_non_null(strstr(out, "missing subcommand"));
	const char *a7[] = { "help", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a7), 0);
	assert_non_null(strstr(out, "config check"));
	assert_non_null(strstr(out, "version"));
	const char *a8[] = { "help", "config", "check", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a8), 0);
	assert_non_null(strstr(out, "usage: fieldcam config check -c FILE"));
	const char *a9[] = { "version", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a9), 0);
	assert_non_null(strstr(out, "fieldcam " FIELDCAM_VERSION));
	assert_non_null(strstr(out, "libcurl "));
	assert_non_null(strstr(out, "mbedTLS 2."));
	assert_non_null(strstr(out, "libjpeg-turbo "));
	assert_non_null(strstr(out, "cJSON 1."));
	const char *a10[] = { "help", "nosuch", NULL };
	assert_int_equal(run_bin(out, sizeof(out), a10), 2);
	/* a good file: effective config on stdout, OK on stderr, exit 0 */
	snprintf(path, sizeof(path), "%s/good.json", tmpdir);
	write_file(path, "{\"camera\":{\"device\":\"testpattern\"},\"upload\":{\"mode\":\"none\"}}");
	const char *a11[] = { "config", "check", "-c", path, NULL };
	assert_int_equal(run_bin(out, sizeof(out), a11), 0);
	assert_non_null(strstr(out, "configuration OK"));
	assert_non_null(strstr(out, "\"max_bytes\":\t\"512MiB\""));
}

/* Every default is valid and the documented one. */
static void test_defaults(void **state)
{
	(void)state;
	struct ag_config c;
	assert_int_equal(ag_config_defaults(&c), 0);
	assert_string_equal(c.camera.device, "/dev/video0");
	assert_int_equal(c.camera.width, 1280);
	assert_int_equal(c.camera.height, 720);
	assert_int_equal(c.camera.interval_ms, 10000);
	assert_true(c.spool.max_bytes == 512ull << 20);
	assert_true(c.spool.segment_bytes == 8ull << 20);
	assert_int_equal(c.spool.sync, AG_SYNC_BATCH);
	assert_int_equal(c.upload.mode, AG_MODE_ONLINE);
	assert_int_equal(c.retry.initial_ms, 1000);
	assert_int_equal(c.retry.max_ms, 300000);
	assert_true(c.retry.multiplier == 2.0);
	assert_null(c.online.endpoint);
	ag_config_free(&c);
}

/* Parse text that must give no error into c (defaults first). */
static void parse_good(const char *text, const char *name, struct ag_config *c)
{
	struct ag_cfg_report rep = { 0 };
	assert_int_equal(ag_config_defaults(c), 0);
	int rc = ag_config_parse(c, text, strlen(text), name, &rep);
	ag_cfg_report_print(&rep, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(rep.nerr, 0);
	ag_cfg_report_free(&rep);
}

/* camera.format: a V4L2 fourcc as capture -f takes it, kept as written */
static void test_format_fourcc(void **state)
{
	(void)state;
	static const char *const ok[] = { "YVYU", "BA81", "Y16", "auto", "mjpeg" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"camera\":{\"format\":\"%s\"},\"upload\":{\"mode\":\"none\"}}", ok[i]);
		struct ag_config c;
		parse_good(text, "t.json", &c);
		assert_string_equal(c.camera.format, ok[i]);
		ag_config_free(&c);
	}
}

static void test_units_and_values(void **state)
{
	(void)state;
	static const char text[] =
		"{\"device_id\":\"orchard-cam-07\","
		" \"camera\":{\"device\":\"files:/srv/frames\",\"interval\":\"1m30s\",\"format\":\"nv12\","
		"   \"subsampling\":\"444\",\"downscale\":2},"
		" \"spool\":{\"max_bytes\":\"2GiB\",\"segment_bytes\":16777216,\"sync\":\"always\",\"sync_interval\":250},"
		" \"upload\":{\"mode\":\"batch\"},"
		" \"batch\":{\"bucket\":\"my-bucket\",\"model\":\"projects/p/locations/us-central1/models/m\"},"
		" \"auth\":{\"type\":\"service_account\",\"key_file\":\"/etc/fieldcam/key.json\"},"
		" \"api\":{\"aiplatform\":\"https://127.0.0.1:8443\",\"storage\":\"http://[::1]:8080\"},"
		" \"tls\":{\"ca_file\":null}}";
	struct ag_config c;
	parse_good(text, "t.json", &c);
	assert_string_equal(c.device_id, "orchard-cam-07");
	assert_string_equal(c.camera.device, "files:/srv/frames");
	assert_int_equal(c.camera.interval_ms, 90000);
	assert_string_equal(c.camera.format, "nv12");
	assert_int_equal(c.camera.subsampling, AG_SUBSAMP_444);
	assert_true(c.spool.max_bytes == 2ull << 30);
	assert_int_equal(c.spool.segment_bytes, 16777216);
	assert_int_equal(c.spool.sync_interval_ms, 250);
	assert_string_equal(c.batch.prefix, "fieldcam/orchard-cam-07");
	assert_null(c.tls.ca_file);
	assert_string_equal(ag_config_enum_name("spool.sync", c.spool.sync), "always");

	/* the printed effective config reads back to the same values */
	char *json = ag_config_to_json(&c);
	assert_non_null(json);
	struct ag_config c2;
	parse_good(json, "printed", &c2);
	assert_true(c2.spool.max_bytes == c.spool.max_bytes);
	assert_int_equal(c2.camera.interval_ms, c.camera.interval_ms);
	assert_string_equal(c2.batch.model, c.batch.model);
	char *json2 = ag_config_to_json(&c2);
	assert_string_equal(json, json2);
	free(json);
	free(json2);
	ag_config_free(&c2);
	ag_config_free(&c);
}

static void test_secret_not_printed(void **state)
{
	(void)state;
	static const char text[] =
		"{\"online\":{\"kind\":\"gemini\",\"endpoint\":\"projects/p/locations/global/publishers/google/models/gemini-2.5-flash\"},"
		" \"auth\":{\"type\":\"api_key\",\"api_key\":\"AIzaSECRETSECRET\"}}";
	struct ag_config c;
	struct ag_cfg_report rep = { 0 };
	assert_int_equal(ag_config_defaults(&c), 0);
	assert_int_equal(ag_config_parse(&c, text, strlen(text), "t.json", &rep), 0);
	char *json = ag_config_to_json(&c);
	assert_null(strstr(json, "SECRET"));
	assert_non_null(strstr(json, "(set)"));
	free(json);
	ag_config_free(&c);
	ag_cfg_report_free(&rep);
}

static void test_loopback(void **state)
{
	(void)state;
	assert_true(ag_config_url_is_loopback("http://127.0.0.1:8080/x"));
	assert_true(ag_config_url_is_loopback("https://127.9.9.9"));
	assert_true(ag_config_url_is_loopback("http://[::1]:80"));
	assert_true(ag_config_url_is_loopback("http://localhost/"));
	assert_false(ag_config_url_is_loopback("http://127.0.0.1.evil.com/"));
	assert_false(ag_config_url_is_loopback("http://10.0.0.1/"));
	assert_false(ag_config_url_is_loopback("http://localhost.example/"));
	assert_false(ag_config_url_is_loopback("not a url"));
}

/* Every sample config shipped in boards/ passes `config check`. */
static void test_board_samples(void **state)
{
	(void)state;
	const char *src = getenv("FIELDCAM_SOURCE_DIR");
	assert_non_null(src);
	char boards[512];
	snprintf(boards, sizeof(boards), "%s/boards", src);
	DIR *d = opendir(boards);
	assert_non_null(d);
	int checked = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024], out[16384];
		snprintf(path, sizeof(path), "%s/%s/fieldcam.json", boards, e->d_name);
		if (access(path, R_OK) != 0)
			continue;
		const char *args[] = { "config", "check", "-q", "-c", path, NULL };
		int rc = run_bin(out, sizeof(out), args);
		if (rc != 0) {
			print_error("%s: exit %d\n%s\n", path, rc, out);
			fail();
		}
		checked++;
	}
	closedir(d);
	assert_true(checked >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_cli_usage),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_format_fourcc),
		cmocka_unit_test(test_units_and_values),
		cmocka_unit_test(test_secret_not_printed),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_board_samples),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
