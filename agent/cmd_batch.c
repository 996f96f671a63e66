/*
 * fieldcam batch flush / batch list: batch mode from the command line.
 * Both work from the files under spool.dir: flush leaves a request the
 * daemon's batcher takes within a second (or when it next starts); list
 * reads the batch state files.
 */
#define AG_LOG_TAG "batch"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag.h"
#include "batch.h"
#include "cli.h"
#include "config.h"
#include "run.h"

const char ag_usage_batch_flush[] =
	"usage: fieldcam batch flush -c FILE\n"
	"\n"
	"Submit the batch being gathered now, without waiting for batch.max_items\n"
	"or batch.max_age. The running daemon seals it within a second; if the\n"
	"daemon is not running, the request waits for its next start.\n"
	"\n"
	"  -c, --config FILE   the configuration file (JSON)\n";

const char ag_usage_batch_list[] =
	"usage: fieldcam batch list -c FILE [--json]\n"
	"\n"
	"Show the batches in spool.dir/batches: state (open, sealed, uploaded,\n"
	"submitted, collecting, done), items, the job's state and, for finished\n"
	"ones, how many results, errors and items sent again.\n"
	"\n"
	"  -c, --config FILE   the configuration file (JSON)\n"
	"  --json              a JSON array instead of text\n";

static bool daemon_running(const struct ag_config *cfg)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", cfg->spool.dir, AG_STATUS_FILE);
	char *text = NULL;
	if (ag_file_read(path, 1 << 20, &text, NULL) < 0)
		return false;
	cJSON *d = cJSON_Parse(text);
	free(text);
	cJSON *pid = cJSON_GetObjectItemCaseSensitive(d, "pid");
	bool running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "running")) && cJSON_IsNumber(pid) &&
		       pid->valuedouble > 0 && (kill((pid_t)pid->valuedouble, 0) == 0 || errno == EPERM);
	cJSON_Delete(d);
	return running;
}

int ag_cmd_batch_flush(int argc, char **argv)
{
	const char *path;
	bool unused;
	struct ag_config cfg;
	int rc = ag_cli_config_only(argc, argv, NULL, 0, &unused, &path, &cfg);
	if (rc != 0)
		return rc;
	if (cfg.upload.mode != AG_MODE_BATCH) {
		fprintf(stderr, "fieldcam batch flush: %s: upload.mode is \"%s\", not \"batch\"\n", path,
			ag_config_enum_name("upload.mode", cfg.upload.mode));
		ag_config_free(&cfg);
		return AG_EXIT_USAGE;
	}
	char dir[PATH_MAX], flag[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%s/%s", cfg.spool.dir, AG_BATCH_DIR);
	snprintf(flag, sizeof(flag), "%s/%s", dir, AG_BATCH_FLUSH_FILE);
	int status = AG_EXIT_OK;
	if ((rc = ag_mkdir_p(dir, 0750)) < 0 || (rc = ag_file_replace(flag, "flush\n", 6, 0640)) < 0) {
		fprintf(stderr, "fieldcam batch flush: %s: %s\n", flag, ag_strerror(rc));
		status = AG_EXIT_FAIL;
	} else if (daemon_running(&cfg)) {
		printf("flush requested: the daemon submits the open batch within a second (fieldcam batch list)\n");
	} else {
		printf("flush requested: the daemon is not running; the open batch is submitted when it starts\n");
	}
	ag_config_free(&cfg);
	return status;
}

int ag_cmd_batch_list(int argc, char **argv)
{
	const char *path;
	bool json;
	struct ag_config cfg;
	int rc = ag_cli_config_only(argc, argv, "json", 0, &json, &path, &cfg);
	if (rc != 0)
		return rc;
	rc = ag_batch_list_print(&cfg, json);
	ag_config_free(&cfg);
	return rc < 0 ? AG_EXIT_FAIL : AG_EXIT_OK;
}
