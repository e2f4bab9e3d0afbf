// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: luks/steps (the runner of named steps with undo that enroll
 * and rekey use).  A table of steps that record what they did;
 * failures, the test hook KMIPCRYPT_FAIL_AT and termination requests
 * (util/interrupt.h, real signals raised in this process) at each point
 * that matters; the messages are captured with a log sink.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "luks/luks.h"
#include "luks/steps.h"
#include "util/interrupt.h"
#include "util/log.h"

/* ---- log capture --------------------------------------------------- */

static char logbuf[16384];
static size_t loglen;

static void sink(enum log_level lvl, const char *msg, void *ctx)
{
	int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);

	fprintf(stderr, "  log<%d> %s\n", (int)lvl, msg);
	if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
		loglen += (size_t)n;
}

static unsigned logged(const char *s)
{
	unsigned n = 0;

	for (const char *p = logbuf; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

/* ---- a table that records what it does ----------------------------- */

struct trace {
	char done[512];		/* "run:a undo:a ..." */
	bool prepare_fails;	/* prepare fails (-ENOENT) */
	const char *fail;	/* this step's run fails (-EPERM) */
	const char *undo_fails;	/* this step's undo fails */
	const char *raise_in;	/* this step's run raises SIGINT (a request while it runs) */
};

static void note(struct trace *t, const char *what, const char *name)
{
	size_t n = strlen(t->done);

	snprintf(t->done + n, sizeof(t->done) - n, "%s%s:%s", n ? " " : "", what, name);
}

static int do_run(void *ctx, const char *name)
{
	struct trace *t = ctx;

	if (t->fail && !strcmp(t->fail, name)) {
		note(t, "fail", name);
		return log_error_errno(-EPERM, "step %s: the test's failure", name);
	}
	if (t->raise_in && !strcmp(t->raise_in, name))
		raise(SIGINT);
	note(t, "run", name);
	return 0;
}

static bool do_undo(void *ctx, const char *name)
{
	struct trace *t = ctx;
	bool ok = !(t->undo_fails && !strcmp(t->undo_fails, name));

	note(t, ok ? "undo" : "undo-failed", name);
	return ok;
}

#define STEP(n) \
	static int run_##n(void *c) { return do_run(c, #n); } \
	static bool __attribute__((unused)) undo_##n(void *c) { return do_undo(c, #n); }
STEP(one)
STEP(two)
STEP(three)
STEP(commit)
STEP(after)
STEP(last)

#define V_A	1u
#define V_B	2u

static const struct luks_step table[] = {
	{ .name = "one",    .run = run_one,    .undo = undo_one },
	{ .name = "two",    .run = run_two,    .when = V_A },	/* nothing to undo */
	{ .name = "three",  .run = run_three,  .undo = undo_three, .when = V_B },
	{ .name = "commit", .run = run_commit, .undo = undo_commit, .commit = true },
	{ .name = "after",  .run = run_after },
	{ .name = "last",   .run = run_last,   .undo = undo_last },
};

static const struct luks_txn txn = {
	.what = "frob",
	.committed = "the frob was written",
	.outcome = "the thing is frobbed",
	.steps = table,
	.n_steps = sizeof(table) / sizeof(table[0]),
};

static int prepare(void *ctx)
{
	struct trace *t = ctx;

	note(t, "prepare", t->prepare_fails ? "failed" : "ok");
	return t->prepare_fails ? log_error_errno(-ENOENT, "the test's prepare failure") : 0;
}

static const struct luks_txn txn_prepared = {
	.prepare = prepare,
	.what = "frob",
	.committed = "the frob was written",
	.outcome = "the thing is frobbed",
	.steps = table,
	.n_steps = sizeof(table) / sizeof(table[0]),
};

static int setup(void **state)
{
	logbuf[0] = '\0';
	loglen = 0;
	log_set_sink(sink, NULL);
	unsetenv(LUKS_FAIL_AT_ENV);
	return 0;
}

static int teardown(void **state)
{
	interrupt_release(false);	/* forget any request, restore the dispositions */
	unsetenv(LUKS_FAIL_AT_ENV);
	log_set_sink(NULL, NULL);
	return 0;
}

/* ---- tests ---------------------------------------------------------- */

static void test_order_and_variant(void **state)
{
	struct trace a = { 0 }, b = { 0 };

	assert_int_equal(luks_steps_run(&txn, "dev", V_A, &a), 0);
	assert_string_equal(a.done, "run:one run:two run:commit run:after run:last");
	assert_int_equal(luks_steps_run(&txn, "dev", V_B, &b), 0);
	assert_string_equal(b.done, "run:one run:three run:commit run:after run:last");
	assert_int_equal(logged("frob"), 0);	/* nothing to say */
}

/* A failure, also after the commit, undoes every step done, last first, once each. */
static void test_failure_undoes_in_reverse(void **state)
{
	struct trace t = { .fail = "last" };

	assert_int_equal(luks_steps_run(&txn, "dev", V_B, &t), -EPERM);
	assert_string_equal(t.done, "run:one run:three run:commit run:after fail:last "
			    "undo:commit undo:three undo:one");
	assert_int_equal(logged("dev: frob failed at step 'last'; everything done before was "
				"undone: the volume and the KMS are as they were"), 1);
}

static void test_first_step_fails(void **state)
{
	struct trace t = { .fail = "one" };

	assert_int_equal(luks_steps_run(&txn, "dev", V_A, &t), -EPERM);
	assert_string_equal(t.done, "fail:one");
	assert_int_equal(logged("frob failed at step 'one'; everything done before was undone"), 1);
}

/* An undo that fails does not stop the others; the summary says so. */
static void test_undo_failure(void **state)
{
	struct trace t = { .fail = "after", .undo_fails = "commit" };

	assert_int_equal(luks_steps_run(&txn, "dev", V_B, &t), -EPERM);
	assert_string_equal(t.done, "run:one run:three run:commit fail:after "
			    "undo-failed:commit undo:three undo:one");
	assert_int_equal(logged("dev: frob failed at step 'after', and NOT everything could be "
				"undone (see above)"), 1);
	assert_int_equal(logged("everything done before was undone"), 0);
}

static void test_hook_failure(void **state)
{
	struct trace t = { 0 };

	setenv(LUKS_FAIL_AT_ENV, "three", 1);
	assert_int_equal(luks_steps_run(&txn, "dev", V_B, &t), -EIO);
	assert_string_equal(t.done, "run:one undo:one");
	assert_int_equal(logged("test hook KMIPCRYPT_FAIL_AT=three is set: this run will fail "
				"at that step"), 1);
	assert_int_equal(logged("injecting a failure at step 'three'"), 1);
	assert_int_equal(logged("dev: step 'three' failed (injected)"), 1);
	assert_int_equal(logged("frob failed at step 'three'; everything done before was undone"), 1);
}

/* The hook names steps of this run only: "two" is not one with variant V_B. */
static void test_hook_names_no_step(void **state)
{
	struct trace t = { 0 };

	setenv(LUKS_FAIL_AT_ENV, "two", 1);
	assert_int_equal(luks_steps_run(&txn, "dev", V_B, &t), 0);
	assert_string_equal(t.done, "run:one run:three run:commit run:after run:last");
	assert_int_equal(logged("KMIPCRYPT_FAIL_AT=two names no step of this command; ignored"), 1);
	setenv(LUKS_FAIL_AT_ENV, "one:SIGSTOP", 1);
	assert_int_equal(luks_steps_run(&txn, "dev", V_B, &t), 0);
	assert_int_equal(logged("(or no signal of SIGINT, SIGTERM, SIGHUP, SIGKILL); ignored"), 1);
}

/* Before the commit a request stops the run at the next step, and all is undone. */
static void test_interrupt_before_commit(void **state)
{
	struct trace t = { 0 };

	assert_int_equal(interrupt_catch(), 0);
	setenv(LUKS_FAIL_AT_ENV, "commit:SIGTERM", 1);
	assert_int_equal(luks_steps_run(&txn, "dev", V_A, &t), -EINTR);
	assert_int_equal(interrupt_pending(), SIGTERM);
	assert_string_equal(t.done, "run:one run:two undo:one");
	assert_int_equal(logged("raising SIGTERM at step 'commit'"), 1);
	assert_int_equal(logged("dev: frob interrupted (SIGTERM) at step 'commit'; undone: "
				"everything done before it; the volume and the KMS are as they "
				"were"), 1);
}

/* A request that comes while the commit step runs: the run finishes, said once, and at the end. */
static void test_interrupt_after_commit(void **state)
{
	struct trace t = { .raise_in = "commit" };

	assert_int_equal(interrupt_catch(), 0);
	assert_int_equal(luks_steps_run(&txn, "dev", V_B, &t), 0);
	assert_int_equal(interrupt_pending(), SIGINT);
	assert_string_equal(t.done, "run:one run:three run:commit run:after run:last");
	assert_int_equal(logged("dev: interrupted (SIGINT) after the frob was written: finishing "
				"the frob (a working binding is not undone)"), 1);
	assert_int_equal(logged("dev: frob finished in spite of the interruption: the thing is "
				"frobbed"), 1);
}

/* After the commit a failure is still undone in full, and the request changes nothing of that. */
static void test_interrupt_then_failure_after_commit(void **state)
{
	struct trace t = { .fail = "last" };

	assert_int_equal(interrupt_catch(), 0);
	setenv(LUKS_FAIL_AT_ENV, "after:SIGHUP", 1);
	assert_int_equal(luks_steps_run(&txn, "dev", V_A, &t), -EPERM);
	assert_string_equal(t.done, "run:one run:two run:commit run:after fail:last "
			    "undo:commit undo:one");
	assert_int_equal(logged("finishing the frob"), 1);
	assert_int_equal(logged("frob failed at step 'last'; everything done before was undone"), 1);
	assert_int_equal(logged("in spite of"), 0);
}

/* Prepare changes nothing: its failure is its own, with no summary; then the steps. */
static void test_prepare(void **state)
{
	struct trace ok = { 0 }, bad = { .prepare_fails = true };

	setenv(LUKS_FAIL_AT_ENV, "one", 1);
	assert_int_equal(luks_steps_run(&txn_prepared, "dev", V_A, &bad), -ENOENT);
	assert_string_equal(bad.done, "prepare:failed");
	assert_int_equal(logged("is set: this run will fail at that step"), 1);	/* said before */
	assert_int_equal(logged("frob"), 0);
	unsetenv(LUKS_FAIL_AT_ENV);
	assert_int_equal(luks_steps_run(&txn_prepared, "dev", V_A, &ok), 0);
	assert_string_equal(ok.done, "prepare:ok run:one run:two run:commit run:after run:last");
}

/* A request during prepare stops the run at the first step, before it changes anything. */
static void test_interrupt_in_prepare(void **state)
{
	struct trace t = { 0 };

	assert_int_equal(interrupt_catch(), 0);
	raise(SIGHUP);
	assert_int_equal(luks_steps_run(&txn_prepared, "dev", V_A, &t), -EINTR);
	assert_string_equal(t.done, "prepare:ok");
	assert_int_equal(logged("dev: frob interrupted (SIGHUP) at step 'one'; undone: everything "
				"done before it"), 1);
}

/* .also: a second condition, both must hold (a phase in when, a kind in also). */
static const struct luks_step table_also[] = {
	{ .name = "one",   .run = run_one },
	{ .name = "two",   .run = run_two,   .when = V_A, .also = V_B },
	{ .name = "three", .run = run_three, .also = V_B },
};

static const struct luks_txn txn_also = {
	.what = "frob", .committed = "x", .outcome = "y",
	.steps = table_also, .n_steps = sizeof(table_also) / sizeof(table_also[0]),
};

static void test_also(void **state)
{
	struct trace a = { 0 }, b = { 0 }, ab = { 0 };

	assert_int_equal(luks_steps_run(&txn_also, "dev", V_A, &a), 0);
	assert_string_equal(a.done, "run:one");
	assert_int_equal(luks_steps_run(&txn_also, "dev", V_B, &b), 0);
	assert_string_equal(b.done, "run:one run:three");
	assert_int_equal(luks_steps_run(&txn_also, "dev", V_A | V_B, &ab), 0);
	assert_string_equal(ab.done, "run:one run:two run:three");
	/* the hook knows which steps a run has */
	setenv(LUKS_FAIL_AT_ENV, "two", 1);
	assert_int_equal(luks_steps_run(&txn_also, "dev", V_A, &a), 0);
	assert_int_equal(logged("KMIPCRYPT_FAIL_AT=two names no step of this command; ignored"), 1);
}

/* A final commit: a failure after it undoes the steps after it only, and says the commit stays. */
static const struct luks_txn txn_final = {
	.what = "frob",
	.committed = "the frob was written",
	.outcome = "the thing is frobbed",
	.steps = table,
	.n_steps = sizeof(table) / sizeof(table[0]),
	.commit_final = true,
};

static void test_commit_final(void **state)
{
	struct trace t = { .fail = "last" }, u = { .fail = "three" }, h = { 0 };

	assert_int_equal(luks_steps_run(&txn_final, "dev", V_B, &t), -EPERM);
	assert_string_equal(t.done, "run:one run:three run:commit run:after fail:last");
	assert_int_equal(logged("dev: frob failed at step 'last', after the frob was written: that "
				"is kept (the thing is frobbed)"), 1);
	assert_int_equal(logged("everything done before was undone"), 0);
	/* before the commit: undone as ever */
	assert_int_equal(luks_steps_run(&txn_final, "dev", V_B, &u), -EPERM);
	assert_string_equal(u.done, "run:one fail:three undo:one");
	/* the hook's failure after the commit: the same */
	setenv(LUKS_FAIL_AT_ENV, "last", 1);
	assert_int_equal(luks_steps_run(&txn_final, "dev", V_A, &h), -EIO);
	assert_string_equal(h.done, "run:one run:two run:commit run:after");
	assert_int_equal(logged("frob failed at step 'last', after the frob was written"), 2);
}

/* STEP:STOP stops the process at the start of the step; continued, the run goes on. */
static void test_hook_stop(void **state)
{
	int status = 0;
	pid_t pid;

	setenv(LUKS_FAIL_AT_ENV, "commit:STOP", 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct trace t = { 0 };
		int r = luks_steps_run(&txn, "dev", V_A, &t);

		_exit(r == 0 && !strcmp(t.done, "run:one run:two run:commit run:after run:last") ?
		      0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(WSTOPSIG(status), SIGSTOP);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* "SIGSTOP" is not the spelling: named no step, ignored */
	setenv(LUKS_FAIL_AT_ENV, "commit:SIGSTOP", 1);
	{
		struct trace t = { 0 };

		assert_int_equal(luks_steps_run(&txn, "dev", V_A, &t), 0);
	}
}

/* A signal ignored when the process started (nohup) stays ignored: it is not ours to catch. */
static void test_ignored_signal_stays_ignored(void **state)
{
	struct sigaction sa;

	signal(SIGHUP, SIG_IGN);
	assert_int_equal(interrupt_catch(), 0);
	assert_int_equal(sigaction(SIGHUP, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_IGN);
	assert_int_equal(sigaction(SIGINT, NULL, &sa), 0);
	assert_ptr_not_equal(sa.sa_handler, SIG_DFL);	/* the others are caught */
	interrupt_release(false);
	signal(SIGHUP, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ignored_signal_stays_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_variant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_undoes_in_reverse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_step_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_names_no_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_then_failure_after_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prepare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_in_prepare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_also, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_final, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_stop, setup, teardown),
	};

	/*
	 * The tests raise SIGINT, SIGTERM and SIGHUP: whatever the run inherited
	 * (under nohup SIGHUP is ignored, and interrupt_catch() leaves an
	 * ignored signal alone), they start from the default dispositions.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
