/* fieldcam status: what the spool holds and what the daemon last said.
 * Reads the spool (read-only) and spool.dir/status.json; never needs the
 * daemon to answer. */
#define AG_LOG_TAG "status"
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "batch.h"
#include "cli.h"
#include "config.h"
#include "run.h"
#include "stg.h"

const char ag_usage_status[] =
	"usage: fieldcam status -c FILE [--json]\n"
	"\n"
	"Show the spool depth (records, bytes, age of the oldest), drops and\n"
	"corrupt records, what the daemon captured and uploaded, the last upload,\n"
	"the next retry, batches not finished and the last error. Works whether\n"
	"or not the daemon runs.\n"
	"\n"
	"  -c, --config FILE   the configuration file (JSON)\n"
	"  --json              one JSON object instead of text\n";

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int ag_cmd_status(int argc, char **argv)
{
	const char *path;
	bool json;
	struct ag_config cfg;
	int rc = ag_cli_config_only(argc, argv, "json", 0, &json, &path, &cfg);
	if (rc != 0)
		return rc;
	struct stg_spool_config sc;
	stg_spool_config_defaults(&sc);
	sc.dir = cfg.spool.dir;
	sc.max_bytes = cfg.spool.max_bytes;
	sc.segment_bytes = cfg.spool.segment_bytes;
	sc.readonly = true;
	struct stg_spool *sp = NULL;
	struct stg_spool_stats st;
	memset(&st, 0, sizeof(st));
	rc = stg_spool_open(&sc, &sp);
	if (rc == 0) {
		stg_spool_stats(sp, &st);
		stg_spool_close(sp);
	} else if (rc != AG_ENOENT) {
		fprintf(stderr, "fieldcam status: %s: cannot read the spool: %s\n", cfg.spool.dir, ag_strerror(rc));
		ag_config_free(&cfg);
		return AG_EXIT_FAIL;
	}
	char spath[PATH_MAX];
	snprintf(spath, sizeof(spath), "%s/%s", cfg.spool.dir, AG_STATUS_FILE);
	char *text = NULL;
	cJSON *d = NULL;
	if (ag_file_read(spath, 1 << 20, &text, NULL) == 0) {
		d = cJSON_Parse(text);
		free(text);
	}
	bool running = false;
	double pid = d ? num(d, "pid") : 0;
	if (d && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "running")) && pid > 0 &&
	    (kill((pid_t)pid, 0) == 0 || errno == EPERM))
		running = true;
	bool crashed = d && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "running")) && !running;
	int batches = ag_batch_pending_count(&cfg); /* jobs not finished yet; -1: cannot tell */
	uint64_t now = ag_wall_ms();
	uint64_t age = st.pending_records && st.oldest_captured_ms && now > st.oldest_captured_ms
			       ? (now - st.oldest_captured_ms)
			       : 0;
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "device_id", cfg.device_id);
		cJSON_AddStringToObject(o, "daemon", running ? "running" : crashed ? "stopped unexpectedly" : "stopped");
		cJSON *s = cJSON_AddObjectToObject(o, "spool");
		cJSON_AddStringToObject(s, "dir", cfg.spool.dir);
		cJSON_AddNumberToObject(s, "records", (double)st.pending_records);
		cJSON_AddNumberToObject(s, "bytes", (double)st.pending_bytes);
		cJSON_AddNumberToObject(s, "disk_bytes", (double)st.disk_bytes);
		cJSON_AddNumberToObject(s, "oldest_age_ms", (double)age);
		cJSON_AddNumberToObject(s, "corrupt", (double)st.corrupt);
		cJSON_AddNumberToObject(s, "quarantined", (double)st.quarantined);
		cJSON_AddNumberToObject(s, "next_seq", (double)st.next_seq);
		if (batches >= 0)
			cJSON_AddNumberToObject(o, "pending_batches", batches);
		if (d)
			cJSON_AddItemToObject(o, "last_run", cJSON_Duplicate(d, 1));
		char *out = cJSON_Print(o);
		if (out)
			printf("%s\n", out);
		free(out);
		cJSON_Delete(o);
	} else {
		char b1[32], b2[32];
		ag_format_size(st.pending_bytes, b1, sizeof(b1));
		ag_format_duration(age / 1000 * 1000, b2, sizeof(b2));
		printf("device:    %s\n", cfg.device_id);
		printf("daemon:    %s", running ? "running" : crashed ? "stopped unexpectedly (killed or crashed)" : "not running");
		if (running)
			printf(" (pid %.0f, since %s)", pid, str(d, "started_at") ? str(d, "started_at") : "?");
		printf("\n");
		printf("spool:     %" PRIu64 " records waiting (%s bytes)%s%s, in %s\n", st.pending_records, b1,
		       age ? ", oldest " : "", age ? b2 : "", cfg.spool.dir);
		printf("damage:    %" PRIu64 " corrupt records skipped, %" PRIu64 " segments quarantined\n",
		       st.corrupt, st.quarantined);
		if (batches > 0)
			printf("batches:   %d submitted and not finished (fieldcam batch list)\n", batches);
		if (d) {
			printf("last run:  mode %s, source %s\n", str(d, "mode") ? str(d, "mode") : "?",
			       str(d, "source") ? str(d, "source") : "?");
			printf("           %.0f captured (%.0f capture errors), %.0f uploaded, %.0f rejected, %.0f dropped\n",
			       num(d, "captured"), num(d, "capture_errors"), num(d, "uploaded"), num(d, "rejected"),
			       num(d, "dropped"));
			printf("           last capture %s, last upload %s, next retry %s\n",
			       str(d, "last_capture_at") ? str(d, "last_capture_at") : "never",
			       str(d, "last_upload_at") ? str(d, "last_upload_at") : "never",
			       str(d, "next_retry_at") ? str(d, "next_retry_at") : "none");
			if (str(d, "last_error"))
				printf("last error: %s (%s)\n", str(d, "last_error"),
				       str(d, "last_error_at") ? str(d, "last_error_at") : "?");
		} else {
			printf("last run:  none recorded in %s\n", spath);
		}
	}
	cJSON_Delete(d);
	ag_config_free(&cfg);
	return AG_EXIT_OK;
}
