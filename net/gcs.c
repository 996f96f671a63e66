/*
 * Cloud Storage JSON API (vertex-api.md 6): gs:// URIs, object names,
 * multipart uploads with ifGenerationMatch=0 and the 412 settlement,
 * resumable uploads that resume from the server's offset, metadata,
 * downloads and listings. Also net_call(), the authorized exchange the
 * batch and dataset calls share.
 */
#define AG_LOG_TAG "gcs"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "netpriv.h"

#define STORAGE_DEFAULT "https://storage.googleapis.com"

int net_call(struct net_client *cl, struct net_request *rq, struct net_response *rs, const char *what,
	     int *hrc, struct net_outcome *oc)
{
	*hrc = 0;
	for (int attempt = 0;; attempt++) {
		char authz[2100];
		if (net_auth_header(cl->auth, cl->http, authz, sizeof(authz), oc) < 0)
			return -1;
		rq->authorization = authz;
		int rc = net_http_do(cl->http, rq, rs);
		memset(authz, 0, sizeof(authz));
		rq->authorization = NULL;
		*hrc = rc;
		if (rc == 0 && rs->status == 401 && attempt == 0) {
			ag_log_info("%s: HTTP 401: getting a new token and trying once more", what);
			net_auth_invalidate(cl->auth);
			continue;
		}
		if (rc < 0) {
			net_outcome_from_reply(oc, what, rc, rs);
			return -1;
		}
		return 0;
	}
}

/* ---- names -------------------------------------------------------------- */

int net_gs_parse(const char *uri, char bucket[NET_GCS_BUCKET_MAX], char object[NET_GCS_NAME_MAX])
{
	if (strncmp(uri, "gs://", 5) != 0)
		return AG_EINVAL;
	const char *b = uri + 5;
	size_t bl = strcspn(b, "/");
	if (bl == 0)
		return AG_EINVAL;
	if (bl >= NET_GCS_BUCKET_MAX)
		return AG_ETOOBIG;
	/* lowercase letters, digits, '-', '_', '.'; starts and ends with a letter or digit */
	for (size_t i = 0; i < bl; i++) {
		unsigned char c = (unsigned char)b[i];
		if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || c == '.'))
			return AG_EINVAL;
	}
	if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[bl - 1]) || bl < 3)
		return AG_EINVAL;
	const char *o = b[bl] == '/' ? b + bl + 1 : b + bl;
	size_t ol = strlen(o);
	if (ol >= NET_GCS_NAME_MAX)
		return AG_ETOOBIG;
	for (size_t i = 0; i < ol; i++)
		if ((unsigned char)o[i] < 0x20 || o[i] == 0x7f)
			return AG_EINVAL; /* Cloud Storage forbids control characters */
	memcpy(bucket, b, bl);
	bucket[bl] = '\0';
	memcpy(object, o, ol + 1);
	return 0;
}

int net_gcs_escape_name(const char *name, char *out, size_t cap)
{
	return net_url_escape(name, out, cap); /* escapes everything but A-Za-z0-9-._~ */
}

void net_gcs_crc32c_b64(uint32_t crc, char out[16])
{
	uint8_t be[4] = { (uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc };
	net_b64_encode(be, 4, out);
}

static const char *storage_base(const struct net_client *cl, size_t *len)
{
	const char *b = cl->storage && cl->storage[0] ? cl->storage : STORAGE_DEFAULT;
	size_t l = strlen(b);
	while (l && b[l - 1] == '/')
		l--;
	*len = l;
	return b;
}

/* base + fmt: "/storage/v1/b/%B/o/%N..." where %B and %N are the escaped
 * bucket and name (each at most once, in that order). */
static int object_url(const struct net_client *cl, char *url, size_t cap, const char *path_before,
		      const char *bucket, const char *path_mid, const char *name, const char *tail)
{
	char eb[3 * NET_GCS_BUCKET_MAX], en[3 * NET_GCS_NAME_MAX];
	if (net_gcs_escape_name(bucket, eb, sizeof(eb)) < 0 || (name && net_gcs_escape_name(name, en, sizeof(en)) < 0))
		return AG_ETOOBIG;
	size_t bl;
	const char *base = storage_base(cl, &bl);
	int n = snprintf(url, cap, "%.*s%s%s%s%s%s", (int)bl, base, path_before, eb, path_mid ? path_mid : "",
			 name ? en : "", tail ? tail : "");
	return n < 0 || (size_t)n >= cap ? AG_ETOOBIG : 0;
}

/* ---- object resources --------------------------------------------------- */

/* An int64 field sent as a string or a number. */
static bool get_u64(cJSON *v, uint64_t *out)
{
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		if (!isdigit((unsigned char)s[0]))
			return false;
		char *end;
		errno = 0;
		unsigned long long x = strtoull(s, &end, 10);
		if (*end || errno)
			return false;
		*out = x;
		return true;
	}
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9007199254740992.0 &&
	    v->valuedouble == (double)(uint64_t)v->valuedouble) {
		*out = (uint64_t)v->valuedouble;
		return true;
	}
	return false;
}

