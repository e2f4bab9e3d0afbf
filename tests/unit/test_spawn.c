// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: util/spawn.  Real programs (/bin/true, /bin/sh, /bin/grep)
 * are started and their exit status is what is checked: each property of
 * the child is a shell test that exits non-zero when it does not hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "util/spawn.h"

/* Run argv with envp; return its wait status. */
static int run(const char *const argv[], const char *const envp[])
{
	pid_t pid;
	int status = -1;

	assert_int_equal(spawn_start(argv, envp, &pid), 0);
	assert_true(pid > 0);
	assert_int_equal(spawn_wait(pid, &status), 0);
	return status;
}

/* The exit code of /bin/sh -c script (with $1 = arg if not NULL); fails on a signal. */
static int sh(const char *script, const char *arg, const char *const envp[])
{
	const char *argv[] = { "/bin/sh", "-c", script, "sh", arg, NULL };
	int status = run(argv, envp);

	if (!WIFEXITED(status))
		fail_msg("/bin/sh -c '%s' did not exit (status 0x%x)", script, status);
	return WEXITSTATUS(status);
}

/* No child of this test is left (started and not waited for). */
static void assert_no_child(void)
{
	int status;

	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_exit_status(void **state)
{
	const char *yes[] = { "/bin/true", NULL };
	const char *no[] = { "/bin/false", NULL };
	int status;

	status = run(yes, NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	status = run(no, NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_int_equal(sh("exit 3", NULL, NULL), 3);
	assert_int_equal(sh("exit 255", NULL, NULL), 255);
	assert_no_child();
}

static void test_refused(void **state)
{
	const char *relative[] = { "true", NULL };
	const char *empty[] = { NULL };
	const char *yes[] = { "/bin/true", NULL };
	const char *bad_env[] = { "NOEQUALS", NULL };
	const char *bad_env2[] = { "=x", NULL };
	pid_t pid = 1;

	/* No $PATH lookup: a relative name is refused, not searched. */
	assert_int_equal(spawn_start(relative, NULL, &pid), -EINVAL);
	assert_int_equal(pid, -1);
	assert_int_equal(spawn_start(empty, NULL, &pid), -EINVAL);
	assert_int_equal(spawn_start(NULL, NULL, &pid), -EINVAL);
	assert_int_equal(spawn_start(yes, bad_env, &pid), -EINVAL);
	assert_int_equal(spawn_start(yes, bad_env2, &pid), -EINVAL);
	assert_no_child();
}

static void test_cannot_exec(void **state)
{
	const char *missing[] = { "/nonexistent/kmipcrypt-no-such-program", NULL };
	const char *dir[] = { "/", NULL };
	pid_t pid = 1;
	int r, status;

	/*
	 * glibc reports the failed execve() from posix_spawn() and reaps the
	 * child.  Valgrind turns the shared-memory clone into a fork, so there
	 * the failure shows as a child that exits 127 instead: either way, no
	 * child is left and nothing ran.
	 */
	r = spawn_start(missing, NULL, &pid);
	if (r == 0) {
		assert_int_equal(spawn_wait(pid, &status), 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 127);
	} else {
		assert_int_equal(r, -ENOENT);
		assert_int_equal(pid, -1);
	}
	r = spawn_start(dir, NULL, &pid);
	if (r == 0) {
		assert_int_equal(spawn_wait(pid, &status), 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 127);
	} else {
		assert_int_equal(r, -EACCES);
	}
	assert_no_child();
}

static void test_environment_and_arguments(void **state)
{
	const char *env[] = { "KMIPCRYPT_DEVICE=/dev/x y;$(id)`id`", "KMIPCRYPT_STATE=Deactivated", NULL };

	/* Nothing of this process's environment is passed on. */
	assert_int_equal(setenv("KMIPCRYPT_SPAWN_LEAK", "1", 1), 0);
	assert_int_equal(sh("test -z \"${KMIPCRYPT_SPAWN_LEAK+set}\" && test -z \"${HOME+set}\"",
			    NULL, NULL), 0);
	/* Exactly what was given, as one string each: nothing is interpolated. */
	assert_int_equal(sh("test \"$KMIPCRYPT_DEVICE\" = '/dev/x y;$(id)`id`' && "
			    "test \"$KMIPCRYPT_STATE\" = Deactivated", NULL, env), 0);
	assert_int_equal(sh("test $# = 1 && test \"$1\" = 'a b;$(id)'", "a b;$(id)", NULL), 0);
	unsetenv("KMIPCRYPT_SPAWN_LEAK");
}

static void test_descriptors(void **state)
{
	int fds[2];

	/* Inheritable descriptors (no O_CLOEXEC) and a close-on-exec one: none reaches the child. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(dup2(fds[0], 50), 50);
	assert_int_equal(dup2(fds[1], 51), 51);
	assert_int_equal(fcntl(fds[0], F_DUPFD_CLOEXEC, 52), 52);
	assert_int_equal(sh("test ! -e /proc/self/fd/50 && test ! -e /proc/self/fd/51 && "
			    "test ! -e /proc/self/fd/52", NULL, NULL), 0);
	/* Standard input is /dev/null; standard output and error are this process's. */
	assert_int_equal(sh("test \"$(readlink /proc/self/fd/0)\" = /dev/null && "
			    "test -e /proc/self/fd/1 && test -e /proc/self/fd/2", NULL, NULL), 0);
	close(50);
	close(51);
	close(52);
	close(fds[0]);
	close(fds[1]);
}

static void test_signals(void **state)
{
	/*
	 * Signals 1 to 31 (glibc's posix_spawn leaves its own internal ones,
	 * 32 and 33, ignored; every program's libc sets them up again).
	 */
	static const char *const classic =
		"while read -r k v; do case $k in SigBlk:|SigIgn:) "
		"test $((0x$v & 0x7fffffff)) = 0 || exit 1;; esac; done </proc/self/status";
	struct sigaction ign_term = { .sa_handler = SIG_IGN }, old_term, old_pipe;
	sigset_t set, old_mask;
	int status;

	/* As a daemon with signalfd does: signals blocked, SIGPIPE and SIGTERM ignored. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	assert_int_equal(sigprocmask(SIG_BLOCK, &set, &old_mask), 0);
	assert_int_equal(sigaction(SIGTERM, &ign_term, &old_term), 0);
	assert_int_equal(sigaction(SIGPIPE, &ign_term, &old_pipe), 0);

	/* Nothing blocked, nothing ignored. */
	assert_int_equal(sh(classic, NULL, NULL), 0);
	/* So a command can be stopped: SIGTERM kills it. */
	{
		const char *argv[] = { "/bin/sh", "-c", "kill -TERM $$; exit 0", NULL };

		status = run(argv, NULL);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGTERM);
	}
	/* Its own process group. */
	assert_int_equal(sh("read -r pid comm st ppid pgid rest </proc/$$/stat && test \"$pgid\" = $$",
			    NULL, NULL), 0);

	assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
	assert_int_equal(sigaction(SIGTERM, &old_term, NULL), 0);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_cannot_exec),
		cmocka_unit_test(test_environment_and_arguments),
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
