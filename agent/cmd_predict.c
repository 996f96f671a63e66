/*
 * fieldcam predict -c FILE IMAGE...: classify images now, one JSON line
 * each on stdout, through the same client, auth and retry policy as run.
 */
#define AG_LOG_TAG "predict"
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "cli.h"
#include "config.h"
#include "drv.h"
#include "online.h"

#define PREDICT_ATTEMPTS 5
#define MAX_IMAGE (64u << 20)

const char ag_usage_predict[] =
	"usage: fieldcam predict -c FILE IMAGE...\n"
	"\n"
	"Send JPEG images to the online endpoint of the config (online.kind,\n"
	"online.endpoint, auth, api, tls) now and print one JSON line per image:\n"
	"  {\"image\",\"mode\",\"model\",\"deployed_model_id\",\"labels\":[{\"id\",\"name\",\"confidence\"}]}\n"
	"or {\"image\",\"error\"} when it could not be classified. Transient failures are\n"
	"retried with the config's backoff (up to 5 attempts per image). Images over\n"
	"the online size limit are re-encoded smaller first.\n"
	"\n"
	"  -c, --config FILE   the configuration file (JSON)\n"
	"\n"
	"Exit status: 0 every image classified, 1 an image could not be read or\n"
	"was refused, 2 usage or configuration error, 4 network or endpoint error\n"
	"after retries.\n";

static void print_error(const char *image, const char *msg)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "image", image);
	cJSON_AddStringToObject(j, "error", msg);
	char *s = cJSON_PrintUnformatted(j);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(j);
	fflush(stdout);
}

static int predict_one(struct ag_online *o, const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;
	char msg[320];
	int rc = ag_file_read(path, MAX_IMAGE, (char **)&data, &len);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "cannot read: %s", ag_strerror(rc));
		ag_log_err("%s: %s", path, msg);
		print_error(path, msg);
		return AG_EXIT_FAIL;
	}
	unsigned w, h;
	const uint8_t *jpeg;
	size_t jl;
	char how[200];
	if (drv_jpeg_size(data, len, &w, &h) < 0 ||
	    (rc = ag_online_fit(o, data, len, &jpeg, &jl, how, sizeof(how))) < 0) {
		snprintf(msg, sizeof(msg), "%s", drv_jpeg_size(data, len, &w, &h) < 0 ? "not a JPEG image"
					      : "too large for online prediction even at a quarter of its size");
		ag_log_err("%s: %s", path, msg);
		print_error(path, msg);
		free(data);
		return AG_EXIT_FAIL;
	}
	if (how[0])
		ag_log_info("%s: %s", path, how);
	struct net_backoff bo;
	net_backoff_init(&bo, o->cfg->retry.initial_ms, o->cfg->retry.max_ms, o->cfg->retry.multiplier);
	struct net_prediction p;
	struct net_outcome oc;
	int status = AG_EXIT_NET;
	for (int attempt = 1;; attempt++) {
		if (net_predict(&o->cl, &o->pc, jpeg, jl, &p, &oc) < 0)
			net_outcome_set(&oc, NET_FAIL, 0, "out of memory");
		if (oc.verdict == NET_DONE) {
			char *line = ag_online_result_line(o, "image", path, NULL, &p);
			if (line)
				printf("%s\n", line);
			fflush(stdout);
			free(line);
			status = line ? AG_EXIT_OK : AG_EXIT_FAIL;
			break;
		}
		if (oc.verdict == NET_REJECT) {
			status = AG_EXIT_FAIL;
			break;
		}
		if (oc.verdict == NET_FAIL || attempt == PREDICT_ATTEMPTS)
			break;
		uint64_t d = net_backoff_next(&bo, oc.retry_after_ms, oc.slow_down);
		ag_log_warnx("%s: %s: try %d of %d in %.1f s", path, oc.msg, attempt + 1, PREDICT_ATTEMPTS,
			     (double)d / 1000);
		ag_sleep_ms(d);
	}
	if (status != AG_EXIT_OK && oc.verdict != NET_DONE) {
		ag_log_err("%s: %s", path, oc.msg);
		print_error(path, oc.msg);
	}
	free(data);
	return status;
}

int ag_cmd_predict(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:", opts, NULL)) != -1) {
		if (ch == 'c')
			path = optarg;
		else
			return ag_cli_bad_option(argv[0], ch, argv);
	}
	if (!path) {
		ag_cli_usage_error(argv[0], "-c FILE is required");
		return AG_EXIT_USAGE;
	}
	if (optind >= argc) {
		ag_cli_usage_error(argv[0], "no IMAGE given");
		return AG_EXIT_USAGE;
	}
	struct ag_config cfg;
	int rc = ag_cli_load_config(path, &cfg);
	if (rc != 0)
		return rc;
	static const enum ag_log_level levels[] = { AG_LOG_ERR, AG_LOG_WARN, AG_LOG_INFO, AG_LOG_DEBUG };
	ag_log_set_level(levels[cfg.log.level]);
	if (!cfg.online.endpoint) {
		fprintf(stderr, "fieldcam predict: %s: online.endpoint: missing, predict needs it\n", path);
		ag_config_free(&cfg);
		return AG_EXIT_USAGE;
	}
	struct ag_online o;
	rc = ag_online_open(&o, &cfg, NULL, NULL);
	if (rc < 0) {
		ag_config_free(&cfg);
		return rc == AG_ECONFIG ? AG_EXIT_USAGE : AG_EXIT_FAIL;
	}
	int status = AG_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		int s = predict_one(&o, argv[i]);
		if (s == AG_EXIT_NET || (s != AG_EXIT_OK && status == AG_EXIT_OK))
			status = s;
	}
	ag_online_close(&o);
	ag_config_free(&cfg);
	return status;
}
