/*
 * The spool: records appended to segment files, a delivery cursor in two
 * checksummed slots, recovery that loses at most the damaged record.
 *
 * Record on disk (little-endian):
 *	 0 u32 magic "FCR1"   4 u16 version   6 u16 flags
 *	 8 u32 meta_len      12 u32 payload_len
 *	16 u64 seq           24 u64 captured_ms
 *	32 u32 crc           CRC-32C of bytes 0..31, meta and payload
 *	36 u32 hcrc          CRC-32C of bytes 0..35 (lets a scan trust the lengths)
 *	40 meta, payload
 */
#define AG_LOG_TAG "spool"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ag.h"
#include "spool_format.h"
#include "stg.h"

#define MAX_META (64u * 1024)
#define MAX_COPY_BYTES (32u << 20) /* unsynced records kept for a rewrite */

struct entry {
	uint64_t seq;
	uint64_t off;
	uint64_t captured_ms;
	uint32_t meta_len;
	uint32_t len;
};

struct segment {
	uint64_t first_seq;
	uint64_t size;
	struct entry *e;
	size_t n, cap;
	int fd;          /* open for append: the active segment only */
	uint64_t synced; /* bytes known durable (active segment) */
};

struct pending_copy {
	uint64_t seq, captured_ms;
	uint8_t *buf;     /* meta then payload; kept and reused */
	size_t cap;
	uint8_t *meta, *payload;
	uint32_t meta_len, len;
};

struct stg_spool {
	pthread_mutex_t mu;
	struct stg_spool_config cfg;
	char *dir;
	int dirfd;
	struct segment *seg;
	size_t nseg, capseg;
	bool active; /* last segment open for append */
	uint64_t next_seq, cursor, cursor_gen, durable_seq;
	uint64_t disk_bytes;
	uint64_t dropped, corrupt, torn_bytes, quarantined;
	bool full;
	struct pending_copy *copies;
	size_t ncopies, capcopies;
	uint64_t copy_bytes;
	bool copies_incomplete;
	struct ag_ratelimit drop_rl;
	struct ag_ratelimit nospc_rl;
	bool dir_dirty; /* a segment was created since the last directory sync */
};

void stg_spool_config_defaults(struct stg_spool_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_bytes = 512ull << 20;
	cfg->segment_bytes = 8ull << 20;
	cfg->sync = STG_SYNC_BATCH;
	cfg->on_full = STG_FULL_DROP_OLDEST;
}

/* ---- small helpers ---------------------------------------------------- */

static void seg_path(const struct stg_spool *sp, uint64_t first, const char *ext, char *buf, size_t len)
{
	snprintf(buf, len, "%s/seg-%016" PRIx64 ".%s", sp->dir, first, ext);
}

static int entry_push(struct segment *s, const struct entry *e)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		struct entry *ne = realloc(s->e, nc * sizeof(*ne));
		if (!ne)
			return AG_ENOMEM;
		s->e = ne;
		s->cap = nc;
	}
	s->e[s->n++] = *e;
	return 0;
}

static struct segment *seg_push(struct stg_spool *sp, uint64_t first)
{
	if (sp->nseg == sp->capseg) {
		size_t nc = sp->capseg ? sp->capseg * 2 : 16;
		struct segment *ns = realloc(sp->seg, nc * sizeof(*ns));
		if (!ns)
			return NULL;
		sp->seg = ns;
		sp->capseg = nc;
	}
	struct segment *s = &sp->seg[sp->nseg++];
	memset(s, 0, sizeof(*s));
	s->first_seq = first;
	s->fd = -1;
	return s;
}

static void seg_free(struct segment *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->e);
	s->e = NULL;
	s->fd = -1;
}

static uint64_t seg_last_seq(const struct segment *s)
{
	return s->n ? s->e[s->n - 1].seq : 0;
}

/* Forget the kept copies; their buffers stay for reuse (see keep_copy). */
static void copies_clear(struct stg_spool *sp)
{
	sp->ncopies = 0;
	sp->copy_bytes = 0;
	sp->copies_incomplete = false;
}

/* ---- cursor ----------------------------------------------------------- */

static int cursor_read(struct stg_spool *sp)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cursor", sp->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ag_log_warn("%s: cannot read", path);
		return ag_errno_code(errno);
	}
	uint8_t buf[2 * STG_CURSOR_SLOT];
	ssize_t n = ag_pread_full(fd, buf, sizeof(buf), 0);
	close(fd);
	bool found = false;
	for (int i = 0; i < 2; i++) {
		uint64_t gen, cur;
		if (n >= (ssize_t)((i + 1) * STG_CURSOR_SLOT) &&
		    stg_cursor_decode(buf + i * STG_CURSOR_SLOT, &gen, &cur) == 0 &&
		    (!found || gen > sp->cursor_gen)) {
			sp->cursor_gen = gen;
			sp->cursor = cur;
			found = true;
		}
	}
	if (!found && n > 0)
		ag_log_warnx("%s: both cursor slots damaged: delivering every record on disk again", path);
	return 0;
}

