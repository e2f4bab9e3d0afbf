/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rekey: a new KMS object for a kmip token, the same data (docs/rekey.md).
 *
 * While it runs, the volume carries a second token, of type
 * "kmip-rotation" (token.h), beside the kmip token: the record of the
 * rotation, written before each thing it names exists.  The kmip token
 * keeps its format and names the object that unlocks, the old one up to
 * the commit (one header write switching its uid, and its keyslot or
 * envelope), the new one after; so a crash or a power cut between any two
 * steps leaves a volume that unlocks, and the record says what the next
 * `rekey` must take back (before the commit) or finish (after it).
 *
 *   prepare   (the runner's: changes nothing) a session with the token's
 *             server group; the token proven (luks_prove: its secret opens
 *             its keyslot, or is the volume key) and the volume key taken
 *             from that proof: it keys the record's MAC and makes the new
 *             keyslot; a record found must verify with it
 *   a rotation found that did not reach its commit is taken back first:
 *   unkeyslot   its new keyslot removed (passphrase: the record names it,
 *               and the new object's secret must open it)
 *   unobject    its new object revoked if Active, and destroyed (the
 *               recorded uid, and what a Locate of its Name finds)
 *   unrecord    the record removed
 *   then (or at once) a new rotation:
 *   mark      the record: the kmip token and the Name the new object gets
 *   create    the new object, Pre-Active, named so (passphrase: Register
 *             of a new random secret; volume-key: Register of the same
 *             volume key; envelope: kmip_replace_key(), KMIP Re-key where
 *             the server offers it, else Create: Active at once)
 *   record    its uid in the record (passphrase: and the keyslot to come)
 *   keyslot   passphrase: the new keyslot
 *   assign    passphrase: the record holds it (no keyslot without a token)
 *   activate  passphrase, volume-key: the new object
 *   encrypt   envelope: the keyslot secret encrypted by the new key
 *   hold      the old object (and keyslot) in the record
 *   verify    the new binding proven as unlock would prove it
 *   commit    the kmip token switched: the point of no return
 *   resume    (a rotation found past its commit: the run starts here)
 *   drop      passphrase: the old keyslot removed
 *   link      the old and new object linked (Replacement / Replaced
 *             Object) where the server keeps links
 *   revoke    the old object revoked, reason Superseded
 *   destroy   --destroy-old: the old object destroyed
 *   finish    the record removed
 *
 * The commit is final (luks_txn.commit_final): nothing before it is taken
 * back after it.  The steps after it never fail the run themselves: what
 * they could not do stays in the record, said with what to do (run rekey
 * again), and the exit status is that of the failure.  A failure or a
 * termination request before the commit undoes what was done (steps.h); a
 * create whose object could not be taken back keeps the record, so that
 * the next rekey does.  The record is hostile input like the rest of the
 * header: its MAC (token.h) must verify with the volume key before
 * anything it names is touched, and a keyslot it names is removed only
 * when no kmip token uses it.  One rekey of a volume at a time
 * (take_lock()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "luks/reencrypt.h"
#include "luks/steps.h"
#include "conf/config.h"
#include "util/escape.h"
#include "util/log.h"
#include "util/secmem.h"

#define TOKENS_MAX	32
#define REKEY_LOCK_DIR	"/run/kmipcrypt"	/* one rekey of a volume at a time (take_lock()) */
#define SUFFIX_HEX	8	/* random hex digits of a new object's Name: "-r1a2b3c4d" */

/* Which steps a run takes (luks_step.when, .also). */
#define PASSPHRASE	(1u << KMIP_KIND_PASSPHRASE)
#define VOLUME_KEY	(1u << KMIP_KIND_VOLUME_KEY)
#define ENVELOPE	(1u << KMIP_KIND_ENVELOPE)
#define ROLLBACK	(1u << 9)	/* an earlier rotation to take back first */
#define FRESH		(1u << 10)	/* a new rotation */
#define FINISH		(1u << 11)	/* an earlier rotation past its commit: finish it */
#define DESTROY		(1u << 12)	/* --destroy-old */

struct rekey {
	const char *device;
	struct config *cfg;
	const struct rekey_opts *o;
	unsigned variant;
	struct crypt_device *cd;
	struct kmip_session *conn;
	struct kmip_client *c;
	char uuid[KMIP_VOLUME_UUID_SIZE];
	char kek_buf[4096];
	const char *kek_file;		/* wrapped volume-key: the host copy of the KEK */
	int tid;			/* the kmip token */
	struct kmip_token t;		/* as in the header now (after the commit: the new one) */
	int rid;			/* the rotation token, -1 none */
	struct kmip_rotation rot;	/* as in the header */
	uint8_t *vk;			/* the volume key, locked memory */
	size_t vk_len;
	uint8_t *secret;		/* passphrase: the new secret; envelope: the keyslot's */
	char name[KMIP_TEXT_SIZE];	/* the new object's Name */
	char object_group[KMIP_TEXT_SIZE];
	char uid[KMIP_UID_SIZE];	/* the new object */
	char old_uid[KMIP_UID_SIZE];	/* the retired object (FRESH: the token's before) */
	int new_slot;			/* passphrase: the new keyslot, -1 none */
	struct kmip_token env;		/* envelope: the new envelope (its members only) */
	struct kmip_token nt;		/* the token the commit writes */
	bool prepared;			/* the runner's prepare succeeded: steps ran */
	bool switched;			/* the token names the new object (committed) */
	bool left;			/* something the undo could not take back: keep the record */
	bool unfinished;		/* a step after the commit did not do its part */
	int unfinished_err;
	struct rekey_result *res;
};

static int random_bytes(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		return log_error_errno(-EIO, "the random number generator failed");
	return 0;
}

/* ---------------------------------------------------------- the record */

/* Write the record (its MAC first) into token e->rid, or a new token if -1. */
static int write_record(struct rekey *e)
{
	char *json = NULL;
	int r;

	r = kmip_rotation_mac(&e->rot, e->uuid, e->vk, e->vk_len, e->rot.mac);
	if (r < 0)
		return log_error_errno(r, "%s: cannot make the rotation record's MAC", e->device);
	r = kmip_rotation_format(&e->rot, &json);
	if (r < 0)
		return r;
	r = crypt_token_json_set(e->cd, e->rid >= 0 ? e->rid : CRYPT_ANY_TOKEN, json);
	free(json);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "writing the rotation record token");
	e->rid = r;
	return 0;
}

static int remove_record(struct rekey *e)
{
	int r = crypt_token_json_set(e->cd, e->rid, NULL);

	if (r < 0)
		return luks_crypt_fail(r, e->device, "removing the rotation record token");
	log_info("%s: rotation record (token %d) removed", e->device, e->rid);
	e->rid = -1;
	memset(&e->rot, 0, sizeof(e->rot));
	e->rot.new_keyslot = e->rot.old_keyslot = -1;
	return 0;
}

/* ---------------------------------------------------------- KMS helpers */

/*
 * Take an object off the KMS: revoked first if Active (reason), then
 * destroyed; gone already is fine.  0, or the failure (logged with what).
 */
static int remove_object(struct rekey *e, const char *uid, uint32_t reason, const char *msg)
{
	struct kmip_revoke rv = { .reason = reason, .message = msg };
	char why[KMIP_FAILURE_TEXT_SIZE];
	struct kmip_attrs a;
	bool revoked = false;
	int r;

	memset(&a, 0, sizeof(a));
	r = kmip_get_attributes(e->c, uid, KMIP_ATTR_STATE, &a);
	if (r == -ENOENT)
		return 0;
	if (r == 0 && (a.present & KMIP_ATTR_STATE) && a.state == KMIP_STATE_ACTIVE) {
		r = kmip_revoke(e->c, uid, &rv);
		revoked = r == 0;
	}
	if (r == 0)
		r = kmip_destroy(e->c, uid);
	if (r == -ENOENT)
		r = 0;
	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device, kmip_failure_text(e->c, r, why,
				       sizeof(why), "revoking and destroying key '%s'", uid));
	log_warn("%s: %s key '%s' on the KMS", e->device, revoked ? "revoked and destroyed" :
		 "destroyed", uid);
	return 0;
}

/* The secret of Secret Data uid in any State (Get), for a keyslot check: locked memory. */
static int get_secret(struct rekey *e, const char *uid, uint8_t **secret)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	struct kmip_object obj;
	int r;

	*secret = NULL;
	memset(&obj, 0, sizeof(obj));
	r = kmip_get(e->c, uid, NULL, &obj);
	if (r < 0) {
		if (r != -ENOENT)
			log_error("%s: %s", e->device, kmip_failure_text(e->c, r, why, sizeof(why),
				  "getting the secret of '%s'", uid));
		return r;
	}
	if (obj.object_type != KMIP_OBJ_SECRET_DATA || obj.wrapped ||
	    obj.material_len != KMIP_SECRET_BYTES) {
		kmip_object_clear(&obj);
		return log_error_errno(-EKEYMISMATCH, "%s: object '%s' is not the 32-byte Secret Data "
				       "a rotation makes", e->device, uid);
	}
	*secret = obj.material;
	obj.material = NULL;
	kmip_object_clear(&obj);
	return 0;
}

