/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the floors of src/kmip below the client (message.c, attrs.c,
 * build.c, parse.c) and by those above it; not a public interface.  Nothing
 * here knows a client: the client's own internals are in
 * kmip_client_internal.h, which only client.c and the files above it
 * (ops.c, session.c) include.
 */
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

/* The wrapping mode asked for: w->mode, 0 meaning NIST Key Wrap (RFC 3394). */
static inline uint32_t kmip_wrap_mode(const struct kmip_key_wrap *w)
{
	return w->mode ? w->mode : KMIP_BCM_NIST_KEY_WRAP;
}

/* ------------------------------------------------------------ message.c */

/*
 * A request being built fails with err: the ttlv_buf keeps its first error
 * (every later write is then a no-op, ttlv.h).  Returns that error.
 */
int kmip_buf_fail(struct ttlv_buf *b, int err);

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

/* Copy a Result Message / server text, printable ASCII only, bounded. */
void kmip_sanitize(char *dst, size_t dst_size, const char *src, size_t len);
/* Copy a text item into a NUL-terminated buffer; -EBADMSG (and why) if too long or not text. */
int kmip_copy_text(const struct ttlv_item *it, char *dst, size_t dst_size, struct kmip_why *w);

/* Protocol Version {Major, Minor} -> KMIP_VERSION(); -EBADMSG (and why) if malformed. */
int kmip_parse_protocol_version(const struct ttlv_item *pv, int *version, struct kmip_why *w);

/* kmip_response_parse(), recording why it refuses a response in w (may be NULL). */
int kmip_response_parse_why(const uint8_t *msg, size_t len, size_t max_len,
			    const uint32_t *ops, unsigned n, int *version,
			    struct kmip_resp_item *items, struct kmip_why *w);

/* -------------------------------------------------------------- attrs.c */

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
/* Link {Link Type, Linked Object Identifier} (linked_uid checked by the caller). */
int kmip_attr_link(struct ttlv_buf *b, int version, uint32_t link_type, const char *linked_uid);
/* Attribute references of a Get Attributes request payload, from a kmip_attr mask. */
int kmip_attr_refs(struct ttlv_buf *b, int version, uint32_t attrs);

/*
 * Read into out one 1.x Attribute {Attribute Name, [Attribute Index],
 * Attribute Value} (or a 2.x custom one), or (kmip_attrs_read_v2) a 2.x
 * Attributes structure.  Unknown attributes are skipped; 0 or -EBADMSG
 * (and why).
 */
int kmip_attr_read(struct kmip_attrs *out, const struct ttlv_item *a, struct kmip_why *w);
int kmip_attrs_read_v2(struct kmip_attrs *out, const struct ttlv_item *attrs,
		       struct kmip_why *w);

/* -------------------------------------------------------------- parse.c */

/* The payload parsers of kmip.h, recording why they refuse a payload in w (may be NULL). */
int kmip_parse_get_why(const struct ttlv_item *payload, struct kmip_object *out,
		       struct kmip_why *w);
int kmip_parse_get_attributes_why(const struct ttlv_item *payload, struct kmip_attrs *out,
				  struct kmip_why *w);
int kmip_parse_locate_why(const struct ttlv_item *payload, struct kmip_uid_list *out,
			  struct kmip_why *w);
/* Query: Operations, Object Types, Vendor Identification, Server Information's text. */
int kmip_parse_query_why(const struct ttlv_item *payload, struct kmip_server_info *out,
			 struct kmip_why *w);
/* Discover Versions: the Protocol Versions in the server's order, the first max kept. */
int kmip_parse_versions_why(const struct ttlv_item *payload, int *versions, size_t max,
			    size_t *n, struct kmip_why *w);
/* The payload's Unique Identifier (Create, Register, Re-key): present, 1..KMIP_UID_MAX bytes. */
int kmip_parse_uid_why(const struct ttlv_item *payload, char uid[KMIP_UID_SIZE],
		       struct kmip_why *w);
/* The payload's Unique Identifier, if any, must be uid (the one asked about): 0 or -EBADMSG. */
int kmip_parse_echo_why(const struct ttlv_item *payload, const char *uid, struct kmip_why *w);
/*
 * An Encrypt or Decrypt answer about uid: Data (*out in locked memory,
 * secmem_free()); with p, the IV the server chose (when p->iv_len was 0)
 * and, for GCM, the tag of p->tag_len bytes (none: -EOPNOTSUPP).
 */
int kmip_parse_crypt_why(const struct ttlv_item *payload, const char *uid,
			 struct kmip_crypt_params *p, uint8_t **out, size_t *out_len,
			 struct kmip_why *w);

#endif
