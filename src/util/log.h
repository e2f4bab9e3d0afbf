/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging: one line per message on stderr, "kmipcrypt: message".  When
 * stderr is the journal's stream (a systemd service: $JOURNAL_STREAM), each
 * line starts with a "<N>" priority so that the journal keeps the level.
 * A sink (the libcryptsetup token plugin) can take the lines instead.
 *
 * Lines are at most LOG_LINE_MAX bytes; a longer message is cut and ends in
 * LOG_TRUNCATED so the cut is visible.  Control characters (C0, DEL, C1:
 * util/escape.h) and invalid UTF-8, from hostile peers or files, are
 * replaced by '?' so that a message stays one line and a terminal obeys
 * nothing in it.
 * Logging never changes errno.
 *
 * Never pass key material or message bodies here.
 */
#ifndef KMIPCRYPT_LOG_H
#define KMIPCRYPT_LOG_H

#include <errno.h>

#define LOG_LINE_MAX   2048
#define LOG_TRUNCATED  "...[truncated]"

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Messages above lvl are dropped (also before the sink).  Default: INFO. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Prefix for every line, e.g. "kmipcrypt" (the default); copied, at most 31 bytes. */
void log_set_ident(const char *ident);
/*
 * When set, log lines go to this function instead of stderr (plugin:
 * libcryptsetup's log).  msg has no ident and no newline.  NULL restores
 * stderr.  Set it before other threads log.
 */
void log_set_sink(void (*sink)(enum log_level lvl, const char *msg, void *ctx), void *ctx);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Log, then return the negative errno: `return log_error_errno(r, "...");`
 * err may be given as -EFOO or EFOO.  0 is a caller bug (an error path with
 * no error): -EIO is returned so that it can never read as success.
 */
int log_errno(enum log_level lvl, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_error_errno(e, ...) log_errno(LOG_LVL_ERR, (e), __VA_ARGS__)
#define log_warn_errno(e, ...)  log_errno(LOG_LVL_WARN, (e), __VA_ARGS__)
#define log_debug_errno(e, ...) log_errno(LOG_LVL_DEBUG, (e), __VA_ARGS__)

#endif
