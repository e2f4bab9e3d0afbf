// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libcryptsetup-token-kmip.so: the LUKS2 token plugin for tokens of type
 * "kmip", so that plain `cryptsetup open` and systemd-cryptsetup unlock a
 * kmip-bound volume with no extra tool.
 *
 * libcryptsetup (2.4 and later) loads it from its plugin directory
 * (crypt_token_external_path(): /lib/x86_64-linux-gnu/cryptsetup on Debian)
 * as libcryptsetup-token-kmip.so and finds the hooks below by the version
 * node CRYPTSETUP_TOKEN_1.0 (token_kmip.sym).  libkmipcrypt is linked in
 * statically with every symbol local, so the plugin carries its own copy of
 * the library state (log sink, secure memory) whatever program loads it.
 *
 * What the hooks do:
 *   open       token JSON -> strict parse -> configuration -> the key's
 *              State on the server, then Get (passphrase) or Decrypt
 *              (envelope), through luks_fetch_secret() -> the keyslot
 *              passphrase, base64 of the 32-byte secret, in locked memory.
 *   open_pin   the same; a kmip token takes no PIN, one given is ignored.
 *   buffer_free  wipes and releases that passphrase.
 *   validate   kmip_token_parse(): the same strict check as the CLI.
 *   dump       kind, UID, server group, Object Group, KMIP version, format
 *              (never a secret) for luksDump.
 *   version    the kmipcrypt version.
 *
 * Rules the hooks keep, because they run inside someone else's process
 * (systemd-cryptsetup at boot, cryptsetup, udisks):
 *   - Never -ENOANO: that means "PIN needed" and makes systemd-cryptsetup ask
 *     for a PIN in a loop (systemd-cryptsetup falls back to the passphrase
 *     prompt on any other error).  What the other errors do in libcryptsetup
 *     2.6.1's loop over a volume's tokens (tried in this lab): -ENOENT,
 *     -EPERM, -EINVAL and -EAGAIN let it go on to the next token; any other
 *     errno ends the loop and is what the caller sees.  Hence:
 *       -EAGAIN   no usable answer from the KMS (errclass_no_answer():
 *                 unreachable, a malformed or unusable answer, unsupported,
 *                 TLS; the time limit used up): no verdict on the key,
 *                 another token (say, one bound to a second KMS) may work.
 *       -EKEYREVOKED  the server says the key is Deactivated, Compromised,
 *                 Destroyed or not found: revoked is authoritative (DESIGN.md,
 *                 remote kill), no later token is tried.
 *       -ENOKEY   the key is Pre-Active (or in a State this client does not know).
 *       -EINVAL   the token names the wrong object (another Object Type, a
 *                 secret of an impossible size): like a token whose secret
 *                 does not open its keyslot, the next token is tried.
 *       -EPERM    not this client's key (libcryptsetup makes it -ENOENT).
 *       -ENOENT   this token is not for the plugin or this host: kind
 *                 volume-key, no configuration file, unknown server group,
 *                 unusable configuration.
 *       -EINVAL   the token JSON fails validation (libcryptsetup: -ENOENT).
 *     cryptsetup exits 1 for all of these ("No usable token is available."
 *     for -ENOENT), and goes on to the passphrase unless --token-only.
 *   - Bounded time: each connect, handshake, write and read gets the group's
 *     timeout_ms, and one `cryptsetup open` as a whole, every kmip token of
 *     the volume included, at most PLUGIN_DEADLINE_MS (30 s, as `kmipcrypt
 *     unlock`'s default; see "one cryptsetup open" below): before each
 *     request the per-phase timeout is lowered when the worst case of that
 *     request (every server's connect and handshake, then write and read)
 *     would not fit in what is left.  Requests are never resent; a server
 *     group that did not answer one token is not asked again for the next
 *     tokens of the same open.  Name resolution counts against the
 *     connect timeout (net/sock.c); addresses in `servers` need no DNS at
 *     boot.  Files (configuration, CA, certificate, key, key password) are
 *     read by util/file.h's reader: a FIFO or device named there is refused
 *     at once, never waited on.
 *   - Messages go to libcryptsetup's log (crypt_log: the caller's log
 *     callback, e.g. the journal under systemd-cryptsetup), never a secret.
 *   - Secrets stay in locked memory (secmem) and are wiped on every path.
 *     The process is not made non-dumpable: it is not ours.
 *   - No prompt, ever: the client key password must come from
 *     key_password_file (or key_password) in the configuration.
 *
 * Configuration: /etc/kmipcrypt/kmipcrypt.conf, or the file named by the
 * environment variable KMIPCRYPT_CONFIG.  That variable is a hook for tests
 * and administrators running cryptsetup by hand; it is read with
 * secure_getenv(), so a set-user-ID or otherwise privileged-by-exec program
 * that loads the plugin ignores it.  config_load() refuses a file writable
 * by others or owned by neither root nor the effective user.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* secure_getenv */
#endif
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libcryptsetup.h>

#include "kmip/kmip.h"
#include "luks/luks.h"
#include "luks/token.h"
#include "net/transport.h"
#include "plugin/token_kmip.h"
#include "conf/config.h"
#include "util/clock.h"
#include "util/errclass.h"
#include "util/escape.h"
#include "util/log.h"
#include "util/secmem.h"

#ifndef KMIPCRYPT_VERSION
#error "KMIPCRYPT_VERSION comes from the Makefile (VERSION)"
#endif

#define PLUGIN_CONFIG_ENV	"KMIPCRYPT_CONFIG"
#define PLUGIN_DEADLINE_MS	LUKS_DEADLINE_MS_DEFAULT	/* a whole open (30 s), every server and request */

/*
 * Not static so that the unit test (which links this object) can lower it;
 * not exported from the plugin (token_kmip.sym keeps it local).
 */
unsigned token_kmip_deadline_ms = PLUGIN_DEADLINE_MS;

/* ----------------------------------------------- one cryptsetup open */

/*
 * libcryptsetup calls open once per token (its loop over the volume's
 * tokens) and has no time limit of its own: each kmip token against a
 * stalled server would cost the whole limit again, and a volume with
 * enough tokens would pass any limit.  So the plugin keeps, per process, a
 * short-lived record of the open in progress: its deadline, set when its
 * first token starts, and the server groups found unreachable during it.
 * Later tokens of the same open share that deadline and skip those groups:
 * one open is bounded as a whole, however many tokens the volume has.
 *
 * Which calls make one open: the same crypt_device and LUKS2 UUID, a token
 * not tried yet in this open, starting at most OPEN_GAP_MS after the
 * previous token returned (libcryptsetup goes on to the next token at once,
 * or after one keyslot check: milliseconds for the PBKDF2 keyslots
 * kmipcrypt makes).  A token that joins an open whose deadline has passed
 * fails at once.  Anything else starts a new open: the same token tried
 * again (cryptsetup, or systemd-cryptsetup after a passphrase prompt,
 * trying once more), another volume, a crypt_device freed and its address
 * reused, a token long after the last one.  A few records (volumes opened
 * at the same time, as a threaded caller like udisks may do) behind a
 * mutex; a record is free again once its open is over.
 */
#define OPEN_RECORDS	8
#define OPEN_GAP_MS	2000
#define OPEN_DOWN_MAX	8	/* unreachable groups remembered per open */

struct open_record {
	const struct crypt_device *cd;	/* NULL: free */
	char uuid[40];			/* the volume's LUKS2 UUID (36 characters) */
	int first;			/* the token that began it */
	unsigned running;		/* tokens of it in progress */
	int64_t start, deadline;	/* CLOCK_MONOTONIC ms */
	int64_t last_end;		/* when the latest token of it returned */
	uint32_t tokens;		/* bit per token tried (LUKS2 has 32) */
	unsigned n_down;
	struct {
		char group[CONFIG_NAME_MAX];
		int token;		/* the token that found it unreachable */
		int64_t when;
	} down[OPEN_DOWN_MAX];
};

static struct open_record open_records[OPEN_RECORDS];
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *volume_uuid(struct crypt_device *cd)
{
	const char *u = crypt_get_uuid(cd);

	return u ? u : "";
}

/* Is r's open still going on at now: a token running, or one just ended?  With open_lock. */
static bool open_live(const struct open_record *r, int64_t now)
{
	return r->cd && (r->running || now - r->last_end <= OPEN_GAP_MS);
}

/* The open in progress for cd, or NULL.  With open_lock held. */
static struct open_record *open_find(struct crypt_device *cd, int64_t now)
{
	const char *uuid = volume_uuid(cd);
	unsigned i;

	for (i = 0; i < OPEN_RECORDS; i++) {
		struct open_record *r = &open_records[i];

		if (r->cd == cd && !strncmp(r->uuid, uuid, sizeof(r->uuid)) && open_live(r, now))
			return r;
	}
	return NULL;
}

/*
 * Token `token` of cd starts at now: the deadline of the open it belongs
 * to, a new one (now + token_kmip_deadline_ms) or that of the open in
 * progress.  *first: the open's first token, *start: when it began.
 * Every open_begin() is followed by one open_end().
 */
static int64_t open_begin(struct crypt_device *cd, int token, int64_t now, int *first,
			  int64_t *start)
{
	uint32_t bit = token >= 0 && token < 32 ? UINT32_C(1) << token : 0;
	struct open_record *r;
	int64_t deadline;
	unsigned i;

	pthread_mutex_lock(&open_lock);
	r = open_find(cd, now);
	if (r && bit && !(r->tokens & bit)) {
		r->tokens |= bit;
		goto out;
	}
	/* A new open: in the record of cd's previous one, else one that is over, else the oldest. */
	for (i = 0; i < OPEN_RECORDS && !r; i++)
		if (!open_live(&open_records[i], now))
			r = &open_records[i];
	if (!r) {
		r = &open_records[0];
		for (i = 1; i < OPEN_RECORDS; i++)
			if (open_records[i].last_end < r->last_end)
				r = &open_records[i];
	}
	memset(r, 0, sizeof(*r));
	r->cd = cd;
	snprintf(r->uuid, sizeof(r->uuid), "%s", volume_uuid(cd));
	r->first = token;
	r->start = now;
	r->deadline = now + token_kmip_deadline_ms;
	r->last_end = now;
	r->tokens = bit;
out:
	r->running++;
	*first = r->first;
	*start = r->start;
	deadline = r->deadline;
	pthread_mutex_unlock(&open_lock);
	return deadline;
}

/*
 * Was group found unreachable earlier in this open?  Then true, with the
 * token that found it and how long ago.
 */
static bool open_group_down(struct crypt_device *cd, const char *group, int *token, int64_t *ago)
{
	int64_t now = clock_now_ms();
	struct open_record *r;
	bool down = false;
	unsigned i;

	pthread_mutex_lock(&open_lock);
	r = open_find(cd, now);
	for (i = 0; r && i < r->n_down && !down; i++) {
		if (!strcmp(r->down[i].group, group)) {
			*token = r->down[i].token;
			*ago = now - r->down[i].when;
			down = true;
		}
	}
	pthread_mutex_unlock(&open_lock);
	return down;
}

/* Token `token` of cd returns; group (NULL: none) did not answer. */
static void open_end(struct crypt_device *cd, int token, const char *group)
{
	int64_t now = clock_now_ms();
	struct open_record *r;
	unsigned i;

	pthread_mutex_lock(&open_lock);
	r = open_find(cd, now);	/* NULL only if evicted by OPEN_RECORDS other opens */
	if (r && group && r->n_down < OPEN_DOWN_MAX) {
		for (i = 0; i < r->n_down && strcmp(r->down[i].group, group); i++)
			;
		if (i == r->n_down) {
			snprintf(r->down[i].group, sizeof(r->down[i].group), "%s", group);
			r->down[i].token = token;
			r->down[i].when = now;
			r->n_down++;
		}
	}
	if (r) {
		if (r->running)
			r->running--;
		r->last_end = now;
	}
	pthread_mutex_unlock(&open_lock);
}

/* ------------------------------------------------------------- logging */

/*
 * The device whose hook is running on this thread: log lines of the library
 * (transport, KMIP client, token parser) go to its log callback.  NULL:
 * libcryptsetup's default log.
 */
static __thread struct crypt_device *log_cd;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void crypt_sink(enum log_level lvl, const char *msg, void *ctx)
{
	char line[LOG_LINE_MAX + 32];
	int level;

	(void)ctx;
	/*
	 * Errors as errors (cryptsetup's stderr, the journal at LOG_ERR under
	 * systemd-cryptsetup).  Warnings are details of a failure the error
	 * summarises ("server 1: timed out; trying the next"), or of an unlock
	 * that succeeded after a failover: verbose (cryptsetup -v, the journal
	 * at LOG_INFO), so that a working unlock stays quiet.
	 */
	switch (lvl) {
	case LOG_LVL_ERR:
		level = CRYPT_LOG_ERROR;
		break;
	case LOG_LVL_WARN:
	case LOG_LVL_INFO:
		level = CRYPT_LOG_VERBOSE;
		break;
	default:
		level = CRYPT_LOG_DEBUG;	/* shown with cryptsetup --debug */
		break;
	}
	/* libcryptsetup's log callbacks expect whole lines, newline included. */
	snprintf(line, sizeof(line), "kmipcrypt: %s%s\n",
		 lvl == LOG_LVL_WARN ? "warning: " : "", msg);
	crypt_log(log_cd, level, line);
}

static void log_init(void)
{
	log_set_ident("kmipcrypt");
	/* Everything to libcryptsetup, which drops debug lines unless asked for them. */
	log_set_level(LOG_LVL_DEBUG);
	log_set_sink(crypt_sink, NULL);
}

/* Enter a hook: route the library's log to cd until log_leave(). */
static struct crypt_device *log_enter(struct crypt_device *cd)
{
	struct crypt_device *prev = log_cd;

	pthread_once(&log_once, log_init);
	log_cd = cd;
	return prev;
}

static void log_leave(struct crypt_device *prev)
{
	log_cd = prev;
}

/* ------------------------------------------------------------- helpers */

static const char *config_path(void)
{
	const char *p = secure_getenv(PLUGIN_CONFIG_ENV);

	return p && *p ? p : KMIPCRYPT_CONF_PATH;
}

/* "DEVICE token N" for messages; device names come from the caller, not the disk. */
static void where_fmt(struct crypt_device *cd, int token, char *buf, size_t len)
{
	const char *dev = cd ? crypt_get_device_name(cd) : NULL;

	if (token >= 0)
		snprintf(buf, len, "%s token %d", dev ? dev : "LUKS2 device", token);
	else
		snprintf(buf, len, "%s kmip token", dev ? dev : "LUKS2 device");
}

/*
 * What open returns for an error of the library; never -ENOANO, never >= 0.
 * -EAGAIN when the KMS said nothing about the key (util/errclass.h:
 * unreachable, an unusable answer, unsupported, TLS): another token may work.
 */
static int plugin_errno(int r)
{
	if (r >= 0 || r == -ENOANO)
		return -EIO;
	if (errclass_no_answer(r))
		return -EAGAIN;
	return r;
}

/* ----------------------------------------------------------------- open */

/*
 * One token, within the deadline of the open it is part of.  down[] gets
 * the token's server group if that group did not answer (for open_end()).
 */
static int token_open(struct crypt_device *cd, int token, int64_t deadline,
		      char down[CONFIG_NAME_MAX], char **buffer, size_t *buffer_len)
{
	char where[PATH_MAX + 32];
	const char *json = NULL, *path;
	struct kmip_token t;
	struct config *cfg = NULL;
	struct kmip_session *conn = NULL;
	uint8_t *secret = NULL;
	size_t secret_len = 0;
	bool is_volume_key = false;
	int64_t t0 = clock_now_ms(), ago;
	int r, by;

	where_fmt(cd, token, where, sizeof(where));
	r = crypt_token_json_get(cd, token, &json);
	if (r < 0 || !json)
		return plugin_errno(log_error_errno(r < 0 ? r : -ENOENT, "%s: cannot read the "
						    "token: %s", where,
						    strerror(r < 0 ? -r : ENOENT)));
	r = kmip_token_parse(json, strnlen(json, KMIP_TOKEN_JSON_MAX + 1), where, &t);
	if (r < 0)
		return -EINVAL;		/* why: logged by the parser */
	/* What an AES-GCM envelope authenticates (token.h). */
	snprintf(t.volume_uuid, sizeof(t.volume_uuid), "%s", crypt_get_uuid(cd) ? crypt_get_uuid(cd) : "");

	if (t.kind == KMIP_KIND_VOLUME_KEY) {
		log_debug("%s: kind volume-key: the KMS holds the volume key itself, and a token "
			  "plugin can only return a keyslot passphrase; unlock with "
			  "'kmipcrypt unlock %s' instead", where,
			  crypt_get_device_name(cd) ? crypt_get_device_name(cd) : "DEVICE");
		r = -ENOENT;
		goto out;
	}
	if (open_group_down(cd, t.group, &by, &ago)) {
		log_error("%s: server group [%s] did not answer token %d of this open %lld ms ago; "
			  "not asked again (no usable answer from the KMS)", where, t.group, by,
			  (long long)ago);
		r = -EAGAIN;
		goto out;
	}

	path = config_path();
	r = config_load(path, &cfg);
	if (r == -ENOENT) {
		log_error("%s: configuration file %s not found; this host cannot use the kmip token",
			  where, path);
		goto out;
	}
	if (r < 0) {
		log_error("%s: configuration file %s is not usable (errors above)", where, path);
		r = -ENOENT;
		goto out;
	}
	/* The same time-bounded session as kmipcrypt unlock (kmip/session.c). */
	r = conf_session_open(cfg, t.group, deadline, &conn);
	if (r < 0) {
		log_error("%s: server group [%s] of %s is not usable (see above)", where, t.group, path);
		r = -ENOENT;
		goto out;
	}
	log_debug("%s: %s key '%s' from group [%s] (limit %u ms)",
		  where, kmip_kind_name(t.kind), t.uid, t.group, token_kmip_deadline_ms);

	r = luks_fetch_secret(kmip_session_client(conn), &t, NULL, &secret, &secret_len, &is_volume_key);
	if (r < 0) {
		/* Why is logged above (library); this says what it means for the unlock. */
		if (errclass_unreachable(r))
			snprintf(down, CONFIG_NAME_MAX, "%s", t.group);
		if (errclass_no_answer(r))
			log_error("%s: no usable answer from the KMS (group [%s], %lld ms); this token "
				  "cannot unlock now", where, t.group, (long long)(clock_now_ms() - t0));
		else if (r == -EKEYMISMATCH)
			log_error("%s: key '%s' cannot be this token's secret; trying the next token",
				  where, t.uid);
		else if (errclass_of(r) == ERRCLASS_INTERNAL || errclass_of(r) == ERRCLASS_INTERRUPTED)
			log_error("%s: key '%s' was not fetched (%s); this token cannot unlock", where,
				  t.uid, strerror(-r));
		else
			log_error("%s: the KMS refuses key '%s'; this token cannot unlock", where, t.uid);
		/*
		 * Destroyed or not found is revoked too (DESIGN.md, remote kill);
		 * -ENOENT would let libcryptsetup go on to the next token as if
		 * this one did not apply.
		 */
		if (r == -ENOENT)
			r = -EKEYREVOKED;
		else if (r == -EKEYMISMATCH)
			r = -EINVAL;
		goto out;
	}
	if (is_volume_key) {
		log_debug("%s: the server returned a volume key; use 'kmipcrypt unlock'", where);
		r = -ENOENT;
		goto out;
	}
	/* base64 of the secret, exactly as enroll made the keyslot's passphrase. */
	r = luks_secret_passphrase(secret, secret_len, buffer, buffer_len);
	if (r < 0) {
		log_error("%s: cannot allocate locked memory for the passphrase: %s", where,
			  strerror(-r));
		goto out;
	}
	log_debug("%s: keyslot passphrase ready after %lld ms", where,
		  (long long)(clock_now_ms() - t0));
out:
	secmem_free(secret);
	kmip_session_close(conn);
	config_free(cfg);
	explicit_bzero(&t, sizeof(t));
	return r < 0 ? plugin_errno(r) : 0;
}

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer,
			  size_t *buffer_len, void *usrptr)
{
	return cryptsetup_token_open_pin(cd, token, NULL, 0, buffer, buffer_len, usrptr);
}

