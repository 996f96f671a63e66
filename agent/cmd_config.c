#define AG_LOG_TAG "config"
#include <stdio.h>
#include <stdlib.h>

#include "ag.h"
#include "cli.h"
#include "config.h"

const char ag_usage_config_check[] =
	"usage: fieldcam config check -c FILE [--quiet]\n"
	"\n"
	"Validate a configuration file. Every problem is reported, one line each,\n"
	"naming the key and what was expected; then the exit status is 2. A valid\n"
	"file prints the effective configuration (defaults filled in) as JSON on\n"
	"standard output and \"configuration OK\" on standard error.\n"
	"\n"
	"  -c, --config FILE   the configuration file (JSON)\n"
	"  -q, --quiet         print nothing on success, only the exit status\n"
	"\n"
	"See 'fieldcam config keys' for every key, its default and range.\n";

const char ag_usage_config_keys[] =
	"usage: fieldcam config keys\n"
	"\n"
	"List every configuration key with its type, default, range and meaning.\n";

int ag_cmd_config_check(int argc, char **argv)
{
	const char *path;
	bool quiet;
	struct ag_config cfg;
	int rc = ag_cli_config_only(argc, argv, "quiet", 'q', &quiet, &path, &cfg);
	if (rc != 0)
		return rc;
	if (!quiet) {
		char *json = ag_config_to_json(&cfg);
		if (json) {
			printf("%s\n", json);
			free(json);
		}
		fprintf(stderr, "%s: configuration OK\n", path);
	}
	ag_config_free(&cfg);
	return AG_EXIT_OK;
}

int ag_cmd_config_keys(int argc, char **argv)
{
	if (argc > 1) {
		ag_cli_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
		return AG_EXIT_USAGE;
	}
	ag_config_print_keys(stdout);
	return AG_EXIT_OK;
}
