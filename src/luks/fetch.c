/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unlock secret of a kmip token: the key's State on the server first,
 * then Get (passphrase, volume-key) or Decrypt (envelope: AES-GCM bound to
 * the volume, or AES-CBC of format 1 tokens; a Decrypt the server refuses
 * yields a secret that opens nothing, see envelope_reject()).
 *
 * Shared by the CLI and the token plugin: no global state, no prompt, no
 * exit; messages through util/log.h; secrets only in locked memory, wiped on
 * every path.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "conf/config.h"
#include "util/file.h"
#include "util/log.h"
#include "util/secmem.h"

#define SECRET_MIN	16u	/* bytes of a keyslot secret we accept from the server */
#define SECRET_MAX	256u

static uint32_t kind_object_type(enum kmip_secret_kind k)
{
	return k == KMIP_KIND_PASSPHRASE ? KMIP_OBJ_SECRET_DATA : KMIP_OBJ_SYMMETRIC_KEY;
}

static const char *object_type_name(uint32_t t)
{
	switch (t) {
	case KMIP_OBJ_SYMMETRIC_KEY:
		return "a Symmetric Key";
	case KMIP_OBJ_SECRET_DATA:
		return "Secret Data";
	default:
		return "another kind of object";
	}
}

/* Why the server refused a request about uid, as errno of luks.h, logged. */
static int server_refusal(struct kmip_client *c, int r, const char *uid, const char *what)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	const char *sep = kmip_last_failure(c) != KMIP_FAILURE_NONE ? "; " : "";

	/* Only the server's answers make the sentences below; "; server says ..." or our reason. */
	kmip_failure_reason(c, r, why, sizeof(why));
	if (!*sep)
		why[0] = '\0';
	switch (kmip_last_failure_step(c) ? 0 : r) {
	case -ENOENT:
		return log_error_errno(r, "key '%s' was not found on the server: destroyed, or never "
				       "there; refusing to unlock%s%s", uid, sep, why);
	case -EPERM:
		return log_error_errno(r, "key '%s': permission denied: it belongs to another client "
				       "(certificate), or this client may not %s it%s%s", uid, what,
				       sep, why);
	case -EKEYREVOKED:
		return log_error_errno(r, "key '%s' is not in a state that allows %s it (revoked?)%s%s",
				       uid, what, sep, why);
	default:
		/*
		 * Network, TLS, malformed answers, a failed version negotiation:
		 * the caller's summary says which server.
		 */
		return log_error_errno(r, "%s", kmip_failure_text(c, r, why, sizeof(why), "%s key '%s'",
								  what, uid));
	}
}

/* The key's State and Object Type as the server gave them: 0 if it may unlock. */
static int check_attrs(const struct kmip_token *t, const struct kmip_attrs *a_)
{
	const struct kmip_attrs a = *a_;
	uint32_t want = kind_object_type(t->kind);

	if (!(a.present & KMIP_ATTR_STATE))
		return log_error_errno(-ENODATA, "key '%s': the server did not say its State; "
				       "refusing to unlock", t->uid);
	switch (a.state) {
	case KMIP_STATE_ACTIVE:
		break;
	case KMIP_STATE_PRE_ACTIVE:
		return log_error_errno(-ENOKEY, "key '%s' is Pre-Active (never activated); refusing "
				       "to unlock (activate it on the KMS if it should unlock)", t->uid);
	case KMIP_STATE_DEACTIVATED:
		return log_error_errno(-EKEYREVOKED, "key '%s' is Deactivated (revoked); refusing to "
				       "unlock", t->uid);
	case KMIP_STATE_COMPROMISED:
		return log_error_errno(-EKEYREVOKED, "key '%s' is Compromised (revoked as compromised); "
				       "refusing to unlock", t->uid);
	case KMIP_STATE_DESTROYED:
	case KMIP_STATE_DESTROYED_COMPROMISED:
		return log_error_errno(-ENOENT, "key '%s' is %s; refusing to unlock", t->uid,
				       kmip_state_name(a.state));
	default:
		return log_error_errno(-ENOKEY, "key '%s' is in an unknown State (%d); refusing to "
				       "unlock", t->uid, a.state);
	}
	if ((a.present & KMIP_ATTR_OBJECT_TYPE) && a.object_type != want)
		return log_error_errno(-EKEYMISMATCH, "key '%s' is %s; a %s token needs %s: the "
				       "token names the wrong object", t->uid,
				       object_type_name(a.object_type),
				       kmip_kind_name(t->kind), object_type_name(want));
	return 0;
}

