/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unbind: remove a kmip token and its keyslot, then (if asked) revoke the
 * KMS object with Cessation of Operation and destroy it.
 *
 * The header is hostile input: anyone who can write it can make a token
 * name another volume's key, or the user's own keyslot.  So it is never
 * trusted to name what to remove or destroy:
 *
 *   prove     the object the token names must give the secret that opens
 *             the token's keyslot (volume-key: that is the volume key),
 *             checked against the header without activating (luks_prove).
 *             Not proven (another object, the server down, the key
 *             revoked...): refused, with the reason, unless --force.
 *   keyslot   removed only when proven, when no other token uses it, and
 *             for kind volume-key only when it is an unbound keyslot (never
 *             one bound to the data).  Otherwise, and always for an invalid
 *             token, it is kept, with the command to remove it by hand.
 *   rotation  refused (even with --force) while a rekey of the token is in
 *             progress or was interrupted: its record names a new keyslot
 *             and object that only rekey takes back or finishes.
 *   last way  refused (even with --force) when no way into the volume would
 *             remain.  A keyslot counts as a way in if it is bound to the
 *             data and either another valid kmip token uses it, or no kmip
 *             token uses it and it does not look like a kmipcrypt keyslot
 *             left behind by a removed token (PBKDF2-SHA256 with exactly
 *             KMIP_KEYSLOT_PBKDF2_ITERATIONS iterations: a random secret that
 *             no person knows).  The signature can only make unbind refuse
 *             more often, never remove more.
 *
 * Then the header is changed (token, then keyslot), the KMS second: a KMS
 * that fails then leaves a key that no token uses (said so, with the
 * command to finish), never a token whose key is gone.
 *
 * A termination request (SIGINT, SIGTERM, SIGHUP: util/interrupt.h, caught
 * by the caller) is looked at between the steps: before the token is
 * removed unbind gives up (-EINTR, nothing changed); after, it finishes
 * (keyslot, then KMS) and says so.
 *
 * Test hook: KMIPCRYPT_FAIL_AT=STEP makes a step fail, STEP:SIGNAL raises the
 * signal at its start (steps: prove, token, keyslot, destroy; see device.c).
 */
#define _GNU_SOURCE	/* sigabbrev_np */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "luks/reencrypt.h"
#include "util/clock.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/secmem.h"

#define TOKENS_MAX	32

static const char *const steps_unbind[] = { "prove", "token", "keyslot", "destroy", NULL };

struct unbind {
	const char *device;
	struct crypt_device *cd;
	int tid;
	bool changed;		/* the token is removed: past the point of no return */
	bool finishing;		/* interrupted after that: said so once */
	const char *step;
};

static const char *signame(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	static char buf[16];

	snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "?");
	return buf;
}

/*
 * The start of a step: the test hook (a failure, or a signal), then a
 * termination request: before the header is changed, stop (-EINTR); after,
 * note it and go on.
 */
static int step(struct unbind *u, const char *name)
{
	int sig;

	u->step = name;
	if (luks_fail_at(name))
		return log_error_errno(-EIO, "%s: step '%s' failed (injected)", u->device, name);
	sig = interrupt_pending();
	if (!sig)
		return 0;
	if (!u->changed)
		return -EINTR;
	if (!u->finishing)
		log_warn("%s: interrupted (%s) after the token was removed: finishing the unbind "
			 "(keyslot, then KMS)", u->device, signame(sig));
	u->finishing = true;
	return 0;
}

/* Another token of the device (of any type, valid or not) assigned to keyslot? */
static bool keyslot_shared(struct crypt_device *cd, int token_id, int keyslot)
{
	int i, max = crypt_token_max(CRYPT_LUKS2);

	for (i = 0; i < (max > 0 ? max : TOKENS_MAX); i++)
		if (i != token_id && crypt_token_is_assigned(cd, i, keyslot) == 0)
			return true;
	return false;
}

/*
 * Another kmip token of the device naming the same object?  Valid or not (a
 * damaged token may still be repaired): only its "uid" member is looked at.
 */
static bool uid_shared(struct crypt_device *cd, int token_id, const char *uid)
{
	int ids[TOKENS_MAX], n = luks_kmip_tokens(cd, ids, TOKENS_MAX), i;
	bool shared = false;

	for (i = 0; i < n && !shared; i++) {
		const char *json = NULL;
		json_object *root, *u;

		if (ids[i] == token_id || crypt_token_json_get(cd, ids[i], &json) < 0 || !json)
			continue;
		root = json_tokener_parse(json);
		if (root && json_object_object_get_ex(root, "uid", &u) &&
		    json_object_is_type(u, json_type_string) &&
		    strcmp(json_object_get_string(u), uid) == 0)
			shared = true;
		json_object_put(root);
	}
	return shared;
}

