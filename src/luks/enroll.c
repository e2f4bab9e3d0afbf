/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Enroll: bind a LUKS2 volume to a new KMS object.
 *
 *   prove     the existing passphrase gives the volume key (one PBKDF run);
 *             before it, a free keyslot and (--wrap-key) a usable host copy of
 *             the KEK: what can fail here costs nothing on the KMS (the
 *             runner's prepare: it changes nothing, so no hook, no undo)
 *   connect   a session with the server group
 *   register  the KMS object, Pre-Active: Secret Data (passphrase), the
 *             volume key as a Symmetric Key (volume-key), or a new AES-256
 *             key (envelope), with a Name and an Object Group: --object-group,
 *             else this host's (luks_host_object_group(), token.h), which
 *             the token records
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
 *   passphrase, volume-key: prove, connect, register, [wrap], keyslot, token, activate, verify
 *   envelope:               prove, connect, register, keyslot, activate, encrypt, token, unmark,
 *                           verify
 * Encrypt needs an Active key, so the envelope has one window, activate to
 * token (two requests and one header write), where a kill leaves an Active
 * key that encrypted nothing that was kept: it holds no copy of any secret,
 * and its Object Group (the pending one) tells `kmipcrypt key list` that no
 * token may name it.  A kill between token and unmark leaves the mark on a
 * key that a token names: key list says to check with status before
 * removing it.
 *
 * The steps after prove are a table (enroll_steps) run by luks_steps_run()
 * (steps.h), which applies the test hook KMIPCRYPT_FAIL_AT=STEP[:SIGNAL],
 * looks at termination requests between steps (before the token: undone
 * like a failure, -EINTR; after it: the enroll finishes, since undoing
 * would take away a binding that works), and on any failure undoes what
 * was done, in reverse: token removed, keyslot destroyed, KMS object
 * revoked (Cessation of Operation) if it was activated, and destroyed.
 * Each undo is logged, and so is anything that could not be undone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "luks/reencrypt.h"
#include "luks/steps.h"
#include "conf/config.h"
#include "util/escape.h"
#include "util/log.h"
#include "util/secmem.h"

#define UNBOUND_KEY_BYTES	32

/* One enroll: the request, and what its steps made (for the next steps and the undo). */
struct enroll {
	const char *device;
	struct config *cfg;
	const struct enroll_opts *o;
	const char *group;		/* server group */
	char kek_file[4096];		/* --wrap-key: the host copy of the KEK */
	struct crypt_device *cd;
	struct kmip_session *conn;
	struct kmip_client *c;
	char name[KMIP_TEXT_SIZE];	/* the KMIP Name */
	char object_group[KMIP_TEXT_SIZE];	/* the object's Object Group */
	uint8_t *vk, *secret, *kek;	/* locked memory */
	size_t vk_len, kek_len;
	char uid[KMIP_UID_SIZE];
	bool activated;
	int slot;
	struct enroll_result res;	/* the token, as written */
};

static int random_bytes(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		return log_error_errno(-EIO, "the random number generator failed");
	return 0;
}

/* ------------------------------------------------------------- prove */

/* The host copy of the KEK (--kek-file, else the default path): a bad file must cost no KMS object. */
static int read_kek(struct enroll *e)
{
	const struct enroll_opts *o = e->o;
	int r;

	if (o->kek_file) {
		if (snprintf(e->kek_file, sizeof(e->kek_file), "%s", o->kek_file) >=
		    (int)sizeof(e->kek_file))
			return -ENAMETOOLONG;
	} else if (luks_kek_default_path(e->cfg, o->wrap_uid, e->kek_file, sizeof(e->kek_file)) < 0) {
		return log_error_errno(-EINVAL, "--wrap-key '%s' has no default key file name; "
				       "pass --kek-file", o->wrap_uid);
	}
	r = luks_read_kek(e->kek_file, &e->kek, &e->kek_len);
	if (r < 0)
		log_error("%s: the host copy of wrapping key '%s' is unusable; nothing was created "
			  "on the KMS", e->device, o->wrap_uid);
	return r;
}

/* The passphrase gives the volume key (kept: volume-key registers it, the others add a keyslot with it). */
static int prove_passphrase(struct enroll *e)
{
	int r = crypt_get_volume_key_size(e->cd);

	if (r <= 0)
		return luks_crypt_fail(r ? r : -EINVAL, e->device, "reading the volume key size");
	e->vk_len = (size_t)r;
	e->vk = secmem_alloc(e->vk_len);
	if (!e->vk)
		return -errno;
	r = crypt_volume_key_get(e->cd, CRYPT_ANY_SLOT, (char *)e->vk, &e->vk_len,
				 e->o->passphrase, e->o->passphrase_len);
	if (r == -EPERM)
		return log_error_errno(-ELUKS, "%s: the passphrase given does not unlock any keyslot",
				       e->device);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "proving the passphrase");
	log_info("%s: passphrase of keyslot %d proven", e->device, r);
	return 0;
}

