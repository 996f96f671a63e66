/*
 * Batch mode: the batcher thread of `run`, `batch list`, `batch flush`.
 *
 * A batch moves through these states, each written to its state file
 * (write-to-temp, fsync, rename) before the next step starts:
 *
 *   open        images are added: each is uploaded as PREFIX/images/ID.jpg
 *               (ifGenerationMatch=0: a retry never makes a second copy),
 *               named durably, and only then acknowledged in the spool.
 *               The items live in the state's log (ID.log, a line each,
 *               appended and synced), not in the state file, so neither
 *               adding an item nor any later save rewrites the list: a
 *               batch of n items writes O(n) bytes for its names, not
 *               O(n^2). (State files written before the log existed keep
 *               their "items" and are read as they are.)
 *   sealed      full (batch.max_items), old (batch.max_age) or flushed: the
 *               JSONL input is built from the items and uploaded
 *               (resumable when large; the session is kept in the state)
 *   uploaded    create_attempted is written, then the job is created; after
 *               an ambiguous create (no reply) or a restart the job is
 *               looked up by its label before creating again
 *   submitted   the job is polled with a growing interval until it ends
 *   collecting  the output files are found by listing the job's output
 *               directory, every line joined back to its item; results are
 *               appended (from a recorded offset, so a repeat after a crash
 *               rewrites them instead of doubling them); items without an
 *               answer, or with a retryable error, go into the open batch
 *   done        kept for `batch list`; the oldest done ones are pruned
 */
#define AG_LOG_TAG "batch"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "net.h"
#include "run.h"
#include "stg.h"

#define KEEP_DONE 50               /* done batches kept for `batch list` */
#define MAX_TRIES 3u               /* batches an item may go through without an answer */
#define POLL_MAX_MS (5 * 60 * 1000)
#define MAX_OUTPUT_FILE (64u << 20)

struct item {
	char id[128];
	uint64_t seq;
	char captured_at[40];
	unsigned tries;
};

struct batch {
	char id[96];
	char state[16];
	uint64_t opened_ms;          /* wall */
	struct item *items;
	size_t n, cap;
	uint32_t *index;             /* open addressing over items by id: i + 1, 0 free */
	size_t index_cap;            /* a power of two, at least twice n */
	size_t n_state;              /* items[0..n_state) came from an older state file's "items" */
	char input[NET_GCS_NAME_MAX];
	char session[1024];
	bool create_attempted;
	char job[256];
	char job_state[48];
	char output_dir[1024];
	int64_t results_offset;
	uint64_t results_ino;          /* the results file's inode then (0: unknown, older state) */
	int64_t job_ok, job_failed, job_incomplete; /* the job's completionStats, -1 unknown */
	uint64_t ok, errors, resubmitted;
	char error[256];
	/* not persisted */
	bool saved;                  /* the state file exists: items may go to the log */
	uint64_t next_ms;            /* monotonic: not before */
	uint64_t poll_ms;
	struct net_backoff bo;
};

static const char *jstr(cJSON *o, const char *k);
static double jnum(cJSON *o, const char *k, double dflt);

struct ag_batcher {
	struct ag_run *r;
	const struct ag_config *cfg;
	char dir[PATH_MAX];
	struct net_http *http;
	struct net_auth *auth;
	struct net_client cl;
	atomic_bool abort;
	atomic_bool failed;
	struct stg_results *results;
	enum net_batch_format format;
	char parent[256];
	char prefix[512];            /* object prefix without trailing '/' */
	struct batch *open;
	struct batch **active;       /* sealed .. collecting */
	size_t nactive;
	struct net_backoff bo;       /* image uploads */
	uint64_t upload_next_ms;
	struct ag_ratelimit rl;
	atomic_bool idle;            /* spool empty, nothing open, nothing in flight */
};

/* ---- state files ------------------------------------------------------ */

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	free(b->items);
	free(b->index);
	free(b);
}

static struct batch *batch_new(struct ag_batcher *bt, const char *id)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	ag_strlcpy(b->id, id, sizeof(b->id));
	ag_strlcpy(b->state, "open", sizeof(b->state));
	b->opened_ms = ag_wall_ms();
	b->results_offset = -1;
	b->job_ok = b->job_failed = b->job_incomplete = -1;
	net_backoff_init(&b->bo, bt->cfg->retry.initial_ms, bt->cfg->retry.max_ms, bt->cfg->retry.multiplier);
	return b;
}

/* FNV-1a: item ids differ in their last characters. */
static uint32_t id_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The slot of id in the index: where it is, or the free one it would take. */
static size_t index_slot(const struct batch *b, const char *id)
{
	size_t mask = b->index_cap - 1;
	size_t i = id_hash(id) & mask;
	while (b->index[i] && strcmp(b->items[b->index[i] - 1].id, id) != 0)
		i = (i + 1) & mask;
	return i;
}

static int index_rebuild(struct batch *b, size_t cap)
{
	uint32_t *ni = calloc(cap, sizeof(*ni));
	if (!ni)
		return AG_ENOMEM;
	free(b->index);
	b->index = ni;
	b->index_cap = cap;
	for (size_t k = 0; k < b->n; k++)
		b->index[index_slot(b, b->items[k].id)] = (uint32_t)(k + 1);
	return 0;
}

/* The item with this id, or NULL. */
static struct item *batch_find(const struct batch *b, const char *id)
{
	if (!b->index_cap)
		return NULL;
	uint32_t k = b->index[index_slot(b, id)];
	return k ? &b->items[k - 1] : NULL;
}

/* Add an item unless its id is there (a repeat after a crash). */
static int batch_add(struct batch *b, const struct item *it)
{
	if (batch_find(b, it->id))
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct item *ni = realloc(b->items, cap * sizeof(*ni));
		if (!ni)
			return AG_ENOMEM;
		b->items = ni;
		b->cap = cap;
	}
	if (2 * (b->n + 1) > b->index_cap && index_rebuild(b, b->index_cap ? 2 * b->index_cap : 128) < 0)
		return AG_ENOMEM;
	b->items[b->n] = *it;
	b->index[index_slot(b, it->id)] = (uint32_t)(b->n + 1);
	b->n++;
	return 0;
}

/* Forget the items from n on (added but not made durable). */
static void batch_cut(struct batch *b, size_t n)
{
	if (n >= b->n)
		return;
	b->n = n;
	/* the index again in place, of the first n: no allocation, nothing to fail */
	memset(b->index, 0, b->index_cap * sizeof(*b->index));
	for (size_t k = 0; k < b->n; k++)
		b->index[index_slot(b, b->items[k].id)] = (uint32_t)(k + 1);
}

static cJSON *item_json(const struct item *x)
{
	cJSON *it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "id", x->id);
	cJSON_AddNumberToObject(it, "seq", (double)x->seq);
	cJSON_AddStringToObject(it, "captured_at", x->captured_at);
	if (x->tries)
		cJSON_AddNumberToObject(it, "tries", x->tries);
	return it;
}

/* An item of a state file or log line; 0, or <0 when it has no id. */
static int item_parse(cJSON *it, struct item *x)
{
	memset(x, 0, sizeof(*x));
	ag_strlcpy(x->id, jstr(it, "id"), sizeof(x->id));
	x->seq = (uint64_t)jnum(it, "seq", 0);
	ag_strlcpy(x->captured_at, jstr(it, "captured_at"), sizeof(x->captured_at));
	x->tries = (unsigned)jnum(it, "tries", 0);
	return x->id[0] ? 0 : AG_EINVAL;
}

