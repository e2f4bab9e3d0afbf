// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: util/escape (terminal-safe text, the text check of --name,
 * JSON output with DEL and C1 escaped), byte for byte.
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
#include <json-c/json.h>

#include "util/escape.h"

static const char *esc(const char *s)
{
	static char buf[4096];

	return text_escape(s, buf, sizeof(buf));
}

static void test_plain_unchanged(void **state)
{
	assert_string_equal(esc(""), "");
	assert_string_equal(esc("kmipcrypt-5e1c-passphrase"), "kmipcrypt-5e1c-passphrase");
	assert_string_equal(esc(" !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"),
			    " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~");
	/* Valid UTF-8 that is not a control prints as it is. */
	assert_string_equal(esc("Schl\xc3\xbcssel \xe9\x8d\xb5 \xf0\x9f\x94\x91 \xc2\xa0\xc2\xbf"),
			    "Schl\xc3\xbcssel \xe9\x8d\xb5 \xf0\x9f\x94\x91 \xc2\xa0\xc2\xbf");
}

static void test_controls(void **state)
{
	char in[2] = { 0, 0 }, want[8];
	int c;

	/* Every C0 control and DEL, alone. */
	for (c = 1; c < 0x20; c++) {
		in[0] = (char)c;
		snprintf(want, sizeof(want), "\\x%02x", c);
		assert_string_equal(esc(in), want);
	}
	assert_string_equal(esc("\x7f"), "\\x7f");
	/* Clear screen, a title change, a line break: nothing reaches the terminal. */
	assert_string_equal(esc("a\x1b[2Jb"), "a\\x1b[2Jb");
	assert_string_equal(esc("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
	assert_string_equal(esc("one\ntwo\r\tthree"), "one\\x0atwo\\x0d\\x09three");
	/* The backslash itself, so that the result reads back unambiguously. */
	assert_string_equal(esc("a\\x1b"), "a\\\\x1b");
	assert_string_equal(esc("\\"), "\\\\");
}

static void test_c1(void **state)
{
	char in[3] = { (char)0xc2, 0, 0 }, want[16];
	int c;

	/* U+0080..U+009F: both bytes escaped (8-bit CSI is U+009B). */
	for (c = 0x80; c <= 0x9f; c++) {
		in[1] = (char)c;
		snprintf(want, sizeof(want), "\\xc2\\x%02x", c);
		assert_string_equal(esc(in), want);
	}
	assert_string_equal(esc("x\xc2\x9b" "2Jy"), "x\\xc2\\x9b2Jy");
	/* U+00A0, the first character after C1, is printable. */
	assert_string_equal(esc("\xc2\xa0"), "\xc2\xa0");
}

static void test_invalid_utf8(void **state)
{
	/* A lone 8-bit CSI, continuation bytes, bytes that never occur. */
	assert_string_equal(esc("\x9b" "2J"), "\\x9b2J");
	assert_string_equal(esc("\x80\xbf"), "\\x80\\xbf");
	assert_string_equal(esc("\xfe\xff\xf5"), "\\xfe\\xff\\xf5");
	/* Overlong forms (of '/', of NUL, of U+07FF, of U+FFFF). */
	assert_string_equal(esc("\xc0\xaf"), "\\xc0\\xaf");
	assert_string_equal(esc("\xc1\x80"), "\\xc1\\x80");
	assert_string_equal(esc("\xe0\x9f\xbf"), "\\xe0\\x9f\\xbf");
	assert_string_equal(esc("\xf0\x8f\xbf\xbf"), "\\xf0\\x8f\\xbf\\xbf");
	/* Surrogates, beyond U+10FFFF. */
	assert_string_equal(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	assert_string_equal(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
	/* Cut short, at the end and before an ASCII byte: the ASCII byte survives. */
	assert_string_equal(esc("ab\xe2\x82"), "ab\\xe2\\x82");
	assert_string_equal(esc("\xe2\x82z"), "\\xe2\\x82z");
	/* The limits that are valid. */
	assert_string_equal(esc("\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf"),
			    "\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf");
}

static void test_worst_case_size(void **state)
{
	char in[65], out[TEXT_ESCAPED_SIZE(64)];

	/* Every byte an escape: exactly 4 bytes each, and the NUL. */
	memset(in, 0x1b, 64);
	in[64] = 0;
	text_escape(in, out, sizeof(out));
	assert_int_equal(strlen(out), 256);
	assert_memory_equal(out + 252, "\\x1b", 4);
}

static void test_truncation(void **state)
{
	char out[16];

	memset(out, 'Z', sizeof(out));
	/* Fits exactly: 10 bytes and the NUL. */
	assert_string_equal(text_escape("0123456789", out, 11), "0123456789");
	/* One byte short: cut between characters, "..." marks it. */
	assert_string_equal(text_escape("0123456789", out, 10), "012345...");
	/* Never inside an escape: "\x1b" is whole or absent. */
	assert_string_equal(text_escape("ab\x1b\x1b\x1b", out, 12), "ab\\x1b...");
	/* Never inside a UTF-8 sequence. */
	assert_string_equal(text_escape("abcd\xf0\x9f\x94\x91xyz", out, 9), "abcd...");
	/* Too small for "...": cut only; never past out_size. */
	memset(out, 'Z', sizeof(out));
	assert_string_equal(text_escape("abcdef", out, 3), "ab");
	assert_int_equal(out[3], 'Z');
	assert_string_equal(text_escape("\x1b", out, 3), "");
	assert_string_equal(text_escape("abc", out, 1), "");
}

static void test_printable(void **state)
{
	char in[2] = { 0, 0 };
	int c;

	assert_true(text_is_printable(""));
	assert_true(text_is_printable("kmipcrypt-5e1c-passphrase"));
	assert_true(text_is_printable("vol root \\ back\\slash"));
	assert_true(text_is_printable("Schl\xc3\xbcssel \xf0\x9f\x94\x91 \xc2\xa0"));
	for (c = 1; c < 0x20; c++) {
		in[0] = (char)c;
		if (text_is_printable(in))
			fail_msg("control 0x%02x accepted", c);
	}
	assert_false(text_is_printable("\x7f"));
	assert_false(text_is_printable("name\x1b[2J"));
	assert_false(text_is_printable("tab\there"));
	assert_false(text_is_printable("a\xc2\x80"));
	assert_false(text_is_printable("a\xc2\x9b"));
	assert_false(text_is_printable("a\xc2\x9f"));
	assert_false(text_is_printable("\x9b"));
	assert_false(text_is_printable("\xc0\xaf"));
	assert_false(text_is_printable("\xed\xa0\x80"));
	assert_false(text_is_printable("cut\xe2\x82"));
}

static void test_utf8_char_len(void **state)
{
	assert_int_equal(utf8_char_len("a", 1), 1);
	assert_int_equal(utf8_char_len("", 1), 1);	/* NUL: a character; callers decide */
	assert_int_equal(utf8_char_len("a", 0), 0);
	assert_int_equal(utf8_char_len("\xc3\xbc", 2), 2);
	assert_int_equal(utf8_char_len("\xc3\xbc", 1), 0);
	assert_int_equal(utf8_char_len("\xe2\x82\xac", 3), 3);
	assert_int_equal(utf8_char_len("\xf0\x9f\x94\x91", 4), 4);
	assert_int_equal(utf8_char_len("\xf0\x9f\x94\x91", 3), 0);
	assert_int_equal(utf8_char_len("\xc3\x41", 2), 0);
	assert_int_equal(utf8_char_len("\xe0\x80\x80", 3), 0);
	assert_int_equal(utf8_char_len("\xf8\x88\x80\x80\x80", 5), 0);
}

/* json_text_fputs into a memory stream. */
static char *json_out(const char *json)
{
	static char buf[1024];
	FILE *f;

	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	assert_int_equal(json_text_fputs(json, f), 0);
	fclose(f);
	return buf;
}

static void test_json(void **state)
{
	/* What json-c writes for "a<ESC>[2J<DEL><U+009B><U+0085>\"\\é": C0 escaped already. */
	assert_string_equal(json_out("{ \"n\": \"a\\u001b[2J\x7f\xc2\x9b\xc2\x85\\\"\\\\\xc3\xa9\" }"),
			    "{ \"n\": \"a\\u001b[2J\\u007f\\u009b\\u0085\\\"\\\\\xc3\xa9\" }");
	/* Pretty-printing white space and plain text untouched. */
	assert_string_equal(json_out("[\n  \"x\",\n\t1\n]"), "[\n  \"x\",\n\t1\n]");
	/* Invalid UTF-8: each byte a replacement character. */
	assert_string_equal(json_out("\"\x9b\xc0\xaf\""), "\"\\ufffd\\ufffd\\ufffd\"");
	assert_string_equal(json_out("\"\xf0\x9f\x94\x91\xc2\xa0\""), "\"\xf0\x9f\x94\x91\xc2\xa0\"");
	assert_string_equal(json_out(""), "");
}

/* Through json-c and back: the same string, and no raw control in between. */
static void test_json_roundtrip(void **state)
{
	char in[256], *out;
	struct json_object *o, *back;
	size_t n = 0, i;
	int c;

	for (c = 1; c < 0x80; c++)
		in[n++] = (char)c;
	for (c = 0x80; c <= 0xa0; c++) {
		in[n++] = (char)0xc2;
		in[n++] = (char)c;
	}
	memcpy(in + n, "\xe2\x80\xa8\xf0\x9f\x94\x91", 7);
	n += 7;
	in[n] = 0;
	o = json_object_new_string(in);
	out = json_out(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	for (i = 0; out[i]; i++) {
		unsigned char b = (unsigned char)out[i];

		if (b < 0x20 || b == 0x7f || (b == 0xc2 && (unsigned char)out[i + 1] < 0xa0))
			fail_msg("raw control byte 0x%02x at %zu of the JSON text", b, i);
	}
	back = json_tokener_parse(out);
	assert_non_null(back);
	assert_string_equal(json_object_get_string(back), in);
	json_object_put(back);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_unchanged),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_c1),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_worst_case_size),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_utf8_char_len),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
