/*
 * fieldcam net: HTTP client on libcurl, TLS settings, auth, backoff and
 * the Vertex AI / Cloud Storage protocol code. Uses only the base (ag.h).
 *
 * How the pieces fit:
 *
 *	net_global_init();                           // once, before threads
 *	struct net_http *h;  net_http_create(&hc, &h);     // one per worker
 *	struct net_auth *a;  net_auth_create(&ac, &a);     // one per process
 *	struct net_client cl = { .http = h, .auth = a, .aiplatform = base };
 *	struct net_outcome oc;
 *	struct net_prediction p;
 *	net_predict(&cl, &pc, jpeg, len, &p, &oc);   // one attempt
 *	...oc.verdict says: done, retry (after net_backoff_next), reject, fail
 *
 * Every request goes through net_http_do() (one easy handle reused, so
 * connections and TLS sessions are reused) and every retry decision
 * through net_classify() and struct net_backoff. TLS verification is
 * always on: there is no switch to turn it off.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ag.h"

/* Run-time versions of the libraries net/ is linked with. Borrowed
 * strings, valid for the life of the process. */
struct net_versions {
	const char *curl;        /* "7.88.1" */
	const char *tls_backend; /* what libcurl reports: "OpenSSL/3.0.x", "mbedTLS/2.28.3" */
	const char *mbedtls;     /* "2.28.3" */
};
void net_versions_get(struct net_versions *v);

/* libcurl's global state: call once from the main thread before any
 * other thread starts. Returns 0 or AG_ENOMEM. */
int net_global_init(void);
void net_global_cleanup(void);

/* ---- crypto (mbedTLS) -------------------------------------------------- */

/* Standard base64 with padding: length of the encoding of n bytes. */
size_t net_b64_len(size_t n);
/* Encode n bytes into out (net_b64_len(n) + 1 bytes, NUL-terminated).
 * Returns the length. */
size_t net_b64_encode(const void *in, size_t n, char *out);
/* base64url without padding (JWT). out needs net_b64_len(n) + 1 bytes. */
size_t net_b64url_encode(const void *in, size_t n, char *out);
/* Decode standard base64 (padding required). Returns the length or
 * AG_EINVAL (not base64) / AG_ETOOBIG (out too small). */
int net_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

void net_sha256(const void *data, size_t len, uint8_t out[32]);

/* An RSA private key for RS256 signatures. */
struct net_signer;
/* Load a PEM private key (PKCS#8 or PKCS#1). Returns 0, AG_EINVAL (not a
 * usable RSA key: *why says what), AG_ENOMEM. */
int net_signer_create(const char *pem, struct net_signer **out, const char **why);
void net_signer_destroy(struct net_signer *s);
/* RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over data. sig needs 512 bytes.
 * Returns the signature length or AG_EINVAL. */
int net_signer_rs256(struct net_signer *s, const void *data, size_t len, uint8_t *sig, size_t cap);
/* A signed JWT "b64url(header).b64url(claims).b64url(sig)" (heap; free).
 * Returns 0, AG_EINVAL, AG_ENOMEM. */
int net_jwt_rs256(struct net_signer *s, const char *header_json, const char *claims_json, char **out);

/* ---- HTTP client (libcurl) --------------------------------------------- */

struct net_http_config {
	const char *ca_file;          /* NULL: the system's CA bundle */
	uint64_t connect_timeout_ms;  /* default 10 s (never above timeout_ms) */
	uint64_t timeout_ms;          /* whole request; default 30 s */
	uint64_t low_speed_time_ms;   /* abort below 64 bytes/s for this long; default 30 s */
	size_t max_response;          /* response body cap; default 4 MiB */
	const atomic_bool *abort;     /* when true, a running transfer stops (may be NULL) */
};
void net_http_config_defaults(struct net_http_config *c);

/* One piece of a request body: bytes sent as they are, or base64-encoded
 * on the fly while libcurl reads them (no encoded copy in memory). */
struct net_part {
	const void *data;
	size_t len;
	bool base64;
};

