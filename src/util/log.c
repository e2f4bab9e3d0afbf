// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Logging: see log.h.
 *
 * Each line is formatted completely into a stack buffer and written with a
 * single write(2), so that lines from several threads (or processes sharing
 * stderr) do not interleave, and no stdio buffer keeps a copy of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util/escape.h"
#include "util/log.h"

#define LOG_IDENT_MAX 32

static enum log_level log_level = LOG_LVL_INFO;
static char log_ident[LOG_IDENT_MAX] = "kmipcrypt";
static void (*log_sink)(enum log_level lvl, const char *msg, void *ctx);
static void *log_sink_ctx;

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool to_journal;

void log_set_level(enum log_level lvl)
{
	__atomic_store_n(&log_level, lvl, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "kmipcrypt");
}

void log_set_sink(void (*sink)(enum log_level lvl, const char *msg, void *ctx), void *ctx)
{
	log_sink = sink;
	log_sink_ctx = ctx;
}

/*
 * systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the
 * journal; only then does a "<N>" prefix mean a priority rather than text.
 */
static void journal_detect(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return;
	if (fstat(STDERR_FILENO, &st) < 0)
		return;
	to_journal = st.st_dev == dev && st.st_ino == ino;
}

static void write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		/* Nowhere left to report a failing stderr to. */
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void log_vemit(enum log_level lvl, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 64];
	const char *tag = "";
	size_t i, k, len;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unformattable log message: %s)", fmt);
	else if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - sizeof(LOG_TRUNCATED), LOG_TRUNCATED,
		       sizeof(LOG_TRUNCATED));
	/*
	 * One message, one line, nothing a terminal obeys, whatever a peer or a
	 * file put in a string: C0, DEL, C1 controls and invalid UTF-8 become '?'.
	 */
	for (i = 0, len = strlen(msg); i < len; i += k) {
		const unsigned char *c = (const unsigned char *)msg + i;

		k = utf8_char_len(msg + i, len - i);
		if (k == 0 || (k == 1 && (c[0] < 0x20 || c[0] == 0x7f)) ||
		    (k == 2 && c[0] == 0xc2 && c[1] < 0xa0)) {
			memset(msg + i, '?', k ? k : 1);
			k = k ? k : 1;
		}
	}

	if (log_sink) {
		log_sink(lvl, msg, log_sink_ctx);
		return;
	}

	pthread_once(&journal_once, journal_detect);
	if (lvl == LOG_LVL_WARN)
		tag = "warning: ";
	else if (lvl == LOG_LVL_DEBUG)
		tag = "debug: ";
	if (to_journal)
		n = snprintf(line, sizeof(line), "<%d>%s: %s%s\n", (int)lvl,
			     log_ident, tag, msg);
	else
		n = snprintf(line, sizeof(line), "%s: %s%s\n", log_ident, tag, msg);
	/* line has room for msg plus the prefixes: n < sizeof(line). */
	if (n > 0)
		write_all(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (lvl > log_get_level())
		goto out;
	va_start(ap, fmt);
	log_vemit(lvl, fmt, ap);
	va_end(ap);
out:
	errno = saved;
}

int log_errno(enum log_level lvl, int err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err > 0)
		err = -err;
	else if (err == 0)
		err = -EIO;
	if (lvl > log_get_level())
		goto out;
	va_start(ap, fmt);
	log_vemit(lvl, fmt, ap);
	va_end(ap);
out:
	errno = saved;
	return err;
}
