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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/policy.h"
#include "daemon/poller.h"
#include "daemon/privdrop.h"
#include "daemon/proto.h"
#include "daemon/sandbox.h"
#include "daemon/watch.h"
#include "net/transport.h"
#include "util/clock.h"
#include "util/errclass.h"
#include "util/log.h"

#define LOCATE_PAGE	1000u	/* Maximum Items of one Locate */
#define LOCATE_PAGES_MAX 64	/* pages of one Object Group per cycle */
#define LOCATE_MIN_KEYS	2	/* keys of known Object Groups before Locate pays */
#define SWEEP_EVERY	10	/* every key's State anyway, every so many cycles */
#define LOCATE_RETRY	(SWEEP_EVERY * 10)	/* cycles before Locate is timed again */
#define POLLER_KEYS_MAX	(4096u * 8u)	/* volumes watched * keys per volume (watch.h) */

struct pkey {
	uint32_t vol, key;
	char uid[KMIP_UID_SIZE];
	char group[CONFIG_NAME_MAX];
	struct key_obs obs;
	enum verdict v;
	enum rule rule;
	/* From the last Get Attributes about it: for the Locate path. */
	bool ogroup_known;
	char ogroup[KMIP_TEXT_SIZE];	/* its Object Group, "" if none */
	int known_state;		/* its State then, 0 if never answered */
	/* Revoked and confirmed (asked alone) in an earlier cycle: confirm only a change. */
	bool confirmed;
	struct key_obs confirmed_obs;
};