/* Is token id a valid kmip token?  Its errors are logged at debug level only. */
static bool token_valid_quiet(struct crypt_device *cd, const char *device, int id)
{
	struct luks_log_tee tee = { .quiet = true };
	struct kmip_token t;
	bool valid;

	luks_log_tee_begin(&tee);
	valid = luks_token_read(cd, device, id, &t) == 0;
	luks_log_tee_end(&tee);
	explicit_bzero(&t, sizeof(t));
	return valid;
}

/* Read the token; if it is invalid, why (no error logged: the caller says what follows). */
static bool token_read_why(struct unbind *u, struct kmip_token *t, char *why, size_t len)
{
	struct luks_log_tee tee = { .why = why, .len = len, .quiet = true };
	bool valid;

	luks_log_tee_begin(&tee);
	valid = luks_token_read(u->cd, u->device, u->tid, t) == 0;
	luks_log_tee_end(&tee);
	luks_why_strip(why, u->device);
	return valid;
}

/* A keyslot as enroll makes them: PBKDF2-SHA256, exactly KMIP_KEYSLOT_PBKDF2_ITERATIONS. */
static bool kmipcrypt_like(struct crypt_device *cd, int keyslot)
{
	struct crypt_pbkdf_type pbkdf;

	memset(&pbkdf, 0, sizeof(pbkdf));
	return crypt_keyslot_get_pbkdf(cd, keyslot, &pbkdf) == 0 && pbkdf.type && pbkdf.hash &&
	       strcmp(pbkdf.type, CRYPT_KDF_PBKDF2) == 0 && strcmp(pbkdf.hash, "sha256") == 0 &&
	       pbkdf.iterations == KMIP_KEYSLOT_PBKDF2_ITERATIONS;
}

/*
 * Is keyslot s (bound to the data) a way in once token tid is gone?  If
 * not, *why_not says why (static text).
 */
static bool way_in(struct unbind *u, int s, const char **why_not)
{
	int ids[TOKENS_MAX], n = luks_kmip_tokens(u->cd, ids, TOKENS_MAX), i;
	bool kmip = false;

	for (i = 0; i < n; i++) {
		if (ids[i] == u->tid || crypt_token_is_assigned(u->cd, ids[i], s) != 0)
			continue;
		if (token_valid_quiet(u->cd, u->device, ids[i]))
			return true;
		kmip = true;
	}
	if (kmip) {
		*why_not = "only an invalid kmip token uses it";
		return false;
	}
	if (kmipcrypt_like(u->cd, s)) {
		*why_not = "no token uses it and it looks like a kmipcrypt keyslot left behind by a "
			   "removed token (PBKDF2-SHA256, exactly the iterations kmipcrypt uses): its "
			   "passphrase is a random secret that no person knows";
		return false;
	}
	return true;
}

/*
 * The "last way in" rule: 0 if a way into the volume remains once the token
 * is removed and keyslot `removed` (-1: none) destroyed; else logged, -ELUKS.
 */
static int check_ways_in(struct unbind *u, int removed, bool vk)
{
	int s, max = crypt_keyslot_max(CRYPT_LUKS2), ways = 0;
	const char *why_not;

	for (s = 0; s < max; s++) {
		crypt_keyslot_info ki = crypt_keyslot_status(u->cd, s);

		if (s != removed && (ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST) &&
		    way_in(u, s, &why_not))
			ways++;
	}
	if (ways > 0)
		return 0;
	log_error("%s: refusing to unbind token %d: it is the last way to unlock this volume%s; "
		  "nothing was changed.  A keyslot counts as a way in if it is bound to the volume's "
		  "data and either another valid kmip token uses it, or no kmip token does and it "
		  "does not look like a kmipcrypt keyslot left behind by a removed token "
		  "(PBKDF2-SHA256 with exactly %d iterations).  Add a passphrase first ('cryptsetup "
		  "luksAddKey %s')", u->device, u->tid,
		  vk ? " (the token is the only pointer to the volume key on the KMS)" : "",
		  KMIP_KEYSLOT_PBKDF2_ITERATIONS, u->device);
	for (s = 0; s < max; s++) {
		crypt_keyslot_info ki = crypt_keyslot_status(u->cd, s);

		if (s == removed || (ki != CRYPT_SLOT_ACTIVE && ki != CRYPT_SLOT_ACTIVE_LAST))
			continue;
		if (!way_in(u, s, &why_not))
			log_error("%s: keyslot %d is not counted as a way in: %s", u->device, s,
				  why_not);
		else
			log_error("%s: keyslot %d is this token's", u->device, s);
	}
	return -ELUKS;
}

