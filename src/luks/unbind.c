/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unbind: remove a kmip token and its keyslot, then (if asked) revoke the
 * KMS object with Cessation of Operation and destroy it.
 *
 * Refused when no other keyslot bound to the volume would remain: removing
 * the last way in (or, for kind volume-key, the only pointer to the key that
 * is the last way in) would make the data unreachable.  The header is
 * changed first, the KMS second: a KMS that fails then leaves a key that no
 * token uses (said so, with the command to finish), never a token whose key
 * is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "util/log.h"

#define TOKENS_MAX	32

/* Another token of the device (valid or not) assigned to keyslot? */
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

static int destroy_key(struct config *cfg, const char *device, const struct kmip_token *t)
{
	struct kmip_revoke rv = {
		.reason = KMIP_REVOKE_CESSATION_OF_OPERATION,
		.message = "kmipcrypt unbind",
	};
	struct luks_conn *conn = NULL;
	struct kmip_client *c;
	struct kmip_attrs a;
	const char *srv;
	int r;

	r = luks_conn_open(cfg, t->group, luks_now_ms() + LUKS_DEADLINE_MS_DEFAULT, &conn);
	if (r < 0)
		goto fail;
	c = luks_conn_client(conn);
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
	srv = conn ? kmip_last_error(luks_conn_client(conn)) : "";
	log_error("%s: the token is removed, but key '%s' could not be revoked and destroyed: "
		  "%s%s%s; finish with 'kmipcrypt -g %s key destroy --revoke %s'", device, t->uid,
		  r == -EKEYREJECTED ? "TLS or authentication failure" : strerror(-r),
		  srv && *srv ? "; server says " : "", srv ? srv : "", t->group, t->uid);
out:
	luks_conn_close(conn);
	return r;
}

int luks_unbind(const char *device, int token_id, bool destroy, struct config *cfg)
{
	struct crypt_device *cd = NULL;
	struct kmip_token t;
	int ids[TOKENS_MAX], n, i, r, keyslot;
	bool valid, keep_slot;

	memset(&t, 0, sizeof(t));
	r = luks_dev_open(device, &cd);
	if (r < 0)
		return r;
	n = luks_kmip_tokens(cd, ids, TOKENS_MAX);
	if (token_id < 0) {
		if (n == 0) {
			r = log_error_errno(-ELUKS, "%s: no kmip token", device);
			goto out;
		}
		if (n > 1) {
			r = log_error_errno(-EINVAL, "%s: %d kmip tokens; say which with --token "
					    "(see 'kmipcrypt status %s')", device, n, device);
			goto out;
		}
		token_id = ids[0];
	} else {
		for (i = 0; i < n && ids[i] != token_id; i++)
			;
		if (i == n) {
			r = log_error_errno(-ELUKS, "%s: token %d is not a kmip token", device, token_id);
			goto out;
		}
	}
	/* The keyslot from the LUKS2 metadata: an invalid token can be removed too. */
	keyslot = luks_token_keyslot(cd, token_id);
	valid = luks_token_read(cd, device, token_id, &t) == 0;
	if (!valid && destroy) {
		r = log_error_errno(-EINVAL, "%s: token %d is not a valid kmip token, so its key "
				    "cannot be named; unbind without --destroy-key", device, token_id);
		goto out;
	}
	keep_slot = keyslot >= 0 && keyslot_shared(cd, token_id, keyslot);
	if (luks_bound_keyslots(cd, keep_slot ? -1 : keyslot) == 0) {
		r = log_error_errno(-ELUKS, "%s: refusing to unbind token %d: keyslot %d is the last "
				    "way to unlock this volume%s; add a passphrase first "
				    "('cryptsetup luksAddKey %s')", device, token_id, keyslot,
				    valid && t.kind == KMIP_KIND_VOLUME_KEY ?
				    " (with the volume key on the KMS)" : "", device);
		if (keyslot < 0 || (valid && t.kind == KMIP_KIND_VOLUME_KEY))
			log_error("%s: no other keyslot unlocks it: the token is the only pointer to "
				  "the volume key", device);
		goto out;
	}
	r = crypt_token_json_set(cd, token_id, NULL);
	if (r < 0) {
		r = luks_crypt_fail(r, device, "removing the token");
		goto out;
	}
	log_info("%s: token %d removed", device, token_id);
	if (keyslot >= 0 && !keep_slot) {
		r = crypt_keyslot_destroy(cd, keyslot);
		if (r < 0) {
			luks_crypt_fail(r, device, "removing the keyslot");
			log_error("%s: the token is removed but keyslot %d is not; remove it with "
				  "'cryptsetup luksKillSlot %s %d'", device, keyslot, device, keyslot);
			r = -ELUKS;
			goto out;
		}
		log_info("%s: keyslot %d removed", device, keyslot);
	} else if (keep_slot) {
		log_info("%s: keyslot %d kept: another token uses it", device, keyslot);
	}
	r = 0;
	if (destroy) {
		if (uid_shared(cd, token_id, t.uid))
			log_warn("%s: key '%s' is kept: another token of this volume uses it", device,
				 t.uid);
		else
			r = destroy_key(cfg, device, &t);
	}
out:
	explicit_bzero(&t, sizeof(t));
	crypt_free(cd);
	return r;
}
