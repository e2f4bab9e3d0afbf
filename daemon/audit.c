/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail (audit.h). */
#include <stdio.h>

#include "daemon/audit.h"
#include "util/errclass.h"
#include "util/journal.h"
#include "util/log.h"

void audit_locked(const struct audit_lock *a)
{
	char text[LOG_LINE_MAX], err[16];
	const struct journal_field f[] = {
		{ "KMIPCRYPT_MAPPING", a->mapping },
		{ "KMIPCRYPT_DEVICE", a->device },
		{ "KMIPCRYPT_KEY_UID", a->uid },
		{ "KMIPCRYPT_KEY_STATE", a->state },
		{ "KMIPCRYPT_RULE", a->rule },
		{ "KMIPCRYPT_ACTION", a->action },
		{ "KMIPCRYPT_ERRNO", err },
	};

	snprintf(err, sizeof(err), "%d", a->err < 0 ? -a->err : 0);
	if (a->err)
		snprintf(text, sizeof(text), "%s (%s): key '%s' is %s (rule %s): %s FAILED: %s",
			 a->mapping, a->device, a->uid, a->state, a->rule, a->action,
			 errclass_words(a->err));
	else
		snprintf(text, sizeof(text), "%s (%s): key '%s' is %s (rule %s): %s done",
			 a->mapping, a->device, a->uid, a->state, a->rule, a->action);
	journal_entry(a->err ? LOG_LVL_ERR : LOG_LVL_WARN, "kmipcryptd",
		      a->err ? AUDIT_ID_LOCK_FAILED : AUDIT_ID_LOCKED, f, sizeof(f) / sizeof(f[0]),
		      "%s", text);
}

void audit_group(const char *group, int err)
{
	char text[LOG_LINE_MAX], e[16];
	const struct journal_field f[] = {
		{ "KMIPCRYPT_GROUP", group },
		{ "KMIPCRYPT_ERRNO", e },
	};

	snprintf(e, sizeof(e), "%d", err < 0 ? -err : 0);
	if (err)
		snprintf(text, sizeof(text), "group [%s]: no usable answer from its servers (%s); "
			 "its volumes are unreachable", group, errclass_words(err));
	else
		snprintf(text, sizeof(text), "group [%s]: its servers answer again", group);
	journal_entry(LOG_LVL_WARN, "kmipcryptd", err ? AUDIT_ID_UNREACHABLE : AUDIT_ID_ANSWERING,
		      f, sizeof(f) / sizeof(f[0]), "%s", text);
}
