/*
 * Auth providers (SPEC.md): service_account (an RS256 JWT signed with the
 * key file's key, exchanged for an access token at the token URI, cached
 * and refreshed at 80 % of its life or after a 401), token_file (re-read
 * when the file changes), api_key and none. One struct per process,
 * shared by the workers under a lock. Tokens are never logged.
 */
#define AG_LOG_TAG "auth"
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "net.h"

#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define MAX_KEY_FILE (64 * 1024)
#define MAX_TOKEN_FILE (16 * 1024)

struct net_auth {
	pthread_mutex_t mu;
	enum net_auth_type type;
	char *key_file, *token_uri_cfg, *token_file, *api_key;
	/* service account, loaded from key_file */
	struct net_signer *signer;
	char *email, *kid, *token_uri;
	bool reload;
	/* the cached access token */
	char token[2048];
	uint64_t token_at_ms, token_life_ms; /* monotonic */
	uint64_t fetches;
	/* token_file: what was read last */
	struct stat st;
	bool have_st;
};

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

static bool safe_url(const char *u)
{
	return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://127.", 11) == 0 ||
	       strncmp(u, "http://localhost", 16) == 0 || strncmp(u, "http://[::1]", 12) == 0;
}

static void drop_key(struct net_auth *a)
{
	net_signer_destroy(a->signer);
	a->signer = NULL;
	free(a->email);
	free(a->kid);
	free(a->token_uri);
	a->email = a->kid = a->token_uri = NULL;
}

/* Read and check the service-account key file. */
static int load_key(struct net_auth *a, char *why, size_t why_len)
{
	char *text = NULL;
	size_t len = 0;
	int rc = ag_file_read(a->key_file, MAX_KEY_FILE, &text, &len);
	if (rc < 0) {
		snprintf(why, why_len, "%s: cannot read the key file: %s", a->key_file, ag_strerror(rc));
		return AG_ECONFIG;
	}
	cJSON *j = cJSON_ParseWithLength(text, len);
	wipe(text, len);
	free(text);
	rc = AG_ECONFIG;
	const char *what = NULL;
	cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	cJSON *email = cJSON_GetObjectItemCaseSensitive(j, "client_email");
	cJSON *pk = cJSON_GetObjectItemCaseSensitive(j, "private_key");
	cJSON *kid = cJSON_GetObjectItemCaseSensitive(j, "private_key_id");
	cJSON *uri = cJSON_GetObjectItemCaseSensitive(j, "token_uri");
	const char *token_uri = a->token_uri_cfg ? a->token_uri_cfg
			      : cJSON_IsString(uri) ? uri->valuestring : DEFAULT_TOKEN_URI;
	if (!cJSON_IsObject(j))
		what = "not a JSON object (expected Google's service-account key file)";
	else if (!cJSON_IsString(type) || strcmp(type->valuestring, "service_account") != 0)
		what = "\"type\" is not \"service_account\"";
	else if (!cJSON_IsString(email) || !email->valuestring[0])
		what = "\"client_email\" is missing";
	else if (!cJSON_IsString(pk) || !pk->valuestring[0])
		what = "\"private_key\" is missing";
	else if (!cJSON_IsString(kid) || !kid->valuestring[0])
		what = "\"private_key_id\" is missing";
	else if (!safe_url(token_uri))
		what = "the token URI is not https:// (or http:// on loopback)";
	if (what) {
		snprintf(why, why_len, "%s: %s", a->key_file, what);
		goto out;
	}
	drop_key(a);
	const char *swhy = NULL;
	rc = net_signer_create(pk->valuestring, &a->signer, &swhy);
	if (rc < 0) {
		snprintf(why, why_len, "%s: %s", a->key_file, rc == AG_ENOMEM ? "out of memory" : swhy);
		rc = rc == AG_ENOMEM ? rc : AG_ECONFIG;
		goto out;
	}
	a->email = ag_strdup(email->valuestring);
	a->kid = ag_strdup(kid->valuestring);
	a->token_uri = ag_strdup(token_uri);
	if (!a->email || !a->kid || !a->token_uri) {
		drop_key(a);
		rc = AG_ENOMEM;
		goto out;
	}
	rc = 0;
out:
	if (j && cJSON_IsString(pk))
		wipe(pk->valuestring, strlen(pk->valuestring));
	cJSON_Delete(j);
	return rc;
}