/* Does secret open keyslot (no mapping)?  1 yes, 0 no, or a libcryptsetup failure (logged). */
static int secret_opens(struct rekey *e, int keyslot, const uint8_t *secret)
{
	char *pass = NULL;
	size_t pass_len = 0;
	int r;

	r = luks_secret_passphrase(secret, KMIP_SECRET_BYTES, &pass, &pass_len);
	if (r < 0)
		return r;
	r = crypt_activate_by_passphrase(e->cd, NULL, keyslot, pass, pass_len, 0);
	secmem_free(pass);
	if (r == -EPERM)
		return 0;
	if (r < 0)
		return luks_crypt_fail(r, e->device, "checking a keyslot");
	return 1;
}

/* Is keyslot assigned to a kmip token (a binding's: never ours to remove)? */
static bool kmip_owned(struct rekey *e, int keyslot)
{
	int ids[TOKENS_MAX], n = luks_kmip_tokens(e->cd, ids, TOKENS_MAX), i;

	for (i = 0; i < n; i++)
		if (crypt_token_is_assigned(e->cd, ids[i], keyslot) == 0)
			return true;
	return false;
}

/* ----------------------------------------------------------- prepare */

/* A Name ending in "-r" and SUFFIX_HEX hex digits: a rotation's; its base is what comes before. */
static size_t name_base_len(const char *name)
{
	size_t n = strlen(name), i;

	if (n < SUFFIX_HEX + 2 || name[n - SUFFIX_HEX - 2] != '-' || name[n - SUFFIX_HEX - 1] != 'r')
		return n;
	for (i = n - SUFFIX_HEX; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return n;
	return n - SUFFIX_HEX - 2;
}

/*
 * The new object's Name: the old one's first Name (its "-r<hex>" suffix
 * left off), else "kmipcrypt-<UUID>-<kind>", then "-r" and 8 random hex
 * digits: unique, so that a Locate by it finds this rotation's object only.
 */
static int make_name(struct rekey *e)
{
	char base[KMIP_TEXT_SIZE];
	struct kmip_attrs a;
	uint8_t rnd[SUFFIX_HEX / 2];
	size_t n, max = KMIP_TEXT_MAX - SUFFIX_HEX - 2;
	int r;

	memset(&a, 0, sizeof(a));
	base[0] = '\0';
	if (kmip_get_attributes(e->c, e->t.uid, KMIP_ATTR_NAME, &a) == 0 && a.n_names &&
	    text_is_printable(a.names[0]))
		snprintf(base, sizeof(base), "%s", a.names[0]);
	else
		snprintf(base, sizeof(base), "kmipcrypt-%s-%s", e->uuid, kmip_kind_name(e->t.kind));
	n = name_base_len(base);
	if (n > max)
		n = max;
	while (n > 0 && ((unsigned char)base[n] & 0xC0) == 0x80)	/* a whole UTF-8 character */
		n--;
	r = random_bytes(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	/* n <= KMIP_TEXT_MAX - 10: the base and "-r<8 hex>" fit e->name. */
	memcpy(e->name, base, n);
	snprintf(e->name + n, sizeof(e->name) - n, "-r%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3]);
	if (!text_is_printable(e->name))
		return log_error_errno(-EINVAL, "%s: the LUKS2 UUID holds control characters or "
				       "invalid UTF-8, so no KMIP Name can be made from it", e->device);
	return 0;
}

/*
 * The token proven now (its secret opens its keyslot, or is the volume
 * key), and the volume key from that proof.  Envelope: the keyslot secret
 * kept, to be encrypted anew.
 */
static int prove_token(struct rekey *e)
{
	struct luks_proof p = { .want_vk = true };
	uint8_t *secret = NULL;
	size_t len = 0;
	bool is_vk = false;
	int r;

	r = luks_token_kek_file(e->cfg, e->device, e->tid, &e->t, e->o->kek_file, e->kek_buf,
				sizeof(e->kek_buf), &e->kek_file);
	if (r < 0)
		return r;
	r = luks_fetch_secret(e->c, &e->t, e->kek_file, &secret, &len, &is_vk);
	if (r == 0 && e->t.kind == KMIP_KIND_ENVELOPE) {
		if (len != KMIP_SECRET_BYTES) {
			secmem_free(secret);
			return log_error_errno(-EKEYMISMATCH, "%s token %d: the envelope holds %zu "
					       "bytes, not the %d of a kmipcrypt keyslot secret",
					       e->device, e->tid, len, KMIP_SECRET_BYTES);
		}
		e->secret = secmem_alloc(len);
		if (!e->secret) {
			secmem_free(secret);
			return -ENOMEM;
		}
		memcpy(e->secret, secret, len);
	}
	if (r == 0) {
		p.given = secret;	/* luks_prove takes it */
		p.given_len = len;
		p.given_vk = is_vk;
		r = luks_prove(e->cd, e->device, e->tid, &e->t, e->c, e->kek_file, &p);
	}
	if (r < 0) {
		log_error("%s: token %d (key '%s') does not unlock the volume now; rekey replaces "
			  "the key of a working binding only ('kmipcrypt status %s' says more)",
			  e->device, e->tid, e->t.uid, e->device);
		return r;
	}
	e->vk = p.vk;
	e->vk_len = p.vk_len;
	log_info("%s: token %d proven: key '%s' %s", e->device, e->tid, e->t.uid,
		 e->t.kind == KMIP_KIND_VOLUME_KEY ? "is the volume key" : "opens its keyslot");
	return 0;
}

/* The record found: written with this volume's key, and what it says fits the token. */
static int check_record(struct rekey *e)
{
	const struct kmip_rotation *x = &e->rot;

	if (!kmip_rotation_mac_ok(x, e->uuid, e->vk, e->vk_len))
		return log_error_errno(-ELUKS, "%s: the rotation record (token %d) does not verify "
				       "with this volume's key: kmipcrypt's rekey of this volume did "
				       "not write it as it is, and rekey will not act on what it "
				       "names.  Look at it ('cryptsetup token export --token-id %d "
				       "%s'); remove it with 'cryptsetup token remove --token-id %d "
				       "%s', then rekey again", e->device, e->rid, e->rid, e->device,
				       e->rid, e->device);
	if (e->variant & FINISH)
		log_info("%s: a rotation of token %d to key '%s' was interrupted after its commit: "
			 "finishing it (the old key '%s')", e->device, e->tid, x->uid, x->old_uid);
	else
		log_warn("%s: a rotation of token %d was interrupted before its commit (record: "
			 "token %d, Name '%s'%s%s%s): taking it back, then rotating anew", e->device,
			 e->tid, e->rid, x->name, x->uid[0] ? ", key '" : "", x->uid,
			 x->uid[0] ? "'" : "");
	return 0;
}

static int prepare(void *ctx)
{
	struct rekey *e = ctx;
	int r;

	/* As enroll: each request bounded by the group's timeout_ms, the undo too. */
	r = conf_session_open(e->cfg, e->t.group, 0, &e->conn);
	if (r < 0)
		return r;
	e->c = kmip_session_client(e->conn);
	r = prove_token(e);
	if (r == 0 && e->rid >= 0)
		r = check_record(e);
	if (r < 0 || !(e->variant & FRESH)) {
		e->prepared = r == 0;
		return r;
	}
	/* A new rotation: the Name, the Object Group, a free keyslot (unless one is to be freed). */
	r = make_name(e);
	if (r == 0 && e->t.object_group[0])
		snprintf(e->object_group, sizeof(e->object_group), "%s", e->t.object_group);
	else if (r == 0)
		r = luks_host_object_group(e->cfg, e->t.group, e->object_group,
					   sizeof(e->object_group));
	if (r == 0 && e->t.kind == KMIP_KIND_PASSPHRASE && !(e->variant & ROLLBACK)) {
		r = luks_keyslot_free(e->cd, e->device);
		r = r < 0 ? r : 0;
	}
	e->prepared = r == 0;
	return r;
}

/* ------------------------------------------------- taking one back */

/* A keyslot as kmipcrypt makes them: PBKDF2 with exactly KMIP_KEYSLOT_PBKDF2_ITERATIONS. */
static bool kmipcrypt_like(struct crypt_device *cd, int keyslot)
{
	struct crypt_pbkdf_type pb;

	memset(&pb, 0, sizeof(pb));
	return crypt_keyslot_get_pbkdf(cd, keyslot, &pb) == 0 && pb.type &&
	       !strcmp(pb.type, CRYPT_KDF_PBKDF2) && pb.iterations == KMIP_KEYSLOT_PBKDF2_ITERATIONS;
}

/*
 * The keyslot the interrupted rotation added: removed if the record names
 * it, no kmip token uses it, and the new object's secret opens it; where
 * that secret cannot be had (the object gone, or the server will not give
 * it), if it looks like a kmipcrypt keyslot (PBKDF2, the iterations
 * kmipcrypt uses): a passphrase of the user's added since has not that.
 */
static int rb_keyslot(void *ctx)
{
	struct rekey *e = ctx;
	int k = e->rot.new_keyslot, r;
	uint8_t *secret = NULL;
	crypt_keyslot_info ki;
	bool had;

	if (k < 0)
		return 0;
	ki = crypt_keyslot_status(e->cd, k);
	if (ki != CRYPT_SLOT_ACTIVE && ki != CRYPT_SLOT_ACTIVE_LAST)
		return 0;	/* never added, or removed already */
	if (k == e->t.keyslot || kmip_owned(e, k)) {
		log_warn("%s: keyslot %d, named by the rotation record, is a binding's: kept",
			 e->device, k);
		return 0;
	}
	r = get_secret(e, e->rot.uid, &secret);
	had = r == 0;
	if (had) {
		r = secret_opens(e, k, secret);
		secmem_free(secret);
		if (r < 0)
			return r;
	} else {
		r = kmipcrypt_like(e->cd, k);
	}
	if (!r) {
		log_warn("%s: keyslot %d, named by the rotation record, is not proven to be the "
			 "interrupted rotation's (the secret of key '%s' %s): kept", e->device, k,
			 e->rot.uid, had ? "does not open it" : "cannot be had, and it does not "
			 "look like a kmipcrypt keyslot");
		return 0;
	}
	r = crypt_keyslot_destroy(e->cd, k);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "removing the interrupted rotation's keyslot");
	log_warn("%s: removed keyslot %d of the interrupted rotation", e->device, k);
	return 0;
}

/* The object the interrupted rotation made: the recorded one, and any its Name finds. */
static int rb_object(void *ctx)
{
	struct rekey *e = ctx;
	struct kmip_locate_filter f = { .name = e->rot.name };
	struct kmip_uid_list l = { 0 };
	char why[KMIP_FAILURE_TEXT_SIZE];
	size_t i;
	int r = 0;

	if (e->rot.uid[0])
		r = remove_object(e, e->rot.uid, KMIP_REVOKE_CESSATION_OF_OPERATION,
				  "kmipcrypt rekey: interrupted rotation taken back");
	if (r < 0)
		return r;
	r = kmip_locate(e->c, &f, &l);
	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device, kmip_failure_text(e->c, r, why,
				       sizeof(why), "looking for objects named '%s'", e->rot.name));
	for (i = 0; i < l.n && r >= 0; i++) {
		/* Servers ignore filters: only an object that has the Name. */
		if (!strcmp(l.uids[i], e->rot.uid) || !strcmp(l.uids[i], e->t.uid) ||
		    kmip_locate_verify(e->c, l.uids[i], &f) != 1)
			continue;
		r = remove_object(e, l.uids[i], KMIP_REVOKE_CESSATION_OF_OPERATION,
				  "kmipcrypt rekey: interrupted rotation taken back");
	}
	kmip_uid_list_free(&l);
	return r;
}

static int rb_record(void *ctx)
{
	struct rekey *e = ctx;
	int r = remove_record(e);

	if (r == 0 && e->res)
		e->res->restarted = true;
	return r;
}

/* ------------------------------------------------- a new rotation */

static int step_mark(void *ctx)
{
	struct rekey *e = ctx;
	int r;

	memset(&e->rot, 0, sizeof(e->rot));
	e->rot.version = KMIP_ROTATION_VERSION;
	e->rot.token = e->tid;
	e->rot.new_keyslot = e->rot.old_keyslot = -1;
	snprintf(e->rot.name, sizeof(e->rot.name), "%s", e->name);
	e->rid = -1;
	r = write_record(e);
	if (r == 0)
		log_info("%s: rotation of token %d recorded in token %d (new Name '%s')", e->device,
			 e->tid, e->rid, e->name);
	return r;
}

static bool undo_mark(void *ctx)
{
	struct rekey *e = ctx;

	if (e->left) {
		log_error("%s: the rotation record (token %d) is kept: it names what could not be "
			  "taken back; run 'kmipcrypt rekey %s' again (once the server answers) to "
			  "take it back", e->device, e->rid, e->device);
		return false;
	}
	if (remove_record(e) < 0) {
		log_error("%s: could NOT remove the rotation record (token %d); 'kmipcrypt rekey %s' "
			  "takes it back", e->device, e->rid, e->device);
		return false;
	}
	log_warn("%s: undone: removed the rotation record", e->device);
	return true;
}

/*
 * Envelope: the new key is the old one's replacement (kmip_replace_key():
 * KMIP Re-key where the server offers it, else Create of a key like it),
 * named e->name as well, Active (Encrypt needs it).  A key made but not
 * usable is taken back here: a step that fails leaves nothing behind.
 */
static int create_envelope_key(struct rekey *e)
{
	const struct kmip_replace_args a = { .name = e->name };
	struct kmip_replacement rep;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r;

	r = kmip_replace_key(e->c, e->t.uid, &a, &rep);
	if (r == 0 && rep.state == KMIP_STATE_PRE_ACTIVE)
		r = kmip_activate(e->c, rep.uid);
	if (r < 0) {
		log_error("%s: %s", e->device, kmip_failure_text(e->c, r, why, sizeof(why),
			  "making the replacement of key '%s'", e->t.uid));
		if (rep.uid[0] && remove_object(e, rep.uid, KMIP_REVOKE_CESSATION_OF_OPERATION,
						"kmipcrypt rekey failed; undone") < 0) {
			e->left = true;	/* the record keeps its Name: the next rekey finds it */
			log_error("%s: could NOT take back key '%s' (Name '%s')", e->device, rep.uid,
				  e->name);
		}
		return r;
	}
	snprintf(e->uid, sizeof(e->uid), "%s", rep.uid);
	log_info("%s: key '%s' made on the KMS by %s, %s (Name '%s')", e->device, e->uid,
		 rep.rekeyed ? "KMIP Re-key" : "Create", rep.state ? kmip_state_name(rep.state) :
		 "State unknown", e->name);
	return 0;
}

static int step_create(void *ctx)
{
	struct rekey *e = ctx;
	struct kmip_new_object no = { .name = e->name, .group = e->object_group };
	char why[KMIP_FAILURE_TEXT_SIZE];
	const char *what = "registering the new secret";
	int r;

	switch (e->t.kind) {
	case KMIP_KIND_PASSPHRASE:
		e->secret = secmem_alloc(KMIP_SECRET_BYTES);
		if (!e->secret)
			return -ENOMEM;
		r = random_bytes(e->secret, KMIP_SECRET_BYTES);
		if (r == 0)
			r = kmip_register_secret(e->c, e->secret, KMIP_SECRET_BYTES, &no, e->uid);
		break;
	case KMIP_KIND_VOLUME_KEY:
		what = "registering the volume key anew";
		no.usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
		r = kmip_register_key(e->c, e->vk, e->vk_len, &no, e->uid);
		break;
	case KMIP_KIND_ENVELOPE:
		return create_envelope_key(e);
	default:
		return log_error_errno(-EINVAL, "%s: unknown kind %d", e->device, (int)e->t.kind);
	}
	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device, kmip_failure_text(e->c, r, why,
				       sizeof(why), "%s on the KMS", what));
	log_info("%s: %s '%s' created on the KMS, Pre-Active (Name '%s', Object Group '%s')",
		 e->device, e->t.kind == KMIP_KIND_PASSPHRASE ? "Secret Data" : "Symmetric Key",
		 e->uid, e->name, e->object_group);
	return 0;
}

