/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prove a binding: the object a kmip token names gives the secret that opens
 * the token's keyslot (passphrase, envelope) or that is the volume key
 * (volume-key), checked against the header without activating anything.
 *
 * One implementation for every command that must know whether a token's
 * object really is its secret: unlock checks with it before it activates,
 * status runs it per token (a binding that unlock would refuse is flagged),
 * and unbind runs it before it removes a keyslot or destroys a KMS object
 * (the header is hostile input: it must never be trusted to name what to
 * destroy).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "luks/reencrypt.h"
#include "util/log.h"
#include "util/secmem.h"

/* ------------------------------------------------------------ log tee */

static struct luks_log_tee *tee_top;	/* the innermost tee; ->prev the one around it */

static void tee_sink(enum log_level lvl, const char *msg, void *ctx)
{
	struct luks_log_tee *t;
	bool quiet = false;

	(void)ctx;
	for (t = tee_top; t && lvl == LOG_LVL_ERR; t = t->prev) {
		if (t->why && t->len && !t->why[0])
			snprintf(t->why, t->len, "%s", msg);
		quiet = quiet || t->quiet;
	}
	/* Out as any other line (the sink is off meanwhile: no recursion). */
	log_set_sink(NULL, NULL);
	log_msg(quiet ? LOG_LVL_DEBUG : lvl, "%s", msg);
	log_set_sink(tee_sink, NULL);
}

void luks_log_tee_begin(struct luks_log_tee *t)
{
	if (t->why && t->len)
		t->why[0] = '\0';
	t->prev = tee_top;
	tee_top = t;
	log_set_sink(tee_sink, NULL);
}

void luks_log_tee_end(struct luks_log_tee *t)
{
	if (tee_top != t)	/* ended out of order: a caller bug; leave the chain alone */
		return;
	tee_top = t->prev;
	t->prev = NULL;
	if (!tee_top)
		log_set_sink(NULL, NULL);
}

/* ------------------------------------------------------------ KEK file */

int luks_token_kek_file(const struct config *cfg, const char *device, int token_id,
			const struct kmip_token *t, const char *given, char *buf, size_t len,
			const char **out)
{
	*out = NULL;
	if (t->kind != KMIP_KIND_VOLUME_KEY || !t->wrap_uid[0])
		return 0;
	if (given) {
		*out = given;
		return 0;
	}
	if (luks_kek_default_path(cfg, t->wrap_uid, buf, len) < 0)
		return log_error_errno(-EINVAL, "%s token %d: wrapping key '%s' has no default key "
				       "file name; pass --kek-file", device, token_id, t->wrap_uid);
	*out = buf;
	return 0;
}

/* ------------------------------------------------------------ the check */

/* The secret (passphrase, envelope) against exactly the token's keyslot. */
/* What the check does when it is the activation, for messages: "activating the mapping N". */
static const char *doing(const struct luks_proof *p, char *buf, size_t len, const char *check)
{
	if (!p->activate_name)
		return check;
	snprintf(buf, len, "%s the mapping %s", p->resume ? "resuming" : "activating",
		 p->activate_name);
	return buf;
}

/* The keyslot check that gives the volume key (want_vk): into p->vk, locked memory. */
static int keyslot_volume_key(struct crypt_device *cd, int keyslot, const char *pass,
			      size_t pass_len, struct luks_proof *p)
{
	int r = crypt_get_volume_key_size(cd);
	size_t len;

	if (r <= 0)
		return r < 0 ? r : -EINVAL;
	len = (size_t)r;
	p->vk = secmem_alloc(len);
	if (!p->vk)
		return -ENOMEM;
	r = crypt_volume_key_get(cd, keyslot, (char *)p->vk, &len, pass, pass_len);
	if (r < 0) {
		secmem_free(p->vk);
		p->vk = NULL;
		return r;
	}
	p->vk_len = len;
	return 0;
}

static int check_keyslot(struct crypt_device *cd, const char *device, int token_id,
			 const struct kmip_token *t, const uint8_t *secret, size_t len,
			 struct luks_proof *p)
{
	enum luks_verdict *v = &p->verdict;
	char what[160];
	crypt_keyslot_info ki = crypt_keyslot_status(cd, t->keyslot);
	/* During a reencryption the keyslot may be the new key's, unbound until its init. */
	bool reencrypting = luks_reencrypt_pending(cd);
	char *pass = NULL;
	size_t pass_len = 0;
	int r;

	/* luks_token_read() checked this; the proof must not rest on the caller. */
	if (crypt_token_is_assigned(cd, token_id, t->keyslot) != 0) {
		*v = LUKS_DISPROVEN;
		return log_error_errno(-ELUKS, "%s token %d: keyslot %d is not the keyslot the LUKS2 "
				       "metadata assigns to the token", device, token_id, t->keyslot);
	}
	if (ki != CRYPT_SLOT_ACTIVE && ki != CRYPT_SLOT_ACTIVE_LAST &&
	    !(reencrypting && ki == CRYPT_SLOT_UNBOUND)) {
		*v = LUKS_DISPROVEN;
		return log_error_errno(-ELUKS, "%s token %d: keyslot %d is %s: a %s token's keyslot "
				       "must unlock the volume; the keyslot was changed", device,
				       token_id, t->keyslot, ki == CRYPT_SLOT_UNBOUND ?
				       "not bound to the volume's data (unbound)" : "not in use",
				       kmip_kind_name(t->kind));
	}
	r = luks_secret_passphrase(secret, len, &pass, &pass_len);
	if (r < 0) {
		*v = LUKS_UNPROVEN;
		return r;
	}
	/* The check is the activation itself when asked for one: one keyslot check, not two. */
	if (reencrypting && !p->want_vk)
		r = luks_reencrypt_open(cd, t->keyslot, pass, pass_len, p->activate_name,
					p->activate_flags, p->resume);
	else if (p->activate_name && p->resume)
		r = crypt_resume_by_passphrase(cd, p->activate_name, t->keyslot, pass, pass_len);
	else if (p->want_vk && !p->activate_name)
		r = keyslot_volume_key(cd, t->keyslot, pass, pass_len, p);
	else
		r = crypt_activate_by_passphrase(cd, p->activate_name, t->keyslot, pass, pass_len,
						 p->activate_name ? p->activate_flags : 0);
	secmem_free(pass);
	if (r >= 0) {
		*v = LUKS_PROVEN;
		return 0;
	}
	if (r == -EPERM) {
		*v = LUKS_DISPROVEN;
		return log_error_errno(-ELUKS, "%s: the secret of key '%s' does not unlock keyslot %d: "
				       "the token names the wrong object, or the keyslot was changed",
				       device, t->uid, t->keyslot);
	}
	*v = LUKS_UNPROVEN;
	return luks_crypt_fail(r, device, doing(p, what, sizeof(what), "checking the secret"));
}

