/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the files of src/kmip; not a public interface. */
#ifndef KMIPCRYPT_KMIP_INTERNAL_H
#define KMIPCRYPT_KMIP_INTERNAL_H

#include "kmip/kmip.h"

/*
 * Why a response was refused: the first reason found and where it is
 * ("malformed response: Batch Item (0x42000F) at byte 72: no Result
 * Status").  The parsers record it with kmip_bad(); the client keeps one
 * for the exchange in flight, which kmip_last_error() reports.  A parser
 * given NULL records nothing.  Server text in a reason is reduced to
 * printable ASCII, and the whole is bounded.
 */
#define KMIP_WHY_SIZE 256
struct kmip_why {
	const uint8_t *base;		/* first byte of the response: offsets count from here */
	size_t len;
	int err;			/* the error the reason goes with, 0: none yet */
	char text[KMIP_WHY_SIZE];
};

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
};

/* The wrapping mode asked for: w->mode, 0 meaning NIST Key Wrap (RFC 3394). */
static inline uint32_t kmip_wrap_mode(const struct kmip_key_wrap *w)
{
	return w->mode ? w->mode : KMIP_BCM_NIST_KEY_WRAP;
}

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

/*
 * Record why a response is refused (the first reason only) about item at
 * (NULL: the response as a whole), for err: -EBADMSG reads "malformed
 * response: ...", other errors take the reason as it is.  Returns err.
 */
__attribute__((format(printf, 4, 5)))
int kmip_bad(struct kmip_why *w, int err, const struct ttlv_item *at, const char *fmt, ...);
/*
 * The child of parent with this tag, which must have this type: 0, or
 * -EBADMSG with the reason ("Request Header ... has no Batch Count",
 * "Batch Count ... is a Text String, not an Integer").
 */
int kmip_need(struct kmip_why *w, const struct ttlv_item *parent, uint32_t tag, uint8_t type,
	      struct ttlv_item *out);
/* Is it of this type?  0, or -EBADMSG with the reason. */
int kmip_need_type(struct kmip_why *w, const struct ttlv_item *it, uint8_t type);

/* The parsers of kmip.h, recording why they refuse a response in w (may be NULL). */
int kmip_response_parse_why(const uint8_t *msg, size_t len, size_t max_len,
			    const uint32_t *ops, unsigned n, int *version,
			    struct kmip_resp_item *items, struct kmip_why *w);
int kmip_parse_get_why(const struct ttlv_item *payload, struct kmip_object *out,
		       struct kmip_why *w);
int kmip_parse_get_attributes_why(const struct ttlv_item *payload, struct kmip_attrs *out,
				  struct kmip_why *w);
int kmip_parse_locate_why(const struct ttlv_item *payload, struct kmip_uid_list *out,
			  struct kmip_why *w);

/* message.c: copy a Result Message / server text, printable ASCII only, bounded. */
void kmip_sanitize(char *dst, size_t dst_size, const char *src, size_t len);
/* Copy a text item into a NUL-terminated buffer; -EBADMSG (and why) if too long or not text. */
int kmip_copy_text(const struct ttlv_item *it, char *dst, size_t dst_size, struct kmip_why *w);

/* Protocol Version {Major, Minor} -> KMIP_VERSION(); -EBADMSG (and why) if malformed. */
int kmip_parse_protocol_version(const struct ttlv_item *pv, int *version, struct kmip_why *w);

/* attrs.c: attribute encodings. */
bool kmip_v2(int version);
/* 1.x Create/Register: Template-Attribute; 1.x Locate: none; 2.x: Attributes. */
int kmip_attrs_begin(struct ttlv_buf *b, int version, bool template);
int kmip_attrs_end(struct ttlv_buf *b, int version, bool template);
int kmip_attr_enum(struct ttlv_buf *b, int version, uint32_t tag, uint32_t v);
int kmip_attr_int(struct ttlv_buf *b, int version, uint32_t tag, int32_t v);
int kmip_attr_text(struct ttlv_buf *b, int version, uint32_t tag, const char *s);
/* 1.x: with Attribute Index index (a multi-valued attribute's value; < 0: none). */
int kmip_attr_text_at(struct ttlv_buf *b, int version, uint32_t tag, const char *s,
		      int32_t index);
int kmip_attr_name(struct ttlv_buf *b, int version, const char *name);
/* Attribute references of a Get Attributes request payload, from a kmip_attr mask. */
int kmip_attr_refs(struct ttlv_buf *b, int version, uint32_t attrs);

#endif
