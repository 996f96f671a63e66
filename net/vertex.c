/*
 * Vertex AI online prediction: AutoML image classification (:predict) and
 * Gemini (:generateContent) with the image inline (vertex-api.md 1 and 3).
 * The request body is JSON around the image; the image goes out as
 * base64 encoded while libcurl sends it.
 */
#define AG_LOG_TAG "vertex"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "netpriv.h"

#define IMAGE_MARK "@@fieldcam-image@@"
#define DEFAULT_PROMPT \
	"Classify this image. Answer with JSON {\"labels\": [{\"name\": ..., \"confidence\": 0..1}]}, best first."

int net_aiplatform_base(const char *configured, const char *resource, char *out, size_t len)
{
	int n;
	if (configured) {
		size_t l = strlen(configured);
		while (l && configured[l - 1] == '/')
			l--;
		n = snprintf(out, len, "%.*s", (int)l, configured);
	} else {
		/* projects/P/locations/L/... */
		const char *p = strstr(resource, "/locations/");
		if (!p)
			return AG_EINVAL;
		p += strlen("/locations/");
		size_t l = strcspn(p, "/");
		if (l == 0)
			return AG_EINVAL;
		if (l == 6 && strncmp(p, "global", 6) == 0)
			n = snprintf(out, len, "https://aiplatform.googleapis.com");
		else
			n = snprintf(out, len, "https://%.*s-aiplatform.googleapis.com", (int)l, p);
	}
	return n < 0 || (size_t)n >= len ? AG_ETOOBIG : n;
}

/* ---- request bodies ----------------------------------------------------- */

static cJSON *automl_body(const struct net_predict_config *pc)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *inst = cJSON_AddArrayToObject(root, "instances");
	cJSON *i0 = cJSON_CreateObject();
	cJSON_AddItemToArray(inst, i0);
	cJSON_AddStringToObject(i0, "content", IMAGE_MARK);
	cJSON_AddStringToObject(i0, "mimeType", "image/jpeg");
	cJSON *par = cJSON_AddObjectToObject(root, "parameters");
	cJSON_AddNumberToObject(par, "confidenceThreshold", pc->confidence_threshold);
	cJSON_AddNumberToObject(par, "maxPredictions", pc->max_predictions ? pc->max_predictions : 10);
	return root;
}

cJSON *net_label_schema(char *const *labels)
{
	cJSON *schema = cJSON_CreateObject();
	cJSON_AddStringToObject(schema, "type", "OBJECT");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(schema, "required"), cJSON_CreateString("labels"));
	cJSON *lab = cJSON_AddObjectToObject(cJSON_AddObjectToObject(schema, "properties"), "labels");
	cJSON_AddStringToObject(lab, "type", "ARRAY");
	cJSON *items = cJSON_AddObjectToObject(lab, "items");
	cJSON_AddStringToObject(items, "type", "OBJECT");
	cJSON *ireq = cJSON_AddArrayToObject(items, "required");
	cJSON_AddItemToArray(ireq, cJSON_CreateString("name"));
	cJSON_AddItemToArray(ireq, cJSON_CreateString("confidence"));
	cJSON *props = cJSON_AddObjectToObject(items, "properties");
	cJSON *nm = cJSON_AddObjectToObject(props, "name");
	cJSON_AddStringToObject(nm, "type", "STRING");
	if (labels) {
		cJSON *en = cJSON_AddArrayToObject(nm, "enum");
		for (char *const *l = labels; *l; l++)
			cJSON_AddItemToArray(en, cJSON_CreateString(*l));
		cJSON_AddItemToArray(en, cJSON_CreateString("none"));
	}
	cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "confidence"), "type", "NUMBER");
	return schema;
}

