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
 *
 * The same input also goes to the rotation record's parser
 * (kmip_rotation_parse(), "kmip-rotation", rekey's record in the header):
 * 0 or -EINVAL only; refused, all zero but its keyslots (-1); accepted,
 * every member within its bounds (token and keyslots 0..31, each assigned
 * keyslot the new or the old one, members present only with those they
 * need), and format then parse gives the same record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks/token.h"
#include "util/escape.h"
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

static void check_rotation(const uint8_t *data, size_t size)
{
	struct kmip_rotation r, back;
	char *json = NULL;
	size_t i;
	int rc;

	rc = kmip_rotation_parse((const char *)data, size, "fuzz", &r);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		/* Zeroed, new_keyslot and old_keyslot -1 (none). */
		CHECK(r.version == 0 && r.token == 0 && r.n_keyslots == 0);
		CHECK(r.name[0] == '\0' && r.uid[0] == '\0' && r.old_uid[0] == '\0');
		CHECK(r.new_keyslot == -1 && r.old_keyslot == -1);
		return;
	}
	CHECK(r.version == KMIP_ROTATION_VERSION);
	CHECK(r.token >= 0 && r.token < 32);
	CHECK(r.n_keyslots <= KMIP_ROTATION_KEYSLOTS_MAX);
	for (i = 0; i < r.n_keyslots; i++)
		CHECK(r.keyslots[i] >= 0 && r.keyslots[i] < 32 &&
		      (r.keyslots[i] == r.new_keyslot || r.keyslots[i] == r.old_keyslot));
	CHECK(r.new_keyslot >= -1 && r.new_keyslot < 32);
	CHECK(r.old_keyslot >= -1 && r.old_keyslot < 32);
	CHECK(strnlen(r.name, sizeof(r.name)) < sizeof(r.name) && r.name[0] &&
	      text_is_printable(r.name));
	CHECK(strnlen(r.uid, sizeof(r.uid)) < sizeof(r.uid));
	CHECK(strnlen(r.old_uid, sizeof(r.old_uid)) < sizeof(r.old_uid));
	CHECK(r.new_keyslot < 0 || r.uid[0]);		/* new_keyslot needs uid */
	CHECK(!r.old_uid[0] || r.uid[0]);		/* old_uid needs uid */
	CHECK(r.old_keyslot < 0 || r.old_uid[0]);	/* old_keyslot needs old_uid */
	CHECK(kmip_rotation_format(&r, &json) == 0);
	CHECK(kmip_rotation_parse(json, strlen(json), "fuzz (formatted)", &back) == 0);
	CHECK(memcmp(&r, &back, sizeof(r)) == 0);
	free(json);
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
	check_rotation(data, size);
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
