/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reencrypt: a new volume key, the data re-encrypted by libcryptsetup's
 * LUKS2 reencryption, every keyslot kept and every kmip token re-bound.
 * The steps, the record and how unlock copes meanwhile: reencrypt.h.
 *
 * Facts of libcryptsetup (2.6) this rests on, checked on image files:
 *   - while a reencryption is in the header it refuses every token and
 *     keyslot change ("Operation incompatible with device marked for LUKS2
 *     reencryption"): so everything of ours in the header is done before
 *     the init, or after the data pass;
 *   - at the end of the data pass it removes the keyslots of the old
 *     volume key (and unassigns them from their tokens) itself;
 *   - in between it opens the volume only with one passphrase that opens a
 *     keyslot of each volume key, found by trying them all (CRYPT_ANY_SLOT;
 *     a keyslot number fails), hence the twin keyslots under one
 *     passphrase, and crypt_volume_key_get() of one keyslot still works;
 *   - a progress callback that returns non-zero stops the data pass at a
 *     safe point (crypt_reencrypt_run() returns 0; the header says where).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <libcryptsetup.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "luks/reencrypt.h"
#include "luks/steps.h"
#include "conf/config.h"
#include "dm/dm.h"
#include "util/clock.h"
#include "util/escape.h"
#include "util/hex.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/secmem.h"

#define SLOTS		32	/* LUKS2 keyslots and tokens */
#define MAC_LEN		32	/* HMAC-SHA256 */
#define SUFFIX_HEX	8	/* random hex digits of a new object's Name */
#define CANON_MAX	(64 * 1024)
#define KEY_MAX		256	/* bytes of a keyslot's key we read back */
#define ASK_TRIES	3
#define RECORD_JSON_MAX	KMIP_TOKEN_JSON_MAX

/* luks_step.when: a volume-key token is re-bound (the KMS steps). */
#define VK_TOKENS	(1u << 1)

/* ---------------------------------------------------------- the record */

struct rec_token {
	int token;
	int keyslot;			/* passphrase, envelope: the keyslot before; -1 volume-key */
	char uid[KMIP_UID_SIZE];	/* volume-key: the object before */
	char name[KMIP_TEXT_SIZE];	/* volume-key: the new object's Name */
	char new_uid[KMIP_UID_SIZE];	/* volume-key: the new object, "" until registered */
};

struct record {
	size_t n_pairs;
	int pairs[SLOTS][2];		/* [old keyslot, its new twin] */
	int ko, kn;			/* the volume-key pair, -1 none */
	size_t n_tokens;
	struct rec_token tokens[SLOTS];
	uint8_t mac[MAC_LEN];		/* keyed by the new volume key (after the data pass) */
	uint8_t mac_old[MAC_LEN];	/* keyed by the old one (taking back before the init) */
};

/* ---------------------------------------------------------- one run */

struct ktok {				/* a kmip token of the volume */
	int id;
	struct kmip_token t;		/* as in the header now */
	char *json;			/* its JSON before this run switched it (undo), malloc'd */
	bool switched;			/* this run (or the one taken back) switched it */
	uint8_t *secret;		/* its secret from the KMS (volume-key: the key), locked */
	size_t len;
	char kek_buf[4096];
	const char *kek_file;
	int new_slot;			/* passphrase, envelope: the keyslot it moves to, -1 */
	char name[KMIP_TEXT_SIZE];	/* volume-key: the new object's Name */
	char group[KMIP_TEXT_SIZE];	/* volume-key: its Object Group */
	char new_uid[KMIP_UID_SIZE];	/* volume-key: the new object */
};

struct pair {
	int old, new;
	char *pass;			/* the passphrase both open with, locked memory */
	size_t len;
	bool kmip;			/* a kmip token's keyslot (PBKDF2 as enroll's) */
	bool made;			/* the new keyslot exists (this run, or one taken back) */
};

struct reenc {
	const char *device;
	struct config *cfg;
	const struct reencrypt_opts *o;
	struct reencrypt_result *res;
	struct crypt_device *cd;
	char uuid[KMIP_VOLUME_UUID_SIZE];
	struct {
		char group[CONFIG_NAME_MAX];
		struct kmip_session *s;
		int err;
	} ss[CONFIG_GROUPS_MAX];
	size_t n_ss;
	size_t n_tok;
	struct ktok tok[SLOTS];
	size_t n_pairs;
	struct pair pairs[SLOTS];
	int ko, kn;			/* the volume-key pair, -1 none */
	bool ko_made, kn_made;
	char *pv;			/* its passphrase (luks_reencrypt_vk_passphrase), locked */
	size_t pv_len;
	uint8_t *old_vk, *new_vk;	/* locked */
	size_t vk_len;
	int rid;			/* the record token, -1 none */
	struct record rec;
	bool vk_tokens;			/* a volume-key token is re-bound */
	char mapping[DMAP_NAME_MAX];	/* online: the open mapping */
	/* the data pass */
	bool data_started;
	uint64_t start, size;
	int64_t t0, last;
	bool hook_fired;
	bool hook_stop;			/* the test hook stopped it */
};

static const char *const later_steps[] = { "data", "complete", "revoke", "unmark", NULL };

static int random_bytes(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		return log_error_errno(-EIO, "the random number generator failed");
	return 0;
}

static bool bound(crypt_keyslot_info ki)
{
	return ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST;
}

/* "N" or "N1,N2" of the record's members: a keyslot or token number, "0".."31". */
static int slot_of(json_object *v, int *out)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	n = strlen(s);
	if (n < 1 || n > 2 || s[0] < '0' || s[0] > '9' || (n == 2 && (s[0] == '0' || s[1] < '0' ||
								    s[1] > '9')))
		return -EINVAL;
	*out = n == 1 ? s[0] - '0' : (s[0] - '0') * 10 + s[1] - '0';
	return *out < SLOTS ? 0 : -EINVAL;
}

static bool printable_ascii(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return i >= 1 && i <= max;
}

/* ------------------------------------------------ the record: MAC, JSON */

/* "<length>:<text>\n": the lengths make the text unambiguous. */
static int canon_add(char *buf, size_t *n, const char *s)
{
	int k = snprintf(buf + *n, CANON_MAX - *n, "%zu:%s\n", strlen(s), s);

	if (k < 0 || (size_t)k >= CANON_MAX - *n)
		return -E2BIG;
	*n += (size_t)k;
	return 0;
}

/*
 * HMAC-SHA256 keyed by vk of every member but the MAC, in a text where
 * each value carries its length (no two records give one text).
 */
static int rec_mac(const struct record *x, const char *uuid, const uint8_t *vk, size_t vk_len,
		   uint8_t mac[MAC_LEN])
{
	char *buf = malloc(CANON_MAX), num[48];
	unsigned len = 0;
	size_t n = 0, i;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	r = canon_add(buf, &n, "kmipcrypt-reencrypt:1");
	if (r == 0)
		r = canon_add(buf, &n, uuid);
	for (i = 0; r == 0 && i < x->n_pairs; i++) {
		snprintf(num, sizeof(num), "pair %d %d", x->pairs[i][0], x->pairs[i][1]);
		r = canon_add(buf, &n, num);
	}
	snprintf(num, sizeof(num), "vk %d %d", x->ko, x->kn);
	if (r == 0)
		r = canon_add(buf, &n, num);
	for (i = 0; r == 0 && i < x->n_tokens; i++) {
		const struct rec_token *t = &x->tokens[i];

		snprintf(num, sizeof(num), "token %d %d", t->token, t->keyslot);
		r = canon_add(buf, &n, num);
		if (r == 0)
			r = canon_add(buf, &n, t->uid);
		if (r == 0)
			r = canon_add(buf, &n, t->name);
		if (r == 0)
			r = canon_add(buf, &n, t->new_uid);
	}
	if (r == 0 && (!HMAC(EVP_sha256(), vk, (int)vk_len, (const uint8_t *)buf, n, mac, &len) ||
		       len != MAC_LEN))
		r = -EIO;
	free(buf);
	return r;
}

/* Does want (x->mac or x->mac_old) verify with vk? */
static bool rec_mac_ok(const struct record *x, const uint8_t *want, const char *uuid,
		       const uint8_t *vk, size_t vk_len)
{
	uint8_t mac[MAC_LEN];
	bool ok = rec_mac(x, uuid, vk, vk_len, mac) == 0 && CRYPTO_memcmp(mac, want, MAC_LEN) == 0;

	explicit_bzero(mac, sizeof(mac));
	return ok;
}

static json_object *jnum(int v)
{
	char b[12];

	snprintf(b, sizeof(b), "%d", v);
	return json_object_new_string(b);
}

static int rec_format(const struct record *x, char **out)
{
	json_object *o = json_object_new_object(), *a, *p, *t;
	char mac[BASE64_ENCODED_SIZE(MAC_LEN)];
	const char *s;
	size_t i;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "type", json_object_new_string(LUKS_REENCRYPT_TOKEN_TYPE));
	json_object_object_add(o, "keyslots", json_object_new_array());
	json_object_object_add(o, "kmip_version", json_object_new_int(LUKS_REENCRYPT_VERSION));
	a = json_object_new_array();
	for (i = 0; i < x->n_pairs; i++) {
		p = json_object_new_array();
		json_object_array_add(p, jnum(x->pairs[i][0]));
		json_object_array_add(p, jnum(x->pairs[i][1]));
		json_object_array_add(a, p);
	}
	json_object_object_add(o, "pairs", a);
	if (x->ko >= 0) {
		json_object_object_add(o, "ko", jnum(x->ko));
		json_object_object_add(o, "kn", jnum(x->kn));
	}
	a = json_object_new_array();
	for (i = 0; i < x->n_tokens; i++) {
		const struct rec_token *r = &x->tokens[i];

		t = json_object_new_object();
		json_object_object_add(t, "token", jnum(r->token));
		if (r->keyslot >= 0) {
			json_object_object_add(t, "keyslot", jnum(r->keyslot));
		} else {
			json_object_object_add(t, "uid", json_object_new_string(r->uid));
			json_object_object_add(t, "name", json_object_new_string(r->name));
			if (r->new_uid[0])
				json_object_object_add(t, "new_uid", json_object_new_string(r->new_uid));
		}
		json_object_array_add(a, t);
	}
	json_object_object_add(o, "tokens", a);
	base64_encode(x->mac, MAC_LEN, mac);
	json_object_object_add(o, "mac", json_object_new_string(mac));
	base64_encode(x->mac_old, MAC_LEN, mac);
	json_object_object_add(o, "mac_old", json_object_new_string(mac));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	*out = s ? strdup(s) : NULL;
	json_object_put(o);
	return *out ? 0 : -ENOMEM;
}