static int cursor_write(struct stg_spool *sp, uint64_t cursor)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cursor", sp->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ag_log_warn("%s: cannot open", path);
		return ag_errno_code(errno);
	}
	uint64_t gen = sp->cursor_gen + 1;
	uint8_t slot[STG_CURSOR_SLOT];
	stg_cursor_encode(slot, gen, cursor);
	int rc = ag_pwrite_all(fd, slot, sizeof(slot), (off_t)((gen % 2) * STG_CURSOR_SLOT));
	if (rc == 0 && fdatasync(fd) < 0)
		rc = ag_errno_code(errno);
	if (rc < 0)
		ag_log_warn("%s: cursor not written", path);
	close(fd);
	if (rc == 0) {
		sp->cursor_gen = gen;
		/* a new cursor file needs its directory entry durable too */
		if (gen <= 2)
			(void)ag_fsync_dir(sp->dir);
	}
	return rc;
}

/*
 * Make sure the cursor file holds both slots, so that acknowledging later
 * overwrites blocks that exist: a full file system must not stop delivery.
 */
static int cursor_prepare(struct stg_spool *sp)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cursor", sp->dir);
	struct stat st;
	if (stat(path, &st) == 0 && st.st_size >= 2 * STG_CURSOR_SLOT)
		return 0;
	int rc = cursor_write(sp, sp->cursor);
	if (rc == 0)
		rc = cursor_write(sp, sp->cursor);
	if (rc == 0)
		rc = ag_fsync_dir(sp->dir);
	return rc;
}

/* ---- scanning --------------------------------------------------------- */

/* Read and check one record at off. Returns 0 (valid, *e filled),
 * AG_ECORRUPT (damaged here), AG_ENOENT (not enough bytes left). */
static int check_record(int fd, uint64_t off, uint64_t size, struct entry *e, uint8_t **buf, size_t *cap)
{
	uint8_t h[STG_HDR_SIZE];
	if (off + STG_HDR_SIZE > size)
		return AG_ENOENT;
	if (ag_pread_full(fd, h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h))
		return AG_EIO;
	struct stg_hdr hd;
	if (stg_hdr_decode(h, &hd) < 0)
		return AG_ECORRUPT;
	uint64_t body = (uint64_t)hd.meta_len + hd.len;
	if (off + STG_HDR_SIZE + body > size)
		return AG_ENOENT;
	if (body > *cap || !*buf) {
		uint8_t *nb = realloc(*buf, body ? body : 1);
		if (!nb)
			return AG_ENOMEM;
		*buf = nb;
		*cap = body ? body : 1;
	}
	if (ag_pread_full(fd, *buf, body, (off_t)(off + STG_HDR_SIZE)) != (ssize_t)body)
		return AG_EIO;
	if (stg_body_crc(h, *buf, body) != hd.crc)
		return AG_ECORRUPT;
	e->seq = hd.seq;
	e->off = off;
	e->captured_ms = hd.captured_ms;
	e->meta_len = hd.meta_len;
	e->len = hd.len;
	return 0;
}

/*
 * Scan a segment file record by record. A damaged record is skipped by
 * searching for the next valid one; if none follows, the rest is a torn
 * tail (cut off when last is true and the spool is writable).
 */
static int scan_segment(struct stg_spool *sp, struct segment *s, int fd, bool last)
{
	uint64_t off = 0;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t prev = 0;
	int rc = 0;
	while (off < s->size) {
		struct entry e;
		int r = check_record(fd, off, s->size, &e, &buf, &cap);
		if (r == 0 && e.seq > prev) {
			if ((rc = entry_push(s, &e)) < 0)
				break;
			prev = e.seq;
			off += STG_HDR_SIZE + (uint64_t)e.meta_len + e.len;
			continue;
		}
		if (r == AG_EIO || r == AG_ENOMEM) {
			rc = r;
			break;
		}
		/* damaged (or out of order) here: find the next valid record */
		uint64_t next = off + 1, found = UINT64_MAX;
		for (; next + STG_HDR_SIZE <= s->size; next++) {
			uint8_t m[4];
			if (ag_pread_full(fd, m, 4, (off_t)next) != 4)
				break;
			if (memcmp(m, STG_MAGIC, 4) != 0)
				continue;
			struct entry e2;
			if (check_record(fd, next, s->size, &e2, &buf, &cap) == 0 && e2.seq > prev) {
				found = next;
				break;
			}
		}
		if (found != UINT64_MAX) {
			sp->corrupt++;
			off = found;
			continue;
		}
		if (last) {
			sp->torn_bytes += s->size - off;
			if (!sp->cfg.readonly && ftruncate(fd, (off_t)off) < 0) {
				ag_log_warn("segment %016" PRIx64 ": cannot cut torn tail", s->first_seq);
				rc = ag_errno_code(errno);
				break;
			}
			s->size = off;
		} else {
			sp->corrupt++;
		}
		break;
	}
	free(buf);
	return rc;
}