struct net_request {
	const char *method;            /* "GET", "POST", "PUT", "DELETE" */
	const char *url;
	const char *content_type;      /* NULL: none */
	const char *authorization;     /* full header value, e.g. "Bearer X", or NULL */
	const char *const *headers;    /* extra "Name: value" lines, NULL-terminated, or NULL */
	const struct net_part *parts;  /* the body, or NULL */
	size_t nparts;
	bool fresh_connection;         /* open a new connection for this request: a reset
	                                * then fails it instead of libcurl silently sending
	                                * it again (creates that carry no request id) */
};

/* A response: valid until the next request on the same handle. */
struct net_response {
	long status;                   /* HTTP status; 0 when no reply came */
	const char *body;              /* NUL-terminated (may hold NULs); "" when none */
	size_t len;
	int64_t retry_after_ms;        /* Retry-After as a delay from now; -1 none */
	char location[1024];           /* Location header, "" if none */
	char range[64];                /* Range header (resumable uploads), "" if none */
	char content_type[96];
	char error[256];               /* transport error, one line, when status is 0 */
	uint64_t elapsed_ms;
	long connects;                 /* new connections this request made (0 = reused) */
};

struct net_http;
int net_http_create(const struct net_http_config *c, struct net_http **out);
void net_http_destroy(struct net_http *h);
/*
 * Send one request and wait for the reply. Returns 0 when an HTTP reply
 * arrived (any status: look at rs->status), AG_ETIMEDOUT, AG_ENET
 * (connect, reset, DNS, TLS, certificate refused), AG_ETOOBIG (reply over
 * max_response), AG_ECANCELED (abort flag), AG_EINVAL (bad request), with
 * a one-line rs->error. Never logs credentials.
 */
int net_http_do(struct net_http *h, const struct net_request *rq, struct net_response *rs);
/* TLS handshakes (new connections) made by this handle so far. */
uint64_t net_http_connections(const struct net_http *h);

/*
 * Parse a Retry-After value (delay-seconds or an HTTP date) against now
 * (wall clock, seconds). Returns the delay in ms, or -1 if unparseable.
 */
int64_t net_parse_retry_after(const char *v, time_t now);

/* Percent-encode s for a URL path segment or query value (everything but
 * unreserved characters). Returns the length or AG_ETOOBIG. */
int net_url_escape(const char *s, char *out, size_t cap);

/* ---- retry policy ------------------------------------------------------ */

enum net_verdict {
	NET_DONE,    /* accepted: a 2xx with a valid body */
	NET_RETRY,   /* transient: try again after a backoff */
	NET_REJECT,  /* the payload is at fault for good (400, 413): set it aside */
	NET_FAIL,    /* configuration, credentials or permission: keep the data,
	              * report, try again much later (retry.max) */
};

/* The result of one attempt. */
struct net_outcome {
	enum net_verdict verdict;
	long status;                   /* HTTP status, 0 for transport errors */
	int64_t retry_after_ms;        /* server's floor for the next delay, -1 none */
	bool slow_down;                /* 429: back off longer */
	char msg[256];                 /* one line: what went wrong */
};
const char *net_verdict_name(enum net_verdict v);

/* What a status code means (vertex-api.md 0.3). 2xx: NET_DONE. */
enum net_verdict net_classify_status(long status);

/*
 * Fill oc from a finished exchange that was not a success: transport
 * errors retry; HTTP errors by net_classify_status(), except that a 400
 * saying FAILED_PRECONDITION or naming the API key (ErrorInfo reason
 * API_KEY_*) is NET_FAIL, not the payload's fault; with the server's
 * message (Google's error envelope, Cloud Storage's, OAuth's, or the
 * first line of a plain body), prefixed with what (e.g. "predict").
 */
void net_outcome_from_reply(struct net_outcome *oc, const char *what, int rc,
			    const struct net_response *rs);
void net_outcome_set(struct net_outcome *oc, enum net_verdict v, long status,
		     const char *fmt, ...) AG_PRINTF(4, 5);

/*
 * Capped exponential backoff with full jitter: the delay before retry n
 * (n = 0, 1, ...) is uniform in [0, min(max, initial * multiplier^n)].
 * A Retry-After (or RetryInfo) is a floor under it, honoured even above
 * max up to NET_RETRY_AFTER_CAP_MS. The random source comes from outside
 * so tests can drive it.
 */
