/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit trail: every lock, every failed lock and every change of a
 * server group between answering and unreachable, at warning level, to the
 * journal with structured fields and a stable MESSAGE_ID (what a SIEM
 * matches; journalctl MESSAGE_ID=...), and as one line on stderr unless
 * stderr is the journal already.  Without a journal (no socket), stderr only.
 *
 * Fields: KMIPCRYPT_MAPPING, KMIPCRYPT_DEVICE, KMIPCRYPT_KEY_UID,
 * KMIPCRYPT_KEY_STATE, KMIPCRYPT_RULE, KMIPCRYPT_ACTION, KMIPCRYPT_GROUP,
 * KMIPCRYPT_ERRNO.  Values are local (mapping names, LUKS2 token fields,
 * configuration), never server text.
 */
#ifndef KMIPCRYPTD_AUDIT_H
#define KMIPCRYPTD_AUDIT_H

#define AUDIT_ID_LOCKED		"20e6105e20d14e17a50d86c8d1e13390"
#define AUDIT_ID_LOCK_FAILED	"ff31bf9716e5435f8d118bfc0dcb62f6"
#define AUDIT_ID_UNREACHABLE	"6613a3015dc545c39f7d8112fe017b20"
#define AUDIT_ID_ANSWERING	"405acfe78be6423d83c825e29b67b038"

struct audit_lock {
	const char *mapping, *device, *uid, *state, *rule, *action;
	int err;			/* 0: done */
};

void audit_locked(const struct audit_lock *a);
/* A group stopped answering (err) or answers again (err 0). */
void audit_group(const char *group, int err);

#endif
