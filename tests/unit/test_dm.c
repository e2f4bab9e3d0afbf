// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: dm/dm.h's pure parts (the device-mapper UUIDs libcryptsetup
 * gives LUKS mappings, state names) and its refusals that need no kernel.
 * The locks themselves need device-mapper: tests/vm (test-vm-luks.sh).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libcryptsetup.h>
#include <libdevmapper.h>

#include "dm/dm.h"
#include "util/log.h"

/* The last error logged: messages must name the mapping. */
static char last_error[LOG_LINE_MAX];

static void sink(enum log_level lvl, const char *msg, void *ctx)
{
	if (lvl <= LOG_LVL_ERR)
		snprintf(last_error, sizeof(last_error), "%s", msg);
}

#define UUID_DASHED	"4a1e6f5c-2b7d-4c1e-9f3a-0d8b7e6c5a4f"
#define UUID_PLAIN	"4a1e6f5c2b7d4c1e9f3a0d8b7e6c5a4f"

static void test_parse_luks(void **state)
{
	char u[DMAP_LUKS_UUID_SIZE];
	int v = -1;

	/* What libcryptsetup's dm_prepare_uuid() makes: CRYPT-<type>-<uuid w/o dashes>-<name>. */
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS2-" UUID_PLAIN "-vol", &v, u), 0);
	assert_int_equal(v, 2);
	assert_string_equal(u, UUID_DASHED);
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS1-" UUID_PLAIN "-luks-" UUID_DASHED,
					      &v, u), 0);
	assert_int_equal(v, 1);
	assert_string_equal(u, UUID_DASHED);
	/* A name with dashes and hex in it: only the first 32 digits are the UUID. */
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS2-" UUID_PLAIN "-" UUID_PLAIN "-x",
					      &v, u), 0);
	assert_string_equal(u, UUID_DASHED);
	/* The header's case is kept by libcryptsetup; ours is lower case. */
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS2-4A1E6F5C2B7D4C1E9F3A0D8B7E6C5A4F-v",
					      &v, u), 0);
	assert_string_equal(u, UUID_DASHED);
}

static void test_parse_luks_no_uuid(void **state)
{
	char u[DMAP_LUKS_UUID_SIZE];
	int v = -1;

	/* A header UUID that is no UUID: libcryptsetup leaves it out; still a LUKS mapping. */
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS2-vol", &v, u), 0);
	assert_int_equal(v, 2);
	assert_string_equal(u, "");
	/* 31 digits, or 32 not followed by '-': the name, no UUID. */
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS2-4a1e6f5c2b7d4c1e9f3a0d8b7e6c5a4-v",
					      &v, u), 0);
	assert_string_equal(u, "");
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS2-" UUID_PLAIN "0-v", &v, u), 0);
	assert_string_equal(u, "");
	assert_int_equal(dmap_luks_uuid_parse("CRYPT-LUKS2-" UUID_DASHED "-v", &v, u), 0);
	assert_string_equal(u, "");
}

static void test_parse_not_luks(void **state)
{
	static const char *const bad[] = {
		"",
		"CRYPT-PLAIN-vol",
		"CRYPT-TCRYPT-vol",
		"CRYPT-BITLK-" UUID_PLAIN "-vol",
		"CRYPT-LUKS3-" UUID_PLAIN "-vol",
		"CRYPT-LUKS-" UUID_PLAIN "-vol",
		"CRYPT-LUKS2" UUID_PLAIN "-vol",
		"CRYPT-LUKS2-",				/* no name */
		"CRYPT-LUKS2-" UUID_PLAIN "-",		/* a UUID, no name */
		"CRYPT-TEMP-LUKS2-" UUID_PLAIN "-vol",	/* libcryptsetup's helpers */
		"CRYPT-SUBDEV-LUKS2-" UUID_PLAIN "-vol",
		"crypt-luks2-" UUID_PLAIN "-vol",
		"LVM-abcdef",
		"CRYPT-LUKS2",
	};
	char u[DMAP_LUKS_UUID_SIZE];
	size_t i;
	int v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		strcpy(u, "x");
		if (dmap_luks_uuid_parse(bad[i], &v, u) != -EINVAL)
			fail_msg("'%s' was taken for a LUKS mapping's UUID", bad[i]);
		assert_int_equal(v, 0);
		assert_string_equal(u, "");
	}
	assert_int_equal(dmap_luks_uuid_parse(NULL, &v, u), -EINVAL);
}

static void test_state_names(void **state)
{
	/* The words of `kmipcrypt status --json`'s mapping_state. */
	assert_string_equal(dmap_state_name(DMAP_ACTIVE), "active");
	assert_string_equal(dmap_state_name(DMAP_SUSPENDED), "suspended");
	assert_string_equal(dmap_state_name(DMAP_ERROR), "error");
	assert_string_equal(dmap_state_name(DMAP_ABSENT), "absent");
	assert_string_equal(dmap_state_name((enum dmap_state)42), "unknown");
	assert_int_equal(DMAP_ACTIVE, 0);	/* a zeroed struct luks_status reads active */
}

