// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Mutual-TLS transport to a KMIP server: see transport.h.
 *
 * Choices worth knowing:
 *
 * - Everything runs on a non-blocking socket, and every wait is a poll()
 *   against a CLOCK_MONOTONIC deadline: connect, handshake, the write of a
 *   request and the read of a response each get timeout_ms.  A blackholed
 *   or silent server therefore costs at most timeout_ms per phase, never the
 *   kernel's minutes of SYN or data retransmissions.
 *
 * - SIGPIPE: OpenSSL's socket BIO uses write(2), which raises SIGPIPE when
 *   the server has gone.  This code runs inside other programs (the
 *   libcryptsetup token plugin runs in systemd-cryptsetup), so changing the
 *   process's signal disposition is not ours to do, and blocking the signal
 *   per thread needs a sigtimedwait() dance around every SSL call.  Instead
 *   the SSL object talks through a tiny BIO of our own whose write is
 *   send(MSG_NOSIGNAL) and whose read is recv(): EPIPE comes back as an
 *   error, and no signal is ever raised.
 *
 * - One SSL_write_ex() per request, with partial writes disabled: the whole
 *   message is handed to TLS at once (TCP_NODELAY is set, so it leaves in as
 *   few segments as the record layer allows, with no Nagle stall).
 *
 * - An idle connection the server has closed is noticed before writing
 *   (poll + SSL_peek): nothing has been sent yet, so reconnecting is safe
 *   for any request.  If the close is only seen after the write (EOF with no
 *   byte of response), the request may or may not have been carried out:
 *   it is sent once more only if the caller says it is idempotent, else
 *   -ECONNRESET.
 *
 * - The response is read into locked memory (it may carry key material).
 *
 * One transport is used by one thread at a time.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/sock.h"
#include "net/transport.h"
#include "ttlv/ttlv.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

#define WHY_MAX		512	/* one failure reason, for the log */

/*
 * TLS 1.2 suites: ECDHE only (forward secrecy), AEAD first.  ECDSA servers
 * get AEAD only.  The ECDHE-RSA CBC-SHA256/SHA384 pair stays because
 * PyKMIP 0.10 with an RSA certificate has no ECDHE-RSA-GCM suite (and it
 * picks by its own order, which puts CBC first: offering ECDSA-CBC would
 * make it choose CBC for an EC certificate too).  TLS 1.3 suites are all
 * forward-secret: OpenSSL's defaults.
 */
static const char default_ciphers[] =
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:"
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-RSA-CHACHA20-POLY1305:"
	"ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256";
/* An operator's list can narrow the choice, never add a suite without FS. */
static const char fs_only[] = ":!kRSA:!PSK:!SRP:!aNULL:!eNULL";

/* The first certificate verification failure, kept by verify_cb(). */
struct vfail {
	int err;		/* X509_V_OK: none */
	int depth;		/* 0: the server's own certificate */
	char subject[160];	/* of the certificate that failed */
	char leaf[160];		/* subject of the server's own certificate */
	char leaf_issuer[160];
	char not_before[32];
	char not_after[32];
};

struct transport {
	SSL_CTX *ctx;
	BIO_METHOD *bio_meth;
	SSL *ssl;
	int fd;
	unsigned cur;		/* index of the server connected to */
	bool broken;		/* fatal TLS error: no close_notify */
	bool sent_cert;		/* handshake: our Certificate message went out */
	bool have_cert;		/* a client certificate is configured */
	struct vfail vf;
	char peer[TRANSPORT_HOST_MAX + 16];

	struct server_addr servers[TRANSPORT_MAX_SERVERS];
	unsigned n_servers;
	unsigned timeout_ms;
	int min_version;
	size_t max_message;
	bool has_pin;
	uint8_t pin[32];
	char *ca_file;		/* for messages only */
	char *cert_file;
};

/* ------------------------------------------------------------- helpers */

/* The reason text of the first queued OpenSSL error (the root cause). */
static const char *ossl_reason(void)
{
	const char *s = ERR_reason_error_string(ERR_peek_error());

	return s ? s : "unknown OpenSSL error";
}

static bool is_ipv6_literal(const char *h)
{
	return strchr(h, ':') != NULL;
}

static bool is_ip_literal(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;

	return inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
}

static void fmt_peer(const struct server_addr *sa, char *buf, size_t len)
{
	if (is_ipv6_literal(sa->host))
		snprintf(buf, len, "[%s]:%u", sa->host, (unsigned)sa->port);
	else
		snprintf(buf, len, "%s:%u", sa->host, (unsigned)sa->port);
}

static void fmt_time(const ASN1_TIME *at, char *buf, size_t len)
{
	struct tm tm;

	if (!at || !ASN1_TIME_to_tm(at, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "?");
}

static void fmt_name(const X509_NAME *n, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long l;

	snprintf(buf, len, "?");
	if (!b)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		l = BIO_get_mem_data(b, &p);
		if (l > 0 && p)
			snprintf(buf, len, "%.*s", (int)(l > INT_MAX ? INT_MAX : l), p);
	}
	BIO_free(b);
}

/* ---------------------------------------------------- no-SIGPIPE socket BIO */

static int nbio_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int nbio_write(BIO *b, const char *buf, size_t len, size_t *done)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = send(nbio_fd(b), buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		*done = 0;
		return 0;	/* errno is left for SSL_ERROR_SYSCALL */
	}
	*done = (size_t)n;
	return 1;
}

static int nbio_read(BIO *b, char *buf, size_t len, size_t *done)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = recv(nbio_fd(b), buf, len, 0);
	while (n < 0 && errno == EINTR);
	*done = 0;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_read(b);
		return 0;
	}
	if (n == 0) {
		/* BIO_eof() tells OpenSSL this is an end of stream, not an error. */
		BIO_set_flags(b, BIO_FLAGS_IN_EOF);
		return 0;
	}
	*done = (size_t)n;
	return 1;
}

static long nbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;	/* nothing is buffered here */
	case BIO_CTRL_EOF:
		return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = nbio_fd(b);
		return nbio_fd(b);
	default:
		return 0;	/* no kTLS, no push/pop, nothing else */
	}
}

