// SPDX-License-Identifier: LGPL-2.1-or-later
/* Unit tests: util/askfile (systemd password agent ask files), byte-exact, hostile inputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/askfile.h"

static int parse(const char *s, struct askfile *a)
{
	memset(a, 0x5a, sizeof(*a));
	return askfile_parse(s, strlen(s), a);
}

/* What systemd-ask-password writes (ask-password-api.c), byte for byte. */
static void test_systemd_file(void **state)
{
	struct askfile a;
	const char *f =
		"[Ask]\n"
		"PID=4242\n"
		"Socket=/run/systemd/ask-password/sck.1a2b3c\n"
		"AcceptCached=1\n"
		"Echo=0\n"
		"NotAfter=98765432100\n"
		"Silent=0\n"
		"Message=Please enter passphrase for disk root (luks-x):\n"
		"Icon=drive-harddisk\n"
		"Id=cryptsetup:/dev/disk/by-uuid/0c4f\n";

	assert_int_equal(parse(f, &a), 0);
	assert_string_equal(a.socket, "/run/systemd/ask-password/sck.1a2b3c");
	assert_string_equal(a.id, "cryptsetup:/dev/disk/by-uuid/0c4f");
	assert_true(a.not_after_us == 98765432100ull);
	assert_int_equal(a.pid, 4242);
	assert_string_equal(askfile_cryptsetup_device(&a), "/dev/disk/by-uuid/0c4f");
	assert_false(askfile_expired(&a, 98765432100ull));
	assert_true(askfile_expired(&a, 98765432101ull));
}

static void test_minimal(void **state)
{
	struct askfile a;

	/* CRLF, comments, other sections, no final newline: fine. */
	assert_int_equal(parse("# c\r\n[Other]\r\nSocket=x\r\n[Ask]\r\nSocket=/s", &a), 0);
	assert_string_equal(a.socket, "/s");
	assert_string_equal(a.id, "");
	assert_true(a.not_after_us == 0);
	assert_int_equal(a.pid, 0);
	assert_null(askfile_cryptsetup_device(&a));
	assert_false(askfile_expired(&a, UINT64_MAX));	/* NotAfter absent: no limit */
	assert_int_equal(parse("[Ask]\nSocket=/s\nNotAfter=0\n", &a), 0);
	assert_false(askfile_expired(&a, UINT64_MAX));
}

static void test_ids(void **state)
{
	struct askfile a;

	assert_int_equal(parse("[Ask]\nSocket=/s\nId=cryptsetup:\n", &a), 0);
	assert_null(askfile_cryptsetup_device(&a));		/* no device */
	assert_int_equal(parse("[Ask]\nSocket=/s\nId=cryptsetup:sda2\n", &a), 0);
	assert_null(askfile_cryptsetup_device(&a));		/* not a path */
	assert_int_equal(parse("[Ask]\nSocket=/s\nId=cryptsetup-token:/dev/sda\n", &a), 0);
	assert_null(askfile_cryptsetup_device(&a));
	assert_int_equal(parse("[Ask]\nSocket=/s\nId=CRYPTSETUP:/dev/sda\n", &a), 0);
	assert_null(askfile_cryptsetup_device(&a));
	assert_int_equal(parse("[Ask]\nSocket=/s\nId=cryptsetup:/x y\n", &a), 0);
	assert_string_equal(askfile_cryptsetup_device(&a), "/x y");
}

