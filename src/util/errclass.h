/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one error taxonomy.  Every negative errno the library returns belongs
 * to exactly one class, and the class alone decides what each caller does
 * with it, so that they cannot disagree:
 *
 *   class        exit retry answer  what it is
 *   usage          1   no    yes    a bad option or argument, a configuration,
 *                                   credential or key file that is missing or
 *                                   refused, a name that exists already
 *   unreachable    2   yes   no     no KMIP server answered: refused, timed
 *                                   out, network or host unreachable or down,
 *                                   connection reset or broken, no name
 *                                   resolution, no local address yet
 *   bad-answer     2   yes   no     a server answered, but nothing usable:
 *                                   malformed, protocol error, an item left
 *                                   unanswered, busy ("Server Limit Exceeded")
 *   unsupported    6   no    no     the server does not do what is needed
 *                                   (an operation, a protocol version, AES-GCM)
 *   tls            3   no    no     TLS or authentication refused (CA,
 *                                   certificate, pin, client identity)
 *   key            4   no    yes    the key is not usable: not found,
 *                                   destroyed, revoked, Pre-Active, another
 *                                   client's, or the wrong object
 *   luks           5   no    yes    the volume, its header or token, the
 *                                   keyslot, device-mapper refused
 *   interrupted    6   no    yes    a termination request (SIGINT, SIGTERM,
 *                                   SIGHUP) stopped it
 *   internal       6   no    yes    anything else: out of memory, I/O,
 *                                   internal errors, a local key that does
 *                                   not fit (EKEKMISMATCH)
 *
 *   exit    the exit status of every kmipcrypt command (EXIT STATUS in
 *           kmipcrypt(8)); 2 is the one "try again later" status.
 *   retry   asking the same again later, with nothing changed, may succeed:
 *           what boot hooks retry within their deadline (DESIGN.md, Boot).
 *   answer  the failure is an answer about the key, the volume or this host:
 *           final for this token.  "no" (errclass_no_answer()): the KMS said
 *           nothing about the key; another server or token, or a later
 *           attempt, may succeed.  The token plugin returns -EAGAIN for
 *           these (libcryptsetup then tries the next token), unlock names
 *           the server group that gave no usable answer, and the daemon
 *           must never take one as a revocation.
 *
 * Why a garbled answer is "retry": DESIGN.md never acts on "one garbled
 * answer" but asks again; over TLS a damaged answer comes from a server in
 * transition (restarting, failing over behind a load balancer, overloaded),
 * which passes; and at boot the passphrase prompt runs beside the KMS
 * attempt, so retrying a lasting fault costs only the deadline, while
 * giving up on a passing one costs a human at the console.
 *
 * Errnos that mean two things are settled at their source, not here (this
 * table sees only the number):
 *   -EINVAL  a usage error, and the server's "Invalid Field", "Missing
 *            Data"...  Both are usage: the server refuses values of a
 *            request, and those come from the command line or the
 *            configuration; neither is helped by a retry.
 *   -EACCES  a client key password that does not decrypt the key, a secret
 *            file with loose permissions, and the server's "Bad Password",
 *            "Attestation Required/Failed", "Invalid Ticket".  All are
 *            credentials of this host: usage (fix the configuration).
 *   -ENOENT  a key not found or destroyed (key).  Files that do not exist
 *            are reported by their readers as -EINVAL (KEK), -ELUKS
 *            (devices) or handled by the caller (the configuration file).
 *   -EPERM   "Permission Denied" and the like from the server (key).
 *            Local permission failures must not come back as -EPERM:
 *            libcryptsetup's ("wrong passphrase") becomes -ELUKS.
 *   -EBADMSG a garbled answer (bad-answer).  An AES key wrap integrity
 *            failure (the wrong key-encryption key) is -EKEKMISMATCH.
 *   -ECANCELED only the server's "Operation Canceled By Requester"; a batch
 *            item the server did not answer is -ENOMSG.
 *
 * Project errnos (aliases of errnos nothing else here returns):
 */
#ifndef KMIPCRYPT_ERRCLASS_H
#define KMIPCRYPT_ERRCLASS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * "LUKS operation failed": a libcryptsetup failure, logged with its own
 * errno and message and returned as -ELUKS, because its errnos collide with
 * KMIP's (-EPERM is "wrong passphrase" there, "permission denied" here).
 */
#define ELUKS EMEDIUMTYPE
/*
 * The token names an object that cannot be its secret: another Object Type
 * than the kind needs, or material of an impossible size.  Key class like
 * the other unusable keys, but its own errno: unlike Pre-Active it is no
 * state to wait out, and the token plugin lets libcryptsetup try the next
 * token.
 */
#define EKEYMISMATCH EBADSLT
/*
 * A key fetched wrapped does not unwrap with the host copy of its
 * key-encryption key (AES key wrap integrity check failed): the KEK file is
 * not that key's copy.  Not -EBADMSG, which is a garbled answer (retry):
 * this one no retry mends.
 */
#define EKEKMISMATCH EBADE

/* Exit status of every kmipcrypt command (kmipcrypt(8), EXIT STATUS). */
enum exit_code {
	EXIT_OK          = 0,
	EXIT_USAGE       = 1,	/* usage or configuration error */
	EXIT_UNREACHABLE = 2,	/* no usable answer from the KMS: try again later */
	EXIT_TLS         = 3,	/* TLS or authentication failure */
	EXIT_KEY         = 4,	/* key not usable: not found, not Active, revoked, destroyed, denied */
	EXIT_LUKS        = 5,	/* LUKS error */
	EXIT_OTHER       = 6,	/* anything else */
};

enum errclass {
	ERRCLASS_OK = 0,	/* r == 0 */
	ERRCLASS_USAGE,
	ERRCLASS_UNREACHABLE,
	ERRCLASS_BAD_ANSWER,
	ERRCLASS_UNSUPPORTED,
	ERRCLASS_TLS,
	ERRCLASS_KEY,
	ERRCLASS_LUKS,
	ERRCLASS_INTERRUPTED,
	ERRCLASS_INTERNAL,
	ERRCLASS_COUNT
};

/*
 * The class of r: 0 or a negative errno.  An errno this table does not
 * name, or a positive r (a caller bug), is internal.
 */
enum errclass errclass_of(int r);
/* Does the table name r (0 included)?  For the tests: no errno falls to "internal" by default. */
bool errclass_known(int r);
/* Stable name of a class: "ok", "usage", "unreachable", "bad-answer", ...; "?" out of range. */
const char *errclass_name(enum errclass c);

/* The exit status for r (exit_code_from_errno() of the CLI). */
int errclass_exit(int r);
/* Trying again later, with nothing changed, may succeed (false for 0). */
bool errclass_retry(int r);
/* The KMS said nothing about the key (unreachable, bad answer, unsupported, TLS); false for 0. */
bool errclass_no_answer(int r);
/* No KMIP server of the group answered at all (the unreachable class). */
bool errclass_unreachable(int r);
/*
 * One line for people: what the class means and what to do, e.g. "no KMIP
 * server answered: check ...; trying again later may help".  NULL for 0.
 */
const char *errclass_words(int r);

/*
 * The exit status of one run over n volumes (unlock --all), errs[i] each
 * volume's result: 0 if every one succeeded; else the "try again later"
 * status if any failure may pass with a retry (so that a boot hook that
 * retries on it retries while some volume may still unlock: volumes open
 * already are left alone by the next run); else the highest status.
 */
int errclass_exit_many(const int *errs, size_t n);

#endif
