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
 * does not poll in lockstep; at once after a new watch list): per server
 * group, the State of every watched key in batched Get Attributes requests
 * (kmip_get_states(), KMIP_BATCH_MAX items each) over the group's persistent
 * session; a key that looks revoked is asked about again alone, and only the
 * same answer makes the volume's verdict "revoked" (policy.h).  The groups
 * that answered last time are asked first, those that did not after them
 * (they may cost their whole timeout); a GROUP after each group, each
 * volume's VERDICT as soon as every group of its keys is done, a CYCLE at
 * the end (proto.h).  The poller holds no key material: it asks for
 * States, never for keys.
 */
#ifndef KMIPCRYPTD_POLLER_H
#define KMIPCRYPTD_POLLER_H

/*
 * Run the poller on fd (its end of the socketpair) until SIGTERM or the
 * locker closes fd: the process's exit status (0, or 1 after a fatal
 * error, logged).  Call in a freshly forked child: it blocks and handles
 * its own signals.
 */
/* interval_ms: the cycle's interval, 0 for the configuration's poll_interval (a test seam). */
int poller_main(const char *config_path, int fd, unsigned interval_ms);

#endif
