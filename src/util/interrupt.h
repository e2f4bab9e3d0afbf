/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Termination requests (SIGINT, SIGTERM, SIGHUP) during a command that
 * changes a LUKS2 header or the KMS.  Instead of dying between two steps,
 * the process records the request; the command checks interrupt_pending()
 * between its steps and undoes what it did (or, past its point of no
 * return, finishes), and then ends as the signal would have ended it.
 *
 *   interrupt_catch()    install the handlers (idempotent); a signal that was
 *                        ignored when the process started (nohup, a shell's
 *                        background job) stays ignored.  No SA_RESTART:
 *                        a blocking read() or poll() returns EINTR, so a
 *                        prompt can give up at once.  The first signal
 *                        writes one line to stderr saying what happens now;
 *                        a second one says that the undo goes on (SIGKILL
 *                        is the only way to stop it, and leaves at most what
 *                        each command documents).
 *   interrupt_pending()  the first signal received since interrupt_catch(),
 *                        or 0.  Async-signal-safe.
 *   interrupt_release(reraise)
 *                        the earlier dispositions back; with reraise, and a
 *                        signal recorded, raise it again so that the
 *                        process ends as that signal ends it (a shell sees
 *                        128 + N): for a command that gave up and undid
 *                        (it returned -EINTR).  A command that finished
 *                        anyway (past its point of no return), or failed
 *                        for another reason, keeps the handlers until the
 *                        process exits: a signal that comes after the work
 *                        is done must not kill it before it reports (a
 *                        bound volume with exit 130).  reraise false is for
 *                        code that caught only for a while (the prompt).
 *                        Call it after the command's own cleanup.
 *   interrupt_caught()   are the handlers installed (interrupt_catch() and no
 *                        interrupt_release() since)?  For code that catches
 *                        on its own only when its caller did not, and then
 *                        releases (and re-raises) itself.
 *   interrupt_wait_readable(fd)
 *                        wait until fd can be read without blocking, or a
 *                        termination request is pending: 1, or -EINTR, or
 *                        another negative errno.  No window between the
 *                        check and the wait (the signals stay blocked until
 *                        ppoll() unblocks them atomically), so a signal that
 *                        comes just before the wait still ends it.  Needs
 *                        interrupt_catch().
 *
 * Process-wide state: for programs (the CLI), never for the token plugin
 * (a library inside someone else's process) nor from threads.
 */
#ifndef KMIPCRYPT_INTERRUPT_H
#define KMIPCRYPT_INTERRUPT_H

#include <stdbool.h>

int interrupt_catch(void);
int interrupt_pending(void);
void interrupt_release(bool reraise);
bool interrupt_caught(void);
int interrupt_wait_readable(int fd);

#endif
