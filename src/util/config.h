/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /etc/kmipcrypt/kmipcrypt.conf: INI with one section per server group
 * ([default], [dc2], ...) and a reserved [daemon] section.  Errors name the
 * file, the line and the key.
 */
#ifndef KMIPCRYPT_CONFIG_H
#define KMIPCRYPT_CONFIG_H

#include <stdbool.h>
#include "net/transport.h"

#define KMIPCRYPT_CONF_PATH   "/etc/kmipcrypt/kmipcrypt.conf"
#define CONFIG_NAME_MAX       64

/* kmip_version: 0 = auto (Discover Versions), else KMIP_VERSION(major, minor). */
#define KMIP_VERSION(maj, min) (((maj) << 8) | (min))

struct config_group {
	char name[CONFIG_NAME_MAX];
	struct transport_opts tls;	/* strings below are owned by the group */
	char *ca, *cert, *key, *key_password_file, *cipher_suites;
	int kmip_version;
};

struct config_daemon {
	unsigned poll_interval_s;	/* default 30 */
	unsigned offline_grace_s;	/* 0 = unlimited */
	char action[16];		/* suspend | close | exec */
	char *exec;
};

struct config {
	char *path;
	struct config_group *groups;
	unsigned n_groups;
	struct config_daemon daemon;
};

/* Load and validate.  -ENOENT if the file is missing, -EINVAL on errors (logged with file:line). */
int config_load(const char *path, struct config **out);
/* A config with one group, "default", and defaults only (for command-line setups). */
int config_new_empty(struct config **out);
/* The group by name (NULL: "default"); NULL if absent. */
struct config_group *config_group(struct config *c, const char *name);
/* Apply one "key = value" to a group as the file would (for command-line overrides). */
int config_group_set(struct config_group *g, const char *key, const char *value,
		     const char *origin);
/* Read key_password_file into locked memory and point tls.key_password at it. */
int config_group_load_password(struct config_group *g);
void config_free(struct config *c);

#endif