/* Names that can be no mapping's are refused before libdevmapper is asked. */
static void test_bad_names(void **state)
{
	char longname[DMAP_NAME_MAX + 1];
	const char *bad[] = { "", "a/b", "/dev/mapper/x", longname, NULL };
	struct dmap_mapping m;
	size_t i;

	memset(longname, 'n', DMAP_NAME_MAX);
	longname[DMAP_NAME_MAX] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&m, 0x55, sizeof(m));
		last_error[0] = '\0';
		assert_int_equal(dmap_query(bad[i], &m), -EINVAL);
		assert_int_equal(m.state, DMAP_ABSENT);
		if (bad[i] && !strstr(last_error, bad[i]))
			fail_msg("the error does not name '%s': %s", bad[i], last_error);
		assert_int_equal(dmap_suspend(bad[i]), -EINVAL);
		assert_int_equal(dmap_close(bad[i]), -EINVAL);
	}
}

static void test_find_not_a_uuid(void **state)
{
	struct dmap_mapping m;

	/* No mapping can carry it: -ENOENT, without asking the kernel. */
	assert_int_equal(dmap_find_luks("not-a-uuid", &m), -ENOENT);
	assert_int_equal(dmap_find_luks(UUID_PLAIN, &m), -ENOENT);
	assert_int_equal(dmap_find_luks(UUID_DASHED "0", &m), -ENOENT);
	assert_int_equal(dmap_find_luks(NULL, &m), -ENOENT);
	assert_int_equal(m.state, DMAP_ABSENT);
}

/*
 * Without a driver (the lab's kernel) every call fails cleanly, with an
 * errno and nothing half-filled; with one, a name nobody uses is absent.
 */
static void test_kernel(void **state)
{
	struct dmap_mapping m, *list = (void *)1;
	size_t n = 99;
	int r;

	if (dmap_available()) {
		assert_int_equal(dmap_query("kmipcrypt-test-no-such-mapping", &m), 0);
		assert_int_equal(m.state, DMAP_ABSENT);
		assert_int_equal(dmap_suspend("kmipcrypt-test-no-such-mapping"), -ENODEV);
		assert_int_equal(dmap_close("kmipcrypt-test-no-such-mapping"), -ENODEV);
		assert_int_equal(dmap_list_luks(&list, &n), 0);
		free(list);
		return;
	}
	r = dmap_query("vol-q", &m);
	assert_true(r < 0);
	assert_int_equal(m.state, DMAP_ABSENT);
	assert_non_null(strstr(last_error, "vol-q: "));
	assert_non_null(strstr(last_error, "device-mapper is not available"));
	assert_true(dmap_suspend("vol-s") < 0);
	assert_non_null(strstr(last_error, "vol-s: "));
	assert_true(dmap_close("vol-c") < 0);
	assert_non_null(strstr(last_error, "vol-c: "));
	assert_true(dmap_list_luks(&list, &n) < 0);
	assert_null(list);
	assert_int_equal(n, 0);
	assert_true(dmap_find_luks(UUID_DASHED, &m) < 0);
	/* Asked again: the same answer (libdevmapper remembers its check). */
	assert_false(dmap_available());
}

/*
 * libcryptsetup raises libdevmapper's verbosity while a crypt_device exists
 * (luks_status_read holds one): a dm.h call in that time must not leave
 * libdevmapper's default printer behind, which then prints every debug
 * line of libdevmapper on stdout (it broke `kmipcrypt status --json`).
 */
static void test_no_stdout_after_call(void **state)
{
	struct crypt_device *cd = NULL;
	struct dmap_mapping m;
	char version[64], buf[256];
	FILE *out = tmpfile();
	int saved;
	long n;

	assert_non_null(out);
	assert_int_equal(crypt_init(&cd, NULL), 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(out), STDOUT_FILENO) >= 0);
	(void)dmap_available();
	(void)dmap_query("kmipcrypt-test-no-such-mapping", &m);
	/* libdevmapper used by someone else (libcryptsetup) after our calls. */
	(void)dm_driver_version(version, sizeof(version));
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	crypt_free(cd);
	n = ftell(out);
	rewind(out);
	buf[0] = '\0';
	if (n > 0 && fgets(buf, sizeof(buf), out))
		fail_msg("libdevmapper printed %ld bytes on stdout, first: %s", n, buf);
	fclose(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_luks),
		cmocka_unit_test(test_parse_luks_no_uuid),
		cmocka_unit_test(test_parse_not_luks),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_find_not_a_uuid),
		cmocka_unit_test(test_kernel),
		cmocka_unit_test(test_no_stdout_after_call),
	};

	log_set_sink(sink, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
