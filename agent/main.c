#include "cli.h"
#include "net.h"

int main(int argc, char **argv)
{
	if (net_global_init() < 0)
		return AG_EXIT_FAIL;
	int rc = ag_cli_main(argc, argv);
	net_global_cleanup();
	return rc;
}
