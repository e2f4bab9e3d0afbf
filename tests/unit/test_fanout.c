// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: util/fanout and secmem's hand-over.  Real children: each job
 * reports from inside its child what it saw (its secret, the parent's other
 * secrets, the shared mappings it holds), and the parent checks it.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "util/fanout.h"
#include "util/secmem.h"

#define JOBS 6

struct seen {
	char secret[32];	/* what the child was handed (a test may look at it) */
	size_t len;
	int took_errno;		/* errno when no secret came */
	pid_t pid;
	int others_visible;	/* the parent's secrets that read as non-zero here */
	int shared_maps;	/* shared anonymous mappings in the child (hand-overs) */
	int met;		/* rendezvous: 1 if the partner ran at the same time */
};

struct ctx {
	void *secrets[JOBS];	/* the parent's blocks */
	int *running, *most;	/* shared counters */
	int rv[2][2];		/* rendezvous pipes of jobs 0 and 1 */
	bool rendezvous;
	int die;		/* job that dies: 1 by SIGKILL, 2 by _exit(3) without answering */
	int base_maps;		/* shared_maps() of the parent (the counters) */
};

/* Shared anonymous mappings: "/dev/zero (deleted)" in /proc/self/maps. */
static int shared_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/dev/zero (deleted)"))
			n++;
	fclose(f);
	return n;
}

/* Jobs 0 and 1 each say "here" and wait for the other (up to 10 s). */
static int meet(struct ctx *c, size_t i)
{
	struct pollfd p = { .fd = c->rv[1 - i][0], .events = POLLIN };
	char b = 'x';

	if (write(c->rv[i][1], &b, 1) != 1)
		return 0;
	return poll(&p, 1, 10000) == 1 && read(p.fd, &b, 1) == 1;
}

