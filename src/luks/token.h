/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The LUKS2 token of type "kmip": public metadata that names the KMIP object
 * and how to turn it into an unlock secret.  Never a secret in the clear,
 * never client credentials.  Format: docs/token.md.
 *
 *   {"type":"kmip","keyslots":["1"],"kmip_version":1,
 *    "kind":"passphrase"|"volume-key"|"envelope",
 *    "uid":"...","group":"default",
 *    "wrap_uid":"..."            (volume-key, optional: Key Wrapping Specification)
 *    "ciphertext":"BASE64", "iv":"BASE64"   (envelope: AES-CBC, PKCS#5 padding,
 *                                 by the server-side key "uid")
 *   }
 * kind volume-key binds to an unbound keyslot (see luks.h, luks_enroll).
 */
#ifndef KMIPCRYPT_TOKEN_H
#define KMIPCRYPT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "kmip/kmip.h"
#include "util/config.h"

#define KMIP_TOKEN_TYPE		"kmip"
#define KMIP_TOKEN_VERSION	1
#define KMIP_TOKEN_JSON_MAX	16384	/* bytes of token JSON accepted */
#define KMIP_ENVELOPE_MAX	256	/* bytes of envelope ciphertext */

enum kmip_secret_kind {
	KMIP_KIND_PASSPHRASE = 1,	/* Secret Data (Password) unlocks a PBKDF2 keyslot */
	KMIP_KIND_VOLUME_KEY,		/* the volume key itself, optionally wrapped in transit */
	KMIP_KIND_ENVELOPE,		/* keyslot secret encrypted by a server-side key */
};

struct kmip_token {
	int version;
	enum kmip_secret_kind kind;
	int keyslot;
	char uid[KMIP_UID_SIZE];		/* the object holding the secret (envelope: the KEK) */
	char group[CONFIG_NAME_MAX];		/* server group in kmipcrypt.conf */
	char wrap_uid[KMIP_UID_SIZE];		/* volume-key: wrapping key, "" if none */
	uint8_t ciphertext[KMIP_ENVELOPE_MAX];	/* envelope */
	size_t ciphertext_len;
	uint8_t iv[KMIP_IV_MAX];
	size_t iv_len;
};

const char *kmip_kind_name(enum kmip_secret_kind k);
int kmip_kind_parse(const char *s, enum kmip_secret_kind *k);

/*
 * Strict validation and parsing of token JSON: type "kmip", known version,
 * exactly one keyslot, known kind, every field of the right JSON type and
 * size, base64 that decodes, no field the kind does not use.  -EINVAL with
 * the reason logged (prefixed by `where`, e.g. "/dev/sda2 token 0").
 */
int kmip_token_parse(const char *json, size_t len, const char *where, struct kmip_token *t);
/* JSON text (malloc'd, caller frees). */
int kmip_token_format(const struct kmip_token *t, char **json);

#endif
