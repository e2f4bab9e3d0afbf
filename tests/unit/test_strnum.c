// SPDX-License-Identifier: LGPL-2.1-or-later
/* Unit tests: util/strnum (numbers, durations, booleans) and util/hex. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/hex.h"
#include "util/strnum.h"

static void test_uint_ok(void **state)
{
	unsigned long long v = 0;

	assert_int_equal(parse_uint("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_uint("5", 0, 10, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(parse_uint("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_uint("18446744073709551615", 0, ULLONG_MAX, &v), 0);
	assert_true(v == ULLONG_MAX);
	/* Bounds are inclusive. */
	assert_int_equal(parse_uint("1", 1, 65535, &v), 0);
	assert_int_equal(parse_uint("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
}

static void test_uint_bad(void **state)
{
	static const char *const bad[] = {
		"", " 5", "5 ", "5x", "x5", "-1", "+1", "-0", "0x10", "1e3",
		"1.0", "\t5", "5\n", "١", "１",
	};
	unsigned long long v = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_uint(bad[i], 0, ULLONG_MAX, &v) != -EINVAL)
			fail_msg("parse_uint(\"%s\") accepted or wrong error", bad[i]);
		assert_int_equal(v, 42);	/* untouched */
	}
	assert_int_equal(parse_uint(NULL, 0, 1, &v), -EINVAL);
}

static void test_uint_range(void **state)
{
	unsigned long long v = 42;

	/* One past ULLONG_MAX, and far past it: overflow, not wrap-around. */
	assert_int_equal(parse_uint("18446744073709551616", 0, ULLONG_MAX, &v), -ERANGE);
	assert_int_equal(parse_uint("99999999999999999999999", 0, ULLONG_MAX, &v), -ERANGE);
	assert_int_equal(parse_uint("0", 1, 65535, &v), -ERANGE);
	assert_int_equal(parse_uint("65536", 1, 65535, &v), -ERANGE);
	assert_int_equal(v, 42);
}

static void test_duration(void **state)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
		{ "0", 0 }, { "30", 30000 }, { "30s", 30000 }, { "500ms", 500 },
		{ "5m", 300000 }, { "5min", 300000 }, { "1h", 3600000 },
		{ "2d", 172800000 }, { "0s", 0 },
		{ "unlimited", DURATION_INFINITY }, { "infinity", DURATION_INFINITY },
		{ "Unlimited", DURATION_INFINITY },
	};
	static const char *const bad[] = {
		"", "s", "ms", "-1", "30 s", " 30", "30x", "1.5h", "5M", "1w",
		"30ss", "unlimitedx",
	};
	uint64_t ms;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ms = 1;
		if (parse_duration_ms(ok[i].s, &ms) != 0 || ms != ok[i].ms)
			fail_msg("parse_duration_ms(\"%s\")", ok[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 1;
		if (parse_duration_ms(bad[i], &ms) != -EINVAL || ms != 1)
			fail_msg("parse_duration_ms(\"%s\") accepted", bad[i]);
	}
	/* Overflow of the number, and of number * unit. */
	assert_int_equal(parse_duration_ms("99999999999999999999d", &ms), -ERANGE);
	assert_int_equal(parse_duration_ms("18446744073709551d", &ms), -ERANGE);
	/* The largest finite value must not collide with DURATION_INFINITY. */
	assert_int_equal(parse_duration_ms("18446744073709551615ms", &ms), -ERANGE);
	assert_int_equal(parse_duration_ms("18446744073709551614ms", &ms), 0);
	assert_true(ms == DURATION_INFINITY - 1);
}

static void test_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No", "OFF" };
	static const char *const bad[] = { "", "y", "n", "2", "yes ", " no", "enable" };
	bool b;
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_bool(bad[i], &b) != -EINVAL)
			fail_msg("parse_bool(\"%s\") accepted", bad[i]);
	}
}

static void test_hex(void **state)
{
	uint8_t out[4];
	char s[9];
	static const uint8_t want[4] = { 0xde, 0xad, 0xBE, 0xef };

	assert_int_equal(hex_decode("deADbeEF", 8, out, 4), 0);
	assert_memory_equal(out, want, 4);
	hex_encode(want, 4, s);
	assert_string_equal(s, "deadbeef");
	assert_int_equal(hex_decode("deadbee", 7, out, 4), -EINVAL);
	assert_int_equal(hex_decode("deadbeefaa", 10, out, 4), -EINVAL);
	assert_int_equal(hex_decode("deadbeeg", 8, out, 4), -EINVAL);
	assert_int_equal(hex_decode("0xdeadbe", 8, out, 4), -EINVAL);
	assert_int_equal(hex_nibble('7'), 7);
	assert_int_equal(hex_nibble('b'), 11);
	assert_int_equal(hex_nibble('F'), 15);
	assert_int_equal(hex_nibble('g'), -1);
	assert_int_equal(hex_nibble('\0'), -1);
}

/* hex_fput() writes what hex_encode() makes, across its chunks. */
static void test_hex_fput(void **state)
{
	static uint8_t in[700];
	static char want[2 * sizeof(in) + 1];
	char *got = NULL;
	size_t got_len = 0, i, n;
	FILE *f;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (n = 0; n <= sizeof(in); n += n < 3 ? 1 : 255) {
		f = open_memstream(&got, &got_len);
		assert_non_null(f);
		hex_fput(f, in, n);
		assert_int_equal(fclose(f), 0);
		hex_encode(in, n, want);
		assert_int_equal(got_len, 2 * n);
		assert_string_equal(got, want);
		free(got);
		got = NULL;
	}
}

static void test_base64(void **state)
{
	uint8_t out[32];

	/* RFC 4648 test vectors. */
	assert_int_equal(base64_decode("Zg==", 4, out, sizeof(out)), 1);
	assert_memory_equal(out, "f", 1);
	assert_int_equal(base64_decode("Zm8=", 4, out, sizeof(out)), 2);
	assert_memory_equal(out, "fo", 2);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	/* Not canonical: bits hidden by the padding must be zero. */
	assert_int_equal(base64_decode("Zh==", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode("Zm9=", 4, out, sizeof(out)), -EINVAL);
	/* Padding only at the end, length a multiple of 4, no junk. */
	assert_int_equal(base64_decode("Zg", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode("Z=g=", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode("Zg==Zg==", 8, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode("Zm9v YmFy", 9, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode("====", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode("", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5), -ENOBUFS);
}

static void test_base64_encode(void **state)
{
	static const char *const rfc4648[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
					       "Zm9vYmE=", "Zm9vYmFy" };
	char text[BASE64_ENCODED_SIZE(256)];
	uint8_t in[256], back[256];
	size_t n, len;

	for (n = 0; n <= 6; n++) {
		assert_int_equal(base64_encode((const uint8_t *)"foobar", n, text), strlen(rfc4648[n]));
		assert_string_equal(text, rfc4648[n]);
	}
	/* Every byte value and every tail length round-trips through the strict decoder. */
	for (n = 0; n < sizeof(in); n++)
		in[n] = (uint8_t)(255 - n);
	for (len = 1; len <= sizeof(in); len += 1 + len / 16) {
		n = base64_encode(in, len, text);
		assert_int_equal(n, BASE64_ENCODED_SIZE(len) - 1);
		assert_int_equal(base64_decode(text, n, back, sizeof(back)), (int)len);
		assert_memory_equal(back, in, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_ok),
		cmocka_unit_test(test_uint_bad),
		cmocka_unit_test(test_uint_range),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_hex_fput),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