static BIO_METHOD *nbio_method(void)
{
	int idx = BIO_get_new_index();
	BIO_METHOD *m;

	if (idx < 0)
		return NULL;
	m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
			 "kmipcrypt socket");
	if (!m)
		return NULL;
	if (!BIO_meth_set_write_ex(m, nbio_write) ||
	    !BIO_meth_set_read_ex(m, nbio_read) ||
	    !BIO_meth_set_ctrl(m, nbio_ctrl)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* ------------------------------------------------------------ callbacks */

struct pw_ctx {
	const char *pw;
	bool asked;
	bool too_long;
};

/*
 * The password comes from the configuration only: never let OpenSSL fall
 * back to prompting on a terminal (at boot nobody is there to answer).
 */
static int pem_pw_cb(char *buf, int size, int rwflag, void *u)
{
	struct pw_ctx *c = u;
	size_t n;

	if (!c)
		return 0;
	c->asked = true;
	if (!c->pw || size <= 0)
		return 0;
	n = strlen(c->pw);
	if (n > (size_t)size) {
		c->too_long = true;
		return 0;
	}
	memcpy(buf, c->pw, n);
	return (int)n;
}

/* Remember why verification failed, with the certificate's dates and name. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct transport *t = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *c;

	if (ok || !t || t->vf.err != X509_V_OK)
		return ok;
	t->vf.err = X509_STORE_CTX_get_error(xs);
	t->vf.depth = X509_STORE_CTX_get_error_depth(xs);
	c = X509_STORE_CTX_get0_cert(xs);
	if (c) {
		fmt_name(X509_get_subject_name(c), t->vf.leaf, sizeof(t->vf.leaf));
		fmt_name(X509_get_issuer_name(c), t->vf.leaf_issuer,
			 sizeof(t->vf.leaf_issuer));
	}
	c = X509_STORE_CTX_get_current_cert(xs);
	if (c) {
		fmt_name(X509_get_subject_name(c), t->vf.subject, sizeof(t->vf.subject));
		fmt_time(X509_get0_notBefore(c), t->vf.not_before, sizeof(t->vf.not_before));
		fmt_time(X509_get0_notAfter(c), t->vf.not_after, sizeof(t->vf.not_after));
	}
	return ok;
}

/*
 * Note when our Certificate message leaves: a handshake_failure alert after
 * it is about our certificate, before it about suites or versions.
 */
static void msg_cb(int write_p, int version, int content_type, const void *buf,
		   size_t len, SSL *ssl, void *arg)
{
	struct transport *t = SSL_get_app_data(ssl);
	const uint8_t *p = buf;

	if (t && write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    p[0] == SSL3_MT_CERTIFICATE)
		t->sent_cert = true;
}

/* --------------------------------------------------- failure classification */

static const char *client_cert_hint(void)
{
	return "check that our client certificate is issued by a CA the server "
	       "trusts, is not expired, and has extendedKeyUsage clientAuth";
}

/* A certificate verification failure: -EKEYREJECTED and why. */
static int verify_failure(struct transport *t, long vr, const char *host,
			  char *why, size_t wl)
{
	const struct vfail *v = &t->vf;
	int err = v->err != X509_V_OK ? v->err : (int)vr;
	char what[96];

	if (v->depth > 0)
		snprintf(what, sizeof(what), "the server's CA certificate (chain depth %d)", v->depth);
	else
		snprintf(what, sizeof(what), "the server certificate");

	switch (err) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		snprintf(why, wl, "server certificate is self-signed (subject %s), not "
			 "issued by a CA in %s (unknown CA)", v->leaf, t->ca_file);
		break;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		/* Name the leaf and its issuer: the CA the operator must trust. */
		snprintf(why, wl, "server certificate (subject %s, issuer %s) is not "
			 "issued by a CA in %s (unknown CA): check the ca setting",
			 v->leaf, v->leaf_issuer, t->ca_file);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		snprintf(why, wl, "%s (subject %s) expired on %s", what, v->subject,
			 v->not_after);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(why, wl, "%s (subject %s) is not valid before %s: check this "
			 "host's clock", what, v->subject, v->not_before);
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(why, wl, "server certificate (subject %s) is not valid for %s "
			 "(host name mismatch): the name or address in servers= must be "
			 "in its subjectAltName", v->leaf, host);
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		snprintf(why, wl, "%s (subject %s) is not for TLS server use "
			 "(extendedKeyUsage)", what, v->subject);
		break;
	default:
		snprintf(why, wl, "%s (subject %s) rejected: %s", what, v->subject,
			 X509_verify_cert_error_string(err));
		break;
	}
	return -EKEYREJECTED;
}

/* OpenSSL 3.0 has no long name for the TLS 1.3 alerts ("unknown"). */
static const char *alert_name(int desc)
{
	switch (desc) {
	case SSL_AD_MISSING_EXTENSION:		return "missing extension";
	case SSL_AD_CERTIFICATE_REQUIRED:	return "certificate required";
	default:				return SSL_alert_desc_string_long(desc);
	}
}