/* One entry of "tokens". */
static int rec_parse_token(json_object *v, struct rec_token *t)
{
	bool has_token = false;

	if (!json_object_is_type(v, json_type_object))
		return -EINVAL;
	t->keyslot = -1;
	json_object_object_foreach(v, key, val) {
		const char *s = json_object_is_type(val, json_type_string) ?
				json_object_get_string(val) : NULL;

		if (!strcmp(key, "token")) {
			if (slot_of(val, &t->token) < 0)
				return -EINVAL;
			has_token = true;
		} else if (!strcmp(key, "keyslot")) {
			if (slot_of(val, &t->keyslot) < 0)
				return -EINVAL;
		} else if (!strcmp(key, "uid") && s && printable_ascii(s, KMIP_UID_MAX)) {
			snprintf(t->uid, sizeof(t->uid), "%s", s);
		} else if (!strcmp(key, "new_uid") && s && printable_ascii(s, KMIP_UID_MAX)) {
			snprintf(t->new_uid, sizeof(t->new_uid), "%s", s);
		} else if (!strcmp(key, "name") && s && strlen(s) <= KMIP_TEXT_MAX && s[0] &&
			   text_is_printable(s)) {
			snprintf(t->name, sizeof(t->name), "%s", s);
		} else {
			return -EINVAL;
		}
	}
	/* passphrase, envelope: the keyslot alone; volume-key: uid and name (new_uid later). */
	if (!has_token || (t->keyslot >= 0) == (t->uid[0] != 0) || (t->uid[0] && !t->name[0]) ||
	    (t->keyslot >= 0 && (t->name[0] || t->new_uid[0])))
		return -EINVAL;
	return 0;
}

/* No keyslot named twice by the record. */
static bool rec_distinct(const struct record *x)
{
	uint32_t seen = 0;
	size_t i, j;

	for (i = 0; i < x->n_pairs; i++)
		for (j = 0; j < 2; j++) {
			if (seen & (1u << x->pairs[i][j]))
				return false;
			seen |= 1u << x->pairs[i][j];
		}
	if (x->ko >= 0 && ((seen & (1u << x->ko)) || (seen & (1u << x->kn)) || x->ko == x->kn))
		return false;
	return true;
}

static int rec_parse(const char *json, const char *where, struct record *x)
{
	json_tokener *tok = json_tokener_new_ex(5);
	json_object *root = NULL, *e;
	unsigned have = 0;
	size_t n = strnlen(json, RECORD_JSON_MAX + 1), i;
	const char *why = "malformed", *member = "";
	int r = -EINVAL;

	memset(x, 0, sizeof(*x));
	x->ko = x->kn = -1;
	if (!tok || n > RECORD_JSON_MAX)
		goto out;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, json, (int)n);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n || !json_object_is_type(root, json_type_object))
		goto out;
	json_object_object_foreach(root, key, val) {
		why = "a member of the wrong type or value: ";
		member = key;
		if (!strcmp(key, "type")) {
			if (!json_object_is_type(val, json_type_string) ||
			    strcmp(json_object_get_string(val), LUKS_REENCRYPT_TOKEN_TYPE))
				goto out;
			have |= 1;
		} else if (!strcmp(key, "keyslots")) {
			if (!json_object_is_type(val, json_type_array) ||
			    json_object_array_length(val) != 0)
				goto out;
			have |= 2;
		} else if (!strcmp(key, "kmip_version")) {
			if (!json_object_is_type(val, json_type_int) ||
			    json_object_get_int64(val) != LUKS_REENCRYPT_VERSION)
				goto out;
			have |= 4;
		} else if (!strcmp(key, "pairs")) {
			if (!json_object_is_type(val, json_type_array) ||
			    json_object_array_length(val) > SLOTS)
				goto out;
			x->n_pairs = json_object_array_length(val);
			for (i = 0; i < x->n_pairs; i++) {
				e = json_object_array_get_idx(val, i);
				if (!json_object_is_type(e, json_type_array) ||
				    json_object_array_length(e) != 2 ||
				    slot_of(json_object_array_get_idx(e, 0), &x->pairs[i][0]) < 0 ||
				    slot_of(json_object_array_get_idx(e, 1), &x->pairs[i][1]) < 0)
					goto out;
			}
			have |= 8;
		} else if (!strcmp(key, "ko")) {
			if (slot_of(val, &x->ko) < 0)
				goto out;
		} else if (!strcmp(key, "kn")) {
			if (slot_of(val, &x->kn) < 0)
				goto out;
		} else if (!strcmp(key, "tokens")) {
			if (!json_object_is_type(val, json_type_array) ||
			    json_object_array_length(val) > SLOTS)
				goto out;
			x->n_tokens = json_object_array_length(val);
			for (i = 0; i < x->n_tokens; i++)
				if (rec_parse_token(json_object_array_get_idx(val, i), &x->tokens[i]) < 0)
					goto out;
			have |= 16;
		} else if (!strcmp(key, "mac") || !strcmp(key, "mac_old")) {
			const char *s = json_object_is_type(val, json_type_string) ?
					json_object_get_string(val) : "";
			bool old = key[3] != '\0';

			if (base64_decode(s, strlen(s), old ? x->mac_old : x->mac, MAC_LEN) != MAC_LEN)
				goto out;
			have |= old ? 64 : 32;
		} else {
			why = "an unknown member: ";
			goto out;
		}
	}
	member = "";
	why = "a missing member, or ko without kn";
	if (have != 127 || (x->ko < 0) != (x->kn < 0))
		goto out;
	why = "a keyslot named twice";
	if (!rec_distinct(x))
		goto out;
	r = 0;
out:
	if (r < 0) {
		char e1[TEXT_ESCAPED_SIZE(64)];

		log_error("%s: invalid %s token (%s%s); kmipcrypt did not write it as it is: look at "
			  "it ('cryptsetup token export'), and remove it ('cryptsetup token remove') "
			  "only once you know what it was", where, LUKS_REENCRYPT_TOKEN_TYPE, why,
			  text_escape(member, e1, sizeof(e1)));
		memset(x, 0, sizeof(*x));
		x->ko = x->kn = -1;
	}
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return r;
}

/* Write e->rec, its MACs keyed by the new and the old volume key, into the record token. */
static int rec_write(struct reenc *e)
{
	char *json = NULL;
	int r;

	r = rec_mac(&e->rec, e->uuid, e->new_vk, e->vk_len, e->rec.mac);
	if (r == 0)
		r = rec_mac(&e->rec, e->uuid, e->old_vk, e->vk_len, e->rec.mac_old);
	if (r == 0)
		r = rec_format(&e->rec, &json);
	if (r < 0)
		return log_error_errno(r, "%s: cannot make the reencryption record", e->device);
	r = crypt_token_json_set(e->cd, e->rid >= 0 ? e->rid : CRYPT_ANY_TOKEN, json);
	free(json);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "writing the reencryption record token");
	e->rid = r;
	return 0;
}

static int rec_remove(struct reenc *e)
{
	int r = crypt_token_json_set(e->cd, e->rid, NULL);

	if (r < 0)
		return luks_crypt_fail(r, e->device, "removing the reencryption record token");
	log_info("%s: reencryption record (token %d) removed", e->device, e->rid);
	e->rid = -1;
	return 0;
}

/* The record token, if any: e->rid and e->rec.  Two: refused. */
static int rec_read(struct reenc *e)
{
	int ids[2], n = luks_tokens_of_type(e->cd, LUKS_REENCRYPT_TOKEN_TYPE, ids, 2);
	const char *json = NULL;
	char where[512];

	e->rid = -1;
	if (n == 0)
		return 0;
	if (n > 1)
		return log_error_errno(-EINVAL, "%s: tokens %d and %d are both %s records; kmipcrypt "
				       "writes one: look at them ('cryptsetup token export') before "
				       "anything else", e->device, ids[0], ids[1],
				       LUKS_REENCRYPT_TOKEN_TYPE);
	snprintf(where, sizeof(where), "%s token %d", e->device, ids[0]);
	if (crypt_token_json_get(e->cd, ids[0], &json) < 0 || !json)
		return log_error_errno(-ELUKS, "%s: cannot read the token", where);
	if (rec_parse(json, where, &e->rec) < 0)
		return -ELUKS;
	e->rid = ids[0];
	return 0;
}

/* ------------------------------------------------------- for unlock */

bool luks_reencrypt_pending(struct crypt_device *cd)
{
	int id;

	if (crypt_reencrypt_status(cd, NULL) != CRYPT_REENCRYPT_NONE)
		return true;
	return luks_tokens_of_type(cd, LUKS_REENCRYPT_TOKEN_TYPE, &id, 1) > 0;
}

int luks_reencrypt_refuse(struct crypt_device *cd, const char *device, const char *verb)
{
	if (!luks_reencrypt_pending(cd))
		return 0;
	return log_error_errno(-EBUSY, "%s: a reencryption is under way or was interrupted: "
			       "finish it first ('kmipcrypt reencrypt --resume %s'), then %s",
			       device, device, verb);
}

int luks_reencrypt_vk_passphrase(const uint8_t *vk, size_t len, const char *uuid, char **pass,
				 size_t *pass_len)
{
	char msg[96];
	uint8_t mac[MAC_LEN];
	unsigned n = 0;
	int r;

	*pass = NULL;
	*pass_len = 0;
	if (!vk || !len || len > INT32_MAX || !uuid || !uuid[0] ||
	    snprintf(msg, sizeof(msg), "kmipcrypt-reencrypt:1:%s", uuid) >= (int)sizeof(msg))
		return -EINVAL;
	if (!HMAC(EVP_sha256(), vk, (int)len, (const uint8_t *)msg, strlen(msg), mac, &n) ||
	    n != MAC_LEN)
		return -EIO;
	r = luks_secret_passphrase(mac, MAC_LEN, pass, pass_len);
	explicit_bzero(mac, sizeof(mac));
	return r;
}

/* The key of keyslot opened with pass: 0 (into key[KEY_MAX], *len), or libcryptsetup's error. */
static int keyslot_key(struct crypt_device *cd, int keyslot, const char *pass, size_t pass_len,
		       uint8_t *key, size_t *len)
{
	*len = KEY_MAX;
	return crypt_volume_key_get(cd, keyslot, (char *)key, len, pass, pass_len);
}

int luks_reencrypt_open(struct crypt_device *cd, int keyslot, const char *pass, size_t pass_len,
			const char *name, uint32_t flags, bool resume)
{
	uint8_t *key;
	size_t len;
	int r;

	if (keyslot >= 0) {
		key = secmem_alloc(KEY_MAX);
		if (!key)
			return -ENOMEM;
		r = keyslot_key(cd, keyslot, pass, pass_len, key, &len);
		secmem_free(key);
		if (r < 0)
			return r;
	}
	if (name && resume)
		return crypt_resume_by_passphrase(cd, name, CRYPT_ANY_SLOT, pass, pass_len);
	return crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, pass, pass_len,
					    name ? flags : 0);
}

