// SPDX-License-Identifier: LGPL-2.1-or-later
/* Audit entries for the journal: see journal.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "util/journal.h"

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"

/* A journal field name: A-Z 0-9 _, not starting with '_' (trusted fields) or a digit. */
static bool field_name_ok(const char *s)
{
	size_t i;

	if (!s || !*s || *s == '_' || (*s >= '0' && *s <= '9'))
		return false;
	for (i = 0; s[i]; i++)
		if (i >= JOURNAL_FIELD_NAME_MAX ||
		    !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool id128_ok(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s && i == 32;
}

/* Append "NAME=value" to e: its own iovec.  -EINVAL when it does not fit. */
static int add(struct journal_entry *e, size_t *used, const char *name, const char *value)
{
	size_t room = sizeof(e->buf) - *used;
	int n;

	if (e->n >= sizeof(e->iov) / sizeof(e->iov[0]))
		return -EINVAL;
	n = snprintf(e->buf + *used, room, "%s=%s", name, value);
	if (n < 0 || (size_t)n >= room)
		return -EINVAL;
	e->iov[e->n].iov_base = e->buf + *used;
	e->iov[e->n].iov_len = (size_t)n;
	e->n++;
	*used += (size_t)n + 1;
	return 0;
}

static int vformat(struct journal_entry *e, enum log_level lvl, const char *ident,
		   const char *message_id, const struct journal_field *fields, size_t n,
		   const char *fmt, va_list ap)
{
	char prio[4], msg[JOURNAL_FIELD_NAME_MAX + 2 + LOG_LINE_MAX];
	size_t used = 0, i;
	int k, r = -EINVAL;

	e->n = 0;
	k = vsnprintf(e->text, sizeof(e->text), fmt, ap);
	if (k < 0)
		snprintf(e->text, sizeof(e->text), "(unformattable message: %s)", fmt);
	else if ((size_t)k >= sizeof(e->text))
		memcpy(e->text + sizeof(e->text) - sizeof(LOG_TRUNCATED), LOG_TRUNCATED,
		       sizeof(LOG_TRUNCATED));
	if (!ident || !*ident || strlen(ident) > JOURNAL_FIELD_NAME_MAX || strchr(ident, '\n') ||
	    !id128_ok(message_id) || n > JOURNAL_FIELDS_MAX || (n && !fields))
		goto out;
	/* Bounded: ident is at most JOURNAL_FIELD_NAME_MAX bytes, text below LOG_LINE_MAX. */
	snprintf(msg, sizeof(msg), "%s: %s", ident, e->text);
	snprintf(prio, sizeof(prio), "%d", (int)lvl);
	if ((r = add(e, &used, "MESSAGE", msg)) < 0 ||
	    (r = add(e, &used, "MESSAGE_ID", message_id)) < 0 ||
	    (r = add(e, &used, "PRIORITY", prio)) < 0 ||
	    (r = add(e, &used, "SYSLOG_IDENTIFIER", ident)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		r = -EINVAL;
		if (!field_name_ok(fields[i].name))
			goto out;
		if (!fields[i].value)
			continue;
		r = add(e, &used, fields[i].name, fields[i].value);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		e->n = 0;
	return r;
}

int journal_entry_format(struct journal_entry *e, enum log_level lvl, const char *ident,
			 const char *message_id, const struct journal_field *fields, size_t n,
			 const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vformat(e, lvl, ident, message_id, fields, n, fmt, ap);
	va_end(ap);
	return r;
}

static bool journal_here(void)
{
	return access(JOURNAL_SOCKET, W_OK) == 0;
}

/*
 * Is stderr the journal's stream?  systemd sets JOURNAL_STREAM=DEV:INODE for
 * a service whose stderr goes to the journal; a child whose stderr was
 * redirected elsewhere inherits the variable, hence the comparison.
 */
static bool stderr_is_journal(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return s && sscanf(s, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       st.st_dev == dev && st.st_ino == ino;
}

/*
 * The line is the whole record: shown at the default level (warnings) too,
 * at its own level (no "warning:" for an info), but not under -q (errors
 * only: the user asked for silence).  One thread: the level is put back.
 */
static void log_audit_line(enum log_level lvl, const char *text)
{
	enum log_level was = log_get_level();

	if (lvl > was && was >= LOG_LVL_WARN)
		log_set_level(lvl);
	log_msg(lvl, "%s", text);
	log_set_level(was);
}

bool journal_entry(enum log_level lvl, const char *ident, const char *message_id,
		   const struct journal_field *fields, size_t n, const char *fmt, ...)
{
	struct journal_entry *e;
	bool sent = false;
	va_list ap;
	int r;

	e = malloc(sizeof(*e));
	if (!e) {
		log_error("cannot make a journal entry: out of memory");
		return false;
	}
	va_start(ap, fmt);
	r = vformat(e, lvl, ident, message_id, fields, n, fmt, ap);
	va_end(ap);
	if (r < 0)
		log_error("a journal entry (MESSAGE_ID %s) cannot be made: a bad field or too "
			  "long; the message alone follows", message_id ? message_id : "(none)");
	else if (journal_here())
		sent = sd_journal_sendv(e->iov, (int)e->n) == 0;
	if (!sent)
		log_audit_line(lvl, e->text);
	else if (!stderr_is_journal())
		log_msg(lvl, "%s", e->text);
	free(e);
	return sent;
}
