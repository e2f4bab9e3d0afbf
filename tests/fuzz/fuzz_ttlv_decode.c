/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the TTLV decoder and encoder (src/ttlv/ttlv.c).
 *
 * For every input:
 *  1. ttlv_decode() with the default limits; on failure, the error must be
 *     one of the documented ones, ttlv_decode_detail() must agree and place
 *     the fault inside the input, and the dump of the damaged message (the
 *     part that was checked) must stay inside the input.
 *  2. On success: ttlv_frame_len() on the first 8 bytes agrees with the size;
 *     decoding again with max_depth = the tree's depth succeeds, with one less
 *     it fails with -ELOOP, and with max_len = size - 1 it fails -EMSGSIZE.
 *  3. The whole tree is walked, calling every getter on every item: exactly
 *     the getter of the item's type succeeds, the others return -EPROTO;
 *     ttlv_find / ttlv_count / ttlv_find_* agree with the iterator; every
 *     child lies inside its parent.
 *  4. The tree is re-encoded twice, (a) into a growable buffer with
 *     ttlv_begin/ttlv_end for Structures and ttlv_put_item for leaves,
 *     (b) into a fixed buffer with the typed putters (ttlv_put_int, ...) fed
 *     with the getters' values; both must reproduce the input byte for byte.
 *  5. Re-encoding into a fixed buffer one byte too small must fail with a
 *     sticky -EMSGSIZE (the buffer is its own heap block, so ASan sees any
 *     write past it).
 *
 * A violated property calls abort() (reported by libFuzzer as a crash).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttlv/text.h"
#include "ttlv/ttlv.h"

#include "fuzz.h"

/* Keeps values alive so that the reads cannot be optimised out. */
static volatile uint64_t sink;

static const uint8_t *msg_begin, *msg_end;

static unsigned walk(const struct ttlv_item *it, unsigned depth);

static void check_getters(const struct ttlv_item *it)
{
	int32_t i32;
	int64_t i64;
	uint32_t u32;
	bool b;
	const char *s;
	const uint8_t *p;
	size_t n;
	int ok = 0;

#define TRY(call, want_type, use) do { \
	int r_ = (call); \
	if (it->type == (want_type)) { \
		CHECK(r_ == 0); \
		ok++; \
		use; \
	} else { \
		CHECK(r_ == -EPROTO); \
	} \
} while (0)

	TRY(ttlv_get_int(it, &i32), TTLV_INTEGER, sink += (uint32_t)i32);
	TRY(ttlv_get_long(it, &i64), TTLV_LONG, sink += (uint64_t)i64);
	TRY(ttlv_get_enum(it, &u32), TTLV_ENUM, sink += u32);
	TRY(ttlv_get_bool(it, &b), TTLV_BOOL, sink += b);
	TRY(ttlv_get_datetime(it, &i64), TTLV_DATETIME, sink += (uint64_t)i64);
	TRY(ttlv_get_datetime_ext(it, &i64), TTLV_DATETIME_EXT, sink += (uint64_t)i64);
	TRY(ttlv_get_interval(it, &u32), TTLV_INTERVAL, sink += u32);
	TRY(ttlv_get_text(it, &s, &n), TTLV_TEXT,
	    CHECK(n == it->len && (const uint8_t *)s == it->value && ttlv_utf8_valid(s, n)));
	TRY(ttlv_get_bytes(it, &p, &n), TTLV_BYTES, CHECK(n == it->len && p == it->value));
	TRY(ttlv_get_bigint(it, &p, &n), TTLV_BIGINT,
	    CHECK(n == it->len && p == it->value && n && n % 8 == 0));
