/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Deferred termination signals: see interrupt.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* ppoll */
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "util/interrupt.h"

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };
#define N_CAUGHT	(sizeof(caught) / sizeof(caught[0]))

static volatile sig_atomic_t pending;
static volatile sig_atomic_t count;
static bool installed;
static struct sigaction saved[N_CAUGHT];	/* the dispositions before interrupt_catch() */

static void say(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));

	(void)r;
}

static void on_signal(int sig)
{
	int saved_errno = errno;

	if (!pending)
		pending = sig;
	if (count < 2)
		count++;
	if (count == 1)
		say("kmipcrypt: interrupted: stopping after the current step; what this command "
		    "changed is undone (or, past its point of no return, finished)\n");
	else
		say("kmipcrypt: still undoing; the undo goes on (it is bounded by the server "
		    "time limit)\n");
	errno = saved_errno;
}

int interrupt_catch(void)
{
	struct sigaction sa;
	size_t i;
	int r;

	if (installed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < N_CAUGHT; i++)
		sigaddset(&sa.sa_mask, caught[i]);
	sa.sa_flags = 0;	/* no SA_RESTART: blocking calls return EINTR */
	for (i = 0; i < N_CAUGHT; i++) {
		if (sigaction(caught[i], NULL, &saved[i]) < 0)
			goto fail;
		/* Ignored when we started (nohup, a background job): it stays ignored. */
		if (saved[i].sa_handler == SIG_IGN)
			continue;
		if (sigaction(caught[i], &sa, NULL) < 0)
			goto fail;
	}
	installed = true;
	return 0;
fail:
	r = -errno;
	while (i-- > 0)
		sigaction(caught[i], &saved[i], NULL);
	return r;
}

int interrupt_pending(void)
{
	return pending;
}

void interrupt_release(bool reraise)
{
	int sig = pending;
	size_t i;

	if (!installed)
		return;
	for (i = 0; i < N_CAUGHT; i++)
		sigaction(caught[i], &saved[i], NULL);
	installed = false;
	pending = 0;
	count = 0;
	if (reraise && sig)
		raise(sig);
}

bool interrupt_caught(void)
{
	return installed;
}

int interrupt_wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	sigset_t block, old;
	size_t i;
	int r;

	if (!installed)
		return -EINVAL;
	sigemptyset(&block);
	for (i = 0; i < N_CAUGHT; i++)
		sigaddset(&block, caught[i]);
	if (sigprocmask(SIG_BLOCK, &block, &old) < 0)
		return -errno;
	for (;;) {
		if (pending) {
			r = -EINTR;
			break;
		}
		/* The caller's mask while waiting: a blocked signal arrives inside ppoll(). */
		r = ppoll(&p, 1, NULL, &old);
		if (r > 0) {
			r = 1;	/* readable, or hung up / error: read() will say */
			break;
		}
		if (r < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
