/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named steps with undo, and the test hook KMIPCRYPT_FAIL_AT: see steps.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* secure_getenv, sigabbrev_np */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks/luks_internal.h"
#include "luks/steps.h"
#include "util/interrupt.h"
#include "util/log.h"

/* ------------------------------------------------------------ the hook */

/*
 * KMIPCRYPT_FAIL_AT: "STEP", or "STEP:SIGNAL" with SIGNAL one of the
 * termination signals below, or "STEP:STOP".  The step name is at most 31
 * bytes.
 */
#define FAIL_STOP	SIGSTOP	/* "STOP": not a signal sent as if from outside, a pause */
static const struct {
	const char *name;
	int sig;
} fail_signals[] = {
	{ "SIGINT", SIGINT }, { "SIGTERM", SIGTERM }, { "SIGHUP", SIGHUP }, { "SIGKILL", SIGKILL },
};

/* Split the hook's value: its step into step (32 bytes), its signal (0: none, -1: unknown). */
static int fail_at_parse(const char *v, char step[32])
{
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v), i;

	snprintf(step, 32, "%.*s", (int)(n < 31 ? n : 31), v);
	if (n > 31)
		return -1;
	if (!colon)
		return 0;
	for (i = 0; i < sizeof(fail_signals) / sizeof(fail_signals[0]); i++)
		if (strcmp(colon + 1, fail_signals[i].name) == 0)
			return fail_signals[i].sig;
	return strcmp(colon + 1, "STOP") == 0 ? FAIL_STOP : -1;
}

bool luks_fail_at(const char *step)
{
	const char *v = secure_getenv(LUKS_FAIL_AT_ENV);
	char want[32];
	int sig;

	if (!v)
		return false;
	sig = fail_at_parse(v, want);
	if (sig < 0 || strcmp(want, step) != 0)
		return false;
	if (sig == FAIL_STOP) {
		/* The test copies the volume now (a power cut here), then kills or continues us. */
		log_warn("test hook %s=%s: stopping at step '%s' (SIGCONT goes on)", LUKS_FAIL_AT_ENV,
			 v, step);
		raise(SIGSTOP);
		return false;
	}
	if (sig > 0) {
		/* As if it came from outside: the command sees it pending at this step. */
		log_warn("test hook %s=%s: raising %s at step '%s'", LUKS_FAIL_AT_ENV, v,
			 strchr(v, ':') + 1, step);
		raise(sig);
		return false;
	}
	log_warn("test hook %s=%s: injecting a failure at step '%s'", LUKS_FAIL_AT_ENV, v, step);
	return true;
}

void luks_fail_at_check(const char *const *steps)
{
	const char *v = secure_getenv(LUKS_FAIL_AT_ENV);
	char want[32];
	size_t i;
	int sig;

	if (!v)
		return;
	sig = fail_at_parse(v, want);
	for (i = 0; sig >= 0 && steps[i]; i++)
		if (strcmp(want, steps[i]) == 0) {
			log_warn("test hook %s=%s is set: this run will %s at that step",
				 LUKS_FAIL_AT_ENV, v, sig == FAIL_STOP ? "stop" : sig ?
				 "be sent that signal" : "fail");
			return;
		}
	log_warn("test hook %s=%s names no step of this command%s; ignored", LUKS_FAIL_AT_ENV, v,
		 sig < 0 ? " (or no signal of SIGINT, SIGTERM, SIGHUP, SIGKILL)" : "");
}

/* ---------------------------------------------------------- the runner */

static const char *signame(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	static char buf[16];

	snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "?");
	return buf;
}

static bool selected(const struct luks_step *s, unsigned variant)
{
	return (!s->when || (s->when & variant)) && (!s->also || (s->also & variant));
}

/* One run of a table: what the messages need. */
struct run {
	const struct luks_txn *t;
	const char *device;
	bool committed;		/* the commit step succeeded */
	bool finishing;		/* interrupted after it: said so once */
};

