// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: the LUKS2 token plugin (src/plugin/token_kmip.c), in-process.
 * Its objects are linked into this test and registered with
 * crypt_token_register() as the handler of type "kmip", so libcryptsetup
 * itself calls validate (on crypt_token_json_set), dump (crypt_dump) and
 * open (crypt_activate_by_token, check only) on a real LUKS2 image file.
 *
 * No KMIP answer is faked here: a successful open is tested against the
 * real PyKMIP server through libcryptsetup's plugin loader in
 * tests/integration/test-plugin.sh.  What is tested here needs no server:
 * validation, dump, version, buffer_free, the volume-key refusal, missing
 * configuration, and the failure paths with time bounds (a refused port, a
 * listener that never speaks TLS, the overall deadline, shared by all the
 * tokens of one open, and a server group that did not answer one token not
 * asked again by the next), which must never give -ENOANO.  The lab certificates come from tests/lab/mkcerts.sh
 * ($KMIPCRYPT_LAB_CERTS if set, else made in a temporary directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
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

#include <libcryptsetup.h>
#include <openssl/evp.h>

#include "luks/luks.h"
#include "luks/token.h"
#include "util/secmem.h"

#include "plugin/token_kmip.h"

static char tmpdir[256], certdir[512], image[600], conf[600];
static struct crypt_device *cd;

/* ------------------------------------------------------- log capture */

static char logbuf[1 << 20];
static size_t loglen;
static int log_levels_seen;	/* bit (level + 2) */

static void log_cb(int level, const char *msg, void *usrptr)
{
	size_t n = strlen(msg);

	(void)usrptr;
	if (level >= -2 && level <= 2)
		log_levels_seen |= 1 << (level + 2);
	if (loglen + n < sizeof(logbuf)) {
		memcpy(logbuf + loglen, msg, n);
		loglen += n;
		logbuf[loglen] = '\0';
	}
}

static void log_reset(void)
{
	loglen = 0;
	logbuf[0] = '\0';
	log_levels_seen = 0;
}

static bool logged(const char *s)
{
	return strstr(logbuf, s) != NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ tokens */

#define UID_P	"4d6f7265-5069-6e73-706c-7567696e0001"
#define UID_E	"4d6f7265-5069-6e73-706c-7567696e0002"
#define UID_W	"4d6f7265-5069-6e73-706c-7567696e0003"
/* 48 bytes of ciphertext and a 16-byte IV, base64: must never appear in a dump. */
#define CT_B64	"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83v"
#define IV_B64	"AAECAwQFBgcICQoLDA0ODw=="

static const char *good_passphrase =
	"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
	"\"uid\":\"" UID_P "\",\"group\":\"default\"}";
static const char *good_envelope =
	"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\","
	"\"uid\":\"" UID_E "\",\"group\":\"dc2\",\"ciphertext\":\"" CT_B64 "\",\"iv\":\"" IV_B64 "\"}";
static const char *good_volume_key =
	"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"volume-key\","
	"\"uid\":\"" UID_P "\",\"group\":\"default\",\"wrap_uid\":\"" UID_W "\"}";

/* Put a token on the image (through validate), returns its id. */
static int token_set(const char *json)
{
	int id = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json);

	assert_true(id >= 0);
	return id;
}

static void token_del(int id)
{
	assert_int_equal(crypt_token_json_set(cd, id, NULL), id);
}

/* ---------------------------------------------------------- helpers */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void write_conf(const char *servers, unsigned timeout_ms)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "[default]\nservers = %s\nca = %s/ca.crt\ncert = %s/client.crt\n"
		 "key = %s/client.key\ntimeout_ms = %u\n",
		 servers, certdir, certdir, certdir, timeout_ms);
	write_file(conf, text);
	assert_int_equal(setenv("KMIPCRYPT_CONFIG", conf, 1), 0);
}

/* A loopback port nobody listens on. */
static uint16_t refused_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A listener that never accepts: TCP connects (backlog), TLS never answers. */
static int silent_listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* ------------------------------------------------------------- tests */

static void test_version(void **state)
{
	(void)state;
	assert_string_equal(cryptsetup_token_version(), KMIPCRYPT_VERSION);
}

static void test_validate_good(void **state)
{
	const char *good[] = { good_passphrase, good_envelope, good_volume_key };
	size_t i;
	int id;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		log_reset();
		if (cryptsetup_token_validate(cd, good[i]) != 0)
			fail_msg("rejected %s:\n%s", good[i], logbuf);
		/* Through libcryptsetup: json_set calls the registered validate. */
		id = token_set(good[i]);
		token_del(id);
	}
}

