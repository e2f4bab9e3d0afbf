// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Payload parsers: from a decoded response payload to our structures,
 * every length and type checked; key material copied into locked memory.
 * No client, no I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kmip/kmip_internal.h"
#include "ttlv/names.h"
#include "util/secmem.h"

/* -------------------------------------------------------------- parsers */

void kmip_object_clear(struct kmip_object *o)
{
	if (!o)
		return;
	secmem_free(o->material);
	memset(o, 0, sizeof(*o));
}

void kmip_uid_list_free(struct kmip_uid_list *l)
{
	if (!l)
		return;
	free(l->uids);		/* pointers and strings are one block */
	memset(l, 0, sizeof(*l));
	l->located_items = -1;
}

static int parse_wrapping_data(const struct ttlv_item *kwd, struct kmip_object *out,
			       struct kmip_why *w)
{
	struct ttlv_item eki, cp, u;
	int r;

	r = kmip_need_type(w, kwd, TTLV_STRUCTURE);
	if (r < 0)
		return r;
	out->wrapped = true;
	if (ttlv_find(kwd, KMIP_TAG_ENCRYPTION_KEY_INFORMATION, &eki) < 0)
		return 0;
	r = kmip_need_type(w, &eki, TTLV_STRUCTURE);
	if (r < 0)
		return r;
	if (ttlv_find(&eki, KMIP_TAG_UNIQUE_IDENTIFIER, &u) == 0) {
		r = kmip_copy_text(&u, out->wrap_kek_uid, sizeof(out->wrap_kek_uid), w);
		if (r < 0)
			return r;
	}
	if (ttlv_find(&eki, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS, &cp) < 0)
		return 0;
	r = kmip_need_type(w, &cp, TTLV_STRUCTURE);
	if (r == 0 && ttlv_find(&cp, KMIP_TAG_BLOCK_CIPHER_MODE, &u) == 0) {
		r = kmip_need_type(w, &u, TTLV_ENUM);
		ttlv_get_enum(&u, &out->wrap_mode);
	}
	return r;
}

/*
 * The key bytes of a Key Value: a Byte String (the spec's wording for
 * wrapped keys), or Structure {Key Material} (PyKMIP, OASIS TC-WRAP-1-14),
 * whose Key Material is bytes, or Structure {Key} for Transparent
 * Symmetric Key.
 */
static int key_value_bytes(const struct ttlv_item *kv, const uint8_t **p, size_t *len,
			   struct kmip_why *w)
{
	struct ttlv_item km, k;
	int r;

	if (kv->type == TTLV_BYTES)
		return ttlv_get_bytes(kv, p, len);
	if (kv->type != TTLV_STRUCTURE)
		return kmip_bad(w, -EBADMSG, kv, "neither a Byte String nor a Structure");
	if (ttlv_find(kv, KMIP_TAG_KEY_MATERIAL, &km) < 0)
		return kmip_bad(w, -EBADMSG, kv, "no Key Material");
	if (km.type == TTLV_BYTES)
		return ttlv_get_bytes(&km, p, len);
	r = kmip_need_type(w, &km, TTLV_STRUCTURE);
	if (r == 0)
		r = kmip_need(w, &km, KMIP_TAG_KEY, TTLV_BYTES, &k);
	if (r == 0)
		ttlv_get_bytes(&k, p, len);
	return r;
}

static int parse_key_block(const struct ttlv_item *kb, struct kmip_object *out,
			   struct kmip_why *w)
{
	struct ttlv_item kv, x;
	const uint8_t *mat;
	size_t len;
	int r;

	r = kmip_need_type(w, kb, TTLV_STRUCTURE);
	if (r == 0)
		r = kmip_need(w, kb, KMIP_TAG_KEY_FORMAT_TYPE, TTLV_ENUM, &x);
	if (r == 0)
		ttlv_get_enum(&x, &out->key_format);
	if (r == 0)
		r = ttlv_find(kb, KMIP_TAG_KEY_VALUE, &kv) == 0 ? 0 :
		    kmip_bad(w, -EBADMSG, kb, "no Key Value");
	if (r == 0)
		r = key_value_bytes(&kv, &mat, &len, w);
	if (r == 0 && ttlv_find(kb, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, &x) == 0) {
		r = kmip_need_type(w, &x, TTLV_ENUM);
		ttlv_get_enum(&x, &out->algorithm);
	}
	if (r == 0 && ttlv_find(kb, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &x) == 0) {
		r = kmip_need_type(w, &x, TTLV_INTEGER);
		ttlv_get_int(&x, &out->length);
		if (r == 0 && out->length < 0)
			r = kmip_bad(w, -EBADMSG, &x, "negative (%" PRId32 ")", out->length);
	}
	if (r == 0 && ttlv_find(kb, KMIP_TAG_KEY_WRAPPING_DATA, &x) == 0)
		r = parse_wrapping_data(&x, out, w);
	if (r == 0 && (len == 0 || len > KMIP_MATERIAL_MAX))
		r = kmip_bad(w, -EBADMSG, &kv, "%zu bytes of key material; 1 to %u accepted",
			     len, KMIP_MATERIAL_MAX);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	out->material = secmem_dup(mat, len);
	if (!out->material)
		goto out;
	out->material_len = len;
	r = 0;
out:
	return r;
}

