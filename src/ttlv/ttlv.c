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

/* Offset of the first byte that does not start a valid UTF-8 character, or len. */
static size_t utf8_bad(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n, k;

		if (c == 0)
			return i;
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
			return i;	/* continuation byte, C0/C1 overlong lead, > F4 */
		}
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += n + 1;
	}
	return len;
}

bool ttlv_utf8_valid(const char *s, size_t len)
{
	return utf8_bad(s, len) == len;
}

/* Offset of the first non-zero byte of p[0..n), or n. */
static size_t nonzero_at(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return i;
	return n;
}

/* One validation: the limits, and where the first fault goes. */
struct vctx {
	const uint8_t *base;
	unsigned max_depth;
	struct ttlv_error *e;
	bool stopped;		/* e->valid is set: the walk ended there */
};

/*
 * Note a fault of the item at p (depth, room bytes left for it, inside the
 * Structure whose header is at parent, NULL for the outermost item).  Only
 * the first fault is kept: later ones (found while checking what there is
 * of an overlong Structure) only end the walk.  Returns err.
 */
static int fault(struct vctx *v, int err, enum ttlv_fault f, const uint8_t *p,
		 size_t room, unsigned depth, const uint8_t *parent)
{
	struct ttlv_error *e = v->e;

	if (e->err)
		return err;
	e->err = err;
	e->fault = f;
	e->offset = (size_t)(p - v->base);
	e->depth = depth;
	e->room = room;
	e->at = e->offset;
	e->has_header = room >= TTLV_HEADER_LEN;
	if (e->has_header) {
		e->tag = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		e->type = p[3];
		e->len = be32(p + 4);
	}
	e->has_parent = parent != NULL;
	if (parent) {
		e->parent_tag = (uint32_t)parent[0] << 16 | (uint32_t)parent[1] << 8 | parent[2];
		e->parent_offset = (size_t)(parent - v->base);
	}
	return err;
}

/* The walk ends at p (the first end counts): the bytes before it were checked. */
static int stop(struct vctx *v, const uint8_t *p, int err)
{
	if (!v->stopped) {
		v->e->valid = (size_t)(p - v->base);
		v->stopped = true;
	}
	return err;
}

static int validate_item(struct vctx *v, const uint8_t *p, size_t room, unsigned depth,
			 const uint8_t *parent, size_t *used);

