#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"

int ag_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ag_errno_code(errno);
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ag_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ag_errno_code(errno);
		}
		p += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}

ssize_t ag_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ag_errno_code(errno);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t ag_pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, p + got, len - got, off + (off_t)got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ag_errno_code(errno);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int ag_file_read(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ag_errno_code(errno);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return ag_errno_code(e);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return AG_EINVAL;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return AG_ETOOBIG;
	}
	size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return AG_ENOMEM;
	}
	size_t n = 0;
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > max + 1) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return AG_ETOOBIG;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return AG_ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return ag_errno_code(e);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(buf);
		errno = EFBIG;
		return AG_ETOOBIG;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int ag_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ag_errno_code(errno);
	int rc = 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = ag_errno_code(errno);
	close(fd);
	return rc;
}

int ag_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return AG_ETOOBIG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return ag_errno_code(errno);
	int rc = ag_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = ag_errno_code(errno);
	if (close(fd) < 0 && rc == 0)
		rc = ag_errno_code(errno);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = ag_errno_code(errno);
	if (rc != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return rc;
	}
	char dcopy[PATH_MAX];
	ag_strlcpy(dcopy, path, sizeof(dcopy));
	return ag_fsync_dir(dirname(dcopy));
}

int ag_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (ag_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return AG_ETOOBIG;
	size_t n = strlen(buf);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return ag_errno_code(errno);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0) {
		if (errno != EEXIST)
			return ag_errno_code(errno);
		struct stat st;
		if (stat(buf, &st) < 0)
			return ag_errno_code(errno);
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return AG_EINVAL;
		}
	}
	return 0;
}
