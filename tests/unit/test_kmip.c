// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: src/kmip.  Request builders against byte-exact PyKMIP
 * captures (real PyKMIP 0.10 wire messages), response parsing of real and
 * hostile messages, batch correlation, version negotiation and every
 * operation through a scripted fake server, and AES key wrap known-answer
 * tests (RFC 3394 section 4, RFC 5649 section 6).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kmip/kmip.h"
#include "util/errclass.h"
#include "util/hex.h"
#include "util/secmem.h"

#define V(a, b) KMIP_VERSION(a, b)

/* ------------------------------------------------------------ captures */

/* 1. KMIP 1.2 Get Attributes (UID "2", "State") */
static const char cap1_req[] =
	"42007801000000804200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000000042000d0200000004000000010000000042000f010000003842005c05000000040000000b0000000042007901000000204200940700000001320000000000000042000a07000000055374617465000000";
/* 2. KMIP 2.0 Get Attributes (UID "5", Attribute Reference State) */
static const char cap2_req[] =
	"42007801000000804200770100000038420069010000002042006a0200000004000000020000000042006b0200000004000000000000000042000d0200000004000000010000000042000f010000003842005c05000000040000000b0000000042007901000000204200940700000001350000000000000042013b05000000040042008d00000000";
static const char cap2_resp[] =
	"42007b01000000a842007a0100000048420069010000002042006a0200000004000000020000000042006b020000000400000000000000004200920900000008000000006b03fe6742000d0200000004000000010000000042000f010000005042005c05000000040000000b0000000042007f0500000004000000000000000042007c010000002842009407000000013500000000000000420125010000001042008d05000000040000000200000000";
/* 3. KMIP 2.0 Locate by State Active */
static const char cap3_req[] =
	"42007801000000784200770100000038420069010000002042006a0200000004000000020000000042006b0200000004000000000000000042000d0200000004000000010000000042000f010000003042005c050000000400000008000000004200790100000018420125010000001042008d05000000040000000200000000";
/* 4. KMIP 1.2 Locate by Name "vmk-host1" + State Active */
static const char cap4_req[] =
	"42007801000000d04200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000000042000d0200000004000000010000000042000f010000008842005c050000000400000008000000004200790100000070420008010000004042000a07000000044e616d650000000042000b01000000284200550700000009766d6b2d686f7374310000000000000042005405000000040000000100000000420008010000002042000a0700000005537461746500000042000b05000000040000000200000000";
/* 5. KMIP 1.2 Revoke (UID "2", Cessation of Operation, "decommissioned") */
static const char cap5_req[] =
	"42007801000000a04200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000000042000d0200000004000000010000000042000f010000005842005c05000000040000001300000000420079010000004042009407000000013200000000000000420081010000002842008205000000040000000600000000420080070000000e6465636f6d6d697373696f6e65640000";
/* 6. KMIP 1.2 Get with Key Wrapping Specification (UID "3", KEK "1", NIST Key Wrap) */
static const char cap6_req[] =
	"42007801000000c84200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000000042000d0200000004000000010000000042000f010000008042005c05000000040000000a00000000420079010000006842009407000000013300000000000000420047010000005042009e0500000004000000010000000042003601000000284200940700000001310000000000000042002b010000001042001105000000040000000d000000004200a305000000040000000100000000";
/* 7. KMIP 1.2 Get response, Symmetric Key, Raw, AES-256 */
static const char cap7_resp[] =
	"42007b010000011042007a0100000048420069010000002042006a0200000004000000010000000042006b020000000400000002000000004200920900000008000000006b04083b42000d0200000004000000010000000042000f01000000b842005c05000000040000000a0000000042007f0500000004000000000000000042007c0100000090420057050000000400000002000000004200940700000001310000000000000042008f01000000684200400100000060420042050000000400000001000000004200450100000028420043080000002055cce3b2452b7a0718643624794c951b73ed5607cf48394bf0684ad4655a0ad84200280500000004000000030000000042002a02000000040000010000000000";
static const char cap7_key[] =
	"55cce3b2452b7a0718643624794c951b73ed5607cf48394bf0684ad4655a0ad8";

/* Hex to a malloc'd buffer. */
static uint8_t *unhex(const char *s, size_t *len)
{
	size_t n = strlen(s) / 2;
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	assert_int_equal(hex_decode(s, strlen(s), p, n), 0);
	*len = n;
	return p;
}

static void assert_buf_hex(const struct ttlv_buf *b, const char *hex)
{
	size_t n;
	uint8_t *want = unhex(hex, &n);

	assert_int_equal(ttlv_buf_finish(b), 0);
	if (b->len != n || memcmp(b->data, want, n) != 0) {
		char *got = malloc(2 * b->len + 1);

		assert_non_null(got);
		hex_encode(b->data, b->len, got);
		fail_msg("bytes differ:\n got  %s\n want %s", got, hex);
	}
	free(want);
}

/* ------------------------------------------------------ response helper */

/* Open a Response Message with a header; the caller adds batch items. */
static void rsp_begin(struct ttlv_buf *b, int version, int count)
{
	ttlv_buf_init(b, 1u << 20);
	ttlv_begin(b, KMIP_TAG_RESPONSE_MESSAGE);
	ttlv_begin(b, KMIP_TAG_RESPONSE_HEADER);
	ttlv_begin(b, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MAJOR, version >> 8);
	ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MINOR, version & 0xFF);
	ttlv_end(b);
	ttlv_put_datetime(b, KMIP_TAG_TIME_STAMP, 1700000000);
	ttlv_put_int(b, KMIP_TAG_BATCH_COUNT, count);
	ttlv_end(b);
}

/* Open a batch item with its result; close it with ttlv_end(). id: 4-byte index+1, 0 none. */
static void rsp_item(struct ttlv_buf *b, uint32_t op, unsigned id, uint32_t status,
		     uint32_t reason, const char *msg)
{
	uint8_t idb[4] = { id >> 24, id >> 16, id >> 8, id };

	ttlv_begin(b, KMIP_TAG_BATCH_ITEM);
	if (op)
		ttlv_put_enum(b, KMIP_TAG_OPERATION, op);
	if (id)
		ttlv_put_bytes(b, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, idb, 4);
	ttlv_put_enum(b, KMIP_TAG_RESULT_STATUS, status);
	if (reason)
		ttlv_put_enum(b, KMIP_TAG_RESULT_REASON, reason);
	if (msg)
		ttlv_put_str(b, KMIP_TAG_RESULT_MESSAGE, msg);
}

static void rsp_end(struct ttlv_buf *b)
{
	ttlv_end(b);
	assert_int_equal(ttlv_buf_finish(b), 0);
}

/* A one-item error response. */
static void rsp_error(struct ttlv_buf *b, int version, uint32_t op, uint32_t reason, const char *msg)
{
	rsp_begin(b, version, 1);
	rsp_item(b, op, 0, KMIP_STATUS_OPERATION_FAILED, reason, msg);
	ttlv_end(b);
	rsp_end(b);
}

/* ---------------------------------------------------------- fake server */

#define FAKE_MAX 16

struct fake;
typedef void (*fake_handler)(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out);

struct fake {
	fake_handler handler;
	int fail_with;			/* transport error instead of an answer */
	unsigned calls;
	uint8_t *req[FAKE_MAX];
	size_t req_len[FAKE_MAX];
	void *ctx;
};

static int fake_rt(void *ctx, const uint8_t *req, size_t req_len,
		   uint8_t **resp, size_t *resp_len, bool idempotent)
{
	struct fake *f = ctx;
	struct ttlv_item root;
	struct ttlv_buf b;

	if (f->calls < FAKE_MAX) {
		f->req[f->calls] = malloc(req_len);
		assert_non_null(f->req[f->calls]);
		memcpy(f->req[f->calls], req, req_len);
		f->req_len[f->calls] = req_len;
	}
	f->calls++;
	if (f->fail_with)
		return f->fail_with;
	/* Every request we send must be valid TTLV. */
	assert_int_equal(ttlv_decode(req, req_len, NULL, &root), 0);
	assert_int_equal(root.tag, KMIP_TAG_REQUEST_MESSAGE);
	memset(&b, 0, sizeof(b));
	f->handler(f, &root, &b);
	*resp = secmem_dup(b.data, b.len);
	*resp_len = b.len;
	ttlv_buf_free(&b);
	return *resp ? 0 : -ENOMEM;
}

static void fake_reset(struct fake *f)
{
	unsigned i;

	for (i = 0; i < FAKE_MAX; i++)
		free(f->req[i]);
	memset(f, 0, sizeof(*f));
}

static struct kmip_client *fake_client(struct fake *f, fake_handler h, int version)
{
	struct kmip_client *c = NULL;

	memset(f, 0, sizeof(*f));
	f->handler = h;
	assert_int_equal(kmip_client_new_custom(fake_rt, f, version, &c), 0);
	return c;
}

/* Request accessors. */
static int req_version(const struct ttlv_item *req)
{
	struct ttlv_item h, pv;
	int32_t ma, mi;

	assert_int_equal(ttlv_find(req, KMIP_TAG_REQUEST_HEADER, &h), 0);
	assert_int_equal(ttlv_find(&h, KMIP_TAG_PROTOCOL_VERSION, &pv), 0);
	assert_int_equal(ttlv_find_int(&pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR, &ma), 0);
	assert_int_equal(ttlv_find_int(&pv, KMIP_TAG_PROTOCOL_VERSION_MINOR, &mi), 0);
	return V(ma, mi);
}

/* The idx-th batch item (operation, payload, id). */
static void req_item(const struct ttlv_item *req, unsigned idx, uint32_t *op,
		     struct ttlv_item *payload, unsigned *id)
{
	struct ttlv_iter it;
	struct ttlv_item c, idi;
	unsigned k = 0;

	ttlv_iter_init(&it, req);
	while (ttlv_iter_next(&it, &c)) {
		if (c.tag != KMIP_TAG_BATCH_ITEM)
			continue;
		if (k++ != idx)
			continue;
		assert_int_equal(ttlv_find_enum(&c, KMIP_TAG_OPERATION, op), 0);
		assert_int_equal(ttlv_find(&c, KMIP_TAG_REQUEST_PAYLOAD, payload), 0);
		*id = 0;
		if (ttlv_find(&c, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, &idi) == 0) {
			assert_int_equal(idi.len, 4);
			*id = (unsigned)idi.value[0] << 24 | idi.value[1] << 16 |
			      idi.value[2] << 8 | idi.value[3];
		}
		return;
	}
	fail_msg("no batch item %u", idx);
}

static unsigned req_count(const struct ttlv_item *req)
{
	return ttlv_count(req, KMIP_TAG_BATCH_ITEM);
}

/* Copy the request's Unique Identifier into buf. */
static void req_uid(const struct ttlv_item *payload, char *buf, size_t len)
{
	const char *s;
	size_t n;

	assert_int_equal(ttlv_find_text(payload, KMIP_TAG_UNIQUE_IDENTIFIER, &s, &n), 0);
	assert_true(n < len);
	memcpy(buf, s, n);
	buf[n] = '\0';
}

/* ======================================================== builder tests */

static void test_build_captures(void **state)
{
	static const struct kmip_key_wrap w = { .kek_uid = "1", .mode = KMIP_BCM_NIST_KEY_WRAP };
	struct kmip_locate_filter f3 = { .state = KMIP_STATE_ACTIVE };
	struct kmip_locate_filter f4 = { .name = "vmk-host1", .state = KMIP_STATE_ACTIVE };
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_CESSATION_OF_OPERATION,
				  .message = "decommissioned" };
	struct ttlv_buf b;

	ttlv_buf_init(&b, 0);
	assert_int_equal(kmip_build_get_attributes(&b, V(1, 2), "2", KMIP_ATTR_STATE), 0);
	assert_buf_hex(&b, cap1_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get_attributes(&b, V(2, 0), "5", KMIP_ATTR_STATE), 0);
	assert_buf_hex(&b, cap2_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_locate(&b, V(2, 0), &f3), 0);
	assert_buf_hex(&b, cap3_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_locate(&b, V(1, 2), &f4), 0);
	assert_buf_hex(&b, cap4_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_revoke(&b, V(1, 2), "2", &rv), 0);
	assert_buf_hex(&b, cap5_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get(&b, V(1, 2), "3", &w), 0);
	assert_buf_hex(&b, cap6_req);
	/* mode 0 means NIST Key Wrap */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get(&b, V(1, 2), "3",
					&(struct kmip_key_wrap){ .kek_uid = "1" }), 0);
	assert_buf_hex(&b, cap6_req);
	ttlv_buf_free(&b);
}

/* Decode a built message and return the payload of its first item. */
static void built_payload(struct ttlv_buf *b, struct ttlv_item *root, struct ttlv_item *payload)
{
	uint32_t op;
	unsigned id;

	assert_int_equal(ttlv_buf_finish(b), 0);
	assert_int_equal(ttlv_decode(b->data, b->len, NULL, root), 0);
	req_item(root, 0, &op, payload, &id);
}

static void test_build_no_timestamp_and_ids(void **state)
{
	const char *uids[3] = { "a", "b", "c" };
	struct ttlv_item root, h, x, payload;
	struct ttlv_buf b;
	uint32_t op, e;
	unsigned i, id;
	int32_t n;

	ttlv_buf_init(&b, 0);
	assert_int_equal(kmip_build_get_states(&b, V(1, 4), uids, 3), 0);
	assert_int_equal(ttlv_decode(b.data, b.len, NULL, &root), 0);
	assert_int_equal(ttlv_find(&root, KMIP_TAG_REQUEST_HEADER, &h), 0);
	assert_int_equal(ttlv_find(&h, KMIP_TAG_TIME_STAMP, &x), -ENOENT);
	assert_int_equal(ttlv_find_int(&h, KMIP_TAG_BATCH_COUNT, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ttlv_find_enum(&h, KMIP_TAG_BATCH_ERROR_CONTINUATION, &e), 0);
	assert_int_equal(e, KMIP_BATCH_ERROR_CONTINUE);
	assert_int_equal(req_count(&root), 3);
	for (i = 0; i < 3; i++) {
		char u[8];

		req_item(&root, i, &op, &payload, &id);
		assert_int_equal(op, KMIP_OP_GET_ATTRIBUTES);
		assert_int_equal(id, i + 1);
		req_uid(&payload, u, sizeof(u));
		assert_string_equal(u, uids[i]);
		assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTE_NAME, &x), 0);
		assert_true(ttlv_text_eq(&x, "State"));
	}
	/* A single item carries neither an ID nor the continuation option. */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get_states(&b, V(2, 0), uids, 1), 0);
	assert_int_equal(ttlv_decode(b.data, b.len, NULL, &root), 0);
	assert_int_equal(ttlv_find(&root, KMIP_TAG_REQUEST_HEADER, &h), 0);
	assert_int_equal(ttlv_find(&h, KMIP_TAG_BATCH_ERROR_CONTINUATION, &x), -ENOENT);
	req_item(&root, 0, &op, &payload, &id);
	assert_int_equal(id, 0);
	assert_int_equal(ttlv_find_enum(&payload, KMIP_TAG_ATTRIBUTE_REFERENCE, &e), 0);
	assert_int_equal(e, KMIP_TAG_STATE);
	ttlv_buf_free(&b);
}

/* Modify Attribute of one Object Group value. */
static void test_build_modify_group(void **state)
{
	struct ttlv_item root, payload, x, v;
	struct ttlv_buf b;
	const char *s;
	size_t n;
	int32_t i;
	uint32_t op;
	unsigned id;

	(void)state;
	ttlv_buf_init(&b, 0);
	/* 2.x names the values: Current Attribute, New Attribute. */
	assert_int_equal(kmip_build_modify_group(&b, V(2, 0), "7", "pending", "kmipcrypt", 0), 0);
	assert_int_equal(ttlv_buf_finish(&b), 0);
	assert_int_equal(ttlv_decode(b.data, b.len, NULL, &root), 0);
	req_item(&root, 0, &op, &payload, &id);
	assert_int_equal(op, KMIP_OP_MODIFY_ATTRIBUTE);
	assert_int_equal(ttlv_find_text(&payload, KMIP_TAG_UNIQUE_IDENTIFIER, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_CURRENT_ATTRIBUTE, &x), 0);
	assert_int_equal(ttlv_find_text(&x, KMIP_TAG_OBJECT_GROUP, &s, &n), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(s, "pending", n);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_NEW_ATTRIBUTE, &x), 0);
	assert_int_equal(ttlv_find_text(&x, KMIP_TAG_OBJECT_GROUP, &s, &n), 0);
	assert_int_equal(n, 9);
	assert_memory_equal(s, "kmipcrypt", n);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTE, &x), -ENOENT);
	/* 1.x: Attribute {Attribute Name, Attribute Index, Attribute Value (the new)}. */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_modify_group(&b, V(1, 4), "7", "pending", "kmipcrypt", 1), 0);
	assert_int_equal(ttlv_buf_finish(&b), 0);
	assert_int_equal(ttlv_decode(b.data, b.len, NULL, &root), 0);
	req_item(&root, 0, &op, &payload, &id);
	assert_int_equal(op, KMIP_OP_MODIFY_ATTRIBUTE);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTE, &x), 0);
	assert_int_equal(ttlv_find(&x, KMIP_TAG_ATTRIBUTE_NAME, &v), 0);
	assert_true(ttlv_text_eq(&v, "Object Group"));
	assert_int_equal(ttlv_find_int(&x, KMIP_TAG_ATTRIBUTE_INDEX, &i), 0);
	assert_int_equal(i, 1);
	assert_int_equal(ttlv_find(&x, KMIP_TAG_ATTRIBUTE_VALUE, &v), 0);
	assert_true(ttlv_text_eq(&v, "kmipcrypt"));
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_CURRENT_ATTRIBUTE, &x), -ENOENT);
	/* Refused: no group, a negative index, an empty group. */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_modify_group(&b, V(2, 0), "7", NULL, "g", 0), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_modify_group(&b, V(1, 4), "7", "f", "g", -1), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_modify_group(&b, V(2, 0), "7", "f", "", 0), -EINVAL);
	ttlv_buf_free(&b);
}

