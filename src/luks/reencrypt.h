/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reencrypt: a new volume key for a kmip-bound LUKS2 volume, the data
 * re-encrypted by libcryptsetup's LUKS2 reencryption (offline when no
 * mapping of the volume is open, online through the open one), every
 * keyslot kept and every kmip token re-bound.  docs/rekey.md, section
 * "reencrypt", says why it is done this way; docs/kmipcrypt-reencrypt.8 how
 * to use it.
 *
 *   before the data pass (undone on a failure or a termination request,
 *   steps.h; a SIGKILL leaves what the record names, which the next run
 *   takes back before it starts again):
 *     mark      the record: a LUKS2 token of type "kmip-reencrypt" (below),
 *               written first, naming everything the next steps make
 *     keyslots  for every keyslot bound to the data (each kmip token's, and
 *               those of no kmip token, whose passphrases the caller gives),
 *               a new keyslot for the new volume key, unbound, under the
 *               same passphrase (libcryptsetup binds them all at init);
 *               with a volume-key token, a pair under a passphrase derived
 *               from the new volume key (luks_reencrypt_vk_passphrase()):
 *               "ko" holding the old key, "kn" the new one, so that the new
 *               key alone opens the volume at every moment
 *     register  volume-key tokens: the new volume key registered on the KMS
 *               as a new object (enroll's way: luks_enroll_register_vk()),
 *               its uid recorded
 *     activate  that object
 *     tokens    every kmip token switched in one header write each: to its
 *               new keyslot (envelope: the secret encrypted anew for it),
 *               volume-key: to the new object
 *     init      the reencryption set up in the header (libcryptsetup): the
 *               point of no return.  From here on libcryptsetup refuses
 *               every token or keyslot change until the data is done.
 *   then, and what `--resume` runs:
 *     data      libcryptsetup re-encrypts the data, recording its progress
 *               in the header; a termination request (or the test hook)
 *               stops it at a safe point, to be resumed; at the end it
 *               removes the keyslots of the old volume key itself
 *     complete  volume-key: the pair's "kn" removed (the new key now is the
 *               volume key)
 *     revoke    the old objects of volume-key tokens revoked, reason
 *               Superseded: after the data is done, never before
 *     unmark    the record removed
 *
 * The record ("kmip-reencrypt", kmip_version 1), assigned no keyslot:
 *   {"type":"kmip-reencrypt","keyslots":[],"kmip_version":1,
 *    "pairs":[["OLD","NEW"],...],   every kept keyslot and its new one
 *    "ko":"N","kn":"N",             the volume-key pair (both or neither)
 *    "tokens":[{"token":"T","keyslot":"OLD"},                 passphrase, envelope
 *              {"token":"T","uid":"OLD","name":"N","new_uid":"NEW"}],  volume-key
 *    "mac":"BASE64"}                HMAC-SHA256 keyed by the NEW volume key
 * The header is hostile input: the record is acted on only when its MAC
 * verifies with the new volume key, which only the run that wrote it had
 * (and it revokes KMS objects only then).
 *
 * Unlock during a reencryption (luks_prove, prove.c): a kmip token's
 * keyslot may be a new one, unbound until init, and libcryptsetup needs the
 * keys of both volume keys while the data is half done, which it finds by
 * trying every keyslot (CRYPT_ANY_SLOT) with one passphrase.  So, while
 * luks_reencrypt_pending(), the proof is: the secret opens exactly the
 * token's keyslot, and then it activates with any keyslot (its twin has
 * the same passphrase); a volume-key token's key, where it is not (yet)
 * the volume key, opens with the passphrase derived from it.  The token
 * plugin cannot do that (libcryptsetup tries a token's own keyslots only):
 * during a reencryption, `kmipcrypt unlock` (or the askpass agent) unlocks.
 */
#ifndef KMIPCRYPT_LUKS_REENCRYPT_H
#define KMIPCRYPT_LUKS_REENCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmip/kmip.h"

struct config;
struct crypt_device;
struct kmip_client;

#define LUKS_REENCRYPT_TOKEN_TYPE	"kmip-reencrypt"
#define LUKS_REENCRYPT_VERSION		1
/* Progress at most this often to the caller (and always at the start and the end). */
#define LUKS_REENCRYPT_PROGRESS_MS	500

/* Where the data pass is, for the caller's display. */
struct reencrypt_progress {
	uint64_t size;		/* bytes of data to re-encrypt in all */
	uint64_t offset;	/* bytes done (of this and every earlier run) */
	uint64_t start;		/* bytes that were done when this run started */
	uint64_t elapsed_ms;	/* since this run's data pass started */
	bool done;		/* the last call: the data is all re-encrypted */
};

/*
 * The passphrase of keyslot `keyslot` of device, which no kmip token uses,
 * for the caller to ask (a prompt): into *pass (locked memory, the
 * callee's secmem_alloc()), 0; -ENOENT: the caller has none (the keyslot
 * is then not kept: reencrypt refuses); other errors end the run.
 * `tokens` says which other tokens use it ("" or "token 2 (systemd-tpm2)").
 */
typedef int (*reencrypt_ask_fn)(void *ctx, const char *device, int keyslot, const char *tokens,
				char **pass, size_t *len);

struct reencrypt_opts {
	bool resume;		/* continue a reencryption (or take back one that did not start) */
	const char *kek_file;	/* wrapped volume-key tokens: the host copy of the KEK
				 * (NULL: luks_kek_default_path()) */
	int token_id;		/* resume: the kmip token whose secret opens the volume;
				 * -1: each in turn */
	uint64_t hotzone_bytes;	/* libcryptsetup's hotzone: at most this much data between
				 * two records of progress; 0: its own choice */
	/* Passphrases of keyslots no kmip token uses, tried against each (locked memory). */
	const char *const *passphrases;
	const size_t *passphrase_lens;
	size_t n_passphrases;
	reencrypt_ask_fn ask;	/* NULL: no prompt */
	void *ask_ctx;
	/* Called from the data pass, at most every LUKS_REENCRYPT_PROGRESS_MS. */
	void (*progress)(void *ctx, const char *device, const struct reencrypt_progress *p);
	void *progress_ctx;
};

/* What a run did (public metadata only). */
struct reencrypt_result {
	bool done;		/* the data is re-encrypted and everything finished */
	bool online;		/* through the open mapping */
	char mapping[128];	/* its name, if online */
	size_t n_tokens;
	struct {
		int token;
		int old_keyslot, new_keyslot;
		char old_uid[KMIP_UID_SIZE], new_uid[KMIP_UID_SIZE];	/* volume-key, else "" */
		bool revoked;	/* the old object revoked now or before */
	} tokens[32];
	size_t n_keyslots;	/* keyslots of no kmip token kept */
	int keyslots[32][2];	/* [old, new] */
};

/*
 * Reencrypt device.  0: done (res->done).  Errors are logged, with what to
 * do next:
 *   -EINVAL   the options, a keyslot no passphrase was given for, no kmip
 *             token, resume asked and nothing to resume
 *   -EBUSY    a rotation (kmipcrypt rekey) is recorded in the header, or a
 *             reencryption is already under way and resume was not asked
 *   -EINTR    a termination request: before the data pass, undone; during
 *             it, stopped at a safe point (the header says where: resume);
 *             also the test hook's stop in the data pass
 *   the errno of a token that does not prove, of the KMS, or -ELUKS (an
 *   invalid kmip token, libcryptsetup)
 */
int luks_reencrypt(const char *device, struct config *cfg, const struct reencrypt_opts *o,
		   struct reencrypt_result *res);

/* ------------------------------------------------ for unlock (prove.c) */

/*
 * Is a reencryption under way on cd: a LUKS2 reencryption in the header, or
 * a kmipcrypt record ("kmip-reencrypt" token) of one being set up or
 * finished?  Then luks_prove() checks as below.
 */
bool luks_reencrypt_pending(struct crypt_device *cd);
/*
 * For the verbs that change tokens or keyslots (enroll, unbind, rekey),
 * which libcryptsetup refuses during a reencryption with a message of its
 * own: 0, or -EBUSY logged as "DEVICE: a reencryption is under way ...:
 * finish it first (...), then VERB".
 */
int luks_reencrypt_refuse(struct crypt_device *cd, const char *device, const char *verb);

/*
 * The check (name NULL) or activation (or resume) of a kmip keyslot
 * passphrase during a reencryption: it opens exactly keyslot (if >= 0, its
 * volume key whatever its digest), then the volume with any keyslot.
 * libcryptsetup's result: >= 0, -EPERM the passphrase does not open.
 */
int luks_reencrypt_open(struct crypt_device *cd, int keyslot, const char *pass, size_t pass_len,
			const char *name, uint32_t flags, bool resume);

/*
 * The same for a volume-key token's key: as the volume key where it is one
 * (not while the data is half done), else with the passphrase derived from
 * it.  -EPERM: neither opens.
 */
int luks_reencrypt_open_vk(struct crypt_device *cd, const uint8_t *key, size_t len,
			   const char *name, uint32_t flags, bool resume);

/*
 * The passphrase of the volume-key pair: base64 of HMAC-SHA256 keyed by
 * the (new) volume key over "kmipcrypt-reencrypt:1:" and the volume's
 * UUID, in locked memory.  0 or -EINVAL/-ENOMEM.
 */
int luks_reencrypt_vk_passphrase(const uint8_t *vk, size_t len, const char *uuid, char **pass,
				 size_t *pass_len);

/* ------------------------------------------------ enroll.c's, for reencrypt */

/*
 * Register vk on the KMS as enroll registers a volume key: a Symmetric Key
 * (AES), Pre-Active, Name name, Object Group group; with wrap_uid the
 * wrapped Get checked against vk with the KEK in kek_file.  uid is set
 * once the object exists (also when the wrap check then fails: the caller
 * takes it back).  0 or the failure, logged.
 */
int luks_enroll_register_vk(struct kmip_client *c, const char *device, const uint8_t *vk,
			    size_t vk_len, const char *name, const char *group,
			    const char *wrap_uid, const char *kek_file, char uid[KMIP_UID_SIZE]);

#endif
