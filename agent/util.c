#include <stdarg.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "ag.h"

uint64_t ag_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ag_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ag_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ag_sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void ag_format_rfc3339(uint64_t wall_ms, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(wall_ms % 1000));
}

/*
 * Parse "<number>" with an optional fraction. Returns the number of chars
 * consumed (0 when there is no number). Only plain decimal digits: no
 * sign, no exponent, no hex, so "-1", "1e3" and "0x10" are rejected.
 */
static size_t scan_number(const char *s, double *out)
{
	size_t i = 0;
	double v = 0;
	int digits = 0;
	while (isdigit((unsigned char)s[i])) {
		v = v * 10 + (s[i] - '0');
		i++;
		digits++;
	}
	if (s[i] == '.') {
		double scale = 0.1;
		size_t j = i + 1;
		int frac = 0;
		while (isdigit((unsigned char)s[j])) {
			v += (s[j] - '0') * scale;
			scale /= 10;
			j++;
			frac++;
		}
		if (frac == 0)
			return 0;
		i = j;
		digits += frac;
	}
	if (digits == 0)
		return 0;
	*out = v;
	return i;
}

struct unit {
	const char *name;
	double mult;
};

static const struct unit size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "K", 1024.0 }, { "KiB", 1024.0 }, { "k", 1024.0 },
	{ "M", 1048576.0 }, { "MiB", 1048576.0 },
	{ "G", 1073741824.0 }, { "GiB", 1073741824.0 },
	{ "T", 1099511627776.0 }, { "TiB", 1099511627776.0 },
	{ "kB", 1e3 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
};

int ag_parse_size(const char *s, uint64_t *out)
{
	if (!s)
		return AG_EINVAL;
	while (*s == ' ')
		s++;
	double v;
	size_t n = scan_number(s, &v);
	if (n == 0)
		return AG_EINVAL;
	const char *u = s + n;
	while (*u == ' ')
		u++;
	size_t ul = strlen(u);
	while (ul > 0 && u[ul - 1] == ' ')
		ul--;
	for (size_t i = 0; i < AG_NELEM(size_units); i++) {
		if (strlen(size_units[i].name) == ul && strncmp(u, size_units[i].name, ul) == 0) {
			double bytes = v * size_units[i].mult;
			if (bytes >= 18446744073709551615.0)
				return AG_ETOOBIG;
			if (bytes != floor(bytes))
				return AG_EINVAL; /* a fraction of a byte */
			*out = (uint64_t)bytes;
			return 0;
		}
	}
	return AG_EINVAL;
}

static const struct unit dur_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
	{ "h", 3600000 }, { "d", 86400000 },
};

int ag_parse_duration(const char *s, uint64_t *out_ms)
{
	if (!s)
		return AG_EINVAL;
	while (*s == ' ')
		s++;
	if (!*s)
		return AG_EINVAL;
	double total = 0;
	int parts = 0;
	while (*s) {
		double v;
		size_t n = scan_number(s, &v);
		if (n == 0)
			return AG_EINVAL;
		s += n;
		size_t ul = 0;
		while (isalpha((unsigned char)s[ul]))
			ul++;
		if (ul == 0) {
			/* a bare number is milliseconds, and only alone */
			while (*s == ' ')
				s++;
			if (*s || parts > 0)
				return AG_EINVAL;
			total += v;
			parts++;
			break;
		}
		const struct unit *found = NULL;
		for (size_t i = 0; i < AG_NELEM(dur_units); i++)
			if (strlen(dur_units[i].name) == ul && strncmp(s, dur_units[i].name, ul) == 0)
				found = &dur_units[i];
		if (!found)
			return AG_EINVAL;
		total += v * found->mult;
		s += ul;
		parts++;
		while (*s == ' ')
			s++;
	}
	if (total >= 9.2e18)
		return AG_ETOOBIG;
	if (total != floor(total))
		return AG_EINVAL; /* a fraction of a millisecond */
	*out_ms = (uint64_t)total;
	return 0;
}

void ag_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *names[] = { "TiB", "GiB", "MiB", "KiB" };
	static const uint64_t mult[] = { 1ull << 40, 1ull << 30, 1ull << 20, 1ull << 10 };
	for (size_t i = 0; i < AG_NELEM(names); i++) {
		if (bytes >= mult[i] && bytes % mult[i] == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(bytes / mult[i]), names[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

void ag_format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	static const char *names[] = { "d", "h", "m", "s", "ms" };
	static const uint64_t mult[] = { 86400000, 3600000, 60000, 1000, 1 };
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < AG_NELEM(names) && n < len; i++) {
		uint64_t q = ms / mult[i];
		if (q) {
			n += (size_t)snprintf(buf + n, len - n, "%llu%s", (unsigned long long)q, names[i]);
			ms -= q * mult[i];
		}
	}
}

char *ag_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *ag_asprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = malloc((size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t ag_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

static char crash_want[64];
static unsigned long crash_nth = 1;

static void crash_init(void)
{
	const char *v = getenv("FIELDCAM_CRASH_AT");
	if (!v || !*v)
		return;
	snprintf(crash_want, sizeof(crash_want), "%s", v);
	char *colon = strchr(crash_want, ':');
	if (colon) {
		*colon = '\0';
		crash_nth = strtoul(colon + 1, NULL, 10);
		if (crash_nth == 0)
			crash_nth = 1;
	}
}

void ag_crash_point(const char *name)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	static atomic_ulong hits;
	pthread_once(&once, crash_init);
	if (!crash_want[0] || strcmp(crash_want, name) != 0)
		return;
	if (atomic_fetch_add(&hits, 1) + 1 < crash_nth)
		return;
	ag_log_write(AG_LOG_WARN, "crash", 0, "FIELDCAM_CRASH_AT=%s: killing the process here", name);
	kill(getpid(), SIGKILL);
}
