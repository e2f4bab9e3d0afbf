/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running another program: the one way kmipcrypt starts one (the daemon's
 * exec action, any hook to come).  What the child gets, and only that:
 *
 *   - argv as given, argv[0] an absolute path: no shell, no $PATH lookup,
 *     nothing interpolated (a server-supplied string passed as an argument
 *     or in the environment stays one string, whatever it contains);
 *   - envp as given ("NAME=value" strings; NULL: empty): nothing of this
 *     process's environment is passed on;
 *   - standard input from /dev/null, this process's standard output and
 *     error, and no other descriptor, close-on-exec or not;
 *   - an empty signal mask and every signal at its default action (a daemon
 *     blocks signals for signalfd and ignores SIGPIPE; its commands must
 *     not inherit that);
 *   - a process group of its own (kill(-pid, ...) stops it and what it
 *     started).
 *
 * It is made with posix_spawn(): glibc clones the process sharing its memory
 * (CLONE_VM | CLONE_VFORK) and runs only its own async-signal-safe set-up
 * before execve().  No copy of this process's memory, so of no secret,
 * exists in the child at any time, no pthread_atfork() handler runs, and
 * nothing in util/secmem.h is touched in the child (see its rule on fork).
 * A program that cannot be executed is reported by spawn_start() itself,
 * with no child left behind.
 *
 * Nothing is logged: the caller knows what the program was for.
 */
#ifndef KMIPCRYPT_SPAWN_H
#define KMIPCRYPT_SPAWN_H

#include <sys/types.h>

/*
 * Start argv[0] with arguments argv (NULL-terminated) and environment envp.
 * 0 and *pid, or -errno: -EINVAL (not an absolute path, an environment
 * string without '='), or why it could not run (-ENOENT, -EACCES,
 * -ENOEXEC, -EAGAIN, ...).
 */
int spawn_start(const char *const argv[], const char *const envp[], pid_t *pid);

/*
 * Wait until child pid ends (EINTR is retried): 0 and its wait status in
 * *status (WIFEXITED(), WEXITSTATUS(), WIFSIGNALED(), ...), or -errno.
 */
int spawn_wait(pid_t pid, int *status);

#endif