/* The KMIP Name: --name, else one that carries the header's UUID (hostile input, never sent raw). */
static int make_name(struct enroll *e)
{
	if (e->o->name)
		snprintf(e->name, sizeof(e->name), "%s", e->o->name);
	else
		snprintf(e->name, sizeof(e->name), "kmipcrypt-%s-%s", crypt_get_uuid(e->cd),
			 kmip_kind_name(e->o->kind));
	if (!text_is_printable(e->name))
		return log_error_errno(-EINVAL, "%s: the LUKS2 UUID holds control characters or "
				       "invalid UTF-8, so the default KMIP Name cannot be used; pass "
				       "--name", e->device);
	return 0;
}

/* What can fail here costs nothing on the KMS, and changes nothing: no step, no undo. */
static int prove(void *ctx)
{
	struct enroll *e = ctx;
	int r;

	r = luks_dev_open(e->device, &e->cd);
	if (r == 0)
		r = luks_reencrypt_refuse(e->cd, e->device, "enroll");
	if (r == 0) {
		r = luks_keyslot_free(e->cd, e->device);
		r = r < 0 ? r : 0;
	}
	if (r == 0 && e->o->wrap_uid)
		r = read_kek(e);
	if (r == 0)
		r = prove_passphrase(e);
	if (r == 0)
		r = make_name(e);
	return r;
}

/* ----------------------------------------------------------- connect */

static int step_connect(void *ctx)
{
	struct enroll *e = ctx;
	int r = conf_session_open(e->cfg, e->group, 0, &e->conn);

	if (r == 0)
		e->c = kmip_session_client(e->conn);
	return r;
}

/* ---------------------------------------------------------- register */

/* The KMS object, Pre-Active (activate is a step of its own, as late as the kind allows). */
static int register_object(struct enroll *e, struct kmip_new_object *no)
{
	enum kmip_secret_kind kind = e->o->kind;
	int r = -EINVAL;

	switch (kind) {
	case KMIP_KIND_PASSPHRASE:
		r = kmip_register_secret(e->c, e->secret, KMIP_SECRET_BYTES, no, e->uid);
		break;
	case KMIP_KIND_VOLUME_KEY:
		no->usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
		r = kmip_register_key(e->c, e->vk, e->vk_len, no, e->uid);
		if (r == -EINVAL && e->vk_len != 16 && e->vk_len != 24 && e->vk_len != 32 &&
		    e->vk_len != 64)
			return log_error_errno(r, "%s: the volume key is %zu bits; this kmipcrypt "
					       "registers AES keys of 128, 192, 256 or 512 bits only",
					       e->device, e->vk_len * 8);
		break;
	case KMIP_KIND_ENVELOPE:
		no->usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
		r = kmip_create(e->c, 256, no, e->uid);
		break;
	}
	if (r < 0) {
		char why[KMIP_FAILURE_TEXT_SIZE];

		log_error("%s: %s", e->device, kmip_failure_text(e->c, r, why, sizeof(why),
			  "%s on the KMS", kind == KMIP_KIND_ENVELOPE ? "creating the key" :
			  "registering the secret"));
		if (r == -EEXIST) {
			log_error("%s: an object named '%s' exists already; pick another with --name",
				  e->device, no->name);
			r = -EINVAL;	/* the caller's choice of name: exit 1 */
		}
		return r;
	}
	log_info("%s: %s '%s' created on the KMS, Pre-Active (Name '%s', Object Group '%s')",
		 e->device, kind == KMIP_KIND_PASSPHRASE ? "Secret Data" : "Symmetric Key", e->uid,
		 no->name, no->group);
	return 0;
}