static char *batch_json(const struct batch *b)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", b->id);
	cJSON_AddStringToObject(j, "state", b->state);
	char t[40];
	ag_format_rfc3339(b->opened_ms, t, sizeof(t));
	cJSON_AddStringToObject(j, "opened_at", t);
	cJSON_AddNumberToObject(j, "opened_ms", (double)b->opened_ms);
	if (b->n_state) { /* an older state file's items stay where they were */
		cJSON *items = cJSON_AddArrayToObject(j, "items");
		for (size_t i = 0; i < b->n_state && i < b->n; i++)
			cJSON_AddItemToArray(items, item_json(&b->items[i]));
	}
	if (b->input[0])
		cJSON_AddStringToObject(j, "input", b->input);
	if (b->session[0])
		cJSON_AddStringToObject(j, "session", b->session);
	cJSON_AddBoolToObject(j, "create_attempted", b->create_attempted);
	if (b->job[0])
		cJSON_AddStringToObject(j, "job", b->job);
	if (b->job_state[0])
		cJSON_AddStringToObject(j, "job_state", b->job_state);
	if (b->output_dir[0])
		cJSON_AddStringToObject(j, "output_dir", b->output_dir);
	if (b->results_offset >= 0) {
		cJSON_AddNumberToObject(j, "results_offset", (double)b->results_offset);
		if (b->results_ino)
			cJSON_AddNumberToObject(j, "results_ino", (double)b->results_ino);
	}
	if (b->job_ok >= 0 || b->job_failed >= 0 || b->job_incomplete >= 0) {
		cJSON *cs = cJSON_AddObjectToObject(j, "job_progress");
		cJSON_AddNumberToObject(cs, "successful", (double)b->job_ok);
		cJSON_AddNumberToObject(cs, "failed", (double)b->job_failed);
		cJSON_AddNumberToObject(cs, "incomplete", (double)b->job_incomplete);
	}
	cJSON_AddNumberToObject(j, "ok", (double)b->ok);
	cJSON_AddNumberToObject(j, "errors", (double)b->errors);
	cJSON_AddNumberToObject(j, "resubmitted", (double)b->resubmitted);
	if (b->error[0])
		cJSON_AddStringToObject(j, "error", b->error);
	char *s = cJSON_Print(j);
	cJSON_Delete(j);
	return s;
}

static const char *jstr(cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(cJSON *o, const char *k, double dflt)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Parse a state file. NULL with *why on a damaged one. */
static struct batch *batch_parse(struct ag_batcher *bt, const char *text, const char **why)
{
	cJSON *j = cJSON_Parse(text);
	*why = NULL;
	if (!cJSON_IsObject(j) || !jstr(j, "id")[0] || !jstr(j, "state")[0]) {
		*why = "not a batch state (no id or state)";
		cJSON_Delete(j);
		return NULL;
	}
	struct batch *b = batch_new(bt, jstr(j, "id"));
	if (!b) {
		cJSON_Delete(j);
		*why = "out of memory";
		return NULL;
	}
	ag_strlcpy(b->state, jstr(j, "state"), sizeof(b->state));
	b->opened_ms = (uint64_t)jnum(j, "opened_ms", (double)ag_wall_ms());
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "items")) {
		struct item x;
		if (item_parse(it, &x) < 0) {
			*why = "an item without an id";
			break;
		}
		if (batch_add(b, &x) < 0) {
			*why = "out of memory";
			break;
		}
	}
	b->n_state = b->n;
	ag_strlcpy(b->input, jstr(j, "input"), sizeof(b->input));
	ag_strlcpy(b->session, jstr(j, "session"), sizeof(b->session));
	b->create_attempted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "create_attempted"));
	ag_strlcpy(b->job, jstr(j, "job"), sizeof(b->job));
	ag_strlcpy(b->job_state, jstr(j, "job_state"), sizeof(b->job_state));
	ag_strlcpy(b->output_dir, jstr(j, "output_dir"), sizeof(b->output_dir));
	b->results_offset = (int64_t)jnum(j, "results_offset", -1);
	b->results_ino = (uint64_t)jnum(j, "results_ino", 0);
	cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "job_progress");
	b->job_ok = (int64_t)jnum(cs, "successful", -1);
	b->job_failed = (int64_t)jnum(cs, "failed", -1);
	b->job_incomplete = (int64_t)jnum(cs, "incomplete", -1);
	b->ok = (uint64_t)jnum(j, "ok", 0);
	b->errors = (uint64_t)jnum(j, "errors", 0);
	b->resubmitted = (uint64_t)jnum(j, "resubmitted", 0);
	ag_strlcpy(b->error, jstr(j, "error"), sizeof(b->error));
	cJSON_Delete(j);
	if (*why) {
		batch_free(b);
		return NULL;
	}
	return b;
}

/* Make b's state durable (its items are in the log). A failure is
 * logged; the caller does not go on. */
static int batch_save(struct ag_batcher *bt, struct batch *b)
{
	char *json = batch_json(b);
	int rc = json ? stg_state_write(bt->dir, b->id, json) : AG_ENOMEM;
	free(json);
	if (rc < 0) {
		ag_log_err("%s/%s.json: cannot write the batch state: %s", bt->dir, b->id, ag_strerror(rc));
		ag_run_error(bt->r, "batch state: %s", ag_strerror(rc));
		return rc;
	}
	b->saved = true;
	return 0;
}

/* Make the items from `from` on durable: a line each appended to the log,
 * after the state file it belongs to (a log is read only beside one). */
static int batch_save_items(struct ag_batcher *bt, struct batch *b, size_t from)
{
	if (from >= b->n)
		return 0;
	if (!b->saved) {
		int rc = batch_save(bt, b);
		if (rc < 0)
			return rc;
	}
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int rc = 0;
	for (size_t i = from; i < b->n && rc == 0; i++) {
		cJSON *it = item_json(&b->items[i]);
		char *line = it ? cJSON_PrintUnformatted(it) : NULL;
		cJSON_Delete(it);
		size_t ll = line ? strlen(line) : 0;
		if (!line) {
			rc = AG_ENOMEM;
		} else if (len + ll + 1 > cap) {
			size_t nc = 2 * (len + ll + 1) + 256;
			char *nb = realloc(buf, nc);
			if (nb) {
				buf = nb;
				cap = nc;
			} else {
				rc = AG_ENOMEM;
			}
		}
		if (rc == 0) {
			memcpy(buf + len, line, ll);
			buf[len + ll] = '\n';
			len += ll + 1;
		}
		free(line);
	}
	if (rc == 0)
		rc = stg_state_log_append(bt->dir, b->id, buf, len);
	free(buf);
	if (rc < 0) {
		ag_log_err("%s/%s.log: cannot name the batch's items: %s", bt->dir, b->id, ag_strerror(rc));
		ag_run_error(bt->r, "batch state: %s", ag_strerror(rc));
	}
	return rc;
}

/* Add a state file's log to b (a batch read from its state file); ids seen
 * already are skipped. The batcher repairs: a torn last line is cut. */