/* The new object, revoked first if it was activated (one undo for create and activate). */
static bool undo_create(void *ctx)
{
	struct rekey *e = ctx;

	if (remove_object(e, e->uid, KMIP_REVOKE_CESSATION_OF_OPERATION,
			  "kmipcrypt rekey failed; undone") < 0) {
		e->left = true;
		log_error("%s: could NOT undo key '%s' on the KMS", e->device, e->uid);
		return false;
	}
	log_warn("%s: undone: key '%s' taken off the KMS", e->device, e->uid);
	return true;
}

static int step_record(void *ctx)
{
	struct rekey *e = ctx;
	int r = 0;

	snprintf(e->rot.uid, sizeof(e->rot.uid), "%s", e->uid);
	if (e->t.kind == KMIP_KIND_PASSPHRASE) {
		/* Named before it exists: a crash after the add finds it by the record. */
		r = luks_keyslot_free(e->cd, e->device);
		e->rot.new_keyslot = r;
	}
	if (r >= 0)
		r = write_record(e);
	if (r < 0) {
		e->rot.uid[0] = '\0';
		e->rot.new_keyslot = -1;
	}
	return r;
}

static int step_keyslot(void *ctx)
{
	struct rekey *e = ctx;
	int r = luks_keyslot_add_secret(e->cd, e->device, e->rot.new_keyslot, e->vk, e->vk_len,
					e->secret, KMIP_SECRET_BYTES);

	if (r < 0)
		return r;
	e->new_slot = r;
	return 0;
}

