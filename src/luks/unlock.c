/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unlock: for each kmip token of the device (in token order, or the one
 * asked for), prove the binding (luks_prove: the key's State and the secret
 * in one request, the secret checked against the header) by activating the
 * mapping with it: the token's keyslot by passphrase (passphrase, envelope)
 * or the volume key itself (volume-key), one keyslot check in all.  With no
 * name the proof creates no mapping (check only).  A volume already open as
 * name is left alone; one open but suspended (`lock`) is resumed with the
 * secret, fetched again: the key must still be Active.
 *
 * Many volumes (--all): one process holds one KMIP session per server
 * group, shared by every volume of that group, the whole run within one
 * deadline; a group that gave no answer at all is not asked again in the
 * run, so one down group costs its time once.  The secrets of every volume
 * come in one request per group; then the keyslot checks and activations,
 * which are CPU work (PBKDF2 of the keyslot and the digest) and waits on
 * device-mapper and udev, run in child processes a few at a time
 * (util/fanout.h; not threads: libdevmapper is not thread-safe).  Each
 * child is handed its one secret (secmem.h's hand-over), proves and
 * activates its volume's first token and reports; the sessions stay with
 * this process, so what needs the server again (the next token, a secret
 * that did not come ahead, a resume) is done here afterwards, in order.
 * A keyslot with a memory-hard PBKDF (Argon2) is activated here alone: its
 * memory cost is set for one at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "luks/luks_internal.h"
#include "conf/config.h"
#include "util/clock.h"
#include "util/errclass.h"
#include "util/fanout.h"
#include "util/log.h"
#include "util/secmem.h"

#define TOKENS_MAX	32

/* The sessions of one run, one per server group, opened on first use. */
struct sessions {
	struct config *cfg;
	int64_t deadline;
	size_t n;
	struct {
		char group[CONFIG_NAME_MAX];
		struct kmip_session *s;
		int down;	/* 0, or the errno of "no answer at all" earlier in the run */
	} g[CONFIG_GROUPS_MAX];
};

/* The group's entry (NULL if the table is full: every group of a config fits). */
static struct kmip_session *session_of(struct sessions *ss, const char *group, int *down, int *err)
{
	size_t i;

	*down = 0;
	*err = 0;
	for (i = 0; i < ss->n && strcmp(ss->g[i].group, group); i++)
		;
	if (i == ss->n) {
		if (ss->n == CONFIG_GROUPS_MAX) {
			*err = -E2BIG;
			return NULL;
		}
		snprintf(ss->g[i].group, sizeof(ss->g[i].group), "%s", group);
		ss->n++;
	}
	if (ss->g[i].down) {
		*down = ss->g[i].down;
		return NULL;
	}
	if (!ss->g[i].s)
		*err = conf_session_open(ss->cfg, group, ss->deadline, &ss->g[i].s);
	return ss->g[i].s;
}

static void session_down(struct sessions *ss, const char *group, int r)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (!strcmp(ss->g[i].group, group))
			ss->g[i].down = r;
}

/*
 * unlock --all: a volume's first kmip token, fetched ahead with the other
 * volumes of its server group in one request (kmip_fetch_many).  Only an
 * answer that gave the secret is used; anything else is asked again by the
 * volume's own unlock, which then says why as it always does.
 */
struct prefetch {
	int id;			/* token id; -1: nothing fetched ahead */
	bool sent;
	struct crypt_device *cd;	/* the header, loaded once: the volume's unlock takes it */
	struct kmip_token t;
	struct luks_fetch q;
	char kek[4096];
	uint8_t *secret;	/* the answer made a secret (prefetch_finish): locked memory */
	size_t secret_len;
	bool secret_vk;
};

static void sessions_close(struct sessions *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		kmip_session_close(ss->g[i].s);
	ss->n = 0;
}

