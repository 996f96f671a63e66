#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ag.h"

static enum ag_log_level g_level = AG_LOG_INFO;
static int g_stamps = -1; /* -1: decide by isatty on first use */
static int g_fd = -1;

void ag_log_set_level(enum ag_log_level level) { g_level = level; }
enum ag_log_level ag_log_get_level(void) { return g_level; }
void ag_log_set_stamps(bool on) { g_stamps = on ? 1 : 0; }
void ag_log_set_fd(int fd) { g_fd = fd; }

static const struct {
	const char *name;
	enum ag_log_level level;
} levels[] = {
	{ "error", AG_LOG_ERR },
	{ "warn", AG_LOG_WARN },
	{ "info", AG_LOG_INFO },
	{ "debug", AG_LOG_DEBUG },
};

int ag_log_level_parse(const char *s, enum ag_log_level *out)
{
	for (size_t i = 0; i < AG_NELEM(levels); i++) {
		if (strcmp(s, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	return AG_EINVAL;
}

const char *ag_log_level_name(enum ag_log_level level)
{
	for (size_t i = 0; i < AG_NELEM(levels); i++)
		if (levels[i].level == level)
			return levels[i].name;
	return "info";
}

static const char *short_name(enum ag_log_level level)
{
	switch (level) {
	case AG_LOG_ERR: return "ERROR";
	case AG_LOG_WARN: return "WARN ";
	case AG_LOG_INFO: return "INFO ";
	default: return "DEBUG";
	}
}

void ag_log_vwrite(enum ag_log_level level, const char *tag, int err,
		   const char *fmt, va_list ap)
{
	if (level > g_level)
		return;
	int saved = errno;
	int fd = g_fd >= 0 ? g_fd : STDERR_FILENO;
	if (g_stamps < 0)
		g_stamps = isatty(fd) ? 1 : 0;

	char line[2048];
	size_t n = 0;
	if (g_stamps) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n += (size_t)snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s ",
				      tm.tm_hour, tm.tm_min, tm.tm_sec,
				      ts.tv_nsec / 1000000, short_name(level));
	} else {
		n += (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	}
	if (tag && *tag && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", tag);
	if (n < sizeof(line)) {
		int k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (k > 0)
			n += (size_t)k;
	}
	if (err && n < sizeof(line)) {
		char eb[128];
		const char *es = strerror_r(err, eb, sizeof(eb));
		n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s", es);
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	/* one line, one write: no control characters from outside data */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, line + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	errno = saved;
}

void ag_log_write(enum ag_log_level level, const char *tag, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ag_log_vwrite(level, tag, err, fmt, ap);
	va_end(ap);
}

void ag_fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ag_log_vwrite(AG_LOG_ERR, "fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

bool ag_ratelimit_allow(struct ag_ratelimit *rl, uint64_t now_ms, unsigned *suppressed)
{
	if (!rl->active || now_ms - rl->last_ms >= rl->interval_ms) {
		if (suppressed)
			*suppressed = rl->suppressed;
		rl->active = true;
		rl->last_ms = now_ms;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	return false;
}

bool ag_ratelimit_reset(struct ag_ratelimit *rl)
{
	bool was = rl->active;
	rl->active = false;
	rl->suppressed = 0;
	return was;
}
