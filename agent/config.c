#define AG_LOG_TAG "config"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag.h"
#include "config.h"
#include "drv.h"

#define MAX_CONFIG_BYTES (1u << 20)

enum ftype {
	F_STR,    /* string; F_NULLABLE allows null */
	F_UINT,   /* integer number in [min, max] */
	F_SIZE,   /* bytes: integer or "512MiB" */
	F_DUR,    /* milliseconds: integer or "30s" */
	F_DOUBLE, /* number in [min, max] */
	F_ENUM,   /* one string of choices */
	F_STRLIST /* array of strings */
};

enum {
	F_NULLABLE = 1 << 0, /* null is allowed and means "not set" */
	F_SECRET = 1 << 1,   /* never printed */
};

/* Extra check of a string value: returns NULL if fine, else what is wrong. */
typedef const char *(*check_fn)(const char *v);

struct field {
	const char *key;
	enum ftype type;
	size_t off;
	double min, max;
	const char *def;          /* default as text (NULL = not set) */
	const char *const *choices;
	unsigned flags;
	check_fn check;
	const char *help;
};

static const char *const subsamp_choices[] = { "420", "422", "444", "gray", NULL };
static const char *const sync_choices[] = { "always", "batch", "none", NULL };
static const char *const full_choices[] = { "drop_oldest", "pause_capture", NULL };
static const char *const mode_choices[] = { "online", "batch", "none", NULL };
static const char *const kind_choices[] = { "automl", "gemini", NULL };
static const char *const bfmt_choices[] = { "automl", "gemini", "openai", NULL };
static const char *const auth_choices[] = { "service_account", "token_file", "api_key", "none", NULL };
static const char *const level_choices[] = { "error", "warn", "info", "debug", NULL };

static const char *check_device_id(const char *v);
static const char *check_camera_device(const char *v);
static const char *check_camera_format(const char *v);
static const char *check_nonempty(const char *v);
static const char *check_endpoint(const char *v);
static const char *check_bucket(const char *v);
static const char *check_prefix(const char *v);
static const char *check_model(const char *v);
static const char *check_parent(const char *v);
static const char *check_url(const char *v);
static const char *check_label(const char *v);

#define O(f) offsetof(struct ag_config, f)

