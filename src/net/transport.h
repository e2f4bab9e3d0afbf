/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mutual-TLS transport to a KMIP server: an ordered server list with
 * failover, deadlines on connect, handshake and every read and write,
 * certificate and host name verification, optional SPKI pin.
 *
 * Errors (negative errno), which the CLI maps to its exit codes:
 *   -ECONNREFUSED -ETIMEDOUT -EHOSTUNREACH -ENETUNREACH -ECONNRESET
 *                     no server reachable (exit 2)
 *   -EKEYREJECTED     TLS or authentication failure: unknown CA, expired or
 *                     mismatching server certificate, pin mismatch, the server
 *                     refused our certificate (exit 3)
 *   -EBADMSG -EMSGSIZE  the server sent a malformed or oversized message
 *   -EINVAL           bad options (files unreadable, bad key password: -EACCES)
 *
 * Files: the CA, the certificate chain and the private key are read by
 * util/file.h's reader (regular files only, bounded, never blocking) and
 * handed to OpenSSL from memory; OpenSSL opens no file itself.  The private
 * key must be for its owner only (file_check_secret(), as OpenSSH
 * requires), and its bytes stay in locked memory, wiped after parsing.
 */
#ifndef KMIPCRYPT_TRANSPORT_H
#define KMIPCRYPT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KMIP_DEFAULT_PORT       5696
#define TRANSPORT_MAX_SERVERS   16
#define TRANSPORT_HOST_MAX      256
#define TRANSPORT_DEFAULT_TIMEOUT_MS 10000	/* timeout_ms 0 */
#define TRANSPORT_PEM_FILE_MAX (1u << 20)	/* bytes of a CA, certificate or key file */

struct server_addr {
	char host[TRANSPORT_HOST_MAX];	/* DNS name, IPv4, or IPv6 without brackets */
	uint16_t port;
};

/*
 * The settings whose errors transport_new() reports, indexing
 * transport_opts.where.
 */
enum transport_setting {
	TRANSPORT_SET_SERVERS,
	TRANSPORT_SET_CA,
	TRANSPORT_SET_CERT,
	TRANSPORT_SET_KEY,
	TRANSPORT_SET_KEY_PASSWORD,	/* key_password or key_password_file */
	TRANSPORT_SET_TLS_MIN_VERSION,
	TRANSPORT_SET_CIPHER_SUITES,
	TRANSPORT_SET_MAX
};

/* The configuration key of a setting ("ca", "cipher_suites"; KEY_PASSWORD: "key_password"). */
const char *transport_setting_name(enum transport_setting s);

struct transport_opts {
	struct server_addr servers[TRANSPORT_MAX_SERVERS];
	unsigned n_servers;
	const char *ca_file;		/* NULL: the system's trust store (OpenSSL's default file) */
	const char *cert_file;		/* with key_file; both NULL: no client certificate */
	const char *key_file;
	const char *key_password;	/* locked memory, or NULL */
	unsigned timeout_ms;		/* each of: connect, handshake, read, write */
	int tls_min_version;		/* TLS1_2_VERSION (default) or TLS1_3_VERSION */
	const char *cipher_suites;	/* OpenSSL cipher list for TLS 1.2, NULL: default */
	bool has_pin;
	uint8_t pin_sha256[32];		/* SHA-256 of the server's SubjectPublicKeyInfo */
	size_t max_message;		/* 0: TTLV_MAX_MESSAGE */
	/*
	 * Where each setting was made, as transport_new()'s errors name it:
	 * "FILE:LINE: [GROUP] KEY" (conf/config.c makes these), the message
	 * then reads "FILE:LINE: [GROUP] KEY: what is wrong".  NULL: the
	 * setting's bare name ("ca", "cipher_suites", ...).  Owned by the caller.
	 */
	const char *where[TRANSPORT_SET_MAX];
};

/* Parse "host", "host:port", "[v6]:port", "v6" into a server_addr.  0 or -EINVAL. */
int server_addr_parse(const char *s, struct server_addr *out);

struct transport;

/*
 * Load credentials and build the TLS context; does not connect.  Every error
 * names the setting at fault (o->where) and, for a file, the file.
 */
int transport_new(const struct transport_opts *o, struct transport **out);
/*
 * Does transport_new() need a key password that o does not give: is the
 * client key encrypted (OpenSSL asks for a password to parse it) and
 * key_password NULL?  For a program that can ask its user before it
 * connects.  The key file is read as transport_new() reads it, so that a
 * file it would refuse is refused here, with the same message, before any
 * prompt: 0, or its errno (logged).  No key_file: 0, *needed false.  A key
 * that does not parse for another reason is not this function's to report
 * (*needed false; transport_new() says what is wrong).
 */
int transport_key_password_needed(const struct transport_opts *o, bool *needed);
/*
 * For programs, not for the token plugin (OpenSSL's state is process-wide,
 * and the plugin runs inside someone else's process): give OpenSSL a secure
 * heap (CRYPTO_secure_malloc_init: locked, excluded from core dumps, wiped
 * on free), where it keeps the private parts of keys such as the client
 * key.  Call once, before the first transport_new().  0, or -ENOMEM when
 * it cannot be had (logged at debug level; the key then lives in OpenSSL's
 * ordinary heap, as before).  transport_new() says at debug level how much
 * of it the client key took.
 */
int transport_secure_heap(void);
/* Connect to the first server that answers (in order).  Logs each failure. */
int transport_connect(struct transport *t);
/*
 * Send one request message and read one response message (framed by its
 * TTLV header, size-capped).  Connects if needed.  If the connection turns
 * out to have been dropped while idle and the request is idempotent, it
 * reconnects and sends once more.  *resp is in locked memory: secmem_free().
 *
 * A drop seen before the write (poll + SSL_peek: EOF, reset, close_notify)
 * reconnects for any request, since nothing was sent.  A drop seen only
 * after the write (EOF with no byte of response) resends once if
 * idempotent, else returns -ECONNRESET.  A timeout is never resent.  Any
 * error closes the connection (the stream may be out of step).
 */
int transport_roundtrip(struct transport *t, const uint8_t *req, size_t req_len,
			uint8_t **resp, size_t *resp_len, bool idempotent);
/* "host:port" of the connected server, or NULL. */
const char *transport_peer(const struct transport *t);
void transport_close(struct transport *t);	/* drop the connection, keep the context */
void transport_free(struct transport *t);

#endif
