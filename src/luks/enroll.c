/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Enroll: bind a LUKS2 volume to a new KMS object.
 *
 *   prove     the existing passphrase gives the volume key (one PBKDF run);
 *             before it, a free keyslot and (--wrap-key) a usable host copy of
 *             the KEK: what can fail here costs nothing on the KMS
 *   register  the KMS object, Pre-Active: Secret Data (passphrase), the
 *             volume key as a Symmetric Key (volume-key), or a new AES-256
 *             key (envelope), with a Name and an Object Group
 *   wrap      volume-key with --wrap-key: a wrapped Get of the Pre-Active
 *             object unwraps with the host's copy of the KEK to the volume key
 *   keyslot   a new keyslot, PBKDF2 with KMIP_KEYSLOT_PBKDF2_ITERATIONS,
 *             passphrase = base64 of the 32-byte secret (volume-key: an
 *             unbound keyslot, see luks.h)
 *   activate  the KMS object
 *   encrypt   envelope: the server encrypts the keyslot secret with the new
 *             key: AES-GCM bound to the volume (UUID and keyslot as
 *             Additional Data), or AES-CBC where the server offers no GCM
 *   token     the kmip token, bound to that keyslot: the point of no return
 *   unmark    envelope: move the key from Object Group
 *             LUKS_ENROLL_PENDING_GROUP, which marked it as not yet named by
 *             a token, to its own (Modify Attribute)
 *   verify    read the token back, fetch the secret as unlock would (State,
 *             Get/Decrypt) and check it against the header
 *
 * The order is chosen so that a SIGKILL, which nothing can catch, leaves at
 * most a Pre-Active object that no token names (and perhaps a keyslot that
 * nothing refers to; docs/kmipcrypt-enroll.8 says how to find and clean
 * both):
 *   passphrase, volume-key: register, [wrap], keyslot, token, activate, verify
 *   envelope:               register, keyslot, activate, encrypt, token, unmark, verify
 * Encrypt needs an Active key, so the envelope has one window, activate to
 * token (two requests and one header write), where a kill leaves an Active
 * key that encrypted nothing that was kept: it holds no copy of any secret,
 * and its Object Group (the pending one) tells `kmipcrypt key list` that no
 * token may name it.  A kill between token and unmark leaves the mark on a key that a
 * token names: key list says to check with status before removing it.
 *
 * Any failure undoes what was done, in reverse: token removed, keyslot
 * destroyed, KMS object revoked (Cessation of Operation) if it was
 * activated, and destroyed.  Each undo is logged, and so is anything that
 * could not be undone.  A termination request (SIGINT, SIGTERM, SIGHUP:
 * util/interrupt.h) is looked at between steps: before the token is
 * written it is undone like a failure (-EINTR); once the token is written
 * the enroll finishes, since undoing would take away a binding that works.
 *
 * Test hook: the environment variable KMIPCRYPT_FAIL_AT=STEP makes that step
 * fail as if it had, and KMIPCRYPT_FAIL_AT=STEP:SIGNAL (SIGINT, SIGTERM,
 * SIGHUP, SIGKILL) raises that signal at the start of the step, so that
 * tests can prove the undo and what a kill leaves.  Read with secure_getenv().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* sigabbrev_np */
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "conf/config.h"
#include "util/escape.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/secmem.h"

/* The steps KMIPCRYPT_FAIL_AT can name, in the order each kind runs them. */
static const char *const steps_passphrase[] = {
	"register", "keyslot", "token", "activate", "verify", NULL
};
static const char *const steps_volume_key_wrapped[] = {
	"register", "wrap", "keyslot", "token", "activate", "verify", NULL
};
static const char *const steps_envelope[] = {
	"register", "keyslot", "activate", "encrypt", "token", "unmark", "verify", NULL
};
#define UNBOUND_KEY_BYTES	32

struct enroll {
	const char *device;
	struct crypt_device *cd;
	struct kmip_session *conn;
	struct kmip_client *c;
	char uid[KMIP_UID_SIZE];
	bool created, activated;
	bool bound;		/* the token is written: past the point of no return */
	bool finishing;		/* interrupted after that: said so once */
	int slot, tid;
	const char *step;
};

static int random_bytes(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		return log_error_errno(-EIO, "the random number generator failed");
	return 0;
}

