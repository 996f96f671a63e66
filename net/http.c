/*
 * The HTTP client: one libcurl easy handle per worker, reused across
 * requests so the connection and the TLS session stay up. Bodies are
 * read by libcurl straight from the caller's memory; base64 parts are
 * encoded on the fly into libcurl's own upload buffer.
 */
#define AG_LOG_TAG "http"
#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64_bulk.h"
#include "net.h"

struct net_http {
	CURL *curl;
	struct net_http_config cfg;
	char *ca_file;
	char errbuf[CURL_ERROR_SIZE];
	/* response body: reused, grows up to max_response */
	char *buf;
	size_t len, cap;
	bool too_big;
	struct net_response *rs;       /* the response being filled */
	/* request body */
	const struct net_part *parts;
	size_t nparts, part, off;
	uint64_t connections;
};

void net_http_config_defaults(struct net_http_config *c)
{
	memset(c, 0, sizeof(*c));
	c->connect_timeout_ms = 10000;
	c->timeout_ms = 30000;
	c->low_speed_time_ms = 30000;
	c->max_response = 4u << 20;
}

int net_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : AG_ENOMEM;
}

void net_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- callbacks ---------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct net_http *h = arg;
	size_t len = size * n;
	if (h->len + len + 1 > h->cfg.max_response + 1) {
		h->too_big = true;
		return 0;
	}
	if (h->len + len + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 16384;
		while (cap < h->len + len + 1)
			cap *= 2;
		char *nb = realloc(h->buf, cap);
		if (!nb)
			return 0;
		h->buf = nb;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, data, len);
	h->len += len;
	h->buf[h->len] = '\0';
	return len;
}

/* "Name: value\r\n": copy the trimmed value if the name matches. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return false;
	const char *v = line + nl + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vl = (size_t)(end - v);
	if (vl >= cap)
		vl = cap - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return true;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct net_http *h = arg;
	struct net_response *rs = h->rs;
	size_t len = size * n;
	char tmp[128];
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* a new response (after a 100 Continue, say): forget the last one's headers */
		rs->retry_after_ms = -1;
		rs->location[0] = rs->range[0] = rs->content_type[0] = '\0';
	} else if (header_value(line, len, "Retry-After", tmp, sizeof(tmp))) {
		rs->retry_after_ms = net_parse_retry_after(tmp, time(NULL));
	} else if (header_value(line, len, "Location", rs->location, sizeof(rs->location))) {
	} else if (header_value(line, len, "Range", rs->range, sizeof(rs->range))) {
	} else {
		header_value(line, len, "Content-Type", rs->content_type, sizeof(rs->content_type));
	}
	return len;
}

static size_t on_read(char *out, size_t size, size_t n, void *arg)
{
	struct net_http *h = arg;
	size_t room = size * n, done = 0;
	while (h->part < h->nparts && done < room) {
		const struct net_part *p = &h->parts[h->part];
		size_t left = p->len - h->off;
		if (left == 0) {
			h->part++;
			h->off = 0;
			continue;
		}
		const uint8_t *src = (const uint8_t *)p->data + h->off;
		size_t avail = room - done;
		if (!p->base64) {
			size_t k = left < avail ? left : avail;
			memcpy(out + done, src, k);
			done += k;
			h->off += k;
			continue;
		}
		/* whole 3-byte groups, or the padded tail */
		size_t k = avail / 4 * 3;
		if (k >= left)
			k = left;
		if (k == 0 || net_b64_len(k) > avail) {
			if (done)
				break; /* come back with a fresh buffer */
			return CURL_READFUNC_ABORT; /* libcurl's buffer is never this small */
		}
		done += net_b64_bulk(src, k, out + done);
		h->off += k;
	}
	return done;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct net_http *h = arg;
	if (offset != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	h->part = 0;
	h->off = 0;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	struct net_http *h = arg;
	return h->cfg.abort && atomic_load(h->cfg.abort) ? 1 : 0;
}

/* ---- handle ------------------------------------------------------------- */

int net_http_create(const struct net_http_config *c, struct net_http **out)
{
	struct net_http *h = calloc(1, sizeof(*h));
	if (!h)
		return AG_ENOMEM;
	h->cfg = *c;
	if (h->cfg.connect_timeout_ms == 0 || h->cfg.connect_timeout_ms > h->cfg.timeout_ms)
		h->cfg.connect_timeout_ms = h->cfg.timeout_ms;
	if (c->ca_file && !(h->ca_file = ag_strdup(c->ca_file)))
		goto nomem;
	h->cfg.ca_file = h->ca_file;
	if (!(h->curl = curl_easy_init()))
		goto nomem;
	CURL *e = h->curl;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* 308 means "resume", not "go there" */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)h->cfg.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->cfg.timeout_ms);
	if (h->cfg.low_speed_time_ms) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 64L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((h->cfg.low_speed_time_ms + 999) / 1000));
	}
	curl_easy_setopt(e, CURLOPT_USERAGENT, "fieldcam/" FIELDCAM_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, h);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, h);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	*out = h;
	return 0;
nomem:
	net_http_destroy(h);
	return AG_ENOMEM;
}

void net_http_destroy(struct net_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->ca_file);
	free(h->buf);
	free(h);
}

uint64_t net_http_connections(const struct net_http *h)
{
	return h->connections;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *line, bool *ok)
{
	struct curl_slist *n = curl_slist_append(l, line);
	if (!n) {
		*ok = false;
		return l;
	}
	return n;
}

