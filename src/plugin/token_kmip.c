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
 *   dump       kind, UID, server group, format (never a secret) for luksDump.
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
 *       -EAGAIN   no usable answer from the KMS (refused, timed out, TLS,
 *                 malformed or failed server answer, time limit): transient,
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
 *     timeout_ms, and the whole open at most PLUGIN_DEADLINE_MS (30 s, as
 *     `kmipcrypt unlock`'s default): before each
 *     request the per-phase timeout is lowered when the worst case of that
 *     request (every server's connect and handshake, then write and read)
 *     would not fit in what is left.  Requests are never resent.  Name
 *     resolution has the resolver's own timeout: use addresses in
 *     `servers` for boot.
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
#include "util/config.h"
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
 * Errors that mean "no usable answer from the KMS right now": the network,
 * TLS, a malformed or failed server answer.  They become -EAGAIN.
 */
static bool is_server_failure(int r)
{
	switch (r) {
	case -ECONNREFUSED: case -ETIMEDOUT: case -EHOSTUNREACH: case -ENETUNREACH:
	case -ENETDOWN: case -EHOSTDOWN: case -ECONNRESET: case -ECONNABORTED:
	case -EADDRNOTAVAIL: case -EPIPE: case -EKEYREJECTED: case -EAGAIN:
	case -EBADMSG: case -EMSGSIZE: case -EPROTO: case -EPROTONOSUPPORT:
	case -EIO: case -ECANCELED: case -ENODATA: case -EINPROGRESS: case -EINTR:
		return true;
	default:
		return false;
	}
}

/* What open returns for an error of the library; never -ENOANO, never >= 0. */
static int plugin_errno(int r)
{
	if (r >= 0 || r == -ENOANO)
		return -EIO;
	if (is_server_failure(r))
		return -EAGAIN;
	return r;
}

/* ----------------------------------------------------------------- open */

static int token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len)
{
	char where[PATH_MAX + 32];
	const char *json = NULL, *path;
	struct kmip_token t;
	struct config *cfg = NULL;
	struct luks_conn *conn = NULL;
	uint8_t *secret = NULL;
	size_t secret_len = 0;
	bool is_volume_key = false;
	int64_t t0 = luks_now_ms();
	int r;

	where_fmt(cd, token, where, sizeof(where));
	r = crypt_token_json_get(cd, token, &json);
	if (r < 0 || !json)
		return plugin_errno(log_error_errno(r < 0 ? r : -ENOENT, "%s: cannot read the "
						    "token: %s", where,
						    strerror(r < 0 ? -r : ENOENT)));
	r = kmip_token_parse(json, strnlen(json, KMIP_TOKEN_JSON_MAX + 1), where, &t);
	if (r < 0)
		return -EINVAL;		/* why: logged by the parser */

	if (t.kind == KMIP_KIND_VOLUME_KEY) {
		log_debug("%s: kind volume-key: the KMS holds the volume key itself, and a token "
			  "plugin can only return a keyslot passphrase; unlock with "
			  "'kmipcrypt unlock %s' instead", where,
			  crypt_get_device_name(cd) ? crypt_get_device_name(cd) : "DEVICE");
		r = -ENOENT;
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
	/* The same time-bounded connection as kmipcrypt unlock (luks/client.c). */
	r = luks_conn_open(cfg, t.group, t0 + token_kmip_deadline_ms, &conn);
	if (r < 0) {
		log_error("%s: server group [%s] of %s is not usable (see above)", where, t.group, path);
		r = -ENOENT;
		goto out;
	}
	log_debug("%s: %s key '%s' from group [%s] (limit %u ms)",
		  where, kmip_kind_name(t.kind), t.uid, t.group, token_kmip_deadline_ms);

	r = luks_fetch_secret(luks_conn_client(conn), &t, NULL, &secret, &secret_len, &is_volume_key);
	if (r < 0) {
		/* Why is logged above (library); this says what it means for the unlock. */
		if (is_server_failure(r))
			log_error("%s: no usable answer from the KMS (group [%s], %lld ms); this token "
				  "cannot unlock now", where, t.group, (long long)(luks_now_ms() - t0));
		else if (r == -EKEYMISMATCH)
			log_error("%s: key '%s' cannot be this token's secret; trying the next token",
				  where, t.uid);
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
		  (long long)(luks_now_ms() - t0));
out:
	secmem_free(secret);
	luks_conn_close(conn);
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
	struct crypt_device *prev;
	int r;

	(void)usrptr;
	if (!cd || token < 0 || !buffer || !buffer_len)
		return -EINVAL;
	prev = log_enter(cd);
	if (pin)
		log_debug("token %d: a kmip token takes no PIN; ignoring the one given", token);
	(void)pin_size;
	r = token_open(cd, token, buffer, buffer_len);
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

/* Token text from the disk, made printable for the terminal. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void dump_line(struct crypt_device *cd, const char *name, const char *value)
{
	char line[KMIP_UID_SIZE + 64];

	snprintf(line, sizeof(line), "\t%-13s %s\n", name, value);
	crypt_log(cd, CRYPT_LOG_NORMAL, line);
}

void cryptsetup_token_dump(struct crypt_device *cd, const char *json)
{
	struct crypt_device *prev;
	struct kmip_token t;
	char where[PATH_MAX + 32], buf[KMIP_UID_SIZE], num[64];

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
	dump_line(cd, "uid:", printable(t.uid, buf, sizeof(buf)));
	dump_line(cd, "group:", printable(t.group, buf, sizeof(buf)));
	switch (t.kind) {
	case KMIP_KIND_VOLUME_KEY:
		dump_line(cd, "wrap uid:", t.wrap_uid[0] ? printable(t.wrap_uid, buf, sizeof(buf))
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