int cryptsetup_token_open_pin(struct crypt_device *cd, int token, const char *pin,
			      size_t pin_size, char **buffer, size_t *buffer_len, void *usrptr)
{
	char down[CONFIG_NAME_MAX] = "", where[PATH_MAX + 32];
	struct crypt_device *prev;
	int64_t now, start, deadline;
	int first, r;

	(void)usrptr;
	if (!cd || token < 0 || !buffer || !buffer_len)
		return -EINVAL;
	prev = log_enter(cd);
	if (pin)
		log_debug("token %d: a kmip token takes no PIN; ignoring the one given", token);
	(void)pin_size;
	now = clock_now_ms();
	deadline = open_begin(cd, token, now, &first, &start);
	if (first != token)
		log_debug("token %d: part of the open that began with token %d %lld ms ago: "
			  "%lld ms of its %u ms left", token, first, (long long)(now - start),
			  (long long)(deadline - now), token_kmip_deadline_ms);
	if (now >= deadline) {
		where_fmt(cd, token, where, sizeof(where));
		r = log_error_errno(-EAGAIN, "%s: the %u ms time limit of this open (begun with "
				    "token %d) is used up; not tried", where,
				    token_kmip_deadline_ms, first);
	} else
		r = token_open(cd, token, deadline, down, buffer, buffer_len);
	open_end(cd, token, down[0] ? down : NULL);
	log_leave(prev);
	return r;
}