static void test_build_attrs_both_encodings(void **state)
{
	struct kmip_new_object a = { .name = "vol-1", .group = "kmipcrypt",
				     .usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT };
	struct ttlv_item root, payload, ta, x, y;
	struct ttlv_iter it;
	struct ttlv_buf b;
	const char *s;
	size_t n;
	int32_t i;
	uint32_t e;
	unsigned k = 0;

	/* 1.x: Template-Attribute of Attribute {Name, Value}. */
	ttlv_buf_init(&b, 0);
	assert_int_equal(kmip_build_create(&b, V(1, 4), 256, &a), 0);
	built_payload(&b, &root, &payload);
	assert_int_equal(ttlv_find_enum(&payload, KMIP_TAG_OBJECT_TYPE, &e), 0);
	assert_int_equal(e, KMIP_OBJ_SYMMETRIC_KEY);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_TEMPLATE_ATTRIBUTE, &ta), 0);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTES, &x), -ENOENT);
	{
		static const char *const names[] = {
			"Cryptographic Algorithm", "Cryptographic Length",
			"Cryptographic Usage Mask", "Name", "Object Group",
		};

		ttlv_iter_init(&it, &ta);
		while (ttlv_iter_next(&it, &x)) {
			assert_int_equal(x.tag, KMIP_TAG_ATTRIBUTE);
			assert_true(k < 5);
			assert_int_equal(ttlv_find(&x, KMIP_TAG_ATTRIBUTE_NAME, &y), 0);
			assert_true(ttlv_text_eq(&y, names[k]));
			k++;
		}
		assert_int_equal(k, 5);
	}
	/* 2.x: Attributes holding each attribute by its tag. */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(2, 1), 128, &a), 0);
	built_payload(&b, &root, &payload);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_TEMPLATE_ATTRIBUTE, &x), -ENOENT);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTES, &ta), 0);
	assert_int_equal(ttlv_find_int(&ta, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &i), 0);
	assert_int_equal(i, 128);
	assert_int_equal(ttlv_find_int(&ta, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, &i), 0);
	assert_int_equal(i, 0x0C);
	assert_int_equal(ttlv_find(&ta, KMIP_TAG_NAME, &x), 0);
	assert_int_equal(ttlv_find_text(&x, KMIP_TAG_NAME_VALUE, &s, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(ttlv_find_text(&ta, KMIP_TAG_OBJECT_GROUP, &s, &n), 0);

	/* Register Secret Data: Password, Opaque; usage mask always sent. */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_register_secret(&b, V(1, 2), (const uint8_t *)"0123456789abcdef",
						    16, NULL), 0);
	built_payload(&b, &root, &payload);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_TEMPLATE_ATTRIBUTE, &ta), 0);
	assert_int_equal(ttlv_count(&ta, KMIP_TAG_ATTRIBUTE), 1);
	assert_int_equal(ttlv_find(&ta, KMIP_TAG_ATTRIBUTE, &x), 0);
	assert_int_equal(ttlv_find(&x, KMIP_TAG_ATTRIBUTE_NAME, &y), 0);
	assert_true(ttlv_text_eq(&y, "Cryptographic Usage Mask"));
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_SECRET_DATA, &x), 0);
	assert_int_equal(ttlv_find_enum(&x, KMIP_TAG_SECRET_DATA_TYPE, &e), 0);
	assert_int_equal(e, KMIP_SECRET_PASSWORD);
	assert_int_equal(ttlv_find(&x, KMIP_TAG_KEY_BLOCK, &y), 0);
	assert_int_equal(ttlv_find_enum(&y, KMIP_TAG_KEY_FORMAT_TYPE, &e), 0);
	assert_int_equal(e, KMIP_KFT_OPAQUE);

	/* Bad arguments are refused before anything is sent. */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(1, 2), 100, &a), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_register_key(&b, V(1, 2), (const uint8_t *)"x", 1, &a), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get(&b, V(1, 2), NULL, NULL), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get(&b, V(1, 2), "", NULL), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_revoke(&b, V(1, 2), "1", &(struct kmip_revoke){ .reason = 8 }),
			 -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_locate(&b, V(1, 2), &(struct kmip_locate_filter){
		.offset_items = 5 }), -EOPNOTSUPP);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get_attributes(&b, V(3, 0), "1", KMIP_ATTR_STATE), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_get_attributes(&b, V(1, 0), "1", 1u << 20), -EINVAL);
	ttlv_buf_free(&b);
}

static void test_build_revoke_reasons(void **state)
{
	struct ttlv_item root, payload, rr, x;
	struct ttlv_buf b;
	uint32_t reason, e;
	int64_t d;

	ttlv_buf_init(&b, 0);
	for (reason = 1; reason <= 7; reason++) {
		struct kmip_revoke rv = { .reason = reason, .compromise_date = 1600000000 };
		bool comp = reason == 2 || reason == 3;

		ttlv_buf_reset(&b);
		assert_int_equal(kmip_build_revoke(&b, reason & 1 ? V(1, 4) : V(2, 0), "k", &rv), 0);
		built_payload(&b, &root, &payload);
		assert_int_equal(ttlv_find(&payload, KMIP_TAG_REVOCATION_REASON, &rr), 0);
		assert_int_equal(ttlv_find_enum(&rr, KMIP_TAG_REVOCATION_REASON_CODE, &e), 0);
		assert_int_equal(e, reason);
		assert_int_equal(ttlv_find(&rr, KMIP_TAG_REVOCATION_MESSAGE, &x), -ENOENT);
		if (comp) {
			assert_int_equal(ttlv_find(&payload, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, &x), 0);
			assert_int_equal(ttlv_get_datetime(&x, &d), 0);
			assert_true(d == 1600000000);
		} else {
			assert_int_equal(ttlv_find(&payload, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, &x),
					 -ENOENT);
		}
		assert_string_not_equal(kmip_revocation_reason_name(reason), "Unknown Revocation Reason");
	}
	ttlv_buf_free(&b);
}

/* ======================================================= response tests */

static void test_parse_capture2(void **state)
{
	uint32_t op = KMIP_OP_GET_ATTRIBUTES;
	struct kmip_resp_item item;
	struct kmip_attrs a;
	uint8_t *msg;
	size_t len;
	int v = 0;

	msg = unhex(cap2_resp, &len);
	assert_int_equal(len, 176);
	assert_int_equal(kmip_response_parse(msg, len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(v, V(2, 0));
	assert_true(item.answered);
	assert_int_equal(item.err, 0);
	assert_int_equal(item.status, KMIP_STATUS_SUCCESS);
	assert_true(item.has_payload);
	assert_int_equal(kmip_parse_get_attributes(&item.payload, &a), 0);
	assert_string_equal(a.uid, "5");
	assert_true(a.present & KMIP_ATTR_STATE);
	assert_int_equal(a.present, KMIP_ATTR_STATE);
	assert_int_equal(a.state, KMIP_STATE_ACTIVE);
	assert_string_equal(kmip_state_name(a.state), "Active");
	free(msg);
}

static void test_parse_capture7(void **state)
{
	uint32_t op = KMIP_OP_GET;
	struct kmip_resp_item item;
	struct kmip_object o;
	uint8_t *msg, *key;
	size_t len, klen;
	int v = 0;

	msg = unhex(cap7_resp, &len);
	key = unhex(cap7_key, &klen);
	assert_int_equal(len, 280);
	assert_int_equal(kmip_response_parse(msg, len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(v, V(1, 2));
	assert_int_equal(item.err, 0);
	assert_int_equal(kmip_parse_get(&item.payload, &o), 0);
	assert_int_equal(o.object_type, KMIP_OBJ_SYMMETRIC_KEY);
	assert_string_equal(o.uid, "1");
	assert_int_equal(o.key_format, KMIP_KFT_RAW);
	assert_int_equal(o.algorithm, KMIP_ALG_AES);
	assert_int_equal(o.length, 256);
	assert_false(o.wrapped);
	assert_int_equal(o.material_len, 32);
	assert_memory_equal(o.material, key, 32);
	/* Key material lives in locked memory. */
	assert_int_equal(secmem_size(o.material), 32);
	kmip_object_clear(&o);
	assert_null(o.material);
	free(msg);
	free(key);
}

/* A 1.x Get Attributes response with many attributes, unknown tags and attributes. */
static void test_parse_attrs_v1_full(void **state)
{
	uint32_t op = KMIP_OP_GET_ATTRIBUTES;
	struct kmip_resp_item item;
	struct kmip_attrs a;
	struct ttlv_buf b;
	int v;

	rsp_begin(&b, V(1, 2), 1);
	ttlv_put_str(&b, 0x540001, "root-level extension");
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, 0, 0, NULL);
	ttlv_put_str(&b, 0x5400AA, "item extension");
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(&b, KMIP_TAG_UNIQUE_IDENTIFIER, "42");
	ttlv_put_int(&b, 0x54FFFF, 7);		/* unknown tag in the payload */
	/* State, with an Attribute Index as 1.0 servers send */
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "State");
	ttlv_put_int(&b, 0x420009, 0);
	ttlv_put_enum(&b, KMIP_TAG_ATTRIBUTE_VALUE, KMIP_STATE_DEACTIVATED);
	ttlv_end(&b);
	/* two Names */
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "Name");
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE_VALUE);
	ttlv_put_str(&b, KMIP_TAG_NAME_VALUE, "first");
	ttlv_put_enum(&b, KMIP_TAG_NAME_TYPE, 1);
	ttlv_end(&b);
	ttlv_end(&b);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "Name");
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE_VALUE);
	ttlv_put_str(&b, KMIP_TAG_NAME_VALUE, "second");
	ttlv_put_enum(&b, KMIP_TAG_NAME_TYPE, 1);
	ttlv_end(&b);
	ttlv_end(&b);
	/* an unknown attribute, of an unusual type */
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "x-Custom");
	ttlv_put_bigint(&b, KMIP_TAG_ATTRIBUTE_VALUE, (const uint8_t *)"\0\0\0\0\0\0\0\1", 8);
	ttlv_end(&b);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "Object Group");
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_VALUE, "grp");
	ttlv_end(&b);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Length");
	ttlv_put_int(&b, KMIP_TAG_ATTRIBUTE_VALUE, 256);
	ttlv_end(&b);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "Object Type");
	ttlv_put_enum(&b, KMIP_TAG_ATTRIBUTE_VALUE, KMIP_OBJ_SECRET_DATA);
	ttlv_end(&b);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "Activation Date");
	ttlv_put_datetime(&b, KMIP_TAG_ATTRIBUTE_VALUE, 1650000000);
	ttlv_end(&b);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "Unique Identifier");
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_VALUE, "42");
	ttlv_end(&b);
	ttlv_end(&b);		/* payload */
	ttlv_put_str(&b, 0x5400AB, "after the payload");
	ttlv_end(&b);		/* item */
	rsp_end(&b);

	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_get_attributes(&item.payload, &a), 0);
	assert_string_equal(a.uid, "42");
	assert_string_equal(a.attr_uid, "42");
	assert_int_equal(a.state, KMIP_STATE_DEACTIVATED);
	assert_int_equal(a.n_names, 2);
	assert_string_equal(a.names[0], "first");
	assert_string_equal(a.names[1], "second");
	assert_int_equal(a.n_groups, 1);
	assert_string_equal(a.groups[0], "grp");
	assert_int_equal(a.length, 256);
	assert_int_equal(a.object_type, KMIP_OBJ_SECRET_DATA);
	assert_true(a.activation_date == 1650000000);
	assert_int_equal(a.present, KMIP_ATTR_STATE | KMIP_ATTR_NAME | KMIP_ATTR_OBJECT_GROUP |
			 KMIP_ATTR_CRYPTO_LENGTH | KMIP_ATTR_OBJECT_TYPE |
			 KMIP_ATTR_ACTIVATION_DATE | KMIP_ATTR_UNIQUE_IDENTIFIER);
	ttlv_buf_free(&b);
}

/* A 2.x Attributes structure with unknown tags, vendor attributes and extended dates. */
static void test_parse_attrs_v2_unknown(void **state)
{
	uint32_t op = KMIP_OP_GET_ATTRIBUTES;
	struct kmip_resp_item item;
	struct kmip_attrs a;
	struct ttlv_buf b;
	int v;

	rsp_begin(&b, V(2, 1), 1);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(&b, KMIP_TAG_UNIQUE_IDENTIFIER, "u-1");
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTES);
	ttlv_put_enum(&b, 0x420150, 9);		/* a 2.x attribute we do not know */
	ttlv_put_enum(&b, KMIP_TAG_STATE, KMIP_STATE_COMPROMISED);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);	/* vendor attribute named like a known one */
	ttlv_put_str(&b, KMIP_TAG_VENDOR_IDENTIFICATION, "acme");
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "State");
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_VALUE, "not an enum");
	ttlv_end(&b);
	ttlv_begin(&b, KMIP_TAG_NAME);
	ttlv_put_str(&b, KMIP_TAG_NAME_VALUE, "vmk-host1");
	ttlv_put_enum(&b, KMIP_TAG_NAME_TYPE, 1);
	ttlv_end(&b);
	ttlv_put_datetime_ext(&b, KMIP_TAG_COMPROMISE_DATE, 1650000000123456LL);
	ttlv_put_datetime(&b, KMIP_TAG_LAST_CHANGE_DATE, 1660000000);
	ttlv_end(&b);
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);

	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(v, V(2, 1));
	assert_int_equal(kmip_parse_get_attributes(&item.payload, &a), 0);
	assert_string_equal(a.uid, "u-1");
	assert_int_equal(a.state, KMIP_STATE_COMPROMISED);
	assert_int_equal(a.n_names, 1);
	assert_string_equal(a.names[0], "vmk-host1");
	assert_true(a.compromise_date == 1650000000);
	assert_true(a.last_change_date == 1660000000);
	ttlv_buf_free(&b);
}

static void test_parse_attrs_wrong_types(void **state)
{
	uint32_t op = KMIP_OP_GET_ATTRIBUTES;
	struct kmip_resp_item item;
	struct kmip_attrs a;
	struct ttlv_buf b;
	int v;

	/* State as an Integer, not an Enumeration */
	rsp_begin(&b, V(2, 0), 1);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(&b, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTES);
	ttlv_put_int(&b, KMIP_TAG_STATE, 2);
	ttlv_end(&b);
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_get_attributes(&item.payload, &a), -EBADMSG);
	ttlv_buf_free(&b);

	/* 1.x Attribute without a value; Attribute Name not text */
	rsp_begin(&b, V(1, 0), 1);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(&b, KMIP_TAG_ATTRIBUTE_NAME, "State");
	ttlv_end(&b);
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_get_attributes(&item.payload, &a), -EBADMSG);
	ttlv_buf_free(&b);

	rsp_begin(&b, V(1, 0), 1);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_int(&b, KMIP_TAG_ATTRIBUTE_NAME, 5);
	ttlv_put_enum(&b, KMIP_TAG_ATTRIBUTE_VALUE, 2);
	ttlv_end(&b);
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_get_attributes(&item.payload, &a), -EBADMSG);
	ttlv_buf_free(&b);

	/* Out-of-range State values never look like a real state. */
	rsp_begin(&b, V(2, 0), 1);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTES);
	ttlv_put_enum(&b, KMIP_TAG_STATE, 0x80000002u);
	ttlv_end(&b);
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_get_attributes(&item.payload, &a), 0);
	assert_int_equal(a.state, -1);
	assert_string_equal(kmip_state_name(a.state), "Unknown State");
	ttlv_buf_free(&b);
}

static void test_parse_batch_out_of_order(void **state)
{
	const uint32_t ops[3] = { KMIP_OP_GET_ATTRIBUTES, KMIP_OP_GET_ATTRIBUTES,
				  KMIP_OP_GET_ATTRIBUTES };
	struct kmip_resp_item items[3];
	struct ttlv_buf b;
	int v;

	rsp_begin(&b, V(1, 4), 3);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 3, KMIP_STATUS_OPERATION_FAILED,
		 KMIP_REASON_ITEM_NOT_FOUND, "no such object");
	ttlv_end(&b);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 1, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(&b, KMIP_TAG_UNIQUE_IDENTIFIER, "one");
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_item(&b, 0, 2, KMIP_STATUS_OPERATION_FAILED, KMIP_REASON_PERMISSION_DENIED, NULL);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, ops, 3, &v, items), 0);
	assert_int_equal(items[0].err, 0);
	assert_true(items[0].has_payload);
	assert_int_equal(items[1].err, -EPERM);
	assert_int_equal(items[2].err, -ENOENT);
	assert_int_equal(items[2].message_len, strlen("no such object"));
	ttlv_buf_free(&b);

	/* Without IDs: by position; fewer answers than questions (server stopped). */
	rsp_begin(&b, V(1, 4), 2);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, 0, 0, NULL);
	ttlv_end(&b);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, KMIP_STATUS_OPERATION_FAILED, 1, NULL);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, ops, 3, &v, items), 0);
	assert_int_equal(items[0].err, 0);
	assert_int_equal(items[1].err, -ENOENT);
	assert_false(items[2].answered);
	assert_int_equal(items[2].err, -ENOMSG);
	ttlv_buf_free(&b);

	/* One failed item without ID for the whole batch: a message-level error. */
	rsp_begin(&b, V(1, 0), 1);
	rsp_item(&b, 0, 0, KMIP_STATUS_OPERATION_FAILED, KMIP_REASON_INVALID_MESSAGE,
		 "Error parsing request message.");
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, ops, 3, &v, items), 0);
	assert_int_equal(v, V(1, 0));
	assert_int_equal(items[0].err, -EPROTO);
	assert_int_equal(items[1].err, -EPROTO);
	assert_int_equal(items[2].err, -EPROTO);
	ttlv_buf_free(&b);

	/*
	 * One failed item without ID but WITH an Operation: the answer to item 0
	 * only (a server that stopped at the first failure).  Copying its "not
	 * found" to every key would lock volumes whose keys are fine (found by
	 * fuzz_kmip_response).
	 */
	rsp_begin(&b, V(1, 4), 1);
	rsp_item(&b, KMIP_OP_GET_ATTRIBUTES, 0, KMIP_STATUS_OPERATION_FAILED,
		 KMIP_REASON_ITEM_NOT_FOUND, "no such object");
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, ops, 3, &v, items), 0);
	assert_int_equal(items[0].err, -ENOENT);
	assert_false(items[1].answered);
	assert_int_equal(items[1].err, -ENOMSG);
	assert_false(items[2].answered);
	assert_int_equal(items[2].err, -ENOMSG);
	ttlv_buf_free(&b);
}

/* Pending and Undone, which we never ask for, still map cleanly. */
static void test_parse_status_values(void **state)
{
	uint32_t op = KMIP_OP_GET;
	struct kmip_resp_item item;
	struct ttlv_buf b;
	int v;

	rsp_begin(&b, V(1, 2), 1);
	rsp_item(&b, KMIP_OP_GET, 0, KMIP_STATUS_OPERATION_PENDING, 0, NULL);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(item.err, -EINPROGRESS);
	ttlv_buf_free(&b);
	rsp_begin(&b, V(1, 2), 1);
	rsp_item(&b, KMIP_OP_GET, 0, KMIP_STATUS_OPERATION_UNDONE, 0, NULL);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(item.err, -ENOMSG);
	ttlv_buf_free(&b);
	/* A Result Status the specification does not have: a malformed answer. */
	rsp_begin(&b, V(1, 2), 1);
	rsp_item(&b, KMIP_OP_GET, 0, 0x7F, 0, NULL);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), -EBADMSG);
	ttlv_buf_free(&b);
	/* Failed without reason */
	rsp_begin(&b, V(1, 2), 1);
	rsp_item(&b, KMIP_OP_GET, 0, KMIP_STATUS_OPERATION_FAILED, 0, NULL);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(item.err, -EIO);
	ttlv_buf_free(&b);
}

