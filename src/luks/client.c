/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A KMIP client for one server group, bounded by a deadline for the whole
 * unlock: the group's timeout_ms bounds each connect, handshake, write and
 * read; with failover over n servers one request may cost 2n + 2 of them.
 * Before each request, if that worst case no longer fits in the time left,
 * the session is rebuilt with a lower per-phase timeout; when too little is
 * left, the request is not sent (-ETIMEDOUT).  Requests are never resent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "net/transport.h"
#include "util/config.h"
#include "util/log.h"

#define PHASE_MIN_MS	100	/* below this per phase, give up */

struct luks_conn {
	const struct config_group *g;
	struct transport *t;
	unsigned timeout_ms;	/* of t */
	int64_t deadline;	/* CLOCK_MONOTONIC ms, 0: none */
	struct kmip_client *c;
};

int64_t luks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned group_timeout_ms(const struct config_group *g)
{
	return g->tls.timeout_ms ? g->tls.timeout_ms : TRANSPORT_DEFAULT_TIMEOUT_MS;
}

static unsigned request_phases(const struct config_group *g)
{
	return 2 * (g->tls.n_servers ? g->tls.n_servers : 1) + 2;
}

static int bounded_roundtrip(void *ctx, const uint8_t *req, size_t req_len,
			     uint8_t **resp, size_t *resp_len, bool idempotent)
{
	struct luks_conn *x = ctx;
	unsigned phases = request_phases(x->g), want = group_timeout_ms(x->g);
	int64_t left = x->deadline ? x->deadline - luks_now_ms() : INT64_MAX;
	struct transport_opts o;
	int r;

	(void)idempotent;	/* never resent: a resend could double the worst case */
	if (x->t && (!x->deadline || (int64_t)phases * x->timeout_ms <= left))
		return transport_roundtrip(x->t, req, req_len, resp, resp_len, false);
	if (x->deadline) {
		/* An eighth of what is left stays as slack for the next request. */
		if (left > 0 && (uint64_t)(left - left / 8) / phases < want)
			want = (unsigned)((uint64_t)(left - left / 8) / phases);
		if (left <= 0 || want < PHASE_MIN_MS)
			return log_error_errno(-ETIMEDOUT, "the time limit for this unlock is used up "
					       "before the next request to group [%s]", x->g->name);
	}
	if (x->t)
		log_debug("group [%s]: %u ms per phase to stay within the time limit", x->g->name, want);
	transport_free(x->t);
	x->t = NULL;
	o = x->g->tls;
	o.timeout_ms = want;
	r = transport_new(&o, &x->t);
	if (r < 0)
		return r;
	x->timeout_ms = want;
	return transport_roundtrip(x->t, req, req_len, resp, resp_len, false);
}

int luks_conn_open(struct config *cfg, const char *group, int64_t deadline, struct luks_conn **out)
{
	struct config_group *g;
	struct luks_conn *x;
	int r;

	*out = NULL;
	g = config_group(cfg, group);
	if (!g)
		return log_error_errno(-EINVAL, "the configuration%s%s has no server group [%s]",
				       cfg->path ? " " : "", cfg->path ? cfg->path : "", group);
	r = config_group_load_password(g);
	if (r < 0)
		return r;	/* logged, with where key_password_file is set */
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->g = g;
	x->deadline = deadline;
	/*
	 * The credentials now, not at the first request: a file that cannot
	 * be used (missing, a FIFO, readable by others, a key that does not
	 * match) is this host's configuration, and must not read as a failure
	 * of the server later.  Logged with where the key is set.
	 */
	x->timeout_ms = group_timeout_ms(g);
	r = transport_new(&g->tls, &x->t);
	if (r < 0)
		goto fail;
	r = kmip_client_new_custom(bounded_roundtrip, x, g->kmip_version, &x->c);
	if (r < 0)
		goto fail;
	*out = x;
	return 0;
fail:
	transport_free(x->t);
	free(x);
	return r;
}

struct kmip_client *luks_conn_client(struct luks_conn *x)
{
	return x->c;
}

void luks_conn_close(struct luks_conn *x)
{
	if (!x)
		return;
	kmip_client_free(x->c);
	transport_free(x->t);
	free(x);
}
