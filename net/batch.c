/*
 * Vertex AI batch prediction jobs (vertex-api.md 2, 3.1, 4), their JSONL
 * input and output lines, datasets and long-running operations (5).
 * Creates carry no request id: they go out on a fresh connection, and a
 * reply that never came is reported as "maybe created" so the caller
 * searches by label before creating again (2.4).
 */
#define AG_LOG_TAG "batch"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "netpriv.h"

#define DEFAULT_PROMPT \
	"Classify this image. Answer with JSON {\"labels\": [{\"name\": ..., \"confidence\": 0..1}]}, best first."
#define DEFAULT_MAX_TOKENS 256
#define DATASET_METADATA_SCHEMA "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml"
#define IMPORT_SCHEMA_SINGLE \
	"gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_single_label_io_format_1.0.0.yaml"
#define IMPORT_SCHEMA_MULTI \
	"gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_multi_label_io_format_1.0.0.yaml"

const char *net_batch_format_name(enum net_batch_format f)
{
	switch (f) {
	case NET_BATCH_AUTOML: return "automl";
	case NET_BATCH_GEMINI: return "gemini";
	case NET_BATCH_OPENAI: return "openai";
	}
	return "?";
}

bool net_label_valid(const char *v)
{
	size_t n = 0;
	for (; v[n]; n++) {
		unsigned char c = (unsigned char)v[n];
		if (!(islower(c) || isdigit(c) || c == '_' || c == '-'))
			return false;
	}
	return n <= NET_LABEL_MAX;
}

void net_label_from_id(const char *id, char out[NET_LABEL_MAX + 1])
{
	size_t n = 0;
	for (; n < NET_LABEL_MAX && id[n]; n++) {
		unsigned char c = (unsigned char)tolower((unsigned char)id[n]);
		out[n] = islower(c) || isdigit(c) || c == '_' || c == '-' ? (char)c : '-';
	}
	out[n] = '\0';
}

enum net_verdict net_batch_item_verdict(int code)
{
	switch (code) {
	case 3:  /* INVALID_ARGUMENT */
	case 5:  /* NOT_FOUND: the image is missing */
	case 9:  /* FAILED_PRECONDITION */
	case 11: /* OUT_OF_RANGE */
		return NET_REJECT;
	}
	return NET_RETRY; /* 4, 13, 14 and anything unknown: resubmit */
}

bool net_batch_state_terminal(const char *state)
{
	static const char *const final[] = { "SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED" };
	if (strncmp(state, "JOB_STATE_", 10) == 0)
		state += 10;
	for (size_t i = 0; i < AG_NELEM(final); i++)
		if (strcmp(state, final[i]) == 0)
			return true;
	return false;
}

/* ---- JSON helpers ------------------------------------------------------- */

static cJSON *item(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void copy_str(const cJSON *o, const char *k, char *out, size_t cap)
{
	cJSON *v = item(o, k);
	out[0] = '\0';
	if (cJSON_IsString(v))
		ag_strlcpy(out, v->valuestring, cap);
}

/* An int64 sent as a string or a number; false if neither. */
static bool get_i64(const cJSON *v, int64_t *out)
{
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
			return false;
		char *end;
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (*end || errno)
			return false;
		*out = x;
		return true;
	}
	if (cJSON_IsNumber(v) && v->valuedouble > -9007199254740992.0 && v->valuedouble < 9007199254740992.0 &&
	    v->valuedouble == (double)(int64_t)v->valuedouble) {
		*out = (int64_t)v->valuedouble;
		return true;
	}
	return false;
}

/* A google.rpc.Status: {"code": N, "message": "..."}. */
static bool get_status(const cJSON *o, struct net_status *st)
{
	if (!cJSON_IsObject(o))
		return false;
	int64_t code = 0;
	cJSON *c = item(o, "code");
	if (c && (!get_i64(c, &code) || code < 0 || code > 1000))
		return false;
	st->code = (int)code;
	copy_str(o, "message", st->message, sizeof(st->message));
	for (char *p = st->message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return true;
}

/* The whole text must be one JSON value. */
static cJSON *parse_whole(const char *s, size_t len)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, false);
	if (!j)
		return NULL;
	while (end && end < s + len && isspace((unsigned char)*end))
		end++;
	if (!end || end != s + len) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* ---- requests ----------------------------------------------------------- */

/*
 * One authorized JSON exchange with Vertex AI at base(resource)/v1/path.
 * Returns 0 with a reply in *rs, or -1 with *oc set (*hrc: transport code).
 */
static int vertex_call(struct net_client *cl, const char *method, const char *resource, const char *path,
		       const char *json, bool fresh, const char *what, struct net_response *rs, int *hrc,
		       struct net_outcome *oc)
{
	char base[512], url[4096];
	*hrc = 0;
	int n = net_aiplatform_base(cl->aiplatform, resource, base, sizeof(base));
	if (n >= 0)
		n = snprintf(url, sizeof(url), "%s/v1/%s", base, path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		net_outcome_set(oc, NET_FAIL, 0, "%s: cannot build the URL for %s", what, resource);
		return -1;
	}
	struct net_part part = { json, json ? strlen(json) : 0, false };
	struct net_request rq = {
		.method = method, .url = url, .content_type = json ? "application/json" : NULL,
		.parts = json ? &part : NULL, .nparts = json ? 1 : 0, .fresh_connection = fresh,
	};
	return net_call(cl, &rq, rs, what, hrc, oc);
}

