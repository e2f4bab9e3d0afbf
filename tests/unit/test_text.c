/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The text dump (names, redaction, escaping), ISO 8601 dates both ways,
 * and hex input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ttlv/names.h"
#include "ttlv/text.h"
#include "ttlv/ttlv.h"
#include "ttlv/xml.h"

#define NOW 1700000000LL

/* XML -> TTLV -> text dump, as a malloc'd string. */
static char *dump_xml(const char *xml, bool show)
{
	struct ttlv_xml_opts o = { .now = NOW };
	struct ttlv_msgs l;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	ttlv_msgs_init(&l);
	assert_int_equal(ttlv_xml_parse(xml, strlen(xml), "test", &o, &l), 0);
	assert_int_equal(l.n, 1);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(ttlv_text_dump(f, l.msg[0].data, l.msg[0].len, 0, show, NULL), 0);
	fclose(f);
	ttlv_msgs_free(&l);
	return out;
}

static const char *key_xml =
	"<ResponsePayload>"
	"<ObjectType type=\"Enumeration\" value=\"SymmetricKey\"/>"
	"<SymmetricKey><KeyBlock>"
	"<KeyFormatType type=\"Enumeration\" value=\"Raw\"/>"
	"<KeyValue><KeyMaterial type=\"ByteString\" value=\"000102030405060708090a0b0c0d0e0f\"/>"
	"<Attribute><AttributeName type=\"TextString\" value=\"Cryptographic Usage Mask\"/>"
	"<AttributeValue type=\"Integer\" value=\"Encrypt Decrypt\"/></Attribute>"
	"</KeyValue>"
	"</KeyBlock></SymmetricKey>"
	"<PrivateKey><KeyBlock><KeyValue><KeyMaterial>"
	"<PrivateExponent type=\"BigInteger\" value=\"00000000000000ff\"/>"
	"</KeyMaterial></KeyValue></KeyBlock></PrivateKey>"
	"<Credential><CredentialValue>"
	"<Password type=\"TextString\" value=\"hunter2\"/>"
	"</CredentialValue></Credential>"
	"<Data type=\"ByteString\" value=\"cafe\"/>"
	"<IVCounterNonce type=\"ByteString\" value=\"0102\"/>"
	"<ActivationDate type=\"DateTime\" value=\"$NOW-3600\"/>"
	"<AttributeReference type=\"Enumeration\" value=\"State\"/>"
	"<TTLV tag=\"0x540001\" type=\"Enumeration\" value=\"0x80000001\"/>"
	"</ResponsePayload>";

static void test_dump_redacted(void **state)
{
	char *s;

	(void)state;
	s = dump_xml(key_xml, false);
	assert_non_null(strstr(s, "Response Payload\n"
				  "  Object Type (Enumeration): Symmetric Key\n"
				  "  Symmetric Key\n"
				  "    Key Block\n"
				  "      Key Format Type (Enumeration): Raw\n"
				  "      Key Value\n"
				  "        Key Material (Byte String): <redacted, 16 bytes>\n"));
	/* Named through Attribute Name, and not a secret although in Key Value. */
	assert_non_null(strstr(s, "Attribute Value (Integer): Encrypt | Decrypt (0x0000000C)\n"));
	assert_non_null(strstr(s, "Private Exponent (Big Integer): <redacted, 8 bytes>\n"));
	assert_non_null(strstr(s, "Password (Text String): <redacted, 7 bytes>\n"));
	assert_non_null(strstr(s, "Data (Byte String): <redacted, 2 bytes>\n"));
	assert_non_null(strstr(s, "IV/Counter/Nonce (Byte String): 0102\n"));
	assert_non_null(strstr(s, "Activation Date (Date-Time): 2023-11-14T21:13:20+00:00\n"));
	assert_non_null(strstr(s, "Attribute Reference (Enumeration): State (0x42008D)\n"));
	assert_non_null(strstr(s, "0x540001 (Enumeration): 0x80000001\n"));
	assert_null(strstr(s, "000102"));
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "cafe"));
	free(s);

	s = dump_xml(key_xml, true);
	assert_non_null(strstr(s, "Key Material (Byte String): 000102030405060708090a0b0c0d0e0f\n"));
	assert_non_null(strstr(s, "Private Exponent (Big Integer): 0x00000000000000ff\n"));
	assert_non_null(strstr(s, "Password (Text String): \"hunter2\"\n"));
	assert_non_null(strstr(s, "Data (Byte String): cafe\n"));
	free(s);
}