static const struct field fields[] = {
	{ "device_id", F_STR, O(device_id), 0, 0, NULL, NULL, F_NULLABLE, check_device_id,
	  "name of this camera in record ids and object names (default: host name)" },

	{ "camera.device", F_STR, O(camera.device), 0, 0, "/dev/video0", NULL, 0, check_camera_device,
	  "V4L2 node, \"testpattern\" or \"files:DIR\"" },
	{ "camera.width", F_UINT, O(camera.width), 16, 7680, "1280", NULL, 0, NULL,
	  "frame width in pixels (even)" },
	{ "camera.height", F_UINT, O(camera.height), 16, 4320, "720", NULL, 0, NULL,
	  "frame height in pixels (even)" },
	{ "camera.format", F_STR, O(camera.format), 0, 0, "auto", NULL, 0, check_camera_format,
	  "auto (MJPEG first), mjpeg, yuyv, uyvy, nv12, yu12, grey, rgb24, bgr24, or a V4L2 fourcc" },
	{ "camera.interval", F_DUR, O(camera.interval_ms), 100, 86400000, "10s", NULL, 0, NULL,
	  "time between captures" },
	{ "camera.quality", F_UINT, O(camera.quality), 1, 100, "85", NULL, 0, NULL,
	  "JPEG quality" },
	{ "camera.subsampling", F_ENUM, O(camera.subsampling), 0, 0, "420", subsamp_choices, 0, NULL,
	  "JPEG chroma subsampling" },
	{ "camera.buffers", F_UINT, O(camera.buffers), 2, 32, "4", NULL, 0, NULL,
	  "V4L2 mmap buffers" },
	{ "camera.downscale", F_UINT, O(camera.downscale), 1, 4, "1", NULL, 0, NULL,
	  "encode at 1/1, 1/2 or 1/4 of the captured size" },

	{ "spool.dir", F_STR, O(spool.dir), 0, 0, "/var/lib/fieldcam/spool", NULL, 0, check_nonempty,
	  "folder of the spool segments" },
	{ "spool.max_bytes", F_SIZE, O(spool.max_bytes), 1048576, 1099511627776.0, "512MiB", NULL, 0, NULL,
	  "spool capacity" },
	{ "spool.segment_bytes", F_SIZE, O(spool.segment_bytes), 65536, 1073741824.0, "8MiB", NULL, 0, NULL,
	  "size of one segment file" },
	{ "spool.sync", F_ENUM, O(spool.sync), 0, 0, "batch", sync_choices, 0, NULL,
	  "always: fsync each record; batch: group commit; none: leave it to the kernel" },
	{ "spool.sync_interval", F_DUR, O(spool.sync_interval_ms), 10, 60000, "1s", NULL, 0, NULL,
	  "group commit interval for sync=batch" },
	{ "spool.on_full", F_ENUM, O(spool.on_full), 0, 0, "drop_oldest", full_choices, 0, NULL,
	  "what to do when the spool is full" },

	{ "upload.mode", F_ENUM, O(upload.mode), 0, 0, "online", mode_choices, 0, NULL,
	  "online prediction, batch jobs, or none (spool only)" },
	{ "upload.timeout", F_DUR, O(upload.timeout_ms), 1000, 600000, "30s", NULL, 0, NULL,
	  "total time for one request" },
	{ "upload.max_inflight", F_UINT, O(upload.max_inflight), 1, 8, "1", NULL, 0, NULL,
	  "requests in flight at once" },
	{ "upload.shutdown_timeout", F_DUR, O(upload.shutdown_timeout_ms), 0, 300000, "5s", NULL, 0, NULL,
	  "time given to in-flight requests on SIGTERM" },

	{ "online.kind", F_ENUM, O(online.kind), 0, 0, "automl", kind_choices, 0, NULL,
	  "automl (:predict) or gemini (:generateContent)" },
	{ "online.endpoint", F_STR, O(online.endpoint), 0, 0, NULL, NULL, F_NULLABLE, check_endpoint,
	  "projects/P/locations/L/endpoints/E, or .../publishers/google/models/M for gemini" },
	{ "online.prompt", F_STR, O(online.prompt), 0, 0,
	  "Classify this camera image. Answer with labels and confidences.", NULL, 0, check_nonempty,
	  "prompt sent with the image (gemini)" },
	{ "online.labels", F_STRLIST, O(online.labels), 0, 64, NULL, NULL, F_NULLABLE, check_label,
	  "allowed label names (gemini)" },
	{ "online.confidence_threshold", F_DOUBLE, O(online.confidence_threshold), 0, 1, "0.5", NULL, 0, NULL,
	  "drop labels below this confidence" },
	{ "online.max_predictions", F_UINT, O(online.max_predictions), 1, 100, "5", NULL, 0, NULL,
	  "at most this many labels per image" },

	{ "batch.bucket", F_STR, O(batch.bucket), 0, 0, NULL, NULL, F_NULLABLE, check_bucket,
	  "Cloud Storage bucket for images and JSONL" },
	{ "batch.prefix", F_STR, O(batch.prefix), 0, 0, NULL, NULL, F_NULLABLE, check_prefix,
	  "object name prefix (default: fieldcam/DEVICE_ID)" },
	{ "batch.model", F_STR, O(batch.model), 0, 0, NULL, NULL, F_NULLABLE, check_model,
	  "projects/P/locations/L/models/M, or publishers/PUB/models/M" },
	{ "batch.parent", F_STR, O(batch.parent), 0, 0, NULL, NULL, F_NULLABLE, check_parent,
	  "projects/P/locations/L that runs the jobs (default: batch.model's, when it has one)" },
	{ "batch.resumable_above", F_SIZE, O(batch.resumable_above), 262144, 1073741824.0, "8MiB", NULL, 0, NULL,
	  "JSONL inputs larger than this go up as resumable uploads (resumed after a cut)" },
	{ "batch.poll", F_DUR, O(batch.poll_ms), 100, 300000, "30s", NULL, 0, NULL,
	  "first wait between polls of a running job (grows to 5m)" },
	{ "batch.max_items", F_UINT, O(batch.max_items), 1, 30000, "500", NULL, 0, NULL,
	  "submit a batch at this many images" },
	{ "batch.max_age", F_DUR, O(batch.max_age_ms), 1000, 604800000, "1h", NULL, 0, NULL,
	  "or when its oldest image is this old" },
	{ "batch.format", F_ENUM, O(batch.format), 0, 0, "automl", bfmt_choices, 0, NULL,
	  "JSONL line format: automl, gemini or openai" },
	{ "batch.prompt", F_STR, O(batch.prompt), 0, 0,
	  "Classify this camera image. Answer with labels and confidences.", NULL, 0, check_nonempty,
	  "prompt for gemini and openai lines" },

	{ "auth.type", F_ENUM, O(auth.type), 0, 0, "service_account", auth_choices, 0, NULL,
	  "service_account, token_file, api_key or none" },
	{ "auth.key_file", F_STR, O(auth.key_file), 0, 0, NULL, NULL, F_NULLABLE, check_nonempty,
	  "service account key (JSON) for service_account" },
	{ "auth.token_file", F_STR, O(auth.token_file), 0, 0, NULL, NULL, F_NULLABLE, check_nonempty,
	  "file holding an access token, re-read when it changes" },
	{ "auth.api_key", F_STR, O(auth.api_key), 0, 0, NULL, NULL, F_NULLABLE | F_SECRET, check_nonempty,
	  "API key (Vertex AI express mode, gemini only)" },

	{ "tls.ca_file", F_STR, O(tls.ca_file), 0, 0, NULL, NULL, F_NULLABLE, check_nonempty,
	  "CA bundle (PEM) instead of the system's" },

	{ "retry.initial", F_DUR, O(retry.initial_ms), 10, 3600000, "1s", NULL, 0, NULL,
	  "first backoff delay" },
	{ "retry.max", F_DUR, O(retry.max_ms), 100, 86400000, "5m", NULL, 0, NULL,
	  "longest backoff delay" },
	{ "retry.multiplier", F_DOUBLE, O(retry.multiplier), 1, 10, "2.0", NULL, 0, NULL,
	  "backoff growth per attempt" },

	{ "results.images_dir", F_STR, O(results.images_dir), 0, 0, NULL, NULL, F_NULLABLE, check_nonempty,
	  "online mode: keep each classified image here as ID.jpg (for dataset export); null: not kept" },
	{ "results.file", F_STR, O(results.file), 0, 0, "/var/lib/fieldcam/results.jsonl", NULL, 0,
	  check_nonempty, "where classification results are appended (JSON lines)" },

	{ "api.aiplatform", F_STR, O(api.aiplatform), 0, 0, NULL, NULL, F_NULLABLE, check_url,
	  "base URL replacing https://LOCATION-aiplatform.googleapis.com" },
	{ "api.storage", F_STR, O(api.storage), 0, 0, NULL, NULL, F_NULLABLE, check_url,
	  "base URL replacing https://storage.googleapis.com" },
	{ "api.oauth_token_uri", F_STR, O(api.oauth_token_uri), 0, 0, NULL, NULL, F_NULLABLE, check_url,
	  "token URI replacing the key file's token_uri" },

	{ "log.level", F_ENUM, O(log.level), 0, 0, "info", level_choices, 0, NULL,
	  "error, warn, info or debug" },
};