static void copy_str(const cJSON *o, const char *k, char *out, size_t cap)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	out[0] = '\0';
	if (cJSON_IsString(v))
		ag_strlcpy(out, v->valuestring, cap);
}

static int object_from_json(const cJSON *j, struct net_gcs_object *o, const char **why)
{
	memset(o, 0, sizeof(*o));
	cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
	cJSON *bucket = cJSON_GetObjectItemCaseSensitive(j, "bucket");
	if (!cJSON_IsObject(j)) {
		*why = "object resource is not a JSON object";
	} else if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= sizeof(o->name)) {
		*why = "object resource has no usable \"name\"";
	} else if (cJSON_IsString(bucket) && strlen(bucket->valuestring) >= sizeof(o->bucket)) {
		*why = "object resource has a bucket name that is too long";
	} else if (!get_u64(cJSON_GetObjectItemCaseSensitive(j, "size"), &o->size)) {
		*why = "object resource has no int64 \"size\"";
	} else {
		get_u64(cJSON_GetObjectItemCaseSensitive(j, "generation"), &o->generation);
		ag_strlcpy(o->name, name->valuestring, sizeof(o->name));
		copy_str(j, "bucket", o->bucket, sizeof(o->bucket));
		copy_str(j, "crc32c", o->crc32c, sizeof(o->crc32c));
		copy_str(j, "md5Hash", o->md5, sizeof(o->md5));
		copy_str(j, "contentType", o->content_type, sizeof(o->content_type));
		return 0;
	}
	return AG_EPROTO;
}

static int object_elem(const cJSON *j, void *elem, const char **why)
{
	return object_from_json(j, elem, why);
}

int net_gcs_object_parse(const char *body, size_t len, struct net_gcs_object *o, const char **why)
{
	*why = NULL;
	cJSON *j = cJSON_ParseWithLength(body, len);
	int rc = object_from_json(j, o, why);
	cJSON_Delete(j);
	return rc;
}

/* A 2xx whose body is not an object resource: the exchange failed. */
static void bad_body(struct net_outcome *oc, const char *what, long status, const char *why)
{
	net_outcome_set(oc, NET_RETRY, status, "%s: HTTP %ld with an unusable body: %s", what, status, why);
}

/* ---- metadata ----------------------------------------------------------- */

int net_gcs_stat(struct net_client *cl, const char *bucket, const char *name, struct net_gcs_object *o,
		 struct net_outcome *oc)
{
	char url[4096];
	if (object_url(cl, url, sizeof(url), "/storage/v1/b/", bucket, "/o/", name, NULL) < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "object get: name too long: %s", name);
		return 0;
	}
	struct net_request rq = { .method = "GET", .url = url };
	struct net_response rs;
	int hrc;
	if (net_call(cl, &rq, &rs, "object get", &hrc, oc) < 0)
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	if (rs.status != 200) {
		net_outcome_from_reply(oc, "object get", 0, &rs);
		return 0;
	}
	const char *why;
	struct net_gcs_object tmp;
	if (net_gcs_object_parse(rs.body, rs.len, &tmp, &why) < 0) {
		bad_body(oc, "object get", rs.status, why);
		return 0;
	}
	if (o)
		*o = tmp;
	net_outcome_set(oc, NET_DONE, rs.status, "object get: HTTP %ld", rs.status);
	return 0;
}

/*
 * A 412 on an ifGenerationMatch=0 write: the name is taken. Ours if size
 * and crc32c match (a retry whose first try landed), else a conflict.
 */
