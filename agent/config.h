/*
 * Configuration: one JSON file, every key of SPEC.md described once in a
 * table (config.c) that parses, range-checks, prints `config check` and
 * `config keys`. Unknown keys are errors. All problems are collected,
 * not just the first, one line each: "FILE: key.path: what was wrong".
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Enumerations: values are indexes into the choice lists in config.c. */
enum ag_subsamp { AG_SUBSAMP_420, AG_SUBSAMP_422, AG_SUBSAMP_444, AG_SUBSAMP_GRAY };
enum ag_sync { AG_SYNC_ALWAYS, AG_SYNC_BATCH, AG_SYNC_NONE };
enum ag_on_full { AG_FULL_DROP_OLDEST, AG_FULL_PAUSE_CAPTURE };
enum ag_mode { AG_MODE_ONLINE, AG_MODE_BATCH, AG_MODE_NONE };
enum ag_online_kind { AG_KIND_AUTOML, AG_KIND_GEMINI };
enum ag_batch_format { AG_BFMT_AUTOML, AG_BFMT_GEMINI, AG_BFMT_OPENAI };
enum ag_auth_type { AG_AUTH_SERVICE_ACCOUNT, AG_AUTH_TOKEN_FILE, AG_AUTH_API_KEY, AG_AUTH_NONE };
enum ag_loglevel_cfg { AG_LVL_ERROR, AG_LVL_WARN, AG_LVL_INFO, AG_LVL_DEBUG };

/* Strings are heap copies owned by the config (NULL = not set). */
struct ag_config {
	char *device_id;
	struct {
		char *device;
		uint64_t width, height;
		char *format;       /* a name of drv_pixfmt_parse() or a V4L2 fourcc */
		uint64_t interval_ms;
		uint64_t quality;
		int subsampling;    /* enum ag_subsamp */
		uint64_t buffers;
		uint64_t downscale; /* 1, 2 or 4 */
	} camera;
	struct {
		char *dir;
		uint64_t max_bytes, segment_bytes;
		int sync;           /* enum ag_sync */
		uint64_t sync_interval_ms;
		int on_full;        /* enum ag_on_full */
	} spool;
	struct {
		int mode;           /* enum ag_mode */
		uint64_t timeout_ms;
		uint64_t max_inflight;
		uint64_t shutdown_timeout_ms;
	} upload;
	struct {
		int kind;           /* enum ag_online_kind */
		char *endpoint;     /* projects/P/locations/L/endpoints/E or .../publishers/google/models/M */
		char *prompt;
		char **labels;      /* NULL-terminated, or NULL */
		double confidence_threshold;
		uint64_t max_predictions;
	} online;
	struct {
		char *bucket, *prefix, *model, *parent;
		uint64_t max_items, max_age_ms, poll_ms, resumable_above;
		int format;         /* enum ag_batch_format */
		char *prompt;
	} batch;
	struct {
		int type;           /* enum ag_auth_type */
		char *key_file, *token_file, *api_key;
	} auth;
	struct {
		char *ca_file;
	} tls;
	struct {
		uint64_t initial_ms, max_ms;
		double multiplier;
	} retry;
	struct {
		char *file;
		char *images_dir;   /* online: classified images kept here (dataset export) */
	} results;
	struct {
		char *aiplatform, *storage, *oauth_token_uri;
	} api;
	struct {
		int level;          /* enum ag_loglevel_cfg */
	} log;
};

#define AG_CFG_MAX_MSGS 64

/* What loading found: errors (the config is unusable) and warnings. */
struct ag_cfg_report {
	char *errors[AG_CFG_MAX_MSGS];
	int nerr;
	int dropped_errors; /* beyond AG_CFG_MAX_MSGS */
	char *warnings[AG_CFG_MAX_MSGS];
	int nwarn;
};

/* Fill c with every default. Returns 0 or AG_ENOMEM. */
int ag_config_defaults(struct ag_config *c);

/*
 * Parse JSON text over the defaults already in c. name prefixes every
 * message (the file name). Collects every problem in rep. Returns 0 if
 * the config is usable, AG_ECONFIG if rep has errors, AG_ENOMEM.
 * Cross-field rules are checked too.
 */
int ag_config_parse(struct ag_config *c, const char *text, size_t len,
		    const char *name, struct ag_cfg_report *rep);

/* ag_config_defaults + read path + ag_config_parse. An unreadable file is
 * an error in rep ("FILE: cannot read: No such file or directory"). */
int ag_config_load(struct ag_config *c, const char *path, struct ag_cfg_report *rep);

/* Release the strings of c (c itself is the caller's). */
void ag_config_free(struct ag_config *c);

void ag_cfg_report_free(struct ag_cfg_report *rep);
/* Print errors then warnings, one per line, to f. */
void ag_cfg_report_print(const struct ag_cfg_report *rep, FILE *f);

/* The effective configuration as pretty JSON (secrets shown as "(set)").
 * Heap string, free() it; NULL on ENOMEM. */
char *ag_config_to_json(const struct ag_config *c);

/* Every key with type, default, range and description. */
void ag_config_print_keys(FILE *f);

/* Name of an enum value of a key ("camera.format", AG_FMT_YUYV -> "yuyv"). */
const char *ag_config_enum_name(const char *key, int value);

/* Is url's host loopback (127.0.0.0/8, ::1, localhost)? */
bool ag_config_url_is_loopback(const char *url);