static bool undo_keyslot(void *ctx)
{
	struct rekey *e = ctx;
	int r = crypt_keyslot_destroy(e->cd, e->new_slot);

	if (r < 0) {
		e->left = true;
		log_error("%s: could NOT remove keyslot %d: %s; 'kmipcrypt rekey %s' removes it",
			  e->device, e->new_slot, strerror(-r), e->device);
		return false;
	}
	log_warn("%s: undone: removed keyslot %d", e->device, e->new_slot);
	return true;
}

/* The new keyslot held by the record: no keyslot without a token. */
static int step_assign(void *ctx)
{
	struct rekey *e = ctx;

	e->rot.keyslots[0] = e->new_slot;
	e->rot.n_keyslots = 1;
	return write_record(e);
}

static int step_activate(void *ctx)
{
	struct rekey *e = ctx;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r = kmip_activate(e->c, e->uid);

	if (r < 0)
		return log_error_errno(r, "%s: %s", e->device, kmip_failure_text(e->c, r, why,
				       sizeof(why), "activating key '%s'", e->uid));
	return 0;
}

/* Envelope: the keyslot secret encrypted by the new key, for the new token. */
static int step_encrypt(void *ctx)
{
	struct rekey *e = ctx;

	return luks_envelope_encrypt(e->c, e->device, e->uid, e->uuid, e->t.keyslot, e->secret,
				     &e->env);
}

