#include <cjson/cJSON.h>
#include <stdio.h>

#include "ag.h"
#include "cli.h"
#include "drv.h"
#include "net.h"

const char ag_usage_version[] =
	"usage: fieldcam version\n"
	"\n"
	"Print the version of fieldcam and the run-time versions of the libraries\n"
	"it uses: libcurl and its TLS backend, mbedTLS, libjpeg-turbo, cJSON.\n";

int ag_cmd_version(int argc, char **argv)
{
	if (argc > 1) {
		ag_cli_usage_error("version", "unexpected argument '%s'", argv[1]);
		return AG_EXIT_USAGE;
	}
	struct net_versions nv;
	net_versions_get(&nv);
	printf("fieldcam %s\n", FIELDCAM_VERSION);
	printf("libcurl %s (TLS: %s)\n", nv.curl, nv.tls_backend);
	printf("mbedTLS %s\n", nv.mbedtls);
	printf("libjpeg-turbo %s\n", drv_turbojpeg_version());
	printf("cJSON %s\n", cJSON_Version());
	return AG_EXIT_OK;
}
