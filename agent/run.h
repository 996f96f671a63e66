/* The daemon's shared state (cmd_run.c) and the uploader it drives. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ag.h"
#include "config.h"

struct stg_spool;
struct ag_uploader;

#define AG_STATUS_FILE "status.json"

struct ag_run {
	const struct ag_config *cfg;
	struct stg_spool *spool;
	struct ag_uploader *up;
	struct ag_event stop;         /* everyone stops */
	struct ag_event work;         /* a record was appended */
	struct ag_event capture_done; /* the capture thread ended */
	/* the time (ag_now_ms) by which the capture thread will be back at the
	 * top of its loop, grace included; 0 before it starts (see capture_alive) */
	_Atomic uint64_t capture_due_ms;
	uint64_t stuck_grace_ms;
	uint64_t frames_limit;
	uint64_t boot_epoch;          /* seconds: part of every record id */
	uint64_t started_ms;
	/* guarded by mu */
	pthread_mutex_t mu;
	char source_desc[160];
	uint64_t captured, capture_errors, uploaded, rejected, upload_failures;
	uint64_t last_capture_ms, last_upload_ms, next_retry_ms, last_error_ms;
	char last_error[256];
};

/*
 * systemd's notify protocol (notify.c). ag_notify_open() connects to
 * $NOTIFY_SOCKET and returns false outside systemd; *watchdog_ms is
 * WATCHDOG_USEC in ms when the watchdog is on and meant for this process,
 * else 0. ag_notify() sends one state ("READY=1", "WATCHDOG=1",
 * "STATUS=...") and never blocks.
 */
bool ag_notify_open(uint64_t *watchdog_ms);
void ag_notify(const char *state);
void ag_notify_close(void);

struct stg_record;
/*
 * A record's id (DEVICE_ID-BOOT-SEQ, from the metadata the capture thread
 * wrote, so it never changes across restarts) and capture time (RFC 3339).
 */
void ag_record_facts(const struct ag_run *r, const struct stg_record *rec, char *id, size_t idlen, char *when,
		     size_t whenlen);

/* Record the last error (one line) for the status file. */
void ag_run_error(struct ag_run *r, const char *fmt, ...) AG_PRINTF(2, 3);

/*
 * The uploader for the configured upload.mode. create() checks what it
 * needs (credentials, endpoint) and says what is wrong: AG_ECONFIG,
 * AG_EUNSUPPORTED (a mode this build does not have), AG_ENOMEM.
 */
int ag_uploader_create(struct ag_run *r, struct ag_uploader **out);
void *ag_uploader_main(void *arg); /* thread body; arg is the struct ag_run */
/* Stop: wait up to timeout_ms for an in-flight request, then abandon it. */
void ag_uploader_join(struct ag_uploader *u, pthread_t t, uint64_t timeout_ms);
void ag_uploader_reload(struct ag_uploader *u);
/* True when uploads failed for good (e.g. credentials refused). */
bool ag_uploader_failed(struct ag_uploader *u);
/* True when everything captured so far is delivered (online: the spool is
 * empty; batch: also every batch has its results). */
bool ag_uploader_idle(struct ag_uploader *u);
void ag_uploader_destroy(struct ag_uploader *u);