/* The old object (and keyslot) in the record, before the token lets go of them. */
static int step_hold(void *ctx)
{
	struct rekey *e = ctx;

	snprintf(e->rot.old_uid, sizeof(e->rot.old_uid), "%s", e->t.uid);
	if (e->t.kind == KMIP_KIND_PASSPHRASE) {
		e->rot.old_keyslot = e->t.keyslot;
		e->rot.keyslots[e->rot.n_keyslots++] = e->t.keyslot;
	}
	return write_record(e);
}

/* The token the commit writes: the new object; its keyslot (passphrase) or envelope (envelope). */
static void new_token(struct rekey *e)
{
	struct kmip_token *nt = &e->nt;
	int v = kmip_client_version(e->c);

	*nt = e->t;
	snprintf(nt->uid, sizeof(nt->uid), "%s", e->uid);
	if (e->t.kind == KMIP_KIND_PASSPHRASE)
		nt->keyslot = e->new_slot;
	if (e->t.kind == KMIP_KIND_ENVELOPE) {
		nt->mode = e->env.mode;
		memcpy(nt->ciphertext, e->env.ciphertext, sizeof(nt->ciphertext));
		nt->ciphertext_len = e->env.ciphertext_len;
		memcpy(nt->iv, e->env.iv, sizeof(nt->iv));
		nt->iv_len = e->env.iv_len;
		memcpy(nt->tag, e->env.tag, sizeof(nt->tag));
		nt->tag_len = e->env.tag_len;
	} else {
		snprintf(nt->object_group, sizeof(nt->object_group), "%s", e->object_group);
	}
	nt->protocol = v > 0 ? v : 0;
}

