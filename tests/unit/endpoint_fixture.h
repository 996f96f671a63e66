/*
 * The reference endpoint (tests/endpoint/refendpoint.py) as a child
 * process, for the unit tests of net/ (test_net, test_net_batch). It needs
 * FIELDCAM_PYTHON3 and FIELDCAM_SOURCE_DIR (set by tests/net.cmake) and
 * Python's cryptography and PIL; without them the tests skip.
 */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

#include "net.h"

struct fc_endpoint {
	pid_t pid;
	int out_fd;
	char dir[64];         /* its state folder, removed by fc_endpoint_stop() */
	cJSON *info;          /* its endpoint.json */
	char ca[512], key_file[512], base[128];
	struct net_http *ctl; /* for /_control: a connection of its own */
};

/* A string member of o, "" when absent. */
const char *fc_json_str(const cJSON *o, const char *k);

/*
 * Start it with extra arguments (NULL-terminated list, or NULL) in a new
 * folder /tmp/TAG-XXXXXX. Returns 1 when it is up, 0 when the tests are to
 * skip (no Python or its modules), -1 on an error (said on stderr).
 */
int fc_endpoint_start(struct fc_endpoint *e, const char *tag, const char *const *extra);
/* Stop it and remove its folder; safe on a fixture that never started.
 * Returns 0, or -1 when the folder could not be removed. */
int fc_endpoint_stop(struct fc_endpoint *e);
/* A /_control request (cmocka-asserted to get an answer): its HTTP status. */
long fc_endpoint_control(struct fc_endpoint *e, const char *method, const char *what, const char *json);
/* Clear the fault rules, then set json's (NULL: none). */
void fc_endpoint_faults(struct fc_endpoint *e, const char *json);
