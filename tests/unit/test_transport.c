// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: net/transport against a real OpenSSL TLS server that runs in a
 * thread of this test, on loopback, with the lab certificates
 * (tests/lab/mkcerts.sh; $KMIPCRYPT_LAB_CERTS if set, else made in a
 * temporary directory).  Each test starts its own server on a free port
 * with one behaviour (answer in tiny records, oversize, truncate, stay
 * silent, drop the connection...) and checks the transport's errno, its log
 * and, where it matters, what the server saw.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/transport.h"
#include "ttlv/ttlv.h"
#include "conf/config.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

#define SLACK_MS	500
#define RESP_BODY	10000u		/* response body: many 7-byte records */
#define REQ_LEN		3000u

static char certdir[256];
static bool certdir_ours;

/* ------------------------------------------------------------- log capture */

static char logbuf[64 * 1024];
static size_t loglen;
static unsigned n_warn, n_err;

static void sink(enum log_level lvl, const char *msg, void *ctx)
{
	int n;

	if (lvl == LOG_LVL_WARN)
		n_warn++;
	if (lvl == LOG_LVL_ERR)
		n_err++;
	/* Keep them visible in the test log too. */
	fprintf(stderr, "  log<%d> %s\n", lvl, msg);
	n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
		loglen += (size_t)n;
}

static void log_reset(void)
{
	logbuf[0] = '\0';
	loglen = 0;
	n_warn = n_err = 0;
}

static bool logged(const char *s)
{
	return strstr(logbuf, s) != NULL;
}

/* ------------------------------------------------------------------ helpers */