static int step_register(void *ctx)
{
	struct enroll *e = ctx;
	const struct enroll_opts *o = e->o;
	struct kmip_new_object no = {
		.name = e->name,
		.group = o->kind == KMIP_KIND_ENVELOPE ? LUKS_ENROLL_PENDING_GROUP : e->object_group,
	};
	int r;

	if (o->kind != KMIP_KIND_VOLUME_KEY) {
		e->secret = secmem_alloc(KMIP_SECRET_BYTES);
		if (!e->secret)
			return -errno;
		r = random_bytes(e->secret, KMIP_SECRET_BYTES);
		if (r < 0)
			return r;
	}
	return register_object(e, &no);
}

/* The object, revoked first if it was activated (one undo for register and activate). */
static bool undo_register(void *ctx)
{
	struct enroll *e = ctx;
	struct kmip_revoke rv = {
		.reason = KMIP_REVOKE_CESSATION_OF_OPERATION,
		.message = "kmipcrypt enroll failed; undone",
	};
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r = 0;

	if (e->activated)
		r = kmip_revoke(e->c, e->uid, &rv);
	if (r == 0)
		r = kmip_destroy(e->c, e->uid);
	if (r < 0) {
		log_error("%s: could NOT undo the KMS object: %s; remove it with 'kmipcrypt key "
			  "destroy --revoke %s'", e->device,
			  kmip_failure_text(e->c, r, why, sizeof(why), "%s key '%s'", e->activated ?
					    "revoking and destroying" : "destroying", e->uid), e->uid);
		return false;
	}
	log_warn("%s: undone: %s key '%s' on the KMS", e->device,
		 e->activated ? "revoked and destroyed" : "destroyed", e->uid);
	return true;
}

/* -------------------------------------------------------------- wrap */

/*
 * volume-key with a wrapping key: the wrapped Get of the (still Pre-Active)
 * object must unwrap, here, to the volume key, with the host copy of the
 * KEK (read before anything was created on the KMS).  KMIP lets Get serve
 * an object in any state but Destroyed; only the wrapping key must be
 * Active.
 */
static int check_wrap(struct enroll *e)
{
	struct kmip_key_wrap wrap = {
		.kek_uid = e->o->wrap_uid, .mode = KMIP_BCM_NIST_KEY_WRAP, .kek = e->kek,
		.kek_len = e->kek_len,
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
							 "with %s", e->o->wrap_uid, e->kek_file));
	if (obj.wrapped || obj.material_len != e->vk_len ||
	    CRYPTO_memcmp(obj.material, e->vk, e->vk_len)) {
		kmip_object_clear(&obj);
		return log_error_errno(-EBADMSG, "%s: the key came back from the server, unwrapped, "
				       "different from the volume key", e->device);
	}
	kmip_object_clear(&obj);
	return 0;
}

static int step_wrap(void *ctx)
{
	struct enroll *e = ctx;
	int r = check_wrap(e);

	secmem_free(e->kek);	/* verify reads the file again, as unlock does */
	e->kek = NULL;
	if (r == 0)
		log_info("%s: the volume key comes back wrapped by '%s' and unwraps with %s",
			 e->device, e->o->wrap_uid, e->kek_file);
	return r;
}

/* ----------------------------------------------------------- keyslot */