/* After a create that got no usable answer: might the server have acted? */
static void mark_ambiguous(struct net_outcome *oc, int hrc, long status, bool *maybe)
{
	bool m = (hrc < 0 && hrc != AG_EINVAL && hrc != AG_ENOMEM) || status >= 500;
	if (maybe)
		*maybe = m;
	if (m) {
		size_t l = strlen(oc->msg);
		snprintf(oc->msg + l, sizeof(oc->msg) - l, " (it may have been created: search before creating again)");
	}
}

/* ---- batch prediction jobs ---------------------------------------------- */

char *net_batch_job_json(const struct net_batch_job_config *jc, const char **why)
{
	char b[NET_GCS_BUCKET_MAX], o[NET_GCS_NAME_MAX];
	*why = NULL;
	if (!jc->parent || !strstr(jc->parent, "/locations/"))
		*why = "parent must be projects/P/locations/L";
	else if (!jc->display_name || !jc->display_name[0])
		*why = "displayName is empty";
	else if (!jc->model || !jc->model[0])
		*why = "model is empty";
	else if (jc->ninput == 0 || !jc->input_uris)
		*why = "no input URIs";
	else if (!jc->output_prefix || net_gs_parse(jc->output_prefix, b, o) < 0)
		*why = "outputUriPrefix is not a gs:// URI";
	else if (jc->label && !net_label_valid(jc->label))
		*why = "label value is not 0..63 of lowercase letters, digits, '_' and '-'";
	else if (jc->format == NET_BATCH_AUTOML && !(jc->confidence_threshold >= 0 && jc->confidence_threshold <= 1))
		*why = "confidenceThreshold is not in [0, 1]";
	for (size_t i = 0; !*why && i < jc->ninput; i++)
		if (!jc->input_uris[i] || net_gs_parse(jc->input_uris[i], b, o) < 0 || !o[0])
			*why = "an input URI is not gs://BUCKET/OBJECT";
	if (*why)
		return NULL;

	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "displayName", jc->display_name);
	cJSON_AddStringToObject(root, "model", jc->model);
	if (jc->format == NET_BATCH_AUTOML) {
		cJSON *mp = cJSON_AddObjectToObject(root, "modelParameters");
		cJSON_AddNumberToObject(mp, "confidenceThreshold", jc->confidence_threshold);
		if (jc->max_predictions)
			cJSON_AddNumberToObject(mp, "maxPredictions", jc->max_predictions);
	}
	cJSON *ic = cJSON_AddObjectToObject(root, "inputConfig");
	cJSON_AddStringToObject(ic, "instancesFormat", "jsonl");
	cJSON *uris = cJSON_AddArrayToObject(cJSON_AddObjectToObject(ic, "gcsSource"), "uris");
	for (size_t i = 0; i < jc->ninput; i++)
		cJSON_AddItemToArray(uris, cJSON_CreateString(jc->input_uris[i]));
	cJSON *ocfg = cJSON_AddObjectToObject(root, "outputConfig");
	cJSON_AddStringToObject(ocfg, "predictionsFormat", "jsonl");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(ocfg, "gcsDestination"), "outputUriPrefix", jc->output_prefix);
	if (jc->label)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "labels"), NET_LABEL_KEY, jc->label);
	/* cJSON's Add* return NULL on ENOMEM and later ones add nothing: the
	 * printed text is then incomplete, so check the structure survived */
	char *json = cJSON_GetArraySize(uris) == (int)jc->ninput && item(root, "outputConfig")
			     ? cJSON_PrintUnformatted(root)
			     : NULL;
	cJSON_Delete(root);
	if (!json)
		*why = "out of memory";
	return json;
}

static int job_from_json(const cJSON *j, struct net_batch_job *job, const char **why);

static int job_elem(const cJSON *j, void *elem, const char **why)
{
	return job_from_json(j, elem, why);
}