/* Load a sealed segment's index if it is valid and matches the file. */
static int load_index(struct stg_spool *sp, struct segment *s)
{
	char path[4096];
	seg_path(sp, s->first_seq, "idx", path, sizeof(path));
	char *data = NULL;
	size_t len = 0;
	if (ag_file_read(path, 64u << 20, &data, &len) < 0)
		return AG_ENOENT;
	uint64_t fsize = 0;
	size_t n = 0;
	int rc = stg_index_check((const uint8_t *)data, len, &fsize, &n);
	if (rc == 0 && fsize != s->size)
		rc = AG_ECORRUPT;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct entry e;
		stg_index_entry((const uint8_t *)data, i, &e.seq, &e.off, &e.captured_ms, &e.meta_len, &e.len);
		if (e.off + STG_HDR_SIZE + (uint64_t)e.meta_len + e.len > s->size ||
		    (s->n && e.seq <= s->e[s->n - 1].seq))
			rc = AG_ECORRUPT;
		else
			rc = entry_push(s, &e);
	}
	free(data);
	if (rc < 0)
		s->n = 0;
	return rc;
}

static int write_index(struct stg_spool *sp, struct segment *s)
{
	size_t len = stg_index_size(s->n);
	uint8_t *buf = malloc(len);
	if (!buf)
		return AG_ENOMEM;
	stg_index_begin(buf, s->size, s->n);
	for (size_t i = 0; i < s->n; i++)
		stg_index_put(buf, i, s->e[i].seq, s->e[i].off, s->e[i].captured_ms, s->e[i].meta_len,
			      s->e[i].len);
	stg_index_finish(buf, s->n);
	/*
	 * The index is a cache: it carries its own CRC and the segment size it
	 * describes, and recovery scans the segment when it does not match. So
	 * it is replaced atomically (rename) but not synced.
	 */
	char path[4096], tmp[4200];
	seg_path(sp, s->first_seq, "idx", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		rc = ag_errno_code(errno);
	if (rc == 0)
		rc = ag_write_all(fd, buf, len);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = ag_errno_code(errno);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = ag_errno_code(errno);
	if (rc < 0) {
		ag_log_warn("%s: index not written (recovery will scan the segment)", path);
		unlink(tmp);
	}
	free(buf);
	return rc;
}

static void quarantine(struct stg_spool *sp, uint64_t first)
{
	char from[4096], to[4200], qdir[4096];
	snprintf(qdir, sizeof(qdir), "%s/quarantine", sp->dir);
	seg_path(sp, first, "fcs", from, sizeof(from));
	snprintf(to, sizeof(to), "%s/seg-%016" PRIx64 ".fcs", qdir, first);
	sp->quarantined++;
	if (sp->cfg.readonly)
		return;
	if (ag_mkdir_p(qdir, 0755) < 0 || rename(from, to) < 0) {
		ag_log_warn("%s: cannot move to quarantine/", from);
		return;
	}
	seg_path(sp, first, "idx", from, sizeof(from));
	unlink(from);
	ag_log_warnx("segment %016" PRIx64 ": unreadable, moved to quarantine/", first);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Delete segments (not the active one) that hold no undelivered record. */
static void delete_delivered(struct stg_spool *sp)
{
	size_t keep = 0;
	bool removed = false;
	for (size_t i = 0; i < sp->nseg; i++) {
		struct segment *s = &sp->seg[i];
		bool is_active = sp->active && i == sp->nseg - 1;
		bool delivered = s->n == 0 || seg_last_seq(s) < sp->cursor;
		if (!is_active && delivered) {
			char path[4096];
			seg_path(sp, s->first_seq, "fcs", path, sizeof(path));
			if (unlink(path) < 0 && errno != ENOENT) {
				ag_log_warn("%s: cannot delete", path);
				sp->seg[keep++] = *s;
				continue;
			}
			seg_path(sp, s->first_seq, "idx", path, sizeof(path));
			unlink(path);
			sp->disk_bytes -= s->size;
			seg_free(s);
			removed = true;
			continue;
		}
		sp->seg[keep++] = *s;
	}
	sp->nseg = keep;
	if (removed)
		(void)ag_fsync_dir(sp->dir);
}

static int recover(struct stg_spool *sp)
{
	int rc = cursor_read(sp);
	if (rc < 0)
		return rc;
	DIR *d = opendir(sp->dir);
	if (!d) {
		ag_log_warn("%s: cannot list", sp->dir);
		return ag_errno_code(errno);
	}
	uint64_t *firsts = NULL;
	size_t nf = 0, capf = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint64_t first;
		char tail[8];
		if (sscanf(de->d_name, "seg-%16" SCNx64 ".%7s", &first, tail) != 2 || strcmp(tail, "fcs") != 0 ||
		    strlen(de->d_name) != 24)
			continue;
		if (nf == capf) {
			size_t nc = capf ? capf * 2 : 64;
			uint64_t *nfp = realloc(firsts, nc * sizeof(*nfp));
			if (!nfp) {
				closedir(d);
				free(firsts);
				return AG_ENOMEM;
			}
			firsts = nfp;
			capf = nc;
		}
		firsts[nf++] = first;
	}
	closedir(d);
	if (nf)
		qsort(firsts, nf, sizeof(*firsts), cmp_u64);

	uint64_t max_seq = 0;
	for (size_t i = 0; i < nf; i++) {
		char path[4096];
		seg_path(sp, firsts[i], "fcs", path, sizeof(path));
		int fd = open(path, (sp->cfg.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			quarantine(sp, firsts[i]);
			continue;
		}
		struct segment *s = seg_push(sp, firsts[i]);
		if (!s) {
			close(fd);
			free(firsts);
			return AG_ENOMEM;
		}
		s->size = (uint64_t)st.st_size;
		bool last = i == nf - 1;
		int r = last ? AG_ENOENT : load_index(sp, s);
		if (r < 0) {
			r = scan_segment(sp, s, fd, last);
			if (r == 0 && !last && !sp->cfg.readonly)
				(void)write_index(sp, s);
		}
		close(fd);
		if (r == AG_EIO) {
			sp->nseg--;
			seg_free(s);
			quarantine(sp, firsts[i]);
			continue;
		}
		if (r < 0) {
			free(firsts);
			return r;
		}
		/* sequence numbers must keep growing across segments */
		size_t k = 0;
		for (size_t j = 0; j < s->n; j++) {
			if (s->e[j].seq <= max_seq) {
				sp->corrupt++;
				continue;
			}
			s->e[k++] = s->e[j];
			max_seq = s->e[j].seq;
		}
		s->n = k;
		sp->disk_bytes += s->size;
		if (last && s->n && !sp->cfg.readonly) {
			/* seal it: appends go to a new segment */
			(void)write_index(sp, s);
		}
	}
	free(firsts);
	if (sp->cursor == 0)
		sp->cursor = 1; /* sequence numbers start at 1 */
	sp->next_seq = max_seq + 1;
	if (sp->cursor > sp->next_seq)
		sp->next_seq = sp->cursor;
	if (sp->next_seq == 0)
		sp->next_seq = 1;
	sp->durable_seq = max_seq;
	if (!sp->cfg.readonly)
		delete_delivered(sp);
	return 0;
}

/* ---- open / close ----------------------------------------------------- */

int stg_spool_open(const struct stg_spool_config *cfg, struct stg_spool **out)
{
	if (!cfg->dir || !*cfg->dir || cfg->segment_bytes < 4096 || cfg->max_bytes < 2 * cfg->segment_bytes)
		return AG_EINVAL;
	struct stg_spool *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return AG_ENOMEM;
	sp->cfg = *cfg;
	sp->dirfd = -1;
	sp->dir = strdup(cfg->dir);
	sp->drop_rl.interval_ms = 60000;
	sp->nospc_rl.interval_ms = 60000;
	pthread_mutex_init(&sp->mu, NULL);
	int rc;
	if (!sp->dir) {
		rc = AG_ENOMEM;
		goto fail;
	}
	sp->cfg.dir = sp->dir;
	if (!cfg->readonly && (rc = ag_mkdir_p(sp->dir, 0750)) < 0) {
		ag_log_warn("%s: cannot create", sp->dir);
		goto fail;
	}
	if ((rc = recover(sp)) < 0)
		goto fail;
	if (!cfg->readonly && (rc = cursor_prepare(sp)) < 0)
		goto fail;
	if (!cfg->readonly && (sp->corrupt || sp->torn_bytes || sp->quarantined))
		ag_log_warnx("%s: recovered %" PRIu64 " segments; skipped %" PRIu64
			     " corrupt records, cut %" PRIu64 " torn bytes, quarantined %" PRIu64 " segments",
			     sp->dir, (uint64_t)sp->nseg, sp->corrupt, sp->torn_bytes, sp->quarantined);
	*out = sp;
	return 0;
fail:
	stg_spool_close(sp);
	return rc;
}

static int sync_locked(struct stg_spool *sp);
static void trim(struct segment *s);

void stg_spool_close(struct stg_spool *sp)
{
	if (!sp)
		return;
	pthread_mutex_lock(&sp->mu);
	if (sp->cfg.defer_delete && !sp->cfg.readonly)
		delete_delivered(sp);
	if (sp->active && !sp->cfg.readonly) {
		(void)sync_locked(sp);
		(void)write_index(sp, &sp->seg[sp->nseg - 1]);
		trim(&sp->seg[sp->nseg - 1]);
	}
	for (size_t i = 0; i < sp->nseg; i++)
		seg_free(&sp->seg[i]);
	copies_clear(sp);
	for (size_t i = 0; i < sp->capcopies; i++)
		free(sp->copies[i].buf);
	free(sp->copies);
	free(sp->seg);
	pthread_mutex_unlock(&sp->mu);
	pthread_mutex_destroy(&sp->mu);
	free(sp->dir);
	free(sp);
}

/* ---- appending -------------------------------------------------------- */

/* Give back the preallocated blocks past the last record of a sealed segment. */
static void trim(struct segment *s)
{
	if (ftruncate(s->fd, (off_t)s->size) < 0)
		ag_log_warn("segment %016" PRIx64 ": cannot trim", s->first_seq);
}

/* Close the active segment: durable data and its index. */
static void seal_active(struct stg_spool *sp)
{
	if (!sp->active)
		return;
	struct segment *s = &sp->seg[sp->nseg - 1];
	sp->active = false;
	if (s->synced < s->size) {
		/* the next group commit syncs it, writes its index and closes it */
		return;
	}
	(void)write_index(sp, s);
	trim(s);
	close(s->fd);
	s->fd = -1;
}

static int open_new_segment(struct stg_spool *sp)
{
	seal_active(sp);
	char path[4096];
	seg_path(sp, sp->next_seq, "fcs", path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 && errno == EEXIST) {
		/* a leftover empty file from a crash between create and write */
		unlink(path);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	}
	if (fd < 0) {
		int e = errno;
		ag_log_warn("%s: cannot create segment", path);
		return ag_errno_code(e);
	}
	struct segment *s = seg_push(sp, sp->next_seq);
	if (!s) {
		close(fd);
		unlink(path);
		return AG_ENOMEM;
	}
	s->fd = fd;
	sp->active = true;
	/*
	 * Reserve the segment's blocks up front where the file system allows
	 * (less fragmentation on SD cards, and a full disk shows at segment
	 * creation). KEEP_SIZE: the file's size still ends at its last record.
	 */
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)sp->cfg.segment_bytes) < 0 &&
	    errno != EOPNOTSUPP && errno != ENOSYS && errno != ENOSPC)
		ag_log_warn("%s: cannot preallocate a segment", path);
	/* the new name must be durable before its records are called durable */
	sp->dir_dirty = true;
	if (sp->cfg.sync == STG_SYNC_ALWAYS) {
		if (ag_fsync_dir(sp->dir) < 0)
			ag_log_warn("%s: directory sync failed", sp->dir);
		else
			sp->dir_dirty = false;
	}
	return 0;
}