static void test_validate_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{\"type\":\"kmip\"}",
		/* wrong type */
		"{\"type\":\"kmipx\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"uid\":\"u\",\"group\":\"default\"}",
		/* unknown format version */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":3,\"kind\":\"passphrase\","
		"\"uid\":\"u\",\"group\":\"default\"}",
		/* version of the wrong JSON type */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":\"1\",\"kind\":\"passphrase\","
		"\"uid\":\"u\",\"group\":\"default\"}",
		/* unknown kind */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"tpm\","
		"\"uid\":\"u\",\"group\":\"default\"}",
		/* no uid */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"group\":\"default\"}",
		/* empty uid */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"uid\":\"\",\"group\":\"default\"}",
		/* uid not a string */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"uid\":7,\"group\":\"default\"}",
		/* two keyslots */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\",\"2\"],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"uid\":\"u\",\"group\":\"default\"}",
		/* no keyslot */
		"{\"type\":\"kmip\",\"keyslots\":[],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"uid\":\"u\",\"group\":\"default\"}",
		/* a field the kind does not use */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"uid\":\"u\",\"group\":\"default\",\"ciphertext\":\"" CT_B64 "\"}",
		/* envelope without ciphertext */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\","
		"\"uid\":\"u\",\"group\":\"default\",\"iv\":\"" IV_B64 "\"}",
		/* envelope with bad base64 */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\","
		"\"uid\":\"u\",\"group\":\"default\",\"ciphertext\":\"@@@@\",\"iv\":\"" IV_B64 "\"}",
		/* a secret in the clear has no place in a token */
		"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
		"\"uid\":\"u\",\"group\":\"default\",\"passphrase\":\"c2VjcmV0\"}",
	};
	char *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cryptsetup_token_validate(cd, bad[i]) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		/*
		 * libcryptsetup refuses to store what validate rejects; it asks
		 * the handler of the token's own type, so not for "kmipx".
		 */
		if (!strstr(bad[i], "\"kmipx\""))
			assert_true(crypt_token_json_set(cd, CRYPT_ANY_TOKEN, bad[i]) < 0);
	}
	assert_int_equal(cryptsetup_token_validate(cd, NULL), -EINVAL);

	/* Larger than KMIP_TOKEN_JSON_MAX (a long uid). */
	big = malloc(KMIP_TOKEN_JSON_MAX + 256);
	assert_non_null(big);
	i = (size_t)snprintf(big, 256, "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,"
			     "\"kind\":\"passphrase\",\"group\":\"default\",\"uid\":\"");
	memset(big + i, 'a', KMIP_TOKEN_JSON_MAX);
	strcpy(big + i + KMIP_TOKEN_JSON_MAX, "\"}");
	assert_int_equal(cryptsetup_token_validate(cd, big), -EINVAL);
	free(big);
}

static void test_dump(void **state)
{
	int id;

	(void)state;
	id = token_set(good_passphrase);
	log_reset();
	assert_int_equal(crypt_dump(cd), 0);
	if (!logged("kind:") || !logged("passphrase") || !logged(UID_P) || !logged("group:") ||
	    !logged("default"))
		fail_msg("dump:\n%s", logbuf);
	token_del(id);

	id = token_set(good_envelope);
	log_reset();
	assert_int_equal(crypt_dump(cd), 0);
	if (!logged("envelope") || !logged(UID_E) || !logged("dc2") || !logged("48 bytes"))
		fail_msg("dump:\n%s", logbuf);
	/* Neither the ciphertext nor the IV, nor any part of them. */
	if (logged(CT_B64) || logged(IV_B64) || logged("q83vEjRW") || logged("AAECAwQF"))
		fail_msg("dump shows envelope data:\n%s", logbuf);
	token_del(id);

	id = token_set(good_volume_key);
	log_reset();
	assert_int_equal(crypt_dump(cd), 0);
	if (!logged("volume-key") || !logged(UID_W) || !logged("kmipcrypt unlock"))
		fail_msg("dump:\n%s", logbuf);
	token_del(id);

	/* The hook on its own, with invalid JSON: a line, no crash. */
	log_reset();
	cryptsetup_token_dump(cd, "{\"type\":\"kmip\",\"kind\":42}");
	if (!logged("invalid"))
		fail_msg("dump of an invalid token:\n%s", logbuf);
	cryptsetup_token_dump(cd, NULL);
}