int luks_reencrypt_open_vk(struct crypt_device *cd, const uint8_t *key, size_t len,
			   const char *name, uint32_t flags, bool resume)
{
	char *pass = NULL;
	size_t pass_len = 0;
	int r;

	/* Not while the data is half done: one key cannot open both halves. */
	if (crypt_reencrypt_status(cd, NULL) == CRYPT_REENCRYPT_NONE) {
		if (name && resume)
			r = crypt_resume_by_volume_key(cd, name, (const char *)key, len);
		else
			r = crypt_activate_by_volume_key(cd, name, (const char *)key, len,
							 name ? flags : 0);
		if (r != -EPERM)
			return r;
	}
	r = luks_reencrypt_vk_passphrase(key, len, crypt_get_uuid(cd), &pass, &pass_len);
	if (r == 0)
		r = luks_reencrypt_open(cd, -1, pass, pass_len, name, flags, resume);
	secmem_free(pass);
	return r;
}

/* ------------------------------------------------------- KMS and tokens */

/* The session of a server group, opened on first use; NULL with *err. */
static struct kmip_client *client_of(struct reenc *e, const char *group, int *err)
{
	size_t i;

	for (i = 0; i < e->n_ss && strcmp(e->ss[i].group, group); i++)
		;
	if (i == e->n_ss) {
		if (e->n_ss == CONFIG_GROUPS_MAX) {
			*err = -E2BIG;
			return NULL;
		}
		snprintf(e->ss[i].group, sizeof(e->ss[i].group), "%s", group);
		e->ss[i].err = conf_session_open(e->cfg, group, 0, &e->ss[i].s);
		e->n_ss++;
	}
	*err = e->ss[i].err;
	return *err ? NULL : kmip_session_client(e->ss[i].s);
}

/* Token k's secret, fetched as unlock fetches it (the key's State first), into k->secret. */
static int fetch(struct reenc *e, struct ktok *k)
{
	struct kmip_client *c;
	bool is_vk = false;
	int r;

	secmem_free(k->secret);
	k->secret = NULL;
	k->len = 0;
	r = luks_token_kek_file(e->cfg, e->device, k->id, &k->t, e->o->kek_file, k->kek_buf,
				sizeof(k->kek_buf), &k->kek_file);
	if (r < 0)
		return r;
	c = client_of(e, k->t.group, &r);
	if (c)
		r = luks_fetch_secret(c, &k->t, k->kek_file, &k->secret, &k->len, &is_vk);
	if (r < 0)
		log_error("%s token %d: the secret of key '%s' cannot be had from the server(s) of "
			  "group [%s] now", e->device, k->id, k->t.uid, k->t.group);
	return r;
}

/* The keyslot passphrase of token k's secret (passphrase, envelope), locked memory. */
static int token_pass(const struct ktok *k, char **pass, size_t *len)
{
	return luks_secret_passphrase(k->secret, k->len, pass, len);
}

/* Every kmip token of the volume into e->tok, as it is now (an invalid one: refused). */
static int tokens_load(struct reenc *e)
{
	int ids[SLOTS], n = luks_kmip_tokens(e->cd, ids, SLOTS), i, r;
	const char *json;

	for (i = 0; i < n; i++) {
		struct ktok *k = &e->tok[e->n_tok];

		k->id = ids[i];
		k->new_slot = -1;
		r = luks_token_read(e->cd, e->device, ids[i], &k->t);
		if (r < 0)
			return log_error_errno(-ELUKS, "%s: kmip token %d is invalid (see above): "
					       "reencrypt would not know how to keep it; remove it "
					       "('kmipcrypt unbind --token %d %s') or repair it first",
					       e->device, ids[i], ids[i], e->device);
		if (crypt_token_json_get(e->cd, ids[i], &json) < 0 || !json ||
		    !(k->json = strdup(json)))
			return -ENOMEM;
		e->n_tok++;
	}
	return 0;
}

/* Forget the tokens (and their secrets) as read: the header changed since. */
static void tokens_forget(struct reenc *e)
{
	size_t i;

	for (i = 0; i < e->n_tok; i++) {
		free(e->tok[i].json);
		secmem_free(e->tok[i].secret);
	}
	explicit_bzero(e->tok, sizeof(e->tok));
	e->n_tok = 0;
}

/* Take an object off the KMS: revoked first if Active, then destroyed (gone: fine). */
static int remove_object(struct reenc *e, struct kmip_client *c, const char *uid)
{
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_CESSATION_OF_OPERATION,
				  .message = "kmipcrypt reencrypt did not finish; taken back" };
	char why[KMIP_FAILURE_TEXT_SIZE];
	struct kmip_attrs a;
	int r;

	memset(&a, 0, sizeof(a));
	r = kmip_get_attributes(c, uid, KMIP_ATTR_STATE, &a);
	if (r == -ENOENT)
		return 0;
	if (r == 0 && (a.present & KMIP_ATTR_STATE) && a.state == KMIP_STATE_ACTIVE)
		r = kmip_revoke(c, uid, &rv);
	if (r == 0)
		r = kmip_destroy(c, uid);
	if (r < 0 && r != -ENOENT) {
		log_error("%s: could NOT take back the new key: %s; remove it with 'kmipcrypt key "
			  "destroy --revoke %s'", e->device, kmip_failure_text(c, r, why,
			  sizeof(why), "revoking and destroying key '%s'", uid), uid);
		return r;
	}
	log_warn("%s: undone: key '%s' revoked and destroyed on the KMS", e->device, uid);
	return 0;
}

/* ------------------------------------------------------------ prepare */

/* The kmip token k proven (as unlock proves it) and its secret kept; the old volume key. */
static int prove_token(struct reenc *e, struct ktok *k)
{
	struct luks_proof p = { 0 };
	uint8_t *key = NULL;
	char *pass = NULL;
	size_t pass_len = 0, len = 0;
	int r;

	r = fetch(e, k);
	if (r < 0)
		goto fail;
	if (k->t.kind == KMIP_KIND_ENVELOPE && k->len != KMIP_SECRET_BYTES) {
		r = log_error_errno(-EKEYMISMATCH, "%s token %d: the envelope holds %zu bytes, not the "
				    "%d of a kmipcrypt keyslot secret: enroll it anew", e->device,
				    k->id, k->len, KMIP_SECRET_BYTES);
		goto fail;
	}
	p.given = secmem_alloc(k->len);
	if (!p.given) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(p.given, k->secret, k->len);
	p.given_len = k->len;
	p.given_vk = k->t.kind == KMIP_KIND_VOLUME_KEY;
	r = luks_prove(e->cd, e->device, k->id, &k->t, NULL, k->kek_file, &p);
	if (r < 0)
		goto fail;
	/* The old volume key, as this binding gives it. */
	key = secmem_alloc(KEY_MAX);
	if (!key) {
		r = -ENOMEM;
		goto out;
	}
	if (k->t.kind == KMIP_KIND_VOLUME_KEY) {
		/* Proven: the volume key, of its size (luks_prove checks it). */
		len = k->len <= KEY_MAX ? k->len : KEY_MAX;
		memcpy(key, k->secret, len);
	} else {
		r = token_pass(k, &pass, &pass_len);
		if (r == 0)
			r = keyslot_key(e->cd, k->t.keyslot, pass, pass_len, key, &len);
		if (r < 0) {
			r = luks_crypt_fail(r, e->device, "reading the volume key");
			goto out;
		}
		r = 0;
	}
	if (!e->old_vk) {
		e->old_vk = secmem_alloc(len);
		if (!e->old_vk) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(e->old_vk, key, len);
		e->vk_len = len;
	} else if (len != e->vk_len || CRYPTO_memcmp(key, e->old_vk, len)) {
		r = log_error_errno(-ELUKS, "%s token %d: its binding gives another volume key than "
				    "the tokens before it", e->device, k->id);
	}
	goto out;
fail:
	log_error("%s: token %d (key '%s') does not unlock the volume now: reencrypt keeps every "
		  "binding, so it must prove each first ('kmipcrypt status %s' says more; remove a "
		  "binding you no longer want with 'kmipcrypt unbind --token %d')", e->device, k->id,
		  k->t.uid, e->device, k->id);
out:
	secmem_free(pass);
	secmem_free(key);
	return r;
}

/* The pair of keyslot old, or NULL. */
static struct pair *pair_of(struct reenc *e, int old)
{
	size_t i;

	for (i = 0; i < e->n_pairs; i++)
		if (e->pairs[i].old == old)
			return &e->pairs[i];
	return NULL;
}

/* "token 2 (systemd-tpm2), token 5 (fido2)": the other tokens that use keyslot. */
static void other_tokens(struct reenc *e, int keyslot, char *buf, size_t len)
{
	const char *type;
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < SLOTS; i++) {
		crypt_token_info ti = crypt_token_status(e->cd, i, &type);

		if (ti == CRYPT_TOKEN_INACTIVE || ti == CRYPT_TOKEN_INVALID ||
		    crypt_token_is_assigned(e->cd, i, keyslot) != 0 || n >= len)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%stoken %d (%s)", n ? ", " : "", i,
				      type ? type : "?");
	}
}

/* Does pass open keyslot, to the old volume key? */
static int opens_old(struct reenc *e, int keyslot, const char *pass, size_t len)
{
	uint8_t *key = secmem_alloc(KEY_MAX);
	size_t n = 0;
	int r;

	if (!key)
		return -ENOMEM;
	r = keyslot_key(e->cd, keyslot, pass, len, key, &n);
	if (r >= 0)
		r = n == e->vk_len && !CRYPTO_memcmp(key, e->old_vk, n) ? 1 : 0;
	else if (r == -EPERM)
		r = 0;
	secmem_free(key);
	return r;
}

static int pass_copy(const char *pass, size_t len, char **out, size_t *out_len)
{
	*out = secmem_alloc(len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, pass, len);
	*out_len = len;
	return 0;
}

/* The passphrase of keyslot (no kmip token's): one of those given, else asked. */
static int user_pass(struct reenc *e, int keyslot, struct pair *p)
{
	const struct reencrypt_opts *o = e->o;
	char tokens[256], *pass = NULL;
	size_t i, len = 0;
	int r, tries;

	for (i = 0; i < o->n_passphrases; i++) {
		r = opens_old(e, keyslot, o->passphrases[i], o->passphrase_lens[i]);
		if (r < 0)
			return luks_crypt_fail(r, e->device, "trying a passphrase");
		if (r == 1)
			return pass_copy(o->passphrases[i], o->passphrase_lens[i], &p->pass, &p->len);
	}
	other_tokens(e, keyslot, tokens, sizeof(tokens));
	for (tries = 0; o->ask && tries < ASK_TRIES; tries++) {
		r = o->ask(o->ask_ctx, e->device, keyslot, tokens, &pass, &len);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
		r = opens_old(e, keyslot, pass, len);
		if (r == 1) {
			p->pass = pass;
			p->len = len;
			return 0;
		}
		secmem_free(pass);
		pass = NULL;
		if (r < 0)
			return luks_crypt_fail(r, e->device, "trying the passphrase");
		log_error("%s: that passphrase does not open keyslot %d", e->device, keyslot);
	}
	return log_error_errno(-EINVAL, "%s: keyslot %d is no kmip token's%s%s%s: a new volume key "
			       "would lose it, and reencrypt keeps every keyslot.  Give its "
			       "passphrase (--key-file FILE, or on a terminal), or remove it first "
			       "('cryptsetup luksKillSlot %s %d') if it is no longer wanted",
			       e->device, keyslot, tokens[0] ? " (used by " : "", tokens,
			       tokens[0] ? ")" : "", e->device, keyslot);
}