static const char *signame(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	static char buf[16];

	snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "?");
	return buf;
}

/*
 * A termination request, looked at between steps: before the token is
 * written, stop (-EINTR: the caller undoes); after, note it and go on.
 */
static int stop_requested(struct enroll *e)
{
	int sig = interrupt_pending();

	if (!sig)
		return 0;
	if (!e->bound)
		return -EINTR;
	if (!e->finishing)
		log_warn("%s: interrupted (%s) after the token was written: finishing the enroll "
			 "(a working binding is not undone)", e->device, signame(sig));
	e->finishing = true;
	return 0;
}

/* The start of a step: the test hook (a failure, or a signal), then a termination request. */
static int step(struct enroll *e, const char *name)
{
	e->step = name;
	if (luks_fail_at(name))
		return log_error_errno(-EIO, "%s: step '%s' failed (injected)", e->device, name);
	return stop_requested(e);
}

/* Undo in reverse order.  Returns true if everything was undone. */
static bool undo(struct enroll *e)
{
	bool clean = true;
	int r;

	if (e->tid >= 0) {
		r = crypt_token_json_set(e->cd, e->tid, NULL);
		if (r < 0) {
			log_error("%s: could NOT remove token %d: %s; remove it with 'cryptsetup "
				  "token remove --token-id %d %s'", e->device, e->tid, strerror(-r),
				  e->tid, e->device);
			clean = false;
		} else {
			log_warn("%s: undone: removed token %d", e->device, e->tid);
		}
	}
	if (e->slot >= 0) {
		r = crypt_keyslot_destroy(e->cd, e->slot);
		if (r < 0) {
			log_error("%s: could NOT remove keyslot %d: %s; remove it with 'cryptsetup "
				  "luksKillSlot %s %d'", e->device, e->slot, strerror(-r), e->device,
				  e->slot);
			clean = false;
		} else {
			log_warn("%s: undone: removed keyslot %d", e->device, e->slot);
		}
	}
	if (e->created) {
		struct kmip_revoke rv = {
			.reason = KMIP_REVOKE_CESSATION_OF_OPERATION,
			.message = "kmipcrypt enroll failed; undone",
		};

		r = 0;
		if (e->activated)
			r = kmip_revoke(e->c, e->uid, &rv);
		if (r == 0)
			r = kmip_destroy(e->c, e->uid);
		if (r < 0) {
			char why[KMIP_FAILURE_TEXT_SIZE];

			log_error("%s: could NOT undo the KMS object: %s; remove it with 'kmipcrypt "
				  "key destroy --revoke %s'", e->device,
				  kmip_failure_text(e->c, r, why, sizeof(why), "%s key '%s'",
						    e->activated ? "revoking and destroying" :
						    "destroying", e->uid), e->uid);
			clean = false;
		} else {
			log_warn("%s: undone: %s key '%s' on the KMS", e->device,
				 e->activated ? "revoked and destroyed" : "destroyed", e->uid);
		}
	}
	return clean;
}

