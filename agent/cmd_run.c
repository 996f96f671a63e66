/*
 * fieldcam run: the daemon. Threads: capture (grab, encode, append to the
 * spool) and, with an upload mode, the uploader. The main thread blocks
 * SIGINT, SIGTERM and SIGHUP before any thread starts and takes them with
 * sigtimedwait(), which also paces the group commit and the status file.
 */
#define AG_LOG_TAG "run"
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ag.h"
#include "cli.h"
#include "config.h"
#include "drv.h"
#include "run.h"
#include "stg.h"

const char ag_usage_run[] =
	"usage: fieldcam run -c FILE [--frames N] [--duration DUR]\n"
	"\n"
	"The daemon: capture every camera.interval, encode, keep in the spool and\n"
	"send for classification, oldest first: with upload.mode online one image\n"
	"at a time; with batch, images to Cloud Storage and batch prediction jobs\n"
	"(fieldcam batch list). One result line per image goes to results.file.\n"
	"\n"
	"  -c, --config FILE   the configuration file (JSON)\n"
	"  --frames N          stop capturing after N frames; with an upload mode,\n"
	"                      exit once those have results (batch: the last batch\n"
	"                      is submitted at once) or on a signal\n"
	"  --duration DUR      stop after DUR (\"30s\", \"5m\", ...)\n"
	"\n"
	"Signals: SIGINT/SIGTERM stop capturing, give in-flight requests\n"
	"upload.shutdown_timeout, sync the spool and exit 0. SIGHUP re-reads\n"
	"credentials and opens results.file again (after logrotate moved it).\n"
	"The daemon writes spool.dir/status.json every few seconds for 'fieldcam\n"
	"status'. Under systemd (Type=notify) it says READY=1, a STATUS= line\n"
	"and, with WatchdogSec=, pings the watchdog while capture keeps moving.\n";

/* ---- stats shared by the threads -------------------------------------- */

void ag_run_error(struct ag_run *r, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&r->mu);
	ag_strlcpy(r->last_error, buf, sizeof(r->last_error));
	r->last_error_ms = ag_wall_ms();
	pthread_mutex_unlock(&r->mu);
}

void ag_record_facts(const struct ag_run *r, const struct stg_record *rec, char *id, size_t idlen, char *when,
		     size_t whenlen)
{
	cJSON *j = cJSON_ParseWithLength((const char *)rec->meta, rec->meta_len);
	cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "device_id");
	cJSON *boot = cJSON_GetObjectItemCaseSensitive(j, "boot");
	cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "captured_at");
	const char *device = cJSON_IsString(dev) && dev->valuestring[0] ? dev->valuestring : r->cfg->device_id;
	uint64_t b = cJSON_IsNumber(boot) && boot->valuedouble >= 0 ? (uint64_t)boot->valuedouble : r->boot_epoch;
	if (cJSON_IsString(at) && at->valuestring[0])
		ag_strlcpy(when, at->valuestring, whenlen);
	else
		ag_format_rfc3339(rec->captured_ms, when, whenlen);
	if (stg_record_id(id, idlen, device, b, rec->seq) < 0)
		snprintf(id, idlen, "%s-0-%" PRIu64, r->cfg->device_id, rec->seq);
	cJSON_Delete(j);
}

/* ---- capture thread --------------------------------------------------- */

static int build_meta(struct ag_run *r, const struct drv_frame *f, size_t jpeg_len, char *buf, size_t len)
{
	char when[40];
	ag_format_rfc3339(f->captured_ms, when, sizeof(when));
	int n = snprintf(buf, len,
			 "{\"device_id\":\"%s\",\"boot\":%" PRIu64 ",\"captured_at\":\"%s\","
			 "\"source\":\"%s\",\"frame\":%" PRIu64 ",\"device_us\":%" PRIu64 ","
			 "\"width\":%u,\"height\":%u,\"bytes\":%zu}",
			 r->cfg->device_id, r->boot_epoch, when, r->source_desc, f->sequence, f->device_us,
			 (unsigned)(f->width / r->cfg->camera.downscale), (unsigned)(f->height / r->cfg->camera.downscale), jpeg_len);
	return (n < 0 || (size_t)n >= len) ? AG_ETOOBIG : n;
}