static void test_hostile(void **state)
{
	static const char *bad[] = {
		"",						/* nothing */
		"Socket=/s\n",					/* no [Ask] */
		"[Ask]\nId=cryptsetup:/dev/sda\n",		/* no Socket= */
		"[Other]\nSocket=/s\n",				/* Socket= not in [Ask] */
		"[Ask]\nSocket=\n",				/* empty */
		"[Ask]\nSocket=relative\n",			/* not absolute */
		"[Ask]\nSocket=/a\nSocket=/b\n",		/* twice */
		"[Ask]\nSocket=/s\nId=a\nId=b\n",
		"[Ask]\nSocket=/s\nNotAfter=\n",
		"[Ask]\nSocket=/s\nNotAfter=-1\n",
		"[Ask]\nSocket=/s\nNotAfter=12x\n",
		"[Ask]\nSocket=/s\nNotAfter= 1\n",
		"[Ask]\nSocket=/s\nNotAfter=18446744073709551616\n",	/* 2^64 */
		"[Ask]\nSocket=/s\nNotAfter=000000000000000000001\n",	/* 21 digits */
		"[Ask]\nSocket=/s\nPID=0\n",
		"[Ask]\nSocket=/s\nPID=2147483648\n",
		"[Ask]\nSocket=/s\ngarbage\n",			/* no '=' */
		"[Ask\nSocket=/s\n",				/* bad section */
		"[Ask]\nSocket=/s\n[Ask]\nSocket=/t\n",		/* [Ask] twice */
	};
	struct askfile a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(parse(bad[i], &a), -EINVAL);
	}
	/* 2^64 - 1 is the largest NotAfter. */
	assert_int_equal(parse("[Ask]\nSocket=/s\nNotAfter=18446744073709551615\n", &a), 0);
	assert_true(a.not_after_us == UINT64_MAX);
	/* Socket= "Id" keys are case-sensitive: "socket=" is another key (skipped). */
	assert_int_equal(parse("[Ask]\nsocket=/s\n", &a), -EINVAL);
}

/* A NUL byte inside the given length: refused, not read as the end. */
static void test_nul(void **state)
{
	static const char f[] = "[Ask]\nSocket=/s\0/evil\n";
	struct askfile a;

	assert_int_equal(askfile_parse(f, sizeof(f) - 1, &a), -EINVAL);
}

static char *filled(size_t n, const char *head, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = malloc(h + n + t + 1);

	assert_non_null(s);
	memcpy(s, head, h);
	memset(s + h, 'a', n);
	memcpy(s + h + n, tail, t + 1);
	return s;
}

static void test_lengths(void **state)
{
	struct askfile a;
	char *s;

	/* Socket= of exactly ASKFILE_SOCKET_MAX bytes: fits sun_path with its NUL. */
	s = filled(ASKFILE_SOCKET_MAX - 1, "[Ask]\nSocket=/", "\n");
	assert_int_equal(parse(s, &a), 0);
	assert_int_equal(strlen(a.socket), ASKFILE_SOCKET_MAX);
	free(s);
	s = filled(ASKFILE_SOCKET_MAX, "[Ask]\nSocket=/", "\n");
	assert_int_equal(parse(s, &a), -EINVAL);
	free(s);
	/* Id= of ASKFILE_ID_MAX bytes and one more. */
	s = filled(ASKFILE_ID_MAX, "[Ask]\nSocket=/s\nId=", "\n");
	assert_int_equal(parse(s, &a), 0);
	assert_int_equal(strlen(a.id), ASKFILE_ID_MAX);
	free(s);
	s = filled(ASKFILE_ID_MAX + 1, "[Ask]\nSocket=/s\nId=", "\n");
	assert_int_equal(parse(s, &a), -EINVAL);
	free(s);
	/* A line of ASKFILE_LINE_MAX bytes (an unused key) and one more. */
	s = filled(ASKFILE_LINE_MAX - 8, "[Ask]\nSocket=/s\nMessage=", "\n");
	assert_int_equal(parse(s, &a), 0);
	free(s);
	s = filled(ASKFILE_LINE_MAX - 7, "[Ask]\nSocket=/s\nMessage=", "\n");
	assert_int_equal(parse(s, &a), -EINVAL);
	free(s);
	/* A long line outside [Ask] is refused too (bounded work on any input). */
	s = filled(ASKFILE_LINE_MAX, "#", "\n[Ask]\nSocket=/s\n");
	assert_int_equal(parse(s, &a), -EINVAL);
	free(s);
	/* The whole file: ASKFILE_MAX bytes at most. */
	s = filled(ASKFILE_MAX, "", "");
	memcpy(s, "[Ask]\nSocket=/s\n", 16);
	s[16] = '#';
	for (size_t i = 100; i + 1 < ASKFILE_MAX; i += 100) {
		s[i] = '\n';
		s[i + 1] = '#';	/* comment lines, each shorter than ASKFILE_LINE_MAX */
	}
	assert_int_equal(askfile_parse(s, ASKFILE_MAX, &a), 0);
	assert_int_equal(askfile_parse(s, ASKFILE_MAX + 1, &a), -EINVAL);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_file),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