int kmip_parse_get(const struct ttlv_item *payload, struct kmip_object *out)
{
	return kmip_parse_get_why(payload, out, NULL);
}

int kmip_parse_get_why(const struct ttlv_item *payload, struct kmip_object *out,
		       struct kmip_why *w)
{
	struct ttlv_item obj, kb, u;
	uint32_t obj_tag;
	int r;

	memset(out, 0, sizeof(*out));
	r = kmip_need_type(w, payload, TTLV_STRUCTURE);
	if (r == 0)
		r = kmip_need(w, payload, KMIP_TAG_OBJECT_TYPE, TTLV_ENUM, &u);
	if (r == 0)
		ttlv_get_enum(&u, &out->object_type);
	if (r == 0)
		r = kmip_need(w, payload, KMIP_TAG_UNIQUE_IDENTIFIER, TTLV_TEXT, &u);
	if (r == 0)
		r = kmip_copy_text(&u, out->uid, sizeof(out->uid), w);
	if (r < 0)
		goto out;
	switch (out->object_type) {
	case KMIP_OBJ_SYMMETRIC_KEY:
		obj_tag = KMIP_TAG_SYMMETRIC_KEY;
		break;
	case KMIP_OBJ_SECRET_DATA:
		obj_tag = KMIP_TAG_SECRET_DATA;
		break;
	default:
		/* Not an object kind we use. */
		r = kmip_bad(w, -EOPNOTSUPP, NULL, "the server returned a %s, not a Symmetric "
			     "Key or Secret Data", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE,
								  out->object_type) ?
			     ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, out->object_type) :
			     "object of an unknown type");
		goto out;
	}
	r = kmip_need(w, payload, obj_tag, TTLV_STRUCTURE, &obj);
	if (r == 0 && obj_tag == KMIP_TAG_SECRET_DATA &&
	    ttlv_find(&obj, KMIP_TAG_SECRET_DATA_TYPE, &u) == 0) {
		r = kmip_need_type(w, &u, TTLV_ENUM);
		ttlv_get_enum(&u, &out->secret_data_type);
	}
	if (r == 0)
		r = ttlv_find(&obj, KMIP_TAG_KEY_BLOCK, &kb) == 0 ? 0 :
		    kmip_bad(w, -EBADMSG, &obj, "no Key Block");
	if (r == 0)
		r = parse_key_block(&kb, out, w);
out:
	if (r < 0)
		kmip_object_clear(out);
	return r;
}

int kmip_parse_get_attributes(const struct ttlv_item *payload, struct kmip_attrs *out)
{
	return kmip_parse_get_attributes_why(payload, out, NULL);
}

int kmip_parse_get_attributes_why(const struct ttlv_item *payload, struct kmip_attrs *out,
				  struct kmip_why *w)
{
	struct ttlv_iter it;
	struct ttlv_item c;
	bool have_uid = false;
	int r;

