/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the files of src/luks; not a public interface. */
#ifndef KMIPCRYPT_LUKS_INTERNAL_H
#define KMIPCRYPT_LUKS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <libcryptsetup.h>

#include "luks/luks.h"

struct config;
struct config_group;
struct kmip_client;

/* device.c ----------------------------------------------------------- */

/*
 * crypt_init + crypt_load(LUKS2), libcryptsetup's messages routed to our
 * log (its errors at info level: we log our own summary as the error).
 * A LUKS1 or non-LUKS device, or one that cannot be read: logged, -ELUKS.
 */
int luks_dev_open(const char *device, struct crypt_device **cd);
void luks_dev_log_to_ours(struct crypt_device *cd);

/*
 * Log a libcryptsetup failure r of `what` on device (with its errno and a
 * hint for the usual causes: wrong passphrase, no device-mapper, busy) and
 * return -ELUKS.
 */
int luks_crypt_fail(int r, const char *device, const char *what);

/* Token ids of type "kmip", in order.  Returns the count (<= max). */
int luks_kmip_tokens(struct crypt_device *cd, int *ids, int max);
/* Token ids of type `type` (exactly), in order.  Returns the count (<= max). */
int luks_tokens_of_type(struct crypt_device *cd, const char *type, int *ids, int max);
/*
 * Read and strictly parse rotation token id (type "kmip-rotation", token.h);
 * logged errors.  -EINVAL invalid, -ENOENT none.
 */
int luks_rotation_read(struct crypt_device *cd, const char *device, int id, struct kmip_rotation *r);
/*
 * The rotation token recording a rotation of kmip token `token`: its id in
 * *rid and its record in *r (may be NULL), or -ENOENT.  A rotation token
 * that does not parse names no token for sure: if its "token" member still
 * reads as `token` (or cannot be read at all), -EINVAL with *rid set (the
 * parse error logged at the level the caller's log tee gives it).  Two
 * rotation tokens for one token: -EEXIST, *rid the second.
 */
int luks_rotation_of(struct crypt_device *cd, const char *device, int token, int *rid,
		     struct kmip_rotation *r);
/* Read and strictly parse one token; logged errors.  -EINVAL invalid, -ENOENT none. */
int luks_token_read(struct crypt_device *cd, const char *device, int id, struct kmip_token *t);

/* Keyslots bound to the volume's segment (ACTIVE or ACTIVE_LAST), except `except` (-1: none). */
int luks_bound_keyslots(struct crypt_device *cd, int except);
/* The keyslot the LUKS2 metadata assigns to token id, or -1 (first one). */
int luks_token_keyslot(struct crypt_device *cd, int id);

/* Is device-mapper usable here?  The old name of dmap_available() (dm/dm.h), for unlock.c. */
static inline bool luks_dm_available(void)
{
	return dmap_available();
}

/*
 * "luks-<uuid>", the mapping name systemd-cryptsetup gives a volume with no
 * name of its own (the one place that makes it: luks_default_name(), and
 * discover.c for --all).  uuid is from the header, hostile: only hex digits
 * and dashes make a name, else -EINVAL (not logged); -ENAMETOOLONG.
 */
int luks_uuid_name(const char *uuid, char *buf, size_t len);

/* secret.c ----------------------------------------------------------- */

/* The first free keyslot of cd, or -ELUKS (logged: "no free keyslot"). */
int luks_keyslot_free(struct crypt_device *cd, const char *device);
/* The PBKDF of the next keyslot added: PBKDF2-SHA256, KMIP_KEYSLOT_PBKDF2_ITERATIONS. */
int luks_keyslot_set_pbkdf(struct crypt_device *cd, const char *device);
/*
 * A kmip keyslot: keyslot slot (CRYPT_ANY_SLOT: the first free one) for
 * the volume key vk, its passphrase the base64 of secret
 * (luks_secret_passphrase()), PBKDF2 as luks_keyslot_set_pbkdf().  The
 * keyslot number, or -ELUKS (logged).
 */
int luks_keyslot_add_secret(struct crypt_device *cd, const char *device, int slot,
			    const uint8_t *vk, size_t vk_len, const uint8_t *secret, size_t len);

/* envelope.c --------------------------------------------------------- */

/*
 * The envelope of a keyslot secret (KMIP_SECRET_BYTES): the server encrypts
 * it with key uid, AES-GCM bound to the volume (volume_uuid and keyslot as
 * Additional Data, kmip_envelope_aad()) where the server does it, else
 * AES-CBC with a warning (docs/token.md says why).  Into t's mode,
 * ciphertext, iv and tag.  0, or the failure (logged, naming device).
 */
int luks_envelope_encrypt(struct kmip_client *c, const char *device, const char *uid,
			  const char *volume_uuid, int keyslot, const uint8_t *secret,
			  struct kmip_token *t);

/* steps.c ------------------------------------------------------------ */

/*
 * The test hook KMIPCRYPT_FAIL_AT, for commands that do not run their steps
 * through luks_steps_run() (steps.h), which applies it itself.
 * Is KMIPCRYPT_FAIL_AT set to step?  Logs that the failure is injected; for
 * STEP:SIGNAL raises the signal and returns false.
 */
bool luks_fail_at(const char *step);
/* Say at once that KMIPCRYPT_FAIL_AT is set, and whether it names one of steps (NULL-ended). */
void luks_fail_at_check(const char *const *steps);

