/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The poller (poller.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/policy.h"
#include "daemon/poller.h"
#include "daemon/privdrop.h"
#include "daemon/proto.h"
#include "util/clock.h"
#include "util/errclass.h"
#include "util/log.h"

#define POLLER_KEYS_MAX	(4096u * 8u)	/* volumes watched * keys per volume (watch.h) */
#define WATCH_KEYS	8	/* keys per volume, as WATCH_KEYS_MAX */

struct pkey {
	uint32_t vol, key;
	char uid[KMIP_UID_SIZE];
	char group[CONFIG_NAME_MAX];
	struct key_obs obs;
	enum verdict v;
	enum rule rule;
};

struct pgroup {
	const char *name;		/* the config's */
	struct kmip_session *s;
	int open_err;			/* the session could not be opened */
	int64_t unreachable_since;	/* clock_now_ms(), 0 while answering */
	int err;			/* of the last cycle */
};

struct poller {
	struct config *cfg;
	struct policy pol;
	int fd, tfd, sfd;
	uint32_t gen;			/* of keys[] */
	struct pkey *keys;
	size_t n;
	uint32_t n_volumes;
	struct pkey *pending;		/* the next list, while it arrives */
	size_t pending_n;
	uint32_t pending_gen;
	struct pgroup g[CONFIG_GROUPS_MAX];
	size_t ng;
	unsigned n_requests;		/* of the cycle */
	unsigned interval_ms;		/* of the cycles */
};

static struct pgroup *group_of(struct poller *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->ng; i++)
		if (!strcmp(p->g[i].name, name))
			return &p->g[i];
	return NULL;
}

/* One session per group, opened as root: the credentials are read now. */
static void open_sessions(struct poller *p)
{
	unsigned i;

	for (i = 0; i < p->cfg->n_groups && i < CONFIG_GROUPS_MAX; i++) {
		struct pgroup *g = &p->g[p->ng++];

		g->name = p->cfg->groups[i].name;
		g->open_err = conf_session_open(p->cfg, g->name, 0, &g->s);
		if (g->open_err < 0)
			log_error("group [%s]: no session (see above); its keys count as unreachable",
				  g->name);
	}
}

static enum obs_kind item_kind(int err)
{
	switch (err) {
	case -ENOENT:
		return OBS_NOT_FOUND;
	case -EPERM:
		return OBS_DENIED;
	default:
		return OBS_OTHER;
	}
}

/*
 * Ask the group about the keys idx[0..k): their observations.  The whole
 * request without a usable answer makes every key unreachable (the
 * group's clock of offline_grace runs).
 */
static void ask(struct poller *p, struct pgroup *g, const size_t *idx, size_t k)
{
	const char **uids = NULL;
	int *states = NULL, *errs = NULL, r;
	size_t i;

	uids = calloc(k, sizeof(*uids));
	states = calloc(k, sizeof(*states));
	errs = calloc(k, sizeof(*errs));
	if (!uids || !states || !errs) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < k; i++)
		uids[i] = p->keys[idx[i]].uid;
	r = g->open_err;
	if (!r) {
		r = kmip_get_states(kmip_session_client(g->s), uids, k, states, errs);
		p->n_requests += (unsigned)((k + KMIP_BATCH_MAX - 1) / KMIP_BATCH_MAX);
	}
out:
	for (i = 0; i < k; i++) {
		struct key_obs *o = &p->keys[idx[i]].obs;

		memset(o, 0, sizeof(*o));
		if (r < 0) {
			o->kind = errclass_no_answer(r) || r == -ENOMEM ? OBS_UNREACHABLE : OBS_OTHER;
			o->err = r;
		} else if (errs[i] < 0) {
			o->kind = item_kind(errs[i]);
			o->err = errs[i];
		} else {
			o->kind = OBS_STATE;
			o->state = states[i];
		}
	}
	g->err = r;
	free(uids);
	free(states);
	free(errs);
}

static int64_t unreachable_for(const struct pgroup *g, int64_t now)
{
	return g->unreachable_since ? now - g->unreachable_since : 0;
}

