/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "kmip/kmip.h"
#include "util/config.h"
#include "util/log.h"
#include "util/secmem.h"

int cli_open_client(struct config **cfg, struct kmip_client **client)
{
	const char *path = g_opts.config_path ? g_opts.config_path : KMIPCRYPT_CONF_PATH;
	const char *name = g_opts.group ? g_opts.group : "default";
	struct config_group *g;
	int r;

	*cfg = NULL;
	*client = NULL;
	r = config_load(path, cfg);
	if (r == -ENOENT) {
		log_error("configuration file %s not found; create it (see kmipcrypt.conf(5)) or pass -c FILE", path);
		return EXIT_USAGE;
	}
	if (r < 0) {
		log_error("configuration file %s is not usable (errors above)", path);
		return EXIT_USAGE;
	}
	g = config_group(*cfg, name);
	if (!g) {
		log_error("%s has no server group [%s]; add it or pick another with -g", path, name);
		r = EXIT_USAGE;
		goto fail;
	}
	r = config_group_load_password(g);
	if (r < 0) {
		log_error("cannot read key_password_file %s of group [%s]: %s",
			  g->key_password_file, name, strerror(-r));
		r = EXIT_USAGE;
		goto fail;
	}
	r = kmip_client_new(g, client);
	if (r < 0) {
		r = cli_fail(r, NULL, "setting up the TLS client", NULL);
		goto fail;
	}
	return 0;
fail:
	config_free(*cfg);
	*cfg = NULL;
	return r;
}

void cli_close_client(struct config *cfg, struct kmip_client *client)
{
	kmip_client_free(client);
	config_free(cfg);
}

static const char *hint(int r)
{
	switch (exit_code_from_errno(r)) {
	case EXIT_UNREACHABLE:
		return "check that the server is up and reachable (servers, timeout_ms in the configuration)";
	case EXIT_TLS:
		return "check ca, cert and key in the configuration and the server's certificate";
	case EXIT_KEY:
		return "check the key's identifier and state ('kmipcrypt key show UID') and the client's permissions";
	default:
		return NULL;
	}
}

int cli_fail(int r, struct kmip_client *c, const char *what, const char *uid)
{
	const char *peer = c ? kmip_client_peer(c) : NULL;
	const char *server = c ? kmip_last_error(c) : "";
	const char *h = hint(r);
	/* strerror(EKEYREJECTED) is "Key was rejected by service": not what happened. */
	const char *why = r == -EKEYREJECTED ? "TLS or authentication failure" : strerror(-r);

	log_error("%s%s%s%s%s%s failed: %s%s%s%s",
		  what,
		  uid ? " of key '" : "", uid ? uid : "", uid ? "'" : "",
		  peer ? " on " : "", peer ? peer : "",
		  server && *server ? "server says " : "",
		  server && *server ? server : why,
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
	uint8_t *buf = NULL;
	size_t n = 0;
	ssize_t k;
	int fd = -1, r;

	buf = secmem_alloc(max + 1);
	if (!buf) {
		r = -errno;
		goto out;
	}
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : STDIN_FILENO;
	if (fd < 0) {
		r = log_error_errno(-errno, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	/* Read one byte past max so that an oversized file is an error, not a cut. */
	while (n <= max) {
		k = read(fd, buf + n, max + 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = log_error_errno(-errno, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > max) {
		r = log_error_errno(-EFBIG, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	if (n == 0) {
		r = log_error_errno(-EINVAL, "%s is empty", path);
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
	r = 0;
out:
	if (fd > STDIN_FILENO)
		close(fd);
	secmem_free(buf);
	return r;
}
