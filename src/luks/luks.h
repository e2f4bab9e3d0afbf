/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Binding LUKS2 volumes to KMIP objects: enroll, fetch, unlock, lock,
 * unbind, status.  On block devices and image files alike (libcryptsetup).
 *
 * Errors: negative errno, classed by util/errclass.h (exit status, retry).
 * KMIP and transport errors pass through as they are (-ENOENT -EKEYREVOKED
 * -ENOKEY -EPERM -EKEYMISMATCH: key not usable; network: unreachable; TLS).
 * A libcryptsetup failure is logged with its own errno and message and
 * returned as -ELUKS, because its errnos collide with KMIP's (-EPERM is
 * "wrong passphrase" there, "permission denied" here).
 */
#ifndef KMIPCRYPT_LUKS_H
#define KMIPCRYPT_LUKS_H

#include <stdbool.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "dm/dm.h"
#include "luks/token.h"

/* ELUKS, EKEYMISMATCH, EKEKMISMATCH: the project's errnos, with their classes. */
#include "util/errclass.h"

struct config;
struct config_group;
struct crypt_device;
struct kmip_client;

/* PBKDF2 iterations of a kmip keyslot: the secret has full entropy (as systemd-cryptenroll). */
#define KMIP_KEYSLOT_PBKDF2_ITERATIONS	1000
#define KMIP_SECRET_BYTES		32
/* The whole unlock of one device (every server, every request), unless told otherwise. */
#define LUKS_DEADLINE_MS_DEFAULT	30000
/* Test hook: STEP, STEP:SIGNAL or STEP:STOP of enroll, rekey or unbind (steps.c, steps.h). */
#define LUKS_FAIL_AT_ENV		"KMIPCRYPT_FAIL_AT"
/* The Object Groups of enroll's objects: token.h (luks_host_object_group()). */

struct enroll_opts {
	enum kmip_secret_kind kind;
	const char *name;		/* KMIP Name; NULL: "kmipcrypt-<luks uuid>-<kind>" */
	const char *object_group;	/* NULL: luks_host_object_group() of group */
	const char *wrap_uid;		/* volume-key: wrap in transit by this KEK */
	const char *kek_file;		/* volume-key: host copy of that KEK (raw bytes) */
	const char *group;		/* server group; NULL: "default" */
	const char *passphrase;		/* an existing passphrase (locked memory) */
	size_t passphrase_len;
};

/* What an enroll bound: the token as written (public metadata, no secret in it). */
struct enroll_result {
	int token_id;
	struct kmip_token token;	/* keyslot, kind, uid, group, wrap_uid, envelope mode */
};

/*
 * The options alone (no device, no passphrase yet): 0, or -EINVAL with the
 * reason logged.  luks_enroll() checks them again; a program calls this
 * first to refuse a bad command line before it asks for anything.
 */
int luks_enroll_check(const struct enroll_opts *o);

/*
 * Enroll: prove the passphrase, create the KMS object (Pre-Active), add
 * the keyslot, write the token, then activate the object (envelope: its
 * Encrypt needs it Active before the token; see enroll.c for the order).
 * On any failure the earlier steps are undone (token and keyslot removed,
 * KMS object revoked and destroyed) and logged; the volume is never left
 * half-bound.  A SIGINT, SIGTERM or SIGHUP caught by the caller
 * (util/interrupt.h) is an undo too (-EINTR) until the token is written,
 * after which enroll finishes.  On success *out (if not NULL) says what
 * was bound.
 *
 * Kind volume-key binds its token to a new *unbound* keyslot (LUKS2
 * CRYPT_VOLUME_KEY_NO_SEGMENT) holding a random key under a random,
 * discarded passphrase: LUKS2 tokens must name a keyslot, the user's own
 * keyslot must never be the token's (unbind would remove it), and an
 * unbound keyslot can unlock nothing, nor does it hold the volume key.
 * See docs/token.md.
 */
int luks_enroll(const char *device, struct config *cfg, const struct enroll_opts *o,
		struct enroll_result *out);

