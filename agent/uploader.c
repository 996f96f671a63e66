/*
 * The uploaders of `run` (upload.mode online): upload.max_inflight
 * workers, each with its own HTTP handle (one connection, its TLS session
 * reused), sharing one token. A worker takes the oldest record nobody has
 * taken, sends it, and on a 2xx with a valid body appends one line to
 * results.file; a payload refused for good is set aside in rejected/ with
 * the reason; anything transient waits out a full-jitter backoff and tries
 * the same record again. A committer thread acknowledges records in the
 * order they were taken, by group commits that sync the results first: a
 * result is durable before its record leaves the spool, and a record is
 * never acknowledged while an older one is still out. It commits as soon as
 * an answer arrives and again as answers pile up while it syncs, so the
 * workers never wait on the disk. A 429 (quota, shared capacity) halves
 * how many workers send at once, at most once a second; every 8 answers
 * in a row give one back, up to upload.max_inflight, and all of them may
 * send again once the spool is dry (vertex-api.md: "halve concurrency
 * after a 429"). Capture and
 * upload meet only at the spool. With one worker the results are in
 * capture order; with more, in the order the answers came.
 */
#define AG_LOG_TAG "upload"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "online.h"
#include "run.h"
#include "stg.h"

/* Record ids already in results.file at start-up (its last lines): a
 * record sent just before a crash, whose ack did not land, is acked
 * again without a second result line. */
#define RECENT_BYTES (512 * 1024)
#define RECENT_MAX 4096
/* Group commit of results + acks: at most this many answers (fewer than
 * RECENT_BYTES of result lines, so a crash before the commit is caught by
 * the recent-id check instead of doubling lines) or this long. */
#define COMMIT_RECORDS 256
#define COMMIT_MS 1000
/* Records taken and not yet acknowledged, at most (a record that keeps
 * failing holds the acks of those after it: the window bounds them). */
#define WINDOW 512
/* After a 429, one more worker may send again per this many answers. */
#define RAISE_AFTER 8
/* This many images in a row refused with the same words: the next ones are
 * kept (the request is at fault, e.g. a bad online.labels or prompt), not
 * set aside, until an answer comes. */
#define REJECT_RUN 3

struct worker {
	struct ag_uploader *u;
	struct ag_online on;
	struct net_backoff bo;
	struct stg_record rec;
	pthread_t t;
	bool started;
};

struct outstanding {
	uint64_t seq;
	bool done;
};

struct ag_uploader {
	struct ag_run *r;
	struct ag_batcher *batch;    /* upload.mode batch: all the work is there */
	struct net_auth *auth;       /* shared by the workers */
	struct worker *w;
	size_t nw;
	struct stg_results *results;
	struct ag_event done;        /* every worker has ended */
	bool have_done;
	atomic_bool failed;
	atomic_bool abort;
	atomic_uint running;
	char *recent[RECENT_MAX];
	size_t nrecent;
	struct ag_ratelimit rl, io_rl, img_rl; /* under mu */
	struct ag_event commit_ev;   /* wakes the committer */
	bool have_commit_ev;
	pthread_mutex_t commit_mu;   /* one commit at a time */
	/* under mu: what is out, in the order it was taken */
	pthread_mutex_t mu;
	uint64_t taken_seq;
	struct outstanding q[WINDOW];
	size_t qhead, qn;
	unsigned answered;           /* done since the last commit */
	uint64_t answered_since;     /* monotonic ms */
	size_t allowed;              /* workers that may take a record: 1..nw */
	unsigned ok_streak;          /* answers since allowed last changed */
	uint64_t cut_ms;             /* monotonic: when allowed was last halved */
	char reject_msg[256];        /* the last refusal, and how many in a row said it */
	unsigned reject_run;
};

/*
 * A refusal (NET_REJECT) of one image: true when it is the same as the
 * REJECT_RUN before it, so it is about the request and not this image:
 * then the record stays. Says so once per run.
 */
static bool same_refusal(struct ag_uploader *u, const char *msg)
{
	pthread_mutex_lock(&u->mu);
	if (strcmp(u->reject_msg, msg) == 0) {
		u->reject_run++;
	} else {
		ag_strlcpy(u->reject_msg, msg, sizeof(u->reject_msg));
		u->reject_run = 1;
	}
	unsigned run = u->reject_run;
	pthread_mutex_unlock(&u->mu);
	if (run == REJECT_RUN + 1)
		ag_log_err("%u images in a row refused with the same answer (%s): that is the request, not the "
			    "images (online.labels, online.prompt, the endpoint?): the next ones stay in the spool "
			    "until an answer comes",
			    REJECT_RUN, msg);
	return run > REJECT_RUN;
}

