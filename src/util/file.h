/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a whole file into locked memory (util/secmem.h): secrets,
 * configuration, certificates, messages that may carry key material.  One
 * reader for every file a user names, so that none of them can block:
 *
 *   - A named file must be a regular file.  A FIFO, socket, device or
 *     directory is refused with a message that says what it is, before
 *     anything is read, and without blocking: it is stat()ed first (so that
 *     no device is ever opened), then opened O_NONBLOCK (a FIFO opened for
 *     reading would wait for a writer for ever), and what was opened is
 *     fstat()ed again (the path may have been replaced in between).  Only
 *     then is O_NONBLOCK cleared and the file read, bounded.
 *   - Symbolic links are followed (certificates and keys are often links,
 *     e.g. into /etc/ssl or a certificate manager's directory): every check
 *     is on the file finally opened.
 *   - Standard input ("-", where the caller allows it) may be of any kind:
 *     the user chose it and can end it.
 */
#ifndef KMIPCRYPT_FILE_H
#define KMIPCRYPT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

struct read_file_opts {
	bool dash_stdin;	/* "-" is standard input (otherwise a file named "-") */
	bool secret;		/* file_check_secret() on the opened file: -EACCES */
	bool quiet_enoent;	/* a missing file is -ENOENT logged at debug level only */
	/*
	 * Prefix of every message, saying what the file is for, e.g.
	 * "/etc/kmipcrypt/kmipcrypt.conf:7: [default] key"; NULL: none.
	 */
	const char *where;
	/* What to do instead, appended to the refusal of a file that is not regular. */
	const char *hint;
	struct stat *st;	/* if not NULL: the file's fstat() */
};

/*
 * Read path (see above) whole into locked memory, with a NUL after the
 * content (not counted in *len).  At most max bytes: a longer file is
 * -EFBIG, never cut.  The buffer is sized to a regular file (its size is
 * only a hint: the bound is enforced on what read() returns) and grows for
 * standard input.  *out is for secmem_free().  Every failure is logged with
 * the path; returns 0 or -errno: -EISDIR for a directory, -EINVAL for any
 * other file that is not regular, -EACCES also for a secret file refused.
 */
int read_file_locked_opts(const char *path, size_t max, const struct read_file_opts *o,
			  char **out, size_t *len);
/* The same, "-" being standard input. */
int read_file_locked(const char *path, size_t max, char **out, size_t *len);

/*
 * For a file read line by line (a list of devices, a crypttab): the same
 * checks and non-blocking open as read_file_locked_opts() (a regular file;
 * o->secret, o->where, o->hint, o->quiet_enoent and o->st honoured; "-" is
 * a file name here), then a stdio stream ("re").  A file larger than max
 * is refused (-EFBIG).  NULL with errno set on failure, logged.
 */
FILE *file_fopen(const char *path, size_t max, const struct read_file_opts *o);

/*
 * May a secret file (a private key, a key password, a key-encryption key,
 * a configuration holding a password) whose fstat() is st be used?  As
 * OpenSSH refuses a private key that others can read: the file must give
 * group and other no permission at all, and be owned by root or by the
 * effective user (a file another user owns is that user's to read or to
 * replace).  0, or -EACCES logged as "WHERE: PATH: why; what to do"
 * ("run 'chmod 600 PATH'").  where may be NULL.
 */
int file_check_secret(const char *path, const struct stat *st, const char *where);

/* "a FIFO (named pipe)", "a directory", ...: what a file of this mode is, for messages. */
const char *file_kind(mode_t mode);

/*
 * Is st (a stat() or fstat()) the null device, character device 1:3,
 * whatever its name?  Naming it is how a user says "none" (--crypttab
 * /dev/null: no crypttab; -o /dev/null: discard): read, it is empty;
 * written, it discards; neither can block.  Callers that accept it check
 * this before refusing a file that is not regular.
 */
bool file_is_null(const struct stat *st);

#endif