/* Responses that must be refused, each built to break one rule. */
enum hostile {
	H_NOT_RESPONSE, H_NO_HEADER, H_NO_VERSION, H_NO_COUNT, H_COUNT_MISMATCH,
	H_COUNT_ZERO, H_TOO_MANY, H_STATUS_INT, H_NO_STATUS, H_STATUS_BAD,
	H_BAD_ID, H_DUP_ID, H_OP_MISMATCH, H_PAYLOAD_BYTES, H_REASON_TEXT,
	H_HEADER_NOT_STRUCT, H_MESSAGE_BYTES, H_COUNT
};

static void build_hostile(struct ttlv_buf *b, enum hostile h)
{
	int count = h == H_COUNT_MISMATCH ? 3 : h == H_COUNT_ZERO ? 0 : h == H_TOO_MANY ? 3 : 2;
	unsigned i, n = h == H_TOO_MANY ? 3 : 2;

	ttlv_buf_init(b, 1u << 16);
	ttlv_begin(b, h == H_NOT_RESPONSE ? KMIP_TAG_REQUEST_MESSAGE : KMIP_TAG_RESPONSE_MESSAGE);
	if (h == H_HEADER_NOT_STRUCT) {
		ttlv_put_int(b, KMIP_TAG_RESPONSE_HEADER, 1);
	} else if (h != H_NO_HEADER) {
		ttlv_begin(b, KMIP_TAG_RESPONSE_HEADER);
		if (h != H_NO_VERSION) {
			ttlv_begin(b, KMIP_TAG_PROTOCOL_VERSION);
			ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
			ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MINOR, 4);
			ttlv_end(b);
		}
		if (h != H_NO_COUNT)
			ttlv_put_int(b, KMIP_TAG_BATCH_COUNT, count);
		ttlv_end(b);
	}
	for (i = 0; i < n; i++) {
		uint8_t id[4] = { 0, 0, 0, i + 1 };

		if (h == H_BAD_ID && i == 1)
			id[3] = 9;
		if (h == H_DUP_ID)
			id[3] = 1;
		ttlv_begin(b, KMIP_TAG_BATCH_ITEM);
		ttlv_put_enum(b, KMIP_TAG_OPERATION,
			      h == H_OP_MISMATCH && i == 1 ? KMIP_OP_DESTROY : KMIP_OP_GET_ATTRIBUTES);
		ttlv_put_bytes(b, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, id, 4);
		if (h == H_STATUS_INT)
			ttlv_put_int(b, KMIP_TAG_RESULT_STATUS, 0);
		else if (h == H_STATUS_BAD)
			ttlv_put_enum(b, KMIP_TAG_RESULT_STATUS, 7);
		else if (h != H_NO_STATUS)
			ttlv_put_enum(b, KMIP_TAG_RESULT_STATUS, 0);
		if (h == H_REASON_TEXT)
			ttlv_put_str(b, KMIP_TAG_RESULT_REASON, "Item Not Found");
		if (h == H_MESSAGE_BYTES)
			ttlv_put_bytes(b, KMIP_TAG_RESULT_MESSAGE, (const uint8_t *)"x", 1);
		if (h == H_PAYLOAD_BYTES)
			ttlv_put_bytes(b, KMIP_TAG_RESPONSE_PAYLOAD, (const uint8_t *)"x", 1);
		ttlv_end(b);
	}
	ttlv_end(b);
	assert_int_equal(ttlv_buf_finish(b), 0);
}

static void test_parse_hostile(void **state)
{
	const uint32_t ops[3] = { KMIP_OP_GET_ATTRIBUTES, KMIP_OP_GET_ATTRIBUTES,
				  KMIP_OP_GET_ATTRIBUTES };
	struct kmip_resp_item items[3];
	struct ttlv_buf b;
	unsigned h;
	int v;

	for (h = 0; h < H_COUNT; h++) {
		build_hostile(&b, h);
		/* H_TOO_MANY: three answers to a two-item request. */
		if (kmip_response_parse(b.data, b.len, 0, ops, 2, &v, items) != -EBADMSG)
			fail_msg("hostile response %u accepted", h);
		assert_false(items[0].answered);
		ttlv_buf_free(&b);
	}
	/* Not TTLV at all, and truncated. */
	assert_int_equal(kmip_response_parse((const uint8_t *)"hello world, hi!", 16, 0, ops, 1,
					     &v, items), -EBADMSG);
	{
		size_t len, cut;
		uint8_t *msg = unhex(cap7_resp, &len);

		for (cut = 0; cut < len; cut++)
			assert_int_not_equal(kmip_response_parse(msg, cut, 0, ops, 1, &v, items), 0);
		/* The size cap applies. */
		assert_int_equal(kmip_response_parse(msg, len, 128, ops, 1, &v, items), -EMSGSIZE);
		free(msg);
	}
}

/* The hostile responses of build_hostile(), as the client's answer to a two-key state poll. */
static void h_hostile(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	build_hostile(out, *(enum hostile *)f->ctx);
}

/*
 * Every refused response says what was wrong and where (offsets from the
 * first byte of the response; the layout is build_hostile()'s: header at
 * 8, items of 56 bytes at 72 and 128, their Result Status at +40).
 */
static void test_reasons_hostile(void **state)
{
	static const char *const want[H_COUNT] = {
		[H_NOT_RESPONSE] = "Request Message (0x420078) at byte 0: not a Response Message "
				   "(Structure)",
		[H_NO_HEADER] = "Response Message (0x42007B) at byte 0: no Response Header",
		[H_NO_VERSION] = "Response Header (0x42007A) at byte 8: no Protocol Version",
		[H_NO_COUNT] = "Response Header (0x42007A) at byte 8: no Batch Count",
		[H_COUNT_MISMATCH] = "Response Header (0x42007A) at byte 8: Batch Count 3, but 2 "
				     "Batch Items",
		[H_COUNT_ZERO] = "Response Header (0x42007A) at byte 8: Batch Count 0, but 2 Batch "
				 "Items",
		[H_TOO_MANY] = "Batch Item (0x42000F) at byte 184: more Batch Items than the 2 asked",
		[H_STATUS_INT] = "Result Status (0x42007F) at byte 112: an Integer, not an "
				 "Enumeration",
		[H_NO_STATUS] = "Batch Item (0x42000F) at byte 72: no Result Status",
		[H_STATUS_BAD] = "Result Status (0x42007F) at byte 112: 7 is not a Result Status "
				 "(0 to 3)",
		[H_BAD_ID] = "Batch Item (0x42000F) at byte 128: its Unique Batch Item ID names no "
			     "item of the request",
		[H_DUP_ID] = "Batch Item (0x42000F) at byte 128: answers request item 1 a second "
			     "time",
		[H_OP_MISMATCH] = "Batch Item (0x42000F) at byte 128: answers Destroy, the request "
				  "item was Get Attributes",
		[H_PAYLOAD_BYTES] = "Response Payload (0x42007C) at byte 128: a Byte String, not a "
				    "Structure",
		[H_REASON_TEXT] = "Result Reason (0x42007E) at byte 128: a Text String, not an "
				  "Enumeration",
		[H_HEADER_NOT_STRUCT] = "Response Header (0x42007A) at byte 8: an Integer, not a "
					"Structure",
		[H_MESSAGE_BYTES] = "Result Message (0x42007D) at byte 128: a Byte String, not a "
				    "Text String",
	};
	static const char *const uids[2] = { "1", "2" };
	struct kmip_client *c;
	struct fake f;
	enum hostile h;
	int states[2], errs[2];
	char full[300];

	for (h = 0; h < H_COUNT; h++) {
		c = fake_client(&f, h_hostile, V(1, 4));
		f.ctx = &h;
		assert_int_equal(kmip_get_states(c, uids, 2, states, errs), -EBADMSG);
		snprintf(full, sizeof(full), "malformed response: %s", want[h]);
		assert_string_equal(kmip_last_error(c), full);
		assert_int_equal(kmip_last_failure(c), KMIP_FAILURE_RESPONSE);
		assert_null(kmip_last_failure_step(c));
		kmip_client_free(c);
		fake_reset(&f);
	}
}

/* Flip every byte of the real captures through the whole parse path: never a crash. */
static void test_parse_mutations(void **state)
{
	static const char *const caps[] = { cap2_resp, cap7_resp };
	uint32_t ops[2] = { KMIP_OP_GET_ATTRIBUTES, KMIP_OP_GET };
	struct kmip_resp_item item;
	struct kmip_attrs a;
	struct kmip_object o;
	struct kmip_uid_list l;
	size_t c, i, len;
	unsigned bit;
	int v;

	for (c = 0; c < 2; c++) {
		uint8_t *msg = unhex(caps[c], &len);

		for (i = 0; i < len; i++) {
			for (bit = 0; bit < 8; bit += 3) {
				msg[i] ^= (uint8_t)(1u << bit);
				if (kmip_response_parse(msg, len, 0, &ops[c], 1, &v, &item) == 0 &&
				    item.has_payload) {
					if (kmip_parse_get_attributes(&item.payload, &a) == 0)
						assert_true(strlen(a.uid) <= KMIP_UID_MAX);
					if (kmip_parse_get(&item.payload, &o) == 0) {
						assert_true(o.material_len > 0);
						kmip_object_clear(&o);
					}
					if (kmip_parse_locate(&item.payload, &l) == 0)
						kmip_uid_list_free(&l);
				}
				msg[i] ^= (uint8_t)(1u << bit);
			}
		}
		free(msg);
	}
	assert_int_equal(secmem_in_use(NULL), 0);
}