	memset(out, 0, sizeof(*out));
	r = kmip_need_type(w, payload, TTLV_STRUCTURE);
	if (r < 0)
		goto out;
	ttlv_iter_init(&it, payload);
	while (ttlv_iter_next(&it, &c)) {
		switch (c.tag) {
		case KMIP_TAG_UNIQUE_IDENTIFIER:
			if (have_uid)
				break;
			r = kmip_copy_text(&c, out->uid, sizeof(out->uid), w);
			have_uid = true;
			break;
		case KMIP_TAG_ATTRIBUTE:
			r = kmip_attr_read(out, &c, w);
			break;
		case KMIP_TAG_ATTRIBUTES:
			r = kmip_attrs_read_v2(out, &c, w);
			break;
		default:
			r = 0;
			break;
		}
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int kmip_parse_locate(const struct ttlv_item *payload, struct kmip_uid_list *out)
{
	return kmip_parse_locate_why(payload, out, NULL);
}

int kmip_parse_locate_why(const struct ttlv_item *payload, struct kmip_uid_list *out,
			  struct kmip_why *w)
{
	struct ttlv_iter it;
	struct ttlv_item c;
	size_t n = 0, bytes = 0, i = 0;
	char *strings;
	int r;

	memset(out, 0, sizeof(*out));
	out->located_items = -1;
	r = kmip_need_type(w, payload, TTLV_STRUCTURE);
	if (r < 0)
		goto out;
	/* First pass: validate and size, so that one allocation holds all. */
	ttlv_iter_init(&it, payload);
	while (ttlv_iter_next(&it, &c)) {
		if (c.tag == KMIP_TAG_LOCATED_ITEMS) {
			r = kmip_need_type(w, &c, TTLV_INTEGER);
			if (r < 0)
				goto out;
			ttlv_get_int(&c, &out->located_items);
			continue;
		}
		if (c.tag != KMIP_TAG_UNIQUE_IDENTIFIER)
			continue;
		r = kmip_need_type(w, &c, TTLV_TEXT);
		if (r == 0 && (c.len == 0 || c.len > KMIP_UID_MAX))
			r = kmip_bad(w, -EBADMSG, &c, "%" PRIu32 " bytes; 1 to %u accepted", c.len,
				     KMIP_UID_MAX);
		if (r < 0)
			goto out;
		if (++n > KMIP_LOCATE_MAX) {
			r = kmip_bad(w, -E2BIG, NULL, "the server located more than %u objects, "
				     "more than accepted; narrow the search", KMIP_LOCATE_MAX);
			goto out;
		}
		bytes += c.len + 1;
	}
	r = 0;
	if (!n)
		goto out;
	r = -ENOMEM;
	out->uids = malloc(n * sizeof(char *) + bytes);
	if (!out->uids)
		goto out;
	strings = (char *)(out->uids + n);
	ttlv_iter_init(&it, payload);
	while (ttlv_iter_next(&it, &c)) {
		if (c.tag != KMIP_TAG_UNIQUE_IDENTIFIER)
			continue;
		memcpy(strings, c.value, c.len);
		strings[c.len] = '\0';
		out->uids[i++] = strings;
		strings += c.len + 1;
	}
	out->n = n;
	r = 0;
out:
	if (r < 0)
		kmip_uid_list_free(out);
	return r;
}

bool kmip_server_has_op(const struct kmip_server_info *s, uint32_t op)
{
	size_t i, n = s->n_ops < KMIP_QUERY_MAX ? s->n_ops : KMIP_QUERY_MAX;

	for (i = 0; i < n; i++)
		if (s->ops[i] == op)
			return true;
	return false;
}

int kmip_parse_query_why(const struct ttlv_item *p, struct kmip_server_info *out,
			 struct kmip_why *w)
{
	struct ttlv_iter it, sit;
	struct ttlv_item ch, s;
	uint32_t v;
	size_t used;
	int r;

	memset(out, 0, sizeof(*out));
	ttlv_iter_init(&it, p);
	while (ttlv_iter_next(&it, &ch)) {
		switch (ch.tag) {
		case KMIP_TAG_OPERATION:
			r = kmip_need_type(w, &ch, TTLV_ENUM);
			if (r < 0)
				goto out;
			ttlv_get_enum(&ch, &v);
			if (out->n_ops < KMIP_QUERY_MAX)
				out->ops[out->n_ops] = v;
			out->n_ops++;
			break;
		case KMIP_TAG_OBJECT_TYPE:
			r = kmip_need_type(w, &ch, TTLV_ENUM);
			if (r < 0)
				goto out;
			ttlv_get_enum(&ch, &v);
			if (out->n_objects < KMIP_QUERY_MAX)
				out->objects[out->n_objects] = v;
			out->n_objects++;
			break;
		case KMIP_TAG_VENDOR_IDENTIFICATION:
			r = kmip_need_type(w, &ch, TTLV_TEXT);
			if (r < 0)
				goto out;
			kmip_sanitize(out->vendor, sizeof(out->vendor),
				      (const char *)ch.value, ch.len);
			break;
		case KMIP_TAG_SERVER_INFORMATION:
			/* Vendor-defined content: keep its text strings, one level deep. */
			r = kmip_need_type(w, &ch, TTLV_STRUCTURE);
			if (r < 0)
				goto out;
			ttlv_iter_init(&sit, &ch);
			while (ttlv_iter_next(&sit, &s)) {
				used = strlen(out->info);
				if (s.type != TTLV_TEXT || used + 3 >= sizeof(out->info))
					continue;
				if (used) {
					memcpy(out->info + used, "; ", 3);
					used += 2;
				}
				kmip_sanitize(out->info + used, sizeof(out->info) - used,
					      (const char *)s.value, s.len);
			}
			break;
		default:
			break;
		}
	}
	r = 0;
out:
	return r;
}

int kmip_parse_versions_why(const struct ttlv_item *payload, int *versions, size_t max,
			    size_t *n, struct kmip_why *w)
{
	struct ttlv_iter it;
	struct ttlv_item ch;
	int r, v;

	*n = 0;
	ttlv_iter_init(&it, payload);
	while (ttlv_iter_next(&it, &ch)) {
		if (ch.tag != KMIP_TAG_PROTOCOL_VERSION)
			continue;
		r = kmip_parse_protocol_version(&ch, &v, w);
		if (r < 0)
			return r;
		if (*n < max)
			versions[(*n)++] = v;
	}
	return 0;
}

int kmip_parse_uid_why(const struct ttlv_item *payload, char uid[KMIP_UID_SIZE],
		       struct kmip_why *w)
{
	struct ttlv_item u;
	int r;

	r = kmip_need(w, payload, KMIP_TAG_UNIQUE_IDENTIFIER, TTLV_TEXT, &u);
	if (r == 0 && u.len == 0)
		r = kmip_bad(w, -EBADMSG, &u, "empty");
	if (r == 0)
		r = kmip_copy_text(&u, uid, KMIP_UID_SIZE, w);
	return r;
}

int kmip_parse_echo_why(const struct ttlv_item *payload, const char *uid, struct kmip_why *w)
{
	struct ttlv_item u;

	if (ttlv_find(payload, KMIP_TAG_UNIQUE_IDENTIFIER, &u) < 0 || ttlv_text_eq(&u, uid))
		return 0;
	if (u.type != TTLV_TEXT)
		return kmip_need_type(w, &u, TTLV_TEXT);
	return kmip_bad(w, -EBADMSG, &u, "the answer is about '%.*s', the request about '%s'",
			u.len > 64 ? 64 : (int)u.len, (const char *)u.value, uid);
}

int kmip_parse_crypt_why(const struct ttlv_item *pl, const char *uid,
			 struct kmip_crypt_params *out_p, uint8_t **out, size_t *out_len,
			 struct kmip_why *w)
{
	struct ttlv_item iv, tag;
	const uint8_t *data;
	size_t len;
	int r;

	r = kmip_parse_echo_why(pl, uid, w);
	if (r < 0)
		return r;
	if (ttlv_find_bytes(pl, KMIP_TAG_DATA, &data, &len) < 0 || len == 0)
		return kmip_bad(w, -EBADMSG, pl, "no Data, or empty Data, in the response payload");
	/* The IV the server chose, when we let it choose. */
	if (out_p && !out_p->iv_len && ttlv_find(pl, KMIP_TAG_IV_COUNTER_NONCE, &iv) == 0) {
		if (iv.type != TTLV_BYTES || iv.len == 0 || iv.len > KMIP_IV_MAX)
			return kmip_bad(w, -EBADMSG, &iv, "an IV/Counter/Nonce of 1 to %u "
					"bytes expected", (unsigned)KMIP_IV_MAX);
		memcpy(out_p->iv, iv.value, iv.len);
		out_p->iv_len = iv.len;
	}
	/* GCM: the tag, of the length asked for; a server that sends none does not do GCM. */
	if (out_p && out_p->mode == KMIP_BCM_GCM) {
		if (ttlv_find(pl, KMIP_TAG_AE_TAG, &tag) < 0)
			return kmip_bad(w, -EOPNOTSUPP, pl, "no Authenticated Encryption Tag: "
					"the server does not do AES-GCM");
		if (tag.type != TTLV_BYTES || tag.len != out_p->tag_len)
			return kmip_bad(w, -EBADMSG, &tag, "an Authenticated Encryption Tag of "
					"%zu bytes expected", out_p->tag_len);
		memcpy(out_p->tag, tag.value, tag.len);
	}
	*out = secmem_dup(data, len);
	if (!*out)
		return -ENOMEM;
	*out_len = len;
	return 0;
}