static int job_from_json(const cJSON *j, struct net_batch_job *job, const char **why)
{
	memset(job, 0, sizeof(*job));
	job->successful = job->failed = job->incomplete = -1;
	cJSON *name = item(j, "name");
	if (!cJSON_IsObject(j)) {
		*why = "job is not a JSON object";
		return AG_EPROTO;
	}
	if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= sizeof(job->name)) {
		*why = "job has no usable \"name\"";
		return AG_EPROTO;
	}
	ag_strlcpy(job->name, name->valuestring, sizeof(job->name));
	copy_str(j, "displayName", job->display_name, sizeof(job->display_name));
	copy_str(j, "model", job->model, sizeof(job->model));
	copy_str(j, "createTime", job->create_time, sizeof(job->create_time));
	cJSON *st = item(j, "state");
	if (st && (!cJSON_IsString(st) || strlen(st->valuestring) >= sizeof(job->state))) {
		*why = "job \"state\" is not a known-length string";
		return AG_EPROTO;
	}
	ag_strlcpy(job->state, st ? st->valuestring : "JOB_STATE_UNSPECIFIED", sizeof(job->state));
	job->terminal = net_batch_state_terminal(job->state);
	cJSON *err = item(j, "error");
	if (err) {
		if (!get_status(err, &job->error)) {
			*why = "job \"error\" is not a Status";
			return AG_EPROTO;
		}
		job->has_error = true;
	}
	cJSON *pf, *pfs = item(j, "partialFailures");
	cJSON_ArrayForEach(pf, pfs) {
		if (job->npartial < NET_BATCH_MAX_PARTIAL && get_status(pf, &job->partial[job->npartial]))
			job->npartial++;
	}
	cJSON *cs = item(j, "completionStats");
	static const char *const keys[] = { "successfulCount", "failedCount", "incompleteCount" };
	int64_t *dst[] = { &job->successful, &job->failed, &job->incomplete };
	for (size_t i = 0; i < 3; i++) {
		cJSON *v = item(cs, keys[i]);
		if (v && !get_i64(v, dst[i])) {
			*why = "job completionStats holds a count that is not an int64";
			return AG_EPROTO;
		}
		if (!v && cs)
			*dst[i] = 0; /* proto3: an absent count is 0 */
	}
	cJSON *dir = item(item(j, "outputInfo"), "gcsOutputDirectory");
	if (dir && (!cJSON_IsString(dir) || strlen(dir->valuestring) >= sizeof(job->output_dir))) {
		*why = "job outputInfo.gcsOutputDirectory is not a usable string";
		return AG_EPROTO;
	}
	if (dir)
		ag_strlcpy(job->output_dir, dir->valuestring, sizeof(job->output_dir));
	copy_str(item(j, "labels"), NET_LABEL_KEY, job->label, sizeof(job->label));
	return 0;
}

int net_batch_job_parse(const char *body, size_t len, struct net_batch_job *job, const char **why)
{
	*why = NULL;
	cJSON *j = parse_whole(body, len);
	int rc = job_from_json(j, job, why);
	cJSON_Delete(j);
	return rc;
}

/* A reply that must be a job: NET_DONE with *job, or a retry. */
static void job_reply(const struct net_response *rs, const char *what, struct net_batch_job *job,
		      struct net_outcome *oc)
{
	const char *why;
	struct net_batch_job *tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		net_outcome_set(oc, NET_RETRY, rs->status, "%s: out of memory", what);
		return;
	}
	if (net_batch_job_parse(rs->body, rs->len, tmp, &why) < 0) {
		net_outcome_set(oc, NET_RETRY, rs->status, "%s: HTTP %ld with an unusable body: %s", what, rs->status,
				why);
	} else {
		if (job)
			*job = *tmp;
		net_outcome_set(oc, NET_DONE, rs->status, "%s: %s %s", what, tmp->name, tmp->state);
	}
	free(tmp);
}

int net_batch_create(struct net_client *cl, const struct net_batch_job_config *jc, struct net_batch_job *job,
		     bool *maybe_created, struct net_outcome *oc)
{
	if (maybe_created)
		*maybe_created = false;
	const char *why;
	char *json = net_batch_job_json(jc, &why);
	if (!json) {
		net_outcome_set(oc, NET_REJECT, 0, "batch create: %s", why);
		return strcmp(why, "out of memory") == 0 ? AG_ENOMEM : AG_EINVAL;
	}
	char path[1024];
	snprintf(path, sizeof(path), "%s/batchPredictionJobs", jc->parent);
	struct net_response rs;
	int hrc;
	/* a fresh connection: never a silent second create after a reset */
	if (vertex_call(cl, "POST", jc->parent, path, json, true, "batch create", &rs, &hrc, oc) < 0) {
		free(json);
		if (hrc == AG_ENOMEM)
			return AG_ENOMEM;
		mark_ambiguous(oc, hrc, 0, maybe_created);
		return 0;
	}
	free(json);
	if (rs.status != 200) {
		net_outcome_from_reply(oc, "batch create", 0, &rs);
		mark_ambiguous(oc, 0, rs.status, maybe_created);
		return 0;
	}
	job_reply(&rs, "batch create", job, oc);
	if (oc->verdict != NET_DONE)
		mark_ambiguous(oc, AG_EPROTO, 0, maybe_created); /* created, but we cannot read its name */
	return 0;
}

int net_batch_get(struct net_client *cl, const char *name, struct net_batch_job *job, struct net_outcome *oc)
{
	struct net_response rs;
	int hrc;
	if (vertex_call(cl, "GET", name, name, NULL, false, "batch get", &rs, &hrc, oc) < 0)
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	if (rs.status != 200)
		net_outcome_from_reply(oc, "batch get", 0, &rs);
	else
		job_reply(&rs, "batch get", job, oc);
	return 0;
}