/*
 * Drop the oldest sealed segment by policy, moving the cursor past its
 * undelivered records (counted as drops). AG_EFULL when there is nothing
 * to drop or on_full is pause_capture and it still holds undelivered records.
 */
static int drop_oldest(struct stg_spool *sp)
{
	size_t limit = sp->active ? sp->nseg - 1 : sp->nseg;
	if (limit == 0)
		return AG_EFULL;
	struct segment *old = &sp->seg[0];
	uint64_t lost = 0;
	for (size_t i = 0; i < old->n; i++)
		if (old->e[i].seq >= sp->cursor)
			lost++;
	if (lost && sp->cfg.on_full == STG_FULL_PAUSE_CAPTURE) {
		if (!sp->full)
			ag_log_warnx("%s: full (%" PRIu64 " bytes): capture paused until records are delivered",
				     sp->dir, sp->disk_bytes);
		sp->full = true;
		return AG_EFULL;
	}
	uint64_t new_cursor = seg_last_seq(old) + 1;
	if (new_cursor < sp->cursor)
		new_cursor = sp->cursor;
	if (lost) {
		unsigned sup = 0;
		if (ag_ratelimit_allow(&sp->drop_rl, ag_now_ms(), &sup))
			ag_log_warnx("%s: full: dropped the oldest %" PRIu64 " undelivered records (%u more drop events not shown)",
				     sp->dir, lost, sup);
		sp->dropped += lost;
		/* the cursor moves past them before their segment goes */
		if (cursor_write(sp, new_cursor) < 0)
			return AG_EIO;
	}
	sp->cursor = new_cursor;
	size_t before = sp->nseg;
	delete_delivered(sp);
	return sp->nseg == before ? AG_EIO : 0; /* could not delete: do not loop */
}