/* A 429: half as many workers send from now on (once per second, so one
 * burst of 429s halves once). */
static void slow_down(struct ag_uploader *u)
{
	pthread_mutex_lock(&u->mu);
	uint64_t now = ag_now_ms();
	size_t was = u->allowed;
	if (u->allowed > 1 && now - u->cut_ms >= 1000) {
		u->allowed /= 2;
		u->cut_ms = now;
	}
	u->ok_streak = 0;
	size_t allowed = u->allowed;
	pthread_mutex_unlock(&u->mu);
	if (allowed != was)
		ag_log_warnx("429 from the endpoint: %zu of %zu requests at once from now on", allowed, u->nw);
}

/* An answer: after RAISE_AFTER in a row, one more worker may send. */
static void speed_up(struct ag_uploader *u)
{
	pthread_mutex_lock(&u->mu);
	bool back = false;
	if (u->allowed < u->nw && ++u->ok_streak >= RAISE_AFTER) {
		u->allowed++;
		u->ok_streak = 0;
		back = u->allowed == u->nw;
	}
	pthread_mutex_unlock(&u->mu);
	if (back)
		ag_log_info("%zu requests at once again (upload.max_inflight)", u->nw);
}

/* The spool is dry: no backlog to pace, every worker may send again. */
static void caught_up(struct ag_uploader *u)
{
	pthread_mutex_lock(&u->mu);
	u->allowed = u->nw;
	u->ok_streak = 0;
	pthread_mutex_unlock(&u->mu);
}

static bool may_send(struct worker *w)
{
	struct ag_uploader *u = w->u;
	pthread_mutex_lock(&u->mu);
	bool ok = (size_t)(w - u->w) < u->allowed;
	pthread_mutex_unlock(&u->mu);
	return ok;
}

/* Sync the results, then acknowledge the records taken before any that is
 * still out. The fsyncs run outside mu, so the workers go on uploading
 * meanwhile; commit_mu keeps commits one at a time. */
static void commit(struct ag_uploader *u)
{
	struct ag_run *r = u->r;
	pthread_mutex_lock(&u->commit_mu);
	pthread_mutex_lock(&u->mu);
	size_t k = 0;
	uint64_t upto = 0;
	while (k < u->qn && u->q[(u->qhead + k) % WINDOW].done) {
		upto = u->q[(u->qhead + k) % WINDOW].seq;
		k++;
	}
	u->answered = 0;
	pthread_mutex_unlock(&u->mu);
	if (k == 0) {
		pthread_mutex_unlock(&u->commit_mu);
		return;
	}
	/* the lines of those k were appended before we looked: this sync covers them */
	int rc = stg_results_sync(u->results);
	if (rc < 0) {
		/* the lines may be lost: keep the records, they will be sent again */
		ag_log_err("%s: results not durable (%s): their images stay in the spool", r->cfg->results.file,
			   ag_strerror(rc));
		ag_run_error(r, "results.file: %s", ag_strerror(rc));
		pthread_mutex_unlock(&u->commit_mu);
		return;
	}
	rc = stg_spool_ack(r->spool, upto);
	if (rc < 0)
		ag_log_warnx("acknowledgement not durable (%s): records up to %" PRIu64 " may be sent again",
			     ag_strerror(rc), upto);
	pthread_mutex_lock(&u->mu);
	u->qhead = (u->qhead + k) % WINDOW; /* only commits remove entries: the first k are the same */
	u->qn -= k;
	pthread_mutex_unlock(&u->mu);
	pthread_mutex_unlock(&u->commit_mu);
}

/* The committer thread: a commit when the workers ask (COMMIT_RECORDS
 * answers, the spool ran dry) or COMMIT_MS after the last, until all
 * workers have ended. */
