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
 * Many volumes (--all): one process, one KMIP session per server group
 * shared by every volume of that group, the whole run within one deadline;
 * a group that gave no answer at all is not asked again in the run, so one
 * down group costs its time once.  No fork: a secret never crosses one
 * (util/secmem.h), and an inline key_password is one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks/luks_internal.h"
#include "conf/config.h"
#include "util/clock.h"
#include "util/errclass.h"
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

/*
 * One token: prove it (fetch the secret, check it against the header), then
 * activate or resume if name.  *fatal: a LUKS failure no other token would
 * avoid (no device-mapper, the name in use...); a wrong secret or object is
 * this token's problem only.
 */
/* The secret fetched ahead for token id, if it came back usable (quietly: else asked again). */
static void take_prefetched(struct kmip_client *c, struct prefetch *pf, int id, struct luks_proof *p)
{
	struct luks_log_tee tee = { .quiet = true };
	uint8_t *secret = NULL;
	size_t len = 0;
	bool is_vk = false;

	if (!pf || !pf->sent || pf->id != id || pf->q.f.err || pf->q.f.fetch_err)
		return;
	luks_log_tee_begin(&tee);
	if (luks_fetch_finish(c, &pf->q, 0, &secret, &len, &is_vk) == 0) {
		p->given = secret;
		p->given_len = len;
		p->given_vk = is_vk;
	}
	luks_log_tee_end(&tee);
	pf->sent = false;	/* used once */
}

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
	r = luks_prove(cd, device, id, &t, kmip_session_client(conn), kek_file, &p);
	if (r < 0) {
		/* No usable answer from the KMS (util/errclass.h): the messages so far named no group. */
		if (p.verdict == LUKS_UNPROVEN && errclass_no_answer(r))
			log_error("%s token %d: no usable answer from the server(s) of group [%s]: %s",
				  device, id, t.group, kmip_failure_reason(kmip_session_client(conn), r,
									   why, sizeof(why)));
		if (p.verdict == LUKS_UNPROVEN && errclass_unreachable(r))
			session_down(ss, t.group, r);
		*fatal = p.verdict == LUKS_UNPROVEN && r == -ELUKS;
		goto out;
	}
	if (r == 0)
		log_info("%s: %s with token %d (key '%s', kind %s)", device,
			 resume ? "resumed" : name ? "unlocked" :
			 "verified, no mapping created (check only)", id, t.uid,
			 kmip_kind_name(t.kind));
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

static int unlock_one(const char *device, const char *name, struct sessions *ss,
		      const struct unlock_opts *o, struct prefetch *pf)
{
	struct crypt_device *cd = NULL;
	int ids[TOKENS_MAX], n, i, r, first = 0, open;
	bool fatal = false;

	if (pf && pf->cd) {
		cd = pf->cd;	/* loaded by the prefetch */
		pf->cd = NULL;
	} else {
		r = luks_dev_open(device, &cd);
		if (r < 0)
			return r;
	}
	open = name ? already_open(cd, device, name) : 0;
	if (o->outcome)
		*o->outcome = open == 1 ? LUKS_UNLOCK_ALREADY_OPEN : open == 2 ? LUKS_UNLOCK_RESUMED :
			      name ? LUKS_UNLOCK_OPENED : LUKS_UNLOCK_VERIFIED;
	if (open == 1) {
		r = 0;
		goto out;
	}
	if (name) {
		char flags[128];

		flags_text(o->activate_flags, flags, sizeof(flags));
		log_debug("%s: to be opened as %s, options %s", device, name, flags);
	}
	n = luks_kmip_tokens(cd, ids, TOKENS_MAX);
	if (o->token_id >= 0) {
		for (i = 0; i < n && ids[i] != o->token_id; i++)
			;
		if (i == n) {
			r = log_error_errno(-ELUKS, "%s: token %d is not a kmip token", device,
					    o->token_id);
			goto out;
		}
		ids[0] = o->token_id;
		n = 1;
	}
	if (n == 0) {
		r = log_error_errno(-ELUKS, "%s: no kmip token (bind it with 'kmipcrypt enroll %s')",
				    device, device);
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = unlock_token(cd, device, name, ss, o, ids[i], open == 2, pf, &fatal);
		if (r == 0)
			goto out;
		if (!first)
			first = r;
		if (fatal)
			break;
		if (i + 1 < n)
			log_warn("%s: token %d did not unlock; trying token %d", device, ids[i],
				 ids[i + 1]);
	}
	r = first;
out:
	crypt_free(cd);
	return r;
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
	n = luks_kmip_tokens(cd, ids, TOKENS_MAX);
	id = o->token_id >= 0 ? o->token_id : n > 0 ? ids[0] : -1;
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

int luks_unlock_many(const struct luks_volume_list *l, bool check_only, struct config *cfg,
		     const struct unlock_opts *o, int *results,
		     enum luks_unlock_outcome *outcomes)
{
	struct sessions ss = { .cfg = cfg };
	struct prefetch *pf;
	size_t i;

	if (!o)
		o = &defaults;
	ss.deadline = deadline_of(o);
	/* The secrets of every volume first, one request per server group... */
	pf = calloc(l->n ? l->n : 1, sizeof(*pf));
	if (pf) {
		for (i = 0; i < l->n; i++)
			prefetch_prepare(&l->v[i], check_only, &ss, o, &pf[i]);
		prefetch_groups(&ss, pf, l->n);
	}
	/* ... then each volume's proof and activation (asking again what did not come). */
	for (i = 0; i < l->n; i++) {
		struct unlock_opts mine = *o;
		enum luks_unlock_outcome how = check_only ? LUKS_UNLOCK_VERIFIED : LUKS_UNLOCK_OPENED;

		if (l->v[i].err) {	/* a listed volume that is none (logged by luks_discover) */
			results[i] = l->v[i].err;
			continue;
		}
		mine.activate_flags |= l->v[i].activate_flags;
		mine.outcome = &how;
		results[i] = unlock_one(l->v[i].device, check_only ? NULL : l->v[i].name, &ss, &mine,
					pf ? &pf[i] : NULL);
		if (outcomes)
			outcomes[i] = how;
	}
	for (i = 0; pf && i < l->n; i++) {
		if (pf[i].id >= 0)
			luks_fetch_clear(&pf[i].q);
		crypt_free(pf[i].cd);
		explicit_bzero(&pf[i].t, sizeof(pf[i].t));
	}
	free(pf);
	sessions_close(&ss);
	return 0;
}