static void *capture_main(void *arg)
{
	struct ag_run *r = arg;
	const struct ag_config *c = r->cfg;
	struct drv_source_config sc;
	drv_source_config_defaults(&sc);
	sc.device = c->camera.device;
	sc.width = (unsigned)c->camera.width;
	sc.height = (unsigned)c->camera.height;
	if (drv_source_config_format(&sc, c->camera.format) != 0) { /* the config checked it */
		ag_run_error(r, "camera.format: \"%s\" is not a known format", c->camera.format);
		ag_event_set(&r->capture_done);
		return NULL;
	}
	sc.buffers = (unsigned)c->camera.buffers;
	struct drv_encoder_config ec;
	drv_encoder_config_defaults(&ec);
	ec.quality = (unsigned)c->camera.quality;
	ec.subsamp = (enum drv_subsamp)c->camera.subsampling;
	ec.downscale = (unsigned)c->camera.downscale;
	struct drv_encoder *enc = NULL;
	struct drv_source *src = NULL;
	if (drv_encoder_create(&ec, &enc) < 0) {
		ag_log_err("cannot create the JPEG encoder");
		ag_run_error(r, "cannot create the JPEG encoder");
		ag_event_set(&r->capture_done);
		return NULL;
	}
	struct ag_ratelimit open_rl = { .interval_ms = 600000 };
	struct ag_ratelimit slow_rl = { .interval_ms = 600000 };
	uint64_t next = ag_now_ms();
	uint64_t reopen_delay = 1000;
	char meta[1024];
	while (!ag_event_is_set(&r->stop)) {
		uint64_t now = ag_now_ms();
		/* back here by then: the wait, a grab's timeout, then the grace for
		 * opening, encoding and the spool (a slow SD card) */
		atomic_store(&r->capture_due_ms, (next > now ? next : now) + 2000 + 2 * c->camera.interval_ms +
							 r->stuck_grace_ms);
		if (next > now && ag_event_wait_ms(&r->stop, next - now))
			break;
		if (!src) {
			int rc = drv_source_open(&sc, &src);
			if (rc < 0) {
				src = NULL;
				if (ag_ratelimit_allow(&open_rl, ag_now_ms(), NULL))
					ag_log_warnx("%s: cannot open (%s): retrying", sc.device, ag_strerror(rc));
				ag_run_error(r, "%s: cannot open: %s", sc.device, ag_strerror(rc));
				next = ag_now_ms() + reopen_delay;
				if (reopen_delay < 60000)
					reopen_delay *= 2;
				continue;
			}
			reopen_delay = 1000;
			if (ag_ratelimit_reset(&open_rl))
				ag_log_info("%s: open again", sc.device);
			pthread_mutex_lock(&r->mu);
			ag_strlcpy(r->source_desc, drv_source_describe(src), sizeof(r->source_desc));
			pthread_mutex_unlock(&r->mu);
			ag_log_info("camera: %s, every %" PRIu64 " ms", r->source_desc, c->camera.interval_ms);
		}
		struct drv_frame f;
		int rc = drv_source_grab(src, &f, 2000 + c->camera.interval_ms);
		if (rc < 0) {
			pthread_mutex_lock(&r->mu);
			r->capture_errors++;
			pthread_mutex_unlock(&r->mu);
			ag_run_error(r, "%s: no frame: %s", sc.device, ag_strerror(rc));
			if (rc != AG_EAGAIN && rc != AG_ETIMEDOUT && rc != AG_ECORRUPT && rc != AG_ENODEV) {
				drv_source_close(src); /* reopen on the next turn */
				src = NULL;
			}
			next = ag_now_ms() + 200;
			continue;
		}
		const uint8_t *jpeg;
		size_t len;
		rc = drv_encoder_encode(enc, &f, &jpeg, &len);
		if (rc < 0) {
			pthread_mutex_lock(&r->mu);
			r->capture_errors++;
			pthread_mutex_unlock(&r->mu);
			ag_log_warnx("frame %" PRIu64 ": %s: skipped", f.sequence,
				     rc == AG_ECORRUPT ? "not a valid JPEG" : ag_strerror(rc));
			next += c->camera.interval_ms;
			continue;
		}
		int ml = build_meta(r, &f, len, meta, sizeof(meta));
		uint64_t seq = 0;
		rc = ml < 0 ? ml : stg_spool_append(r->spool, jpeg, len, meta, (size_t)ml, f.captured_ms, &seq);
		if (rc == AG_EFULL) {
			/* pause_capture: wait for the uploader to make room */
			ag_run_error(r, "spool full: capture paused");
			next = ag_now_ms() + c->camera.interval_ms;
			continue;
		}
		if (rc < 0) {
			ag_run_error(r, "spool: frame not kept: %s", ag_strerror(rc));
			pthread_mutex_lock(&r->mu);
			r->capture_errors++;
			pthread_mutex_unlock(&r->mu);
		} else {
			pthread_mutex_lock(&r->mu);
			r->captured++;
			r->last_capture_ms = f.captured_ms;
			uint64_t captured = r->captured;
			pthread_mutex_unlock(&r->mu);
			ag_log_debug("frame %" PRIu64 ": %zu bytes, record %" PRIu64, f.sequence, len, seq);
			ag_event_set(&r->work);
			if (r->frames_limit && captured >= r->frames_limit) {
				ag_log_info("captured %" PRIu64 " frames: capture done", captured);
				break;
			}
		}
		next += c->camera.interval_ms;
		now = ag_now_ms();
		if (next + c->camera.interval_ms < now) {
			if (ag_ratelimit_allow(&slow_rl, now, NULL))
				ag_log_warnx("capture is slower than camera.interval (%" PRIu64 " ms): frames are taken as fast as they come",
					     c->camera.interval_ms);
			next = now;
		}
	}
	drv_source_close(src);
	drv_encoder_destroy(enc);
	ag_event_set(&r->capture_done);
	return NULL;
}

