/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Binding LUKS2 volumes to KMIP objects: enroll, fetch, unlock, lock,
 * unbind, status.  On block devices and image files alike (libcryptsetup).
 *
 * Errors: negative errno.  KMIP and transport errors pass through as they
 * are (-ENOENT -EKEYREVOKED -ENOKEY -EPERM: key not usable, exit 4; network
 * exit 2; TLS exit 3).  A libcryptsetup failure is logged with its own errno
 * and message and returned as -ELUKS (exit 5), because its errnos collide
 * with KMIP's (-EPERM is "wrong passphrase" there, "permission denied" here).
 */
#ifndef KMIPCRYPT_LUKS_H
#define KMIPCRYPT_LUKS_H

#include <stdbool.h>
#include <errno.h>
#include <stddef.h>

#include "luks/token.h"

#define ELUKS EMEDIUMTYPE	/* "LUKS operation failed": see above */

struct config;
struct kmip_client;

/* PBKDF2 iterations of a kmip keyslot: the secret has full entropy (as systemd-cryptenroll). */
#define KMIP_KEYSLOT_PBKDF2_ITERATIONS	1000
#define KMIP_SECRET_BYTES		32

struct enroll_opts {
	enum kmip_secret_kind kind;
	const char *name;		/* KMIP Name; NULL: "kmipcrypt-<luks uuid>-<kind>" */
	const char *object_group;	/* NULL: "kmipcrypt" */
	const char *wrap_uid;		/* volume-key: wrap in transit by this KEK */
	const char *kek_file;		/* volume-key: host copy of that KEK (raw bytes) */
	const char *group;		/* server group; NULL: "default" */
	const char *passphrase;		/* an existing passphrase (locked memory) */
	size_t passphrase_len;
};

/*
 * Enroll: prove the passphrase, create the KMS object, add the keyslot,
 * write the token.  On any failure the earlier steps are undone (keyslot
 * removed, KMS object revoked and destroyed) and logged; the volume is
 * never left half-bound.  *token_id gets the new token.
 */
int luks_enroll(const char *device, struct config *cfg, const struct enroll_opts *o,
		int *token_id);

/*
 * The unlock secret of a token: check the key's State on the server first
 * (only Active unlocks; -ENOKEY Pre-Active, -EKEYREVOKED Deactivated or
 * Compromised, -ENOENT destroyed or not found, -EPERM another owner's), then
 * fetch (passphrase, volume-key) or decrypt (envelope).  *secret is locked
 * memory (secmem_free()).  For volume-key, *is_volume_key is set.
 */
int luks_fetch_secret(struct kmip_client *c, const struct kmip_token *t,
		      const char *kek_file, uint8_t **secret, size_t *len, bool *is_volume_key);

/*
 * Unlock: read the kmip token(s), fetch, activate as name; name NULL = check
 * only (verify the secret against the header, create no mapping).
 */
int luks_unlock(const char *device, const char *name, struct config *cfg);

enum lock_action { LOCK_SUSPEND = 1, LOCK_CLOSE };
/* Suspend (freeze I/O, wipe the key) or close (every further I/O fails, key wiped). */
int luks_lock(const char *name, enum lock_action a);

/* Remove token and keyslot (refuses the last keyslot); optionally revoke+destroy the object. */
int luks_unbind(const char *device, int token_id, bool destroy_key, struct config *cfg);

#endif