/*
 * The proof (luks_prove), with its reason in p->why: the configuration,
 * the KEK file and the connection count as part of it.
 */
static int prove_binding(struct unbind *u, struct config *cfg, const struct unbind_opts *o,
			 const struct kmip_token *t, struct luks_proof *p)
{
	/* Quiet: the refusal (or --force's warning) says why, once. */
	struct luks_log_tee tee = { .why = p->why, .len = sizeof(p->why), .quiet = true };
	struct kmip_session *conn = NULL;
	const char *kek_file = NULL;
	char kek[4096];
	int r;

	luks_log_tee_begin(&tee);
	r = step(u, "prove");
	if (r < 0)
		;	/* -EINTR, or the test hook's failure */
	else if (!cfg)
		r = log_error_errno(-EINVAL, "no configuration file to reach the KMS with");
	else
		r = luks_token_kek_file(cfg, u->device, u->tid, t, o->kek_file, kek, sizeof(kek),
					&kek_file);
	if (r == 0)
		r = conf_session_open(cfg, t->group, clock_now_ms() + LUKS_DEADLINE_MS_DEFAULT, &conn);
	if (r == 0)
		r = luks_prove(u->cd, u->device, u->tid, t, kmip_session_client(conn), kek_file, p);
	luks_log_tee_end(&tee);
	luks_why_strip(p->why, u->device);
	kmip_session_close(conn);
	return r;
}