/* Hostile text cannot drive the terminal: C0, DEL and C1 are escaped. */
static void test_dump_escapes(void **state)
{
	static const char text[] = "esc\x1b[2J\n\t\"\\\x7f\xc2\x9b" "31m\xc3\xa9";
	struct ttlv_buf b;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	ttlv_buf_init(&b, 0);
	ttlv_put_text(&b, 0x420053, text, sizeof(text) - 1);	/* Name */
	assert_int_equal(ttlv_buf_finish(&b), 0);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(ttlv_text_dump(f, b.data, b.len, 0, false, NULL), 0);
	fclose(f);
	assert_string_equal(out, "Name (Text String): "
			    "\"esc\\x1b[2J\\n\\t\\\"\\\\\\x7f\\u009b31m\xc3\xa9\"\n");
	free(out);
	ttlv_buf_free(&b);
}

static void test_dump_bad(void **state)
{
	static const uint8_t bad[] = { 0x42, 0x00, 0x78, 0x01, 0x00, 0x00, 0x00, 0x10 };
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(ttlv_text_dump(f, bad, sizeof(bad), 0, false, NULL), -EBADMSG);
	fclose(f);
	free(out);
	assert_true(ttlv_text_is_secret(TAG_KEY_VALUE, TTLV_BYTES, false));
	assert_false(ttlv_text_is_secret(TAG_KEY_VALUE, TTLV_STRUCTURE, false));
	assert_true(ttlv_text_is_secret(0x420063, TTLV_BIGINT, true));
	assert_false(ttlv_text_is_secret(0x420063, TTLV_BIGINT, false));
	assert_false(ttlv_text_is_secret(0x42002C, TTLV_INTEGER, true));
}

/* Hex into bytes (spaces ignored). */
static size_t bytes_of(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	assert_int_equal(ttlv_hex_read(hex, strlen(hex), out, max, &n), 0);
	return n;
}

/* The dump of a damaged message, as a string; its result in *r. */
static char *dump_damaged(const char *hex, int *r, struct ttlv_error *e)
{
	uint8_t buf[256];
	size_t n = bytes_of(hex, buf, sizeof(buf));
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	*r = ttlv_text_dump(f, buf, n, 0, false, e);
	fclose(f);
	return out;
}

/*
 * A message that does not decode is dumped as far as it was checked, then
 * the fault at its level; key material stays redacted in the part shown.
 */
