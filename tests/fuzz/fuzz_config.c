/* Fuzz the configuration parser: any bytes must give 0 or AG_ECONFIG,
 * never a crash, a leak or an unbounded report. */
#include <stdint.h>
#include <stdlib.h>

#include "ag.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_config c;
	struct ag_cfg_report rep = { 0 };
	if (ag_config_defaults(&c) < 0)
		return 0;
	int rc = ag_config_parse(&c, (const char *)data, size, "fuzz", &rep);
	AG_CHECK(rc == 0 || rc == AG_ECONFIG || rc == AG_ENOMEM);
	AG_CHECK(rc != 0 || rep.nerr == 0);
	AG_CHECK(rep.nerr <= AG_CFG_MAX_MSGS);
	if (rc == 0) {
		char *json = ag_config_to_json(&c);
		free(json);
	}
	ag_config_free(&c);
	ag_cfg_report_free(&rep);
	return 0;
}