/* curl keeps no copy of freed header strings; wipe the one holding a secret */
static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (strncasecmp(p->data, "Authorization:", 14) == 0)
			memset(p->data, 0, strlen(p->data));
	curl_slist_free_all(l);
}

int net_http_do(struct net_http *h, const struct net_request *rq, struct net_response *rs)
{
	CURL *e = h->curl;
	memset(rs, 0, sizeof(*rs));
	rs->retry_after_ms = -1;
	rs->body = "";
	h->rs = rs;
	h->len = 0;
	if (h->buf)
		h->buf[0] = '\0';
	h->too_big = false;
	h->errbuf[0] = '\0';
	h->parts = rq->parts;
	h->nparts = rq->nparts;
	h->part = h->off = 0;

	size_t body = 0;
	for (size_t i = 0; i < rq->nparts; i++)
		body += rq->parts[i].base64 ? net_b64_len(rq->parts[i].len) : rq->parts[i].len;

	bool ok = true;
	struct curl_slist *hdr = NULL;
	char line[2048];
	if (rq->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
		hdr = add_header(hdr, line, &ok);
	}
	if (rq->authorization && rq->authorization[0]) {
		char *a = ag_asprintf("Authorization: %s", rq->authorization);
		if (!a) {
			ok = false;
		} else {
			hdr = add_header(hdr, a, &ok);
			memset(a, 0, strlen(a));
			free(a);
		}
	}
	if (body < (1u << 20))
		hdr = add_header(hdr, "Expect:", &ok); /* no 100-continue round trip for small bodies */
	for (const char *const *p = rq->headers; p && *p; p++)
		hdr = add_header(hdr, *p, &ok);
	if (!ok) {
		free_headers(hdr);
		ag_strlcpy(rs->error, "out of memory", sizeof(rs->error));
		return AG_ENOMEM;
	}

	curl_easy_setopt(e, CURLOPT_URL, rq->url);
	/* libcurl re-sends a request whose reused connection died before any
	 * reply; on a new connection it reports the error instead */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, rq->fresh_connection ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
	bool has_body = strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0;
	if (has_body) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		if (rq->nparts == 1 && !rq->parts[0].base64) {
			/* one plain part: libcurl sends it from our memory as it is */
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->parts[0].data);
		} else if (rq->nparts == 0) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		} else {
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
		}
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
			 strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "POST") == 0 ? NULL : rq->method);

	uint64_t t0 = ag_now_ms();
	CURLcode cc = curl_easy_perform(e);
	rs->elapsed_ms = ag_now_ms() - t0;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	free_headers(hdr);
	h->rs = NULL;

	long connects = 0;
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
	rs->connects = connects;
	h->connections += (uint64_t)connects;
	rs->body = h->buf ? h->buf : "";
	rs->len = h->len;

	if (cc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &rs->status);
		return 0;
	}
	rs->status = 0;
	const char *msg = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
	int rc;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		rc = AG_ETIMEDOUT;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		rc = AG_ECANCELED;
		msg = "stopped";
		break;
	case CURLE_WRITE_ERROR:
		rc = h->too_big ? AG_ETOOBIG : AG_ENOMEM;
		if (h->too_big)
			msg = "reply larger than the limit";
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		rc = AG_EINVAL;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
	case CURLE_SSL_CACERT:
#endif
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		/* the same words whichever TLS library libcurl uses */
		rc = AG_ENET;
		snprintf(rs->error, sizeof(rs->error), "TLS: server certificate refused (%.200s)", msg);
		for (char *p = rs->error; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		return rc;
	default:
		rc = AG_ENET;
		break;
	}
	snprintf(rs->error, sizeof(rs->error), "%s", msg);
	/* one line */
	for (char *p = rs->error; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return rc;
}

/* ---- small helpers ------------------------------------------------------ */

int64_t net_parse_retry_after(const char *v, time_t now)
{
	while (*v == ' ')
		v++;
	if (isdigit((unsigned char)*v)) {
		char *end;
		unsigned long long s = strtoull(v, &end, 10);
		while (*end == ' ')
			end++;
		if (*end || s > 86400ull * 365)
			return -1;
		return (int64_t)s * 1000;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char wd[4], mon[4], zone[4];
	int d, y, hh, mm, ss;
	if (sscanf(v, "%3[A-Za-z], %d %3s %d %d:%d:%d %3s", wd, &d, mon, &y, &hh, &mm, &ss, zone) != 8 ||
	    strlen(wd) != 3 || strcmp(zone, "GMT") != 0)
		return -1;
	const char *m = strlen(mon) == 3 ? strstr(mons, mon) : NULL;
	if (!m || (m - mons) % 3 || d < 1 || d > 31 || y < 1970 || y > 9999 || hh < 0 || hh > 23 ||
	    mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return -1;
	struct tm tm = { 0 };
	tm.tm_mday = d;
	tm.tm_mon = (int)((m - mons) / 3);
	tm.tm_year = y - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	/* the same bound as delay-seconds: a year ahead is a broken clock */
	if ((uint64_t)(t - now) > 86400ull * 365)
		return -1;
	return (int64_t)(t - now) * 1000;
}

int net_url_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
		if (n + (plain ? 1 : 3) >= cap)
			return AG_ETOOBIG;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= cap)
		return AG_ETOOBIG;
	out[n] = '\0';
	return (int)n;
}
