/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the daemon decides from what the server said: a pure function, no
 * I/O, no clock (the caller passes how long a group has been unreachable).
 *
 * Per key (policy_key):
 *   Active                                           fine
 *   Deactivated, Compromised, Destroyed,
 *   Destroyed Compromised, not found                 revoked
 *   Pre-Active                                       [daemon] pre_active
 *                                                    (default ignore: fine)
 *   permission denied                                [daemon] permission_denied
 *                                                    (default revoked: the KMS
 *                                                    says this host may no
 *                                                    longer have the key)
 *   any other answer about the key (a State this
 *   client does not know, an item the server did
 *   not answer, one it answered with another error)  unknown: nothing done
 *   no answer from any server of the group           unreachable, and revoked
 *                                                    once it has lasted
 *                                                    offline_grace (0:
 *                                                    unlimited, never)
 *
 * Per volume (policy_volume): a volume may carry several kmip tokens (a
 * re-key in progress, two server groups); it is revoked only when every one
 * of its keys is (one usable key still opens it, so locking it would protect
 * nothing), fine when any key is fine, otherwise unknown or unreachable.
 *
 * Confirmation is the caller's: "revoked" from a batched answer is acted on
 * only when a second request about that key alone says the same
 * (policy_same()).
 */
#ifndef KMIPCRYPTD_POLICY_H
#define KMIPCRYPTD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

/* What one poll learnt about one key. */
enum obs_kind {
	OBS_STATE = 0,		/* the server gave the key's State (state) */
	OBS_NOT_FOUND,		/* Item Not Found, Object Not Found, Object Destroyed */
	OBS_DENIED,		/* Permission Denied, Not Authorised and the like */
	OBS_OTHER,		/* answered, but not usably about this key (err) */
	OBS_UNREACHABLE,	/* no answer from any server of the group (err) */
	OBS_KIND_MAX
};

struct key_obs {
	enum obs_kind kind;
	int state;		/* KMIP_STATE_*, with OBS_STATE */
	int err;		/* negative errno, with OBS_OTHER and OBS_UNREACHABLE */
};

enum verdict {
	VERDICT_FINE = 0,
	VERDICT_REVOKED,	/* lock */
	VERDICT_UNKNOWN,	/* nothing known that allows a decision: nothing done */
	VERDICT_UNREACHABLE,	/* within offline_grace (or none set): nothing done */
	VERDICT_MAX
};

/* Which rule decided: logged with every lock and shown by status. */
enum rule {
	RULE_ACTIVE = 0,
	RULE_DEACTIVATED,
	RULE_COMPROMISED,
	RULE_DESTROYED,
	RULE_DESTROYED_COMPROMISED,
	RULE_NOT_FOUND,
	RULE_PRE_ACTIVE_REVOKED,	/* pre_active = revoked */
	RULE_PRE_ACTIVE_IGNORED,	/* pre_active = ignore */
	RULE_DENIED_REVOKED,		/* permission_denied = revoked */
	RULE_DENIED_IGNORED,		/* permission_denied = ignore */
	RULE_UNKNOWN_STATE,		/* a State value outside the specification's */
	RULE_NO_USABLE_ANSWER,		/* OBS_OTHER */
	RULE_UNREACHABLE,		/* within offline_grace, or none set */
	RULE_OFFLINE_GRACE,		/* unreachable for offline_grace or longer */
	RULE_NOT_CONFIRMED,		/* revoked in the batch, not so when asked alone */
	RULE_MAX
};

struct policy {
	enum daemon_policy pre_active;
	enum daemon_policy permission_denied;
	unsigned offline_grace_s;	/* 0: unlimited */
};

/* The policy of a config's [daemon] section. */
void policy_from_config(const struct config_daemon *d, struct policy *p);

/*
 * One key: its verdict and *rule.  unreachable_ms: how long the key's group
 * has been without any answer (used with OBS_UNREACHABLE only).  An
 * observation out of range is VERDICT_UNKNOWN, RULE_NO_USABLE_ANSWER.
 */
enum verdict policy_key(const struct policy *p, const struct key_obs *o, int64_t unreachable_ms,
			enum rule *rule);

/*
 * A volume of n keys (n >= 1; 0 is VERDICT_UNKNOWN): its verdict, and in
 * *which the index of the key whose rule explains it (the first fine key, or
 * the first key of the deciding kind).
 */
enum verdict policy_volume(const enum verdict *keys, size_t n, size_t *which);

/*
 * Does a second observation of a key confirm a first that was revoked?
 * Only an observation of the same kind (and for OBS_STATE the same State)
 * does.
 */
bool policy_same(const struct key_obs *first, const struct key_obs *second);

/* Names for logs and the status file: "fine", "revoked"...; "deactivated", "offline-grace"... */
const char *policy_verdict_name(enum verdict v);
const char *policy_rule_name(enum rule r);

#endif
