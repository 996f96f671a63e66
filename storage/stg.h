/*
 * fieldcam storage: the spool (a disk-backed ring of records), the results
 * log and batch-state files. Uses only the base (ag.h).
 *
 * How to use the spool:
 *
 *	struct stg_spool_config cfg;
 *	stg_spool_config_defaults(&cfg);
 *	cfg.dir = "/var/lib/fieldcam/spool";
 *	struct stg_spool *sp;
 *	if (stg_spool_open(&cfg, &sp) < 0) ...;          // runs recovery
 *	stg_spool_append(sp, jpeg, jlen, meta, mlen, captured_ms, &seq);  // producer
 *	stg_spool_sync(sp, &durable);                     // every sync_interval (sync=batch)
 *	struct stg_record rec = { 0 };
 *	if (stg_spool_peek(sp, &rec) == 0) { ...send...; stg_spool_ack(sp, rec.seq); }
 *	stg_record_release(&rec);
 *	stg_spool_close(sp);
 *
 * One producer thread and one consumer thread may use a spool at once; every
 * call takes the spool's lock, and no lock is held by the caller.
 *
 * On disk: spool.dir/seg-<16 hex first seq>.fcs hold records in order; a
 * sealed segment has an index file beside it (.idx) so recovery reads one
 * small file per segment instead of every record; spool.dir/cursor holds the
 * delivery cursor in two checksummed slots written alternately.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ag.h"

enum stg_sync {
	STG_SYNC_ALWAYS, /* fdatasync before append returns */
	STG_SYNC_BATCH,  /* group commit: stg_spool_sync() every sync_interval */
	STG_SYNC_NONE,   /* leave it to the kernel */
};

enum stg_on_full {
	STG_FULL_DROP_OLDEST,   /* delete the oldest segment, count its records as drops */
	STG_FULL_PAUSE_CAPTURE, /* append returns AG_EFULL until space frees */
};

struct stg_spool_config {
	const char *dir;
	uint64_t max_bytes;
	uint64_t segment_bytes;
	enum stg_sync sync;
	enum stg_on_full on_full;
	bool readonly; /* inspect only: no recovery writes, no appends (for `status`) */
	/* ack only moves the cursor; delivered segments are deleted by
	 * stg_spool_collect() (or when room is needed, or at close), so the
	 * consumer does not wait on unlink and directory syncs */
	bool defer_delete;
};

/* Defaults: 512 MiB, 8 MiB segments, sync batch, drop oldest. dir unset. */
void stg_spool_config_defaults(struct stg_spool_config *cfg);

struct stg_spool;

/*
 * Open (creating dir if needed) and recover: read the cursor, scan the
 * segments, truncate a torn tail of the last one, skip and count corrupt
 * records, move unreadable segments to quarantine/. Logs one summary line
 * when recovery found anything. Returns 0, AG_EINVAL (bad config), AG_EPERM,
 * AG_EIO, AG_ENOMEM.
 */
int stg_spool_open(const struct stg_spool_config *cfg, struct stg_spool **out);

/* Sync and close. NULL is a no-op. */
void stg_spool_close(struct stg_spool *sp);

/*
 * Append one record: meta (a small blob, e.g. JSON, at most 64 KiB) and
 * payload (the JPEG). Both are copied. On success sets *seq (may be NULL);
 * sequence numbers grow across restarts and are never reused. Durable on
 * return with sync=always, else after the next stg_spool_sync().
 * Returns 0, AG_EFULL (full and on_full=pause_capture), AG_ENOSPC (file
 * system full: nothing half-written stays), AG_EIO (write or fsync failed:
 * logged; the spool stays usable), AG_ETOOBIG (record larger than max_bytes/2).
 */
int stg_spool_append(struct stg_spool *sp, const void *payload, size_t len,
		     const void *meta, size_t meta_len, uint64_t captured_ms, uint64_t *seq);

/*
 * Group commit: make every record appended so far durable (one fdatasync
 * covers them all). Sets *durable_seq (may be NULL) to the highest durable
 * sequence number, 0 if none. Returns 0 or AG_EIO (the unsynced records
 * were written again to a new segment and synced there if possible).
 */
int stg_spool_sync(struct stg_spool *sp, uint64_t *durable_seq);

/* Highest durable sequence number (0 if none). */
uint64_t stg_spool_durable_seq(struct stg_spool *sp);

/* A record read from the spool. Buffers are owned by the record and reused
 * by the next peek into the same struct; stg_record_release() frees them. */
struct stg_record {
	uint64_t seq;
	uint64_t captured_ms;
	uint8_t *payload;
	size_t len;
	uint8_t *meta;
	size_t meta_len;
	/* private */
	uint8_t *buf;
	size_t cap;
};
void stg_record_release(struct stg_record *rec);

/*
 * The oldest undelivered record, checked against its CRC. Corrupt records
 * are skipped and counted, never returned. after_seq: 0 for the oldest,
 * else the oldest with a sequence number above it (to look ahead while
 * earlier ones are in flight). Returns 0, AG_ENOENT (nothing pending),
 * AG_EIO, AG_ENOMEM.
 */
int stg_spool_peek(struct stg_spool *sp, uint64_t after_seq, struct stg_record *rec);

