/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TTLV codec.  See ttlv.h for the contract.  The decoder validates a whole
 * message once so that the accessors can walk it without re-checking; the
 * encoder patches Structure lengths when a Structure is closed.
 */
#include <errno.h>
#include <string.h>

#include "ttlv/ttlv.h"
#include "util/secmem.h"

static const struct ttlv_limits default_limits = {
	.max_len = TTLV_MAX_MESSAGE,
	.max_depth = TTLV_MAX_DEPTH,
};

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

bool ttlv_utf8_valid(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n, k;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;	/* continuation byte, C0/C1 overlong lead, > F4 */
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

static bool zero_padding(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Validate one item at p with at most `room` bytes available; on success
 * *used is its padded size.  Recursive, bounded by max_depth.
 */
static int validate_item(const uint8_t *p, size_t room, unsigned depth,
			 unsigned max_depth, size_t *used)
{
	uint32_t len;
	uint8_t type;
	size_t padded, off;
	int r;

	if (depth > max_depth)
		return -ELOOP;
	if (room < TTLV_HEADER_LEN)
		return -EBADMSG;
	type = p[3];
	len = be32(p + 4);
	padded = TTLV_PAD(len);
	if (padded > room - TTLV_HEADER_LEN || padded < len)
		return -EBADMSG;
	p += TTLV_HEADER_LEN;

	switch (type) {
	case TTLV_STRUCTURE:
		if (len % 8)
			return -EBADMSG;
		for (off = 0; off < len; off += *used) {
			r = validate_item(p + off, len - off, depth + 1, max_depth, used);
			if (r < 0)
				return r;
		}
		break;
	case TTLV_INTEGER:
	case TTLV_ENUM:
	case TTLV_INTERVAL:
		if (len != 4)
			return -EBADMSG;
		break;
	case TTLV_LONG:
	case TTLV_DATETIME:
	case TTLV_DATETIME_EXT:
		if (len != 8)
			return -EBADMSG;
		break;
	case TTLV_BOOL:
		if (len != 8 || be64(p) > 1)
			return -EBADMSG;
		break;
	case TTLV_BIGINT:
		if (len == 0 || len % 8)
			return -EBADMSG;
		break;
	case TTLV_TEXT:
		if (!ttlv_utf8_valid((const char *)p, len))
			return -EBADMSG;
		break;
	case TTLV_BYTES:
		break;
	default:
		return -EBADMSG;
	}
	if (!zero_padding(p + len, padded - len))
		return -EBADMSG;
	*used = TTLV_HEADER_LEN + padded;
	return 0;
}

int ttlv_frame_len(const uint8_t hdr[TTLV_HEADER_LEN], size_t max_len, size_t *total)
{
	uint8_t type = hdr[3];
	uint32_t len = be32(hdr + 4);
	size_t t;

	if (type < TTLV_STRUCTURE || type > TTLV_DATETIME_EXT)
		return -EBADMSG;
	t = TTLV_HEADER_LEN + TTLV_PAD(len);
	if (t > max_len)
		return -EMSGSIZE;
	*total = t;
	return 0;
}

static void item_at(const uint8_t *p, struct ttlv_item *it)
{
	it->tag = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	it->type = p[3];
	it->len = be32(p + 4);
	it->value = p + TTLV_HEADER_LEN;
}

int ttlv_decode(const uint8_t *buf, size_t len, const struct ttlv_limits *lim,
		struct ttlv_item *root)
{
	size_t used = 0;
	int r;

	if (!lim)
		lim = &default_limits;
	if (len > lim->max_len)
		return -EMSGSIZE;
	r = validate_item(buf, len, 1, lim->max_depth, &used);
	if (r < 0)
		return r;
	if (used != len)
		return -EBADMSG;	/* trailing bytes */
	item_at(buf, root);
	return 0;
}

void ttlv_iter_init(struct ttlv_iter *it, const struct ttlv_item *parent)
{
	it->p = parent->value;
	it->end = parent->type == TTLV_STRUCTURE ? parent->value + parent->len : parent->value;
}

bool ttlv_iter_next(struct ttlv_iter *it, struct ttlv_item *child)
{
	if (it->p >= it->end)
		return false;
	item_at(it->p, child);
	it->p += TTLV_HEADER_LEN + TTLV_PAD(child->len);
	return true;
}

int ttlv_find(const struct ttlv_item *parent, uint32_t tag, struct ttlv_item *out)
{
	struct ttlv_iter it;
	struct ttlv_item c;

	if (parent->type != TTLV_STRUCTURE)
		return -EPROTO;
	ttlv_iter_init(&it, parent);
	while (ttlv_iter_next(&it, &c)) {
		if (c.tag == tag) {
			*out = c;
			return 0;
		}
	}
	return -ENOENT;
}

unsigned ttlv_count(const struct ttlv_item *parent, uint32_t tag)
{
	struct ttlv_iter it;
	struct ttlv_item c;
	unsigned n = 0;

	ttlv_iter_init(&it, parent);
	while (ttlv_iter_next(&it, &c))
		n += c.tag == tag;
	return n;
}

int ttlv_get_int(const struct ttlv_item *it, int32_t *v)
{
	if (it->type != TTLV_INTEGER)
		return -EPROTO;
	*v = (int32_t)be32(it->value);
	return 0;
}

int ttlv_get_long(const struct ttlv_item *it, int64_t *v)
{
	if (it->type != TTLV_LONG)
		return -EPROTO;
	*v = (int64_t)be64(it->value);
	return 0;
}

int ttlv_get_enum(const struct ttlv_item *it, uint32_t *v)
{
	if (it->type != TTLV_ENUM)
		return -EPROTO;
	*v = be32(it->value);
	return 0;
}

int ttlv_get_bool(const struct ttlv_item *it, bool *v)
{
	if (it->type != TTLV_BOOL)
		return -EPROTO;
	*v = be64(it->value) != 0;
	return 0;
}

int ttlv_get_datetime(const struct ttlv_item *it, int64_t *v)
{
	if (it->type != TTLV_DATETIME)
		return -EPROTO;
	*v = (int64_t)be64(it->value);
	return 0;
}

int ttlv_get_datetime_ext(const struct ttlv_item *it, int64_t *v)
{
	if (it->type != TTLV_DATETIME_EXT)
		return -EPROTO;
	*v = (int64_t)be64(it->value);
	return 0;
}

int ttlv_get_interval(const struct ttlv_item *it, uint32_t *v)
{
	if (it->type != TTLV_INTERVAL)
		return -EPROTO;
	*v = be32(it->value);
	return 0;
}

int ttlv_get_text(const struct ttlv_item *it, const char **s, size_t *len)
{
	if (it->type != TTLV_TEXT)
		return -EPROTO;
	*s = (const char *)it->value;
	*len = it->len;
	return 0;
}

int ttlv_get_bytes(const struct ttlv_item *it, const uint8_t **b, size_t *len)
{
	if (it->type != TTLV_BYTES)
		return -EPROTO;
	*b = it->value;
	*len = it->len;
	return 0;
}

int ttlv_get_bigint(const struct ttlv_item *it, const uint8_t **b, size_t *len)
{
	if (it->type != TTLV_BIGINT)
		return -EPROTO;
	*b = it->value;
	*len = it->len;
	return 0;
}

int ttlv_find_int(const struct ttlv_item *p, uint32_t tag, int32_t *v)
{
	struct ttlv_item c;
	int r = ttlv_find(p, tag, &c);

	return r < 0 ? r : ttlv_get_int(&c, v);
}

int ttlv_find_enum(const struct ttlv_item *p, uint32_t tag, uint32_t *v)
{
	struct ttlv_item c;
	int r = ttlv_find(p, tag, &c);

	return r < 0 ? r : ttlv_get_enum(&c, v);
}

int ttlv_find_text(const struct ttlv_item *p, uint32_t tag, const char **s, size_t *len)
{
	struct ttlv_item c;
	int r = ttlv_find(p, tag, &c);

	return r < 0 ? r : ttlv_get_text(&c, s, len);
}

int ttlv_find_bytes(const struct ttlv_item *p, uint32_t tag, const uint8_t **b, size_t *len)
{
	struct ttlv_item c;
	int r = ttlv_find(p, tag, &c);

	return r < 0 ? r : ttlv_get_bytes(&c, b, len);
}

bool ttlv_text_eq(const struct ttlv_item *it, const char *s)
{
	size_t n = strlen(s);

	return it->type == TTLV_TEXT && it->len == n && memcmp(it->value, s, n) == 0;
}

/* ---------------------------------------------------------------- encoder */

void ttlv_buf_init_fixed(struct ttlv_buf *b, uint8_t *mem, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->data = mem;
	b->cap = cap;
	b->max = cap;
}

void ttlv_buf_init(struct ttlv_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->growable = true;
	b->max = max ? max : TTLV_MAX_MESSAGE;
}

void ttlv_buf_free(struct ttlv_buf *b)
{
	if (b->growable)
		secmem_free(b->data);	/* wipes */
	else if (b->data)
		explicit_bzero(b->data, b->cap);
	memset(b, 0, sizeof(*b));
}

void ttlv_buf_reset(struct ttlv_buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	b->len = 0;
	b->err = 0;
	b->depth = 0;
}

int ttlv_buf_finish(const struct ttlv_buf *b)
{
	if (b->err)
		return b->err;
	return b->depth ? -EINVAL : 0;
}

/* Make room for n more bytes; sets the sticky error on failure. */
static int reserve(struct ttlv_buf *b, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (n > b->max || b->len > b->max - n)
		return b->err = -EMSGSIZE;
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	if (!b->growable)
		return b->err = -EMSGSIZE;
	cap = b->cap ? b->cap : 512;
	while (cap < want)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	p = secmem_realloc(b->data, cap);
	if (!p)
		return b->err = -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Header plus value plus zero padding, in one step. */
static int put(struct ttlv_buf *b, uint32_t tag, uint8_t type, const void *v, size_t len)
{
	size_t padded = TTLV_PAD(len);
	uint8_t *p;
	int r;

	if (b->err)
		return b->err;
	if (tag > 0xFFFFFF || len > UINT32_MAX)
		return b->err = -EINVAL;
	r = reserve(b, TTLV_HEADER_LEN + padded);
	if (r < 0)
		return r;
	p = b->data + b->len;
	p[0] = tag >> 16;
	p[1] = tag >> 8;
	p[2] = tag;
	p[3] = type;
	put_be32(p + 4, (uint32_t)len);
	if (len)
		memcpy(p + TTLV_HEADER_LEN, v, len);
	memset(p + TTLV_HEADER_LEN + len, 0, padded - len);
	b->len += TTLV_HEADER_LEN + padded;
	return 0;
}

int ttlv_begin(struct ttlv_buf *b, uint32_t tag)
{
	size_t at = b->len;
	int r;

	if (b->err)
		return b->err;
	if (b->depth >= TTLV_MAX_DEPTH)
		return b->err = -ELOOP;
	r = put(b, tag, TTLV_STRUCTURE, NULL, 0);
	if (r < 0)
		return r;
	b->open[b->depth++] = at;
	return 0;
}

int ttlv_end(struct ttlv_buf *b)
{
	size_t at, len;

	if (b->err)
		return b->err;
	if (!b->depth)
		return b->err = -EINVAL;
	at = b->open[--b->depth];
	len = b->len - at - TTLV_HEADER_LEN;
	if (len > UINT32_MAX)
		return b->err = -EMSGSIZE;
	put_be32(b->data + at + 4, (uint32_t)len);
	return 0;
}

int ttlv_put_int(struct ttlv_buf *b, uint32_t tag, int32_t v)
{
	uint8_t x[4];

	put_be32(x, (uint32_t)v);
	return put(b, tag, TTLV_INTEGER, x, 4);
}

int ttlv_put_long(struct ttlv_buf *b, uint32_t tag, int64_t v)
{
	uint8_t x[8];

	put_be64(x, (uint64_t)v);
	return put(b, tag, TTLV_LONG, x, 8);
}

int ttlv_put_bigint(struct ttlv_buf *b, uint32_t tag, const uint8_t *v, size_t len)
{
	/* Big Integers are sign-extended to a multiple of 8 bytes by the caller. */
	if (!b->err && (len == 0 || len % 8))
		b->err = -EINVAL;
	return put(b, tag, TTLV_BIGINT, v, len);
}

int ttlv_put_enum(struct ttlv_buf *b, uint32_t tag, uint32_t v)
{
	uint8_t x[4];

	put_be32(x, v);
	return put(b, tag, TTLV_ENUM, x, 4);
}

int ttlv_put_bool(struct ttlv_buf *b, uint32_t tag, bool v)
{
	uint8_t x[8] = { 0 };

	x[7] = v ? 1 : 0;
	return put(b, tag, TTLV_BOOL, x, 8);
}

int ttlv_put_text(struct ttlv_buf *b, uint32_t tag, const char *s, size_t len)
{
	if (!b->err && !ttlv_utf8_valid(s, len))
		b->err = -EINVAL;
	return put(b, tag, TTLV_TEXT, s, len);
}

int ttlv_put_str(struct ttlv_buf *b, uint32_t tag, const char *s)
{
	return ttlv_put_text(b, tag, s, strlen(s));
}

int ttlv_put_bytes(struct ttlv_buf *b, uint32_t tag, const uint8_t *v, size_t len)
{
	return put(b, tag, TTLV_BYTES, v, len);
}

int ttlv_put_datetime(struct ttlv_buf *b, uint32_t tag, int64_t v)
{
	uint8_t x[8];

	put_be64(x, (uint64_t)v);
	return put(b, tag, TTLV_DATETIME, x, 8);
}

int ttlv_put_datetime_ext(struct ttlv_buf *b, uint32_t tag, int64_t v)
{
	uint8_t x[8];

	put_be64(x, (uint64_t)v);
	return put(b, tag, TTLV_DATETIME_EXT, x, 8);
}

int ttlv_put_interval(struct ttlv_buf *b, uint32_t tag, uint32_t v)
{
	uint8_t x[4];

	put_be32(x, v);
	return put(b, tag, TTLV_INTERVAL, x, 4);
}

int ttlv_put_item(struct ttlv_buf *b, const struct ttlv_item *it)
{
	size_t n = TTLV_HEADER_LEN + TTLV_PAD(it->len);
	int r = reserve(b, n);

	if (r < 0)
		return r;
	memcpy(b->data + b->len, it->value - TTLV_HEADER_LEN, n);
	b->len += n;
	return 0;
}