/*
 * Rekey: replace the KMS object of a kmip token by a new one, the data
 * unchanged (docs/rekey.md; the steps in rekey.c).  passphrase: a new
 * random secret registered, a new keyslot for it, the old keyslot removed;
 * volume-key: the same volume key registered as a new object (the token's
 * unbound keyslot stays); envelope: a new key (KMIP Re-key where the server
 * offers it, else Create: kmip_replace_key()), the keyslot secret encrypted
 * anew by it (the keyslot stays).  The token is switched in one header write; the
 * old object is then revoked, reason Superseded, and kept (destroy_old:
 * destroyed too).  A kmip-rotation token (token.h) records the rotation
 * while it runs: after a crash or a power cut at any point the volume
 * unlocks (the old key before the switch, the new one after), and the next
 * luks_rekey() of the token takes back a rotation that had not switched it
 * and starts a new one, or finishes one that had (and starts none).
 *
 * One rekey of a volume at a time: another one running makes it -EBUSY
 * (logged), nothing done.  Termination requests caught by the caller
 * (util/interrupt.h): before the switch everything is undone (-EINTR);
 * after it the run finishes.  0 done;
 * after the switch, a step that failed (the old key not revoked: the
 * server down) leaves the record for the next run and returns its errno
 * (out->unfinished); before it, the errno, everything undone (said so).
 */
struct rekey_opts {
	int token_id;		/* -1: the device's only kmip token */
	bool destroy_old;	/* destroy the old object once revoked */
	const char *kek_file;	/* wrapped volume-key: the host copy of the KEK; NULL default */
};

struct rekey_result {
	int token_id;
	enum kmip_secret_kind kind;
	int keyslot;		/* the token's keyslot now */
	char old_uid[KMIP_UID_SIZE];
	char new_uid[KMIP_UID_SIZE];
	bool restarted;		/* an interrupted rotation was taken back first */
	bool finished_earlier;	/* an interrupted rotation was finished (no new one made) */
	bool old_destroyed;	/* destroy_old: done */
	bool unfinished;	/* switched, but not finished: run it again */
	/*
	 * The token names new_uid now, in place of old_uid: switched by this
	 * run, or by the interrupted one it finished (finished_earlier): a
	 * rotation done, also when it returns an error (unfinished).
	 */
	bool switched;
};
int luks_rekey(const char *device, struct config *cfg, const struct rekey_opts *o,
	       struct rekey_result *out);

/*
 * The unlock secret of a token: check the key's State on the server first
 * (only Active unlocks; -ENOKEY Pre-Active, -EKEYREVOKED Deactivated or
 * Compromised, -ENOENT destroyed or not found, -EPERM another owner's), then
 * fetch (passphrase, volume-key) or decrypt (envelope).  *secret is locked
 * memory (secmem_free()).  For volume-key, *is_volume_key is set.
 * -EKEYMISMATCH for an object that is not what the kind needs (Secret Data
 * for passphrase, a Symmetric Key for volume-key and envelope) or a secret
 * of an impossible size.  Envelope: a Decrypt the server refuses (padding,
 * tag, whatever its reason) or a plaintext of an impossible size yields a
 * random secret and 0, so that the keyslot check fails exactly as for a
 * wrong secret (no padding oracle; fetch.c, envelope_reject()).
 * volume-key with a wrap_uid needs kek_file (else -EINVAL).
 * No global state, no prompt, no exit: usable from the token plugin.
 */
int luks_fetch_secret(struct kmip_client *c, const struct kmip_token *t,
		      const char *kek_file, uint8_t **secret, size_t *len, bool *is_volume_key);

/*
 * Unlock: read the kmip token(s), fetch, activate as name; name NULL = check
 * only (verify the secret against the header, create no mapping).
 */
int luks_unlock(const char *device, const char *name, struct config *cfg);

/* What a successful unlock did. */
enum luks_unlock_outcome {
	LUKS_UNLOCK_OPENED = 0,		/* a new mapping */
	LUKS_UNLOCK_VERIFIED,		/* check only: no mapping */
	LUKS_UNLOCK_ALREADY_OPEN,	/* open as that name already: nothing fetched */
	LUKS_UNLOCK_RESUMED,		/* it was suspended (lock): resumed */
	LUKS_UNLOCK_SKIPPED,		/* no kmip token of the kinds asked for: nothing done */
};

#define UNLOCK_JOBS_MAX	256

struct unlock_opts {
	const char *kek_file;	/* volume-key with wrap_uid: the host copy of the KEK;
				 * NULL: luks_kek_default_path() */
	int token_id;		/* -1: every kmip token of the device in turn */
	unsigned deadline_ms;	/* the whole unlock of this device; 0: LUKS_DEADLINE_MS_DEFAULT */
	uint32_t activate_flags;	/* CRYPT_ACTIVATE_*, e.g. crypttab's options */
	unsigned kinds;		/* only tokens of these kinds (1 << enum kmip_secret_kind);
				 * 0: every kind.  A volume with none of them: SKIPPED */
	unsigned jobs;		/* luks_unlock_many: volumes proven and activated at once,
				 * in child processes; 0: one per CPU it may run on; 1: none;
				 * at most UNLOCK_JOBS_MAX */
	enum luks_unlock_outcome *outcome;	/* out, on success; may be NULL */
};
int luks_unlock_ex(const char *device, const char *name, struct config *cfg,
		   const struct unlock_opts *o);