int net_batch_cancel(struct net_client *cl, const char *name, struct net_outcome *oc)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s:cancel", name);
	struct net_response rs;
	int hrc;
	if (vertex_call(cl, "POST", name, path, "{}", false, "batch cancel", &rs, &hrc, oc) < 0)
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	if (rs.status != 200)
		net_outcome_from_reply(oc, "batch cancel", 0, &rs);
	else
		net_outcome_set(oc, NET_DONE, rs.status, "batch cancel: %s: HTTP %ld", name, rs.status);
	return 0;
}

void net_batch_page_free(struct net_batch_page *p)
{
	if (!p)
		return;
	free(p->jobs);
	memset(p, 0, sizeof(*p));
}

int net_batch_list(struct net_client *cl, const char *parent, const char *label, const char *page_token,
		   struct net_batch_page *p, struct net_outcome *oc)
{
	if (label && !net_label_valid(label)) {
		net_outcome_set(oc, NET_REJECT, 0, "batch list: label value %s is not valid", label);
		return AG_EINVAL;
	}
	char filter[160], ef[480], et[1600], path[4096];
	snprintf(filter, sizeof(filter), "labels.%s=\"%s\"", NET_LABEL_KEY, label ? label : "");
	if (net_url_escape(filter, ef, sizeof(ef)) < 0 || net_url_escape(page_token ? page_token : "", et, sizeof(et)) < 0) {
		net_outcome_set(oc, NET_REJECT, 0, "batch list: page token too long");
		return AG_EINVAL;
	}
	int n = snprintf(path, sizeof(path), "%s/batchPredictionJobs%s%s%s%s%s", parent,
			 label || et[0] ? "?" : "", label ? "filter=" : "", label ? ef : "",
			 label && et[0] ? "&pageToken=" : et[0] ? "pageToken=" : "", et);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		net_outcome_set(oc, NET_REJECT, 0, "batch list: URL too long");
		return AG_EINVAL;
	}
	struct net_response rs;
	int hrc;
	if (vertex_call(cl, "GET", parent, path, NULL, false, "batch list", &rs, &hrc, oc) < 0)
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	if (rs.status != 200) {
		net_outcome_from_reply(oc, "batch list", 0, &rs);
		return 0;
	}
	const char *why = NULL;
	struct net_batch_page np = { 0 };
	cJSON *j = parse_whole(rs.body, rs.len);
	void *elems = NULL;
	int prc = net_parse_page(j, "batchPredictionJobs", sizeof(*np.jobs), job_elem, &elems, &np.n,
				 np.next_page_token, sizeof(np.next_page_token), &why);
	np.jobs = elems;
	cJSON_Delete(j);
	if (prc < 0)
		return prc;
	if (why) {
		net_outcome_set(oc, NET_RETRY, rs.status, "batch list: HTTP %ld with an unusable body: %s", rs.status,
				why);
		return 0;
	}
	net_batch_page_free(p);
	*p = np;
	net_outcome_set(oc, NET_DONE, rs.status, "batch list: HTTP %ld, %zu jobs", rs.status, np.n);
	return 0;
}

/* ---- input lines -------------------------------------------------------- */

static char *prompt_with_labels(const char *prompt, char *const *labels)
{
	size_t n = strlen(prompt) + 32;
	for (char *const *l = labels; l && *l; l++)
		n += strlen(*l) + 2;
	char *s = malloc(n);
	if (!s)
		return NULL;
	size_t k = (size_t)snprintf(s, n, "%s", prompt);
	for (char *const *l = labels; l && *l; l++)
		k += (size_t)snprintf(s + k, n - k, "%s%s", l == labels ? " Allowed labels: " : ", ", *l);
	return s;
}

