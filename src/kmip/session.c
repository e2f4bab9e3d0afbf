/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A KMIP session with one server group over mutual TLS, bounded by a
 * deadline for the whole job: the group's timeout_ms bounds each connect,
 * handshake, write and read; with failover over n servers one request may
 * cost 2n + 2 of them.  Before each request, if that worst case no longer
 * fits in the time left, the transport is rebuilt with a lower per-phase
 * timeout; when too little is left, the request is not sent (-ETIMEDOUT).
 * Requests are never resent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmip/kmip_client_internal.h"
#include "net/transport.h"
#include "util/clock.h"
#include "util/log.h"

#define PHASE_MIN_MS	100	/* below this per phase, give up */

struct kmip_session {
	const char *name;
	const struct transport_opts *tls;
	struct transport *t;
	unsigned timeout_ms;	/* of t */
	int64_t deadline;	/* clock_now_ms() time, 0: none */
	struct kmip_client *c;
};

static unsigned group_timeout_ms(const struct kmip_session *x)
{
	return x->tls->timeout_ms ? x->tls->timeout_ms : TRANSPORT_DEFAULT_TIMEOUT_MS;
}

static unsigned request_phases(const struct kmip_session *x)
{
	return 2 * (x->tls->n_servers ? x->tls->n_servers : 1) + 2;
}

static int bounded_roundtrip(void *ctx, const uint8_t *req, size_t req_len,
			     uint8_t **resp, size_t *resp_len, bool idempotent)
{
	struct kmip_session *x = ctx;
	unsigned phases = request_phases(x), want = group_timeout_ms(x);
	int64_t left = x->deadline ? x->deadline - clock_now_ms() : INT64_MAX;
	struct transport_opts o;
	int r;

	(void)idempotent;	/* never resent: a resend could double the worst case */
	if (x->t && (!x->deadline || (int64_t)phases * x->timeout_ms <= left))
		goto send;
	if (x->deadline) {
		/* An eighth of what is left stays as slack for the next request. */
		if (left > 0 && (uint64_t)(left - left / 8) / phases < want)
			want = (unsigned)((uint64_t)(left - left / 8) / phases);
		if (left <= 0 || want < PHASE_MIN_MS)
			return log_error_errno(-ETIMEDOUT, "the time limit is used up before the next "
					       "request to group [%s]", x->name);
	}
	if (x->t)
		log_debug("group [%s]: %u ms per phase to stay within the time limit", x->name, want);
	transport_free(x->t);
	x->t = NULL;
	o = *x->tls;
	o.timeout_ms = want;
	r = transport_new(&o, &x->t);
	if (r < 0)
		return r;
	x->timeout_ms = want;
send:
	r = transport_roundtrip(x->t, req, req_len, resp, resp_len, false);
	if (r == 0)
		kmip_client_answered_by(x->c, transport_peer(x->t));
	return r;
}

/* What messages call the group's servers until one has answered. */
static void server_label(const struct kmip_session *x, char *buf, size_t len)
{
	const struct server_addr *a = &x->tls->servers[0];

	if (x->tls->n_servers == 1)
		snprintf(buf, len, strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host, a->port);
	else if (x->tls->n_servers > 1)
		snprintf(buf, len, "the servers of group [%s]", x->name);
	else
		snprintf(buf, len, "the server");
}

int kmip_session_open(const struct kmip_session_opts *o, int64_t deadline,
		      struct kmip_session **out)
{
	char label[KMIP_SERVER_NAME_SIZE];
	struct kmip_session *x;
	int r;

	*out = NULL;
	if (!o || !o->tls || !o->name)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->name = o->name;
	x->tls = o->tls;
	x->deadline = deadline;
	/*
	 * The credentials now, not at the first request: a file that cannot
	 * be used (missing, a FIFO, readable by others, a key that does not
	 * match) is this host's configuration, and must not read as a failure
	 * of the server later.  Logged with where the key is set.
	 */
	x->timeout_ms = group_timeout_ms(x);
	r = transport_new(x->tls, &x->t);
	if (r < 0)
		goto fail;
	r = kmip_client_new_custom(bounded_roundtrip, x, o->version, &x->c);
	if (r < 0)
		goto fail;
	server_label(x, label, sizeof(label));
	kmip_client_label(x->c, label, x->tls->max_message);
	*out = x;
	return 0;
fail:
	transport_free(x->t);
	free(x);
	return r;
}

struct kmip_client *kmip_session_client(struct kmip_session *x)
{
	return x->c;
}

void kmip_session_close(struct kmip_session *x)
{
	if (!x)
		return;
	kmip_client_free(x->c);
	transport_free(x->t);
	free(x);
}