/* The new keyslot: its number is chosen here, since an AES-GCM envelope authenticates it. */
static int step_keyslot(void *ctx)
{
	struct enroll *e = ctx;
	uint8_t *pw = NULL, *slot_key = NULL;
	char *pass = NULL;
	size_t pass_len = 0;
	int r, slot;

	slot = luks_keyslot_free(e->cd, e->device);
	if (slot < 0)
		return slot;
	if (e->o->kind != KMIP_KIND_VOLUME_KEY) {
		r = luks_keyslot_add_secret(e->cd, e->device, slot, e->vk, e->vk_len, e->secret,
					    KMIP_SECRET_BYTES);
		if (r >= 0)
			e->slot = r;
		return r < 0 ? r : 0;
	}
	/* Unbound: a random key under a random passphrase, both forgotten at once. */
	r = luks_keyslot_set_pbkdf(e->cd, e->device);
	if (r < 0)
		return r;
	pw = secmem_alloc(KMIP_SECRET_BYTES);
	slot_key = secmem_alloc(UNBOUND_KEY_BYTES);
	if (!pw || !slot_key || random_bytes(pw, KMIP_SECRET_BYTES) < 0 ||
	    random_bytes(slot_key, UNBOUND_KEY_BYTES) < 0 ||
	    luks_secret_passphrase(pw, KMIP_SECRET_BYTES, &pass, &pass_len) < 0) {
		r = log_error_errno(-EIO, "%s: cannot make the unbound keyslot's secrets", e->device);
		goto out;
	}
	r = crypt_keyslot_add_by_key(e->cd, slot, (const char *)slot_key, UNBOUND_KEY_BYTES, pass,
				     pass_len, CRYPT_VOLUME_KEY_NO_SEGMENT);
	if (r < 0) {
		r = luks_crypt_fail(r, e->device, "adding the keyslot");
		goto out;
	}
	e->slot = r;
	log_info("%s: keyslot %d added (unbound, PBKDF2, %d iterations)", e->device, e->slot,
		 KMIP_KEYSLOT_PBKDF2_ITERATIONS);
	r = 0;
out:
	secmem_free(pass);
	secmem_free(slot_key);
	secmem_free(pw);
	return r;
}

static bool undo_keyslot(void *ctx)
{
	struct enroll *e = ctx;
	int r = crypt_keyslot_destroy(e->cd, e->slot);

	if (r < 0) {
		log_error("%s: could NOT remove keyslot %d: %s; remove it with 'cryptsetup "
			  "luksKillSlot %s %d'", e->device, e->slot, strerror(-r), e->device, e->slot);
		return false;
	}
	log_warn("%s: undone: removed keyslot %d", e->device, e->slot);
	return true;
}

/* ---------------------------------------------------------- activate */

static int step_activate(void *ctx)
{
	struct enroll *e = ctx;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r = kmip_activate(e->c, e->uid);

	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device, kmip_failure_text(e->c, r, why,
				       sizeof(why), "activating key '%s'", e->uid));
	e->activated = true;
	return 0;
}

/* ----------------------------------------------------------- encrypt */

static int step_encrypt(void *ctx)
{
	struct enroll *e = ctx;

	return luks_envelope_encrypt(e->c, e->device, e->uid, crypt_get_uuid(e->cd), e->slot,
				     e->secret, &e->res.token);
}

/* ------------------------------------------------------------- token */

static int step_token(void *ctx)
{
	struct enroll *e = ctx;
	struct kmip_token *t = &e->res.token;
	char *json = NULL;
	int r;

	t->kind = e->o->kind;
	t->keyslot = e->slot;
	snprintf(t->uid, sizeof(t->uid), "%s", e->uid);
	snprintf(t->group, sizeof(t->group), "%s", e->group);
	/* Where the object is (envelope: will be, once unmarked): kmipcryptd's one Locate. */
	snprintf(t->object_group, sizeof(t->object_group), "%s", e->object_group);
	if (e->o->wrap_uid)
		snprintf(t->wrap_uid, sizeof(t->wrap_uid), "%s", e->o->wrap_uid);
	/* What the server speaks: unlock assumes it and skips the negotiation. */
	r = kmip_client_version(e->c);
	t->protocol = r > 0 ? r : 0;
	r = kmip_token_format(t, &json);
	if (r < 0)
		return r;
	r = crypt_token_json_set(e->cd, CRYPT_ANY_TOKEN, json);
	free(json);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "writing the token");
	e->res.token_id = r;
	return 0;
}

