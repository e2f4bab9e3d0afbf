// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The client object: a transport (or any roundtrip function), the protocol
 * version in use, and the last server answer for error messages.
 *
 * Version negotiation happens once, lazily, on the first operation:
 * Discover Versions offering every version we speak, newest first, sent in
 * a 2.1 header.  A server that does not know 2.1 may answer that with an
 * error (PyKMIP 0.10 answers Invalid Message in a 1.0 response), so the
 * question is asked again in a 1.4 header, then in a 1.1 header (Discover
 * Versions exists since 1.1).  A server that answers none of these is
 * spoken to in 1.0.  Transport failures are not taken for a missing
 * operation: they end the negotiation with their error.  So does an answer
 * to the 1.1 question that cannot be read (a KMIP server of any version
 * answers it in KMIP, if only with a failure).  A failed negotiation is
 * charged to itself (kmip_last_failure_step()), not to the operation that
 * needed it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmip/kmip_client_internal.h"
#include "util/log.h"
#include "util/secmem.h"

static const int offer_all[] = {
	KMIP_VERSION(2, 1), KMIP_VERSION(2, 0), KMIP_VERSION(1, 4), KMIP_VERSION(1, 3),
	KMIP_VERSION(1, 2), KMIP_VERSION(1, 1), KMIP_VERSION(1, 0),
};
#define N_OFFER (sizeof(offer_all) / sizeof(offer_all[0]))

static int client_alloc(int version, struct kmip_client **out)
{
	struct kmip_client *c;

	*out = NULL;
	if (version && !kmip_version_supported(version))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pinned = version;
	c->max_message = TTLV_MAX_MESSAGE;
	snprintf(c->server, sizeof(c->server), "the server");
	*out = c;
	return 0;
}

int kmip_client_new_custom(kmip_roundtrip_fn fn, void *ctx, int version,
			   struct kmip_client **out)
{
	int r;

	if (!fn)
		return -EINVAL;
	r = client_alloc(version, out);
	if (r < 0)
		return r;
	(*out)->rt = fn;
	(*out)->rt_ctx = ctx;
	return 0;
}

void kmip_client_free(struct kmip_client *c)
{
	free(c);
}

const char *kmip_client_peer(const struct kmip_client *c)
{
	return c->peer[0] ? c->peer : NULL;
}

void kmip_client_assume_version(struct kmip_client *c, int version)
{
	if (c->pinned || c->version || !kmip_version_supported(version))
		return;
	c->version = version;
	c->assumed = true;
}

bool kmip_client_doubt_version(struct kmip_client *c, int r)
{
	char vb[8];

	/*
	 * What a server that does not speak the version answers: Invalid
	 * Message, or a response it cannot be read in (PyKMIP answers a 2.1
	 * header with Invalid Message in a 1.0 response), or Operation Not
	 * Supported for an operation of a newer version.
	 */
	if (!c->assumed || (r != -EPROTO && r != -EBADMSG && r != -EPROTONOSUPPORT &&
			    r != -EOPNOTSUPP))
		return false;
	log_debug("KMIP %s assumed (from the token) is not what %s speaks now: negotiating",
		  kmip_version_str(c->version, vb, sizeof(vb)), c->server);
	c->version = 0;
	c->assumed = false;
	return true;
}

void kmip_client_label(struct kmip_client *c, const char *servers, size_t max_message)
{
	snprintf(c->server, sizeof(c->server), "%s", servers);
	if (max_message)
		c->max_message = max_message;
}

void kmip_client_answered_by(struct kmip_client *c, const char *peer)
{
	snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "");
	if (c->peer[0])
		snprintf(c->server, sizeof(c->server), "%s", c->peer);
}

/* ---------------------------------------------------------- last error */

const struct kmip_result *kmip_last_result(const struct kmip_client *c)
{
	return &c->last;
}

enum kmip_failure kmip_last_failure(const struct kmip_client *c)
{
	if (c->last_failed)
		return KMIP_FAILURE_SERVER;
	return c->why.err ? KMIP_FAILURE_RESPONSE : KMIP_FAILURE_NONE;
}

const char *kmip_last_error(const struct kmip_client *c)
{
	switch (kmip_last_failure(c)) {
	case KMIP_FAILURE_SERVER:
		return c->last_text;
	case KMIP_FAILURE_RESPONSE:
		return c->why.text;
	default:
		return "";
	}
}

const char *kmip_last_failure_step(const struct kmip_client *c)
{
	return c->negotiation_failed ? c->step : NULL;
}

void kmip_result_reset(struct kmip_client *c)
{
	memset(&c->last, 0, sizeof(c->last));
	c->last_failed = false;
	c->last_text[0] = '\0';
	memset(&c->why, 0, sizeof(c->why));
	c->negotiation_failed = false;
	c->step[0] = '\0';
}

