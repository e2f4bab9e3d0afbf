// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: conf/config (kmipcrypt.conf), server_addr_parse() and
 * util/log.  Error messages are captured with a log sink, so that the file,
 * line and key they name are checked, not only the return code.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/tls1.h>
#include <cmocka.h>

#include "net/transport.h"
#include "conf/config.h"
#include "util/log.h"
#include "util/secmem.h"

/* ---- log capture --------------------------------------------------- */

#define CAPTURE_MAX 64

static char captured[CAPTURE_MAX][LOG_LINE_MAX];
static enum log_level captured_lvl[CAPTURE_MAX];
static unsigned n_captured;

static void capture_sink(enum log_level lvl, const char *msg, void *ctx)
{
	if (n_captured < CAPTURE_MAX) {
		snprintf(captured[n_captured], sizeof(captured[0]), "%s", msg);
		captured_lvl[n_captured] = lvl;
	}
	n_captured++;
	(*(unsigned *)ctx)++;
}

static unsigned sink_calls;

static void capture_reset(void)
{
	n_captured = 0;
	sink_calls = 0;
}

static unsigned n_errors(void)
{
	unsigned i, n = 0;

	for (i = 0; i < n_captured && i < CAPTURE_MAX; i++)
		if (captured_lvl[i] == LOG_LVL_ERR)
			n++;
	return n;
}

/* Fails the test, showing what was logged, unless some message has needle. */
static void assert_logged(const char *needle)
{
	unsigned i;

	for (i = 0; i < n_captured && i < CAPTURE_MAX; i++)
		if (strstr(captured[i], needle))
			return;
	for (i = 0; i < n_captured && i < CAPTURE_MAX; i++)
		print_message("logged: %s\n", captured[i]);
	fail_msg("no log message contains \"%s\"", needle);
}

/* ---- temporary files ----------------------------------------------- */

static char tmpdir[1024];
static size_t secmem_blocks_before;
static char conf_path[1100];