/* Get responses: both Key Value shapes, wrapping data, and broken ones. */
static void put_get_payload(struct ttlv_buf *b, int kv_shape, bool kwd, size_t mat_len)
{
	static uint8_t mat[KMIP_MATERIAL_MAX + 8];

	memset(mat, 0xA5, sizeof(mat));
	ttlv_begin(b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_enum(b, KMIP_TAG_OBJECT_TYPE, KMIP_OBJ_SYMMETRIC_KEY);
	ttlv_put_str(b, KMIP_TAG_UNIQUE_IDENTIFIER, "3");
	ttlv_begin(b, KMIP_TAG_SYMMETRIC_KEY);
	ttlv_begin(b, KMIP_TAG_KEY_BLOCK);
	ttlv_put_enum(b, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KFT_RAW);
	switch (kv_shape) {
	case 0:		/* Byte String, as the spec prose says for wrapped keys */
		ttlv_put_bytes(b, KMIP_TAG_KEY_VALUE, mat, mat_len);
		break;
	case 1:		/* Structure {Key Material} */
		ttlv_begin(b, KMIP_TAG_KEY_VALUE);
		ttlv_put_bytes(b, KMIP_TAG_KEY_MATERIAL, mat, mat_len);
		ttlv_end(b);
		break;
	case 2:		/* Transparent Symmetric Key */
		ttlv_begin(b, KMIP_TAG_KEY_VALUE);
		ttlv_begin(b, KMIP_TAG_KEY_MATERIAL);
		ttlv_put_bytes(b, KMIP_TAG_KEY, mat, mat_len);
		ttlv_end(b);
		ttlv_end(b);
		break;
	case 3:		/* Structure without Key Material */
		ttlv_begin(b, KMIP_TAG_KEY_VALUE);
		ttlv_put_int(b, 0x540001, 1);
		ttlv_end(b);
		break;
	default:	/* Key Value as text */
		ttlv_put_str(b, KMIP_TAG_KEY_VALUE, "key");
		break;
	}
	ttlv_put_enum(b, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_ALG_AES);
	ttlv_put_int(b, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	if (kwd) {
		ttlv_begin(b, KMIP_TAG_KEY_WRAPPING_DATA);
		ttlv_put_enum(b, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAP_ENCRYPT);
		ttlv_begin(b, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_put_str(b, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
		ttlv_begin(b, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		ttlv_put_enum(b, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_BCM_NIST_KEY_WRAP);
		ttlv_end(b);
		ttlv_end(b);
		ttlv_put_enum(b, KMIP_TAG_ENCODING_OPTION, KMIP_ENCODING_NONE);
		ttlv_end(b);
	}
	ttlv_end(b);
	ttlv_end(b);
	ttlv_end(b);
}

static int parse_get_shape(int shape, bool kwd, size_t mat_len, struct kmip_object *o)
{
	uint32_t op = KMIP_OP_GET;
	struct kmip_resp_item item;
	struct ttlv_buf b;
	int v, r;

	rsp_begin(&b, V(1, 2), 1);
	rsp_item(&b, KMIP_OP_GET, 0, 0, 0, NULL);
	put_get_payload(&b, shape, kwd, mat_len);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	r = kmip_parse_get(&item.payload, o);
	ttlv_buf_free(&b);
	return r;
}

static void test_parse_get_shapes(void **state)
{
	struct kmip_object o;

	assert_int_equal(parse_get_shape(0, true, 40, &o), 0);
	assert_true(o.wrapped);
	assert_int_equal(o.wrap_mode, KMIP_BCM_NIST_KEY_WRAP);
	assert_string_equal(o.wrap_kek_uid, "1");
	assert_int_equal(o.material_len, 40);
	kmip_object_clear(&o);
	assert_int_equal(parse_get_shape(1, true, 40, &o), 0);
	assert_true(o.wrapped);
	assert_int_equal(o.material_len, 40);
	kmip_object_clear(&o);
	assert_int_equal(parse_get_shape(2, false, 32, &o), 0);
	assert_false(o.wrapped);
	assert_int_equal(o.material_len, 32);
	kmip_object_clear(&o);
	assert_int_equal(parse_get_shape(3, false, 32, &o), -EBADMSG);
	assert_int_equal(parse_get_shape(4, false, 32, &o), -EBADMSG);
	assert_int_equal(parse_get_shape(1, false, 0, &o), -EBADMSG);
	assert_int_equal(parse_get_shape(1, false, KMIP_MATERIAL_MAX + 1, &o), -EBADMSG);
	assert_null(o.material);
	assert_int_equal(secmem_in_use(NULL), 0);
}

static void test_parse_locate(void **state)
{
	uint32_t op = KMIP_OP_LOCATE;
	struct kmip_resp_item item;
	struct kmip_uid_list l;
	struct ttlv_buf b;
	char uid[16];
	unsigned i;
	int v;

	/* Huge list: refused, never truncated silently. */
	rsp_begin(&b, V(1, 4), 1);
	rsp_item(&b, KMIP_OP_LOCATE, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	for (i = 0; i < KMIP_LOCATE_MAX + 1; i++) {
		snprintf(uid, sizeof(uid), "%u", i);
		ttlv_put_str(&b, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	}
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), -EMSGSIZE);
	assert_int_equal(kmip_response_parse(b.data, b.len, 1u << 20, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_locate(&item.payload, &l), -E2BIG);
	assert_int_equal(l.n, 0);
	assert_null(l.uids);
	ttlv_buf_free(&b);

	/* Located Items, unknown tags, and the largest list accepted. */
	rsp_begin(&b, V(1, 4), 1);
	rsp_item(&b, KMIP_OP_LOCATE, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_int(&b, KMIP_TAG_LOCATED_ITEMS, 9000);
	ttlv_put_int(&b, 0x540002, 9000);
	for (i = 0; i < KMIP_LOCATE_MAX; i++) {
		snprintf(uid, sizeof(uid), "%u", i);
		ttlv_put_str(&b, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	}
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 1u << 20, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_locate(&item.payload, &l), 0);
	assert_int_equal(l.n, KMIP_LOCATE_MAX);
	assert_int_equal(l.located_items, 9000);
	assert_string_equal(l.uids[0], "0");
	assert_string_equal(l.uids[KMIP_LOCATE_MAX - 1], "4095");
	kmip_uid_list_free(&l);
	ttlv_buf_free(&b);

	/* A UID of the wrong type, an empty one. */
	rsp_begin(&b, V(1, 4), 1);
	rsp_item(&b, KMIP_OP_LOCATE, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_bytes(&b, KMIP_TAG_UNIQUE_IDENTIFIER, (const uint8_t *)"1", 1);
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_locate(&item.payload, &l), -EBADMSG);
	ttlv_buf_free(&b);
	rsp_begin(&b, V(1, 4), 1);
	rsp_item(&b, KMIP_OP_LOCATE, 0, 0, 0, NULL);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(&b, KMIP_TAG_UNIQUE_IDENTIFIER, "");
	ttlv_end(&b);
	ttlv_end(&b);
	rsp_end(&b);
	assert_int_equal(kmip_response_parse(b.data, b.len, 0, &op, 1, &v, &item), 0);
	assert_int_equal(kmip_parse_locate(&item.payload, &l), -EBADMSG);
	ttlv_buf_free(&b);
}

/* ============================================================== errors */

static void test_reason_names_errno(void **state)
{
	/* -ECANCELED means this reason only; an unanswered batch item is -ENOMSG. */
	assert_int_equal(kmip_reason_errno(0x09), -ECANCELED);
	assert_string_equal(kmip_reason_name(1), "Item Not Found");
	assert_string_equal(kmip_reason_name(0x37), "Object Not Found");
	assert_string_equal(kmip_reason_name(0x43), "Wrong Key Lifecycle State");
	assert_string_equal(kmip_reason_name(0x100), "General Failure");
	assert_string_equal(kmip_reason_name(0x80000001u), "Vendor Extension Reason");
	assert_string_equal(kmip_reason_name(0x9999), "Unknown Reason");
	assert_int_equal(kmip_reason_errno(0x01), -ENOENT);
	assert_int_equal(kmip_reason_errno(0x37), -ENOENT);
	assert_int_equal(kmip_reason_errno(0x36), -ENOENT);
	assert_int_equal(kmip_reason_errno(0x0C), -EPERM);
	assert_int_equal(kmip_reason_errno(0x43), -EKEYREVOKED);
	assert_int_equal(kmip_reason_errno(0x05), -EOPNOTSUPP);
	assert_int_equal(kmip_reason_errno(0x04), -EPROTO);
	assert_int_equal(kmip_reason_errno(0x03), -EKEYREJECTED);
	assert_int_equal(kmip_reason_errno(0x42), -ENOKEY);
	assert_int_equal(kmip_reason_errno(0x100), -EIO);
	assert_int_equal(kmip_reason_errno(0x12345), -EIO);
	assert_string_equal(kmip_state_name(1), "Pre-Active");
	assert_string_equal(kmip_state_name(6), "Destroyed Compromised");
	assert_string_equal(kmip_state_name(0), "Unknown State");
	assert_string_equal(kmip_state_name(7), "Unknown State");
	assert_string_equal(kmip_operation_name(KMIP_OP_REKEY), "Re-key");
	assert_string_equal(kmip_operation_name(0x3B), "Ping");
}

/* ========================================================== key wrap KAT */

struct wrap_kat {
	uint32_t mode;
	const char *kek, *plain, *wrapped;
};

static const struct wrap_kat wrap_kats[] = {
	/* RFC 3394 4.1: 128-bit data, 128-bit KEK */
	{ KMIP_BCM_NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F",
	  "00112233445566778899AABBCCDDEEFF",
	  "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5" },
	/* 4.2: 128-bit data, 192-bit KEK */
	{ KMIP_BCM_NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F1011121314151617",
	  "00112233445566778899AABBCCDDEEFF",
	  "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D" },
	/* 4.3: 128-bit data, 256-bit KEK */
	{ KMIP_BCM_NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	  "00112233445566778899AABBCCDDEEFF",
	  "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7" },
	/* 4.4: 192-bit data, 192-bit KEK */
	{ KMIP_BCM_NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F1011121314151617",
	  "00112233445566778899AABBCCDDEEFF0001020304050607",
	  "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2" },
	/* 4.5: 192-bit data, 256-bit KEK */
	{ KMIP_BCM_NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	  "00112233445566778899AABBCCDDEEFF0001020304050607",
	  "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1" },
	/* 4.6: 256-bit data, 256-bit KEK */
	{ KMIP_BCM_NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	  "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
	  "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21" },
	/* RFC 5649 6: 20 octets and 7 octets, 192-bit KEK */
	{ KMIP_BCM_AES_KEY_WRAP_PADDING, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
	  "c37b7e6492584340bed12207808941155068f738",
	  "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a" },
	{ KMIP_BCM_AES_KEY_WRAP_PADDING, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
	  "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f" },
};

static void test_wrap_kat(void **state)
{
	size_t i, kl, pl, wl, ol;
	uint8_t *kek, *plain, *wrapped, *out;

	for (i = 0; i < sizeof(wrap_kats) / sizeof(wrap_kats[0]); i++) {
		const struct wrap_kat *t = &wrap_kats[i];

		kek = unhex(t->kek, &kl);
		plain = unhex(t->plain, &pl);
		wrapped = unhex(t->wrapped, &wl);
		assert_int_equal(kmip_unwrap(t->mode, kek, kl, wrapped, wl, &out, &ol), 0);
		assert_int_equal(ol, pl);
		assert_memory_equal(out, plain, pl);
		assert_int_equal(secmem_size(out), wl + 16);	/* locked memory */
		secmem_free(out);
		assert_int_equal(kmip_wrap(t->mode, kek, kl, plain, pl, &out, &ol), 0);
		assert_int_equal(ol, wl);
		assert_memory_equal(out, wrapped, wl);
		secmem_free(out);
		/* Any corruption fails the integrity check. */
		wrapped[wl / 2] ^= 1;
		assert_int_equal(kmip_unwrap(t->mode, kek, kl, wrapped, wl, &out, &ol), -EBADMSG);
		assert_null(out);
		wrapped[wl / 2] ^= 1;
		kek[0] ^= 0x80;
		assert_int_equal(kmip_unwrap(t->mode, kek, kl, wrapped, wl, &out, &ol), -EBADMSG);
		free(kek);
		free(plain);
		free(wrapped);
	}
	assert_int_equal(secmem_in_use(NULL), 0);
}

static void test_wrap_bad_args(void **state)
{
	static const uint8_t kek[32], data[48];
	uint8_t *out;
	size_t ol;

	assert_int_equal(kmip_unwrap(KMIP_BCM_NIST_KEY_WRAP, kek, 15, data, 24, &out, &ol), -EINVAL);
	assert_int_equal(kmip_unwrap(KMIP_BCM_NIST_KEY_WRAP, kek, 32, data, 16, &out, &ol), -EINVAL);
	assert_int_equal(kmip_unwrap(KMIP_BCM_NIST_KEY_WRAP, kek, 32, data, 25, &out, &ol), -EINVAL);
	assert_int_equal(kmip_unwrap(KMIP_BCM_AES_KEY_WRAP_PADDING, kek, 32, data, 8, &out, &ol),
			 -EINVAL);
	assert_int_equal(kmip_unwrap(KMIP_BCM_CBC, kek, 32, data, 24, &out, &ol), -EOPNOTSUPP);
	assert_int_equal(kmip_unwrap(KMIP_BCM_NIST_KEY_WRAP, kek, 32, data, 0, &out, &ol), -EINVAL);
	assert_int_equal(kmip_wrap(KMIP_BCM_NIST_KEY_WRAP, kek, 32, data, 12, &out, &ol), -EINVAL);
	assert_null(out);
	/* all-zero input is not a valid wrapping */
	assert_int_equal(kmip_unwrap(KMIP_BCM_NIST_KEY_WRAP, kek, 32, data, 40, &out, &ol), -EBADMSG);
}

/* ============================================================ negotiation */

/* PyKMIP 0.10: 2.1 unknown (error in a 1.0 response); 1.0..2.0 spoken. */
static void h_pykmip_versions(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	static const int mine[] = { V(2, 0), V(1, 4), V(1, 3), V(1, 2), V(1, 1), V(1, 0) };
	struct ttlv_item payload, x;
	struct ttlv_iter it;
	uint32_t op;
	unsigned id;
	int v = req_version(req);
	size_t i;

	if (v == V(2, 1)) {
		rsp_error(out, V(1, 0), 0, KMIP_REASON_INVALID_MESSAGE,
			  "Error parsing request message. See server logs for more information.");
		return;
	}
	req_item(req, 0, &op, &payload, &id);
	if (op == KMIP_OP_DISCOVER_VERSIONS) {
		if (v < V(1, 1)) {
			rsp_error(out, v, op, KMIP_REASON_OPERATION_NOT_SUPPORTED,
				  "DiscoverVersions is not supported by KMIP 1.0");
			return;
		}
		rsp_begin(out, v, 1);
		rsp_item(out, op, 0, 0, 0, NULL);
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		/* its answer keeps the client's order, dropping what it lacks */
		ttlv_iter_init(&it, &payload);
		while (ttlv_iter_next(&it, &x)) {
			int pv;
			int32_t ma, mi;

			assert_int_equal(ttlv_find_int(&x, KMIP_TAG_PROTOCOL_VERSION_MAJOR, &ma), 0);
			assert_int_equal(ttlv_find_int(&x, KMIP_TAG_PROTOCOL_VERSION_MINOR, &mi), 0);
			pv = V(ma, mi);
			for (i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
				if (mine[i] != pv)
					continue;
				ttlv_begin(out, KMIP_TAG_PROTOCOL_VERSION);
				ttlv_put_int(out, KMIP_TAG_PROTOCOL_VERSION_MAJOR, ma);
				ttlv_put_int(out, KMIP_TAG_PROTOCOL_VERSION_MINOR, mi);
				ttlv_end(out);
			}
		}
		ttlv_end(out);
		ttlv_end(out);
		rsp_end(out);
		return;
	}
	/* Anything else: Get Attributes State Active for the UID asked. */
	rsp_begin(out, v, 1);
	rsp_item(out, op, 0, 0, 0, NULL);
	ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	{
		char uid[64];

		req_uid(&payload, uid, sizeof(uid));
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	}
	ttlv_begin(out, KMIP_TAG_ATTRIBUTES);
	ttlv_put_enum(out, KMIP_TAG_STATE, KMIP_STATE_ACTIVE);
	ttlv_end(out);
	ttlv_end(out);
	ttlv_end(out);
	rsp_end(out);
}

static void test_negotiate_pykmip(void **state)
{
	struct kmip_attrs a;
	struct ttlv_item root;
	struct kmip_client *c;
	struct fake f;
	int vers[8];
	size_t n;

	c = fake_client(&f, h_pykmip_versions, 0);
	assert_int_equal(kmip_get_attributes(c, "7", KMIP_ATTR_STATE, &a), 0);
	assert_int_equal(a.state, KMIP_STATE_ACTIVE);
	assert_int_equal(kmip_client_version(c), V(2, 0));
	/* 2.1 header refused, 1.4 header answered, then the real request in 2.0 */
	assert_int_equal(f.calls, 3);
	assert_int_equal(ttlv_decode(f.req[0], f.req_len[0], NULL, &root), 0);
	assert_int_equal(req_version(&root), V(2, 1));
	assert_int_equal(ttlv_decode(f.req[1], f.req_len[1], NULL, &root), 0);
	assert_int_equal(req_version(&root), V(1, 4));
	assert_int_equal(ttlv_decode(f.req[2], f.req_len[2], NULL, &root), 0);
	assert_int_equal(req_version(&root), V(2, 0));
	/* negotiated once */
	assert_int_equal(kmip_get_attributes(c, "7", KMIP_ATTR_STATE, &a), 0);
	assert_int_equal(f.calls, 4);
	assert_int_equal(kmip_discover_versions(c, vers, 8, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(vers[0], V(2, 0));
	assert_int_equal(vers[5], V(1, 0));
	kmip_client_free(c);
	fake_reset(&f);

	/* Pinned: no Discover Versions at all. */
	c = fake_client(&f, h_pykmip_versions, V(1, 2));
	assert_int_equal(kmip_get_attributes(c, "7", KMIP_ATTR_STATE, &a), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(ttlv_decode(f.req[0], f.req_len[0], NULL, &root), 0);
	assert_int_equal(req_version(&root), V(1, 2));
	kmip_client_free(c);
	fake_reset(&f);
}

static void h_no_discover(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	uint32_t op;
	unsigned id;
	struct ttlv_item payload;

	req_item(req, 0, &op, &payload, &id);
	if (op == KMIP_OP_DISCOVER_VERSIONS) {
		rsp_error(out, V(1, 0), op, KMIP_REASON_OPERATION_NOT_SUPPORTED, NULL);
		return;
	}
	assert_int_equal(req_version(req), V(1, 0));
	rsp_begin(out, V(1, 0), 1);
	rsp_item(out, op, 0, 0, 0, NULL);
	ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, "9");
	ttlv_end(out);
	ttlv_end(out);
	rsp_end(out);
}

/* A server that answers nothing but garbage. */
static void h_garbage(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	ttlv_buf_init(out, 64);
	ttlv_put_str(out, 0x420001, "garbage");
}

/*
 * PyKMIP's quirk (a 2.1 request gets Invalid Message in a 1.0 response),
 * then answers whose payload is broken (mode 0: a Protocol Version without
 * Minor) or that offer only versions we do not speak (mode 1); mode 2:
 * the server answers Get with a failure whose message is long and hostile.
 */
static void h_quirk(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	int mode = *(int *)f->ctx;
	struct ttlv_item payload;
	uint32_t op;
	unsigned id;
	int v = req_version(req);

	if (v == V(2, 1)) {
		rsp_error(out, V(1, 0), 0, KMIP_REASON_INVALID_MESSAGE,
			  "Error parsing request message. See server logs for more information.");
		return;
	}
	req_item(req, 0, &op, &payload, &id);
	if (op != KMIP_OP_DISCOVER_VERSIONS) {
		char msg[5000];
		size_t i;

		for (i = 0; i < sizeof(msg) - 1; i++)
			msg[i] = i % 50 == 7 ? '\x1b' : (char)('a' + i % 26);
		msg[sizeof(msg) - 1] = '\0';
		rsp_error(out, v, op, KMIP_REASON_ITEM_NOT_FOUND, msg);
		return;
	}
	rsp_begin(out, v, 1);
	rsp_item(out, op, 0, 0, 0, NULL);
	ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_begin(out, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_put_int(out, KMIP_TAG_PROTOCOL_VERSION_MAJOR, mode == 0 ? 1 : 3);
	if (mode != 0)
		ttlv_put_int(out, KMIP_TAG_PROTOCOL_VERSION_MINOR, mode == 1 ? 0 : 4);
	ttlv_end(out);
	if (mode == 2) {
		ttlv_begin(out, KMIP_TAG_PROTOCOL_VERSION);
		ttlv_put_int(out, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
		ttlv_put_int(out, KMIP_TAG_PROTOCOL_VERSION_MINOR, 4);
		ttlv_end(out);
	}
	ttlv_end(out);
	ttlv_end(out);
	rsp_end(out);
}

/* A failed negotiation is charged to itself, with its reason, never to the operation. */
static void test_negotiate_charged(void **state)
{
	struct kmip_client *c;
	struct kmip_object o;
	struct fake f;
	const char *e;
	size_t i;
	int mode;

	/* Header 8..88, Batch Item at 88, Response Payload at 128, Protocol Version at 136. */
	mode = 0;
	c = fake_client(&f, h_quirk, 0);
	f.ctx = &mode;
	assert_int_equal(kmip_get(c, "1", NULL, &o), -EBADMSG);
	assert_int_equal(f.calls, 3);		/* 2.1, 1.4, 1.1: no Get */
	assert_string_equal(kmip_last_failure_step(c), "negotiating the KMIP version with the server");
	assert_string_equal(kmip_last_error(c), "malformed response: Protocol Version (0x420069) at "
			    "byte 136: no Protocol Version Minor");
	assert_int_equal(kmip_last_failure(c), KMIP_FAILURE_RESPONSE);
	kmip_client_free(c);
	fake_reset(&f);

	mode = 1;
	c = fake_client(&f, h_quirk, 0);
	f.ctx = &mode;
	assert_int_equal(kmip_get(c, "1", NULL, &o), -EPROTONOSUPPORT);
	assert_int_equal(f.calls, 2);		/* 2.1, then 1.4 answered */
	assert_string_equal(kmip_last_failure_step(c), "negotiating the KMIP version with the server");
	assert_string_equal(kmip_last_error(c), "the server supports none of the KMIP versions 1.0 "
			    "to 2.1 (it offers 3.0)");
	kmip_client_free(c);
	fake_reset(&f);

	/* Negotiated (1.4); the Get then fails on its own: charged to it, text bounded. */
	mode = 2;
	c = fake_client(&f, h_quirk, 0);
	f.ctx = &mode;
	assert_int_equal(kmip_get(c, "1", NULL, &o), -ENOENT);
	assert_int_equal(kmip_client_version(c), V(1, 4));
	assert_int_equal(kmip_get(c, "1", NULL, &o), -ENOENT);
	assert_null(kmip_last_failure_step(c));
	assert_int_equal(kmip_last_failure(c), KMIP_FAILURE_SERVER);
	e = kmip_last_error(c);
	assert_true(strlen(e) <= KMIP_RESULT_MESSAGE_MAX + 16);
	assert_int_equal(strncmp(e, "Item Not Found: abcdefg?ijk", 27), 0);
	for (i = 0; e[i]; i++)
		assert_true(e[i] >= 0x20 && e[i] < 0x7f);
	assert_int_equal(strlen(kmip_last_result(c)->message), KMIP_RESULT_MESSAGE_MAX);
	kmip_client_free(c);
	fake_reset(&f);
}

/* kmip_failure_text(): the server's words only as such, and the step that failed, not the operation. */
static void test_failure_text(void **state)
{
	char buf[KMIP_FAILURE_TEXT_SIZE], tiny[8];
	struct kmip_client *c;
	struct kmip_object o;
	struct fake f;
	int mode;

	/* No client, or no answer: the errno's text. */
	assert_string_equal(kmip_failure_text(NULL, -ECONNREFUSED, buf, sizeof(buf), "Get of key '%s'",
					      "k1"), "Get of key 'k1' failed: Connection refused");
	assert_string_equal(kmip_failure_reason(NULL, -EKEYREJECTED, buf, sizeof(buf)),
			    "TLS or authentication failure");
	assert_string_equal(kmip_failure_text(NULL, -EIO, tiny, sizeof(tiny), "Destroy"), "Destroy");
	assert_ptr_equal(kmip_failure_reason(NULL, -EIO, tiny, 0), tiny);

	/* Our reason for refusing the answers, charged to the negotiation: no "server says". */
	mode = 0;
	c = fake_client(&f, h_quirk, 0);
	f.ctx = &mode;
	assert_int_equal(kmip_get(c, "1", NULL, &o), -EBADMSG);
	assert_string_equal(kmip_failure_text(c, -EBADMSG, buf, sizeof(buf), "Get of key '%s'", "1"),
			    "negotiating the KMIP version with the server failed: malformed response: "
			    "Protocol Version (0x420069) at byte 136: no Protocol Version Minor; "
			    "Get of key '1' was not sent");
	kmip_client_free(c);
	fake_reset(&f);

	/* Negotiated, then the server's own failure: its words, charged to the operation. */
	mode = 2;
	c = fake_client(&f, h_quirk, 0);
	f.ctx = &mode;
	assert_int_equal(kmip_get(c, "1", NULL, &o), -ENOENT);
	kmip_failure_text(c, -ENOENT, buf, sizeof(buf), "Get of key '%s'", "1");
	assert_int_equal(strncmp(buf, "Get of key '1' failed: server says Item Not Found: abcdefg?ijk",
				 61), 0);
	kmip_client_free(c);
	fake_reset(&f);

	/* A connection refused while negotiating: the errno, charged to the negotiation. */
	c = fake_client(&f, h_no_discover, 0);
	f.fail_with = -ECONNREFUSED;
	assert_int_equal(kmip_activate(c, "9"), -ECONNREFUSED);
	assert_string_equal(kmip_failure_text(c, -ECONNREFUSED, buf, sizeof(buf), "Activate"),
			    "negotiating the KMIP version with the server failed: Connection refused; "
			    "Activate was not sent");
	kmip_client_free(c);
	fake_reset(&f);
}

static void test_negotiate_fallback(void **state)
{
	struct kmip_client *c;
	struct fake f;

	c = fake_client(&f, h_no_discover, 0);
	assert_int_equal(kmip_activate(c, "9"), 0);
	assert_int_equal(kmip_client_version(c), V(1, 0));
	assert_int_equal(f.calls, 4);	/* 2.1, 1.4, 1.1, then Activate */
	kmip_client_free(c);
	fake_reset(&f);

	/*
	 * A server that answers nothing readable is no 1.0 server: the
	 * negotiation fails, says why, and is charged for it; the operation
	 * asked for is never sent.
	 */
	c = fake_client(&f, h_garbage, 0);
	assert_int_equal(kmip_client_version(c), -EBADMSG);
	assert_int_equal(kmip_destroy(c, "9"), -EBADMSG);
	assert_int_equal(f.calls, 6);	/* twice 2.1, 1.4, 1.1: no Destroy */
	assert_string_equal(kmip_last_failure_step(c), "negotiating the KMIP version with the server");
	assert_string_equal(kmip_last_error(c), "malformed response: Activation Date (0x420001) at "
			    "byte 0: not a Response Message (Structure)");
	assert_int_equal(kmip_last_failure(c), KMIP_FAILURE_RESPONSE);
	kmip_client_free(c);
	fake_reset(&f);

	/* No server: the error, not a version; negotiated again later. */
	c = fake_client(&f, h_no_discover, 0);
	f.fail_with = -ECONNREFUSED;
	assert_int_equal(kmip_activate(c, "9"), -ECONNREFUSED);
	assert_int_equal(f.calls, 1);
	assert_string_equal(kmip_last_error(c), "");
	assert_int_equal(kmip_last_failure(c), KMIP_FAILURE_NONE);
	assert_string_equal(kmip_last_failure_step(c), "negotiating the KMIP version with the server");
	f.fail_with = 0;
	assert_int_equal(kmip_client_version(c), V(1, 0));
	assert_null(kmip_last_failure_step(c));
	assert_string_equal(kmip_last_error(c), "");	/* the 1.0 fallback is no failure */
	kmip_client_free(c);
	fake_reset(&f);

	assert_int_equal(kmip_client_new_custom(fake_rt, &f, V(1, 5), &c), -EINVAL);
	assert_int_equal(kmip_client_new_custom(NULL, &f, 0, &c), -EINVAL);
}

/* ============================================================ operations */

/* A small scripted server: objects "1".."n" with states, one per test. */
struct srv {
	int version;			/* answer in this version */
	uint32_t reason;		/* fail every request with this, 0: succeed */
	const char *message;
	uint8_t kek[32];
	int states[8];			/* by uid 0..7; 0: absent */
	bool ignore_wrap;		/* answer Get in the clear despite a KWS */
	bool stop_on_error;		/* PyKMIP default batch behaviour */
	bool reverse;			/* answer batch items in reverse order */
	bool wrong_uid;			/* echo another UID */
	unsigned max_items;		/* answer at most this many items of a batch; 0: all */
	int canceled;			/* uid 1..7 whose items fail with Operation Canceled
					 * By Requester; 0: none */
	unsigned requests;		/* request messages received */
	char last_uid[64];
	uint32_t last_op;
	int64_t last_date;
};

static void srv_payload_uid(struct ttlv_buf *out, const char *uid)
{
	ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_end(out);
}

static void srv_item(struct srv *s, struct ttlv_buf *out, uint32_t op, unsigned id,
		     const struct ttlv_item *payload)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	struct ttlv_item x;
	char uid[64] = "";
	int idx;

	if (ttlv_find(payload, KMIP_TAG_UNIQUE_IDENTIFIER, &x) == 0)
		req_uid(payload, uid, sizeof(uid));
	strcpy(s->last_uid, uid);
	s->last_op = op;
	idx = uid[0] >= '0' && uid[0] <= '7' && !uid[1] ? uid[0] - '0' : -1;
	if (idx > 0 && idx == s->canceled) {
		rsp_item(out, op, id, KMIP_STATUS_OPERATION_FAILED,
			 KMIP_REASON_OPERATION_CANCELED_BY_REQUESTER, "Canceled");
		ttlv_end(out);
		return;
	}
	if (s->reason || (uid[0] && (idx < 0 || !s->states[idx]))) {
		rsp_item(out, op, id, KMIP_STATUS_OPERATION_FAILED,
			 s->reason ? s->reason : KMIP_REASON_ITEM_NOT_FOUND,
			 s->message ? s->message : "Could not locate object");
		ttlv_end(out);
		return;
	}
	if (s->wrong_uid)
		strcpy(uid, "other");
	rsp_item(out, op, id, 0, 0, NULL);
	switch (op) {
	case KMIP_OP_CREATE:
	case KMIP_OP_REGISTER:
		srv_payload_uid(out, "5");
		s->states[5] = KMIP_STATE_PRE_ACTIVE;
		break;
	case KMIP_OP_ACTIVATE:
		s->states[idx] = KMIP_STATE_ACTIVE;
		srv_payload_uid(out, uid);
		break;
	case KMIP_OP_REVOKE:
		if (ttlv_find(payload, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, &x) == 0)
			assert_int_equal(ttlv_get_datetime(&x, &s->last_date), 0);
		s->states[idx] = KMIP_STATE_DEACTIVATED;
		srv_payload_uid(out, uid);
		break;
	case KMIP_OP_DESTROY:
		s->states[idx] = 0;
		srv_payload_uid(out, uid);
		break;
	case KMIP_OP_GET_ATTRIBUTES:
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		if (s->version >= V(2, 0)) {
			ttlv_begin(out, KMIP_TAG_ATTRIBUTES);
			ttlv_put_enum(out, KMIP_TAG_OBJECT_TYPE, KMIP_OBJ_SECRET_DATA);
			ttlv_put_enum(out, KMIP_TAG_STATE, (uint32_t)s->states[idx]);
			ttlv_begin(out, KMIP_TAG_NAME);
			ttlv_put_str(out, KMIP_TAG_NAME_VALUE, "vmk-host1");
			ttlv_put_enum(out, KMIP_TAG_NAME_TYPE, 1);
			ttlv_end(out);
			ttlv_end(out);
		} else {
			ttlv_begin(out, KMIP_TAG_ATTRIBUTE);
			ttlv_put_str(out, KMIP_TAG_ATTRIBUTE_NAME, "State");
			ttlv_put_enum(out, KMIP_TAG_ATTRIBUTE_VALUE, (uint32_t)s->states[idx]);
			ttlv_end(out);
			ttlv_begin(out, KMIP_TAG_ATTRIBUTE);
			ttlv_put_str(out, KMIP_TAG_ATTRIBUTE_NAME, "Object Type");
			ttlv_put_enum(out, KMIP_TAG_ATTRIBUTE_VALUE, KMIP_OBJ_SECRET_DATA);
			ttlv_end(out);
		}
		ttlv_end(out);
		break;
	case KMIP_OP_LOCATE:
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, "2");
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, "3");
		ttlv_end(out);
		break;
	case KMIP_OP_GET: {
		uint8_t *w = NULL;
		size_t wl = 0;
		bool wrap = ttlv_find(payload, KMIP_TAG_KEY_WRAPPING_SPECIFICATION, &x) == 0 &&
			    !s->ignore_wrap;

		if (wrap)
			assert_int_equal(kmip_wrap(KMIP_BCM_NIST_KEY_WRAP, s->kek, 32, key, 32,
						   &w, &wl), 0);
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_enum(out, KMIP_TAG_OBJECT_TYPE, KMIP_OBJ_SYMMETRIC_KEY);
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		ttlv_begin(out, KMIP_TAG_SYMMETRIC_KEY);
		ttlv_begin(out, KMIP_TAG_KEY_BLOCK);
		ttlv_put_enum(out, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KFT_RAW);
		ttlv_begin(out, KMIP_TAG_KEY_VALUE);
		ttlv_put_bytes(out, KMIP_TAG_KEY_MATERIAL, wrap ? w : key, wrap ? wl : 32);
		ttlv_end(out);
		ttlv_put_enum(out, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_ALG_AES);
		ttlv_put_int(out, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
		if (wrap) {
			ttlv_begin(out, KMIP_TAG_KEY_WRAPPING_DATA);
			ttlv_put_enum(out, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAP_ENCRYPT);
			ttlv_begin(out, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
			ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
			ttlv_begin(out, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
			ttlv_put_enum(out, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_BCM_NIST_KEY_WRAP);
			ttlv_end(out);
			ttlv_end(out);
			ttlv_put_enum(out, KMIP_TAG_ENCODING_OPTION, KMIP_ENCODING_NONE);
			ttlv_end(out);
		}
		ttlv_end(out);
		ttlv_end(out);
		ttlv_end(out);
		secmem_free(w);
		break;
	}
	case KMIP_OP_ENCRYPT:
	case KMIP_OP_DECRYPT: {
		const uint8_t *d;
		size_t dl;
		uint8_t buf[64];
		size_t i;

		/* "cipher": xor 0x5A, IV chosen as 16 x 0x11 when not given */
		assert_int_equal(ttlv_find_bytes(payload, KMIP_TAG_DATA, &d, &dl), 0);
		assert_true(dl <= sizeof(buf));
		for (i = 0; i < dl; i++)
			buf[i] = d[i] ^ 0x5A;
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		ttlv_put_bytes(out, KMIP_TAG_DATA, buf, dl);
		if (op == KMIP_OP_ENCRYPT &&
		    ttlv_find(payload, KMIP_TAG_IV_COUNTER_NONCE, &x) == -ENOENT)
			ttlv_put_bytes(out, KMIP_TAG_IV_COUNTER_NONCE,
				       (const uint8_t *)"\x11\x11\x11\x11\x11\x11\x11\x11"
				       "\x11\x11\x11\x11\x11\x11\x11\x11", 16);
		ttlv_end(out);
		break;
	}
	case KMIP_OP_QUERY:
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_enum(out, KMIP_TAG_OPERATION, KMIP_OP_CREATE);
		ttlv_put_enum(out, KMIP_TAG_OPERATION, KMIP_OP_GET);
		ttlv_put_enum(out, KMIP_TAG_OBJECT_TYPE, KMIP_OBJ_SECRET_DATA);
		ttlv_put_str(out, KMIP_TAG_VENDOR_IDENTIFICATION, "PyKMIP 0.10.0 Software Server\n\x1b[31m");
		ttlv_begin(out, KMIP_TAG_SERVER_INFORMATION);
		ttlv_put_str(out, 0x540010, "build 7");
		ttlv_put_int(out, 0x540011, 3);
		ttlv_put_str(out, 0x540012, "eu-west");
		ttlv_end(out);
		ttlv_end(out);
		break;
	default:
		break;
	}
	ttlv_end(out);
}

static void h_srv(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	struct srv *s = f->ctx;
	struct ttlv_item payload;
	unsigned n = req_count(req), i, k, answered = 0, id;
	uint32_t op;

	assert_int_equal(req_version(req), s->version);
	s->requests++;
	if (s->max_items && n > s->max_items)
		n = s->max_items;
	/* Count the answers first: a Stop server ends at the first failure. */
	for (i = 0; i < n; i++) {
		struct ttlv_item x;
		char uid[64] = "";
		int idx;

		answered++;
		req_item(req, i, &op, &payload, &id);
		if (ttlv_find(&payload, KMIP_TAG_UNIQUE_IDENTIFIER, &x) < 0)
			continue;
		req_uid(&payload, uid, sizeof(uid));
		idx = uid[0] >= '0' && uid[0] <= '7' && !uid[1] ? uid[0] - '0' : -1;
		if (s->stop_on_error && (idx < 0 || !s->states[idx]))
			break;
	}
	rsp_begin(out, s->version, (int)answered);
	for (k = 0; k < answered; k++) {
		i = s->reverse ? answered - 1 - k : k;
		req_item(req, i, &op, &payload, &id);
		srv_item(s, out, op, id, &payload);
	}
	rsp_end(out);
}

static struct kmip_client *srv_client(struct fake *f, struct srv *s, int version)
{
	struct kmip_client *c;

	s->version = version;
	c = fake_client(f, h_srv, version);
	f->ctx = s;
	return c;
}

static void test_ops_lifecycle(void **state)
{
	static const int versions[] = { V(1, 0), V(1, 2), V(1, 4), V(2, 0), V(2, 1) };
	size_t vi;

	for (vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
		struct kmip_new_object a = { .name = "vmk-host1", .group = "kmipcrypt",
					     .activate = true };
		struct srv s = { .states = { [1] = KMIP_STATE_ACTIVE } };
		struct kmip_revoke rv = { .reason = KMIP_REVOKE_KEY_COMPROMISE };
		struct kmip_attrs at;
		struct kmip_client *c;
		struct fake f;
		char uid[KMIP_UID_SIZE];

		c = srv_client(&f, &s, versions[vi]);
		assert_int_equal(kmip_create(c, 256, &a, uid), 0);
		assert_string_equal(uid, "5");
		assert_int_equal(s.last_op, KMIP_OP_ACTIVATE);
		assert_int_equal(s.states[5], KMIP_STATE_ACTIVE);
		assert_int_equal(kmip_register_secret(c, (const uint8_t *)"secret", 6, &a, uid), 0);
		assert_int_equal(kmip_register_key(c, (const uint8_t *)"0123456789abcdef", 16, NULL,
						   uid), 0);
		assert_int_equal(s.states[5], KMIP_STATE_PRE_ACTIVE);
		assert_int_equal(kmip_get_attributes(c, "5", KMIP_ATTR_STATE | KMIP_ATTR_NAME, &at), 0);
		assert_int_equal(at.state, KMIP_STATE_PRE_ACTIVE);
		assert_int_equal(kmip_activate(c, "5"), 0);
		assert_int_equal(kmip_revoke(c, "5", &rv), 0);
		assert_true(s.last_date > 1600000000);	/* compromise date defaulted to now */
		assert_int_equal(s.states[5], KMIP_STATE_DEACTIVATED);
		assert_int_equal(kmip_destroy(c, "5"), 0);
		assert_int_equal(kmip_get_attributes(c, "5", KMIP_ATTR_STATE, &at), -ENOENT);
		assert_string_equal(kmip_last_error(c), "Item Not Found: Could not locate object");
		assert_int_equal(kmip_last_result(c)->reason, KMIP_REASON_ITEM_NOT_FOUND);
		assert_int_equal(kmip_last_result(c)->op, KMIP_OP_GET_ATTRIBUTES);
		/* a success clears it */
		assert_int_equal(kmip_activate(c, "1"), 0);
		assert_string_equal(kmip_last_error(c), "");
		/* a UID echo that does not match is refused */
		s.wrong_uid = true;
		assert_int_equal(kmip_activate(c, "1"), -EBADMSG);
		assert_int_equal(kmip_get_attributes(c, "1", KMIP_ATTR_STATE, &at), -EBADMSG);
		kmip_client_free(c);
		fake_reset(&f);
	}
}

static void test_ops_errors(void **state)
{
	static const struct {
		uint32_t reason;
		int err;
		const char *name;
	} cases[] = {
		{ KMIP_REASON_ITEM_NOT_FOUND, -ENOENT, "Item Not Found" },
		{ KMIP_REASON_OBJECT_NOT_FOUND, -ENOENT, "Object Not Found" },
		{ KMIP_REASON_PERMISSION_DENIED, -EPERM, "Permission Denied" },
		{ KMIP_REASON_WRONG_KEY_LIFECYCLE_STATE, -EKEYREVOKED, "Wrong Key Lifecycle State" },
		{ KMIP_REASON_OPERATION_NOT_SUPPORTED, -EOPNOTSUPP, "Operation Not Supported" },
		{ KMIP_REASON_INVALID_MESSAGE, -EPROTO, "Invalid Message" },
		{ KMIP_REASON_GENERAL_FAILURE, -EIO, "General Failure" },
	};
	struct srv s = { .states = { [1] = KMIP_STATE_ACTIVE } };
	struct kmip_client *c;
	struct kmip_object o;
	struct fake f;
	char uid[KMIP_UID_SIZE];
	size_t i;

	c = srv_client(&f, &s, V(1, 4));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];

		s.reason = cases[i].reason;
		s.message = "server says \"no\"\r\n\x1b[2J";
		assert_int_equal(kmip_get(c, "1", NULL, &o), cases[i].err);
		assert_null(o.material);
		/* The server's text is sanitized: no control characters survive. */
		snprintf(want, sizeof(want), "%s: server says \"no\"???[2J", cases[i].name);
		assert_string_equal(kmip_last_error(c), want);
	}
	/* Re-key on a server without it: a clean -EOPNOTSUPP */
	s.reason = KMIP_REASON_OPERATION_NOT_SUPPORTED;
	s.message = "Rekey operation is not supported by the server.";
	assert_int_equal(kmip_rekey(c, "1", uid), -EOPNOTSUPP);
	assert_string_equal(uid, "");
	assert_string_equal(kmip_last_error(c),
			    "Operation Not Supported: Rekey operation is not supported by the server.");
	assert_int_equal(kmip_last_result(c)->op, KMIP_OP_REKEY);
	kmip_client_free(c);
	fake_reset(&f);
}

/* The State and the material in one request; wiped unless Active; one-item servers. */
static void test_ops_fetch(void **state)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	struct srv s = { .states = { [3] = KMIP_STATE_ACTIVE, [4] = KMIP_STATE_DEACTIVATED } };
	struct kmip_crypt_params p = { .algorithm = KMIP_ALG_AES, .mode = KMIP_BCM_CBC,
				       .padding = KMIP_PAD_PKCS5, .iv_len = 16 };
	uint8_t in[32];
	struct kmip_fetch f;
	struct kmip_client *c;
	struct fake fk;
	size_t i;

	(void)state;
	c = srv_client(&fk, &s, V(1, 4));
	/* Active: one request of two items, the key kept. */
	memset(&f, 0, sizeof(f));
	f.uid = "3";
	assert_int_equal(kmip_fetch(c, &f), 0);
	assert_int_equal(s.requests, 1);
	assert_int_equal(f.attrs.state, KMIP_STATE_ACTIVE);
	assert_int_equal(f.fetch_err, 0);
	assert_int_equal(f.obj.material_len, 32);
	assert_memory_equal(f.obj.material, key, 32);
	kmip_object_clear(&f.obj);
	/* Not Active: the material that came back is wiped unused. */
	memset(&f, 0, sizeof(f));
	f.uid = "4";
	assert_int_equal(kmip_fetch(c, &f), 0);
	assert_int_equal(s.requests, 2);
	assert_int_equal(f.attrs.state, KMIP_STATE_DEACTIVATED);
	assert_int_equal(f.fetch_err, -ENOKEY);
	assert_null(f.obj.material);
	/* Not found: the State item's failure is the answer. */
	memset(&f, 0, sizeof(f));
	f.uid = "6";
	assert_int_equal(kmip_fetch(c, &f), -ENOENT);
	assert_null(f.obj.material);
	/* A server that answers the first item only: the Get is asked alone. */
	s.max_items = 1;
	s.requests = 0;
	memset(&f, 0, sizeof(f));
	f.uid = "3";
	assert_int_equal(kmip_fetch(c, &f), 0);
	assert_int_equal(s.requests, 2);
	assert_int_equal(f.fetch_err, 0);
	assert_memory_equal(f.obj.material, key, 32);
	kmip_object_clear(&f.obj);
	/* ... and not at all for a key that is not Active. */
	s.requests = 0;
	memset(&f, 0, sizeof(f));
	f.uid = "4";
	assert_int_equal(kmip_fetch(c, &f), 0);
	assert_int_equal(s.requests, 1);
	assert_int_equal(f.fetch_err, -ENOKEY);
	s.max_items = 0;
	/* Decrypt instead of Get (the fake server's cipher is xor 0x5A). */
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	s.requests = 0;
	memset(&f, 0, sizeof(f));
	f.uid = "3";
	f.decrypt = &p;
	f.in = in;
	f.in_len = sizeof(in);
	assert_int_equal(kmip_fetch(c, &f), 0);
	assert_int_equal(s.requests, 1);
	assert_int_equal(f.fetch_err, 0);
	assert_int_equal(f.out_len, sizeof(in));
	for (i = 0; i < sizeof(in); i++)
		assert_int_equal(f.out[i], in[i] ^ 0x5A);
	secmem_free(f.out);
	kmip_client_free(c);
	fake_reset(&fk);
	assert_int_equal(secmem_in_use(NULL), 0);
}

static void test_ops_get_wrapped(void **state)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	struct srv s = { .states = { [1] = KMIP_STATE_ACTIVE, [3] = KMIP_STATE_ACTIVE } };
	struct kmip_key_wrap w = { .kek_uid = "1" };
	struct kmip_client *c;
	struct kmip_object o;
	struct fake f;

	memset(s.kek, 0x42, sizeof(s.kek));
	c = srv_client(&f, &s, V(1, 2));
	/* Still wrapped when no local KEK is given. */
	assert_int_equal(kmip_get(c, "3", &w, &o), 0);
	assert_true(o.wrapped);
	assert_int_equal(o.material_len, 40);
	kmip_object_clear(&o);
	/* Unwrapped here with the local KEK. */
	w.kek = s.kek;
	w.kek_len = 32;
	assert_int_equal(kmip_get(c, "3", &w, &o), 0);
	assert_false(o.wrapped);
	assert_int_equal(o.material_len, 32);
	assert_memory_equal(o.material, key, 32);
	kmip_object_clear(&o);
	/* A wrong local KEK fails the integrity check. */
	w.kek = key;
	assert_int_equal(kmip_get(c, "3", &w, &o), -EKEKMISMATCH);
	assert_string_equal(kmip_last_error(c), "the key does not unwrap with the local copy of "
			    "key '1' (integrity check failed)");
	/* A server that ignores the wrapping request is refused. */
	s.ignore_wrap = true;
	assert_int_equal(kmip_get(c, "3", &w, &o), -EPROTO);
	assert_null(o.material);
	assert_string_equal(kmip_last_error(c), "the server sent the key unwrapped; it was asked to "
			    "wrap it with key '1'");
	assert_int_equal(kmip_last_failure(c), KMIP_FAILURE_RESPONSE);
	/* A different mode than asked */
	s.ignore_wrap = false;
	w.mode = KMIP_BCM_AES_KEY_WRAP_PADDING;
	assert_int_equal(kmip_get(c, "3", &w, &o), -EPROTO);
	assert_string_equal(kmip_last_error(c), "the server wrapped the key with NISTKeyWrap; "
			    "AESKeyWrapPadding was asked");
	/* Plain Get */
	assert_int_equal(kmip_get(c, "3", NULL, &o), 0);
	assert_memory_equal(o.material, key, 32);
	kmip_object_clear(&o);
	kmip_client_free(c);
	fake_reset(&f);
	assert_int_equal(secmem_in_use(NULL), 0);
}

static void test_ops_get_states(void **state)
{
	const char *uids[6] = { "1", "2", "9", "3", "4", "6" };
	struct srv s = { .states = { [1] = 2, [2] = 3, [3] = 4, [4] = 1, [6] = 6 } };
	struct kmip_client *c;
	struct fake f;
	int states[6], errs[6];
	const char **many;
	int *ms, *me;
	size_t i;

	for (i = 0; i < 3; i++) {
		int ver = i == 0 ? V(1, 2) : i == 1 ? V(2, 0) : V(1, 4);

		c = srv_client(&f, &s, ver);
		s.reverse = i == 1;
		s.stop_on_error = i == 2;
		assert_int_equal(kmip_get_states(c, uids, 6, states, errs), 0);
		assert_int_equal(f.calls, 1);	/* one message */
		assert_int_equal(errs[0], 0);
		assert_int_equal(states[0], KMIP_STATE_ACTIVE);
		assert_int_equal(errs[1], 0);
		assert_int_equal(states[1], KMIP_STATE_DEACTIVATED);
		assert_int_equal(errs[2], -ENOENT);
		if (s.stop_on_error) {
			/* the server stopped: the rest is unknown, not revoked */
			assert_int_equal(errs[3], -ENOMSG);
			assert_int_equal(errs[5], -ENOMSG);
		} else {
			assert_int_equal(errs[3], 0);
			assert_int_equal(states[3], KMIP_STATE_COMPROMISED);
			assert_int_equal(states[4], KMIP_STATE_PRE_ACTIVE);
			assert_int_equal(states[5], KMIP_STATE_DESTROYED_COMPROMISED);
		}
		kmip_client_free(c);
		fake_reset(&f);
	}
	/* More keys than one message holds: split. */
	many = calloc(300, sizeof(*many));
	ms = calloc(300, sizeof(int));
	me = calloc(300, sizeof(int));
	assert_non_null(many);
	assert_non_null(ms);
	assert_non_null(me);
	for (i = 0; i < 300; i++)
		many[i] = i % 2 ? "1" : "2";
	s.reverse = s.stop_on_error = false;
	c = srv_client(&f, &s, V(2, 0));
	assert_int_equal(kmip_get_states(c, many, 300, ms, me), 0);
	assert_int_equal(f.calls, 3);
	for (i = 0; i < 300; i++) {
		assert_int_equal(me[i], 0);
		assert_int_equal(ms[i], i % 2 ? KMIP_STATE_ACTIVE : KMIP_STATE_DEACTIVATED);
	}
	kmip_client_free(c);
	fake_reset(&f);
	free(many);
	free(ms);
	free(me);
}

/*
 * -ECANCELED is the server's reason Operation Canceled By Requester and
 * nothing else; a batch item the server did not answer is -ENOMSG (unknown,
 * not revoked).  Both in one answer, through kmip_get_states() and
 * kmip_fetch_many(): the one that is not answered must not read as the
 * server's reason, nor the reason as "not answered".
 */
static void test_ops_canceled_vs_unanswered(void **state)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	const char *uids[3] = { "1", "2", "3" };
	struct srv s = { .states = { [1] = KMIP_STATE_ACTIVE, [2] = KMIP_STATE_ACTIVE,
				      [3] = KMIP_STATE_ACTIVE },
			 .canceled = 2 };
	struct kmip_fetch fk[3], *fp[3] = { &fk[0], &fk[1], &fk[2] };
	struct kmip_client *c;
	struct fake f;
	int states[3], errs[3];
	char why[KMIP_FAILURE_TEXT_SIZE];
	size_t i;

	/* Get Attributes (State) of 1, 2, 3: the server answers two items. */
	c = srv_client(&f, &s, V(1, 4));
	s.max_items = 2;
	assert_int_equal(kmip_get_states(c, uids, 3, states, errs), 0);
	assert_int_equal(s.requests, 1);
	assert_int_equal(errs[0], 0);
	assert_int_equal(states[0], KMIP_STATE_ACTIVE);
	assert_int_equal(errs[1], -ECANCELED);		/* the server's reason */
	assert_int_equal(errs[2], -ENOMSG);		/* not answered */
	assert_int_not_equal(-ENOMSG, -ECANCELED);
	assert_int_equal(kmip_last_result(c)->reason, KMIP_REASON_OPERATION_CANCELED_BY_REQUESTER);
	/* And their words: the server's reason as the server's, the other as ours. */
	assert_string_equal(kmip_failure_reason(c, errs[1], why, sizeof(why)),
			    "server says Operation Canceled By Requester: Canceled");
	assert_string_equal(kmip_failure_reason(NULL, errs[2], why, sizeof(why)),
			    "the server left this item of the batch unanswered");

	/* The same through the unlock path's batch: two items per key, four answered. */
	s.max_items = 4;
	s.requests = 0;
	memset(fk, 0, sizeof(fk));
	for (i = 0; i < 3; i++)
		fk[i].uid = uids[i];
	assert_int_equal(kmip_fetch_many(c, fp, 3), 0);
	assert_int_equal(s.requests, 1);
	assert_int_equal(fk[0].err, 0);
	assert_int_equal(fk[0].fetch_err, 0);
	assert_memory_equal(fk[0].obj.material, key, 32);
	assert_int_equal(fk[1].err, -ECANCELED);
	assert_null(fk[1].obj.material);
	assert_int_equal(fk[2].err, -ENOMSG);
	assert_null(fk[2].obj.material);
	for (i = 0; i < 3; i++)
		kmip_object_clear(&fk[i].obj);
	kmip_client_free(c);
	fake_reset(&f);
	assert_int_equal(secmem_in_use(NULL), 0);
}

static void test_ops_locate_verify(void **state)
{
	struct srv s = { .states = { [1] = KMIP_STATE_ACTIVE, [2] = KMIP_STATE_DEACTIVATED,
				      [3] = KMIP_STATE_ACTIVE } };
	struct kmip_locate_filter flt = { .name = "vmk-host1", .state = KMIP_STATE_ACTIVE,
					  .object_type = KMIP_OBJ_SECRET_DATA, .max_items = 2 };
	struct kmip_uid_list l;
	struct kmip_client *c;
	struct fake f;

	/* 2.x answers carry a Name, 1.x answers in this server do not. */
	c = srv_client(&f, &s, V(2, 0));
	assert_int_equal(kmip_locate(c, &flt, &l), 0);
	assert_int_equal(l.n, 2);	/* the server ignored Maximum Items */
	assert_string_equal(l.uids[0], "1");
	assert_int_equal(kmip_locate_verify(c, l.uids[0], &flt), 1);
	assert_int_equal(kmip_locate_verify(c, l.uids[1], &flt), 0);	/* Deactivated */
	flt.name = "other";
	assert_int_equal(kmip_locate_verify(c, "1", &flt), 0);
	flt.name = NULL;
	flt.group = "g";
	assert_int_equal(kmip_locate_verify(c, "1", &flt), 0);	/* no group on the object */
	assert_int_equal(kmip_locate_verify(c, "7", &flt), -ENOENT);
	kmip_uid_list_free(&l);
	kmip_client_free(c);
	fake_reset(&f);

	c = srv_client(&f, &s, V(1, 2));
	flt.group = NULL;
	flt.name = "vmk-host1";
	assert_int_equal(kmip_locate_verify(c, "1", &flt), 0);	/* Name absent: no match */
	flt.name = NULL;
	assert_int_equal(kmip_locate_verify(c, "1", &flt), 1);
	kmip_client_free(c);
	fake_reset(&f);
}

static void test_ops_crypt_query(void **state)
{
	struct srv s = { .states = { [4] = KMIP_STATE_ACTIVE } };
	struct kmip_crypt_params p = { 0 };
	struct kmip_server_info si;
	struct kmip_client *c;
	struct fake f;
	uint8_t *ct, *pt;
	size_t ctl, ptl;

	c = srv_client(&f, &s, V(1, 2));
	assert_int_equal(kmip_encrypt(c, "4", &p, (const uint8_t *)"hello", 5, &ct, &ctl), 0);
	assert_int_equal(ctl, 5);
	assert_int_equal(p.iv_len, 16);	/* the server's IV */
	assert_int_equal(p.iv[0], 0x11);
	assert_int_equal(kmip_decrypt(c, "4", &p, ct, ctl, &pt, &ptl), 0);
	assert_int_equal(ptl, 5);
	assert_memory_equal(pt, "hello", 5);
	secmem_free(ct);
	secmem_free(pt);
	assert_int_equal(kmip_encrypt(c, "4", &p, NULL, 0, &ct, &ctl), -EINVAL);
	assert_int_equal(kmip_query(c, &si), 0);
	assert_int_equal(si.n_ops, 2);
	assert_true(kmip_server_has_op(&si, KMIP_OP_GET));
	assert_false(kmip_server_has_op(&si, KMIP_OP_REKEY));
	assert_int_equal(si.n_objects, 1);
	assert_string_equal(si.vendor, "PyKMIP 0.10.0 Software Server??[31m");
	assert_string_equal(si.info, "build 7; eu-west");
	kmip_client_free(c);
	fake_reset(&f);
	assert_int_equal(secmem_in_use(NULL), 0);
}

/* Responses to real operations with missing or broken pieces. */
static void h_broken(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	int mode = *(int *)f->ctx;
	struct ttlv_item payload;
	uint32_t op;
	unsigned id;

	req_item(req, 0, &op, &payload, &id);
	rsp_begin(out, V(1, 2), mode == 2 ? 2 : 1);
	rsp_item(out, mode == 3 ? KMIP_OP_DESTROY : op, 0, 0, 0, NULL);
	if (mode == 1) {	/* payload of the wrong type */
		ttlv_put_int(out, KMIP_TAG_RESPONSE_PAYLOAD, 1);
	} else if (mode == 4) {	/* UID of the wrong type */
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_int(out, KMIP_TAG_UNIQUE_IDENTIFIER, 5);
		ttlv_end(out);
	}
	ttlv_end(out);		/* mode 0: no payload at all */
	rsp_end(out);
}

static void test_ops_hostile(void **state)
{
	struct kmip_client *c;
	struct kmip_object o;
	struct kmip_attrs a;
	struct kmip_uid_list l;
	struct fake f;
	char uid[KMIP_UID_SIZE];
	int mode;

	static const char *const why[5] = {
		"malformed response: the Get answer has no Response Payload",
		"malformed response: Response Payload (0x42007C) at byte 128: an Integer, not a "
		"Structure",
		"malformed response: Response Header (0x42007A) at byte 8: Batch Count 2, but 1 "
		"Batch Item",
		"malformed response: Batch Item (0x42000F) at byte 88: answers Destroy, the request "
		"item was Get",
		"malformed response: Response Payload (0x42007C) at byte 128: no Object Type",
	};

	for (mode = 0; mode <= 4; mode++) {
		c = fake_client(&f, h_broken, V(1, 2));
		f.ctx = &mode;
		assert_int_equal(kmip_get(c, "1", NULL, &o), -EBADMSG);
		assert_string_equal(kmip_last_error(c), why[mode]);
		assert_int_equal(kmip_get_attributes(c, "1", KMIP_ATTR_STATE, &a), -EBADMSG);
		assert_int_equal(kmip_locate(c, NULL, &l), -EBADMSG);
		kmip_uid_list_free(&l);
		assert_int_equal(kmip_create(c, 128, NULL, uid), -EBADMSG);
		assert_int_equal(kmip_rekey(c, "1", uid), -EBADMSG);
		kmip_client_free(c);
		fake_reset(&f);
	}
	assert_int_equal(secmem_in_use(NULL), 0);
}

/* ====================================================== re-key and links */

/*
 * Re-key requests encoded by PyKMIP 0.10's own encoder (kmip.core.messages,
 * RekeyRequestPayload): UID "7" in 1.2 and 2.0; in 1.4 with Offset 3600 and
 * a Template-Attribute Name "vol1-next".
 */
static const char rekey12_req[] =
	"42007801000000704200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000000042000d0200000004000000010000000042000f010000002842005c05000000040000000400000000420079010000001042009407000000013700000000000000";
static const char rekey14_req[] =
	"42007801000000d04200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000000042000d0200000004000000010000000042000f010000008842005c050000000400000004000000004200790100000070420094070000000137000000000000004200580a0000000400000e10000000004200910100000048420008010000004042000a07000000044e616d650000000042000b01000000284200550700000009766f6c312d6e6578740000000000000042005405000000040000000100000000";
static const char rekey20_req[] =
	"42007801000000704200770100000038420069010000002042006a0200000004000000020000000042006b0200000004000000000000000042000d0200000004000000010000000042000f010000002842005c05000000040000000400000000420079010000001042009407000000013700000000000000";
/*
 * KMIP 2.0 Re-key with Offset 0 and Attributes {Name "vol1-next"} (spec v2.1
 * table 305; PyKMIP 0.10 cannot encode Attributes in a Re-key): written as
 * KMIP XML and encoded by `kmipcrypt ttlv convert --from xml --to hex`.
 */
static const char rekey20_name_req[] =
	"42007801000000b84200770100000038420069010000002042006a0200000004000000020000000042006b0200000004000000000000000042000d0200000004000000010000000042000f010000007042005c050000000400000004000000004200790100000058420094070000000137000000000000004200580a000000040000000000000000420125010000003042005301000000284200550700000009766f6c312d6e6578740000000000000042005405000000040000000100000000";
/*
 * Request payloads of OASIS test cases (tests/data/kmip-testcases), encoded
 * from their XML by `kmipcrypt ttlv convert` with $UNIQUE_IDENTIFIER_0 = "1"
 * and _1 = "2": TC-REKEY-1-10 (KMIP 1.0) the first Re-key; AX-M-1-14 and
 * AX-M-1-21 the two Add Attribute Link items (Next Link, Previous Link).
 */
static const char tc_rekey_payload[] =
	"4200790100000070420094070000000131000000000000004200910100000058420008010000005042000a07000000044e616d650000000042000b0100000038420055070000001954432d52454b45592d312d31302d66697273742d72656b65790000000000000042005405000000040000000100000000";
static const char *const ax14_add_payloads[2] = {
	"420079010000005042009407000000013100000000000000420008010000003842000a07000000044c696e6b0000000042000b010000002042004b05000000040000010b0000000042004c07000000013200000000000000",
	"420079010000005042009407000000013200000000000000420008010000003842000a07000000044c696e6b0000000042000b010000002042004b05000000040000010a0000000042004c07000000013100000000000000",
};
static const char *const ax21_add_payloads[2] = {
	"42007901000000404200940700000001310000000000000042013d010000002842004a010000002042004b05000000040000010b0000000042004c07000000013200000000000000",
	"42007901000000404200940700000001320000000000000042013d010000002842004a010000002042004b05000000040000010a0000000042004c07000000013100000000000000",
};
/*
 * Response payloads of the same: AX-M-1-14 and AX-M-1-21's Get Attributes
 * (State, Link) with the link types made Replacement Object Link (item 0,
 * on "1", to "2") and Replaced Object Link (item 1, on "2", to "1"); and
 * TC-REKEY-1-10's first Re-key answer ($UNIQUE_IDENTIFIER_1 = "2").
 */
static const char *const ax14_links_resp[2] = {
	"42007c010000007842009407000000013100000000000000420008010000002042000a0700000005537461746500000042000b05000000040000000200000000420008010000003842000a07000000044c696e6b0000000042000b010000002042004b0500000004000001060000000042004c07000000013200000000000000",
	"42007c010000007842009407000000013200000000000000420008010000002042000a0700000005537461746500000042000b05000000040000000200000000420008010000003842000a07000000044c696e6b0000000042000b010000002042004b0500000004000001070000000042004c07000000013100000000000000",
};
static const char *const ax21_links_resp[2] = {
	"42007c010000005042009407000000013100000000000000420125010000003842008d0500000004000000020000000042004a010000002042004b0500000004000001060000000042004c07000000013200000000000000",
	"42007c010000005042009407000000013200000000000000420125010000003842008d0500000004000000020000000042004a010000002042004b0500000004000001070000000042004c07000000013100000000000000",
};
static const char tc_rekey_resp_payload[] = "42007c010000001042009407000000013200000000000000";

/* The first item's Request Payload of a built message, as it is on the wire. */
static void assert_payload_hex(struct ttlv_buf *b, const char *hex)
{
	struct ttlv_item root, payload;
	struct ttlv_buf p;

	built_payload(b, &root, &payload);
	ttlv_buf_init(&p, 0);
	assert_int_equal(ttlv_put_item(&p, &payload), 0);
	assert_buf_hex(&p, hex);
	ttlv_buf_free(&p);
}

static void test_build_rekey(void **state)
{
	struct kmip_rekey_args a = { .name = "vol1-next", .offset_set = true, .offset = 3600 };
	struct kmip_rekey_args tc = { .name = "TC-REKEY-1-10-first-rekey" };
	char longname[KMIP_TEXT_MAX + 2];
	struct ttlv_buf b;

	ttlv_buf_init(&b, 0);
	assert_int_equal(kmip_build_rekey(&b, V(1, 2), "7", NULL), 0);
	assert_buf_hex(&b, rekey12_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_rekey(&b, V(1, 2), "7", &(struct kmip_rekey_args){ 0 }), 0);
	assert_buf_hex(&b, rekey12_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_rekey(&b, V(1, 4), "7", &a), 0);
	assert_buf_hex(&b, rekey14_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_rekey(&b, V(2, 0), "7", NULL), 0);
	assert_buf_hex(&b, rekey20_req);
	ttlv_buf_reset(&b);
	a.offset = 0;
	assert_int_equal(kmip_build_rekey(&b, V(2, 0), "7", &a), 0);
	assert_buf_hex(&b, rekey20_name_req);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_rekey(&b, V(1, 0), "1", &tc), 0);
	assert_payload_hex(&b, tc_rekey_payload);
	/* refused before anything is sent */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_rekey(&b, V(1, 4), "7",
					  &(struct kmip_rekey_args){ .name = longname }), -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_rekey(&b, V(1, 4), "7", &(struct kmip_rekey_args){ .name = "" }),
			 -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_rekey(&b, V(1, 4), "", NULL), -EINVAL);
	ttlv_buf_free(&b);
}

static void test_build_add_link(void **state)
{
	struct ttlv_buf b;
	int i;

	ttlv_buf_init(&b, 0);
	for (i = 0; i < 2; i++) {
		const char *uid = i ? "2" : "1", *other = i ? "1" : "2";
		uint32_t type = i ? 0x10A : 0x10B;	/* Previous Link, Next Link */

		ttlv_buf_reset(&b);
		assert_int_equal(kmip_build_add_link(&b, V(1, 4), uid, type, other), 0);
		assert_payload_hex(&b, ax14_add_payloads[i]);
		ttlv_buf_reset(&b);
		assert_int_equal(kmip_build_add_link(&b, V(2, 1), uid, type, other), 0);
		assert_payload_hex(&b, ax21_add_payloads[i]);
	}
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_add_link(&b, V(1, 4), "1", KMIP_LINK_REPLACEMENT_OBJECT, ""),
			 -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_add_link(&b, V(1, 4), "1", KMIP_LINK_REPLACEMENT_OBJECT, NULL),
			 -EINVAL);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_add_link(&b, V(1, 4), "1", 0, "2"), -EINVAL);
	ttlv_buf_free(&b);
}

/*
 * Get Attributes of attributes an object may lack only: Object Type is
 * asked too, so that the answer is never empty (PyKMIP 0.10 drops a 2.0
 * Get Attributes that finds nothing, unanswered).  Masks with an attribute
 * every object has, and 0 (every attribute), are sent as they are.
 */
static void test_build_get_attributes_never_empty(void **state)
{
	static const uint32_t optional[] = {
		KMIP_ATTR_LINK, KMIP_ATTR_NAME, KMIP_ATTR_OBJECT_GROUP,
		KMIP_ATTR_NAME | KMIP_ATTR_OBJECT_GROUP | KMIP_ATTR_LINK,
	};
	struct ttlv_item root, payload, x;
	struct ttlv_iter it;
	struct ttlv_buf b;
	size_t i;
	int vi;

	ttlv_buf_init(&b, 0);
	for (vi = 0; vi < 2; vi++) {
		int v = vi ? V(2, 0) : V(1, 4);

		for (i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
			bool type = false;

			ttlv_buf_reset(&b);
			assert_int_equal(kmip_build_get_attributes(&b, v, "1", optional[i]), 0);
			built_payload(&b, &root, &payload);
			ttlv_iter_init(&it, &payload);
			while (ttlv_iter_next(&it, &x)) {
				uint32_t e;

				if (vi && x.tag == KMIP_TAG_ATTRIBUTE_REFERENCE)
					type |= ttlv_get_enum(&x, &e) == 0 && e == KMIP_TAG_OBJECT_TYPE;
				if (!vi && x.tag == KMIP_TAG_ATTRIBUTE_NAME)
					type |= ttlv_text_eq(&x, "Object Type");
			}
			assert_true(type);
		}
		/* with State: as asked (byte-exact against PyKMIP in test_build_captures) */
		ttlv_buf_reset(&b);
		assert_int_equal(kmip_build_get_attributes(&b, v, "1", KMIP_ATTR_STATE |
							   KMIP_ATTR_LINK), 0);
		built_payload(&b, &root, &payload);
		assert_int_equal(ttlv_count(&payload, vi ? KMIP_TAG_ATTRIBUTE_REFERENCE :
					    KMIP_TAG_ATTRIBUTE_NAME), 2);
		/* 0: every attribute, no reference at all */
		ttlv_buf_reset(&b);
		assert_int_equal(kmip_build_get_attributes(&b, v, "1", 0), 0);
		built_payload(&b, &root, &payload);
		assert_int_equal(ttlv_count(&payload, KMIP_TAG_ATTRIBUTE_REFERENCE) +
				 ttlv_count(&payload, KMIP_TAG_ATTRIBUTE_NAME), 0);
	}
	ttlv_buf_free(&b);
}

/* Create of another algorithm with several Object Groups: 1.x numbers them, 2.x repeats. */
static void test_build_create_like(void **state)
{
	static const char *const more[] = { "g2", "g3" };
	struct kmip_new_object a = { .name = "k", .group = "g1", .more_groups = more,
				     .n_more_groups = 2, .algorithm = 2 /* 3DES */ };
	struct ttlv_item root, payload, ta, x, y;
	struct ttlv_iter it;
	struct ttlv_buf b;
	unsigned groups = 0;
	int32_t idx;
	uint32_t e;

	ttlv_buf_init(&b, 0);
	assert_int_equal(kmip_build_create(&b, V(1, 2), 192, &a), 0);
	built_payload(&b, &root, &payload);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_TEMPLATE_ATTRIBUTE, &ta), 0);
	ttlv_iter_init(&it, &ta);
	while (ttlv_iter_next(&it, &x)) {
		assert_int_equal(ttlv_find(&x, KMIP_TAG_ATTRIBUTE_NAME, &y), 0);
		if (ttlv_text_eq(&y, "Cryptographic Algorithm")) {
			assert_int_equal(ttlv_find_enum(&x, KMIP_TAG_ATTRIBUTE_VALUE, &e), 0);
			assert_int_equal(e, 2);
		}
		if (!ttlv_text_eq(&y, "Object Group"))
			continue;
		/* the first without an index, then 1, 2 */
		if (groups == 0) {
			assert_int_equal(ttlv_find(&x, KMIP_TAG_ATTRIBUTE_INDEX, &y), -ENOENT);
		} else {
			assert_int_equal(ttlv_find_int(&x, KMIP_TAG_ATTRIBUTE_INDEX, &idx), 0);
			assert_int_equal(idx, (int32_t)groups);
		}
		groups++;
	}
	assert_int_equal(groups, 3);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(2, 0), 192, &a), 0);
	built_payload(&b, &root, &payload);
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTES, &ta), 0);
	assert_int_equal(ttlv_count(&ta, KMIP_TAG_OBJECT_GROUP), 3);
	assert_int_equal(ttlv_count(&ta, KMIP_TAG_ATTRIBUTE_INDEX), 0);
	/* refused: further groups without a first, too many, a bad one; bad lengths */
	ttlv_buf_reset(&b);
	a.group = NULL;
	assert_int_equal(kmip_build_create(&b, V(2, 0), 192, &a), -EINVAL);
	a.group = "g1";
	a.n_more_groups = KMIP_ATTR_VALUES_MAX;
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(2, 0), 192, &a), -EINVAL);
	a.n_more_groups = 1;
	a.more_groups = (const char *const[]){ "" };
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(2, 0), 192, &a), -EINVAL);
	a.n_more_groups = 0;
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(2, 0), 100, &a), -EINVAL);
	a.algorithm = 0;	/* AES */
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(2, 0), 192, &a), 0);
	ttlv_buf_reset(&b);
	assert_int_equal(kmip_build_create(&b, V(2, 0), 512, &a), -EINVAL);
	ttlv_buf_free(&b);
}

