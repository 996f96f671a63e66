/*
 * Force-included (-include) into fieldcam's own sources in the firmware
 * build, which links musl instead of glibc. fieldcam is written against
 * _GNU_SOURCE (CMakeLists.txt); the one GNU interface it uses that musl
 * does not provide is the GNU strerror_r, which returns the message
 * (char *) rather than an int. This gives it, on top of musl's POSIX one.
 */
#pragma once

#include <string.h>

static inline char *fc_gnu_strerror_r(int err, char *buf, size_t len)
{
	/* musl fills buf and returns 0 or ERANGE (then with a truncated copy) */
	if (len > 0 && strerror_r(err, buf, len) != 0 && buf[0] == '\0')
		return strerror(err);
	return len > 0 ? buf : strerror(err);
}
#define strerror_r fc_gnu_strerror_r