static void write_file_mode(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void write_conf(const char *text)
{
	write_file_mode(conf_path, text, strlen(text), 0600);
}

/* Path of name inside tmpdir. */
static const char *tmp_path(const char *name)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

static int setup(void **state)
{
	char *real;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kmipcrypt-test-config.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* Relative paths resolve against the real directory. */
	real = realpath(tmpdir, NULL);
	if (!real)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", real);
	free(real);
	snprintf(conf_path, sizeof(conf_path), "%s/kmipcrypt.conf", tmpdir);
	log_set_sink(capture_sink, &sink_calls);
	log_set_level(LOG_LVL_DEBUG);
	capture_reset();
	secmem_blocks_before = secmem_in_use(NULL);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];
	int r;

	log_set_sink(NULL, NULL);
	log_set_level(LOG_LVL_INFO);
	secmem_set_wipe_hook(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	r = system(cmd);
	/*
	 * No key password (or any other secret) may outlive its config.  A
	 * baseline, not 0: a failed test leaks, and one failure is enough.
	 */
	if (secmem_in_use(NULL) != secmem_blocks_before)
		return -1;
	return r == 0 ? 0 : -1;
}

/* Load conf_path, which must fail with -EINVAL and log "PATH:LINE: rest". */
static void expect_error(const char *text, unsigned line, const char *rest)
{
	struct config *c = (struct config *)1;
	char needle[PATH_MAX + 512];

	capture_reset();
	write_conf(text);
	assert_int_equal(config_load(conf_path, &c), -EINVAL);
	assert_null(c);
	snprintf(needle, sizeof(needle), "%s:%u: %s", conf_path, line, rest);
	assert_logged(needle);
}

#define GROUP_OK \
	"servers = kms.example.com\n" \
	"cert = client.pem\n" \
	"key = client.key\n"

/* ---- good files ---------------------------------------------------- */

static void test_good_file(void **state)
{
	static const char text[] =
		"# kmipcrypt test configuration\n"
		"; another comment style\n"
		"\n"
		"[default]\n"
		"servers = kms1.example.com, kms2.example.com:5697 [2001:db8::1]:9000\n"
		"  ca   =   ca.pem   \n"
		"cert = certs/client.pem\n"
		"key = /etc/kmipcrypt/client.key\n"
		"key_password_file = pw\n"
		"timeout_ms = 2500\n"
		"kmip_version = 1.4\n"
		"tls_min_version = 1.3\n"
		"cipher_suites = ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384\n"
		"pin_sha256 = 000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F\n"
		"object_group = web-01 h\xc3\xb4te #3\n"
		"\n"
		"[dc2.backup-1]\n"
		"servers = 10.0.0.1\t::1\n"
		"cert = c.pem\n"
		"key = k.pem\n"
		"kmip_version = auto\n"
		"pin_sha256 = sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
		"\n"
		"[daemon]\n"
		"poll_interval = 5m\n"
		"offline_grace = 1h\n"
		"action = close\n"
		"exec = /usr/local/bin/alert --volume lost\n"
		"pre_active = revoked\n"
		"permission_denied = ignore\n"
		"user = kmip-poll\n"
		"state_file = /run/k/state.json\n"
		"\n"
		"[volume pgdata]\n"
		"action = none\n"
		"\n"
		"[ volume  luks-1f2e ]\n"
		"exec =\n";
	static const uint8_t pin[32] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
	};
	struct config *c = NULL;
	struct config_group *g;
	const struct config_volume *v;

	write_conf(text);
	assert_int_equal(config_load(conf_path, &c), 0);
	assert_int_equal(n_errors(), 0);
	assert_non_null(c);
	assert_string_equal(c->path, conf_path);
	assert_int_equal(c->n_groups, 2);

	g = config_group(c, NULL);
	assert_non_null(g);
	assert_string_equal(g->name, "default");
	assert_int_equal(g->tls.n_servers, 3);
	assert_string_equal(g->tls.servers[0].host, "kms1.example.com");
	assert_int_equal(g->tls.servers[0].port, KMIP_DEFAULT_PORT);
	assert_string_equal(g->tls.servers[1].host, "kms2.example.com");
	assert_int_equal(g->tls.servers[1].port, 5697);
	assert_string_equal(g->tls.servers[2].host, "2001:db8::1");
	assert_int_equal(g->tls.servers[2].port, 9000);
	/* Relative to the file's directory; absolute kept. */
	assert_string_equal(g->ca, tmp_path("ca.pem"));
	assert_string_equal(g->cert, tmp_path("certs/client.pem"));
	assert_string_equal(g->key, "/etc/kmipcrypt/client.key");
	assert_string_equal(g->key_password_file, tmp_path("pw"));
	assert_ptr_equal(g->tls.ca_file, g->ca);
	assert_ptr_equal(g->tls.cert_file, g->cert);
	assert_ptr_equal(g->tls.key_file, g->key);
	assert_null(g->tls.key_password);	/* not loaded yet */
	assert_int_equal(g->tls.timeout_ms, 2500);
	assert_int_equal(g->kmip_version, KMIP_VERSION(1, 4));
	assert_int_equal(g->tls.tls_min_version, TLS1_3_VERSION);
	assert_string_equal(g->cipher_suites,
			    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384");
	assert_ptr_equal(g->tls.cipher_suites, g->cipher_suites);
	assert_true(g->tls.has_pin);
	assert_memory_equal(g->tls.pin_sha256, pin, 32);
	/* Taken as it is: blanks inside, UTF-8 and '#' are text. */
	assert_string_equal(g->object_group, "web-01 h\xc3\xb4te #3");

	g = config_group(c, "dc2.backup-1");
	assert_non_null(g);
	assert_int_equal(g->tls.n_servers, 2);
	assert_string_equal(g->tls.servers[0].host, "10.0.0.1");
	assert_int_equal(g->tls.servers[0].port, 5696);
	assert_string_equal(g->tls.servers[1].host, "::1");
	assert_int_equal(g->tls.servers[1].port, 5696);
	assert_int_equal(g->kmip_version, 0);
	assert_null(g->object_group);		/* the host's default */
	assert_int_equal(g->tls.timeout_ms, 5000);
	assert_int_equal(g->tls.tls_min_version, TLS1_2_VERSION);
	assert_null(g->tls.ca_file);
	assert_null(g->tls.cipher_suites);
	assert_true(g->tls.has_pin);
	assert_memory_equal(g->tls.pin_sha256, pin, 32);

	assert_null(config_group(c, "nope"));
	assert_int_equal(c->daemon.poll_interval_s, 300);
	assert_int_equal(c->daemon.offline_grace_s, 3600);
	assert_int_equal(c->daemon.action, DAEMON_ACTION_CLOSE);
	assert_string_equal(c->daemon.exec, "/usr/local/bin/alert --volume lost");
	assert_int_equal(c->daemon.pre_active, DAEMON_POLICY_REVOKED);
	assert_int_equal(c->daemon.permission_denied, DAEMON_POLICY_IGNORE);
	assert_string_equal(c->daemon.user, "kmip-poll");
	assert_string_equal(c->daemon.state_file, "/run/k/state.json");
	assert_int_equal(c->n_volumes, 2);
	v = config_volume(c, "pgdata");
	assert_non_null(v);
	assert_true(v->action_set);
	assert_int_equal(v->action, DAEMON_ACTION_NONE);
	assert_false(v->exec_set);
	v = config_volume(c, "luks-1f2e");	/* blanks around the name are not part of it */
	assert_non_null(v);
	assert_false(v->action_set);
	assert_true(v->exec_set);		/* "exec =": no command for this volume */
	assert_null(v->exec);
	assert_null(config_volume(c, "other"));
	assert_null(config_volume(c, NULL));
	config_free(c);
}

static void test_defaults_and_crlf(void **state)
{
	struct config *c = NULL;
	struct config_group *g;

	write_conf("[default]\r\nservers = a\r\ncert = c\r\nkey = k\r\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	g = config_group(c, "default");
	assert_non_null(g);
	assert_string_equal(g->tls.servers[0].host, "a");
	assert_string_equal(g->key, tmp_path("k"));
	assert_int_equal(g->tls.timeout_ms, CONFIG_TIMEOUT_MS_DEFAULT);
	assert_false(g->tls.has_pin);
	assert_int_equal(c->daemon.poll_interval_s, 30);
	assert_int_equal(c->daemon.offline_grace_s, 0);	/* unlimited */
	assert_int_equal(c->daemon.action, DAEMON_ACTION_SUSPEND);
	assert_null(c->daemon.exec);
	assert_int_equal(c->daemon.pre_active, DAEMON_POLICY_IGNORE);
	assert_int_equal(c->daemon.permission_denied, DAEMON_POLICY_REVOKED);
	assert_string_equal(c->daemon.user, "kmipcryptd");
	assert_string_equal(c->daemon.state_file, "/run/kmipcryptd/state.json");
	assert_int_equal(c->n_volumes, 0);
	config_free(c);

	/* No server group at all is valid; there is just no group. */
	write_conf("# nothing yet\n[daemon]\noffline_grace = unlimited\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	assert_int_equal(c->n_groups, 0);
	assert_null(config_group(c, NULL));
	config_free(c);

	/* The last line needs no newline. */
	write_conf("[default]\nservers = a\ncert = c\nkey = k");
	assert_int_equal(config_load(conf_path, &c), 0);
	assert_string_equal(config_group(c, NULL)->key, tmp_path("k"));
	config_free(c);
}

static void test_new_empty(void **state)
{
	struct config *c = NULL;
	struct config_group *g;

	assert_int_equal(config_new_empty(&c), 0);
	assert_null(c->path);
	g = config_group(c, NULL);
	assert_non_null(g);
	assert_string_equal(g->name, "default");
	assert_int_equal(g->tls.n_servers, 0);
	assert_int_equal(g->tls.timeout_ms, 5000);
	assert_int_equal(g->tls.tls_min_version, TLS1_2_VERSION);
	assert_int_equal(c->daemon.poll_interval_s, 30);
	assert_int_equal(c->daemon.action, DAEMON_ACTION_SUSPEND);
	/* Not complete until servers, cert and key are given. */
	capture_reset();
	assert_int_equal(config_group_validate(g, "command line"), -EINVAL);
	assert_logged("command line: key 'servers': missing in group [default]");
	assert_logged("command line: key 'cert': missing");
	assert_int_equal(config_group_set(g, "servers", "[fe80::1%eth0]:5696", NULL), 0);
	assert_int_equal(config_group_set(g, "cert", "rel/c.pem", NULL), 0);
	assert_int_equal(config_group_set(g, "key", "k.pem", NULL), 0);
	/* From the command line, relative stays relative (to the cwd). */
	assert_string_equal(g->cert, "rel/c.pem");
	assert_ptr_equal(g->tls.cert_file, g->cert);
	assert_string_equal(g->tls.servers[0].host, "fe80::1%eth0");
	capture_reset();
	assert_int_equal(config_group_validate(g, "command line"), 0);
	assert_int_equal(n_errors(), 0);
	config_free(c);
}

static void test_missing_file(void **state)
{
	struct config *c = (struct config *)1;

	capture_reset();
	assert_int_equal(config_load(tmp_path("does-not-exist.conf"), &c), -ENOENT);
	assert_null(c);
	/* The caller decides whether a missing file matters. */
	assert_int_equal(n_errors(), 0);

	/* Whoever may write the file decides what root runs: refused. */
	write_file_mode(conf_path, "[daemon]\n", 9, 0602);
	capture_reset();
	assert_int_equal(config_load(conf_path, &c), -EPERM);
	assert_null(c);
	assert_logged("writable by other users");
	if (geteuid() == 0) {
		write_conf("[daemon]\n");
		assert_int_equal(chown(conf_path, 65534, 65534), 0);
		assert_int_equal(config_load(conf_path, &c), -EPERM);
	}

	/* A directory is not a configuration file. */
	capture_reset();
	assert_int_equal(config_load(tmpdir, &c), -EISDIR);
	assert_logged("is a directory, not a regular file");

	/* Nor a FIFO (-c /dev/stdin, a named pipe): refused at once, never waited on. */
	assert_int_equal(mkfifo(tmp_path("fifo.conf"), 0600), 0);
	capture_reset();
	alarm(10);
	assert_int_equal(config_load(tmp_path("fifo.conf"), &c), -EINVAL);
	alarm(0);
	assert_null(c);
	assert_logged("fifo.conf is a FIFO (named pipe), not a regular file");
	assert_int_equal(n_errors(), 1);
}

/* ---- errors, each with its line ------------------------------------ */

static void test_error_unknown_key(void **state)
{
	expect_error("[default]\n" GROUP_OK "timeout = 5\n", 5,
		     "key 'timeout': unknown key; did you mean 'timeout_ms'?");
	expect_error("[default]\n" GROUP_OK "pin_sha265 = x\n", 5,
		     "key 'pin_sha265': unknown key; did you mean 'pin_sha256'?");
	expect_error("[default]\n" GROUP_OK "completely_else = 1\n", 5,
		     "key 'completely_else': unknown key; known keys in a server group: servers, ca");
	expect_error("[default]\n" GROUP_OK "poll_interval = 30\n", 5,
		     "key 'poll_interval': belongs in [daemon], not in a server group");
	/* A misspelt [daemon] is a server group to the parser: its first daemon key says so. */
	expect_error("[deamon]\npoll_interval = 30\n", 2,
		     "key 'poll_interval': belongs in [daemon], not in server group [deamon]: "
		     "did you mean [daemon]?");
	expect_error("[default]\n" GROUP_OK "[deamon]\n", 5,
		     "section [deamon] is a server group without servers: did you mean [daemon]?");
	expect_error("[daemon]\nservers = a\n", 2,
		     "key 'servers': belongs in a server group, not in [daemon]");
	expect_error("[daemon]\nacton = close\n", 2,
		     "key 'acton': unknown key; did you mean 'action'?");
}

static void test_error_duplicates(void **state)
{
	expect_error("[default]\n" GROUP_OK "\ntimeout_ms = 1\ntimeout_ms = 2\n", 7,
		     "key 'timeout_ms': set twice in this section, first at line 6");
	expect_error("[default]\n" GROUP_OK "[other]\n" GROUP_OK "[default]\n", 9,
		     "section [default] already started at line 1");
	expect_error("[daemon]\naction = close\n[daemon]\n", 3,
		     "section [daemon] already started at line 1");
	expect_error("[default]\n" GROUP_OK "key_password_file = /p\nkey_password = x\n", 6,
		     "key 'key_password': conflicts with 'key_password_file' at line 5");
	/* The same key in two groups is fine. */
	write_conf("[a]\n" GROUP_OK "[b]\n" GROUP_OK);
	{
		struct config *c = NULL;

		assert_int_equal(config_load(conf_path, &c), 0);
		assert_int_equal(c->n_groups, 2);
		config_free(c);
	}
}

static void test_error_syntax(void **state)
{
	expect_error("servers = a\n", 1,
		     "key 'servers': outside of any section");
	expect_error("[default\n", 1, "section header without ']'");
	expect_error("[default] # main\n", 1, "text after ']'");
	expect_error("[]\n", 1, "section name '' is not 1 to 63");
	expect_error("[Daemon]\n", 1, "section [Daemon]: did you mean [daemon]?");
	expect_error("[a b]\n", 1, "section name 'a b' is not");
#define A63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	expect_error("[" A63 "b]\n", 1, "section name '" A63 "b' is not 1 to 63");
	/* 63 bytes is the longest name. */
	write_conf("[" A63 "]\n" GROUP_OK);
	{
		struct config *c = NULL;

		assert_int_equal(config_load(conf_path, &c), 0);
		assert_non_null(config_group(c, A63));
		config_free(c);
	}
#undef A63
	expect_error("[default]\n" GROUP_OK "just some words\n", 5,
		     "expected 'key = value', '[section]' or a comment");
	expect_error("[default]\n" GROUP_OK "= 5\n", 5, "no key before '='");
	expect_error("[default]\n" GROUP_OK "ca =\n", 5, "key 'ca': no value");
	expect_error("[default]\n" GROUP_OK "ca = a\033[31mb\n", 5,
		     "contains control character 0x1b");
}

static void test_error_nul_byte(void **state)
{
	static const char text[] = "[default]\n" GROUP_OK "ca = a\0b\n";
	struct config *c = NULL;
	char needle[PATH_MAX + 64];

	capture_reset();
	write_file_mode(conf_path, text, sizeof(text) - 1, 0600);
	assert_int_equal(config_load(conf_path, &c), -EINVAL);
	snprintf(needle, sizeof(needle), "%s:5: contains a NUL byte", conf_path);
	assert_logged(needle);
}

static void test_error_long_line(void **state)
{
	char *text, *p;
	size_t n;

	/* CONFIG_LINE_MAX bytes exactly is fine, one more is not. */
	n = strlen("[default]\n" GROUP_OK "cipher_suites = ");
	text = calloc(1, 3 * CONFIG_LINE_MAX);
	assert_non_null(text);
	p = text + sprintf(text, "[default]\n" GROUP_OK "cipher_suites = ");
	memset(p, 'A', CONFIG_LINE_MAX - (n - strlen("[default]\n" GROUP_OK)));
	strcat(text, "\n");
	write_conf(text);
	{
		struct config *c = NULL;

		assert_int_equal(config_load(conf_path, &c), 0);
		assert_int_equal(strlen(config_group(c, NULL)->cipher_suites),
				 CONFIG_LINE_MAX - strlen("cipher_suites = "));
		config_free(c);
	}
	p = text + strlen(text) - 1;
	strcpy(p, "A\n");
	expect_error(text, 5, "line longer than 4096 bytes");
	free(text);
}

static void test_error_file_too_big(void **state)
{
	struct config *c = NULL;
	char *text;

	text = malloc(CONFIG_FILE_MAX + 2);
	assert_non_null(text);
	memset(text, '\n', CONFIG_FILE_MAX + 1);
	text[CONFIG_FILE_MAX + 1] = '\0';
	write_conf(text);
	free(text);
	capture_reset();
	assert_int_equal(config_load(conf_path, &c), -EFBIG);
	assert_null(c);
	assert_logged("larger than 262144 bytes");
}

static void test_error_values(void **state)
{
	expect_error("[default]\n" GROUP_OK "timeout_ms = 0\n", 5,
		     "key 'timeout_ms': '0' is not a whole number of milliseconds from 1 to 600000");
	expect_error("[default]\n" GROUP_OK "timeout_ms = 600001\n", 5, "key 'timeout_ms':");
	expect_error("[default]\n" GROUP_OK "timeout_ms = 5s\n", 5, "key 'timeout_ms':");
	expect_error("[default]\n" GROUP_OK "timeout_ms = -1\n", 5, "key 'timeout_ms':");
	expect_error("[default]\n" GROUP_OK "kmip_version = 3.0\n", 5,
		     "key 'kmip_version': '3.0' is not one of auto");
	expect_error("[default]\n" GROUP_OK "tls_min_version = 1.1\n", 5,
		     "key 'tls_min_version': '1.1' is not 1.2 or 1.3");
	expect_error("[default]\n" GROUP_OK "pin_sha256 = 0011\n", 5,
		     "key 'pin_sha256': '0011' is neither 64 hex digits nor sha256//BASE64");
	/* 31 bytes in base64, and a hex string with a non-hex digit. */
	expect_error("[default]\n" GROUP_OK "pin_sha256 = sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
		     5, "key 'pin_sha256':");
	expect_error("[default]\n" GROUP_OK
		     "pin_sha256 = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
		     5, "key 'pin_sha256':");
}

static void test_object_group(void **state)
{
	char *text, *p;
	struct config *c = NULL;
	struct config_group *g;

	/* As enroll --object-group: printable text of 1 to 255 bytes. */
	text = malloc(512);
	assert_non_null(text);
	p = text + sprintf(text, "[default]\n" GROUP_OK "object_group = ");
	memset(p, 'g', KMIP_TEXT_MAX);
	strcpy(p + KMIP_TEXT_MAX, "\n");
	write_conf(text);
	assert_int_equal(config_load(conf_path, &c), 0);
	assert_int_equal(strlen(config_group(c, NULL)->object_group), KMIP_TEXT_MAX);
	config_free(c);
	strcpy(p + KMIP_TEXT_MAX, "g\n");
	expect_error(text, 5, "key 'object_group': longer than 255 bytes");
	free(text);
	expect_error("[default]\n" GROUP_OK "object_group =\n", 5, "key 'object_group': no value");
	expect_error("[default]\n" GROUP_OK "object_group = a\xff" "b\n", 5,
		     "key 'object_group': not printable text (invalid UTF-8, or a control character)");
	/* U+009B, the 8-bit CSI: a terminal would obey it where the group is listed. */
	expect_error("[default]\n" GROUP_OK "object_group = a\xc2\x9b" "2J\n", 5,
		     "key 'object_group': not printable text");
	expect_error("[default]\n" GROUP_OK "object_group = kmipcrypt-enrolling\n", 5,
		     "key 'object_group': 'kmipcrypt-enrolling' is reserved");
	expect_error("[default]\n" GROUP_OK "object_group = a\nobject_group = b\n", 6,
		     "key 'object_group': set twice in this section, first at line 5");
	expect_error("[default]\n" GROUP_OK "object_groups = a\n", 5,
		     "key 'object_groups': unknown key; did you mean 'object_group'?");
	expect_error("[daemon]\nobject_group = a\n", 2,
		     "key 'object_group': belongs in a server group, not in [daemon]");
	expect_error("[volume d]\nobject_group = a\n", 2,
		     "key 'object_group': belongs in a server group, not in a [volume NAME] section");

	/* An override, with the same checks; a failed one leaves the group's value. */
	write_conf("[default]\n" GROUP_OK "object_group = file-set\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	g = config_group(c, NULL);
	capture_reset();
	assert_int_equal(config_group_set(g, "object_group", "kmipcrypt-enrolling", NULL), -EINVAL);
	assert_logged("command line: key 'object_group': 'kmipcrypt-enrolling' is reserved");
	assert_string_equal(g->object_group, "file-set");
	assert_int_equal(config_group_set(g, "object_group", "override", NULL), 0);
	assert_string_equal(g->object_group, "override");
	config_free(c);
}

static void test_error_servers(void **state)
{
	expect_error("[default]\nservers = [::1\ncert = c\nkey = k\n", 2,
		     "key 'servers': '[::1' is not HOST, HOST:PORT, [IPv6] or [IPv6]:PORT");
	expect_error("[default]\nservers = a:0\ncert = c\nkey = k\n", 2,
		     "key 'servers': 'a:0' is not");
	expect_error("[default]\nservers = a:65536\ncert = c\nkey = k\n", 2,
		     "key 'servers': 'a:65536' is not");
	expect_error("[default]\nservers = a:\ncert = c\nkey = k\n", 2,
		     "key 'servers': 'a:' is not");
	expect_error("[default]\nservers = a, , b, A\ncert = c\nkey = k\n", 2,
		     "key 'servers': 'A' is listed twice");
	expect_error("[default]\nservers = ,,\ncert = c\nkey = k\n", 2,
		     "key 'servers': no server given");
	expect_error("[default]\nservers = a b c d e f g h i j k l m n o p q\ncert = c\nkey = k\n", 2,
		     "key 'servers': more than 16 servers");
}

static void test_error_missing_keys(void **state)
{
	expect_error("# c\n[default]\ncert = c\nkey = k\n", 2,
		     "key 'servers': missing in group [default]");
	expect_error("[default]\nservers = a\nkey = k\n", 1, "key 'cert': missing");
	expect_error("[default]\nservers = a\ncert = c\n", 1, "key 'key': missing");
}

static void test_error_daemon_values(void **state)
{
	expect_error("[daemon]\npoll_interval = 500ms\n", 2,
		     "key 'poll_interval': '500ms' is not a whole number of seconds");
	expect_error("[daemon]\npoll_interval = 0\n", 2, "key 'poll_interval':");
	expect_error("[daemon]\npoll_interval = unlimited\n", 2, "key 'poll_interval':");
	expect_error("[daemon]\npoll_interval = 2d\n", 2,
		     "key 'poll_interval': '2d' is not between 1s and 86400s");
	expect_error("[daemon]\noffline_grace = 0\n", 2,
		     "key 'offline_grace': 0 is ambiguous");
	expect_error("[daemon]\noffline_grace = soon\n", 2,
		     "key 'offline_grace': 'soon' is not a duration");
	expect_error("[daemon]\naction = reboot\n", 2,
		     "key 'action': 'reboot' is not suspend, close or none");
	/* exec was once an action: say where the command goes now. */
	expect_error("[daemon]\naction = exec\n", 2,
		     "key 'action': 'exec' is no action: the command is its own key");
	expect_error("[daemon]\nexec = alert.sh\n", 2,
		     "key 'exec': must start with the absolute path");
	expect_error("[daemon]\npre_active = maybe\n", 2,
		     "key 'pre_active': 'maybe' is not revoked or ignore");
	expect_error("[daemon]\npermission_denied = lock\n", 2,
		     "key 'permission_denied': 'lock' is not revoked or ignore");
	expect_error("[daemon]\nuser = root\n", 2, "key 'user': the poller must not run as root");
	expect_error("[daemon]\nuser = 1000\n", 2, "key 'user': '1000': a user name, not a number");
	expect_error("[daemon]\nuser = a b\n", 2, "key 'user': 'a b' is not a user name");
	expect_error("[daemon]\nstate_file = run/state.json\n", 2,
		     "key 'state_file': must be an absolute file path");
	expect_error("[daemon]\nstate_file = /run/\n", 2,
		     "key 'state_file': must be an absolute file path");
}

/* rotate_after: a server group's rotation policy, strict like every duration. */
static void test_rotate_after(void **state)
{
	static const struct {
		const char *value;
		unsigned s;
	} good[] = {
		{ "90d", 90 * 86400 }, { "36h", 36 * 3600 }, { "30m", 1800 }, { "5min", 300 },
		{ "1s", 1 }, { "45", 45 }, { "3650d", 3650u * 86400 }, { "unlimited", 0 },
	};
	struct config *c = NULL;
	struct config_group *g;
	char text[256], buf[16];
	size_t i;

	/* Unset: no policy (never due), in every group. */
	write_conf("[default]\n" GROUP_OK "[other]\n" GROUP_OK "rotate_after = 90d\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	assert_int_equal(config_group(c, NULL)->rotate_after_s, 0);
	assert_int_equal(config_group(c, "other")->rotate_after_s, 90 * 86400);
	config_free(c);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[default]\n" GROUP_OK "rotate_after = %s\n",
			 good[i].value);
		write_conf(text);
		c = NULL;
		assert_int_equal(config_load(conf_path, &c), 0);
		assert_int_equal(config_group(c, NULL)->rotate_after_s, good[i].s);
		config_free(c);
	}
	expect_error("[default]\n" GROUP_OK "rotate_after = 90days\n", 5,
		     "key 'rotate_after': '90days' is not a duration (e.g. 30, 30s, 5m, 1h, 1d)");
	expect_error("[default]\n" GROUP_OK "rotate_after = 1500ms\n", 5,
		     "key 'rotate_after': '1500ms' is not a whole number of seconds");
	expect_error("[default]\n" GROUP_OK "rotate_after = 0\n", 5,
		     "key 'rotate_after': 0 is ambiguous");
	expect_error("[default]\n" GROUP_OK "rotate_after = 0d\n", 5,
		     "key 'rotate_after': 0 is ambiguous");
	expect_error("[default]\n" GROUP_OK "rotate_after = 3651d\n", 5,
		     "key 'rotate_after': '3651d' is not between 1s and 315360000s");
	expect_error("[default]\n" GROUP_OK "rotate_after = -1d\n", 5,
		     "key 'rotate_after': '-1d' is not a duration");
	expect_error("[default]\n" GROUP_OK "rotate_after = 9 d\n", 5,
		     "key 'rotate_after': '9 d' is not a duration");
	expect_error("[default]\n" GROUP_OK "rotate_after =\n", 5, "key 'rotate_after': no value");
	expect_error("[default]\n" GROUP_OK "rotate_after = 1d\nrotate_after = 2d\n", 6,
		     "key 'rotate_after': set twice in this section, first at line 5");
	/* The usual hints: a typo, the wrong section. */
	expect_error("[default]\n" GROUP_OK "rotate_afer = 90d\n", 5,
		     "key 'rotate_afer': unknown key; did you mean 'rotate_after'?");
	expect_error("[default]\n" GROUP_OK "rotate = 90d\n", 5,
		     "key 'rotate': unknown key; did you mean 'rotate_after'?");
	expect_error("[daemon]\nrotate_after = 90d\n", 2,
		     "key 'rotate_after': belongs in a server group, not in [daemon]");
	expect_error("[volume data]\nrotate_after = 90d\n", 2,
		     "key 'rotate_after': belongs in a server group, not in a [volume NAME] section");

	/* The command-line path takes the same values; an error leaves the group as it was. */
	assert_int_equal(config_new_empty(&c), 0);
	g = config_group(c, NULL);
	assert_int_equal(g->rotate_after_s, 0);
	assert_int_equal(config_group_set(g, "rotate_after", "12h", NULL), 0);
	assert_int_equal(g->rotate_after_s, 12 * 3600);
	capture_reset();
	assert_int_equal(config_group_set(g, "rotate_after", "soon", "test"), -EINVAL);
	assert_logged("test: key 'rotate_after': 'soon' is not a duration");
	assert_int_equal(g->rotate_after_s, 12 * 3600);
	config_free(c);

	/* ... and is written back as the file would have it. */
	assert_string_equal(config_duration_text(90 * 86400, buf, sizeof(buf)), "90d");
	assert_string_equal(config_duration_text(36 * 3600, buf, sizeof(buf)), "36h");
	assert_string_equal(config_duration_text(300, buf, sizeof(buf)), "5m");
	assert_string_equal(config_duration_text(61, buf, sizeof(buf)), "61s");
	assert_string_equal(config_duration_text(0, buf, sizeof(buf)), "0s");
}

static void test_error_volume_sections(void **state)
{
	expect_error("[volume]\naction = close\n", 1,
		     "section [volume]: name the mapping, as in [volume NAME]");
	expect_error("[volume a/b]\n", 1, "section [volume a/b]: not a mapping name");
	expect_error("[volume a b]\n", 1, "section [volume a b]: not a mapping name");
	expect_error("[volume ..]\n", 1, "section [volume ..]: not a mapping name");
	expect_error("[volumes data]\n", 1, "section [volumes data]: did you mean [volume NAME]?");
	expect_error("[Volume data]\n", 1, "section [Volume data]: did you mean [volume NAME]?");
	expect_error("[volume d]\naction = close\n\n[volume d]\n", 4,
		     "section [volume d] already started at line 1");
	expect_error("[volume d]\naction = close\naction = none\n", 3,
		     "key 'action': set twice in this section, first at line 2");
	expect_error("[volume d]\naction = halt\n", 2,
		     "key 'action': 'halt' is not suspend, close or none");
	expect_error("[volume d]\nexec = rm -rf /\n", 2,
		     "key 'exec': must start with the absolute path");
	expect_error("[volume d]\npoll_interval = 5\n", 2,
		     "key 'poll_interval': belongs in [daemon], not in a [volume NAME] section "
		     "(only action and exec are per volume)");
	expect_error("[volume d]\nservers = a\n", 2,
		     "key 'servers': belongs in a server group, not in a [volume NAME] section");
	expect_error("[volume d]\nexecc = /bin/true\n", 2,
		     "key 'execc': unknown key; did you mean 'exec'?");
	expect_error("[daemon]\nexec =\n", 2, "key 'exec': no value");
	/* Meant as [volume NAME], not a server group: said so. */
	expect_error("[volumes]\n", 1, "section [volumes]: did you mean [volume NAME]?");
	expect_error("[Volume]\n", 1, "section [Volume]: did you mean [volume NAME]?");
	expect_error("[volme data]\n", 1, "section [volme data]: did you mean [volume NAME]?");
	expect_error("[Volumes\tdata]\n", 1, "section [Volumes");	/* the log shows the tab as '?' */
	assert_logged("data]: did you mean [volume NAME]?");
	expect_error("[volume\t]\n", 1, "section [volume]: name the mapping");
	/* ... the keys under such a header are skipped, not reported one by one. */
	expect_error("[volumes data]\naction = close\nexec = /bin/true\n", 1,
		     "section [volumes data]: did you mean");
	assert_int_equal(n_errors(), 1);
}

/* The mapping name is device-mapper's: at most 127 bytes; at most 256 sections. */
static void test_volume_limits(void **state)
{
	char name[CONFIG_VOLUME_NAME_MAX + 1], *text, *p;
	struct config *c = NULL;
	const struct config_volume *v;
	unsigned i;

	memset(name, 'v', CONFIG_VOLUME_NAME_MAX - 1);
	name[CONFIG_VOLUME_NAME_MAX - 1] = '\0';
	text = malloc((CONFIG_VOLUMES_MAX + 2) * 64 + 2 * CONFIG_VOLUME_NAME_MAX);
	assert_non_null(text);
	/* A tab between "volume" and the name, and a group whose name starts with "volume". */
	sprintf(text, "[volume\t%s]\naction = close\n[volume2]\n" GROUP_OK, name);
	write_conf(text);
	assert_int_equal(config_load(conf_path, &c), 0);
	v = config_volume(c, name);
	assert_non_null(v);
	assert_int_equal(v->action, DAEMON_ACTION_CLOSE);
	assert_non_null(config_group(c, "volume2"));
	config_free(c);
	sprintf(text, "[volume %sv]\n", name);
	expect_error(text, 1, "section [volume vvvv");
	assert_logged("]: not a mapping name (1 to 127 printable characters");

	p = text;
	for (i = 0; i <= CONFIG_VOLUMES_MAX; i++)
		p += sprintf(p, "[volume v%u]\n", i);
	expect_error(text, CONFIG_VOLUMES_MAX + 1, "more than 256 [volume] sections");
	assert_int_equal(n_errors(), 1);
	/* 256 are fine, each found by its name. */
	text[strlen(text) - strlen("[volume v256]\n")] = '\0';
	write_conf(text);
	assert_int_equal(config_load(conf_path, &c), 0);
	assert_int_equal(c->n_volumes, CONFIG_VOLUMES_MAX);
	assert_non_null(config_volume(c, "v255"));
	assert_false(config_volume(c, "v0")->action_set);
	config_free(c);
	free(text);
}

static void test_error_several_reported(void **state)
{
	char needle[PATH_MAX + 64];

	/* All mistakes at once, each at its line. */
	expect_error("[default]\n" GROUP_OK "timeout_ms = x\nkmip_version = 9\n", 5,
		     "key 'timeout_ms'");
	snprintf(needle, sizeof(needle), "%s:6: key 'kmip_version'", conf_path);
	assert_logged(needle);
	assert_int_equal(n_errors(), 2);
}

static void test_error_too_many_groups(void **state)
{
	char *text, *p;
	unsigned i;

	text = malloc((CONFIG_GROUPS_MAX + 1) * 128);
	assert_non_null(text);
	p = text;
	for (i = 0; i <= CONFIG_GROUPS_MAX; i++)
		p += sprintf(p, "[g%u]\n" GROUP_OK, i);
	expect_error(text, CONFIG_GROUPS_MAX * 4 + 1, "more than 64 server groups");
	free(text);
}

/* ---- key passwords ------------------------------------------------- */

static bool wiped_nonzero;

static void check_wiped(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			wiped_nonzero = true;
}

static struct config *load_with_password_file(const char *content, size_t len, mode_t mode)
{
	struct config *c = NULL;

	write_file_mode(tmp_path("pw"), content, len, mode);
	write_conf("[default]\n" GROUP_OK "key_password_file = pw\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	return c;
}

static void test_password_file(void **state)
{
	static const struct {
		const char *content;
		const char *want;
	} ok[] = {
		{ "s3cret\n", "s3cret" },
		{ "s3cret", "s3cret" },
		{ "s3cret\r\n", "s3cret" },
		{ "two words \n\n", "two words \n" },	/* only one newline */
	};
	struct config *c;
	struct config_group *g;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		c = load_with_password_file(ok[i].content, strlen(ok[i].content), 0600);
		g = config_group(c, NULL);
		assert_null(g->key_password);
		assert_int_equal(config_group_load_password(g), 0);
		assert_non_null(g->key_password);
		assert_string_equal(g->key_password, ok[i].want);
		assert_ptr_equal(g->tls.key_password, g->key_password);
		/* A second call keeps what is loaded. */
		assert_int_equal(config_group_load_password(g), 0);
		assert_int_equal(secmem_in_use(NULL), 1);
		wiped_nonzero = false;
		secmem_set_wipe_hook(check_wiped);
		config_free(c);
		secmem_set_wipe_hook(NULL);
		assert_false(wiped_nonzero);
		assert_int_equal(secmem_in_use(NULL), 0);
	}
}

static void test_password_file_errors(void **state)
{
	char big[CONFIG_PASSWORD_MAX + 2];
	struct config *c;
	struct config_group *g;

	char needle[PATH_MAX * 4];

	/*
	 * Readable by group or other: refused, as ssh refuses such keys, with
	 * the fix, naming the file, line, group and key that set it.
	 */
	c = load_with_password_file("pw\n", 3, 0644);
	g = config_group(c, NULL);
	capture_reset();
	assert_int_equal(config_group_load_password(g), -EACCES);
	assert_null(g->tls.key_password);
	snprintf(needle, sizeof(needle), "%s:5: [default] key_password_file: %s: mode 0644 gives "
		 "its group and other users access, and a secret must not be accessible to "
		 "others: run 'chmod 600 %s'", conf_path, tmp_path("pw"), tmp_path("pw"));
	assert_logged(needle);
	assert_int_equal(n_errors(), 1);
	config_free(c);
	c = load_with_password_file("pw\n", 3, 0640);
	capture_reset();
	assert_int_equal(config_group_load_password(config_group(c, NULL)), -EACCES);
	assert_logged("mode 0640 gives its group access");
	config_free(c);
	if (geteuid() == 0) {
		/* Owned by another user, who could read or replace it. */
		c = load_with_password_file("pw\n", 3, 0600);
		assert_int_equal(chown(tmp_path("pw"), 4242, (gid_t)-1), 0);
		capture_reset();
		assert_int_equal(config_group_load_password(config_group(c, NULL)), -EACCES);
		assert_logged("owned by uid 4242, neither root nor this user");
		config_free(c);
	}

	/* A FIFO: refused at once (a blocking open would wait for a writer for ever). */
	write_conf("[default]\n" GROUP_OK "key_password_file = fifo\n");
	assert_int_equal(mkfifo(tmp_path("fifo"), 0600), 0);
	assert_int_equal(config_load(conf_path, &c), 0);
	capture_reset();
	alarm(10);
	assert_int_equal(config_group_load_password(config_group(c, NULL)), -EINVAL);
	alarm(0);
	snprintf(needle, sizeof(needle), "%s:5: [default] key_password_file: %s is a FIFO "
		 "(named pipe), not a regular file", conf_path, tmp_path("fifo"));
	assert_logged(needle);
	assert_int_equal(n_errors(), 1);
	config_free(c);

	/* CONFIG_PASSWORD_MAX is fine, one more byte is not. */
	memset(big, 'x', sizeof(big));
	big[CONFIG_PASSWORD_MAX] = '\n';
	c = load_with_password_file(big, CONFIG_PASSWORD_MAX + 1, 0600);
	assert_int_equal(config_group_load_password(config_group(c, NULL)), 0);
	assert_int_equal(strlen(config_group(c, NULL)->key_password), CONFIG_PASSWORD_MAX);
	config_free(c);
	c = load_with_password_file(big, CONFIG_PASSWORD_MAX + 2, 0600);
	capture_reset();
	assert_int_equal(config_group_load_password(config_group(c, NULL)), -EINVAL);
	assert_logged("at most 1024 bytes");
	config_free(c);
	memset(big, 'x', sizeof(big));
	c = load_with_password_file(big, sizeof(big), 0600);
	assert_int_equal(config_group_load_password(config_group(c, NULL)), -EINVAL);
	config_free(c);

	c = load_with_password_file("\n", 1, 0600);
	capture_reset();
	assert_int_equal(config_group_load_password(config_group(c, NULL)), -EINVAL);
	assert_logged("empty key password");
	config_free(c);

	c = load_with_password_file("a\0b\n", 4, 0600);
	capture_reset();
	assert_int_equal(config_group_load_password(config_group(c, NULL)), -EINVAL);
	assert_logged("contains a NUL byte");
	config_free(c);

	c = load_with_password_file("pw", 2, 0600);
	unlink(tmp_path("pw"));
	capture_reset();
	assert_int_equal(config_group_load_password(config_group(c, NULL)), -ENOENT);
	assert_int_equal(n_errors(), 1);
	config_free(c);
}

static void test_inline_password(void **state)
{
	struct config *c = NULL;
	struct config_group *g;
	char needle[PATH_MAX + 64];
	size_t n_blocks;

	write_conf("[default]\n" GROUP_OK "key_password = hunter2\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	g = config_group(c, NULL);
	assert_string_equal(g->key_password, "hunter2");
	assert_ptr_equal(g->tls.key_password, g->key_password);
	assert_int_equal(config_group_load_password(g), 0);
	/* An override by file replaces the inline password, and vice versa. */
	assert_int_equal(config_group_set(g, "key_password_file", "/run/pw", "command line"), 0);
	assert_null(g->key_password);
	assert_null(g->tls.key_password);
	assert_string_equal(g->key_password_file, "/run/pw");
	assert_int_equal(config_group_set(g, "key_password", "other", "command line"), 0);
	assert_null(g->key_password_file);
	assert_string_equal(g->tls.key_password, "other");
	/* A process that loads no key (kmipcryptd's locker) drops them, wiped. */
	n_blocks = secmem_in_use(NULL);
	config_forget_secrets(c);
	assert_null(g->key_password);
	assert_null(g->tls.key_password);
	assert_int_equal(secmem_in_use(NULL), n_blocks - 1);
	config_forget_secrets(c);	/* again: nothing left to do */
	config_forget_secrets(NULL);
	config_free(c);

	/*
	 * The file holds a secret: like any secret file, refused when its group
	 * or others can read it, with the fix; the password never echoed.
	 */
	for (unsigned m = 0; m < 2; m++) {
		write_file_mode(conf_path, "[default]\n" GROUP_OK "key_password = hunter2\n",
				strlen("[default]\n" GROUP_OK "key_password = hunter2\n"),
				m ? 0640 : 0644);
		capture_reset();
		assert_int_equal(config_load(conf_path, &c), -EINVAL);
		snprintf(needle, sizeof(needle), "%s:5: key 'key_password': %s: mode %s gives",
			 conf_path, conf_path, m ? "0640" : "0644");
		assert_logged(needle);
		assert_logged("run 'chmod 600 ");
		assert_int_equal(n_errors(), 1);
		for (unsigned i = 0; i < n_captured && i < CAPTURE_MAX; i++)
			assert_null(strstr(captured[i], "hunter2"));
	}
}

/* ---- where each setting was made ----------------------------------- */

static void test_where(void **state)
{
	struct config *c = NULL;
	struct config_group *g;
	char want[PATH_MAX + 64];

	write_conf("# where\n[default]\n" GROUP_OK "ca = ca.pem\n\n[dc2]\n" GROUP_OK
		   "cipher_suites = FOO\nkey_password = x\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	g = config_group(c, "default");
	snprintf(want, sizeof(want), "%s:6: [default] ca", conf_path);
	assert_string_equal(g->where[TRANSPORT_SET_CA], want);
	assert_ptr_equal(g->tls.where[TRANSPORT_SET_CA], g->where[TRANSPORT_SET_CA]);
	snprintf(want, sizeof(want), "%s:3: [default] servers", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_SERVERS], want);
	snprintf(want, sizeof(want), "%s:5: [default] key", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_KEY], want);
	/* A key left to its default: the line of the group's header. */
	snprintf(want, sizeof(want), "%s:2: [default] cipher_suites", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_CIPHER_SUITES], want);
	snprintf(want, sizeof(want), "%s:2: [default] tls_min_version", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_TLS_MIN_VERSION], want);

	g = config_group(c, "dc2");
	snprintf(want, sizeof(want), "%s:12: [dc2] cipher_suites", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_CIPHER_SUITES], want);
	snprintf(want, sizeof(want), "%s:13: [dc2] key_password", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_KEY_PASSWORD], want);
	snprintf(want, sizeof(want), "%s:8: [dc2] ca", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_CA], want);
	/* An override says where it came from; key_password_file replaces key_password. */
	assert_int_equal(config_group_set(g, "key_password_file", "/pw", "--key-password-file"), 0);
	assert_string_equal(g->tls.where[TRANSPORT_SET_KEY_PASSWORD],
			    "--key-password-file: [dc2] key_password_file");
	assert_int_equal(config_group_set(g, "ca", "/x", NULL), 0);
	assert_string_equal(g->tls.where[TRANSPORT_SET_CA], "command line: [dc2] ca");
	/* A failed override keeps where the value came from. */
	assert_int_equal(config_group_set(g, "tls_min_version", "1.0", NULL), -EINVAL);
	snprintf(want, sizeof(want), "%s:8: [dc2] tls_min_version", conf_path);
	assert_string_equal(g->tls.where[TRANSPORT_SET_TLS_MIN_VERSION], want);
	config_free(c);

	/* Without a file: bare key names. */
	assert_int_equal(config_new_empty(&c), 0);
	assert_null(config_group(c, NULL)->tls.where[TRANSPORT_SET_CA]);
	config_free(c);
}