/*
 * The mapping name systemd-cryptsetup gives a LUKS volume with no name of its
 * own: "luks-<UUID>".  The UUID comes from the header, hostile input: only
 * hex digits and dashes make a name (-ELUKS otherwise).  Errors are logged
 * (luks_dev_open's: a missing device, a FIFO, not LUKS2...).
 */
int luks_default_name(const char *device, char *buf, size_t len);

/*
 * The default host copy of a key-encryption key: <directory of the
 * configuration file>/kek/<WRAP_UID> (/etc/kmipcrypt/kek/<WRAP_UID>).  A
 * wrap_uid with characters other than A-Z a-z 0-9 . _ : - (or starting with
 * '.') has no default: -EINVAL, pass the file explicitly.
 */
int luks_kek_default_path(const struct config *cfg, const char *wrap_uid, char *buf, size_t len);
/* That directory, <directory of the configuration file>/kek.  0 or -ENAMETOOLONG. */
int luks_kek_dir(const struct config *cfg, char *buf, size_t len);

/*
 * Read the host copy of a key-encryption key, the one reader of KEK files
 * (enroll, unlock, status and 'kmipcrypt key get --kek-file'): a regular
 * file (never blocking, util/file.h), a secret (file_check_secret(): no
 * access for group or others, owned by root or this user), of exactly 16,
 * 24 or 32 raw bytes.  *kek in locked memory (secmem_free()).  0, or
 * logged: -EACCES for a file refused as a secret, -EINVAL for any other
 * fault (missing, not regular, wrong size).
 */
int luks_read_kek(const char *path, uint8_t **kek, size_t *len);

/* The keyslot passphrase of a secret: its base64 (RFC 4648, padded), NUL-terminated, locked memory. */
int luks_secret_passphrase(const uint8_t *secret, size_t len, char **pass, size_t *pass_len);

/* ------------------------------------------------ a time-bounded client */

/* ---------------------------------------------------- many volumes (--all) */

struct luks_volume {
	char *device;		/* path, as found or listed */
	char *name;		/* mapping name: crypttab's, the list's, or "luks-<UUID>" */
	uint32_t activate_flags;	/* CRYPT_ACTIVATE_* from crypttab's options */
	/*
	 * A volume of a list file that cannot be used (logged, naming the list
	 * line and the device): -ELUKS; 0 otherwise.  why says what it is ("no
	 * such file", "not a LUKS2 volume", "no kmip token"...; static text).
	 */
	int err;
	const char *why;
};

struct luks_volume_list {
	struct luks_volume *v;
	size_t n;
};

struct discover_opts {
	const char *list_file;	/* one "DEVICE [NAME]" per line; if set, the only source */
	const char *crypttab;	/* NULL: /etc/crypttab (missing is fine) */
	bool no_blkid;		/* skip the libblkid scan of block devices */
};

/*
 * The LUKS2 volumes with at least one kmip token: from list_file only, or
 * else from libblkid (TYPE=crypto_LUKS) and crypttab, without duplicates
 * (same device by st_rdev/inode; crypttab's line wins).  Found volumes
 * without a kmip token are left out (logged at debug level), as are
 * crypttab lines with noauto or header= (a detached header: not supported,
 * warned).  A list file is a promise: each of its devices is in *out, one
 * that is missing, not LUKS2 or without a kmip token with err and why set
 * (and an error logged), so that the caller fails the run for it.
 */
int luks_discover(const struct discover_opts *o, struct luks_volume_list *out);
void luks_volume_list_free(struct luks_volume_list *l);

/*
 * The crypttab line of device (the same block device or file, whatever name
 * the line uses): its NAME and the activation flags of its options
 * (discard, readonly, same-cpu-crypt, submit-from-crypt-cpus,
 * no-read-workqueue, no-write-workqueue).  crypttab NULL: /etc/crypttab,
 * which may be missing.  -ENOENT: no line for device.  out->device and
 * out->name are allocated (free()).
 */
int luks_crypttab_find(const char *crypttab, const char *device, struct luks_volume *out);