char *net_batch_input_line(enum net_batch_format f, const struct net_batch_item *it, const char **why)
{
	char b[NET_GCS_BUCKET_MAX], o[NET_GCS_NAME_MAX];
	*why = NULL;
	if (!it->uri || net_gs_parse(it->uri, b, o) < 0 || !o[0]) {
		*why = "the image URI is not gs://BUCKET/OBJECT";
		return NULL;
	}
	if (f == NET_BATCH_OPENAI && (!it->custom_id || !it->custom_id[0])) {
		*why = "the openai format needs a custom_id";
		return NULL;
	}
	if (f == NET_BATCH_OPENAI && (!it->model || !it->model[0])) {
		*why = "the openai format needs body.model";
		return NULL;
	}
	const char *mime = it->mime_type ? it->mime_type : "image/jpeg";
	const char *prompt = it->prompt ? it->prompt : DEFAULT_PROMPT;
	unsigned max_tokens = it->max_tokens ? it->max_tokens : DEFAULT_MAX_TOKENS;
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	if (f == NET_BATCH_AUTOML) {
		cJSON_AddStringToObject(root, "content", it->uri);
		cJSON_AddStringToObject(root, "mimeType", mime);
	} else if (f == NET_BATCH_GEMINI) {
		cJSON *req = cJSON_AddObjectToObject(root, "request");
		cJSON *c0 = cJSON_CreateObject();
		cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "contents"), c0);
		cJSON_AddStringToObject(c0, "role", "user");
		cJSON *parts = cJSON_AddArrayToObject(c0, "parts");
		cJSON *img = cJSON_CreateObject();
		cJSON_AddItemToArray(parts, img);
		cJSON *fd = cJSON_AddObjectToObject(img, "fileData");
		cJSON_AddStringToObject(fd, "fileUri", it->uri);
		cJSON_AddStringToObject(fd, "mimeType", mime);
		cJSON *txt = cJSON_CreateObject();
		cJSON_AddItemToArray(parts, txt);
		cJSON_AddStringToObject(txt, "text", prompt);
		cJSON *gc = cJSON_AddObjectToObject(req, "generationConfig");
		cJSON_AddNumberToObject(gc, "temperature", 0);
		cJSON_AddNumberToObject(gc, "maxOutputTokens", max_tokens);
		cJSON_AddStringToObject(gc, "responseMimeType", "application/json");
		if (it->labels) /* the same schema as online prediction: names limited to the list */
			cJSON_AddItemToObject(gc, "responseSchema", net_label_schema(it->labels));
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(gc, "thinkingConfig"), "thinkingBudget", 0);
	} else {
		text = prompt_with_labels(prompt, it->labels);
		cJSON_AddStringToObject(root, "custom_id", it->custom_id);
		cJSON_AddStringToObject(root, "method", "POST");
		cJSON_AddStringToObject(root, "url", "/v1/chat/completions");
		cJSON *body = cJSON_AddObjectToObject(root, "body");
		cJSON_AddStringToObject(body, "model", it->model);
		cJSON *m0 = cJSON_CreateObject();
		cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "messages"), m0);
		cJSON_AddStringToObject(m0, "role", "user");
		cJSON *content = cJSON_AddArrayToObject(m0, "content");
		cJSON *t = cJSON_CreateObject();
		cJSON_AddItemToArray(content, t);
		cJSON_AddStringToObject(t, "type", "text");
		cJSON_AddStringToObject(t, "text", text ? text : "");
		cJSON *im = cJSON_CreateObject();
		cJSON_AddItemToArray(content, im);
		cJSON_AddStringToObject(im, "type", "image_url");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(im, "image_url"), "url", it->uri);
		cJSON_AddNumberToObject(body, "max_tokens", max_tokens);
	}
	/* the last field of each shape: present only if nothing ran out of memory */
	bool whole = f == NET_BATCH_AUTOML ? item(root, "mimeType") != NULL
		   : f == NET_BATCH_GEMINI ? item(item(item(root, "request"), "generationConfig"), "thinkingConfig") != NULL
					   : text && item(item(root, "body"), "max_tokens") != NULL;
	char *json = whole ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	free(text);
	char *line = json ? ag_asprintf("%s\n", json) : NULL;
	free(json);
	if (!line)
		*why = "out of memory";
	return line;
}

/* ---- output lines ------------------------------------------------------- */

/* The first string in the tree that holds "gs://", cut at a quote or blank
 * (a raw input line echoed as a string holds it inside). */
static bool find_gs(const cJSON *j, char *out, size_t cap, int depth)
{
	if (!j || depth > 32)
		return false;
	if (cJSON_IsString(j)) {
		const char *p = strstr(j->valuestring, "gs://");
		if (!p)
			return false;
		size_t n = strcspn(p, "\"' \t\r\n\\,}]");
		if (n <= 5 || n >= cap)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	const cJSON *c;
	cJSON_ArrayForEach(c, j) {
		if (find_gs(c, out, cap, depth + 1))
			return true;
	}
	return false;
}

static bool set_key(const cJSON *v, char *out, size_t cap)
{
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= cap)
		return false;
	ag_strlcpy(out, v->valuestring, cap);
	return true;
}

/* The fileUri of the first fileData part of a GenerateContentRequest. */
static bool gemini_key(const cJSON *req, char *out, size_t cap)
{
	const cJSON *c, *p;
	cJSON_ArrayForEach(c, item(req, "contents")) {
		cJSON_ArrayForEach(p, item(c, "parts")) {
			if (set_key(item(item(p, "fileData"), "fileUri"), out, cap))
				return true;
		}
	}
	return false;
}

