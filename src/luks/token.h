/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The LUKS2 token of type "kmip": public metadata that names the KMIP object
 * and how to turn it into an unlock secret.  Never a secret in the clear,
 * never client credentials.  Format: docs/token.md.
 *
 *   {"type":"kmip","keyslots":["1"],"kmip_version":1|2,
 *    "kind":"passphrase"|"volume-key"|"envelope",
 *    "uid":"...","group":"default",
 *    "wrap_uid":"..."            (volume-key, optional: Key Wrapping Specification)
 *    "ciphertext":"BASE64", "iv":"BASE64"   (envelope, by the server-side key "uid")
 *    "mode":"aes-gcm"|"aes-cbc"  (envelope, format 2 only, required there;
 *                                 format 1 envelopes are AES-CBC, PKCS#5 padding)
 *    "tag":"BASE64"              (envelope, mode aes-gcm: the 16-byte tag)
 *   }
 * kind volume-key binds to an unbound keyslot (see luks.h, luks_enroll).
 * A writer uses the oldest format that can say what it writes: format 2
 * only for an AES-GCM envelope.
 */
#ifndef KMIPCRYPT_TOKEN_H
#define KMIPCRYPT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "kmip/kmip.h"
#include "conf/config.h"

#define KMIP_TOKEN_TYPE		"kmip"
#define KMIP_TOKEN_VERSION_MIN	1	/* the formats this reader knows: 1 .. 2 */
#define KMIP_TOKEN_VERSION	2
#define KMIP_TOKEN_JSON_MAX	16384	/* bytes of token JSON accepted */
#define KMIP_ENVELOPE_MAX	256	/* bytes of envelope ciphertext */
#define KMIP_ENVELOPE_CBC_IV	16	/* bytes of an AES-CBC envelope's IV */
#define KMIP_ENVELOPE_GCM_IV	12	/* bytes of an AES-GCM envelope's nonce */
#define KMIP_ENVELOPE_TAG	16	/* bytes of an AES-GCM envelope's tag */
#define KMIP_VOLUME_UUID_SIZE	40	/* a LUKS2 UUID (36 characters) and its NUL */
/* The Additional Data of an AES-GCM envelope: "kmipcrypt-envelope:<LUKS2 UUID>:<keyslot>". */
#define KMIP_ENVELOPE_AAD_MAX	(sizeof("kmipcrypt-envelope::31") + KMIP_VOLUME_UUID_SIZE)

enum kmip_secret_kind {
	KMIP_KIND_PASSPHRASE = 1,	/* Secret Data (Password) unlocks a PBKDF2 keyslot */
	KMIP_KIND_VOLUME_KEY,		/* the volume key itself, optionally wrapped in transit */
	KMIP_KIND_ENVELOPE,		/* keyslot secret encrypted by a server-side key */
};

/* How an envelope's ciphertext was made (KMIP Encrypt with the key "uid"). */
enum kmip_envelope_mode {
	KMIP_ENVELOPE_AES_CBC = 1,	/* PKCS#5 padding, 16-byte IV; no integrity (format 1) */
	KMIP_ENVELOPE_AES_GCM,		/* 12-byte nonce, 16-byte tag, AAD = the volume (format 2) */
};

struct kmip_token {
	int version;
	enum kmip_secret_kind kind;
	int keyslot;
	char uid[KMIP_UID_SIZE];		/* the object holding the secret (envelope: the KEK) */
	char group[CONFIG_NAME_MAX];		/* server group in kmipcrypt.conf */
	char wrap_uid[KMIP_UID_SIZE];		/* volume-key: wrapping key, "" if none */
	int protocol;				/* KMIP protocol version the group's server spoke at
						 * enroll (KMIP_VERSION()), 0 unknown: a hint that
						 * saves the version negotiation, never trusted */
	uint8_t ciphertext[KMIP_ENVELOPE_MAX];	/* envelope */
	size_t ciphertext_len;
	uint8_t iv[KMIP_IV_MAX];
	size_t iv_len;
	enum kmip_envelope_mode mode;		/* envelope; 0 for the other kinds */
	uint8_t tag[KMIP_ENVELOPE_TAG];		/* envelope, AES-GCM */
	size_t tag_len;
	/*
	 * Not in the JSON: the UUID of the LUKS2 header the token was read
	 * from (luks_token_read() and the token plugin fill it in), which an
	 * AES-GCM envelope authenticates.  "" = unknown.
	 */
	char volume_uuid[KMIP_VOLUME_UUID_SIZE];
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
/*
 * JSON text (malloc'd, caller frees), in the oldest format version that can
 * express t (t->version is not read): 2 for an AES-GCM envelope, else 1.
 */
int kmip_token_format(const struct kmip_token *t, char **json);
const char *kmip_envelope_mode_name(enum kmip_envelope_mode m);

/*
 * The Authenticated Encryption Additional Data of an AES-GCM envelope:
 * the ASCII text "kmipcrypt-envelope:<volume UUID>:<keyslot>", so that the
 * server's Decrypt fails for a token copied to another volume or moved to
 * another keyslot.  Into buf (KMIP_ENVELOPE_AAD_MAX bytes); returns its
 * length, or -EINVAL for an empty or unprintable UUID or a bad keyslot.
 */
int kmip_envelope_aad(const char *volume_uuid, int keyslot, uint8_t *buf, size_t len);

#endif