/*
 * Unlock every volume of l, with one KMIP session per server group shared
 * by its volumes (one request for all their secrets), the whole run within
 * one deadline (o->deadline_ms; 0: LUKS_DEADLINE_MS_DEFAULT).  The keyslot
 * checks and activations run in up to o->jobs child processes at once
 * (util/fanout.h: for programs only); the rest, in order.  A group that gives no
 * answer at all is not asked again in the run (its volumes fail at once with
 * that errno), so a down group costs its time once and does not hold up the
 * others.  check_only: create no mapping.  A volume with err set
 * (luks_discover) is not tried: results[i] is its err.  results[i] gets each
 * volume's result (0 or negative errno), outcomes[i] (if not NULL) what a
 * success did.  Returns 0.
 */
int luks_unlock_many(const struct luks_volume_list *l, bool check_only, struct config *cfg,
		     const struct unlock_opts *o, int *results,
		     enum luks_unlock_outcome *outcomes);

/* ---------------------------------------------------------------- status */

#define LUKS_STATUS_TOKENS_MAX	32
#define LUKS_REASON_MAX		512	/* bytes of a reason, one line */

/*
 * An open mapping's state is dm/dm.h's enum dmap_state (as luks_lock()
 * leaves it: active, suspended, error).
 */

struct luks_token_status {
	int token_id;
	int keyslot;		/* from the LUKS2 metadata, -1 if none */
	int parse_err;		/* 0 or -EINVAL: the token is not a valid kmip token */
	struct kmip_token t;	/* valid if parse_err == 0 (no secret in it) */
	bool queried;		/* the server was asked (luks_status_query) */
	int state;		/* KMIP State, 0 if unknown */
	int state_err;		/* 0, or why the State could not be read (errno) */
	/*
	 * The key's age, read with its State (the same Get Attributes) where
	 * its group has a rotate_after: the date it counts from, its
	 * Activation Date, else its Initial Date (activated_initial), POSIX
	 * seconds; 0 if not asked, or the server gave neither (or a date not
	 * after 1970).  Its rotation policy: rotate_after_s,
	 * the token's server group's rotate_after (0: none); with one, due_at
	 * = activated + rotate_after_s (0 if activated is) and due: an Active
	 * key whose due_at has come.  Nothing of it bears on usable or err.
	 */
	int64_t activated;
	bool activated_initial;
	unsigned rotate_after_s;
	int64_t due_at;
	bool due;
	/*
	 * Would unlock unlock with this token?  The verdict of the proof
	 * (luks_prove: the secret fetched as unlock fetches it, checked against
	 * the header) for an Active key; for the others their State or error.
	 * err: 0 if usable, else the errno unlock would fail with (its exit
	 * code); reason: why not, one line ("" if usable).
	 */
	bool usable;
	int err;
	char reason[LUKS_REASON_MAX];
};

/* A rotation record (kmip-rotation token, token.h): a rekey in progress, or left half-done. */
struct luks_rotation_status {
	int token_id;		/* the kmip-rotation token */
	int parse_err;		/* 0, or -EINVAL: not a valid record (reason says why) */
	struct kmip_rotation r;	/* valid if parse_err == 0: r.token the kmip token it rotates */
	bool switched;		/* that token names the new object already (past the commit) */
	char reason[LUKS_REASON_MAX];	/* parse_err: why */
};

struct luks_status {
	char uuid[40];
	size_t n_tokens;
	struct luks_token_status tokens[LUKS_STATUS_TOKENS_MAX];
	size_t n_rotations;
	struct luks_rotation_status rotations[LUKS_STATUS_TOKENS_MAX];
	bool dm_available;	/* device-mapper usable on this system */
	bool mapping_open;
	char mapping[DMAP_NAME_MAX];	/* its name if open */
	enum dmap_state mapping_state;	/* if open */
	/* private: the device and its header, for the proofs (luks_status_free()) */
	char *device;
	struct crypt_device *cd;
};

/*
 * What is known about a device: its kmip tokens, its rotation records (a
 * rekey in progress or interrupted: the header alone), whether each would unlock
 * now and each key's State on the server (batched per server group, within
 * deadline_ms; 0: default), whether a dm-crypt mapping of this volume is
 * open (by the LUKS2 UUID in the device-mapper UUIDs, dmap_find_luks(), or
 * the mapping name if given and its header is this volume's).  kek_file: a
 * wrapped volume-key token's KEK (NULL: the default path).
 * luks_status_free() afterwards, also after a failure.
 */
int luks_status(const char *device, const char *name, struct config *cfg, unsigned deadline_ms,
		const char *kek_file, struct luks_status *out);
/* The same in two steps, for many volumes: the header and the kernel (no server)... */
int luks_status_read(const char *device, const char *name, struct luks_status *out);
/*
 * (or the header alone: no device-mapper asked, dm_available and
 * mapping_open false; for `rekey --due`, which needs no mapping) ...
 */
