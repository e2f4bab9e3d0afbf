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
 *    "protocol":"1.4"            (optional: the KMIP version spoken at enroll, a hint)
 *    "object_group":"..."        (optional: the KMIP Object Group enroll put the
 *                                 object in; absent in tokens made before it existed)
 *   }
 * kind volume-key binds to an unbound keyslot (see luks.h, luks_enroll).
 * A writer uses the oldest format that can say what it writes: format 2
 * only for an AES-GCM envelope.
 */
#ifndef KMIPCRYPT_TOKEN_H
#define KMIPCRYPT_TOKEN_H

#include <stdbool.h>
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
	/*
	 * The Object Group enroll put the object "uid" in, "" if the token
	 * does not say (made before the member existed): where one Locate of
	 * the group's Active objects can watch it (kmipcryptd).  Printable
	 * text (UTF-8 without controls, util/escape.h), 1 to KMIP_TEXT_MAX
	 * bytes.  A hint like protocol: the key's own State decides.
	 */
	char object_group[KMIP_TEXT_SIZE];
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

/* ------------------------------------------- the rotation record token */

/*
 * The LUKS2 token of type "kmip-rotation": while `kmipcrypt rekey` replaces
 * the KMS object of a kmip token, the volume carries this second token,
 * beside it, and only then (docs/rekey.md, docs/token.md):
 *
 *   {"type":"kmip-rotation","keyslots":["5","1"],"kmip_version":1,"token":"0",
 *    "name":"...","uid":"...","new_keyslot":"5","old_uid":"...",
 *    "old_keyslot":"1","mac":"BASE64"}
 *
 *   keyslots      LUKS2's assignment: the keyslots this token holds, so that
 *                 none is ever without a token (the new one until the
 *                 commit, the old one from just before it until it is
 *                 removed; libcryptsetup unassigns a destroyed keyslot
 *                 itself).  Each must be new_keyslot or old_keyslot.
 *   kmip_version  the format version of this token: 1
 *   token         the kmip token under rotation ("0".."31")
 *   name          the KMIP Name of the new object, written before it is
 *                 created (printable text, 1..255 bytes)
 *   uid           the new object, once created (optional)
 *   new_keyslot   the new keyslot (passphrase kind), written before it is
 *                 added (optional; needs uid)
 *   old_uid       the object being retired, once held (optional; needs uid)
 *   old_keyslot   the keyslot to remove after the commit (passphrase kind;
 *                 optional; needs old_uid)
 *   mac           base64 of HMAC-SHA256, keyed by the volume key, of every
 *                 member but keyslots and type, with the volume's UUID
 *                 (kmip_rotation_mac()).  The header is hostile input, and
 *                 this record names objects to revoke and destroy and
 *                 keyslots to remove: rekey acts on it only if whoever wrote
 *                 it held the volume key.  keyslots is left out because
 *                 libcryptsetup changes it (a destroyed keyslot), and says
 *                 nothing that the other members do not.
 *
 * Unknown members, wrong JSON types or sizes: refused, as for the kmip token.
 */
#define KMIP_ROTATION_TOKEN_TYPE	"kmip-rotation"
#define KMIP_ROTATION_VERSION		1
#define KMIP_ROTATION_KEYSLOTS_MAX	2
#define KMIP_ROTATION_MAC_LEN		32	/* HMAC-SHA256 */

struct kmip_rotation {
	int version;
	int token;				/* the kmip token under rotation */
	size_t n_keyslots;			/* LUKS2's assignment */
	int keyslots[KMIP_ROTATION_KEYSLOTS_MAX];
	char name[KMIP_TEXT_SIZE];		/* KMIP Name of the new object */
	char uid[KMIP_UID_SIZE];		/* the new object, "" until recorded */
	int new_keyslot;			/* -1 none */
	char old_uid[KMIP_UID_SIZE];		/* the object retired, "" until held */
	int old_keyslot;			/* -1 none */
	uint8_t mac[KMIP_ROTATION_MAC_LEN];
};

/*
 * Strict parse of a rotation token's JSON, as kmip_token_parse() (the same
 * limits; messages "WHERE: invalid kmip-rotation token: ...").  0 or
 * -EINVAL (logged); on failure *r is zeroed, its keyslots -1.
 */
