/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the files of src/kmip; not a public interface. */
#ifndef KMIPCRYPT_KMIP_INTERNAL_H
#define KMIPCRYPT_KMIP_INTERNAL_H

#include "kmip/kmip.h"

struct kmip_client {
	struct transport *t;		/* owned, or NULL with a custom roundtrip */
	kmip_roundtrip_fn rt;
	void *rt_ctx;
	int pinned;			/* configured version, 0 = auto */
	int version;			/* in use, 0 until negotiated */
	size_t max_message;
	struct kmip_result last;
	bool last_failed;
	char last_text[KMIP_RESULT_MESSAGE_MAX + 64];
};

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
/* Ensure a version is chosen.  0 or negative errno. */
int kmip_negotiate(struct kmip_client *c);
/* Record a client-side failure (no server answer) so kmip_last_error() is not stale. */
void kmip_result_reset(struct kmip_client *c);

/* message.c: copy a Result Message / server text, printable ASCII only, bounded. */
void kmip_sanitize(char *dst, size_t dst_size, const char *src, size_t len);
/* Copy a text item into a NUL-terminated buffer; -EBADMSG if too long or not text. */
int kmip_copy_text(const struct ttlv_item *it, char *dst, size_t dst_size);

/* Protocol Version {Major, Minor} -> KMIP_VERSION(); -EBADMSG if malformed. */
int kmip_parse_protocol_version(const struct ttlv_item *pv, int *version);

/* attrs.c: attribute encodings. */
bool kmip_v2(int version);
/* 1.x Create/Register: Template-Attribute; 1.x Locate: none; 2.x: Attributes. */
int kmip_attrs_begin(struct ttlv_buf *b, int version, bool template);
int kmip_attrs_end(struct ttlv_buf *b, int version, bool template);
int kmip_attr_enum(struct ttlv_buf *b, int version, uint32_t tag, uint32_t v);
int kmip_attr_int(struct ttlv_buf *b, int version, uint32_t tag, int32_t v);
int kmip_attr_text(struct ttlv_buf *b, int version, uint32_t tag, const char *s);
int kmip_attr_name(struct ttlv_buf *b, int version, const char *name);
/* Attribute references of a Get Attributes request payload, from a kmip_attr mask. */
int kmip_attr_refs(struct ttlv_buf *b, int version, uint32_t attrs);

#endif