#undef O

/* ---- reports ---------------------------------------------------------- */

AG_PRINTF(4, 0)
static void add_msg(char **list, int *n, int *dropped, const char *fmt, va_list ap)
{
	if (*n >= AG_CFG_MAX_MSGS) {
		if (dropped)
			(*dropped)++;
		return;
	}
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	list[*n] = strdup(buf);
	if (list[*n])
		(*n)++;
}

AG_PRINTF(2, 3)
static void err(struct ag_cfg_report *rep, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_msg(rep->errors, &rep->nerr, &rep->dropped_errors, fmt, ap);
	va_end(ap);
}

AG_PRINTF(2, 3)
static void warn(struct ag_cfg_report *rep, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_msg(rep->warnings, &rep->nwarn, NULL, fmt, ap);
	va_end(ap);
}

void ag_cfg_report_free(struct ag_cfg_report *rep)
{
	for (int i = 0; i < rep->nerr; i++)
		free(rep->errors[i]);
	for (int i = 0; i < rep->nwarn; i++)
		free(rep->warnings[i]);
	memset(rep, 0, sizeof(*rep));
}

void ag_cfg_report_print(const struct ag_cfg_report *rep, FILE *f)
{
	for (int i = 0; i < rep->nerr; i++)
		fprintf(f, "config: %s\n", rep->errors[i]);
	if (rep->dropped_errors)
		fprintf(f, "config: (%d more errors not shown)\n", rep->dropped_errors);
	for (int i = 0; i < rep->nwarn; i++)
		fprintf(f, "config: warning: %s\n", rep->warnings[i]);
}

/* ---- field storage ---------------------------------------------------- */

static void *at(struct ag_config *c, const struct field *f)
{
	return (char *)c + f->off;
}

static const void *cat(const struct ag_config *c, const struct field *f)
{
	return (const char *)c + f->off;
}

static void strlist_free(char **l)
{
	if (!l)
		return;
	for (char **p = l; *p; p++)
		free(*p);
	free(l);
}

static void field_clear(struct ag_config *c, const struct field *f)
{
	if (f->type == F_STR) {
		char **p = at(c, f);
		free(*p);
		*p = NULL;
	} else if (f->type == F_STRLIST) {
		char ***p = at(c, f);
		strlist_free(*p);
		*p = NULL;
	}
}

static int enum_index(const char *const *choices, const char *v)
{
	for (int i = 0; choices[i]; i++)
		if (strcmp(choices[i], v) == 0)
			return i;
	return -1;
}

static void choices_text(const char *const *choices, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; choices[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", choices[i]);
}

/* Set a field from its default text. Defaults are trusted (unit-tested). */
static int field_default(struct ag_config *c, const struct field *f)
{
	field_clear(c, f);
	const char *d = f->def;
	switch (f->type) {
	case F_STR:
		if (d && !(*(char **)at(c, f) = strdup(d)))
			return AG_ENOMEM;
		return 0;
	case F_STRLIST:
		return 0;
	case F_UINT:
		*(uint64_t *)at(c, f) = d ? strtoull(d, NULL, 10) : 0;
		return 0;
	case F_SIZE:
		*(uint64_t *)at(c, f) = 0;
		return d ? ag_parse_size(d, at(c, f)) : 0;
	case F_DUR:
		*(uint64_t *)at(c, f) = 0;
		return d ? ag_parse_duration(d, at(c, f)) : 0;
	case F_DOUBLE:
		*(double *)at(c, f) = d ? strtod(d, NULL) : 0;
		return 0;
	case F_ENUM:
		*(int *)at(c, f) = d ? enum_index(f->choices, d) : 0;
		return *(int *)at(c, f) < 0 ? AG_EINVAL : 0;
	}
	return AG_EINVAL;
}

static void default_device_id(struct ag_config *c)
{
	char host[256];
	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	/* keep what an object name and a record id can hold */
	char id[64];
	size_t n = 0;
	for (size_t i = 0; host[i] && n < sizeof(id) - 1; i++) {
		unsigned char ch = (unsigned char)host[i];
		id[n++] = (isalnum(ch) || ch == '-' || ch == '_') ? (char)ch : '-';
	}
	id[n] = '\0';
	free(c->device_id);
	c->device_id = strdup(n ? id : "fieldcam");
}

int ag_config_defaults(struct ag_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < AG_NELEM(fields); i++) {
		int rc = field_default(c, &fields[i]);
		if (rc < 0) {
			ag_config_free(c);
			return rc == AG_ENOMEM ? AG_ENOMEM : AG_EINVAL;
		}
	}
	return 0;
}