static void *committer_main(void *arg)
{
	struct ag_uploader *u = arg;
	while (atomic_load(&u->running) > 0) {
		pthread_mutex_lock(&u->mu);
		bool out = u->qn > 0;
		pthread_mutex_unlock(&u->mu);
		ag_event_wait_ms(&u->commit_ev, out ? COMMIT_MS : 60000); /* idle: sleep */
		ag_event_clear(&u->commit_ev);
		commit(u);
	}
	commit(u);
	return NULL;
}

/* Take the oldest record nobody has: 0, AG_ENOENT (none), AG_EAGAIN
 * (the window is full), AG_E* of the spool. */
static int take(struct worker *w)
{
	struct ag_uploader *u = w->u;
	pthread_mutex_lock(&u->mu);
	int rc = AG_EAGAIN;
	if (u->qn < WINDOW) {
		rc = stg_spool_peek(u->r->spool, u->taken_seq, &w->rec);
		if (rc == 0) {
			u->taken_seq = w->rec.seq;
			u->q[(u->qhead + u->qn) % WINDOW] = (struct outstanding){ w->rec.seq, false };
			u->qn++;
		}
	}
	pthread_mutex_unlock(&u->mu);
	return rc;
}

/* The record of w is answered: its result line (NULL: none to write, e.g.
 * set aside) goes to results.file and it may be acknowledged. Returns 0, or
 * AG_E* when the line could not be written (the record stays out). */
static int finish(struct worker *w, const char *line)
{
	struct ag_uploader *u = w->u;
	int rc = 0;
	pthread_mutex_lock(&u->mu);
	if (line)
		rc = stg_results_append(u->results, line);
	if (rc == 0) {
		for (size_t i = 0; i < u->qn; i++) {
			struct outstanding *o = &u->q[(u->qhead + i) % WINDOW];
			if (o->seq == w->rec.seq)
				o->done = true;
		}
		if (!u->answered++)
			u->answered_since = ag_now_ms();
		if (u->answered >= COMMIT_RECORDS)
			ag_event_set(&u->commit_ev);
	}
	pthread_mutex_unlock(&u->mu);
	return rc;
}

static void load_recent(struct ag_uploader *u, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size == 0) {
		close(fd);
		return;
	}
	off_t off = st.st_size > RECENT_BYTES ? st.st_size - RECENT_BYTES : 0;
	size_t len = (size_t)(st.st_size - off);
	char *buf = malloc(len + 1);
	ssize_t n = buf ? ag_pread_full(fd, buf, len, off) : -1;
	close(fd);
	if (n <= 0) {
		free(buf);
		return;
	}
	buf[n] = '\0';
	char *line = buf;
	if (off > 0) { /* the first line is cut */
		char *nl = strchr(buf, '\n');
		line = nl ? nl + 1 : buf + n;
	}
	while (*line) {
		char *nl = strchr(line, '\n');
		if (!nl)
			break; /* a torn last line: not a result */
		cJSON *j = cJSON_ParseWithLength(line, (size_t)(nl - line));
		cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
		if (cJSON_IsString(id)) {
			if (u->nrecent == RECENT_MAX) {
				free(u->recent[0]);
				memmove(u->recent, u->recent + 1, (RECENT_MAX - 1) * sizeof(u->recent[0]));
				u->nrecent--;
			}
			u->recent[u->nrecent] = ag_strdup(id->valuestring);
			if (u->recent[u->nrecent])
				u->nrecent++;
		}
		cJSON_Delete(j);
		line = nl + 1;
	}
	free(buf);
}

static bool seen(const struct ag_uploader *u, const char *id)
{
	for (size_t i = 0; i < u->nrecent; i++)
		if (strcmp(u->recent[i], id) == 0)
			return true;
	return false;
}