/* An alert the server sent us: -EKEYREJECTED and why. */
static int alert_failure(struct transport *t, int desc, const char *phase,
			 char *why, size_t wl)
{
	const char *name = alert_name(desc);

	if (!t->have_cert && (desc == SSL_AD_HANDSHAKE_FAILURE ||
			      desc == SSL_AD_CERTIFICATE_REQUIRED ||
			      desc == SSL_AD_BAD_CERTIFICATE)) {
		snprintf(why, wl, "the server requires a client certificate and none is "
			 "configured (TLS alert \"%s\" during %s): set cert and key", name,
			 phase);
		return -EKEYREJECTED;
	}
	switch (desc) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_CERTIFICATE_REQUIRED:
		snprintf(why, wl, "the server rejected our client certificate %s "
			 "(TLS alert \"%s\" during %s): %s", t->cert_file, name, phase,
			 client_cert_hint());
		break;
	case SSL_AD_HANDSHAKE_FAILURE:
		if (t->sent_cert)
			snprintf(why, wl, "the server aborted the handshake after receiving "
				 "our client certificate %s (TLS alert \"%s\"): it most likely "
				 "rejected it; %s", t->cert_file, name, client_cert_hint());
		else if (t->min_version >= TLS1_3_VERSION)
			snprintf(why, wl, "the server aborted the handshake (TLS alert "
				 "\"%s\") before asking for our certificate: it may not "
				 "speak TLS 1.3, which tls_min_version requires", name);
		else
			snprintf(why, wl, "the server aborted the handshake (TLS alert "
				 "\"%s\") before asking for our certificate: no cipher suite "
				 "or signature algorithm in common; check cipher_suites", name);
		break;
	case SSL_AD_PROTOCOL_VERSION:
		snprintf(why, wl, "protocol version: the server refused every TLS version "
			 "we offer (TLS alert \"%s\"); check tls_min_version", name);
		break;
	case SSL_AD_INSUFFICIENT_SECURITY:
		snprintf(why, wl, "no cipher suite in common with the server (TLS alert "
			 "\"%s\"); check cipher_suites", name);
		break;
	default:
		snprintf(why, wl, "the server sent TLS alert \"%s\" during %s", name, phase);
		break;
	}
	return -EKEYREJECTED;
}

/* errno of a dead stream, as the transport reports it. */
static int net_errno(int e)
{
	switch (e) {
	case EPIPE:
	case ECONNRESET:
	case ECONNABORTED:
	case 0:
		return -ECONNRESET;
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNREFUSED:
		return -e;
	default:
		return -ECONNRESET;
	}
}

/*
 * Why an SSL call failed, after SSL_get_error() gave ssl_err and the call
 * left sys_errno.  Returns -EKEYREJECTED (TLS or authentication: the
 * configuration or the peer is wrong, retrying will not help), -ECONNRESET
 * (the stream ended: EOF, reset, close_notify), another network errno, or
 * -EBADMSG (a corrupt record after the handshake).
 * Consumes the OpenSSL error queue.
 */
static int tls_failure(struct transport *t, const char *host, int ssl_err,
		       int sys_errno, const char *phase, char *why, size_t wl)
{
	unsigned long e = ERR_peek_error();
	int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
	long vr = SSL_get_verify_result(t->ssl);
	int r;

	t->broken = true;
	if (ssl_err == SSL_ERROR_ZERO_RETURN) {
		snprintf(why, wl, "the server closed the connection (close_notify) during %s",
			 phase);
		r = -ECONNRESET;
	} else if (ssl_err == SSL_ERROR_SYSCALL ||
		   (lib == ERR_LIB_SSL && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		if (sys_errno && lib != ERR_LIB_SSL)
			snprintf(why, wl, "%s: %s", phase, strerror(sys_errno));
		else
			snprintf(why, wl, "the server closed the connection during %s "
				 "without a TLS alert", phase);
		r = net_errno(lib == ERR_LIB_SSL ? 0 : sys_errno);
	} else if (t->vf.err != X509_V_OK || vr != X509_V_OK ||
		   (lib == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED)) {
		r = verify_failure(t, vr, host, why, wl);
	} else if (lib == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
		   reason < SSL_AD_REASON_OFFSET + 256) {
		r = alert_failure(t, reason - SSL_AD_REASON_OFFSET, phase, why, wl);
	} else if (lib == ERR_LIB_SSL &&
		   (reason == SSL_R_UNSUPPORTED_PROTOCOL ||
		    reason == SSL_R_NO_PROTOCOLS_AVAILABLE ||
		    reason == SSL_R_VERSION_TOO_LOW)) {
		snprintf(why, wl, "protocol version: the server offered a TLS version below "
			 "tls_min_version (%s)", ossl_reason());
		r = -EKEYREJECTED;
	} else if (lib == ERR_LIB_SSL &&
		   (reason == SSL_R_WRONG_VERSION_NUMBER ||
		    reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
		    reason == SSL_R_RECORD_LENGTH_MISMATCH)) {
		snprintf(why, wl, "the server does not speak TLS (%s): wrong port, or not "
			 "a KMIP server?", ossl_reason());
		r = -EKEYREJECTED;
	} else if (lib == ERR_LIB_SSL &&
		   (reason == SSL_R_NO_SHARED_CIPHER ||
		    reason == SSL_R_WRONG_CIPHER_RETURNED ||
		    reason == SSL_R_NO_CIPHERS_AVAILABLE)) {
		snprintf(why, wl, "no cipher suite in common with the server (%s); check "
			 "cipher_suites", ossl_reason());
		r = -EKEYREJECTED;
	} else if (SSL_is_init_finished(t->ssl)) {
		/* A broken record after a good handshake: a malformed stream. */
		snprintf(why, wl, "TLS error during %s: %s", phase, ossl_reason());
		r = -EBADMSG;
	} else {
		snprintf(why, wl, "TLS error during %s: %s", phase, ossl_reason());
		r = -EKEYREJECTED;
	}
	ERR_clear_error();
	return r;
}

/* ---------------------------------------------------------- connection */

static void conn_drop(struct transport *t)
{
	if (t->ssl) {
		/*
		 * Say goodbye if the session is healthy: one non-blocking
		 * close_notify, no waiting for the server's.  Never after a
		 * fatal error (OpenSSL forbids it).
		 */
		if (!t->broken && SSL_is_init_finished(t->ssl)) {
			ERR_clear_error();
			(void)SSL_shutdown(t->ssl);
		}
		SSL_free(t->ssl);
		t->ssl = NULL;
		ERR_clear_error();
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	t->broken = false;
	t->sent_cert = false;
	memset(&t->vf, 0, sizeof(t->vf));
	t->peer[0] = '\0';
}

static int check_pin(struct transport *t, char *why, size_t wl)
{
	X509 *leaf = SSL_get0_peer_certificate(t->ssl);
	unsigned char *der = NULL;
	uint8_t md[32];
	unsigned int mdlen = 0;
	char want[65], got[65];
	int n, r;

	if (!leaf) {
		snprintf(why, wl, "the server sent no certificate");
		return -EKEYREJECTED;
	}
	n = i2d_PUBKEY(X509_get0_pubkey(leaf), &der);
	if (n <= 0 || !EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != sizeof(md)) {
		snprintf(why, wl, "cannot hash the server's public key: %s", ossl_reason());
		r = -EKEYREJECTED;
		goto out;
	}
	if (CRYPTO_memcmp(md, t->pin, sizeof(md)) != 0) {
		/* Both hashes are of public keys: safe, and what the operator needs. */
		hex_encode(t->pin, sizeof(t->pin), want);
		hex_encode(md, sizeof(md), got);
		snprintf(why, wl, "server public key does not match the pin: expected "
			 "SHA-256 %s, server has %s", want, got);
		r = -EKEYREJECTED;
		goto out;
	}
	r = 0;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return r;
}

static int tls_handshake(struct transport *t, const struct server_addr *sa,
			 char *why, size_t wl)
{
	int64_t deadline = clock_now_ms() + t->timeout_ms;
	char ip[TRANSPORT_HOST_MAX];
	BIO *bio;
	int r, ret, e, se;

	t->ssl = SSL_new(t->ctx);
	bio = BIO_new(t->bio_meth);
	if (!t->ssl || !bio) {
		BIO_free(bio);
		snprintf(why, wl, "out of memory");
		return -ENOMEM;
	}
	BIO_set_data(bio, (void *)(intptr_t)t->fd);
	BIO_set_init(bio, 1);
	SSL_set_bio(t->ssl, bio, bio);	/* the SSL owns the one reference */
	SSL_set_app_data(t->ssl, t);

	if (is_ipv6_literal(sa->host) || is_ip_literal(sa->host)) {
		/*
		 * No SNI for addresses (RFC 6066); match the iPAddress SAN.  An
		 * IPv6 zone ("%eth0") is not part of the address it names.
		 */
		snprintf(ip, sizeof(ip), "%s", sa->host);
		ip[strcspn(ip, "%")] = '\0';
		ret = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), ip);
	} else {
		SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ret = SSL_set1_host(t->ssl, sa->host) &&
		      SSL_set_tlsext_host_name(t->ssl, sa->host);
	}
	if (ret != 1) {
		snprintf(why, wl, "cannot set up host name verification for \"%s\"", sa->host);
		ERR_clear_error();
		return -EINVAL;
	}

	for (;;) {
		ERR_clear_error();
		errno = 0;
		ret = SSL_connect(t->ssl);
		if (ret == 1)
			break;
		se = errno;
		e = SSL_get_error(t->ssl, ret);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r = sock_wait(t->fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
				      deadline);
			if (r == -ETIMEDOUT) {
				snprintf(why, wl, "TLS handshake timed out after %u ms (the "
					 "server accepted the connection but did not "
					 "complete the handshake)", t->timeout_ms);
				return r;
			}
			if (r < 0) {
				snprintf(why, wl, "poll: %s", strerror(-r));
				return r;
			}
			continue;
		}
		return tls_failure(t, sa->host, e, se, "the TLS handshake", why, wl);
	}

	if (t->has_pin)
		return check_pin(t, why, wl);
	return 0;
}