static void result_record(struct kmip_client *c, uint32_t op, const struct kmip_resp_item *it)
{
	const char *what;

	c->last.op = op;
	c->last.status = it->status;
	c->last.has_reason = it->has_reason;
	c->last.reason = it->reason;
	kmip_sanitize(c->last.message, sizeof(c->last.message),
		      it->message ? it->message : "", it->message ? it->message_len : 0);
	c->last_failed = it->status != KMIP_STATUS_SUCCESS;
	if (!c->last_failed) {
		c->last_text[0] = '\0';
		return;
	}
	if (it->status == KMIP_STATUS_OPERATION_PENDING)
		what = "Operation Pending";
	else if (it->status == KMIP_STATUS_OPERATION_UNDONE)
		what = "Operation Undone";
	else if (it->has_reason)
		what = kmip_reason_name(it->reason);
	else
		what = "Operation Failed";
	if (c->last.message[0])
		snprintf(c->last_text, sizeof(c->last_text), "%s: %s", what, c->last.message);
	else
		snprintf(c->last_text, sizeof(c->last_text), "%s", what);
}

/* ------------------------------------------------------------ exchange */

void kmip_reply_free(struct kmip_reply *reply)
{
	secmem_free(reply->buf);
	reply->buf = NULL;
	reply->len = 0;
}

int kmip_exchange(struct kmip_client *c, const struct ttlv_buf *req,
		  const uint32_t *ops, unsigned n, bool idempotent,
		  struct kmip_reply *reply, struct kmip_resp_item *items)
{
	const struct kmip_resp_item *fail = NULL;
	unsigned i, fail_i = 0;
	int r;

	memset(reply, 0, sizeof(*reply));
	kmip_result_reset(c);
	r = ttlv_buf_finish(req);
	if (r < 0)
		goto out;
	r = c->rt(c->rt_ctx, req->data, req->len, &reply->buf, &reply->len, idempotent);
	if (r < 0) {
		log_debug("KMIP %s: no answer: %s", kmip_operation_name(ops[0]), strerror(-r));
		goto out;
	}
	/* Payload parsers record their reasons here too: offsets from this response. */
	c->why.base = reply->buf;
	c->why.len = reply->len;
	r = kmip_response_parse_why(reply->buf, reply->len, c->max_message, ops, n,
				    &reply->version, items, &c->why);
	if (r < 0) {
		log_debug("KMIP %s: %zu-byte response refused: %s", kmip_operation_name(ops[0]),
			  reply->len, c->why.text);
		goto out;
	}
	/* Any success in the version assumed confirms it. */
	for (i = 0; i < n; i++)
		if (items[i].answered && items[i].status == KMIP_STATUS_SUCCESS)
			c->assumed = false;
	/* The first failure is the one worth reporting. */
	for (i = 0; i < n && !fail; i++) {
		if (items[i].answered && items[i].status != KMIP_STATUS_SUCCESS) {
			fail = &items[i];
			fail_i = i;
		}
	}
	result_record(c, fail ? ops[fail_i] : ops[0], fail ? fail : &items[0]);
	if (fail)
		log_debug("KMIP %s: %s", kmip_operation_name(ops[fail_i]), c->last_text);
out:
	if (r < 0)
		kmip_reply_free(reply);
	return r;
}

/* ---------------------------------------------------------- negotiation */

/*
 * Discover Versions in a header of version hdr.  *answered: the server
 * reacted (an answer, something unreadable, or it dropped the connection
 * on us), as opposed to not being reachable at all.
 */
static int discover_at(struct kmip_client *c, int hdr, int *versions, size_t max,
		       size_t *n, bool *answered)
{
	static const uint32_t op = KMIP_OP_DISCOVER_VERSIONS;
	struct kmip_resp_item item;
	struct kmip_reply reply = { 0 };
	struct ttlv_buf b;
	int r;

	*n = 0;
	*answered = false;
	ttlv_buf_init(&b, c->max_message);
	r = kmip_build_discover_versions(&b, hdr, offer_all, N_OFFER);
	if (r < 0)
		goto out;
	r = kmip_exchange(c, &b, &op, 1, true, &reply, &item);
	if (r < 0) {
		*answered = r == -EBADMSG || r == -EMSGSIZE || r == -ECONNRESET || r == -EPIPE;
		goto out;
	}
	*answered = true;
	r = item.err;
	if (r < 0)
		goto out;
	if (!item.has_payload) {
		r = kmip_bad(&c->why, -EBADMSG, NULL, "the Discover Versions answer has no "
			     "Response Payload");
		goto out;
	}
	r = kmip_parse_versions_why(&item.payload, versions, max, n, &c->why);
out:
	kmip_reply_free(&reply);
	ttlv_buf_free(&b);
	return r;
}