static int batch_merge_log(const char *dir, struct batch *b, bool repair)
{
	char *text = NULL;
	size_t len = 0;
	int rc = stg_state_log_read(dir, b->id, repair, &text, &len);
	if (rc < 0 || !text)
		return rc;
	size_t bad = 0;
	for (char *line = text, *end; line < text + len; line = end + 1) {
		end = memchr(line, '\n', (size_t)(text + len - line));
		*end = '\0';
		cJSON *it = cJSON_Parse(line);
		struct item x;
		if (!cJSON_IsObject(it) || item_parse(it, &x) < 0)
			bad++;
		else if (batch_add(b, &x) < 0)
			rc = AG_ENOMEM;
		cJSON_Delete(it);
		if (rc < 0)
			break;
	}
	free(text);
	if (bad)
		ag_log_err("%s/%s.log: %zu damaged lines left out", dir, b->id, bad);
	return rc;
}

static void set_state(struct batch *b, const char *state)
{
	ag_strlcpy(b->state, state, sizeof(b->state));
	b->next_ms = 0;
	net_backoff_reset(&b->bo);
}

/* ---- setup -------------------------------------------------------------- */

static const char *model_id(const char *model)
{
	const char *s = strrchr(model, '/');
	return s ? s + 1 : model;
}

int ag_batcher_create(struct ag_run *r, struct ag_batcher **out)
{
	const struct ag_config *c = r->cfg;
	struct ag_batcher *bt = calloc(1, sizeof(*bt));
	if (!bt)
		return AG_ENOMEM;
	bt->r = r;
	bt->cfg = c;
	bt->rl.interval_ms = 60000;
	atomic_init(&bt->abort, false);
	atomic_init(&bt->failed, false);
	atomic_init(&bt->idle, false);
	snprintf(bt->dir, sizeof(bt->dir), "%s/%s", c->spool.dir, AG_BATCH_DIR);
	bt->format = (enum net_batch_format)c->batch.format; /* same order as the config's list */
	/* jobs live under projects/P/locations/L: batch.parent, else the model's own */
	const char *m = strstr(c->batch.model, "/models/");
	if (c->batch.parent)
		ag_strlcpy(bt->parent, c->batch.parent, sizeof(bt->parent));
	else if (strncmp(c->batch.model, "projects/", 9) == 0 && m)
		snprintf(bt->parent, sizeof(bt->parent), "%.*s", (int)(m - c->batch.model), c->batch.model);
	if (!bt->parent[0]) {
		ag_log_err("batch.parent: missing: batch.model \"%s\" does not say which project and location run the job",
			   c->batch.model);
		free(bt);
		return AG_ECONFIG;
	}
	if (c->batch.prefix)
		snprintf(bt->prefix, sizeof(bt->prefix), "%s", c->batch.prefix);
	else
		snprintf(bt->prefix, sizeof(bt->prefix), "fieldcam/%s", c->device_id);
	size_t pl = strlen(bt->prefix);
	while (pl && bt->prefix[pl - 1] == '/')
		bt->prefix[--pl] = '\0';

	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = c->tls.ca_file;
	hc.timeout_ms = c->upload.timeout_ms;
	hc.abort = &bt->abort;
	hc.max_response = MAX_OUTPUT_FILE + 4096;
	int rc = net_http_create(&hc, &bt->http);
	if (rc < 0)
		goto fail;
	struct net_auth_config ac = {
		.type = (enum net_auth_type)c->auth.type,
		.key_file = c->auth.key_file,
		.token_uri = c->api.oauth_token_uri,
		.token_file = c->auth.token_file,
		.api_key = c->auth.api_key,
	};
	char why[512];
	if ((rc = net_auth_create(&ac, &bt->auth, why, sizeof(why))) < 0) {
		if (rc == AG_ECONFIG)
			ag_log_err("auth: %s", why);
		goto fail;
	}
	bt->cl.http = bt->http;
	bt->cl.auth = bt->auth;
	bt->cl.aiplatform = c->api.aiplatform;
	bt->cl.storage = c->api.storage;
	if ((rc = stg_results_open(c->results.file, false, &bt->results)) < 0) {
		ag_log_err("results.file %s: cannot open: %s", c->results.file, ag_strerror(rc));
		goto fail;
	}
	if ((rc = ag_mkdir_p(bt->dir, 0750)) < 0) {
		ag_log_err("%s: cannot create: %s", bt->dir, ag_strerror(rc));
		goto fail;
	}
	net_backoff_init(&bt->bo, c->retry.initial_ms, c->retry.max_ms, c->retry.multiplier);

	/* resume every batch that is not done */
	char **names = NULL;
	int n = stg_state_list(bt->dir, &names);
	if (n < 0) {
		rc = n;
		ag_log_err("%s: cannot list: %s", bt->dir, ag_strerror(rc));
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		char *text = NULL;
		if (stg_state_read(bt->dir, names[i], &text) < 0)
			continue;
		const char *bad = NULL;
		struct batch *b = batch_parse(bt, text, &bad);
		free(text);
		if (!b) {
			ag_log_err("%s/%s.json: %s: left alone", bt->dir, names[i], bad);
			continue;
		}
		b->saved = true;
		if (batch_merge_log(bt->dir, b, true) < 0) {
			ag_log_err("%s/%s.log: cannot read: left alone", bt->dir, names[i]);
			batch_free(b);
			continue;
		}
		if (strcmp(b->state, "done") == 0) {
			batch_free(b);
		} else if (strcmp(b->state, "open") == 0 && !bt->open) {
			bt->open = b;
		} else {
			struct batch **na = realloc(bt->active, (bt->nactive + 1) * sizeof(*na));
			if (!na) {
				batch_free(b);
				continue;
			}
			bt->active = na;
			if (strcmp(b->state, "open") == 0)
				set_state(b, "sealed"); /* a second open one (cannot happen): send it */
			bt->active[bt->nactive++] = b;
			ag_log_info("batch %s: resuming at \"%s\" (%zu items%s%s)", b->id, b->state, b->n,
				    b->job[0] ? ", job " : "", b->job);
		}
	}
	stg_state_list_free(names);
	*out = bt;
	return 0;
fail:
	ag_batcher_destroy(bt);
	return rc;
}

void ag_batcher_destroy(struct ag_batcher *bt)
{
	if (!bt)
		return;
	batch_free(bt->open);
	for (size_t i = 0; i < bt->nactive; i++)
		batch_free(bt->active[i]);
	free(bt->active);
	stg_results_close(bt->results);
	net_auth_destroy(bt->auth);
	net_http_destroy(bt->http);
	free(bt);
}

void ag_batcher_stop_requests(struct ag_batcher *bt)
{
	atomic_store(&bt->abort, true);
}

void ag_batcher_reload(struct ag_batcher *bt)
{
	net_auth_reload(bt->auth);
	stg_results_reopen(bt->results);
}

bool ag_batcher_failed(struct ag_batcher *bt)
{
	return atomic_load(&bt->failed);
}

/* ---- failures ------------------------------------------------------------ */