/* fetch.c ------------------------------------------------------------ */

/*
 * luks_fetch_secret() in steps, for many tokens in one request
 * (kmip_fetch_many): prepare (the request: KEK file read, Decrypt
 * parameters; logged errors), send q->f, finish with what it returned
 * (the secret in locked memory, or why not, logged as luks_fetch_secret()
 * logs it), clear (also after a failed prepare).  q->t must outlive q.
 */
struct luks_fetch {
	const struct kmip_token *t;
	const char *kek_file;
	struct kmip_fetch f;
	struct kmip_key_wrap wrap;
	struct kmip_crypt_params p;
	uint8_t aad[KMIP_ENVELOPE_AAD_MAX];
};
int luks_fetch_prepare(const struct kmip_token *t, const char *kek_file, struct luks_fetch *q);
int luks_fetch_finish(struct kmip_client *c, struct luks_fetch *q, int r, uint8_t **secret,
		      size_t *len, bool *is_volume_key);
void luks_fetch_clear(struct luks_fetch *q);

/* prove.c ------------------------------------------------------------ */

/*
 * Prove a binding: fetch the secret of token t (token_id, as
 * luks_token_read() returned it) exactly as unlock does (luks_fetch_secret,
 * kek_file for a wrapped volume key) and check it against the header of cd
 * WITHOUT activating anything:
 *   passphrase, envelope  the keyslot passphrase opens exactly t->keyslot,
 *                         which must be the keyslot the LUKS2 metadata
 *                         assigns to the token and be bound to the data;
 *   volume-key            the key is the volume key (its digest); the
 *                         token's own keyslot is not looked at (an unbound
 *                         keyslot whose passphrase nobody knows).
 * Three outcomes, in p->verdict:
 *   LUKS_PROVEN     returns 0; the object is this binding's secret;
 *   LUKS_DISPROVEN  it is not: a secret that does not open (-ELUKS, exit 5,
 *                   as unlock has always said it), or an object that cannot
 *                   be one: wrong Object Type or size (-EKEYMISMATCH);
 *   LUKS_UNPROVEN   cannot tell, the errno as is: the server unreachable
 *                   (2), TLS (3), the key not Active or not found (4), the
 *                   KEK file missing or unreadable (1), a libcryptsetup
 *                   failure other than a wrong secret (-ELUKS).
 * The reason is logged (as unlock logs it) and, with p->capture, its first
 * error line is kept in p->why (with p->quiet logged at debug level only:
 * the caller shows p->why); without capture p->why is a short errno text.
 * The secret lives in locked memory and is wiped on every path.  With
 * p->activate_name the check is the activation (or resume) itself.
 */
enum luks_verdict {
	LUKS_PROVEN = 0,
	LUKS_DISPROVEN,
	LUKS_UNPROVEN,
};

#define LUKS_WHY_MAX	LUKS_REASON_MAX

struct luks_proof {
	bool capture;		/* in: keep the first error line in why */
	bool quiet;		/* in: with capture, error lines at debug level */
	uint8_t *given;		/* in: a secret fetched already (locked memory, is_vk as
				 * given_vk): checked instead of fetching; luks_prove()
				 * takes it (frees or hands it over) */
	size_t given_len;
	bool given_vk;
	const char *activate_name;	/* in: prove by activating (or resuming) as this
					 * mapping: the activation is the check; NULL: no mapping */
	uint32_t activate_flags;	/* in: CRYPT_ACTIVATE_* for it */
	bool resume;			/* in: resume the suspended mapping instead */
	bool want_vk;			/* in: no activate_name; when proven, the volume key
					 * in vk (the check gives it: crypt_volume_key_get) */
	uint8_t *vk;			/* out, with want_vk and LUKS_PROVEN: locked memory,
					 * the caller's to secmem_free() */
	size_t vk_len;
	enum luks_verdict verdict;	/* out */
	char why[LUKS_WHY_MAX];	/* out: "" if proven */
};

int luks_prove(struct crypt_device *cd, const char *device, int token_id,
	       const struct kmip_token *t, struct kmip_client *c, const char *kek_file,
	       struct luks_proof *p);

/*
 * A reason without its leading "DEVICE: " or "DEVICE token N: " (shown under
 * the device) and without a trailing full stop (it goes inside a sentence).
 */
void luks_why_strip(char *why, const char *device);

/*
 * The KEK file a wrapped volume-key token needs: given (--kek-file), else
 * luks_kek_default_path().  *out NULL when t needs none.  -EINVAL (logged,
 * naming device and token) when it has no default name.
 */
int luks_token_kek_file(const struct config *cfg, const char *device, int token_id,
			const struct kmip_token *t, const char *given, char *buf, size_t len,
			const char **out);

/*
 * The first error logged between begin and end goes to why[len] (a reason
 * to show); with quiet every error line is logged at debug level instead
 * (the caller shows why).  Other lines pass as they are.  Programs only:
 * it routes the log through log_set_sink() and leaves no sink behind (the
 * token plugin has its own).  Tees nest: an error line fills every why
 * still empty, and is quiet if any of them is.
 */
struct luks_log_tee {
	char *why;
	size_t len;
	bool quiet;
	struct luks_log_tee *prev;	/* private */
};
void luks_log_tee_begin(struct luks_log_tee *t);
void luks_log_tee_end(struct luks_log_tee *t);

#endif