/* Decode one payload (hex of its item) and read it as a Get Attributes answer. */
static int parse_attrs_hex(const char *hex, struct kmip_attrs *a)
{
	struct ttlv_item it;
	uint8_t *p;
	size_t n;
	int r;

	p = unhex(hex, &n);
	assert_int_equal(ttlv_decode(p, n, NULL, &it), 0);
	r = kmip_parse_get_attributes(&it, a);
	free(p);
	return r;
}

static void test_parse_links(void **state)
{
	struct kmip_attrs a;
	char hex[512];
	int i, enc;

	for (enc = 0; enc < 2; enc++) {
		for (i = 0; i < 2; i++) {
			const char *h = enc ? ax21_links_resp[i] : ax14_links_resp[i];

			assert_int_equal(parse_attrs_hex(h, &a), 0);
			assert_int_equal(a.present, KMIP_ATTR_STATE | KMIP_ATTR_LINK);
			assert_string_equal(a.uid, i ? "2" : "1");
			assert_string_equal(a.replacement, i ? "" : "2");
			assert_string_equal(a.replaced, i ? "1" : "");
			/* the OASIS links as they are (Next, Previous): present, not kept */
			snprintf(hex, sizeof(hex), "%s", h);
			memcpy(strstr(hex, "0000010") + 7, i ? "a" : "b", 1);
			assert_int_equal(parse_attrs_hex(hex, &a), 0);
			assert_true(a.present & KMIP_ATTR_LINK);
			assert_string_equal(a.replacement, "");
			assert_string_equal(a.replaced, "");
		}
	}
}