/* The new binding proven before it replaces the old: what unlock will do. */
static int step_verify(void *ctx)
{
	struct rekey *e = ctx;
	struct luks_proof p = { 0 };

	new_token(e);
	/* The passphrase's new keyslot is the record's until the commit. */
	return luks_prove(e->cd, e->device, e->t.kind == KMIP_KIND_PASSPHRASE ? e->rid : e->tid,
			  &e->nt, e->c, e->kek_file, &p);
}

static int step_commit(void *ctx)
{
	struct rekey *e = ctx;
	char *json = NULL;
	int r;

	r = kmip_token_format(&e->nt, &json);
	if (r < 0)
		return r;
	r = crypt_token_json_set(e->cd, e->tid, json);
	free(json);
	if (r < 0)
		return luks_crypt_fail(r, e->device, "switching the token to the new key");
	log_info("%s: token %d now names key '%s'%s", e->device, e->tid, e->uid,
		 e->t.kind == KMIP_KIND_PASSPHRASE ? " and its keyslot" : "");
	e->t = e->nt;
	e->switched = true;
	return 0;
}

/* A rotation found past its commit: this run starts after it. */
static int step_resume(void *ctx)
{
	struct rekey *e = ctx;

	snprintf(e->uid, sizeof(e->uid), "%s", e->rot.uid);
	e->switched = true;
	return 0;
}

/* ------------------------------------------------ after the commit */

/* A step after the commit that could not do its part: said, remembered, never a failure. */
static void not_done(struct rekey *e, int r)
{
	if (!e->unfinished)
		e->unfinished_err = r;
	e->unfinished = true;
}

static int step_drop(void *ctx)
{
	struct rekey *e = ctx;
	int k = e->rot.old_keyslot, r;
	crypt_keyslot_info ki;

	if (k < 0)
		return 0;
	ki = crypt_keyslot_status(e->cd, k);
	if (ki != CRYPT_SLOT_ACTIVE && ki != CRYPT_SLOT_ACTIVE_LAST)
		return 0;	/* removed already */
	if (k == e->t.keyslot || kmip_owned(e, k)) {
		log_warn("%s: keyslot %d (the old one) is a binding's now: kept", e->device, k);
		return 0;
	}
	r = crypt_keyslot_destroy(e->cd, k);
	if (r < 0) {
		luks_crypt_fail(r, e->device, "removing the old keyslot");
		not_done(e, -ELUKS);
		return 0;
	}
	log_info("%s: old keyslot %d removed", e->device, k);
	return 0;
}

static int step_link(void *ctx)
{
	struct rekey *e = ctx;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r;

	/* Only where the server says it has Add Attribute: PyKMIP 0.10 never answers one. */
	r = kmip_server_offers(e->c, KMIP_OP_ADD_ATTRIBUTE);
	if (r <= 0) {
		log_info("%s: keys not linked: the server does not offer Add Attribute (its Query)",
			 e->device);
		return 0;
	}
	r = kmip_link_replacement(e->c, e->rot.old_uid, e->uid);
	if (r == 0)
		log_info("%s: key '%s' linked to its replacement '%s'", e->device, e->rot.old_uid,
			 e->uid);
	else
		log_info("%s: keys not linked (best effort): %s", e->device,
			 kmip_failure_text(e->c, r, why, sizeof(why), "linking '%s' to '%s'",
					   e->rot.old_uid, e->uid));
	return 0;
}

static int step_revoke(void *ctx)
{
	struct rekey *e = ctx;
	const char *old = e->rot.old_uid;
	char why[KMIP_FAILURE_TEXT_SIZE], msg[KMIP_TEXT_SIZE];
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_SUPERSEDED, .message = msg };
	struct kmip_attrs a;
	int r;

	snprintf(msg, sizeof(msg), "kmipcrypt rekey: replaced by %.200s", e->uid);
	memset(&a, 0, sizeof(a));
	r = kmip_get_attributes(e->c, old, KMIP_ATTR_STATE, &a);
	if (r == -ENOENT) {
		log_info("%s: the old key '%s' is not on the server any more", e->device, old);
		return 0;
	}
	if (r == 0 && (!(a.present & KMIP_ATTR_STATE) || a.state != KMIP_STATE_ACTIVE)) {
		log_info("%s: the old key '%s' is %s already", e->device, old,
			 kmip_state_name(a.state));
		return 0;
	}
	if (r == 0)
		r = kmip_revoke(e->c, old, &rv);
	if (r < 0) {
		log_error("%s: %s", e->device, kmip_failure_text(e->c, r, why, sizeof(why),
			  "revoking the old key '%s'", old));
		not_done(e, r);
		return 0;
	}
	log_info("%s: the old key '%s' revoked (Superseded)", e->device, old);
	return 0;
}