static int automl_prediction(const char *line, size_t len, const cJSON *pr, struct net_prediction *p,
			     const char **why)
{
	cJSON *ids = item(pr, "ids"), *names = item(pr, "displayNames"), *confs = item(pr, "confidences");
	if (!cJSON_IsObject(pr)) {
		*why = "\"prediction\" is not an object";
	} else if (!ids && !names && !confs) {
		return 0; /* all defaults: no labels */
	} else if (!cJSON_IsArray(ids) || !cJSON_IsArray(names) || !cJSON_IsArray(confs)) {
		*why = "prediction lacks the ids, displayNames and confidences arrays";
	} else if (cJSON_GetArraySize(ids) != cJSON_GetArraySize(names) ||
		   cJSON_GetArraySize(ids) != cJSON_GetArraySize(confs)) {
		*why = "prediction: ids, displayNames and confidences differ in length";
	}
	if (*why)
		return AG_EPROTO;
	int n = cJSON_GetArraySize(ids);
	if (n > NET_MAX_LABELS)
		n = NET_MAX_LABELS; /* best first: keep the best */
	for (int i = 0; i < n; i++) {
		cJSON *nm = cJSON_GetArrayItem(names, i), *cf = cJSON_GetArrayItem(confs, i);
		if (!cJSON_IsString(nm) || strlen(nm->valuestring) >= sizeof(p->labels[i].name) || !cJSON_IsNumber(cf) ||
		    !(cf->valuedouble >= 0 && cf->valuedouble <= 1)) {
			*why = "prediction: a displayName is not a string or a confidence not a number in [0, 1]";
			return AG_EPROTO;
		}
		ag_strlcpy(p->labels[i].name, nm->valuestring, sizeof(p->labels[i].name));
		p->labels[i].confidence = cf->valuedouble;
	}
	if (!net_exact_ids(line, len, ids, p->labels, n)) {
		*why = "prediction: an id is neither a string nor an integer";
		return AG_EPROTO;
	}
	p->nlabels = (size_t)n;
	return 0;
}

/* {"labels": [{"name", "confidence"}]} in a chat answer (maybe inside a
 * ```json fence or other text). */
static int labels_from_text(const char *text, char *const *allowed, struct net_prediction *p, const char **why)
{
	const char *a = strchr(text, '{'), *b = strrchr(text, '}');
	cJSON *j = a && b && b > a ? cJSON_ParseWithLength(a, (size_t)(b - a + 1)) : NULL;
	int rc = net_answer_labels(item(j, "labels"), allowed, p, why);
	cJSON_Delete(j);
	return rc;
}

/* An HTTP status in an error envelope as the gRPC code it stands for. */
static int grpc_of_http(int64_t http)
{
	switch (http) {
	case 400: return 3;
	case 401: return 16;
	case 403: return 7;
	case 404: return 5;
	case 409: return 10;
	case 429: return 8;
	case 499: return 1;
	case 501: return 12;
	case 503: return 14;
	case 504: return 4;
	}
	return http >= 500 ? 13 : 2;
}

/* A status given only as text: its canonical name, if it carries one. */
static int grpc_of_text(const char *msg)
{
	static const struct {
		const char *name;
		int code;
	} names[] = {
		{ "INVALID_ARGUMENT", 3 }, { "DEADLINE_EXCEEDED", 4 }, { "NOT_FOUND", 5 },
		{ "PERMISSION_DENIED", 7 }, { "RESOURCE_EXHAUSTED", 8 }, { "FAILED_PRECONDITION", 9 },
		{ "OUT_OF_RANGE", 11 }, { "INTERNAL", 13 }, { "UNAVAILABLE", 14 },
	};
	for (size_t i = 0; i < AG_NELEM(names); i++)
		if (strstr(msg, names[i].name))
			return names[i].code;
	return 2; /* UNKNOWN */
}