static cJSON *gemini_body(const struct net_predict_config *pc)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *contents = cJSON_AddArrayToObject(root, "contents");
	cJSON *c0 = cJSON_CreateObject();
	cJSON_AddItemToArray(contents, c0);
	cJSON_AddStringToObject(c0, "role", "user");
	cJSON *parts = cJSON_AddArrayToObject(c0, "parts");
	cJSON *img = cJSON_CreateObject();
	cJSON_AddItemToArray(parts, img);
	cJSON *inl = cJSON_AddObjectToObject(img, "inlineData");
	cJSON_AddStringToObject(inl, "mimeType", "image/jpeg");
	cJSON_AddStringToObject(inl, "data", IMAGE_MARK);
	cJSON *txt = cJSON_CreateObject();
	cJSON_AddItemToArray(parts, txt);
	cJSON_AddStringToObject(txt, "text", pc->prompt ? pc->prompt : DEFAULT_PROMPT);

	cJSON *gc = cJSON_AddObjectToObject(root, "generationConfig");
	cJSON_AddNumberToObject(gc, "temperature", 0);
	cJSON_AddNumberToObject(gc, "maxOutputTokens", 256);
	cJSON_AddStringToObject(gc, "responseMimeType", "application/json");
	cJSON_AddItemToObject(gc, "responseSchema", net_label_schema(pc->labels));
	cJSON *tc = cJSON_AddObjectToObject(gc, "thinkingConfig");
	cJSON_AddNumberToObject(tc, "thinkingBudget", 0);
	return root;
}

/* ---- reply parsing ------------------------------------------------------ */

