/*
 * systemd's notify protocol (sd_notify(3)) without libsystemd: each state
 * is one datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or '@' for the abstract namespace). Outside
 * systemd (no NOTIFY_SOCKET) every call does nothing.
 */
#define AG_LOG_TAG "notify"
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "run.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

/* A decimal number that fills the whole string, or false. */
static bool whole_number(const char *s, unsigned long long *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

bool ag_notify_open(uint64_t *watchdog_ms)
{
	*watchdog_ms = 0;
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !path[0])
		return false;
	size_t n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(notify_addr.sun_path)) {
		ag_log_warnx("NOTIFY_SOCKET \"%.60s\" is not a socket path: systemd is not told how the daemon is",
			     path);
		return false;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ag_log_warn("NOTIFY_SOCKET: cannot make a socket");
		return false;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, n);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	notify_fd = fd;

	/* the watchdog is ours only if WATCHDOG_PID is unset or names us */
	unsigned long long usec = 0, pid = 0;
	const char *wpid = getenv("WATCHDOG_PID");
	if (whole_number(getenv("WATCHDOG_USEC"), &usec) && usec > 0 &&
	    (!wpid || (whole_number(wpid, &pid) && pid == (unsigned long long)getpid())))
		*watchdog_ms = usec / 1000 ? usec / 1000 : 1;
	return true;
}

void ag_notify(const char *state)
{
	if (notify_fd < 0)
		return;
	/* never blocks: a full queue drops this one, the next comes soon */
	(void)sendto(notify_fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&notify_addr,
		     notify_len);
}

void ag_notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
