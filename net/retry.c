/*
 * The retry policy, one for every request: what a reply means
 * (vertex-api.md 0.3) and how long to wait before the next attempt
 * (capped exponential backoff with full jitter, Retry-After as a floor).
 */
#define AG_LOG_TAG "retry"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

const char *net_verdict_name(enum net_verdict v)
{
	switch (v) {
	case NET_DONE: return "done";
	case NET_RETRY: return "retry";
	case NET_REJECT: return "reject";
	case NET_FAIL: return "fail";
	}
	return "?";
}

enum net_verdict net_classify_status(long status)
{
	if (status >= 200 && status < 300)
		return NET_DONE;
	switch (status) {
	case 408: case 429: case 499:
	case 500: case 502: case 503: case 504:
		return NET_RETRY;
	case 400: case 413:
		return NET_REJECT;
	case 401: case 403: case 404: case 409: case 412: case 501:
		return NET_FAIL;
	}
	if (status >= 500)
		return NET_RETRY; /* other server trouble: it may pass */
	return NET_FAIL;          /* other 4xx: something on our side needs fixing */
}

void net_outcome_set(struct net_outcome *oc, enum net_verdict v, long status, const char *fmt, ...)
{
	oc->verdict = v;
	oc->status = status;
	oc->retry_after_ms = -1;
	oc->slow_down = false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(oc->msg, sizeof(oc->msg), fmt, ap);
	va_end(ap);
}

/* Copy s into out as one printable line. */
static void one_line(char *out, size_t cap, const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			continue;
		out[n++] = (char)c;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* The server's own words from an error body j (parsed, or NULL): Google's
 * {"error":{"status","message"}}, Cloud Storage's {"error":{"code",
 * "message"}}, OAuth's {"error":"invalid_grant","error_description"}, a
 * one-element array of the first (OpenAI-compatible routes), or the start
 * of a text body. */
static void server_message(const cJSON *j, const char *body, size_t len, char *out, size_t cap)
{
	out[0] = '\0';
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsObject(err)) {
		cJSON *st = cJSON_GetObjectItemCaseSensitive(err, "status");
		cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s%s%s", cJSON_IsString(st) ? st->valuestring : "",
			 cJSON_IsString(st) && cJSON_IsString(msg) ? ": " : "",
			 cJSON_IsString(msg) ? msg->valuestring : "");
		one_line(out, cap, tmp, strlen(tmp));
	} else if (cJSON_IsString(err)) {
		cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "error_description");
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s%s%s", err->valuestring, cJSON_IsString(d) ? ": " : "",
			 cJSON_IsString(d) ? d->valuestring : "");
		one_line(out, cap, tmp, strlen(tmp));
	}
	if (!out[0] && len)
		one_line(out, cap < 160 ? cap : 160, body, len);
}

/* Google's RetryInfo.retryDelay ("1.5s") inside error.details, in ms; -1 none. */
static int64_t retry_info(const cJSON *j)
{
	int64_t ms = -1;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(err, "details");
	const cJSON *d;
	cJSON_ArrayForEach(d, details) {
		cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "@type");
		cJSON *delay = cJSON_GetObjectItemCaseSensitive(d, "retryDelay");
		if (cJSON_IsString(t) && strstr(t->valuestring, "google.rpc.RetryInfo") && cJSON_IsString(delay)) {
			char *end;
			double s = strtod(delay->valuestring, &end);
			if (end != delay->valuestring && strcmp(end, "s") == 0 && s >= 0 && s < 86400)
				ms = (int64_t)(s * 1000);
		}
	}
	return ms;
}

/*
 * A 400 that is not the payload's fault (vertex-api.md 0.3): the status
 * FAILED_PRECONDITION (the resource is not ready for this request), or a
 * google.rpc.ErrorInfo whose reason names the API key (API_KEY_INVALID
 * and its kin: Google answers a bad or expired key with 400
 * INVALID_ARGUMENT). Setting those records aside would empty the spool
 * into rejected/ for a configuration error.
 */
static bool config_fault(const cJSON *j)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(err, "status");
	if (cJSON_IsString(st) && strcmp(st->valuestring, "FAILED_PRECONDITION") == 0)
		return true;
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(err, "details")) {
		cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "@type");
		cJSON *reason = cJSON_GetObjectItemCaseSensitive(d, "reason");
		if (cJSON_IsString(t) && strstr(t->valuestring, "google.rpc.ErrorInfo") && cJSON_IsString(reason) &&
		    strncmp(reason->valuestring, "API_KEY_", 8) == 0)
			return true;
	}
	return false;
}

void net_outcome_from_reply(struct net_outcome *oc, const char *what, int rc, const struct net_response *rs)
{
	if (rc < 0) {
		enum net_verdict v = rc == AG_EINVAL ? NET_FAIL : NET_RETRY;
		net_outcome_set(oc, v, 0, "%s: %s", what, rs->error[0] ? rs->error : ag_strerror(rc));
		return;
	}
	cJSON *root = rs->len ? cJSON_ParseWithLength(rs->body, rs->len) : NULL;
	const cJSON *j = root;
	if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 1)
		j = cJSON_GetArrayItem(j, 0);
	char msg[200];
	server_message(j, rs->body, rs->len, msg, sizeof(msg));
	enum net_verdict v = net_classify_status(rs->status);
	if (v == NET_REJECT && rs->status == 400 && config_fault(j))
		v = NET_FAIL;
	net_outcome_set(oc, v, rs->status, "%s: HTTP %ld%s%s", what, rs->status, msg[0] ? ": " : "", msg);
	oc->retry_after_ms = rs->retry_after_ms;
	if (oc->retry_after_ms < 0 && rs->status >= 400)
		oc->retry_after_ms = retry_info(j);
	oc->slow_down = rs->status == 429;
	cJSON_Delete(root);
}

/* ---- backoff ------------------------------------------------------------ */

static uint64_t xorshift(void *ctx)
{
	uint64_t *s = ctx;
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

void net_backoff_init(struct net_backoff *b, uint64_t initial_ms, uint64_t max_ms, double multiplier)
{
	memset(b, 0, sizeof(*b));
	b->initial_ms = initial_ms ? initial_ms : 1;
	b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
	b->multiplier = multiplier < 1.0 ? 1.0 : multiplier;
	b->state = ag_now_us() ^ ((uint64_t)(uintptr_t)b << 17) ^ 0x9e3779b97f4a7c15ull;
	if (!b->state)
		b->state = 1;
}

void net_backoff_reset(struct net_backoff *b)
{
	b->attempt = 0;
}

uint64_t net_backoff_next(struct net_backoff *b, int64_t floor_ms, bool slow_down)
{
	if (slow_down)
		b->attempt++;
	double window = (double)b->initial_ms * pow(b->multiplier, (double)b->attempt);
	if (!(window <= (double)b->max_ms)) /* also catches inf */
		window = (double)b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	uint64_t w = (uint64_t)window;
	uint64_t r = b->rand64 ? b->rand64(b->rand_ctx) : xorshift(&b->state);
	uint64_t d = r % (w + 1);
	/* the server's floor wins over retry.max, up to an hour */
	if (floor_ms > 0 && (uint64_t)floor_ms > d)
		d = (uint64_t)floor_ms < NET_RETRY_AFTER_CAP_MS ? (uint64_t)floor_ms : NET_RETRY_AFTER_CAP_MS;
	return d;
}