/* ---- encodings and cascades ---------------------------------------- */

static void test_bom(void **state)
{
	static const char bom[] = "\xEF\xBB\xBF[default]\n" GROUP_OK "timeout_ms = 7\n";
	struct config *c = NULL;
	char needle[PATH_MAX + 64];

	/* A UTF-8 byte-order mark (Notepad) is skipped: no error, lines count as before. */
	capture_reset();
	write_conf(bom);
	assert_int_equal(config_load(conf_path, &c), 0);
	assert_int_equal(n_errors(), 0);
	assert_int_equal(config_group(c, "default")->tls.timeout_ms, 7);
	config_free(c);
	expect_error("\xEF\xBB\xBF[default]\n" GROUP_OK "timeout_ms = x\n", 5, "key 'timeout_ms'");
	assert_int_equal(n_errors(), 1);
	/* Only at the start. */
	expect_error("[default]\n\xEF\xBB\xBF" GROUP_OK, 2, "key '\xEF\xBB\xBFservers': unknown key");

	/* UTF-16: one error, not one per line. */
	capture_reset();
	write_file_mode(conf_path, "\xFF\xFE[\0d\0]\0\n\0", 10, 0600);
	assert_int_equal(config_load(conf_path, &c), -EINVAL);
	snprintf(needle, sizeof(needle), "%s: the file is UTF-16", conf_path);
	assert_logged(needle);
	assert_int_equal(n_errors(), 1);

	/* Keys before any section: said once, not once per key. */
	expect_error("servers = a\ncert = c\nkey = k\n[default]\n" GROUP_OK, 1,
		     "key 'servers': outside of any section");
	assert_int_equal(n_errors(), 1);
	/* ... and a section header ends it: errors after it are reported again. */
	expect_error("servers = a\ncert = c\n[default]\n" GROUP_OK "timeout_ms = x\n", 7,
		     "key 'timeout_ms'");
	assert_int_equal(n_errors(), 2);
}