/* The host copy of the KEK for a wrapped volume key: --kek-file, else the default path. */
static int kek_path(const struct config *cfg, const struct enroll_opts *o, char *buf, size_t len)
{
	if (o->kek_file) {
		if (snprintf(buf, len, "%s", o->kek_file) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	if (luks_kek_default_path(cfg, o->wrap_uid, buf, len) < 0)
		return log_error_errno(-EINVAL, "--wrap-key '%s' has no default key file name; "
				       "pass --kek-file", o->wrap_uid);
	return 0;
}

/*
 * volume-key with a wrapping key: the wrapped Get of the (still Pre-Active)
 * object must unwrap, here, to the volume key, with the host copy of the
 * KEK (kek, read from kek_file before anything was created on the KMS).
 * KMIP lets Get serve an object in any state but Destroyed; only the
 * wrapping key must be Active.
 */
static int check_wrap(struct enroll *e, const char *kek_file, const uint8_t *kek, size_t kek_len,
		      const char *wrap_uid, const uint8_t *vk, size_t vk_len)
{
	struct kmip_key_wrap wrap = {
		.kek_uid = wrap_uid, .mode = KMIP_BCM_NIST_KEY_WRAP, .kek = kek, .kek_len = kek_len,
	};
	struct kmip_object obj;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r;

	memset(&obj, 0, sizeof(obj));
	r = kmip_get(e->c, e->uid, &wrap, &obj);
	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device,
				       kmip_failure_text(e->c, r, why, sizeof(why), "getting the new "
							 "key wrapped by '%s' and unwrapping it "
							 "with %s", wrap_uid, kek_file));
	if (obj.wrapped || obj.material_len != vk_len || CRYPTO_memcmp(obj.material, vk, vk_len)) {
		kmip_object_clear(&obj);
		return log_error_errno(-EBADMSG, "%s: the key came back from the server, unwrapped, "
				       "different from the volume key", e->device);
	}
	kmip_object_clear(&obj);
	return 0;
}

static int set_keyslot_pbkdf(struct enroll *e)
{
	const struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha256",
		.iterations = KMIP_KEYSLOT_PBKDF2_ITERATIONS,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	int r = crypt_set_pbkdf_type(e->cd, &pbkdf);

	return r < 0 ? luks_crypt_fail(r, e->device, "setting PBKDF2 for the new keyslot") : 0;
}

/* The new keyslot: its number is chosen here, since an AES-GCM envelope authenticates it. */
static int add_keyslot(struct enroll *e, enum kmip_secret_kind kind, const uint8_t *vk,
		       size_t vk_len, const uint8_t *secret)
{
	uint8_t *pw = NULL, *slot_key = NULL;
	char *pass = NULL;
	size_t pass_len = 0;
	int r, i, max = crypt_keyslot_max(CRYPT_LUKS2), slot = -1;

	for (i = 0; i < max && slot < 0; i++)
		if (crypt_keyslot_status(e->cd, i) == CRYPT_SLOT_INACTIVE)
			slot = i;
	if (slot < 0)
		return log_error_errno(-ELUKS, "%s: no free keyslot", e->device);
	r = set_keyslot_pbkdf(e);
	if (r < 0)
		return r;
	if (kind == KMIP_KIND_VOLUME_KEY) {
		/* Unbound: a random key under a random passphrase, both forgotten at once. */
		pw = secmem_alloc(KMIP_SECRET_BYTES);
		slot_key = secmem_alloc(UNBOUND_KEY_BYTES);
		if (!pw || !slot_key || random_bytes(pw, KMIP_SECRET_BYTES) < 0 ||
		    random_bytes(slot_key, UNBOUND_KEY_BYTES) < 0 ||
		    luks_secret_passphrase(pw, KMIP_SECRET_BYTES, &pass, &pass_len) < 0) {
			r = log_error_errno(-EIO, "%s: cannot make the unbound keyslot's secrets",
					    e->device);
			goto out;
		}
		r = crypt_keyslot_add_by_key(e->cd, slot, (const char *)slot_key, UNBOUND_KEY_BYTES,
					     pass, pass_len, CRYPT_VOLUME_KEY_NO_SEGMENT);
	} else {
		r = luks_secret_passphrase(secret, KMIP_SECRET_BYTES, &pass, &pass_len);
		if (r < 0)
			goto out;
		r = crypt_keyslot_add_by_volume_key(e->cd, slot, (const char *)vk, vk_len, pass,
						    pass_len);
	}
	if (r < 0) {
		r = luks_crypt_fail(r, e->device, "adding the keyslot");
		goto out;
	}
	e->slot = r;
	log_info("%s: keyslot %d added (%sPBKDF2, %d iterations)", e->device, e->slot,
		 kind == KMIP_KIND_VOLUME_KEY ? "unbound, " : "", KMIP_KEYSLOT_PBKDF2_ITERATIONS);
	r = 0;
out:
	secmem_free(pass);
	secmem_free(slot_key);
	secmem_free(pw);
	return r;
}

/* Did the server answer this Encrypt with a failure (rather than never answer)? */
static bool encrypt_refused(struct kmip_client *c)
{
	const struct kmip_result *res = kmip_last_result(c);

	return res && res->op == KMIP_OP_ENCRYPT && res->status != KMIP_STATUS_SUCCESS;
}

/* One Encrypt of the keyslot secret into the token: AES-GCM, or AES-CBC. */
static int encrypt_as(struct enroll *e, enum kmip_envelope_mode mode, const uint8_t *secret,
		      struct kmip_token *t)
{
	struct kmip_crypt_params p = { .algorithm = KMIP_ALG_AES };
	uint8_t aad[KMIP_ENVELOPE_AAD_MAX], *ct = NULL;
	size_t ct_len = 0;
	bool gcm = mode == KMIP_ENVELOPE_AES_GCM, ok;
	int r;

	if (gcm) {
		r = kmip_envelope_aad(crypt_get_uuid(e->cd), e->slot, aad, sizeof(aad));
		if (r < 0)
			return log_error_errno(-ELUKS, "%s: the volume has no usable LUKS2 UUID",
					       e->device);
		p.mode = KMIP_BCM_GCM;
		p.iv_len = KMIP_ENVELOPE_GCM_IV;
		p.tag_len = KMIP_ENVELOPE_TAG;
		p.aad = aad;
		p.aad_len = (size_t)r;
	} else {
		p.mode = KMIP_BCM_CBC;
		p.padding = KMIP_PAD_PKCS5;
		p.iv_len = KMIP_ENVELOPE_CBC_IV;
	}
	/* Our own IV: not every server makes one. */
	r = random_bytes(p.iv, p.iv_len);
	if (r < 0)
		return r;
	r = kmip_encrypt(e->c, e->uid, &p, secret, KMIP_SECRET_BYTES, &ct, &ct_len);
	if (r < 0)
		goto out;
	/* GCM: as long as the secret; CBC: whole blocks, padded. */
	ok = gcm ? ct_len == KMIP_SECRET_BYTES && p.iv_len == KMIP_ENVELOPE_GCM_IV :
		ct_len >= 16 && ct_len <= KMIP_ENVELOPE_MAX && ct_len % 16 == 0 &&
		p.iv_len == KMIP_ENVELOPE_CBC_IV;
	if (!ok) {
		r = log_error_errno(-EPROTO, "%s: the server's %s answer has %zu bytes (IV %zu) for "
				    "a secret of %d bytes", e->device, kmip_envelope_mode_name(mode),
				    ct_len, p.iv_len, KMIP_SECRET_BYTES);
		goto out;
	}
	t->mode = mode;
	memcpy(t->ciphertext, ct, ct_len);
	t->ciphertext_len = ct_len;
	memcpy(t->iv, p.iv, p.iv_len);
	t->iv_len = p.iv_len;
	if (gcm) {
		memcpy(t->tag, p.tag, p.tag_len);
		t->tag_len = p.tag_len;
	}
out:
	explicit_bzero(&p, sizeof(p));
	secmem_free(ct);
	return r;
}

/*
 * AES-GCM where the server does it; AES-CBC, with a warning, where it
 * refuses (any failure answer, no tag in the answer, or a KMIP version
 * before 1.4): docs/token.md says why.
 */
static int envelope_encrypt(struct enroll *e, const uint8_t *secret, struct kmip_token *t)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r;

	r = encrypt_as(e, KMIP_ENVELOPE_AES_GCM, secret, t);
	if (r == -EOPNOTSUPP || (r < 0 && encrypt_refused(e->c))) {
		log_warn("%s: the server does not do AES-GCM through KMIP Encrypt (%s); the "
			 "envelope is AES-CBC, which binds it to no volume (a changed envelope is "
			 "still refused like a wrong secret)", e->device,
			 encrypt_refused(e->c) ? kmip_failure_reason(e->c, r, why, sizeof(why)) :
			 "no tag in its answer, or KMIP before 1.4");
		r = encrypt_as(e, KMIP_ENVELOPE_AES_CBC, secret, t);
	}
	if (r < 0 && r != -EPROTO)
		log_error("%s: %s", e->device, kmip_failure_text(e->c, r, why, sizeof(why),
			  "encrypting the keyslot secret with key '%s'", e->uid));
	if (r == 0)
		log_info("%s: keyslot secret encrypted by key '%s' (%s)", e->device, e->uid,
			 kmip_envelope_mode_name(t->mode));
	return r;
}

