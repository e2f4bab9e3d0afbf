// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: the LUKS2 kmip token (src/luks/token.c) and the small pure
 * helpers of src/luks (keyslot passphrase encoding, default KEK path).
 *
 * Good tokens of each kind parse to the right fields and survive a
 * format/parse round trip byte for byte; every kind of invalid token is
 * refused with -EINVAL and a message that names the problem: wrong JSON
 * types, sizes, unknown kind, bad base64, extra, missing and misplaced
 * fields, versions, keyslots, huge and deeply nested JSON, trailing text,
 * NUL bytes.  The same for the rotation record token ("kmip-rotation"),
 * and its MAC against a known answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "luks/luks.h"
#include "luks/token.h"
#include "conf/config.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

/* ------------------------------------------------------- log capture */

static char last_log[LOG_LINE_MAX + 1];
static unsigned n_logs;

static void sink(enum log_level lvl, const char *msg, void *ctx)
{
	(void)lvl;
	(void)ctx;
	snprintf(last_log, sizeof(last_log), "%s", msg);
	n_logs++;
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_DEBUG);
	log_set_sink(sink, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	return 0;
}

static int parse(const char *json, struct kmip_token *t)
{
	last_log[0] = '\0';
	return kmip_token_parse(json, strlen(json), "test.img token 0", t);
}

/* --------------------------------------------------------- good tokens */

#define UID_P	"5f6d7c1e-0a2b-4c3d-9e8f-0123456789ab"
#define CT48	"rlnvqmcpkiUeMOY6MvSgMqcvjQjpFD7muePFrgGlUGNg7p/YfhfADxvFKG5T2ws/"
#define IV16	"tcVkEOC3eTsMgRFch82XfQ=="
#define CT32	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="	/* bytes 0..31 */
#define IV12	"ZGVmZ2hpamtsbW5v"				/* bytes 100..111 */
#define TAG16	"yMnKy8zNzs/Q0dLT1NXW1w=="			/* bytes 200..215 */