/* The group's keys: asked in batches, those that look revoked asked again alone. */
static void poll_group(struct poller *p, struct pgroup *g)
{
	size_t *idx, *again, i, k = 0, m = 0;
	enum log_level saved;
	int64_t now;

	idx = calloc(p->n ? p->n : 1, sizeof(*idx));
	again = calloc(p->n ? p->n : 1, sizeof(*again));
	if (!idx || !again)
		goto out;
	for (i = 0; i < p->n; i++)
		if (!strcmp(p->keys[i].group, g->name))
			idx[k++] = i;
	if (!k)
		goto out;
	/*
	 * A group that gave no answer last time: its transport's messages were
	 * logged then, with the group's change (audit.h); every cycle again
	 * only with -v.
	 */
	saved = log_get_level();
	if (g->unreachable_since && saved < LOG_LVL_DEBUG)
		log_set_level(LOG_LVL_ERR - 1);
	ask(p, g, idx, k);
	log_set_level(saved);
	now = clock_now_ms();
	if (g->err < 0 && p->keys[idx[0]].obs.kind == OBS_UNREACHABLE) {
		if (!g->unreachable_since)
			g->unreachable_since = now;
	} else {
		g->unreachable_since = 0;
	}
	for (i = 0; i < k; i++) {
		struct pkey *pk = &p->keys[idx[i]];

		pk->v = policy_key(&p->pol, &pk->obs, unreachable_for(g, now), &pk->rule);
		if (pk->v == VERDICT_REVOKED && pk->obs.kind != OBS_UNREACHABLE)
			again[m++] = idx[i];
	}
	if (!m)
		goto out;
	/* Never on one answer: each key alone, in a request of its own (one per key). */
	for (i = 0; i < m; i++) {
		struct pkey *pk = &p->keys[again[i]];
		struct key_obs first = pk->obs;

		ask(p, g, &again[i], 1);
		if (!policy_same(&first, &pk->obs)) {
			log_warn("key '%s' (group [%s]) looked revoked (%s), then not when asked "
				 "again: nothing done this cycle", pk->uid, g->name,
				 policy_rule_name(pk->rule));
			pk->v = VERDICT_UNKNOWN;
			pk->rule = RULE_NOT_CONFIRMED;
		}
	}
out:
	free(idx);
	free(again);
}

/* The key run of volume vol from index i: [i, *end). */
static size_t run_end(const struct poller *p, size_t i)
{
	uint32_t vol = p->keys[i].vol;

	while (i < p->n && p->keys[i].vol == vol)
		i++;
	return i;
}

static bool group_polled(const struct poller *p, const bool *polled, const char *group)
{
	size_t i;

	for (i = 0; i < p->ng; i++)
		if (!strcmp(p->g[i].name, group))
			return polled[i];
	return true;	/* not in the configuration: never asked, its key stays unknown */
}

/*
 * The verdict of every volume not sent yet in this cycle whose keys' groups
 * have all been asked: a volume's answer does not wait for a slow group it
 * does not depend on.
 */
static int send_ready(struct poller *p, const bool *polled, bool *sent)
{
	enum verdict v[WATCH_KEYS];
	size_t i, j, end, k, which, nvol = 0;
	struct msg m;
	bool ready;
	int r;

	for (i = 0; i < p->n; i = end, nvol++) {
		end = run_end(p, i);
		if (sent[nvol])
			continue;
		ready = true;
		for (j = i, k = 0; j < end && k < WATCH_KEYS; j++, k++) {
			v[k] = p->keys[j].v;
			ready = ready && group_polled(p, polled, p->keys[j].group);
		}
		if (!ready)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = MSG_VERDICT;
		m.gen = p->gen;
		m.u.verdict.vol = p->keys[i].vol;
		m.u.verdict.verdict = policy_volume(v, k, &which);
		m.u.verdict.key = p->keys[i + which].key;
		m.u.verdict.rule = p->keys[i + which].rule;
		m.u.verdict.state = p->keys[i + which].obs.kind == OBS_STATE ?
				    p->keys[i + which].obs.state : 0;
		m.u.verdict.err = p->keys[i + which].obs.err;
		r = proto_send(p->fd, &m);
		if (r < 0)
			return r;
		sent[nvol] = true;
	}
	return 0;
}