/* ---- status file ------------------------------------------------------ */

static void put_time(cJSON *o, const char *key, uint64_t wall_ms)
{
	if (!wall_ms) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	char b[40];
	ag_format_rfc3339(wall_ms, b, sizeof(b));
	cJSON_AddStringToObject(o, key, b);
}

/* Written often: atomic for readers (rename), not synced (it is not data). */
static void write_status(struct ag_run *r, bool running)
{
	struct stg_spool_stats st;
	stg_spool_stats(r->spool, &st);
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&r->mu);
	cJSON_AddNumberToObject(o, "pid", running ? (double)getpid() : 0);
	cJSON_AddBoolToObject(o, "running", running);
	put_time(o, "started_at", r->started_ms);
	put_time(o, "updated_at", ag_wall_ms());
	cJSON_AddStringToObject(o, "mode", ag_config_enum_name("upload.mode", r->cfg->upload.mode));
	cJSON_AddStringToObject(o, "source", r->source_desc);
	cJSON_AddNumberToObject(o, "captured", (double)r->captured);
	cJSON_AddNumberToObject(o, "capture_errors", (double)r->capture_errors);
	cJSON_AddNumberToObject(o, "uploaded", (double)r->uploaded);
	cJSON_AddNumberToObject(o, "rejected", (double)r->rejected);
	cJSON_AddNumberToObject(o, "upload_failures", (double)r->upload_failures);
	put_time(o, "last_capture_at", r->last_capture_ms);
	put_time(o, "last_upload_at", r->last_upload_ms);
	put_time(o, "next_retry_at", r->next_retry_ms);
	if (r->last_error[0]) {
		cJSON_AddStringToObject(o, "last_error", r->last_error);
		put_time(o, "last_error_at", r->last_error_ms);
	} else {
		cJSON_AddNullToObject(o, "last_error");
	}
	pthread_mutex_unlock(&r->mu);
	cJSON_AddNumberToObject(o, "dropped", (double)st.dropped);
	cJSON_AddNumberToObject(o, "corrupt", (double)st.corrupt);
	char *json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!json)
		return;
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/%s", r->cfg->spool.dir, AG_STATUS_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f) {
		int ok = fputs(json, f) >= 0;
		ok &= fclose(f) == 0;
		if (!ok || rename(tmp, path) < 0)
			unlink(tmp);
	}
	free(json);
}

/* ---- liveness: the watchdog and a stuck capture ------------------------ */

/*
 * False while the capture thread is overdue (blocked in a driver's ioctl,
 * an open that never returns, a disk that does not answer). Says so once
 * when it happens and once when it moves again.
 */
static bool capture_alive(struct ag_run *r, uint64_t now, bool *stuck, bool watchdog)
{
	uint64_t due = atomic_load(&r->capture_due_ms);
	bool late = due && now > due && !ag_event_is_set(&r->capture_done);
	if (late && !*stuck) {
		ag_log_err("capture: no progress for %" PRIu64 " s (blocked in the camera driver or on the disk)%s",
			   (now - due + r->stuck_grace_ms) / 1000,
			   watchdog ? ": the systemd watchdog is no longer told that all is well" : "");
		ag_run_error(r, "capture: blocked (in the camera driver or on the disk)");
	} else if (!late && *stuck) {
		ag_log_info("capture: moving again");
	}
	*stuck = late;
	return !late;
}

static void notify_status(struct ag_run *r)
{
	char line[320];
	pthread_mutex_lock(&r->mu);
	snprintf(line, sizeof(line), "STATUS=%" PRIu64 " captured, %" PRIu64 " uploaded, %" PRIu64 " rejected%s%s",
		 r->captured, r->uploaded, r->rejected, r->last_error[0] ? "; last error: " : "", r->last_error);
	pthread_mutex_unlock(&r->mu);
	ag_notify(line);
}

