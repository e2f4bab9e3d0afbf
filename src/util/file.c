// SPDX-License-Identifier: LGPL-2.1-or-later
/* Whole files into locked memory: see file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"
#include "util/log.h"
#include "util/secmem.h"

static int too_big(const char *path, size_t max)
{
	return log_error_errno(-EFBIG, "%s is larger than %zu bytes", path, max);
}

int read_file_locked_opts(const char *path, size_t max, const struct read_file_opts *o,
			  char **out, size_t *out_len)
{
	static const struct read_file_opts dflt = { 0 };
	size_t len = 0, cap;
	struct stat st;
	char *buf = NULL, *n;
	bool own_fd = false;
	ssize_t got;
	int fd = -1, r;

	if (!o)
		o = &dflt;
	if (max > SIZE_MAX - 2) {
		r = log_error_errno(-EINVAL, "%s: no size limit given", path);
		goto out;
	}
	if (o->dash_stdin && !strcmp(path, "-")) {
		fd = STDIN_FILENO;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		own_fd = fd >= 0;
	}
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && o->quiet_enoent)
			log_debug("cannot open %s: %s", path, strerror(-r));
		else
			log_error("cannot open %s: %s", path, strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(-errno, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	/* A FIFO or a device may block or never end. */
	if (o->regular_only && !S_ISREG(st.st_mode)) {
		r = log_error_errno(-EINVAL, "%s: not a regular file", path);
		goto out;
	}
	/* Refused before locking memory for it (the size is re-checked below). */
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
		r = too_big(path, max);
		goto out;
	}
	/* Sized to the file, so that a small file locks little memory. */
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		cap = max < 4096 ? max : 4096;
	else
		cap = (size_t)st.st_size;
	/* One spare byte to notice a file over max, one for the NUL. */
	buf = secmem_alloc(cap + 2);
	if (!buf) {
		r = log_error_errno(-errno, "%s: cannot lock memory: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (len == cap + 1) {
			if (cap == max) {
				r = too_big(path, max);
				goto out;
			}
			cap = cap > max / 2 ? max : cap * 2 + 4096;
			if (cap > max)
				cap = max;
			n = secmem_realloc(buf, cap + 2);
			if (!n) {
				r = log_error_errno(-errno, "%s: cannot lock memory: %s",
						    path, strerror(errno));
				goto out;
			}
			buf = n;
		}
		got = read(fd, buf + len, cap + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = log_error_errno(-errno, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	if (o->st)
		*o->st = st;
	*out = buf;
	*out_len = len;
	buf = NULL;
	r = 0;
out:
	secmem_free(buf);
	if (own_fd)
		close(fd);
	return r;
}

int read_file_locked(const char *path, size_t max, char **out, size_t *len)
{
	const struct read_file_opts o = { .dash_stdin = true };

	return read_file_locked_opts(path, max, &o, out, len);
}