void ag_config_free(struct ag_config *c)
{
	for (size_t i = 0; i < AG_NELEM(fields); i++)
		field_clear(c, &fields[i]);
}

static const struct field *find_field(const char *key)
{
	for (size_t i = 0; i < AG_NELEM(fields); i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

/* Is key the name of a section ("camera")? */
static bool is_section(const char *key)
{
	size_t l = strlen(key);
	for (size_t i = 0; i < AG_NELEM(fields); i++)
		if (strncmp(fields[i].key, key, l) == 0 && fields[i].key[l] == '.')
			return true;
	return false;
}

/* Levenshtein distance, for "did you mean" on unknown keys. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	size_t d[64][64];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t m = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < m)
				m = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < m)
				m = d[i - 1][j - 1] + cost;
			d[i][j] = m;
		}
	}
	return d[la][lb];
}

static const char *suggest(const char *key)
{
	const char *best = NULL;
	size_t bd = 3; /* only close matches */
	for (size_t i = 0; i < AG_NELEM(fields); i++) {
		size_t dd = edit_distance(key, fields[i].key);
		if (dd < bd) {
			bd = dd;
			best = fields[i].key;
		}
	}
	return best;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsNull(v)) return "null";
	if (cJSON_IsBool(v)) return "a boolean";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsObject(v)) return "an object";
	return "an unknown value";
}

static const char *expected_text(const struct field *f)
{
	switch (f->type) {
	case F_STR: return "a string";
	case F_UINT: return "a whole number";
	case F_SIZE: return "a size (bytes, or a string like \"512MiB\")";
	case F_DUR: return "a duration (milliseconds, or a string like \"30s\")";
	case F_DOUBLE: return "a number";
	case F_ENUM: return "a string";
	case F_STRLIST: return "an array of strings";
	}
	return "?";
}

static void fmt_limit(const struct field *f, double v, char *buf, size_t len)
{
	if (f->type == F_SIZE)
		ag_format_size((uint64_t)v, buf, len);
	else if (f->type == F_DUR)
		ag_format_duration((uint64_t)v, buf, len);
	else if (f->type == F_DOUBLE)
		snprintf(buf, len, "%g", v);
	else
		snprintf(buf, len, "%.0f", v);
}

static void range_error(struct ag_cfg_report *rep, const char *name, const struct field *f,
			const char *shown)
{
	char lo[32], hi[32];
	fmt_limit(f, f->min, lo, sizeof(lo));
	fmt_limit(f, f->max, hi, sizeof(hi));
	err(rep, "%s: %s: %s not in %s..%s", name, f->key, shown, lo, hi);
}

/* Exact integer value of a JSON number, if it is one. */
static bool json_uint(const cJSON *v, uint64_t *out)
{
	double d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
		return false;
	*out = (uint64_t)d;
	return true;
}