/* The keyslots bound to the data: each kmip token's first, then the others (passphrases). */
static int plan_pairs(struct reenc *e)
{
	size_t i;
	int s, r;

	for (i = 0; i < e->n_tok; i++) {
		struct ktok *k = &e->tok[i];
		struct pair *p;

		if (k->t.kind == KMIP_KIND_VOLUME_KEY)
			continue;
		p = pair_of(e, k->t.keyslot);
		if (!p) {
			p = &e->pairs[e->n_pairs++];
			p->old = k->t.keyslot;
			p->new = -1;
			p->kmip = true;
			r = token_pass(k, &p->pass, &p->len);
			if (r < 0)
				return r;
		}
	}
	for (s = 0; s < SLOTS; s++) {
		if (!bound(crypt_keyslot_status(e->cd, s)) || pair_of(e, s))
			continue;
		struct pair *p = &e->pairs[e->n_pairs++];

		p->old = s;
		p->new = -1;
		r = user_pass(e, s, p);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Numbers for the new keyslots, and one more free for libcryptsetup's own. */
static int plan_slots(struct reenc *e)
{
	int free_slots[SLOTS], n = 0, s, need, k = 0;
	size_t i;

	for (s = 0; s < SLOTS; s++)
		if (crypt_keyslot_status(e->cd, s) == CRYPT_SLOT_INACTIVE)
			free_slots[n++] = s;
	need = (int)e->n_pairs + (e->vk_tokens ? 2 : 0) + 1;
	if (n < need)
		return log_error_errno(-ELUKS, "%s: reencrypt needs %d free keyslots (a new one for each "
				       "of the %zu kept, %sone for the reencryption itself), the volume "
				       "has %d", e->device, need, e->n_pairs,
				       e->vk_tokens ? "two for the volume-key tokens, " : "", n);
	for (i = 0; i < e->n_pairs; i++)
		e->pairs[i].new = free_slots[k++];
	e->ko = e->kn = -1;
	if (e->vk_tokens) {
		e->kn = free_slots[k++];
		e->ko = free_slots[k++];
	}
	return 0;
}

/* The Name of a volume-key token's new object: "kmipcrypt-<UUID>-volume-key-r<8 hex>". */
static int plan_object(struct reenc *e, struct ktok *k)
{
	uint8_t rnd[SUFFIX_HEX / 2];
	int r = random_bytes(rnd, sizeof(rnd));

	if (r < 0)
		return r;
	snprintf(k->name, sizeof(k->name), "kmipcrypt-%s-volume-key-r%02x%02x%02x%02x", e->uuid,
		 rnd[0], rnd[1], rnd[2], rnd[3]);
	if (!text_is_printable(k->name))
		return log_error_errno(-EINVAL, "%s: the LUKS2 UUID holds control characters or "
				       "invalid UTF-8: no KMIP Name can be made from it", e->device);
	if (k->t.object_group[0]) {
		snprintf(k->group, sizeof(k->group), "%s", k->t.object_group);
		return 0;
	}
	return luks_host_object_group(e->cfg, k->t.group, k->group, sizeof(k->group));
}

/* The record of what this run makes, before it makes any of it. */
static void plan_record(struct reenc *e)
{
	struct record *x = &e->rec;
	size_t i;

	memset(x, 0, sizeof(*x));
	for (i = 0; i < e->n_pairs; i++) {
		x->pairs[i][0] = e->pairs[i].old;
		x->pairs[i][1] = e->pairs[i].new;
	}
	x->n_pairs = e->n_pairs;
	x->ko = e->ko;
	x->kn = e->kn;
	for (i = 0; i < e->n_tok; i++) {
		const struct ktok *k = &e->tok[i];
		struct rec_token *t = &x->tokens[x->n_tokens++];

		t->token = k->id;
		t->keyslot = k->t.kind == KMIP_KIND_VOLUME_KEY ? -1 : k->t.keyslot;
		if (k->t.kind == KMIP_KIND_VOLUME_KEY) {
			snprintf(t->uid, sizeof(t->uid), "%s", k->t.uid);
			snprintf(t->name, sizeof(t->name), "%s", k->name);
		}
	}
}

/* Can libcryptsetup reencrypt this volume (as cryptsetup checks before it tries)? */
static int check_eligible(struct reenc *e)
{
	struct crypt_params_integrity ip = { 0 };
	uint32_t flags = 0;

	if (crypt_persistent_flags_get(e->cd, CRYPT_FLAGS_REQUIREMENTS, &flags) < 0)
		return luks_crypt_fail(-EINVAL, e->device, "reading the header's requirements");
	if (flags & CRYPT_REQUIREMENT_OFFLINE_REENCRYPT)
		return log_error_errno(-ELUKS, "%s: the header carries a legacy (cryptsetup 2.1) "
				       "offline reencryption, which libcryptsetup no longer does",
				       e->device);
	if (crypt_get_integrity_info(e->cd, &ip) == 0 && ip.tag_size)
		return log_error_errno(-ELUKS, "%s: a volume with an integrity profile cannot be "
				       "reencrypted", e->device);
	if (!crypt_get_cipher(e->cd) || !crypt_get_cipher_mode(e->cd))
		return log_error_errno(-ELUKS, "%s: the header names no known cipher", e->device);
	return 0;
}

/* Offline, or through the mapping of this volume that is open. */
static int find_mapping(struct reenc *e)
{
	struct dmap_mapping m;

	e->mapping[0] = '\0';
	if (!luks_dm_available() || dmap_find_luks(e->uuid, &m) < 0)
		return 0;
	if (m.state != DMAP_ACTIVE)
		return log_error_errno(-EBUSY, "%s: its mapping %s is %s (locked): unlock it first "
				       "('kmipcrypt unlock %s %s')", e->device, m.name,
				       dmap_state_name(m.state), e->device, m.name);
	snprintf(e->mapping, sizeof(e->mapping), "%s", m.name);
	log_info("%s: open as %s: the data is re-encrypted online, through the mapping", e->device,
		 e->mapping);
	return 0;
}

static int prepare(void *ctx)
{
	struct reenc *e = ctx;
	size_t i;
	int r;

	r = check_eligible(e);
	if (r == 0)
		r = tokens_load(e);
	if (r == 0 && e->n_tok == 0)
		r = log_error_errno(-EINVAL, "%s: no kmip token: this is cryptsetup's job "
				    "('cryptsetup reencrypt %s')", e->device, e->device);
	for (i = 0; r == 0 && i < e->n_tok; i++) {
		r = prove_token(e, &e->tok[i]);
		if (e->tok[i].t.kind == KMIP_KIND_VOLUME_KEY)
			e->vk_tokens = true;
	}
	if (r == 0)
		r = plan_pairs(e);
	if (r == 0)
		r = plan_slots(e);
	for (i = 0; r == 0 && i < e->n_tok; i++)
		if (e->tok[i].t.kind == KMIP_KIND_VOLUME_KEY)
			r = plan_object(e, &e->tok[i]);
	if (r == 0)
		r = find_mapping(e);
	if (r < 0)
		return r;
	/* The new volume key: ours, in locked memory, the size of the old one. */
	e->new_vk = secmem_alloc(e->vk_len);
	if (!e->new_vk)
		return -ENOMEM;
	r = random_bytes(e->new_vk, e->vk_len);
	if (r == 0 && e->vk_tokens)
		r = luks_reencrypt_vk_passphrase(e->new_vk, e->vk_len, e->uuid, &e->pv, &e->pv_len);
	if (r < 0)
		return r;
	plan_record(e);
	log_info("%s: %zu kmip token(s) proven, %zu keyslot(s) to keep; re-encrypting %s with a "
		 "new volume key of %zu bits", e->device, e->n_tok, e->n_pairs,
		 e->mapping[0] ? "online" : "offline", e->vk_len * 8);
	return 0;
}

/* ------------------------------------------------------------ mark */

static int step_mark(void *ctx)
{
	struct reenc *e = ctx;
	int r = rec_write(e);

	if (r == 0)
		log_info("%s: reencryption record written (token %d)", e->device, e->rid);
	return r;
}

static bool undo_mark(void *ctx)
{
	struct reenc *e = ctx;

	if (e->rid < 0)
		return true;
	if (rec_remove(e) < 0) {
		log_error("%s: could NOT remove the reencryption record; remove it with 'cryptsetup "
			  "token remove --token-id %d %s'", e->device, e->rid, e->device);
		return false;
	}
	log_warn("%s: undone: the reencryption record removed", e->device);
	return true;
}

/* ------------------------------------------------------------ keyslots */

/* The PBKDF and keyslot cipher of the next keyslot: those of keyslot like (user), else enroll's. */
static int keyslot_params(struct reenc *e, int like, bool kmip)
{
	struct crypt_pbkdf_type pbkdf;
	const char *cipher;
	size_t key_size = 0;
	int r;

	if (like >= 0) {
		cipher = crypt_keyslot_get_encryption(e->cd, like, &key_size);
		if (cipher && crypt_keyslot_set_encryption(e->cd, cipher, key_size) < 0)
			return luks_crypt_fail(-EINVAL, e->device, "setting the keyslot cipher");
	}
	if (kmip || like < 0)
		return luks_keyslot_set_pbkdf(e->cd, e->device);
	r = crypt_keyslot_get_pbkdf(e->cd, like, &pbkdf);
	if (r == 0) {
		pbkdf.flags |= CRYPT_PBKDF_NO_BENCHMARK;
		r = crypt_set_pbkdf_type(e->cd, &pbkdf);
	}
	return r < 0 ? luks_crypt_fail(r, e->device, "setting the PBKDF of a new keyslot") : 0;
}

/* The keyslot for the new volume key under pass, unbound until the init. */
static int add_new_key(struct reenc *e, int slot, const char *pass, size_t len, bool *first)
{
	uint32_t flags = CRYPT_VOLUME_KEY_NO_SEGMENT | (*first ? 0 : CRYPT_VOLUME_KEY_DIGEST_REUSE);
	int r = crypt_keyslot_add_by_key(e->cd, slot, (const char *)e->new_vk, e->vk_len, pass,
					 len, flags);

	if (r < 0)
		return luks_crypt_fail(r, e->device, "adding a keyslot for the new volume key");
	*first = false;
	return 0;
}

/* The tokens other than kmip's that use keyslot old use its twin too (as cryptsetup does). */
static int assign_others(struct reenc *e, int old, int new)
{
	const char *type;
	int i, r;

	for (i = 0; i < SLOTS; i++) {
		crypt_token_info ti = crypt_token_status(e->cd, i, &type);

		if (ti == CRYPT_TOKEN_INACTIVE || ti == CRYPT_TOKEN_INVALID || !type ||
		    !strcmp(type, KMIP_TOKEN_TYPE) || crypt_token_is_assigned(e->cd, i, old) != 0)
			continue;
		r = crypt_token_assign_keyslot(e->cd, i, new);
		if (r < 0)
			return luks_crypt_fail(r, e->device, "assigning a token to a new keyslot");
		log_info("%s: token %d (%s) assigned to keyslot %d too", e->device, i, type, new);
	}
	return 0;
}

static bool undo_keyslots(void *ctx);

static int step_keyslots(void *ctx)
{
	struct reenc *e = ctx;
	bool first = true;
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < e->n_pairs; i++) {
		struct pair *p = &e->pairs[i];

		r = keyslot_params(e, p->old, p->kmip);
		if (r == 0)
			r = add_new_key(e, p->new, p->pass, p->len, &first);
		if (r == 0) {
			p->made = true;
			log_info("%s: keyslot %d added for the new volume key (the twin of keyslot %d)",
				 e->device, p->new, p->old);
			r = assign_others(e, p->old, p->new);
		}
	}
	if (r == 0 && e->kn >= 0) {
		r = keyslot_params(e, -1, true);
		if (r == 0)
			r = add_new_key(e, e->kn, e->pv, e->pv_len, &first);
		e->kn_made = r == 0;
		if (r == 0 && (r = crypt_keyslot_add_by_volume_key(e->cd, e->ko, (const char *)e->old_vk,
								   e->vk_len, e->pv, e->pv_len)) < 0)
			r = luks_crypt_fail(r, e->device, "adding a keyslot for the old volume key");
		e->ko_made = r >= 0 && e->kn_made;
		if (r >= 0) {
			r = 0;
			/* Tried first by unlock with the derived passphrase: no PBKDF of others. */
			crypt_keyslot_set_priority(e->cd, e->kn, CRYPT_SLOT_PRIORITY_PREFER);
			crypt_keyslot_set_priority(e->cd, e->ko, CRYPT_SLOT_PRIORITY_PREFER);
			log_info("%s: keyslots %d (new volume key) and %d (old) added for the "
				 "volume-key tokens", e->device, e->kn, e->ko);
		}
	}
	if (r < 0)
		undo_keyslots(e);	/* a step that fails leaves nothing behind */
	return r;
}

static bool destroy_slot(struct reenc *e, int slot)
{
	int r = crypt_keyslot_destroy(e->cd, slot);

	if (r < 0 && crypt_keyslot_status(e->cd, slot) != CRYPT_SLOT_INACTIVE) {
		log_error("%s: could NOT remove keyslot %d: %s; remove it with 'cryptsetup "
			  "luksKillSlot %s %d'", e->device, slot, strerror(-r), e->device, slot);
		return false;
	}
	log_warn("%s: undone: removed keyslot %d", e->device, slot);
	return true;
}

static bool undo_keyslots(void *ctx)
{
	struct reenc *e = ctx;
	bool clean = true;
	size_t i;

	if (e->ko_made)
		clean = destroy_slot(e, e->ko) && clean;
	if (e->kn_made)
		clean = destroy_slot(e, e->kn) && clean;
	e->ko_made = e->kn_made = false;
	for (i = e->n_pairs; i-- > 0;) {
		if (e->pairs[i].made)
			clean = destroy_slot(e, e->pairs[i].new) && clean;
		e->pairs[i].made = false;
	}
	return clean;
}

/* ------------------------------------------------- register, activate */

static bool undo_register(void *ctx);

/* The new volume key on the KMS for each volume-key token, Pre-Active; its uid recorded. */
static int step_register(void *ctx)
{
	struct reenc *e = ctx;
	struct kmip_client *c;
	size_t i, j;
	int r = 0;

	for (i = 0; r == 0 && i < e->n_tok; i++) {
		struct ktok *k = &e->tok[i];

		if (k->t.kind != KMIP_KIND_VOLUME_KEY)
			continue;
		c = client_of(e, k->t.group, &r);
		if (c)
			r = luks_enroll_register_vk(c, e->device, e->new_vk, e->vk_len, k->name,
						    k->group, k->t.wrap_uid[0] ? k->t.wrap_uid : NULL,
						    k->kek_file, k->new_uid);
		for (j = 0; k->new_uid[0] && j < e->rec.n_tokens; j++)
			if (e->rec.tokens[j].token == k->id)
				snprintf(e->rec.tokens[j].new_uid, KMIP_UID_SIZE, "%s", k->new_uid);
	}
	if (r == 0)
		r = rec_write(e);
	if (r < 0)
		undo_register(e);
	return r;
}

static bool undo_register(void *ctx)
{
	struct reenc *e = ctx;
	struct kmip_client *c;
	bool clean = true;
	size_t i;
	int r;

	for (i = e->n_tok; i-- > 0;) {
		struct ktok *k = &e->tok[i];

		if (!k->new_uid[0])
			continue;
		c = client_of(e, k->t.group, &r);
		if (!c || remove_object(e, c, k->new_uid) < 0)
			clean = false;
		else
			k->new_uid[0] = '\0';
	}
	return clean;
}

static int step_activate(void *ctx)
{
	struct reenc *e = ctx;
	char why[KMIP_FAILURE_TEXT_SIZE];
	struct kmip_client *c;
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < e->n_tok; i++) {
		struct ktok *k = &e->tok[i];

		if (k->t.kind != KMIP_KIND_VOLUME_KEY)
			continue;
		c = client_of(e, k->t.group, &r);
		if (c && (r = kmip_activate(c, k->new_uid)) < 0)
			log_error("%s: %s", e->device, kmip_failure_text(c, r, why, sizeof(why),
				  "activating key '%s'", k->new_uid));
	}
	return r;
}

