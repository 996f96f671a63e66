/*
 * Batch mode (upload.mode batch): images go to Cloud Storage as they come,
 * are gathered into batches, and each batch becomes one JSONL file and one
 * batch prediction job whose output is read back into results.file.
 * Every step is recorded in a state file per batch (spool.dir/batches/)
 * before and after it is taken, so a restart at any point resumes without
 * a second job, a second copy of an image or a lost item.
 */
#pragma once

#include <stdbool.h>

#include "config.h"

struct ag_run;
struct ag_batcher;

#define AG_BATCH_DIR "batches"       /* under spool.dir */
#define AG_BATCH_FLUSH_FILE "flush"  /* in AG_BATCH_DIR: `batch flush` asks the daemon */

/* For run (through the uploader API in run.h). */
int ag_batcher_create(struct ag_run *r, struct ag_batcher **out);
void ag_batcher_run(struct ag_batcher *b); /* the thread body, until r->stop */
void ag_batcher_stop_requests(struct ag_batcher *b);
void ag_batcher_reload(struct ag_batcher *b);
bool ag_batcher_failed(struct ag_batcher *b);
/* True when nothing is left to do for --frames: spool empty, no open items, every batch done. */
bool ag_batcher_idle(struct ag_batcher *b);
void ag_batcher_destroy(struct ag_batcher *b);

/* `batch list` and `status`: print the batches in dir (human or JSON). */
int ag_batch_list_print(const struct ag_config *cfg, bool json);
/* How many batches are not done yet (status). -1 on error. */
int ag_batch_pending_count(const struct ag_config *cfg);