#undef TRY

	/* Every value (and its padding) lies inside the message. */
	CHECK(it->value - TTLV_HEADER_LEN >= msg_begin);
	CHECK(it->value + TTLV_PAD(it->len) <= msg_end);

	if (it->type == TTLV_STRUCTURE) {
		CHECK(ok == 0);
		CHECK(it->len % 8 == 0);
	} else {
		CHECK(ok == 1);
	}

	if (it->type == TTLV_TEXT) {
		/* Text holds no NUL, so a C copy compares equal to itself. */
		char *c = malloc(it->len + 2);

		CHECK(c);
		memcpy(c, it->value, it->len);
		c[it->len] = 0;
		CHECK(strlen(c) == it->len);
		CHECK(ttlv_text_eq(it, c));
		c[it->len] = 'x';
		c[it->len + 1] = 0;
		CHECK(!ttlv_text_eq(it, c));
		free(c);
	} else {
		CHECK(!ttlv_text_eq(it, ""));
	}
}

static void check_structure(const struct ttlv_item *st, unsigned nchildren)
{
	struct ttlv_iter iter;
	struct ttlv_item c, f;
	unsigned total = 0, idx = 0;

	ttlv_iter_init(&iter, st);
	while (ttlv_iter_next(&iter, &c)) {
		struct ttlv_iter j;
		struct ttlv_item d;
		bool first = true;
		unsigned k = 0;

		/* Is c the first child with its tag? */
		ttlv_iter_init(&j, st);
		while (ttlv_iter_next(&j, &d) && k < idx) {
			if (d.tag == c.tag) {
				first = false;
				break;
			}
			k++;
		}
		CHECK(ttlv_find(st, c.tag, &f) == 0);
		CHECK(f.tag == c.tag);
		if (first) {
			CHECK(f.value == c.value && f.type == c.type && f.len == c.len);
			total += ttlv_count(st, c.tag);

			/* The one-step finders read the first match. */
			{
				int32_t i32;
				uint32_t u32;
				const char *s;
				const uint8_t *p;
				size_t n;
				int r;

				r = ttlv_find_int(st, c.tag, &i32);
				CHECK(r == (c.type == TTLV_INTEGER ? 0 : -EPROTO));
				r = ttlv_find_enum(st, c.tag, &u32);
				CHECK(r == (c.type == TTLV_ENUM ? 0 : -EPROTO));
				r = ttlv_find_text(st, c.tag, &s, &n);
				CHECK(r == (c.type == TTLV_TEXT ? 0 : -EPROTO));
				if (!r)
					CHECK((const uint8_t *)s == c.value && n == c.len);
				r = ttlv_find_bytes(st, c.tag, &p, &n);
				CHECK(r == (c.type == TTLV_BYTES ? 0 : -EPROTO));
				if (!r)
					CHECK(p == c.value && n == c.len);
			}
		}
		idx++;
	}
	CHECK(idx == nchildren);
	CHECK(total == nchildren);	/* counts over distinct tags add up */
}

/* Returns the depth of the subtree rooted at it (a leaf is 1). */
static unsigned walk(const struct ttlv_item *it, unsigned depth)
{
	struct ttlv_iter iter;
	struct ttlv_item c;
	unsigned n = 0, max = 0, d;
	size_t sum = 0;

	CHECK(depth <= TTLV_MAX_DEPTH);
	CHECK(it->tag <= 0xFFFFFF);
	check_getters(it);

	if (it->type != TTLV_STRUCTURE) {
		struct ttlv_item dummy;

		CHECK(ttlv_find(it, it->tag, &dummy) == -EPROTO);
		CHECK(ttlv_count(it, it->tag) == 0);
		ttlv_iter_init(&iter, it);
		CHECK(!ttlv_iter_next(&iter, &c));
		return 1;
	}

	ttlv_iter_init(&iter, it);
	while (ttlv_iter_next(&iter, &c)) {
		/* The child's header and padded value are inside the parent. */
		CHECK(c.value - TTLV_HEADER_LEN >= it->value);
		CHECK(c.value + TTLV_PAD(c.len) <= it->value + it->len);
		sum += TTLV_HEADER_LEN + TTLV_PAD(c.len);
		d = walk(&c, depth + 1);
		if (d > max)
			max = d;
		n++;
	}
	CHECK(sum == it->len);
	/* A tag that is absent from the structure is not found. */
	{
		struct ttlv_item f;

		if (ttlv_count(it, 0xFFFFFF) == 0)
			CHECK(ttlv_find(it, 0xFFFFFF, &f) == -ENOENT);
	}
	check_structure(it, n);
	return max + 1;
}

