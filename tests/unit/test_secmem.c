// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: util/secmem.  Wiping is observed through the wipe hook (reading
 * a block after secmem_free() would be a use after free), locking through
 * VmLck in /proc/self/status, what a forked child inherits in the child.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "util/secmem.h"

static unsigned hook_calls;
static size_t hook_bytes;
static bool hook_saw_nonzero;
static size_t blocks_before;

/*
 * ASan intercepts mlock() and makes it a no-op, so locking cannot be
 * observed (or made to fail) there; valgrind passes it through.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_OBSERVABLE 0
#else
#define MLOCK_OBSERVABLE 1
#endif

static void wipe_hook(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	hook_calls++;
	hook_bytes += len;
	for (i = 0; i < len; i++)
		if (b[i])
			hook_saw_nonzero = true;
}

static int setup(void **state)
{
	hook_calls = 0;
	hook_bytes = 0;
	hook_saw_nonzero = false;
	blocks_before = secmem_in_use(NULL);
	secmem_set_wipe_hook(wipe_hook);
	return 0;
}

static int teardown(void **state)
{
	secmem_set_wipe_hook(NULL);
	/* Every test frees what it allocates (a failed one may not: no cascade). */
	return secmem_in_use(NULL) == blocks_before ? 0 : -1;
}

/* VmLck of this process in kB, -1 if unknown. */
static long vm_locked_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void test_alloc_zeroed_and_sized(void **state)
{
	size_t sizes[] = { 0, 1, 15, 16, 4000, 4096, 100000 };
	size_t i, j, bytes;
	uint8_t *p;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p = secmem_alloc(sizes[i]);
		assert_non_null(p);
		/* Aligned like malloc(): uint64_t and long double fit. */
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_int_equal(secmem_size(p), sizes[i]);
		assert_int_equal(secmem_in_use(&bytes), 1);
		assert_int_equal(bytes, sizes[i]);
		for (j = 0; j < sizes[i]; j++)
			if (p[j])
				fail_msg("byte %zu of a %zu-byte block not zero", j, sizes[i]);
		memset(p, 0xa5, sizes[i]);
		secmem_free(p);
	}
	assert_int_equal(secmem_size(NULL), 0);
	secmem_free(NULL);
}

static void test_free_wipes(void **state)
{
	uint8_t *p = secmem_alloc(64);

	assert_non_null(p);
	memset(p, 0x5a, 64);
	secmem_free(p);
	assert_int_equal(hook_calls, 1);
	/* The whole usable area, not only the 64 bytes asked for. */
	assert_true(hook_bytes >= 64);
	assert_false(hook_saw_nonzero);
}

static void test_realloc_grow_copies(void **state)
{
	uint8_t *p, *q;
	size_t i;

	p = secmem_alloc(100);
	assert_non_null(p);
	for (i = 0; i < 100; i++)
		p[i] = (uint8_t)i;
	/* In place (same page). */
	q = secmem_realloc(p, 200);
	assert_non_null(q);
	assert_int_equal(secmem_size(q), 200);
	for (i = 0; i < 100; i++)
		assert_int_equal(q[i], (uint8_t)i);
	for (i = 100; i < 200; i++)
		assert_int_equal(q[i], 0);
	/* Past the mapping: must move, copy, and wipe the old block. */
	p = secmem_realloc(q, 3 * 4096 + 7);
	assert_non_null(p);
	assert_int_equal(secmem_size(p), 3 * 4096 + 7);
	for (i = 0; i < 100; i++)
		assert_int_equal(p[i], (uint8_t)i);
	for (i = 100; i < 3 * 4096 + 7; i++)
		if (p[i])
			fail_msg("grown byte %zu not zero", i);
	assert_true(hook_calls >= 1);
	assert_false(hook_saw_nonzero);
	secmem_free(p);
	assert_false(hook_saw_nonzero);
}

static void test_realloc_shrink_wipes_tail(void **state)
{
	uint8_t *p, *q;

	p = secmem_alloc(256);
	assert_non_null(p);
	memset(p, 0xff, 256);
	q = secmem_realloc(p, 16);
	assert_ptr_equal(p, q);
	assert_int_equal(secmem_size(q), 16);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_bytes, 240);
	assert_false(hook_saw_nonzero);
	/* Growing again must not resurrect the old bytes. */
	q = secmem_realloc(q, 256);
	assert_ptr_equal(p, q);
	assert_int_equal(q[16], 0);
	assert_int_equal(q[255], 0);
	assert_int_equal(q[0], 0xff);
	secmem_free(q);
	q = secmem_realloc(NULL, 10);
	assert_non_null(q);
	assert_int_equal(secmem_size(q), 10);
	secmem_free(q);
}