/* Make room for need more bytes under max_bytes. */
static int make_room(struct stg_spool *sp, uint64_t need)
{
	if (sp->disk_bytes + need > sp->cfg.max_bytes && sp->cfg.defer_delete)
		delete_delivered(sp); /* delivered segments go before anything is dropped */
	while (sp->disk_bytes + need > sp->cfg.max_bytes) {
		if (!(sp->active ? sp->nseg - 1 : sp->nseg))
			break; /* only the active segment: it is below segment_bytes */
		int rc = drop_oldest(sp);
		if (rc < 0)
			return rc;
	}
	if (sp->full)
		ag_log_info("%s: room again: capture resumes", sp->dir);
	sp->full = false;
	return 0;
}

/* Header, meta and payload in one pwritev (looping on short writes). */
static int pwrite_record(int fd, uint64_t off, const uint8_t *h, const void *meta, uint32_t meta_len,
			 const void *payload, uint32_t len)
{
	struct iovec iov[3] = {
		{ (void *)h, STG_HDR_SIZE },
		{ (void *)meta, meta_len },
		{ (void *)payload, len },
	};
	int first = 0;
	size_t left = STG_HDR_SIZE + (size_t)meta_len + len;
	while (left > 0) {
		ssize_t w = pwritev(fd, iov + first, 3 - first, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ag_errno_code(errno);
		}
		off += (uint64_t)w;
		left -= (size_t)w;
		size_t k = (size_t)w;
		while (first < 3 && k >= iov[first].iov_len) {
			k -= iov[first].iov_len;
			first++;
		}
		if (first < 3) {
			iov[first].iov_base = (char *)iov[first].iov_base + k;
			iov[first].iov_len -= k;
		}
	}
	return 0;
}