/* ------------------------------------------------------------ tokens */

/*
 * The token nt (token k switched) proven before it is written: its secret,
 * fetched through it as unlock will, is the one it had (envelope: the new
 * ciphertext decrypts for the new keyslot), or the new volume key.
 */
static int check_switched(struct reenc *e, struct ktok *k, const struct kmip_token *nt)
{
	struct kmip_client *c;
	uint8_t *s = NULL;
	size_t len = 0;
	bool vk = false, same;
	int r;

	c = client_of(e, nt->group, &r);
	if (c)
		r = luks_fetch_secret(c, nt, k->kek_file, &s, &len, &vk);
	if (r < 0)
		return r;
	same = nt->kind == KMIP_KIND_VOLUME_KEY ?
	       len == e->vk_len && !CRYPTO_memcmp(s, e->new_vk, len) :
	       len == k->len && !CRYPTO_memcmp(s, k->secret, len);
	secmem_free(s);
	if (!same)
		return log_error_errno(-EBADMSG, "%s token %d: the server gave back another secret "
				       "through the re-bound token than the one it must give",
				       e->device, k->id);
	return 0;
}

static int write_token(struct reenc *e, int id, const struct kmip_token *t)
{
	char *json = NULL;
	int r = kmip_token_format(t, &json);

	if (r < 0)
		return r;
	r = crypt_token_json_set(e->cd, id, json);
	free(json);
	return r < 0 ? luks_crypt_fail(r, e->device, "writing a kmip token") : 0;
}

static bool undo_tokens(void *ctx);

/* Each kmip token to its new keyslot, or (volume-key) to the new object: one write each. */
static int step_tokens(void *ctx)
{
	struct reenc *e = ctx;
	struct kmip_client *c;
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < e->n_tok; i++) {
		struct ktok *k = &e->tok[i];
		struct kmip_token nt = k->t;
		struct pair *p = pair_of(e, k->t.keyslot);

		if (k->t.kind == KMIP_KIND_VOLUME_KEY) {
			snprintf(nt.uid, sizeof(nt.uid), "%s", k->new_uid);
		} else {
			nt.keyslot = k->new_slot = p->new;
			c = client_of(e, k->t.group, &r);
			if (c && k->t.kind == KMIP_KIND_ENVELOPE)
				r = luks_envelope_encrypt(c, e->device, k->t.uid, e->uuid, nt.keyslot,
							  k->secret, &nt);
		}
		if (r == 0)
			r = check_switched(e, k, &nt);
		if (r == 0)
			r = write_token(e, k->id, &nt);
		if (r == 0) {
			k->switched = true;
			if (nt.kind == KMIP_KIND_VOLUME_KEY)
				log_info("%s: token %d re-bound to key '%s'", e->device, k->id, nt.uid);
			else
				log_info("%s: token %d re-bound to keyslot %d", e->device, k->id,
					 nt.keyslot);
		}
		explicit_bzero(&nt, sizeof(nt));
	}
	if (r < 0)
		undo_tokens(e);
	return r;
}

static bool undo_tokens(void *ctx)
{
	struct reenc *e = ctx;
	bool clean = true;
	size_t i;
	int r;

	for (i = e->n_tok; i-- > 0;) {
		struct ktok *k = &e->tok[i];

		if (!k->switched)
			continue;
		r = crypt_token_json_set(e->cd, k->id, k->json);
		if (r < 0) {
			log_error("%s: could NOT put token %d back as it was: %s", e->device, k->id,
				  strerror(-r));
			clean = false;
			continue;
		}
		k->switched = false;
		log_warn("%s: undone: token %d as it was", e->device, k->id);
	}
	return clean;
}

/* ------------------------------------------------------------ init */

/* The keyslot pair whose passphrase opens both volume keys: a kmip one, else any. */
static const struct pair *init_pair(const struct reenc *e)
{
	size_t i;

	for (i = 0; i < e->n_pairs; i++)
		if (e->pairs[i].kmip)
			return &e->pairs[i];
	return e->n_pairs ? &e->pairs[0] : NULL;
}

static int step_init(void *ctx)
{
	struct reenc *e = ctx;
	const struct pair *p = init_pair(e);
	struct crypt_params_luks2 luks2 = { .sector_size = (uint32_t)crypt_get_sector_size(e->cd) };
	struct crypt_params_reencrypt params = {
		.mode = CRYPT_REENCRYPT_REENCRYPT,
		.direction = CRYPT_REENCRYPT_FORWARD,
		.resilience = "checksum",
		.hash = "sha256",
		.max_hotzone_size = e->o->hotzone_bytes / 512,
		.luks2 = &luks2,
		.flags = CRYPT_REENCRYPT_INITIALIZE_ONLY,
	};
	char cipher[64], mode[64];
	int r;

	snprintf(cipher, sizeof(cipher), "%s", crypt_get_cipher(e->cd));
	snprintf(mode, sizeof(mode), "%s", crypt_get_cipher_mode(e->cd));
	if (p)
		r = crypt_reencrypt_init_by_passphrase(e->cd, NULL, p->pass, p->len, p->old, p->new,
						       cipher, mode, &params);
	else
		r = crypt_reencrypt_init_by_passphrase(e->cd, NULL, e->pv, e->pv_len, e->ko, e->kn,
						       cipher, mode, &params);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "setting up the reencryption");
	log_info("%s: reencryption set up in the header (%s-%s, new volume key)", e->device, cipher,
		 mode);
	return 0;
}