static int step_destroy(void *ctx)
{
	struct rekey *e = ctx;
	const char *old = e->rot.old_uid;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r;

	if (e->unfinished)	/* not revoked: an Active key is not destroyed */
		return 0;
	r = kmip_destroy(e->c, old);
	if (r == -ENOENT)
		r = 0;
	if (r < 0) {
		log_error("%s: %s", e->device, kmip_failure_text(e->c, r, why, sizeof(why),
			  "destroying the old key '%s'", old));
		not_done(e, r);
		return 0;
	}
	log_info("%s: the old key '%s' destroyed", e->device, old);
	if (e->res)
		e->res->old_destroyed = true;
	return 0;
}

static int step_finish(void *ctx)
{
	struct rekey *e = ctx;
	int r;

	if (e->unfinished) {
		log_error("%s: the volume unlocks with the new key '%s', but the rotation is not "
			  "finished (see above); the record (token %d) stays: run 'kmipcrypt rekey "
			  "%s' again to finish it", e->device, e->uid, e->rid, e->device);
		return 0;
	}
	r = remove_record(e);
	if (r < 0)
		not_done(e, r);
	return 0;
}

/* ------------------------------------------------------------- table */

static const struct luks_step rekey_steps[] = {
	/* An interrupted rotation that did not reach its commit, taken back (no undo: re-run). */
	{ .name = "unkeyslot", .run = rb_keyslot, .when = ROLLBACK, .also = PASSPHRASE },
	{ .name = "unobject",  .run = rb_object,  .when = ROLLBACK },
	{ .name = "unrecord",  .run = rb_record,  .when = ROLLBACK },
	/* A new rotation; create's undo also takes back what activate did. */
	{ .name = "mark",      .run = step_mark,     .undo = undo_mark,    .when = FRESH },
	{ .name = "create",    .run = step_create,   .undo = undo_create,  .when = FRESH },
	{ .name = "record",    .run = step_record,   .when = FRESH },
	{ .name = "keyslot",   .run = step_keyslot,  .undo = undo_keyslot, .when = FRESH,
	  .also = PASSPHRASE },
	{ .name = "assign",    .run = step_assign,   .when = FRESH, .also = PASSPHRASE },
	{ .name = "activate",  .run = step_activate, .when = FRESH, .also = PASSPHRASE | VOLUME_KEY },
	{ .name = "encrypt",   .run = step_encrypt,  .when = FRESH, .also = ENVELOPE },
	{ .name = "hold",      .run = step_hold,     .when = FRESH },
	{ .name = "verify",    .run = step_verify,   .when = FRESH },
	{ .name = "commit",    .run = step_commit,   .when = FRESH, .commit = true },
	{ .name = "resume",    .run = step_resume,   .when = FINISH, .commit = true },
	/* After the commit: never a failure (not_done()), always the same order. */
	{ .name = "drop",      .run = step_drop,     .also = PASSPHRASE },
	{ .name = "link",      .run = step_link },
	{ .name = "revoke",    .run = step_revoke },
	{ .name = "destroy",   .run = step_destroy,  .also = DESTROY },
	{ .name = "finish",    .run = step_finish },
};

static const struct luks_txn rekey_txn = {
	.prepare = prepare,
	.what = "rekey",
	.committed = "the token was switched to the new key",
	.outcome = "the volume unlocks with the new key",
	.steps = rekey_steps,
	.n_steps = sizeof(rekey_steps) / sizeof(rekey_steps[0]),
	.commit_final = true,
};

/* ------------------------------------------------------------- rekey */

/*
 * One rekey of a volume at a time: two would take back each other's
 * rotation half-way.  An exclusive flock(2) on a lock file of the device
 * (its device number, or an image file's device and inode) in
 * REKEY_LOCK_DIR, held until the process ends; not on the device itself,
 * which libcryptsetup locks on its own.  Where the directory cannot be
 * made (not root), a warning: nothing else runs rekey there.  *fd the lock
 * (-1 none); 0, or -EBUSY (logged) when another rekey holds it.
 */