#define NET_RETRY_AFTER_CAP_MS 3600000u
struct net_backoff {
	uint64_t initial_ms, max_ms;
	double multiplier;
	unsigned attempt;                          /* retries so far */
	uint64_t (*rand64)(void *ctx);             /* NULL: a private xorshift seeded from the clock */
	void *rand_ctx;
	uint64_t state;                            /* private: the default generator */
};
void net_backoff_init(struct net_backoff *b, uint64_t initial_ms, uint64_t max_ms, double multiplier);
/* The next delay in ms, given the server's floor (-1 none) and whether it
 * asked us to slow down (429: the window grows two steps at once). */
uint64_t net_backoff_next(struct net_backoff *b, int64_t floor_ms, bool slow_down);
void net_backoff_reset(struct net_backoff *b);

/* ---- auth -------------------------------------------------------------- */

enum net_auth_type { NET_AUTH_SERVICE_ACCOUNT, NET_AUTH_TOKEN_FILE, NET_AUTH_API_KEY, NET_AUTH_NONE };

struct net_auth_config {
	enum net_auth_type type;
	const char *key_file;        /* service_account: Google's JSON key */
	const char *token_uri;       /* overrides the key file's token_uri (api.oauth_token_uri) */
	const char *token_file;      /* token_file: a file holding an access token */
	const char *api_key;         /* api_key */
};

struct net_auth;
/* Load what the provider needs now (a bad key file is AG_ECONFIG with
 * *why set, one line). Returns 0, AG_ECONFIG, AG_ENOMEM. */
int net_auth_create(const struct net_auth_config *c, struct net_auth **out, char *why, size_t why_len);
void net_auth_destroy(struct net_auth *a);

/*
 * The Authorization header value for a request ("Bearer TOKEN"; "" for
 * api_key and none), fetching or refreshing the token with h when needed
 * (at 80 % of its life). On failure oc says why (NET_RETRY for transport
 * errors and 5xx at the token endpoint, NET_FAIL for a refused grant).
 * Returns 0 or -1. The token is never logged.
 */
int net_auth_header(struct net_auth *a, struct net_http *h, char *buf, size_t len, struct net_outcome *oc);
/* An API answered 401: the next net_auth_header() fetches a new token. */
void net_auth_invalidate(struct net_auth *a);
/* SIGHUP: re-read the key or token file on next use. */
void net_auth_reload(struct net_auth *a);
/* The api_key for a "?key=" query, or NULL. */
const char *net_auth_api_key(const struct net_auth *a);
/* Tokens fetched so far (for tests and status). */
uint64_t net_auth_token_fetches(const struct net_auth *a);

/* ---- Vertex AI online prediction --------------------------------------- */

/* Largest JPEG sent to :predict as it is (1.5 MB request after base64). */
#define NET_PREDICT_MAX_JPEG 1150000u

struct net_client {
	struct net_http *http;
	struct net_auth *auth;
	const char *aiplatform;      /* base URL, or NULL for Google's regional host */
	const char *storage;         /* Cloud Storage base URL, or NULL for https://storage.googleapis.com */
};

struct net_predict_config {
	bool gemini;                 /* generateContent instead of :predict */
	const char *resource;        /* projects/P/locations/L/endpoints/E or .../publishers/google/models/M */
	double confidence_threshold;
	unsigned max_predictions;
	const char *prompt;          /* gemini: NULL for the default */
	char *const *labels;         /* gemini: allowed names, NULL-terminated, or NULL */
};

struct net_label {
	char id[32];                 /* as the server sent it (19-digit ids stay exact) */
	char name[128];
	double confidence;
};

#define NET_MAX_LABELS 32

struct net_prediction {
	struct net_label labels[NET_MAX_LABELS];
	size_t nlabels;
	char deployed_model_id[32];
	char model[256];
	char blocked[40];            /* gemini: finish or block reason when no labels */
};

/*
 * The base URL for resource: cl->aiplatform if set, else
 * https://LOCATION-aiplatform.googleapis.com (aiplatform.googleapis.com
 * for "global"). Returns the length or AG_ETOOBIG / AG_EINVAL.
 */