struct pgroup {
	const char *name;		/* the config's */
	struct kmip_session *s;
	int open_err;			/* the session could not be opened */
	int64_t unreachable_since;	/* clock_now_ms(), 0 while answering */
	int err;			/* of the last cycle */
	unsigned cycles;		/* polled so far */
	bool locate_off;		/* Locate refused, or its State filter ignored */
	bool probe_due;			/* the next Locate cycle checks the State filter */
	int64_t batch_ms;		/* the last cycle that asked every key's State: its time */
	int64_t locate_ms;		/* the last Locate cycle's time; 0: not tried */
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
	unsigned n_cycles;		/* started, this one included */
	unsigned interval_ms;		/* of the cycles */
	enum poll_strategy strategy;
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

struct ask_ctx {
	struct poller *p;
	const size_t *idx;
};

/* One key's answer: its observation, and what Locate needs next time. */
static void take_attrs(void *ctx, size_t i, int err, const struct kmip_attrs *a)
{
	struct ask_ctx *x = ctx;
	struct pkey *pk = &x->p->keys[x->idx[i]];

	memset(&pk->obs, 0, sizeof(pk->obs));
	if (err < 0) {
		pk->obs.kind = item_kind(err);
		pk->obs.err = err;
		if (pk->obs.kind == OBS_NOT_FOUND)
			pk->known_state = KMIP_STATE_DESTROYED;
		return;
	}
	pk->obs.kind = OBS_STATE;
	pk->obs.state = a->state;
	pk->known_state = a->state;
	/* The key's first Object Group: where one Locate can find it among the Active. */
	if (a->n_groups)
		snprintf(pk->ogroup, sizeof(pk->ogroup), "%s", a->groups[0]);
	else
		pk->ogroup[0] = '\0';
	pk->ogroup_known = true;
}

/*
 * Ask the group about the keys idx[0..k), in batched Get Attributes (State,
 * Object Group): their observations.  A message without a usable answer
 * makes its keys unreachable (the group's clock of offline_grace runs).
 */
static void ask(struct poller *p, struct pgroup *g, const size_t *idx, size_t k)
{
	struct ask_ctx x = { p, idx };
	size_t i, answered = 0;
	const char **uids;
	int r;

	uids = calloc(k, sizeof(*uids));
	for (i = 0; i < k; i++)
		p->keys[idx[i]].obs.kind = OBS_KIND_MAX;	/* not answered yet */
	r = uids ? g->open_err : -ENOMEM;
	if (!r) {
		for (i = 0; i < k; i++)
			uids[i] = p->keys[idx[i]].uid;
		r = kmip_get_attrs_each(kmip_session_client(g->s), uids, k,
					KMIP_ATTR_STATE | KMIP_ATTR_OBJECT_GROUP, take_attrs, &x);
	}
	for (i = 0; i < k; i++) {
		struct key_obs *o = &p->keys[idx[i]].obs;

		if (o->kind != OBS_KIND_MAX) {
			answered++;
			continue;
		}
		memset(o, 0, sizeof(*o));
		o->kind = errclass_no_answer(r) || r == -ENOMEM ? OBS_UNREACHABLE : OBS_OTHER;
		o->err = r < 0 ? r : -ENOMSG;
	}
	/* The messages sent: those answered, and the one that failed (if sent at all). */
	p->n_requests += (unsigned)((answered + KMIP_BATCH_MAX - 1) / KMIP_BATCH_MAX) +
			 (r < 0 && uids && !g->open_err);
	g->err = r;
	free(uids);
}

static int64_t unreachable_for(const struct pgroup *g, int64_t now)
{
	return g->unreachable_since ? now - g->unreachable_since : 0;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

struct active_set {
	char **uids;		/* sorted; each a pointer into one of blocks */
	size_t n;
	char ***blocks;		/* the kmip_uid_list allocations, freed with the set */
	size_t n_blocks;
};

static void active_free(struct active_set *a)
{
	size_t i;

	for (i = 0; i < a->n_blocks; i++)
		free(a->blocks[i]);
	free(a->blocks);
	free(a->uids);
	memset(a, 0, sizeof(*a));
}

/*
 * Every Active object of Object Group og that g's servers list: Locate with
 * Maximum Items LOCATE_PAGE, then Offset Items for the next pages (KMIP 1.3
 * and later; an older server's first page is all there is: the keys not in
 * it are asked about one by one, which is safe, only dearer).
 */
static int locate_active(struct poller *p, struct pgroup *g, const char *og,
			 struct active_set *out)
{
	struct kmip_locate_filter f = { .state = KMIP_STATE_ACTIVE, .group = og,
					.max_items = LOCATE_PAGE };
	struct kmip_client *c = kmip_session_client(g->s);
	struct kmip_uid_list l;
	char ***blocks, **grown;
	size_t pages;
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (pages = 0; pages < LOCATE_PAGES_MAX; pages++) {
		r = kmip_locate(c, &f, &l);
		p->n_requests++;
		if (r == -EOPNOTSUPP && pages) {	/* no Offset Items before 1.3 */
			r = 0;
			break;
		}
		if (r < 0)
			break;
		blocks = realloc(out->blocks, (out->n_blocks + 1) * sizeof(*blocks));
		grown = realloc(out->uids, (out->n + l.n + 1) * sizeof(*grown));
		if (blocks)
			out->blocks = blocks;
		if (grown)
			out->uids = grown;
		if (!blocks || !grown) {
			kmip_uid_list_free(&l);
			r = -ENOMEM;
			break;
		}
		out->blocks[out->n_blocks++] = l.uids;	/* pointers and strings: one block */
		memcpy(out->uids + out->n, l.uids, l.n * sizeof(*l.uids));
		out->n += l.n;
		/* A short page is the last; so is a server that ignores the paging. */
		if (l.n < LOCATE_PAGE || l.n > LOCATE_PAGE || kmip_client_version(c) < KMIP_VERSION(1, 3))
			break;
		f.offset_items += (uint32_t)l.n;
	}
	if (r < 0) {
		active_free(out);
		return r;
	}
	if (out->n)
		qsort(out->uids, out->n, sizeof(*out->uids), cmp_str);
	return 0;
}

static bool active_has(const struct active_set *a, const char *uid)
{
	return a->n && bsearch(&uid, a->uids, a->n, sizeof(*a->uids), cmp_str) != NULL;
}

/*
 * Does the server honour Locate's State filter for Object Group og?  One
 * Locate of og's Pre-Active objects (one page): an object listed there and
 * in active (og's Active ones, just located) shows a server that ignores
 * the filter, as some do (KMIP-NOTES.md): the same object is not in two
 * states.  Such a server lists revoked keys as Active too; without this a
 * revocation would wait for the next sweep.  1 ignored (uid[len]: one such
 * object), 0 honoured or nothing to tell by, -errno.
 */
static int locate_probe(struct poller *p, struct pgroup *g, const char *og,
			const struct active_set *active, char *uid, size_t len)
{
	struct kmip_locate_filter f = { .state = KMIP_STATE_PRE_ACTIVE, .group = og,
					.max_items = LOCATE_PAGE };
	struct kmip_uid_list l;
	size_t i;
	int r;

	r = kmip_locate(kmip_session_client(g->s), &f, &l);
	p->n_requests++;
	if (r < 0)
		return r;
	for (i = 0; i < l.n && !active_has(active, l.uids[i]); i++)
		;
	r = i < l.n;
	if (r)
		snprintf(uid, len, "%s", l.uids[i]);
	kmip_uid_list_free(&l);
	return r;
}

/*
 * The cheap question: for each Object Group of the group's keys, one Locate
 * of its Active objects.  A key listed there is Active (obs set); the others
 * go to *suspects (asked by Get Attributes, the answer that decides).  A
 * listed key the last Get Attributes found not Active, or (on the first
 * Locate cycle after each sweep: locate_probe()) one listed as Pre-Active
 * too, shows a server that ignores Locate's State filter: Locate is then off
 * for the group, and every key a suspect.  -errno: no usable answer (the
 * caller then asks every key).
 */
static int locate_pass(struct poller *p, struct pgroup *g, const size_t *idx, size_t k,
		       size_t *suspects, size_t *m)
{
	struct active_set set;
	size_t i, j;
	int r;

	*m = 0;
	for (i = 0; i < k; i++)
		p->keys[idx[i]].obs.kind = OBS_KIND_MAX;
	for (i = 0; i < k; i++) {
		struct pkey *pk = &p->keys[idx[i]];

		if (pk->obs.kind != OBS_KIND_MAX)
			continue;	/* done with its Object Group */
		if (!pk->ogroup_known || !pk->ogroup[0]) {
			pk->obs.kind = OBS_OTHER;
			suspects[(*m)++] = idx[i];
			continue;
		}
		r = locate_active(p, g, pk->ogroup, &set);
		if (r == 0 && g->probe_due) {
			char both[KMIP_UID_SIZE];

			r = locate_probe(p, g, pk->ogroup, &set, both, sizeof(both));
			if (r > 0) {
				log_warn("group [%s]: Locate lists key '%s' of Object Group '%s' both "
					 "as Active and as Pre-Active: the server ignores Locate's "
					 "State filter; asking every key's State from now on",
					 g->name, both, pk->ogroup);
				active_free(&set);
				g->locate_off = true;
				goto all;
			}
			if (r < 0)
				active_free(&set);
		}
		if (r < 0) {
			if (errclass_no_answer(r))
				return r;
			log_warn("group [%s]: Locate refused (%s): asking every key's State instead",
				 g->name, strerror(-r));
			g->locate_off = true;
			goto all;
		}
		for (j = i; j < k; j++) {
			struct pkey *o = &p->keys[idx[j]];

			if (o->obs.kind != OBS_KIND_MAX || !o->ogroup_known ||
			    strcmp(o->ogroup, pk->ogroup))
				continue;
			if (!active_has(&set, o->uid)) {
				o->obs.kind = OBS_OTHER;
				suspects[(*m)++] = idx[j];
				continue;
			}
			if (o->known_state && o->known_state != KMIP_STATE_ACTIVE) {
				log_warn("group [%s]: Locate lists key '%s' as Active, which is %s: the "
					 "server ignores Locate's State filter; asking every key's "
					 "State from now on", g->name, o->uid,
					 kmip_state_name(o->known_state));
				active_free(&set);
				g->locate_off = true;
				goto all;
			}
			memset(&o->obs, 0, sizeof(o->obs));
			o->obs.kind = OBS_STATE;
			o->obs.state = KMIP_STATE_ACTIVE;
		}
		active_free(&set);
	}
	g->probe_due = false;
	return 0;
all:
	for (i = 0; i < k; i++)
		suspects[i] = idx[i];
	*m = k;
	return 0;
}

/*
 * Does Locate pay for this group this cycle?  Not while it is off, not on
 * every SWEEP_EVERY-th cycle (the first included: every key's State, which
 * also learns each key's Object Group), only when at least LOCATE_MIN_KEYS
 * keys have a known Object Group, and only while a Locate cycle took less
 * time than asking every key (what a Locate costs a server grows with all
 * its objects, what a batch costs with the keys watched: measured, not
 * guessed; tried again every LOCATE_RETRY cycles, as both change).
 *
 * auto does not even try it while one message asks every key (k <=
 * KMIP_BATCH_MAX): a Locate cannot save a request then, and it may cost a
 * server far more.  PyKMIP reads every object it holds for each Locate, one
 * request at a time: 200 hosts' first Locates of 2,000 objects kept it busy
 * for minutes, and every host's cycle timed out meanwhile
 * (bench/results/fleet-2026-12-05.md).
 */
static bool locate_now(const struct poller *p, const struct pgroup *g, const size_t *idx,
		       size_t k)
{
	size_t i, n = 0;

	if (g->locate_off || (p->strategy != POLL_AUTO && p->strategy != POLL_LOCATE) ||
	    g->cycles % SWEEP_EVERY == 0)
		return false;
	for (i = 0; i < k; i++)
		n += p->keys[idx[i]].ogroup_known && p->keys[idx[i]].ogroup[0];
	if (n < LOCATE_MIN_KEYS)
		return false;
	if (p->strategy == POLL_LOCATE)
		return true;
	if (k <= KMIP_BATCH_MAX)
		return false;
	return !g->locate_ms || g->locate_ms < g->batch_ms || g->cycles % LOCATE_RETRY == 1;
}

/*
 * The group's keys: the Active ones found by Locate where it pays, the
 * others asked in batches; those that look revoked asked again alone.
 */
static void poll_group(struct poller *p, struct pgroup *g)
{
	size_t *idx, *again, *sus, i, k = 0, m = 0, ns = 0;
	enum log_level saved;
	int64_t now, t0;
	bool located;
	int r = 0;

	idx = calloc(p->n ? p->n : 1, sizeof(*idx));
	again = calloc(p->n ? p->n : 1, sizeof(*again));
	sus = calloc(p->n ? p->n : 1, sizeof(*sus));
	if (!idx || !again || !sus)
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
	g->err = 0;
	t0 = clock_now_ms();
	located = locate_now(p, g, idx, k) && !g->open_err;
	if (located) {
		r = locate_pass(p, g, idx, k, sus, &ns);
		if (r < 0) {
			/*
			 * No answer to Locate (a Locate costs a server with many
			 * objects more than our timeout, as PyKMIP under a fleet:
			 * bench/results/fleet-*.md): dearer than any batch until
			 * it is timed again, and every key asked now instead.
			 * Were the servers down, the batch finds that too.
			 */
			log_warn("group [%s]: no answer to Locate (%s): asking every key's State "
				 "instead; Locate is tried again in %d cycles", g->name,
				 strerror(-r), LOCATE_RETRY);
			g->locate_ms = INT64_MAX / 2;
			located = false;
			t0 = clock_now_ms();	/* the batch's own time */
		}
	}
	if (!located) {
		memcpy(sus, idx, k * sizeof(*idx));
		ns = k;
		g->probe_due = true;	/* every key's State: Locate's filter checked again next */
	}
	if (ns && p->strategy == POLL_NAIVE) {
		for (i = 0; i < ns; i++)
			ask(p, g, &sus[i], 1);
	} else if (ns) {
		ask(p, g, sus, ns);
	}
	g->cycles++;
	log_set_level(saved);
	now = clock_now_ms();
	if (located && g->err == 0)
		g->locate_ms = now - t0 ? now - t0 : 1;
	else if (!located && ns == k && g->err == 0)
		g->batch_ms = now - t0 ? now - t0 : 1;
	log_debug("group [%s]: cycle %u: by %s, %zu key(s), %zu asked by Get Attributes, %lld ms "
		  "(last Locate cycle %lld ms, last batch %lld ms)", g->name, p->n_cycles,
		  located ? "Locate" : "batch", k, ns, (long long)(now - t0),
		  (long long)g->locate_ms, (long long)g->batch_ms);
	if (g->err < 0 && p->keys[ns ? sus[0] : idx[0]].obs.kind == OBS_UNREACHABLE) {
		if (!g->unreachable_since)
			g->unreachable_since = now;
	} else {
		g->unreachable_since = 0;
	}
	for (i = 0; i < k; i++) {
		struct pkey *pk = &p->keys[idx[i]];

		pk->v = policy_key(&p->pol, &pk->obs, unreachable_for(g, now), &pk->rule);
		if (pk->v != VERDICT_REVOKED || pk->obs.kind == OBS_UNREACHABLE)
			pk->confirmed = false;
		else if (!pk->confirmed || !policy_same(&pk->confirmed_obs, &pk->obs))
			again[m++] = idx[i];	/* newly revoked, or otherwise: ask it alone */
	}
	/*
	 * Never on one answer: each key alone, in a request of its own (one per
	 * key); a key confirmed revoked in an earlier cycle that says the same
	 * again is not asked twice (a locked volume costs no extra request).
	 */
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
			pk->confirmed = false;
		} else {
			pk->confirmed = true;
			pk->confirmed_obs = pk->obs;
		}
	}
out:
	free(idx);
	free(again);
	free(sus);
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
	enum verdict v[WATCH_KEYS_MAX];
	size_t i, j, end, k, which, nvol = 0;
	struct msg m;
	bool ready;
	int r;

