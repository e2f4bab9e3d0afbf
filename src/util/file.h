/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a whole file into locked memory (util/secmem.h): secrets,
 * configuration, messages that may carry key material.  One reader for
 * the whole project.
 */
#ifndef KMIPCRYPT_FILE_H
#define KMIPCRYPT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

struct read_file_opts {
	bool dash_stdin;	/* "-" is standard input (otherwise a file named "-") */
	bool regular_only;	/* refuse FIFOs, devices, directories: -EINVAL */
	bool quiet_enoent;	/* a missing file is -ENOENT logged at debug level only */
	struct stat *st;	/* if not NULL: the file's fstat() */
};

/*
 * Read path (opened O_CLOEXEC | O_NOCTTY) whole into locked memory, with a
 * NUL after the content (not counted in *len).  At most max bytes: a
 * longer file is -EFBIG, never cut.  The buffer is sized to a regular
 * file (its size is only a hint: the bound is enforced on what read()
 * returns) and grows for anything else.  *out is for secmem_free().
 * Every failure is logged with the path; returns 0 or -errno.
 */
int read_file_locked_opts(const char *path, size_t max, const struct read_file_opts *o,
			  char **out, size_t *len);
/* The same, "-" being standard input; any kind of file (pipes too). */
int read_file_locked(const char *path, size_t max, char **out, size_t *len);

#endif
