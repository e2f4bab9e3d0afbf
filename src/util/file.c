// SPDX-License-Identifier: LGPL-2.1-or-later
/* Whole files into locked memory: see file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include "util/file.h"
#include "util/log.h"
#include "util/secmem.h"

const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO (named pipe)";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

bool file_is_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 && minor(st->st_rdev) == 3;
}

/* "WHERE: " or nothing: the caller's words for what the file is for. */
#define WHERE_FMT	"%s%s"
#define WHERE_ARGS(w)	(w) ? (w) : "", (w) ? ": " : ""

int file_check_secret(const char *path, const struct stat *st, const char *where)
{
	uid_t me = geteuid();

	if (st->st_mode & (S_IRWXG | S_IRWXO))
		return log_error_errno(-EACCES, WHERE_FMT "%s: mode %04o gives %s access, and a "
				       "secret must not be accessible to others: run 'chmod 600 %s'",
				       WHERE_ARGS(where), path, (unsigned)(st->st_mode & 07777),
				       !(st->st_mode & S_IRWXO) ? "its group" :
				       !(st->st_mode & S_IRWXG) ? "other users" :
				       "its group and other users", path);
	if (st->st_uid != 0 && st->st_uid != me)
		return log_error_errno(-EACCES, WHERE_FMT "%s: owned by uid %u, neither root "
				       "nor this user (uid %u), who can read and replace this "
				       "secret; run 'chown %u %s'", WHERE_ARGS(where), path,
				       (unsigned)st->st_uid, (unsigned)me, (unsigned)me, path);
	return 0;
}

/* A named file that is not a regular file: nothing read, nothing blocked. */
static int not_regular(const char *path, const struct stat *st, const struct read_file_opts *o)
{
	const char *hint = o->hint ? o->hint : o->dash_stdin ? "give - to read standard input" : NULL;

	log_error(WHERE_FMT "%s is %s, not a regular file%s%s", WHERE_ARGS(o->where), path,
		  file_kind(st->st_mode), hint ? "; " : "", hint ? hint : "");
	return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
}

static int open_failed(const char *path, int e, const char *what, const struct read_file_opts *o)
{
	if (e == ENOENT && o->quiet_enoent)
		log_debug(WHERE_FMT "cannot %s %s: %s", WHERE_ARGS(o->where), what, path, strerror(e));
	else
		log_error(WHERE_FMT "cannot %s %s: %s", WHERE_ARGS(o->where), what, path, strerror(e));
	return -e;
}

/*
 * Open a named file for reading, as file.h says: stat() first, so that no
 * device or FIFO is ever opened; O_NONBLOCK, so that the open itself cannot
 * wait; fstat() of what was opened; then blocking reads again.  The fd, or
 * -errno (logged).
 */
static int open_regular(const char *path, const struct read_file_opts *o, struct stat *st)
{
	int fd = -1, fl, r;

	if (stat(path, st) < 0)
		return open_failed(path, errno, "open", o);
	if (!S_ISREG(st->st_mode))
		return not_regular(path, st, o);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return open_failed(path, errno, "open", o);
	if (fstat(fd, st) < 0) {
		r = open_failed(path, errno, "stat", o);
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		r = not_regular(path, st, o);
		goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = open_failed(path, errno, "read", o);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

static int too_big(const char *path, size_t max, const struct read_file_opts *o)
{
	return log_error_errno(-EFBIG, WHERE_FMT "%s is larger than %zu bytes",
			       WHERE_ARGS(o->where), path, max);
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
		if (fstat(fd, &st) < 0) {
			r = open_failed(path, errno, "stat", o);
			goto out;
		}
	} else {
		fd = open_regular(path, o, &st);
		if (fd < 0) {
			r = fd;
			goto out;
		}
		own_fd = true;
		if (o->secret) {
			r = file_check_secret(path, &st, o->where);
			if (r < 0)
				goto out;
		}
	}
	/* Refused before locking memory for it (the size is re-checked below). */
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
		r = too_big(path, max, o);
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
		r = log_error_errno(-errno, WHERE_FMT "%s: cannot lock memory: %s",
				    WHERE_ARGS(o->where), path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (len == cap + 1) {
			if (cap == max) {
				r = too_big(path, max, o);
				goto out;
			}
			cap = cap > max / 2 ? max : cap * 2 + 4096;
			if (cap > max)
				cap = max;
			n = secmem_realloc(buf, cap + 2);
			if (!n) {
				r = log_error_errno(-errno, WHERE_FMT "%s: cannot lock memory: %s",
						    WHERE_ARGS(o->where), path, strerror(errno));
				goto out;
			}
			buf = n;
		}
		got = read(fd, buf + len, cap + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = open_failed(path, errno, "read", o);
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

FILE *file_fopen(const char *path, size_t max, const struct read_file_opts *o)
{
	static const struct read_file_opts dflt = { 0 };
	struct stat st;
	FILE *f = NULL;
	int fd, r;

	if (!o)
		o = &dflt;
	fd = open_regular(path, o, &st);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = o->secret ? file_check_secret(path, &st, o->where) : 0;
	if (r == 0 && (unsigned long long)st.st_size > max)
		r = too_big(path, max, o);
	if (r == 0) {
		f = fdopen(fd, "re");
		if (!f)
			r = open_failed(path, errno, "read", o);
	}
	if (!f)
		close(fd);
	else if (o->st)
		*o->st = st;
out:
	if (r < 0)
		errno = -r;
	return f;
}

int read_file_locked(const char *path, size_t max, char **out, size_t *len)
{
	const struct read_file_opts o = { .dash_stdin = true };

	return read_file_locked_opts(path, max, &o, out, len);
}