/*
 * The start of a step: the test hook (a failure, or a signal), then a
 * termination request: before the commit, stop (-EINTR); after, note it.
 */
static int begin(struct run *r, const char *name)
{
	int sig;

	if (luks_fail_at(name))
		return log_error_errno(-EIO, "%s: step '%s' failed (injected)", r->device, name);
	sig = interrupt_pending();
	if (!sig)
		return 0;
	if (!r->committed)
		return -EINTR;
	if (!r->finishing)
		log_warn("%s: interrupted (%s) after %s: finishing the %s (a working binding is not "
			 "undone)", r->device, signame(sig), r->t->committed, r->t->what);
	r->finishing = true;
	return 0;
}

/* Undo the selected steps of [begin, end), last first.  True if all were undone. */
static bool undo_range(const struct luks_txn *t, size_t begin, size_t end, unsigned variant,
		       void *ctx)
{
	bool clean = true;

	while (end-- > begin)
		if (selected(&t->steps[end], variant) && t->steps[end].undo)
			clean = t->steps[end].undo(ctx) && clean;
	return clean;
}

static void say_failed(const struct run *r, const char *step, int err, bool clean)
{
	const char *d = r->device, *what = r->t->what;

	if (r->committed && r->t->commit_final)
		log_error("%s: %s failed at step '%s', after %s: that is kept (%s)%s", d, what,
			  step, r->t->committed, r->t->outcome, clean ? "" :
			  "; NOT everything after it could be undone (see above)");
	else if (err == -EINTR)
		log_error("%s: %s interrupted (%s) at step '%s'; %s", d, what,
			  signame(interrupt_pending()), step, clean ?
			  "undone: everything done before it; the volume and the KMS are as they "
			  "were" : "NOT everything could be undone (see above)");
	else if (clean)
		log_error("%s: %s failed at step '%s'; everything done before was undone: the "
			  "volume and the KMS are as they were", d, what, step);
	else
		log_error("%s: %s failed at step '%s', and NOT everything could be undone (see "
			  "above)", d, what, step);
}

/* Say whether the hook names a step of this run (at once, before any step). */
static int check_hook(const struct luks_txn *t, unsigned variant)
{
	const char *names[LUKS_STEPS_MAX + 1];
	size_t i, n = 0;

	if (t->n_steps > LUKS_STEPS_MAX)
		return log_error_errno(-E2BIG, "%s: %zu steps, more than %d (internal error)",
				       t->what, t->n_steps, LUKS_STEPS_MAX);
	for (i = 0; i < t->n_steps; i++)
		if (selected(&t->steps[i], variant))
			names[n++] = t->steps[i].name;
	for (i = 0; t->later && t->later[i] && n < LUKS_STEPS_MAX; i++)
		names[n++] = t->later[i];
	names[n] = NULL;
	luks_fail_at_check(names);
	return 0;
}

int luks_steps_run(const struct luks_txn *t, const char *device, unsigned variant, void *ctx)
{
	struct run run = { .t = t, .device = device };
	size_t i, undo_from = 0;
	int r;

	r = check_hook(t, variant);
	if (r == 0 && t->prepare)
		r = t->prepare(ctx);
	for (i = 0; r == 0 && i < t->n_steps; i++) {
		const struct luks_step *s = &t->steps[i];

		if (!selected(s, variant))
			continue;
		r = begin(&run, s->name);
		if (r == 0)
			r = s->run(ctx);
		if (r < 0)
			say_failed(&run, s->name, r, undo_range(t, undo_from, i, variant, ctx));
		else if (s->commit) {
			run.committed = true;
			/* A final commit: what comes before it is never taken back. */
			if (t->commit_final)
				undo_from = i + 1;
		}
	}
	if (r == 0 && run.finishing)
		log_warn("%s: %s finished in spite of the interruption: %s", device, t->what,
			 t->outcome);
	return r;
}