static void test_buffer_free(void **state)
{
	char *p;

	(void)state;
	p = secmem_dup("c2VjcmV0LXBhc3NwaHJhc2U=", 24);
	assert_non_null(p);
	assert_int_equal(secmem_in_use(NULL), 1);
	cryptsetup_token_buffer_free(p, 24);
	assert_int_equal(secmem_in_use(NULL), 0);
	cryptsetup_token_buffer_free(NULL, 0);
}

static const uint8_t *wiped_seen;
static size_t wiped_len;
static bool wiped_zero;

static void wipe_hook(const void *p, size_t len)
{
	size_t i;

	wiped_seen = p;
	wiped_len = len;
	wiped_zero = true;
	for (i = 0; i < len; i++)
		if (((const uint8_t *)p)[i])
			wiped_zero = false;
}

static void test_buffer_free_wipes(void **state)
{
	char *p;

	(void)state;
	p = secmem_dup("c2VjcmV0LXBhc3NwaHJhc2U=", 24);
	assert_non_null(p);
	secmem_set_wipe_hook(wipe_hook);
	cryptsetup_token_buffer_free(p, 24);
	secmem_set_wipe_hook(NULL);
	assert_ptr_equal(wiped_seen, (const uint8_t *)p);
	assert_true(wiped_len >= 24);
	assert_true(wiped_zero);
}

/*
 * The keyslot passphrase the plugin returns is luks_secret_passphrase() of
 * the secret, the function enroll uses: padded standard base64 (RFC 4648),
 * checked here against the RFC's vectors and OpenSSL, so that a change of
 * encoding on either side shows up.  The plugin's buffer_free releases it.
 */