int net_aiplatform_base(const char *configured, const char *resource, char *out, size_t len);

/*
 * One attempt to classify one JPEG. On NET_DONE, *p holds the labels.
 * A 401 gets one new token and one repeat inside the attempt.
 * Returns 0 (look at oc->verdict) or AG_ENOMEM.
 */
int net_predict(struct net_client *cl, const struct net_predict_config *pc,
		const uint8_t *jpeg, size_t len, struct net_prediction *p, struct net_outcome *oc);

/* Parse a :predict reply strictly. Returns 0 or AG_EPROTO with *why. */
int net_predict_parse(const char *body, size_t len, struct net_prediction *p, const char **why);
/* Parse a generateContent reply. 0, or AG_EPROTO with *why; a blocked or
 * cut answer is 0 with p->blocked set. */
int net_gemini_parse(const char *body, size_t len, char *const *allowed, struct net_prediction *p,
		     const char **why);

/* ==== Cloud Storage, batch prediction jobs, datasets (issue #8) ======== */
/*
 * The protocol layer for batch mode and dataset export (vertex-api.md 2,
 * 3.1, 4, 5, 6). Every call that talks to a server is one attempt, like
 * net_predict(): it returns 0 with *oc filled (or AG_ENOMEM, AG_EINVAL for
 * arguments that can never work) and the caller drives retries with
 * net_backoff_next(oc->retry_after_ms, oc->slow_down). A 401 gets one new
 * token and one repeat inside the attempt. Out-structs are filled only on
 * NET_DONE. Storage calls use cl->storage, Vertex calls cl->aiplatform.
 */

/*
 * One authorized exchange: net_auth_header(), net_http_do(), and on a 401
 * net_auth_invalidate() and one repeat. Returns 0 when a reply arrived
 * (rs->status holds any status: the caller judges it), else -1 with *oc
 * filled (transport error via net_outcome_from_reply(), or the token could
 * not be had); *hrc receives net_http_do()'s code. what names the call in
 * messages. rq->authorization is overwritten.
 */
int net_call(struct net_client *cl, struct net_request *rq, struct net_response *rs, const char *what,
	     int *hrc, struct net_outcome *oc);

/* ---- gs:// URIs and object names ---- */

#define NET_GCS_BUCKET_MAX 223   /* 222 characters at most (dotted names) */
#define NET_GCS_NAME_MAX 1025    /* 1024 bytes of UTF-8 at most */

/* "gs://BUCKET/OBJECT" -> bucket and object ("" for "gs://B" or "gs://B/").
 * Returns 0, or AG_EINVAL (not gs://, bad bucket name, control characters)
 * / AG_ETOOBIG (over the limits above). */
int net_gs_parse(const char *uri, char bucket[NET_GCS_BUCKET_MAX], char object[NET_GCS_NAME_MAX]);

/* Percent-encode an object name for a path segment or query value: every
 * byte but unreserved characters, so "/" is "%2F". Returns the length or
 * AG_ETOOBIG. */
int net_gcs_escape_name(const char *name, char *out, size_t cap);

/* An object's metadata as Cloud Storage sends it. */
struct net_gcs_object {
	char bucket[NET_GCS_BUCKET_MAX];
	char name[NET_GCS_NAME_MAX];
	uint64_t generation;
	uint64_t size;
	char crc32c[16];             /* base64 of the big-endian CRC-32C, "" if absent */
	char md5[32];                /* base64, "" if absent */
	char content_type[96];
};

/* The base64 of the big-endian CRC-32C of data, as Cloud Storage writes it
 * (8 characters + NUL). */
void net_gcs_crc32c_b64(uint32_t crc, char out[16]);

/* Parse an object resource. 0, or AG_EPROTO with *why. */
int net_gcs_object_parse(const char *body, size_t len, struct net_gcs_object *o, const char **why);