static int connect_one(struct transport *t, unsigned i, char *why, size_t wl)
{
	const struct server_addr *sa = &t->servers[i];
	int64_t t0 = clock_now_ms(), t1;
	int r;

	conn_drop(t);
	r = sock_connect(sa->host, sa->port, t0 + t->timeout_ms, why, wl);
	if (r < 0)
		return r;
	t->fd = r;
	t1 = clock_now_ms();
	r = tls_handshake(t, sa, why, wl);
	if (r < 0) {
		conn_drop(t);
		return r;
	}
	t->cur = i;
	fmt_peer(sa, t->peer, sizeof(t->peer));
	log_debug("connected to %s: %s %s, TCP %lld ms, TLS handshake %lld ms",
		  t->peer, SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl),
		  (long long)(t1 - t0), (long long)(clock_now_ms() - t1));
	return 0;
}

static const char *short_reason(int r)
{
	switch (r) {
	case -EKEYREJECTED:	return "TLS/authentication failure";
	case -ECONNREFUSED:	return "connection refused";
	case -ETIMEDOUT:	return "timed out";
	case -EHOSTUNREACH:	return "host unreachable";
	case -ENETUNREACH:	return "network unreachable";
	case -ECONNRESET:	return "connection closed";
	default:		return strerror(-r);
	}
}

int transport_connect(struct transport *t)
{
	char why[WHY_MAX], peer[sizeof(t->peer)], tried[LOG_LINE_MAX];
	size_t off = 0;
	bool tls = false;
	int net = 0, r = -EINVAL;
	unsigned i;

	if (!t)
		return -EINVAL;
	tried[0] = '\0';
	for (i = 0; i < t->n_servers; i++) {
		fmt_peer(&t->servers[i], peer, sizeof(peer));
		r = connect_one(t, i, why, sizeof(why));
		if (r == 0)
			return 0;
		log_warn("%s: %s%s", peer, why,
			 i + 1 < t->n_servers ? "; trying the next server" : "");
		if (off < sizeof(tried)) {
			int n = snprintf(tried + off, sizeof(tried) - off, "%s%s (%s)",
					 i ? ", " : "", peer, short_reason(r));

			off = n < 0 ? sizeof(tried) : off + (size_t)n;
		}
		if (r == -EKEYREJECTED)
			tls = true;
		else if (!net)
			net = r;	/* the first (primary) server's network error */
	}
	/*
	 * A TLS/authentication failure is a configuration problem that a retry
	 * will not fix, so it wins over "some other server was down".
	 */
	r = tls ? -EKEYREJECTED : net;
	log_error("no KMIP server could be used; tried %s. %s", tried,
		  tls ? "Check ca, cert, key and the server certificates (see the "
			"warnings above for each server)."
		      : "Check that the servers run and are reachable from this "
			"host (network up, address and port, firewall).");
	return r;
}

/* ------------------------------------------------------------ messages */

/* Wait for what SSL_get_error() asked for, or the deadline. */
static int ssl_wait(struct transport *t, int ssl_err, int64_t deadline)
{
	return sock_wait(t->fd, ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
			 deadline);
}