static int settle_412(struct net_client *cl, const char *bucket, const char *name, uint64_t size,
		      uint32_t crc, struct net_gcs_object *o, bool *already, struct net_outcome *oc)
{
	struct net_gcs_object have;
	int rc = net_gcs_stat(cl, bucket, name, &have, oc);
	if (rc < 0)
		return rc;
	if (oc->verdict != NET_DONE) {
		if (oc->status == 404) /* gone since the 412: write again */
			net_outcome_set(oc, NET_RETRY, 404, "upload: gs://%s/%s: 412, then gone: writing again",
					bucket, name);
		return 0;
	}
	char want[16];
	net_gcs_crc32c_b64(crc, want);
	if (have.size != size || strcmp(have.crc32c, want) != 0) {
		net_outcome_set(oc, NET_FAIL, 412,
				"upload: conflict: gs://%s/%s exists with other content (%" PRIu64
				" bytes, crc32c %s; ours %" PRIu64 " bytes, crc32c %s): not overwritten",
				bucket, name, have.size, have.crc32c[0] ? have.crc32c : "none", size, want);
		return 0;
	}
	if (o)
		*o = have;
	if (already)
		*already = true;
	net_outcome_set(oc, NET_DONE, 412, "upload: gs://%s/%s: already there (same size and crc32c)", bucket,
			name);
	return 0;
}

/* ---- multipart upload --------------------------------------------------- */

int net_gcs_upload(struct net_client *cl, const char *bucket, const char *name, const char *content_type,
		   const void *data, size_t len, struct net_gcs_object *o, bool *already, struct net_outcome *oc)
{
	if (!content_type)
		content_type = "application/octet-stream";
	uint32_t crc = ag_crc32c(0, data, len);
	char crc_b64[16];
	net_gcs_crc32c_b64(crc, crc_b64);

	/* a boundary that does not occur in the data */
	char boundary[48], delim[52];
	uint64_t x = ag_now_us() ^ ((uint64_t)crc << 21) ^ 0x9e3779b97f4a7c15ull;
	for (int tries = 0;; tries++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		snprintf(boundary, sizeof(boundary), "fieldcam-%016" PRIx64, x);
		snprintf(delim, sizeof(delim), "--%s", boundary);
		if (!memmem(data, len, delim, strlen(delim)))
			break;
		if (tries > 16) { /* astronomically unlikely */
			net_outcome_set(oc, NET_FAIL, 0, "upload: no multipart boundary found for %s", name);
			return 0;
		}
	}

	cJSON *meta = cJSON_CreateObject();
	if (!meta || !cJSON_AddStringToObject(meta, "name", name) ||
	    !cJSON_AddStringToObject(meta, "contentType", content_type) ||
	    !cJSON_AddStringToObject(meta, "crc32c", crc_b64)) {
		cJSON_Delete(meta);
		return AG_ENOMEM;
	}
	char *mj = cJSON_PrintUnformatted(meta);
	cJSON_Delete(meta);
	char *head = mj ? ag_asprintf("--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n%s\r\n"
				      "--%s\r\nContent-Type: %s\r\n\r\n",
				      boundary, mj, boundary, content_type)
			: NULL;
	char *tail = ag_asprintf("\r\n--%s--\r\n", boundary);
	char *ctype = ag_asprintf("multipart/related; boundary=%s", boundary);
	free(mj);
	int ret = 0;
	if (!head || !tail || !ctype) {
		ret = AG_ENOMEM;
		goto out;
	}
	char url[4096];
	if (object_url(cl, url, sizeof(url), "/upload/storage/v1/b/", bucket, "/o?uploadType=multipart&ifGenerationMatch=0",
		       NULL, NULL) < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "upload: bucket name too long: %s", bucket);
		goto out;
	}
	struct net_part parts[3] = {
		{ head, strlen(head), false },
		{ data, len, false },
		{ tail, strlen(tail), false },
	};
	struct net_request rq = { .method = "POST", .url = url, .content_type = ctype, .parts = parts, .nparts = 3 };
	struct net_response rs;
	int hrc;
	if (already)
		*already = false;
	if (net_call(cl, &rq, &rs, "upload", &hrc, oc) < 0) {
		ret = hrc == AG_ENOMEM ? AG_ENOMEM : 0;
		goto out;
	}
	if (rs.status == 412) {
		ret = settle_412(cl, bucket, name, len, crc, o, already, oc);
		goto out;
	}
	if (rs.status < 200 || rs.status >= 300) {
		net_outcome_from_reply(oc, "upload", 0, &rs);
		goto out;
	}
	const char *why;
	struct net_gcs_object tmp;
	if (net_gcs_object_parse(rs.body, rs.len, &tmp, &why) < 0) {
		bad_body(oc, "upload", rs.status, why);
		goto out;
	}
	if (o)
		*o = tmp;
	net_outcome_set(oc, NET_DONE, rs.status, "upload: gs://%s/%s: HTTP %ld", bucket, name, rs.status);