static void work(size_t i, void *secret, size_t len, void *result, void *ctxp)
{
	struct ctx *c = ctxp;
	struct seen *s = result;
	size_t j, k;
	int now;

	memset(s, 0, sizeof(*s));
	s->pid = getpid();
	now = __atomic_add_fetch(c->running, 1, __ATOMIC_SEQ_CST);
	for (k = __atomic_load_n(c->most, __ATOMIC_SEQ_CST); (int)k < now;
	     k = __atomic_load_n(c->most, __ATOMIC_SEQ_CST))
		__atomic_compare_exchange_n(c->most, (int *)&k, now, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
	if (secret) {
		s->len = len < sizeof(s->secret) ? len : sizeof(s->secret) - 1;
		memcpy(s->secret, secret, s->len);
		secmem_free(secret);
	} else {
		s->took_errno = errno;
	}
	for (j = 0; j < JOBS; j++) {
		const uint8_t *b = c->secrets[j];

		for (k = 0; b && k < 8; k++)
			if (b[k]) {
				s->others_visible++;
				break;
			}
	}
	s->shared_maps = shared_maps() - c->base_maps;
	if (c->rendezvous && i < 2)
		s->met = meet(c, i);
	__atomic_sub_fetch(c->running, 1, __ATOMIC_SEQ_CST);
	if (c->die == 1 && i == 1)
		kill(getpid(), SIGKILL);
	if (c->die == 2 && i == 2)
		_exit(3);
}

static void setup_ctx(struct ctx *c, struct fanout_job *jobs, struct seen *seen)
{
	char buf[32];
	size_t i;

	memset(c, 0, sizeof(*c));
	c->running = mmap(NULL, 2 * sizeof(int), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(c->running != MAP_FAILED);
	c->most = c->running + 1;
	c->base_maps = shared_maps();
	for (i = 0; i < JOBS; i++) {
		snprintf(buf, sizeof(buf), "secret-of-job-%zu", i);
		c->secrets[i] = secmem_dup(buf, strlen(buf));
		assert_non_null(c->secrets[i]);
		jobs[i] = (struct fanout_job){ .secret = c->secrets[i], .secret_len = strlen(buf),
					       .result = &seen[i] };
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pipe(c->rv[i]), 0);
}

static void teardown_ctx(struct ctx *c)
{
	size_t i;
	int status;

	for (i = 0; i < JOBS; i++)
		secmem_free(c->secrets[i]);
	for (i = 0; i < 2; i++) {
		close(c->rv[i][0]);
		close(c->rv[i][1]);
	}
	munmap(c->running, 2 * sizeof(int));
	/* Every child was waited for. */
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* Each child gets its own secret and nothing else of the parent's. */
static void test_secrets(void **state)
{
	struct fanout_job jobs[JOBS];
	struct seen seen[JOBS];
	struct ctx c;
	size_t i, j, before = secmem_in_use(NULL);

	(void)state;
	setup_ctx(&c, jobs, seen);
	c.rendezvous = true;	/* 0 and 1 run at the same time: 1 must not hold 0's hand-over */
	assert_int_equal(fanout_run(jobs, JOBS, sizeof(struct seen), 3, work, &c), 0);
	for (i = 0; i < JOBS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "secret-of-job-%zu", i);
		assert_int_equal(jobs[i].state, FANOUT_ANSWERED);
		assert_string_equal(seen[i].secret, want);
		assert_int_not_equal(seen[i].pid, getpid());
		for (j = 0; j < i; j++)
			assert_int_not_equal(seen[i].pid, seen[j].pid);
		assert_int_equal(seen[i].others_visible, 0);
		/* Its own hand-over only: the earlier ones were kept from it. */
		assert_int_equal(seen[i].shared_maps, 1);
	}
	assert_true(seen[0].met && seen[1].met);
	assert_true(*c.most >= 2 && *c.most <= 3);
	teardown_ctx(&c);
	assert_int_equal(secmem_in_use(NULL), before);
}

/* width bounds the children running at once; a job without a secret gets NULL. */
static void test_width(void **state)
{
	struct fanout_job jobs[JOBS];
	struct seen seen[JOBS];
	struct ctx c;
	size_t i;

	(void)state;
	setup_ctx(&c, jobs, seen);
	jobs[4].secret = NULL;
	assert_int_equal(fanout_run(jobs, JOBS, sizeof(struct seen), 1, work, &c), 0);
	assert_int_equal(*c.most, 1);
	for (i = 0; i < JOBS; i++)
		assert_int_equal(jobs[i].state, FANOUT_ANSWERED);
	assert_int_equal(seen[4].len, 0);
	assert_int_equal(seen[4].shared_maps, 0);
	teardown_ctx(&c);
}

/* A child that dies, one that exits without answering: DIED, how; the others answer. */
static void test_died(void **state)
{
	struct fanout_job jobs[JOBS];
	struct seen seen[JOBS];
	struct ctx c;
	size_t i;

	(void)state;
	for (int how = 1; how <= 2; how++) {
		setup_ctx(&c, jobs, seen);
		c.die = how;
		assert_int_equal(fanout_run(jobs, JOBS, sizeof(struct seen), 2, work, &c), 0);
		for (i = 0; i < JOBS; i++) {
			bool dead = (how == 1 && i == 1) || (how == 2 && i == 2);

			assert_int_equal(jobs[i].state, dead ? FANOUT_DIED : FANOUT_ANSWERED);
		}
		if (how == 1) {
			assert_true(WIFSIGNALED(jobs[1].wstatus));
			assert_int_equal(WTERMSIG(jobs[1].wstatus), SIGKILL);
		} else {
			assert_true(WIFEXITED(jobs[2].wstatus));
			assert_int_equal(WEXITSTATUS(jobs[2].wstatus), 3);
		}
		teardown_ctx(&c);
	}
}

static void test_result_len(void **state)
{
	struct fanout_job job = { 0 };

	(void)state;
	assert_int_equal(fanout_run(&job, 1, 0, 1, work, NULL), -EINVAL);
	assert_int_equal(fanout_run(&job, 1, PIPE_BUF + 1, 1, work, NULL), -EINVAL);
	assert_int_equal(fanout_run(&job, 0, 8, 4, work, NULL), 0);
	assert_true(fanout_cpus() >= 1);
}

/* The hand-over itself: the parent cannot take it; the child's take wipes the shared copy. */
static void test_handover(void **state)
{
	struct secmem_handover *h = secmem_handover_new("abc", 3);
	size_t len = 99;
	pid_t pid;
	int status;

	(void)state;
	assert_non_null(h);
	assert_null(secmem_handover_take(h, &len));
	assert_int_equal(errno, EPERM);
	assert_int_equal(len, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *p = secmem_handover_take(h, &len);
		bool ok = p && len == 3 && !memcmp(p, "abc", 3);

		secmem_free(p);
		/* Taken once: the shared copy is zeros now. */
		p = secmem_handover_take(h, &len);
		ok = ok && p && len == 3 && !memcmp(p, "\0\0\0", 3);
		secmem_free(p);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(secmem_handover_forked(h), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	secmem_handover_free(h);
	secmem_handover_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_died),
		cmocka_unit_test(test_result_len),
		cmocka_unit_test(test_handover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
