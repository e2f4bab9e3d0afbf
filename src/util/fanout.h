/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Independent jobs in forked children, a few at a time, each handed at most
 * one secret: for work that gains from running at once where threads are not
 * safe (libcryptsetup activates through libdevmapper, which is not
 * thread-safe).
 *
 * Each job runs in a child of its own, forked when fewer than width are
 * running.  The child gets the job's secret through a hand-over
 * (util/secmem.h: never by inheritance; every other secret reads as zeros in
 * it), calls work() and sends the parent the job's result, result_len bytes
 * in one write on a pipe (so no secret: a result is not wiped), then
 * _exit()s: no atexit handler, no flush of an inherited stdio buffer, no
 * close of an inherited connection (a TLS session of the parent stays the
 * parent's).  Each child's standard output and error are the parent's; the
 * parent flushes its stdio before each fork.
 *
 * A job's state afterwards:
 *   FANOUT_ANSWERED  its child sent its result
 *   FANOUT_DIED      its child ended without a result (killed, crashed):
 *                    wstatus says how; whatever the job had done stays done
 *   FANOUT_NOT_RUN   it was not started: err says why (fork, pipe, locked
 *                    memory).  After the first job that cannot be started
 *                    no other is; the caller may do these itself.
 *
 * Waits for every child it started before it returns, without a time limit
 * (the work bounds its own time); a signal that interrupts the wait is
 * retried.  It waits only for its own children, by PID.  Programs only: not
 * from the token plugin (a library in someone else's process) nor from a
 * thread, and not while the caller has a SIGCHLD handler that reaps.
 */
#ifndef KMIPCRYPT_FANOUT_H
#define KMIPCRYPT_FANOUT_H

#include <stddef.h>

enum fanout_state { FANOUT_NOT_RUN = 0, FANOUT_ANSWERED, FANOUT_DIED };

struct fanout_job {
	const void *secret;	/* in: the parent's copy (locked memory) or NULL */
	size_t secret_len;
	void *result;		/* in: result_len bytes, written with the child's answer */
	enum fanout_state state;	/* out */
	int err;		/* out: FANOUT_NOT_RUN: -errno of what failed, 0 if no start was tried */
	int wstatus;		/* out: FANOUT_DIED: the child's wait status */
};

/*
 * In the child: job i's work, with its secret (NULL if none; the child's
 * own locked block, which work() must secmem_free()), filling result.
 * secret is also NULL, and len 0, if the hand-over could not be taken
 * (errno set): work() reports that in result.
 */
typedef void fanout_work_fn(size_t i, void *secret, size_t len, void *result, void *ctx);

/*
 * Run jobs[0..n) with at most width children at once (width 0 is 1).
 * 0, or -EINVAL (result_len is 0 or more than PIPE_BUF); the outcome of
 * each job is in its state.
 */
int fanout_run(struct fanout_job *jobs, size_t n, size_t result_len, unsigned width,
	       fanout_work_fn *work, void *ctx);

/* The number of CPUs this process may run on (its affinity mask), at least 1. */
unsigned fanout_cpus(void);

#endif
