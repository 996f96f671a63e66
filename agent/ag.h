/*
 * fieldcam base: error codes, logging, time, parsing of sizes and
 * durations, careful file I/O and CRC-32C. Every other module (drivers,
 * net, storage) uses this and nothing else of agent/.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define AG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define AG_NORETURN __attribute__((noreturn))
#else
#define AG_PRINTF(f, a)
#define AG_NORETURN
#endif

/* ---- errors ---------------------------------------------------------- */

/* Functions return 0 (or a count) on success, one of these on failure. */
enum {
	AG_OK = 0,
	AG_EINVAL = -1,       /* bad argument or input */
	AG_ENOMEM = -2,       /* out of memory */
	AG_EIO = -3,          /* I/O error (read, write, fsync failed) */
	AG_ETIMEDOUT = -4,    /* timed out */
	AG_ECORRUPT = -5,     /* data failed a checksum or framing check */
	AG_EFULL = -6,        /* no room (queue or spool full by policy) */
	AG_ENOENT = -7,       /* no such file, object or record */
	AG_ENODEV = -8,       /* device gone or not present */
	AG_EAGAIN = -9,       /* try again (nothing ready yet) */
	AG_EPROTO = -10,      /* peer broke the protocol (bad reply) */
	AG_ENET = -11,        /* network failure (connect, reset, DNS, TLS) */
	AG_EAUTH = -12,       /* authentication refused */
	AG_ENOSPC = -13,      /* file system full */
	AG_EUNSUPPORTED = -14,/* not supported by this build or device */
	AG_ETOOBIG = -15,     /* larger than a limit */
	AG_EEXIST = -16,      /* already exists */
	AG_EREJECTED = -17,   /* refused for good by the peer (4xx) */
	AG_ECANCELED = -18,   /* stopped on request */
	AG_EPERM = -19,       /* permission denied */
	AG_EBUSY = -20,       /* in use */
	AG_ECONFIG = -21,     /* configuration error */
};

/* Short text for an AG_E* code ("I/O error"). Never NULL. */
const char *ag_strerror(int code);

/* Map an errno value to the nearest AG_E* code. */
int ag_errno_code(int err);

/* ---- logging --------------------------------------------------------- */

enum ag_log_level {
	AG_LOG_ERR = 3,
	AG_LOG_WARN = 4,
	AG_LOG_INFO = 6,
	AG_LOG_DEBUG = 7,
};

/*
 * Logging goes to stderr. On a terminal each line is
 * "HH:MM:SS.mmm LEVEL tag: message"; otherwise (journald, a pipe, a file)
 * it starts with the syslog priority prefix "<N>" and no time stamp,
 * which journald reads as the priority. ag_log_set_stamps() forces the
 * time stamp on or off. Thread safe: one write(2) per line.
 */
void ag_log_set_level(enum ag_log_level level);
enum ag_log_level ag_log_get_level(void);
void ag_log_set_stamps(bool on);
/* Parse "error", "warn", "info" or "debug". Returns 0 or AG_EINVAL. */
int ag_log_level_parse(const char *s, enum ag_log_level *out);
const char *ag_log_level_name(enum ag_log_level level);

/* Send log lines to fd instead of stderr (tests); -1 restores stderr. */
void ag_log_set_fd(int fd);

void ag_log_write(enum ag_log_level level, const char *tag, int err,
		  const char *fmt, ...) AG_PRINTF(4, 5);
void ag_log_vwrite(enum ag_log_level level, const char *tag, int err,
		   const char *fmt, va_list ap) AG_PRINTF(4, 0);

#ifndef AG_LOG_TAG
#define AG_LOG_TAG "fieldcam"
#endif

/* _warn/_err_errno append strerror(errno); the others do not. */
#define ag_log_err(...) ag_log_write(AG_LOG_ERR, AG_LOG_TAG, 0, __VA_ARGS__)
#define ag_log_err_errno(...) ag_log_write(AG_LOG_ERR, AG_LOG_TAG, errno, __VA_ARGS__)
#define ag_log_warn(...) ag_log_write(AG_LOG_WARN, AG_LOG_TAG, errno, __VA_ARGS__)
#define ag_log_warnx(...) ag_log_write(AG_LOG_WARN, AG_LOG_TAG, 0, __VA_ARGS__)
#define ag_log_info(...) ag_log_write(AG_LOG_INFO, AG_LOG_TAG, 0, __VA_ARGS__)
#define ag_log_debug(...) ag_log_write(AG_LOG_DEBUG, AG_LOG_TAG, 0, __VA_ARGS__)

/* Daemon only, before threads start: log and exit(1). */
AG_NORETURN void ag_fatalx(const char *fmt, ...) AG_PRINTF(1, 2);