static void set_error(struct net_batch_result *r, int code, const char *msg)
{
	r->is_error = true;
	r->error.code = code;
	if (msg != r->error.message)
		ag_strlcpy(r->error.message, msg, sizeof(r->error.message));
	for (char *p = r->error.message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	r->verdict = net_batch_item_verdict(code);
}

int net_batch_parse_line(enum net_batch_format f, const char *line, size_t len, char *const *allowed,
			 struct net_batch_result *r, const char **why)
{
	memset(r, 0, sizeof(*r));
	r->verdict = NET_DONE;
	*why = NULL;
	int rc = 0;
	char *resp = NULL;
	cJSON *j = parse_whole(line, len);
	if (!cJSON_IsObject(j)) {
		*why = "line is not a JSON object";
		rc = AG_EPROTO;
		goto out;
	}
	cJSON *err = item(j, "error");
	bool keyed;
	if (f == NET_BATCH_AUTOML) {
		keyed = set_key(item(item(j, "instance"), "content"), r->key, sizeof(r->key)) ||
			find_gs(item(j, "instance"), r->key, sizeof(r->key), 0) || find_gs(j, r->key, sizeof(r->key), 0);
	} else if (f == NET_BATCH_GEMINI) {
		keyed = gemini_key(item(j, "request"), r->key, sizeof(r->key)) ||
			find_gs(item(j, "request"), r->key, sizeof(r->key), 0) || find_gs(j, r->key, sizeof(r->key), 0);
	} else {
		keyed = set_key(item(j, "custom_id"), r->key, sizeof(r->key)) ||
			set_key(item(item(j, "instance"), "custom_id"), r->key, sizeof(r->key)) ||
			set_key(item(item(j, "request"), "custom_id"), r->key, sizeof(r->key));
	}
	if (!keyed) {
		*why = f == NET_BATCH_OPENAI ? "line has no custom_id" : "line holds no gs:// URI to join on";
		rc = AG_EPROTO;
		goto out;
	}

	/* an error line: {"error": Status} (any format), gemini's "status" text */
	if (err) {
		if (!get_status(err, &r->error)) {
			*why = "\"error\" is not a Status";
			rc = AG_EPROTO;
		} else {
			set_error(r, r->error.code ? r->error.code : grpc_of_text(r->error.message), r->error.message);
		}
		goto out;
	}
	if (f == NET_BATCH_AUTOML) {
		cJSON *pr = item(j, "prediction");
		if (!pr) {
			*why = "line has neither \"prediction\" nor \"error\"";
			rc = AG_EPROTO;
		} else {
			rc = automl_prediction(line, len, pr, &r->pred, why);
		}
		goto out;
	}
	if (f == NET_BATCH_GEMINI) {
		cJSON *st = item(j, "status"), *rp = item(j, "response");
		if (cJSON_IsObject(st)) {
			if (!get_status(st, &r->error)) {
				*why = "\"status\" is not a Status";
				rc = AG_EPROTO;
			} else if (r->error.code != 0) {
				set_error(r, r->error.code, r->error.message);
				goto out;
			}
		} else if (cJSON_IsString(st) && st->valuestring[0]) {
			set_error(r, grpc_of_text(st->valuestring), st->valuestring);
			goto out;
		} else if (st && !cJSON_IsString(st)) {
			*why = "\"status\" is neither text nor a Status";
			rc = AG_EPROTO;
		}
		if (rc == 0 && !cJSON_IsObject(rp)) {
			*why = "line has no \"response\" and no error status";
			rc = AG_EPROTO;
		}
		if (rc < 0)
			goto out;
		resp = cJSON_PrintUnformatted(rp);
		if (!resp) {
			*why = "out of memory";
			rc = AG_ENOMEM;
			goto out;
		}
		rc = net_gemini_parse(resp, strlen(resp), allowed, &r->pred, why);
		goto out;
	}
	/* openai: {"custom_id", "response": chat.completion} */
	cJSON *rp = item(j, "response");
	if (cJSON_IsArray(rp) && cJSON_GetArraySize(rp) == 1)
		rp = cJSON_GetArrayItem(rp, 0);
	cJSON *rerr = item(rp, "error");
	if (cJSON_IsObject(rerr)) {
		/* the Google envelope: "code" is the HTTP status there */
		int64_t code = 0;
		get_i64(item(rerr, "code"), &code);
		char msg[256];
		copy_str(rerr, "message", msg, sizeof(msg));
		set_error(r, code >= 100 ? grpc_of_http(code) : code > 0 ? (int)code : grpc_of_text(msg), msg);
		goto out;
	}
	cJSON *c0 = cJSON_GetArrayItem(item(rp, "choices"), 0);
	cJSON *content = item(item(c0, "message"), "content");
	cJSON *fr = item(c0, "finish_reason");
	if (!cJSON_IsObject(rp) || !cJSON_IsObject(c0)) {
		*why = "line has no \"response\" with choices[0]";
		rc = AG_EPROTO;
	} else if (cJSON_IsString(fr) && strcmp(fr->valuestring, "stop") != 0) {
		ag_strlcpy(r->pred.blocked, fr->valuestring, sizeof(r->pred.blocked)); /* length, content_filter */
	} else if (!cJSON_IsString(content)) {
		*why = "choices[0].message.content is not text";
		rc = AG_EPROTO;
	} else {
		copy_str(rp, "model", r->pred.model, sizeof(r->pred.model));
		rc = labels_from_text(content->valuestring, allowed, &r->pred, why);
	}
out:
	free(resp);
	cJSON_Delete(j);
	if (rc < 0) {
		/* the key stays: the caller can still record an error for the item */
		memset(&r->pred, 0, sizeof(r->pred));
		r->is_error = false;
		if (!*why)
			*why = "unusable line";
	}
	return rc;
}

/* ---- datasets and operations -------------------------------------------- */

static int op_from_json(const cJSON *j, struct net_operation *op, const char **why)
{
	memset(op, 0, sizeof(*op));
	cJSON *name = item(j, "name"), *done = item(j, "done");
	if (!cJSON_IsObject(j)) {
		*why = "operation is not a JSON object";
	} else if (!cJSON_IsString(name) || !strstr(name->valuestring, "/operations/") ||
		   strlen(name->valuestring) >= sizeof(op->name)) {
		*why = "operation has no usable \"name\"";
	} else if (done && !cJSON_IsBool(done)) {
		*why = "operation \"done\" is not a boolean";
	} else if (item(j, "error") && !get_status(item(j, "error"), &op->error)) {
		*why = "operation \"error\" is not a Status";
	}
	if (*why)
		return AG_EPROTO;
	ag_strlcpy(op->name, name->valuestring, sizeof(op->name));
	size_t tl = (size_t)(strstr(op->name, "/operations/") - op->name);
	memcpy(op->target, op->name, tl);
	op->target[tl] = '\0';
	op->done = cJSON_IsTrue(done);
	op->has_error = item(j, "error") != NULL;
	cJSON *resp = item(j, "response");
	copy_str(resp, "@type", op->response_type, sizeof(op->response_type));
	copy_str(resp, "name", op->response_name, sizeof(op->response_name));
	return 0;
}

int net_operation_parse(const char *body, size_t len, struct net_operation *op, const char **why)
{
	*why = NULL;
	cJSON *j = parse_whole(body, len);
	int rc = op_from_json(j, op, why);
	cJSON_Delete(j);
	return rc;
}

static void op_reply(const struct net_response *rs, const char *what, struct net_operation *op,
		     struct net_outcome *oc)
{
	const char *why;
	struct net_operation tmp;
	if (net_operation_parse(rs->body, rs->len, &tmp, &why) < 0) {
		net_outcome_set(oc, NET_RETRY, rs->status, "%s: HTTP %ld with an unusable body: %s", what, rs->status,
				why);
		return;
	}
	*op = tmp;
	net_outcome_set(oc, NET_DONE, rs->status, "%s: %s%s", what, tmp.name, tmp.done ? " done" : "");
}

int net_dataset_create(struct net_client *cl, const char *parent, const char *display_name,
		       struct net_operation *op, bool *maybe_created, struct net_outcome *oc)
{
	if (maybe_created)
		*maybe_created = false;
	cJSON *root = cJSON_CreateObject();
	char *json = NULL;
	if (root && cJSON_AddStringToObject(root, "displayName", display_name) &&
	    cJSON_AddStringToObject(root, "metadataSchemaUri", DATASET_METADATA_SCHEMA))
		json = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!json)
		return AG_ENOMEM;
	char path[1024];
	snprintf(path, sizeof(path), "%s/datasets", parent);
	struct net_response rs;
	int hrc;
	int rc = vertex_call(cl, "POST", parent, path, json, true, "dataset create", &rs, &hrc, oc);
	free(json);
	if (rc < 0) {
		if (hrc == AG_ENOMEM)
			return AG_ENOMEM;
		mark_ambiguous(oc, hrc, 0, maybe_created);
		return 0;
	}
	if (rs.status != 200) {
		net_outcome_from_reply(oc, "dataset create", 0, &rs);
		mark_ambiguous(oc, 0, rs.status, maybe_created);
		return 0;
	}
	op_reply(&rs, "dataset create", op, oc);
	if (oc->verdict != NET_DONE)
		mark_ambiguous(oc, AG_EPROTO, 0, maybe_created);
	return 0;
}

