#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ag.h"

const char *ag_strerror(int code)
{
	switch (code) {
	case AG_OK: return "success";
	case AG_EINVAL: return "invalid argument";
	case AG_ENOMEM: return "out of memory";
	case AG_EIO: return "I/O error";
	case AG_ETIMEDOUT: return "timed out";
	case AG_ECORRUPT: return "corrupt data";
	case AG_EFULL: return "full";
	case AG_ENOENT: return "not found";
	case AG_ENODEV: return "no such device";
	case AG_EAGAIN: return "try again";
	case AG_EPROTO: return "protocol error";
	case AG_ENET: return "network error";
	case AG_EAUTH: return "authentication failed";
	case AG_ENOSPC: return "no space left on device";
	case AG_EUNSUPPORTED: return "not supported";
	case AG_ETOOBIG: return "too large";
	case AG_EEXIST: return "already exists";
	case AG_EREJECTED: return "rejected";
	case AG_ECANCELED: return "canceled";
	case AG_EPERM: return "permission denied";
	case AG_EBUSY: return "busy";
	case AG_ECONFIG: return "configuration error";
	default: return "unknown error";
	}
}

int ag_errno_code(int err)
{
	switch (err) {
	case 0: return AG_OK;
	case EINVAL: return AG_EINVAL;
	case ENOMEM: return AG_ENOMEM;
	case ETIMEDOUT: return AG_ETIMEDOUT;
	case ENOENT: case ENOTDIR: return AG_ENOENT;
	case ENODEV: case ENXIO: return AG_ENODEV;
	case EAGAIN: return AG_EAGAIN;
	case ENOSPC: case EDQUOT: return AG_ENOSPC;
	case EFBIG: case EOVERFLOW: case E2BIG: return AG_ETOOBIG;
	case EEXIST: return AG_EEXIST;
	case EPERM: case EACCES: case EROFS: return AG_EPERM;
	case EBUSY: return AG_EBUSY;
	case ECANCELED: return AG_ECANCELED;
	case ECONNREFUSED: case ECONNRESET: case ENETUNREACH: case EHOSTUNREACH:
	case EPIPE: return AG_ENET;
	case EOPNOTSUPP: return AG_EUNSUPPORTED;
	default: return AG_EIO;
	}
}

void ag_check_failed(const char *expr, const char *file, int line)
{
	ag_log_write(AG_LOG_ERR, "check", 0, "%s:%d: invariant failed: %s", file, line, expr);
	abort();
}