static int write_record(struct stg_spool *sp, uint64_t seq, uint64_t captured_ms, const void *meta,
			uint32_t meta_len, const void *payload, uint32_t len)
{
	struct segment *s = &sp->seg[sp->nseg - 1];
	uint8_t h[STG_HDR_SIZE];
	stg_hdr_encode(h, seq, captured_ms, meta, meta_len, payload, len);
	uint64_t off = s->size;
	int rc = pwrite_record(s->fd, off, h, meta, meta_len, payload, len);
	if (rc < 0) {
		/* leave nothing half-written behind */
		if (ftruncate(s->fd, (off_t)off) < 0) {
			ag_log_warn("segment %016" PRIx64 ": cannot cut a failed write", s->first_seq);
			seal_active(sp);
		}
		return rc;
	}
	struct entry e = { seq, off, captured_ms, meta_len, len };
	if ((rc = entry_push(s, &e)) < 0) {
		if (ftruncate(s->fd, (off_t)off) < 0)
			seal_active(sp);
		return rc;
	}
	uint64_t total = STG_HDR_SIZE + (uint64_t)meta_len + len;
	s->size += total;
	sp->disk_bytes += total;
	return 0;
}

static void keep_copy(struct stg_spool *sp, uint64_t seq, uint64_t captured_ms, const void *meta,
		      uint32_t meta_len, const void *payload, uint32_t len)
{
	if (sp->copies_incomplete || sp->copy_bytes + len + meta_len > MAX_COPY_BYTES) {
		sp->copies_incomplete = true;
		return;
	}
	if (sp->ncopies == sp->capcopies) {
		size_t nc = sp->capcopies ? sp->capcopies * 2 : 16;
		struct pending_copy *np = realloc(sp->copies, nc * sizeof(*np));
		if (!np) {
			sp->copies_incomplete = true;
			return;
		}
		memset(np + sp->capcopies, 0, (nc - sp->capcopies) * sizeof(*np));
		sp->copies = np;
		sp->capcopies = nc;
	}
	struct pending_copy *c = &sp->copies[sp->ncopies];
	size_t need = (size_t)meta_len + len + 1;
	if (need > c->cap) {
		uint8_t *nb = realloc(c->buf, need);
		if (!nb) {
			sp->copies_incomplete = true;
			return;
		}
		c->buf = nb;
		c->cap = need;
	}
	c->meta = c->buf;
	c->payload = c->buf + meta_len;
	if (meta_len)
		memcpy(c->meta, meta, meta_len);
	memcpy(c->payload, payload, len);
	c->seq = seq;
	c->captured_ms = captured_ms;
	c->meta_len = meta_len;
	c->len = len;
	sp->ncopies++;
	sp->copy_bytes += len + meta_len;
}

/*
 * fdatasync failed: the kernel may have dropped the dirty pages, so the
 * unsynced part of the segment cannot be trusted. Cut it off, seal the
 * segment and write the records we still hold into a new one.
 */
static int rewrite_after_failed_sync(struct stg_spool *sp)
{
	ag_log_warnx("fdatasync failed: rewriting %zu unsynced records to a new segment", sp->ncopies);
	/* cut the unsynced part of every open segment */
	for (size_t i = 0; i < sp->nseg; i++) {
		struct segment *s = &sp->seg[i];
		if (s->fd < 0 || s->synced == s->size)
			continue;
		uint64_t cut = s->synced;
		while (s->n && s->e[s->n - 1].off >= cut)
			s->n--;
		if (ftruncate(s->fd, (off_t)cut) == 0) {
			sp->disk_bytes -= s->size - cut;
			s->size = cut;
		}
	}
	sp->active = false;
	/* segments left empty go now, so no name is used twice */
	size_t keep = 0;
	for (size_t i = 0; i < sp->nseg; i++) {
		struct segment *s = &sp->seg[i];
		if (s->n == 0 && s->fd >= 0) {
			char path[4096];
			seg_path(sp, s->first_seq, "fcs", path, sizeof(path));
			unlink(path);
			seg_path(sp, s->first_seq, "idx", path, sizeof(path));
			unlink(path);
			sp->disk_bytes -= s->size;
			seg_free(s);
			continue;
		}
		if (s->fd >= 0) {
			(void)write_index(sp, s);
			close(s->fd);
			s->fd = -1;
		}
		sp->seg[keep++] = *s;
	}
	sp->nseg = keep;
	if (sp->copies_incomplete)
		ag_log_err("%s: some unsynced records were not kept in memory and are lost", sp->dir);
	/* the records to write again keep their sequence numbers */
	uint64_t save_next = sp->next_seq;
	sp->next_seq = sp->ncopies ? sp->copies[0].seq : save_next;
	int rc = open_new_segment(sp);
	sp->next_seq = save_next;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sp->ncopies && rc == 0; i++) {
		struct pending_copy *c = &sp->copies[i];
		rc = write_record(sp, c->seq, c->captured_ms, c->meta, c->meta_len, c->payload, c->len);
	}
	struct segment *ns = &sp->seg[sp->nseg - 1];
	if (rc == 0 && fdatasync(ns->fd) < 0)
		rc = ag_errno_code(errno);
	if (rc == 0 && ag_fsync_dir(sp->dir) < 0)
		rc = AG_EIO;
	if (rc == 0)
		sp->dir_dirty = false;
	if (rc < 0) {
		ag_log_err("segment %016" PRIx64 ": rewrite failed too: %s", ns->first_seq, ag_strerror(rc));
		seal_active(sp);
		return AG_EIO;
	}
	ns->synced = ns->size;
	if (ns->n)
		sp->durable_seq = seg_last_seq(ns);
	copies_clear(sp);
	return 0;
}