static int activate(struct enroll *e)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r = kmip_activate(e->c, e->uid);

	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device, kmip_failure_text(e->c, r, why,
				       sizeof(why), "activating key '%s'", e->uid));
	e->activated = true;
	return 0;
}

static int write_token(struct enroll *e, struct kmip_token *t, const struct enroll_opts *o,
		       const char *group)
{
	char *json = NULL;
	int r;

	t->kind = o->kind;
	t->keyslot = e->slot;
	snprintf(t->uid, sizeof(t->uid), "%s", e->uid);
	snprintf(t->group, sizeof(t->group), "%s", group);
	if (o->wrap_uid)
		snprintf(t->wrap_uid, sizeof(t->wrap_uid), "%s", o->wrap_uid);
	r = kmip_token_format(t, &json);
	if (r < 0)
		return r;
	r = crypt_token_json_set(e->cd, CRYPT_ANY_TOKEN, json);
	free(json);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "writing the token");
	e->tid = r;
	e->bound = true;
	return 0;
}

/*
 * Past the point of no return, so a failure only warns: the binding works,
 * but key list calls the key unbound while it is in the pending group.
 */
static void unmark(struct enroll *e, const char *group)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r = kmip_modify_group(e->c, e->uid, LUKS_ENROLL_PENDING_GROUP, group);

	if (r < 0)
		log_warn("%s: %s; the volume is bound, but 'kmipcrypt key list' marks the key "
			 "as unbound while it is in that group", e->device,
			 kmip_failure_text(e->c, r, why, sizeof(why), "moving key '%s' from Object "
					   "Group '%s' to '%s'", e->uid, LUKS_ENROLL_PENDING_GROUP,
					   group));
}

