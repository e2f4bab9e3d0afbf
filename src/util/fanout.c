// SPDX-License-Identifier: LGPL-2.1-or-later
/* Independent jobs in forked children, a few at a time: see fanout.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "util/fanout.h"
#include "util/secmem.h"

struct child {
	pid_t pid;
	int fd;			/* read end of its result pipe */
	size_t i;		/* its job */
	struct secmem_handover *h;
};

struct run {
	struct fanout_job *jobs;
	size_t result_len;
	fanout_work_fn *work;
	void *ctx;
	struct child *c;	/* the running ones, c[0..n) */
	struct pollfd *pfd;	/* as many */
	size_t n;
};

/* In the child: job i's work, its answer, and out. */
static _Noreturn void in_child(struct run *run, size_t i, int fd, struct secmem_handover *h)
{
	struct fanout_job *j = &run->jobs[i];
	void *secret = NULL;
	size_t k, len = 0;
	ssize_t w;

	for (k = 0; k < run->n; k++)	/* the other children's pipes are not this one's */
		close(run->c[k].fd);
	if (h)
		secret = secmem_handover_take(h, &len);
	run->work(i, secret, len, j->result, run->ctx);
	/* One write of at most PIPE_BUF bytes: all of it or nothing. */
	do
		w = write(fd, j->result, run->result_len);
	while (w < 0 && errno == EINTR);
	fflush(NULL);	/* its own output only: the parent flushed before the fork */
	_exit(w == (ssize_t)run->result_len ? 0 : 1);
}

/* Start job i: 0, or -errno (nothing started, or started but no other may be). */
static int start(struct run *run, size_t i)
{
	struct fanout_job *j = &run->jobs[i];
	struct secmem_handover *h = NULL;
	int p[2] = { -1, -1 }, r;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	if (j->secret && !(h = secmem_handover_new(j->secret, j->secret_len))) {
		r = -errno;
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0) {
		close(p[0]);
		in_child(run, i, p[1], h);
	}
	close(p[1]);
	run->c[run->n++] = (struct child){ .pid = pid, .fd = p[0], .i = i, .h = h };
	/* Kept from every later child; if that fails, this one must end first. */
	return h ? secmem_handover_forked(h) : 0;
fail:
	j->err = r;
	secmem_handover_free(h);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	return r;
}

/* Child k has answered or ended: its result, its exit, its slot freed. */
static void finish(struct run *run, size_t k)
{
	struct child c = run->c[k];
	struct fanout_job *j = &run->jobs[c.i];
	ssize_t got;
	int ws = 0;

	do
		got = read(c.fd, j->result, run->result_len);
	while (got < 0 && errno == EINTR);
	while (waitpid(c.pid, &ws, 0) < 0 && errno == EINTR)
		;
	j->state = got == (ssize_t)run->result_len ? FANOUT_ANSWERED : FANOUT_DIED;
	j->wstatus = ws;
	close(c.fd);
	secmem_handover_free(c.h);
	run->c[k] = run->c[--run->n];
}

/* Wait until at least one running child has answered or ended. */
static void reap_some(struct run *run)
{
	struct pollfd *pfd = run->pfd;
	size_t k;
	int r;

	for (k = 0; k < run->n; k++)
		pfd[k] = (struct pollfd){ .fd = run->c[k].fd, .events = POLLIN };
	do
		r = poll(pfd, run->n, -1);
	while (r < 0 && errno == EINTR);
	/* From the end: finish() moves the last child into the freed slot. */
	for (k = run->n; k-- > 0;)
		if (r < 0 || pfd[k].revents)
			finish(run, k);	/* poll failed (cannot, on our own pipes): wait for each */
}

int fanout_run(struct fanout_job *jobs, size_t n, size_t result_len, unsigned width,
	       fanout_work_fn *work, void *ctx)
{
	struct run run = { .jobs = jobs, .result_len = result_len, .work = work, .ctx = ctx };
	size_t i, cap;
	bool go = true;
	int r = 0;

	if (result_len == 0 || result_len > PIPE_BUF)
		return -EINVAL;
	for (i = 0; i < n; i++)
		jobs[i] = (struct fanout_job){ .secret = jobs[i].secret,
					       .secret_len = jobs[i].secret_len,
					       .result = jobs[i].result };
	cap = width ? width : 1;
	if (cap > n)
		cap = n;
	run.c = calloc(cap ? cap : 1, sizeof(*run.c));
	run.pfd = calloc(cap ? cap : 1, sizeof(*run.pfd));
	if (!run.c || !run.pfd) {
		for (i = 0; i < n; i++)
			jobs[i].err = -ENOMEM;
		go = false;
	}
	for (i = 0; i < n && go; i++) {
		while (run.n >= cap)
			reap_some(&run);
		r = start(&run, i);
		if (r < 0 && jobs[i].err == 0) {	/* started, but kept from no later child */
			while (run.n > 0)
				reap_some(&run);
			continue;
		}
		go = r == 0;
	}
	while (run.n > 0)
		reap_some(&run);
	free(run.c);
	free(run.pfd);
	return 0;
}

unsigned fanout_cpus(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}