static const struct luks_step reencrypt_steps[] = {
	{ .name = "mark",     .run = step_mark,     .undo = undo_mark },
	{ .name = "keyslots", .run = step_keyslots, .undo = undo_keyslots },
	{ .name = "register", .run = step_register, .undo = undo_register, .when = VK_TOKENS },
	/* No undo of its own: undo_register revokes an Active object before it destroys it. */
	{ .name = "activate", .run = step_activate, .when = VK_TOKENS },
	{ .name = "tokens",   .run = step_tokens,   .undo = undo_tokens },
	{ .name = "init",     .run = step_init,     .commit = true },
};

static const struct luks_txn reencrypt_txn = {
	.prepare = prepare,
	.what = "reencrypt",
	.committed = "the reencryption was set up in the header",
	.outcome = "the reencryption goes on",
	.steps = reencrypt_steps,
	.n_steps = sizeof(reencrypt_steps) / sizeof(reencrypt_steps[0]),
	.commit_final = true,
	.later = later_steps,
};

/* ------------------------------------------------------------ the data */

static void report(struct reenc *e, uint64_t size, uint64_t offset, bool done)
{
	struct reencrypt_progress p = {
		.size = size, .offset = offset, .start = e->start, .done = done,
		.elapsed_ms = (uint64_t)(clock_now_ms() - e->t0),
	};

	e->last = clock_now_ms();
	if (e->o->progress)
		e->o->progress(e->o->progress_ctx, e->device, &p);
}

/*
 * libcryptsetup's progress callback, between two hotzones: a safe point.
 * Non-zero stops the data pass there (the header says where).
 */
static int progress_cb(uint64_t size, uint64_t offset, void *usrptr)
{
	struct reenc *e = usrptr;

	e->size = size;
	if (!e->data_started) {
		e->data_started = true;
		e->start = offset;
		e->t0 = clock_now_ms();
		report(e, size, offset, false);
	} else if (clock_now_ms() - e->last >= LUKS_REENCRYPT_PROGRESS_MS) {
		report(e, size, offset, false);
	}
	/* The test hook: the first safe point after some data was re-encrypted by this run. */
	if (!e->hook_fired && offset > e->start) {
		e->hook_fired = true;
		if (luks_fail_at("data")) {
			e->hook_stop = true;
			return 1;
		}
	}
	if (interrupt_pending())
		return 1;
	return 0;
}

/* The reencryption in the header loaded with pass (libcryptsetup's result). */
static int open_with(struct reenc *e, const char *pass, size_t len, uint32_t flags)
{
	struct crypt_params_reencrypt params;

	/* As the header has it; the resilience kept (NULL), as cryptsetup resumes. */
	memset(&params, 0, sizeof(params));
	crypt_reencrypt_status(e->cd, &params);
	params.resilience = NULL;
	params.device_size = 0;
	params.flags = flags;
	if (e->o->hotzone_bytes)
		params.max_hotzone_size = e->o->hotzone_bytes / 512;
	return crypt_reencrypt_init_by_passphrase(e->cd, e->mapping[0] ? e->mapping : NULL, pass,
						  len, CRYPT_ANY_SLOT, CRYPT_ANY_SLOT, NULL, NULL,
						  &params);
}

/*
 * A passphrase that opens both volume keys now (with any keyslot: each has
 * its twin): a kmip token's, tried in turn, then those given (--key-file).
 */
static int data_open(struct reenc *e, uint32_t flags)
{
	char *pass = NULL;
	size_t i, len = 0;
	int r = -ENOKEY;

	for (i = 0; i < e->n_tok; i++) {
		struct ktok *k = &e->tok[i];

		if (e->o->token_id >= 0 && k->id != e->o->token_id)
			continue;
		if (!k->secret && fetch(e, k) < 0)
			continue;
		r = k->t.kind == KMIP_KIND_VOLUME_KEY ?
		    luks_reencrypt_vk_passphrase(k->secret, k->len, e->uuid, &pass, &len) :
		    token_pass(k, &pass, &len);
		if (r == 0)
			r = open_with(e, pass, len, flags);
		secmem_free(pass);
		pass = NULL;
		if (r >= 0) {
			log_debug("%s: reencryption opened with token %d", e->device, k->id);
			return 0;
		}
		log_info("%s: token %d does not open the reencryption: %s", e->device, k->id,
			 strerror(-r));
	}
	for (i = 0; e->o->token_id < 0 && i < e->o->n_passphrases; i++) {
		r = open_with(e, e->o->passphrases[i], e->o->passphrase_lens[i], flags);
		if (r >= 0)
			return 0;
	}
	if (r == -ENOKEY || r == -EPERM)
		return log_error_errno(-ELUKS, "%s: no kmip token%s (nor passphrase given) opens the "
				       "volume in reencryption (see above); if another tool started "
				       "it, finish it with 'cryptsetup reencrypt --resume-only %s'",
				       e->device, e->o->token_id >= 0 ? " asked for" : "", e->device);
	return luks_crypt_fail(r, e->device, "opening the reencryption");
}

/* The data pass (or what is left of it): 0 done, -EINTR / -EAGAIN stopped, or the failure. */
static int run_data(struct reenc *e)
{
	crypt_reencrypt_info ri = crypt_reencrypt_status(e->cd, NULL);
	int r;

	if (ri == CRYPT_REENCRYPT_NONE)
		return 0;
	if (ri == CRYPT_REENCRYPT_INVALID)
		return log_error_errno(-ELUKS, "%s: the header's reencryption is invalid", e->device);
	if (interrupt_pending())
		return log_error_errno(-EINTR, "%s: interrupted before the data pass; the header "
				       "keeps the reencryption: 'kmipcrypt reencrypt --resume %s' "
				       "continues it", e->device, e->device);
	if (ri == CRYPT_REENCRYPT_CRASH) {
		log_warn("%s: the last data pass was cut off in the middle of a hotzone: "
			 "libcryptsetup recovers it first", e->device);
		r = data_open(e, CRYPT_REENCRYPT_RECOVERY);
		/* The recovered header, read anew (the handle keeps the recovery's lock). */
		if (r == 0) {
			crypt_free(e->cd);
			e->cd = NULL;
			r = luks_dev_open(e->device, &e->cd);
		}
		if (r < 0)
			return r;
		log_info("%s: the cut-off hotzone was recovered", e->device);
	}
	r = data_open(e, CRYPT_REENCRYPT_RESUME_ONLY);
	if (r < 0)
		return r;
	r = crypt_reencrypt_run(e->cd, progress_cb, e);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "re-encrypting the data");
	if (crypt_reencrypt_status(e->cd, NULL) == CRYPT_REENCRYPT_NONE) {
		report(e, e->size, e->size, true);
		log_info("%s: the data is re-encrypted with the new volume key", e->device);
		return 0;
	}
	if (e->hook_stop)
		return log_error_errno(-EINTR, "%s: the data pass stopped (injected): 'kmipcrypt "
				       "reencrypt --resume %s' continues it", e->device, e->device);
	return log_error_errno(-EINTR, "%s: the data pass stopped at a safe point (interrupted); "
			       "the header records how far it got: 'kmipcrypt reencrypt --resume %s' "
			       "continues it", e->device, e->device);
}

/* ------------------------------------------------------------ after the data */

/* The volume key now (after the data pass), from any kmip token, and the record verified. */
static int finish_key(struct reenc *e)
{
	uint8_t *key = secmem_alloc(KEY_MAX);
	char *pass = NULL;
	size_t i, len = 0, plen = 0;
	int r = -ENOKEY;

	if (!key)
		return -ENOMEM;
	for (i = 0; i < e->n_tok && r < 0; i++) {
		struct ktok *k = &e->tok[i];

		if (!k->secret && fetch(e, k) < 0)
			continue;
		if (k->t.kind == KMIP_KIND_VOLUME_KEY) {
			if (k->len > KEY_MAX ||
			    crypt_volume_key_verify(e->cd, (const char *)k->secret, k->len) < 0)
				continue;
			memcpy(key, k->secret, k->len);
			len = k->len;
			r = 0;
		} else if (token_pass(k, &pass, &plen) == 0) {
			r = keyslot_key(e->cd, k->t.keyslot, pass, plen, key, &len);
			secmem_free(pass);
			pass = NULL;
		}
	}
	if (r >= 0 && !rec_mac_ok(&e->rec, e->rec.mac, e->uuid, key, len))
		r = log_error_errno(-ELUKS, "%s: the reencryption record (token %d) does not verify "
				    "with this volume's key: kmipcrypt did not write it as it is, and "
				    "will not act on what it names.  Look at it ('cryptsetup token "
				    "export --token-id %d %s'), and remove it ('cryptsetup token "
				    "remove --token-id %d %s') once you know what it was", e->device,
				    e->rid, e->rid, e->device, e->rid, e->device);
	else if (r < 0)
		r = log_error_errno(-ELUKS, "%s: no kmip token opens the volume now (see above): "
				    "the reencryption record (token %d) cannot be checked, so it is "
				    "kept; run 'kmipcrypt reencrypt --resume %s' again once a token "
				    "unlocks", e->device, e->rid, e->device);
	if (r >= 0) {
		secmem_free(e->new_vk);
		e->new_vk = key;
		e->vk_len = len;
		key = NULL;
		r = 0;
	}
	secmem_free(key);
	return r;
}

/* Is keyslot assigned to no kmip token (a binding's keyslot is never ours to remove)? */
static bool unassigned_kmip(struct reenc *e, int keyslot)
{
	int ids[SLOTS], n = luks_kmip_tokens(e->cd, ids, SLOTS), i;

	for (i = 0; i < n; i++)
		if (crypt_token_is_assigned(e->cd, ids[i], keyslot) == 0)
			return false;
	return true;
}

