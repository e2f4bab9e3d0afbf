/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TTLV codec: the spec's examples (KMIP 1.4 section 9.1.2) byte for byte,
 * real PyKMIP 0.10 wire messages (captured from its server), and malformed
 * input, which must be refused with the right error and never crash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ttlv/ttlv.h"

#define T 0x420020u

/* Hex (spaces and '|' ignored) into a malloc'd buffer. */
static uint8_t *unhex(const char *s, size_t *len)
{
	uint8_t *out = malloc(strlen(s) / 2 + 1);
	size_t n = 0;
	int hi = -1;

	assert_non_null(out);
	for (; *s; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	*len = n;
	return out;
}

/* Encode with fn into a fixed buffer and compare with the expected hex. */
static void expect_bytes(const struct ttlv_buf *b, const char *hex)
{
	size_t n;
	uint8_t *want = unhex(hex, &n);

	assert_int_equal(ttlv_buf_finish(b), 0);
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
	free(want);
}

static void test_spec_examples_encode(void **state)
{
	static const uint8_t bigint[16] = { 0, 0, 0, 0, 0x03, 0xFD, 0x35, 0xEB,
					    0x6B, 0xC2, 0xDF, 0x46, 0x18, 0x08, 0, 0 };
	static const uint8_t bytes[3] = { 1, 2, 3 };
	uint8_t mem[64];
	struct ttlv_buf b;

#define CASE(call, hex) do { ttlv_buf_init_fixed(&b, mem, sizeof(mem)); call; expect_bytes(&b, hex); } while (0)
	CASE(ttlv_put_int(&b, T, 8), "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00");
	CASE(ttlv_put_long(&b, T, 123456789000000000LL), "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00");
	CASE(ttlv_put_bigint(&b, T, bigint, sizeof(bigint)),
	     "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00");
	CASE(ttlv_put_enum(&b, T, 255), "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00");
	CASE(ttlv_put_bool(&b, T, true), "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01");
	CASE(ttlv_put_str(&b, T, "Hello World"),
	     "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00");
	CASE(ttlv_put_bytes(&b, T, bytes, 3), "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00");
	CASE(ttlv_put_datetime(&b, T, 0x47DA67F8), "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8");
	CASE(ttlv_put_interval(&b, T, 864000), "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00");
	CASE((ttlv_begin(&b, T), ttlv_put_enum(&b, 0x420004, 254), ttlv_put_int(&b, 0x420005, 255), ttlv_end(&b)),
	     "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 |"
	     "42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00");
#undef CASE
}

static void decode_hex(const char *hex, uint8_t **buf, struct ttlv_item *root)
{
	size_t n;

	*buf = unhex(hex, &n);
	assert_int_equal(ttlv_decode(*buf, n, NULL, root), 0);
}

static void test_spec_examples_decode(void **state)
{
	struct ttlv_item it, c;
	struct ttlv_iter iter;
	uint8_t *buf;
	int32_t i32;
	int64_t i64;
	uint32_t u32;
	bool bv;
	const char *s;
	const uint8_t *bp;
	size_t n;

	decode_hex("42 00 20 02 00 00 00 04 00 00 00 08 00 00 00 00", &buf, &it);
	assert_int_equal(it.tag, T);
	assert_int_equal(ttlv_get_int(&it, &i32), 0);
	assert_int_equal(i32, 8);
	assert_int_equal(ttlv_get_enum(&it, &u32), -EPROTO);
	free(buf);

	decode_hex("42 00 20 03 00 00 00 08 01 B6 9B 4B A5 74 92 00", &buf, &it);
	assert_int_equal(ttlv_get_long(&it, &i64), 0);
	assert_true(i64 == 123456789000000000LL);
	free(buf);

	decode_hex("42 00 20 04 00 00 00 10 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00", &buf, &it);
	assert_int_equal(ttlv_get_bigint(&it, &bp, &n), 0);
	assert_int_equal(n, 16);
	assert_int_equal(bp[4], 0x03);
	free(buf);

	decode_hex("42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 01", &buf, &it);
	assert_int_equal(ttlv_get_bool(&it, &bv), 0);
	assert_true(bv);
	free(buf);

	decode_hex("42 00 20 07 00 00 00 0B 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00", &buf, &it);
	assert_int_equal(ttlv_get_text(&it, &s, &n), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(s, "Hello World", 11);
	assert_true(ttlv_text_eq(&it, "Hello World"));
	assert_false(ttlv_text_eq(&it, "Hello"));
	free(buf);

	decode_hex("42 00 20 09 00 00 00 08 00 00 00 00 47 DA 67 F8", &buf, &it);
	assert_int_equal(ttlv_get_datetime(&it, &i64), 0);
	assert_int_equal(i64, 1205495800);
	free(buf);

	decode_hex("42 00 20 0A 00 00 00 04 00 0D 2F 00 00 00 00 00", &buf, &it);
	assert_int_equal(ttlv_get_interval(&it, &u32), 0);
	assert_int_equal(u32, 864000);
	free(buf);

	decode_hex("42 00 20 01 00 00 00 20 42 00 04 05 00 00 00 04 00 00 00 FE 00 00 00 00"
		   "42 00 05 02 00 00 00 04 00 00 00 FF 00 00 00 00", &buf, &it);
	assert_int_equal(ttlv_find_enum(&it, 0x420004, &u32), 0);
	assert_int_equal(u32, 254);
	assert_int_equal(ttlv_find_int(&it, 0x420005, &i32), 0);
	assert_int_equal(i32, 255);
	assert_int_equal(ttlv_find(&it, 0x420006, &c), -ENOENT);
	assert_int_equal(ttlv_count(&it, 0x420004), 1);
	ttlv_iter_init(&iter, &it);
	n = 0;
	while (ttlv_iter_next(&iter, &c))
		n++;
	assert_int_equal(n, 2);
	free(buf);
}

/* Captured PyKMIP 2.0 Get Attributes response (captured from PyKMIP 0.10). */
static const char capture2_resp[] =
	"42007b01000000a842007a0100000048420069010000002042006a0200000004000000020000000042006b0200000004"
	"00000000000000004200920900000008000000006b03fe6742000d0200000004000000010000000042000f0100000050"
	"42005c05000000040000000b0000000042007f0500000004000000000000000042007c01000000284200940700000001"
	"3500000000000000420125010000001042008d05000000040000000200000000";

static void test_capture_decode(void **state)
{
	struct ttlv_item root, hdr, item, payload, attrs;
	uint8_t *buf;
	uint32_t u32;
	int32_t count;
	int64_t ts;
	struct ttlv_item c;

	decode_hex(capture2_resp, &buf, &root);
	assert_int_equal(root.tag, 0x42007B);
	assert_int_equal(ttlv_find(&root, 0x42007A, &hdr), 0);
	assert_int_equal(ttlv_find(&hdr, 0x420092, &c), 0);
	assert_int_equal(ttlv_get_datetime(&c, &ts), 0);
	assert_true(ts > 1700000000);
	assert_int_equal(ttlv_find_int(&hdr, 0x42000D, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(ttlv_find(&root, 0x42000F, &item), 0);
	assert_int_equal(ttlv_find_enum(&item, 0x42005C, &u32), 0);
	assert_int_equal(u32, 0x0B);
	assert_int_equal(ttlv_find_enum(&item, 0x42007F, &u32), 0);
	assert_int_equal(u32, 0);
	assert_int_equal(ttlv_find(&item, 0x42007C, &payload), 0);
	assert_int_equal(ttlv_find(&payload, 0x420094, &c), 0);
	assert_true(ttlv_text_eq(&c, "5"));
	assert_int_equal(ttlv_find(&payload, 0x420125, &attrs), 0);
	assert_int_equal(ttlv_find_enum(&attrs, 0x42008D, &u32), 0);
	assert_int_equal(u32, 2);
	free(buf);
}

/* Build the 1.2 Get Attributes request of capture 1 with the raw encoder. */
static void test_capture_encode(void **state)
{
	struct ttlv_buf b;

	ttlv_buf_init(&b, 0);
	ttlv_begin(&b, 0x420078);
	ttlv_begin(&b, 0x420077);
	ttlv_begin(&b, 0x420069);
	ttlv_put_int(&b, 0x42006A, 1);
	ttlv_put_int(&b, 0x42006B, 2);
	ttlv_end(&b);
	ttlv_put_int(&b, 0x42000D, 1);
	ttlv_end(&b);
	ttlv_begin(&b, 0x42000F);
	ttlv_put_enum(&b, 0x42005C, 0x0B);
	ttlv_begin(&b, 0x420079);
	ttlv_put_str(&b, 0x420094, "2");
	ttlv_put_str(&b, 0x42000A, "State");
	ttlv_end(&b);
	ttlv_end(&b);
	ttlv_end(&b);
	expect_bytes(&b,
		"42007801000000804200770100000038420069010000002042006a0200000004000000010000000042006b0200000004"
		"000000020000000042000d0200000004000000010000000042000f010000003842005c05000000040000000b00000000"
		"42007901000000204200940700000001320000000000000042000a07000000055374617465000000");
	ttlv_buf_free(&b);
}

static int decode_str(const char *hex)
{
	struct ttlv_item it;
	size_t n;
	uint8_t *buf = unhex(hex, &n);
	int r = ttlv_decode(buf, n, NULL, &it);

	free(buf);
	return r;
}

static void test_malformed(void **state)
{
	/* truncated header, truncated value */
	assert_int_equal(decode_str("42 00 20 02 00 00 00"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 02 00 00 00 04 00 00 00 08"), -EBADMSG);
	/* length overflow: child claims more than its parent holds */
	assert_int_equal(decode_str("42 00 20 01 00 00 00 10 42 00 04 07 00 00 00 20 41 41 41 41 41 41 41 41"), -EBADMSG);
	/* length near 2^32 */
	assert_int_equal(decode_str("42 00 20 08 FF FF FF FF 00 00 00 00 00 00 00 00"), -EBADMSG);
	/* wrong fixed lengths */
	assert_int_equal(decode_str("42 00 20 02 00 00 00 08 00 00 00 00 00 00 00 08"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 03 00 00 00 04 00 00 00 08 00 00 00 00"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 04 00 00 00 04 00 00 00 08 00 00 00 00"), -EBADMSG);
	/* Boolean 2 */
	assert_int_equal(decode_str("42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 02"), -EBADMSG);
	/* non-zero padding */
	assert_int_equal(decode_str("42 00 20 02 00 00 00 04 00 00 00 08 00 00 00 01"), -EBADMSG);
	/* bad UTF-8: lone continuation, overlong '/', surrogate, NUL */
	assert_int_equal(decode_str("42 00 20 07 00 00 00 01 80 00 00 00 00 00 00 00"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 07 00 00 00 02 C0 AF 00 00 00 00 00 00"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 07 00 00 00 03 ED A0 80 00 00 00 00 00"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 07 00 00 00 01 00 00 00 00 00 00 00 00"), -EBADMSG);
	/* valid multi-byte UTF-8 passes */
	assert_int_equal(decode_str("42 00 20 07 00 00 00 04 F0 9F 94 91 00 00 00 00"), 0);
	/* unknown type, trailing bytes, structure length not a multiple of 8 */
	assert_int_equal(decode_str("42 00 20 0C 00 00 00 00"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 02 00 00 00 04 00 00 00 08 00 00 00 00 00"), -EBADMSG);
	assert_int_equal(decode_str("42 00 20 01 00 00 00 04 00 00 00 00"), -EBADMSG);
	/* unknown tags are fine: the codec does not judge tags */
	assert_int_equal(decode_str("54 FF FF 02 00 00 00 04 00 00 00 08 00 00 00 00"), 0);
}

/* ttlv_decode_detail() of hex; returns its result, *e filled. */
static int detail_str(const char *hex, size_t max_len, struct ttlv_error *e)
{
	struct ttlv_limits lim = { .max_len = max_len ? max_len : TTLV_MAX_MESSAGE,
				   .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item it;
	size_t n;
	uint8_t *buf = unhex(hex, &n);
	int r = ttlv_decode_detail(buf, n, &lim, &it, e);

	free(buf);
	return r;
}

/* Where and why, to the byte: the failing item, its tag, the fault, what was checked. */
static void test_decode_detail(void **state)
{
	/* Request Message { Compromise Date (Integer) 8, Unique Identifier "hello" }: 40 bytes. */
	static const char msg[] =
		"42007801 00000020 | 42002002 00000004 00000008 00000000 |"
		" 42009407 00000005 68656c6c 6f000000";
	struct ttlv_error e;

	(void)state;
	/* Whole: no fault, everything checked. */
	assert_int_equal(detail_str(msg, 0, &e), 0);
	assert_int_equal(e.err, 0);
	assert_int_equal(e.fault, TTLV_FAULT_NONE);
	assert_int_equal(e.valid, 40);

	/* Truncated to 30 bytes: the outermost Structure runs past the input; its
	 * first child was checked (bytes 8..24), the second's header is cut. */
	assert_int_equal(detail_str("42007801 00000020 42002002 00000004 00000008 00000000"
				    " 42009407 0000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_OVERRUN);
	assert_int_equal(e.offset, 0);
	assert_int_equal(e.depth, 1);
	assert_true(e.has_header);
	assert_int_equal(e.tag, 0x420078);
	assert_int_equal(e.type, TTLV_STRUCTURE);
	assert_int_equal(e.len, 32);
	assert_int_equal(e.room, 30);
	assert_false(e.has_parent);
	assert_int_equal(e.valid, 24);

	/* Bad padding inside the Structure: the Integer at byte 8, its byte 23. */
	assert_int_equal(detail_str("42007801 00000020 42002002 00000004 00000008 00000100"
				    " 42009407 00000005 68656c6c 6f000000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_PADDING);
	assert_int_equal(e.offset, 8);
	assert_int_equal(e.at, 22);
	assert_int_equal(e.depth, 2);
	assert_int_equal(e.tag, 0x420020);
	assert_true(e.has_parent);
	assert_int_equal(e.parent_tag, 0x420078);
	assert_int_equal(e.parent_offset, 0);
	assert_int_equal(e.valid, 8);

	/* A length inside the Structure beyond it: the Text String at byte 24
	 * claims 32 bytes, 8 are left in its parent (16 with its header). */
	assert_int_equal(detail_str("42007801 00000020 42002002 00000004 00000008 00000000"
				    " 42009407 00000020 68656c6c 6f000000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_OVERRUN);
	assert_int_equal(e.offset, 24);
	assert_int_equal(e.tag, 0x420094);
	assert_int_equal(e.type, TTLV_TEXT);
	assert_int_equal(e.len, 32);
	assert_int_equal(e.room, 16);
	assert_int_equal(e.parent_tag, 0x420078);
	assert_int_equal(e.valid, 24);

	/* The other faults, each at its item. */
	assert_int_equal(detail_str("42007801 00000020 42002002 00000005 00000008 00000000"
				    " 42009407 00000005 68656c6c 6f000000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_FIXED_LEN);
	assert_int_equal(e.offset, 8);
	assert_int_equal(e.len, 5);
	assert_int_equal(detail_str("42007801 00000020 42002002 00000004 00000008 00000000"
				    " 42009407 00000005 68656cc0 6f000000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_UTF8);
	assert_int_equal(e.offset, 24);
	assert_int_equal(e.at, 35);
	assert_int_equal(detail_str("42002006 00000008 00000000 00000002", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_BOOL);
	assert_int_equal(e.value, 2);
	assert_int_equal(detail_str("42007801 00000008 4200200C 00000000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_TYPE);
	assert_int_equal(e.offset, 8);
	assert_int_equal(e.type, 0x0C);
	assert_int_equal(detail_str("42007801 00000004 00000000 00000000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_STRUCT_LEN);
	assert_int_equal(detail_str("42002004 00000004 00000001 00000000", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_BIGINT_LEN);
	assert_int_equal(detail_str("42002002 00000004 00000008 00000000 00", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_TRAILING);
	assert_int_equal(e.offset, 16);
	assert_int_equal(e.room, 1);
	assert_int_equal(e.valid, 16);
	assert_int_equal(detail_str("420020", 0, &e), -EBADMSG);
	assert_int_equal(e.fault, TTLV_FAULT_HEADER);
	assert_int_equal(e.room, 3);
	assert_int_equal(e.valid, 0);
	assert_int_equal(detail_str(msg, 32, &e), -EMSGSIZE);
	assert_int_equal(e.fault, TTLV_FAULT_SIZE);
	assert_int_equal(e.room, 40);
	assert_int_equal(e.limit, 32);
	/* NULL detail is fine. */
	{
		struct ttlv_item it;

		assert_int_equal(ttlv_decode_detail((const uint8_t *)"\x42", 1, NULL, &it, NULL),
				 -EBADMSG);
	}
}

static void test_depth_and_size_caps(void **state)
{
	enum { DEPTH = 40 };
	uint8_t buf[DEPTH * 8];
	struct ttlv_limits lim = { .max_len = sizeof(buf), .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item it;
	size_t i;

	/* A depth bomb: 40 nested empty-ish Structures. */
	for (i = 0; i < DEPTH; i++) {
		uint32_t len = (uint32_t)((DEPTH - 1 - i) * 8);

		buf[i * 8 + 0] = 0x42;
		buf[i * 8 + 1] = 0x00;
		buf[i * 8 + 2] = 0x20;
		buf[i * 8 + 3] = TTLV_STRUCTURE;
		buf[i * 8 + 4] = len >> 24;
		buf[i * 8 + 5] = len >> 16;
		buf[i * 8 + 6] = len >> 8;
		buf[i * 8 + 7] = len;
	}
	assert_int_equal(ttlv_decode(buf, sizeof(buf), &lim, &it), -ELOOP);
	{
		struct ttlv_error e;

		/* The first item past the cap, at depth 25, byte 192; its parents checked. */
		assert_int_equal(ttlv_decode_detail(buf, sizeof(buf), &lim, &it, &e), -ELOOP);
		assert_int_equal(e.fault, TTLV_FAULT_DEPTH);
		assert_int_equal(e.depth, TTLV_MAX_DEPTH + 1);
		assert_int_equal(e.offset, TTLV_MAX_DEPTH * 8);
		assert_int_equal(e.limit, TTLV_MAX_DEPTH);
		assert_int_equal(e.valid, TTLV_MAX_DEPTH * 8);
	}
	lim.max_depth = DEPTH;
	assert_int_equal(ttlv_decode(buf, sizeof(buf), &lim, &it), 0);
	/* size over cap */
	lim.max_len = sizeof(buf) - 8;
	assert_int_equal(ttlv_decode(buf, sizeof(buf), &lim, &it), -EMSGSIZE);
}

static void test_frame_len(void **state)
{
	const uint8_t ok[8] = { 0x42, 0x00, 0x7B, 0x01, 0x00, 0x00, 0x00, 0xA8 };
	const uint8_t big[8] = { 0x42, 0x00, 0x7B, 0x01, 0x7F, 0xFF, 0xFF, 0xF8 };
	const uint8_t bad[8] = { 0x42, 0x00, 0x7B, 0x00, 0x00, 0x00, 0x00, 0x08 };
	size_t total;

	assert_int_equal(ttlv_frame_len(ok, TTLV_MAX_MESSAGE, &total), 0);
	assert_int_equal(total, 176);
	assert_int_equal(ttlv_frame_len(big, TTLV_MAX_MESSAGE, &total), -EMSGSIZE);
	assert_int_equal(ttlv_frame_len(bad, TTLV_MAX_MESSAGE, &total), -EBADMSG);
}

static void test_encoder_errors(void **state)
{
	uint8_t mem[16];
	struct ttlv_buf b;
	int i;

	/* A fixed buffer that is too small: sticky -EMSGSIZE. */
	ttlv_buf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(ttlv_put_int(&b, T, 1), 0);
	assert_int_equal(ttlv_put_long(&b, T, 1), -EMSGSIZE);
	assert_int_equal(ttlv_put_int(&b, T, 1), -EMSGSIZE);
	assert_int_equal(ttlv_buf_finish(&b), -EMSGSIZE);

	/* Unclosed Structure, extra end, invalid UTF-8, bad Big Integer length. */
	ttlv_buf_init(&b, 0);
	ttlv_begin(&b, T);
	assert_int_equal(ttlv_buf_finish(&b), -EINVAL);
	ttlv_end(&b);
	assert_int_equal(ttlv_buf_finish(&b), 0);
	assert_int_equal(ttlv_end(&b), -EINVAL);
	ttlv_buf_free(&b);

	ttlv_buf_init(&b, 0);
	assert_int_equal(ttlv_put_text(&b, T, "\xC0\xAF", 2), -EINVAL);
	ttlv_buf_free(&b);
	ttlv_buf_init(&b, 0);
	assert_int_equal(ttlv_put_bigint(&b, T, mem, 3), -EINVAL);
	ttlv_buf_free(&b);

	/* Growable buffer: grows, then stops at its cap. */
	ttlv_buf_init(&b, 4096);
	for (i = 0; i < 256; i++)
		assert_int_equal(ttlv_put_long(&b, T, i), 0);
	assert_int_equal(b.len, 4096);
	assert_int_equal(ttlv_put_int(&b, T, 0), -EMSGSIZE);
	ttlv_buf_free(&b);

	/* Nesting deeper than the encoder's stack. */
	ttlv_buf_init(&b, 0);
	for (i = 0; i < (int)TTLV_MAX_DEPTH; i++)
		assert_int_equal(ttlv_begin(&b, T), 0);
	assert_int_equal(ttlv_begin(&b, T), -ELOOP);
	ttlv_buf_free(&b);
}

/* Encode, decode, re-encode every type: identical bytes. */
static void test_roundtrip_all_types(void **state)
{
	static const uint8_t big[8] = { 0xFF, 0, 0, 0, 0, 0, 0, 1 };
	struct ttlv_buf a, b;
	struct ttlv_item root, c;
	struct ttlv_iter it;

	ttlv_buf_init(&a, 0);
	ttlv_begin(&a, 0x420078);
	ttlv_put_int(&a, 0x420001, -1);
	ttlv_put_long(&a, 0x420002, INT64_MIN);
	ttlv_put_bigint(&a, 0x420003, big, sizeof(big));
	ttlv_put_enum(&a, 0x420004, 0xFFFFFFFF);
	ttlv_put_bool(&a, 0x420005, false);
	ttlv_put_str(&a, 0x420006, "");
	ttlv_put_bytes(&a, 0x420007, NULL, 0);
	ttlv_put_datetime(&a, 0x420008, -1);
	ttlv_put_interval(&a, 0x420009, 7);
	ttlv_put_datetime_ext(&a, 0x42000A, 1700000000123456LL);
	ttlv_begin(&a, 0x54000B);
	ttlv_end(&a);
	ttlv_end(&a);
	assert_int_equal(ttlv_buf_finish(&a), 0);
	assert_int_equal(ttlv_decode(a.data, a.len, NULL, &root), 0);

	ttlv_buf_init(&b, 0);
	ttlv_begin(&b, root.tag);
	ttlv_iter_init(&it, &root);
	while (ttlv_iter_next(&it, &c))
		ttlv_put_item(&b, &c);
	ttlv_end(&b);
	assert_int_equal(ttlv_buf_finish(&b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	ttlv_buf_free(&a);
	ttlv_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_examples_encode),
		cmocka_unit_test(test_spec_examples_decode),
		cmocka_unit_test(test_capture_decode),
		cmocka_unit_test(test_capture_encode),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_decode_detail),
		cmocka_unit_test(test_depth_and_size_caps),
		cmocka_unit_test(test_frame_len),
		cmocka_unit_test(test_encoder_errors),
		cmocka_unit_test(test_roundtrip_all_types),
	};

	return cmocka_run_group_tests_name("ttlv", tests, NULL, NULL);
}