static void set_field(struct ag_config *c, const struct field *f, const cJSON *v,
		      const char *name, struct ag_cfg_report *rep)
{
	char shown[96];
	if (cJSON_IsNull(v)) {
		if (f->flags & F_NULLABLE) {
			field_clear(c, f);
			return;
		}
		err(rep, "%s: %s: null is not allowed, expected %s", name, f->key, expected_text(f));
		return;
	}
	switch (f->type) {
	case F_STR: {
		if (!cJSON_IsString(v)) {
			err(rep, "%s: %s: expected a string, got %s", name, f->key, json_type_name(v));
			return;
		}
		const char *why = f->check ? f->check(v->valuestring) : NULL;
		if (why) {
			if (f->flags & F_SECRET)
				err(rep, "%s: %s: %s", name, f->key, why);
			else
				err(rep, "%s: %s: \"%.60s\" %s", name, f->key, v->valuestring, why);
			return;
		}
		field_clear(c, f);
		*(char **)at(c, f) = strdup(v->valuestring);
		return;
	}
	case F_STRLIST: {
		if (!cJSON_IsArray(v)) {
			err(rep, "%s: %s: expected an array of strings, got %s", name, f->key,
			    json_type_name(v));
			return;
		}
		int n = cJSON_GetArraySize(v);
		if (n < 1 || n > (int)f->max) {
			err(rep, "%s: %s: %d entries, expected 1..%.0f", name, f->key, n, f->max);
			return;
		}
		char **l = calloc((size_t)n + 1, sizeof(*l));
		if (!l)
			return;
		int i = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, v) {
			const char *why = NULL;
			if (!cJSON_IsString(e))
				why = "is not a string";
			else if (f->check)
				why = f->check(e->valuestring);
			if (why) {
				err(rep, "%s: %s[%d]: %s", name, f->key, i, why);
				strlist_free(l);
				return;
			}
			for (int k = 0; k < i; k++) {
				if (strcmp(l[k], e->valuestring) == 0) {
					err(rep, "%s: %s[%d]: \"%.60s\" is listed twice", name, f->key, i,
					    e->valuestring);
					strlist_free(l);
					return;
				}
			}
			l[i++] = strdup(e->valuestring);
		}
		field_clear(c, f);
		*(char ***)at(c, f) = l;
		return;
	}
	case F_UINT: {
		uint64_t u;
		if (!cJSON_IsNumber(v)) {
			err(rep, "%s: %s: expected a whole number, got %s", name, f->key, json_type_name(v));
			return;
		}
		if (!json_uint(v, &u)) {
			snprintf(shown, sizeof(shown), "%g", v->valuedouble);
			if (v->valuedouble < 0 || !isfinite(v->valuedouble)) {
				range_error(rep, name, f, shown);
				return;
			}
			err(rep, "%s: %s: %s is not a whole number", name, f->key, shown);
			return;
		}
		if ((double)u < f->min || (double)u > f->max) {
			snprintf(shown, sizeof(shown), "%llu", (unsigned long long)u);
			range_error(rep, name, f, shown);
			return;
		}
		*(uint64_t *)at(c, f) = u;
		return;
	}
	case F_SIZE:
	case F_DUR: {
		uint64_t u = 0;
		if (cJSON_IsNumber(v)) {
			if (!json_uint(v, &u)) {
				snprintf(shown, sizeof(shown), "%g", v->valuedouble);
				err(rep, "%s: %s: %s is not a whole number of %s", name, f->key, shown,
				    f->type == F_SIZE ? "bytes" : "milliseconds");
				return;
			}
			snprintf(shown, sizeof(shown), "%llu", (unsigned long long)u);
		} else if (cJSON_IsString(v)) {
			int rc = f->type == F_SIZE ? ag_parse_size(v->valuestring, &u)
						   : ag_parse_duration(v->valuestring, &u);
			if (rc < 0) {
				err(rep, "%s: %s: \"%.40s\" is not a %s", name, f->key, v->valuestring,
				    f->type == F_SIZE ? "size (like \"512MiB\", \"64KiB\", \"1GB\")"
						      : "duration (like \"500ms\", \"30s\", \"5m\", \"1h\")");
				return;
			}
			snprintf(shown, sizeof(shown), "\"%.40s\"", v->valuestring);
		} else {
			err(rep, "%s: %s: expected %s, got %s", name, f->key, expected_text(f),
			    json_type_name(v));
			return;
		}
		if ((double)u < f->min || (double)u > f->max) {
			range_error(rep, name, f, shown);
			return;
		}
		*(uint64_t *)at(c, f) = u;
		return;
	}
	case F_DOUBLE: {
		if (!cJSON_IsNumber(v)) {
			err(rep, "%s: %s: expected a number, got %s", name, f->key, json_type_name(v));
			return;
		}
		double d = v->valuedouble;
		if (!isfinite(d) || d < f->min || d > f->max) {
			snprintf(shown, sizeof(shown), "%g", d);
			range_error(rep, name, f, shown);
			return;
		}
		*(double *)at(c, f) = d;
		return;
	}
	case F_ENUM: {
		char list[160];
		choices_text(f->choices, list, sizeof(list));
		if (!cJSON_IsString(v)) {
			if (cJSON_IsNumber(v))
				err(rep, "%s: %s: expected a string (one of %s), got the number %g; write it in quotes",
				    name, f->key, list, v->valuedouble);
			else
				err(rep, "%s: %s: expected one of %s, got %s", name, f->key, list,
				    json_type_name(v));
			return;
		}
		int idx = enum_index(f->choices, v->valuestring);
		if (idx < 0) {
			err(rep, "%s: %s: \"%.40s\" is not one of %s", name, f->key, v->valuestring, list);
			return;
		}
		*(int *)at(c, f) = idx;
		return;
	}
	}
}

static void walk(struct ag_config *c, const cJSON *obj, const char *prefix, const char *name,
		 struct ag_cfg_report *rep)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, obj) {
		char key[128];
		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", v->string);
		/* duplicate keys: JSON allows them, a config must not */
		for (const cJSON *p = obj->child; p != v; p = p->next) {
			if (strcmp(p->string, v->string) == 0) {
				err(rep, "%s: %s: key given twice", name, key);
				break;
			}
		}
		const struct field *f = find_field(key);
		if (f) {
			set_field(c, f, v, name, rep);
			continue;
		}
		if (is_section(key)) {
			if (!cJSON_IsObject(v))
				err(rep, "%s: %s: expected an object, got %s", name, key, json_type_name(v));
			else
				walk(c, v, key, name, rep);
			continue;
		}
		const char *s = suggest(key);
		if (s)
			err(rep, "%s: %s: unknown key (did you mean %s?)", name, key, s);
		else
			err(rep, "%s: %s: unknown key", name, key);
	}
}

/* ---- value checks ----------------------------------------------------- */

static const char *check_nonempty(const char *v)
{
	return *v ? NULL : "must not be empty";
}

static const char *check_device_id(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 63)
		return "must be 1..63 characters";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (!isalnum(ch) && ch != '-' && ch != '_')
			return "may hold only letters, digits, '-' and '_'";
	}
	return NULL;
}

/* The same rule as capture -f: drivers/ parses both. */
static const char *check_camera_format(const char *v)
{
	struct drv_source_config sc;
	drv_source_config_defaults(&sc);
	if (drv_source_config_format(&sc, v) == 0)
		return NULL;
	return "is not one of auto, mjpeg, yuyv, uyvy, nv12, yu12, grey, rgb24, bgr24, "
	       "or a V4L2 fourcc of 3 or 4 capitals and digits such as YVYU";
}

static const char *check_camera_device(const char *v)
{
	if (strcmp(v, "testpattern") == 0 || v[0] == '/')
		return NULL;
	if (strncmp(v, "files:", 6) == 0)
		return v[6] ? NULL : "needs a folder after \"files:\"";
	return "is not a device path (/dev/videoN), \"testpattern\" or \"files:DIR\"";
}