/* Keyslot of the volume-key pair, removed if it still is: it opens with the derived passphrase. */
static int drop_vk_slot(struct reenc *e, int slot)
{
	uint8_t *key;
	size_t len;
	int r;

	if (slot < 0 || crypt_keyslot_status(e->cd, slot) == CRYPT_SLOT_INACTIVE)
		return 0;
	if (!e->pv) {
		r = luks_reencrypt_vk_passphrase(e->new_vk, e->vk_len, e->uuid, &e->pv, &e->pv_len);
		if (r < 0)
			return r;
	}
	key = secmem_alloc(KEY_MAX);
	if (!key)
		return -ENOMEM;
	r = keyslot_key(e->cd, slot, e->pv, e->pv_len, key, &len);
	secmem_free(key);
	if (r < 0) {
		log_warn("%s: keyslot %d, which the record names, does not open as the reencryption's "
			 "made it: left as it is", e->device, slot);
		return 0;
	}
	r = crypt_keyslot_destroy(e->cd, slot);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "removing the volume-key tokens' keyslot");
	log_info("%s: keyslot %d (the volume-key tokens' during the reencryption) removed",
		 e->device, slot);
	return 0;
}

/*
 * An old keyslot of the record that libcryptsetup did not remove (a data
 * pass cut off while it removed them): it holds the old volume key, which
 * no data uses any more (unbound).  Removed.
 */
static int drop_old_slot(struct reenc *e, int slot)
{
	int r;

	if (crypt_keyslot_status(e->cd, slot) != CRYPT_SLOT_UNBOUND || !unassigned_kmip(e, slot))
		return 0;
	r = crypt_keyslot_destroy(e->cd, slot);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "removing a keyslot of the old volume key");
	log_info("%s: keyslot %d (of the old volume key) removed", e->device, slot);
	return 0;
}

static int step_complete(struct reenc *e)
{
	size_t i;
	int r;

	if (luks_fail_at("complete"))
		return log_error_errno(-EIO, "%s: step 'complete' failed (injected)", e->device);
	r = drop_vk_slot(e, e->rec.kn);
	if (r == 0)
		r = drop_vk_slot(e, e->rec.ko);
	for (i = 0; r == 0 && i < e->rec.n_pairs; i++)
		r = drop_old_slot(e, e->rec.pairs[i][0]);
	return r;
}

/* The token the record says moved to new_uid still names it (else: not ours to revoke for). */
static struct ktok *token_by_id(struct reenc *e, int id)
{
	size_t i;

	for (i = 0; i < e->n_tok; i++)
		if (e->tok[i].id == id)
			return &e->tok[i];
	return NULL;
}

static void result_token(struct reenc *e, const struct rec_token *t, bool revoked)
{
	struct reencrypt_result *res = e->res;
	const struct ktok *k = token_by_id(e, t->token);
	size_t i;

	if (!res || res->n_tokens >= 32)
		return;
	i = res->n_tokens++;
	res->tokens[i].token = t->token;
	res->tokens[i].old_keyslot = t->keyslot;
	res->tokens[i].new_keyslot = !k ? -1 : k->new_slot >= 0 ? k->new_slot : k->t.keyslot;
	snprintf(res->tokens[i].old_uid, KMIP_UID_SIZE, "%s", t->uid);
	snprintf(res->tokens[i].new_uid, KMIP_UID_SIZE, "%s", t->new_uid);
	res->tokens[i].revoked = revoked;
}

/* The old object of a volume-key token revoked, reason Superseded (after the data, never before). */
static int revoke_old(struct reenc *e, const struct rec_token *t, bool *revoked)
{
	struct ktok *k = token_by_id(e, t->token);
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_SUPERSEDED };
	char why[KMIP_FAILURE_TEXT_SIZE], msg[KMIP_UID_SIZE + 64];
	struct kmip_client *c;
	struct kmip_attrs a;
	int r;

	*revoked = false;
	if (!k || k->t.kind != KMIP_KIND_VOLUME_KEY || strcmp(k->t.uid, t->new_uid)) {
		log_warn("%s: token %d no longer names key '%s': its old key '%s' is left as it is",
			 e->device, t->token, t->new_uid, t->uid);
		return 0;
	}
	c = client_of(e, k->t.group, &r);
	if (!c)
		return r;
	memset(&a, 0, sizeof(a));
	r = kmip_get_attributes(c, t->uid, KMIP_ATTR_STATE, &a);
	if (r == -ENOENT || (r == 0 && (a.present & KMIP_ATTR_STATE) && a.state != KMIP_STATE_ACTIVE &&
			     a.state != KMIP_STATE_PRE_ACTIVE)) {
		*revoked = true;	/* revoked (or gone) before: a run that stopped after it */
		return 0;
	}
	snprintf(msg, sizeof(msg), "superseded by '%s': kmipcrypt reencrypt", t->new_uid);
	rv.message = msg;
	if (r == 0)
		r = kmip_revoke(c, t->uid, &rv);
	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device, kmip_failure_text(c, r, why, sizeof(why),
				       "revoking the old volume key '%s'", t->uid));
	*revoked = true;
	log_info("%s: old volume key '%s' revoked (Superseded by '%s')", e->device, t->uid,
		 t->new_uid);
	return 0;
}

static int step_revoke(struct reenc *e)
{
	size_t i;
	bool revoked;
	int r = 0, r1;

	if (luks_fail_at("revoke"))
		return log_error_errno(-EIO, "%s: step 'revoke' failed (injected)", e->device);
	for (i = 0; i < e->rec.n_tokens; i++) {
		const struct rec_token *t = &e->rec.tokens[i];

		revoked = false;
		if (t->keyslot < 0 && t->new_uid[0]) {
			r1 = revoke_old(e, t, &revoked);
			if (r1 < 0 && r == 0)
				r = r1;
		}
		result_token(e, t, revoked);
	}
	return r;
}

/* After the data pass: the volume-key pair's keyslots, the old objects, the record. */
static int finish(struct reenc *e)
{
	int r;

	if (e->rid < 0)
		return 0;	/* nothing of kmipcrypt's to finish (another tool's reencryption) */
	r = finish_key(e);
	if (r == 0)
		r = step_complete(e);
	if (r == 0)
		r = step_revoke(e);
	if (r == 0 && luks_fail_at("unmark"))
		r = log_error_errno(-EIO, "%s: step 'unmark' failed (injected)", e->device);
	if (r == 0)
		r = rec_remove(e);
	if (r < 0)
		log_error("%s: the data is re-encrypted, but the clean-up after it did not finish; "
			  "the record keeps what is left: run 'kmipcrypt reencrypt --resume %s'",
			  e->device, e->device);
	return r;
}

/* ------------------------------------------------------------ taking back */

/*
 * A record with no reencryption in the header: did the data pass end (a
 * new keyslot it names is bound to the data: finish what follows it), or
 * was the reencryption never set up (take back what the record names)?
 * Before the init every new keyslot is unbound; after the data pass they
 * are the data's.
 */
static bool rec_completed(const struct reenc *e)
{
	size_t i;

	for (i = 0; i < e->rec.n_pairs; i++)
		if (bound(crypt_keyslot_status(e->cd, e->rec.pairs[i][1])))
			return true;
	return e->rec.kn >= 0 && bound(crypt_keyslot_status(e->cd, e->rec.kn));
}

/* key (len) is the data's volume key and keys the record's mac_old: it becomes e->old_vk. */
static bool take_old_key(struct reenc *e, const uint8_t *key, size_t len)
{
	if (crypt_volume_key_verify(e->cd, (const char *)key, len) < 0 ||
	    !rec_mac_ok(&e->rec, e->rec.mac_old, e->uuid, key, len))
		return false;
	e->old_vk = secmem_alloc(len);
	if (!e->old_vk)
		return false;
	memcpy(e->old_vk, key, len);
	e->vk_len = len;
	return true;
}

/*
 * The volume key (the old one: the reencryption was not set up) from any
 * kmip token, switched or not, or a passphrase given; the record verified
 * with it.  A switched volume-key token gives the new key, which opens
 * the record's keyslot "ko", which holds the old one.
 */
static int rollback_old_key(struct reenc *e)
{
	uint8_t *key = secmem_alloc(KEY_MAX);
	char *pass = NULL;
	size_t i, len = 0, plen = 0;
	bool ok = false;

	if (!key)
		return -ENOMEM;
	for (i = 0; i < e->n_tok && !ok; i++) {
		struct ktok *k = &e->tok[i];

		if (!k->secret && fetch(e, k) < 0)
			continue;
		if (k->t.kind == KMIP_KIND_VOLUME_KEY) {
			ok = take_old_key(e, k->secret, k->len);
			if (ok || e->rec.ko < 0 ||
			    luks_reencrypt_vk_passphrase(k->secret, k->len, e->uuid, &pass, &plen) < 0)
				continue;
			ok = keyslot_key(e->cd, e->rec.ko, pass, plen, key, &len) >= 0 &&
			     take_old_key(e, key, len);
		} else if (token_pass(k, &pass, &plen) == 0) {
			/* Any keyslot: those of the data's key only (no reencryption set up). */
			ok = keyslot_key(e->cd, CRYPT_ANY_SLOT, pass, plen, key, &len) >= 0 &&
			     take_old_key(e, key, len);
		}
		secmem_free(pass);
		pass = NULL;
	}
	for (i = 0; i < e->o->n_passphrases && !ok; i++)
		ok = keyslot_key(e->cd, CRYPT_ANY_SLOT, e->o->passphrases[i], e->o->passphrase_lens[i],
				 key, &len) >= 0 && take_old_key(e, key, len);
	secmem_free(key);
	return ok ? 0 : -ENOKEY;
}

/* Did the run the record tells of make anything yet (a keyslot, a switched token, an object)? */
static bool rec_made_anything(const struct reenc *e)
{
	size_t i;

	for (i = 0; i < e->rec.n_pairs; i++)
		if (crypt_keyslot_status(e->cd, e->rec.pairs[i][1]) != CRYPT_SLOT_INACTIVE)
			return true;
	if (e->rec.kn >= 0 && (crypt_keyslot_status(e->cd, e->rec.kn) != CRYPT_SLOT_INACTIVE ||
			       crypt_keyslot_status(e->cd, e->rec.ko) != CRYPT_SLOT_INACTIVE))
		return true;
	for (i = 0; i < e->rec.n_tokens; i++)
		if (e->rec.tokens[i].new_uid[0] || e->rec.tokens[i].name[0])
			return true;	/* an object may exist, named so */
	return false;
}

/* Token k as it was before the run the record tells of, for undo_tokens (k->json). */
static int rollback_token(struct reenc *e, struct ktok *k, const struct rec_token *t)
{
	struct kmip_token ot = k->t;
	struct kmip_client *c;
	int r = 0;

	if (t->keyslot >= 0) {
		if (k->t.keyslot == t->keyslot)
			return 0;
		ot.keyslot = t->keyslot;
		/* An AES-GCM envelope authenticates its keyslot: encrypted anew for the old one. */
		if (k->t.kind == KMIP_KIND_ENVELOPE && k->t.mode == KMIP_ENVELOPE_AES_GCM) {
			if (!k->secret)
				r = fetch(e, k);
			c = r == 0 ? client_of(e, k->t.group, &r) : NULL;
			if (c && k->len != KMIP_SECRET_BYTES)
				r = -EKEYMISMATCH;
			else if (c)
				r = luks_envelope_encrypt(c, e->device, k->t.uid, e->uuid, ot.keyslot,
							  k->secret, &ot);
		}
	} else {
		if (!t->new_uid[0] || strcmp(k->t.uid, t->new_uid))
			return 0;
		snprintf(ot.uid, sizeof(ot.uid), "%s", t->uid);
	}
	free(k->json);
	k->json = NULL;
	if (r == 0)
		r = kmip_token_format(&ot, &k->json);
	explicit_bzero(&ot, sizeof(ot));
	if (r == 0)
		k->switched = true;
	return r;
}