int kmip_rotation_parse(const char *json, size_t len, const char *where, struct kmip_rotation *r);
/* JSON text (malloc'd, caller frees) of r, mac included; what it writes, it parses. */
int kmip_rotation_format(const struct kmip_rotation *r, char **json);
/*
 * The record's MAC: HMAC-SHA256, keyed by the volume key vk, of
 *   "kmipcrypt-rotation:1" NUL uuid NUL token NUL name NUL uid NUL new_keyslot NUL
 *   old_uid NUL old_keyslot NUL
 * (numbers in decimal, "" for none; no member can hold a NUL).  0, or
 * -EINVAL (no key, no uuid, a field out of range).
 */
int kmip_rotation_mac(const struct kmip_rotation *r, const char *volume_uuid, const uint8_t *vk,
		      size_t vk_len, uint8_t mac[KMIP_ROTATION_MAC_LEN]);
/* Does r->mac verify for this volume and key?  Constant-time compare. */
bool kmip_rotation_mac_ok(const struct kmip_rotation *r, const char *volume_uuid, const uint8_t *vk,
			  size_t vk_len);

/* ----------------------------------------------- this host's Object Group */

/*
 * The Object Group enroll gave its KMS objects on every host before each
 * host had its own (luks_host_object_group()), and still gives them where
 * this host has no usable machine ID: `kmipcrypt key list` looks for
 * objects an enroll left behind in it as well as in this host's group.
 */
#define LUKS_ENROLL_OBJECT_GROUP	"kmipcrypt"
/*
 * The Object Group an envelope enroll gives its key until the token naming
 * it is written (the one kind whose key must be Active before that: KMIP
 * Encrypt needs it); then it moves the key to its own group.  `kmipcrypt
 * key list` marks objects in it as left behind by an enroll that did not
 * finish, so no other object may be put in it (--object-group, object_group
 * in kmipcrypt.conf: refused).
 */
#define LUKS_ENROLL_PENDING_GROUP	"kmipcrypt-enrolling"

#define LUKS_MACHINE_ID_PATH	"/etc/machine-id"
/*
 * kmipcrypt's application ID for systemd's app-specific machine ID
 * (sd_id128_get_machine_app_specific(), `systemd-id128 machine-id
 * --app-specific=ID`).  Fixed for ever: changing it moves every host's
 * default Object Group.
 */
#define LUKS_OBJECT_GROUP_APP_ID	"e3073266823a4e0ba3391372663a44a6"
#define LUKS_HOST_GROUP_PREFIX		"kmipcrypt-"
#define LUKS_HOST_GROUP_HEX		16	/* hex digits of the app-specific ID used */
#define LUKS_HOST_GROUP_LEN		(sizeof(LUKS_HOST_GROUP_PREFIX) - 1 + LUKS_HOST_GROUP_HEX)

/*
 * The Object Group enroll gives this host's KMS objects on the servers of
 * server_group (NULL: "default"), into buf (KMIP_TEXT_SIZE bytes always
 * suffice):
 *   1. object_group of that group in cfg (kmipcrypt.conf), if set;
 *   2. else "kmipcrypt-" and the first 16 hex digits of this machine's
 *      app-specific machine ID (luks_machine_object_group()): one group per
 *      host, the same across reboots and host name changes;
 *   3. else (no usable /etc/machine-id; logged as a warning naming the
 *      file) LUKS_ENROLL_OBJECT_GROUP, "kmipcrypt", the group every host
 *      shared before.
 * cfg may be NULL (2 then 3).  The one definition of the default, for
 * enroll, `kmipcrypt key list` and kmipcryptd.  0, or -ERANGE if len is too
 * small (logged).
 */
int luks_host_object_group(const struct config *cfg, const char *server_group, char *buf,
			   size_t len);
/* The same with another machine ID file than /etc/machine-id (tests). */
int luks_host_object_group_at(const struct config *cfg, const char *server_group,
			      const char *machine_id_path, char *buf, size_t len);
/*
 * "kmipcrypt-" + the first LUKS_HOST_GROUP_HEX lower-case hex digits of the
 * app-specific machine ID that the machine ID in path (machine-id(5): 32
 * lower-case hex digits and a newline) gives for LUKS_OBJECT_GROUP_APP_ID:
 * HMAC-SHA256 keyed by the machine ID, as systemd derives it (so `systemd-id128
 * machine-id --app-specific=LUKS_OBJECT_GROUP_APP_ID` shows it), because
 * machine-id(5) forbids sending the machine ID itself, or any part of it, over
 * the network.  0; -ENOENT no such file (not logged); -EINVAL not a machine ID
 * (not logged: *why says what, static text); other -errno if unreadable
 * (logged); -ERANGE len too small.
 */
int luks_machine_object_group(const char *path, char *buf, size_t len, const char **why);

#endif