/*
 * A write failed because the server hung up.  In TLS 1.3 the server judges
 * our certificate only after our side of the handshake is over, so its
 * alert may be waiting in the receive queue, behind the reset that failed
 * the write: read it, so that the error names the real cause.  True (and
 * why) if there was an alert.
 */
static bool pending_alert(struct transport *t, char *why, size_t wl)
{
	unsigned long err;
	uint8_t c;
	size_t n = 0;
	int r, reason;

	ERR_clear_error();
	r = SSL_read_ex(t->ssl, &c, 1, &n);
	if (r == 1 || SSL_get_error(t->ssl, r) != SSL_ERROR_SSL)
		goto none;
	err = ERR_peek_error();
	reason = ERR_GET_REASON(err);
	if (ERR_GET_LIB(err) != ERR_LIB_SSL || reason < SSL_AD_REASON_OFFSET ||
	    reason >= SSL_AD_REASON_OFFSET + 256)
		goto none;
	t->broken = true;
	alert_failure(t, reason - SSL_AD_REASON_OFFSET, "the first write", why, wl);
	ERR_clear_error();
	return true;
none:
	ERR_clear_error();
	return false;
}

static int send_msg(struct transport *t, const uint8_t *req, size_t len,
		    char *why, size_t wl)
{
	int64_t deadline = clock_now_ms() + t->timeout_ms;
	size_t done;
	int r, e, se;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		done = 0;
		/* Partial writes are off: success means all len bytes went. */
		r = SSL_write_ex(t->ssl, req, len, &done);
		if (r == 1)
			return 0;
		se = errno;
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_SYSCALL && pending_alert(t, why, wl))
			return -EKEYREJECTED;
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return tls_failure(t, t->servers[t->cur].host, e, se,
					   "the write of a request", why, wl);
		r = ssl_wait(t, e, deadline);
		if (r < 0) {
			t->broken = true;
			if (r == -ETIMEDOUT)
				snprintf(why, wl, "sending the request timed out after %u ms",
					 t->timeout_ms);
			else
				snprintf(why, wl, "poll: %s", strerror(-r));
			return r;
		}
	}
}