/* The whole body must be one JSON value (whitespace around it only). */
static cJSON *parse_whole(const char *body, size_t len)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!j)
		return NULL;
	while (end && end < body + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	if (!end || end != body + len) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static void clear_prediction(struct net_prediction *p)
{
	memset(p, 0, sizeof(*p));
}

/*
 * Split the raw text of the array after the first '"ids"' key at or after
 * from into element texts. Returns the count (max n), -1 if not found.
 */
static int raw_array(const char *s, const char *end, const char **from, const char *el[], size_t ell[], int n)
{
	for (const char *p = *from; p + 5 <= end; p++) {
		if (memcmp(p, "\"ids\"", 5) != 0 || (p > s && p[-1] == '\\'))
			continue;
		const char *q = p + 5;
		while (q < end && isspace((unsigned char)*q))
			q++;
		if (q >= end || *q != ':')
			continue;
		for (q++; q < end && isspace((unsigned char)*q); q++)
			;
		if (q >= end || *q != '[')
			continue;
		*from = p + 5;
		int k = 0;
		for (q++;;) {
			while (q < end && isspace((unsigned char)*q))
				q++;
			if (q < end && *q == ']' && k == 0)
				return 0;
			const char *t = q;
			if (q < end && *q == '"') {
				for (q++; q < end && *q != '"'; q++)
					if (*q == '\\')
						q++;
				q++;
			} else {
				while (q < end && *q != ',' && *q != ']' && !isspace((unsigned char)*q))
					q++;
			}
			if (q > end)
				return -1;
			if (k < n) {
				el[k] = t;
				ell[k] = (size_t)(q - t);
			}
			k++;
			while (q < end && isspace((unsigned char)*q))
				q++;
			if (q < end && *q == ']')
				return k;
			if (q >= end || *q != ',')
				return -1;
			q++;
		}
	}
	return -1;
}

/*
 * Label ids as sent: strings as they are, numbers from the raw text (a
 * double would round 19-digit ids). The raw array is the "ids" array whose
 * elements agree with what cJSON read.
 */
bool net_exact_ids(const char *s, size_t len, const cJSON *ids, struct net_label *labels, int n)
{
	bool numbers = false;
	const cJSON *v;
	int i = 0;
	cJSON_ArrayForEach(v, ids) {
		if (i < n && cJSON_IsString(v)) {
			if (strlen(v->valuestring) >= sizeof(labels[i].id))
				return false;
			ag_strlcpy(labels[i].id, v->valuestring, sizeof(labels[i].id));
		} else if (cJSON_IsNumber(v)) {
			numbers = true;
		} else if (i < n) {
			return false;
		}
		i++;
	}
	if (!numbers)
		return true;
	int total = cJSON_GetArraySize(ids);
	const char *el[NET_MAX_LABELS];
	size_t ell[NET_MAX_LABELS];
	const char *from = s, *end = s + len;
	for (;;) {
		int k = raw_array(s, end, &from, el, ell, NET_MAX_LABELS);
		if (k < 0)
			return false;
		if (k != total)
			continue;
		bool ok = true;
		i = 0;
		cJSON_ArrayForEach(v, ids) {
			if (i >= n)
				break;
			if (cJSON_IsNumber(v)) {
				char tmp[32];
				if (ell[i] == 0 || ell[i] >= sizeof(tmp)) {
					ok = false;
					break;
				}
				memcpy(tmp, el[i], ell[i]);
				tmp[ell[i]] = '\0';
				for (size_t c = 0; c < ell[i] && ok; c++)
					ok = isdigit((unsigned char)tmp[c]) || (c == 0 && tmp[c] == '-' && ell[i] > 1);
				if (!ok || strtod(tmp, NULL) != v->valuedouble) {
					ok = false;
					break;
				}
				ag_strlcpy(labels[i].id, tmp, sizeof(labels[i].id));
			} else if (el[i][0] != '"') {
				ok = false;
				break;
			}
			i++;
		}
		if (ok)
			return true;
	}
}

int net_predict_parse(const char *body, size_t len, struct net_prediction *p, const char **why)
{
	clear_prediction(p);
	*why = NULL;
	cJSON *j = parse_whole(body, len);
	cJSON *preds = cJSON_GetObjectItemCaseSensitive(j, "predictions");
	cJSON *p0 = cJSON_GetArrayItem(preds, 0);
	cJSON *ids = cJSON_GetObjectItemCaseSensitive(p0, "ids");
	cJSON *names = cJSON_GetObjectItemCaseSensitive(p0, "displayNames");
	cJSON *confs = cJSON_GetObjectItemCaseSensitive(p0, "confidences");
	cJSON *dm = cJSON_GetObjectItemCaseSensitive(j, "deployedModelId");
	cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
	if (!cJSON_IsObject(j))
		*why = "reply is not a JSON object";
	else if (!cJSON_IsArray(preds))
		*why = "reply has no \"predictions\" array";
	else if (cJSON_GetArraySize(preds) != 1)
		*why = "reply does not have exactly one prediction for the one image sent";
	else if (!cJSON_IsObject(p0))
		*why = "predictions[0] is not an object";
	else if (!cJSON_IsArray(ids) || !cJSON_IsArray(names) || !cJSON_IsArray(confs))
		*why = "predictions[0] lacks the ids, displayNames and confidences arrays";
	else if (cJSON_GetArraySize(ids) != cJSON_GetArraySize(names) ||
		 cJSON_GetArraySize(ids) != cJSON_GetArraySize(confs))
		*why = "predictions[0]: ids, displayNames and confidences differ in length";
	if (*why)
		goto out;
	int n = cJSON_GetArraySize(ids);
	if (!net_exact_ids(body, len, ids, p->labels, n < NET_MAX_LABELS ? n : NET_MAX_LABELS)) {
		*why = "predictions[0]: an id is neither a string nor an integer (or too long)";
		goto out;
	}
	for (int i = 0; i < n && !*why; i++) {
		cJSON *nm = cJSON_GetArrayItem(names, i);
		cJSON *cf = cJSON_GetArrayItem(confs, i);
		if (!cJSON_IsString(nm) || !cJSON_IsNumber(cf) || !(cf->valuedouble >= 0 && cf->valuedouble <= 1)) {
			*why = "predictions[0]: a displayName is not a string or a confidence not a number in [0, 1]";
			break;
		}
		if ((size_t)i >= NET_MAX_LABELS)
			continue; /* more labels than anyone asked for: keep the best */
		struct net_label *l = &p->labels[p->nlabels];
		if (strlen(nm->valuestring) >= sizeof(l->name))
			*why = "predictions[0]: a displayName is too long";
		ag_strlcpy(l->name, nm->valuestring, sizeof(l->name));
		l->confidence = cf->valuedouble;
		p->nlabels++;
	}
	if (!*why && cJSON_IsString(dm))
		ag_strlcpy(p->deployed_model_id, dm->valuestring, sizeof(p->deployed_model_id));
	if (!*why && cJSON_IsString(model))
		ag_strlcpy(p->model, model->valuestring, sizeof(p->model));
out:
	cJSON_Delete(j);
	return *why ? AG_EPROTO : 0;
}

static bool allowed(char *const *list, const char *name)
{
	if (!list)
		return true;
	for (char *const *l = list; *l; l++)
		if (strcmp(*l, name) == 0)
			return true;
	return false;
}

int net_answer_labels(const cJSON *labels, char *const *allowed_names, struct net_prediction *p, const char **why)
{
	if (!cJSON_IsArray(labels)) {
		*why = "the model's answer is not JSON with a \"labels\" array";
		return AG_EPROTO;
	}
	const cJSON *l;
	cJSON_ArrayForEach(l, labels) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(l, "name");
		const cJSON *cf = cJSON_GetObjectItemCaseSensitive(l, "confidence");
		if (!cJSON_IsString(nm) || !cJSON_IsNumber(cf)) {
			*why = "the model's answer has a label without a string name and a number confidence";
			return AG_EPROTO;
		}
		if (!allowed(allowed_names, nm->valuestring) || strcmp(nm->valuestring, "none") == 0 ||
		    p->nlabels >= NET_MAX_LABELS || strlen(nm->valuestring) >= sizeof(p->labels[0].name))
			continue;
		struct net_label *o = &p->labels[p->nlabels++];
		ag_strlcpy(o->name, nm->valuestring, sizeof(o->name));
		double c = cf->valuedouble;
		o->confidence = !(c >= 0) ? 0 : c > 1 ? 1 : c; /* self-reported: clamp */
	}
	return 0;
}