int luks_read_kek(const char *path, uint8_t **kek, size_t *len)
{
	/* A secret file: regular, for its owner only (file_check_secret()), never blocking. */
	struct read_file_opts fo = { .secret = true, .where = "the host copy of the key-encryption key" };
	char *buf = NULL;
	size_t n = 0;
	int r;

	*kek = NULL;
	*len = 0;
	/* A missing or unreadable file is this host's configuration (exit 1), not the key's state. */
	r = read_file_locked_opts(path, 64, &fo, &buf, &n);
	if (r == -EFBIG)
		return log_error_errno(-EINVAL, "%s: a key-encryption key is 16, 24 or 32 raw bytes",
				       path);
	if (r < 0)
		return r == -EACCES ? -EACCES : -EINVAL;	/* logged by the reader */
	if (n != 16 && n != 24 && n != 32) {
		secmem_free(buf);
		return log_error_errno(-EINVAL, "%s: %zu bytes; a key-encryption key is 16, 24 or 32 "
				       "raw bytes", path, n);
	}
	*kek = (uint8_t *)buf;
	*len = n;
	return 0;
}

int luks_kek_dir(const struct config *cfg, char *buf, size_t len)
{
	const char *dir = "/etc/kmipcrypt", *slash;
	size_t dlen = strlen(dir);
	int n;

	if (cfg && cfg->path && (slash = strrchr(cfg->path, '/'))) {
		dir = cfg->path;
		dlen = (size_t)(slash - cfg->path);
		if (dlen == 0)
			dir = "/", dlen = 1;
	} else if (cfg && cfg->path) {
		dir = ".";
		dlen = 1;
	}
	n = snprintf(buf, len, "%.*s/kek", (int)dlen, dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int luks_kek_default_path(const struct config *cfg, const char *wrap_uid, char *buf, size_t len)
{
	size_t i, dlen;
	int r, n;

	if (!wrap_uid || !*wrap_uid || wrap_uid[0] == '.')
		return -EINVAL;
	for (i = 0; wrap_uid[i]; i++) {
		char ch = wrap_uid[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == ':' || ch == '-'))
			return -EINVAL;
	}
	r = luks_kek_dir(cfg, buf, len);
	if (r < 0)
		return r;
	dlen = strlen(buf);
	n = snprintf(buf + dlen, len - dlen, "/%s", wrap_uid);
	return n < 0 || (size_t)n >= len - dlen ? -ENAMETOOLONG : 0;
}

/* The host copy of the KEK of a wrapped volume-key token, into wrap (locked memory). */
static int wrap_prepare(const struct kmip_token *t, const char *kek_file, struct kmip_key_wrap *wrap)
{
	uint8_t *kek = NULL;
	size_t kek_len = 0;
	int r;

	memset(wrap, 0, sizeof(*wrap));
	if (t->kind != KMIP_KIND_VOLUME_KEY || !t->wrap_uid[0])
		return 0;
	if (!kek_file)
		return log_error_errno(-EINVAL, "key '%s' is fetched wrapped by '%s': the host "
				       "copy of that key-encryption key is needed (--kek-file)",
				       t->uid, t->wrap_uid);
	r = luks_read_kek(kek_file, &kek, &kek_len);
	if (r < 0)
		return r;
	wrap->kek_uid = t->wrap_uid;
	wrap->mode = KMIP_BCM_NIST_KEY_WRAP;
	wrap->kek = kek;
	wrap->kek_len = kek_len;
	return 0;
}

/* What a Get (r, obj) gave: the secret, or why not (logged).  Takes obj's material. */
static int get_result(struct kmip_client *c, const struct kmip_token *t, const char *kek_file,
		      int r, struct kmip_object *obj, uint8_t **secret, size_t *len)
{
	uint32_t want = kind_object_type(t->kind);

	if ((r == -EBADMSG || r == -EKEKMISMATCH) && t->wrap_uid[0])
		r = log_error_errno(-EKEKMISMATCH, "key '%s' wrapped by '%s' does not unwrap with %s "
				    "(integrity check failed): the file is not the host copy of "
				    "that key, or the answer was damaged", t->uid, t->wrap_uid,
				    kek_file);
	else if (r < 0)
		r = server_refusal(c, r, t->uid, "fetching");
	else if (obj->object_type != want)
		r = log_error_errno(-EKEYMISMATCH, "key '%s' is %s; a %s token needs %s: the token "
				    "names the wrong object", t->uid,
				    object_type_name(obj->object_type), kmip_kind_name(t->kind),
				    object_type_name(want));
	else if (obj->wrapped)	/* kmip_get() unwraps when given the KEK; never use wrapped bytes */
		r = log_error_errno(-EPROTO, "key '%s' came back still wrapped", t->uid);
	else if (t->kind == KMIP_KIND_PASSPHRASE &&
		 (obj->material_len < SECRET_MIN || obj->material_len > SECRET_MAX))
		r = log_error_errno(-EKEYMISMATCH, "key '%s': a secret of %zu bytes; a keyslot "
				    "secret is %u to %u bytes: the token names the wrong object",
				    t->uid, obj->material_len, SECRET_MIN, SECRET_MAX);
	else if (obj->material_len == 0)
		r = log_error_errno(-EKEYMISMATCH, "key '%s' has no key material: the token names "
				    "the wrong object", t->uid);
	if (r == 0) {
		*secret = obj->material;	/* locked memory, ours now */
		*len = obj->material_len;
		obj->material = NULL;
		obj->material_len = 0;
	}
	kmip_object_clear(obj);
	return r;
}

/*
 * A secret that opens nothing: what a failed envelope Decrypt yields.
 *
 * The envelope is on the disk, so anyone who can write the header can make
 * the server decrypt ciphertexts of their choice and watch what unlock does
 * (AES-CBC: a padding oracle that decrypts the envelope block by block).
 * So every way for the ciphertext not to give the keyslot secret (the
 * server refuses the Decrypt: padding, tag, sizes, whatever its reason; or
 * it decrypts to a secret of an impossible size) ends as a secret that does
 * not open the keyslot: the caller's keyslot check then fails exactly as for
 * a wrong secret, with the same errno, exit code, message and PBKDF work,
 * and nothing here says which it was (implicit rejection, as TLS does for
 * RSA key exchange).  Failures before the server answers (network, TLS, a
 * malformed response) are no oracle and are reported as they are.
 */
static int envelope_reject(uint8_t **secret, size_t *len)
{
	uint8_t *s = secmem_alloc(KMIP_SECRET_BYTES);

	if (!s)
		return -ENOMEM;
	if (RAND_bytes(s, KMIP_SECRET_BYTES) != 1) {
		secmem_free(s);
		return log_error_errno(-EIO, "the random number generator failed");
	}
	*secret = s;
	*len = KMIP_SECRET_BYTES;
	return 0;
}

/* Did the server answer this Decrypt, with a failure? */
static bool decrypt_refused(struct kmip_client *c)
{
	const struct kmip_result *res = kmip_last_result(c);

	return res && res->op == KMIP_OP_DECRYPT && res->status != KMIP_STATUS_SUCCESS;
}

/* The Decrypt of an envelope token's ciphertext: its parameters (aad: its buffer). */
static int decrypt_prepare(const struct kmip_token *t, struct kmip_crypt_params *p,
			   uint8_t aad[KMIP_ENVELOPE_AAD_MAX])
{
	int r;

	memset(p, 0, sizeof(*p));
	p->algorithm = KMIP_ALG_AES;
	p->mode = KMIP_BCM_CBC;
	p->padding = KMIP_PAD_PKCS5;
	if (t->iv_len > sizeof(p->iv) || t->tag_len > sizeof(p->tag))
		return -EINVAL;
	memcpy(p->iv, t->iv, t->iv_len);
	p->iv_len = t->iv_len;
	if (t->mode == KMIP_ENVELOPE_AES_GCM) {
		r = kmip_envelope_aad(t->volume_uuid, t->keyslot, aad, KMIP_ENVELOPE_AAD_MAX);
		if (r < 0)
			return log_error_errno(-EINVAL, "key '%s': an AES-GCM envelope needs the "
					       "volume's LUKS2 UUID, and none was given", t->uid);
		p->mode = KMIP_BCM_GCM;
		p->padding = 0;
		p->tag_len = t->tag_len;
		memcpy(p->tag, t->tag, t->tag_len);
		p->aad = aad;
		p->aad_len = (size_t)r;
	}
	return 0;
}

/* What a Decrypt (r, out[0..n)) gave: the secret, or why not.  Takes out. */
static int decrypt_result(struct kmip_client *c, const struct kmip_token *t, int r,
			  uint8_t *out, size_t n, uint8_t **secret, size_t *len)
{
	if (r == -EOPNOTSUPP && !decrypt_refused(c))
		return log_error_errno(r, "key '%s': the envelope is AES-GCM, which needs KMIP 1.4 "
				       "or later; this server speaks an older version (kmip_version "
				       "in the configuration?)", t->uid);
	if (r < 0 && !decrypt_refused(c))
		return server_refusal(c, r, t->uid, "decrypting with");
	if (r < 0 || n < SECRET_MIN || n > SECRET_MAX) {
		secmem_free(out);
		return envelope_reject(secret, len);
	}
	*secret = out;
	*len = n;
	return 0;
}

int luks_fetch_prepare(const struct kmip_token *t, const char *kek_file, struct luks_fetch *q)
{
	int r;

	memset(q, 0, sizeof(*q));
	q->t = t;
	q->kek_file = kek_file;
	q->f.attrs_wanted = KMIP_ATTR_STATE | KMIP_ATTR_OBJECT_TYPE;
	q->f.uid = t->uid;
	if (t->kind != KMIP_KIND_PASSPHRASE && t->kind != KMIP_KIND_VOLUME_KEY &&
	    t->kind != KMIP_KIND_ENVELOPE)
		return log_error_errno(-EINVAL, "unknown token kind %d", (int)t->kind);
	if (t->kind == KMIP_KIND_ENVELOPE) {
		r = decrypt_prepare(t, &q->p, q->aad);
		if (r < 0)
			return r;
		q->f.decrypt = &q->p;
		q->f.in = t->ciphertext;
		q->f.in_len = t->ciphertext_len;
		return 0;
	}
	r = wrap_prepare(t, kek_file, &q->wrap);
	if (r == 0 && q->wrap.kek_uid)
		q->f.wrap = &q->wrap;
	return r;
}

int luks_fetch_finish(struct kmip_client *c, struct luks_fetch *q, int r, uint8_t **secret,
		      size_t *len, bool *is_volume_key)
{
	const struct kmip_token *t = q->t;

	*secret = NULL;
	*len = 0;
	if (is_volume_key)
		*is_volume_key = false;
	if (r == -EOPNOTSUPP && q->f.decrypt && kmip_last_failure(c) == KMIP_FAILURE_NONE)
		return decrypt_result(c, t, r, NULL, 0, secret, len);	/* GCM before 1.4 */
	if (r < 0)
		return server_refusal(c, r, t->uid, "reading the State of");
	r = check_attrs(t, &q->f.attrs);
	if (r < 0)
		return r;
	if (t->kind == KMIP_KIND_ENVELOPE) {
		r = decrypt_result(c, t, q->f.fetch_err, q->f.out, q->f.out_len, secret, len);
		q->f.out = NULL;
		return r;
	}
	r = get_result(c, t, q->kek_file, q->f.fetch_err, &q->f.obj, secret, len);
	if (r == 0 && is_volume_key)
		*is_volume_key = t->kind == KMIP_KIND_VOLUME_KEY;
	return r;
}

void luks_fetch_clear(struct luks_fetch *q)
{
	kmip_object_clear(&q->f.obj);
	secmem_free(q->f.out);
	q->f.out = NULL;
	secmem_free((void *)q->wrap.kek);
	q->wrap.kek = NULL;
	explicit_bzero(&q->p, sizeof(q->p));
}

int luks_fetch_secret(struct kmip_client *c, const struct kmip_token *t,
		      const char *kek_file, uint8_t **secret, size_t *len, bool *is_volume_key)
{
	struct luks_fetch q;
	int r;

	*secret = NULL;
	*len = 0;
	if (is_volume_key)
		*is_volume_key = false;
	if (!c || !t)
		return -EINVAL;
	r = luks_fetch_prepare(t, kek_file, &q);
	if (r < 0)
		goto out;
	/* What the server spoke at enroll: no version negotiation while it still does. */
	kmip_client_assume_version(c, t->protocol);
	/* The State and the secret in one request; a secret of a key not Active is wiped. */
	r = kmip_fetch(c, &q.f);
	r = luks_fetch_finish(c, &q, r, secret, len, is_volume_key);
out:
	luks_fetch_clear(&q);
	return r;
}