/* After a failed step: when to try again, and one log line (rate-limited). */
static uint64_t wait_after(struct ag_batcher *bt, struct net_backoff *bo, const struct net_outcome *oc,
			   const char *what)
{
	uint64_t d = net_backoff_next(bo, oc->retry_after_ms, oc->slow_down);
	if (oc->verdict == NET_FAIL) {
		atomic_store(&bt->failed, true);
		if (d < bt->cfg->retry.max_ms)
			d = bt->cfg->retry.max_ms;
	}
	unsigned suppressed = 0;
	if (ag_ratelimit_allow(&bt->rl, ag_now_ms(), &suppressed))
		ag_log_warnx("%s: %s: next try in %.1f s%s", what, oc->msg, (double)d / 1000,
			     suppressed ? " (similar failures not shown)" : "");
	ag_run_error(bt->r, "%s: %s", what, oc->msg);
	pthread_mutex_lock(&bt->r->mu);
	bt->r->upload_failures++;
	bt->r->next_retry_ms = ag_wall_ms() + d;
	pthread_mutex_unlock(&bt->r->mu);
	return ag_now_ms() + d;
}

static void worked(struct ag_batcher *bt)
{
	if (ag_ratelimit_reset(&bt->rl))
		ag_log_info("batch uploads work again");
	atomic_store(&bt->failed, false);
	pthread_mutex_lock(&bt->r->mu);
	bt->r->next_retry_ms = 0;
	pthread_mutex_unlock(&bt->r->mu);
}

/* ---- open batch: images in ---------------------------------------------- */

/* Batch ids: the record id of its first image (DEVICE-BOOT-SEQ), with
 * -rN added when that image is being sent again for the Nth time: never
 * reused, even when the spool starts again from sequence 1. */
static int open_batch(struct ag_batcher *bt, const char *first_id, unsigned tries)
{
	char id[96];
	if (tries)
		snprintf(id, sizeof(id), "%.80s-r%u", first_id, tries);
	else
		snprintf(id, sizeof(id), "%.80s", first_id);
	bt->open = batch_new(bt, id);
	return bt->open ? 0 : AG_ENOMEM;
}

static void image_name(struct ag_batcher *bt, const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s/images/%s.jpg", bt->prefix, id);
}

/* Take the oldest record: upload its image, name it in the open batch,
 * then let the spool forget it. Returns 1 if one was taken, 0 if nothing
 * to do now, <0 on a hard error. */
static int take_record(struct ag_batcher *bt, struct stg_record *rec)
{
	struct ag_run *r = bt->r;
	if (bt->upload_next_ms > ag_now_ms())
		return 0;
	int rc = stg_spool_peek(r->spool, 0, rec);
	if (rc == AG_ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	atomic_store(&bt->idle, false); /* before the ack empties the spool: run must not stop now */
	struct item it = { 0 };
	ag_record_facts(r, rec, it.id, sizeof(it.id), it.captured_at, sizeof(it.captured_at));
	it.seq = rec->seq;
	if (!bt->open && (rc = open_batch(bt, it.id, 0)) < 0)
		return rc;
	if (batch_find(bt->open, it.id)) {
		/* named before a crash, not yet acknowledged */
		(void)stg_spool_ack(r->spool, rec->seq);
		return 1;
	}
	char name[NET_GCS_NAME_MAX];
	image_name(bt, it.id, name, sizeof(name));
	struct net_outcome oc;
	bool already = false;
	if (net_gcs_upload(&bt->cl, bt->cfg->batch.bucket, name, "image/jpeg", rec->payload, rec->len, NULL,
			   &already, &oc) < 0)
		net_outcome_set(&oc, NET_RETRY, 0, "out of memory");
	if (atomic_load(&bt->abort))
		return 0;
	if (oc.verdict == NET_REJECT) {
		ag_log_warnx("%s: refused by Cloud Storage for good: %s: moved to rejected/", it.id, oc.msg);
		if (stg_spool_reject(r->spool, rec, it.id, oc.msg) == 0) {
			pthread_mutex_lock(&r->mu);
			r->rejected++;
			pthread_mutex_unlock(&r->mu);
		}
		return 1;
	}
	if (oc.verdict != NET_DONE) {
		bt->upload_next_ms = wait_after(bt, &bt->bo, &oc, it.id);
		return 0;
	}
	net_backoff_reset(&bt->bo);
	worked(bt);
	ag_crash_point("batch-image-uploaded");
	if (already)
		ag_log_debug("%s: already in the bucket", it.id);
	size_t before = bt->open->n;
	if ((rc = batch_add(bt->open, &it)) < 0)
		return rc;
	if ((rc = batch_save_items(bt, bt->open, before)) < 0) {
		batch_cut(bt->open, before); /* not named durably: the record stays in the spool */
		bt->upload_next_ms = ag_now_ms() + bt->cfg->retry.max_ms;
		return 0;
	}
	ag_crash_point("batch-image-named");
	(void)stg_spool_ack(r->spool, rec->seq);
	pthread_mutex_lock(&r->mu);
	r->uploaded++;
	r->last_upload_ms = ag_wall_ms();
	pthread_mutex_unlock(&r->mu);
	return 1;
}

/* Move the open batch to the active list as "sealed". */
static void seal(struct ag_batcher *bt, const char *why)
{
	struct batch *b = bt->open;
	if (!b || b->n == 0)
		return;
	struct batch **na = realloc(bt->active, (bt->nactive + 1) * sizeof(*na));
	if (!na)
		return;
	bt->active = na;
	set_state(b, "sealed");
	snprintf(b->input, sizeof(b->input), "%s/batches/%s.jsonl", bt->prefix, b->id);
	if (batch_save(bt, b) < 0) {
		ag_strlcpy(b->state, "open", sizeof(b->state));
		return;
	}
	ag_log_info("batch %s: sealed with %zu images (%s)", b->id, b->n, why);
	ag_crash_point("batch-sealed");
	bt->active[bt->nactive++] = b;
	bt->open = NULL;
}

/* ---- sealed: the JSONL input -------------------------------------------- */

static char *build_input(struct ag_batcher *bt, struct batch *b, size_t *len, const char **why)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		*why = "out of memory";
		return NULL;
	}
	for (size_t i = 0; i < b->n; i++) {
		char name[NET_GCS_NAME_MAX], uri[NET_GCS_NAME_MAX + NET_GCS_BUCKET_MAX + 8];
		image_name(bt, b->items[i].id, name, sizeof(name));
		snprintf(uri, sizeof(uri), "gs://%s/%s", bt->cfg->batch.bucket, name);
		struct net_batch_item it = {
			.uri = uri, .mime_type = "image/jpeg", .custom_id = b->items[i].id,
			.prompt = bt->cfg->batch.prompt, .model = model_id(bt->cfg->batch.model),
		};
		char *line = net_batch_input_line(bt->format, &it, why);
		if (!line) {
			free(buf);
			return NULL;
		}
		size_t l = strlen(line);
		if (n + l + 1 > cap) {
			while (n + l + 1 > cap)
				cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(line);
				free(buf);
				*why = "out of memory";
				return NULL;
			}
			buf = nb;
		}
		memcpy(buf + n, line, l);
		n += l;
		free(line);
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void step_sealed(struct ag_batcher *bt, struct batch *b)
{
	size_t len = 0;
	const char *why = NULL;
	char *data = build_input(bt, b, &len, &why);
	if (!data) {
		ag_log_err("batch %s: cannot build the input: %s", b->id, why);
		b->next_ms = ag_now_ms() + bt->cfg->retry.max_ms;
		return;
	}
	struct net_outcome oc;
	bool already = false;
	int rc;
	if (len <= bt->cfg->batch.resumable_above) {
		rc = net_gcs_upload(&bt->cl, bt->cfg->batch.bucket, b->input, "application/jsonl", data, len, NULL,
				    &already, &oc);
	} else {
		struct net_gcs_resumable u;
		rc = net_gcs_resumable_init(&u, bt->cfg->batch.bucket, b->input, "application/jsonl", len,
					    ag_crc32c(0, data, len), b->session);
		if (rc == 0) {
			/* small steps on a small file: less to send again after a cut */
			if (len < 4 * NET_GCS_CHUNK_DEFAULT)
				u.chunk = NET_GCS_CHUNK_UNIT;
			rc = net_gcs_resumable_send(&bt->cl, &u, data, NULL, &already, &oc);
			if (strcmp(u.session, b->session) != 0) {
				ag_strlcpy(b->session, u.session, sizeof(b->session));
				(void)batch_save(bt, b); /* resume from here after a restart */
				if (oc.verdict != NET_DONE)
					ag_crash_point("batch-session-saved");
			}
		}
	}
	free(data);
	ag_crash_point("batch-input-sent");
	if (rc < 0)
		net_outcome_set(&oc, NET_RETRY, 0, "batch %s input: %s", b->id, ag_strerror(rc));
	if (oc.verdict != NET_DONE) {
		b->next_ms = wait_after(bt, &b->bo, &oc, b->id);
		return;
	}
	worked(bt);
	set_state(b, "uploaded");
	b->session[0] = '\0';
	if (batch_save(bt, b) < 0)
		ag_strlcpy(b->state, "sealed", sizeof(b->state));
	else
		ag_log_info("batch %s: input gs://%s/%s uploaded (%zu bytes%s)", b->id, bt->cfg->batch.bucket, b->input,
			    len, already ? ", already there" : "");
}