/* Fetch as unlock will, and check the secret against the header (no mapping). */
static int verify(struct enroll *e, const char *kek_file)
{
	struct luks_proof p = { 0 };
	struct kmip_token t;
	int r;

	r = luks_token_read(e->cd, e->device, e->tid, &t);
	if (r < 0)
		return r == -EINVAL ? -ELUKS : r;
	r = luks_prove(e->cd, e->device, e->tid, &t, e->c, kek_file, &p);
	explicit_bzero(&t, sizeof(t));
	return r;
}

/* The KMS object, Pre-Active. */
static int register_object(struct enroll *e, const struct enroll_opts *o,
			   struct kmip_new_object *no, const uint8_t *vk, size_t vk_len,
			   const uint8_t *secret)
{
	int r = -EINVAL;

	switch (o->kind) {
	case KMIP_KIND_PASSPHRASE:
		r = kmip_register_secret(e->c, secret, KMIP_SECRET_BYTES, no, e->uid);
		break;
	case KMIP_KIND_VOLUME_KEY:
		no->usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
		r = kmip_register_key(e->c, vk, vk_len, no, e->uid);
		if (r == -EINVAL && vk_len != 16 && vk_len != 24 && vk_len != 32 && vk_len != 64)
			return log_error_errno(r, "%s: the volume key is %zu bits; this kmipcrypt "
					       "registers AES keys of 128, 192, 256 or 512 bits only",
					       e->device, vk_len * 8);
		break;
	case KMIP_KIND_ENVELOPE:
		no->usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
		r = kmip_create(e->c, 256, no, e->uid);
		break;
	}
	if (r < 0) {
		char why[KMIP_FAILURE_TEXT_SIZE];

		log_error("%s: %s", e->device, kmip_failure_text(e->c, r, why, sizeof(why),
			  "%s on the KMS", o->kind == KMIP_KIND_ENVELOPE ? "creating the key" :
			  "registering the secret"));
		if (r == -EEXIST) {
			log_error("%s: an object named '%s' exists already; pick another with --name",
				  e->device, no->name);
			r = -EINVAL;	/* the caller's choice of name: exit 1 */
		}
		return r;
	}
	e->created = true;
	log_info("%s: %s '%s' created on the KMS, Pre-Active (Name '%s', Object Group '%s')",
		 e->device, o->kind == KMIP_KIND_PASSPHRASE ? "Secret Data" : "Symmetric Key", e->uid,
		 no->name, no->group);
	return 0;
}

