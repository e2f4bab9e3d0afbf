/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A change to a LUKS2 header and a KMS as a transaction: named steps, run
 * in order, each with its undo, by one runner.  Enroll is one (enroll.c);
 * re-key is to be another, with its own table (new object, new keyslot,
 * token switched, old keyslot removed, old object revoked).
 *
 * A verb describes itself once (struct luks_txn, static const) and runs it
 * with luks_steps_run() on one device.  The runner, and only the runner:
 *
 *   - says at once whether the test hook KMIPCRYPT_FAIL_AT names a step of
 *     this run (luks_fail_at_check()), and at the start of each step applies
 *     it: KMIPCRYPT_FAIL_AT=STEP fails that step (-EIO, "step 'S' failed
 *     (injected)"), STEP:SIGNAL raises the signal there, STEP:STOP stops
 *     the process there (SIGSTOP: a test copies the volume as a power cut
 *     at that instant would leave it, then kills or continues it)
 *     (luks_fail_at());
 *   - runs the verb's prepare, if any: what must hold before anything is
 *     changed (read the header, prove a passphrase or a binding).  Its
 *     failure is returned as it is, with its own messages only: nothing was
 *     done, so there is nothing to undo or to sum up;
 *   - then looks at termination requests (util/interrupt.h, caught by the
 *     caller): before the commit step has succeeded a request stops the
 *     run (-EINTR) and everything done is undone, as for a failure; after
 *     it the run finishes, since undoing would take away a working result
 *     (said once when seen, and again at the end);
 *   - on a failure or -EINTR undoes the steps that succeeded, in reverse
 *     order, and says at which step the run failed and whether everything
 *     was undone.
 *
 * Contract of a step:
 *   run    does it: 0, or a negative errno with the reason logged.  A run
 *          that fails leaves nothing behind (its own undo is not called).
 *   undo   NULL if the step changed nothing that must be taken back (or
 *          another step's undo takes it back: say so in the table).
 *          Otherwise takes back what run did, logs what it undid ("undone:
 *          ..."), or what it could not with the command that finishes it,
 *          and returns false in that case.  Undos run whatever is pending:
 *          an undo must be bounded in time by itself (server time limits).
 *   when   0: every run of the table; else the step runs when when & variant
 *          (the caller's choice of bits, e.g. one per kind).
 *   also   0, or the step runs only if also & variant too (two conditions:
 *          a phase in when, a kind in also).
 *   commit its success is the point of no return (at most one per run).
 *
 * A failure after the commit step is still undone in full (enroll: a
 * binding that does not verify is taken away), unless the table says that
 * its commit is final (luks_txn.commit_final): then a failure after it
 * (the test hook's too) undoes only the steps after the commit, and the run
 * says that what the commit did is kept.  Rekey's is final: once the token
 * names the new key and the old keyslot is gone, taking back the new one
 * would leave no way in; what is left to do is recorded in the header, for
 * the next run.  Termination requests after the commit let the run finish
 * either way.
 */
#ifndef KMIPCRYPT_LUKS_STEPS_H
#define KMIPCRYPT_LUKS_STEPS_H

#include <stdbool.h>
#include <stddef.h>

#define LUKS_STEPS_MAX	32	/* steps of one table */

struct luks_step {
	const char *name;	/* as KMIPCRYPT_FAIL_AT and the messages name it; <= 31 bytes */
	int (*run)(void *ctx);
	bool (*undo)(void *ctx);
	unsigned when;
	unsigned also;
	bool commit;
};

struct luks_txn {
	int (*prepare)(void *ctx);	/* NULL: none; 0 or a negative errno (logged) */
	const char *what;	/* the verb, in messages: "enroll" */
	const char *committed;	/* what the commit step did: "the token was written" */
	const char *outcome;	/* what a finished run leaves: "the volume is bound" */
	const struct luks_step *steps;
	size_t n_steps;		/* <= LUKS_STEPS_MAX */
	bool commit_final;	/* a failure after the commit undoes nothing before it */
	/*
	 * NULL, or the NULL-ended names of the steps the verb runs itself after
	 * the table (reencrypt: the data pass and what follows it), which it
	 * hooks with luks_fail_at(): the runner's check of KMIPCRYPT_FAIL_AT
	 * counts them as steps of this run.
	 */
	const char *const *later;
};

/*
 * Run the steps of t selected by variant on device, each with ctx.  0 when
 * every step succeeded (possibly in spite of an interruption after the
 * commit), else the failing step's errno (-EIO injected, -EINTR a
 * termination request before the commit), everything undone that could be.
 */
int luks_steps_run(const struct luks_txn *t, const char *device, unsigned variant, void *ctx);

#endif