/* ---- uploaded: one job, never two ------------------------------------- */

/* The job's displayName is the batch id (looked up by it after a lost reply). */
static void display_name(const struct batch *b, char *out, size_t len)
{
	snprintf(out, len, "%s", b->id);
}

/* After an ambiguous create or a restart: the job for b, if Vertex has one.
 * Returns 1 found (b->job set), 0 none, -1 could not tell (oc). */
static int find_job(struct ag_batcher *bt, struct batch *b, struct net_outcome *oc)
{
	char label[NET_LABEL_MAX + 1], dn[128];
	net_label_from_id(b->id, label);
	display_name(b, dn, sizeof(dn));
	struct net_batch_page p = { 0 };
	char token[512] = "";
	struct net_batch_job best = { 0 };
	bool found = false;
	do {
		if (net_batch_list(&bt->cl, bt->parent, label, token, &p, oc) < 0 || oc->verdict != NET_DONE) {
			net_batch_page_free(&p);
			return -1;
		}
		for (size_t i = 0; i < p.n; i++) {
			const struct net_batch_job *j = &p.jobs[i];
			if (strcmp(j->display_name, dn) != 0 || strstr(j->state, "FAILED"))
				continue;
			if (!found || strcmp(j->create_time, best.create_time) > 0) {
				best = *j;
				found = true;
			}
		}
		ag_strlcpy(token, p.next_page_token, sizeof(token));
	} while (token[0]);
	net_batch_page_free(&p);
	if (found) {
		ag_strlcpy(b->job, best.name, sizeof(b->job));
		ag_strlcpy(b->job_state, best.state, sizeof(b->job_state));
	}
	return found ? 1 : 0;
}

static void step_uploaded(struct ag_batcher *bt, struct batch *b)
{
	struct net_outcome oc;
	if (b->create_attempted && !b->job[0]) {
		int f = find_job(bt, b, &oc);
		if (f < 0) {
			b->next_ms = wait_after(bt, &b->bo, &oc, b->id);
			return;
		}
		if (f == 1) {
			ag_log_info("batch %s: found its job %s (created before the reply was lost)", b->id, b->job);
			set_state(b, "submitted");
			if (batch_save(bt, b) < 0)
				ag_strlcpy(b->state, "uploaded", sizeof(b->state));
			return;
		}
	}
	if (!b->create_attempted) {
		b->create_attempted = true;
		if (batch_save(bt, b) < 0) {
			b->create_attempted = false;
			b->next_ms = ag_now_ms() + bt->cfg->retry.max_ms;
			return;
		}
	}
	char dn[128], label[NET_LABEL_MAX + 1], in_uri[NET_GCS_NAME_MAX + NET_GCS_BUCKET_MAX + 8];
	char out_prefix[NET_GCS_NAME_MAX + NET_GCS_BUCKET_MAX + 8];
	display_name(b, dn, sizeof(dn));
	net_label_from_id(b->id, label);
	snprintf(in_uri, sizeof(in_uri), "gs://%s/%s", bt->cfg->batch.bucket, b->input);
	snprintf(out_prefix, sizeof(out_prefix), "gs://%s/%s/out/%s/", bt->cfg->batch.bucket, bt->prefix, b->id);
	const char *uris[1] = { in_uri };
	struct net_batch_job_config jc = {
		.parent = bt->parent, .display_name = dn, .model = bt->cfg->batch.model, .format = bt->format,
		.confidence_threshold = bt->cfg->online.confidence_threshold,
		.max_predictions = (unsigned)bt->cfg->online.max_predictions,
		.input_uris = uris, .ninput = 1, .output_prefix = out_prefix, .label = label,
	};
	struct net_batch_job job;
	bool maybe = false;
	ag_crash_point("batch-create-attempted");
	if (net_batch_create(&bt->cl, &jc, &job, &maybe, &oc) < 0)
		net_outcome_set(&oc, NET_FAIL, 0, "batch %s: the job request cannot be built", b->id);
	ag_crash_point("batch-created");
	if (oc.verdict != NET_DONE) {
		/* maybe created: the next turn looks it up by label first (create_attempted) */
		b->next_ms = wait_after(bt, &b->bo, &oc, b->id);
		return;
	}
	worked(bt);
	ag_strlcpy(b->job, job.name, sizeof(b->job));
	ag_strlcpy(b->job_state, job.state, sizeof(b->job_state));
	set_state(b, "submitted");
	if (batch_save(bt, b) < 0) {
		/* the next turn finds it by label */
		ag_strlcpy(b->state, "uploaded", sizeof(b->state));
		b->job[0] = '\0';
		return;
	}
	ag_log_info("batch %s: job %s created (%s)", b->id, b->job, b->job_state);
	ag_crash_point("batch-submitted");
}

/* ---- submitted: poll -------------------------------------------------- */

