/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The client's internals (client.c), for the files above it: ops.c,
 * rekey.c and session.c.  Not a public interface; the floors below the client
 * (message.c, attrs.c, build.c, parse.c) do not include it.
 */
#ifndef KMIPCRYPT_KMIP_CLIENT_INTERNAL_H
#define KMIPCRYPT_KMIP_CLIENT_INTERNAL_H

#include "kmip/kmip_internal.h"

/* "the servers of group [name]" and the like: what a message names. */
#define KMIP_SERVER_NAME_SIZE 300

struct kmip_client {
	kmip_roundtrip_fn rt;
	void *rt_ctx;
	int pinned;			/* configured version, 0 = auto */
	int version;			/* in use, 0 until negotiated */
	bool assumed;			/* version is a hint not yet confirmed by an answer */
	size_t max_message;
	struct kmip_result last;
	bool last_failed;		/* last.status is a failure */
	char last_text[KMIP_RESULT_MESSAGE_MAX + 64];
	struct kmip_why why;		/* reason for refusing the last response */
	bool negotiation_failed;	/* the last failure happened while negotiating */
	char step[KMIP_SERVER_NAME_SIZE + 40];	/* "negotiating the KMIP version with ..." */
	char server[KMIP_SERVER_NAME_SIZE];	/* the server that last answered, or the configured ones */
	char peer[KMIP_SERVER_NAME_SIZE];	/* the server that last answered, or "" */
	/* kmip_server_offers(): the last Query answer, and the version it was asked in (0: none). */
	int offers_version;
	struct kmip_server_info offers;
};

/*
 * After a failure r of a request sent in an assumed version
 * (kmip_client_assume_version()): if r is what a server that does not speak
 * it answers, forget the version (the next request negotiates) and return
 * true: the caller rebuilds and sends its (idempotent) request once more.
 */
bool kmip_client_doubt_version(struct kmip_client *c, int r);

/* For a session: what messages call its servers, and its message size limit (0: default). */
void kmip_client_label(struct kmip_client *c, const char *servers, size_t max_message);
/* For a session: the server ("host:port") that answered the last request. */
void kmip_client_answered_by(struct kmip_client *c, const char *peer);

/* A response kept alive while its items are read. */
struct kmip_reply {
	uint8_t *buf;			/* locked memory */
	size_t len;
	int version;
};

/*
 * Send a finished request of n items (ops[i]), read and parse the
 * response into items[0..n).  Records the first failed item as the last
 * result.  Returns 0 when the server answered (items say how each went),
 * else a transport or parse error.
 */
int kmip_exchange(struct kmip_client *c, const struct ttlv_buf *req,
		  const uint32_t *ops, unsigned n, bool idempotent,
		  struct kmip_reply *reply, struct kmip_resp_item *items);
void kmip_reply_free(struct kmip_reply *reply);
/* Ensure a version is chosen.  0 or negative errno; a failure is charged to it. */
int kmip_negotiate(struct kmip_client *c);
/* Start an operation: forget the last one's failure, so that nothing stale is reported. */
void kmip_result_reset(struct kmip_client *c);

/* ---------------------------------------------------------------- ops.c */

/* Add Attribute of one Link {link_type, linked_uid} to uid (rekey.c's). */
int kmip_add_link(struct kmip_client *c, const char *uid, uint32_t link_type,
		  const char *linked_uid);

#endif