static const char *cert(const char *name)
{
	static char bufs[8][600];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", certdir, name);
	return b;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void opts_init(struct transport_opts *o, unsigned timeout_ms)
{
	memset(o, 0, sizeof(*o));
	o->ca_file = cert("ca.crt");
	o->cert_file = cert("client.crt");
	o->key_file = cert("client.key");
	o->timeout_ms = timeout_ms;
}

static void opts_add(struct transport_opts *o, const char *host, uint16_t port)
{
	struct server_addr *sa = &o->servers[o->n_servers++];

	snprintf(sa->host, sizeof(sa->host), "%s", host);
	sa->port = port;
}

/* A port on which nothing listens (bound, then closed). */
static uint16_t refused_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void make_request(uint8_t *req, size_t len)
{
	size_t i;

	/* A Request Message header (420078, Structure) and a body pattern. */
	req[0] = 0x42; req[1] = 0x00; req[2] = 0x78; req[3] = 0x01;
	req[4] = (uint8_t)((len - 8) >> 24); req[5] = (uint8_t)((len - 8) >> 16);
	req[6] = (uint8_t)((len - 8) >> 8); req[7] = (uint8_t)(len - 8);
	for (i = 8; i < len; i++)
		req[i] = (uint8_t)(i * 7);
}

static void make_response(uint8_t *r, size_t body)
{
	size_t i;

	r[0] = 0x42; r[1] = 0x00; r[2] = 0x7b; r[3] = 0x01;
	r[4] = (uint8_t)(body >> 24); r[5] = (uint8_t)(body >> 16);
	r[6] = (uint8_t)(body >> 8); r[7] = (uint8_t)body;
	for (i = 0; i < body; i++)
		r[8 + i] = (uint8_t)(i * 13 + 1);
}

/* SHA-256 of the SubjectPublicKeyInfo of a certificate file. */
static void spki_sha256(const char *path, uint8_t out[32])
{
	FILE *f = fopen(path, "r");
	X509 *x;
	unsigned char *der = NULL;
	unsigned int l = 0;
	int n;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	assert_true(n > 0);
	assert_true(EVP_Digest(der, (size_t)n, out, &l, EVP_sha256(), NULL));
	OPENSSL_free(der);
	X509_free(x);
}

/* ---------------------------------------------------------- the TLS server */

enum srv_mode {
	SRV_ANSWER,		/* answer every request, in 7-byte records */
	SRV_OVERSIZED,		/* announce a 1 MiB response */
	SRV_TRUNCATED,		/* half a response, then close */
	SRV_TRUNC_HEADER,	/* 5 bytes of a header, then close */
	SRV_SILENT,		/* read the request, never answer */
	SRV_DROP_IDLE,		/* answer one request, then close while idle */
	SRV_CLOSE_ON_SECOND,	/* answer one; read the second, close unanswered */
	SRV_FIN_THEN_RST,	/* read a header, FIN, then RST: EPIPE on the client */
};

struct srv {
	SSL_CTX *ctx;
	int lfd;
	uint16_t port;
	pthread_t th;
	enum srv_mode mode;
	/* seen by the server; read after srv_stop() (joined) */
	int conns;
	int handshakes;
	int requests;
	int records;		/* application-data records since the last reset */
	int req_records;	/* ... of the last complete request */
	size_t req_len;
	uint8_t req_last[16];
};

static struct srv S;

static void srv_msg_cb(int write_p, int version, int content_type, const void *buf,
		       size_t len, SSL *ssl, void *arg)
{
	const uint8_t *p = buf;

	if (!write_p && content_type == SSL3_RT_HEADER && len > 0 &&
	    p[0] == SSL3_RT_APPLICATION_DATA && SSL_is_init_finished(ssl))
		S.records++;
}

static int srv_read(SSL *ssl, uint8_t *buf, size_t len)
{
	size_t off = 0, n;

	while (off < len) {
		if (SSL_read_ex(ssl, buf + off, len - off, &n) != 1)
			return -1;
		off += n;
	}
	return 0;
}

/* Read one whole request; 0, or -1 when the client went away. */
static int srv_read_req(SSL *ssl)
{
	uint8_t hdr[8];
	uint8_t *body;
	size_t total;
	int r;

	S.records = 0;
	if (srv_read(ssl, hdr, sizeof(hdr)) < 0)
		return -1;
	if (ttlv_frame_len(hdr, 64u << 20, &total) < 0)
		return -1;
	body = malloc(total);
	if (!body)
		return -1;
	r = srv_read(ssl, body, total - 8);
	free(body);
	if (r < 0)
		return -1;
	S.requests++;
	S.req_records = S.records;
	S.req_len = total;
	memcpy(S.req_last, hdr, 8);
	return 0;
}

static void srv_answer(SSL *ssl)
{
	static uint8_t resp[8 + RESP_BODY];
	size_t off, n;

	make_response(resp, RESP_BODY);
	for (off = 0; off < sizeof(resp); off += n) {
		n = sizeof(resp) - off < 7 ? sizeof(resp) - off : 7;
		if (SSL_write(ssl, resp + off, (int)n) <= 0)
			return;
	}
}

static void srv_conn(int fd)
{
	SSL *ssl = SSL_new(S.ctx);
	uint8_t buf[RESP_BODY];

	S.conns++;
	SSL_set_fd(ssl, fd);
	SSL_set_msg_callback(ssl, srv_msg_cb);
	if (SSL_accept(ssl) != 1)
		goto out;
	S.handshakes++;
	switch (S.mode) {
	case SRV_ANSWER:
		while (srv_read_req(ssl) == 0)
			srv_answer(ssl);
		break;
	case SRV_OVERSIZED:
		if (srv_read_req(ssl) == 0) {
			make_response(buf, 64);
			buf[4] = 0x00; buf[5] = 0x10; buf[6] = 0x00; buf[7] = 0x00;
			SSL_write(ssl, buf, 72);
			srv_read(ssl, buf, 1);	/* until the client hangs up */
		}
		break;
	case SRV_TRUNCATED:
		if (srv_read_req(ssl) == 0) {
			make_response(buf, 4096);
			SSL_write(ssl, buf, 8 + 2048);
		}
		break;
	case SRV_TRUNC_HEADER:
		if (srv_read_req(ssl) == 0) {
			make_response(buf, 4096);
			SSL_write(ssl, buf, 5);
		}
		break;
	case SRV_SILENT:
		if (srv_read_req(ssl) == 0)
			srv_read(ssl, buf, 1);
		break;
	case SRV_DROP_IDLE:
		if (srv_read_req(ssl) == 0)
			srv_answer(ssl);
		break;
	case SRV_CLOSE_ON_SECOND:
		if (srv_read_req(ssl) == 0) {
			srv_answer(ssl);
			srv_read_req(ssl);
		}
		break;
	case SRV_FIN_THEN_RST:
		if (srv_read(ssl, buf, 8) == 0) {
			/* FIN now; the RST of close() with unread data comes later. */
			shutdown(fd, SHUT_WR);
			usleep(100 * 1000);
		}
		SSL_free(ssl);
		close(fd);
		return;
	}
	/* A quiet close (no close_notify), as PyKMIP does. */
out:
	SSL_free(ssl);
	close(fd);
}

static void *srv_main(void *arg)
{
	sigset_t ss;
	int fd;

	/*
	 * This test server uses OpenSSL's plain socket BIO (write(2)); a client
	 * that hangs up early (pin mismatch: TLS 1.3 tickets still to write)
	 * must not kill the test with SIGPIPE.  Blocked in this thread only, so
	 * that test_no_sigpipe still catches one raised by the transport.
	 */
	sigemptyset(&ss);
	sigaddset(&ss, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);

	for (;;) {
		fd = accept(S.lfd, NULL, NULL);
		if (fd < 0)
			break;		/* srv_stop() shut the listener down */
		srv_conn(fd);
	}
	return NULL;
}

static SSL_CTX *srv_ctx(const char *certname, const char *client_ca, int max_version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	char crt[64], key[64];

	assert_non_null(c);
	snprintf(crt, sizeof(crt), "%s.crt", certname);
	snprintf(key, sizeof(key), "%s.key", certname);
	assert_int_equal(SSL_CTX_use_certificate_chain_file(c, cert(crt)), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(c, cert(key), SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_load_verify_locations(c, cert(client_ca), NULL), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_max_proto_version(c, max_version);
	return c;
}

static void srv_start_at(enum srv_mode mode, const char *certname, const char *client_ca,
			 int max_version, bool v6)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr *a = v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4;
	socklen_t l = v6 ? sizeof(a6) : sizeof(a4);
	int one = 1, small = 4096;

	memset(&S, 0, sizeof(S));
	S.mode = mode;
	S.ctx = srv_ctx(certname, client_ca, max_version);
	S.lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(S.lfd >= 0);
	setsockopt(S.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A small window makes a big request block, so the RST finds the writer. */
	if (mode == SRV_FIN_THEN_RST)
		setsockopt(S.lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_loopback;
	assert_int_equal(bind(S.lfd, a, l), 0);
	assert_int_equal(listen(S.lfd, 16), 0);
	assert_int_equal(getsockname(S.lfd, a, &l), 0);
	S.port = ntohs(v6 ? a6.sin6_port : a4.sin_port);
	assert_int_equal(pthread_create(&S.th, NULL, srv_main, NULL), 0);
}

static void srv_start(enum srv_mode mode, const char *certname)
{
	srv_start_at(mode, certname, "ca.crt", TLS1_3_VERSION, false);
}

static void srv_stop(void)
{
	shutdown(S.lfd, SHUT_RDWR);	/* wakes accept() */
	pthread_join(S.th, NULL);
	close(S.lfd);
	SSL_CTX_free(S.ctx);
	S.ctx = NULL;
}

/* ------------------------------------------------------------------- tests */

/* Connect to one server and do one roundtrip; returns its result. */
static int one_roundtrip(struct transport_opts *o, uint8_t **resp, size_t *resp_len)
{
	struct transport *t = NULL;
	uint8_t req[REQ_LEN];
	int r;

	make_request(req, sizeof(req));
	assert_int_equal(transport_new(o, &t), 0);
	r = transport_roundtrip(t, req, sizeof(req), resp, resp_len, true);
	transport_free(t);
	return r;
}

static void check_response(const uint8_t *resp, size_t len)
{
	uint8_t want[8 + RESP_BODY];

	make_response(want, RESP_BODY);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(resp, want, sizeof(want));
	assert_true(secmem_size(resp) >= len);	/* in locked memory */
}

static void roundtrips_on(const char *host, bool v6, int max_version)
{
	struct transport_opts o;
	struct transport *t = NULL;
	uint8_t req[REQ_LEN], *resp = NULL;
	size_t len = 0, blocks = secmem_in_use(NULL);
	char peer[300];
	int i;

	srv_start_at(SRV_ANSWER, "server", "ca.crt", max_version, v6);
	opts_init(&o, 3000);
	opts_add(&o, host, S.port);
	make_request(req, sizeof(req));
	assert_int_equal(transport_new(&o, &t), 0);
	assert_null(transport_peer(t));
	for (i = 0; i < 3; i++) {
		assert_int_equal(transport_roundtrip(t, req, sizeof(req), &resp, &len, false), 0);
		check_response(resp, len);
		secmem_free(resp);
		resp = NULL;
	}
	snprintf(peer, sizeof(peer), v6 ? "[%s]:%u" : "%s:%u", host, S.port);
	assert_string_equal(transport_peer(t), peer);
	transport_free(t);
	srv_stop();
	assert_int_equal(secmem_in_use(NULL), blocks);
	assert_int_equal(S.conns, 1);		/* one connection for all three */
	assert_int_equal(S.requests, 3);
	assert_int_equal(S.req_len, REQ_LEN);
	/* The request went in one write: one TLS record (it is < 16 KiB). */
	assert_int_equal(S.req_records, 1);
}

/* Response split over ~1400 TLS records, TLS 1.3, IPv4 literal. */
static void test_framing_split_records(void **state)
{
	roundtrips_on("127.0.0.1", false, TLS1_3_VERSION);
}

/* TLS 1.2 (what PyKMIP speaks), a DNS name (SNI, name check), IPv6 tried first. */
static void test_tls12_by_name(void **state)
{
	roundtrips_on("localhost", false, TLS1_2_VERSION);
}

static void test_ipv6_literal(void **state)
{
	roundtrips_on("::1", true, TLS1_3_VERSION);
}

static void test_oversized(void **state)
{
	struct transport_opts o;
	uint8_t *resp = NULL;
	size_t len = 0;

	srv_start(SRV_OVERSIZED, "server");
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	log_reset();
	assert_int_equal(one_roundtrip(&o, &resp, &len), -EMSGSIZE);
	assert_null(resp);
	assert_true(logged("1048584-byte response, over the 65536-byte limit"));
	srv_stop();
}

static void test_truncated(void **state)
{
	struct transport_opts o;
	uint8_t *resp = NULL;
	size_t len = 0;

	srv_start(SRV_TRUNCATED, "server");
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	log_reset();
	assert_int_equal(one_roundtrip(&o, &resp, &len), -EBADMSG);
	assert_null(resp);
	assert_true(logged("truncated response"));
	srv_stop();

	srv_start(SRV_TRUNC_HEADER, "server");
	o.servers[0].port = S.port;
	log_reset();
	assert_int_equal(one_roundtrip(&o, &resp, &len), -EBADMSG);
	assert_true(logged("inside the message header"));
	srv_stop();
}

static void test_pin(void **state)
{
	struct transport_opts o;
	uint8_t *resp = NULL;
	size_t len = 0;
	char want[65], got[65];

	srv_start(SRV_ANSWER, "server");
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	o.has_pin = true;
	spki_sha256(cert("server.crt"), o.pin_sha256);
	hex_encode(o.pin_sha256, 32, got);
	assert_int_equal(one_roundtrip(&o, &resp, &len), 0);
	check_response(resp, len);
	secmem_free(resp);
	resp = NULL;

	/* Pin of another key (the RSA server's): refused, both hashes logged. */
	spki_sha256(cert("server-rsa.crt"), o.pin_sha256);
	hex_encode(o.pin_sha256, 32, want);
	log_reset();
	assert_int_equal(one_roundtrip(&o, &resp, &len), -EKEYREJECTED);
	assert_null(resp);
	assert_true(logged(want));
	assert_true(logged(got));
	assert_true(logged("does not match the pin"));
	srv_stop();
	assert_int_equal(S.requests, 1);	/* nothing sent to the wrong key */
}

/* Server certificate problems: each with its own message. */
static void bad_server_cert(const char *certname, const char *host, const char *msg)
{
	struct transport_opts o;
	uint8_t *resp = NULL;
	size_t len = 0;

	srv_start(SRV_ANSWER, certname);
	opts_init(&o, 3000);
	opts_add(&o, host, S.port);
	log_reset();
	assert_int_equal(one_roundtrip(&o, &resp, &len), -EKEYREJECTED);
	assert_null(resp);
	if (!logged(msg))
		fail_msg("expected \"%s\" in:\n%s", msg, logbuf);
	srv_stop();
	assert_int_equal(S.requests, 0);
}

static void test_hostname_mismatch(void **state)
{
	bad_server_cert("server-wrongsan", "127.0.0.1", "host name mismatch");
	bad_server_cert("server-wrongsan", "localhost", "is not valid for localhost");
}

static void test_unknown_ca(void **state)
{
	bad_server_cert("server-unknownca", "127.0.0.1", "(unknown CA)");
}

static void test_expired(void **state)
{
	bad_server_cert("server-expired", "127.0.0.1", "expired on 2021-01-01");
}

static void test_not_yet_valid(void **state)
{
	bad_server_cert("server-future", "127.0.0.1", "check this host's clock");
}

/* The server does not trust our CA: it rejects our certificate with an alert. */
static void client_cert_rejected(int max_version)
{
	struct transport_opts o;
	uint8_t *resp = NULL;
	size_t len = 0;

	srv_start_at(SRV_ANSWER, "server", "unknown-ca.crt", max_version, false);
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	log_reset();
	assert_int_equal(one_roundtrip(&o, &resp, &len), -EKEYREJECTED);
	if (!logged("the server rejected our client certificate"))
		fail_msg("log:\n%s", logbuf);
	srv_stop();
	assert_int_equal(S.handshakes, 0);
}

/* TLS 1.2: the alert ends the handshake. */
static void test_client_cert_rejected_tls12(void **state)
{
	client_cert_rejected(TLS1_2_VERSION);
}

/* TLS 1.3: our handshake is over first; the alert comes on the first read. */
static void test_client_cert_rejected_tls13(void **state)
{
	client_cert_rejected(TLS1_3_VERSION);
}

/* No client certificate configured, the server demands one. */
static void no_client_cert(int max_version)
{
	struct transport_opts o;
	uint8_t *resp = NULL;
	size_t len = 0;

	srv_start_at(SRV_ANSWER, "server", "ca.crt", max_version, false);
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	o.cert_file = NULL;
	o.key_file = NULL;
	log_reset();
	assert_int_equal(one_roundtrip(&o, &resp, &len), -EKEYREJECTED);
	if (!logged("the server requires a client certificate and none is configured"))
		fail_msg("log:\n%s", logbuf);
	srv_stop();
	assert_int_equal(S.handshakes, 0);
}

static void test_no_client_cert(void **state)
{
	no_client_cert(TLS1_2_VERSION);
	no_client_cert(TLS1_3_VERSION);
}

static void test_refused(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;

	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", refused_port());
	log_reset();
	assert_int_equal(transport_new(&o, &t), 0);
	assert_int_equal(transport_connect(t), -ECONNREFUSED);
	assert_null(transport_peer(t));
	assert_true(logged("Connection refused"));
	assert_int_equal(n_err, 1);
	transport_free(t);
}

/* A listener that completes TCP but never speaks TLS: handshake deadline. */
static void test_handshake_deadline(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	struct transport_opts o;
	struct transport *t = NULL;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int64_t t0, el;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &l), 0);
	opts_init(&o, 700);
	opts_add(&o, "127.0.0.1", ntohs(a.sin_port));
	assert_int_equal(transport_new(&o, &t), 0);
	log_reset();
	t0 = now_ms();
	assert_int_equal(transport_connect(t), -ETIMEDOUT);
	el = now_ms() - t0;
	print_message("handshake deadline 700 ms: failed after %lld ms\n", (long long)el);
	assert_true(el >= 700 && el <= 700 + SLACK_MS);
	assert_true(logged("TLS handshake timed out after 700 ms"));
	transport_free(t);
	close(lfd);
}

static void test_read_deadline(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;
	uint8_t req[REQ_LEN], *resp = NULL;
	size_t len = 0;
	int64_t t0, el;

	srv_start(SRV_SILENT, "server");
	opts_init(&o, 600);
	opts_add(&o, "127.0.0.1", S.port);
	make_request(req, sizeof(req));
	assert_int_equal(transport_new(&o, &t), 0);
	assert_int_equal(transport_connect(t), 0);
	log_reset();
	t0 = now_ms();
	assert_int_equal(transport_roundtrip(t, req, sizeof(req), &resp, &len, true),
			 -ETIMEDOUT);
	el = now_ms() - t0;
	print_message("read deadline 600 ms: failed after %lld ms\n", (long long)el);
	assert_true(el >= 600 && el <= 600 + SLACK_MS);
	assert_null(resp);
	assert_true(logged("no complete response within 600 ms"));
	assert_null(transport_peer(t));		/* the stream is out of step: dropped */
	transport_free(t);
	srv_stop();
	assert_int_equal(S.requests, 1);	/* a timeout is never resent */
}

static void test_failover(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;
	uint16_t p1 = refused_port(), p2 = refused_port();
	char peer[160];

	srv_start(SRV_ANSWER, "server");
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", p1);
	opts_add(&o, "127.0.0.1", p2);
	opts_add(&o, "127.0.0.1", S.port);
	assert_int_equal(transport_new(&o, &t), 0);
	log_reset();
	assert_int_equal(transport_connect(t), 0);
	snprintf(peer, sizeof(peer), "127.0.0.1:%u", S.port);
	assert_string_equal(transport_peer(t), peer);
	assert_int_equal(n_warn, 2);
	assert_int_equal(n_err, 0);
	snprintf(peer, sizeof(peer), "127.0.0.1:%u: connect to 127.0.0.1: Connection "
		 "refused; trying the next server", p2);
	assert_true(logged(peer));
	transport_free(t);
	srv_stop();
}

/* All fail, one of them on TLS: -EKEYREJECTED, and the error names them all. */
static void test_failover_all_fail(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;
	uint16_t p1 = refused_port();
	char s[128];

	srv_start(SRV_ANSWER, "server-wrongsan");
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", p1);
	opts_add(&o, "127.0.0.1", S.port);
	assert_int_equal(transport_new(&o, &t), 0);
	log_reset();
	assert_int_equal(transport_connect(t), -EKEYREJECTED);
	snprintf(s, sizeof(s), "tried 127.0.0.1:%u (connection refused), 127.0.0.1:%u "
		 "(TLS/authentication failure)", p1, S.port);
	if (!logged(s))
		fail_msg("expected \"%s\" in:\n%s", s, logbuf);
	assert_true(logged("Check ca, cert, key"));
	transport_free(t);
	srv_stop();

	/* Only network failures: the primary server's error. */
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", refused_port());
	opts_add(&o, "127.0.0.1", refused_port());
	assert_int_equal(transport_new(&o, &t), 0);
	log_reset();
	assert_int_equal(transport_connect(t), -ECONNREFUSED);
	assert_true(logged("Check that the servers run"));
	transport_free(t);
}

/* Two roundtrips with a pause; returns the second one's result. */
static int two_roundtrips(enum srv_mode mode, bool idempotent)
{
	struct transport_opts o;
	struct transport *t = NULL;
	uint8_t req[REQ_LEN], *resp = NULL;
	size_t len = 0;
	int r;

	srv_start(mode, "server");
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	make_request(req, sizeof(req));
	assert_int_equal(transport_new(&o, &t), 0);
	assert_int_equal(transport_roundtrip(t, req, sizeof(req), &resp, &len, idempotent), 0);
	secmem_free(resp);
	resp = NULL;
	usleep(200 * 1000);	/* let the server's close arrive */
	log_reset();
	r = transport_roundtrip(t, req, sizeof(req), &resp, &len, idempotent);
	if (r == 0)
		check_response(resp, len);
	secmem_free(resp);
	transport_free(t);
	srv_stop();
	return r;
}

/* Closed while idle, noticed before the write: reconnect for any request. */
static void test_idle_drop_before_write(void **state)
{
	assert_int_equal(two_roundtrips(SRV_DROP_IDLE, true), 0);
	assert_int_equal(S.conns, 2);
	assert_int_equal(S.requests, 2);
	assert_true(logged("closed the idle connection; reconnecting"));

	assert_int_equal(two_roundtrips(SRV_DROP_IDLE, false), 0);
	assert_int_equal(S.conns, 2);
	assert_int_equal(S.requests, 2);
}

/* Closed only after our write: resend once if idempotent, else -ECONNRESET. */
static void test_idle_drop_after_write(void **state)
{
	assert_int_equal(two_roundtrips(SRV_CLOSE_ON_SECOND, true), 0);
	assert_int_equal(S.conns, 2);
	assert_int_equal(S.requests, 3);	/* the second request went twice */
	assert_true(logged("sending the request once more"));

	assert_int_equal(two_roundtrips(SRV_CLOSE_ON_SECOND, false), -ECONNRESET);
	assert_int_equal(S.conns, 1);
	assert_int_equal(S.requests, 2);	/* not resent */
	assert_true(logged("is not idempotent, so it is not sent again"));
}

/*
 * The server closes (FIN, then RST) while a big request is being written:
 * the next send() fails with EPIPE.  SIGPIPE is at its default (terminate)
 * here, so this test dies if the transport ever lets the signal through.
 */
static void test_no_sigpipe(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;
	size_t big = 4u << 20, len = 0;
	uint8_t *req = malloc(big), *resp = NULL;
	int r;

	assert_non_null(req);
	signal(SIGPIPE, SIG_DFL);
	make_request(req, big);
	srv_start(SRV_FIN_THEN_RST, "server");
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	assert_int_equal(transport_new(&o, &t), 0);
	r = transport_roundtrip(t, req, big, &resp, &len, false);
	assert_int_equal(r, -ECONNRESET);
	assert_null(resp);
	transport_free(t);
	srv_stop();
	free(req);
}

static void test_key_password(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;
	uint8_t *resp = NULL;
	size_t len = 0;

	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", 1);
	o.cert_file = cert("client-enc.crt");
	o.key_file = cert("client-enc.key");

	log_reset();
	assert_int_equal(transport_new(&o, &t), -EACCES);
	assert_null(t);
	assert_true(logged("is encrypted and no key_password is configured"));

	o.key_password = "not-the-password";
	log_reset();
	assert_int_equal(transport_new(&o, &t), -EACCES);
	assert_true(logged("wrong key_password"));
	assert_false(logged("not-the-password"));	/* never print secrets */

	/* The right one, and a full roundtrip with that key. */
	srv_start(SRV_ANSWER, "server");
	o.servers[0].port = S.port;
	o.key_password = "kmipcrypt-test-password";
	assert_int_equal(one_roundtrip(&o, &resp, &len), 0);
	check_response(resp, len);
	secmem_free(resp);
	srv_stop();
}

static void test_bad_options(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;

	opts_init(&o, 3000);
	assert_int_equal(transport_new(&o, &t), -EINVAL);	/* no server */
	opts_add(&o, "127.0.0.1", 5696);
	o.tls_min_version = TLS1_1_VERSION;
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	o.tls_min_version = 0;
	o.ca_file = cert("no-such-file.crt");
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	o.ca_file = cert("ca.crt");
	o.key_file = cert("other.key");		/* not the certificate's key */
	log_reset();
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	assert_true(logged("does not belong to the client certificate"));
	o.key_file = NULL;		/* a certificate without its key */
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	o.key_file = cert("client.key");
	/* A list without forward secrecy is refused, not silently used. */
	o.cipher_suites = "AES128-GCM-SHA256:AES256-SHA256";
	log_reset();
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	assert_true(logged("forward-secret"));
	o.cipher_suites = "ECDHE-ECDSA-AES128-GCM-SHA256:AES128-GCM-SHA256";
	assert_int_equal(transport_new(&o, &t), 0);
	assert_null(transport_peer(t));
	transport_free(t);
}

/* ---------------------------------------------------- files and config errors */

static char fdir[256];

static const char *fpath(const char *name)
{
	static char bufs[8][600];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", fdir, name);
	return b;
}

/* Copy a lab file (or the concatenation of two) into fdir with mode. */
static const char *fcopy(const char *name, const char *from, const char *from2, mode_t mode)
{
	char cmd[2048];
	const char *dst = fpath(name);

	snprintf(cmd, sizeof(cmd), "cat '%s' %s%s%s > '%s' && chmod %o '%s'", cert(from),
		 from2 ? "'" : "", from2 ? cert(from2) : "", from2 ? "'" : "", dst,
		 (unsigned)mode, dst);
	assert_int_equal(system(cmd), 0);
	return dst;
}

static void fwrite_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/*
 * A configuration with ca, cert, key at lines 4, 5, 6 and extra at line 7,
 * then transport_new() of its [default] group: its errno; the log in logbuf.
 */
static int conf_transport(const char *ca, const char *crt, const char *key, const char *extra)
{
	char text[4096];
	struct config *c = NULL;
	struct transport *t = NULL;
	int r;

	snprintf(text, sizeof(text), "# test\n[default]\nservers = 127.0.0.1:1\n%s%s%s%s%s%s"
		 "key = %s\n%s\n", ca ? "ca = " : "# no ca", ca ? ca : "", "\n",
		 "cert = ", crt, "\n", key, extra ? extra : "");
	fwrite_text(fpath("kmipcrypt.conf"), text, 0600);
	assert_int_equal(config_load(fpath("kmipcrypt.conf"), &c), 0);
	log_reset();
	r = transport_new(&config_group(c, NULL)->tls, &t);
	transport_free(t);
	config_free(c);
	return r;
}

/* The log has "CONF:LINE: [default] rest". */
static void expect_where(unsigned line, const char *rest)
{
	char needle[1024];

	snprintf(needle, sizeof(needle), "%s:%u: [default] %s", fpath("kmipcrypt.conf"), line, rest);
	if (!logged(needle))
		fail_msg("no \"%s\" in the log:\n%s", needle, logbuf);
}

/*
 * Every error found while setting up TLS names the configuration file, the
 * line, the group and the key at fault; every file is read without
 * blocking (a FIFO is refused at once) and the key only if its owner alone
 * can read it.
 */
static void test_config_errors(void **state)
{
	char ca[600], crt[600], key[600], want[1024], cmd[600];

	/* cert() reuses its buffers. */
	snprintf(ca, sizeof(ca), "%s", cert("ca.crt"));
	snprintf(crt, sizeof(crt), "%s", cert("client.crt"));
	snprintf(key, sizeof(key), "%s", cert("client.key"));

	snprintf(fdir, sizeof(fdir), "/tmp/kmipcrypt-test-tfiles.XXXXXX");
	assert_non_null(mkdtemp(fdir));
	alarm(30);	/* a blocking open of a FIFO fails the test instead of hanging it */

	assert_int_equal(conf_transport(ca, crt, key, NULL), 0);
	assert_int_equal(n_err, 0);

	/* cipher_suites */
	assert_int_equal(conf_transport(ca, crt, key, "cipher_suites = FOO:ECDHE-ECDSA-AES128-GCM-SHA256"),
			 -EINVAL);
	expect_where(7, "cipher_suites: unknown cipher 'FOO'");
	assert_int_equal(conf_transport(ca, crt, key, "cipher_suites = ECDHE-ECDSA-AES128-GCM-SHA256:!BAR"),
			 -EINVAL);
	expect_where(7, "cipher_suites: unknown cipher '!BAR'");
	assert_int_equal(conf_transport(ca, crt, key, "cipher_suites = TLS_AES_128_GCM_SHA256"), -EINVAL);
	expect_where(7, "cipher_suites: unknown cipher 'TLS_AES_128_GCM_SHA256'");
	assert_int_equal(conf_transport(ca, crt, key, "cipher_suites = AES128-GCM-SHA256"), -EINVAL);
	expect_where(7, "cipher_suites: \"AES128-GCM-SHA256\" leaves no usable forward-secret");
	assert_int_equal(conf_transport(ca, crt, key,
					"cipher_suites = ECDHE+AESGCM:!aNULL:-ECDHE-RSA-AES128-SHA256:@STRENGTH"), 0);

	/* ca: a directory, a FIFO, missing, not PEM, not set */
	assert_int_equal(conf_transport(fdir, crt, key, NULL), -EINVAL);
	snprintf(want, sizeof(want), "ca: %s is a directory, not a regular file; ca names one file "
		 "of PEM certificates (for a directory of CA certificates, concatenate them", fdir);
	expect_where(4, want);
	assert_int_equal(mkfifo(fpath("fifo"), 0600), 0);
	assert_int_equal(conf_transport(fpath("fifo"), crt, key, NULL), -EINVAL);
	snprintf(want, sizeof(want), "ca: %s is a FIFO (named pipe), not a regular file", fpath("fifo"));
	expect_where(4, want);
	assert_int_equal(conf_transport(fpath("none"), crt, key, NULL), -EINVAL);
	snprintf(want, sizeof(want), "ca: cannot open %s: No such file or directory", fpath("none"));
	expect_where(4, want);
	fwrite_text(fpath("notpem"), "hello\n", 0644);
	assert_int_equal(conf_transport(fpath("notpem"), crt, key, NULL), -EINVAL);
	snprintf(want, sizeof(want), "ca: %s holds no certificate", fpath("notpem"));
	expect_where(4, want);
	/* Not set: the system's trust store, read like any file. */
	if (access(X509_get_default_cert_file(), R_OK) == 0)
		assert_int_equal(conf_transport(NULL, crt, key, NULL), 0);
	/* A bundle of several CAs is fine. */
	assert_int_equal(conf_transport(fcopy("bundle.crt", "unknown-ca.crt", "ca.crt", 0644), crt, key,
					NULL), 0);

	/* cert: missing, a FIFO, with its chain, with a broken chain */
	assert_int_equal(conf_transport(ca, fpath("none"), key, NULL), -EINVAL);
	snprintf(want, sizeof(want), "cert: cannot open %s: No such file or directory", fpath("none"));
	expect_where(5, want);
	assert_int_equal(conf_transport(ca, fpath("fifo"), key, NULL), -EINVAL);
	expect_where(5, "cert: ");
	assert_true(logged("is a FIFO (named pipe)"));
	assert_int_equal(conf_transport(ca, fcopy("chain.crt", "client.crt", "ca.crt", 0644), key, NULL), 0);
	fcopy("broken.crt", "client.crt", NULL, 0644);
	snprintf(cmd, sizeof(cmd), "printf -- '-----BEGIN CERTIFICATE-----\\nAAAA\\n"
		 "-----END CERTIFICATE-----\\n' >> '%s'", fpath("broken.crt"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(conf_transport(ca, fpath("broken.crt"), key, NULL), -EINVAL);
	expect_where(5, "cert: ");
	assert_true(logged("a broken certificate after the first one"));

	/* key: not the certificate's, readable by others, a FIFO, encrypted */
	assert_int_equal(conf_transport(ca, crt, cert("other.key"), NULL), -EINVAL);
	snprintf(want, sizeof(want), "key: the client key %s does not belong to the client "
		 "certificate %s", cert("other.key"), crt);
	expect_where(6, want);
	fcopy("open.key", "client.key", NULL, 0644);
	assert_int_equal(conf_transport(ca, crt, fpath("open.key"), NULL), -EACCES);
	snprintf(want, sizeof(want), "key: %s: mode 0644 gives its group and other users access, "
		 "and a secret must not be accessible to others: run 'chmod 600 %s'",
		 fpath("open.key"), fpath("open.key"));
	expect_where(6, want);
	assert_int_equal(chmod(fpath("open.key"), 0640), 0);
	assert_int_equal(conf_transport(ca, crt, fpath("open.key"), NULL), -EACCES);
	assert_true(logged("mode 0640 gives its group access"));
	assert_int_equal(chmod(fpath("open.key"), 0600), 0);
	assert_int_equal(conf_transport(ca, crt, fpath("open.key"), NULL), 0);
	assert_int_equal(conf_transport(ca, crt, fpath("fifo"), NULL), -EINVAL);
	snprintf(want, sizeof(want), "key: %s is a FIFO (named pipe), not a regular file", fpath("fifo"));
	expect_where(6, want);
	assert_int_equal(conf_transport(ca, cert("client-enc.crt"), cert("client-enc.key"), NULL), -EACCES);
	snprintf(want, sizeof(want), "key: client key %s is encrypted and no key_password is configured",
		 cert("client-enc.key"));
	expect_where(6, want);
	assert_int_equal(conf_transport(ca, cert("client-enc.crt"), cert("client-enc.key"),
					"key_password = not-it"), -EACCES);
	snprintf(want, sizeof(want), "key_password: cannot decrypt the client key %s: wrong key_password",
		 cert("client-enc.key"));
	expect_where(7, want);
	assert_false(logged("not-it"));
	assert_int_equal(conf_transport(ca, cert("client-enc.crt"), cert("client-enc.key"),
					"key_password = kmipcrypt-test-password"), 0);
	alarm(0);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fdir);
	assert_int_equal(system(cmd), 0);
}

/*
 * transport_key_password_needed(): what OpenSSL says of the key (does
 * parsing it ask for a password?), not a search of the file for
 * "ENCRYPTED" (the CLI's test before); the file is refused as
 * transport_new() refuses it, before any prompt could be shown.
 */
static void test_key_password_needed(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;
	char cmd[2048];
	const char *k;
	bool need = true;

	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", 1);
	assert_int_equal(transport_key_password_needed(&o, &need), 0);
	assert_false(need);
	o.key_file = cert("client-enc.key");
	assert_int_equal(transport_key_password_needed(&o, &need), 0);
	assert_true(need);
	o.key_password = "not-checked-here";
	assert_int_equal(transport_key_password_needed(&o, &need), 0);
	assert_false(need);
	o.key_password = NULL;
	o.key_file = NULL;
	assert_int_equal(transport_key_password_needed(&o, &need), 0);
	assert_false(need);

	snprintf(fdir, sizeof(fdir), "/tmp/kmipcrypt-test-tkey.XXXXXX");
	assert_non_null(mkdtemp(fdir));
	/* A plain key after text that says ENCRYPTED (PEM allows text around its blocks). */
	k = fpath("commented.key");
	snprintf(cmd, sizeof(cmd), "{ echo 'Not ENCRYPTED (no Proc-Type: 4,ENCRYPTED header)'; "
		 "cat '%s'; } > '%s' && chmod 600 '%s'", cert("client.key"), k, k);
	assert_int_equal(system(cmd), 0);
	o.key_file = k;
	need = true;
	assert_int_equal(transport_key_password_needed(&o, &need), 0);
	assert_false(need);
	assert_int_equal(transport_new(&o, &t), 0);	/* and it is a usable key */
	transport_free(t);

	/* Refused with transport_new()'s message: readable by others. */
	o.key_file = k = fcopy("open.key", "client-enc.key", NULL, 0644);
	log_reset();
	need = true;
	assert_int_equal(transport_key_password_needed(&o, &need), -EACCES);
	assert_false(need);
	snprintf(cmd, sizeof(cmd), "key: %s: mode 0644 gives its group and other users access", k);
	assert_true(logged(cmd));

	/* Not a key at all: not this function's to report (transport_new() says what is wrong). */
	o.key_file = fcopy("cert-as.key", "client.crt", NULL, 0600);
	log_reset();
	assert_int_equal(transport_key_password_needed(&o, &need), 0);
	assert_false(need);
	assert_int_equal(n_err, 0);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fdir);
	assert_int_equal(system(cmd), 0);
}

/* Without a configuration: the bare setting names. */
static void test_option_errors(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;

	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", 1);
	o.tls_min_version = TLS1_1_VERSION;
	log_reset();
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	assert_true(logged("tls_min_version: must be TLS 1.2 or 1.3"));
	o.tls_min_version = 0;
	o.cipher_suites = "NOPE";
	log_reset();
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	assert_true(logged("cipher_suites: unknown cipher 'NOPE'"));
	o.cipher_suites = NULL;
	o.where[TRANSPORT_SET_CA] = "here:1: [g] ca";
	o.ca_file = "/nonexistent/ca.crt";
	log_reset();
	assert_int_equal(transport_new(&o, &t), -EINVAL);
	assert_true(logged("here:1: [g] ca: cannot open /nonexistent/ca.crt"));
	assert_null(t);
}

/* TLS 1.3 minimum against a TLS 1.2-only server: protocol version. */
static void test_protocol_version(void **state)
{
	struct transport_opts o;
	struct transport *t = NULL;

	srv_start_at(SRV_ANSWER, "server", "ca.crt", TLS1_2_VERSION, false);
	opts_init(&o, 3000);
	opts_add(&o, "127.0.0.1", S.port);
	o.tls_min_version = TLS1_3_VERSION;
	assert_int_equal(transport_new(&o, &t), 0);
	log_reset();
	assert_int_equal(transport_connect(t), -EKEYREJECTED);
	if (!logged("protocol version"))
		fail_msg("log:\n%s", logbuf);
	transport_free(t);
	srv_stop();
}

static int group_setup(void **state)
{
	const char *e = getenv("KMIPCRYPT_LAB_CERTS");
	char cmd[1200];

	log_set_sink(sink, NULL);
	log_set_level(LOG_LVL_DEBUG);
	if (e && *e) {
		snprintf(certdir, sizeof(certdir), "%s", e);
	} else {
		snprintf(certdir, sizeof(certdir), "/tmp/kmipcrypt-test-transport.XXXXXX");
		if (!mkdtemp(certdir))
			return -1;
		certdir_ours = true;
	}
	/* Idempotent: a complete directory is left as it is. */
	snprintf(cmd, sizeof(cmd), "tests/lab/mkcerts.sh '%s'", certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot make the lab certificates in %s\n", certdir);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[1200];

	if (certdir_ours) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
		if (system(cmd) != 0)
			return -1;
	}
	log_set_sink(NULL, NULL);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing_split_records),
		cmocka_unit_test(test_tls12_by_name),
		cmocka_unit_test(test_ipv6_literal),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_hostname_mismatch),
		cmocka_unit_test(test_unknown_ca),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_not_yet_valid),
		cmocka_unit_test(test_client_cert_rejected_tls12),
		cmocka_unit_test(test_client_cert_rejected_tls13),
		cmocka_unit_test(test_no_client_cert),
		cmocka_unit_test(test_protocol_version),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_handshake_deadline),
		cmocka_unit_test(test_read_deadline),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_failover_all_fail),
		cmocka_unit_test(test_idle_drop_before_write),
		cmocka_unit_test(test_idle_drop_after_write),
		cmocka_unit_test(test_no_sigpipe),
		cmocka_unit_test(test_key_password),
		cmocka_unit_test(test_key_password_needed),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_option_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
