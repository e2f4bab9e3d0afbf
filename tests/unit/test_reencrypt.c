// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: luks/reencrypt's pieces that need no volume (the rest runs
 * against real images and PyKMIP in tests/integration/test-reencrypt.sh):
 *   - the passphrase of the volume-key pair, a fixed derivation (a volume
 *     left half re-encrypted by one version is opened by the next): a
 *     vector computed independently (OpenSSL's command line, Python's hmac);
 *   - the steps runner's `later` names: the test hook may name a step the
 *     verb runs itself after the table (reencrypt's data pass), and is then
 *     not called one that names no step.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "luks/reencrypt.h"
#include "luks/steps.h"
#include "util/log.h"
#include "util/secmem.h"

static char logbuf[4096];
static size_t loglen;

static void sink(enum log_level lvl, const char *msg, void *ctx)
{
	int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);

	(void)lvl;
	(void)ctx;
	if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
		loglen += (size_t)n;
}

static int setup(void **state)
{
	(void)state;
	loglen = 0;
	logbuf[0] = '\0';
	log_set_sink(sink, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	unsetenv("KMIPCRYPT_FAIL_AT");
	return 0;
}

/* printf 'kmipcrypt-reencrypt:1:UUID' | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102..3f -binary | base64 */
static void test_vk_passphrase_vector(void **state)
{
	uint8_t key[64];
	char *pass = NULL;
	size_t len = 0, i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	assert_int_equal(luks_reencrypt_vk_passphrase(key, sizeof(key),
						      "0b6d1e4c-7f2a-4d5e-9c3b-8a1f2e3d4c5b", &pass,
						      &len), 0);
	assert_non_null(pass);
	assert_string_equal(pass, "L3+mKLaD2ipevFevjHRvWuyqu3dfK7ejMupoleJoUl4=");
	assert_int_equal(len, 44);
	secmem_free(pass);
}

/* Another volume, another passphrase: the UUID is in it. */
static void test_vk_passphrase_per_volume(void **state)
{
	uint8_t key[32] = { 1 };
	char *a = NULL, *b = NULL;
	size_t la, lb;

	(void)state;
	assert_int_equal(luks_reencrypt_vk_passphrase(key, sizeof(key), "u1", &a, &la), 0);
	assert_int_equal(luks_reencrypt_vk_passphrase(key, sizeof(key), "u2", &b, &lb), 0);
	assert_string_not_equal(a, b);
	secmem_free(a);
	secmem_free(b);
}

static void test_vk_passphrase_refuses(void **state)
{
	uint8_t key[32] = { 0 };
	char *pass = (char *)1, uuid[200];
	size_t len = 1;

	(void)state;
	assert_int_equal(luks_reencrypt_vk_passphrase(NULL, 32, "u", &pass, &len), -EINVAL);
	assert_null(pass);
	assert_int_equal(len, 0);
	assert_int_equal(luks_reencrypt_vk_passphrase(key, 0, "u", &pass, &len), -EINVAL);
	assert_int_equal(luks_reencrypt_vk_passphrase(key, 32, "", &pass, &len), -EINVAL);
	assert_int_equal(luks_reencrypt_vk_passphrase(key, 32, NULL, &pass, &len), -EINVAL);
	memset(uuid, 'a', sizeof(uuid) - 1);
	uuid[sizeof(uuid) - 1] = '\0';
	assert_int_equal(luks_reencrypt_vk_passphrase(key, 32, uuid, &pass, &len), -EINVAL);
	assert_null(pass);
}

/* ---- the runner's later steps -------------------------------------- */

static int ran;

static int step_one(void *ctx)
{
	(void)ctx;
	ran++;
	return 0;
}

static const struct luks_step one[] = { { .name = "one", .run = step_one, .commit = true } };
static const char *const later[] = { "data", "revoke", NULL };

static void run_with(const char *hook, const char *const *names)
{
	const struct luks_txn t = { .what = "test", .committed = "one ran", .outcome = "done",
				    .steps = one, .n_steps = 1, .later = names };

	setenv("KMIPCRYPT_FAIL_AT", hook, 1);
	loglen = 0;
	logbuf[0] = '\0';
	ran = 0;
	assert_int_equal(luks_steps_run(&t, "dev", 0, NULL), 0);
	assert_int_equal(ran, 1);
}

static void test_later_names_are_steps(void **state)
{
	(void)state;
	run_with("data:SIGKILL", later);
	assert_non_null(strstr(logbuf, "is set: this run will be sent that signal at that step"));
	assert_null(strstr(logbuf, "names no step"));
	run_with("revoke", later);
	assert_non_null(strstr(logbuf, "this run will fail at that step"));
}

static void test_unknown_still_said(void **state)
{
	(void)state;
	run_with("nonsense", later);
	assert_non_null(strstr(logbuf, "names no step of this command; ignored"));
	run_with("data", NULL);	/* no later steps: data is none of this table's */
	assert_non_null(strstr(logbuf, "names no step of this command; ignored"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vk_passphrase_vector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vk_passphrase_per_volume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vk_passphrase_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_later_names_are_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_still_said, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
