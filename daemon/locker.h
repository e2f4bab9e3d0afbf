/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The locker's actions on a revoked volume (root): the device-mapper lock
 * (luks_lock(): suspend or close, dm/dm.h) and the operator's command.
 *
 * exec: the configured command line, split on blanks (no shell, no quoting:
 * each word one argument, the first an absolute path), started with
 * util/spawn.h (nothing of this process: no descriptor, an empty signal
 * mask) and an environment of its own: PATH, KMIPCRYPT_MAPPING,
 * KMIPCRYPT_DEVICE, KMIPCRYPT_KEY_UID, KMIPCRYPT_KEY_STATE, KMIPCRYPT_RULE,
 * KMIPCRYPT_ACTION (what was done: suspend, close, none; "-failed" appended
 * if it failed).  Not waited for here: the caller reaps it on SIGCHLD.
 *
 * A test seam replaces the device-mapper lock: with a record file, each
 * lock appends one line "MAPPING ACTION KEY_UID STATE RULE" to it and
 * touches no device.
 */
#ifndef KMIPCRYPTD_LOCKER_H
#define KMIPCRYPTD_LOCKER_H

#include <sys/types.h>

#include "conf/config.h"
#include "daemon/watch.h"

#define LOCKER_EXEC_ARGS_MAX	32

/* Name of an action: "suspend", "close", "none". */
const char *locker_action_name(enum daemon_action a);

/*
 * Lock v (key: its deciding key) by action a; record: the test seam's file
 * or NULL.  0 or negative errno (the lock failed; logged by the caller's
 * audit line).  Idempotent as luks_lock() is.
 */
int locker_lock(const struct volume *v, const struct watch_key *key, enum daemon_action a,
		const char *state, const char *rule, const char *record);

/*
 * Start exec (a command line as in the config) for v's revocation; *pid the
 * child.  0 or negative errno (logged).
 */
int locker_exec(const char *exec, const struct volume *v, const struct watch_key *key,
		const char *action, const char *state, const char *rule, pid_t *pid);

#endif
