/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcrypt config check | files: the configuration as every other verb
 * reads it (kmipcrypt-config(8)).  check loads every group's credentials
 * (and with --connect asks each group's servers); files lists what an
 * initramfs must hold for the configuration to work there: the dracut
 * module and the initramfs-tools hook copy exactly that.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "conf/config.h"
#include "kmip/kmip.h"
#include "luks/luks.h"
#include "net/transport.h"
#include "util/clock.h"
#include "util/log.h"

#define CONFIG_CONNECT_MS	30000	/* --connect: every server of one group, at most */

static void config_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] config check [--connect]\n"
"       kmipcrypt [-c FILE] config files\n\n"
"check   read the configuration as every command reads it (errors with\n"
"        FILE:LINE), then load each server group's credentials: the CA, the\n"
"        client certificate and key (and its password), the TLS settings.\n"
"        Nothing is sent.  Exit 0 when all of it is usable.\n"
"  --connect  also ask each group's servers (KMIP Query, the first server\n"
"             that answers): exit 2 when a group has none that answers, 3 on\n"
"             a TLS or authentication failure\n"
"files   every file the configuration needs, one absolute path a line: the\n"
"        configuration itself, each group's CA, certificate, key and key\n"
"        password file, and the host copies of key-encryption keys in the\n"
"        kek directory beside it.  What an initramfs must hold (the dracut\n"
"        module and the initramfs-tools hook copy these).\n");
}

/* ------------------------------------------------------------ files */

struct paths {
	char **v;
	size_t n;
};

static int paths_add(struct paths *p, const char *path)
{
	char **grown;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->v[i], path))
			return 0;
	grown = realloc(p->v, (p->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->v = grown;
	p->v[p->n] = strdup(path);
	if (!p->v[p->n])
		return -ENOMEM;
	p->n++;
	return 0;
}

static void paths_free(struct paths *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
}

/* The regular files of the kek directory (none when it does not exist). */
static int kek_files(const struct config *cfg, struct paths *p)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int r = luks_kek_dir(cfg, dir, sizeof(dir));

	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : log_error_errno(-errno, "%s: %m", dir);
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			r = paths_add(p, path);
	}
	closedir(d);
	return r;
}

static int config_files(const struct config *cfg)
{
	struct paths p = { 0 };
	unsigned i;
	size_t j;
	int r;

	r = paths_add(&p, cfg->path);
	for (i = 0; r == 0 && i < cfg->n_groups; i++) {
		const struct config_group *g = &cfg->groups[i];
		const char *f[] = { g->ca, g->cert, g->key, g->key_password_file };

		for (j = 0; r == 0 && j < sizeof(f) / sizeof(f[0]); j++)
			if (f[j])
				r = paths_add(&p, f[j]);
	}
	if (r == 0)
		r = kek_files(cfg, &p);
	for (j = 0; r == 0 && j < p.n; j++)
		printf("%s\n", p.v[j]);
	paths_free(&p);
	if (r < 0)
		log_error("cannot list the files of %s: %s", cfg->path, strerror(-r));
	return r;
}

/* ------------------------------------------------------------ check */

/*
 * One group: its credentials loaded as a session would load them; with
 * connect, a Query.  0 or a negative errno (logged).
 */
static int check_group(struct config *cfg, const char *name, bool connect)
{
	struct kmip_session_opts so = { .name = name };
	struct kmip_session *s = NULL;
	struct kmip_server_info *info = NULL;
	struct transport *t = NULL;
	struct config_group *g;
	bool ask = false;
	int r;

	r = conf_group_ready(cfg, name, &g);
	if (r < 0)
		goto out;
	r = transport_key_password_needed(&g->tls, &ask);
	if (r < 0)
		goto out;
	if (ask) {
		r = log_error_errno(-EINVAL, "group [%s]: the client key %s is encrypted and no "
				    "key_password_file gives its password: every command would ask "
				    "on the terminal, and nothing can at boot", name, g->key);
		goto out;
	}
	r = transport_new(&g->tls, &t);	/* every error names the setting and the file */
	if (r < 0 || !connect)
		goto out;
	so.tls = &g->tls;
	so.version = g->kmip_version;
	info = calloc(1, sizeof(*info));
	r = info ? kmip_session_open(&so, clock_now_ms() + CONFIG_CONNECT_MS, &s) : -ENOMEM;
	if (r == 0)
		r = kmip_query(kmip_session_client(s), info);
	if (r < 0) {
		cli_fail(r, s ? kmip_session_client(s) : NULL, "the Query of config check", NULL);
		goto out;
	}
	printf("group [%s]: %s answers, KMIP %d.%d%s%s\n", name,
	       kmip_client_peer(kmip_session_client(s)),
	       kmip_client_version(kmip_session_client(s)) >> 8,
	       kmip_client_version(kmip_session_client(s)) & 0xff,
	       info->vendor[0] ? ", " : "", info->vendor);
out:
	kmip_session_close(s);
	transport_free(t);
	free(info);
	return r;
}

static int config_check(struct config *cfg, bool connect)
{
	int rc = EXIT_OK, r;
	unsigned i;

	for (i = 0; i < cfg->n_groups; i++) {
		r = check_group(cfg, cfg->groups[i].name, connect);
		if (r == 0 && !connect)
			printf("group [%s]: credentials usable\n", cfg->groups[i].name);
		r = exit_code_from_errno(r);
		rc = r > rc ? r : rc;
	}
	if (!cfg->n_groups)
		log_warn("%s: no server group: no volume can be enrolled or unlocked", cfg->path);
	if (rc == EXIT_OK)
		printf("%s: ok (%u server group(s), %u [volume] section(s))\n", cfg->path,
		       cfg->n_groups, cfg->n_volumes);
	return rc;
}

int cmd_config(int argc, char **argv)
{
	enum { O_CONNECT = 256 };
	static const struct option opts[] = {
		{ "connect", no_argument, NULL, O_CONNECT },
		{ "help",    no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config *cfg = NULL;
	bool connect = false;
	const char *what;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_CONNECT:
			connect = true;
			break;
		case 'h':
			config_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("config", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("config", "config takes one of: check, files");
	what = argv[optind];
	if (strcmp(what, "check") && strcmp(what, "files"))
		return cli_usage_error("config", "unknown 'config %s' (check, files)", what);
	if (connect && strcmp(what, "check"))
		return cli_usage_error("config", "--connect goes with 'config check'");
	rc = cli_load_config_file(&cfg);
	if (rc)
		goto out;
	if (!strcmp(what, "files"))
		rc = config_files(cfg) < 0 ? EXIT_OTHER : EXIT_OK;
	else
		rc = config_check(cfg, connect);
out:
	config_free(cfg);
	return rc;
}