static bool undo_token(void *ctx)
{
	struct enroll *e = ctx;
	int tid = e->res.token_id, r = crypt_token_json_set(e->cd, tid, NULL);

	if (r < 0) {
		log_error("%s: could NOT remove token %d: %s; remove it with 'cryptsetup token "
			  "remove --token-id %d %s'", e->device, tid, strerror(-r), tid, e->device);
		return false;
	}
	log_warn("%s: undone: removed token %d", e->device, tid);
	return true;
}

/* ------------------------------------------------------------ unmark */

/*
 * Past the point of no return, so a failure only warns: the binding works,
 * but key list calls the key unbound while it is in the pending group.
 */
static int step_unmark(void *ctx)
{
	struct enroll *e = ctx;
	const char *group = e->object_group;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r = kmip_modify_group(e->c, e->uid, LUKS_ENROLL_PENDING_GROUP, group);

	if (r < 0)
		log_warn("%s: %s; the volume is bound, but 'kmipcrypt key list' marks the key "
			 "as unbound while it is in that group", e->device,
			 kmip_failure_text(e->c, r, why, sizeof(why), "moving key '%s' from Object "
					   "Group '%s' to '%s'", e->uid, LUKS_ENROLL_PENDING_GROUP,
					   group));
	return 0;
}

/* ------------------------------------------------------------ verify */

/* Fetch as unlock will, and check the secret against the header (no mapping). */
static int step_verify(void *ctx)
{
	struct enroll *e = ctx;
	struct luks_proof p = { 0 };
	struct kmip_token t;
	int r;

	r = luks_token_read(e->cd, e->device, e->res.token_id, &t);
	if (r < 0)
		return r == -EINVAL ? -ELUKS : r;
	r = luks_prove(e->cd, e->device, e->res.token_id, &t, e->c,
		       e->o->wrap_uid ? e->kek_file : NULL, &p);
	explicit_bzero(&t, sizeof(t));
	if (r == 0)
		log_info("%s: bound to key '%s' (kind %s, group [%s]) by token %d on keyslot %d",
			 e->device, e->uid, kmip_kind_name(e->o->kind), e->group, e->res.token_id,
			 e->slot);
	return r;
}

/* ------------------------------------------------------------- table */

/* Which steps a run takes (luks_step.when): one bit per kind, one for a wrapped volume key. */
#define PASSPHRASE	(1u << KMIP_KIND_PASSPHRASE)
#define VOLUME_KEY	(1u << KMIP_KIND_VOLUME_KEY)
#define ENVELOPE	(1u << KMIP_KIND_ENVELOPE)
#define WRAPPED		(1u << 8)

/* Activate has no undo of its own: undo_register revokes an activated object, then destroys it. */
static const struct luks_step enroll_steps[] = {
	{ .name = "connect",  .run = step_connect },
	{ .name = "register", .run = step_register, .undo = undo_register },
	{ .name = "wrap",     .run = step_wrap,     .when = WRAPPED },
	{ .name = "keyslot",  .run = step_keyslot,  .undo = undo_keyslot },
	/* Encrypt needs an Active key: the window of one that no token names, kept short. */
	{ .name = "activate", .run = step_activate, .when = ENVELOPE },
	{ .name = "encrypt",  .run = step_encrypt,  .when = ENVELOPE },
	{ .name = "token",    .run = step_token,    .undo = undo_token, .commit = true },
	{ .name = "activate", .run = step_activate, .when = PASSPHRASE | VOLUME_KEY },
	{ .name = "unmark",   .run = step_unmark,   .when = ENVELOPE },
	{ .name = "verify",   .run = step_verify },
};

static const struct luks_txn enroll_txn = {
	.prepare = prove,
	.what = "enroll",
	.committed = "the token was written",
	.outcome = "the volume is bound",
	.steps = enroll_steps,
	.n_steps = sizeof(enroll_steps) / sizeof(enroll_steps[0]),
};

/* ------------------------------------------------------------ enroll */

static bool bad_text(const char *s)
{
	return strlen(s) > KMIP_TEXT_MAX || !*s || !text_is_printable(s);
}