/* The CRYPT_ACTIVATE_* flags crypttab can set, for messages. */
static void flags_text(uint32_t flags, char *buf, size_t len)
{
	static const struct { uint32_t flag; const char *name; } names[] = {
		{ CRYPT_ACTIVATE_ALLOW_DISCARDS, "discard" },
		{ CRYPT_ACTIVATE_READONLY, "readonly" },
		{ CRYPT_ACTIVATE_SAME_CPU_CRYPT, "same-cpu-crypt" },
		{ CRYPT_ACTIVATE_SUBMIT_FROM_CRYPT_CPUS, "submit-from-crypt-cpus" },
		{ CRYPT_ACTIVATE_NO_READ_WORKQUEUE, "no-read-workqueue" },
		{ CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE, "no-write-workqueue" },
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((flags & names[i].flag) && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[i].name);
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* Finish the secret fetched ahead for token id, once and quietly (else it is asked again). */
static void prefetch_finish(struct kmip_client *c, struct prefetch *pf, int id)
{
	struct luks_log_tee tee = { .quiet = true };

	if (!pf || !pf->sent || pf->id != id || pf->q.f.err || pf->q.f.fetch_err)
		return;
	luks_log_tee_begin(&tee);
	if (luks_fetch_finish(c, &pf->q, 0, &pf->secret, &pf->secret_len, &pf->secret_vk) < 0)
		pf->secret = NULL;
	luks_log_tee_end(&tee);
	pf->sent = false;	/* used once */
}

/* The secret fetched ahead for token id, if it came back usable: p takes it. */
static void take_prefetched(struct kmip_client *c, struct prefetch *pf, int id, struct luks_proof *p)
{
	prefetch_finish(c, pf, id);
	if (!pf || !pf->secret || pf->id != id)
		return;
	p->given = pf->secret;
	p->given_len = pf->secret_len;
	p->given_vk = pf->secret_vk;
	pf->secret = NULL;
}

/*
 * Prove token id with p (its secret given, or fetched through c) by
 * activating or resuming if name.  *fatal: a LUKS failure no other token
 * would avoid (no device-mapper, the name in use...); a wrong secret or
 * object is this token's problem only.
 */
static int prove_token(struct crypt_device *cd, const char *device, const char *name, int id,
		       const struct kmip_token *t, struct kmip_client *c, const char *kek_file,
		       struct luks_proof *p, bool *fatal)
{
	int r = luks_prove(cd, device, id, t, c, kek_file, p);

	*fatal = r < 0 && p->verdict == LUKS_UNPROVEN && r == -ELUKS;
	if (r == 0)
		log_info("%s: %s with token %d (key '%s', kind %s)", device,
			 p->resume ? "resumed" : name ? "unlocked" :
			 "verified, no mapping created (check only)", id, t->uid,
			 kmip_kind_name(t->kind));
	return r;
}

/* One token, from the token to the server's answer and the proof: see prove_token(). */
static int unlock_token(struct crypt_device *cd, const char *device, const char *name,
			struct sessions *ss, const struct unlock_opts *o, int id, bool resume,
			struct prefetch *pf, bool *fatal)
{
	struct luks_proof p = { .activate_name = name, .activate_flags = o->activate_flags,
				.resume = resume };
	struct kmip_token t;
	struct kmip_session *conn;
	char kek[4096], why[KMIP_FAILURE_TEXT_SIZE];
	const char *kek_file = NULL;
	int r, down;

	*fatal = false;
	r = luks_token_read(cd, device, id, &t);
	if (r < 0)
		return -ELUKS;
	r = luks_token_kek_file(ss->cfg, device, id, &t, o->kek_file, kek, sizeof(kek), &kek_file);
	if (r < 0)
		goto out;
	conn = session_of(ss, t.group, &down, &r);
	if (down) {
		r = log_error_errno(down, "%s token %d: the server(s) of group [%s] gave no answer "
				    "earlier in this run; not asked again", device, id, t.group);
		goto out;
	}
	if (r < 0)
		goto out;
	log_debug("%s token %d: %s key '%s' from group [%s]", device, id, kmip_kind_name(t.kind),
		  t.uid, t.group);
	take_prefetched(kmip_session_client(conn), pf, id, &p);
	r = prove_token(cd, device, name, id, &t, kmip_session_client(conn), kek_file, &p, fatal);
	/* No usable answer from the KMS (util/errclass.h): the messages so far named no group. */
	if (r < 0 && p.verdict == LUKS_UNPROVEN && errclass_no_answer(r))
		log_error("%s token %d: no usable answer from the server(s) of group [%s]: %s",
			  device, id, t.group, kmip_failure_reason(kmip_session_client(conn), r,
								   why, sizeof(why)));
	if (r < 0 && p.verdict == LUKS_UNPROVEN && errclass_unreachable(r))
		session_down(ss, t.group, r);
out:
	secmem_free(p.given);	/* not taken if the run stopped before the proof */
	explicit_bzero(&t, sizeof(t));
	return r;
}

/*
 * Is this volume open as name already?  Then unlocking is done (as
 * systemd-cryptsetup does): nothing is fetched, 1.  Open but suspended (by
 * `lock`, luksSuspend): 2, the secret is fetched again to resume it.  A
 * mapping of that name of another volume, or one closed to an error target,
 * is left to activation to refuse (-EEXIST): 0.
 */
static int already_open(struct crypt_device *cd, const char *device, const char *name)
{
	struct crypt_device *byname = NULL;
	struct crypt_active_device cad;
	const char *mine = crypt_get_uuid(cd), *theirs;
	int open = 0;

	/* crypt_status(NULL, ...) asks quietly; crypt_init_by_name would log "not active". */
	if (!luks_dm_available() || crypt_status(NULL, name) < CRYPT_ACTIVE ||
	    crypt_init_by_name(&byname, name) < 0)
		return 0;
	luks_dev_log_to_ours(byname);
	theirs = crypt_get_uuid(byname);
	if (crypt_status(byname, name) >= CRYPT_ACTIVE && mine && theirs && !strcmp(mine, theirs)) {
		open = 1;
		if (crypt_get_active_device(byname, name, &cad) == 0 &&
		    (cad.flags & CRYPT_ACTIVATE_SUSPENDED)) {
			log_info("%s: open as %s but suspended (locked); resuming it", device, name);
			open = 2;
		} else {
			log_info("%s: already unlocked as %s", device, name);
		}
	}
	crypt_free(byname);
	return open;
}

/*
 * The kmip tokens of cd that o lets unlock try, in order, into ids[TOKENS_MAX]:
 * o->token_id alone (-ELUKS, logged, if it is not a kmip token), else every
 * kmip token, of o->kinds if set.  The count (0: none).
 */
static int tokens_to_try(struct crypt_device *cd, const char *device, const struct unlock_opts *o,
			 int *ids)
{
	struct kmip_token t;
	int n, i, k = 0, r;

	n = luks_kmip_tokens(cd, ids, TOKENS_MAX);
	if (o->token_id >= 0) {
		for (i = 0; i < n && ids[i] != o->token_id; i++)
			;
		if (i == n)
			return log_error_errno(-ELUKS, "%s: token %d is not a kmip token", device,
					       o->token_id);
		ids[0] = o->token_id;
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (o->kinds) {
			struct luks_log_tee tee = { .quiet = true };

			/* An unreadable token stays: its own unlock says why. */
			luks_log_tee_begin(&tee);
			r = luks_token_read(cd, device, ids[i], &t);
			luks_log_tee_end(&tee);
			if (r == 0 && !(o->kinds & (1u << t.kind)))
				continue;
		}
		ids[k++] = ids[i];
	}
	explicit_bzero(&t, sizeof(t));
	return k;
}

/* One volume's unlock: its header, its kmip tokens, how far it got. */
struct volume {
	const char *device, *name;	/* name NULL: check only */
	struct unlock_opts o;
	struct crypt_device *cd;
	int ids[TOKENS_MAX], n;
	int next;		/* the index in ids of the token to try next */
	int open;		/* already_open() */
	bool done;
	int result;		/* when done: 0, or the first token's error */
	enum luks_unlock_outcome how;	/* what a success did */
};

/* The volume's result, done. */
static void volume_done(struct volume *u, int r)
{
	u->done = true;
	u->result = r;
}

/* Its header (loaded by the prefetch, else now), whether it is open, its tokens. */
static void volume_begin(struct volume *u, struct prefetch *pf)
{
	int r;

	if (pf && pf->cd) {
		u->cd = pf->cd;	/* loaded by the prefetch */
		pf->cd = NULL;
	} else {
		r = luks_dev_open(u->device, &u->cd);
		if (r < 0)
			return volume_done(u, r);
	}
	u->open = u->name ? already_open(u->cd, u->device, u->name) : 0;
	u->how = u->open == 1 ? LUKS_UNLOCK_ALREADY_OPEN : u->open == 2 ? LUKS_UNLOCK_RESUMED :
		 u->name ? LUKS_UNLOCK_OPENED : LUKS_UNLOCK_VERIFIED;
	if (u->open == 1)
		return volume_done(u, 0);
	if (u->name) {
		char flags[128];

		flags_text(u->o.activate_flags, flags, sizeof(flags));
		log_debug("%s: to be opened as %s, options %s", u->device, u->name, flags);
	}
	r = tokens_to_try(u->cd, u->device, &u->o, u->ids);
	if (r < 0)
		return volume_done(u, r);
	u->n = r;
	if (u->n == 0 && u->o.kinds && luks_kmip_tokens(u->cd, u->ids, 1) > 0) {
		log_info("%s: no kmip token of the kinds asked for; skipped", u->device);
		u->how = LUKS_UNLOCK_SKIPPED;
		return volume_done(u, 0);
	}
	if (u->n == 0)
		volume_done(u, log_error_errno(-ELUKS, "%s: no kmip token (bind it with "
						   "'kmipcrypt enroll %s')", u->device, u->device));
}

/* Token ids[next] gave r (fatal: no other token would do better): on to the next, or done. */
static void volume_tried(struct volume *u, int r, bool fatal)
{
	if (r == 0)
		return volume_done(u, 0);
	if (!u->result)
		u->result = r;	/* the first token's error is the volume's */
	if (fatal || u->next + 1 >= u->n)
		return volume_done(u, u->result);
	log_warn("%s: token %d did not unlock; trying token %d", u->device, u->ids[u->next],
		 u->ids[u->next + 1]);
	u->next++;
}

/* The tokens not tried yet, in order, until one unlocks. */
static void volume_tokens(struct volume *u, struct sessions *ss, struct prefetch *pf)
{
	bool fatal;
	int r;

	while (!u->done) {
		r = unlock_token(u->cd, u->device, u->name, ss, &u->o, u->ids[u->next], u->open == 2,
				 pf, &fatal);
		volume_tried(u, r, fatal);
	}
}

static int unlock_one(const char *device, const char *name, struct sessions *ss,
		      const struct unlock_opts *o, struct prefetch *pf)
{
	struct volume u = { .device = device, .name = name, .o = *o };

	volume_begin(&u, pf);
	volume_tokens(&u, ss, pf);
	if (o->outcome)
		*o->outcome = u.how;
	crypt_free(u.cd);
	return u.result;
}

static const struct unlock_opts defaults = { .token_id = -1 };

static int64_t deadline_of(const struct unlock_opts *o)
{
	return clock_now_ms() + (o->deadline_ms ? o->deadline_ms : LUKS_DEADLINE_MS_DEFAULT);
}

int luks_unlock_ex(const char *device, const char *name, struct config *cfg,
		   const struct unlock_opts *o)
{
	struct sessions ss = { .cfg = cfg };
	int r;

	if (!o)
		o = &defaults;
	ss.deadline = deadline_of(o);
	r = unlock_one(device, name, &ss, o, NULL);
	sessions_close(&ss);
	return r;
}

int luks_unlock(const char *device, const char *name, struct config *cfg)
{
	return luks_unlock_ex(device, name, cfg, NULL);
}

/* ------------------------------------------------------------ many */

/* Prepare the fetch of a volume's first token, quietly: any trouble is its own unlock's to report. */
static void prefetch_prepare(const struct luks_volume *v, bool check_only, struct sessions *ss,
			     const struct unlock_opts *o, struct prefetch *pf)
{
	struct luks_log_tee tee = { .quiet = true };
	struct crypt_device *cd = NULL;
	const char *kek_file = NULL;
	int ids[TOKENS_MAX], n, id;

	pf->id = -1;
	if (v->err || (!check_only && v->name && luks_dm_available() &&
		       crypt_status(NULL, v->name) >= CRYPT_ACTIVE))
		return;	/* open already (or suspended): nothing to fetch ahead */
	luks_log_tee_begin(&tee);
	if (luks_dev_open(v->device, &cd) < 0)
		goto out;
	n = tokens_to_try(cd, v->device, o, ids);
	id = n > 0 ? ids[0] : -1;
	if (id < 0 || luks_token_read(cd, v->device, id, &pf->t) < 0 ||
	    luks_token_kek_file(ss->cfg, v->device, id, &pf->t, o->kek_file, pf->kek,
				sizeof(pf->kek), &kek_file) < 0 ||
	    luks_fetch_prepare(&pf->t, kek_file, &pf->q) < 0) {
		luks_fetch_clear(&pf->q);
		goto out;
	}
	pf->id = id;
	pf->cd = cd;
	cd = NULL;
out:
	crypt_free(cd);
	luks_log_tee_end(&tee);
}

/* Every prepared volume of each server group in one request (per KMIP_BATCH_MAX / 2). */
static void prefetch_groups(struct sessions *ss, struct prefetch *pf, size_t n)
{
	struct kmip_fetch **batch;
	struct kmip_session *s;
	size_t i, j, k;
	int down, err, r;

	batch = calloc(n, sizeof(*batch));
	if (!batch)
		return;
	for (i = 0; i < n; i++) {
		struct luks_log_tee tee = { .quiet = true };
		const char *group = pf[i].t.group;

		if (pf[i].id < 0 || pf[i].sent)
			continue;
		for (j = i, k = 0; j < n; j++)
			if (pf[j].id >= 0 && !pf[j].sent && !strcmp(pf[j].t.group, group)) {
				batch[k++] = &pf[j].q.f;
				pf[j].sent = true;
			}
		/* A group that cannot be used is the volumes' own unlocks to report. */
		luks_log_tee_begin(&tee);
		s = session_of(ss, group, &down, &err);
		luks_log_tee_end(&tee);
		if (!s) {
			for (j = i; j < n; j++)
				if (pf[j].sent && !strcmp(pf[j].t.group, group))
					pf[j].q.f.err = -ENOMSG;	/* nothing came: ask again */
			continue;
		}
		kmip_client_assume_version(kmip_session_client(s), pf[i].t.protocol);
		r = kmip_fetch_many(kmip_session_client(s), batch, k);
		log_debug("group [%s]: %zu volumes asked in one request: %s", group, k,
			  r < 0 ? strerror(-r) : "answered");
		if (r < 0 && errclass_unreachable(r)) {
			char why[KMIP_FAILURE_TEXT_SIZE];

			log_error("no usable answer from the server(s) of group [%s]: %s", group,
				  kmip_failure_reason(kmip_session_client(s), r, why, sizeof(why)));
			session_down(ss, group, r);
		}
	}
	free(batch);
}

/* ------------------------------------------------------------ at once */

/* A keyslot whose PBKDF is memory-hard (Argon2): its memory cost is sized for one at a time. */
static bool memory_hard(struct crypt_device *cd, const struct kmip_token *t)
{
	struct crypt_pbkdf_type pbkdf;

	if (t->kind == KMIP_KIND_VOLUME_KEY)
		return false;	/* the volume key is checked against the digest: PBKDF2 */
	if (crypt_keyslot_get_pbkdf(cd, t->keyslot, &pbkdf) < 0 || !pbkdf.type)
		return true;	/* unknown: as careful as the worst */
	return strcmp(pbkdf.type, CRYPT_KDF_PBKDF2) != 0;
}

/* What a child tells of its volume's first token (no secret). */
struct proof_result {
	int r;
	bool fatal;
	pid_t pid;	/* the child's, for the debug log */
};

struct at_once {
	struct volume *u;
	struct prefetch *pf;
	size_t *vol;		/* job k is the volume vol[k] */
};

/* In the child: the first token's proof with the secret handed over. */
static void prove_job(size_t k, void *secret, size_t len, void *result, void *ctx)
{
	struct at_once *a = ctx;
	struct volume *u = &a->u[a->vol[k]];
	struct prefetch *pf = &a->pf[a->vol[k]];
	struct proof_result *res = result;
	struct luks_proof p = { .activate_name = u->name, .activate_flags = u->o.activate_flags,
				.given = secret, .given_len = len, .given_vk = pf->secret_vk };

	res->fatal = false;
	res->pid = getpid();
	if (!secret) {
		res->r = log_error_errno(errno ? -errno : -ENOMEM, "%s: the secret of token %d could "
					 "not be handed to the process activating it", u->device,
					 u->ids[0]);
		return;
	}
	res->r = prove_token(u->cd, u->device, u->name, u->ids[0], &pf->t, NULL, NULL, &p,
			     &res->fatal);
}

/*
 * The volumes whose first token's secret came ahead: their proofs and
 * activations in child processes, o->jobs (default: one per CPU) at a
 * time, where that is at least two; what is left stays for volume_tokens().
 */
static void unlock_at_once(struct sessions *ss, struct volume *u, struct prefetch *pf, size_t n,
			   const struct unlock_opts *o)
{
	struct at_once a = { .u = u, .pf = pf };
	struct fanout_job *jobs = NULL;
	struct proof_result *res = NULL;
	unsigned width = o->jobs ? o->jobs : fanout_cpus();
	size_t i, k, m = 0;
	int down, err;

	if (width > UNLOCK_JOBS_MAX)
		width = UNLOCK_JOBS_MAX;
	if (width < 2 || n < 2)
		return;
	a.vol = calloc(n, sizeof(*a.vol));
	jobs = calloc(n, sizeof(*jobs));
	res = calloc(n, sizeof(*res));
	if (!a.vol || !jobs || !res)
		goto out;
	for (i = 0; i < n; i++) {
		struct kmip_session *s;

		if (u[i].done || u[i].open || u[i].next != 0 || !pf[i].sent || pf[i].id != u[i].ids[0])
			continue;
		if (memory_hard(u[i].cd, &pf[i].t)) {
			log_debug("%s: keyslot %d has a memory-hard PBKDF: activated alone",
				  u[i].device, pf[i].t.keyslot);
			continue;
		}
		s = session_of(ss, pf[i].t.group, &down, &err);	/* open: it answered the prefetch */
		if (s)
			prefetch_finish(kmip_session_client(s), &pf[i], pf[i].id);
		if (!pf[i].secret)
			continue;	/* asked again by its own unlock, which says why */
		a.vol[m] = i;
		jobs[m] = (struct fanout_job){ .secret = pf[i].secret, .secret_len = pf[i].secret_len,
					       .result = &res[m] };
		m++;
	}
	if (m < 2)
		goto out;	/* one: no gain from a child; the secret stays in pf for its unlock */
	if (width > m)
		width = (unsigned)m;
	log_debug("%s %zu volumes, %u at a time (in child processes)",
		  u[a.vol[0]].name ? "activating" : "checking", m, width);
	if (fanout_run(jobs, m, sizeof(*res), width, prove_job, &a) < 0)
		goto out;
	for (k = 0; k < m; k++) {
		struct volume *v = &u[a.vol[k]];
		struct prefetch *q = &pf[a.vol[k]];
		char how[64];

		switch (jobs[k].state) {
		case FANOUT_NOT_RUN:	/* the secret stays in pf: volume_tokens() uses it */
			continue;
		case FANOUT_ANSWERED:
			log_debug("%s: token %d %s in process %d", v->device, v->ids[0],
				  res[k].r ? "failed" : "proven", (int)res[k].pid);
			volume_tried(v, res[k].r, res[k].fatal);
			break;
		case FANOUT_DIED:
			if (WIFSIGNALED(jobs[k].wstatus))
				snprintf(how, sizeof(how), "signal %d", WTERMSIG(jobs[k].wstatus));
			else
				snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(jobs[k].wstatus));
			volume_done(v, log_error_errno(-EIO, "%s: the process %s it with token %d "
						       "died (%s): see its messages above; "
						       "run 'kmipcrypt unlock %s' again", v->device,
						       v->name ? "activating" : "checking",
						       v->ids[0], how, v->device));
			break;
		}
		secmem_free(q->secret);	/* the child had its own copy */
		q->secret = NULL;
	}
out:
	free(a.vol);
	free(jobs);
	free(res);
}

int luks_unlock_many(const struct luks_volume_list *l, bool check_only, struct config *cfg,
		     const struct unlock_opts *o, int *results,
		     enum luks_unlock_outcome *outcomes)
{
	struct sessions ss = { .cfg = cfg };
	struct prefetch *pf;
	struct volume *u;
	size_t i;

	if (!o)
		o = &defaults;
	ss.deadline = deadline_of(o);
	pf = calloc(l->n ? l->n : 1, sizeof(*pf));
	u = calloc(l->n ? l->n : 1, sizeof(*u));
	if (!pf || !u) {
		for (i = 0; i < l->n; i++)
			results[i] = -ENOMEM;
		goto out;
	}
	/* The secrets of every volume first, one request per server group... */
	for (i = 0; i < l->n; i++)
		prefetch_prepare(&l->v[i], check_only, &ss, o, &pf[i]);
	prefetch_groups(&ss, pf, l->n);
	for (i = 0; i < l->n; i++) {
		u[i] = (struct volume){ .device = l->v[i].device,
					.name = check_only ? NULL : l->v[i].name, .o = *o };
		u[i].o.activate_flags |= l->v[i].activate_flags;
		if (l->v[i].err)	/* a listed volume that is none (logged by luks_discover) */
			volume_done(&u[i], l->v[i].err);
		else
			volume_begin(&u[i], &pf[i]);
	}
	/* ... then the proofs and activations, at once where that helps, ... */
	unlock_at_once(&ss, u, pf, l->n, o);
	/* ... and in order what is left (asking again what did not come). */
	for (i = 0; i < l->n; i++) {
		volume_tokens(&u[i], &ss, &pf[i]);
		results[i] = u[i].result;
		if (outcomes)
			outcomes[i] = u[i].how;
	}
out:
	for (i = 0; pf && u && i < l->n; i++) {
		if (pf[i].id >= 0)
			luks_fetch_clear(&pf[i].q);
		secmem_free(pf[i].secret);
		crypt_free(pf[i].cd);
		crypt_free(u[i].cd);
		explicit_bzero(&pf[i].t, sizeof(pf[i].t));
	}
	free(pf);
	free(u);
	sessions_close(&ss);
	return 0;
}