out:
	free(head);
	free(tail);
	free(ctype);
	return ret;
}

/* ---- download and list -------------------------------------------------- */

int net_gcs_download(struct net_client *cl, const char *bucket, const char *name, size_t max, char **out,
		     size_t *len, struct net_outcome *oc)
{
	char url[4096];
	if (object_url(cl, url, sizeof(url), "/storage/v1/b/", bucket, "/o/", name, "?alt=media") < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "download: name too long: %s", name);
		return 0;
	}
	struct net_request rq = { .method = "GET", .url = url };
	struct net_response rs;
	int hrc;
	if (net_call(cl, &rq, &rs, "download", &hrc, oc) < 0) {
		if (hrc == AG_ETOOBIG)
			net_outcome_set(oc, NET_FAIL, 0, "download: gs://%s/%s is larger than the reply limit", bucket,
					name);
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	}
	if (rs.status != 200) {
		net_outcome_from_reply(oc, "download", 0, &rs);
		return 0;
	}
	if (rs.len > max) {
		net_outcome_set(oc, NET_FAIL, rs.status, "download: gs://%s/%s has %zu bytes, over the %zu-byte limit",
				bucket, name, rs.len, max);
		return 0;
	}
	char *b = malloc(rs.len + 1);
	if (!b)
		return AG_ENOMEM;
	memcpy(b, rs.body, rs.len);
	b[rs.len] = '\0';
	*out = b;
	*len = rs.len;
	net_outcome_set(oc, NET_DONE, rs.status, "download: HTTP %ld", rs.status);
	return 0;
}

void net_gcs_page_free(struct net_gcs_page *p)
{
	if (!p)
		return;
	free(p->items);
	memset(p, 0, sizeof(*p));
}

int net_gcs_list(struct net_client *cl, const char *bucket, const char *prefix, const char *page_token,
		 struct net_gcs_page *p, struct net_outcome *oc)
{
	char url[6144], ep[3 * NET_GCS_NAME_MAX], et[1600];
	if (net_gcs_escape_name(prefix ? prefix : "", ep, sizeof(ep)) < 0 ||
	    net_url_escape(page_token ? page_token : "", et, sizeof(et)) < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "list: prefix or page token too long");
		return 0;
	}
	char tail[sizeof(ep) + sizeof(et) + 32];
	snprintf(tail, sizeof(tail), "?prefix=%s%s%s", ep, et[0] ? "&pageToken=" : "", et);
	if (object_url(cl, url, sizeof(url), "/storage/v1/b/", bucket, "/o", NULL, tail) < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "list: URL too long");
		return 0;
	}
	struct net_request rq = { .method = "GET", .url = url };
	struct net_response rs;
	int hrc;
	if (net_call(cl, &rq, &rs, "list", &hrc, oc) < 0)
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	if (rs.status != 200) {
		net_outcome_from_reply(oc, "list", 0, &rs);
		return 0;
	}
	const char *why = NULL;
	struct net_gcs_page np = { 0 };
	cJSON *j = cJSON_ParseWithLength(rs.body, rs.len);
	void *elems = NULL;
	int prc = net_parse_page(j, "items", sizeof(*np.items), object_elem, &elems, &np.n, np.next_page_token,
				 sizeof(np.next_page_token), &why);
	np.items = elems;
	cJSON_Delete(j);
	if (prc < 0)
		return prc;
	if (why) {
		bad_body(oc, "list", rs.status, why);
		return 0;
	}
	net_gcs_page_free(p);
	*p = np;
	net_outcome_set(oc, NET_DONE, rs.status, "list: HTTP %ld, %zu objects", rs.status, np.n);
	return 0;
}

/* ---- resumable upload --------------------------------------------------- */

int net_gcs_resumable_init(struct net_gcs_resumable *u, const char *bucket, const char *name,
			   const char *content_type, uint64_t total, uint32_t crc, const char *session)
{
	memset(u, 0, sizeof(*u));
	if (strlen(bucket) >= sizeof(u->bucket) || strlen(name) >= sizeof(u->name) ||
	    (content_type && strlen(content_type) >= sizeof(u->content_type)) ||
	    (session && strlen(session) >= sizeof(u->session)))
		return AG_ETOOBIG;
	ag_strlcpy(u->bucket, bucket, sizeof(u->bucket));
	ag_strlcpy(u->name, name, sizeof(u->name));
	ag_strlcpy(u->content_type, content_type ? content_type : "application/octet-stream",
		   sizeof(u->content_type));
	u->total = total;
	u->crc32c = crc;
	u->chunk = NET_GCS_CHUNK_DEFAULT;
	if (session && session[0]) {
		ag_strlcpy(u->session, session, sizeof(u->session));
		u->need_query = true; /* where the server stands is unknown */
	}
	return 0;
}

