/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <libcryptsetup.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "kmip/kmip.h"
#include "conf/config.h"
#include "luks/luks.h"
#include "net/transport.h"
#include "util/file.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/strnum.h"

/* Set by main.c from the command line, read by every verb. */
struct global_opts g_opts;

/*
 * A termination request (Ctrl-C, SIGTERM, SIGHUP) ends the prompt at once:
 * the terminal is restored, and -EINTR returned when the caller catches
 * such requests (interrupt_catch(), it undoes and re-raises); otherwise the
 * prompt caught it itself and the process ends here, as the signal ends it.
 */
int cli_prompt_secret(const char *prompt, size_t max, char **out, size_t *len)
{
	struct termios old, quiet;
	bool restore = false, mine = !interrupt_caught();
	size_t n = 0;
	char *pw = NULL, c = 0;
	int fd = -1, r;

	*out = NULL;
	*len = 0;
	r = interrupt_catch();	/* before echo goes off: a signal must not leave it off */
	if (r < 0)
		return r;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -ENOTTY;
		goto out;
	}
	pw = secmem_alloc(max + 1);
	if (!pw) {
		r = -ENOMEM;
		goto out;
	}
	/*
	 * Echo off before the prompt shows: TCSAFLUSH drops pending input, so
	 * an answer typed (or sent by a program) as soon as the prompt
	 * appears would otherwise be lost, and the read would wait forever.
	 */
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	dprintf(fd, "%s: ", prompt);
	for (;;) {
		ssize_t k;

		r = interrupt_wait_readable(fd);	/* -EINTR: a request is pending */
		if (r < 0)
			break;
		r = 0;
		k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;	/* the wait above says whether to give up */
		if (k <= 0 || c == '\n')
			break;
		if (n >= max) {
			r = log_error_errno(-EINVAL, "the answer is longer than %zu bytes", max);
			break;
		}
		pw[n++] = c;
	}
	/* On every path, also when a signal interrupts tcsetattr() itself. */
	while (restore && tcsetattr(fd, TCSAFLUSH, &old) < 0 && errno == EINTR)
		;
	dprintf(fd, "\n");
	if (r == 0 && n == 0)
		r = log_error_errno(-EINVAL, "empty answer at the prompt");
	if (r < 0)
		goto out;
	pw[n] = '\0';
	*out = pw;
	*len = n;
	pw = NULL;
out:
	explicit_bzero(&c, sizeof(c));
	if (fd >= 0)
		close(fd);
	secmem_free(pw);
	if (mine)
		interrupt_release(r == -EINTR);	/* ends the process if interrupted */
	return r;
}

/* The client key's password on the terminal: at boot and in scripts it comes from key_password_file. */
static int prompt_key_password(struct config_group *g)
{
	char prompt[PATH_MAX + 32];
	char *pw;
	size_t len;
	int r;

	snprintf(prompt, sizeof(prompt), "Password for the client key %s", g->key);
	r = cli_prompt_secret(prompt, CONFIG_PASSWORD_MAX, &pw, &len);
	if (r == -ENOTTY)
		return 0;	/* no terminal: let TLS report the missing password */
	if (r < 0)
		return r;
	secmem_free(g->key_password);
	g->key_password = pw;
	g->tls.key_password = pw;
	return 0;
}

int cli_load_config_file(struct config **cfg)
{
	const char *path = g_opts.config_path ? g_opts.config_path : KMIPCRYPT_CONF_PATH;
	int r;

	*cfg = NULL;
	r = config_load(path, cfg);
	if (r == -ENOENT) {
		log_error("configuration file %s not found; create it (see kmipcrypt.conf(5)) or pass -c FILE", path);
		return EXIT_USAGE;
	}
	if (r < 0) {
		log_error("configuration file %s is not usable (errors above)", path);
		return EXIT_USAGE;
	}
	return 0;
}

int cli_load_config(struct config **cfg)
{
	const char *name = g_opts.group ? g_opts.group : "default";
	struct config_group *g;
	bool ask;
	int r;

	r = cli_load_config_file(cfg);
	if (r)
		return r;
	r = conf_group_ready(*cfg, name, &g);
	if (r < 0) {
		r = EXIT_USAGE;	/* logged */
		goto fail;
	}
	/* The key file is the transport's to read: it says whether a password is missing. */
	if (transport_key_password_needed(&g->tls, &ask) < 0 || (ask && prompt_key_password(g) < 0)) {
		r = EXIT_USAGE;
		goto fail;
	}
	return 0;
fail:
	config_free(*cfg);
	*cfg = NULL;
	return r;
}

int cli_open_session(struct config **cfg, struct kmip_session **s)
{
	int r;

	*s = NULL;
	r = cli_load_config(cfg);
	if (r)
		return r;
	r = conf_session_open(*cfg, g_opts.group, 0, s);
	if (r < 0) {
		r = cli_fail(r, NULL, "setting up the TLS client", NULL);
		config_free(*cfg);
		*cfg = NULL;
	}
	return r;
}

void cli_close_session(struct config *cfg, struct kmip_session *s)
{
	kmip_session_close(s);
	config_free(cfg);
}

static const char *hint(int r)
{
	return errclass_words(r);
}

int cli_fail(int r, struct kmip_client *c, const char *what, const char *uid)
{
	/* A failed version negotiation names the server itself, and what was not sent. */
	const char *peer = c && !kmip_last_failure_step(c) ? kmip_client_peer(c) : NULL;
	const char *h = hint(r);
	char text[KMIP_FAILURE_TEXT_SIZE];

	log_error("%s%s%s", kmip_failure_text(c, r, text, sizeof(text), "%s%s%s%s%s%s", what,
					      uid ? " of key '" : "", uid ? uid : "",
					      uid ? "'" : "", peer ? " on " : "", peer ? peer : ""),
		  h ? "; " : "", h ? h : "");
	return exit_code_from_errno(r);
}

const char *cli_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
	return buf;
}

int cli_read_secret(const char *path, size_t max, uint8_t **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	int r;

	r = read_file_locked(path, max, &buf, &n);
	if (r < 0)
		return r;
	if (n == 0) {
		secmem_free(buf);
		return log_error_errno(-EINVAL, "%s is empty", path);
	}
	*out = (uint8_t *)buf;
	*len = n;
	return 0;
}

int cli_token_id(const char *verb, const char *s, int *id)
{
	unsigned long long v;

	if (parse_uint(s, 0, 31, &v) < 0)
		return cli_usage_error(verb, "invalid --token '%s': a token number 0 to 31", s);
	*id = (int)v;
	return 0;
}

void cli_luks_setup(void)
{
	crypt_token_external_disable();
	luks_log_setup();
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s; see 'kmipcrypt %s --help'", msg, verb);
	return EXIT_USAGE;
}