/* Links that must be refused, and two of one type. */
static void test_parse_links_hostile(void **state)
{
	struct kmip_attrs a;
	struct ttlv_item it;
	struct ttlv_buf b;
	char big[KMIP_UID_MAX + 2];
	int mode;

	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (mode = 0; mode < 6; mode++) {
		ttlv_buf_init(&b, 0);
		ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_begin(&b, KMIP_TAG_ATTRIBUTES);
		if (mode == 0) {		/* not a structure */
			ttlv_put_str(&b, KMIP_TAG_LINK, "2");
		} else {
			ttlv_begin(&b, KMIP_TAG_LINK);
			if (mode != 1)		/* 1: no Link Type */
				ttlv_put_enum(&b, KMIP_TAG_LINK_TYPE, mode == 5 ? 0x10B :
					      KMIP_LINK_REPLACEMENT_OBJECT);
			if (mode == 3)		/* an identifier too long */
				ttlv_put_str(&b, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, big);
			else if (mode == 4)	/* a number */
				ttlv_put_int(&b, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, 2);
			/* 2: none; 5: none, but of a type that is not read */
			ttlv_end(&b);
		}
		ttlv_end(&b);
		ttlv_end(&b);
		assert_int_equal(ttlv_buf_finish(&b), 0);
		assert_int_equal(ttlv_decode(b.data, b.len, NULL, &it), 0);
		assert_int_equal(kmip_parse_get_attributes(&it, &a), mode == 5 ? 0 : -EBADMSG);
		ttlv_buf_free(&b);
	}
	/* two replacements (the spec allows one): the first is kept */
	ttlv_buf_init(&b, 0);
	ttlv_begin(&b, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_begin(&b, KMIP_TAG_ATTRIBUTES);
	for (mode = 0; mode < 2; mode++) {
		ttlv_begin(&b, KMIP_TAG_LINK);
		ttlv_put_enum(&b, KMIP_TAG_LINK_TYPE, KMIP_LINK_REPLACEMENT_OBJECT);
		ttlv_put_str(&b, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, mode ? "second" : "first");
		ttlv_end(&b);
	}
	ttlv_end(&b);
	ttlv_end(&b);
	assert_int_equal(ttlv_buf_finish(&b), 0);
	assert_int_equal(ttlv_decode(b.data, b.len, NULL, &it), 0);
	assert_int_equal(kmip_parse_get_attributes(&it, &a), 0);
	assert_string_equal(a.replacement, "first");
	ttlv_buf_free(&b);
}

/*
 * A scripted server for Re-key, Create like, and links: objects "1".."7"
 * with a type, a state, attributes and links.  Query lists Re-key only if
 * offers_rekey; Re-key answers Operation Not Supported if rekey_refused;
 * Add Attribute is an Invalid Message (in a 1.0 response, as PyKMIP) unless
 * links.
 */
struct rk_obj {
	uint32_t type;		/* 0: absent */
	int state;
	uint32_t alg;
	int32_t len;
	unsigned n_groups;
	const char *groups[3];
	const char *name;
	char replacement[16], replaced[16];
};

struct rk_srv {
	int version;
	bool offers_rekey, rekey_refused, rekey_self, links, query_fails;
	struct rk_obj obj[8];
	unsigned queries, rekeys, creates, activates, adds;
	char rekey_name[64];
	bool rekey_offset;
};

static int rk_idx(const struct ttlv_item *payload)
{
	char uid[16] = "";

	req_uid(payload, uid, sizeof(uid));
	return uid[0] >= '1' && uid[0] <= '7' && !uid[1] ? uid[0] - '0' : 0;
}

static int rk_new(struct rk_srv *s)
{
	int i;

	for (i = 1; i < 8; i++)
		if (!s->obj[i].type)
			return i;
	fail_msg("rk_srv is full");
	return 0;
}

static void rk_put_attrs(struct rk_srv *s, struct ttlv_buf *out, int i)
{
	const struct rk_obj *o = &s->obj[i];
	char uid[2] = { (char)('0' + i), 0 };
	unsigned g;

	ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
	ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_begin(out, KMIP_TAG_ATTRIBUTES);	/* 2.x form, whatever the version (we read both) */
	ttlv_put_enum(out, KMIP_TAG_OBJECT_TYPE, o->type);
	ttlv_put_enum(out, KMIP_TAG_STATE, (uint32_t)o->state);
	if (o->alg)
		ttlv_put_enum(out, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, o->alg);
	if (o->len)
		ttlv_put_int(out, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, o->len);
	ttlv_put_int(out, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, 0x3C);
	for (g = 0; g < o->n_groups; g++)
		ttlv_put_str(out, KMIP_TAG_OBJECT_GROUP, o->groups[g]);
	if (o->name) {
		ttlv_begin(out, KMIP_TAG_NAME);
		ttlv_put_str(out, KMIP_TAG_NAME_VALUE, o->name);
		ttlv_put_enum(out, KMIP_TAG_NAME_TYPE, 1);
		ttlv_end(out);
	}
	if (o->replacement[0]) {
		ttlv_begin(out, KMIP_TAG_LINK);
		ttlv_put_enum(out, KMIP_TAG_LINK_TYPE, KMIP_LINK_REPLACEMENT_OBJECT);
		ttlv_put_str(out, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, o->replacement);
		ttlv_end(out);
	}
	if (o->replaced[0]) {
		ttlv_begin(out, KMIP_TAG_LINK);
		ttlv_put_enum(out, KMIP_TAG_LINK_TYPE, KMIP_LINK_REPLACED_OBJECT);
		ttlv_put_str(out, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, o->replaced);
		ttlv_end(out);
	}
	ttlv_end(out);
	ttlv_end(out);
}

static void rk_ok_uid(struct ttlv_buf *out, uint32_t op, int i)
{
	char uid[2] = { (char)('0' + i), 0 };

	rsp_item(out, op, 0, 0, 0, NULL);
	srv_payload_uid(out, uid);
	ttlv_end(out);
}

/* Add Attribute: the Link it carries, in either encoding. */
static void rk_read_link(const struct ttlv_item *payload, uint32_t *type, char *to, size_t len)
{
	struct ttlv_item a, v;
	const char *s;
	size_t n;

	if (ttlv_find(payload, KMIP_TAG_NEW_ATTRIBUTE, &a) == 0) {
		assert_int_equal(ttlv_find(&a, KMIP_TAG_LINK, &v), 0);
	} else {
		assert_int_equal(ttlv_find(payload, KMIP_TAG_ATTRIBUTE, &a), 0);
		assert_int_equal(ttlv_find(&a, KMIP_TAG_ATTRIBUTE_INDEX, &v), -ENOENT);
		assert_int_equal(ttlv_find(&a, KMIP_TAG_ATTRIBUTE_VALUE, &v), 0);
	}
	assert_int_equal(ttlv_find_enum(&v, KMIP_TAG_LINK_TYPE, type), 0);
	assert_int_equal(ttlv_find_text(&v, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, &s, &n), 0);
	assert_true(n < len);
	memcpy(to, s, n);
	to[n] = '\0';
}

static void h_rekey(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	struct rk_srv *s = f->ctx;
	struct ttlv_item payload, x, ta;
	uint32_t op, type;
	unsigned id;
	int i, n;

	assert_int_equal(req_count(req), 1);
	req_item(req, 0, &op, &payload, &id);
	if (op == KMIP_OP_ADD_ATTRIBUTE && !s->links) {
		rsp_error(out, V(1, 0), 0, KMIP_REASON_INVALID_MESSAGE,
			  "Error parsing request message. See server logs for more information.");
		return;
	}
	rsp_begin(out, s->version, 1);
	switch (op) {
	case KMIP_OP_QUERY:
		s->queries++;
		if (s->query_fails) {
			rsp_item(out, op, 0, KMIP_STATUS_OPERATION_FAILED,
				 KMIP_REASON_PERMISSION_DENIED, "no");
			ttlv_end(out);
			break;
		}
		rsp_item(out, op, 0, 0, 0, NULL);
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_enum(out, KMIP_TAG_OPERATION, KMIP_OP_CREATE);
		if (s->offers_rekey)
			ttlv_put_enum(out, KMIP_TAG_OPERATION, KMIP_OP_REKEY);
		ttlv_end(out);
		ttlv_end(out);
		break;
	case KMIP_OP_GET_ATTRIBUTES:
		i = rk_idx(&payload);
		if (!i || !s->obj[i].type) {
			rsp_item(out, op, 0, KMIP_STATUS_OPERATION_FAILED, KMIP_REASON_ITEM_NOT_FOUND,
				 "Could not locate object");
			ttlv_end(out);
			break;
		}
		rsp_item(out, op, 0, 0, 0, NULL);
		rk_put_attrs(s, out, i);
		ttlv_end(out);
		break;
	case KMIP_OP_REKEY:
		s->rekeys++;
		if (s->rekey_refused) {
			rsp_item(out, op, 0, KMIP_STATUS_OPERATION_FAILED,
				 KMIP_REASON_OPERATION_NOT_SUPPORTED,
				 "Rekey operation is not supported by the server.");
			ttlv_end(out);
			break;
		}
		i = rk_idx(&payload);
		s->rekey_offset = ttlv_find(&payload, KMIP_TAG_OFFSET, &x) == 0;
		s->rekey_name[0] = '\0';
		if (ttlv_find(&payload, KMIP_TAG_TEMPLATE_ATTRIBUTE, &ta) == 0 ||
		    ttlv_find(&payload, KMIP_TAG_ATTRIBUTES, &ta) == 0) {
			const char *nm;
			size_t nl;

			assert_int_equal(ttlv_find(&ta, s->version >= V(2, 0) ? KMIP_TAG_NAME :
						   KMIP_TAG_ATTRIBUTE, &x), 0);
			if (s->version < V(2, 0))
				assert_int_equal(ttlv_find(&x, KMIP_TAG_ATTRIBUTE_VALUE, &x), 0);
			assert_int_equal(ttlv_find_text(&x, KMIP_TAG_NAME_VALUE, &nm, &nl), 0);
			assert_true(nl < sizeof(s->rekey_name));
			memcpy(s->rekey_name, nm, nl);
			s->rekey_name[nl] = '\0';
		}
		n = s->rekey_self ? i : rk_new(s);
		s->obj[n] = s->obj[i];
		s->obj[n].name = s->obj[i].name;	/* the names move */
		s->obj[i].name = NULL;
		snprintf(s->obj[i].replacement, sizeof(s->obj[i].replacement), "%d", n);
		snprintf(s->obj[n].replaced, sizeof(s->obj[n].replaced), "%d", i);
		s->obj[n].replacement[0] = '\0';
		rk_ok_uid(out, op, n);
		break;
	case KMIP_OP_CREATE:
		s->creates++;
		n = rk_new(s);
		s->obj[n] = (struct rk_obj){ .type = KMIP_OBJ_SYMMETRIC_KEY,
					     .state = KMIP_STATE_PRE_ACTIVE };
		rk_ok_uid(out, op, n);
		break;
	case KMIP_OP_ACTIVATE:
		s->activates++;
		i = rk_idx(&payload);
		s->obj[i].state = KMIP_STATE_ACTIVE;
		rk_ok_uid(out, op, i);
		break;
	case KMIP_OP_ADD_ATTRIBUTE: {
		char to[16];

		s->adds++;
		i = rk_idx(&payload);
		rk_read_link(&payload, &type, to, sizeof(to));
		if (type == KMIP_LINK_REPLACEMENT_OBJECT)
			snprintf(s->obj[i].replacement, sizeof(s->obj[i].replacement), "%s", to);
		else if (type == KMIP_LINK_REPLACED_OBJECT)
			snprintf(s->obj[i].replaced, sizeof(s->obj[i].replaced), "%s", to);
		else
			fail_msg("link type %x", type);
		rk_ok_uid(out, op, i);
		break;
	}
	default:
		fail_msg("h_rekey: operation %x", op);
	}
	rsp_end(out);
}

static struct kmip_client *rk_client(struct fake *f, struct rk_srv *s, int version)
{
	struct kmip_client *c = fake_client(f, h_rekey, version);

	s->version = version;
	f->ctx = s;
	return c;
}

/* The first request with operation op among those sent: its payload. */
static bool sent_payload(struct fake *f, uint32_t op, struct ttlv_item *root, struct ttlv_item *payload)
{
	unsigned k, id;
	uint32_t o;

	for (k = 0; k < f->calls && k < FAKE_MAX; k++) {
		assert_int_equal(ttlv_decode(f->req[k], f->req_len[k], NULL, root), 0);
		req_item(root, 0, &o, payload, &id);
		if (o == op)
			return true;
	}
	return false;
}

static const struct rk_obj rk_aes = {
	.type = KMIP_OBJ_SYMMETRIC_KEY, .state = KMIP_STATE_ACTIVE, .alg = KMIP_ALG_AES,
	.len = 256, .n_groups = 2, .groups = { "host-a", "pending" }, .name = "vol1",
};

static void test_ops_server_offers(void **state)
{
	struct rk_srv s = { .offers_rekey = true };
	struct kmip_server_info si;
	struct kmip_client *c;
	struct fake f;

	c = rk_client(&f, &s, V(1, 4));
	assert_int_equal(kmip_server_offers(c, KMIP_OP_REKEY), 1);
	assert_int_equal(kmip_server_offers(c, KMIP_OP_CREATE), 1);
	assert_int_equal(kmip_server_offers(c, KMIP_OP_ADD_ATTRIBUTE), 0);
	assert_int_equal(s.queries, 1);		/* asked once */
	assert_int_equal(kmip_query(c, &si), 0);	/* asked again on purpose */
	assert_int_equal(s.queries, 2);
	kmip_client_free(c);
	fake_reset(&f);

	/* a server that refuses Query offers nothing; remembered too */
	s = (struct rk_srv){ .offers_rekey = true, .query_fails = true };
	c = rk_client(&f, &s, V(2, 0));
	assert_int_equal(kmip_server_offers(c, KMIP_OP_REKEY), 0);
	assert_int_equal(kmip_server_offers(c, KMIP_OP_REKEY), 0);
	assert_int_equal(s.queries, 1);
	kmip_client_free(c);
	fake_reset(&f);

	/* no answer is no answer: an error, and asked again next time */
	s = (struct rk_srv){ .offers_rekey = true };
	c = rk_client(&f, &s, V(2, 0));
	f.fail_with = -ECONNREFUSED;
	assert_int_equal(kmip_server_offers(c, KMIP_OP_REKEY), -ECONNREFUSED);
	f.fail_with = 0;
	assert_int_equal(kmip_server_offers(c, KMIP_OP_REKEY), 1);
	assert_int_equal(s.queries, 1);
	kmip_client_free(c);
	fake_reset(&f);
}

/*
 * The Re-key answer of TC-REKEY-1-10 (its first item's payload, the test
 * case's bytes); with f->ctx, the optional Template-Attribute of the
 * attributes the server set (spec v1.4 table 175) after the identifier.
 */
static void h_tc_rekey(struct fake *f, const struct ttlv_item *req, struct ttlv_buf *out)
{
	struct ttlv_item payload;
	uint8_t *p;
	size_t n;

	p = unhex(tc_rekey_resp_payload, &n);
	assert_int_equal(ttlv_decode(p, n, NULL, &payload), 0);
	rsp_begin(out, V(1, 0), 1);
	rsp_item(out, KMIP_OP_REKEY, 0, 0, 0, NULL);
	if (!f->ctx) {
		ttlv_put_item(out, &payload);
	} else {
		ttlv_begin(out, KMIP_TAG_RESPONSE_PAYLOAD);
		ttlv_put_str(out, KMIP_TAG_UNIQUE_IDENTIFIER, "2");
		ttlv_begin(out, KMIP_TAG_TEMPLATE_ATTRIBUTE);
		ttlv_begin(out, KMIP_TAG_ATTRIBUTE);
		ttlv_put_str(out, KMIP_TAG_ATTRIBUTE_NAME, "Initial Date");
		ttlv_put_datetime(out, KMIP_TAG_ATTRIBUTE_VALUE, 1700000000);
		ttlv_end(out);
		ttlv_end(out);
		ttlv_end(out);
	}
	ttlv_end(out);
	rsp_end(out);
	free(p);
}

static void test_ops_rekey(void **state)
{
	static const int versions[] = { V(1, 0), V(1, 4), V(2, 0), V(2, 1) };
	struct kmip_rekey_args a = { .name = "vol1-next", .offset_set = true, .offset = 60 };
	char uid[KMIP_UID_SIZE];
	struct kmip_client *c;
	struct rk_srv s;
	struct fake f;
	size_t vi;

	for (vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
		s = (struct rk_srv){ .obj = { [3] = rk_aes } };
		c = rk_client(&f, &s, versions[vi]);
		assert_int_equal(kmip_rekey_with(c, "3", &a, uid), 0);
		assert_string_equal(uid, "1");
		assert_string_equal(s.rekey_name, "vol1-next");
		assert_true(s.rekey_offset);
		assert_int_equal(kmip_rekey(c, "1", uid), 0);
		assert_string_equal(uid, "2");
		assert_string_equal(s.rekey_name, "");
		assert_false(s.rekey_offset);
		/* an answer naming the old key itself is refused, and no uid is given out */
		s.rekey_self = true;
		assert_int_equal(kmip_rekey(c, "2", uid), -EBADMSG);
		assert_string_equal(uid, "");
		assert_string_equal(kmip_last_error(c), "malformed response: Response Payload "
				    "(0x42007C) at byte 128: the Re-key answer names key '2' itself as "
				    "its replacement");
		kmip_client_free(c);
		fake_reset(&f);
	}
	/* TC-REKEY-1-10's answer, its payload as it is; and with the attributes the server set */
	c = fake_client(&f, h_tc_rekey, V(1, 0));
	assert_int_equal(kmip_rekey(c, "1", uid), 0);
	assert_string_equal(uid, "2");
	f.ctx = &f;
	assert_int_equal(kmip_rekey(c, "1", uid), 0);
	assert_string_equal(uid, "2");
	kmip_client_free(c);
	fake_reset(&f);
}

static void test_ops_replace_key(void **state)
{
	struct kmip_replace_args a = { .name_suffix = "-r1" };
	struct kmip_replacement out;
	struct ttlv_item root, payload, ta, x;
	struct kmip_client *c;
	struct rk_srv s;
	struct fake f;
	char why[KMIP_FAILURE_TEXT_SIZE];
	const char *str;
	size_t n;
	int r;

	/* The server offers Re-key: it is used; the names move; a->name goes with it. */
	s = (struct rk_srv){ .offers_rekey = true, .obj = { [3] = rk_aes } };
	c = rk_client(&f, &s, V(1, 4));
	a.name = "vol1-next";
	assert_int_equal(kmip_replace_key(c, "3", &a, &out), 0);
	assert_true(out.rekeyed);
	assert_string_equal(out.uid, "1");
	assert_int_equal(out.state, KMIP_STATE_ACTIVE);
	assert_string_equal(out.old.names[0], "vol1");
	assert_string_equal(s.rekey_name, "vol1-next");
	assert_int_equal(s.creates, 0);
	kmip_client_free(c);
	fake_reset(&f);

	/* No Re-key: Create like it, in both encodings, with the derived name. */
	a.name = NULL;
	for (r = 0; r < 2; r++) {
		s = (struct rk_srv){ .obj = { [3] = rk_aes } };
		c = rk_client(&f, &s, r ? V(2, 0) : V(1, 2));
		assert_int_equal(kmip_replace_key(c, "3", &a, &out), 0);
		assert_false(out.rekeyed);
		assert_string_equal(out.uid, "1");
		assert_int_equal(out.state, KMIP_STATE_ACTIVE);
		assert_int_equal(s.rekeys, 0);
		assert_int_equal(s.activates, 1);
		assert_true(sent_payload(&f, KMIP_OP_CREATE, &root, &payload));
		if (r) {
			uint32_t alg;
			int32_t len, mask;

			assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTES, &ta), 0);
			assert_int_equal(ttlv_find_enum(&ta, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, &alg), 0);
			assert_int_equal(alg, KMIP_ALG_AES);
			assert_int_equal(ttlv_find_int(&ta, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &len), 0);
			assert_int_equal(len, 256);
			assert_int_equal(ttlv_find_int(&ta, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, &mask), 0);
			assert_int_equal(mask, 0x3C);
			assert_int_equal(ttlv_count(&ta, KMIP_TAG_OBJECT_GROUP), 2);
			assert_int_equal(ttlv_find(&ta, KMIP_TAG_NAME, &x), 0);
			assert_int_equal(ttlv_find_text(&x, KMIP_TAG_NAME_VALUE, &str, &n), 0);
			assert_int_equal(n, 7);
			assert_memory_equal(str, "vol1-r1", 7);
		} else {
			assert_int_equal(ttlv_find(&payload, KMIP_TAG_TEMPLATE_ATTRIBUTE, &ta), 0);
			assert_int_equal(ttlv_count(&ta, KMIP_TAG_ATTRIBUTE), 6);
		}
		kmip_client_free(c);
		fake_reset(&f);
	}

	/* Listed but refused: Create after all.  A Pre-Active key's copy stays Pre-Active. */
	s = (struct rk_srv){ .offers_rekey = true, .rekey_refused = true, .obj = { [3] = rk_aes } };
	s.obj[3].state = KMIP_STATE_PRE_ACTIVE;
	c = rk_client(&f, &s, V(2, 1));
	assert_int_equal(kmip_replace_key(c, "3", NULL, &out), 0);
	assert_false(out.rekeyed);
	assert_int_equal(s.rekeys, 1);
	assert_int_equal(s.creates, 1);
	assert_int_equal(s.activates, 0);
	assert_int_equal(out.state, KMIP_STATE_PRE_ACTIVE);
	assert_true(sent_payload(&f, KMIP_OP_CREATE, &root, &payload));
	assert_int_equal(ttlv_find(&payload, KMIP_TAG_ATTRIBUTES, &ta), 0);
	assert_int_equal(ttlv_find(&ta, KMIP_TAG_NAME, &x), -ENOENT);	/* no suffix: no name */
	kmip_client_free(c);
	fake_reset(&f);

	/* Refusals, each with its reason, and nothing made. */
	s = (struct rk_srv){ .obj = { [3] = rk_aes, [4] = rk_aes, [5] = rk_aes, [6] = rk_aes } };
	s.obj[4].type = KMIP_OBJ_SECRET_DATA;
	s.obj[5].state = KMIP_STATE_DESTROYED;
	s.obj[6].alg = 0;
	c = rk_client(&f, &s, V(1, 4));
	r = kmip_replace_key(c, "4", &a, &out);
	assert_int_equal(r, -EKEYMISMATCH);
	assert_string_equal(kmip_failure_text(c, r, why, sizeof(why), "Re-key of '4'"),
			    "Re-key of '4' failed: object '4' is a Secret Data, not a Symmetric Key: "
			    "only symmetric keys are re-keyed");
	r = kmip_replace_key(c, "5", &a, &out);
	assert_int_equal(r, -EKEYREVOKED);
	assert_non_null(strstr(kmip_last_error(c), "key '5' is Destroyed"));
	r = kmip_replace_key(c, "6", &a, &out);
	assert_int_equal(r, -ENODATA);
	r = kmip_replace_key(c, "7", &a, &out);
	assert_int_equal(r, -ENOENT);
	{
		char longname[KMIP_TEXT_MAX];

		memset(longname, 'n', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		s.obj[3].name = longname;
		r = kmip_replace_key(c, "3", &(struct kmip_replace_args){ .name_suffix = "-r2" }, &out);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(kmip_last_error(c), "longer than 255 bytes"));
		s.obj[3].name = "vol1";
	}
	/* replaced already, by a key that is there: no second replacement */
	snprintf(s.obj[3].replacement, sizeof(s.obj[3].replacement), "6");
	r = kmip_replace_key(c, "3", &a, &out);
	assert_int_equal(r, -EEXIST);
	assert_string_equal(kmip_failure_text(c, r, why, sizeof(why), "Re-key of '3'"),
			    "Re-key of '3' failed: key '3' has been replaced already, by key '6' "
			    "(Active): re-key that one");
	assert_int_equal(s.creates + s.rekeys, 0);
	assert_string_equal(out.uid, "");
	/* a replacement that is gone (a rotation taken back) does not count */
	snprintf(s.obj[3].replacement, sizeof(s.obj[3].replacement), "7");
	assert_int_equal(kmip_replace_key(c, "3", &a, &out), 0);
	assert_string_equal(out.uid, "1");
	kmip_client_free(c);
	fake_reset(&f);
}