/* Read exactly len bytes; *got counts every byte received. */
static int recv_full(struct transport *t, uint8_t *buf, size_t len,
		     int64_t deadline, size_t *got, char *why, size_t wl)
{
	size_t off = 0, n;
	int r, e, se;

	while (off < len) {
		ERR_clear_error();
		errno = 0;
		n = 0;
		r = SSL_read_ex(t->ssl, buf + off, len - off, &n);
		if (r == 1) {
			off += n;
			*got += n;
			continue;
		}
		se = errno;
		e = SSL_get_error(t->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return tls_failure(t, t->servers[t->cur].host, e, se,
					   "the read of a response", why, wl);
		r = ssl_wait(t, e, deadline);
		if (r < 0) {
			t->broken = true;
			if (r == -ETIMEDOUT)
				snprintf(why, wl, "no complete response within %u ms "
					 "(%zu bytes received)", t->timeout_ms, *got);
			else
				snprintf(why, wl, "poll: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

static int recv_msg(struct transport *t, uint8_t **resp, size_t *resp_len,
		    size_t *got, char *why, size_t wl)
{
	int64_t deadline = clock_now_ms() + t->timeout_ms;
	uint8_t hdr[TTLV_HEADER_LEN], *buf = NULL;
	size_t total = 0;
	int r;

	r = recv_full(t, hdr, sizeof(hdr), deadline, got, why, wl);
	if (r == -ECONNRESET && *got > 0) {
		snprintf(why, wl, "truncated response: the connection ended after %zu "
			 "bytes, inside the message header", *got);
		r = -EBADMSG;
	}
	if (r < 0)
		goto out;
	r = ttlv_frame_len(hdr, t->max_message, &total);
	if (r == -EMSGSIZE) {
		uint32_t l = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 |
			     (uint32_t)hdr[6] << 8 | hdr[7];

		snprintf(why, wl, "the server announced a %zu-byte response, over the "
			 "%zu-byte limit", TTLV_HEADER_LEN + TTLV_PAD(l), t->max_message);
		goto out;
	}
	if (r < 0 || total < TTLV_HEADER_LEN) {
		snprintf(why, wl, "the response does not start with a TTLV header "
			 "(not a KMIP server?)");
		r = -EBADMSG;
		goto out;
	}
	buf = secmem_alloc(total);
	if (!buf) {
		r = -ENOMEM;
		snprintf(why, wl, "cannot allocate %zu bytes of locked memory", total);
		goto out;
	}
	memcpy(buf, hdr, sizeof(hdr));
	r = recv_full(t, buf + TTLV_HEADER_LEN, total - TTLV_HEADER_LEN, deadline,
		      got, why, wl);
	if (r == -ECONNRESET) {
		snprintf(why, wl, "truncated response: the connection ended after %zu "
			 "of %zu bytes", *got, total);
		r = -EBADMSG;
	}
	if (r < 0)
		goto out;
	*resp = buf;
	*resp_len = total;
	buf = NULL;
out:
	if (r < 0)
		t->broken = true;
	secmem_free(buf);
	return r;
}

/*
 * Has the server closed this (idle) connection?  Readable with nothing for
 * the application (TLS 1.3 tickets) is fine; EOF, reset, an alert or
 * close_notify is not, and neither is data nobody asked for (the stream
 * would be out of step).
 */
static bool conn_dropped(struct transport *t)
{
	struct pollfd p = { .fd = t->fd, .events = POLLIN };
	uint8_t c;
	size_t n = 0;
	int r, e;

	if (poll(&p, 1, 0) <= 0)
		return false;
	ERR_clear_error();
	r = SSL_peek_ex(t->ssl, &c, 1, &n);
	if (r == 1) {
		log_warn("%s sent data nobody asked for; reconnecting", t->peer);
		return true;
	}
	e = SSL_get_error(t->ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return false;
	t->broken = true;
	return true;
}

int transport_roundtrip(struct transport *t, const uint8_t *req, size_t req_len,
			uint8_t **resp, size_t *resp_len, bool idempotent)
{
	char why[WHY_MAX], peer[sizeof(t->peer)];
	bool fresh, resent = false;
	size_t got;
	int r;

	if (!t || !req || req_len < TTLV_HEADER_LEN || !resp || !resp_len)
		return -EINVAL;
	*resp = NULL;
	*resp_len = 0;
again:
	fresh = false;
	if (t->ssl && conn_dropped(t)) {
		/* Nothing sent yet: reconnecting is safe whatever the request. */
		log_info("%s closed the idle connection; reconnecting", t->peer);
		conn_drop(t);
	}
	if (!t->ssl) {
		r = transport_connect(t);
		if (r < 0)
			return r;
		fresh = true;
	}
	snprintf(peer, sizeof(peer), "%s", t->peer);
	got = 0;
	why[0] = '\0';
	r = send_msg(t, req, req_len, why, sizeof(why));
	if (r == 0)
		r = recv_msg(t, resp, resp_len, &got, why, sizeof(why));
	if (r == 0)
		return 0;
	conn_drop(t);
	if (r == -ECONNRESET && got == 0 && !fresh) {
		/* Closed while idle, seen only after the write. */
		if (!idempotent) {
			log_error("%s closed the connection before answering (%s); the "
				  "request may have been carried out and is not idempotent, "
				  "so it is not sent again", peer, why);
			return -ECONNRESET;
		}
		if (!resent) {
			log_info("%s closed the connection before answering (%s); "
				 "reconnecting and sending the request once more", peer, why);
			resent = true;
			goto again;
		}
	}
	if (r == -ECONNRESET && got == 0 && fresh)
		log_error("%s: %s, right after the TLS handshake and without answering: "
			  "the server may not accept our client certificate or the "
			  "request (see the server's log)", peer, why);
	else
		log_error("%s: %s", peer, why);
	return r;
}

/* ------------------------------------------------------------- set-up */

static const char *const setting_name[TRANSPORT_SET_MAX] = {
	[TRANSPORT_SET_SERVERS] = "servers",
	[TRANSPORT_SET_CA] = "ca",
	[TRANSPORT_SET_CERT] = "cert",
	[TRANSPORT_SET_KEY] = "key",
	[TRANSPORT_SET_KEY_PASSWORD] = "key_password",
	[TRANSPORT_SET_TLS_MIN_VERSION] = "tls_min_version",
	[TRANSPORT_SET_CIPHER_SUITES] = "cipher_suites",
};

const char *transport_setting_name(enum transport_setting s)
{
	return s >= 0 && s < TRANSPORT_SET_MAX ? setting_name[s] : "?";
}

/* Where a setting was made ("FILE:LINE: [GROUP] KEY"), or its bare name. */
static const char *where_of(const struct transport_opts *o, enum transport_setting s)
{
	return o->where[s] ? o->where[s] : setting_name[s];
}

/*
 * A PEM file of a setting, through the one reader (util/file.h): a regular
 * file, bounded, never blocking; a secret one (the key) only if its owner
 * alone may read it.  Locked memory, for secmem_free().
 */
static int read_pem(const struct transport_opts *o, enum transport_setting s, const char *path,
		    char **pem, size_t *len)
{
	struct read_file_opts fo = {
		.secret = s == TRANSPORT_SET_KEY,
		.where = where_of(o, s),
		.hint = s == TRANSPORT_SET_CA ? "ca names one file of PEM certificates (for a "
						"directory of CA certificates, concatenate them into "
						"one file)" : NULL,
	};
	int r;

	if (!path || !*path)
		return log_error_errno(-EINVAL, "%s: not set: a file is needed", where_of(o, s));
	r = read_file_locked_opts(path, TRANSPORT_PEM_FILE_MAX, &fo, pem, len);
	/* Logged; what is wrong is the configuration (-ENOENT would read as "no such key"). */
	return r == -ENOMEM || r == -EACCES ? r : r < 0 ? -EINVAL : 0;
}

/*
 * The CA file, or without one the system's trust store: the bundle
 * OpenSSL was built to use (Debian: /usr/lib/ssl/cert.pem, a link to
 * /etc/ssl/certs/ca-certificates.crt), read as any other file, not by
 * OpenSSL, and not from a path the environment could change.
 */
static const char *ca_path(const struct transport_opts *o)
{
	return o->ca_file && *o->ca_file ? o->ca_file : X509_get_default_cert_file();
}

/* Every certificate (and CRL) of the CA file into the context's trust store. */
static int load_ca(SSL_CTX *ctx, const struct transport_opts *o)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_INFO) *infos = NULL;
	const char *path = ca_path(o);
	char *pem = NULL;
	size_t len = 0;
	unsigned n = 0;
	BIO *bio = NULL;
	int i, r;

	if (path != o->ca_file)
		log_debug("%s: not set: the system's trust store %s", where_of(o, TRANSPORT_SET_CA),
			  path);
	r = read_pem(o, TRANSPORT_SET_CA, path, &pem, &len);
	if (r < 0)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		r = -ENOMEM;
		goto out;
	}
	ERR_clear_error();
	/* No password callback that could prompt: nothing in a CA file is encrypted. */
	infos = PEM_X509_INFO_read_bio(bio, NULL, pem_pw_cb, NULL);
	if (!infos) {
		r = log_error_errno(-EINVAL, "%s: %s: not a file of PEM certificates (%s)",
				    where_of(o, TRANSPORT_SET_CA), path, ossl_reason());
		goto out;
	}
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if ((xi->x509 && X509_STORE_add_cert(store, xi->x509) != 1) ||
		    (xi->crl && X509_STORE_add_crl(store, xi->crl) != 1)) {
			r = log_error_errno(-EINVAL, "%s: %s: cannot use certificate %d: %s",
					    where_of(o, TRANSPORT_SET_CA), path, i + 1,
					    ossl_reason());
			goto out;
		}
		n += xi->x509 != NULL;
	}
	if (n == 0) {
		r = log_error_errno(-EINVAL, "%s: %s holds no certificate (PEM, \"BEGIN "
				    "CERTIFICATE\")", where_of(o, TRANSPORT_SET_CA), path);
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	secmem_free(pem);
	return r;
}

/*
 * The client certificate, then the rest of the file as its chain, as
 * SSL_CTX_use_certificate_chain_file() does, but from memory.
 */
static int load_cert_chain(SSL_CTX *ctx, const struct transport_opts *o)
{
	const char *path = o->cert_file, *where = where_of(o, TRANSPORT_SET_CERT);
	unsigned long e;
	char *pem = NULL;
	size_t len = 0;
	X509 *x = NULL;
	BIO *bio = NULL;
	int r;

	r = read_pem(o, TRANSPORT_SET_CERT, path, &pem, &len);
	if (r < 0)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		r = -ENOMEM;
		goto out;
	}
	ERR_clear_error();
	x = PEM_read_bio_X509_AUX(bio, NULL, pem_pw_cb, NULL);
	if (!x) {
		r = log_error_errno(-EINVAL, "%s: %s: no PEM certificate (%s)", where, path,
				    ossl_reason());
		goto out;
	}
	if (SSL_CTX_use_certificate(ctx, x) != 1) {
		r = log_error_errno(-EINVAL, "%s: %s: cannot use this certificate: %s", where,
				    path, ossl_reason());
		goto out;
	}
	X509_free(x);
	x = NULL;
	SSL_CTX_clear_chain_certs(ctx);
	while ((x = PEM_read_bio_X509(bio, NULL, pem_pw_cb, NULL))) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			r = log_error_errno(-EINVAL, "%s: %s: cannot use a chain certificate: %s",
					    where, path, ossl_reason());
			goto out;
		}
		x = NULL;	/* the context owns it */
	}
	/* The end of the text is "no start line"; anything else is a broken PEM block. */
	e = ERR_peek_last_error();
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		r = log_error_errno(-EINVAL, "%s: %s: a broken certificate after the first one: %s",
				    where, path, ossl_reason());
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	X509_free(x);
	BIO_free(bio);
	secmem_free(pem);
	return r;
}

