/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The LUKS2 token of type "kmip": strict parsing and formatting.  The format
 * is in docs/token.md; this file is its reference implementation.
 *
 * The parser is used on text from a disk header (hostile input): the whole
 * text is bounded (KMIP_TOKEN_JSON_MAX), the nesting depth is capped, every
 * field must have exactly the JSON type and size the format gives it, and
 * anything unknown is an error, so that a token has one meaning only.  It
 * keeps no state and never exits: the token plugin calls it from inside
 * someone else's process.
 *
 * Here too the default Object Group of this host's objects
 * (luks_host_object_group()): what the token's object_group records.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "luks/token.h"
#include "util/escape.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

#define TOKEN_JSON_DEPTH	4	/* object > keyslots array > string, and one spare */
#define LUKS2_KEYSLOTS		32	/* LUKS2 keyslot numbers are 0..31 */
#define ENVELOPE_BLOCK		16	/* AES block: CBC ciphertext size, the smallest ciphertext */

static const char *const kind_names[] = {
	[KMIP_KIND_PASSPHRASE] = "passphrase",
	[KMIP_KIND_VOLUME_KEY] = "volume-key",
	[KMIP_KIND_ENVELOPE] = "envelope",
};

const char *kmip_kind_name(enum kmip_secret_kind k)
{
	if ((unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[k])
		return kind_names[k];
	return "unknown";
}

static const char *const mode_names[] = {
	[KMIP_ENVELOPE_AES_CBC] = "aes-cbc",
	[KMIP_ENVELOPE_AES_GCM] = "aes-gcm",
};

const char *kmip_envelope_mode_name(enum kmip_envelope_mode m)
{
	if ((unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) && mode_names[m])
		return mode_names[m];
	return "unknown";
}

int kmip_envelope_aad(const char *volume_uuid, int keyslot, uint8_t *buf, size_t len)
{
	size_t n = volume_uuid ? strnlen(volume_uuid, KMIP_VOLUME_UUID_SIZE) : 0;
	int k;

	if (n == 0 || n >= KMIP_VOLUME_UUID_SIZE || keyslot < 0 || keyslot >= LUKS2_KEYSLOTS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)volume_uuid[i] <= 0x20 || (unsigned char)volume_uuid[i] > 0x7e ||
		    volume_uuid[i] == ':')
			return -EINVAL;
	k = snprintf((char *)buf, len, "kmipcrypt-envelope:%s:%d", volume_uuid, keyslot);
	if (k < 0 || (size_t)k >= len)
		return -EINVAL;
	return k;	/* the text, without its NUL */
}