/* Segment of a resource name: letters, digits, '-', '_', '.' */
static bool name_segment(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
			return false;
	}
	return true;
}

/* Match "lit1/X/lit2/Y/..." where pattern words starting with '*' are segments. */
static bool match_name(const char *v, const char *pattern)
{
	const char *p = pattern;
	while (*p) {
		const char *pe = strchr(p, '/');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p);
		const char *ve = strchr(v, '/');
		size_t vl = ve ? (size_t)(ve - v) : strlen(v);
		if (p[0] == '*') {
			if (!name_segment(v, vl))
				return false;
		} else if (pl != vl || strncmp(p, v, pl) != 0) {
			return false;
		}
		p += pl;
		v += vl;
		if (*p == '/') {
			if (*v != '/')
				return false;
			p++;
			v++;
		} else if (*v) {
			return false;
		}
	}
	return *v == '\0';
}

static bool is_automl_endpoint(const char *v)
{
	return match_name(v, "projects/*/locations/*/endpoints/*");
}

static bool is_publisher_model(const char *v)
{
	return match_name(v, "projects/*/locations/*/publishers/*/models/*");
}

static const char *check_endpoint(const char *v)
{
	if (is_automl_endpoint(v) || is_publisher_model(v))
		return NULL;
	return "is not projects/P/locations/L/endpoints/E or projects/P/locations/L/publishers/google/models/M";
}

static const char *check_model(const char *v)
{
	if (match_name(v, "projects/*/locations/*/models/*") || match_name(v, "publishers/*/models/*"))
		return NULL;
	return "is not projects/P/locations/L/models/M or publishers/PUB/models/M";
}

static const char *check_bucket(const char *v)
{
	/* Cloud Storage bucket names: 3..63 of a-z 0-9 - _ . starting and
	 * ending with a letter or digit */
	size_t n = strlen(v);
	if (n < 3 || n > 63)
		return "must be 3..63 characters";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (!(islower(ch) || isdigit(ch) || ch == '-' || ch == '_' || ch == '.'))
			return "may hold only lowercase letters, digits, '-', '_' and '.'";
	}
	if (!isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
		return "must start and end with a letter or digit";
	return NULL;
}

static const char *check_parent(const char *v)
{
	return match_name(v, "projects/*/locations/*") ? NULL : "is not projects/P/locations/L";
}

static const char *check_prefix(const char *v)
{
	if (!*v)
		return "must not be empty";
	if (v[0] == '/')
		return "must not start with '/'";
	if (strstr(v, "//"))
		return "must not contain \"//\"";
	if (strlen(v) > 512)
		return "is longer than 512 characters";
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '#' || *p == '[' || *p == ']' || *p == '*' || *p == '?')
			return "holds a character Cloud Storage names should not (control, #, [, ], *, ?)";
	return NULL;
}

static const char *check_label(const char *v)
{
	if (!*v)
		return "must not be empty";
	if (strlen(v) > 64)
		return "is longer than 64 characters";
	return NULL;
}

/* Split "scheme://host[:port]/..." and return the host into buf. */
static bool url_host(const char *url, char *scheme, size_t slen, char *host, size_t hlen)
{
	const char *p = strstr(url, "://");
	if (!p || (size_t)(p - url) >= slen)
		return false;
	memcpy(scheme, url, (size_t)(p - url));
	scheme[p - url] = '\0';
	p += 3;
	const char *end;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return false;
		p++;
	} else {
		end = p + strcspn(p, ":/?#");
	}
	size_t n = (size_t)(end - p);
	if (n == 0 || n >= hlen)
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	return true;
}

bool ag_config_url_is_loopback(const char *url)
{
	char scheme[16], host[256];
	if (!url_host(url, scheme, sizeof(scheme), host, sizeof(host)))
		return false;
	if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	unsigned a, b, cc, d;
	char extra;
	if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &extra) == 4 && a == 127 && b < 256 &&
	    cc < 256 && d < 256)
		return true;
	return false;
}

static const char *check_url(const char *v)
{
	char scheme[16], host[256];
	if (!url_host(v, scheme, sizeof(scheme), host, sizeof(host)))
		return "is not a URL (https://HOST[:PORT][/PATH])";
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20)
			return "holds a space or control character";
	if (strcmp(scheme, "https") == 0)
		return NULL;
	if (strcmp(scheme, "http") == 0)
		return ag_config_url_is_loopback(v) ? NULL
						    : "uses http: HTTPS is required unless the host is loopback";
	return "is not an https:// URL";
}

/* ---- cross-field rules ------------------------------------------------ */