static void step_submitted(struct ag_batcher *bt, struct batch *b)
{
	struct net_outcome oc;
	struct net_batch_job job;
	if (net_batch_get(&bt->cl, b->job, &job, &oc) < 0)
		net_outcome_set(&oc, NET_RETRY, 0, "out of memory");
	if (oc.verdict == NET_FAIL && oc.status == 404) {
		ag_log_warnx("batch %s: job %s is gone (deleted): submitting again", b->id, b->job);
		b->job[0] = b->job_state[0] = '\0';
		b->create_attempted = false;
		set_state(b, "uploaded");
		(void)batch_save(bt, b);
		return;
	}
	if (oc.verdict != NET_DONE) {
		b->next_ms = wait_after(bt, &b->bo, &oc, b->id);
		return;
	}
	worked(bt);
	bool changed = strcmp(job.state, b->job_state) != 0 || job.successful != b->job_ok ||
		       job.failed != b->job_failed || job.incomplete != b->job_incomplete;
	ag_strlcpy(b->job_state, job.state, sizeof(b->job_state));
	b->job_ok = job.successful;
	b->job_failed = job.failed;
	b->job_incomplete = job.incomplete;
	if (!job.terminal) {
		if (changed) {
			(void)batch_save(bt, b);
			ag_log_info("batch %s: %s", b->id, b->job_state);
		}
		if (!b->poll_ms)
			b->poll_ms = bt->cfg->batch.poll_ms;
		b->next_ms = ag_now_ms() + b->poll_ms;
		b->poll_ms = b->poll_ms * 3 / 2 > POLL_MAX_MS ? POLL_MAX_MS : b->poll_ms * 3 / 2;
		return;
	}
	ag_strlcpy(b->output_dir, job.output_dir, sizeof(b->output_dir));
	if (job.has_error)
		snprintf(b->error, sizeof(b->error), "%.40s: code %d: %.200s", job.state, job.error.code, job.error.message);
	set_state(b, "collecting");
	if (batch_save(bt, b) < 0)
		ag_strlcpy(b->state, "submitted", sizeof(b->state));
	else
		ag_log_info("batch %s: job ended %s%s%s", b->id, b->job_state, b->error[0] ? ": " : "", b->error);
	ag_crash_point("batch-job-ended");
}

/* ---- collecting: results ---------------------------------------------- */

struct answer {
	bool have;
	bool is_error;
	enum net_verdict verdict;
	struct net_status error;
	struct net_prediction pred;
};

static long find_item(const struct ag_batcher *bt, const struct batch *b, const char *key)
{
	/* automl, gemini: the gs:// URI of the image; openai: the record id */
	const char *tail = strrchr(key, '/');
	tail = tail ? tail + 1 : key;
	for (size_t i = 0; i < b->n; i++) {
		if (bt->format == NET_BATCH_OPENAI) {
			if (strcmp(key, b->items[i].id) == 0)
				return (long)i;
		} else {
			size_t l = strlen(b->items[i].id);
			if (strncmp(tail, b->items[i].id, l) == 0 && strcmp(tail + l, ".jpg") == 0)
				return (long)i;
		}
	}
	return -1;
}

static const char *base_name(const char *name)
{
	const char *s = strrchr(name, '/');
	return s ? s + 1 : name;
}

/* Read every predictions*.jsonl / errors*.jsonl under the output dir. */
static int read_outputs(struct ag_batcher *bt, struct batch *b, struct answer *ans, struct net_outcome *oc)
{
	char bucket[NET_GCS_BUCKET_MAX], prefix[NET_GCS_NAME_MAX];
	if (net_gs_parse(b->output_dir, bucket, prefix) < 0) {
		net_outcome_set(oc, NET_FAIL, 0, "batch %s: output directory \"%s\" is not a gs:// URI", b->id,
				b->output_dir);
		return -1;
	}
	size_t pl = strlen(prefix);
	if (pl && prefix[pl - 1] != '/' && pl + 1 < sizeof(prefix)) {
		prefix[pl] = '/';
		prefix[pl + 1] = '\0';
	}
	struct net_gcs_page p = { 0 };
	char token[512] = "";
	unsigned bad_lines = 0;
	do {
		if (net_gcs_list(&bt->cl, bucket, prefix, token, &p, oc) < 0 || oc->verdict != NET_DONE) {
			net_gcs_page_free(&p);
			return -1;
		}
		for (size_t i = 0; i < p.n; i++) {
			const char *bn = base_name(p.items[i].name);
			size_t l = strlen(bn);
			if ((strncmp(bn, "predictions", 11) != 0 && strncmp(bn, "errors", 6) != 0) || l < 6 ||
			    strcmp(bn + l - 6, ".jsonl") != 0)
				continue;
			char *data = NULL;
			size_t len = 0;
			if (net_gcs_download(&bt->cl, bucket, p.items[i].name, MAX_OUTPUT_FILE, &data, &len, oc) < 0 ||
			    oc->verdict != NET_DONE) {
				free(data);
				net_gcs_page_free(&p);
				return -1;
			}
			char *line = data, *end = data + len;
			while (line < end) {
				char *nl = memchr(line, '\n', (size_t)(end - line));
				size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
				if (ll) {
					struct net_batch_result res;
					const char *why = NULL;
					if (net_batch_parse_line(bt->format, line, ll, NULL, &res, &why) < 0) {
						if (!bad_lines++)
							ag_log_warnx("batch %s: %s: a line cannot be used: %s", b->id, bn, why);
					} else {
						long k = find_item(bt, b, res.key);
						if (k >= 0 && !(ans[k].have && !ans[k].is_error)) {
							ans[k].have = true;
							ans[k].is_error = res.is_error;
							ans[k].verdict = res.verdict;
							ans[k].error = res.error;
							ans[k].pred = res.pred;
						}
					}
				}
				line += ll + 1;
			}
			free(data);
		}
		ag_strlcpy(token, p.next_page_token, sizeof(token));
	} while (token[0]);
	net_gcs_page_free(&p);
	return 0;
}

static char *result_line(struct ag_batcher *bt, const struct batch *b, const struct item *it, const struct answer *a,
			 const char *err)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", it->id);
	cJSON_AddStringToObject(j, "captured_at", it->captured_at);
	cJSON_AddStringToObject(j, "mode", "batch");
	cJSON_AddStringToObject(j, "model", a && a->pred.model[0] ? a->pred.model : bt->cfg->batch.model);
	if (a && a->pred.deployed_model_id[0])
		cJSON_AddStringToObject(j, "deployed_model_id", a->pred.deployed_model_id);
	else
		cJSON_AddNullToObject(j, "deployed_model_id");
	cJSON *labels = cJSON_AddArrayToObject(j, "labels");
	for (size_t i = 0; a && !err && i < a->pred.nlabels; i++) {
		cJSON *l = cJSON_CreateObject();
		cJSON_AddItemToArray(labels, l);
		if (a->pred.labels[i].id[0])
			cJSON_AddStringToObject(l, "id", a->pred.labels[i].id);
		else
			cJSON_AddNullToObject(l, "id");
		cJSON_AddStringToObject(l, "name", a->pred.labels[i].name);
		cJSON_AddNumberToObject(l, "confidence", a->pred.labels[i].confidence);
	}
	char name[NET_GCS_NAME_MAX], uri[NET_GCS_NAME_MAX + NET_GCS_BUCKET_MAX + 8];
	image_name(bt, it->id, name, sizeof(name));
	snprintf(uri, sizeof(uri), "gs://%s/%s", bt->cfg->batch.bucket, name);
	cJSON_AddStringToObject(j, "image_uri", uri);
	cJSON_AddStringToObject(j, "batch", b->id);
	if (a && a->pred.blocked[0])
		cJSON_AddStringToObject(j, "blocked", a->pred.blocked);
	if (err)
		cJSON_AddStringToObject(j, "error", err);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