int ag_uploader_create(struct ag_run *r, struct ag_uploader **out)
{
	const struct ag_config *c = r->cfg;
	if (c->upload.mode != AG_MODE_ONLINE && c->upload.mode != AG_MODE_BATCH) {
		ag_log_err("upload.mode \"%s\" has no uploader", ag_config_enum_name("upload.mode", c->upload.mode));
		return AG_EUNSUPPORTED;
	}
	struct ag_uploader *u = calloc(1, sizeof(*u));
	if (!u)
		return AG_ENOMEM;
	u->r = r;
	pthread_mutex_init(&u->mu, NULL);
	pthread_mutex_init(&u->commit_mu, NULL);
	atomic_init(&u->failed, false);
	atomic_init(&u->abort, false);
	atomic_init(&u->running, 0);
	u->rl.interval_ms = u->io_rl.interval_ms = 60000;
	u->img_rl.interval_ms = 600000;
	int rc = ag_event_init(&u->done);
	if (rc < 0)
		goto fail;
	u->have_done = true;
	if ((rc = ag_event_init(&u->commit_ev)) < 0)
		goto fail;
	u->have_commit_ev = true;
	if (c->upload.mode == AG_MODE_BATCH) {
		if ((rc = ag_batcher_create(r, &u->batch)) < 0)
			goto fail;
		*out = u;
		return 0;
	}
	struct net_auth_config ac = {
		.type = (enum net_auth_type)c->auth.type, .key_file = c->auth.key_file,
		.token_uri = c->api.oauth_token_uri, .token_file = c->auth.token_file, .api_key = c->auth.api_key,
	};
	char why[512];
	if ((rc = net_auth_create(&ac, &u->auth, why, sizeof(why))) < 0) {
		if (rc == AG_ECONFIG)
			ag_log_err("auth: %s", why);
		goto fail;
	}
	u->nw = c->upload.max_inflight ? (size_t)c->upload.max_inflight : 1;
	u->allowed = u->nw;
	if (!(u->w = calloc(u->nw, sizeof(*u->w)))) {
		rc = AG_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < u->nw; i++) {
		struct worker *w = &u->w[i];
		w->u = u;
		if ((rc = ag_online_open(&w->on, c, u->auth, &u->abort)) < 0)
			goto fail;
		net_backoff_init(&w->bo, c->retry.initial_ms, c->retry.max_ms, c->retry.multiplier);
	}
	if ((rc = stg_results_open(c->results.file, false, &u->results)) < 0) {
		ag_log_err("results.file %s: cannot open: %s", c->results.file, ag_strerror(rc));
		goto fail;
	}
	load_recent(u, c->results.file);
	*out = u;
	return 0;
fail:
	ag_uploader_destroy(u);
	return rc;
}

void ag_uploader_destroy(struct ag_uploader *u)
{
	if (!u)
		return;
	ag_batcher_destroy(u->batch);
	stg_results_close(u->results);
	for (size_t i = 0; u->w && i < u->nw; i++) {
		ag_online_close(&u->w[i].on);
		stg_record_release(&u->w[i].rec);
	}
	free(u->w);
	net_auth_destroy(u->auth);
	if (u->have_done)
		ag_event_cleanup(&u->done);
	if (u->have_commit_ev)
		ag_event_cleanup(&u->commit_ev);
	for (size_t i = 0; i < u->nrecent; i++)
		free(u->recent[i]);
	pthread_mutex_destroy(&u->mu);
	pthread_mutex_destroy(&u->commit_mu);
	free(u);
}

void ag_uploader_reload(struct ag_uploader *u)
{
	if (u->batch) {
		ag_batcher_reload(u->batch);
	} else {
		net_auth_reload(u->auth);
		stg_results_reopen(u->results);
	}
}

bool ag_uploader_failed(struct ag_uploader *u)
{
	return u->batch ? ag_batcher_failed(u->batch) : atomic_load(&u->failed);
}

bool ag_uploader_idle(struct ag_uploader *u)
{
	if (!u)
		return true;
	if (u->batch)
		return ag_batcher_idle(u->batch);
	struct stg_spool_stats st;
	stg_spool_stats(u->r->spool, &st);
	return st.pending_records == 0;
}

void ag_uploader_join(struct ag_uploader *u, pthread_t t, uint64_t timeout_ms)
{
	/* the stop event is set: a request on the wire may finish in time */
	if (!ag_event_wait_ms(&u->done, timeout_ms)) {
		ag_log_warnx("an upload was still running after upload.shutdown_timeout: abandoned (the image stays in the spool)");
		if (u->batch)
			ag_batcher_stop_requests(u->batch);
		else
			atomic_store(&u->abort, true);
	}
	pthread_join(t, NULL);
}

static void count(struct ag_run *r, uint64_t *field)
{
	pthread_mutex_lock(&r->mu);
	(*field)++;
	pthread_mutex_unlock(&r->mu);
}

/* results.images_dir: the image as sent, for dataset export. Not synced:
 * it is a copy for later training, not the record. */
