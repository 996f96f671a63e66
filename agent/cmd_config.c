#include "cli.h"
const char ag_usage_config_check[] = "usage: fieldcam config check -c FILE\n";
int ag_cmd_config_check(int argc, char **argv) { (void)argc; (void)argv; return AG_EXIT_FAIL; }