/* ---- overrides ----------------------------------------------------- */

static void test_group_set(void **state)
{
	struct config *c = NULL;
	struct config_group *g;

	write_conf("[default]\n" GROUP_OK "timeout_ms = 100\n");
	assert_int_equal(config_load(conf_path, &c), 0);
	g = config_group(c, NULL);
	/* An override replaces the file's value: not a duplicate. */
	assert_int_equal(config_group_set(g, "timeout_ms", "200", "command line"), 0);
	assert_int_equal(g->tls.timeout_ms, 200);
	/* A failed override names its origin and leaves the group alone. */
	capture_reset();
	assert_int_equal(config_group_set(g, "timeout_ms", "0", "command line"), -EINVAL);
	assert_logged("command line: key 'timeout_ms': '0' is not");
	assert_int_equal(g->tls.timeout_ms, 200);
	capture_reset();
	assert_int_equal(config_group_set(g, "servers", "x.example, [bad", "--server"), -EINVAL);
	assert_logged("--server: key 'servers': '[bad' is not");
	assert_int_equal(g->tls.n_servers, 1);
	assert_string_equal(g->tls.servers[0].host, "kms.example.com");
	capture_reset();
	assert_int_equal(config_group_set(g, "nope", "1", "command line"), -EINVAL);
	assert_logged("command line: key 'nope': unknown key");
	assert_int_equal(config_group_set(g, "ca", "", "command line"), -EINVAL);
	assert_int_equal(config_group_set(g, "ca", "a\nb", "command line"), -EINVAL);
	assert_int_equal(config_group_set(g, "ca", "/x/ca.pem", "command line"), 0);
	assert_string_equal(g->tls.ca_file, "/x/ca.pem");
	assert_int_equal(config_group_set(g, "servers", "[::1]:1", "command line"), 0);
	assert_int_equal(g->tls.n_servers, 1);
	assert_string_equal(g->tls.servers[0].host, "::1");
	assert_int_equal(g->tls.servers[0].port, 1);

	assert_int_equal(config_daemon_set(&c->daemon, "offline_grace", "90s", "command line"), 0);
	assert_int_equal(c->daemon.offline_grace_s, 90);
	assert_int_equal(config_daemon_set(&c->daemon, "offline_grace", "unlimited", NULL), 0);
	assert_int_equal(c->daemon.offline_grace_s, 0);
	assert_int_equal(config_daemon_set(&c->daemon, "action", "close", NULL), 0);
	assert_int_equal(c->daemon.action, DAEMON_ACTION_CLOSE);
	capture_reset();
	assert_int_equal(config_daemon_set(&c->daemon, "action", "exec", NULL), -EINVAL);
	assert_logged("command line: key 'action': 'exec' is no action");
	assert_int_equal(c->daemon.action, DAEMON_ACTION_CLOSE);	/* unchanged */
	assert_int_equal(config_daemon_set(&c->daemon, "user", "nobody", NULL), 0);
	assert_int_equal(config_daemon_validate(&c->daemon, "command line"), 0);
	config_free(c);
}

