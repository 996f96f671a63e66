/*
 * fieldcam storage: the spool (disk-backed ring of records), batch
 * state files and the results log. Uses only the base (ag.h).
 */
#pragma once

#include "ag.h"

/*
 * Stable record id "<device_id>-<boot_epoch>-<seq>" into buf. Used as the
 * Cloud Storage object name and request id, so a retry never creates a
 * second object. Returns the length, or AG_ETOOBIG if buf is too small.
 */
int stg_record_id(char *buf, size_t len, const char *device_id,
		  uint64_t boot_epoch, uint64_t seq);