/* The size and inode of the results file (0 and 0 when it is not there). */
static off_t results_size(const char *path, uint64_t *ino)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		*ino = 0;
		return 0;
	}
	*ino = (uint64_t)st.st_ino;
	return st.st_size;
}

static void step_collecting(struct ag_batcher *bt, struct batch *b)
{
	struct net_outcome oc;
	struct answer *ans = calloc(b->n ? b->n : 1, sizeof(*ans));
	if (!ans) {
		b->next_ms = ag_now_ms() + 1000;
		return;
	}
	bool job_ok = strstr(b->job_state, "SUCCEEDED") != NULL;
	if (b->output_dir[0] && read_outputs(bt, b, ans, &oc) < 0) {
		free(ans);
		b->next_ms = wait_after(bt, &b->bo, &oc, b->id);
		return;
	}
	/* where our lines start: a repeat after a crash cuts back to here */
	uint64_t ino;
	off_t size = results_size(bt->cfg->results.file, &ino);
	if (b->results_offset < 0) {
		b->results_offset = size;
		b->results_ino = ino;
		if (batch_save(bt, b) < 0) {
			b->results_offset = -1;
			free(ans);
			b->next_ms = ag_now_ms() + bt->cfg->retry.max_ms;
			return;
		}
	} else if (size > b->results_offset && (!b->results_ino || b->results_ino == ino)) {
		/* the same file (not one logrotate put in its place): cut back */
		if (truncate(bt->cfg->results.file, (off_t)b->results_offset) < 0)
			ag_log_warn("%s: cannot cut back the lines of an interrupted collection", bt->cfg->results.file);
	}
	/* a job FAILED for a bad input (code 3) rejects the batch; other ends without output resubmit */
	bool batch_rejected = !job_ok && strstr(b->error, "code 3:") != NULL;
	uint64_t ok = 0, errors = 0, resub = 0;
	size_t open_before = bt->open ? bt->open->n : 0;
	int rc = 0;
	for (size_t i = 0; i < b->n && rc == 0; i++) {
		struct item *it = &b->items[i];
		const struct answer *a = &ans[i];
		char err[300] = "";
		bool again = false;
		if (a->have && !a->is_error) {
			ok++;
		} else if (a->have && a->verdict == NET_REJECT) {
			snprintf(err, sizeof(err), "batch item failed: code %d: %s", a->error.code, a->error.message);
		} else if (batch_rejected) {
			snprintf(err, sizeof(err), "batch job failed: %s", b->error);
		} else if (it->tries + 1 >= MAX_TRIES) {
			snprintf(err, sizeof(err), "no answer after %u batches%s%s", MAX_TRIES, a->have ? ": " : "",
				 a->have ? a->error.message : "");
		} else {
			again = true;
		}
		if (again) {
			struct item x = *it;
			x.tries++;
			if (!bt->open && open_batch(bt, it->id, x.tries) < 0) {
				rc = AG_ENOMEM;
				break;
			}
			if ((rc = batch_add(bt->open, &x)) < 0)
				break;
			resub++;
			continue;
		}
		if (err[0])
			errors++;
		char *line = result_line(bt, b, it, a, err[0] ? err : NULL);
		rc = line ? stg_results_append(bt->results, line) : AG_ENOMEM;
		free(line);
		if (i == b->n / 2)
			ag_crash_point("batch-collecting");
	}
	free(ans);
	/* the resubmitted items are named durably before this batch is done */
	if (rc == 0 && resub && (rc = batch_save_items(bt, bt->open, open_before)) < 0)
		ag_log_err("batch %s: cannot keep the items to send again", b->id);
	if (rc < 0 && bt->open)
		batch_cut(bt->open, open_before); /* added again by the next try */
	if (rc == 0)
		rc = stg_results_sync(bt->results);
	ag_crash_point("batch-results-synced");
	if (rc < 0) {
		ag_log_err("batch %s: results not written: %s: trying again", b->id, ag_strerror(rc));
		b->next_ms = ag_now_ms() + bt->cfg->retry.max_ms;
		return;
	}
	b->ok = ok;
	b->errors = errors;
	b->resubmitted = resub;
	set_state(b, "done");
	if (batch_save(bt, b) < 0) {
		ag_strlcpy(b->state, "collecting", sizeof(b->state));
		return;
	}
	ag_log_info("batch %s: %" PRIu64 " results, %" PRIu64 " errors, %" PRIu64 " sent again", b->id, ok, errors,
		    resub);
	pthread_mutex_lock(&bt->r->mu);
	bt->r->last_upload_ms = ag_wall_ms();
	pthread_mutex_unlock(&bt->r->mu);
}

/* Keep the newest KEEP_DONE done batches. */
static void prune(struct ag_batcher *bt)
{
	char **names = NULL;
	int n = stg_state_list(bt->dir, &names);
	if (n <= KEEP_DONE) {
		stg_state_list_free(names);
		return;
	}
	struct { char *name; uint64_t opened; } *done = calloc((size_t)n, sizeof(*done));
	int nd = 0;
	for (int i = 0; done && i < n; i++) {
		char *text = NULL;
		if (stg_state_read(bt->dir, names[i], &text) < 0)
			continue;
		cJSON *j = cJSON_Parse(text);
		if (strcmp(jstr(j, "state"), "done") == 0) {
			done[nd].name = names[i];
			done[nd++].opened = (uint64_t)jnum(j, "opened_ms", 0);
		}
		cJSON_Delete(j);
		free(text);
	}
	while (done && nd > KEEP_DONE) { /* drop the oldest */
		int o = 0;
		for (int i = 1; i < nd; i++)
			if (done[i].opened < done[o].opened)
				o = i;
		(void)stg_state_remove(bt->dir, done[o].name);
		done[o] = done[--nd];
	}
	free(done);
	stg_state_list_free(names);
}

/* ---- the thread -------------------------------------------------------- */

static bool flush_requested(struct ag_batcher *bt)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", bt->dir, AG_BATCH_FLUSH_FILE);
	if (access(path, F_OK) != 0)
		return false;
	unlink(path);
	return true;
}

bool ag_batcher_idle(struct ag_batcher *bt)
{
	if (!atomic_load(&bt->idle))
		return false;
	struct stg_spool_stats st; /* a record appended since the batcher last looked */
	stg_spool_stats(bt->r->spool, &st);
	return st.pending_records == 0;
}

