/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TTLV: the KMIP binary encoding (Tag, Type, Length, Value).
 *
 * Item = tag (3 bytes, big-endian) + type (1) + length (4) + value, padded
 * with zeros to a multiple of 8.  The length excludes the padding; a
 * Structure's length is the sum of its children's padded sizes.
 *
 * The decoder never copies: ttlv_decode() validates a whole message once
 * (size cap, depth cap, every child inside its parent, fixed lengths, Boolean
 * 0/1, zero padding, UTF-8 text) and the accessors then walk the validated
 * bytes.  The encoder writes into a caller buffer or into a growable buffer
 * in locked memory (requests may carry key material).
 */
#ifndef KMIPCRYPT_TTLV_H
#define KMIPCRYPT_TTLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ttlv_type {
	TTLV_STRUCTURE   = 0x01,
	TTLV_INTEGER     = 0x02,
	TTLV_LONG        = 0x03,
	TTLV_BIGINT      = 0x04,
	TTLV_ENUM        = 0x05,
	TTLV_BOOL        = 0x06,
	TTLV_TEXT        = 0x07,
	TTLV_BYTES       = 0x08,
	TTLV_DATETIME    = 0x09,
	TTLV_INTERVAL    = 0x0A,
	TTLV_DATETIME_EXT = 0x0B,
};

#define TTLV_HEADER_LEN   8u
#define TTLV_MAX_MESSAGE  (64u * 1024u)	/* default size cap of a message */
#define TTLV_MAX_DEPTH    24u		/* default nesting cap */
#define TTLV_PAD(n)       (((size_t)(n) + 7u) & ~(size_t)7u)

struct ttlv_limits {
	size_t max_len;		/* whole message, header included */
	unsigned max_depth;	/* the outermost item is depth 1 */
};

/* A decoded item: a view into the message, valid while the message is. */
struct ttlv_item {
	uint32_t tag;
	uint8_t type;
	uint32_t len;		/* value length, padding excluded */
	const uint8_t *value;
};

/* Iterates the children of a Structure. */
struct ttlv_iter {
	const uint8_t *p;
	const uint8_t *end;
};

/*
 * Validate the single item that fills buf[0..len) exactly, and return it in
 * *root.  lim may be NULL for the defaults.  Returns 0, -EMSGSIZE (over the
 * size cap), -ELOOP (over the depth cap), -EBADMSG (malformed: truncated,
 * length overflow, wrong fixed length, bad padding, Boolean not 0/1, invalid
 * UTF-8, unknown type, trailing bytes).
 */
int ttlv_decode(const uint8_t *buf, size_t len, const struct ttlv_limits *lim,
		struct ttlv_item *root);

/* What is wrong with a message ttlv_decode_detail() refused. */
enum ttlv_fault {
	TTLV_FAULT_NONE = 0,
	TTLV_FAULT_SIZE,	/* the message is over the size cap (limit) */
	TTLV_FAULT_HEADER,	/* fewer than 8 bytes left for an item header (room) */
	TTLV_FAULT_OVERRUN,	/* the value and its padding run past the parent (room) */
	TTLV_FAULT_STRUCT_LEN,	/* a Structure's length is not a multiple of 8 */
	TTLV_FAULT_FIXED_LEN,	/* Integer, Enumeration, Interval not 4; Long Integer,
				 * Boolean, Date-Time (Extended) not 8 bytes */
	TTLV_FAULT_BIGINT_LEN,	/* a Big Integer's length is 0 or not a multiple of 8 */
	TTLV_FAULT_BOOL,	/* a Boolean other than 0 or 1 (value) */
	TTLV_FAULT_UTF8,	/* a Text String that is not UTF-8, or holds NUL (at) */
	TTLV_FAULT_TYPE,	/* an unknown item type */
	TTLV_FAULT_PADDING,	/* a non-zero padding byte (at) */
	TTLV_FAULT_DEPTH,	/* nested deeper than the depth cap (limit) */
	TTLV_FAULT_TRAILING,	/* bytes after the outermost item (room: how many) */
};

/*
 * Where and why a message was refused.  Offsets count from buf[0].  The
 * structure is the caller's and holds no pointer: nothing to free, and
 * decoders in different threads need only different structures.
 * ttlv_error_format() (ttlv/text.h) turns it into a sentence.
 */
struct ttlv_error {
	int err;		/* the return value: 0, -EBADMSG, -EMSGSIZE, -ELOOP */
	enum ttlv_fault fault;
	size_t offset;		/* the failing item's first byte (TRAILING: the first
				 * byte after the outermost item) */
	unsigned depth;		/* of the failing item; 1 for the outermost */
	bool has_header;	/* tag, type, len hold the failing item's header */
	uint32_t tag;
	uint8_t type;
	uint32_t len;
	bool has_parent;	/* the failing item is inside a Structure: */
	uint32_t parent_tag;
	size_t parent_offset;
	size_t room;		/* bytes its parent (or the input) had left for it */
	size_t at;		/* PADDING, UTF8: the offending byte */
	uint64_t value;		/* BOOL: the value */
	size_t limit;		/* SIZE: the size cap; DEPTH: the depth cap */
	/*
	 * Checking stopped here: the bytes before `valid` are what a reader
	 * can show of a damaged message (ttlv_text_dump(), which checks each
	 * item again before it walks it: a Structure that ends before `valid`
	 * may still hold a fault).  Inside a Structure whose length runs past
	 * its parent, checking goes on over the bytes that are there, so that
	 * a truncated message shows what arrived; the fault stays the
	 * Structure's.
	 */
	size_t valid;
};