int net_auth_create(const struct net_auth_config *c, struct net_auth **out, char *why, size_t why_len)
{
	why[0] = '\0';
	struct net_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return AG_ENOMEM;
	pthread_mutex_init(&a->mu, NULL);
	a->type = c->type;
	int rc = AG_ENOMEM;
	if ((c->key_file && !(a->key_file = ag_strdup(c->key_file))) ||
	    (c->token_uri && !(a->token_uri_cfg = ag_strdup(c->token_uri))) ||
	    (c->token_file && !(a->token_file = ag_strdup(c->token_file))) ||
	    (c->api_key && !(a->api_key = ag_strdup(c->api_key))))
		goto fail;
	switch (a->type) {
	case NET_AUTH_SERVICE_ACCOUNT:
		if (!a->key_file) {
			snprintf(why, why_len, "auth.key_file: missing");
			rc = AG_ECONFIG;
			goto fail;
		}
		if ((rc = load_key(a, why, why_len)) < 0)
			goto fail;
		break;
	case NET_AUTH_TOKEN_FILE:
		if (!a->token_file) {
			snprintf(why, why_len, "auth.token_file: missing");
			rc = AG_ECONFIG;
			goto fail;
		}
		break;
	case NET_AUTH_API_KEY:
		if (!a->api_key || !a->api_key[0]) {
			snprintf(why, why_len, "auth.api_key: missing");
			rc = AG_ECONFIG;
			goto fail;
		}
		break;
	case NET_AUTH_NONE:
		break;
	}
	*out = a;
	return 0;
fail:
	net_auth_destroy(a);
	return rc;
}

