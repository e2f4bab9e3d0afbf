/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging: to stderr, or to the journal / syslog when not on a terminal.
 * Never pass key material or message bodies here.
 */
#ifndef KMIPCRYPT_LOG_H
#define KMIPCRYPT_LOG_H

#include <errno.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Prefix for every line, e.g. "kmipcrypt". */
void log_set_ident(const char *ident);
/* When set, log lines go to this function instead of stderr (plugin: libcryptsetup's log). */
void log_set_sink(void (*sink)(enum log_level lvl, const char *msg, void *ctx), void *ctx);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log, then return the negative errno: `return log_error_errno(r, "...");` */
int log_errno(enum log_level lvl, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_error_errno(e, ...) log_errno(LOG_LVL_ERR, (e), __VA_ARGS__)

#endif