int luks_status_read_header(const char *device, struct luks_status *out);
/*
 * ... then the States of every valid token of s[0..n), and where its group
 * has a rotate_after the key's dates (activated, due): per server group one
 * connection and batched Get Attributes of State (and Activation Date and
 * Initial Date: the same items) (kmip_get_attrs_each()), then over the
 * same connection the proof of each token whose key is Active, all within
 * deadline_ms (0: default).  A group that cannot be reached costs its time
 * once, not once per token.  Per-token results in state / state_err and
 * usable / err / reason; returns 0, or -ENOMEM.  The reasons are not logged
 * as errors (at debug level): the caller shows them.
 */
int luks_status_query(struct config *cfg, struct luks_status *s, size_t n, unsigned deadline_ms,
		      const char *kek_file);
/*
 * The States and ages only (as luks_status_query(), without the proofs: no
 * secret fetched; usable stays false, err and reason are set only for a
 * key that is not Active or whose State cannot be read): what `rekey --due`
 * needs to choose, since luks_rekey() proves the token it rotates itself.
 */
int luks_status_query_states(struct config *cfg, struct luks_status *s, size_t n,
			     unsigned deadline_ms);
void luks_status_free(struct luks_status *s);
/*
 * A token's age against its rotation policy, for people: "key activated
 * DATE, rotate_after 90d", "key created DATE (no Activation Date),
 * rotate_after 90d" (the Initial Date), "key age unknown (...), rotate_after
 * 90d"; without a policy the same without rotate_after.  DATE as
 * 2026-11-23T10:55:42Z.  Returns buf.
 */
const char *luks_token_age_text(const struct luks_token_status *ts, char *buf, size_t len);

enum lock_action { LOCK_SUSPEND = 1, LOCK_CLOSE };
/*
 * Lock the open mapping name of a LUKS volume (one libcryptsetup made:
 * dm/dm.h reads its device-mapper UUID; the header is not read): suspend
 * (freeze I/O, wipe the key) or close (every further I/O fails, key wiped),
 * dmap_suspend() and dmap_close().  Idempotent.  -EINVAL a bad name or
 * action; -ELUKS (exit 5, logged) no device-mapper, no such mapping, not a
 * LUKS mapping, or a device-mapper failure (logged with the state the
 * mapping was left in).
 */
int luks_lock(const char *name, enum lock_action a);

/*
 * For programs (the CLI, the daemon), not for the plugin: route
 * libcryptsetup's messages that belong to no device yet (crypt_init_by_name
 * of a name that is not open: "Device X is not active.") to our log, as
 * details, instead of libcryptsetup's default stderr printer.
 */
void luks_log_setup(void);

/*
 * Unbind: remove a kmip token, and its keyslot only when the token's key is
 * proven to open it (luks_internal.h, luks_prove), and, with destroy_key,
 * revoke and destroy the key only when it is proven to be the binding's.
 * Not proven (another object, the server down, the key not Active, a
 * missing KEK file): refused with that reason's errno, unless force; then
 * the token is removed, its keyslot kept (with the command to remove it by
 * hand) and, with destroy_key, the key it names destroyed.  An invalid
 * token's keyslots are never removed; a volume-key token's keyslot only if
 * it is unbound.  Refused (-ELUKS, even with force) while a rekey of the
 * token is in progress or was interrupted (a kmip-rotation token records
 * it: `kmipcrypt rekey` finishes or takes it back), and when no way into the
 * volume would remain (see unbind.c for what counts).  The header is
 * changed first, the KMS second; a KMS failure afterwards is returned (and
 * says how to finish by hand).
 *
 * The caller may catch termination signals (interrupt_catch()): one that
 * comes before the header is changed ends it with -EINTR, nothing changed;
 * after, it finishes.  cfg is needed to prove a valid token (NULL: cannot
 * prove; only an invalid token, or force, can then be removed).
 */
struct unbind_opts {
	int token_id;		/* -1: the device's only kmip token (-EINVAL if several) */
	bool destroy_key;
	bool force;
	const char *kek_file;	/* a wrapped volume-key token's KEK; NULL: the default path */
	/* out */
	bool keyslot_kept;	/* a keyslot of the token was kept (said why, and how to remove it) */
	bool key_destroyed;	/* destroy_key: revoked and destroyed (or already gone) */
	bool key_shared;	/* destroy_key: kept, another token of the volume names it */
};
int luks_unbind(const char *device, struct config *cfg, struct unbind_opts *o);

#endif