/*
 * ttlv_decode() that also says where and why: *err (may be NULL) is filled
 * on every call (err->err 0 and err->valid == len on success).
 */
int ttlv_decode_detail(const uint8_t *buf, size_t len, const struct ttlv_limits *lim,
		       struct ttlv_item *root, struct ttlv_error *err);

/*
 * Total size (header + padded value) of the message whose first 8 bytes are
 * in hdr, for framing over a stream.  -EBADMSG if the header is not an item
 * header, -EMSGSIZE if the message would exceed max_len.
 */
int ttlv_frame_len(const uint8_t hdr[TTLV_HEADER_LEN], size_t max_len,
		   size_t *total);

/* Children of a validated Structure item. */
void ttlv_iter_init(struct ttlv_iter *it, const struct ttlv_item *parent);
bool ttlv_iter_next(struct ttlv_iter *it, struct ttlv_item *child);
/* First child with this tag: 0 or -ENOENT.  -EPROTO if parent is not a Structure. */
int ttlv_find(const struct ttlv_item *parent, uint32_t tag, struct ttlv_item *out);
/* Number of children with this tag. */
unsigned ttlv_count(const struct ttlv_item *parent, uint32_t tag);

/* Typed getters: 0, or -EPROTO when the item has another type. */
int ttlv_get_int(const struct ttlv_item *it, int32_t *v);
int ttlv_get_long(const struct ttlv_item *it, int64_t *v);
int ttlv_get_enum(const struct ttlv_item *it, uint32_t *v);
int ttlv_get_bool(const struct ttlv_item *it, bool *v);
int ttlv_get_datetime(const struct ttlv_item *it, int64_t *v);	/* 0x09 */
int ttlv_get_datetime_ext(const struct ttlv_item *it, int64_t *v);	/* 0x0B, us */
int ttlv_get_interval(const struct ttlv_item *it, uint32_t *v);
/* Text is not NUL-terminated on the wire: pointer and length. */
int ttlv_get_text(const struct ttlv_item *it, const char **s, size_t *len);
int ttlv_get_bytes(const struct ttlv_item *it, const uint8_t **b, size_t *len);
int ttlv_get_bigint(const struct ttlv_item *it, const uint8_t **b, size_t *len);

/* Find a child by tag and read it in one step: 0, -ENOENT, -EPROTO. */
int ttlv_find_int(const struct ttlv_item *p, uint32_t tag, int32_t *v);
int ttlv_find_enum(const struct ttlv_item *p, uint32_t tag, uint32_t *v);
int ttlv_find_text(const struct ttlv_item *p, uint32_t tag, const char **s, size_t *len);
int ttlv_find_bytes(const struct ttlv_item *p, uint32_t tag, const uint8_t **b, size_t *len);

/* Does this text match a C string exactly? */
bool ttlv_text_eq(const struct ttlv_item *it, const char *s);

/* ---------------------------------------------------------------- encoder */

/*
 * An output buffer.  Errors are sticky: after the first failure every call
 * returns the same error and writes nothing, so a builder can check once at
 * the end.  A growable buffer lives in locked memory and is wiped when it
 * grows and when it is freed.
 */
struct ttlv_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;		/* growable: never beyond this; fixed: == cap */
	bool growable;
	int err;
	unsigned depth;
	size_t open[TTLV_MAX_DEPTH];	/* offsets of open Structures */
};

void ttlv_buf_init_fixed(struct ttlv_buf *b, uint8_t *mem, size_t cap);
void ttlv_buf_init(struct ttlv_buf *b, size_t max);	/* max 0: TTLV_MAX_MESSAGE */
void ttlv_buf_free(struct ttlv_buf *b);			/* wipes */
void ttlv_buf_reset(struct ttlv_buf *b);		/* wipes, keeps memory */
/* 0 if complete (no error, no open Structure), else the error or -EINVAL. */
int ttlv_buf_finish(const struct ttlv_buf *b);

int ttlv_begin(struct ttlv_buf *b, uint32_t tag);	/* open a Structure */
int ttlv_end(struct ttlv_buf *b);			/* close it */
int ttlv_put_int(struct ttlv_buf *b, uint32_t tag, int32_t v);
int ttlv_put_long(struct ttlv_buf *b, uint32_t tag, int64_t v);
int ttlv_put_bigint(struct ttlv_buf *b, uint32_t tag, const uint8_t *v, size_t len);
int ttlv_put_enum(struct ttlv_buf *b, uint32_t tag, uint32_t v);
int ttlv_put_bool(struct ttlv_buf *b, uint32_t tag, bool v);
int ttlv_put_text(struct ttlv_buf *b, uint32_t tag, const char *s, size_t len);
int ttlv_put_str(struct ttlv_buf *b, uint32_t tag, const char *s);	/* strlen */
int ttlv_put_bytes(struct ttlv_buf *b, uint32_t tag, const uint8_t *v, size_t len);
int ttlv_put_datetime(struct ttlv_buf *b, uint32_t tag, int64_t v);
int ttlv_put_datetime_ext(struct ttlv_buf *b, uint32_t tag, int64_t v);
int ttlv_put_interval(struct ttlv_buf *b, uint32_t tag, uint32_t v);
/* Copy an already encoded, validated item (header and padding included). */
int ttlv_put_item(struct ttlv_buf *b, const struct ttlv_item *it);

/* Is s[0..len) valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF, no NUL)? */
bool ttlv_utf8_valid(const char *s, size_t len);

#endif