static void test_passphrase_encoding(void **state)
{
	static const struct { const char *in, *out; } rfc[] = {
		{ "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	uint8_t all[256 + 32];
	unsigned char ref[4 * sizeof(all)];
	char *p;
	size_t i, n, len;

	(void)state;
	for (i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		assert_int_equal(luks_secret_passphrase((const uint8_t *)rfc[i].in,
							strlen(rfc[i].in), &p, &len), 0);
		assert_string_equal(p, rfc[i].out);
		assert_int_equal(len, strlen(rfc[i].out));
		cryptsetup_token_buffer_free(p, len);
	}
	/* Every byte value, and every length around a 32-byte secret, against OpenSSL. */
	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)(i * 7 + 3);
	for (n = 1; n <= sizeof(all); n += n < 40 ? 1 : 37) {
		int k = EVP_EncodeBlock(ref, all, (int)n);

		assert_int_equal(luks_secret_passphrase(all, n, &p, &len), 0);
		assert_int_equal(len, (size_t)k);
		assert_memory_equal(p, ref, len);
		assert_int_equal(p[len], '\0');
		cryptsetup_token_buffer_free(p, len);
	}
	/* A 32-byte secret gives 44 characters. */
	assert_int_equal(luks_secret_passphrase(all, KMIP_SECRET_BYTES, &p, &len), 0);
	assert_int_equal(len, 44);
	cryptsetup_token_buffer_free(p, len);
	assert_int_equal(secmem_in_use(NULL), 0);
}

/* Direct open and through libcryptsetup; returns the direct result. */
static int open_both(int id, int *via_lib, int64_t *ms)
{
	char *buf = NULL;
	size_t len = 0;
	int64_t t0 = now_ms();
	int r;

	r = cryptsetup_token_open(cd, id, &buf, &len, NULL);
	if (ms)
		*ms = now_ms() - t0;
	assert_null(buf);
	assert_int_not_equal(r, -ENOANO);
	assert_true(r < 0);
	*via_lib = crypt_activate_by_token(cd, NULL, id, NULL, 0);
	assert_int_not_equal(*via_lib, -ENOANO);
	return r;
}

static void test_open_volume_key(void **state)
{
	int id, lib, r;
	int64_t ms;

	(void)state;
	/* Not even the configuration is read: point it at nothing. */
	assert_int_equal(setenv("KMIPCRYPT_CONFIG", "/nonexistent/kmipcrypt.conf", 1), 0);
	id = token_set(good_volume_key);
	log_reset();
	crypt_set_debug_level(CRYPT_DEBUG_ALL);		/* the hint is a debug line */
	r = open_both(id, &lib, &ms);
	crypt_set_debug_level(CRYPT_DEBUG_NONE);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(lib, -ENOENT);
	assert_true(ms < 200);
	if (!logged("kmipcrypt unlock") || logged("nonexistent"))
		fail_msg("log:\n%s", logbuf);
	/* Said at debug level only: cryptsetup shows it with --debug. */
	assert_int_equal(log_levels_seen & (1 << (CRYPT_LOG_ERROR + 2)), 0);
	token_del(id);
}

static void test_open_pin_same(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	int id;

	(void)state;
	assert_int_equal(setenv("KMIPCRYPT_CONFIG", "/nonexistent/kmipcrypt.conf", 1), 0);
	id = token_set(good_volume_key);
	/* A PIN changes nothing: a kmip token has none. */
	assert_int_equal(cryptsetup_token_open_pin(cd, id, "1234", 4, &buf, &len, NULL), -ENOENT);
	assert_null(buf);
	assert_int_equal(crypt_activate_by_token_pin(cd, NULL, "kmip", id, "1234", 4, NULL, 0),
			 -ENOENT);
	token_del(id);
}

static void test_open_no_config(void **state)
{
	int id, lib;

	(void)state;
	assert_int_equal(setenv("KMIPCRYPT_CONFIG", "/nonexistent/kmipcrypt.conf", 1), 0);
	id = token_set(good_passphrase);
	log_reset();
	assert_int_equal(open_both(id, &lib, NULL), -ENOENT);
	assert_int_equal(lib, -ENOENT);
	if (!logged("kmipcrypt: ") || !logged("/nonexistent/kmipcrypt.conf") || !logged("not found"))
		fail_msg("log:\n%s", logbuf);
	assert_true(log_levels_seen & (1 << (CRYPT_LOG_ERROR + 2)));
	token_del(id);
}

static void test_open_bad_config(void **state)
{
	int id, lib;

	(void)state;
	write_file(conf, "[default]\nservers = 127.0.0.1:1\nno_such_key = 1\n");
	assert_int_equal(setenv("KMIPCRYPT_CONFIG", conf, 1), 0);
	id = token_set(good_passphrase);
	log_reset();
	assert_int_equal(open_both(id, &lib, NULL), -ENOENT);
	if (!logged("no_such_key") || !logged("not usable"))
		fail_msg("log:\n%s", logbuf);
	token_del(id);
}

static void test_open_unknown_group(void **state)
{
	int id, lib;

	(void)state;
	write_conf("127.0.0.1:1", 1000);
	id = token_set(good_envelope);	/* group "dc2" */
	log_reset();
	assert_int_equal(open_both(id, &lib, NULL), -ENOENT);
	if (!logged("[dc2]"))
		fail_msg("log:\n%s", logbuf);
	token_del(id);
}

static void test_open_refused(void **state)
{
	char servers[64];
	int id, lib;
	int64_t ms;

	(void)state;
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", refused_port());
	write_conf(servers, 2000);
	id = token_set(good_passphrase);
	log_reset();
	/* Server down: -EAGAIN (try other tokens / the passphrase), never -ENOANO. */
	assert_int_equal(open_both(id, &lib, &ms), -EAGAIN);
	assert_int_equal(lib, -EAGAIN);
	assert_true(ms < 1000);
	if (!logged("refused") || !logged("no usable answer"))
		fail_msg("log:\n%s", logbuf);
	token_del(id);
}

static void test_open_silent_server(void **state)
{
	char servers[64];
	uint16_t port;
	int fd, id, lib;
	int64_t ms;

	(void)state;
	fd = silent_listener(&port);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", port);
	write_conf(servers, 300);
	id = token_set(good_passphrase);
	log_reset();
	/* The handshake times out after timeout_ms. */
	assert_int_equal(open_both(id, &lib, &ms), -EAGAIN);
	assert_int_equal(lib, -EAGAIN);
	if (ms < 250 || ms > 1500)
		fail_msg("took %lld ms, want about 300", (long long)ms);
	if (!logged("timed out"))
		fail_msg("log:\n%s", logbuf);
	token_del(id);
	close(fd);
}

static void test_open_overall_deadline(void **state)
{
	char servers[512];
	uint16_t port[4];
	int fd[4], id, lib, i;
	unsigned saved = token_kmip_deadline_ms;
	int64_t ms;

	(void)state;
	/* Four silent servers at 10 s each would take 40 s; the limit is 1.5 s here. */
	servers[0] = '\0';
	for (i = 0; i < 4; i++) {
		fd[i] = silent_listener(&port[i]);
		snprintf(servers + strlen(servers), sizeof(servers) - strlen(servers),
			 "%s127.0.0.1:%u", i ? ", " : "", port[i]);
	}
	write_conf(servers, 10000);
	token_kmip_deadline_ms = 1500;
	id = token_set(good_passphrase);
	log_reset();
	assert_int_equal(open_both(id, &lib, &ms), -EAGAIN);
	assert_int_equal(lib, -EAGAIN);
	token_kmip_deadline_ms = saved;
	if (ms > 1500)
		fail_msg("took %lld ms, limit 1500:\n%s", (long long)ms, logbuf);
	/* Every server was tried, each with a shortened timeout. */
	for (i = 0; i < 4; i++) {
		char peer[32];

		snprintf(peer, sizeof(peer), "127.0.0.1:%u", port[i]);
		if (!logged(peer))
			fail_msg("server %s not tried:\n%s", peer, logbuf);
	}
	token_del(id);
	for (i = 0; i < 4; i++)
		close(fd[i]);
}

/*
 * A token of kind passphrase in server group GROUP (the uid is the same for
 * all: no server answers here anyway).
 */
static int token_set_group(const char *group)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,"
		 "\"kind\":\"passphrase\",\"uid\":\"" UID_P "\",\"group\":\"%s\"}", group);
	return token_set(json);
}