int net_gemini_parse(const char *body, size_t len, char *const *allowed_names, struct net_prediction *p,
		     const char **why)
{
	clear_prediction(p);
	*why = NULL;
	char *text = NULL;
	cJSON *j = parse_whole(body, len), *ans = NULL;
	cJSON *cands = cJSON_GetObjectItemCaseSensitive(j, "candidates");
	cJSON *mv = cJSON_GetObjectItemCaseSensitive(j, "modelVersion");
	if (!cJSON_IsObject(j)) {
		*why = "reply is not a JSON object";
		goto out;
	}
	if (cJSON_IsString(mv))
		ag_strlcpy(p->model, mv->valuestring, sizeof(p->model));
	if (!cJSON_IsArray(cands) || cJSON_GetArraySize(cands) == 0) {
		cJSON *fb = cJSON_GetObjectItemCaseSensitive(j, "promptFeedback");
		cJSON *br = cJSON_GetObjectItemCaseSensitive(fb, "blockReason");
		if (cJSON_IsString(br))
			ag_strlcpy(p->blocked, br->valuestring, sizeof(p->blocked));
		else
			*why = "reply has no candidates and no promptFeedback.blockReason";
		goto out;
	}
	cJSON *c0 = cJSON_GetArrayItem(cands, 0);
	cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finishReason");
	if (cJSON_IsString(fr) && strcmp(fr->valuestring, "STOP") != 0) {
		ag_strlcpy(p->blocked, fr->valuestring, sizeof(p->blocked));
		goto out;
	}
	cJSON *parts = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c0, "content"), "parts");
	size_t tl = 0;
	cJSON *part;
	cJSON_ArrayForEach(part, parts) {
		cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "thought")) || !cJSON_IsString(t))
			continue;
		size_t l = strlen(t->valuestring);
		char *nt = realloc(text, tl + l + 1);
		if (!nt) {
			*why = "out of memory";
			goto out;
		}
		text = nt;
		memcpy(text + tl, t->valuestring, l + 1);
		tl += l;
	}
	if (!text) {
		*why = "candidates[0] has no text part";
		goto out;
	}
	ans = cJSON_ParseWithLength(text, tl);
	(void)net_answer_labels(cJSON_GetObjectItemCaseSensitive(ans, "labels"), allowed_names, p, why);
out:
	free(text);
	cJSON_Delete(ans);
	cJSON_Delete(j);
	return *why ? AG_EPROTO : 0;
}

/* ---- one attempt -------------------------------------------------------- */

int net_predict(struct net_client *cl, const struct net_predict_config *pc, const uint8_t *jpeg, size_t len,
		struct net_prediction *p, struct net_outcome *oc)
{
	const char *what = pc->gemini ? "generateContent" : "predict";
	clear_prediction(p);
	if (len > NET_PREDICT_MAX_JPEG && !pc->gemini) {
		net_outcome_set(oc, NET_REJECT, 0, "%s: image of %zu bytes is over the %u-byte online limit", what, len,
				NET_PREDICT_MAX_JPEG);
		return 0;
	}
	cJSON *root = pc->gemini ? gemini_body(pc) : automl_body(pc);
	char *json = root ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	char *mark = json ? strstr(json, IMAGE_MARK) : NULL;
	if (!mark) {
		free(json);
		return AG_ENOMEM;
	}
	*mark = '\0';
	const char *tail = mark + strlen(IMAGE_MARK);
	struct net_part parts[3] = {
		{ json, strlen(json), false },
		{ jpeg, len, true },
		{ tail, strlen(tail), false },
	};