static void cross_check(struct ag_config *c, const char *name, struct ag_cfg_report *rep)
{
	char a[32], b[32];
	if (c->camera.width % 2 || c->camera.height % 2)
		err(rep, "%s: camera.width/camera.height: %llux%llu must both be even", name,
		    (unsigned long long)c->camera.width, (unsigned long long)c->camera.height);
	if (c->camera.downscale != 1 && c->camera.downscale != 2 && c->camera.downscale != 4)
		err(rep, "%s: camera.downscale: %llu is not 1, 2 or 4", name,
		    (unsigned long long)c->camera.downscale);
	if (c->spool.segment_bytes > c->spool.max_bytes / 2) {
		ag_format_size(c->spool.segment_bytes, a, sizeof(a));
		ag_format_size(c->spool.max_bytes, b, sizeof(b));
		err(rep, "%s: spool.segment_bytes: %s must be at most half of spool.max_bytes (%s)", name, a, b);
	}
	if (c->retry.initial_ms > c->retry.max_ms) {
		ag_format_duration(c->retry.initial_ms, a, sizeof(a));
		ag_format_duration(c->retry.max_ms, b, sizeof(b));
		err(rep, "%s: retry.initial: %s is longer than retry.max (%s)", name, a, b);
	}

	if (c->upload.mode == AG_MODE_ONLINE) {
		if (!c->online.endpoint) {
			err(rep, "%s: online.endpoint: missing, upload.mode \"online\" needs it", name);
		} else if (c->online.kind == AG_KIND_AUTOML && !is_automl_endpoint(c->online.endpoint)) {
			err(rep, "%s: online.endpoint: online.kind \"automl\" needs projects/P/locations/L/endpoints/E", name);
		} else if (c->online.kind == AG_KIND_GEMINI && !is_publisher_model(c->online.endpoint)) {
			err(rep, "%s: online.endpoint: online.kind \"gemini\" needs projects/P/locations/L/publishers/google/models/M", name);
		}
		if (c->online.labels && c->online.kind == AG_KIND_AUTOML)
			warn(rep, "%s: online.labels: ignored with online.kind \"automl\" (the model has its own labels)", name);
	}
	if (c->upload.mode == AG_MODE_BATCH) {
		if (!c->batch.bucket)
			err(rep, "%s: batch.bucket: missing, upload.mode \"batch\" needs it", name);
		if (!c->batch.model) {
			err(rep, "%s: batch.model: missing, upload.mode \"batch\" needs it", name);
		} else {
			bool automl_model = match_name(c->batch.model, "projects/*/locations/*/models/*");
			if (c->batch.format == AG_BFMT_AUTOML && !automl_model)
				err(rep, "%s: batch.model: batch.format \"automl\" needs projects/P/locations/L/models/M", name);
			if (c->batch.format == AG_BFMT_GEMINI &&
			    !match_name(c->batch.model, "publishers/google/models/*"))
				err(rep, "%s: batch.model: batch.format \"gemini\" needs publishers/google/models/M", name);
			if (c->batch.format == AG_BFMT_OPENAI && automl_model)
				err(rep, "%s: batch.model: batch.format \"openai\" needs publishers/PUB/models/M", name);
		}
		if (c->batch.model && !c->batch.parent && strncmp(c->batch.model, "projects/", 9) != 0)
			err(rep, "%s: batch.parent: missing: batch.model \"%s\" has no project and location to run the job in",
			    name, c->batch.model);
		if (c->batch.format == AG_BFMT_OPENAI)
			warn(rep, "%s: batch.format: \"openai\" batch jobs are documented by Google for text only; image parts are not confirmed to work", name);
	}
	if (c->upload.mode != AG_MODE_NONE) {
		switch (c->auth.type) {
		case AG_AUTH_SERVICE_ACCOUNT:
			if (!c->auth.key_file)
				err(rep, "%s: auth.key_file: missing, auth.type \"service_account\" needs it", name);
			break;
		case AG_AUTH_TOKEN_FILE:
			if (!c->auth.token_file)
				err(rep, "%s: auth.token_file: missing, auth.type \"token_file\" needs it", name);
			break;
		case AG_AUTH_API_KEY:
			if (!c->auth.api_key)
				err(rep, "%s: auth.api_key: missing, auth.type \"api_key\" needs it", name);
			if (c->upload.mode != AG_MODE_ONLINE || c->online.kind != AG_KIND_GEMINI)
				err(rep, "%s: auth.type: \"api_key\" works only with upload.mode \"online\" and online.kind \"gemini\" (Vertex AI express mode)", name);
			break;
		default:
			break;
		}
	}
	if (!c->device_id)
		default_device_id(c);
	if (!c->batch.prefix) {
		char p[96];
		snprintf(p, sizeof(p), "fieldcam/%s", c->device_id);
		c->batch.prefix = strdup(p);
	}
}

/* ---- entry points ----------------------------------------------------- */

/* 1-based line and column of offset off in text. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int ag_config_parse(struct ag_config *c, const char *text, size_t len, const char *name,
		    struct ag_cfg_report *rep)
{
	if (memchr(text, '\0', len)) {
		err(rep, "%s: holds a NUL byte: not a JSON text file", name);
		return AG_ECONFIG;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		int line, col;
		size_t off = end ? (size_t)(end - text) : 0;
		const char *ep = cJSON_GetErrorPtr();
		if (ep && ep >= text && ep <= text + len)
			off = (size_t)(ep - text);
		line_col(text, off, &line, &col);
		err(rep, "%s:%d:%d: not valid JSON", name, line, col);
		return AG_ECONFIG;
	}
	/* anything but white space after the value is an error too */
	size_t used = (size_t)(end - text);
	for (size_t i = used; i < len; i++) {
		if (!isspace((unsigned char)text[i])) {
			int line, col;
			line_col(text, i, &line, &col);
			err(rep, "%s:%d:%d: text after the JSON object", name, line, col);
			cJSON_Delete(root);
			return AG_ECONFIG;
		}
	}
	if (!cJSON_IsObject(root)) {
		err(rep, "%s: expected a JSON object at the top, got %s", name, json_type_name(root));
		cJSON_Delete(root);
		return AG_ECONFIG;
	}
	walk(c, root, "", name, rep);
	cJSON_Delete(root);
	cross_check(c, name, rep);
	if (!c->device_id || !c->batch.prefix)
		return AG_ENOMEM;
	return rep->nerr ? AG_ECONFIG : 0;
}