/* The children of the Structure at p, in its value[0..len). */
static int validate_children(struct vctx *v, const uint8_t *p, size_t len, unsigned depth,
			     size_t *used)
{
	size_t off;
	int r;

	for (off = 0; off < len; off += *used) {
		r = validate_item(v, p + TTLV_HEADER_LEN + off, len - off, depth + 1, p, used);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Validate one item at p with at most `room` bytes available; on success
 * *used is its padded size.  Recursive, bounded by max_depth.
 */
static int validate_item(struct vctx *v, const uint8_t *p, size_t room, unsigned depth,
			 const uint8_t *parent, size_t *used)
{
	const uint8_t *val;
	uint32_t len;
	uint8_t type;
	size_t padded, bad;
	int r;

	if (depth > v->max_depth) {
		fault(v, -ELOOP, TTLV_FAULT_DEPTH, p, room, depth, parent);
		if (v->e->fault == TTLV_FAULT_DEPTH)
			v->e->limit = v->max_depth;
		return stop(v, p, -ELOOP);
	}
	if (room < TTLV_HEADER_LEN)
		return stop(v, p, fault(v, -EBADMSG, TTLV_FAULT_HEADER, p, room, depth, parent));
	val = p + TTLV_HEADER_LEN;
	type = p[3];
	len = be32(p + 4);
	padded = TTLV_PAD(len);
	if (padded > room - TTLV_HEADER_LEN || padded < len) {
		fault(v, -EBADMSG, TTLV_FAULT_OVERRUN, p, room, depth, parent);
		/* Check what there is of a Structure, for a reader to show. */
		if (type == TTLV_STRUCTURE && len % 8 == 0 &&
		    validate_children(v, p, room - TTLV_HEADER_LEN, depth, used) == 0)
			return stop(v, p + room, -EBADMSG);
		return stop(v, p, -EBADMSG);
	}

	r = 0;
	switch (type) {
	case TTLV_STRUCTURE:
		if (len % 8)
			return stop(v, p, fault(v, -EBADMSG, TTLV_FAULT_STRUCT_LEN, p, room, depth,
						parent));
		r = validate_children(v, p, len, depth, used);
		if (r < 0)
			return r;
		break;
	case TTLV_INTEGER:
	case TTLV_ENUM:
	case TTLV_INTERVAL:
		if (len != 4)
			r = fault(v, -EBADMSG, TTLV_FAULT_FIXED_LEN, p, room, depth, parent);
		break;
	case TTLV_LONG:
	case TTLV_DATETIME:
	case TTLV_DATETIME_EXT:
		if (len != 8)
			r = fault(v, -EBADMSG, TTLV_FAULT_FIXED_LEN, p, room, depth, parent);
		break;
	case TTLV_BOOL:
		if (len != 8) {
			r = fault(v, -EBADMSG, TTLV_FAULT_FIXED_LEN, p, room, depth, parent);
		} else if (be64(val) > 1) {
			r = fault(v, -EBADMSG, TTLV_FAULT_BOOL, p, room, depth, parent);
			if (v->e->fault == TTLV_FAULT_BOOL)
				v->e->value = be64(val);
		}
		break;
	case TTLV_BIGINT:
		if (len == 0 || len % 8)
			r = fault(v, -EBADMSG, TTLV_FAULT_BIGINT_LEN, p, room, depth, parent);
		break;
	case TTLV_TEXT:
		bad = utf8_bad((const char *)val, len);
		if (bad < len) {
			r = fault(v, -EBADMSG, TTLV_FAULT_UTF8, p, room, depth, parent);
			if (v->e->fault == TTLV_FAULT_UTF8)
				v->e->at = (size_t)(val + bad - v->base);
		}
		break;
	case TTLV_BYTES:
		break;
	default:
		r = fault(v, -EBADMSG, TTLV_FAULT_TYPE, p, room, depth, parent);
		break;
	}
	if (r < 0)
		return stop(v, p, r);
	bad = nonzero_at(val + len, padded - len);
	if (bad < padded - len) {
		fault(v, -EBADMSG, TTLV_FAULT_PADDING, p, room, depth, parent);
		if (v->e->fault == TTLV_FAULT_PADDING)
			v->e->at = (size_t)(val + len + bad - v->base);
		return stop(v, p, -EBADMSG);
	}
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

int ttlv_decode_detail(const uint8_t *buf, size_t len, const struct ttlv_limits *lim,
		       struct ttlv_item *root, struct ttlv_error *err)
{
	struct ttlv_error mine;
	struct vctx v = { .base = buf };
	size_t used = 0;
	int r;

	if (!err)
		err = &mine;
	memset(err, 0, sizeof(*err));
	v.e = err;
	if (!lim)
		lim = &default_limits;
	v.max_depth = lim->max_depth;
	if (len > lim->max_len) {
		fault(&v, -EMSGSIZE, TTLV_FAULT_SIZE, buf, len, 1, NULL);
		err->limit = lim->max_len;
		return stop(&v, buf, -EMSGSIZE);
	}
	r = validate_item(&v, buf, len, 1, NULL, &used);
	if (r < 0)
		return r;
	if (used != len) {
		/* The outermost item is whole and fine: the rest is not its. */
		fault(&v, -EBADMSG, TTLV_FAULT_TRAILING, buf + used, len - used, 1, NULL);
		err->has_header = false;
		return stop(&v, buf + used, -EBADMSG);
	}
	err->valid = len;
	item_at(buf, root);
	return 0;
}

int ttlv_decode(const uint8_t *buf, size_t len, const struct ttlv_limits *lim,
		struct ttlv_item *root)
{
	return ttlv_decode_detail(buf, len, lim, root, NULL);
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
