/*
 * Online prediction as both `run` and `predict` use it.
 */
#define AG_LOG_TAG "online"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "online.h"

int ag_online_open(struct ag_online *o, const struct ag_config *cfg, struct net_auth *auth, atomic_bool *abort)
{
	memset(o, 0, sizeof(*o));
	o->cfg = cfg;
	atomic_init(&o->abort, false);
	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = cfg->tls.ca_file;
	hc.timeout_ms = cfg->upload.timeout_ms;
	hc.abort = abort ? abort : &o->abort;
	if (net_http_create(&hc, &o->http) < 0)
		return AG_ENOMEM;
	if (auth) {
		o->auth = auth;
	} else {
		struct net_auth_config ac = {
			.type = (enum net_auth_type)cfg->auth.type, /* same order as the config's list */
			.key_file = cfg->auth.key_file,
			.token_uri = cfg->api.oauth_token_uri,
			.token_file = cfg->auth.token_file,
			.api_key = cfg->auth.api_key,
		};
		char why[512];
		int rc = net_auth_create(&ac, &o->auth, why, sizeof(why));
		if (rc < 0) {
			if (rc == AG_ECONFIG)
				ag_log_err("auth: %s", why);
			ag_online_close(o);
			return rc;
		}
		o->own_auth = true;
	}
	o->cl.http = o->http;
	o->cl.auth = o->auth;
	o->cl.aiplatform = cfg->api.aiplatform;
	o->pc.gemini = cfg->online.kind == AG_KIND_GEMINI;
	o->pc.resource = cfg->online.endpoint;
	o->pc.confidence_threshold = cfg->online.confidence_threshold;
	o->pc.max_predictions = (unsigned)cfg->online.max_predictions;
	o->pc.prompt = cfg->online.prompt;
	o->pc.labels = cfg->online.labels;
	return 0;
}

void ag_online_close(struct ag_online *o)
{
	drv_encoder_destroy(o->enc);
	if (o->own_auth)
		net_auth_destroy(o->auth);
	net_http_destroy(o->http);
	o->enc = NULL;
	o->auth = NULL;
	o->http = NULL;
}

int ag_online_fit(struct ag_online *o, const uint8_t *jpeg, size_t len, const uint8_t **out, size_t *out_len,
		  char *how, size_t how_len)
{
	/* Gemini takes about 7 MB inline (UNVERIFIED); AutoML 1.5 MB per request */
	size_t limit = o->pc.gemini ? 7000000u : NET_PREDICT_MAX_JPEG;
	how[0] = '\0';
	*out = jpeg;
	*out_len = len;
	if (len <= limit)
		return 0;
	if (!o->enc) {
		struct drv_encoder_config ec;
		drv_encoder_config_defaults(&ec);
		if (drv_encoder_create(&ec, &o->enc) < 0)
			return AG_ENOMEM;
	}
	static const struct { unsigned q, scale; } steps[] = { { 75, 1 }, { 60, 1 }, { 75, 2 }, { 60, 4 } };
	for (size_t i = 0; i < AG_NELEM(steps); i++) {
		const uint8_t *j;
		size_t jl;
		int rc = drv_encoder_reencode(o->enc, jpeg, len, steps[i].q, steps[i].scale, &j, &jl);
		if (rc < 0)
			return rc == AG_ECORRUPT ? AG_ECORRUPT : rc;
		if (jl <= limit) {
			snprintf(how, how_len, "%zu bytes is over the %zu-byte online limit: sent re-encoded at quality %u%s (%zu bytes)",
				 len, limit, steps[i].q, steps[i].scale == 1 ? "" : steps[i].scale == 2 ? ", half size" : ", quarter size", jl);
			*out = j;
			*out_len = jl;
			return 0;
		}
	}
	return AG_ETOOBIG;
}

char *ag_online_result_line(const struct ag_online *o, const char *key, const char *id, const char *captured_at,
			    const struct net_prediction *p)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, key, id ? id : "");
	if (captured_at)
		cJSON_AddStringToObject(j, "captured_at", captured_at);
	cJSON_AddStringToObject(j, "mode", "online");
	cJSON_AddStringToObject(j, "model", p->model[0] ? p->model : o->cfg->online.endpoint);
	if (p->deployed_model_id[0])
		cJSON_AddStringToObject(j, "deployed_model_id", p->deployed_model_id);
	else
		cJSON_AddNullToObject(j, "deployed_model_id");
	cJSON *labels = cJSON_AddArrayToObject(j, "labels");
	for (size_t i = 0; i < p->nlabels; i++) {
		cJSON *l = cJSON_CreateObject();
		cJSON_AddItemToArray(labels, l);
		if (p->labels[i].id[0])
			cJSON_AddStringToObject(l, "id", p->labels[i].id);
		else
			cJSON_AddNullToObject(l, "id");
		cJSON_AddStringToObject(l, "name", p->labels[i].name);
		cJSON_AddNumberToObject(l, "confidence", p->labels[i].confidence);
	}
	if (p->blocked[0])
		cJSON_AddStringToObject(j, "blocked", p->blocked);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}
