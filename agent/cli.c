#define AG_LOG_TAG "cli"
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ag.h"
#include "cli.h"
#include "config.h"

static const struct ag_cmd commands[] = {
	{ "run", "the daemon: capture, spool, upload", ag_usage_run, ag_cmd_run },
	{ "predict", "classify images now with the online endpoint", ag_usage_predict, ag_cmd_predict },
	{ "batch flush", "submit the batch being gathered now", ag_usage_batch_flush, ag_cmd_batch_flush },
	{ "batch list", "batches with their state, items and job state", ag_usage_batch_list, ag_cmd_batch_list },
	{ "dataset export", "images and a Vertex AI import file from the results", ag_usage_dataset_export,
	  ag_cmd_dataset_export },
	{ "status", "spool depth, drops, last upload, last error", ag_usage_status, ag_cmd_status },
	{ "capture", "grab frames to JPEG files", ag_usage_capture, ag_cmd_capture },
	{ "devices", "list V4L2 cameras with formats, sizes and frame rates", ag_usage_devices, ag_cmd_devices },
	{ "config check", "validate a config file and print the effective config",
	  ag_usage_config_check, ag_cmd_config_check },
	{ "config keys", "list every configuration key with default and range",
	  ag_usage_config_keys, ag_cmd_config_keys },
	{ "version", "print versions of fieldcam and its libraries",
	  ag_usage_version, ag_cmd_version },
};

static const char general_usage[] =
	"usage: fieldcam COMMAND [options]\n"
	"       fieldcam help [COMMAND]\n"
	"\n"
	"fieldcam captures camera frames, keeps them in a disk spool and sends\n"
	"them to Google Vertex AI for classification.\n"
	"\n"
	"Exit status: 0 success, 1 runtime failure, 2 usage or configuration\n"
	"error, 3 camera/device error, 4 network/endpoint error after retries.\n";

static void print_general(FILE *f)
{
	fputs(general_usage, f);
	fputs("\ncommands:\n", f);
	for (size_t i = 0; i < AG_NELEM(commands); i++)
		fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
	fputs("  help [COMMAND]   show this text, or a command's options\n", f);
}

/* Find the command named by argv[0] (and argv[1] for two-word names).
 * Sets *words to how many arguments the name took. */
static const struct ag_cmd *find(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < AG_NELEM(commands); i++) {
		const char *n = commands[i].name;
		const char *sp = strchr(n, ' ');
		if (!sp) {
			if (strcmp(argv[0], n) == 0) {
				*words = 1;
				return &commands[i];
			}
			continue;
		}
		size_t l = (size_t)(sp - n);
		if (strlen(argv[0]) == l && strncmp(argv[0], n, l) == 0 && argc > 1 &&
		    strcmp(argv[1], sp + 1) == 0) {
			*words = 2;
			return &commands[i];
		}
	}
	return NULL;
}

/* Is argv[0] the first word of a two-word command? */
static int is_group(const char *w)
{
	size_t l = strlen(w);
	for (size_t i = 0; i < AG_NELEM(commands); i++)
		if (strncmp(commands[i].name, w, l) == 0 && commands[i].name[l] == ' ')
			return 1;
	return 0;
}

static void print_group(const char *w, FILE *f)
{
	size_t l = strlen(w);
	fprintf(f, "usage: fieldcam %s SUBCOMMAND [options]\n\nsubcommands:\n", w);
	for (size_t i = 0; i < AG_NELEM(commands); i++)
		if (strncmp(commands[i].name, w, l) == 0 && commands[i].name[l] == ' ')
			fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
}

void ag_cli_print_help(const char *cmd, FILE *f)
{
	for (size_t i = 0; i < AG_NELEM(commands); i++) {
		if (strcmp(commands[i].name, cmd) == 0) {
			fputs(commands[i].usage, f);
			return;
		}
	}
}

int ag_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

void ag_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fieldcam %s: %s (see 'fieldcam help %s')\n", cmd, msg, cmd);
}