static int take_lock(const char *device, int *fd)
{
	char path[sizeof(REKEY_LOCK_DIR) + 64];
	struct stat st;

	*fd = -1;
	if (stat(device, &st) < 0)
		return log_error_errno(-errno, "%s: %m", device);
	if (S_ISBLK(st.st_mode))
		snprintf(path, sizeof(path), "%s/rekey-b%llx.lock", REKEY_LOCK_DIR,
			 (unsigned long long)st.st_rdev);
	else
		snprintf(path, sizeof(path), "%s/rekey-f%llx-%llx.lock", REKEY_LOCK_DIR,
			 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (mkdir(REKEY_LOCK_DIR, 0700) < 0 && errno != EEXIST)
		goto nolock;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (*fd < 0)
		goto nolock;
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	close(*fd);
	*fd = -1;
	if (errno == EWOULDBLOCK)
		return log_error_errno(-EBUSY, "%s: another kmipcrypt rekey of this volume is "
				       "running (it holds %s); let it finish, then look with "
				       "'kmipcrypt status %s'", device, path, device);
nolock:
	log_warn("%s: cannot take the rekey lock %s (%m); make sure no other kmipcrypt rekey of "
		 "this volume runs meanwhile", device, path);
	return 0;
}

/* The token to rotate: token_id, or the device's only kmip token; read and valid. */
static int pick_token(struct rekey *e)
{
	int ids[TOKENS_MAX], n = luks_kmip_tokens(e->cd, ids, TOKENS_MAX), i;

	if (e->tid < 0) {
		if (n == 0)
			return log_error_errno(-ELUKS, "%s: no kmip token (bind the volume with "
					       "'kmipcrypt enroll %s' first)", e->device, e->device);
		if (n > 1)
			return log_error_errno(-EINVAL, "%s: %d kmip tokens; say which with --token "
					       "(see 'kmipcrypt status %s')", e->device, n, e->device);
		e->tid = ids[0];
	} else {
		for (i = 0; i < n && ids[i] != e->tid; i++)
			;
		if (i == n)
			return log_error_errno(-ELUKS, "%s: token %d is not a kmip token", e->device,
					       e->tid);
	}
	if (luks_token_read(e->cd, e->device, e->tid, &e->t) < 0)
		return log_error_errno(-ELUKS, "%s: token %d is not a valid kmip token (above); "
				       "rekey replaces the key of a valid one only", e->device, e->tid);
	return 0;
}

/* What the header says of an earlier rotation of the token: the phase of this run. */
static int find_phase(struct rekey *e)
{
	const struct kmip_rotation *x = &e->rot;
	int r = luks_rotation_of(e->cd, e->device, e->tid, &e->rid, &e->rot);

	if (r == -ENOENT) {
		e->rid = -1;
		e->variant |= FRESH;
		return 0;
	}
	if (r == -EINVAL)
		return log_error_errno(-ELUKS, "%s: token %d is an invalid kmip-rotation token "
				       "(above) that may record a rotation of token %d, so rekey "
				       "cannot tell what it did.  Look at it ('cryptsetup token export "
				       "--token-id %d %s'); remove it with 'cryptsetup token remove "
				       "--token-id %d %s', then rekey again", e->device, e->rid,
				       e->tid, e->rid, e->device, e->rid, e->device);
	if (r == -EEXIST)
		return log_error_errno(-ELUKS, "%s: two kmip-rotation tokens record a rotation of "
				       "token %d (the second: token %d); remove the one that is not "
				       "rekey's with 'cryptsetup token remove --token-id N %s'",
				       e->device, e->tid, e->rid, e->device);
	if (r < 0)
		return r;
	if (x->old_uid[0] && !strcmp(e->t.uid, x->uid)) {
		e->variant |= FINISH;
		snprintf(e->old_uid, sizeof(e->old_uid), "%s", x->old_uid);
		return 0;
	}
	if (strcmp(e->t.uid, x->uid) && (!x->old_uid[0] || !strcmp(e->t.uid, x->old_uid))) {
		e->variant |= ROLLBACK | FRESH;
		return 0;
	}
	return log_error_errno(-ELUKS, "%s: the rotation record (token %d) does not fit token %d "
			       "(key '%s'; the record: new '%s', old '%s'); remove the record with "
			       "'cryptsetup token remove --token-id %d %s' once you know which key "
			       "is right", e->device, e->rid, e->tid, e->t.uid, x->uid, x->old_uid,
			       e->rid, e->device);
}

int luks_rekey(const char *device, struct config *cfg, const struct rekey_opts *o,
	       struct rekey_result *out)
{
	struct rekey e = {
		.device = device, .cfg = cfg, .o = o, .tid = o->token_id, .rid = -1,
		.new_slot = -1, .res = out,
	};
	const char *u;
	int r, lock = -1;

	if (out)
		memset(out, 0, sizeof(*out));
	e.rot.new_keyslot = e.rot.old_keyslot = -1;
	r = luks_dev_open(device, &e.cd);
	if (r == 0)
		r = luks_reencrypt_refuse(e.cd, device, "rekey");
	if (r == 0)
		r = take_lock(device, &lock);
	if (r == 0)
		r = pick_token(&e);
	if (r == 0) {
		u = crypt_get_uuid(e.cd);
		snprintf(e.uuid, sizeof(e.uuid), "%s", u ? u : "");
		snprintf(e.old_uid, sizeof(e.old_uid), "%s", e.t.uid);
		e.variant = (1u << e.t.kind) | (o->destroy_old ? DESTROY : 0);
		r = find_phase(&e);
	}
	if (r == 0)
		r = luks_steps_run(&rekey_txn, device, e.variant, &e);
	if (r == 0 && e.unfinished)
		r = e.unfinished_err ? e.unfinished_err : -EAGAIN;
	/* What the header still records, and what finishes it. */
	if (r < 0 && e.rid >= 0 && e.switched)
		log_error("%s: the volume unlocks with the new key '%s'; the rest of the rotation "
			  "is recorded (token %d): run 'kmipcrypt rekey %s' again to finish it",
			  device, e.uid, e.rid, device);
	else if (r < 0 && e.rid >= 0 && e.prepared && !e.left)
		log_error("%s: an interrupted rotation is still recorded (token %d): run "
			  "'kmipcrypt rekey %s' again to take it back", device, e.rid, device);
	if (out && e.tid >= 0) {
		out->token_id = e.tid;
		out->kind = e.t.kind;
		out->finished_earlier = (e.variant & FINISH) != 0;
		out->unfinished = e.unfinished;
		out->switched = e.switched;
		out->keyslot = e.t.keyslot;
		snprintf(out->old_uid, sizeof(out->old_uid), "%s", e.old_uid);
		snprintf(out->new_uid, sizeof(out->new_uid), "%s", e.uid);
	}
	secmem_free(e.vk);
	secmem_free(e.secret);
	explicit_bzero(&e.t, sizeof(e.t));
	explicit_bzero(&e.nt, sizeof(e.nt));
	explicit_bzero(&e.env, sizeof(e.env));
	kmip_session_close(e.conn);
	crypt_free(e.cd);
	if (lock >= 0)
		close(lock);	/* the lock goes with it */
	return r;
}