static int send_group(struct poller *p, const struct pgroup *g)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_GROUP;
	m.gen = p->gen;
	snprintf(m.u.group.group, sizeof(m.u.group.group), "%s", g->name);
	m.u.group.answered = g->unreachable_since == 0;
	m.u.group.err = g->err < 0 ? g->err : 0;
	m.u.group.unreachable_ms = unreachable_for(g, clock_now_ms());
	return proto_send(p->fd, &m);
}

static bool has_keys(const struct poller *p, const struct pgroup *g)
{
	size_t j;

	for (j = 0; j < p->n; j++)
		if (!strcmp(p->keys[j].group, g->name))
			return true;
	return false;
}

/*
 * One cycle: the groups that answered last time first, those that did not
 * (and may now cost their whole timeout) after them; each volume's verdict
 * as soon as its groups are done.
 */
static int cycle(struct poller *p)
{
	bool polled[CONFIG_GROUPS_MAX] = { false }, *sent;
	struct msg m;
	size_t i, pass;
	int r = 0;

	sent = calloc(p->n ? p->n : 1, sizeof(*sent));	/* at most one volume per key */
	if (!sent)
		return -ENOMEM;
	p->n_requests = 0;
	for (pass = 0; pass < 2 && r == 0; pass++)
		for (i = 0; i < p->ng && r == 0; i++) {
			struct pgroup *g = &p->g[i];

			if ((pass == 0) != (g->unreachable_since == 0) || !has_keys(p, g))
				continue;
			poll_group(p, g);
			polled[i] = true;
			r = send_group(p, g);
			if (r == 0)
				r = send_ready(p, polled, sent);
		}
	for (i = 0; i < p->ng; i++)
		polled[i] = true;
	if (r == 0)
		r = send_ready(p, polled, sent);	/* volumes of groups without keys asked */
	free(sent);
	if (r == 0) {
		memset(&m, 0, sizeof(m));
		m.type = MSG_CYCLE;
		m.gen = p->gen;
		m.u.cycle.n_keys = (uint32_t)p->n;
		m.u.cycle.n_requests = p->n_requests;
		r = proto_send(p->fd, &m);
	}
	return r;
}

