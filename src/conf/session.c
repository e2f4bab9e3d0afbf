/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * From a group of the configuration to a KMIP session: the one place that
 * turns kmipcrypt.conf into what net/ and kmip/ take.
 */
#include <errno.h>

#include "conf/config.h"
#include "util/log.h"

int conf_group_ready(struct config *cfg, const char *group, struct config_group **out)
{
	struct config_group *g;
	int r;

	*out = NULL;
	g = config_group(cfg, group);
	if (!g)
		return log_error_errno(-EINVAL, "the configuration%s%s has no server group [%s]; add it "
				       "(see kmipcrypt.conf(5))",
				       cfg->path ? " " : "", cfg->path ? cfg->path : "",
				       group ? group : "default");
	r = config_group_load_password(g);
	if (r < 0)
		return r;	/* logged, with where key_password_file is set */
	*out = g;
	return 0;
}

int conf_session_open(struct config *cfg, const char *group, int64_t deadline,
		      struct kmip_session **out)
{
	struct kmip_session_opts o = { 0 };
	struct config_group *g;
	int r;

	*out = NULL;
	r = conf_group_ready(cfg, group, &g);
	if (r < 0)
		return r;
	o.name = g->name;
	o.tls = &g->tls;
	o.version = g->kmip_version;
	return kmip_session_open(&o, deadline, out);
}