int luks_enroll(const char *device, struct config *cfg, const struct enroll_opts *o,
		int *token_id)
{
	struct enroll e = { .device = device, .slot = -1, .tid = -1, .step = "prove" };
	struct kmip_new_object no = { 0 };
	struct kmip_token t;
	char name[KMIP_TEXT_SIZE], kek_file[4096];
	const char *group = o->group ? o->group : "default";
	const char *const *steps;
	uint8_t *vk = NULL, *secret = NULL, *kek = NULL;
	size_t vk_len = 0, kek_len = 0;
	int r, proven, i, max, free_slots = 0;
	bool clean;

	memset(&t, 0, sizeof(t));
	kek_file[0] = '\0';
	if (token_id)
		*token_id = -1;
	if (o->kind != KMIP_KIND_PASSPHRASE && o->kind != KMIP_KIND_VOLUME_KEY &&
	    o->kind != KMIP_KIND_ENVELOPE)
		return log_error_errno(-EINVAL, "unknown kind %d", (int)o->kind);
	if (o->wrap_uid && o->kind != KMIP_KIND_VOLUME_KEY)
		return log_error_errno(-EINVAL, "--wrap-key is for kind volume-key only");
	if (o->kek_file && !o->wrap_uid)
		return log_error_errno(-EINVAL, "--kek-file needs --wrap-key");
	if (o->wrap_uid && strlen(o->wrap_uid) > KMIP_UID_MAX)
		return log_error_errno(-EINVAL, "--wrap-key: an identifier of at most %u bytes",
				       KMIP_UID_MAX);
	if (o->name && (strlen(o->name) > KMIP_TEXT_MAX || !*o->name || !text_is_printable(o->name)))
		return log_error_errno(-EINVAL, "--name: printable text (UTF-8, no control "
				       "characters) of 1 to %u bytes", KMIP_TEXT_MAX);
	if (o->object_group && (strlen(o->object_group) > KMIP_TEXT_MAX || !*o->object_group ||
				!text_is_printable(o->object_group)))
		return log_error_errno(-EINVAL, "--object-group: printable text (UTF-8, no control "
				       "characters) of 1 to %u bytes", KMIP_TEXT_MAX);
	if (strlen(group) >= sizeof(t.group))
		return log_error_errno(-EINVAL, "server group name too long");
	if (!o->passphrase || o->passphrase_len == 0)
		return log_error_errno(-EINVAL, "enroll needs an existing passphrase of %s", device);
	if (o->wrap_uid) {
		r = kek_path(cfg, o, kek_file, sizeof(kek_file));
		if (r < 0)
			return r;
	}
	steps = o->kind == KMIP_KIND_ENVELOPE ? steps_envelope :
		o->wrap_uid ? steps_volume_key_wrapped : steps_passphrase;
	luks_fail_at_check(steps);

	r = luks_dev_open(device, &e.cd);
	if (r < 0)
		return r;

	/* A free keyslot, before anything is created on the KMS. */
	max = crypt_keyslot_max(CRYPT_LUKS2);
	for (i = 0; i < max; i++)
		if (crypt_keyslot_status(e.cd, i) == CRYPT_SLOT_INACTIVE)
			free_slots++;
	if (free_slots == 0) {
		r = log_error_errno(-ELUKS, "%s: no free keyslot", device);
		goto out;
	}
	/* The host copy of the KEK, too: a missing or bad file must cost no KMS object. */
	if (o->wrap_uid) {
		r = luks_read_kek(kek_file, &kek, &kek_len);
		if (r < 0) {
			log_error("%s: the host copy of wrapping key '%s' is unusable; nothing was "
				  "created on the KMS", device, o->wrap_uid);
			goto out;
		}
	}

	/* prove: the passphrase gives the volume key. */
	r = crypt_get_volume_key_size(e.cd);
	if (r <= 0) {
		r = luks_crypt_fail(r ? r : -EINVAL, device, "reading the volume key size");
		goto out;
	}
	vk_len = (size_t)r;
	vk = secmem_alloc(vk_len);
	if (!vk) {
		r = -errno;
		goto out;
	}
	proven = crypt_volume_key_get(e.cd, CRYPT_ANY_SLOT, (char *)vk, &vk_len,
				      o->passphrase, o->passphrase_len);
	if (proven < 0) {
		if (proven == -EPERM)
			r = log_error_errno(-ELUKS, "%s: the passphrase given does not unlock any "
					    "keyslot", device);
		else
			r = luks_crypt_fail(proven, device, "proving the passphrase");
		goto out;
	}
	log_info("%s: passphrase of keyslot %d proven", device, proven);
	r = stop_requested(&e);
	if (r < 0)
		goto fail;

	e.step = "connect";
	r = conf_session_open(cfg, group, 0, &e.conn);
	if (r < 0)
		goto fail;
	e.c = kmip_session_client(e.conn);

	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		snprintf(name, sizeof(name), "kmipcrypt-%s-%s", crypt_get_uuid(e.cd),
			 kmip_kind_name(o->kind));
	/* The default name carries the header's UUID: hostile input, never sent raw. */
	if (!text_is_printable(name)) {
		r = log_error_errno(-EINVAL, "%s: the LUKS2 UUID holds control characters or "
				    "invalid UTF-8, so the default KMIP Name cannot be used; pass "
				    "--name", device);
		goto fail;
	}
	no.name = name;
	no.group = o->kind == KMIP_KIND_ENVELOPE ? LUKS_ENROLL_PENDING_GROUP :
		   o->object_group ? o->object_group : LUKS_ENROLL_OBJECT_GROUP;
	no.activate = false;	/* a step of its own, as late as the kind allows */

	if (o->kind != KMIP_KIND_VOLUME_KEY) {
		secret = secmem_alloc(KMIP_SECRET_BYTES);
		if (!secret) {
			r = -errno;
			goto fail;
		}
		r = random_bytes(secret, KMIP_SECRET_BYTES);
		if (r < 0)
			goto fail;
	}

	r = step(&e, "register");
	if (r == 0)
		r = register_object(&e, o, &no, vk, vk_len, secret);
	if (r == 0 && o->wrap_uid) {
		r = step(&e, "wrap");
		if (r == 0)
			r = check_wrap(&e, kek_file, kek, kek_len, o->wrap_uid, vk, vk_len);
		secmem_free(kek);	/* verify reads the file again, as unlock does */
		kek = NULL;
		if (r == 0)
			log_info("%s: the volume key comes back wrapped by '%s' and unwraps with %s",
				 device, o->wrap_uid, kek_file);
	}
	if (r == 0)
		r = step(&e, "keyslot");
	if (r == 0)
		r = add_keyslot(&e, o->kind, vk, vk_len, secret);
	if (r == 0 && o->kind == KMIP_KIND_ENVELOPE) {
		/* The window of an Active key that no token names: as short as it can be. */
		r = step(&e, "activate");
		if (r == 0)
			r = activate(&e);
		if (r == 0)
			r = step(&e, "encrypt");
		if (r == 0)
			r = envelope_encrypt(&e, secret, &t);
	}
	if (r == 0)
		r = step(&e, "token");
	if (r == 0)
		r = write_token(&e, &t, o, group);
	if (r == 0 && o->kind != KMIP_KIND_ENVELOPE) {
		r = step(&e, "activate");
		if (r == 0)
			r = activate(&e);
	}
	if (r == 0 && o->kind == KMIP_KIND_ENVELOPE) {
		r = step(&e, "unmark");
		if (r == 0)
			unmark(&e, o->object_group ? o->object_group : LUKS_ENROLL_OBJECT_GROUP);
	}
	if (r == 0)
		r = step(&e, "verify");
	if (r == 0)
		r = verify(&e, o->wrap_uid ? kek_file : NULL);
	if (r < 0)
		goto fail;

	log_info("%s: bound to key '%s' (kind %s, group [%s]) by token %d on keyslot %d", device,
		 e.uid, kmip_kind_name(o->kind), group, e.tid, e.slot);
	if (e.finishing)
		log_warn("%s: enroll finished in spite of the interruption: the volume is bound",
			 device);
	if (token_id)
		*token_id = e.tid;
	r = 0;
	goto out;

fail:
	clean = undo(&e);
	if (r == -EINTR)
		log_error("%s: enroll interrupted (%s) at step '%s'; %s", device,
			  signame(interrupt_pending()), e.step, clean ?
			  "undone: everything done before it; the volume and the KMS are as they "
			  "were" : "NOT everything could be undone (see above)");
	else if (clean)
		log_error("%s: enroll failed at step '%s'; everything done before was undone: the "
			  "volume and the KMS are as they were", device, e.step);
	else
		log_error("%s: enroll failed at step '%s', and NOT everything could be undone "
			  "(see above)", device, e.step);
out:
	secmem_free(kek);
	secmem_free(secret);
	secmem_free(vk);
	explicit_bzero(&t, sizeof(t));
	kmip_session_close(e.conn);
	crypt_free(e.cd);
	return r;
}
