/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Enroll: bind a LUKS2 volume to a new KMS object.
 *
 *   prove   the existing passphrase gives the volume key (one PBKDF run)
 *   register  the KMS object: Secret Data (passphrase), the volume key as a
 *           Symmetric Key (volume-key), or a new AES-256 key (envelope),
 *           with a Name and an Object Group, not yet active
 *   activate  it (envelope: then Encrypt the new keyslot secret with it;
 *           volume-key with --wrap-key: check that a wrapped Get unwraps
 *           with the host's copy of the KEK to the volume key)
 *   keyslot   a new keyslot, PBKDF2 with KMIP_KEYSLOT_PBKDF2_ITERATIONS,
 *           passphrase = base64 of the 32-byte secret (volume-key: an
 *           unbound keyslot, see luks.h)
 *   token   the kmip token, bound to that keyslot
 *   verify  read the token back, fetch the secret as unlock would (State,
 *           Get/Decrypt) and check it against the header
 *
 * Any failure undoes what was done, in reverse: token removed, keyslot
 * destroyed, KMS object revoked (Cessation of Operation) and destroyed.
 * Each undo is logged, and so is anything that could not be undone.
 *
 * Test hook: the environment variable KMIPCRYPT_FAIL_AT=STEP (register,
 * activate, keyslot, token, verify) makes that step fail as if it had, so
 * that tests can prove the undo.  It is read with secure_getenv().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "util/config.h"
#include "util/log.h"
#include "util/secmem.h"

#define ENVELOPE_IV_BYTES	16

/* The steps KMIPCRYPT_FAIL_AT can name. */
static const char *const enroll_steps[] = {
	"register", "activate", "keyslot", "token", "verify", NULL
};
#define UNBOUND_KEY_BYTES	32

struct enroll {
	const char *device;
	struct crypt_device *cd;
	struct luks_conn *conn;
	struct kmip_client *c;
	char uid[KMIP_UID_SIZE];
	bool created, activated;
	int slot, tid;
	const char *step;
};

static int random_bytes(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		return log_error_errno(-EIO, "the random number generator failed");
	return 0;
}

static int injected(struct enroll *e, const char *step)
{
	e->step = step;
	return luks_fail_at(step) ? log_error_errno(-EIO, "%s: step '%s' failed (injected)",
						    e->device, step) : 0;
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
			const char *srv = kmip_last_error(e->c);

			log_error("%s: could NOT %s key '%s' on the KMS: %s%s%s; remove it with "
				  "'kmipcrypt key destroy --revoke %s'", e->device,
				  e->activated ? "revoke and destroy" : "destroy", e->uid,
				  strerror(-r), srv && *srv ? "; server says " : "", srv ? srv : "",
				  e->uid);
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

/* volume-key with a wrapping key: the wrapped Get must unwrap, here, to the volume key. */
static int check_wrap(struct enroll *e, const char *kek_file, const char *wrap_uid,
		      const uint8_t *vk, size_t vk_len)
{
	struct kmip_key_wrap wrap = { .kek_uid = wrap_uid, .mode = KMIP_BCM_NIST_KEY_WRAP };
	struct kmip_object obj;
	uint8_t *kek = NULL;
	size_t kek_len = 0;
	int r;

	memset(&obj, 0, sizeof(obj));
	r = luks_read_kek(kek_file, &kek, &kek_len);
	if (r < 0)
		return r;
	wrap.kek = kek;
	wrap.kek_len = kek_len;
	r = kmip_get(e->c, e->uid, &wrap, &obj);
	secmem_free(kek);
	if (r < 0) {
		const char *srv = kmip_last_error(e->c);

		return log_error_errno(r, "%s: getting the new key wrapped by '%s' and unwrapping it "
				       "with %s failed: %s%s%s", e->device, wrap_uid, kek_file,
				       r == -EBADMSG ? "integrity check failed (not the host copy "
				       "of that key?)" : strerror(-r),
				       srv && *srv ? "; server says " : "", srv ? srv : "");
	}
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

/* Fetch as unlock will, and check the secret against the header (no mapping). */
static int verify(struct enroll *e, const char *kek_file)
{
	struct kmip_token t;
	uint8_t *secret = NULL;
	size_t len = 0, pass_len = 0;
	char *pass = NULL;
	bool is_vk = false;
	int r;

	r = luks_token_read(e->cd, e->device, e->tid, &t);
	if (r < 0)
		return r == -EINVAL ? -ELUKS : r;
	r = luks_fetch_secret(e->c, &t, kek_file, &secret, &len, &is_vk);
	if (r < 0)
		goto out;
	if (is_vk) {
		r = crypt_activate_by_volume_key(e->cd, NULL, (const char *)secret, len, 0);
	} else {
		r = luks_secret_passphrase(secret, len, &pass, &pass_len);
		if (r < 0)
			goto out;
		r = crypt_activate_by_passphrase(e->cd, NULL, t.keyslot, pass, pass_len, 0);
	}
	if (r < 0)
		r = luks_crypt_fail(r, e->device, "checking the new token's secret against the header");
	else
		r = 0;
out:
	secmem_free(pass);
	secmem_free(secret);
	explicit_bzero(&t, sizeof(t));
	return r;
}

int luks_enroll(const char *device, struct config *cfg, const struct enroll_opts *o,
		int *token_id)
{
	struct enroll e = { .device = device, .slot = -1, .tid = -1, .step = "prove" };
	struct kmip_new_object no = { 0 };
	struct kmip_token t;
	char name[KMIP_TEXT_SIZE], kek_file[4096];
	const char *group = o->group ? o->group : "default";
	uint8_t *vk = NULL, *secret = NULL, *slot_key = NULL, *ct = NULL;
	char *pass = NULL, *json = NULL;
	size_t vk_len = 0, pass_len = 0, ct_len = 0;
	int r, proven, i, max, free_slots = 0;

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
	if (o->name && strlen(o->name) > KMIP_TEXT_MAX)
		return log_error_errno(-EINVAL, "--name: at most %u bytes", KMIP_TEXT_MAX);
	if (o->object_group && strlen(o->object_group) > KMIP_TEXT_MAX)
		return log_error_errno(-EINVAL, "--object-group: at most %u bytes", KMIP_TEXT_MAX);
	if (strlen(group) >= sizeof(t.group))
		return log_error_errno(-EINVAL, "server group name too long");
	if (!o->passphrase || o->passphrase_len == 0)
		return log_error_errno(-EINVAL, "enroll needs an existing passphrase of %s", device);
	if (o->wrap_uid) {
		r = kek_path(cfg, o, kek_file, sizeof(kek_file));
		if (r < 0)
			return r;
	}
	luks_fail_at_check(enroll_steps);

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

	r = luks_conn_open(cfg, group, 0, &e.conn);
	if (r < 0)
		goto out;
	e.c = luks_conn_client(e.conn);

	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		snprintf(name, sizeof(name), "kmipcrypt-%s-%s", crypt_get_uuid(e.cd),
			 kmip_kind_name(o->kind));
	no.name = name;
	no.group = o->object_group ? o->object_group : "kmipcrypt";
	no.activate = false;	/* a step of its own, so that it can be undone */

	/* register */
	r = injected(&e, "register");
	if (r < 0)
		goto fail;
	switch (o->kind) {
	case KMIP_KIND_PASSPHRASE:
		secret = secmem_alloc(KMIP_SECRET_BYTES);
		if (!secret || random_bytes(secret, KMIP_SECRET_BYTES) < 0) {
			r = secret ? -EIO : -errno;
			goto fail;
		}
		r = kmip_register_secret(e.c, secret, KMIP_SECRET_BYTES, &no, e.uid);
		break;
	case KMIP_KIND_VOLUME_KEY:
		no.usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
		r = kmip_register_key(e.c, vk, vk_len, &no, e.uid);
		if (r == -EINVAL && vk_len != 16 && vk_len != 24 && vk_len != 32 && vk_len != 64) {
			log_error("%s: the volume key is %zu bits; this kmipcrypt registers AES keys "
				  "of 128, 192, 256 or 512 bits only", device, vk_len * 8);
			goto fail;
		}
		break;
	case KMIP_KIND_ENVELOPE:
		no.usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
		r = kmip_create(e.c, 256, &no, e.uid);
		break;
	}
	if (r < 0) {
		const char *srv = kmip_last_error(e.c);

		log_error("%s: %s on the KMS failed: %s%s%s", device,
			  o->kind == KMIP_KIND_ENVELOPE ? "creating the key" : "registering the secret",
			  r == -EKEYREJECTED ? "TLS or authentication failure" : strerror(-r),
			  srv && *srv ? "; server says " : "", srv ? srv : "");
		if (r == -EEXIST) {
			log_error("%s: an object named '%s' exists already; pick another with --name",
				  device, name);
			r = -EINVAL;	/* the caller's choice of name: exit 1 */
		}
		goto fail;
	}
	e.created = true;
	log_info("%s: %s '%s' created on the KMS (Name '%s', Object Group '%s')", device,
		 o->kind == KMIP_KIND_PASSPHRASE ? "Secret Data" : "Symmetric Key", e.uid, name,
		 no.group);

	/* activate */
	r = injected(&e, "activate");
	if (r < 0)
		goto fail;
	r = kmip_activate(e.c, e.uid);
	if (r < 0) {
		const char *srv = kmip_last_error(e.c);

		log_error("%s: activating key '%s' failed: %s%s%s", device, e.uid, strerror(-r),
			  srv && *srv ? "; server says " : "", srv ? srv : "");
		goto fail;
	}
	e.activated = true;
	if (o->kind == KMIP_KIND_VOLUME_KEY && o->wrap_uid) {
		r = check_wrap(&e, kek_file, o->wrap_uid, vk, vk_len);
		if (r < 0)
			goto fail;
		log_info("%s: the volume key comes back wrapped by '%s' and unwraps with %s", device,
			 o->wrap_uid, kek_file);
	}
	if (o->kind == KMIP_KIND_ENVELOPE) {
		struct kmip_crypt_params p = {
			.algorithm = KMIP_ALG_AES, .mode = KMIP_BCM_CBC, .padding = KMIP_PAD_PKCS5,
			.iv_len = ENVELOPE_IV_BYTES,
		};

		secret = secmem_alloc(KMIP_SECRET_BYTES);
		if (!secret) {
			r = -errno;
			goto fail;
		}
		r = random_bytes(secret, KMIP_SECRET_BYTES);
		if (r == 0)
			r = random_bytes(p.iv, ENVELOPE_IV_BYTES);
		if (r < 0)
			goto fail;
		r = kmip_encrypt(e.c, e.uid, &p, secret, KMIP_SECRET_BYTES, &ct, &ct_len);
		if (r < 0) {
			const char *srv = kmip_last_error(e.c);

			log_error("%s: encrypting the keyslot secret with key '%s' failed: %s%s%s",
				  device, e.uid, strerror(-r), srv && *srv ? "; server says " : "",
				  srv ? srv : "");
			goto fail;
		}
		if (ct_len < 16 || ct_len > KMIP_ENVELOPE_MAX || ct_len % 16 ||
		    p.iv_len != ENVELOPE_IV_BYTES) {
			r = log_error_errno(-EPROTO, "%s: the server's AES-CBC answer has %zu bytes "
					    "(IV %zu); expected whole blocks", device, ct_len, p.iv_len);
			goto fail;
		}
		memcpy(t.ciphertext, ct, ct_len);
		t.ciphertext_len = ct_len;
		memcpy(t.iv, p.iv, p.iv_len);
		t.iv_len = p.iv_len;
		explicit_bzero(&p, sizeof(p));
	}

	/* keyslot */
	r = injected(&e, "keyslot");
	if (r < 0)
		goto fail;
	r = set_keyslot_pbkdf(&e);
	if (r < 0)
		goto fail;
	if (o->kind == KMIP_KIND_VOLUME_KEY) {
		/* Unbound: a random key under a random passphrase, both forgotten at once. */
		uint8_t *pw = secmem_alloc(KMIP_SECRET_BYTES);

		slot_key = secmem_alloc(UNBOUND_KEY_BYTES);
		if (!pw || !slot_key || random_bytes(pw, KMIP_SECRET_BYTES) < 0 ||
		    random_bytes(slot_key, UNBOUND_KEY_BYTES) < 0 ||
		    luks_secret_passphrase(pw, KMIP_SECRET_BYTES, &pass, &pass_len) < 0) {
			secmem_free(pw);
			r = log_error_errno(-EIO, "%s: cannot make the unbound keyslot's secrets", device);
			goto fail;
		}
		secmem_free(pw);
		r = crypt_keyslot_add_by_key(e.cd, CRYPT_ANY_SLOT, (const char *)slot_key,
					     UNBOUND_KEY_BYTES, pass, pass_len,
					     CRYPT_VOLUME_KEY_NO_SEGMENT);
	} else {
		r = luks_secret_passphrase(secret, KMIP_SECRET_BYTES, &pass, &pass_len);
		if (r < 0)
			goto fail;
		r = crypt_keyslot_add_by_volume_key(e.cd, CRYPT_ANY_SLOT, (const char *)vk, vk_len,
						    pass, pass_len);
	}
	if (r < 0) {
		r = luks_crypt_fail(r, device, "adding the keyslot");
		goto fail;
	}
	e.slot = r;
	log_info("%s: keyslot %d added (%sPBKDF2, %d iterations)", device, e.slot,
		 o->kind == KMIP_KIND_VOLUME_KEY ? "unbound, " : "", KMIP_KEYSLOT_PBKDF2_ITERATIONS);

	/* token */
	r = injected(&e, "token");
	if (r < 0)
		goto fail;
	t.version = KMIP_TOKEN_VERSION;
	t.kind = o->kind;
	t.keyslot = e.slot;
	snprintf(t.uid, sizeof(t.uid), "%s", e.uid);
	snprintf(t.group, sizeof(t.group), "%s", group);
	if (o->wrap_uid)
		snprintf(t.wrap_uid, sizeof(t.wrap_uid), "%s", o->wrap_uid);
	r = kmip_token_format(&t, &json);
	if (r < 0)
		goto fail;
	r = crypt_token_json_set(e.cd, CRYPT_ANY_TOKEN, json);
	if (r < 0) {
		r = luks_crypt_fail(r, device, "writing the token");
		goto fail;
	}
	e.tid = r;

	/* verify */
	r = injected(&e, "verify");
	if (r < 0)
		goto fail;
	r = verify(&e, o->wrap_uid ? kek_file : NULL);
	if (r < 0)
		goto fail;

	log_info("%s: bound to key '%s' (kind %s, group [%s]) by token %d on keyslot %d", device,
		 e.uid, kmip_kind_name(o->kind), group, e.tid, e.slot);
	if (token_id)
		*token_id = e.tid;
	r = 0;
	goto out;

fail:
	if (undo(&e))
		log_error("%s: enroll failed at step '%s'; everything done before was undone: the "
			  "volume and the KMS are as they were", device, e.step);
	else
		log_error("%s: enroll failed at step '%s', and NOT everything could be undone "
			  "(see above)", device, e.step);
out:
	free(json);
	secmem_free(ct);
	secmem_free(pass);
	secmem_free(slot_key);
	secmem_free(secret);
	secmem_free(vk);
	explicit_bzero(&t, sizeof(t));
	luks_conn_close(e.conn);
	crypt_free(e.cd);
	return r;
}