static void test_dump_damaged(void **state)
{
	struct ttlv_error e;
	char why[TTLV_ERROR_TEXT];
	char *out;
	int r;

	(void)state;
	/* Request Message { Compromise Date 8, Unique Identifier "hello" } cut to 30 bytes. */
	out = dump_damaged("42007801 00000020 42002002 00000004 00000008 00000000 42009407 0000",
			   &r, &e);
	assert_int_equal(r, -EBADMSG);
	assert_string_equal(out, "Request Message\n"
			    "  Compromise Date (Integer): 8\n"
			    "<malformed: Request Message (0x420078, Structure) at byte 0: length 32 "
			    "runs past the end of the input: 22 bytes left>\n");
	free(out);

	/* A length inside the Structure beyond it. */
	out = dump_damaged("42007801 00000020 42002002 00000004 00000008 00000000"
			   " 42009407 00000020 68656c6c 6f000000", &r, &e);
	assert_int_equal(r, -EBADMSG);
	assert_string_equal(out, "Request Message\n"
			    "  Compromise Date (Integer): 8\n"
			    "  <malformed: Unique Identifier (0x420094, Text String) at byte 24: "
			    "length 32 runs past the end of Request Message (0x420078) at byte 0: "
			    "8 bytes left>\n");
	free(out);

	/* Bad padding. */
	out = dump_damaged("42007801 00000020 42002002 00000004 00000008 00000100"
			   " 42009407 00000005 68656c6c 6f000000", &r, &e);
	assert_string_equal(out, "Request Message\n"
			    "  <malformed: Compromise Date (0x420020, Integer) at byte 8: padding "
			    "byte 22 is not zero>\n");
	free(out);

	/*
	 * An overlong Structure inside a Request Message that itself fills the
	 * input: checking ends where the Request Message ends, which is still
	 * no whole item (a fuzzer finding: it was walked by its length).
	 */
	out = dump_damaged("42007801 00000020 42002002 00000004 00000008 00000000"
			   " 42002201 00000100 42002b01 00000000", &r, &e);
	assert_int_equal(r, -EBADMSG);
	assert_int_equal(e.valid, 40);
	assert_string_equal(out, "Request Message\n"
			    "  Compromise Date (Integer): 8\n"
			    "  Contact Information\n"
			    "    Cryptographic Parameters\n"
			    "  <malformed: Contact Information (0x420022, Structure) at byte 24: "
			    "length 256 runs past the end of Request Message (0x420078) at byte 0: "
			    "8 bytes left>\n");
	free(out);

	/*
	 * The same one level down: the Structure that holds the overlong one
	 * fits, and checking ends where it ends; it is not whole either.
	 */
	out = dump_damaged("42007801 00000040 42002b01 00000020 42002201 00000030"
			   " 42002002 00000004 00000008 00000000 42002d01 00000000", &r, &e);
	assert_int_equal(r, -EBADMSG);
	assert_int_equal(e.valid, 48);
	assert_string_equal(out, "Request Message\n"
			    "  Cryptographic Parameters\n"
			    "    Contact Information\n"
			    "      Compromise Date (Integer): 8\n"
			    "      Custom Attribute\n"
			    "<malformed: Request Message (0x420078, Structure) at byte 0: length 64 "
			    "runs past the end of the input: 40 bytes left>\n");
	free(out);

	/* Cut inside a Key Value: what was checked of it is shown, redacted. */
	out = dump_damaged("42004001 00000040 42004501 00000038"
			   " 42004308 00000010 00112233 44556677 8899aabb ccddeeff"
			   " 54ffff08 00000008 01020304 05060708 42000002", &r, &e);
	assert_int_equal(r, -EBADMSG);
	assert_string_equal(out, "Key Block\n"
			    "  Key Value\n"
			    "    Key Material (Byte String): <redacted, 16 bytes>\n"
			    "    0x54FFFF (Byte String): <redacted, 8 bytes>\n"
			    "<malformed: Key Block (0x420040, Structure) at byte 0: length 64 runs "
			    "past the end of the input: 52 bytes left>\n");
	assert_null(strstr(out, "0011"));
	free(out);

	/* The other sentences. */
	out = dump_damaged("42002006 00000008 00000000 00000002", &r, &e);
	assert_string_equal(ttlv_error_format(&e, why, sizeof(why)),
			    "Compromise Date (0x420020, Boolean) at byte 0: value 2, a Boolean is "
			    "0 or 1");
	free(out);
	out = dump_damaged("42002002 00000005 00000008 00000000", &r, &e);
	assert_string_equal(ttlv_error_format(&e, why, sizeof(why)),
			    "Compromise Date (0x420020, Integer) at byte 0: length 5, an Integer "
			    "is 4 bytes");
	free(out);
	out = dump_damaged("54000107 00000001 80000000 00000000", &r, &e);
	assert_string_equal(ttlv_error_format(&e, why, sizeof(why)),
			    "tag 0x540001 (Text String) at byte 0: not UTF-8 (or a NUL) at byte 8");
	free(out);
	out = dump_damaged("42002002 00000004 00000008 00000000 0000", &r, &e);
	assert_string_equal(out, "Compromise Date (Integer): 8\n"
			    "<malformed: 2 bytes after the end of the message (at byte 16)>\n");
	free(out);
	out = dump_damaged("42007801 00000008 4200200C 00000000", &r, &e);
	assert_string_equal(ttlv_error_format(&e, why, sizeof(why)),
			    "Compromise Date (0x420020, type 0x0C) at byte 8: unknown item type 0x0C");
	free(out);
	/* A buffer too small is cut, never overrun. */
	assert_string_equal(ttlv_error_format(&e, why, 9), "Compromi");
}

