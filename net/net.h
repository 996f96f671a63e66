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
 * errors retry; HTTP errors by net_classify_status() with the server's
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