/* Revoke (if Active) and destroy; r0 < 0: the step failed already (the test hook). */
static int destroy_key(struct config *cfg, const char *device, const struct kmip_token *t, int r0)
{
	struct kmip_revoke rv = {
		.reason = KMIP_REVOKE_CESSATION_OF_OPERATION,
		.message = "kmipcrypt unbind",
	};
	struct kmip_session *conn = NULL;
	struct kmip_client *c;
	struct kmip_attrs a;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r = r0;

	if (r < 0)
		goto fail;
	r = conf_session_open(cfg, t->group, clock_now_ms() + LUKS_DEADLINE_MS_DEFAULT, &conn);
	if (r < 0)
		goto fail;
	c = kmip_session_client(conn);
	memset(&a, 0, sizeof(a));
	r = kmip_get_attributes(c, t->uid, KMIP_ATTR_STATE, &a);
	if (r == -ENOENT) {
		log_info("%s: key '%s' is not on the server any more", device, t->uid);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto fail;
	if ((a.present & KMIP_ATTR_STATE) && a.state == KMIP_STATE_ACTIVE) {
		r = kmip_revoke(c, t->uid, &rv);
		if (r < 0)
			goto fail;
		log_info("%s: key '%s' revoked (Cessation of Operation)", device, t->uid);
	}
	r = kmip_destroy(c, t->uid);
	if (r < 0)
		goto fail;
	log_info("%s: key '%s' destroyed on the KMS", device, t->uid);
	goto out;
fail:
	log_error("%s: the token is removed, but %s; finish with 'kmipcrypt -g %s key destroy "
		  "--revoke %s'", device,
		  kmip_failure_text(conn ? kmip_session_client(conn) : NULL, r, why, sizeof(why),
				    "revoking and destroying key '%s'", t->uid), t->group, t->uid);
out:
	kmip_session_close(conn);
	return r;
}

/* The token to remove: token_id, or the device's only kmip token. */
static int pick_token(struct unbind *u)
{
	int ids[TOKENS_MAX], n = luks_kmip_tokens(u->cd, ids, TOKENS_MAX), i;

	if (u->tid < 0) {
		if (n == 0)
			return log_error_errno(-ELUKS, "%s: no kmip token", u->device);
		if (n > 1)
			return log_error_errno(-EINVAL, "%s: %d kmip tokens; say which with --token "
					       "(see 'kmipcrypt status %s')", u->device, n, u->device);
		u->tid = ids[0];
		return 0;
	}
	for (i = 0; i < n && ids[i] != u->tid; i++)
		;
	if (i == n)
		return log_error_errno(-ELUKS, "%s: token %d is not a kmip token", u->device, u->tid);
	return 0;
}

/*
 * A token under rotation is not unbound, even with --force: the rotation's
 * record (a kmip-rotation token, rekey.c) names its new keyslot and object,
 * which only rekey takes back or finishes.  0, or -ELUKS logged.
 */
static int check_rotation(struct unbind *u)
{
	struct luks_log_tee tee = { .quiet = true };	/* the refusal says it */
	int rid = -1, r;

	luks_log_tee_begin(&tee);
	r = luks_rotation_of(u->cd, u->device, u->tid, &rid, NULL);
	luks_log_tee_end(&tee);
	if (r == -ENOENT)
		return 0;
	if (r == -EINVAL)
		return log_error_errno(-ELUKS, "%s: refusing to unbind token %d: token %d is an "
				       "invalid kmip-rotation token that may record a rotation of it; "
				       "nothing was changed.  Look at it ('cryptsetup token export "
				       "--token-id %d %s'); if it is not kmipcrypt rekey's, remove it "
				       "('cryptsetup token remove --token-id %d %s'), then unbind",
				       u->device, u->tid, rid, rid, u->device, rid, u->device);
	return log_error_errno(-ELUKS, "%s: refusing to unbind token %d: a rotation of its key is "
			       "in progress (record: token %d); nothing was changed.  Run 'kmipcrypt "
			       "rekey %s --token %d' first: it finishes the rotation, or takes it "
			       "back if the token was not switched yet; then unbind", u->device,
			       u->tid, rid, u->device, u->tid);
}

/*
 * Which keyslot goes with the token: its own, only if the proof holds and
 * nothing else speaks against it; else -1, and *kept the keyslots kept
 * (a bit each) with why (said once the token is removed, see say_kept()).
 */
static int keyslot_to_remove(struct unbind *u, const struct kmip_token *t, bool valid,
			     bool proven, uint32_t *kept, char *why, size_t len)
{
	int s, max = crypt_keyslot_max(CRYPT_LUKS2);

	*kept = 0;
	why[0] = '\0';
	if (!valid) {
		for (s = 0; s < max && s < 32; s++)
			if (crypt_token_is_assigned(u->cd, u->tid, s) == 0)
				*kept |= 1u << s;
		snprintf(why, len, "token %d is not a valid kmip token, so nothing proves what this "
			 "keyslot is", u->tid);
		return -1;
	}
	if (keyslot_shared(u->cd, u->tid, t->keyslot))
		return -1;	/* another token's too: kept, nothing to do by hand */
	if (!proven)
		snprintf(why, len, "key '%s' is not proven to open it (--force)", t->uid);
	else if (t->kind == KMIP_KIND_VOLUME_KEY &&
		 crypt_keyslot_status(u->cd, t->keyslot) != CRYPT_SLOT_UNBOUND)
		snprintf(why, len, "it is not the unbound keyslot a volume-key token is bound to: it "
			 "unlocks the volume's data (another way in: perhaps your passphrase)");
	else
		return t->keyslot;
	*kept = 1u << t->keyslot;
	return -1;
}

/* The keyslots kept (a bit each): why, and how to remove each by hand. */
static void say_kept(struct unbind *u, uint32_t kept, const char *why)
{
	int s;

	for (s = 0; s < 32; s++)
		if (kept & (1u << s))
			log_warn("%s: keyslot %d kept: %s.  Once you know that nobody needs it (no "
				 "passphrase of yours opens it: 'cryptsetup open --test-passphrase "
				 "--key-slot %d %s'), remove it with 'cryptsetup luksKillSlot %s %d'",
				 u->device, s, why, s, u->device, u->device, s);
}

int luks_unbind(const char *device, struct config *cfg, struct unbind_opts *o)
{
	struct unbind u = { .device = device, .tid = o->token_id };
	struct luks_proof p = { 0 };
	struct kmip_token t;
	char kept_why[LUKS_REASON_MAX];
	uint32_t kept = 0;
	int r, slot;
	bool valid, proven = false;

	o->keyslot_kept = false;
	o->key_destroyed = false;
	o->key_shared = false;
	memset(&t, 0, sizeof(t));
	luks_fail_at_check(steps_unbind);
	r = luks_dev_open(device, &u.cd);
	if (r < 0)
		return r;
	r = luks_reencrypt_refuse(u.cd, device, "unbind");
	if (r == 0)
		r = pick_token(&u);
	if (r == 0)
		r = check_rotation(&u);
	if (r < 0)
		goto out;
	valid = token_read_why(&u, &t, p.why, sizeof(p.why));
	if (!valid && o->destroy_key) {
		r = log_error_errno(-EINVAL, "%s: token %d is not a valid kmip token (%s), so its "
				    "key cannot be named; unbind without --destroy-key", device, u.tid,
				    p.why);
		goto out;
	}
	if (valid) {
		r = prove_binding(&u, cfg, o, &t, &p);
		if (r < 0 && interrupt_pending())
			r = -EINTR;
		if (r == -EINTR)
			goto out;
		proven = r == 0;
		if (!proven && !o->force) {
			log_error("%s: refusing to unbind token %d (key '%s', keyslot %d): the key is "
				  "not proven to be this binding's secret: %s; nothing was changed.  "
				  "Unbind removes a keyslot or destroys a key only when the key's secret "
				  "is proven to %s; --force removes the token anyway, keeps the keyslot%s",
				  device, u.tid, t.uid, t.keyslot, p.why,
				  t.kind == KMIP_KIND_VOLUME_KEY ? "be the volume key" :
				  "open the token's keyslot", o->destroy_key ?
				  " and revokes and destroys the key the token names" : "");
			if (r == -ENOKEY)	/* Pre-Active: an enroll that did not finish? */
				log_error("%s: if key '%s' is Pre-Active because an enroll did not "
					  "finish, 'kmipcrypt -g %s key activate %s' makes the proof "
					  "possible; then unbind again", device, t.uid, t.group, t.uid);
			goto out;
		}
		if (!proven)
			log_warn("%s: --force: removing token %d although key '%s' is not proven to "
				 "be its secret: %s", device, u.tid, t.uid, p.why);
		else
			log_info("%s: token %d proven: key '%s' %s", device, u.tid, t.uid,
				 t.kind == KMIP_KIND_VOLUME_KEY ? "is the volume key" :
				 "opens the token's keyslot");
	}
	slot = keyslot_to_remove(&u, &t, valid, proven, &kept, kept_why, sizeof(kept_why));
	r = check_ways_in(&u, slot, valid && t.kind == KMIP_KIND_VOLUME_KEY);
	if (r < 0)
		goto out;
	if (!valid)
		log_warn("%s: token %d is not a valid kmip token: %s; removing it, keeping its "
			 "keyslots", device, u.tid, p.why);

	r = step(&u, "token");
	if (r < 0)
		goto out;
	r = crypt_token_json_set(u.cd, u.tid, NULL);
	if (r < 0) {
		r = luks_crypt_fail(r, device, "removing the token");
		goto out;
	}
	u.changed = true;
	log_info("%s: token %d removed", device, u.tid);
	say_kept(&u, kept, kept_why);
	o->keyslot_kept = kept != 0;
	if (valid && slot < 0 && !kept)
		log_info("%s: keyslot %d kept: another token uses it", device, t.keyslot);
	if (slot >= 0) {
		r = step(&u, "keyslot");
		if (r == 0) {
			r = crypt_keyslot_destroy(u.cd, slot);
			if (r < 0)
				luks_crypt_fail(r, device, "removing the keyslot");
		}
		if (r < 0) {
			log_error("%s: the token is removed but keyslot %d is not; remove it with "
				  "'cryptsetup luksKillSlot %s %d'", device, slot, device, slot);
			r = -ELUKS;
			goto out;
		}
		log_info("%s: keyslot %d removed", device, slot);
	}
	r = 0;
	if (o->destroy_key) {
		if (uid_shared(u.cd, u.tid, t.uid)) {
			log_warn("%s: key '%s' is kept: another token of this volume uses it", device,
				 t.uid);
			o->key_shared = true;
		} else {
			r = destroy_key(cfg, device, &t, step(&u, "destroy"));
			o->key_destroyed = r == 0;
		}
	}
	if (u.finishing)
		log_warn("%s: unbind finished in spite of the interruption", device);
out:
	if (r == -EINTR)
		log_error("%s: unbind interrupted (%s) at step '%s', before the header was changed: "
			  "nothing was changed; the volume and the KMS are as they were", device,
			  signame(interrupt_pending()), u.step);
	explicit_bzero(&t, sizeof(t));
	crypt_free(u.cd);
	return r;
}