void ag_batcher_run(struct ag_batcher *bt)
{
	struct ag_run *r = bt->r;
	struct stg_record rec = { 0 };
	const struct ag_config *c = bt->cfg;
	while (!ag_event_is_set(&r->stop)) {
		ag_event_clear(&r->work);
		/* images in, as long as there are records and the link works */
		int took = 0, rc;
		while (!ag_event_is_set(&r->stop) && (rc = take_record(bt, &rec)) > 0) {
			took++;
			if (bt->open && bt->open->n >= c->batch.max_items)
				seal(bt, "batch.max_items reached");
		}
		/* seal on age, on request, or when --frames capture is over and all is in */
		bool flush = flush_requested(bt);
		if (bt->open && bt->open->n) {
			if (ag_wall_ms() - bt->open->opened_ms >= c->batch.max_age_ms)
				seal(bt, "batch.max_age reached");
			else if (flush)
				seal(bt, "flush requested");
			else if (r->frames_limit && ag_event_is_set(&r->capture_done)) {
				struct stg_spool_stats st;
				stg_spool_stats(r->spool, &st);
				if (st.pending_records == 0)
					seal(bt, "capture finished");
			}
		}
		/* every batch in flight one step further when its time has come */
		uint64_t now = ag_now_ms(), wake = now + 1000;
		for (size_t i = 0; i < bt->nactive && !ag_event_is_set(&r->stop); i++) {
			struct batch *b = bt->active[i];
			if (b->next_ms > ag_now_ms()) {
				if (b->next_ms < wake)
					wake = b->next_ms;
				continue;
			}
			if (strcmp(b->state, "sealed") == 0)
				step_sealed(bt, b);
			else if (strcmp(b->state, "uploaded") == 0)
				step_uploaded(bt, b);
			else if (strcmp(b->state, "submitted") == 0)
				step_submitted(bt, b);
			else if (strcmp(b->state, "collecting") == 0)
				step_collecting(bt, b);
			if (strcmp(b->state, "done") == 0) {
				batch_free(b);
				bt->active[i] = bt->active[--bt->nactive];
				i--;
				prune(bt);
				continue;
			}
			wake = ag_now_ms(); /* went a step: look again at once */
		}
		if (bt->upload_next_ms > now && bt->upload_next_ms < wake)
			wake = bt->upload_next_ms;
		if (bt->open && bt->open->n) {
			uint64_t age_due = bt->open->opened_ms + c->batch.max_age_ms;
			uint64_t wall = ag_wall_ms();
			uint64_t due = age_due > wall ? now + (age_due - wall) : now;
			if (due < wake)
				wake = due;
		}
		struct stg_spool_stats st;
		stg_spool_stats(r->spool, &st);
		atomic_store(&bt->idle, st.pending_records == 0 && (!bt->open || bt->open->n == 0) && bt->nactive == 0);
		now = ag_now_ms();
		if (wake > now && !took)
			ag_event_wait_ms(&r->work, wake - now);
	}
	stg_record_release(&rec);
}

/* ---- batch list -------------------------------------------------------- */

/* The items of a batch as `run` sees them: its log's and an older state
 * file's, each id once. */
static int count_items(const char *dir, cJSON *j)
{
	cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
	struct batch tmp = { 0 };
	ag_strlcpy(tmp.id, jstr(j, "id"), sizeof(tmp.id));
	cJSON *it;
	cJSON_ArrayForEach(it, items) {
		struct item x;
		if (item_parse(it, &x) == 0)
			(void)batch_add(&tmp, &x);
	}
	(void)batch_merge_log(dir, &tmp, false);
	int n = (int)tmp.n;
	free(tmp.items);
	free(tmp.index);
	return n;
}

int ag_batch_pending_count(const struct ag_config *cfg)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", cfg->spool.dir, AG_BATCH_DIR);
	char **names = NULL;
	int n = stg_state_list(dir, &names);
	if (n < 0)
		return -1;
	int pending = 0;
	for (int i = 0; i < n; i++) {
		char *text = NULL;
		if (stg_state_read(dir, names[i], &text) < 0)
			continue;
		cJSON *j = cJSON_Parse(text);
		if (strcmp(jstr(j, "state"), "done") != 0 && strcmp(jstr(j, "state"), "open") != 0)
			pending++;
		cJSON_Delete(j);
		free(text);
	}
	stg_state_list_free(names);
	return pending;
}

int ag_batch_list_print(const struct ag_config *cfg, bool json)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", cfg->spool.dir, AG_BATCH_DIR);
	char **names = NULL;
	int n = stg_state_list(dir, &names);
	if (n < 0) {
		fprintf(stderr, "fieldcam batch list: %s: %s\n", dir, ag_strerror(n));
		return n;
	}
	cJSON *arr = cJSON_CreateArray();
	if (!json && n == 0)
		printf("no batches in %s\n", dir);
	if (!json && n > 0)
		printf("%-28s %-11s %6s  %-26s %s\n", "BATCH", "STATE", "ITEMS", "JOB STATE", "RESULTS");
	for (int i = 0; i < n; i++) {
		char *text = NULL;
		if (stg_state_read(dir, names[i], &text) < 0)
			continue;
		cJSON *j = cJSON_Parse(text);
		free(text);
		if (!cJSON_IsObject(j)) {
			fprintf(stderr, "fieldcam batch list: %s/%s.json: damaged\n", dir, names[i]);
			cJSON_Delete(j);
			continue;
		}
		int items = count_items(dir, j);
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "id", jstr(j, "id"));
			cJSON_AddStringToObject(o, "state", jstr(j, "state"));
			cJSON_AddNumberToObject(o, "items", items);
			cJSON_AddStringToObject(o, "opened_at", jstr(j, "opened_at"));
			if (jstr(j, "job")[0])
				cJSON_AddStringToObject(o, "job", jstr(j, "job"));
			if (jstr(j, "job_state")[0])
				cJSON_AddStringToObject(o, "job_state", jstr(j, "job_state"));
			cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "job_progress");
			if (cs)
				cJSON_AddItemToObject(o, "job_progress", cJSON_Duplicate(cs, 1));
			cJSON_AddNumberToObject(o, "ok", jnum(j, "ok", 0));
			cJSON_AddNumberToObject(o, "errors", jnum(j, "errors", 0));
			cJSON_AddNumberToObject(o, "resubmitted", jnum(j, "resubmitted", 0));
			if (jstr(j, "error")[0])
				cJSON_AddStringToObject(o, "error", jstr(j, "error"));
			cJSON_AddItemToArray(arr, o);
		} else {
			char res[96] = "-";
			cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "job_progress");
			if (strcmp(jstr(j, "state"), "done") == 0)
				snprintf(res, sizeof(res), "%.0f ok, %.0f errors, %.0f again", jnum(j, "ok", 0),
					 jnum(j, "errors", 0), jnum(j, "resubmitted", 0));
			else if (cs && jnum(cs, "successful", -1) >= 0)
				snprintf(res, sizeof(res), "job: %.0f of %d done, %.0f failed", jnum(cs, "successful", 0) +
					 (jnum(cs, "failed", -1) > 0 ? jnum(cs, "failed", 0) : 0), items,
					 jnum(cs, "failed", -1) > 0 ? jnum(cs, "failed", 0) : 0);
			const char *js = jstr(j, "job_state");
			if (strncmp(js, "JOB_STATE_", 10) == 0)
				js += 10;
			printf("%-28s %-11s %6d  %-26s %s\n", jstr(j, "id"), jstr(j, "state"), items, js[0] ? js : "-", res);
			if (jstr(j, "error")[0])
				printf("  error: %s\n", jstr(j, "error"));
		}
		cJSON_Delete(j);
	}
	if (json) {
		char *s = cJSON_Print(arr);
		if (s)
			printf("%s\n", s);
		free(s);
	}
	cJSON_Delete(arr);
	stg_state_list_free(names);
	return 0;
}