void net_auth_destroy(struct net_auth *a)
{
	if (!a)
		return;
	drop_key(a);
	free(a->key_file);
	free(a->token_uri_cfg);
	free(a->token_file);
	if (a->api_key) {
		wipe(a->api_key, strlen(a->api_key));
		free(a->api_key);
	}
	wipe(a->token, sizeof(a->token));
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static bool token_fresh(const struct net_auth *a)
{
	if (!a->token[0])
		return false;
	uint64_t age = ag_now_ms() - a->token_at_ms;
	return age < a->token_life_ms / 10 * 8;
}

/* The JWT-bearer grant (vertex-api.md 7.1). Called with the lock held. */
static int fetch_token(struct net_auth *a, struct net_http *h, struct net_outcome *oc)
{
	time_t now = time(NULL);
	if (now < 1704067200) { /* 2024-01-01: an RTC-less board that has not synced yet */
		net_outcome_set(oc, NET_RETRY, 0, "token: the system clock is not set yet (%lld): waiting for time sync",
				(long long)now);
		return -1;
	}
	char header[512], claims[1536];
	cJSON *hj = cJSON_CreateObject(), *cj = cJSON_CreateObject();
	cJSON_AddStringToObject(hj, "alg", "RS256");
	cJSON_AddStringToObject(hj, "typ", "JWT");
	cJSON_AddStringToObject(hj, "kid", a->kid);
	cJSON_AddStringToObject(cj, "iss", a->email);
	cJSON_AddStringToObject(cj, "scope", SCOPE);
	cJSON_AddStringToObject(cj, "aud", a->token_uri);
	cJSON_AddNumberToObject(cj, "iat", (double)now);
	cJSON_AddNumberToObject(cj, "exp", (double)(now + 3600));
	bool ok = cJSON_PrintPreallocated(hj, header, sizeof(header), false) &&
		  cJSON_PrintPreallocated(cj, claims, sizeof(claims), false);
	cJSON_Delete(hj);
	cJSON_Delete(cj);
	if (!ok) {
		net_outcome_set(oc, NET_FAIL, 0, "token: key file fields too long");
		return -1;
	}
	char *jwt = NULL;
	if (net_jwt_rs256(a->signer, header, claims, &jwt) < 0) {
		net_outcome_set(oc, NET_FAIL, 0, "token: cannot sign the JWT with the key file's key");
		return -1;
	}
	static const char grant[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
	struct net_part parts[2] = { { grant, sizeof(grant) - 1, false }, { jwt, strlen(jwt), false } };
	struct net_request rq = {
		.method = "POST", .url = a->token_uri,
		.content_type = "application/x-www-form-urlencoded",
		.parts = parts, .nparts = 2,
	};
	struct net_response rs;
	int rc = net_http_do(h, &rq, &rs);
	wipe(jwt, strlen(jwt));
	free(jwt);
	a->fetches++;
	if (rc < 0 || rs.status != 200) {
		net_outcome_from_reply(oc, "token", rc, &rs);
		if (oc->verdict == NET_DONE) /* a 2xx that is not 200 has no token in it */
			oc->verdict = NET_RETRY;
		/* a refused grant (bad key, bad clock, unknown account) waits for a fix */
		if (rs.status == 400 || rs.status == 401 || rs.status == 403)
			oc->verdict = NET_FAIL;
		return -1;
	}
	cJSON *j = cJSON_ParseWithLength(rs.body, rs.len);
	cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
	cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
	cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "token_type");
	const char *bad = NULL;
	if (!cJSON_IsObject(j))
		bad = "reply is not JSON";
	else if (!cJSON_IsString(tok) || !tok->valuestring[0] || strlen(tok->valuestring) >= sizeof(a->token) ||
		 strpbrk(tok->valuestring, " \r\n"))
		bad = "no usable access_token";
	else if (!cJSON_IsNumber(exp) || exp->valuedouble < 1 || exp->valuedouble > 86400 * 7)
		bad = "no usable expires_in";
	else if (cJSON_IsString(type) && strcasecmp(type->valuestring, "Bearer") != 0)
		bad = "token_type is not Bearer";
	if (bad) {
		net_outcome_set(oc, NET_RETRY, rs.status, "token: %s", bad);
	} else {
		ag_strlcpy(a->token, tok->valuestring, sizeof(a->token));
		a->token_at_ms = ag_now_ms() - rs.elapsed_ms; /* count its life from when it was asked for */
		a->token_life_ms = (uint64_t)(exp->valuedouble * 1000);
		ag_log_info("new access token, valid %.0f s", exp->valuedouble);
	}
	if (cJSON_IsString(tok))
		wipe(tok->valuestring, strlen(tok->valuestring));
	cJSON_Delete(j);
	return bad ? -1 : 0;
}

/* token_file: re-read when the file changed (or after a 401). */
static int read_token_file(struct net_auth *a, struct net_outcome *oc)
{
	struct stat st;
	if (stat(a->token_file, &st) < 0) {
		net_outcome_set(oc, NET_FAIL, 0, "%s: cannot read the token file: %s", a->token_file,
				ag_strerror(ag_errno_code(errno)));
		return -1;
	}
	if (a->token[0] && a->have_st && st.st_mtim.tv_sec == a->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == a->st.st_mtim.tv_nsec && st.st_size == a->st.st_size && st.st_ino == a->st.st_ino)
		return 0;
	char *text = NULL;
	size_t len = 0;
	int rc = ag_file_read(a->token_file, MAX_TOKEN_FILE, &text, &len);
	if (rc < 0) {
		net_outcome_set(oc, NET_FAIL, 0, "%s: cannot read the token file: %s", a->token_file, ag_strerror(rc));
		return -1;
	}
	size_t b = 0, e = len;
	while (b < e && (text[b] == ' ' || text[b] == '\n' || text[b] == '\r' || text[b] == '\t'))
		b++;
	while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\n' || text[e - 1] == '\r' || text[e - 1] == '\t'))
		e--;
	const char *bad = NULL;
	if (e == b)
		bad = "is empty";
	else if (e - b >= sizeof(a->token))
		bad = "holds more than one access token";
	for (size_t i = b; !bad && i < e; i++)
		if ((unsigned char)text[i] <= ' ' || text[i] == 0x7f)
			bad = "holds more than one access token";
	if (!bad) {
		memcpy(a->token, text + b, e - b);
		a->token[e - b] = '\0';
		a->st = st;
		a->have_st = true;
		a->fetches++;
	}
	wipe(text, len);
	free(text);
	if (bad) {
		net_outcome_set(oc, NET_FAIL, 0, "%s: the token file %s", a->token_file, bad);
		return -1;
	}
	return 0;
}

int net_auth_header(struct net_auth *a, struct net_http *h, char *buf, size_t len, struct net_outcome *oc)
{
	buf[0] = '\0';
	int rc = 0;
	pthread_mutex_lock(&a->mu);
	switch (a->type) {
	case NET_AUTH_SERVICE_ACCOUNT:
		if (a->reload) {
			char why[256];
			if (load_key(a, why, sizeof(why)) < 0) {
				net_outcome_set(oc, NET_FAIL, 0, "%s", why);
				rc = -1;
				break;
			}
			a->reload = false;
			wipe(a->token, sizeof(a->token));
		}
		if (!token_fresh(a) && fetch_token(a, h, oc) < 0) {
			rc = -1;
			break;
		}
		snprintf(buf, len, "Bearer %s", a->token);
		break;
	case NET_AUTH_TOKEN_FILE:
		if (a->reload) {
			a->have_st = false;
			a->reload = false;
		}
		if (read_token_file(a, oc) < 0) {
			rc = -1;
			break;
		}
		snprintf(buf, len, "Bearer %s", a->token);
		break;
	case NET_AUTH_API_KEY:
	case NET_AUTH_NONE:
		break;
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void net_auth_invalidate(struct net_auth *a)
{
	pthread_mutex_lock(&a->mu);
	wipe(a->token, sizeof(a->token));
	a->have_st = false;
	pthread_mutex_unlock(&a->mu);
}

void net_auth_reload(struct net_auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->reload = true;
	pthread_mutex_unlock(&a->mu);
}

const char *net_auth_api_key(const struct net_auth *a)
{
	return a->type == NET_AUTH_API_KEY ? a->api_key : NULL;
}

uint64_t net_auth_token_fetches(const struct net_auth *a)
{
	return a->fetches;
}