/*
 * Acknowledge every record up to and including seq: the cursor is made
 * durable, then segments holding only delivered records are deleted and
 * the directory synced. Returns 0 or AG_EIO (cursor not durable: nothing
 * deleted; records will be delivered again, which is allowed).
 */
int stg_spool_ack(struct stg_spool *sp, uint64_t seq);

/*
 * Move a record the endpoint refused for good to dir/rejected/: the JPEG as
 * <id>.jpg and a reason file <id>.json ({"seq","captured_at","reason"}),
 * both synced, then acknowledge it. id names the files (the record id).
 */
int stg_spool_reject(struct stg_spool *sp, const struct stg_record *rec,
		     const char *id, const char *reason);
/* The same without the acknowledgement, for a consumer with several
 * records out that acknowledges them in order itself. */
int stg_spool_set_aside(struct stg_spool *sp, const struct stg_record *rec,
			const char *id, const char *reason);

/*
 * With defer_delete: delete the segments that hold only acknowledged
 * records, then sync the directory. The unlinks run outside the spool's
 * lock. Call it from a housekeeping thread (the daemon's main loop).
 * Returns the number of segments deleted.
 */
int stg_spool_collect(struct stg_spool *sp);

struct stg_spool_stats {
	uint64_t pending_records;
	uint64_t pending_bytes;       /* payload + meta of pending records */
	uint64_t disk_bytes;          /* all segment files */
	uint64_t oldest_captured_ms;  /* 0 when nothing is pending */
	uint64_t next_seq;
	uint64_t cursor;              /* first undelivered sequence number */
	uint64_t durable_seq;
	uint64_t segments;
	uint64_t dropped;             /* records lost to on_full=drop_oldest */
	uint64_t corrupt;             /* records skipped as corrupt */
	uint64_t torn_bytes;          /* bytes cut from a torn tail */
	uint64_t quarantined;         /* segments moved to quarantine/ */
	bool full;                    /* pause_capture and no room */
};
void stg_spool_stats(struct stg_spool *sp, struct stg_spool_stats *st);

/*
 * Stable record id "<device_id>-<boot_epoch>-<seq>" into buf. Used as the
 * Cloud Storage object name and request id, so a retry never creates a
 * second object. Returns the length, or AG_ETOOBIG if buf is too small.
 */
int stg_record_id(char *buf, size_t len, const char *device_id,
		  uint64_t boot_epoch, uint64_t seq);

/* ---- results log ------------------------------------------------------ */

struct stg_results;

/* Open (create) an append-only JSON-lines file. fsync_each: fdatasync
 * after every line. Returns 0, AG_EPERM, AG_ENOENT, AG_EIO. */
int stg_results_open(const char *path, bool fsync_each, struct stg_results **out);
/* Append one line (a newline is added; line must not contain one) in one
 * write. Returns 0, AG_EINVAL or AG_EIO/AG_ENOSPC. */
int stg_results_append(struct stg_results *r, const char *line);
/* Make every appended line durable (for group commit with fsync_each off).
 * Returns 0 or AG_EIO/AG_ENOSPC. */
int stg_results_sync(struct stg_results *r);
/*
 * Open the path again at the next append or sync (SIGHUP after logrotate
 * moved the file): lines before the switch stay in the old file, which is
 * synced then; later ones go to the new one. Safe from any thread.
 */
void stg_results_reopen(struct stg_results *r);
void stg_results_close(struct stg_results *r);

/* ---- batch state files ------------------------------------------------ */

/* Write dir/<name>.json atomically (temp, fsync, rename, dir fsync). name:
 * letters, digits, '-', '_', '.'. Returns 0, AG_EINVAL or AG_E* of I/O. */
int stg_state_write(const char *dir, const char *name, const char *json);
/* Read dir/<name>.json into a heap string (free()). AG_ENOENT if absent. */
int stg_state_read(const char *dir, const char *name, char **json);
/* Remove dir/<name>.json and its log (and sync dir). Absent is fine. */
int stg_state_remove(const char *dir, const char *name);
/*
 * A state file's log, dir/<name>.log: lines appended beside the state so
 * that a growing list is not rewritten whole for every entry. lines is
 * one or more complete lines (ending in '\n'), durable (fdatasync, and the
 * directory on creation) when 0 is returned; on a failure the file is cut
 * back to where it was. Write the state file before the first append: a
 * log is read only beside its state file.
 */
int stg_state_log_append(const char *dir, const char *name, const char *lines, size_t len);
/*
 * Read dir/<name>.log: *text (free()) holds its complete lines, NUL-
 * terminated, *len their bytes; no log is *text NULL and 0 returned. A
 * torn last line (a crash mid-append, never reported durable) is left
 * out, and with repair cut from the file so appends go on after a whole
 * line. Returns 0 or AG_E* of I/O.
 */
int stg_state_log_read(const char *dir, const char *name, bool repair, char **text, size_t *len);
/* Remove dir/<name>.log (and sync dir). Absent is fine. */
int stg_state_log_remove(const char *dir, const char *name);
/*
 * The names (without .json) of the state files in dir, sorted, as a
 * NULL-terminated heap array; free it with stg_state_list_free(). A missing
 * dir is an empty list. Returns the count, or AG_ENOMEM / AG_E* of I/O
 * (*names untouched then).
 */
int stg_state_list(const char *dir, char ***names);
/* Free a list from stg_state_list(). NULL is a no-op. */
void stg_state_list_free(char **names);