static const char good_pass[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
	"\"uid\":\"" UID_P "\",\"group\":\"default\"}";
static const char good_vk[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"31\"],\"kmip_version\":1,\"kind\":\"volume-key\","
	"\"uid\":\"42\",\"group\":\"dc-2.east_1\"}";
static const char good_vk_wrap[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"0\"],\"kmip_version\":1,\"kind\":\"volume-key\","
	"\"uid\":\"42\",\"group\":\"default\",\"wrap_uid\":\"kek-7\"}";
static const char good_env[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"2\"],\"kmip_version\":1,\"kind\":\"envelope\","
	"\"uid\":\"9\",\"group\":\"default\",\"ciphertext\":\"" CT48 "\",\"iv\":\"" IV16 "\"}";
/* Format 2: an AES-GCM envelope, as enroll writes it. */
static const char good_env_gcm[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"3\"],\"kmip_version\":2,\"kind\":\"envelope\","
	"\"uid\":\"9\",\"group\":\"default\",\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\","
	"\"mode\":\"aes-gcm\",\"tag\":\"" TAG16 "\"}";
/* Format 2 may say aes-cbc too (enroll writes those as format 1). */
static const char good_env_cbc2[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"2\"],\"kmip_version\":2,\"kind\":\"envelope\","
	"\"uid\":\"9\",\"group\":\"default\",\"ciphertext\":\"" CT48 "\",\"iv\":\"" IV16 "\","
	"\"mode\":\"aes-cbc\"}";
/* Format 2 changes nothing for the other kinds. */
static const char good_pass2[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"passphrase\","
	"\"uid\":\"" UID_P "\",\"group\":\"default\"}";

static void test_good_passphrase(void **state)
{
	struct kmip_token t;

	(void)state;
	assert_int_equal(parse(good_pass, &t), 0);
	assert_int_equal(t.version, 1);
	assert_int_equal(t.kind, KMIP_KIND_PASSPHRASE);
	assert_int_equal(t.keyslot, 1);
	assert_string_equal(t.uid, UID_P);
	assert_string_equal(t.group, "default");
	assert_string_equal(t.wrap_uid, "");
	assert_int_equal(t.ciphertext_len, 0);
	assert_int_equal(t.iv_len, 0);
}

static void test_good_volume_key(void **state)
{
	struct kmip_token t;

	(void)state;
	assert_int_equal(parse(good_vk, &t), 0);
	assert_int_equal(t.kind, KMIP_KIND_VOLUME_KEY);
	assert_int_equal(t.keyslot, 31);
	assert_string_equal(t.group, "dc-2.east_1");
	assert_string_equal(t.wrap_uid, "");
	assert_int_equal(parse(good_vk_wrap, &t), 0);
	assert_int_equal(t.keyslot, 0);
	assert_string_equal(t.wrap_uid, "kek-7");
}

static void test_good_envelope(void **state)
{
	struct kmip_token t;
	uint8_t ct[64], iv[16];

	(void)state;
	assert_int_equal(parse(good_env, &t), 0);
	assert_int_equal(t.kind, KMIP_KIND_ENVELOPE);
	assert_int_equal(t.ciphertext_len, 48);
	assert_int_equal(t.iv_len, 16);
	assert_int_equal(EVP_DecodeBlock(ct, (const unsigned char *)CT48, (int)strlen(CT48)), 48);
	assert_memory_equal(t.ciphertext, ct, 48);
	assert_int_equal(EVP_DecodeBlock(iv, (const unsigned char *)IV16, (int)strlen(IV16)), 18);
	assert_memory_equal(t.iv, iv, 16);
	assert_int_equal(t.mode, KMIP_ENVELOPE_AES_CBC);	/* format 1: always CBC */
	assert_int_equal(t.tag_len, 0);
	assert_string_equal(t.volume_uuid, "");		/* not in the JSON */
}

static void test_good_envelope_gcm(void **state)
{
	struct kmip_token t;
	size_t i;

	(void)state;
	assert_int_equal(parse(good_env_gcm, &t), 0);
	assert_int_equal(t.version, 2);
	assert_int_equal(t.kind, KMIP_KIND_ENVELOPE);
	assert_int_equal(t.mode, KMIP_ENVELOPE_AES_GCM);
	assert_int_equal(t.keyslot, 3);
	assert_int_equal(t.ciphertext_len, 32);
	assert_int_equal(t.iv_len, 12);
	assert_int_equal(t.tag_len, 16);
	for (i = 0; i < 32; i++)
		assert_int_equal(t.ciphertext[i], i);
	for (i = 0; i < 12; i++)
		assert_int_equal(t.iv[i], 100 + i);
	for (i = 0; i < 16; i++)
		assert_int_equal(t.tag[i], 200 + i);
	assert_string_equal(kmip_envelope_mode_name(t.mode), "aes-gcm");

	assert_int_equal(parse(good_env_cbc2, &t), 0);
	assert_int_equal(t.version, 2);
	assert_int_equal(t.mode, KMIP_ENVELOPE_AES_CBC);
	assert_int_equal(t.tag_len, 0);
	assert_int_equal(parse(good_pass2, &t), 0);
	assert_int_equal(t.version, 2);
	assert_int_equal(t.kind, KMIP_KIND_PASSPHRASE);
	assert_int_equal(t.mode, 0);
}

/* The writer takes the oldest format that says it: 2 only for AES-GCM. */
static void test_format_version(void **state)
{
	struct kmip_token t;
	char *out = NULL;

	(void)state;
	assert_int_equal(parse(good_env_cbc2, &t), 0);
	assert_int_equal(kmip_token_format(&t, &out), 0);
	assert_string_equal(out, good_env);	/* format 1, no mode */
	free(out);
	assert_int_equal(parse(good_pass2, &t), 0);
	assert_int_equal(kmip_token_format(&t, &out), 0);
	assert_string_equal(out, good_pass);
	free(out);
	/* t->version is not what decides */
	assert_int_equal(parse(good_env_gcm, &t), 0);
	t.version = 1;
	assert_int_equal(kmip_token_format(&t, &out), 0);
	assert_string_equal(out, good_env_gcm);
	free(out);
	/* an envelope without a known mode is not written */
	t.mode = 0;
	out = NULL;
	assert_int_equal(kmip_token_format(&t, &out), -EINVAL);
	assert_null(out);
	t.mode = 7;
	assert_int_equal(kmip_token_format(&t, &out), -EINVAL);
	assert_null(out);
}

/* The Additional Data of an AES-GCM envelope: exactly this text, or refused. */
static void test_envelope_aad(void **state)
{
	uint8_t buf[KMIP_ENVELOPE_AAD_MAX];
	const char *uuid = "0b6d1e4c-7f2a-4d5e-9c3b-8a1f2e3d4c5b";
	int n;

	(void)state;
	n = kmip_envelope_aad(uuid, 7, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen("kmipcrypt-envelope:") + 36 + 2);
	assert_memory_equal(buf, "kmipcrypt-envelope:0b6d1e4c-7f2a-4d5e-9c3b-8a1f2e3d4c5b:7", (size_t)n);
	n = kmip_envelope_aad(uuid, 31, buf, sizeof(buf));
	assert_memory_equal(buf, "kmipcrypt-envelope:0b6d1e4c-7f2a-4d5e-9c3b-8a1f2e3d4c5b:31", (size_t)n);
	/* the longest fits the buffer the header sizes */
	assert_true(kmip_envelope_aad("0123456789012345678901234567890123456789" + 1, 31, buf,
				      sizeof(buf)) > 0);
	assert_int_equal(kmip_envelope_aad("", 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kmip_envelope_aad(NULL, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kmip_envelope_aad(uuid, -1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kmip_envelope_aad(uuid, 32, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kmip_envelope_aad("a:b", 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kmip_envelope_aad("a b", 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kmip_envelope_aad("a\nb", 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kmip_envelope_aad("0123456789012345678901234567890123456789", 1, buf,
					   sizeof(buf)), -EINVAL);	/* 40: longer than a UUID */
	assert_int_equal(kmip_envelope_aad(uuid, 1, buf, 20), -EINVAL);	/* does not fit */
}

/* White space around and inside is JSON; member order is free. */
static void test_good_whitespace_order(void **state)
{
	struct kmip_token t;

	(void)state;
	assert_int_equal(parse(" {\n\t\"group\" : \"default\", \"uid\":\"1\", \"kind\":\"passphrase\",\n"
			       "  \"kmip_version\": 1, \"keyslots\": [ \"7\" ], \"type\": \"kmip\" }\n ",
			       &t), 0);
	assert_int_equal(t.keyslot, 7);
	assert_string_equal(t.uid, "1");
}

/* Not NUL-terminated: only len bytes are read. */
static void test_good_not_terminated(void **state)
{
	struct kmip_token t;
	size_t n = strlen(good_pass);
	char *buf = malloc(n + 8);

	(void)state;
	memcpy(buf, good_pass, n);
	memcpy(buf + n, "garbage!", 8);
	assert_int_equal(kmip_token_parse(buf, n, "x", &t), 0);
	assert_int_not_equal(kmip_token_parse(buf, n + 8, "x", &t), 0);
	free(buf);
}

static void roundtrip(const char *json)
{
	struct kmip_token t, u;
	char *out = NULL;

	assert_int_equal(parse(json, &t), 0);
	assert_int_equal(kmip_token_format(&t, &out), 0);
	assert_non_null(out);
	assert_string_equal(out, json);	/* the canonical spelling is what enroll writes */
	assert_int_equal(parse(out, &u), 0);
	assert_memory_equal(&t, &u, sizeof(t));
	free(out);
}

/* With the Object Group enroll put the object in (any kind; UTF-8 is text too). */
static const char good_pass_og[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\","
	"\"uid\":\"" UID_P "\",\"group\":\"default\",\"protocol\":\"1.4\","
	"\"object_group\":\"kmipcrypt-986b48ebcf6e4dea\"}";
static const char good_vk_og[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"0\"],\"kmip_version\":1,\"kind\":\"volume-key\","
	"\"uid\":\"42\",\"group\":\"default\",\"wrap_uid\":\"kek-7\","
	"\"object_group\":\"h\xc3\xb4te 7 / db\"}";
static const char good_env_gcm_og[] =
	"{\"type\":\"kmip\",\"keyslots\":[\"3\"],\"kmip_version\":2,\"kind\":\"envelope\","
	"\"uid\":\"9\",\"group\":\"default\",\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\","
	"\"mode\":\"aes-gcm\",\"tag\":\"" TAG16 "\",\"object_group\":\"g\"}";

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(good_pass_og);
	roundtrip(good_vk_og);
	roundtrip(good_env_gcm_og);
	roundtrip(good_pass);
	roundtrip(good_vk);
	roundtrip(good_vk_wrap);
	roundtrip(good_env);
	roundtrip(good_env_gcm);
}

static void test_format_fields(void **state)
{
	struct kmip_token t, u;
	char *out = NULL;
	size_t i;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.version = 1;
	t.kind = KMIP_KIND_ENVELOPE;
	t.mode = KMIP_ENVELOPE_AES_CBC;
	t.keyslot = 12;
	strcpy(t.uid, "a/b\"c\\d");	/* JSON escapes, no slash escaping needed */
	strcpy(t.group, "g");
	for (i = 0; i < KMIP_ENVELOPE_MAX; i++)
		t.ciphertext[i] = (uint8_t)(i * 7);
	t.ciphertext_len = KMIP_ENVELOPE_MAX;
	t.iv_len = 16;
	assert_int_equal(kmip_token_format(&t, &out), 0);
	assert_int_equal(parse(out, &u), 0);
	assert_string_equal(u.uid, "a/b\"c\\d");
	assert_int_equal(u.ciphertext_len, KMIP_ENVELOPE_MAX);
	assert_memory_equal(u.ciphertext, t.ciphertext, KMIP_ENVELOPE_MAX);
	assert_int_equal(u.keyslot, 12);
	free(out);

	/* Bad kind or keyslot: nothing written. */
	t.kind = 0;
	out = NULL;
	assert_int_equal(kmip_token_format(&t, &out), -EINVAL);
	assert_null(out);
	t.kind = KMIP_KIND_PASSPHRASE;
	t.keyslot = 32;
	assert_int_equal(kmip_token_format(&t, &out), -EINVAL);
	t.keyslot = -1;
	assert_int_equal(kmip_token_format(&t, &out), -EINVAL);
	/* An empty uid would not parse back: refused. */
	t.keyslot = 1;
	t.uid[0] = '\0';
	assert_int_equal(kmip_token_format(&t, &out), -EINVAL);
	assert_null(out);
}

/* object_group: optional, in every kind and format; absent in older tokens. */
static void test_object_group(void **state)
{
	struct kmip_token t;
	char *out = NULL, json[1024];
	char big[KMIP_TEXT_MAX + 2];

	(void)state;
	assert_int_equal(parse(good_pass, &t), 0);
	assert_string_equal(t.object_group, "");	/* a token made before it existed */
	assert_int_equal(kmip_token_format(&t, &out), 0);
	assert_null(strstr(out, "object_group"));	/* and written as it was */
	free(out);
	assert_int_equal(parse(good_pass_og, &t), 0);
	assert_string_equal(t.object_group, "kmipcrypt-986b48ebcf6e4dea");
	assert_int_equal(t.protocol, KMIP_VERSION(1, 4));
	assert_int_equal(parse(good_vk_og, &t), 0);
	assert_string_equal(t.object_group, "h\xc3\xb4te 7 / db");
	assert_string_equal(t.wrap_uid, "kek-7");
	assert_int_equal(parse(good_env_gcm_og, &t), 0);
	assert_string_equal(t.object_group, "g");
	assert_int_equal(t.mode, KMIP_ENVELOPE_AES_GCM);
	/* JSON escapes of printable characters are the same text. */
	assert_int_equal(parse("{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,"
			       "\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
			       "\"object_group\":\"caf\\u00e9\"}", &t), 0);
	assert_string_equal(t.object_group, "caf\xc3\xa9");

	/* KMIP_TEXT_MAX bytes is the longest; one more is refused. */
	memset(big, 'o', sizeof(big));
	big[KMIP_TEXT_MAX] = '\0';
	snprintf(json, sizeof(json), "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,"
		 "\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\",\"object_group\":\"%s\"}",
		 big);
	assert_int_equal(parse(json, &t), 0);
	assert_int_equal(strlen(t.object_group), KMIP_TEXT_MAX);
	assert_int_equal(kmip_token_format(&t, &out), 0);
	assert_string_equal(out, json);
	free(out);
	big[KMIP_TEXT_MAX] = 'o';
	big[KMIP_TEXT_MAX + 1] = '\0';
	snprintf(json, sizeof(json), "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,"
		 "\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\",\"object_group\":\"%s\"}",
		 big);
	assert_int_equal(parse(json, &t), -EINVAL);
	assert_non_null(strstr(last_log, "object_group is longer than 255 bytes"));
}

/* ------------------------------------------------------- bad tokens */

static const struct bad {
	const char *json;
	const char *why;	/* in the message */
} bad[] = {
	/* not a JSON object */
	{ "", "empty JSON" },
	{ "[]", "not a JSON object" },
	{ "\"kmip\"", "not a JSON object" },
	{ "null", "not a JSON object" },
	{ "{", "not valid JSON" },
	{ "{\"type\":\"kmip\",}", "not valid JSON" },
	{ "{'type':'kmip'}", "not valid JSON" },
	{ "{\"type\":\"kmip\"} {}", "JSON" },
	{ "{\"type\":\"kmip\"} x", "JSON" },
	/* type */
	{ "{\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "no type" },
	{ "{\"type\":\"kmipx\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "type is not" },
	{ "{\"type\":\"KMIP\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "type is not" },
	{ "{\"type\":1,\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "type is not a JSON string" },
	/* format version */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "no kmip_version" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":3,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "format version 3 is not supported (this kmipcrypt reads versions 1 to 2)" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":0,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "format version 0" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":-1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "format version -1" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":4294967297,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "format version" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":\"1\",\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "kmip_version is not a JSON integer" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1.0,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "kmip_version is not a JSON integer" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":true,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "kmip_version is not a JSON integer" },
	/* kind */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"uid\":\"u\",\"group\":\"default\"}",
	  "no kind" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"tpm\",\"uid\":\"u\",\"group\":\"default\"}",
	  "unknown kind 'tpm'" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"Passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "unknown kind" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\\u0000x\",\"uid\":\"u\",\"group\":\"default\"}",
	  "unknown kind" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":1,\"uid\":\"u\",\"group\":\"default\"}",
	  "kind is not a JSON string" },
	/* keyslots */
	{ "{\"type\":\"kmip\",\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "no keyslots" },
	{ "{\"type\":\"kmip\",\"keyslots\":[],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "exactly one keyslot" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\",\"2\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "exactly one keyslot" },
	{ "{\"type\":\"kmip\",\"keyslots\":\"1\",\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "keyslots is not a JSON array" },
	{ "{\"type\":\"kmip\",\"keyslots\":[1],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "keyslots[0] is not a string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"32\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "keyslots[0] is 32" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"01\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "not a keyslot number" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"-1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "not a keyslot number" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "not a keyslot number" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1 \"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "not a keyslot number" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"100\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "not a keyslot number" },
	/* uid */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"group\":\"default\"}",
	  "no uid" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"\",\"group\":\"default\"}",
	  "uid is empty" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":7,\"group\":\"default\"}",
	  "uid is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":null,\"group\":\"default\"}",
	  "uid is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":[\"u\"],\"group\":\"default\"}",
	  "uid is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"a\\nb\",\"group\":\"default\"}",
	  "printable ASCII" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"a\\u0000b\",\"group\":\"default\"}",
	  "printable ASCII" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"caf\\u00e9\",\"group\":\"default\"}",
	  "printable ASCII" },
	/* group */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\"}",
	  "no group" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"\"}",
	  "group is not a server group name" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"a b\"}",
	  "group is not a server group name" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"../etc\"}",
	  "group is not a server group name" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":5}",
	  "group is not a server group name" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\","
	  "\"group\":\"0123456789012345678901234567890123456789012345678901234567890123\"}",
	  "group is not a server group name" },
	/* extra and misplaced fields */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"passphrase\":\"c2VjcmV0\"}", "unknown field 'passphrase'" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"envelope_uid\":\"3\"}", "unknown field 'envelope_uid'" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"x\\u0001y\":1}", "unknown field 'x?y'" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"wrap_uid\":\"k\"}", "field wrap_uid is not used by kind passphrase" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\"}", "field ciphertext is not used by kind passphrase" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"volume-key\",\"uid\":\"u\",\"group\":\"default\","
	  "\"iv\":\"" IV16 "\"}", "field iv is not used by kind volume-key" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"" IV16 "\",\"wrap_uid\":\"k\"}", "field wrap_uid is not used by kind envelope" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"volume-key\",\"uid\":\"u\",\"group\":\"default\","
	  "\"wrap_uid\":\"\"}", "wrap_uid is empty" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"volume-key\",\"uid\":\"u\",\"group\":\"default\","
	  "\"wrap_uid\":{}}", "wrap_uid is not a JSON string" },
	/* envelope: missing, sizes, base64 */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"iv\":\"" IV16 "\"}", "no ciphertext" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\"}", "no iv" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"@@@@\",\"iv\":\"" IV16 "\"}", "ciphertext is not valid base64" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"tcVkEOC3eTsMgRFch82XfQ\"}", "iv is not valid base64" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"tcVkEOC3eTsMgRFch82XfR==\"}", "iv is not valid base64" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"tcVkEOC3 eTsMgRFch82XfQ==\"}", "iv is not valid base64" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"AAAAAAAAAAA=\"}", "iv is 8 bytes" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}", "iv decodes to more than 16" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAA\",\"iv\":\"" IV16 "\"}", "ciphertext is 15 bytes" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"\",\"iv\":\"" IV16 "\"}", "ciphertext is empty" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":48,\"iv\":\"" IV16 "\"}", "ciphertext is not a JSON string" },
	/* envelope: the mode and its tag (format 2) */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"" IV16 "\",\"mode\":\"aes-cbc\"}", "field mode is not in format version 1" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"" IV16 "\",\"tag\":\"" TAG16 "\"}", "field tag is not in format version 1" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"" IV16 "\"}", "no mode (an envelope of format version 2 needs it)" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"aes-ctr\",\"tag\":\"" TAG16 "\"}",
	  "unknown mode 'aes-ctr' (known: aes-gcm, aes-cbc)" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"AES-GCM\",\"tag\":\"" TAG16 "\"}",
	  "unknown mode 'AES-GCM'" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"aes-gcm\\u0000\",\"tag\":\"" TAG16 "\"}",
	  "unknown mode 'aes-gcm?'" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"\",\"tag\":\"" TAG16 "\"}", "unknown mode ''" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":9,\"tag\":\"" TAG16 "\"}", "mode is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"aes-gcm\"}", "no tag (mode aes-gcm needs it)" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT48 "\",\"iv\":\"" IV16 "\",\"mode\":\"aes-cbc\",\"tag\":\"" TAG16 "\"}",
	  "field tag is not used by mode aes-cbc" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV16 "\",\"mode\":\"aes-gcm\",\"tag\":\"" TAG16 "\"}",
	  "iv decodes to more than 12 bytes" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"AAAAAAAAAAA=\",\"mode\":\"aes-gcm\",\"tag\":\"" TAG16 "\"}",
	  "iv is 8 bytes; it must be 12 to 12 bytes" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"aes-gcm\",\"tag\":\"" IV12 "\"}",
	  "tag is 12 bytes; it must be 16 to 16 bytes" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"aes-gcm\",\"tag\":\"" CT32 "\"}",
	  "tag decodes to more than 16 bytes" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"aes-gcm\",\"tag\":16}",
	  "tag is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAA\",\"iv\":\"" IV12 "\",\"mode\":\"aes-gcm\",\"tag\":\"" TAG16 "\"}",
	  "ciphertext is 15 bytes" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"envelope\",\"uid\":\"u\",\"group\":\"default\","
	  "\"ciphertext\":\"" CT32 "\",\"iv\":\"" IV12 "\",\"mode\":\"aes-gcm\"}", "no tag" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"mode\":\"aes-gcm\"}", "field mode is not used by kind passphrase" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":2,\"kind\":\"volume-key\",\"uid\":\"u\",\"group\":\"default\","
	  "\"tag\":\"" TAG16 "\"}", "field tag is not used by kind volume-key" },
	/* object_group: printable text, 1..255 bytes (the rest in test_object_group) */
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":\"\"}", "object_group is empty" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":7}", "object_group is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":null}", "object_group is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":[\"g\"]}", "object_group is not a JSON string" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":\"a\\nb\"}", "object_group is not printable text" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":\"a\\u001b[2J\"}", "object_group is not printable text" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":\"a\\u009b2J\"}", "object_group is not printable text" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":\"a\\u0000b\"}", "object_group is not printable text" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"object_group\":\"a\xff\"}", "object_group is not printable text" },
	{ "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\","
	  "\"objectgroup\":\"g\"}", "unknown field 'objectgroup'" },
	/* nesting */
	{ "{\"type\":\"kmip\",\"keyslots\":[[[[[\"1\"]]]]],\"kmip_version\":1,\"kind\":\"passphrase\",\"uid\":\"u\",\"group\":\"default\"}",
	  "nested too deeply" },
};

static void test_bad_tokens(void **state)
{
	struct kmip_token t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		memset(&t, 0xA5, sizeof(t));
		r = parse(bad[i].json, &t);
		if (r != -EINVAL || !strstr(last_log, bad[i].why)) {
			print_error("case %zu: %s\n  result %d, message: %s\n  expected: %s\n", i,
				    bad[i].json, r, last_log, bad[i].why);
			fail();
		}
		/* the message says where, and the output holds nothing half-parsed */
		assert_non_null(strstr(last_log, "test.img token 0: invalid kmip token: "));
		assert_int_equal(t.kind, 0);
		assert_int_equal(t.uid[0], 0);
	}
}

/* Every required field of each kind, one at a time. */
static void test_each_missing(void **state)
{
	static const char *const fields[] = { "type", "keyslots", "kmip_version", "kind", "uid",
					      "group", "ciphertext", "iv" };
	struct kmip_token t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char json[1024], *p;
		char key[32];

		snprintf(json, sizeof(json), "%s", good_env);
		snprintf(key, sizeof(key), "\"%s\":", fields[i]);
		p = strstr(json, key);
		assert_non_null(p);
		/* cut "key":value, up to the next top-level comma or the closing brace */
		{
			char *end = p + strlen(key);
			int depth = 0;
			bool str = false;

			for (; *end; end++) {
				if (*end == '"' && end[-1] != '\\')
					str = !str;
				else if (!str && (*end == '[' || *end == '{'))
					depth++;
				else if (!str && (*end == ']' || *end == '}') && depth > 0)
					depth--;
				else if (!str && depth == 0 && (*end == ',' || *end == '}'))
					break;
			}
			if (*end == ',')
				memmove(p, end + 1, strlen(end + 1) + 1);
			else {	/* last member: drop the comma before it */
				memmove(p - 1, end, strlen(end) + 1);
			}
		}
		assert_int_equal(parse(json, &t), -EINVAL);
		assert_non_null(strstr(last_log, "no "));
	}
}

static void test_huge(void **state)
{
	struct kmip_token t;
	size_t n = KMIP_TOKEN_JSON_MAX + 100, i;
	char *big = malloc(n + 1), *p;

	(void)state;
	/* one byte over the cap, else well-formed */
	i = (size_t)snprintf(big, n, "{\"type\":\"kmip\",\"keyslots\":[\"1\"],\"kmip_version\":1,"
			     "\"kind\":\"passphrase\",\"group\":\"default\",\"uid\":\"");
	memset(big + i, 'u', KMIP_TOKEN_JSON_MAX - i - 1);
	strcpy(big + KMIP_TOKEN_JSON_MAX - 1, "\"}");
	assert_int_equal(strlen(big), KMIP_TOKEN_JSON_MAX + 1);
	assert_int_equal(parse(big, &t), -EINVAL);
	assert_non_null(strstr(last_log, "more than the 16384 accepted"));

	/* within the cap, uid longer than 255 */
	p = big + i + 256;
	strcpy(p, "\"}");
	assert_int_equal(parse(big, &t), -EINVAL);
	assert_non_null(strstr(last_log, "uid is longer than 255 bytes"));
	/* exactly 255: fine */
	strcpy(big + i + 255, "\"}");
	assert_int_equal(parse(big, &t), 0);
	assert_int_equal(strlen(t.uid), 255);

	/* deep nesting within the cap */
	memset(big, '[', 8000);
	memset(big + 8000, ']', 8000);
	big[16000] = '\0';
	assert_int_equal(parse(big, &t), -EINVAL);

	/* many members within the cap */
	p = big;
	p += sprintf(p, "{\"type\":\"kmip\"");
	for (i = 0; p - big < 16000; i++)
		p += sprintf(p, ",\"f%zu\":%zu", i, i);
	strcpy(p, "}");
	assert_int_equal(parse(big, &t), -EINVAL);
	free(big);
}

static void test_nul_and_null(void **state)
{
	struct kmip_token t;
	char buf[sizeof(good_pass) + 1];

	(void)state;
	memcpy(buf, good_pass, sizeof(good_pass));
	buf[10] = '\0';
	assert_int_equal(kmip_token_parse(buf, sizeof(good_pass) - 1, "x", &t), -EINVAL);
	assert_non_null(strstr(last_log, "NUL byte"));
	assert_int_equal(kmip_token_parse(NULL, 0, "x", &t), -EINVAL);
	assert_int_equal(kmip_token_parse(good_pass, strlen(good_pass), NULL, &t), 0);
	assert_int_equal(kmip_token_parse(good_pass, strlen(good_pass), "x", NULL), -EINVAL);
}

/* ------------------------------------------------ the rotation token */

#define ROT_UUID	"0b9b1f0e-4a7e-4a53-9d1c-3b0a6c8a9f11"
#define ROT_NAME	"kmipcrypt-0b9b1f0e-passphrase-r1a2b3c4d"
#define MAC_A		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="	/* bytes 0..31 */

/* As rekey writes them: marked, recorded with its keyslot, held (the mac: any 32 bytes here). */
static const char rot_marked[] =
	"{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\","
	"\"name\":\"" ROT_NAME "\",\"mac\":\"" MAC_A "\"}";
static const char rot_recorded[] =
	"{\"type\":\"kmip-rotation\",\"keyslots\":[\"5\"],\"kmip_version\":1,\"token\":\"31\","
	"\"name\":\"" ROT_NAME "\",\"uid\":\"17\",\"new_keyslot\":\"5\",\"mac\":\"" MAC_A "\"}";
static const char rot_held[] =
	"{\"type\":\"kmip-rotation\",\"keyslots\":[\"5\",\"1\"],\"kmip_version\":1,\"token\":\"0\","
	"\"name\":\"h\xc3\xb4te-r1\",\"uid\":\"17\",\"new_keyslot\":\"5\",\"old_uid\":\"" UID_P "\","
	"\"old_keyslot\":\"1\",\"mac\":\"" MAC_A "\"}";
/* volume-key and envelope: no keyslot changes hands. */
static const char rot_held_vk[] =
	"{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"2\","
	"\"name\":\"n\",\"uid\":\"17\",\"old_uid\":\"3\",\"mac\":\"" MAC_A "\"}";
/* After the commit and the old keyslot's removal (libcryptsetup unassigned it). */
static const char rot_dropped[] =
	"{\"type\":\"kmip-rotation\",\"keyslots\":[\"5\"],\"kmip_version\":1,\"token\":\"0\","
	"\"name\":\"n\",\"uid\":\"17\",\"new_keyslot\":\"5\",\"old_uid\":\"3\",\"old_keyslot\":\"1\","
	"\"mac\":\"" MAC_A "\"}";

static int rparse(const char *json, struct kmip_rotation *r)
{
	last_log[0] = '\0';
	return kmip_rotation_parse(json, strlen(json), "test.img token 1", r);
}

static void rot_roundtrip(const char *json)
{
	struct kmip_rotation r, u;
	char *out = NULL;

	assert_int_equal(rparse(json, &r), 0);
	assert_int_equal(kmip_rotation_format(&r, &out), 0);
	assert_non_null(out);
	assert_string_equal(out, json);	/* byte for byte what rekey writes */
	assert_int_equal(rparse(out, &u), 0);
	assert_memory_equal(&r, &u, sizeof(r));
	free(out);
}

static void test_rotation_good(void **state)
{
	struct kmip_rotation r;
	size_t i;

	(void)state;
	assert_int_equal(rparse(rot_marked, &r), 0);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.token, 0);
	assert_int_equal(r.n_keyslots, 0);
	assert_string_equal(r.name, ROT_NAME);
	assert_string_equal(r.uid, "");
	assert_string_equal(r.old_uid, "");
	assert_int_equal(r.new_keyslot, -1);
	assert_int_equal(r.old_keyslot, -1);
	for (i = 0; i < sizeof(r.mac); i++)
		assert_int_equal(r.mac[i], i);
	assert_int_equal(rparse(rot_recorded, &r), 0);
	assert_int_equal(r.token, 31);
	assert_int_equal(r.n_keyslots, 1);
	assert_int_equal(r.keyslots[0], 5);
	assert_string_equal(r.uid, "17");
	assert_int_equal(r.new_keyslot, 5);
	assert_int_equal(r.old_keyslot, -1);
	assert_int_equal(rparse(rot_held, &r), 0);
	assert_int_equal(r.new_keyslot, 5);
	assert_int_equal(r.old_keyslot, 1);
	assert_int_equal(r.n_keyslots, 2);
	assert_int_equal(r.keyslots[0], 5);
	assert_int_equal(r.keyslots[1], 1);
	assert_string_equal(r.name, "h\xc3\xb4te-r1");
	assert_string_equal(r.old_uid, UID_P);
	rot_roundtrip(rot_marked);
	rot_roundtrip(rot_recorded);
	rot_roundtrip(rot_held);
	rot_roundtrip(rot_held_vk);
	rot_roundtrip(rot_dropped);
}

/* Each parser refuses the other's token: one never passes for the other. */
static void test_rotation_not_kmip(void **state)
{
	struct kmip_rotation r;
	struct kmip_token t;

	(void)state;
	assert_int_equal(parse(rot_held, &t), -EINVAL);
	assert_non_null(strstr(last_log, "invalid kmip token: "));
	assert_int_equal(rparse(good_pass, &r), -EINVAL);
	assert_non_null(strstr(last_log, "test.img token 1: invalid kmip-rotation token: "));
}

/* The MAC: a known answer (Python's hmac computed it), and every field counts. */
static void test_rotation_mac(void **state)
{
	uint8_t vk[32], mac[KMIP_ROTATION_MAC_LEN], want[KMIP_ROTATION_MAC_LEN];
	struct kmip_rotation r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vk); i++)
		vk[i] = (uint8_t)i;
	memset(&r, 0, sizeof(r));
	r.version = 1;
	r.new_keyslot = r.old_keyslot = -1;
	snprintf(r.name, sizeof(r.name), "%s", ROT_NAME);
	assert_int_equal(kmip_rotation_mac(&r, ROT_UUID, vk, sizeof(vk), mac), 0);
	assert_int_equal(base64_decode("83y10tXbb84NiRiTX202IceHxNj633D8nXrgyysO8Mg=", 44, want,
				       sizeof(want)), 32);
	assert_memory_equal(mac, want, sizeof(mac));
	r.n_keyslots = 2;
	r.keyslots[0] = 5;
	r.keyslots[1] = 1;
	strcpy(r.uid, "17");
	r.new_keyslot = 5;
	strcpy(r.old_uid, "3");
	r.old_keyslot = 1;
	assert_int_equal(kmip_rotation_mac(&r, ROT_UUID, vk, sizeof(vk), r.mac), 0);
	assert_int_equal(base64_decode("S+xKDpMdA6C9ys5sRsH1gofJiCnwaj3qJuUZRKEyzD0=", 44, want,
				       sizeof(want)), 32);
	assert_memory_equal(r.mac, want, sizeof(r.mac));
	assert_true(kmip_rotation_mac_ok(&r, ROT_UUID, vk, sizeof(vk)));

	/* Another volume, another key, any field changed: refused. */
	assert_false(kmip_rotation_mac_ok(&r, "0b9b1f0e-4a7e-4a53-9d1c-3b0a6c8a9f12", vk, sizeof(vk)));
	vk[31] ^= 1;
	assert_false(kmip_rotation_mac_ok(&r, ROT_UUID, vk, sizeof(vk)));
	vk[31] ^= 1;
	assert_false(kmip_rotation_mac_ok(&r, ROT_UUID, vk, 16));
	{
		struct kmip_rotation x = r;

		x.token = 1;
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		x = r;
		x.new_keyslot = 0;
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		x = r;
		x.old_keyslot = 0;	/* the keyslot to remove: the user's passphrase? */
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		x = r;
		x.old_keyslot = -1;
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		/* LUKS2's assignment is not in it: libcryptsetup changes it (a destroyed keyslot). */
		x = r;
		x.n_keyslots = 1;
		assert_true(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		x = r;
		strcpy(x.old_uid, "4");	/* the object to revoke: the point of the MAC */
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		x = r;
		strcpy(x.uid, "1");	/* "1" NUL "73" against "17" NUL "3": the NULs separate */
		strcpy(x.old_uid, "73");
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		x = r;
		x.name[0] = 'K';
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
		x = r;
		x.mac[0] ^= 0x80;
		assert_false(kmip_rotation_mac_ok(&x, ROT_UUID, vk, sizeof(vk)));
	}
	/* No key, no volume: no MAC. */
	assert_int_equal(kmip_rotation_mac(&r, "", vk, sizeof(vk), mac), -EINVAL);
	assert_int_equal(kmip_rotation_mac(&r, NULL, vk, sizeof(vk), mac), -EINVAL);
	assert_int_equal(kmip_rotation_mac(&r, ROT_UUID, NULL, 32, mac), -EINVAL);
	assert_int_equal(kmip_rotation_mac(&r, ROT_UUID, vk, 0, mac), -EINVAL);
	explicit_bzero(vk, sizeof(vk));
}

#define ROT_HEAD	"{\"type\":\"kmip-rotation\",\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\","

static const struct {
	const char *json;
	const char *why;
} rot_bad[] = {
	{ "[]", "not a JSON object" },
	{ "null", "not a JSON object" },
	{ "{\"type\":\"kmip-rotation\"", "not valid JSON (text ends early)" },
	{ ROT_HEAD "\"keyslots\":[]} x", "not valid JSON" },
	{ ROT_HEAD "\"keyslots\":[]}{}", "not valid JSON" },
	/* type and version first */
	{ "{\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}", "no type" },
	{ "{\"type\":\"kmip\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "type is not \"kmip-rotation\"" },
	{ "{\"type\":\"kmip-rotation\\u0000x\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "type is not \"kmip-rotation\"" },
	{ "{\"type\":[\"kmip-rotation\"],\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "type is not \"kmip-rotation\"" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "no kmip_version" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":2,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "format version 2 is not supported (this kmipcrypt reads version 1)" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":\"1\",\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "kmip_version is not a JSON integer" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1.0,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "kmip_version is not a JSON integer" },
	/* unknown and missing members */
	{ ROT_HEAD "\"keyslots\":[],\"kind\":\"passphrase\"}", "unknown field 'kind'" },
	{ ROT_HEAD "\"keyslots\":[],\"\\u001b[2J\":1}", "unknown field '?[2J'" },
	{ "{\"type\":\"kmip-rotation\",\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}", "no keyslots" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"name\":\"n\",\"mac\":\"" MAC_A "\"}", "no token" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"mac\":\"" MAC_A "\"}", "no name" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\"}", "no mac" },
	/* keyslots */
	{ ROT_HEAD "\"keyslots\":{}}", "keyslots is not a JSON array" },
	{ ROT_HEAD "\"keyslots\":\"1\"}", "keyslots is not a JSON array" },
	{ ROT_HEAD "\"uid\":\"u\",\"keyslots\":[\"1\",\"2\",\"3\"]}", "keyslots has 3 entries; a rotation holds at most 2" },
	{ ROT_HEAD "\"uid\":\"u\",\"new_keyslot\":\"1\",\"keyslots\":[\"1\",\"1\"]}", "keyslots names keyslot 1 twice" },
	{ ROT_HEAD "\"uid\":\"u\",\"keyslots\":[1]}", "keyslots[0] is not a string" },
	{ ROT_HEAD "\"uid\":\"u\",\"keyslots\":[\"1\",\"32\"]}", "keyslots[1] is 32; LUKS2 keyslots are 0 to 31" },
	{ ROT_HEAD "\"uid\":\"u\",\"keyslots\":[\"01\"]}", "keyslots[0] is not a keyslot number 0 to 31" },
	{ ROT_HEAD "\"uid\":\"u\",\"keyslots\":[\"-1\"]}", "keyslots[0] is not a keyslot number 0 to 31" },
	{ ROT_HEAD "\"uid\":\"u\",\"keyslots\":[\"\"]}", "keyslots[0] is not a keyslot number 0 to 31" },
	{ ROT_HEAD "\"uid\":\"u\",\"keyslots\":[null]}", "keyslots[0] is not a string" },
	{ ROT_HEAD "\"keyslots\":[\"1\"]}", "keyslots names keyslot 1, neither new_keyslot nor old_keyslot" },
	{ ROT_HEAD "\"uid\":\"u\",\"new_keyslot\":\"2\",\"keyslots\":[\"1\"]}",
	  "keyslots names keyslot 1, neither new_keyslot nor old_keyslot" },
	{ ROT_HEAD "\"keyslots\":[],\"new_keyslot\":\"1\"}", "new_keyslot without uid" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"u\",\"old_keyslot\":\"1\"}", "old_keyslot without old_uid" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"u\",\"new_keyslot\":\"1\",\"old_uid\":\"v\",\"old_keyslot\":\"1\"}",
	  "new_keyslot and old_keyslot are the same keyslot" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"u\",\"new_keyslot\":1}", "new_keyslot is not a string" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"u\",\"new_keyslot\":\"32\"}", "new_keyslot is 32; LUKS2 keyslots are 0 to 31" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"u\",\"old_uid\":\"v\",\"old_keyslot\":\"-0\"}",
	  "old_keyslot is not a keyslot number 0 to 31" },
	/* token */
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":0,\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "token is not a string (LUKS2 writes token numbers as strings)" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"32\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "token is 32; LUKS2 tokens are 0 to 31" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0x1\",\"name\":\"n\",\"mac\":\"" MAC_A "\"}",
	  "token is not a token number 0 to 31" },
	/* name: printable text */
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"\",\"mac\":\"" MAC_A "\"}",
	  "name is empty" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"a\\nb\",\"mac\":\"" MAC_A "\"}",
	  "name is not printable text" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"a\\u0000b\",\"mac\":\"" MAC_A "\"}",
	  "name is not printable text" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"a\xff\",\"mac\":\"" MAC_A "\"}",
	  "name is not printable text" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":7,\"mac\":\"" MAC_A "\"}",
	  "name is not a JSON string" },
	/* uid and old_uid: printable ASCII, old_uid only with uid, never the same */
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"\"}", "uid is empty" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"\xc3\xa9\"}", "uid has characters other than printable ASCII" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":null}", "uid is not a JSON string" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":17}", "uid is not a JSON string" },
	{ ROT_HEAD "\"keyslots\":[],\"old_uid\":\"3\"}", "old_uid without uid" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"3\",\"uid\":\"3\",\"old_uid\":\"4\",\"old_uid\":\"3\"}",
	  "uid and old_uid are the same object" },	/* json-c keeps the last of a duplicate */
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"3\",\"old_uid\":\"3\"}", "uid and old_uid are the same object" },
	{ ROT_HEAD "\"keyslots\":[],\"uid\":\"3\",\"old_uid\":\"\\t\"}", "old_uid has characters other than printable ASCII" },
	/* mac: base64 of exactly 32 bytes */
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" IV16 "\"}",
	  "mac is 16 bytes; it must be 32 to 32 bytes" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"" CT48 "\"}",
	  "mac decodes to more than 32 bytes" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":\"*\"}",
	  "mac is not valid base64" },
	{ "{\"type\":\"kmip-rotation\",\"keyslots\":[],\"kmip_version\":1,\"token\":\"0\",\"name\":\"n\",\"mac\":true}",
	  "mac is not a JSON string" },
	/* nesting */
	{ ROT_HEAD "\"keyslots\":[[[[\"1\"]]]]}", "nested too deeply" },
};

static void test_rotation_bad(void **state)
{
	struct kmip_rotation r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rot_bad) / sizeof(rot_bad[0]); i++) {
		int ret;

		memset(&r, 0xA5, sizeof(r));
		ret = rparse(rot_bad[i].json, &r);
		if (ret != -EINVAL || !strstr(last_log, rot_bad[i].why)) {
			print_error("case %zu: %s\n  result %d, message: %s\n  expected: %s\n", i,
				    rot_bad[i].json, ret, last_log, rot_bad[i].why);
			fail();
		}
		assert_non_null(strstr(last_log, "test.img token 1: invalid kmip-rotation token: "));
		/* nothing half-parsed */
		assert_int_equal(r.token, 0);
		assert_int_equal(r.n_keyslots, 0);
		assert_int_equal(r.uid[0], 0);
		assert_int_equal(r.old_uid[0], 0);
		assert_int_equal(r.new_keyslot, -1);
		assert_int_equal(r.old_keyslot, -1);
	}
	/* the limits every token has */
	assert_int_equal(kmip_rotation_parse(NULL, 0, "x", &r), -EINVAL);
	assert_int_equal(kmip_rotation_parse(rot_marked, strlen(rot_marked), "x", NULL), -EINVAL);
	{
		char buf[sizeof(rot_marked)];

		memcpy(buf, rot_marked, sizeof(buf));
		buf[20] = '\0';
		assert_int_equal(kmip_rotation_parse(buf, sizeof(buf) - 1, "x", &r), -EINVAL);
		assert_non_null(strstr(last_log, "NUL byte"));
	}
	{
		size_t n = KMIP_TOKEN_JSON_MAX + 1;
		char *big = malloc(n + 1);

		memset(big, ' ', n);
		memcpy(big, rot_marked, strlen(rot_marked));
		big[n] = '\0';
		assert_int_equal(rparse(big, &r), -EINVAL);
		assert_non_null(strstr(last_log, "more than the 16384 accepted"));
		free(big);
	}
}

/* The writer refuses what it could not read back, and writes nothing. */
static void test_rotation_format_bad(void **state)
{
	struct kmip_rotation r;
	char *out = (char *)1;

	(void)state;
	assert_int_equal(rparse(rot_held, &r), 0);
	r.token = 32;
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_null(out);
	assert_int_equal(rparse(rot_held, &r), 0);
	r.n_keyslots = 3;
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_int_equal(rparse(rot_held, &r), 0);
	r.keyslots[1] = r.keyslots[0];
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_null(out);
	assert_int_equal(rparse(rot_held, &r), 0);
	r.new_keyslot = 32;
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_int_equal(rparse(rot_held, &r), 0);
	r.old_keyslot = r.new_keyslot;
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_int_equal(rparse(rot_held, &r), 0);
	r.keyslots[1] = 7;	/* neither new_keyslot nor old_keyslot */
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_null(out);
	assert_int_equal(rparse(rot_held, &r), 0);
	r.uid[0] = '\0';	/* old_uid without uid */
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_int_equal(rparse(rot_held, &r), 0);
	r.name[0] = '\0';
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_int_equal(rparse(rot_held, &r), 0);
	strcpy(r.name, "a\x1b[2J");
	assert_int_equal(kmip_rotation_format(&r, &out), -EINVAL);
	assert_null(out);
}

/* ------------------------------------------------------------- helpers */

static void test_kind_names(void **state)
{
	enum kmip_secret_kind k;

	(void)state;
	assert_string_equal(kmip_kind_name(KMIP_KIND_PASSPHRASE), "passphrase");
	assert_string_equal(kmip_kind_name(KMIP_KIND_VOLUME_KEY), "volume-key");
	assert_string_equal(kmip_kind_name(KMIP_KIND_ENVELOPE), "envelope");
	assert_string_equal(kmip_kind_name(0), "unknown");
	assert_string_equal(kmip_kind_name(99), "unknown");
	assert_int_equal(kmip_kind_parse("envelope", &k), 0);
	assert_int_equal(k, KMIP_KIND_ENVELOPE);
	assert_int_equal(kmip_kind_parse("volume_key", &k), -EINVAL);
	assert_int_equal(kmip_kind_parse("", &k), -EINVAL);
	assert_int_equal(kmip_kind_parse(NULL, &k), -EINVAL);
}

/* The keyslot passphrase is exactly base64 (as OpenSSL spells it), in locked memory. */
static void test_passphrase_encoding(void **state)
{
	uint8_t in[300];
	char ref[512];
	size_t len;

	(void)state;
	assert_int_equal(RAND_bytes(in, sizeof(in)), 1);
	for (len = 1; len <= sizeof(in); len++) {
		char *p = NULL;
		size_t plen = 0;
		size_t before = secmem_in_use(NULL);

		assert_int_equal(luks_secret_passphrase(in, len, &p, &plen), 0);
		EVP_EncodeBlock((unsigned char *)ref, in, (int)len);
		assert_string_equal(p, ref);
		assert_int_equal(plen, strlen(ref));
		assert_int_equal(secmem_in_use(NULL), before + 1);
		secmem_free(p);
	}
	/* all byte values, to reach every alphabet character */
	for (len = 0; len < 256; len++)
		in[len] = (uint8_t)len;
	{
		char *p = NULL;
		size_t plen;

		assert_int_equal(luks_secret_passphrase(in, 255, &p, &plen), 0);
		EVP_EncodeBlock((unsigned char *)ref, in, 255);
		assert_string_equal(p, ref);
		secmem_free(p);
	}
	{
		char *p = (char *)1;
		size_t plen = 1;

		assert_int_equal(luks_secret_passphrase(in, 0, &p, &plen), -EINVAL);
		assert_null(p);
		assert_int_equal(luks_secret_passphrase(NULL, 3, &p, &plen), -EINVAL);
	}
}

static void test_kek_default_path(void **state)
{
	struct config c = { 0 };
	char buf[256];

	(void)state;
	assert_int_equal(luks_kek_default_path(NULL, "42", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/etc/kmipcrypt/kek/42");
	c.path = "/etc/kmipcrypt/kmipcrypt.conf";
	assert_int_equal(luks_kek_default_path(&c, "a-B_9.z:1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/etc/kmipcrypt/kek/a-B_9.z:1");
	c.path = "/tmp/lab/k.conf";
	assert_int_equal(luks_kek_default_path(&c, "7", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/lab/kek/7");
	c.path = "k.conf";
	assert_int_equal(luks_kek_default_path(&c, "7", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "./kek/7");
	c.path = "/k.conf";
	assert_int_equal(luks_kek_default_path(&c, "7", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "//kek/7");
	/* no path tricks */
	assert_int_equal(luks_kek_default_path(&c, "../x", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(luks_kek_default_path(&c, "a/b", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(luks_kek_default_path(&c, ".hidden", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(luks_kek_default_path(&c, "", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(luks_kek_default_path(&c, "a b", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(luks_kek_default_path(&c, "7", buf, 6), -ENAMETOOLONG);
}

/* ------------------------------------------- this host's Object Group */

static char tmp_file[64];

/* A machine ID file with these bytes; its path. */
static const char *machine_id_file(const char *text, size_t len)
{
	int fd;

	snprintf(tmp_file, sizeof(tmp_file), "/tmp/kmipcrypt-test-machine-id.XXXXXX");
	fd = mkstemp(tmp_file);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return tmp_file;
}

/* The derivation is systemd's app-specific machine ID: its first 16 digits. */
static void test_machine_object_group(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} ok[] = {
		/*
		 * The expected values are what `systemd-id128 machine-id
		 * --app-specific=e3073266823a4e0ba3391372663a44a6` prints (cut to
		 * 16 digits) on a machine with that ID.
		 */
		{ "0123456789abcdef0123456789abcdef\n", "kmipcrypt-986b48ebcf6e4dea" },
		{ "0123456789abcdef0123456789abcdef", "kmipcrypt-986b48ebcf6e4dea" },
		{ "3d1219c7c4c5404aaa1f6d2a48adfda4\n", "kmipcrypt-083451c130c745aa" },
		{ "00000000000000000000000000000001\n", "kmipcrypt-29e8d6afc6fe421e" },
	};
	static const char *const malformed[] = {
		"0123456789ABCDEF0123456789ABCDEF\n",	/* upper case */
		"0123456789abcdef0123456789abcde\n",	/* 31 digits */
		"0123456789abcdef0123456789abcdef0\n",	/* 33 */
		"0123456789abcdef0123456789abcdef\n\n",
		"0123456789abcdef0123456789abcdef\r\n",
		" 0123456789abcdef0123456789abcdef\n",
		"0123456789abcdef-0123456789abcdef\n",
		"01234567-89ab-cdef-0123-456789abcdef\n",	/* a UUID is not a machine ID */
		"0123456789abcdeg0123456789abcdef\n",
		"uninitialized\n",				/* systemd's first boot */
		"",
		"\n",
		"00000000000000000000000000000000\n",	/* the null ID */
	};
	char buf[KMIP_TEXT_SIZE], zero[100];
	const char *why, *path;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		path = machine_id_file(ok[i].text, strlen(ok[i].text));
		assert_int_equal(luks_machine_object_group(path, buf, sizeof(buf), &why), 0);
		assert_string_equal(buf, ok[i].want);
		assert_int_equal(strlen(buf), LUKS_HOST_GROUP_LEN);
		/* The smallest buffer that holds it, and one byte less. */
		assert_int_equal(luks_machine_object_group(path, buf, LUKS_HOST_GROUP_LEN + 1, &why), 0);
		assert_string_equal(buf, ok[i].want);
		assert_int_equal(luks_machine_object_group(path, buf, LUKS_HOST_GROUP_LEN, &why),
				 -ERANGE);
		unlink(path);
	}
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		path = machine_id_file(malformed[i], strlen(malformed[i]));
		why = NULL;
		if (luks_machine_object_group(path, buf, sizeof(buf), &why) != -EINVAL || !why)
			fail_msg("machine ID \"%s\" accepted", malformed[i]);
		unlink(path);
	}
	/* Larger than any machine ID: refused, not cut. */
	memset(zero, '0', sizeof(zero));
	path = machine_id_file(zero, sizeof(zero));
	assert_int_equal(luks_machine_object_group(path, buf, sizeof(buf), &why), -EINVAL);
	unlink(path);
	/* Missing: -ENOENT, for the caller to say. */
	assert_int_equal(luks_machine_object_group("/nonexistent/machine-id", buf, sizeof(buf), &why),
			 -ENOENT);
	/* Not a regular file: refused at once (a FIFO is never waited on). */
	assert_int_equal(luks_machine_object_group("/tmp", buf, sizeof(buf), &why), -EISDIR);
}

static void test_host_object_group(void **state)
{
	struct config *c = NULL;
	struct config_group *g;
	char buf[KMIP_TEXT_SIZE], real[KMIP_TEXT_SIZE];
	const char *path;

	(void)state;
	path = machine_id_file("0123456789abcdef0123456789abcdef\n", 33);
	/* No configuration, or none for this group: the machine's. */
	assert_int_equal(luks_host_object_group_at(NULL, NULL, path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "kmipcrypt-986b48ebcf6e4dea");
	assert_int_equal(config_new_empty(&c), 0);
	assert_int_equal(luks_host_object_group_at(c, NULL, path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "kmipcrypt-986b48ebcf6e4dea");
	/* object_group of the group wins, for that group only. */
	g = config_group(c, "default");
	assert_int_equal(config_group_set(g, "object_group", "rack-7 hosts", NULL), 0);
	assert_int_equal(luks_host_object_group_at(c, NULL, path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "rack-7 hosts");
	assert_int_equal(luks_host_object_group_at(c, "default", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "rack-7 hosts");
	assert_int_equal(luks_host_object_group_at(c, "dc2", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "kmipcrypt-986b48ebcf6e4dea");
	assert_int_equal(luks_host_object_group_at(c, NULL, path, buf, 5), -ERANGE);
	/* The group enroll reserves cannot be configured (config.c says it as a literal). */
	assert_int_equal(config_group_set(g, "object_group", LUKS_ENROLL_PENDING_GROUP, NULL),
			 -EINVAL);
	assert_non_null(strstr(last_log, "is reserved"));
	config_free(c);
	unlink(path);

	/* No usable machine ID: the group all hosts shared before, said with the file's name. */
	path = machine_id_file("uninitialized\n", 14);
	n_logs = 0;
	assert_int_equal(luks_host_object_group_at(NULL, NULL, path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, LUKS_ENROLL_OBJECT_GROUP);
	assert_int_equal(n_logs, 1);
	assert_non_null(strstr(last_log, path));
	assert_non_null(strstr(last_log, "not a machine ID"));
	assert_non_null(strstr(last_log, "Object Group 'kmipcrypt'"));
	unlink(path);
	assert_int_equal(luks_host_object_group_at(NULL, NULL, "/nonexistent/machine-id", buf,
						   sizeof(buf)), 0);
	assert_string_equal(buf, LUKS_ENROLL_OBJECT_GROUP);
	assert_non_null(strstr(last_log, "/nonexistent/machine-id: missing"));

	/* This machine's: the same as its file gives (whatever it holds). */
	assert_int_equal(luks_host_object_group(NULL, NULL, real, sizeof(real)), 0);
	assert_int_equal(luks_host_object_group_at(NULL, NULL, LUKS_MACHINE_ID_PATH, buf,
						   sizeof(buf)), 0);
	assert_string_equal(real, buf);
}

/* enroll --object-group: the reserved group is refused before anything is asked. */
static void test_enroll_object_group_check(void **state)
{
	struct enroll_opts o = { .kind = KMIP_KIND_PASSPHRASE, .object_group = "mine" };

	(void)state;
	assert_int_equal(luks_enroll_check(&o), 0);
	o.object_group = LUKS_ENROLL_PENDING_GROUP;
	assert_int_equal(luks_enroll_check(&o), -EINVAL);
	assert_non_null(strstr(last_log, "--object-group: 'kmipcrypt-enrolling' is reserved"));
	o.object_group = "a\x1b[2J";
	assert_int_equal(luks_enroll_check(&o), -EINVAL);
	o.object_group = "";
	assert_int_equal(luks_enroll_check(&o), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_passphrase),
		cmocka_unit_test(test_good_volume_key),
		cmocka_unit_test(test_good_envelope),
		cmocka_unit_test(test_good_envelope_gcm),
		cmocka_unit_test(test_format_version),
		cmocka_unit_test(test_envelope_aad),
		cmocka_unit_test(test_good_whitespace_order),
		cmocka_unit_test(test_good_not_terminated),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_object_group),
		cmocka_unit_test(test_format_fields),
		cmocka_unit_test(test_bad_tokens),
		cmocka_unit_test(test_each_missing),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_nul_and_null),
		cmocka_unit_test(test_rotation_good),
		cmocka_unit_test(test_rotation_not_kmip),
		cmocka_unit_test(test_rotation_mac),
		cmocka_unit_test(test_rotation_bad),
		cmocka_unit_test(test_rotation_format_bad),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_passphrase_encoding),
		cmocka_unit_test(test_kek_default_path),
		cmocka_unit_test(test_machine_object_group),
		cmocka_unit_test(test_host_object_group),
		cmocka_unit_test(test_enroll_object_group_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