/*
 * The new object of a volume-key token: the one the record names (for
 * undo_register), and any other that a Locate of its Name finds (made by a
 * run killed before it could record the uid: the Name, random, is this
 * run's), taken off the KMS here.
 */
static int rollback_objects(struct reenc *e, struct ktok *k, const struct rec_token *t)
{
	struct kmip_locate_filter f = { .name = t->name, .object_type = KMIP_OBJ_SYMMETRIC_KEY };
	struct kmip_uid_list l;
	struct kmip_client *c;
	size_t i;
	int r;

	snprintf(k->new_uid, sizeof(k->new_uid), "%s", t->new_uid);
	c = client_of(e, k->t.group, &r);
	if (!c)
		return r;
	memset(&l, 0, sizeof(l));
	r = kmip_locate(c, &f, &l);
	for (i = 0; r == 0 && i < l.n; i++)
		if (strcmp(l.uids[i], t->new_uid) && strcmp(l.uids[i], t->uid) &&
		    kmip_locate_verify(c, l.uids[i], &f) == 1)
			r = remove_object(e, c, l.uids[i]);
	kmip_uid_list_free(&l);
	return r == -ENOENT ? 0 : r;
}

/* Is keyslot assigned to no token? */
static bool unassigned(struct reenc *e, int keyslot)
{
	int i;

	for (i = 0; i < SLOTS; i++)
		if (crypt_token_is_assigned(e->cd, i, keyslot) == 0)
			return false;
	return true;
}

/*
 * A record of a reencryption that never reached its init (killed before):
 * take back what it names with the undos of the steps, once it verifies
 * with the volume key (the old one: nothing was re-encrypted).
 */
static int rollback(struct reenc *e)
{
	size_t i;
	int r;

	log_warn("%s: a reencryption was interrupted before its data pass (record: token %d): "
		 "taking it back first", e->device, e->rid);
	r = tokens_load(e);
	if (r < 0)
		return r;
	r = rollback_old_key(e);
	if (r < 0 && !rec_made_anything(e)) {
		log_info("%s: it had made nothing yet", e->device);
		return undo_mark(e) ? 0 : -ELUKS;
	}
	if (r < 0)
		return log_error_errno(-ELUKS, "%s: the reencryption record (token %d) cannot be "
				       "verified: no kmip token (nor passphrase given) gives the "
				       "volume key it was made with (see above).  Nothing was taken "
				       "back.  Look at it ('cryptsetup token export --token-id %d %s')",
				       e->device, e->rid, e->rid, e->device);
	for (i = 0; r == 0 && i < e->rec.n_tokens; i++) {
		const struct rec_token *t = &e->rec.tokens[i];
		struct ktok *k = token_by_id(e, t->token);

		if (!k)
			continue;
		r = rollback_token(e, k, t);
		if (r == 0 && t->keyslot < 0)
			r = rollback_objects(e, k, t);
	}
	if (r < 0)
		return log_error_errno(r, "%s: the interrupted reencryption cannot be taken back "
				       "now (see above); the record is kept for the next run",
				       e->device);
	/* Its keyslots: the new key's are unbound; "ko" (the old key's) is no token's. */
	for (i = 0; i < e->rec.n_pairs; i++) {
		struct pair *p = &e->pairs[e->n_pairs++];

		p->old = e->rec.pairs[i][0];
		p->new = e->rec.pairs[i][1];
		p->made = crypt_keyslot_status(e->cd, p->new) == CRYPT_SLOT_UNBOUND;
	}
	if (e->rec.kn >= 0) {
		e->ko = e->rec.ko;
		e->kn = e->rec.kn;
		e->kn_made = crypt_keyslot_status(e->cd, e->kn) == CRYPT_SLOT_UNBOUND;
		e->ko_made = bound(crypt_keyslot_status(e->cd, e->ko)) && unassigned(e, e->ko);
	}
	if (!undo_tokens(e) || !undo_register(e) || !undo_keyslots(e) || !undo_mark(e))
		return log_error_errno(-ELUKS, "%s: NOT everything of the interrupted reencryption "
				       "could be taken back (see above)", e->device);
	/* Forget it all: the new run plans its own. */
	tokens_forget(e);
	for (i = 0; i < e->n_pairs; i++)
		secmem_free(e->pairs[i].pass);
	memset(e->pairs, 0, sizeof(e->pairs));
	e->n_pairs = 0;
	secmem_free(e->old_vk);
	e->old_vk = NULL;
	e->ko = e->kn = -1;
	e->ko_made = e->kn_made = false;
	log_warn("%s: the interrupted reencryption was taken back: the volume and the KMS are as "
		 "they were before it", e->device);
	return 0;
}

/* ------------------------------------------------------------ the command */

/* Does a kmip token of the volume have kind volume-key (the KMS steps run)?  Quiet. */
static bool has_vk_tokens(struct reenc *e)
{
	struct luks_log_tee tee = { .quiet = true };
	int ids[SLOTS], n = luks_kmip_tokens(e->cd, ids, SLOTS), i;
	struct kmip_token t;
	bool vk = false;

	luks_log_tee_begin(&tee);
	for (i = 0; i < n && !vk; i++)
		vk = luks_token_read(e->cd, e->device, ids[i], &t) == 0 &&
		     t.kind == KMIP_KIND_VOLUME_KEY;
	luks_log_tee_end(&tee);
	explicit_bzero(&t, sizeof(t));
	return vk;
}

static int refuse_rotation(struct reenc *e)
{
	int id;

	if (luks_tokens_of_type(e->cd, KMIP_ROTATION_TOKEN_TYPE, &id, 1) == 0)
		return 0;
	return log_error_errno(-EBUSY, "%s: a rotation of a kmip token's key is under way (token %d, "
			       "type %s): finish it first ('kmipcrypt rekey %s'), then reencrypt",
			       e->device, id, KMIP_ROTATION_TOKEN_TYPE, e->device);
}

static void free_reenc(struct reenc *e)
{
	size_t i;

	tokens_forget(e);
	for (i = 0; i < e->n_pairs; i++)
		secmem_free(e->pairs[i].pass);
	for (i = 0; i < e->n_ss; i++)
		kmip_session_close(e->ss[i].s);
	secmem_free(e->pv);
	secmem_free(e->old_vk);
	secmem_free(e->new_vk);
	crypt_free(e->cd);
}

/* Was keyslot a kmip token's, as the record says? */
static bool rec_kmip_slot(const struct record *x, int keyslot)
{
	size_t i;

	for (i = 0; i < x->n_tokens; i++)
		if (x->tokens[i].keyslot == keyslot)
			return true;
	return false;
}

static void result_fill(struct reenc *e)
{
	struct reencrypt_result *res = e->res;
	size_t i;

	if (!res)
		return;
	res->online = e->mapping[0] != 0;
	snprintf(res->mapping, sizeof(res->mapping), "%s", e->mapping);
	for (i = 0; i < e->rec.n_pairs && res->n_keyslots < 32; i++)
		if (!rec_kmip_slot(&e->rec, e->rec.pairs[i][0])) {
			res->keyslots[res->n_keyslots][0] = e->rec.pairs[i][0];
			res->keyslots[res->n_keyslots++][1] = e->rec.pairs[i][1];
		}
}

/* The data pass and what follows it: a new run's, or all of a resumed one. */
static int carry_on(struct reenc *e)
{
	int r;

	/* The tokens as the header has them now (re-bound), their secrets fetched when needed. */
	tokens_forget(e);
	r = tokens_load(e);
	if (r == 0)
		r = run_data(e);

	if (r == 0)
		r = finish(e);
	if (r == 0 && e->res)
		e->res->done = true;
	return r;
}

int luks_reencrypt(const char *device, struct config *cfg, const struct reencrypt_opts *o,
		   struct reencrypt_result *res)
{
	struct reenc e = { .device = device, .cfg = cfg, .o = o, .res = res, .rid = -1, .ko = -1,
			   .kn = -1 };
	crypt_reencrypt_info ri;
	const char *names[LUKS_STEPS_MAX + 1];
	size_t i, n = 0;
	int r;

	if (res)
		memset(res, 0, sizeof(*res));
	if (o->token_id >= 0 && !o->resume)
		return log_error_errno(-EINVAL, "--token is for --resume: a new reencryption re-binds "
				       "every kmip token");
	r = luks_dev_open(device, &e.cd);
	if (r < 0)
		return r;
	snprintf(e.uuid, sizeof(e.uuid), "%s", crypt_get_uuid(e.cd) ? crypt_get_uuid(e.cd) : "");
	r = refuse_rotation(&e);
	if (r == 0)
		r = rec_read(&e);
	if (r < 0)
		goto out;
	ri = crypt_reencrypt_status(e.cd, NULL);
	if (ri != CRYPT_REENCRYPT_NONE || (e.rid >= 0 && rec_completed(&e))) {
		/* Under way, or done but not cleaned up: only forward. */
		if (!o->resume) {
			r = log_error_errno(-EBUSY, "%s: a reencryption is under way%s: 'kmipcrypt "
					    "reencrypt --resume %s' %s it", device,
					    ri == CRYPT_REENCRYPT_NONE ? " (its data is done, not what "
					    "follows)" : "", device, ri == CRYPT_REENCRYPT_NONE ?
					    "finishes" : "continues");
			goto out;
		}
		for (i = 0; i < sizeof(reencrypt_steps) / sizeof(reencrypt_steps[0]); i++)
			names[n++] = reencrypt_steps[i].name;
		for (i = 0; later_steps[i]; i++)
			names[n++] = later_steps[i];
		names[n] = NULL;
		luks_fail_at_check(names);
		log_info("%s: resuming the reencryption", device);
		r = find_mapping(&e);
		if (r == 0)
			r = carry_on(&e);
		goto out;
	}
	if (e.rid >= 0) {
		r = rollback(&e);
		if (r < 0)
			goto out;
	} else if (o->resume) {
		r = log_error_errno(-EINVAL, "%s: no reencryption to resume", device);
		goto out;
	}
	r = luks_steps_run(&reencrypt_txn, device, has_vk_tokens(&e) ? VK_TOKENS : 0, &e);
	if (r == 0)
		r = carry_on(&e);
out:
	result_fill(&e);
	free_reenc(&e);
	return r;
}
