/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail (audit.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "daemon/audit.h"
#include "util/errclass.h"
#include "util/log.h"

/* stderr is the journal's stream already: the structured entry is enough. */
static bool stderr_is_journal(void)
{
	return getenv("JOURNAL_STREAM") != NULL;
}

static bool journal_here(void)
{
	return access("/run/systemd/journal/socket", W_OK) == 0;
}

void audit_locked(const struct audit_lock *a)
{
	char text[LOG_LINE_MAX];
	bool sent = false;

	if (a->err)
		snprintf(text, sizeof(text), "%s (%s): key '%s' is %s (rule %s): %s FAILED: %s",
			 a->mapping, a->device, a->uid, a->state, a->rule, a->action,
			 errclass_words(a->err));
	else
		snprintf(text, sizeof(text), "%s (%s): key '%s' is %s (rule %s): %s done",
			 a->mapping, a->device, a->uid, a->state, a->rule, a->action);
	if (journal_here())
		sent = sd_journal_send("MESSAGE=kmipcryptd: %s", text,
				       "MESSAGE_ID=%s", a->err ? AUDIT_ID_LOCK_FAILED : AUDIT_ID_LOCKED,
				       "PRIORITY=%d", a->err ? LOG_LVL_ERR : LOG_LVL_WARN,
				       "SYSLOG_IDENTIFIER=kmipcryptd",
				       "KMIPCRYPT_MAPPING=%s", a->mapping,
				       "KMIPCRYPT_DEVICE=%s", a->device,
				       "KMIPCRYPT_KEY_UID=%s", a->uid,
				       "KMIPCRYPT_KEY_STATE=%s", a->state,
				       "KMIPCRYPT_RULE=%s", a->rule,
				       "KMIPCRYPT_ACTION=%s", a->action,
				       "KMIPCRYPT_ERRNO=%d", a->err < 0 ? -a->err : 0,
				       NULL) == 0;
	if (!sent || !stderr_is_journal())
		log_msg(a->err ? LOG_LVL_ERR : LOG_LVL_WARN, "%s", text);
}

void audit_group(const char *group, int err)
{
	char text[LOG_LINE_MAX];
	bool sent = false;

	if (err)
		snprintf(text, sizeof(text), "group [%s]: no usable answer from its servers (%s); "
			 "its volumes are unreachable", group, errclass_words(err));
	else
		snprintf(text, sizeof(text), "group [%s]: its servers answer again", group);
	if (journal_here())
		sent = sd_journal_send("MESSAGE=kmipcryptd: %s", text,
				       "MESSAGE_ID=%s", err ? AUDIT_ID_UNREACHABLE : AUDIT_ID_ANSWERING,
				       "PRIORITY=%d", LOG_LVL_WARN,
				       "SYSLOG_IDENTIFIER=kmipcryptd",
				       "KMIPCRYPT_GROUP=%s", group,
				       "KMIPCRYPT_ERRNO=%d", err < 0 ? -err : 0,
				       NULL) == 0;
	if (!sent || !stderr_is_journal())
		log_warn("%s", text);
}