/* The next cycle in interval +- 10 %, or at once (ms 0 means 1 ns). */
static int arm(struct poller *p, bool now)
{
	struct itimerspec its = { 0 };
	uint64_t ms = p->interval_ms, j = 0;

	if (now) {
		its.it_value.tv_nsec = 1;
	} else {
		if (getrandom(&j, sizeof(j), 0) != sizeof(j))
			j = (uint64_t)clock_now_ms();
		ms = ms - ms / 10 + (ms / 5 ? j % (ms / 5 + 1) : 0);
		if (!ms)
			ms = 1;
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	}
	return timerfd_settime(p->tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* A WATCH or WATCH_END from the locker. */
static int take(struct poller *p, const struct msg *m, bool *complete)
{
	struct pkey *grown;

	*complete = false;
	if (m->type == MSG_WATCH) {
		if (m->gen != p->pending_gen) {
			free(p->pending);
			p->pending = NULL;
			p->pending_n = 0;
			p->pending_gen = m->gen;
		}
		if (p->pending_n == POLLER_KEYS_MAX || !memchr(m->u.watch.uid, 0, sizeof(m->u.watch.uid)) ||
		    !memchr(m->u.watch.group, 0, sizeof(m->u.watch.group)))
			return log_error_errno(-EBADMSG, "a malformed watch list from the locker");
		grown = realloc(p->pending, (p->pending_n + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		p->pending = grown;
		memset(&grown[p->pending_n], 0, sizeof(*grown));
		grown[p->pending_n].vol = m->u.watch.vol;
		grown[p->pending_n].key = m->u.watch.key;
		memcpy(grown[p->pending_n].uid, m->u.watch.uid, sizeof(grown->uid));
		memcpy(grown[p->pending_n].group, m->u.watch.group, sizeof(grown->group));
		if (!group_of(p, grown[p->pending_n].group)) {
			log_warn("a watched key is in group [%s], which the configuration does not "
				 "have: its verdict stays unknown", grown[p->pending_n].group);
			grown[p->pending_n].obs.kind = OBS_OTHER;
			grown[p->pending_n].obs.err = -EINVAL;
			grown[p->pending_n].v = VERDICT_UNKNOWN;
			grown[p->pending_n].rule = RULE_NO_USABLE_ANSWER;
		}
		p->pending_n++;
		return 0;
	}
	if (m->type != MSG_WATCH_END)
		return log_error_errno(-EBADMSG, "an unknown message from the locker");
	if (m->gen != p->pending_gen) {	/* an empty list */
		free(p->pending);
		p->pending = NULL;
		p->pending_n = 0;
	}
	free(p->keys);
	p->keys = p->pending;
	p->n = p->pending_n;
	p->gen = m->gen;
	p->n_volumes = m->u.end.n_volumes;
	p->pending = NULL;
	p->pending_n = 0;
	p->pending_gen = 0;
	*complete = true;
	log_debug("watch list %u: %zu key(s) of %u volume(s)", p->gen, p->n, p->n_volumes);
	return 0;
}

static int loop(struct poller *p)
{
	struct pollfd fds[3] = {
		{ .fd = p->fd, .events = POLLIN },
		{ .fd = p->tfd, .events = POLLIN },
		{ .fd = p->sfd, .events = POLLIN },
	};
	struct signalfd_siginfo si;
	struct msg m;
	uint64_t ticks;
	bool complete;
	int r;

	for (;;) {
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[2].revents & POLLIN) {
			if (read(p->sfd, &si, sizeof(si)) == sizeof(si))
				return 0;	/* SIGTERM, SIGINT: the locker stops us */
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			while ((r = proto_recv(p->fd, &m)) == 0) {
				r = take(p, &m, &complete);
				if (r < 0)
					return r;
				if (complete && (r = arm(p, true)) < 0)
					return r;
			}
			if (r == -EPIPE)
				return 0;	/* the locker is gone */
			if (r != -EAGAIN)
				return log_error_errno(r, "reading from the locker: %s", strerror(-r));
		}
		if (fds[1].revents & POLLIN) {
			if (read(p->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				return -errno;
			r = cycle(p);
			if (r == -EPIPE)
				return 0;
			if (r < 0)
				return log_error_errno(r, "writing to the locker: %s", strerror(-r));
			r = arm(p, false);
			if (r < 0)
				return r;
		}
	}
}

int poller_main(const char *config_path, int fd, unsigned interval_ms)
{
	struct poller p = { .fd = fd, .tfd = -1, .sfd = -1 };
	sigset_t mask;
	size_t i;
	int r;

	log_set_ident("kmipcryptd[poller]");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	p.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	p.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p.sfd < 0 || p.tfd < 0) {
		r = log_error_errno(-errno, "signalfd/timerfd: %m");
		goto out;
	}
	r = config_load(config_path, &p.cfg);
	if (r < 0) {
		log_error("cannot load %s (%s): the poller stops", config_path, strerror(-r));
		goto out;
	}
	policy_from_config(&p.cfg->daemon, &p.pol);
	p.interval_ms = interval_ms ? interval_ms : p.cfg->daemon.poll_interval_s * 1000;
	open_sessions(&p);
	r = privdrop(p.cfg->daemon.user);
	if (r < 0)
		goto out;
	r = loop(&p);
out:
	for (i = 0; i < p.ng; i++)
		kmip_session_close(p.g[i].s);
	free(p.keys);
	free(p.pending);
	config_free(p.cfg);
	if (p.sfd >= 0)
		close(p.sfd);
	if (p.tfd >= 0)
		close(p.tfd);
	return r < 0 ? 1 : 0;
}