int kmip_kind_parse(const char *s, enum kmip_secret_kind *k)
{
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*k = (enum kmip_secret_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------- parse */

/* Where a token is, and its type, for the messages: "WHERE: invalid TYPE token: ...". */
struct where {
	const char *at;
	const char *type;
};

#define bad(w, fmt, ...) \
	log_error_errno(-EINVAL, "%s: invalid %s token: " fmt, (w)->at, (w)->type, ##__VA_ARGS__)

/* Printable ASCII (no control characters, no DEL, no bytes >= 0x80). */
static bool printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* A server group name as kmipcrypt.conf allows it: 1..63 of A-Z a-z 0-9 _ . - */
static bool group_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= CONFIG_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/*
 * A string field: JSON string, 1..max bytes, no NUL inside, printable ASCII
 * or, with utf8 (KMIP Text Strings such as an Object Group), any printable
 * text (valid UTF-8 without controls, util/escape.h).  Copied to out (max +
 * 1 bytes).
 */
static int get_string(const struct where *where, json_object *o, const char *key, size_t max, bool utf8,
		      char *out)
{
	const char *s;
	int len;

	if (!json_object_is_type(o, json_type_string))
		return bad(where, "%s is not a JSON string", key);
	s = json_object_get_string(o);
	len = json_object_get_string_len(o);
	if (len <= 0)
		return bad(where, "%s is empty", key);
	if ((size_t)len > max)
		return bad(where, "%s is longer than %zu bytes", key, max);
	if (!utf8 && !printable(s, (size_t)len))
		return bad(where, "%s has characters other than printable ASCII", key);
	if (utf8 && (strlen(s) != (size_t)len || !text_is_printable(s)))
		return bad(where, "%s is not printable text (a control character or invalid UTF-8)",
			   key);
	memcpy(out, s, (size_t)len);
	out[len] = '\0';
	return 0;
}

static int get_text(const struct where *where, json_object *o, const char *key, size_t max, char *out)
{
	return get_string(where, o, key, max, false, out);
}

/* A base64 field decoding to min..max bytes, a multiple of `multiple`. */
static int get_base64(const struct where *where, json_object *o, const char *key, size_t min,
		      size_t max, size_t multiple, uint8_t *out, size_t *out_len)
{
	const char *s;
	int len, n;

	if (!json_object_is_type(o, json_type_string))
		return bad(where, "%s is not a JSON string", key);
	s = json_object_get_string(o);
	len = json_object_get_string_len(o);
	if (len <= 0)
		return bad(where, "%s is empty", key);
	n = base64_decode(s, (size_t)len, out, max);
	if (n == -ENOBUFS)
		return bad(where, "%s decodes to more than %zu bytes", key, max);
	if (n < 0)
		return bad(where, "%s is not valid base64 (RFC 4648, padded, no whitespace)", key);
	if ((size_t)n < min || (size_t)n > max || (size_t)n % multiple)
		return bad(where, "%s is %d bytes; it must be %zu to %zu bytes, a multiple of %zu",
			   key, n, min, max, multiple);
	*out_len = (size_t)n;
	return 0;
}

/*
 * A keyslot or token number as LUKS2 writes them: a decimal string "0".."31",
 * no leading zero.  label names it in the messages ("keyslots[0]", "token").
 */
static int get_number(const struct where *where, json_object *e, const char *label,
		      const char *noun, int *out)
{
	const char *s;
	int len, i, v = 0;

	if (!json_object_is_type(e, json_type_string))
		return bad(where, "%s is not a string (LUKS2 writes %s numbers as strings)", label,
			   noun);
	s = json_object_get_string(e);
	len = json_object_get_string_len(e);
	if (len < 1 || len > 2 || (len == 2 && s[0] == '0'))
		return bad(where, "%s is not a %s number 0 to %d", label, noun, LUKS2_KEYSLOTS - 1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return bad(where, "%s is not a %s number 0 to %d", label, noun,
				   LUKS2_KEYSLOTS - 1);
		v = v * 10 + (s[i] - '0');
	}
	if (v >= LUKS2_KEYSLOTS)
		return bad(where, "%s is %d; LUKS2 %ss are 0 to %d", label, v, noun,
			   LUKS2_KEYSLOTS - 1);
	*out = v;
	return 0;
}

/* "keyslots": exactly one keyslot number as a decimal string ("0".."31"). */
static int get_keyslot(const struct where *where, json_object *o, int *keyslot)
{
	if (!json_object_is_type(o, json_type_array))
		return bad(where, "keyslots is not a JSON array");
	if (json_object_array_length(o) != 1)
		return bad(where, "keyslots has %zu entries; a kmip token is bound to exactly one "
			   "keyslot", json_object_array_length(o));
	return get_number(where, json_object_array_get_idx(o, 0), "keyslots[0]", "keyslot",
			  keyslot);
}

/*
 * Which fields each kind has: 1 required, 2 optional, 0 not allowed.  mode
 * and tag are further ruled by the format version and the mode (parse_envelope).
 */
enum { F_TYPE, F_KEYSLOTS, F_VERSION, F_KIND, F_UID, F_GROUP, F_WRAP_UID, F_CIPHERTEXT, F_IV,
       F_MODE, F_TAG, F_PROTOCOL, F_OBJECT_GROUP, F_N };
static const char *const field_names[F_N] = {
	"type", "keyslots", "kmip_version", "kind", "uid", "group", "wrap_uid", "ciphertext", "iv",
	"mode", "tag", "protocol", "object_group",
};
static const unsigned char field_rule[4][F_N] = {
	/*                         type keysl ver kind uid grp wrap ct iv mode tag proto ogrp */
	[KMIP_KIND_PASSPHRASE] = { 1,   1,    1,  1,   1,  1,  0,   0, 0, 0,   0,  2,    2 },
	[KMIP_KIND_VOLUME_KEY] = { 1,   1,    1,  1,   1,  1,  2,   0, 0, 0,   0,  2,    2 },
	[KMIP_KIND_ENVELOPE]   = { 1,   1,    1,  1,   1,  1,  0,   1, 1, 2,   2,  2,    2 },
};

/*
 * An envelope's mode, ciphertext, IV and tag.  Format 1: AES-CBC, no mode
 * or tag member.  Format 2: mode required; aes-gcm needs a tag, aes-cbc has
 * none.  Sizes as the mode makes them: CBC whole blocks and a 16-byte IV,
 * GCM a 12-byte nonce and a 16-byte tag.
 */
static int parse_envelope(const struct where *where, json_object *const *f, const bool *have,
			  struct kmip_token *t)
{
	const char *s;
	size_t iv_len, multiple;
	int r, n, i;

	if (t->version == 1) {
		if (have[F_MODE] || have[F_TAG])
			return bad(where, "field %s is not in format version 1 (only in 2)",
				   have[F_MODE] ? "mode" : "tag");
		t->mode = KMIP_ENVELOPE_AES_CBC;
	} else {
		if (!have[F_MODE])
			return bad(where, "no mode (an envelope of format version %d needs it)",
				   t->version);
		if (!json_object_is_type(f[F_MODE], json_type_string))
			return bad(where, "mode is not a JSON string");
		s = json_object_get_string(f[F_MODE]);
		n = json_object_get_string_len(f[F_MODE]);
		for (i = 1; i < (int)(sizeof(mode_names) / sizeof(mode_names[0])); i++)
			if ((size_t)n == strlen(mode_names[i]) && memcmp(s, mode_names[i], (size_t)n) == 0)
				t->mode = (enum kmip_envelope_mode)i;
		if (!t->mode) {
			char shown[24];

			/* Byte by byte: a NUL inside the JSON string shows as '?' too. */
			for (i = 0; i < n && i < 20; i++)
				shown[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ?
					   '?' : s[i];
			shown[i] = '\0';
			return bad(where, "unknown mode '%s%s' (known: aes-gcm, aes-cbc)", shown,
				   n > 20 ? "..." : "");
		}
		if (t->mode == KMIP_ENVELOPE_AES_GCM && !have[F_TAG])
			return bad(where, "no tag (mode aes-gcm needs it)");
		if (t->mode != KMIP_ENVELOPE_AES_GCM && have[F_TAG])
			return bad(where, "field tag is not used by mode %s",
				   kmip_envelope_mode_name(t->mode));
	}
	iv_len = t->mode == KMIP_ENVELOPE_AES_GCM ? KMIP_ENVELOPE_GCM_IV : KMIP_ENVELOPE_CBC_IV;
	multiple = t->mode == KMIP_ENVELOPE_AES_GCM ? 1 : ENVELOPE_BLOCK;
	r = get_base64(where, f[F_CIPHERTEXT], "ciphertext", ENVELOPE_BLOCK, KMIP_ENVELOPE_MAX,
		       multiple, t->ciphertext, &t->ciphertext_len);
	if (r < 0)
		return r;
	r = get_base64(where, f[F_IV], "iv", iv_len, iv_len, 1, t->iv, &t->iv_len);
	if (r < 0)
		return r;
	if (t->mode == KMIP_ENVELOPE_AES_GCM)
		return get_base64(where, f[F_TAG], "tag", KMIP_ENVELOPE_TAG, KMIP_ENVELOPE_TAG, 1,
				  t->tag, &t->tag_len);
	return 0;
}

/* "MAJOR.MINOR" of a KMIP version this kmipcrypt speaks. */
static int get_protocol(const struct where *where, json_object *v, int *out)
{
	const char *s;
	unsigned maj, min;
	int n = 0;

	if (!json_object_is_type(v, json_type_string))
		return bad(where, "protocol is not a JSON string");
	s = json_object_get_string(v);
	if (json_object_get_string_len(v) > 5 || sscanf(s, "%1u.%1u%n", &maj, &min, &n) != 2 ||
	    (size_t)n != strlen(s) || !kmip_version_supported(KMIP_VERSION((int)maj, (int)min)))
		return bad(where, "protocol is not a KMIP version this kmipcrypt speaks "
			   "(\"1.0\" to \"2.1\")");
	*out = KMIP_VERSION((int)maj, (int)min);
	return 0;
}

static int parse_object(json_object *root, const struct where *where, struct kmip_token *t)
{
	json_object *f[F_N] = { 0 };
	bool have[F_N] = { 0 };	/* present, even as null */
	const char *s;
	int64_t v;
	int i, r;

	if (!json_object_is_type(root, json_type_object))
		return bad(where, "not a JSON object");

	/* Every member must be a known field. */
	json_object_object_foreach(root, key, val) {
		for (i = 0; i < F_N; i++)
			if (strcmp(key, field_names[i]) == 0)
				break;
		if (i == F_N) {
			char shown[40];
			size_t n = strnlen(key, sizeof(shown) - 1);

			memcpy(shown, key, n);
			shown[n] = '\0';
			for (size_t k = 0; k < n; k++)
				if ((unsigned char)shown[k] < 0x20 || (unsigned char)shown[k] > 0x7e)
					shown[k] = '?';
			return bad(where, "unknown field '%s'%s", shown,
				   strlen(key) > n ? "..." : "");
		}
		f[i] = val;
		have[i] = true;
	}

	/* type, then the format version, before anything that depends on them. */
	if (!have[F_TYPE])
		return bad(where, "no type");
	if (!json_object_is_type(f[F_TYPE], json_type_string))
		return bad(where, "type is not a JSON string");
	s = json_object_get_string(f[F_TYPE]);
	if (strcmp(s, KMIP_TOKEN_TYPE) != 0 ||
	    json_object_get_string_len(f[F_TYPE]) != (int)strlen(KMIP_TOKEN_TYPE))
		return bad(where, "type is not \"%s\"", KMIP_TOKEN_TYPE);

	if (!have[F_VERSION])
		return bad(where, "no kmip_version (the token format version)");
	if (!json_object_is_type(f[F_VERSION], json_type_int))
		return bad(where, "kmip_version is not a JSON integer");
	v = json_object_get_int64(f[F_VERSION]);
	if (v < KMIP_TOKEN_VERSION_MIN || v > KMIP_TOKEN_VERSION)
		return bad(where, "format version %lld is not supported (this kmipcrypt reads "
			   "versions %d to %d); it was written by a newer kmipcrypt, or is not "
			   "kmipcrypt's", (long long)v, KMIP_TOKEN_VERSION_MIN, KMIP_TOKEN_VERSION);
	t->version = (int)v;

	if (!have[F_KIND])
		return bad(where, "no kind");
	if (!json_object_is_type(f[F_KIND], json_type_string))
		return bad(where, "kind is not a JSON string");
	if (kmip_kind_parse(json_object_get_string(f[F_KIND]), &t->kind) < 0 ||
	    strlen(json_object_get_string(f[F_KIND])) !=
	    (size_t)json_object_get_string_len(f[F_KIND])) {
		char shown[24];
		int n = json_object_get_string_len(f[F_KIND]);

		snprintf(shown, sizeof(shown), "%.*s", n > 20 ? 20 : n,
			 json_object_get_string(f[F_KIND]));
		for (i = 0; shown[i]; i++)
			if ((unsigned char)shown[i] < 0x20 || (unsigned char)shown[i] > 0x7e)
				shown[i] = '?';
		return bad(where, "unknown kind '%s%s' (known: passphrase, volume-key, envelope)",
			   shown, n > 20 ? "..." : "");
	}

	/* Each field present, absent or forbidden as the kind says. */
	for (i = 0; i < F_N; i++) {
		unsigned char rule = field_rule[t->kind][i];

		if (rule == 1 && !have[i])
			return bad(where, "no %s (kind %s needs it)", field_names[i],
				   kmip_kind_name(t->kind));
		if (rule == 0 && have[i])
			return bad(where, "field %s is not used by kind %s", field_names[i],
				   kmip_kind_name(t->kind));
	}

	r = get_keyslot(where, f[F_KEYSLOTS], &t->keyslot);
	if (r < 0)
		return r;
	r = get_text(where, f[F_UID], "uid", KMIP_UID_MAX, t->uid);
	if (r < 0)
		return r;
	if (!json_object_is_type(f[F_GROUP], json_type_string) ||
	    !group_name_ok(json_object_get_string(f[F_GROUP]),
			   (size_t)json_object_get_string_len(f[F_GROUP])))
		return bad(where, "group is not a server group name (1 to %d of A-Z a-z 0-9 _ . -)",
			   CONFIG_NAME_MAX - 1);
	memcpy(t->group, json_object_get_string(f[F_GROUP]),
	       (size_t)json_object_get_string_len(f[F_GROUP]) + 1);
	if (have[F_WRAP_UID]) {
		r = get_text(where, f[F_WRAP_UID], "wrap_uid", KMIP_UID_MAX, t->wrap_uid);
		if (r < 0)
			return r;
	}
	if (have[F_PROTOCOL]) {
		r = get_protocol(where, f[F_PROTOCOL], &t->protocol);
		if (r < 0)
			return r;
	}
	if (have[F_OBJECT_GROUP]) {
		r = get_string(where, f[F_OBJECT_GROUP], "object_group", KMIP_TEXT_MAX, true,
			       t->object_group);
		if (r < 0)
			return r;
	}
	if (t->kind == KMIP_KIND_ENVELOPE)
		return parse_envelope(where, f, have, t);
	return 0;
}

/*
 * The JSON text of a token as one object, under the limits every token has
 * (size, no NUL, depth, strict JSON, nothing after it): *root (put it), or
 * -EINVAL logged.
 */
static int json_root(const char *json, size_t len, const struct where *where, json_object **root)
{
	struct json_tokener *tok = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int r = 0;

	*root = NULL;
	if (!json)
		return bad(where, "no JSON text");
	if (len > KMIP_TOKEN_JSON_MAX)
		return bad(where, "%zu bytes of JSON, more than the %d accepted", len,
			   KMIP_TOKEN_JSON_MAX);
	if (len == 0)
		return bad(where, "empty JSON text");
	if (memchr(json, '\0', len))
		return bad(where, "a NUL byte in the JSON text");

	tok = json_tokener_new_ex(TOKEN_JSON_DEPTH);
	if (!tok)
		return log_error_errno(-ENOMEM, "%s: out of memory parsing the %s token", where->at,
				       where->type);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	*root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_success && !*root) {		/* "null" */
		r = bad(where, "not a JSON object");
		goto out;
	}
	if (!*root || jerr != json_tokener_success) {
		/* A bare number or literal waits for a delimiter that never comes. */
		size_t k = 0;

		while (k < len && (json[k] == ' ' || json[k] == '\t' || json[k] == '\r' ||
				   json[k] == '\n'))
			k++;

		if (k < len && json[k] != '{') {
			r = bad(where, "not a JSON object");
			goto out;
		}
		r = bad(where, "not valid JSON (%s)",
			jerr == json_tokener_continue ? "text ends early" :
			jerr == json_tokener_error_depth ? "nested too deeply" :
			json_tokener_error_desc(jerr));
		goto out;
	}
	/* Nothing but white space after the object. */
	end = json_tokener_get_parse_end(tok);
	for (; end < len; end++) {
		if (json[end] != ' ' && json[end] != '\t' && json[end] != '\n' && json[end] != '\r') {
			r = bad(where, "text after the JSON object");
			goto out;
		}
	}
	if (!json_object_is_type(*root, json_type_object))
		r = bad(where, "not a JSON object");
out:
	if (r < 0) {
		json_object_put(*root);
		*root = NULL;
	}
	json_tokener_free(tok);
	return r;
}

int kmip_token_parse(const char *json, size_t len, const char *where, struct kmip_token *t)
{
	struct where w = { .at = where ? where : "LUKS2 header", .type = KMIP_TOKEN_TYPE };
	json_object *root = NULL;
	int r;

	if (!t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	r = json_root(json, len, &w, &root);
	if (r == 0)
		r = parse_object(root, &w, t);
	if (r < 0)
		memset(t, 0, sizeof(*t));
	json_object_put(root);
	return r;
}

/* --------------------------------------------------------------- format */

static int add_str(json_object *o, const char *key, const char *val)
{
	json_object *s = json_object_new_string(val);

	if (!s)
		return -ENOMEM;
	if (json_object_object_add(o, key, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_b64(json_object *o, const char *key, const uint8_t *in, size_t len)
{
	char *s = malloc(BASE64_ENCODED_SIZE(len));
	int r;

	if (!s)
		return -ENOMEM;
	base64_encode(in, len, s);
	r = add_str(o, key, s);
	free(s);
	return r;
}

int kmip_token_format(const struct kmip_token *t, char **json)
{
	json_object *o = NULL, *slots = NULL, *x;
	char slot[16], proto[8];
	const char *text;
	struct kmip_token check;
	bool gcm = t->kind == KMIP_KIND_ENVELOPE && t->mode == KMIP_ENVELOPE_AES_GCM;
	int r = -ENOMEM;

	*json = NULL;
	if (t->keyslot < 0 || t->keyslot >= LUKS2_KEYSLOTS ||
	    (t->kind != KMIP_KIND_PASSPHRASE && t->kind != KMIP_KIND_VOLUME_KEY &&
	     t->kind != KMIP_KIND_ENVELOPE) ||
	    (t->kind == KMIP_KIND_ENVELOPE && t->mode != KMIP_ENVELOPE_AES_CBC && !gcm))
		return log_error_errno(-EINVAL, "cannot format a kmip token: bad kind, keyslot or "
				       "envelope mode");
	o = json_object_new_object();
	slots = json_object_new_array();
	if (!o || !slots)
		goto out;
	if (add_str(o, "type", KMIP_TOKEN_TYPE) < 0)
		goto out;
	snprintf(slot, sizeof(slot), "%d", t->keyslot);
	x = json_object_new_string(slot);
	if (!x || json_object_array_add(slots, x) < 0) {
		json_object_put(x);
		goto out;
	}
	if (json_object_object_add(o, "keyslots", slots) < 0)
		goto out;
	slots = NULL;
	/* The oldest format that says it: 2 only for what format 1 cannot say. */
	x = json_object_new_int(gcm ? 2 : 1);
	if (!x || json_object_object_add(o, "kmip_version", x) < 0) {
		json_object_put(x);
		goto out;
	}
	if (add_str(o, "kind", kmip_kind_name(t->kind)) < 0 ||
	    add_str(o, "uid", t->uid) < 0 ||
	    add_str(o, "group", t->group[0] ? t->group : "default") < 0)
		goto out;
	if (t->kind == KMIP_KIND_VOLUME_KEY && t->wrap_uid[0] && add_str(o, "wrap_uid", t->wrap_uid) < 0)
		goto out;
	if (t->protocol && kmip_version_supported(t->protocol) &&
	    add_str(o, "protocol", kmip_version_str(t->protocol, proto, sizeof(proto))) < 0)
		goto out;
	if (t->kind == KMIP_KIND_ENVELOPE &&
	    (add_b64(o, "ciphertext", t->ciphertext, t->ciphertext_len) < 0 ||
	     add_b64(o, "iv", t->iv, t->iv_len) < 0))
		goto out;
	if (gcm && (add_str(o, "mode", kmip_envelope_mode_name(t->mode)) < 0 ||
		    add_b64(o, "tag", t->tag, t->tag_len) < 0))
		goto out;
	if (t->object_group[0] && add_str(o, "object_group", t->object_group) < 0)
		goto out;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		goto out;
	/* What we write must be what we read: the same strict check. */
	r = kmip_token_parse(text, strlen(text), "new token", &check);
	if (r < 0)
		goto out;
	*json = strdup(text);
	r = *json ? 0 : -ENOMEM;
out:
	json_object_put(slots);
	json_object_put(o);
	return r;
}

/* ------------------------------------------- the rotation record token */

enum { R_TYPE, R_KEYSLOTS, R_VERSION, R_TOKEN, R_NAME, R_UID, R_NEW_KEYSLOT, R_OLD_UID,
       R_OLD_KEYSLOT, R_MAC, R_N };
static const char *const rot_names[R_N] = {
	"type", "keyslots", "kmip_version", "token", "name", "uid", "new_keyslot", "old_uid",
	"old_keyslot", "mac",
};
static const bool rot_required[R_N] = {
	true, true, true, true, true, false, false, false, false, true,
};

/* "keyslots" of a rotation token: 0 to KMIP_ROTATION_KEYSLOTS_MAX distinct numbers. */
static int get_rot_keyslots(const struct where *where, json_object *o, struct kmip_rotation *r)
{
	size_t n, i, k;
	char label[16];
	int v;

	if (!json_object_is_type(o, json_type_array))
		return bad(where, "keyslots is not a JSON array");
	n = json_object_array_length(o);
	if (n > KMIP_ROTATION_KEYSLOTS_MAX)
		return bad(where, "keyslots has %zu entries; a rotation holds at most %d (the new "
			   "keyslot and the old one)", n, KMIP_ROTATION_KEYSLOTS_MAX);
	for (i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "keyslots[%zu]", i);
		if (get_number(where, json_object_array_get_idx(o, i), label, "keyslot", &v) < 0)
			return -EINVAL;
		for (k = 0; k < i; k++)
			if (r->keyslots[k] == v)
				return bad(where, "keyslots names keyslot %d twice", v);
		r->keyslots[i] = v;
	}
	r->n_keyslots = n;
	return 0;
}

/* What the members say together: the order of rekey's steps (docs/rekey.md). */
static int check_rotation(const struct where *where, const struct kmip_rotation *r)
{
	size_t i;

	if (!r->uid[0] && (r->old_uid[0] || r->new_keyslot >= 0))
		return bad(where, "%s without uid (nothing is done before the new object exists)",
			   r->old_uid[0] ? "old_uid" : "new_keyslot");
	if (!r->old_uid[0] && r->old_keyslot >= 0)
		return bad(where, "old_keyslot without old_uid");
	if (r->old_uid[0] && strcmp(r->uid, r->old_uid) == 0)
		return bad(where, "uid and old_uid are the same object");
	if (r->new_keyslot >= 0 && r->new_keyslot == r->old_keyslot)
		return bad(where, "new_keyslot and old_keyslot are the same keyslot");
	for (i = 0; i < r->n_keyslots; i++)
		if (r->keyslots[i] != r->new_keyslot && r->keyslots[i] != r->old_keyslot)
			return bad(where, "keyslots names keyslot %d, neither new_keyslot nor "
				   "old_keyslot", r->keyslots[i]);
	return 0;
}

static int parse_rotation(json_object *root, const struct where *where, struct kmip_rotation *r)
{
	json_object *f[R_N] = { 0 };
	bool have[R_N] = { 0 };
	size_t mac_len = 0;
	int64_t v;
	int i;

	json_object_object_foreach(root, key, val) {
		for (i = 0; i < R_N; i++)
			if (strcmp(key, rot_names[i]) == 0)
				break;
		if (i == R_N) {
			char shown[40];
			size_t n = strnlen(key, sizeof(shown) - 1);

			memcpy(shown, key, n);
			shown[n] = '\0';
			for (size_t j = 0; j < n; j++)
				if ((unsigned char)shown[j] < 0x20 || (unsigned char)shown[j] > 0x7e)
					shown[j] = '?';
			return bad(where, "unknown field '%s'%s", shown, strlen(key) > n ? "..." : "");
		}
		f[i] = val;
		have[i] = true;
	}
	if (!have[R_TYPE])
		return bad(where, "no type");
	if (!json_object_is_type(f[R_TYPE], json_type_string) ||
	    strcmp(json_object_get_string(f[R_TYPE]), KMIP_ROTATION_TOKEN_TYPE) != 0 ||
	    json_object_get_string_len(f[R_TYPE]) != (int)strlen(KMIP_ROTATION_TOKEN_TYPE))
		return bad(where, "type is not \"%s\"", KMIP_ROTATION_TOKEN_TYPE);
	if (!have[R_VERSION])
		return bad(where, "no kmip_version (the token format version)");
	if (!json_object_is_type(f[R_VERSION], json_type_int))
		return bad(where, "kmip_version is not a JSON integer");
	v = json_object_get_int64(f[R_VERSION]);
	if (v != KMIP_ROTATION_VERSION)
		return bad(where, "format version %lld is not supported (this kmipcrypt reads version "
			   "%d); it was written by a newer kmipcrypt, or is not kmipcrypt's",
			   (long long)v, KMIP_ROTATION_VERSION);
	r->version = (int)v;
	for (i = 0; i < R_N; i++)
		if (rot_required[i] && !have[i])
			return bad(where, "no %s", rot_names[i]);
	if (get_rot_keyslots(where, f[R_KEYSLOTS], r) < 0 ||
	    get_number(where, f[R_TOKEN], "token", "token", &r->token) < 0 ||
	    get_string(where, f[R_NAME], "name", KMIP_TEXT_MAX, true, r->name) < 0 ||
	    (have[R_UID] && get_text(where, f[R_UID], "uid", KMIP_UID_MAX, r->uid) < 0) ||
	    (have[R_NEW_KEYSLOT] && get_number(where, f[R_NEW_KEYSLOT], "new_keyslot", "keyslot",
					       &r->new_keyslot) < 0) ||
	    (have[R_OLD_UID] && get_text(where, f[R_OLD_UID], "old_uid", KMIP_UID_MAX,
					 r->old_uid) < 0) ||
	    (have[R_OLD_KEYSLOT] && get_number(where, f[R_OLD_KEYSLOT], "old_keyslot", "keyslot",
					       &r->old_keyslot) < 0) ||
	    get_base64(where, f[R_MAC], "mac", KMIP_ROTATION_MAC_LEN, KMIP_ROTATION_MAC_LEN, 1,
		       r->mac, &mac_len) < 0)
		return -EINVAL;
	return check_rotation(where, r);
}

/* The empty record: no keyslot named. */
static void rotation_clear(struct kmip_rotation *r)
{
	explicit_bzero(r, sizeof(*r));
	r->new_keyslot = -1;
	r->old_keyslot = -1;
}

int kmip_rotation_parse(const char *json, size_t len, const char *where, struct kmip_rotation *r)
{
	struct where w = { .at = where ? where : "LUKS2 header", .type = KMIP_ROTATION_TOKEN_TYPE };
	json_object *root = NULL;
	int ret;

	if (!r)
		return -EINVAL;
	rotation_clear(r);
	ret = json_root(json, len, &w, &root);
	if (ret == 0)
		ret = parse_rotation(root, &w, r);
	if (ret < 0)
		rotation_clear(r);
	json_object_put(root);
	return ret;
}

/* A keyslot or token number member, as LUKS2 spells numbers: "5". */
static int add_num(json_object *o, const char *key, int v)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", v);
	return add_str(o, key, num);
}

int kmip_rotation_format(const struct kmip_rotation *r, char **json)
{
	json_object *o = NULL, *slots = NULL, *x;
	struct kmip_rotation check;
	char num[16];
	const char *text;
	size_t i;
	int ret = -ENOMEM;

	*json = NULL;
	if (r->token < 0 || r->token >= LUKS2_KEYSLOTS || r->n_keyslots > KMIP_ROTATION_KEYSLOTS_MAX ||
	    r->new_keyslot < -1 || r->new_keyslot >= LUKS2_KEYSLOTS || r->old_keyslot < -1 ||
	    r->old_keyslot >= LUKS2_KEYSLOTS)
		return log_error_errno(-EINVAL, "cannot format a kmip-rotation token: bad token or "
				       "keyslot number");
	o = json_object_new_object();
	slots = json_object_new_array();
	if (!o || !slots || add_str(o, "type", KMIP_ROTATION_TOKEN_TYPE) < 0)
		goto out;
	for (i = 0; i < r->n_keyslots; i++) {
		snprintf(num, sizeof(num), "%d", r->keyslots[i]);
		x = json_object_new_string(num);
		if (!x || json_object_array_add(slots, x) < 0) {
			json_object_put(x);
			goto out;
		}
	}
	if (json_object_object_add(o, "keyslots", slots) < 0)
		goto out;
	slots = NULL;
	x = json_object_new_int(KMIP_ROTATION_VERSION);
	if (!x || json_object_object_add(o, "kmip_version", x) < 0) {
		json_object_put(x);
		goto out;
	}
	if (add_num(o, "token", r->token) < 0 || add_str(o, "name", r->name) < 0 ||
	    (r->uid[0] && add_str(o, "uid", r->uid) < 0) ||
	    (r->new_keyslot >= 0 && add_num(o, "new_keyslot", r->new_keyslot) < 0) ||
	    (r->old_uid[0] && add_str(o, "old_uid", r->old_uid) < 0) ||
	    (r->old_keyslot >= 0 && add_num(o, "old_keyslot", r->old_keyslot) < 0) ||
	    add_b64(o, "mac", r->mac, sizeof(r->mac)) < 0)
		goto out;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		goto out;
	/* What we write must be what we read. */
	ret = kmip_rotation_parse(text, strlen(text), "new kmip-rotation token", &check);
	if (ret < 0)
		goto out;
	*json = strdup(text);
	ret = *json ? 0 : -ENOMEM;
out:
	json_object_put(slots);
	json_object_put(o);
	return ret;
}

/* Append s and its NUL to buf[*n..len): one field of the MAC's input. */
static int mac_add(uint8_t *buf, size_t len, size_t *n, const char *s)
{
	size_t k = strlen(s) + 1;

	if (k > len - *n)
		return -EINVAL;
	memcpy(buf + *n, s, k);
	*n += k;
	return 0;
}

/* A number of the MAC's input: decimal, "" for none (-1). */
static const char *mac_num(int v, char buf[16])
{
	if (v < 0)
		buf[0] = '\0';
	else
		snprintf(buf, 16, "%d", v);
	return buf;
}

/* Every field at its largest: the prefix, a UUID, numbers, a name and two uids. */
#define ROT_MAC_INPUT_MAX	(64 + KMIP_VOLUME_UUID_SIZE + 3 * 16 + KMIP_TEXT_SIZE + \
				 2 * KMIP_UID_SIZE)

int kmip_rotation_mac(const struct kmip_rotation *r, const char *volume_uuid, const uint8_t *vk,
		      size_t vk_len, uint8_t mac[KMIP_ROTATION_MAC_LEN])
{
	uint8_t in[ROT_MAC_INPUT_MAX];
	char n1[16], n2[16], n3[16];
	unsigned len = 0;
	size_t n = 0;
	int ret = 0;

	if (!r || !volume_uuid || !volume_uuid[0] ||
	    strnlen(volume_uuid, KMIP_VOLUME_UUID_SIZE) >= KMIP_VOLUME_UUID_SIZE || !vk ||
	    vk_len == 0 || vk_len > INT32_MAX || r->token < 0 || r->token >= LUKS2_KEYSLOTS ||
	    r->new_keyslot < -1 || r->new_keyslot >= LUKS2_KEYSLOTS || r->old_keyslot < -1 ||
	    r->old_keyslot >= LUKS2_KEYSLOTS || strnlen(r->name, KMIP_TEXT_SIZE) >= KMIP_TEXT_SIZE ||
	    strnlen(r->uid, KMIP_UID_SIZE) >= KMIP_UID_SIZE ||
	    strnlen(r->old_uid, KMIP_UID_SIZE) >= KMIP_UID_SIZE)
		return -EINVAL;
	if (mac_add(in, sizeof(in), &n, "kmipcrypt-rotation:1") < 0 ||
	    mac_add(in, sizeof(in), &n, volume_uuid) < 0 ||
	    mac_add(in, sizeof(in), &n, mac_num(r->token, n1)) < 0 ||
	    mac_add(in, sizeof(in), &n, r->name) < 0 || mac_add(in, sizeof(in), &n, r->uid) < 0 ||
	    mac_add(in, sizeof(in), &n, mac_num(r->new_keyslot, n2)) < 0 ||
	    mac_add(in, sizeof(in), &n, r->old_uid) < 0 ||
	    mac_add(in, sizeof(in), &n, mac_num(r->old_keyslot, n3)) < 0)
		ret = -EINVAL;
	else if (!HMAC(EVP_sha256(), vk, (int)vk_len, in, n, mac, &len) ||
		 len != KMIP_ROTATION_MAC_LEN)
		ret = -EIO;
	explicit_bzero(in, sizeof(in));
	return ret;
}

bool kmip_rotation_mac_ok(const struct kmip_rotation *r, const char *volume_uuid, const uint8_t *vk,
			  size_t vk_len)
{
	uint8_t mac[KMIP_ROTATION_MAC_LEN];
	bool ok;

	ok = kmip_rotation_mac(r, volume_uuid, vk, vk_len, mac) == 0 &&
	     CRYPTO_memcmp(mac, r->mac, sizeof(mac)) == 0;
	explicit_bzero(mac, sizeof(mac));
	return ok;
}

/* ---------------------------------------------- this host's Object Group */

#define MACHINE_ID_HEX		32	/* machine-id(5): 128 bits, lower-case hex */
#define MACHINE_ID_FILE_MAX	64	/* bytes read at most: the ID, a newline, room to refuse */

/* The 16 bytes of a machine ID file's text: exactly 32 lower-case hex digits, one newline. */
static int machine_id_parse(const char *text, size_t n, uint8_t id[16], const char **why)
{
	size_t i;
	uint8_t any = 0;

	if (n == MACHINE_ID_HEX + 1 && text[MACHINE_ID_HEX] == '\n')
		n--;
	for (i = 0; i < n && i < MACHINE_ID_HEX; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			break;
	if (n != MACHINE_ID_HEX || i != MACHINE_ID_HEX ||
	    hex_decode(text, MACHINE_ID_HEX, id, 16) < 0) {
		*why = n == 0 ? "empty (the machine ID is not set up yet)" :
		       "not a machine ID (32 lower-case hexadecimal digits and a newline, "
		       "machine-id(5))";
		return -EINVAL;
	}
	for (i = 0; i < 16; i++)
		any |= id[i];
	if (!any) {
		*why = "the null machine ID (all zeros), which names no machine";
		return -EINVAL;
	}
	return 0;
}

int luks_machine_object_group(const char *path, char *buf, size_t len, const char **why)
{
	uint8_t id[16], app[16], md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	const char *dummy = NULL;
	char *text = NULL;
	size_t n = 0;
	int r;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!path || !buf) {
		r = -EINVAL;
		goto out;
	}
	if (len <= LUKS_HOST_GROUP_LEN) {
		r = log_error_errno(-ERANGE, "no room for an Object Group name");
		goto out;
	}
	/* Not secret, but confidential (machine-id(5)): locked memory, wiped, as any file. */
	r = read_file_locked_opts(path, MACHINE_ID_FILE_MAX,
				  &(struct read_file_opts){ .quiet_enoent = true,
							    .where = "machine ID" },
				  &text, &n);
	if (r == -EFBIG) {
		*why = "larger than a machine ID";
		r = -EINVAL;
	}
	if (r < 0)
		goto out;
	r = machine_id_parse(text, n, id, why);
	if (r < 0)
		goto out;
	/* systemd's app-specific ID: HMAC-SHA256(key: machine ID, data: app ID), a v4 UUID. */
	if (hex_decode(LUKS_OBJECT_GROUP_APP_ID, 2 * sizeof(app), app, sizeof(app)) < 0 ||
	    !HMAC(EVP_sha256(), id, sizeof(id), app, sizeof(app), md, &md_len) || md_len < 16) {
		r = log_error_errno(-EIO, "%s: cannot derive this host's Object Group (HMAC-SHA256 "
				    "failed)", path);
		goto out;
	}
	md[6] = (uint8_t)((md[6] & 0x0f) | 0x40);
	md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
	memcpy(buf, LUKS_HOST_GROUP_PREFIX, sizeof(LUKS_HOST_GROUP_PREFIX) - 1);
	/* hex_encode() writes 2 * 8 digits and a NUL: within LUKS_HOST_GROUP_LEN + 1 <= len. */
	hex_encode(md, LUKS_HOST_GROUP_HEX / 2, buf + sizeof(LUKS_HOST_GROUP_PREFIX) - 1);
	r = 0;
out:
	explicit_bzero(id, sizeof(id));
	explicit_bzero(md, sizeof(md));
	secmem_free(text);
	return r;
}

int luks_host_object_group_at(const struct config *cfg, const char *server_group,
			      const char *machine_id_path, char *buf, size_t len)
{
	const char *name = server_group ? server_group : "default", *why = NULL;
	unsigned i;
	int r;

	if (!buf || len == 0)
		return -EINVAL;
	buf[0] = '\0';
	for (i = 0; cfg && i < cfg->n_groups; i++) {
		const struct config_group *g = &cfg->groups[i];

		if (strcmp(g->name, name) || !g->object_group)
			continue;
		if (strlen(g->object_group) >= len)
			return log_error_errno(-ERANGE, "no room for Object Group '%s'",
					       g->object_group);
		memcpy(buf, g->object_group, strlen(g->object_group) + 1);
		return 0;
	}
	r = luks_machine_object_group(machine_id_path, buf, len, &why);
	if (r == -ERANGE)
		return r;
	if (r < 0) {
		/* Objects still go somewhere enroll and key list know: where they all went before. */
		log_warn("%s: %s; this host's objects go to the Object Group '%s' that every host "
			 "shares (set object_group in the configuration for one of their own)",
			 machine_id_path, r == -ENOENT ? "missing" : why ? why : "unreadable",
			 LUKS_ENROLL_OBJECT_GROUP);
		if (sizeof(LUKS_ENROLL_OBJECT_GROUP) > len)
			return -ERANGE;
		memcpy(buf, LUKS_ENROLL_OBJECT_GROUP, sizeof(LUKS_ENROLL_OBJECT_GROUP));
	}
	return 0;
}

int luks_host_object_group(const struct config *cfg, const char *server_group, char *buf,
			   size_t len)
{
	return luks_host_object_group_at(cfg, server_group, LUKS_MACHINE_ID_PATH, buf, len);
}
