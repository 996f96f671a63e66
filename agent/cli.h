/* The command-line front: the table of commands and shared helpers. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* Exit status, as in SPEC.md. */
enum {
	AG_EXIT_OK = 0,
	AG_EXIT_FAIL = 1,    /* runtime failure */
	AG_EXIT_USAGE = 2,   /* usage or configuration error */
	AG_EXIT_DEVICE = 3,  /* camera/device error */
	AG_EXIT_NET = 4,     /* network/endpoint error after retries */
};

/*
 * One command. name may be two words ("config check"). run() gets argv
 * with argv[0] set to the command's name; it returns an AG_EXIT_* value.
 * usage is the full help text printed by `fieldcam help NAME` and --help.
 */
struct ag_cmd {
	const char *name;
	const char *summary;
	const char *usage;
	int (*run)(int argc, char **argv);
};

/* Commands, one line each in cli.c's table. */
int ag_cmd_config_check(int argc, char **argv);
int ag_cmd_config_keys(int argc, char **argv);
int ag_cmd_version(int argc, char **argv);
int ag_cmd_capture(int argc, char **argv);
int ag_cmd_devices(int argc, char **argv);
int ag_cmd_run(int argc, char **argv);
int ag_cmd_status(int argc, char **argv);
int ag_cmd_predict(int argc, char **argv);
int ag_cmd_batch_flush(int argc, char **argv);
int ag_cmd_dataset_export(int argc, char **argv);
int ag_cmd_batch_list(int argc, char **argv);

extern const char ag_usage_config_check[];
extern const char ag_usage_config_keys[];
extern const char ag_usage_version[];
extern const char ag_usage_capture[];
extern const char ag_usage_devices[];
extern const char ag_usage_run[];
extern const char ag_usage_status[];
extern const char ag_usage_predict[];
extern const char ag_usage_batch_flush[];
extern const char ag_usage_dataset_export[];
extern const char ag_usage_batch_list[];

/* Entry point used by main(): dispatch argv to a command. */
int ag_cli_main(int argc, char **argv);

/* True if any argument is -h or --help (commands call it first). */
int ag_cli_wants_help(int argc, char **argv);
/* Print "usage error" line for a command: "fieldcam NAME: MSG (see fieldcam help NAME)". */
void ag_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * After getopt_long() returned ':' (missing value) or anything unknown:
 * print the one-line usage error and return AG_EXIT_USAGE.
 */
int ag_cli_bad_option(const char *cmd, int ch, char **argv);

/*
 * The checks every -c command makes after its options: no stray
 * arguments, -c given. Returns 0 or AG_EXIT_USAGE (message printed).
 */
int ag_cli_need_config(const char *cmd, const char *path, int argc, char **argv);

struct ag_config;
/*
 * A command that takes -c FILE and at most one switch: --flag (flag NULL:
 * none), also -letter when letter is not 0. Parses argv, makes
 * ag_cli_need_config()'s checks and loads the file into cfg as
 * ag_cli_load_config() does. Returns 0 (*on set, *path the file), or
 * the exit status with its message printed and nothing to free.
 */
int ag_cli_config_only(int argc, char **argv, const char *flag, char letter, bool *on, const char **path,
		       struct ag_config *cfg);
/*
 * Load the config at path into cfg, printing every problem (and warning)
 * on stderr. Returns 0, or the exit status (cfg freed): AG_EXIT_USAGE for a
 * bad file, AG_EXIT_FAIL when out of memory.
 */
int ag_cli_load_config(const char *path, struct ag_config *cfg);

/* Print a command's help text to f. */
void ag_cli_print_help(const char *cmd, FILE *f);