static void test_dates(void **state)
{
	char buf[TTLV_DATETIME_LEN];
	int64_t v;

	(void)state;
	assert_int_equal(ttlv_datetime_format(0, false, buf), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00+00:00");
	assert_int_equal(ttlv_datetime_format(978343200, false, buf), 0);
	assert_string_equal(buf, "2001-01-01T10:00:00+00:00");
	assert_int_equal(ttlv_datetime_format(951782400, false, buf), 0);
	assert_string_equal(buf, "2000-02-29T00:00:00+00:00");
	assert_int_equal(ttlv_datetime_format(-1, false, buf), 0);
	assert_string_equal(buf, "1969-12-31T23:59:59+00:00");
	assert_int_equal(ttlv_datetime_format(-1, true, buf), 0);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999+00:00");
	assert_int_equal(ttlv_datetime_format(253402300799LL, false, buf), 0);
	assert_string_equal(buf, "9999-12-31T23:59:59+00:00");
	assert_int_equal(ttlv_datetime_format(-62167219200LL, false, buf), 0);
	assert_string_equal(buf, "0000-01-01T00:00:00+00:00");
	assert_int_equal(ttlv_datetime_format(253402300800LL, false, buf), -ERANGE);
	assert_int_equal(ttlv_datetime_format(INT64_MIN, false, buf), -ERANGE);
	assert_int_equal(ttlv_datetime_format(INT64_MAX, true, buf), -ERANGE);

	assert_int_equal(ttlv_datetime_parse("2001-01-01T10:00:00+00:00", false, &v), 0);
	assert_int_equal(v, 978343200);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T20:00:00+10:00", false, &v), 0);
	assert_int_equal(v, 978343200);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T09:30:00-00:30", false, &v), 0);
	assert_int_equal(v, 978343200);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T10:00:00Z", false, &v), 0);
	assert_int_equal(v, 978343200);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T10:00:00.000000Z", false, &v), 0);
	assert_int_equal(ttlv_datetime_parse("2000-02-29T00:00:00Z", false, &v), 0);
	assert_int_equal(v, 951782400);
	assert_int_equal(ttlv_datetime_parse("1969-12-31T23:59:59.5Z", true, &v), 0);
	assert_int_equal(v, -500000);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T10:00:00.000001+00:00", true, &v), 0);
	assert_int_equal(v, 978343200000001LL);
	/* Refused. */
	assert_int_equal(ttlv_datetime_parse("2001-01-01T10:00:00.5Z", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T10:00:00.1234567Z", true, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("1900-02-29T00:00:00Z", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-13-01T00:00:00Z", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T24:00:00Z", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T00:00:60Z", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T00:00:00", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T00:00:00+1000", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-01-01 00:00:00Z", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("2001-01-01T00:00:00Zjunk", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("", false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse(NULL, false, &v), -EINVAL);
	assert_int_equal(ttlv_datetime_parse("20", false, &v), -EINVAL);
}

static void test_hex(void **state)
{
	uint8_t out[8];
	size_t n = 99;

	(void)state;
	assert_int_equal(ttlv_hex_read("42 00 78\n01", 11, out, sizeof(out), &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(out[0], 0x42);
	assert_int_equal(out[3], 0x01);
	assert_int_equal(ttlv_hex_read("aBcD", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0xcd);
	assert_int_equal(ttlv_hex_read("", 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ttlv_hex_read("0011223344556677", 16, NULL, 8, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(ttlv_hex_read("001122334455667788", 18, out, sizeof(out), &n), -EMSGSIZE);
	assert_int_equal(ttlv_hex_read("abc", 3, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(ttlv_hex_read("0x42", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(ttlv_hex_read("4g", 2, out, sizeof(out), &n), -EINVAL);
	/* slen bounds the read: no NUL needed. */
	assert_int_equal(ttlv_hex_read("4242zz", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);

	assert_true(ttlv_hex_looks_like((const uint8_t *)"42 00\n", 6));
	assert_false(ttlv_hex_looks_like((const uint8_t *)"  \n", 3));
	assert_false(ttlv_hex_looks_like((const uint8_t *)"B\0x\1", 4));
	assert_false(ttlv_hex_looks_like((const uint8_t *)"<KMIP>", 6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_redacted),
		cmocka_unit_test(test_dump_escapes),
		cmocka_unit_test(test_dump_bad),
		cmocka_unit_test(test_dump_damaged),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
