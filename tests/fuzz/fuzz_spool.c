/*
 * Fuzz spool recovery: the input becomes the spool's files (a cursor file
 * from the first 64 bytes, then up to two segment files split at the first
 * "SPLT" marker), which are opened, read to the end and closed. Recovery
 * must finish, never crash, and return only records that pass their CRC.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag.h"
#include "stg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *name, const uint8_t *d, size_t n)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		abort();
	if (ag_write_all(fd, d, n) < 0)
		abort();
	close(fd);
}

/* Empty the folder (one level of subfolders, e.g. quarantine/). */
static void clear(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[256];
		snprintf(p, sizeof(p), "%.100s/%.100s", path, e->d_name);
		if (unlink(p) < 0) {
			clear(p);
			rmdir(p);
		}
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fc-fuzz-spool-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		ag_log_set_level(AG_LOG_ERR - 1); /* silent */
	}
	clear(dir);
	size_t cur = size < 64 ? size : 64;
	put("cursor", data, cur);
	const uint8_t *rest = data + cur;
	size_t left = size - cur;
	const uint8_t *split = NULL;
	for (size_t i = 0; i + 4 <= left; i++)
		if (memcmp(rest + i, "SPLT", 4) == 0) {
			split = rest + i;
			break;
		}
	if (split) {
		put("seg-0000000000000001.fcs", rest, (size_t)(split - rest));
		put("seg-0000000000000100.fcs", split + 4, left - (size_t)(split - rest) - 4);
	} else {
		put("seg-0000000000000001.fcs", rest, left);
	}
	struct stg_spool_config cfg;
	stg_spool_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.max_bytes = 1 << 20;
	cfg.segment_bytes = 64 << 10;
	cfg.sync = STG_SYNC_NONE;
	cfg.readonly = size % 2;
	struct stg_spool *sp;
	if (stg_spool_open(&cfg, &sp) < 0)
		return 0;
	struct stg_record rec = { 0 };
	uint64_t after = 0, n = 0;
	while (stg_spool_peek(sp, after, &rec) == 0 && n < 100000) {
		AG_CHECK(rec.seq > after);
		after = rec.seq;
		n++;
	}
	stg_record_release(&rec);
	if (!cfg.readonly) {
		uint64_t seq;
		AG_CHECK(stg_spool_append(sp, "x", 1, NULL, 0, 1, &seq) == 0);
		AG_CHECK(seq > after);
		(void)stg_spool_ack(sp, seq);
	}
	stg_spool_close(sp);
	return 0;
}