/* "2.1, 1.9" of the versions a server offered (at most 8 listed). */
static void versions_str(const int *v, size_t n, char *buf, size_t size)
{
	char vb[8];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && i < 8 && used + 10 < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
					 kmip_version_str(v[i], vb, sizeof(vb)));
	if (!n)
		snprintf(buf, size, "none");
}

int kmip_negotiate(struct kmip_client *c)
{
	static const int headers[] = {
		KMIP_VERSION(2, 1), KMIP_VERSION(1, 4), KMIP_VERSION(1, 1),
	};
	int versions[16];
	char vb[8], list[80];
	bool answered, in_kmip = false;
	size_t i, k, n;
	int r = 0;

	if (!c->version && c->pinned)
		c->version = c->pinned;
	if (c->version)
		goto out;
	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		r = discover_at(c, headers[i], versions, sizeof(versions) / sizeof(versions[0]),
				&n, &answered);
		if (r < 0 && !answered)
			goto out;	/* no answer at all: not a version question */
		if (r < 0) {
			/* A KMIP failure answer, a dropped connection, or unreadable. */
			in_kmip = c->last_failed || r == -ECONNRESET || r == -EPIPE;
			log_debug("KMIP Discover Versions in a %s header: %s",
				  kmip_version_str(headers[i], vb, sizeof(vb)),
				  kmip_last_error(c)[0] ? kmip_last_error(c) : strerror(-r));
			continue;
		}
		/* The server's order is its preference: take its first one we speak. */
		for (k = 0; k < n; k++) {
			if (kmip_version_supported(versions[k])) {
				c->version = versions[k];
				log_debug("KMIP version %s negotiated",
					  kmip_version_str(c->version, vb, sizeof(vb)));
				goto out;
			}
		}
		versions_str(versions, n, list, sizeof(list));
		r = kmip_bad(&c->why, -EPROTONOSUPPORT, NULL, "the server supports none of the "
			     "KMIP versions 1.0 to 2.1 (it offers %s)", list);
		goto out;
	}
	/*
	 * No answer to Discover Versions in any header.  A server that said so
	 * in KMIP (Operation Not Supported, Invalid Message...) or hung up is
	 * a 1.0 server; one whose last answer cannot be read is no KMIP server
	 * we can talk to, in any version (r: that answer's error).
	 */
	if (in_kmip) {
		log_debug("KMIP server does not answer Discover Versions; using KMIP 1.0");
		c->version = KMIP_VERSION(1, 0);
		kmip_result_reset(c);	/* its failure answers are no failure of ours */
		r = 0;
	}
out:
	if (r < 0) {
		c->negotiation_failed = true;
		snprintf(c->step, sizeof(c->step), "negotiating the KMIP version with %s",
			 c->server);
		log_debug("%s failed: %s", c->step,
			  kmip_last_error(c)[0] ? kmip_last_error(c) : strerror(-r));
	}
	return r;
}

int kmip_client_version(struct kmip_client *c)
{
	int r;

	kmip_result_reset(c);
	r = kmip_negotiate(c);
	return r < 0 ? r : c->version;
}

int kmip_discover_versions(struct kmip_client *c, int *versions, size_t max, size_t *n)
{
	bool answered;
	int r;

	kmip_result_reset(c);
	r = kmip_negotiate(c);
	if (r < 0)
		return r;
	return discover_at(c, c->version, versions, max, n, &answered);
}

/* -------------------------------------------------------- failure texts */

const char *kmip_failure_reason(const struct kmip_client *c, int r, char *buf, size_t len)
{
	enum kmip_failure f = c ? kmip_last_failure(c) : KMIP_FAILURE_NONE;

	if (!len)
		return buf;
	if (f == KMIP_FAILURE_SERVER)
		snprintf(buf, len, "server says %s", kmip_last_error(c));
	else if (f == KMIP_FAILURE_RESPONSE)
		snprintf(buf, len, "%s", kmip_last_error(c));
	else if (r == -EKEYREJECTED)	/* strerror(): "Key was rejected by service" */
		snprintf(buf, len, "TLS or authentication failure");
	else if (r == -ENOMSG)		/* strerror(): "No message of desired type" */
		snprintf(buf, len, "the server left this item of the batch unanswered");
	else
		snprintf(buf, len, "%s", strerror(-r));
	return buf;
}

const char *kmip_failure_text(const struct kmip_client *c, int r, char *buf, size_t len,
			      const char *fmt, ...)
{
	const char *step = c ? kmip_last_failure_step(c) : NULL;
	char what[KMIP_FAILURE_TEXT_SIZE / 2], why[KMIP_FAILURE_TEXT_SIZE / 2];
	va_list ap;

	if (!len)
		return buf;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	kmip_failure_reason(c, r, why, sizeof(why));
	if (step)
		snprintf(buf, len, "%s failed: %s; %s was not sent", step, why, what);
	else
		snprintf(buf, len, "%s failed: %s", what, why);
	return buf;
}