int ag_config_load(struct ag_config *c, const char *path, struct ag_cfg_report *rep)
{
	int rc = ag_config_defaults(c);
	if (rc < 0)
		return rc;
	char *text = NULL;
	size_t len = 0;
	rc = ag_file_read(path, MAX_CONFIG_BYTES, &text, &len);
	if (rc == AG_ETOOBIG) {
		err(rep, "%s: larger than 1 MiB: not a config file", path);
		return AG_ECONFIG;
	}
	if (rc < 0) {
		err(rep, "%s: cannot read: %s", path, strerror(errno));
		return AG_ECONFIG;
	}
	rc = ag_config_parse(c, text, len, path, rep);
	free(text);
	return rc;
}

const char *ag_config_enum_name(const char *key, int value)
{
	const struct field *f = find_field(key);
	if (!f || f->type != F_ENUM || value < 0)
		return NULL;
	for (int i = 0; f->choices[i]; i++)
		if (i == value)
			return f->choices[i];
	return NULL;
}

/* ---- printing --------------------------------------------------------- */

static cJSON *section(cJSON *root, const char *key, char *leaf, size_t leaflen)
{
	const char *dot = strrchr(key, '.');
	if (!dot) {
		ag_strlcpy(leaf, key, leaflen);
		return root;
	}
	ag_strlcpy(leaf, dot + 1, leaflen);
	char sec[64];
	size_t n = (size_t)(dot - key);
	if (n >= sizeof(sec))
		n = sizeof(sec) - 1;
	memcpy(sec, key, n);
	sec[n] = '\0';
	cJSON *s = cJSON_GetObjectItemCaseSensitive(root, sec);
	if (!s)
		s = cJSON_AddObjectToObject(root, sec);
	return s;
}

char *ag_config_to_json(const struct ag_config *c)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	for (size_t i = 0; i < AG_NELEM(fields); i++) {
		const struct field *f = &fields[i];
		char leaf[64], buf[64];
		cJSON *s = section(root, f->key, leaf, sizeof(leaf));
		if (!s)
			continue;
		switch (f->type) {
		case F_STR: {
			const char *v = *(char *const *)cat(c, f);
			if (!v)
				cJSON_AddNullToObject(s, leaf);
			else
				cJSON_AddStringToObject(s, leaf, (f->flags & F_SECRET) ? "(set)" : v);
			break;
		}
		case F_STRLIST: {
			char *const *l = *(char **const *)cat(c, f);
			if (!l) {
				cJSON_AddNullToObject(s, leaf);
				break;
			}
			cJSON *a = cJSON_AddArrayToObject(s, leaf);
			for (char *const *p = l; a && *p; p++)
				cJSON_AddItemToArray(a, cJSON_CreateString(*p));
			break;
		}
		case F_UINT:
			cJSON_AddNumberToObject(s, leaf, (double)*(const uint64_t *)cat(c, f));
			break;
		case F_SIZE:
			ag_format_size(*(const uint64_t *)cat(c, f), buf, sizeof(buf));
			cJSON_AddStringToObject(s, leaf, buf);
			break;
		case F_DUR:
			ag_format_duration(*(const uint64_t *)cat(c, f), buf, sizeof(buf));
			cJSON_AddStringToObject(s, leaf, buf);
			break;
		case F_DOUBLE:
			cJSON_AddNumberToObject(s, leaf, *(const double *)cat(c, f));
			break;
		case F_ENUM:
			cJSON_AddStringToObject(s, leaf, f->choices[*(const int *)cat(c, f)]);
			break;
		}
	}
	char *out = cJSON_Print(root);
	cJSON_Delete(root);
	return out;
}

static const char *type_word(const struct field *f)
{
	switch (f->type) {
	case F_STR: return "string";
	case F_UINT: return "integer";
	case F_SIZE: return "size";
	case F_DUR: return "duration";
	case F_DOUBLE: return "number";
	case F_ENUM: return "choice";
	case F_STRLIST: return "strings";
	}
	return "?";
}

void ag_config_print_keys(FILE *f)
{
	for (size_t i = 0; i < AG_NELEM(fields); i++) {
		const struct field *fd = &fields[i];
		char range[200] = "";
		if (fd->type == F_ENUM) {
			char list[160];
			choices_text(fd->choices, list, sizeof(list));
			snprintf(range, sizeof(range), " {%s}", list);
		} else if (fd->type == F_UINT || fd->type == F_SIZE || fd->type == F_DUR ||
			   fd->type == F_DOUBLE) {
			char lo[32], hi[32];
			fmt_limit(fd, fd->min, lo, sizeof(lo));
			fmt_limit(fd, fd->max, hi, sizeof(hi));
			snprintf(range, sizeof(range), " [%s..%s]", lo, hi);
		}
		fprintf(f, "%-28s %-8s default %s%s\n%28s   %s\n", fd->key, type_word(fd),
			fd->def ? fd->def : "null", range, "", fd->help);
	}
}
