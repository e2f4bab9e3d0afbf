/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The poller: the daemon's unprivileged process, the only one that speaks
 * TLS and parses what the servers send.  It loads the configuration and
 * opens a KMIP session per server group while still root (the client key
 * and its password are readable by root only), then drops its privileges
 * (privdrop.h) for good, and only then reads the watch list from the locker
 * and asks the servers.
 *
 * Each cycle (every poll_interval, +-10 % random jitter so that a fleet
 * does not poll in lockstep; at once after a new watch list), per server
 * group over its persistent session:
 *   - the cheap question, where the group's keys share an Object Group (the
 *     host's, set at enroll) and where it is cheaper: one Locate of that
 *     group's Active objects (paged by Maximum Items / Offset Items); a key
 *     it lists is Active, the others are suspects.  Which is cheaper is
 *     measured (a Locate cycle's time against a cycle asking every key),
 *     since what a Locate costs a server grows with all its objects, what a
 *     batch costs with the keys watched (bench/daemon.sh);
 *   - the suspects (every key on the first cycle, on every SWEEP_EVERY-th,
 *     and always where Locate does not pay or cannot be trusted) by their
 *     own State: batched Get Attributes (State, Object Group), KMIP_BATCH_MAX
 *     items a message (kmip_get_attrs_each());
 *   - a key that looks revoked is asked about again alone, and only the same
 *     answer makes the volume's verdict "revoked" (policy.h): no volume is
 *     locked on Locate's word, a truncated list or one garbled answer.
 * Locate is turned off for a group whose server refuses it, or lists as
 * Active a key whose own State said otherwise (a server that ignores the
 * filter: KMIP-NOTES); the periodic sweep bounds how long such a server
 * could hide a revocation before that is seen.  The groups
 * that answered last time are asked first, those that did not after them
 * (they may cost their whole timeout); a GROUP after each group, each
 * volume's VERDICT as soon as every group of its keys is done, a CYCLE at
 * the end (proto.h).  The poller holds no key material: it asks for
 * States, never for keys.
 */
#ifndef KMIPCRYPTD_POLLER_H
#define KMIPCRYPTD_POLLER_H

/*
 * Run the poller on o->fd until SIGTERM or the locker closes it: the
 * process's exit status (0, or 1 after a fatal
 * error, logged).  Call in a freshly forked child: it blocks and handles
 * its own signals.
 */
/* How keys are asked: auto (Locate where it pays, above); the bench's seams. */
enum poll_strategy {
	POLL_AUTO = 0,
	POLL_BATCH,		/* never Locate: every key's State, batched */
	POLL_NAIVE,		/* one request per key: the baseline of bench/daemon.sh */
	POLL_LOCATE,		/* Locate every cycle but the sweeps, whatever it costs */
};

struct poller_opts {
	const char *config_path;
	int fd;				/* its end of the socketpair */
	unsigned interval_ms;		/* 0: the configuration's poll_interval (a test seam) */
	enum poll_strategy strategy;
	bool test_violate;		/* a forbidden system call after the filter (a test seam) */
};

int poller_main(const struct poller_opts *o);

#endif
