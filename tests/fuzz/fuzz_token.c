/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the kmip token parser (src/luks/token.c), which reads
 * JSON from a LUKS2 header: hostile input, also inside other programs
 * through the token plugin.
 *
 * Properties: the parser returns 0 or -EINVAL only; on -EINVAL the token
 * is all zero; on success every field is within its bounds (NUL-terminated
 * strings of printable ASCII, keyslot 0..31, envelope sizes by mode), and
 * format(parse(x)) parses again to the same token (one meaning per token),
 * perhaps in an older format version (the oldest that says it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks/token.h"
#include "util/log.h"

#include "fuzz.h"

static int debug = -1;

static void sink(enum log_level lvl, const char *msg, void *ctx)
{
	if (debug)
		fprintf(stderr, "log: %s\n", msg);
}

static void check_text(const char *s, size_t size, int may_be_empty)
{
	size_t n = strnlen(s, size), i;

	CHECK(n < size);
	CHECK(may_be_empty || n > 0);
	for (i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kmip_token zero;
	struct kmip_token t, back;
	char *json = NULL;
	int r;

	if (debug < 0) {
		debug = getenv("FUZZ_DEBUG") != NULL;
		log_set_sink(sink, NULL);
		log_set_level(LOG_LVL_DEBUG);
	}
	r = kmip_token_parse((const char *)data, size, "fuzz", &t);
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		CHECK(memcmp(&t, &zero, sizeof(t)) == 0);
		return 0;
	}
	CHECK(t.version >= KMIP_TOKEN_VERSION_MIN && t.version <= KMIP_TOKEN_VERSION);
	CHECK(t.kind == KMIP_KIND_PASSPHRASE || t.kind == KMIP_KIND_VOLUME_KEY ||
	      t.kind == KMIP_KIND_ENVELOPE);
	CHECK(t.keyslot >= 0 && t.keyslot < 32);
	check_text(t.uid, sizeof(t.uid), 0);
	check_text(t.group, sizeof(t.group), 0);
	check_text(t.wrap_uid, sizeof(t.wrap_uid), 1);
	if (t.kind == KMIP_KIND_ENVELOPE && t.mode == KMIP_ENVELOPE_AES_GCM) {
		CHECK(t.version >= 2);
		CHECK(t.ciphertext_len >= 16 && t.ciphertext_len <= KMIP_ENVELOPE_MAX);
		CHECK(t.iv_len == KMIP_ENVELOPE_GCM_IV && t.tag_len == KMIP_ENVELOPE_TAG);
	} else if (t.kind == KMIP_KIND_ENVELOPE) {
		CHECK(t.mode == KMIP_ENVELOPE_AES_CBC);
		CHECK(t.ciphertext_len >= 16 && t.ciphertext_len <= KMIP_ENVELOPE_MAX &&
		      t.ciphertext_len % 16 == 0);
		CHECK(t.iv_len == KMIP_ENVELOPE_CBC_IV && t.tag_len == 0);
	} else {
		CHECK(t.ciphertext_len == 0 && t.iv_len == 0 && t.mode == 0 && t.tag_len == 0);
	}
	CHECK(t.volume_uuid[0] == '\0');	/* never from the JSON */
	if (t.kind != KMIP_KIND_VOLUME_KEY)
		CHECK(t.wrap_uid[0] == '\0');

	CHECK(kmip_token_format(&t, &json) == 0);
	CHECK(kmip_token_parse(json, strlen(json), "fuzz (formatted)", &back) == 0);
	/* The same token, in the oldest format version that says it. */
	CHECK(back.version <= t.version);
	back.version = t.version;
	CHECK(memcmp(&t, &back, sizeof(t)) == 0);
	free(json);
	return 0;
}