/* POST uploadType=resumable: a new session URI in u->session. */
static int resumable_start(struct net_client *cl, struct net_gcs_resumable *u, struct net_gcs_object *o,
			   bool *already, struct net_outcome *oc)
{
	char url[4096];
	char en[3 * NET_GCS_NAME_MAX], q[3 * NET_GCS_NAME_MAX + 64];
	if (net_gcs_escape_name(u->name, en, sizeof(en)) < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "resumable start: name too long");
		return 0;
	}
	snprintf(q, sizeof(q), "/o?uploadType=resumable&name=%s&ifGenerationMatch=0", en);
	if (object_url(cl, url, sizeof(url), "/upload/storage/v1/b/", u->bucket, q, NULL, NULL) < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "resumable start: URL too long");
		return 0;
	}
	char crc_b64[16];
	net_gcs_crc32c_b64(u->crc32c, crc_b64);
	cJSON *meta = cJSON_CreateObject();
	char *mj = NULL;
	if (meta && cJSON_AddStringToObject(meta, "name", u->name) &&
	    cJSON_AddStringToObject(meta, "contentType", u->content_type) &&
	    cJSON_AddStringToObject(meta, "crc32c", crc_b64))
		mj = cJSON_PrintUnformatted(meta);
	cJSON_Delete(meta);
	if (!mj)
		return AG_ENOMEM;
	char h1[160], h2[64];
	snprintf(h1, sizeof(h1), "X-Upload-Content-Type: %s", u->content_type);
	snprintf(h2, sizeof(h2), "X-Upload-Content-Length: %" PRIu64, u->total);
	const char *hdrs[] = { h1, h2, NULL };
	struct net_part part = { mj, strlen(mj), false };
	struct net_request rq = {
		.method = "POST", .url = url, .content_type = "application/json; charset=UTF-8",
		.headers = hdrs, .parts = &part, .nparts = 1,
	};
	struct net_response rs;
	int hrc, ret = 0;
	if (net_call(cl, &rq, &rs, "resumable start", &hrc, oc) < 0) {
		ret = hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	} else if (rs.status == 412) {
		ret = settle_412(cl, u->bucket, u->name, u->total, u->crc32c, o, already, oc);
		if (ret == 0 && oc->verdict == NET_DONE)
			u->done = true;
	} else if (rs.status < 200 || rs.status >= 300) {
		net_outcome_from_reply(oc, "resumable start", 0, &rs);
	} else if (!rs.location[0] || strlen(rs.location) >= sizeof(u->session) - 1) {
		bad_body(oc, "resumable start", rs.status, "no usable Location header");
	} else {
		ag_strlcpy(u->session, rs.location, sizeof(u->session));
		u->offset = 0;
		u->need_query = false;
		net_outcome_set(oc, NET_DONE, rs.status, "resumable start: HTTP %ld", rs.status);
	}
	free(mj);
	return ret;
}

/* "bytes=0-LAST" -> LAST + 1; none -> 0. false when unparseable. */
static bool persisted(const char *range, uint64_t *out)
{
	if (!range[0]) {
		*out = 0;
		return true;
	}
	unsigned long long first, last;
	int n = -1;
	if (sscanf(range, "bytes=%llu-%llu%n", &first, &last, &n) != 2 || n < 0 || range[n] || first != 0 ||
	    last == UINT64_MAX)
		return false;
	*out = last + 1;
	return true;
}