/* The key (volume-key) against the volume key's digest. */
static int check_volume_key(struct crypt_device *cd, const char *device,
			    const struct kmip_token *t, const uint8_t *key, size_t len,
			    struct luks_proof *p)
{
	enum luks_verdict *v = &p->verdict;
	char what[160];
	/* 0 when no keyslot is bound any more: then the digest alone decides. */
	int want = crypt_get_volume_key_size(cd), r;

	if (want > 0 && (size_t)want != len) {
		*v = LUKS_DISPROVEN;
		return log_error_errno(-ELUKS, "%s: key '%s' is %zu bytes; the volume key of this "
				       "volume is %d bytes: the token names the wrong key", device,
				       t->uid, len, want);
	}
	if (luks_reencrypt_pending(cd) && !p->want_vk)
		r = luks_reencrypt_open_vk(cd, key, len, p->activate_name, p->activate_flags,
					   p->resume);
	else if (p->activate_name && p->resume)
		r = crypt_resume_by_volume_key(cd, p->activate_name, (const char *)key, len);
	else
		r = crypt_activate_by_volume_key(cd, p->activate_name, (const char *)key, len,
						 p->activate_name ? p->activate_flags : 0);
	if (r >= 0 && p->want_vk && !p->activate_name) {
		p->vk = secmem_alloc(len);
		if (!p->vk) {
			*v = LUKS_UNPROVEN;
			return -ENOMEM;
		}
		memcpy(p->vk, key, len);
		p->vk_len = len;
	}
	if (r >= 0) {
		*v = LUKS_PROVEN;
		return 0;
	}
	if (r == -EPERM) {
		*v = LUKS_DISPROVEN;
		return log_error_errno(-ELUKS, "%s: key '%s' does not unlock this volume: it is not "
				       "its volume key; the token names the wrong key", device, t->uid);
	}
	*v = LUKS_UNPROVEN;
	return luks_crypt_fail(r, device, doing(p, what, sizeof(what), "checking the volume key"));
}

int luks_prove(struct crypt_device *cd, const char *device, int token_id,
	       const struct kmip_token *t, struct kmip_client *c, const char *kek_file,
	       struct luks_proof *p)
{
	struct luks_log_tee tee = { .why = p->why, .len = sizeof(p->why), .quiet = p->quiet };
	char why[KMIP_FAILURE_TEXT_SIZE];
	uint8_t *secret = NULL;
	size_t len = 0;
	bool is_vk = false;
	int r;

	p->verdict = LUKS_UNPROVEN;
	p->why[0] = '\0';
	p->vk = NULL;
	p->vk_len = 0;
	if (p->capture)
		luks_log_tee_begin(&tee);
	if (p->given) {
		secret = p->given;
		len = p->given_len;
		is_vk = p->given_vk;
		p->given = NULL;
		r = 0;
	} else {
		r = luks_fetch_secret(c, t, kek_file, &secret, &len, &is_vk);
	}
	if (r < 0) {
		/* An object of the wrong type or size cannot be this binding's secret. */
		p->verdict = r == -EKEYMISMATCH ? LUKS_DISPROVEN : LUKS_UNPROVEN;
		goto out;
	}
	if (is_vk != (t->kind == KMIP_KIND_VOLUME_KEY)) {
		r = log_error_errno(-EPROTO, "%s token %d: the secret is not of the token's kind",
				    device, token_id);
		goto out;
	}
	r = is_vk ? check_volume_key(cd, device, t, secret, len, p) :
		    check_keyslot(cd, device, token_id, t, secret, len, p);
out:
	if (p->capture)
		luks_log_tee_end(&tee);
	luks_why_strip(p->why, device);
	if (r < 0 && !p->why[0])
		snprintf(p->why, sizeof(p->why), "%s", r == -ELUKS ? "LUKS error" :
			 kmip_failure_reason(c, r, why, sizeof(why)));
	secmem_free(secret);
	return r;
}

void luks_why_strip(char *why, const char *device)
{
	size_t n = strlen(why), k;

	/* A sentence's full stop, so that the reason can go inside another one. */
	while (n > 0 && (why[n - 1] == '.' || why[n - 1] == ' '))
		why[--n] = '\0';
	n = strlen(device);
	if (strncmp(why, device, n) != 0)
		return;
	k = n;
	if (strncmp(why + k, " token ", 7) == 0) {
		k += 7;
		while (why[k] >= '0' && why[k] <= '9')
			k++;
	}
	if (why[k] != ':' || why[k + 1] != ' ')
		return;
	memmove(why, why + k + 2, strlen(why + k + 2) + 1);
}