/* ---- the command ------------------------------------------------------ */

int ag_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "frames", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	uint64_t frames = 0, duration = 0;
	int ch, rc;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:", opts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n':
			frames = strtoull(optarg, &end, 10);
			if (*end || frames == 0 || optarg[0] == '-') {
				ag_cli_usage_error(argv[0], "--frames: \"%s\" is not a positive count", optarg);
				return AG_EXIT_USAGE;
			}
			break;
		case 'd':
			if (ag_parse_duration(optarg, &duration) < 0 || duration == 0) {
				ag_cli_usage_error(argv[0], "--duration: \"%s\" is not a duration like \"30s\" or \"5m\"", optarg);
				return AG_EXIT_USAGE;
			}
			break;
		default:
			return ag_cli_bad_option(argv[0], ch, argv);
		}
	}
	if ((rc = ag_cli_need_config(argv[0], path, argc, argv)) != 0)
		return rc;

	struct ag_config cfg;
	if ((rc = ag_cli_load_config(path, &cfg)) != 0)
		return rc;
	static const enum ag_log_level levels[] = { AG_LOG_ERR, AG_LOG_WARN, AG_LOG_INFO, AG_LOG_DEBUG };
	ag_log_set_level(levels[cfg.log.level]);

	struct ag_run r;
	memset(&r, 0, sizeof(r));
	r.cfg = &cfg;
	r.frames_limit = frames;
	r.started_ms = ag_wall_ms();
	r.boot_epoch = r.started_ms / 1000;
	ag_strlcpy(r.source_desc, cfg.camera.device, sizeof(r.source_desc));
	pthread_mutex_init(&r.mu, NULL);
	uint64_t watchdog_ms = 0;
	bool notify = ag_notify_open(&watchdog_ms);
	/* how late the capture thread may be before it counts as stuck: the
	 * watchdog's own interval under systemd, else a minute */
	r.stuck_grace_ms = watchdog_ms ? watchdog_ms : 60000;
	atomic_store(&r.capture_due_ms, 0);
	bool cap_stuck = false;
	int status = AG_EXIT_OK;
	bool have_stop = false, have_work = false, have_done = false, have_up = false;
	pthread_t cap_t, up_t;
	bool cap_started = false, up_started = false;

	if (ag_event_init(&r.stop) == 0)
		have_stop = true;
	if (ag_event_init(&r.work) == 0)
		have_work = true;
	if (ag_event_init(&r.capture_done) == 0)
		have_done = true;
	if (!have_stop || !have_work || !have_done) {
		status = AG_EXIT_FAIL;
		goto out;
	}

	struct stg_spool_config sc;
	stg_spool_config_defaults(&sc);
	sc.dir = cfg.spool.dir;
	sc.max_bytes = cfg.spool.max_bytes;
	sc.segment_bytes = cfg.spool.segment_bytes;
	sc.sync = (enum stg_sync)cfg.spool.sync;
	sc.on_full = (enum stg_on_full)cfg.spool.on_full;
	sc.defer_delete = true; /* the main loop below collects; the uploader never waits on unlink */
	if ((rc = stg_spool_open(&sc, &r.spool)) < 0) {
		ag_log_err("%s: cannot open the spool: %s", cfg.spool.dir, ag_strerror(rc));
		status = AG_EXIT_FAIL;
		goto out;
	}
	struct stg_spool_stats st;
	stg_spool_stats(r.spool, &st);
	ag_log_info("spool %s: %" PRIu64 " records waiting (%" PRIu64 " bytes), next record %" PRIu64,
		    cfg.spool.dir, st.pending_records, st.pending_bytes, st.next_seq);

	if (cfg.upload.mode != AG_MODE_NONE) {
		if ((rc = ag_uploader_create(&r, &r.up)) < 0) {
			status = rc == AG_ECONFIG ? AG_EXIT_USAGE : rc == AG_EUNSUPPORTED ? AG_EXIT_USAGE : AG_EXIT_FAIL;
			goto out;
		}
		have_up = true;
	}

	/* signals: blocked in every thread, taken here */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (pthread_create(&cap_t, NULL, capture_main, &r) != 0) {
		ag_log_err("cannot start the capture thread");
		status = AG_EXIT_FAIL;
		goto out;
	}
	cap_started = true;
	if (have_up) {
		if (pthread_create(&up_t, NULL, ag_uploader_main, &r) != 0) {
			ag_log_err("cannot start the upload thread");
			status = AG_EXIT_FAIL;
			ag_event_set(&r.stop);
			goto out;
		}
		up_started = true;
	}
	ag_log_info("running: upload mode %s%s", ag_config_enum_name("upload.mode", cfg.upload.mode),
		    frames ? ", stopping after the requested frames" : "");
	if (notify) {
		ag_notify("READY=1");
		notify_status(&r);
		if (watchdog_ms)
			ag_log_info("systemd watchdog: every %" PRIu64 " ms while capture and this loop move", watchdog_ms / 2);
	}
	uint64_t last_ping = 0;

	uint64_t start = ag_now_ms(), last_sync = start, last_status = 0;
	uint64_t tick = cfg.spool.sync == AG_SYNC_BATCH ? cfg.spool.sync_interval_ms : 250;
	if (tick > 250)
		tick = 250;
	for (;;) {
		/* --frames: once capture is done, notice the last delivery quickly */
		uint64_t t = frames && ag_event_is_set(&r.capture_done) ? 20 : tick;
		struct timespec ts = { 0, (long)t * 1000000L };
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM) {
			ag_log_info("stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
			break;
		}
		if (sig == SIGHUP) {
			ag_log_info("SIGHUP: re-reading credentials, opening results.file again");
			if (r.up)
				ag_uploader_reload(r.up);
		}
		uint64_t now = ag_now_ms();
		if (cfg.spool.sync == AG_SYNC_BATCH && now - last_sync >= cfg.spool.sync_interval_ms) {
			(void)stg_spool_sync(r.spool, NULL);
			last_sync = now;
		}
		(void)stg_spool_collect(r.spool);
		if (now - last_status >= 2000) {
			write_status(&r, true);
			if (notify)
				notify_status(&r);
			last_status = now;
		}
		/* the watchdog hears from this loop only while capture moves too */
		if (capture_alive(&r, now, &cap_stuck, watchdog_ms != 0) && watchdog_ms &&
		    now - last_ping >= watchdog_ms / 2) {
			ag_notify("WATCHDOG=1");
			last_ping = now;
		}
		if (duration && now - start >= duration) {
			ag_log_info("--duration reached");
			break;
		}
		if (ag_event_is_set(&r.capture_done)) {
			if (!frames) {
				ag_log_err("capture stopped: see the lines above");
				status = AG_EXIT_DEVICE;
				break;
			}
			if (!have_up)
				break;
			if (ag_uploader_idle(r.up)) {
				ag_log_info("every captured frame is delivered");
				break;
			}
			if (r.up && ag_uploader_failed(r.up)) {
				status = AG_EXIT_NET;
				break;
			}
		}
	}