/*
 * Upload data as bucket/name with ifGenerationMatch=0 (multipart: metadata
 * with name, contentType and crc32c, so the server checks the bytes).
 * NET_DONE with *o (may be NULL) and *already (may be NULL) false: written.
 * A 412 is settled in the same attempt (vertex-api 6.2): the existing
 * object's size and crc32c equal ours = NET_DONE with *already true;
 * different = NET_FAIL status 412 "conflict" (never overwritten).
 * For images and small files: the body is sent from data as it is.
 */
int net_gcs_upload(struct net_client *cl, const char *bucket, const char *name, const char *content_type,
		   const void *data, size_t len, struct net_gcs_object *o, bool *already, struct net_outcome *oc);

/* Metadata of bucket/name. A missing object is NET_FAIL with status 404. */
int net_gcs_stat(struct net_client *cl, const char *bucket, const char *name, struct net_gcs_object *o,
		 struct net_outcome *oc);

/* The bytes of bucket/name (?alt=media) into a heap buffer (*out, free(),
 * NUL-terminated; *len). An object over max bytes is NET_FAIL (and so is
 * one over the handle's max_response). Missing: NET_FAIL status 404. */
int net_gcs_download(struct net_client *cl, const char *bucket, const char *name, size_t max, char **out,
		     size_t *len, struct net_outcome *oc);

/* One page of a listing. */
struct net_gcs_page {
	struct net_gcs_object *items; /* heap; net_gcs_page_free() */
	size_t n;
	char next_page_token[512];    /* "" on the last page */
};
void net_gcs_page_free(struct net_gcs_page *p);

/* One page of the objects whose names start with prefix ("" all), from
 * page_token (NULL or "" for the first). Loop while next_page_token[0].
 * *p is replaced (the old items are freed) on NET_DONE only. */
int net_gcs_list(struct net_client *cl, const char *bucket, const char *prefix, const char *page_token,
		 struct net_gcs_page *p, struct net_outcome *oc);

/* ---- resumable uploads (vertex-api 6.1) ---- */

#define NET_GCS_CHUNK_UNIT 262144u               /* non-final chunks are multiples */
#define NET_GCS_CHUNK_DEFAULT (4u * NET_GCS_CHUNK_UNIT)

/*
 * A resumable upload's state. Persist `session` once set (after
 * net_gcs_resumable_send() returns, whatever the verdict): with it, a
 * restarted process resumes where the server stands
 * (net_gcs_resumable_init(..., session)). The data must be the same bytes
 * on every call: crc32 and total pin them.
 */
struct net_gcs_resumable {
	char bucket[NET_GCS_BUCKET_MAX];
	char name[NET_GCS_NAME_MAX];
	char content_type[96];
	uint64_t total;              /* object size */
	uint32_t crc32c;             /* of all the data: the server checks it at the end */
	size_t chunk;                /* bytes per PUT, rounded down to NET_GCS_CHUNK_UNIT */
	char session[1024];          /* session URI (Location), "" before the start */
	uint64_t offset;             /* bytes the server has persisted, as far as we know */
	bool need_query;             /* ask the server for its offset before sending */
	bool done;                   /* the object exists (NET_DONE was returned) */
	unsigned restarts;           /* dead sessions (404/410) replaced so far */
};

/* Set up u for data of total bytes with CRC-32C crc. session: a persisted
 * session URI to resume, or NULL/"" to start a new one. Returns 0 or
 * AG_ETOOBIG (names or session too long). */
int net_gcs_resumable_init(struct net_gcs_resumable *u, const char *bucket, const char *name,
			   const char *content_type, uint64_t total, uint32_t crc, const char *session);

/*
 * One attempt to move the upload forward: start a session if there is
 * none (POST uploadType=resumable, ifGenerationMatch=0, metadata with
 * crc32c), ask where the server stands when the last attempt broke off
 * (PUT bytes * / TOTAL), then PUT chunks from the server's offset until
 * the last one answers 200/201 (NET_DONE, u->done, *o filled if not NULL).
 * A 308's Range is what the server kept, maybe less than was sent. A
 * transport error, 408, 429 or 5xx is NET_RETRY with u->need_query set:
 * the next call resumes, never resends from 0. A dead session (404/410)
 * is dropped and one new session started within the attempt (u->restarts
 * counts them; persist u->session again). A 412 (the object exists) is
 * settled by size and crc32c as net_gcs_upload() does: *already.
 * data is total bytes and stays the caller's.
 */