static int sync_locked(struct stg_spool *sp)
{
	bool any = false;
	for (size_t i = 0; i < sp->nseg; i++) {
		struct segment *s = &sp->seg[i];
		if (s->fd < 0 || s->synced == s->size)
			continue;
		if (fdatasync(s->fd) < 0) {
			ag_log_warn("segment %016" PRIx64 ": fdatasync", s->first_seq);
			int rc = rewrite_after_failed_sync(sp);
			return rc < 0 ? AG_EIO : 0;
		}
		s->synced = s->size;
		any = true;
	}
	if (sp->dir_dirty) {
		if (ag_fsync_dir(sp->dir) < 0) {
			ag_log_warn("%s: directory sync failed", sp->dir);
			return AG_EIO;
		}
		sp->dir_dirty = false;
	}
	/* sealed segments are complete now: index them and let them go */
	for (size_t i = 0; i < sp->nseg; i++) {
		struct segment *s = &sp->seg[i];
		bool is_active = sp->active && i == sp->nseg - 1;
		if (s->fd >= 0 && !is_active) {
			(void)write_index(sp, s);
			trim(s);
			close(s->fd);
			s->fd = -1;
		}
		if (s->n && s->synced == s->size && seg_last_seq(s) > sp->durable_seq)
			sp->durable_seq = seg_last_seq(s);
	}
	if (any || sp->ncopies)
		copies_clear(sp);
	return 0;
}