int net_dataset_import(struct net_client *cl, const char *dataset, const char *const *uris, size_t n,
		       bool multi_label, struct net_operation *op, struct net_outcome *oc)
{
	char b[NET_GCS_BUCKET_MAX], o[NET_GCS_NAME_MAX];
	if (n == 0) {
		net_outcome_set(oc, NET_REJECT, 0, "dataset import: no files");
		return AG_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!uris[i] || net_gs_parse(uris[i], b, o) < 0 || !o[0]) {
			net_outcome_set(oc, NET_REJECT, 0, "dataset import: %s is not gs://BUCKET/OBJECT",
					uris[i] ? uris[i] : "(null)");
			return AG_EINVAL;
		}
	}
	cJSON *root = cJSON_CreateObject();
	cJSON *c0 = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "importConfigs"), c0);
	cJSON *u = cJSON_AddArrayToObject(cJSON_AddObjectToObject(c0, "gcsSource"), "uris");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(u, cJSON_CreateString(uris[i]));
	cJSON_AddStringToObject(c0, "importSchemaUri", multi_label ? IMPORT_SCHEMA_MULTI : IMPORT_SCHEMA_SINGLE);
	char *json = cJSON_GetArraySize(u) == (int)n && item(c0, "importSchemaUri") ? cJSON_PrintUnformatted(root)
										  : NULL;
	cJSON_Delete(root);
	if (!json)
		return AG_ENOMEM;
	char path[1024];
	snprintf(path, sizeof(path), "%s:import", dataset);
	struct net_response rs;
	int hrc;
	int rc = vertex_call(cl, "POST", dataset, path, json, false, "dataset import", &rs, &hrc, oc);
	free(json);
	if (rc < 0)
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	if (rs.status != 200)
		net_outcome_from_reply(oc, "dataset import", 0, &rs);
	else
		op_reply(&rs, "dataset import", op, oc);
	return 0;
}

int net_operation_get(struct net_client *cl, const char *name, struct net_operation *op, struct net_outcome *oc)
{
	struct net_response rs;
	int hrc;
	if (vertex_call(cl, "GET", name, name, NULL, false, "operation get", &rs, &hrc, oc) < 0)
		return hrc == AG_ENOMEM ? AG_ENOMEM : 0;
	if (rs.status != 200)
		net_outcome_from_reply(oc, "operation get", 0, &rs);
	else
		op_reply(&rs, "operation get", op, oc);
	return 0;
}