static unsigned count_logged(const char *s)
{
	const char *p = logbuf;
	unsigned n = 0;

	while ((p = strstr(p, s))) {
		n++;
		p += strlen(s);
	}
	return n;
}

/*
 * Four tokens of one group against a stalled server, through one
 * crypt_activate_by_token(CRYPT_ANY_TOKEN), as `cryptsetup open` does:
 * the first token finds the group unreachable, the three others do not ask
 * it again.  The whole open costs one timeout, not four.  A new open (the
 * same call again) asks the server again.
 */
static void test_open_group_down_once(void **state)
{
	char servers[64];
	uint16_t port;
	int fd, id[4], i, r;
	int64_t t0, ms;

	(void)state;
	fd = silent_listener(&port);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", port);
	write_conf(servers, 1000);
	for (i = 0; i < 4; i++)
		id[i] = token_set_group("default");
	for (i = 0; i < 2; i++) {
		log_reset();
		t0 = now_ms();
		r = crypt_activate_by_token(cd, NULL, CRYPT_ANY_TOKEN, NULL, 0);
		ms = now_ms() - t0;
		assert_int_equal(r, -EAGAIN);
		if (ms < 900 || ms > 2500)
			fail_msg("open %d of four tokens took %lld ms, want about one timeout "
				 "(1000 ms), not four:\n%s", i + 1, (long long)ms, logbuf);
		/* One handshake timed out; three tokens were not sent to the group again. */
		if (count_logged("TLS handshake timed out") != 1 ||
		    count_logged("did not answer token") != 3)
			fail_msg("open %d:\n%s", i + 1, logbuf);
	}
	for (i = 0; i < 4; i++)
		token_del(id[i]);
	close(fd);
}

/*
 * Eight tokens, each in its own group of four stalled servers: without a
 * deadline shared by the whole open, each token would have its own 3 s and
 * spend about 1 s of it (its four handshakes), 8 s in all.  One open is
 * bounded as a whole: at most the limit.
 */