static void test_dup(void **state)
{
	char *s = secmem_dup("secret", 6);

	assert_non_null(s);
	assert_int_equal(secmem_size(s), 6);
	assert_string_equal(s, "secret");	/* NUL-terminated */
	secmem_free(s);
	s = secmem_dup(NULL, 0);
	assert_non_null(s);
	assert_int_equal(s[0], 0);
	secmem_free(s);
}

static void test_locked(void **state)
{
	long before, during, after;
	uint8_t *p;

	before = vm_locked_kb();
	if (before < 0 || !MLOCK_OBSERVABLE)
		skip();
	p = secmem_alloc(256 * 1024);
	/* Secrets only in locked memory: either locked, or no memory at all. */
	if (!p) {
		assert_true(errno == ENOMEM || errno == EPERM || errno == EAGAIN);
		return;
	}
	during = vm_locked_kb();
	assert_true(during >= before + 256);
	secmem_free(p);
	after = vm_locked_kb();
	assert_true(after <= during - 256);
}

static void test_lock_failure_fails(void **state)
{
	struct rlimit rl = { 0, 0 };
	pid_t pid;
	int status;

	if (!MLOCK_OBSERVABLE)
		skip();
	/*
	 * Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0, mlock() fails and so
	 * must the allocation.  Root keeps CAP_IPC_LOCK: test in a child that
	 * drops to nobody.
	 */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		void *p;

		if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
			_exit(2);
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		p = secmem_alloc(100);
		_exit(p == NULL && (errno == EPERM || errno == ENOMEM || errno == EAGAIN) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_harden(void **state)
{
	pid_t pid;
	int status;

	/* In a child: a non-dumpable test runner would upset sanitizers. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl;

		if (secmem_harden_process() < 0)
			_exit(1);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(2);
		if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur || rl.rlim_max)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_pointer_aborts(void **state)
{
	pid_t pid;
	int status;
	uint8_t *p;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		p = secmem_alloc(64);
		if (!p)
			_exit(1);
		/* A shifted pointer must not be munmap()ed blindly. */
		secmem_free(p + 16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* The page-aligned start of what p points into is mapped in this process. */
static bool mapped(const void *p)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char v;

	return mincore((void *)((uintptr_t)p & ~(page - 1)), 1, &v) == 0;
}

/* A child's exit status, failing the test on a signal (an abort above all). */
static int child_exit(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the child died by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * What a child that inherits a block may do with it: see that it holds
 * nothing, and release it without aborting (the reported case: the children
 * of `unlock --all` freed the configuration's key_password and aborted).
 * Returns the exit code for the child, 0 when every rule held.
 */
static int inherited_rules(uint8_t *p, size_t n, bool dontfork, size_t blocks)
{
	size_t i, page = (size_t)sysconf(_SC_PAGESIZE);

	if (dontfork) {
		if (mapped(p))
			return 2;	/* DONTFORK: the pages are not in the child at all */
	} else {
		for (i = 0; i < n; i++)
			if (p[i])
				return 3;	/* the secret crossed fork */
	}
	if (secmem_size(p) != 0)
		return 4;
	errno = 0;
	if (secmem_realloc(p, n + 1) != NULL || errno != EPERM)
		return 5;
	secmem_free(p);
	if (hook_calls != 0)
		return 6;	/* nothing of the parent's is "wiped" (or touched) here */
	if (secmem_in_use(NULL) != blocks)
		return 7;
	/* Released: the header page, and (WIPEONFORK) the data pages too. */
	if (mapped((uint8_t *)p - page) || (!dontfork && mapped(p)))
		return 8;
	return 0;
}

static void fork_and_free(bool dontfork)
{
	uint8_t *p;
	pid_t pid;
	size_t i;

	secmem_test_without_wipeonfork(dontfork);
	p = secmem_alloc(5000);
	secmem_test_without_wipeonfork(false);
	assert_non_null(p);
	memset(p, 0x5a, 5000);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(inherited_rules(p, 5000, dontfork, blocks_before));
	assert_int_equal(child_exit(pid), 0);
	/* The parent's block is whole and still its own. */
	assert_int_equal(secmem_size(p), 5000);
	for (i = 0; i < 5000; i++)
		if (p[i] != 0x5a)
			fail_msg("the parent's byte %zu changed", i);
	secmem_free(p);
	assert_int_equal(hook_calls, 1);
}

/* The reported case at its smallest: the child allocates nothing, only frees. */
static void test_fork_child_frees_quietly(void **state)
{
	char *pw = secmem_dup("key password", 12);
	pid_t pid;

	assert_non_null(pw);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (pw[0] != 0)
			_exit(2);	/* the secret crossed fork */
		secmem_free(pw);
		_exit(0);
	}
	assert_int_equal(child_exit(pid), 0);
	assert_string_equal(pw, "key password");
	secmem_free(pw);
}

static void test_fork_wipeonfork(void **state)
{
	fork_and_free(false);
}

/* Kernels before 4.14: the data pages are MADV_DONTFORK, a hole in the child. */
static void test_fork_dontfork(void **state)
{
	fork_and_free(true);
}

/* A grandchild too; and a child's own blocks are its own (wiped, locked). */
static void test_fork_generations(void **state)
{
	uint8_t *p = secmem_alloc(64);
	pid_t pid;

	assert_non_null(p);
	memset(p, 0x77, 64);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t *mine = secmem_alloc(64);
		pid_t g;
		int status;

		if (!mine)
			_exit(10);
		memset(mine, 0x33, 64);
		g = fork();
		if (g < 0)
			_exit(11);
		if (g == 0) {
			/* Neither the grandparent's block nor the parent's crossed. */
			if (mine[0] || secmem_size(mine) != 0)
				_exit(12);
			secmem_free(mine);
			_exit(inherited_rules(p, 64, false, blocks_before));
		}
		if (waitpid(g, &status, 0) != g || !WIFEXITED(status))
			_exit(13);
		if (WEXITSTATUS(status))
			_exit(WEXITSTATUS(status));
		/* The child's own block: intact, then wiped on free. */
		if (mine[63] != 0x33 || secmem_size(mine) != 64)
			_exit(14);
		hook_calls = 0;
		hook_saw_nonzero = false;
		secmem_free(mine);
		if (hook_calls != 1 || hook_saw_nonzero)
			_exit(15);
		hook_calls = 0;
		_exit(inherited_rules(p, 64, false, blocks_before));
	}
	assert_int_equal(child_exit(pid), 0);
	assert_int_equal(p[0], 0x77);
	secmem_free(p);
}

/* free() after corrupt() aborts, in the owner and in a child that inherited the block. */
static void expect_abort(void (*corrupt)(uint8_t *p), bool in_child)
{
	pid_t pid;
	int status;
	uint8_t *p;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		p = secmem_alloc(64);
		if (!p)
			_exit(1);
		if (in_child) {
			pid_t c = fork();

			if (c < 0)
				_exit(1);
			if (c > 0)
				_exit(waitpid(c, &status, 0) == c && WIFSIGNALED(status) &&
				      WTERMSIG(status) == SIGABRT ? 0 : 2);
		}
		corrupt(p);
		secmem_free(p);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (in_child) {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	} else {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGABRT);
	}
}

/* What MADV_WIPEONFORK would do to a header kept in the block's own pages. */
static void zero_header(uint8_t *p)
{
	memset(p - 32, 0, 32);
}

/* An underflow of one byte. */
static void underflow(uint8_t *p)
{
	p[-1] ^= 1;
}

/* The owner's pid (it sits in the header, not at a known offset): every word. */
static void other_owner(uint8_t *p)
{
	pid_t me = getpid();
	size_t i;

	for (i = 0; i + sizeof(me) <= 32; i += sizeof(me))
		if (!memcmp(p - 32 + i, &me, sizeof(me)))
			memset(p - 32 + i, 0, sizeof(me));
}

static void test_corrupt_header_aborts(void **state)
{
	expect_abort(zero_header, false);
	expect_abort(underflow, false);
	expect_abort(other_owner, false);
	expect_abort(zero_header, true);
	expect_abort(underflow, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alloc_zeroed_and_sized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_wipes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_realloc_grow_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_realloc_shrink_wipes_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_failure_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_harden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_pointer_aborts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_child_frees_quietly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_wipeonfork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_dontfork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_generations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_header_aborts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