/* Always-on invariant check: logs expression and file:line, aborts. */
AG_NORETURN void ag_check_failed(const char *expr, const char *file, int line);
#define AG_CHECK(cond) \
	do { if (!(cond)) ag_check_failed(#cond, __FILE__, __LINE__); } while (0)

/*
 * Say it once until it changes. ag_ratelimit_allow() returns true when a
 * line should be logged now: the first time, then at most once per
 * interval_ms; *suppressed (may be NULL) receives how many were held back
 * since the last allowed one. ag_ratelimit_reset() marks recovery and
 * returns true if anything had been reported (so the caller can log one
 * "recovered" line).
 */
struct ag_ratelimit {
	uint64_t interval_ms;
	uint64_t last_ms;
	unsigned suppressed;
	bool active;
};
bool ag_ratelimit_allow(struct ag_ratelimit *rl, uint64_t now_ms, unsigned *suppressed);
bool ag_ratelimit_reset(struct ag_ratelimit *rl);

/* ---- time ------------------------------------------------------------ */

/* Monotonic milliseconds (CLOCK_MONOTONIC): timers, timeouts, backoff. */
uint64_t ag_now_ms(void);
/* Monotonic microseconds. */
uint64_t ag_now_us(void);
/* Wall clock (CLOCK_REALTIME) in milliseconds: calendar facts only. */
uint64_t ag_wall_ms(void);
/* Sleep for ms milliseconds, resuming after signals. */
void ag_sleep_ms(uint64_t ms);
/* Format wall-clock ms as RFC 3339 UTC with milliseconds into buf (>= 32 bytes). */
void ag_format_rfc3339(uint64_t wall_ms, char *buf, size_t len);

/* ---- parsing --------------------------------------------------------- */

/*
 * "512MiB", "8 MiB", "1.5GB", "4096", "64k": bytes. Binary suffixes
 * (KiB, MiB, GiB, TiB, and K/M/G/T alone) are powers of 1024; decimal
 * ones (kB, MB, GB, TB) powers of 1000; "B" or none is bytes. Returns 0,
 * or AG_EINVAL for text that is not a size, AG_ETOOBIG on overflow.
 */
int ag_parse_size(const char *s, uint64_t *out);

/*
 * "30s", "5m", "1h", "250ms", "1.5s", "2d", "1h30m", "1500": milliseconds.
 * A bare number is milliseconds. Returns 0, AG_EINVAL or AG_ETOOBIG.
 */
int ag_parse_duration(const char *s, uint64_t *out_ms);

/* Human form of a size ("512MiB" when exact, else bytes) into buf. */
void ag_format_size(uint64_t bytes, char *buf, size_t len);
/* Human form of a duration ("30s", "5m", "1h30m", "250ms") into buf. */
void ag_format_duration(uint64_t ms, char *buf, size_t len);

/* ---- files ----------------------------------------------------------- */

/* write(2) all of buf, looping on short writes and EINTR. 0 or AG_E*. */
int ag_write_all(int fd, const void *buf, size_t len);
/* pwrite(2) all of buf at off. 0 or AG_E*. */
int ag_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* read(2) up to len bytes, looping on EINTR and short reads until EOF.
 * Returns the count read (< len only at EOF) or AG_E*. */
ssize_t ag_read_full(int fd, void *buf, size_t len);
/* pread(2) variant of ag_read_full. */
ssize_t ag_pread_full(int fd, void *buf, size_t len, off_t off);

/*
 * Read a whole file of at most max bytes into a NUL-terminated heap
 * buffer (*out, free() it; *len may be NULL). AG_ENOENT, AG_EPERM,
 * AG_ETOOBIG (larger than max) or AG_EIO; errno is kept for the message.
 */
int ag_file_read(const char *path, size_t max, char **out, size_t *len);

/*
 * Replace path atomically with data: write path.tmp, fsync it, rename
 * over path, fsync the directory. On failure path is untouched.
 */
int ag_file_replace(const char *path, const void *data, size_t len, mode_t mode);

/* fsync a directory (after creating, renaming or removing entries in it). */
int ag_fsync_dir(const char *dir);

/* mkdir -p with mode for the created levels. 0 or AG_E*. */
int ag_mkdir_p(const char *path, mode_t mode);

/* ---- checksums ------------------------------------------------------- */

/*
 * CRC-32C (Castagnoli), as used by the spool and by Cloud Storage.
 * Start with crc = 0; chain calls to cover several buffers.
 * ag_crc32c(0, "123456789", 9) == 0xE3069283.
 */
uint32_t ag_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table version (the above uses the CPU's instruction where
 * there is one; FIELDCAM_CRC_SOFTWARE=1 in the environment turns that off). */
uint32_t ag_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* ---- strings --------------------------------------------------------- */

/* strdup that returns NULL for NULL. */
/*
 * Crash tests: when the environment variable FIELDCAM_CRASH_AT equals
 * name (optionally "name:N" for the Nth time the point is reached), the
 * process sends itself SIGKILL there, as a power cut would stop it. The
 * variable is read once; unset, this costs one branch.
 */
void ag_crash_point(const char *name);

char *ag_strdup(const char *s);
/* snprintf into a fresh heap string; NULL on ENOMEM. */
char *ag_asprintf(const char *fmt, ...) AG_PRINTF(1, 2);
/* Bounded copy that always terminates; returns strlen(src). */
size_t ag_strlcpy(char *dst, const char *src, size_t size);

/* ---- events ---------------------------------------------------------- */

/*
 * A flag threads can sleep on: ag_event_wait_ms() returns early when the
 * event is set (e.g. "stop", or "work arrived"). Monotonic clock, so NTP
 * steps do not stretch or cut waits. ag_event_set() is thread safe but not
 * async-signal-safe (signals are taken by sigwait in the main thread).
 */
struct ag_event {
	void *impl; /* private */
};
int ag_event_init(struct ag_event *ev);
void ag_event_cleanup(struct ag_event *ev);
void ag_event_set(struct ag_event *ev);
void ag_event_clear(struct ag_event *ev);
bool ag_event_is_set(struct ag_event *ev);
/* Wait up to ms for the event. Returns true if it is set. Does not clear. */
bool ag_event_wait_ms(struct ag_event *ev, uint64_t ms);