/* ---- server_addr_parse() ------------------------------------------- */

static void test_server_addr(void **state)
{
	static const struct {
		const char *s;
		const char *host;
		unsigned port;
	} ok[] = {
		{ "kms", "kms", 5696 },
		{ "kms.example.com", "kms.example.com", 5696 },
		{ "kms.example.com.", "kms.example.com.", 5696 },
		{ "kms:1", "kms", 1 },
		{ "kms:65535", "kms", 65535 },
		{ "192.0.2.7:5697", "192.0.2.7", 5697 },
		{ "[2001:db8::1]:5696", "2001:db8::1", 5696 },
		{ "[2001:db8::1]", "2001:db8::1", 5696 },
		{ "2001:db8::1", "2001:db8::1", 5696 },
		{ "::1", "::1", 5696 },
		{ "[::ffff:192.0.2.1]:7", "::ffff:192.0.2.1", 7 },
		{ "[fe80::1%eth0]:5696", "fe80::1%eth0", 5696 },
		{ "under_score-host", "under_score-host", 5696 },
	};
	static const char *const bad[] = {
		"", ":5696", "kms:", "kms:0", "kms:65536", "kms:-1", "kms: 1",
		"kms:1x", "[::1", "[::1]x", "[::1]:", "[kms]:5696", "[]:1", "[]",
		"::1::2", "1:2:3", "kms..example", ".kms", "-kms", "k ms", "kms/x",
		"[fe80::1%]:1", "[fe80::1%eth0/x]", "k\xc3\xa9ms",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct server_addr a;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(&a, 0xff, sizeof(a));
		if (server_addr_parse(ok[i].s, &a) != 0)
			fail_msg("server_addr_parse(\"%s\") refused", ok[i].s);
		assert_string_equal(a.host, ok[i].host);
		assert_int_equal(a.port, ok[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (server_addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("server_addr_parse(\"%s\") accepted", bad[i]);
}

/* ---- log ----------------------------------------------------------- */

static void test_log(void **state)
{
	char longmsg[LOG_LINE_MAX * 2];
	int r;

	capture_reset();
	errno = EBADF;
	r = log_error_errno(-ENOENT, "open %s: %s", "x", strerror(ENOENT));
	assert_int_equal(r, -ENOENT);
	assert_int_equal(errno, EBADF);	/* logging keeps errno */
	assert_string_equal(captured[0], "open x: No such file or directory");
	assert_int_equal(captured_lvl[0], LOG_LVL_ERR);
	/* A positive errno comes back negative; 0 never reads as success. */
	assert_int_equal(log_errno(LOG_LVL_ERR, EACCES, "a"), -EACCES);
	assert_int_equal(log_errno(LOG_LVL_ERR, 0, "b"), -EIO);
	assert_int_equal(sink_calls, 3);

	/* Levels filter, also before the sink, and still return the error. */
	log_set_level(LOG_LVL_WARN);
	assert_int_equal(log_get_level(), LOG_LVL_WARN);
	capture_reset();
	log_info("dropped");
	log_debug("dropped");
	assert_int_equal(log_debug_errno(-EIO, "dropped"), -EIO);
	log_warn("kept");
	assert_int_equal(n_captured, 1);
	assert_string_equal(captured[0], "kept");
	log_set_level(LOG_LVL_DEBUG);

	/* One message, one line: control characters from peers are defused. */
	capture_reset();
	log_error("evil\nkmipcrypt: fake line\r\x1b[2J");
	assert_string_equal(captured[0], "evil?kmipcrypt: fake line??[2J");

	/* Too long: cut visibly, never silently. */
	memset(longmsg, 'z', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	capture_reset();
	log_error("%s", longmsg);
	assert_int_equal(strlen(captured[0]), LOG_LINE_MAX - 1);
	assert_non_null(strstr(captured[0], LOG_TRUNCATED));
	assert_int_equal(strcmp(captured[0] + LOG_LINE_MAX - 1 - strlen(LOG_TRUNCATED),
				LOG_TRUNCATED), 0);
}

static void test_log_stderr(void **state)
{
	char buf[256], path[PATH_MAX];
	int fd, saved;
	ssize_t n;

	/* Redirect stderr to a file and check the line format. */
	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_set_sink(NULL, NULL);
	log_error("first %d", 1);
	log_warn("second");
	log_set_ident("kmipcryptd");
	log_info("third");
	log_set_ident(NULL);
	log_set_sink(capture_sink, &sink_calls);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "kmipcrypt: first 1\n"
				 "kmipcrypt: warning: second\n"
				 "kmipcryptd: third\n");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_file),
		T(test_defaults_and_crlf),
		T(test_new_empty),
		T(test_missing_file),
		T(test_error_unknown_key),
		T(test_error_duplicates),
		T(test_error_syntax),
		T(test_error_nul_byte),
		T(test_error_long_line),
		T(test_error_file_too_big),
		T(test_error_values),
		T(test_object_group),
		T(test_error_servers),
		T(test_error_missing_keys),
		T(test_error_daemon_values),
		T(test_rotate_after),
		T(test_error_volume_sections),
		T(test_volume_limits),
		T(test_error_several_reported),
		T(test_error_too_many_groups),
		T(test_password_file),
		T(test_password_file_errors),
		T(test_inline_password),
		T(test_where),
		T(test_bom),
		T(test_group_set),
		T(test_server_addr),
		T(test_log),
		T(test_log_stderr),
	};
#undef T

	/* A value of $JOURNAL_STREAM would change the stderr format. */
	unsetenv("JOURNAL_STREAM");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