out:
	if (notify)
		ag_notify("STOPPING=1");
	if (have_stop)
		ag_event_set(&r.stop);
	if (have_work)
		ag_event_set(&r.work);
	if (cap_started) {
		/* a capture thread blocked in a driver or an open is left behind:
		 * what it appended is in the spool, synced below */
		if (ag_event_wait_ms(&r.capture_done, cfg.upload.shutdown_timeout_ms + 5000)) {
			pthread_join(cap_t, NULL);
			cap_stuck = false;
		} else {
			ag_log_err("capture did not stop within %" PRIu64 " ms (blocked in the camera driver or on "
				   "the disk): exiting without it",
				   cfg.upload.shutdown_timeout_ms + 5000);
			cap_stuck = true;
		}
	}
	if (up_started)
		ag_uploader_join(r.up, up_t, cfg.upload.shutdown_timeout_ms);
	if (r.spool) {
		if (stg_spool_sync(r.spool, NULL) < 0)
			status = AG_EXIT_FAIL;
		write_status(&r, false);
		stg_spool_stats(r.spool, &st);
		ag_log_info("stopped: %" PRIu64 " captured, %" PRIu64 " uploaded, %" PRIu64 " rejected, %" PRIu64
			    " waiting in the spool",
			    r.captured, r.uploaded, r.rejected, st.pending_records);
	}
	ag_notify_close();
	/* the blocked thread still uses r, the spool and the config, all in this
	 * frame: exit from here, so it stays valid until the process is gone */
	if (cap_stuck)
		exit(status);
	ag_uploader_destroy(r.up);
	stg_spool_close(r.spool);
	if (have_done)
		ag_event_cleanup(&r.capture_done);
	if (have_work)
		ag_event_cleanup(&r.work);
	if (have_stop)
		ag_event_cleanup(&r.stop);
	pthread_mutex_destroy(&r.mu);
	ag_config_free(&cfg);
	return status;
}