/*
 * The client key parsed with pc's password (NULL: none): *k, or NULL with
 * OpenSSL's errors queued and pc saying whether a password was asked for.
 * 0, or read_pem()'s errno.
 */
static int read_key(const struct transport_opts *o, struct pw_ctx *pc, EVP_PKEY **k)
{
	char *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	int r;

	*k = NULL;
	r = read_pem(o, TRANSPORT_SET_KEY, o->key_file, &pem, &len);
	if (r < 0)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		r = -ENOMEM;
		goto out;
	}
	ERR_clear_error();
	*k = PEM_read_bio_PrivateKey(bio, NULL, pem_pw_cb, pc);
out:
	BIO_free(bio);
	secmem_free(pem);
	return r;
}

#define SECURE_HEAP_SIZE	(64 * 1024)	/* a few keys; a power of two */
#define SECURE_HEAP_MIN		32

int transport_secure_heap(void)
{
	if (CRYPTO_secure_malloc_initialized())
		return 0;
	if (CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, SECURE_HEAP_MIN) == 0) {
		log_debug("OpenSSL's secure heap could not be set up (RLIMIT_MEMLOCK?): the client "
			  "key stays in its ordinary heap");
		return -ENOMEM;
	}
	return 0;
}

int transport_key_password_needed(const struct transport_opts *o, bool *needed)
{
	struct pw_ctx pc = { 0 };
	EVP_PKEY *k = NULL;
	int r;

	*needed = false;
	if (!o->key_file || o->key_password)
		return 0;
	r = read_key(o, &pc, &k);
	*needed = r == 0 && pc.asked;
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

static int load_key(SSL_CTX *ctx, const struct transport_opts *o)
{
	const char *path = o->key_file, *where = where_of(o, TRANSPORT_SET_KEY);
	const char *pw_where = where_of(o, TRANSPORT_SET_KEY_PASSWORD);
	struct pw_ctx pc = { .pw = o->key_password };
	EVP_PKEY *k = NULL;
	int r;

	r = read_key(o, &pc, &k);
	if (r < 0)
		goto out;
	if (!k) {
		if (pc.asked && !o->key_password)
			r = log_error_errno(-EACCES, "%s: client key %s is encrypted and no "
					    "key_password is configured", where, path);
		else if (pc.too_long)
			r = log_error_errno(-EACCES, "%s: too long for the client key %s",
					    pw_where, path);
		else if (pc.asked)
			r = log_error_errno(-EACCES, "%s: cannot decrypt the client key %s: "
					    "wrong key_password (%s)", pw_where, path,
					    ossl_reason());
		else
			r = log_error_errno(-EINVAL, "%s: cannot load the client key %s: %s "
					    "(a PEM private key is expected)", where, path,
					    ossl_reason());
		goto out;
	}
	/* OpenSSL checks the pair already here ("key values mismatch"). */
	if (SSL_CTX_use_PrivateKey(ctx, k) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		r = log_error_errno(-EINVAL, "%s: the client key %s does not belong to the "
				    "client certificate %s", where, path, o->cert_file);
		goto out;
	}
	if (CRYPTO_secure_malloc_initialized())
		log_debug("client key %s loaded; OpenSSL's secure heap holds %zu bytes", path,
			  CRYPTO_secure_used());
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	return r;
}

/*
 * OpenSSL ignores a name it does not know in a cipher list: "FOO:ECDHE-
 * ECDSA-AES128-GCM-SHA256" would pass as the second alone.  Every element
 * must select some TLS 1.2 suite on its own (an operator's typo is an
 * error, not a silently narrower list); "!", "-", "+" prefixes and "@"
 * directives are OpenSSL's syntax.  The context's list is left to the caller.
 */
static int check_cipher_names(SSL_CTX *ctx, const struct transport_opts *o)
{
	const char *p = o->cipher_suites;
	char elem[128];
	size_t n;

	for (;;) {
		p += strspn(p, ":, ");
		if (!*p)
			return 0;
		n = strcspn(p, ":, ");
		if (n >= sizeof(elem))
			return log_error_errno(-EINVAL, "%s: '%.64s...' is too long for a cipher "
					       "name", where_of(o, TRANSPORT_SET_CIPHER_SUITES), p);
		memcpy(elem, p, n);
		elem[n] = '\0';
		p += n;
		if (elem[0] == '@')
			continue;
		ERR_clear_error();
		if (SSL_CTX_set_cipher_list(ctx, elem + strspn(elem, "!-+")) != 1) {
			ERR_clear_error();
			return log_error_errno(-EINVAL, "%s: unknown cipher '%s': it names no TLS 1.2 "
					       "cipher suite this OpenSSL offers (OpenSSL names, e.g. "
					       "ECDHE-ECDSA-AES256-GCM-SHA384; TLS 1.3 suites are not "
					       "set here)",
					       where_of(o, TRANSPORT_SET_CIPHER_SUITES), elem);
		}
	}
}

static int set_ciphers(SSL_CTX *ctx, const struct transport_opts *o)
{
	char *ciphers = NULL;
	size_t n;
	int r;

	if (!o->cipher_suites || !*o->cipher_suites) {
		r = SSL_CTX_set_cipher_list(ctx, default_ciphers) == 1 ? 0 : -ENOMEM;
		goto out;
	}
	r = check_cipher_names(ctx, o);
	if (r < 0)
		goto out;
	n = strlen(o->cipher_suites) + sizeof(fs_only);
	ciphers = malloc(n);
	if (!ciphers) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(ciphers, n, "%s%s", o->cipher_suites, fs_only);
	if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		r = log_error_errno(-EINVAL, "%s: \"%s\" leaves no usable forward-secret TLS 1.2 "
				    "cipher suite (ECDHE key exchange is required)",
				    where_of(o, TRANSPORT_SET_CIPHER_SUITES), o->cipher_suites);
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	free(ciphers);
	return r;
}

int transport_new(const struct transport_opts *o, struct transport **out)
{
	struct transport *t = NULL;
	int minv, r;
	unsigned i;

	if (!o || !out)
		return -EINVAL;
	*out = NULL;
	if (o->n_servers == 0 || o->n_servers > TRANSPORT_MAX_SERVERS)
		return log_error_errno(-EINVAL, "%s: between 1 and %d KMIP servers are needed, "
				       "not %u", where_of(o, TRANSPORT_SET_SERVERS),
				       TRANSPORT_MAX_SERVERS, o->n_servers);
	for (i = 0; i < o->n_servers; i++) {
		const struct server_addr *sa = &o->servers[i];

		if (!sa->host[0] || !memchr(sa->host, '\0', sizeof(sa->host)) ||
		    sa->port == 0)
			return log_error_errno(-EINVAL, "%s: server %u: empty host name or port 0",
					       where_of(o, TRANSPORT_SET_SERVERS), i + 1);
	}
	minv = o->tls_min_version ? o->tls_min_version : TLS1_2_VERSION;
	if (minv != TLS1_2_VERSION && minv != TLS1_3_VERSION)
		return log_error_errno(-EINVAL, "%s: must be TLS 1.2 or 1.3",
				       where_of(o, TRANSPORT_SET_TLS_MIN_VERSION));
	/* Both or neither: without them the server must authenticate us otherwise. */
	if (!o->cert_file != !o->key_file)
		return log_error_errno(-EINVAL, "%s: set without %s: a client certificate "
				       "needs its key and a key its certificate",
				       where_of(o, o->cert_file ? TRANSPORT_SET_CERT : TRANSPORT_SET_KEY),
				       o->cert_file ? "key" : "cert");

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = -1;
	memcpy(t->servers, o->servers, sizeof(t->servers[0]) * o->n_servers);
	t->n_servers = o->n_servers;
	t->timeout_ms = o->timeout_ms ? o->timeout_ms : TRANSPORT_DEFAULT_TIMEOUT_MS;
	t->min_version = minv;
	t->max_message = o->max_message ? o->max_message : TTLV_MAX_MESSAGE;
	t->has_pin = o->has_pin;
	memcpy(t->pin, o->pin_sha256, sizeof(t->pin));
	t->have_cert = o->cert_file != NULL;
	t->ca_file = strdup(ca_path(o));
	t->cert_file = strdup(o->cert_file ? o->cert_file : "(none)");
	t->bio_meth = nbio_method();
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ca_file || !t->cert_file || !t->bio_meth || !t->ctx) {
		r = -ENOMEM;
		goto out;
	}
	if (SSL_CTX_set_min_proto_version(t->ctx, minv) != 1) {
		r = log_error_errno(-EINVAL, "%s: cannot set it: %s",
				    where_of(o, TRANSPORT_SET_TLS_MIN_VERSION), ossl_reason());
		goto out;
	}
	/*
	 * No compression (CRIME), no renegotiation, no session tickets (we do
	 * not resume sessions, so the server need not make any).  Responses
	 * carry key material: have OpenSSL wipe decrypted records from its own
	 * (unlocked) buffers once we have copied them into locked memory.
	 */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_NO_TICKET | SSL_OP_CLEANSE_PLAINTEXT);
	r = set_ciphers(t->ctx, o);
	if (r < 0)
		goto out;
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_msg_callback(t->ctx, msg_cb);
	/* Never prompt on a terminal for any PEM that OpenSSL reads for us. */
	SSL_CTX_set_default_passwd_cb(t->ctx, pem_pw_cb);
	SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);

	r = load_ca(t->ctx, o);
	if (r < 0)
		goto out;
	if (t->have_cert) {
		r = load_cert_chain(t->ctx, o);
		if (r < 0)
			goto out;
		r = load_key(t->ctx, o);
		if (r < 0)
			goto out;
	}
	*out = t;
	t = NULL;
	r = 0;
out:
	ERR_clear_error();
	transport_free(t);
	return r;
}

const char *transport_peer(const struct transport *t)
{
	return t && t->ssl && t->peer[0] ? t->peer : NULL;
}

void transport_close(struct transport *t)
{
	if (t)
		conn_drop(t);
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	conn_drop(t);
	SSL_CTX_free(t->ctx);	/* frees the private key (OpenSSL clears it) */
	BIO_meth_free(t->bio_meth);
	free(t->ca_file);
	free(t->cert_file);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}