int stg_spool_append(struct stg_spool *sp, const void *payload, size_t len, const void *meta,
		     size_t meta_len, uint64_t captured_ms, uint64_t *seq)
{
	if (sp->cfg.readonly || meta_len > MAX_META || len > UINT32_MAX)
		return AG_EINVAL;
	uint64_t total = STG_HDR_SIZE + (uint64_t)meta_len + len;
	if (total > sp->cfg.max_bytes / 2)
		return AG_ETOOBIG;
	pthread_mutex_lock(&sp->mu);
	int rc = make_room(sp, total);
	if (rc < 0)
		goto out;
	struct segment *s = sp->active ? &sp->seg[sp->nseg - 1] : NULL;
	if (!s || (s->size > 0 && s->size + total > sp->cfg.segment_bytes)) {
		if ((rc = open_new_segment(sp)) < 0)
			goto out;
	}
	uint64_t q = sp->next_seq;
	rc = write_record(sp, q, captured_ms, meta, (uint32_t)meta_len, payload, (uint32_t)len);
	/* the file system is full before the spool is: apply on_full there too */
	while (rc == AG_ENOSPC && drop_oldest(sp) == 0) {
		if (sp->active && sp->seg[sp->nseg - 1].size + total > sp->cfg.segment_bytes &&
		    sp->seg[sp->nseg - 1].size > 0 && (rc = open_new_segment(sp)) < 0)
			break;
		if (!sp->active && (rc = open_new_segment(sp)) < 0)
			break;
		rc = write_record(sp, q, captured_ms, meta, (uint32_t)meta_len, payload, (uint32_t)len);
	}
	if (rc < 0) {
		if (rc == AG_ENOSPC) {
			unsigned sup = 0;
			if (ag_ratelimit_allow(&sp->nospc_rl, ag_now_ms(), &sup))
				ag_log_warnx("%s: file system full: record not written (%u more not shown)", sp->dir, sup);
		}
		goto out;
	}
	if (ag_ratelimit_reset(&sp->nospc_rl))
		ag_log_info("%s: space on the file system again", sp->dir);
	sp->next_seq++;
	if (sp->cfg.sync != STG_SYNC_NONE)
		keep_copy(sp, q, captured_ms, meta, (uint32_t)meta_len, payload, (uint32_t)len);
	if (sp->cfg.sync == STG_SYNC_ALWAYS)
		rc = sync_locked(sp);
	else if (sp->cfg.sync == STG_SYNC_NONE)
		sp->durable_seq = q;
	if (rc == 0 && seq)
		*seq = q;
out:
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int stg_spool_sync(struct stg_spool *sp, uint64_t *durable_seq)
{
	pthread_mutex_lock(&sp->mu);
	int rc = sp->cfg.readonly ? 0 : sync_locked(sp);
	if (durable_seq)
		*durable_seq = sp->durable_seq;
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

uint64_t stg_spool_durable_seq(struct stg_spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	uint64_t d = sp->durable_seq;
	pthread_mutex_unlock(&sp->mu);
	return d;
}

/* ---- consuming -------------------------------------------------------- */

void stg_record_release(struct stg_record *rec)
{
	free(rec->buf);
	memset(rec, 0, sizeof(*rec));
}

/* Drop entry i of segment s from memory (a corrupt record). */
static void entry_remove(struct segment *s, size_t i)
{
	memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(*s->e));
	s->n--;
}

int stg_spool_peek(struct stg_spool *sp, uint64_t after_seq, struct stg_record *rec)
{
	pthread_mutex_lock(&sp->mu);
	uint64_t from = sp->cursor > after_seq + 1 ? sp->cursor : after_seq + 1;
	int rc = AG_ENOENT;
	for (size_t si = 0; si < sp->nseg; si++) {
		struct segment *s = &sp->seg[si];
		if (!s->n || seg_last_seq(s) < from)
			continue;
		char path[4096];
		seg_path(sp, s->first_seq, "fcs", path, sizeof(path));
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ag_log_warn("%s: cannot open", path);
			rc = ag_errno_code(errno);
			break;
		}
		for (size_t i = 0; i < s->n; i++) {
			struct entry *e = &s->e[i];
			if (e->seq < from)
				continue;
			struct entry chk;
			int r = check_record(fd, e->off, s->size, &chk, &rec->buf, &rec->cap);
			if (r == 0 && chk.seq == e->seq) {
				rec->seq = e->seq;
				rec->captured_ms = e->captured_ms;
				rec->meta = e->meta_len ? rec->buf : NULL;
				rec->meta_len = e->meta_len;
				rec->payload = rec->buf + e->meta_len;
				rec->len = e->len;
				rc = 0;
				break;
			}
			if (r == AG_EIO || r == AG_ENOMEM) {
				rc = r;
				break;
			}
			ag_log_warnx("%s: record %" PRIu64 " is corrupt: skipped", path, e->seq);
			sp->corrupt++;
			entry_remove(s, i);
			i--;
		}
		close(fd);
		if (rc != AG_ENOENT)
			break;
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int stg_spool_ack(struct stg_spool *sp, uint64_t seq)
{
	pthread_mutex_lock(&sp->mu);
	int rc = 0;
	if (seq + 1 > sp->cursor && !sp->cfg.readonly) {
		uint64_t want = seq + 1;
		if (want > sp->next_seq)
			want = sp->next_seq;
		rc = cursor_write(sp, want);
		sp->cursor = want; /* not resent in this run even if not durable */
		if (rc == 0 && !sp->cfg.defer_delete)
			delete_delivered(sp);
		if (sp->full && sp->cfg.on_full == STG_FULL_PAUSE_CAPTURE)
			(void)make_room(sp, 0);
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int stg_spool_collect(struct stg_spool *sp)
{
	/* take the delivered segments out of the list under the lock ... */
	pthread_mutex_lock(&sp->mu);
	if (sp->cfg.readonly) {
		pthread_mutex_unlock(&sp->mu);
		return 0;
	}
	size_t keep = 0, n = 0;
	uint64_t *firsts = NULL;
	for (size_t i = 0; i < sp->nseg; i++) {
		struct segment *s = &sp->seg[i];
		bool is_active = sp->active && i == sp->nseg - 1;
		if (!is_active && (s->n == 0 || seg_last_seq(s) < sp->cursor)) {
			uint64_t *nf = realloc(firsts, (n + 1) * sizeof(*firsts));
			if (nf) {
				firsts = nf;
				firsts[n++] = s->first_seq;
				sp->disk_bytes -= s->size;
				seg_free(s);
				continue;
			}
		}
		sp->seg[keep++] = *s;
	}
	sp->nseg = keep;
	pthread_mutex_unlock(&sp->mu);
	/* ... and delete them without it: appends and peeks go on meanwhile.
	 * A file left behind by a crash here is deleted by the next recovery,
	 * since the cursor is already past it. */
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		seg_path(sp, firsts[i], "fcs", path, sizeof(path));
		if (unlink(path) < 0 && errno != ENOENT)
			ag_log_warn("%s: cannot delete", path);
		seg_path(sp, firsts[i], "idx", path, sizeof(path));
		unlink(path);
	}
	if (n)
		(void)ag_fsync_dir(sp->dir);
	free(firsts);
	return (int)n;
}

void stg_spool_stats(struct stg_spool *sp, struct stg_spool_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&sp->mu);
	for (size_t i = 0; i < sp->nseg; i++) {
		const struct segment *s = &sp->seg[i];
		for (size_t j = 0; j < s->n; j++) {
			if (s->e[j].seq < sp->cursor)
				continue;
			if (!st->pending_records)
				st->oldest_captured_ms = s->e[j].captured_ms;
			st->pending_records++;
			st->pending_bytes += (uint64_t)s->e[j].meta_len + s->e[j].len;
		}
	}
	st->disk_bytes = sp->disk_bytes;
	st->next_seq = sp->next_seq;
	st->cursor = sp->cursor;
	st->durable_seq = sp->durable_seq;
	st->segments = sp->nseg;
	st->dropped = sp->dropped;
	st->corrupt = sp->corrupt;
	st->torn_bytes = sp->torn_bytes;
	st->quarantined = sp->quarantined;
	st->full = sp->full;
	pthread_mutex_unlock(&sp->mu);
}

const char *stg_spool_dir(const struct stg_spool *sp);
const char *stg_spool_dir(const struct stg_spool *sp)
{
	return sp->dir;
}
