#include "cli.h"

int main(int argc, char **argv)
{
	return ag_cli_main(argc, argv);
}