static void test_ops_link_replacement(void **state)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	struct kmip_client *c;
	struct rk_srv s;
	struct fake f;
	int r, vi;

	for (vi = 0; vi < 2; vi++) {
		s = (struct rk_srv){ .links = true, .obj = { [3] = rk_aes, [4] = rk_aes } };
		c = rk_client(&f, &s, vi ? V(2, 1) : V(1, 4));
		assert_int_equal(kmip_link_replacement(c, "3", "4"), 0);
		assert_int_equal(s.adds, 2);
		assert_string_equal(s.obj[3].replacement, "4");
		assert_string_equal(s.obj[4].replaced, "3");
		/* again: read, nothing added */
		assert_int_equal(kmip_link_replacement(c, "3", "4"), 0);
		assert_int_equal(s.adds, 2);
		/* old has another replacement already: not overwritten */
		s.obj[5] = rk_aes;
		r = kmip_link_replacement(c, "3", "5");
		assert_int_equal(r, -EEXIST);
		assert_string_equal(kmip_failure_text(c, r, why, sizeof(why), "Linking '3' to '5'"),
				    "Linking '3' to '5' failed: key '3' is linked to key '4' as its "
				    "replacement already");
		/* half done before (old linked, new not): only the missing half */
		s.obj[6] = rk_aes;
		snprintf(s.obj[5].replacement, sizeof(s.obj[5].replacement), "6");
		assert_int_equal(kmip_link_replacement(c, "5", "6"), 0);
		assert_int_equal(s.adds, 3);
		assert_string_equal(s.obj[6].replaced, "5");
		assert_int_equal(kmip_link_replacement(c, "3", "3"), -EINVAL);
		kmip_client_free(c);
		fake_reset(&f);
	}
	/* PyKMIP 0.10: Add Attribute is an Invalid Message; the second is not tried */
	s = (struct rk_srv){ .obj = { [3] = rk_aes, [4] = rk_aes } };
	c = rk_client(&f, &s, V(1, 2));
	r = kmip_link_replacement(c, "3", "4");
	assert_int_equal(r, -EOPNOTSUPP);
	assert_int_equal(f.calls, 2);	/* Get Attributes, Add Attribute */
	assert_string_equal(kmip_failure_text(c, r, why, sizeof(why), "Add Attribute (Link)"),
			    "Add Attribute (Link) failed: server says Invalid Message: Error parsing "
			    "request message. See server logs for more information.");
	kmip_client_free(c);
	fake_reset(&f);
	assert_int_equal(secmem_in_use(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_captures),
		cmocka_unit_test(test_build_no_timestamp_and_ids),
		cmocka_unit_test(test_build_attrs_both_encodings),
		cmocka_unit_test(test_build_modify_group),
		cmocka_unit_test(test_build_revoke_reasons),
		cmocka_unit_test(test_parse_capture2),
		cmocka_unit_test(test_parse_capture7),
		cmocka_unit_test(test_parse_attrs_v1_full),
		cmocka_unit_test(test_parse_attrs_v2_unknown),
		cmocka_unit_test(test_parse_attrs_wrong_types),
		cmocka_unit_test(test_parse_batch_out_of_order),
		cmocka_unit_test(test_parse_status_values),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_reasons_hostile),
		cmocka_unit_test(test_parse_mutations),
		cmocka_unit_test(test_parse_get_shapes),
		cmocka_unit_test(test_parse_locate),
		cmocka_unit_test(test_reason_names_errno),
		cmocka_unit_test(test_wrap_kat),
		cmocka_unit_test(test_wrap_bad_args),
		cmocka_unit_test(test_negotiate_pykmip),
		cmocka_unit_test(test_negotiate_fallback),
		cmocka_unit_test(test_negotiate_charged),
		cmocka_unit_test(test_failure_text),
		cmocka_unit_test(test_ops_lifecycle),
		cmocka_unit_test(test_ops_errors),
		cmocka_unit_test(test_ops_get_wrapped),
		cmocka_unit_test(test_ops_fetch),
		cmocka_unit_test(test_ops_get_states),
		cmocka_unit_test(test_ops_canceled_vs_unanswered),
		cmocka_unit_test(test_ops_locate_verify),
		cmocka_unit_test(test_ops_crypt_query),
		cmocka_unit_test(test_ops_hostile),
		cmocka_unit_test(test_build_rekey),
		cmocka_unit_test(test_build_add_link),
		cmocka_unit_test(test_build_create_like),
		cmocka_unit_test(test_build_get_attributes_never_empty),
		cmocka_unit_test(test_parse_links),
		cmocka_unit_test(test_parse_links_hostile),
		cmocka_unit_test(test_ops_server_offers),
		cmocka_unit_test(test_ops_rekey),
		cmocka_unit_test(test_ops_replace_key),
		cmocka_unit_test(test_ops_link_replacement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