int net_gcs_resumable_send(struct net_client *cl, struct net_gcs_resumable *u, const void *data,
			   struct net_gcs_object *o, bool *already, struct net_outcome *oc)
{
	if (already)
		*already = false;
	if (u->done) {
		net_outcome_set(oc, NET_DONE, 200, "resumable: gs://%s/%s already complete", u->bucket, u->name);
		return 0;
	}
	size_t chunk = u->chunk / NET_GCS_CHUNK_UNIT * NET_GCS_CHUNK_UNIT;
	if (chunk == 0)
		chunk = NET_GCS_CHUNK_UNIT;
	bool restarted = false;
	unsigned stalls = 0; /* exchanges in a row that moved nothing */
	bool asked_after_400 = false;
	for (;;) {
		if (!u->session[0]) {
			int rc = resumable_start(cl, u, o, already, oc);
			if (rc < 0 || oc->verdict != NET_DONE || u->done)
				return rc;
		}
		if (stalls > 3) {
			u->need_query = true;
			net_outcome_set(oc, NET_RETRY, 308, "resumable: gs://%s/%s: the server keeps no more bytes",
					u->bucket, u->name);
			return 0;
		}
		char cr[96];
		uint64_t first = u->offset, n = 0;
		/* a status query also when all bytes are there but no object came back */
		bool query = u->need_query || first >= u->total;
		if (query) {
			snprintf(cr, sizeof(cr), "Content-Range: bytes */%" PRIu64, u->total);
		} else {
			n = u->total - first;
			if (n > chunk)
				n = chunk; /* a multiple of the unit, as non-final chunks must be */
			snprintf(cr, sizeof(cr), "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
				 first + n - 1, u->total);
		}
		const char *hdrs[] = { cr, NULL };
		struct net_part part = { (const uint8_t *)data + first, (size_t)n, false };
		struct net_request rq = {
			.method = "PUT", .url = u->session, .content_type = u->content_type, .headers = hdrs,
			.parts = n ? &part : NULL, .nparts = n ? 1 : 0,
		};
		struct net_response rs;
		int hrc;
		const char *what = query ? "resumable query" : "resumable put";
		if (net_call(cl, &rq, &rs, what, &hrc, oc) < 0) {
			u->need_query = true; /* what arrived is the server's to say */
			return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
		}
		if (rs.status == 308) {
			uint64_t have;
			if (!persisted(rs.range, &have) || have > u->total) {
				u->need_query = true;
				bad_body(oc, what, rs.status, "308 with an unusable Range header");
				return 0;
			}
			if (!query && have < first + n)
				ag_log_info("resumable put: gs://%s/%s: the server kept bytes up to %" PRIu64
					    " of the %" PRIu64 "..%" PRIu64 " sent: resending from there",
					    u->bucket, u->name, have, first, first + n);
			stalls = have > u->offset || (query && have < u->total) ? 0 : stalls + 1;
			if (have > u->offset)
				asked_after_400 = false;
			u->offset = have;
			u->need_query = false;
			continue;
		}
		if (rs.status == 200 || rs.status == 201) {
			const char *why;
			struct net_gcs_object tmp;
			if (net_gcs_object_parse(rs.body, rs.len, &tmp, &why) < 0) {
				u->need_query = true;
				bad_body(oc, what, rs.status, why);
				return 0;
			}
			if (o)
				*o = tmp;
			u->offset = u->total;
			u->need_query = false;
			u->done = true;
			net_outcome_set(oc, NET_DONE, rs.status, "resumable: gs://%s/%s: HTTP %ld", u->bucket, u->name,
					rs.status);
			return 0;
		}
		if (rs.status == 404 || rs.status == 410) {
			if (restarted) {
				net_outcome_from_reply(oc, what, 0, &rs);
				oc->verdict = NET_RETRY;
				return 0;
			}
			ag_log_info("%s: gs://%s/%s: session gone (HTTP %ld): starting a new one", what, u->bucket,
				    u->name, rs.status);
			restarted = true;
			u->restarts++;
			u->session[0] = '\0';
			u->offset = 0;
			u->need_query = false;
			continue;
		}
		if (rs.status == 412) {
			int rc = settle_412(cl, u->bucket, u->name, u->total, u->crc32c, o, already, oc);
			if (rc == 0 && oc->verdict == NET_DONE)
				u->done = true;
			return rc;
		}
		if (rs.status == 400 && !query && !asked_after_400) {
			/* libcurl re-sends a PUT whose reused connection died before
			 * the reply; if the server had kept the first copy, the second
			 * starts behind its offset (400). Ask where it stands once. */
			ag_log_info("%s: gs://%s/%s: HTTP 400 on bytes %" PRIu64 "..: asking the server for its offset",
				    what, u->bucket, u->name, first);
			asked_after_400 = true;
			u->need_query = true;
			continue;
		}
		net_outcome_from_reply(oc, what, 0, &rs);
		if (oc->verdict == NET_RETRY)
			u->need_query = true; /* 408, 429, 5xx: resume, do not start over */
		return 0;
	}
}