static void keep_image(struct ag_uploader *u, const char *id, const uint8_t *jpeg, size_t len)
{
	const char *dir = u->r->cfg->results.images_dir;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.jpg", dir, id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && ag_mkdir_p(dir, 0755) == 0)
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ag_write_all(fd, jpeg, len) < 0) {
		int err = errno;
		pthread_mutex_lock(&u->mu);
		bool say = ag_ratelimit_allow(&u->img_rl, ag_now_ms(), NULL);
		pthread_mutex_unlock(&u->mu);
		errno = err;
		if (say)
			ag_log_warn("results.images_dir: %s: image not kept", path);
	}
	if (fd >= 0)
		close(fd);
}

/* The record of w until it is answered, set aside, or we are told to
 * stop. Returns false on stop. */
static bool deliver(struct worker *w)
{
	struct ag_uploader *u = w->u;
	struct ag_run *r = u->r;
	const struct ag_config *c = r->cfg;
	struct stg_record *rec = &w->rec;
	char id[256], when[40], how[200];
	ag_record_facts(r, rec, id, sizeof(id), when, sizeof(when));
	if (seen(u, id)) {
		ag_log_info("%s: already in %s: acknowledged", id, c->results.file);
		(void)finish(w, NULL);
		return true;
	}
	const uint8_t *jpeg;
	size_t len;
	int rc = ag_online_fit(&w->on, rec->payload, rec->len, &jpeg, &len, how, sizeof(how));
	if (rc < 0) {
		const char *reason = rc == AG_ECORRUPT ? "not a decodable JPEG"
						       : "too large for online prediction even at a quarter of its size";
		ag_log_warnx("%s: %s: moved to rejected/", id, reason);
		if (stg_spool_set_aside(r->spool, rec, id, reason) == 0)
			count(r, &r->rejected);
		(void)finish(w, NULL);
		return true;
	}
	if (how[0])
		ag_log_info("%s: %s", id, how);

	while (!ag_event_is_set(&r->stop)) {
		if (!may_send(w)) { /* a retry waits its turn too after a 429 */
			ag_event_wait_ms(&r->stop, 500);
			continue;
		}
		struct net_prediction p;
		struct net_outcome oc;
		if (net_predict(&w->on.cl, &w->on.pc, jpeg, len, &p, &oc) < 0)
			net_outcome_set(&oc, NET_RETRY, 0, "out of memory");
		if (atomic_load(&u->abort))
			return false;
		uint64_t delay = 0;
		switch (oc.verdict) {
		case NET_DONE: {
			pthread_mutex_lock(&u->mu);
			u->reject_run = 0;
			u->reject_msg[0] = '\0';
			pthread_mutex_unlock(&u->mu);
			if (c->results.images_dir)
				keep_image(u, id, jpeg, len);
			char *line = ag_online_result_line(&w->on, "id", id, when, &p);
			rc = line ? finish(w, line) : AG_ENOMEM;
			free(line);
			if (rc < 0) {
				/* the answer is not safe: keep the record, ask again later */
				ag_log_err("%s: cannot append to %s: %s", id, c->results.file, ag_strerror(rc));
				ag_run_error(r, "results.file: %s", ag_strerror(rc));
				delay = c->retry.max_ms;
				break;
			}
			pthread_mutex_lock(&u->mu); /* the rate limit is shared by the workers */
			bool again = ag_ratelimit_reset(&u->rl);
			pthread_mutex_unlock(&u->mu);
			if (again)
				ag_log_info("uploads work again");
			net_backoff_reset(&w->bo);
			speed_up(u);
			atomic_store(&u->failed, false);
			pthread_mutex_lock(&r->mu);
			r->uploaded++;
			r->last_upload_ms = ag_wall_ms();
			r->next_retry_ms = 0;
			pthread_mutex_unlock(&r->mu);
			ag_log_debug("%s: %zu labels%s%s", id, p.nlabels, p.blocked[0] ? ", blocked: " : "", p.blocked);
			return true;
		}
		case NET_REJECT:
			if (same_refusal(u, oc.msg)) {
				atomic_store(&u->failed, true);
				delay = c->retry.max_ms;
				break;
			}
			ag_log_warnx("%s: refused for good: %s: moved to rejected/", id, oc.msg);
			if (stg_spool_set_aside(r->spool, rec, id, oc.msg) == 0)
				count(r, &r->rejected);
			(void)finish(w, NULL);
			ag_run_error(r, "%s: %s", id, oc.msg);
			return true;
		case NET_RETRY:
			delay = net_backoff_next(&w->bo, oc.retry_after_ms, oc.slow_down);
			if (oc.slow_down)
				slow_down(u);
			break;
		case NET_FAIL:
			/* credentials, permission, a wrong endpoint: nothing to gain by hurrying */
			atomic_store(&u->failed, true);
			delay = net_backoff_next(&w->bo, oc.retry_after_ms, false);
			if (delay < c->retry.max_ms)
				delay = c->retry.max_ms;
			break;
		}
		ag_event_set(&u->commit_ev); /* do not sit on answered records while waiting */
		count(r, &r->upload_failures);
		unsigned suppressed = 0;
		pthread_mutex_lock(&u->mu);
		bool say = ag_ratelimit_allow(&u->rl, ag_now_ms(), &suppressed);
		pthread_mutex_unlock(&u->mu);
		if (say)
			ag_log_warnx("%s: %s: next try in %.1f s%s", id, oc.msg, (double)delay / 1000,
				     suppressed ? " (similar failures not shown)" : "");
		ag_run_error(r, "%s", oc.msg);
		pthread_mutex_lock(&r->mu);
		r->next_retry_ms = ag_wall_ms() + delay;
		pthread_mutex_unlock(&r->mu);
		if (ag_event_wait_ms(&r->stop, delay))
			return false;
	}
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ag_uploader *u = w->u;
	struct ag_run *r = u->r;
	while (!ag_event_is_set(&r->stop)) {
		if (!may_send(w)) { /* fewer at once after a 429, while a backlog lasts */
			ag_event_wait_ms(&r->stop, 500);
			continue;
		}
		ag_event_clear(&r->work); /* before the take: an append after it wakes us */
		int rc = take(w);
		if (rc == AG_ENOENT)
			caught_up(u);
		if (rc == AG_ENOENT || rc == AG_EAGAIN) {
			ag_event_set(&u->commit_ev); /* dry, or waiting on an older record: make what was answered durable */
			if (!ag_event_is_set(&r->work))
				ag_event_wait_ms(&r->work, rc == AG_EAGAIN ? 200 : 60000);
			continue;
		}
		if (rc < 0) {
			pthread_mutex_lock(&u->mu);
			bool say = ag_ratelimit_allow(&u->io_rl, ag_now_ms(), NULL);
			pthread_mutex_unlock(&u->mu);
			if (say)
				ag_log_err("spool: cannot read the next record: %s", ag_strerror(rc));
			ag_run_error(r, "spool: %s", ag_strerror(rc));
			ag_event_wait_ms(&r->stop, 1000);
			continue;
		}
		if (!deliver(w))
			break;
	}
	ag_event_set(&r->work); /* the others may be asleep on it */
	if (atomic_fetch_sub(&u->running, 1) == 1)
		ag_event_set(&u->commit_ev); /* the committer makes the last commit, then ends */
	return NULL;
}

void *ag_uploader_main(void *arg)
{
	struct ag_run *r = arg;
	struct ag_uploader *u = r->up;
	if (u->batch) {
		ag_batcher_run(u->batch);
		ag_event_set(&u->done);
		return NULL;
	}
	/* this thread is worker 0; the others and the committer get threads of their own */
	atomic_store(&u->running, (unsigned)u->nw);
	pthread_t ct;
	bool committer = pthread_create(&ct, NULL, committer_main, u) == 0;
	if (!committer)
		ag_log_warnx("cannot start the commit thread: committing from the workers' end only");
	for (size_t i = 1; i < u->nw; i++) {
		if (pthread_create(&u->w[i].t, NULL, worker_main, &u->w[i]) != 0) {
			ag_log_warnx("cannot start upload worker %zu: going on with %zu", i, i);
			atomic_fetch_sub(&u->running, (unsigned)(u->nw - i));
			break;
		}
		u->w[i].started = true;
	}
	worker_main(&u->w[0]);
	for (size_t i = 1; i < u->nw; i++)
		if (u->w[i].started)
			pthread_join(u->w[i].t, NULL);
	if (committer)
		pthread_join(ct, NULL);
	else
		commit(u);
	ag_event_set(&u->done);
	return NULL;
}