	/* URL: base/v1/RESOURCE:verb; express mode (api_key) drops the project */
	char base[512], url[2048];
	const char *key = net_auth_api_key(cl->auth);
	const char *res = pc->resource;
	if (key && pc->gemini) {
		const char *pub = strstr(res, "publishers/");
		res = pub ? pub : res;
	}
	int rc = net_aiplatform_base(key && !cl->aiplatform ? "https://aiplatform.googleapis.com" : cl->aiplatform,
				     pc->resource, base, sizeof(base));
	int n = -1;
	if (rc >= 0) {
		n = snprintf(url, sizeof(url), "%s/v1/%s:%s", base, res, what);
		if (key && n > 0 && (size_t)n < sizeof(url)) {
			int e = net_url_escape(key, url + n + 5, sizeof(url) - (size_t)n - 5);
			memcpy(url + n, "?key=", 5);
			n = e < 0 ? -1 : n + 5 + e;
		}
	}
	if (n < 0 || (size_t)n >= sizeof(url)) {
		free(json);
		net_outcome_set(oc, NET_FAIL, 0, "%s: cannot build the URL for %s", what, pc->resource);
		return 0;
	}

	for (int attempt = 0;; attempt++) {
		char authz[2100];
		if (net_auth_header(cl->auth, cl->http, authz, sizeof(authz), oc) < 0)
			break;
		struct net_request rq = {
			.method = "POST", .url = url, .content_type = "application/json",
			.authorization = authz, .parts = parts, .nparts = 3,
		};
		struct net_response rs;
		rc = net_http_do(cl->http, &rq, &rs);
		memset(authz, 0, sizeof(authz));
		if (rc == 0 && rs.status == 401 && attempt == 0) {
			ag_log_info("%s: HTTP 401: getting a new token and trying once more", what);
			net_auth_invalidate(cl->auth);
			continue;
		}
		if (rc < 0 || rs.status < 200 || rs.status >= 300) {
			net_outcome_from_reply(oc, what, rc, &rs);
			if (rc == AG_ENOMEM) {
				free(json);
				return AG_ENOMEM;
			}
			break;
		}
		const char *why = NULL;
		int prc = pc->gemini ? net_gemini_parse(rs.body, rs.len, pc->labels, p, &why)
				     : net_predict_parse(rs.body, rs.len, p, &why);
		if (prc < 0) {
			/* a cut or garbled 2xx: the exchange failed, try again */
			net_outcome_set(oc, NET_RETRY, rs.status, "%s: HTTP %ld with an unusable body: %s", what,
					rs.status, why);
		} else if (strcmp(p->blocked, "MAX_TOKENS") == 0) {
			net_outcome_set(oc, NET_REJECT, rs.status,
					"%s: the answer was cut at maxOutputTokens (MAX_TOKENS): a shorter prompt or fewer labels are needed",
					what);
		} else {
			net_outcome_set(oc, NET_DONE, rs.status, "%s: HTTP %ld", what, rs.status);
		}
		break;
	}
	free(json);
	return 0;
}

int net_parse_page(const cJSON *j, const char *key, size_t elem_size, net_page_elem_fn each, void **elems, size_t *n,
		   char *token, size_t cap, const char **why)
{
	*elems = NULL;
	*n = 0;
	token[0] = '\0';
	*why = NULL;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, key);
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "nextPageToken");
	if (!cJSON_IsObject(j)) {
		*why = "reply is not a JSON object";
		return 0;
	}
	if (arr && !cJSON_IsArray(arr)) {
		*why = "its list of resources is not an array";
		return 0;
	}
	if (tok && (!cJSON_IsString(tok) || strlen(tok->valuestring) >= cap)) {
		*why = "\"nextPageToken\" is not a string of a usable length";
		return 0;
	}
	int cnt = cJSON_GetArraySize(arr);
	unsigned char *v = NULL;
	if (cnt > 0 && !(v = calloc((size_t)cnt, elem_size)))
		return AG_ENOMEM;
	size_t k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (each(it, v + k * elem_size, why) < 0) {
			free(v);
			return 0;
		}
		k++;
	}
	if (cJSON_IsString(tok))
		ag_strlcpy(token, tok->valuestring, cap);
	*elems = v;
	*n = k;
	return 0;
}