int luks_enroll_check(const struct enroll_opts *o)
{
	if (o->kind != KMIP_KIND_PASSPHRASE && o->kind != KMIP_KIND_VOLUME_KEY &&
	    o->kind != KMIP_KIND_ENVELOPE)
		return log_error_errno(-EINVAL, "unknown kind %d", (int)o->kind);
	if (o->wrap_uid && o->kind != KMIP_KIND_VOLUME_KEY)
		return log_error_errno(-EINVAL, "--wrap-key is for --kind volume-key only");
	if (o->kek_file && !o->wrap_uid)
		return log_error_errno(-EINVAL, "--kek-file needs --wrap-key");
	if (o->wrap_uid && strlen(o->wrap_uid) > KMIP_UID_MAX)
		return log_error_errno(-EINVAL, "--wrap-key: an identifier of at most %u bytes",
				       KMIP_UID_MAX);
	if (o->name && bad_text(o->name))
		return log_error_errno(-EINVAL, "--name: printable text (UTF-8, no control "
				       "characters) of 1 to %u bytes", KMIP_TEXT_MAX);
	if (o->object_group && bad_text(o->object_group))
		return log_error_errno(-EINVAL, "--object-group: printable text (UTF-8, no control "
				       "characters) of 1 to %u bytes", KMIP_TEXT_MAX);
	if (o->object_group && !strcmp(o->object_group, LUKS_ENROLL_PENDING_GROUP))
		return log_error_errno(-EINVAL, "--object-group: '%s' is reserved: it marks the keys "
				       "of enrolls that have not finished", LUKS_ENROLL_PENDING_GROUP);
	if (o->group && strlen(o->group) >= CONFIG_NAME_MAX)
		return log_error_errno(-EINVAL, "server group name too long");
	return 0;
}

int luks_enroll(const char *device, struct config *cfg, const struct enroll_opts *o,
		struct enroll_result *out)
{
	struct enroll e = {
		.device = device, .cfg = cfg, .o = o, .group = o->group ? o->group : "default",
		.slot = -1, .res = { .token_id = -1 },
	};
	int r;

	r = luks_enroll_check(o);
	if (r == 0 && (!o->passphrase || o->passphrase_len == 0))
		r = log_error_errno(-EINVAL, "enroll needs an existing passphrase of %s", device);
	/* --object-group, else the configuration's object_group, else this host's own. */
	if (r == 0 && o->object_group)
		snprintf(e.object_group, sizeof(e.object_group), "%s", o->object_group);
	else if (r == 0)
		r = luks_host_object_group(cfg, e.group, e.object_group, sizeof(e.object_group));
	if (r == 0)
		r = luks_steps_run(&enroll_txn, device,
				   (1u << o->kind) | (o->wrap_uid ? WRAPPED : 0), &e);
	if (r == 0 && out)
		*out = e.res;
	secmem_free(e.kek);
	secmem_free(e.secret);
	secmem_free(e.vk);
	explicit_bzero(&e.res, sizeof(e.res));
	kmip_session_close(e.conn);
	crypt_free(e.cd);
	return r;
}

/* ------------------------------------------- for reencrypt (reencrypt.h) */

/* A new volume key registered as enroll registers one: the same functions. */
int luks_enroll_register_vk(struct kmip_client *c, const char *device, const uint8_t *vk,
			    size_t vk_len, const char *name, const char *group,
			    const char *wrap_uid, const char *kek_file, char uid[KMIP_UID_SIZE])
{
	struct enroll_opts o = { .kind = KMIP_KIND_VOLUME_KEY, .wrap_uid = wrap_uid };
	struct enroll e = { .device = device, .o = &o, .c = c, .vk = (uint8_t *)vk,
			    .vk_len = vk_len, .slot = -1 };
	struct kmip_new_object no = { .name = name, .group = group };
	int r;

	uid[0] = '\0';
	r = register_object(&e, &no);
	if (r == 0)
		snprintf(uid, KMIP_UID_SIZE, "%s", e.uid);
	if (r == 0 && wrap_uid) {
		snprintf(e.kek_file, sizeof(e.kek_file), "%s", kek_file ? kek_file : "");
		r = luks_read_kek(e.kek_file, &e.kek, &e.kek_len);
		if (r == 0)
			r = step_wrap(&e);	/* frees the KEK */
	}
	secmem_free(e.kek);
	return r;
}