	for (i = 0; i < p->n; i = end, nvol++) {
		end = run_end(p, i);
		if (sent[nvol])
			continue;
		ready = true;
		for (j = i, k = 0; j < end && k < WATCH_KEYS_MAX; j++, k++) {
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

static int64_t cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/*
 * One cycle: the groups that answered last time first, those that did not
 * (and may now cost their whole timeout) after them, each group once (one
 * that stops answering in the first pass is not asked again in the
 * second); each volume's verdict as soon as its groups are done.
 */
static int cycle(struct poller *p)
{
	bool polled[CONFIG_GROUPS_MAX] = { false }, late[CONFIG_GROUPS_MAX], *sent;
	int64_t t0 = clock_now_ms(), c0 = cpu_us();
	struct msg m;
	size_t i, pass;
	int r = 0;

	sent = calloc(p->n ? p->n : 1, sizeof(*sent));	/* at most one volume per key */
	if (!sent)
		return -ENOMEM;
	p->n_requests = 0;
	p->n_cycles++;
	for (i = 0; i < p->ng; i++)
		late[i] = p->g[i].unreachable_since != 0;
	for (pass = 0; pass < 2 && r == 0; pass++)
		for (i = 0; i < p->ng && r == 0; i++) {
			struct pgroup *g = &p->g[i];

			if ((pass == 0) == late[i] || !has_keys(p, g))
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
		m.u.cycle.wall_ms = (uint32_t)(clock_now_ms() - t0);
		m.u.cycle.cpu_us = (uint32_t)(cpu_us() - c0);
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

int poller_main(const struct poller_opts *o)
{
	struct poller p = { .fd = o->fd, .tfd = -1, .sfd = -1, .strategy = o->strategy };
	const char *config_path = o->config_path;
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
	transport_secure_heap();	/* before the client keys are loaded */
	p.interval_ms = o->interval_ms ? o->interval_ms : p.cfg->daemon.poll_interval_s * 1000;
	open_sessions(&p);
	r = privdrop(p.cfg->daemon.user);
	if (r < 0)
		goto out;
	r = sandbox_poller(o->test_violate);	/* before anything is read from the network */
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