int ag_cli_bad_option(const char *cmd, int ch, char **argv)
{
	if (ch == ':')
		ag_cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
	else
		ag_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	return AG_EXIT_USAGE;
}

int ag_cli_need_config(const char *cmd, const char *path, int argc, char **argv)
{
	if (optind < argc) {
		ag_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
		return AG_EXIT_USAGE;
	}
	if (!path) {
		ag_cli_usage_error(cmd, "missing -c FILE");
		return AG_EXIT_USAGE;
	}
	return 0;
}

int ag_cli_config_only(int argc, char **argv, const char *flag, char letter, bool *on, const char **path,
		       struct ag_config *cfg)
{
	const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ flag, no_argument, NULL, 1 }, /* flag NULL ends the table here */
		{ NULL, 0, NULL, 0 },
	};
	char optstr[8] = ":c:";
	if (flag && letter)
		optstr[3] = letter;
	*on = false;
	*path = NULL;
	int ch, rc;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, optstr, opts, NULL)) != -1) {
		if (ch == 'c')
			*path = optarg;
		else if (flag && (ch == 1 || (letter && ch == letter)))
			*on = true;
		else
			return ag_cli_bad_option(argv[0], ch, argv);
	}
	if ((rc = ag_cli_need_config(argv[0], *path, argc, argv)) != 0)
		return rc;
	return ag_cli_load_config(*path, cfg);
}

int ag_cli_load_config(const char *path, struct ag_config *cfg)
{
	struct ag_cfg_report rep = { 0 };
	int rc = ag_config_load(cfg, path, &rep);
	ag_cfg_report_print(&rep, stderr);
	ag_cfg_report_free(&rep);
	if (rc == 0)
		return 0;
	ag_config_free(cfg);
	if (rc == AG_ENOMEM) {
		fprintf(stderr, "config: out of memory\n");
		return AG_EXIT_FAIL;
	}
	return AG_EXIT_USAGE;
}

static int help(int argc, char **argv)
{
	if (argc < 2) {
		print_general(stdout);
		return AG_EXIT_OK;
	}
	char name[64];
	if (argc >= 3)
		snprintf(name, sizeof(name), "%s %s", argv[1], argv[2]);
	int words = 0;
	const struct ag_cmd *c = find(argc - 1, argv + 1, &words);
	if (c) {
		fputs(c->usage, stdout);
		return AG_EXIT_OK;
	}
	if (is_group(argv[1]) && argc == 2) {
		print_group(argv[1], stdout);
		return AG_EXIT_OK;
	}
	fprintf(stderr, "fieldcam help: no command '%s' (see 'fieldcam help')\n", argv[1]);
	return AG_EXIT_USAGE;
}

int ag_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		print_general(stderr);
		return AG_EXIT_USAGE;
	}
	const char *w = argv[1];
	if (strcmp(w, "help") == 0)
		return help(argc - 1, argv + 1);
	if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0) {
		print_general(stdout);
		return AG_EXIT_OK;
	}
	if (strcmp(w, "--version") == 0 || strcmp(w, "-V") == 0)
		return ag_cmd_version(1, argv + 1);

	int words = 0;
	const struct ag_cmd *c = find(argc - 1, argv + 1, &words);
	if (!c) {
		if (is_group(w)) {
			if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
				print_group(w, stdout);
				return AG_EXIT_OK;
			}
			fprintf(stderr, "fieldcam %s: %s '%s' (see 'fieldcam help %s')\n", w,
				argc > 2 ? "unknown subcommand" : "missing subcommand",
				argc > 2 ? argv[2] : "", w);
			return AG_EXIT_USAGE;
		}
		fprintf(stderr, "fieldcam: unknown command '%s' (see 'fieldcam help')\n", w);
		return AG_EXIT_USAGE;
	}
	/* argv for the command: its name as argv[0], then its options */
	char **cargv = argv + words;
	int cargc = argc - words;
	cargv[0] = (char *)c->name;
	if (ag_cli_wants_help(cargc, cargv)) {
		fputs(c->usage, stdout);
		return AG_EXIT_OK;
	}
	return c->run(cargc, cargv);
}