static void test_open_shared_deadline(void **state)
{
	char text[8192], servers[512];
	uint16_t port[4];
	unsigned saved = token_kmip_deadline_ms;
	int fd[4], id[8], i, r;
	size_t n = 0;
	int64_t t0, ms;

	(void)state;
	servers[0] = '\0';
	for (i = 0; i < 4; i++) {
		fd[i] = silent_listener(&port[i]);
		snprintf(servers + strlen(servers), sizeof(servers) - strlen(servers),
			 "%s127.0.0.1:%u", i ? ", " : "", port[i]);
	}
	for (i = 0; i < 8; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "[g%d]\nservers = %s\nca = %s/ca.crt\ncert = %s/client.crt\n"
				      "key = %s/client.key\ntimeout_ms = 10000\n",
				      i, servers, certdir, certdir, certdir);
	assert_true(n < sizeof(text));
	write_file(conf, text);
	assert_int_equal(setenv("KMIPCRYPT_CONFIG", conf, 1), 0);
	for (i = 0; i < 8; i++) {
		char g[16];

		snprintf(g, sizeof(g), "g%d", i);
		id[i] = token_set_group(g);
	}
	token_kmip_deadline_ms = 3000;
	log_reset();
	crypt_set_debug_level(CRYPT_DEBUG_ALL);		/* "part of the open" is a debug line */
	t0 = now_ms();
	r = crypt_activate_by_token(cd, NULL, CRYPT_ANY_TOKEN, NULL, 0);
	ms = now_ms() - t0;
	crypt_set_debug_level(CRYPT_DEBUG_NONE);
	token_kmip_deadline_ms = saved;
	assert_int_equal(r, -EAGAIN);
	assert_int_not_equal(r, -ENOANO);
	if (ms > 3000 + 700)
		fail_msg("eight tokens took %lld ms, the limit of one open is 3000 ms:\n%s",
			 (long long)ms, logbuf);
	/* Every token had its turn, the later ones within what the first left. */
	for (i = 1; i < 8; i++) {
		char part[64];

		snprintf(part, sizeof(part), "token %d: part of the open that began with token %d",
			 id[i], id[0]);
		if (!logged(part))
			fail_msg("no \"%s\":\n%s", part, logbuf);
	}
	for (i = 0; i < 8; i++)
		token_del(id[i]);
	for (i = 0; i < 4; i++)
		close(fd[i]);
}

/* ------------------------------------------------------------- setup */

static int group_setup(void **state)
{
	static const crypt_token_handler h = {
		.name = KMIP_TOKEN_TYPE,
		.open = cryptsetup_token_open,
		.buffer_free = cryptsetup_token_buffer_free,
		.validate = cryptsetup_token_validate,
		.dump = cryptsetup_token_dump,
	};
	struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2, .hash = "sha256", .iterations = 1000,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	struct crypt_params_luks2 params = { .pbkdf = &pbkdf, .sector_size = 512 };
	const char *e = getenv("KMIPCRYPT_LAB_CERTS");
	char cmd[1200];
	int fd, r;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kmipcrypt-test-plugin.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	if (e && *e) {
		snprintf(certdir, sizeof(certdir), "%s", e);
	} else {
		snprintf(certdir, sizeof(certdir), "%s/certs", tmpdir);
	}
	snprintf(cmd, sizeof(cmd), "tests/lab/mkcerts.sh '%s'", certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot make the lab certificates in %s\n", certdir);
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s/kmipcrypt.conf", tmpdir);
	snprintf(image, sizeof(image), "%s/luks.img", tmpdir);
	fd = open(image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 32 << 20) < 0)
		return -1;
	close(fd);

	r = crypt_token_register(&h);
	if (r < 0) {
		fprintf(stderr, "crypt_token_register: %d\n", r);
		return -1;
	}
	if (crypt_init(&cd, image) < 0)
		return -1;
	crypt_set_log_callback(cd, log_cb, NULL);
	r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, NULL, 64, &params);
	if (r < 0) {
		fprintf(stderr, "crypt_format: %d\n", r);
		return -1;
	}
	/* Keyslot 0: a passphrase; keyslot 1: what the tokens name. */
	if (crypt_keyslot_add_by_volume_key(cd, 0, NULL, 0, "pass0", 5) != 0 ||
	    crypt_keyslot_add_by_volume_key(cd, 1, NULL, 0, "pass1", 5) != 1)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[1200];

	(void)state;
	crypt_free(cd);
	unsetenv("KMIPCRYPT_CONFIG");
	/* The certificates too when they were made here (inside tmpdir). */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_validate_good),
		cmocka_unit_test(test_validate_bad),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_buffer_free),
		cmocka_unit_test(test_buffer_free_wipes),
		cmocka_unit_test(test_passphrase_encoding),
		cmocka_unit_test(test_open_volume_key),
		cmocka_unit_test(test_open_pin_same),
		cmocka_unit_test(test_open_no_config),
		cmocka_unit_test(test_open_bad_config),
		cmocka_unit_test(test_open_unknown_group),
		cmocka_unit_test(test_open_refused),
		cmocka_unit_test(test_open_silent_server),
		cmocka_unit_test(test_open_overall_deadline),
		cmocka_unit_test(test_open_group_down_once),
		cmocka_unit_test(test_open_shared_deadline),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