/* (a) Structures rebuilt, leaves copied with ttlv_put_item. */
static void reencode_items(struct ttlv_buf *b, const struct ttlv_item *it)
{
	struct ttlv_iter iter;
	struct ttlv_item c;

	if (it->type != TTLV_STRUCTURE) {
		ttlv_put_item(b, it);
		return;
	}
	ttlv_begin(b, it->tag);
	ttlv_iter_init(&iter, it);
	while (ttlv_iter_next(&iter, &c))
		reencode_items(b, &c);
	ttlv_end(b);
}

/* (b) Every leaf re-made with its typed putter from the getter's value. */
static void reencode_typed(struct ttlv_buf *b, const struct ttlv_item *it)
{
	struct ttlv_iter iter;
	struct ttlv_item c;
	int32_t i32;
	int64_t i64;
	uint32_t u32;
	bool bo;
	const char *s;
	const uint8_t *p;
	size_t n;

	switch (it->type) {
	case TTLV_STRUCTURE:
		ttlv_begin(b, it->tag);
		ttlv_iter_init(&iter, it);
		while (ttlv_iter_next(&iter, &c))
			reencode_typed(b, &c);
		ttlv_end(b);
		break;
	case TTLV_INTEGER:
		CHECK(ttlv_get_int(it, &i32) == 0);
		ttlv_put_int(b, it->tag, i32);
		break;
	case TTLV_LONG:
		CHECK(ttlv_get_long(it, &i64) == 0);
		ttlv_put_long(b, it->tag, i64);
		break;
	case TTLV_BIGINT:
		CHECK(ttlv_get_bigint(it, &p, &n) == 0);
		ttlv_put_bigint(b, it->tag, p, n);
		break;
	case TTLV_ENUM:
		CHECK(ttlv_get_enum(it, &u32) == 0);
		ttlv_put_enum(b, it->tag, u32);
		break;
	case TTLV_BOOL:
		CHECK(ttlv_get_bool(it, &bo) == 0);
		ttlv_put_bool(b, it->tag, bo);
		break;
	case TTLV_TEXT:
		CHECK(ttlv_get_text(it, &s, &n) == 0);
		ttlv_put_text(b, it->tag, s, n);
		break;
	case TTLV_BYTES:
		CHECK(ttlv_get_bytes(it, &p, &n) == 0);
		ttlv_put_bytes(b, it->tag, p, n);
		break;
	case TTLV_DATETIME:
		CHECK(ttlv_get_datetime(it, &i64) == 0);
		ttlv_put_datetime(b, it->tag, i64);
		break;
	case TTLV_DATETIME_EXT:
		CHECK(ttlv_get_datetime_ext(it, &i64) == 0);
		ttlv_put_datetime_ext(b, it->tag, i64);
		break;
	case TTLV_INTERVAL:
		CHECK(ttlv_get_interval(it, &u32) == 0);
		ttlv_put_interval(b, it->tag, u32);
		break;
	default:
		CHECK(!"decoder accepted an unknown type");
	}
}

/*
 * ttlv_decode_detail() agrees with ttlv_decode() and describes the fault
 * inside the input; the dump of a damaged message (which walks the checked
 * part) and the sentence stay inside their buffers.
 */