int net_gcs_resumable_send(struct net_client *cl, struct net_gcs_resumable *u, const void *data,
			   struct net_gcs_object *o, bool *already, struct net_outcome *oc);

/* ---- batch prediction jobs (vertex-api 2, 3.1, 4) ---- */

enum net_batch_format {
	NET_BATCH_AUTOML,   /* {"content","mimeType"} lines */
	NET_BATCH_GEMINI,   /* {"request": GenerateContentRequest} lines */
	NET_BATCH_OPENAI,   /* {"custom_id","method","url","body"} lines (images: UNVERIFIED by Google) */
};
const char *net_batch_format_name(enum net_batch_format f);

#define NET_LABEL_KEY "fieldcam_batch"
#define NET_LABEL_MAX 63

/* A label value is 0..63 of lowercase letters, digits, '_' and '-'. */
bool net_label_valid(const char *v);
/* A label value from an id: lowercased, other characters as '-', cut at
 * 63. Different ids can give the same value: match displayName too.
 * out needs NET_LABEL_MAX + 1 bytes. */
void net_label_from_id(const char *id, char out[NET_LABEL_MAX + 1]);

/* A google.rpc.Status inside a resource: gRPC code and message. */
struct net_status {
	int code;
	char message[256];
};

/* What a gRPC code on one batch item means: 3, 5, 9, 11 = NET_REJECT (the
 * record is at fault); anything else (4, 13, 14, unknown) = NET_RETRY
 * (resubmit it in a later batch). */
enum net_verdict net_batch_item_verdict(int grpc_code);

struct net_batch_job_config {
	const char *parent;                 /* projects/P/locations/L */
	const char *display_name;
	const char *model;                  /* projects/../models/M, publishers/google/models/gemini-..., publishers/P/models/M */
	enum net_batch_format format;
	double confidence_threshold;        /* automl only (modelParameters) */
	unsigned max_predictions;           /* automl only; 0: not sent */
	const char *const *input_uris;      /* gs:// JSONL objects */
	size_t ninput;
	const char *output_prefix;          /* gs://BUCKET/PREFIX/ */
	const char *label;                  /* labels.fieldcam_batch value (net_label_valid) or NULL */
};

#define NET_BATCH_MAX_PARTIAL 20

struct net_batch_job {
	char name[256];                     /* projects/N/locations/L/batchPredictionJobs/ID */
	char display_name[256];
	char model[256];
	char state[48];                     /* "JOB_STATE_..." as sent ("JOB_STATE_UNSPECIFIED" if absent) */
	bool terminal;
	bool has_error;
	struct net_status error;            /* FAILED, CANCELLED */
	struct net_status partial[NET_BATCH_MAX_PARTIAL];
	size_t npartial;
	int64_t successful, failed, incomplete; /* completionStats; -1 unknown */
	char output_dir[1024];              /* outputInfo.gcsOutputDirectory, "" before output */
	char label[NET_LABEL_MAX + 1];      /* labels.fieldcam_batch, "" if none */
	char create_time[40];
};

/* True for SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED, CANCELLED, EXPIRED (with
 * or without the JOB_STATE_ prefix); unknown states are not terminal. */
bool net_batch_state_terminal(const char *state);

/* The create request body (heap JSON, free()), or NULL with *why. */
char *net_batch_job_json(const struct net_batch_job_config *jc, const char **why);
/* Parse a job resource. 0, or AG_EPROTO with *why. */
int net_batch_job_parse(const char *body, size_t len, struct net_batch_job *job, const char **why);

/*
 * One create attempt, on a fresh connection so a reset is never re-sent
 * by libcurl. *maybe_created (not NULL) is set true when the job may exist
 * without our knowing its name (no reply: reset, timeout; or a 5xx): the
 * caller must then net_batch_list() by label before creating again; the
 * message says so too. A bad config is NET_REJECT/NET_FAIL from the server
 * or AG_EINVAL before sending (oc->msg says why).
 */
