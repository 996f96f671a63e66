/* The reference endpoint as a child process (see endpoint_fixture.h). */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ag.h"
#include "endpoint_fixture.h"

const char *fc_json_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Read one line from fd within ms. */
static bool read_line(int fd, char *buf, size_t cap, int ms)
{
	size_t n = 0;
	uint64_t end = ag_now_ms() + (uint64_t)ms;
	while (n + 1 < cap) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = ag_now_ms();
		if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
			return false;
		if (read(fd, buf + n, 1) <= 0)
			return false;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return true;
		}
		n++;
	}
	return false;
}

int fc_endpoint_start(struct fc_endpoint *e, const char *tag, const char *const *extra)
{
	memset(e, 0, sizeof(*e));
	e->pid = -1;
	e->out_fd = -1;
	const char *py = getenv("FIELDCAM_PYTHON3");
	const char *src = getenv("FIELDCAM_SOURCE_DIR");
	char cmd[1024];
	if (!py || !py[0] || !src || access(py, X_OK) != 0)
		return 0; /* no Python: the tests skip */
	snprintf(cmd, sizeof(cmd), "'%s' -c 'import cryptography, PIL' >/dev/null 2>&1", py);
	if (system(cmd) != 0)
		return 0; /* no python3-cryptography or python3-pil: skip */
	char script[512];
	snprintf(script, sizeof(script), "%s/tests/endpoint/refendpoint.py", src);
	snprintf(e->dir, sizeof(e->dir), "/tmp/%.20s-XXXXXX", tag);
	if (!mkdtemp(e->dir))
		return -1;
	const char *argv[16] = { py, script, "--state-dir", e->dir, "--port", "0" };
	size_t argc = 6;
	for (size_t i = 0; extra && extra[i] && argc + 1 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(py, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	e->pid = pid;
	e->out_fd = pfd[0];
	char line[1024];
	if (!read_line(e->out_fd, line, sizeof(line), 30000) || strncmp(line, "ready port=", 11) != 0) {
		fprintf(stderr, "refendpoint did not start\n");
		return -1;
	}
	char path[512], *text = NULL;
	snprintf(path, sizeof(path), "%s/endpoint.json", e->dir);
	size_t len = 0;
	if (ag_file_read(path, 1 << 20, &text, &len) < 0)
		return -1;
	e->info = cJSON_ParseWithLength(text, len);
	free(text);
	ag_strlcpy(e->ca, fc_json_str(e->info, "ca_cert"), sizeof(e->ca));
	ag_strlcpy(e->key_file, fc_json_str(e->info, "key_file"), sizeof(e->key_file));
	ag_strlcpy(e->base, fc_json_str(cJSON_GetObjectItemCaseSensitive(e->info, "api"), "aiplatform"),
		   sizeof(e->base));
	if (!e->ca[0] || !e->key_file[0] || !e->base[0]) {
		fprintf(stderr, "refendpoint: %s lacks ca_cert, key_file or api.aiplatform\n", path);
		return -1;
	}
	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = e->ca;
	if (net_http_create(&hc, &e->ctl) < 0)
		return -1;
	return 1;
}

int fc_endpoint_stop(struct fc_endpoint *e)
{
	net_http_destroy(e->ctl);
	e->ctl = NULL;
	cJSON_Delete(e->info);
	e->info = NULL;
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		int st;
		waitpid(e->pid, &st, 0);
		e->pid = -1;
	}
	if (e->out_fd >= 0)
		close(e->out_fd);
	e->out_fd = -1;
	if (e->dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		e->dir[0] = '\0';
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

long fc_endpoint_control(struct fc_endpoint *e, const char *method, const char *what, const char *json)
{
	char url[512];
	snprintf(url, sizeof(url), "%s/_control/%s", e->base, what);
	struct net_part part = { json ? json : "", json ? strlen(json) : 0, false };
	struct net_request rq = {
		.method = method, .url = url, .content_type = json ? "application/json" : NULL,
		.parts = json ? &part : NULL, .nparts = json ? 1 : 0,
	};
	struct net_response rs;
	assert_int_equal(net_http_do(e->ctl, &rq, &rs), 0);
	return rs.status;
}

void fc_endpoint_faults(struct fc_endpoint *e, const char *json)
{
	assert_int_equal(fc_endpoint_control(e, "DELETE", "faults", NULL), 200);
	if (json)
		assert_int_equal(fc_endpoint_control(e, "POST", "faults", json), 200);
}