static void check_detail(const uint8_t *data, size_t size, int r)
{
	static FILE *devnull;
	char why[TTLV_ERROR_TEXT];
	struct ttlv_error e;
	struct ttlv_item root;

	CHECK(ttlv_decode_detail(data, size, NULL, &root, &e) == r);
	CHECK(e.err == r);
	if (r == 0) {
		CHECK(e.fault == TTLV_FAULT_NONE && e.valid == size);
		return;
	}
	CHECK(e.fault != TTLV_FAULT_NONE);
	CHECK(e.offset <= size && e.valid <= size);
	/* What was checked ends at the fault, or inside the overlong Structure. */
	CHECK(e.fault == TTLV_FAULT_OVERRUN ? e.valid >= e.offset && e.valid <= e.offset + e.room
					    : e.valid == e.offset);
	CHECK(e.depth >= 1 && e.depth <= TTLV_MAX_DEPTH + 1);
	CHECK(!e.has_parent || e.parent_offset < e.offset);
	CHECK(strlen(ttlv_error_format(&e, why, sizeof(why))) < sizeof(why));
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (devnull)
		CHECK(ttlv_text_dump(devnull, data, size, 0, true, NULL) == r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ttlv_item root;
	struct ttlv_limits lim;
	struct ttlv_buf b;
	uint8_t *mem;
	size_t total;
	unsigned depth;
	int r;

	r = ttlv_decode(data, size, NULL, &root);
	if (size >= TTLV_HEADER_LEN) {
		int fr = ttlv_frame_len(data, TTLV_MAX_MESSAGE, &total);

		/* Framing and decoding agree on every message that decodes. */
		if (r == 0)
			CHECK(fr == 0 && total == size);
		CHECK(fr == 0 || fr == -EBADMSG || fr == -EMSGSIZE);
	}
	check_detail(data, size, r);
	if (r < 0) {
		CHECK(r == -EBADMSG || r == -EMSGSIZE || r == -ELOOP);
		return 0;
	}
	CHECK(size >= TTLV_HEADER_LEN && size <= TTLV_MAX_MESSAGE && size % 8 == 0);
	CHECK(root.value == data + TTLV_HEADER_LEN);

	msg_begin = data;
	msg_end = data + size;
	depth = walk(&root, 1);
	CHECK(depth >= 1 && depth <= TTLV_MAX_DEPTH);

	/* The limits are exact. */
	lim.max_len = size;
	lim.max_depth = depth;
	CHECK(ttlv_decode(data, size, &lim, &root) == 0);
	lim.max_depth = depth - 1;
	CHECK(ttlv_decode(data, size, &lim, &root) == -ELOOP);
	lim.max_depth = depth;
	lim.max_len = size - 1;
	CHECK(ttlv_decode(data, size, &lim, &root) == -EMSGSIZE);

	/* (a) structural copy into a growable buffer (locked memory) */
	ttlv_buf_init(&b, 0);
	reencode_items(&b, &root);
	CHECK(ttlv_buf_finish(&b) == 0);
	CHECK(b.len == size && memcmp(b.data, data, size) == 0);
	ttlv_buf_free(&b);

	/* (b) typed putters into an exact-size fixed buffer */
	mem = malloc(size);
	CHECK(mem);
	ttlv_buf_init_fixed(&b, mem, size);
	reencode_typed(&b, &root);
	CHECK(ttlv_buf_finish(&b) == 0);
	CHECK(b.len == size && memcmp(mem, data, size) == 0);
	free(mem);

	/* (c) one byte too small: sticky -EMSGSIZE, no write past the block */
	mem = malloc(size - 1);
	CHECK(mem);
	ttlv_buf_init_fixed(&b, mem, size - 1);
	reencode_typed(&b, &root);
	CHECK(ttlv_buf_finish(&b) == -EMSGSIZE);
	CHECK(b.len <= size - 1);
	free(mem);
	mem = malloc(size - 1);
	CHECK(mem);
	ttlv_buf_init_fixed(&b, mem, size - 1);
	reencode_items(&b, &root);
	CHECK(ttlv_buf_finish(&b) == -EMSGSIZE);
	free(mem);
	return 0;
}