int net_batch_create(struct net_client *cl, const struct net_batch_job_config *jc, struct net_batch_job *job,
		     bool *maybe_created, struct net_outcome *oc);
/* Get a job by name. A deleted job is NET_FAIL status 404. */
int net_batch_get(struct net_client *cl, const char *name, struct net_batch_job *job, struct net_outcome *oc);
/* Ask to cancel (best effort; poll until CANCELLED or another final state). */
int net_batch_cancel(struct net_client *cl, const char *name, struct net_outcome *oc);

struct net_batch_page {
	struct net_batch_job *jobs;         /* heap; net_batch_page_free() */
	size_t n;
	char next_page_token[512];
};
void net_batch_page_free(struct net_batch_page *p);
/* One page of the jobs under parent with labels.fieldcam_batch = label
 * (NULL: all), from page_token (NULL/"" first). Newest first on Google
 * (UNVERIFIED): compare create_time. *p replaced on NET_DONE only. */
int net_batch_list(struct net_client *cl, const char *parent, const char *label, const char *page_token,
		   struct net_batch_page *p, struct net_outcome *oc);

/* ---- batch input and output lines ---- */

struct net_batch_item {
	const char *uri;                    /* gs:// image */
	const char *mime_type;              /* NULL: image/jpeg */
	const char *custom_id;              /* openai: the record id (join key) */
	const char *prompt;                 /* gemini, openai: NULL for a default */
	const char *model;                  /* openai: body.model (the MODEL_ID) */
	unsigned max_tokens;                /* gemini, openai: 0 for 256 */
	char *const *labels;                /* gemini: allowed names for responseSchema, or NULL */
};

/* One input line for f, "\n"-terminated (heap, free()), or NULL with *why
 * (a field the format needs is missing, or no memory). */
char *net_batch_input_line(enum net_batch_format f, const struct net_batch_item *it, const char **why);

/* One output line, parsed. */
struct net_batch_result {
	char key[NET_GCS_NAME_MAX + 8];     /* the gs:// URI (automl, gemini) or custom_id (openai) */
	bool is_error;
	struct net_status error;            /* when is_error (code 0: only a message was given) */
	enum net_verdict verdict;           /* NET_DONE, or net_batch_item_verdict() for errors */
	struct net_prediction pred;         /* labels when !is_error (blocked set when cut or refused) */
};

/*
 * Parse one line of a predictions or errors file of format f (without or
 * with its "\n"). allowed limits label names (gemini, openai answers), or
 * NULL. Ids as strings or numbers keep all their digits. Returns 0, or
 * AG_EPROTO with *why (not JSON, no join key, unusable prediction).
 */
int net_batch_parse_line(enum net_batch_format f, const char *line, size_t len, char *const *allowed,
			 struct net_batch_result *r, const char **why);

/* ---- datasets and long-running operations (vertex-api 5) ---- */

struct net_operation {
	char name[512];                     /* .../operations/ID: persist it */
	char target[512];                   /* the resource it works on: name up to "/operations/" */
	bool done;
	bool has_error;
	struct net_status error;
	char response_type[160];            /* response["@type"] when done */
	char response_name[512];            /* response.name when there is one (the dataset) */
};

/* Parse an Operation. 0, or AG_EPROTO with *why. */
int net_operation_parse(const char *body, size_t len, struct net_operation *op, const char **why);

/* Create an image dataset under parent (projects/P/locations/L): a fresh
 * connection and *maybe_created as for net_batch_create(). NET_DONE gives
 * the operation; its target is the dataset's name. */
int net_dataset_create(struct net_client *cl, const char *parent, const char *display_name,
		       struct net_operation *op, bool *maybe_created, struct net_outcome *oc);
/* Import the JSONL/CSV files uris[0..n) into dataset (its name) with the
 * single- or multi-label image classification schema. Repeating imports
 * again. */
int net_dataset_import(struct net_client *cl, const char *dataset, const char *const *uris, size_t n,
		       bool multi_label, struct net_operation *op, struct net_outcome *oc);
/* Poll an operation by name. */
int net_operation_get(struct net_client *cl, const char *name, struct net_operation *op, struct net_outcome *oc);