void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len)
{
	(void)buffer_len;
	/* Every buffer open returns comes from secmem, which wipes (explicit_bzero) and unmaps. */
	secmem_free(buffer);
}

/* ------------------------------------------------------- validate, dump */

int cryptsetup_token_validate(struct crypt_device *cd, const char *json)
{
	struct crypt_device *prev;
	struct kmip_token t;
	char where[PATH_MAX + 32];
	int r;

	if (!json)
		return -EINVAL;
	prev = log_enter(cd);
	where_fmt(cd, -1, where, sizeof(where));
	r = kmip_token_parse(json, strnlen(json, KMIP_TOKEN_JSON_MAX + 1), where, &t);
	explicit_bzero(&t, sizeof(t));
	log_leave(prev);
	return r < 0 ? -EINVAL : 0;
}

static void dump_line(struct crypt_device *cd, const char *name, const char *value)
{
	char line[TEXT_ESCAPED_SIZE(KMIP_UID_SIZE) + 64];

	snprintf(line, sizeof(line), "\t%-13s %s\n", name, value);
	crypt_log(cd, CRYPT_LOG_NORMAL, line);
}

void cryptsetup_token_dump(struct crypt_device *cd, const char *json)
{
	struct crypt_device *prev;
	struct kmip_token t;
	char where[PATH_MAX + 32], buf[TEXT_ESCAPED_SIZE(KMIP_UID_SIZE)], num[64];

	if (!json)
		return;
	prev = log_enter(cd);
	where_fmt(cd, -1, where, sizeof(where));
	if (kmip_token_parse(json, strnlen(json, KMIP_TOKEN_JSON_MAX + 1), where, &t) < 0) {
		dump_line(cd, "kmip:", "invalid token (see the error above)");
		goto out;
	}
	snprintf(num, sizeof(num), "%d", t.version);
	dump_line(cd, "format:", num);
	dump_line(cd, "kind:", kmip_kind_name(t.kind));
	dump_line(cd, "uid:", text_escape(t.uid, buf, sizeof(buf)));
	dump_line(cd, "group:", text_escape(t.group, buf, sizeof(buf)));
	/* Hints a token made before they existed does not have (the token format is the same). */
	dump_line(cd, "object group:", t.object_group[0] ?
		  text_escape(t.object_group, buf, sizeof(buf)) : "not recorded");
	if (t.protocol)
		snprintf(num, sizeof(num), "KMIP %d.%d", t.protocol >> 8, t.protocol & 0xff);
	dump_line(cd, "protocol:", t.protocol ? num : "not recorded");
	switch (t.kind) {
	case KMIP_KIND_VOLUME_KEY:
		dump_line(cd, "wrap uid:", t.wrap_uid[0] ? text_escape(t.wrap_uid, buf, sizeof(buf))
							  : "none");
		dump_line(cd, "unlock:", "kmipcrypt unlock (not this plugin)");
		break;
	case KMIP_KIND_ENVELOPE:
		/* Only sizes: the ciphertext is useless without the server, but no need to show it. */
		snprintf(num, sizeof(num), "%zu bytes, IV %zu bytes", t.ciphertext_len, t.iv_len);
		dump_line(cd, "envelope:", num);
		break;
	default:
		break;
	}
out:
	explicit_bzero(&t, sizeof(t));
	log_leave(prev);
}

const char *cryptsetup_token_version(void)
{
	return KMIPCRYPT_VERSION;
}
