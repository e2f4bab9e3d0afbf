/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Audit entries: one event, one structured journal entry with a stable
 * MESSAGE_ID (what a SIEM matches: journalctl MESSAGE_ID=...) and fields of
 * our own, for kmipcryptd's locks and kmipcrypt's key rotations alike.
 *
 * journal_entry() sends the entry with sd_journal_sendv() when the journal's
 * socket is there (/run/systemd/journal/socket, writable), and also writes
 * its message as one log line (util/log.h: stderr, subject to the log
 * level) unless stderr is the journal's stream already ($JOURNAL_STREAM
 * names stderr's device and inode: a systemd service), where the line would
 * only repeat the entry.  Without a journal (or when it refused the entry)
 * the line is all there is: it is then written at the default log level too
 * (an info line although only warnings are shown), not under -q (errors
 * only).  Programs that use it link libsystemd.
 *
 * The entry: MESSAGE ("IDENT: message"), MESSAGE_ID, PRIORITY (the level),
 * SYSLOG_IDENTIFIER (ident), then the caller's fields in their order.
 * Field names are journal field names (A-Z, 0-9, '_', not starting with
 * '_' or a digit, at most JOURNAL_FIELD_NAME_MAX bytes); a field with a NULL
 * value is left out.  Values are sent as they are (the journal keeps any
 * byte); the log line is made safe by util/log.h.
 * Never pass key material here.
 */
#ifndef KMIPCRYPT_JOURNAL_H
#define KMIPCRYPT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "util/log.h"

#define JOURNAL_FIELDS_MAX	16		/* caller's fields per entry */
#define JOURNAL_FIELD_NAME_MAX	64
#define JOURNAL_ENTRY_MAX	(4 * LOG_LINE_MAX)	/* bytes of all "NAME=value" together */

struct journal_field {
	const char *name;	/* e.g. "KMIPCRYPT_DEVICE" */
	const char *value;	/* NULL: left out */
};

/* An entry made ready to send: "NAME=value" strings in buf, one iovec each. */
struct journal_entry {
	char buf[JOURNAL_ENTRY_MAX];
	struct iovec iov[JOURNAL_FIELDS_MAX + 4];
	size_t n;			/* iovecs used */
	char text[LOG_LINE_MAX];	/* the message, without the ident: the log line */
};

/*
 * Format the entry (see above) into *e: 0, or -EINVAL for a bad field name,
 * an ident or message_id that is not one, more than JOURNAL_FIELDS_MAX
 * fields, or everything longer than JOURNAL_ENTRY_MAX.  A message longer
 * than LOG_LINE_MAX is cut (the journal's MESSAGE and the line alike).
 * message_id: 32 lower-case hex digits.
 */
int journal_entry_format(struct journal_entry *e, enum log_level lvl, const char *ident,
			 const char *message_id, const struct journal_field *fields, size_t n,
			 const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/*
 * Format and send (see above).  Returns whether the journal took the entry;
 * the log line is written in any case but the one described above.  A
 * format error (a caller's bug) is logged, and the message logged as a
 * line.
 */
bool journal_entry(enum log_level lvl, const char *ident, const char *message_id,
		   const struct journal_field *fields, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
