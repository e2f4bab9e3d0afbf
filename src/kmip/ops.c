// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * One request builder and one client function per operation.
 *
 * Field order follows the specification tables exactly: PyKMIP, among
 * others, reads payloads in order and rejects anything out of place.
 * Every request names its object by an explicit Unique Identifier (Text
 * String): the ID placeholder is shared engine-wide on PyKMIP.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmip/kmip_internal.h"
#include "util/errclass.h"
#include "ttlv/names.h"
#include "util/secmem.h"

static int fail(struct ttlv_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

static bool uid_ok(const char *uid)
{
	size_t n;

	if (!uid)
		return false;
	n = strnlen(uid, KMIP_UID_MAX + 1);
	return n > 0 && n <= KMIP_UID_MAX;
}

static bool text_ok(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, KMIP_TEXT_MAX + 1);
	return n > 0 && n <= KMIP_TEXT_MAX;
}

static int single_begin(struct ttlv_buf *b, int version, uint32_t op)
{
	kmip_msg_begin(b, version, 1);
	return kmip_msg_item_begin(b, op, 0, 1);
}

static int single_end(struct ttlv_buf *b)
{
	kmip_msg_item_end(b);
	return kmip_msg_end(b);
}

static int put_uid(struct ttlv_buf *b, const char *uid)
{
	if (!uid_ok(uid))
		return fail(b, -EINVAL);
	return ttlv_put_str(b, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
}

/* ------------------------------------------------------------- builders */

int kmip_build_discover_versions(struct ttlv_buf *b, int version, const int *offer, size_t n)
{
	size_t i;

	single_begin(b, version, KMIP_OP_DISCOVER_VERSIONS);
	for (i = 0; i < n; i++) {
		if (!kmip_version_supported(offer[i]))
			return fail(b, -EINVAL);
		ttlv_begin(b, KMIP_TAG_PROTOCOL_VERSION);
		ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MAJOR, offer[i] >> 8);
		ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MINOR, offer[i] & 0xFF);
		ttlv_end(b);
	}
	return single_end(b);
}

int kmip_build_query(struct ttlv_buf *b, int version)
{
	single_begin(b, version, KMIP_OP_QUERY);
	ttlv_put_enum(b, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_OPERATIONS);
	ttlv_put_enum(b, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_OBJECTS);
	ttlv_put_enum(b, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_SERVER_INFORMATION);
	return single_end(b);
}

static uint32_t usage_mask(const struct kmip_new_object *a)
{
	return a && a->usage_mask ? a->usage_mask : KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT;
}

/* Usage Mask, Name, Object Group: the attributes every new object gets. */
static int put_common_attrs(struct ttlv_buf *b, int version, const struct kmip_new_object *a)
{
	/* Always a usage mask: Vault 1.12+ rejects Register without one. */
	kmip_attr_int(b, version, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)usage_mask(a));
	if (a && a->name) {
		if (!text_ok(a->name))
			return fail(b, -EINVAL);
		kmip_attr_name(b, version, a->name);
	}
	if (a && a->group) {
		if (!text_ok(a->group))
			return fail(b, -EINVAL);
		kmip_attr_text(b, version, KMIP_TAG_OBJECT_GROUP, a->group);
	}
	return b->err;
}

int kmip_build_create(struct ttlv_buf *b, int version, unsigned bits,
		      const struct kmip_new_object *a)
{
	if (bits != 128 && bits != 192 && bits != 256)
		return fail(b, -EINVAL);
	single_begin(b, version, KMIP_OP_CREATE);
	ttlv_put_enum(b, KMIP_TAG_OBJECT_TYPE, KMIP_OBJ_SYMMETRIC_KEY);
	kmip_attrs_begin(b, version, true);
	kmip_attr_enum(b, version, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_ALG_AES);
	kmip_attr_int(b, version, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)bits);
	put_common_attrs(b, version, a);
	kmip_attrs_end(b, version, true);
	return single_end(b);
}

static void put_key_value(struct ttlv_buf *b, const uint8_t *v, size_t len)
{
	/* Key Value as Structure {Key Material}: the form every server reads. */
	ttlv_begin(b, KMIP_TAG_KEY_VALUE);
	ttlv_put_bytes(b, KMIP_TAG_KEY_MATERIAL, v, len);
	ttlv_end(b);
}

/* Register up to the object itself: Object Type, then the attributes. */
static void register_begin(struct ttlv_buf *b, int version, uint32_t obj_type,
			   const struct kmip_new_object *a)
{
	single_begin(b, version, KMIP_OP_REGISTER);
	ttlv_put_enum(b, KMIP_TAG_OBJECT_TYPE, obj_type);
	kmip_attrs_begin(b, version, true);
	put_common_attrs(b, version, a);
	kmip_attrs_end(b, version, true);
}

int kmip_build_register_secret(struct ttlv_buf *b, int version, const uint8_t *secret,
			       size_t len, const struct kmip_new_object *a)
{
	if (!secret || !len || len > KMIP_MATERIAL_MAX)
		return fail(b, -EINVAL);
	register_begin(b, version, KMIP_OBJ_SECRET_DATA, a);
	/* Password, Opaque: as the SASED profile test cases and PyKMIP do. */
	ttlv_begin(b, KMIP_TAG_SECRET_DATA);
	ttlv_put_enum(b, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_PASSWORD);
	ttlv_begin(b, KMIP_TAG_KEY_BLOCK);
	ttlv_put_enum(b, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KFT_OPAQUE);
	put_key_value(b, secret, len);
	ttlv_end(b);
	ttlv_end(b);
	return single_end(b);
}

int kmip_build_register_key(struct ttlv_buf *b, int version, const uint8_t *key,
			    size_t len, const struct kmip_new_object *a)
{
	if (!key || (len != 16 && len != 24 && len != 32 && len != 64))
		return fail(b, -EINVAL);
	register_begin(b, version, KMIP_OBJ_SYMMETRIC_KEY, a);
	ttlv_begin(b, KMIP_TAG_SYMMETRIC_KEY);
	ttlv_begin(b, KMIP_TAG_KEY_BLOCK);
	ttlv_put_enum(b, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KFT_RAW);
	put_key_value(b, key, len);
	ttlv_put_enum(b, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_ALG_AES);
	ttlv_put_int(b, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)(len * 8));
	ttlv_end(b);
	ttlv_end(b);
	return single_end(b);
}

static int build_uid_only(struct ttlv_buf *b, int version, uint32_t op, const char *uid)
{
	single_begin(b, version, op);
	put_uid(b, uid);
	return single_end(b);
}

int kmip_build_activate(struct ttlv_buf *b, int version, const char *uid)
{
	return build_uid_only(b, version, KMIP_OP_ACTIVATE, uid);
}

int kmip_build_destroy(struct ttlv_buf *b, int version, const char *uid)
{
	return build_uid_only(b, version, KMIP_OP_DESTROY, uid);
}

int kmip_build_rekey(struct ttlv_buf *b, int version, const char *uid)
{
	return build_uid_only(b, version, KMIP_OP_REKEY, uid);
}

int kmip_build_modify_group(struct ttlv_buf *b, int version, const char *uid,
			    const char *from, const char *to, int32_t index)
{
	if (!from || !text_ok(from) || !to || !text_ok(to) || index < 0)
		return fail(b, -EINVAL);
	single_begin(b, version, KMIP_OP_MODIFY_ATTRIBUTE);
	put_uid(b, uid);
	if (kmip_v2(version)) {
		ttlv_begin(b, KMIP_TAG_CURRENT_ATTRIBUTE);
		ttlv_put_str(b, KMIP_TAG_OBJECT_GROUP, from);
		ttlv_end(b);
		ttlv_begin(b, KMIP_TAG_NEW_ATTRIBUTE);
		ttlv_put_str(b, KMIP_TAG_OBJECT_GROUP, to);
		ttlv_end(b);
	} else {
		kmip_attr_text_at(b, version, KMIP_TAG_OBJECT_GROUP, to, index);
	}
	return single_end(b);
}

static uint32_t wrap_mode(const struct kmip_key_wrap *w)
{
	return w->mode ? w->mode : KMIP_BCM_NIST_KEY_WRAP;
}

int kmip_build_get(struct ttlv_buf *b, int version, const char *uid,
		   const struct kmip_key_wrap *wrap)
{
	single_begin(b, version, KMIP_OP_GET);
	put_uid(b, uid);
	/*
	 * No Key Format Type: PyKMIP refuses any format but the stored one,
	 * and the stored one is what we registered.
	 */
	if (wrap) {
		if (!uid_ok(wrap->kek_uid) ||
		    (wrap_mode(wrap) != KMIP_BCM_NIST_KEY_WRAP &&
		     wrap_mode(wrap) != KMIP_BCM_AES_KEY_WRAP_PADDING))
			return fail(b, -EINVAL);
		ttlv_begin(b, KMIP_TAG_KEY_WRAPPING_SPECIFICATION);
		ttlv_put_enum(b, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAP_ENCRYPT);
		ttlv_begin(b, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_put_str(b, KMIP_TAG_UNIQUE_IDENTIFIER, wrap->kek_uid);
		ttlv_begin(b, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		ttlv_put_enum(b, KMIP_TAG_BLOCK_CIPHER_MODE, wrap_mode(wrap));
		ttlv_end(b);
		ttlv_end(b);
		/* The raw key bytes wrapped, not a TTLV-encoded Key Value. */
		ttlv_put_enum(b, KMIP_TAG_ENCODING_OPTION, KMIP_ENCODING_NONE);
		ttlv_end(b);
	}
	return single_end(b);
}

int kmip_build_get_attributes(struct ttlv_buf *b, int version, const char *uid, uint32_t attrs)
{
	single_begin(b, version, KMIP_OP_GET_ATTRIBUTES);
	put_uid(b, uid);
	kmip_attr_refs(b, version, attrs);
	return single_end(b);
}

int kmip_build_get_states(struct ttlv_buf *b, int version, const char *const *uids, size_t n)
{
	size_t i;

	if (!uids || n == 0 || n > KMIP_BATCH_MAX)
		return fail(b, -EINVAL);
	kmip_msg_begin(b, version, (unsigned)n);
	for (i = 0; i < n; i++) {
		kmip_msg_item_begin(b, KMIP_OP_GET_ATTRIBUTES, (unsigned)i, (unsigned)n);
		put_uid(b, uids[i]);
		kmip_attr_refs(b, version, KMIP_ATTR_STATE);
		kmip_msg_item_end(b);
	}
	return kmip_msg_end(b);
}

int kmip_build_locate(struct ttlv_buf *b, int version, const struct kmip_locate_filter *f)
{
	static const struct kmip_locate_filter any = { 0 };

	if (!f)
		f = &any;
	if (f->max_items > INT32_MAX || f->offset_items > INT32_MAX ||
	    (f->name && !text_ok(f->name)) || (f->group && !text_ok(f->group)) ||
	    f->state < 0 || f->state > KMIP_STATE_DESTROYED_COMPROMISED)
		return fail(b, -EINVAL);
	/* Offset Items appeared in 1.3; an older server would not understand it. */
	if (f->offset_items && version < KMIP_VERSION(1, 3))
		return fail(b, -EOPNOTSUPP);
	single_begin(b, version, KMIP_OP_LOCATE);
	if (f->max_items)
		ttlv_put_int(b, KMIP_TAG_MAXIMUM_ITEMS, (int32_t)f->max_items);
	if (f->offset_items)
		ttlv_put_int(b, KMIP_TAG_OFFSET_ITEMS, (int32_t)f->offset_items);
	/* 2.x requires the Attributes structure, even empty; 1.x lists them bare. */
	kmip_attrs_begin(b, version, false);
	if (f->name)
		kmip_attr_name(b, version, f->name);
	if (f->object_type)
		kmip_attr_enum(b, version, KMIP_TAG_OBJECT_TYPE, f->object_type);
	if (f->state)
		kmip_attr_enum(b, version, KMIP_TAG_STATE, (uint32_t)f->state);
	if (f->group)
		kmip_attr_text(b, version, KMIP_TAG_OBJECT_GROUP, f->group);
	kmip_attrs_end(b, version, false);
	return single_end(b);
}

static bool compromise_reason(uint32_t reason)
{
	return reason == KMIP_REVOKE_KEY_COMPROMISE || reason == KMIP_REVOKE_CA_COMPROMISE;
}

int kmip_build_revoke(struct ttlv_buf *b, int version, const char *uid,
		      const struct kmip_revoke *rv)
{
	int64_t when;

	if (!rv || rv->reason < KMIP_REVOKE_UNSPECIFIED ||
	    rv->reason > KMIP_REVOKE_PRIVILEGE_WITHDRAWN ||
	    (rv->message && !text_ok(rv->message)))
		return fail(b, -EINVAL);
	single_begin(b, version, KMIP_OP_REVOKE);
	put_uid(b, uid);
	/* The structure is the same in 1.x and 2.x. */
	ttlv_begin(b, KMIP_TAG_REVOCATION_REASON);
	ttlv_put_enum(b, KMIP_TAG_REVOCATION_REASON_CODE, rv->reason);
	if (rv->message)
		ttlv_put_str(b, KMIP_TAG_REVOCATION_MESSAGE, rv->message);
	ttlv_end(b);
	/* SHOULD for the compromise reasons, SHALL NOT for the others. */
	if (compromise_reason(rv->reason)) {
		when = rv->compromise_date ? rv->compromise_date : (int64_t)time(NULL);
		ttlv_put_datetime(b, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, when);
	}
	return single_end(b);
}

static int build_crypt(struct ttlv_buf *b, int version, uint32_t op, const char *uid,
		       const struct kmip_crypt_params *p, const uint8_t *data, size_t len)
{
	static const struct kmip_crypt_params dflt = { 0 };
	bool gcm;

	if (!p)
		p = &dflt;
	gcm = p->mode == KMIP_BCM_GCM;
	if (!data || !len || p->iv_len > KMIP_IV_MAX)
		return fail(b, -EINVAL);
	if (gcm && (p->tag_len < 4 || p->tag_len > KMIP_AE_TAG_MAX ||
		    p->aad_len > KMIP_AE_AAD_MAX || (p->aad_len && !p->aad)))
		return fail(b, -EINVAL);
	if (!gcm && (p->tag_len || p->aad))
		return fail(b, -EINVAL);	/* tag and AAD mean GCM: never drop them silently */
	/* The tag and the additional data exist from KMIP 1.4 on. */
	if (gcm && version < KMIP_VERSION(1, 4))
		return fail(b, -EOPNOTSUPP);
	single_begin(b, version, op);
	put_uid(b, uid);
	/* Spec order inside: Block Cipher Mode, Padding Method, ..., Algorithm, ..., Tag Length. */
	ttlv_begin(b, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
	ttlv_put_enum(b, KMIP_TAG_BLOCK_CIPHER_MODE, p->mode ? p->mode : KMIP_BCM_CBC);
	if (!gcm || p->padding)	/* GCM pads nothing */
		ttlv_put_enum(b, KMIP_TAG_PADDING_METHOD, p->padding ? p->padding : KMIP_PAD_PKCS5);
	/* PyKMIP takes the algorithm from here, not from the key. */
	ttlv_put_enum(b, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM,
		      p->algorithm ? p->algorithm : KMIP_ALG_AES);
	if (gcm)
		ttlv_put_int(b, KMIP_TAG_TAG_LENGTH, (int32_t)p->tag_len);
	ttlv_end(b);
	ttlv_put_bytes(b, KMIP_TAG_DATA, data, len);
	if (p->iv_len)
		ttlv_put_bytes(b, KMIP_TAG_IV_COUNTER_NONCE, p->iv, p->iv_len);
	/* Payload order: ..., Authenticated Encryption Additional Data, Authenticated Encryption Tag. */
	if (gcm && p->aad_len)
		ttlv_put_bytes(b, KMIP_TAG_AE_ADDITIONAL_DATA, p->aad, p->aad_len);
	if (gcm && op == KMIP_OP_DECRYPT)
		ttlv_put_bytes(b, KMIP_TAG_AE_TAG, p->tag, p->tag_len);
	return single_end(b);
}

int kmip_build_encrypt(struct ttlv_buf *b, int version, const char *uid,
		       const struct kmip_crypt_params *p, const uint8_t *data, size_t len)
{
	return build_crypt(b, version, KMIP_OP_ENCRYPT, uid, p, data, len);
}

int kmip_build_decrypt(struct ttlv_buf *b, int version, const char *uid,
		       const struct kmip_crypt_params *p, const uint8_t *data, size_t len)
{
	return build_crypt(b, version, KMIP_OP_DECRYPT, uid, p, data, len);
}

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

/* ----------------------------------------------------------- operations */

/* A single-item call in flight: its request, and the reply it got. */
struct call {
	struct ttlv_buf b;
	struct kmip_reply reply;
	struct kmip_resp_item item;
};

static int call_begin(struct kmip_client *c, struct call *k)
{
	memset(k, 0, sizeof(*k));
	ttlv_buf_init(&k->b, c->max_message);
	kmip_result_reset(c);
	return kmip_negotiate(c);
}

/* Send the built request; 0 only for a success answer. */
static int call_send(struct kmip_client *c, struct call *k, uint32_t op, bool idempotent)
{
	int r = kmip_exchange(c, &k->b, &op, 1, idempotent, &k->reply, &k->item);

	if (r < 0)
		return r;
	return k->item.err;
}

static void call_end(struct call *k)
{
	kmip_reply_free(&k->reply);
	ttlv_buf_free(&k->b);	/* wipes: requests may carry key material */
}

/* Send, for an operation that reads the answer: it must carry a payload. */
static int call_read(struct kmip_client *c, struct call *k, uint32_t op, bool idempotent,
		     const struct ttlv_item **p)
{
	int r = call_send(c, k, op, idempotent);

	if (r < 0)
		return r;
	if (!k->item.has_payload)
		return kmip_bad(&c->why, -EBADMSG, NULL, "the %s answer has no Response Payload",
				kmip_operation_name(op));
	*p = &k->item.payload;
	return 0;
}

/* The answer's Unique Identifier, if any, must be the one we asked about. */
static int echo_ok(struct kmip_why *w, const struct ttlv_item *payload, const char *uid)
{
	struct ttlv_item u;

	if (ttlv_find(payload, KMIP_TAG_UNIQUE_IDENTIFIER, &u) < 0 || ttlv_text_eq(&u, uid))
		return 0;
	if (u.type != TTLV_TEXT)
		return kmip_need_type(w, &u, TTLV_TEXT);
	return kmip_bad(w, -EBADMSG, &u, "the answer is about '%.*s', the request about '%s'",
			u.len > 64 ? 64 : (int)u.len, (const char *)u.value, uid);
}

static int payload_uid(const struct ttlv_item *payload, char uid[KMIP_UID_SIZE],
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

int kmip_query(struct kmip_client *c, struct kmip_server_info *out)
{
	const struct ttlv_item *p;
	struct ttlv_iter it, sit;
	struct ttlv_item ch, s;
	struct call k;
	uint32_t v;
	size_t used;
	int r;

	memset(out, 0, sizeof(*out));
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_query(&k.b, c->version);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_QUERY, true, &p);
	if (r < 0)
		goto out;
	ttlv_iter_init(&it, p);
	while (ttlv_iter_next(&it, &ch)) {
		switch (ch.tag) {
		case KMIP_TAG_OPERATION:
			r = kmip_need_type(&c->why, &ch, TTLV_ENUM);
			if (r < 0)
				goto out;
			ttlv_get_enum(&ch, &v);
			if (out->n_ops < KMIP_QUERY_MAX)
				out->ops[out->n_ops] = v;
			out->n_ops++;
			break;
		case KMIP_TAG_OBJECT_TYPE:
			r = kmip_need_type(&c->why, &ch, TTLV_ENUM);
			if (r < 0)
				goto out;
			ttlv_get_enum(&ch, &v);
			if (out->n_objects < KMIP_QUERY_MAX)
				out->objects[out->n_objects] = v;
			out->n_objects++;
			break;
		case KMIP_TAG_VENDOR_IDENTIFICATION:
			r = kmip_need_type(&c->why, &ch, TTLV_TEXT);
			if (r < 0)
				goto out;
			kmip_sanitize(out->vendor, sizeof(out->vendor),
				      (const char *)ch.value, ch.len);
			break;
		case KMIP_TAG_SERVER_INFORMATION:
			/* Vendor-defined content: keep its text strings, one level deep. */
			r = kmip_need_type(&c->why, &ch, TTLV_STRUCTURE);
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
	call_end(&k);
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

/* Create or Register: send, read the new identifier, activate if asked. */
static int new_object(struct kmip_client *c, struct call *k, uint32_t op,
		      const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	const struct ttlv_item *p;
	int r;

	r = call_read(c, k, op, false, &p);
	if (r < 0)
		goto out;
	r = payload_uid(p, uid, &c->why);
	if (r < 0)
		goto out;
	/*
	 * A separate Activate, not an Activation Date attribute: PyKMIP does
	 * not support setting that attribute, and batching both would need
	 * the ID placeholder.
	 */
	if (a && a->activate)
		r = kmip_activate(c, uid);
out:
	return r;
}

int kmip_create(struct kmip_client *c, unsigned bits, const struct kmip_new_object *a,
		char uid[KMIP_UID_SIZE])
{
	struct call k;
	int r;

	uid[0] = '\0';
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_create(&k.b, c->version, bits, a);
	if (r < 0)
		goto out;
	r = new_object(c, &k, KMIP_OP_CREATE, a, uid);
out:
	call_end(&k);
	return r;
}

/* Register Secret Data, or (key) an AES Symmetric Key. */
static int register_object(struct kmip_client *c, bool key, const uint8_t *v, size_t len,
			   const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	struct call k;
	int r;

	uid[0] = '\0';
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	if (key)
		r = kmip_build_register_key(&k.b, c->version, v, len, a);
	else
		r = kmip_build_register_secret(&k.b, c->version, v, len, a);
	if (r < 0)
		goto out;
	r = new_object(c, &k, KMIP_OP_REGISTER, a, uid);
out:
	call_end(&k);
	return r;
}

int kmip_register_secret(struct kmip_client *c, const uint8_t *secret, size_t len,
			 const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	return register_object(c, false, secret, len, a, uid);
}

int kmip_register_key(struct kmip_client *c, const uint8_t *key, size_t len,
		      const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	return register_object(c, true, key, len, a, uid);
}

/* Operations whose answer is only the Unique Identifier. */
static int uid_op(struct kmip_client *c, uint32_t op, const char *uid, const struct kmip_revoke *rv)
{
	struct call k;
	int r;

	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	if (op == KMIP_OP_REVOKE)
		r = kmip_build_revoke(&k.b, c->version, uid, rv);
	else
		r = build_uid_only(&k.b, c->version, op, uid);
	if (r < 0)
		goto out;
	r = call_send(c, &k, op, false);
	if (r < 0)
		goto out;
	/* Some servers answer with an empty payload: the UID is ours anyway. */
	if (k.item.has_payload)
		r = echo_ok(&c->why, &k.item.payload, uid);
out:
	call_end(&k);
	return r;
}

int kmip_activate(struct kmip_client *c, const char *uid)
{
	return uid_op(c, KMIP_OP_ACTIVATE, uid, NULL);
}

int kmip_destroy(struct kmip_client *c, const char *uid)
{
	return uid_op(c, KMIP_OP_DESTROY, uid, NULL);
}

int kmip_revoke(struct kmip_client *c, const char *uid, const struct kmip_revoke *rv)
{
	return uid_op(c, KMIP_OP_REVOKE, uid, rv);
}

int kmip_modify_group(struct kmip_client *c, const char *uid, const char *from, const char *to)
{
	struct kmip_attrs a;
	struct call k;
	int32_t index = 0;
	unsigned i;
	int r;

	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	if (!kmip_v2(c->version)) {
		/* 1.x names a value by index: its position among those the server lists. */
		r = kmip_get_attributes(c, uid, KMIP_ATTR_OBJECT_GROUP, &a);
		if (r < 0)
			goto out;
		for (i = 0; i < a.n_groups && strcmp(a.groups[i], from); i++)
			;
		if (i == a.n_groups)
			goto out;	/* not (or no longer) there */
		index = (int32_t)i;
	}
	r = kmip_build_modify_group(&k.b, c->version, uid, from, to, index);
	if (r < 0)
		goto out;
	r = call_send(c, &k, KMIP_OP_MODIFY_ATTRIBUTE, false);
	if (r < 0)
		goto out;
	if (k.item.has_payload)
		r = echo_ok(&c->why, &k.item.payload, uid);
out:
	call_end(&k);
	return r;
}

/* Check a wrapped answer against the request, then unwrap it if we can. */
static int get_unwrap(const struct kmip_key_wrap *w, struct kmip_object *o, struct kmip_why *why)
{
	const char *mode = ttlv_enum_name(KMIP_TAG_BLOCK_CIPHER_MODE, wrap_mode(w));
	const char *got = ttlv_enum_name(KMIP_TAG_BLOCK_CIPHER_MODE, o->wrap_mode);
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int r = -EPROTO;

	/* A key sent in the clear when we asked for it wrapped is refused. */
	if (!o->wrapped) {
		kmip_bad(why, r, NULL, "the server sent the key unwrapped; it was asked to wrap "
			 "it with key '%s'", w->kek_uid);
		goto out;
	}
	if (o->wrap_mode && o->wrap_mode != wrap_mode(w)) {
		kmip_bad(why, r, NULL, "the server wrapped the key with %s; %s was asked",
			 got ? got : "an unknown mode", mode ? mode : "another mode");
		goto out;
	}
	if (o->wrap_kek_uid[0] && strcmp(o->wrap_kek_uid, w->kek_uid) != 0) {
		kmip_bad(why, r, NULL, "the server wrapped the key with key '%s'; '%s' was asked",
			 o->wrap_kek_uid, w->kek_uid);
		goto out;
	}
	r = 0;
	if (!w->kek)
		goto out;
	r = kmip_unwrap(wrap_mode(w), w->kek, w->kek_len, o->material, o->material_len,
			&plain, &plain_len);
	if (r == -EBADMSG)	/* the wrong KEK, not a garbled response: no retry mends it */
		r = kmip_bad(why, -EKEKMISMATCH, NULL, "the key does not unwrap with the local "
			     "copy of key '%s' (integrity check failed)", w->kek_uid);
	if (r < 0)
		goto out;
	secmem_free(o->material);
	o->material = plain;
	o->material_len = plain_len;
	o->wrapped = false;
out:
	return r;
}

int kmip_get(struct kmip_client *c, const char *uid, const struct kmip_key_wrap *wrap,
	     struct kmip_object *out)
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	memset(out, 0, sizeof(*out));
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_get(&k.b, c->version, uid, wrap);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_GET, true, &p);
	if (r < 0)
		goto out;
	r = kmip_parse_get_why(p, out, &c->why);
	if (r < 0)
		goto out;
	if (strcmp(out->uid, uid) != 0) {
		r = kmip_bad(&c->why, -EBADMSG, NULL, "the Get answer is about key '%.64s', the "
			     "request about '%s'", out->uid, uid);
		goto out;
	}
	r = wrap ? get_unwrap(wrap, out, &c->why) : 0;
out:
	if (r < 0)
		kmip_object_clear(out);
	call_end(&k);
	return r;
}

int kmip_get_attributes(struct kmip_client *c, const char *uid, uint32_t attrs,
			struct kmip_attrs *out)
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	memset(out, 0, sizeof(*out));
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_get_attributes(&k.b, c->version, uid, attrs);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_GET_ATTRIBUTES, true, &p);
	if (r < 0)
		goto out;
	r = kmip_parse_get_attributes_why(p, out, &c->why);
	if (r < 0)
		goto out;
	if (out->uid[0] && strcmp(out->uid, uid))
		r = kmip_bad(&c->why, -EBADMSG, NULL, "the Get Attributes answer is about key "
			     "'%.64s', the request about '%s'", out->uid, uid);
out:
	call_end(&k);
	return r;
}

/* One message of at most KMIP_BATCH_MAX Get Attributes (State) items. */
static int get_states_chunk(struct kmip_client *c, const char *const *uids, size_t n,
			    int *states, int *errs, uint32_t *ops,
			    struct kmip_resp_item *items, struct kmip_attrs *a)
{
	struct kmip_reply reply = { 0 };
	struct ttlv_buf b;
	size_t i;
	int r;

	ttlv_buf_init(&b, c->max_message);
	r = kmip_build_get_states(&b, c->version, uids, n);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++)
		ops[i] = KMIP_OP_GET_ATTRIBUTES;
	r = kmip_exchange(c, &b, ops, (unsigned)n, true, &reply, items);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		states[i] = 0;
		errs[i] = items[i].err;
		if (errs[i] < 0)
			continue;
		if (!items[i].has_payload)
			errs[i] = kmip_bad(&c->why, -EBADMSG, NULL, "the answer about key '%s' has "
					   "no Response Payload", uids[i]);
		else if (kmip_parse_get_attributes_why(&items[i].payload, a, &c->why) < 0)
			errs[i] = -EBADMSG;
		else if (a->uid[0] && strcmp(a->uid, uids[i]) != 0)
			errs[i] = kmip_bad(&c->why, -EBADMSG, NULL, "the answer for key '%s' is about "
					   "'%.64s'", uids[i], a->uid);
		else if (!(a->present & KMIP_ATTR_STATE))
			errs[i] = -ENODATA;
		else
			states[i] = a->state;
	}
out:
	kmip_reply_free(&reply);
	ttlv_buf_free(&b);
	return r;
}

int kmip_get_states(struct kmip_client *c, const char *const *uids, size_t n,
		    int *states, int *errs)
{
	struct kmip_resp_item *items = NULL;
	struct kmip_attrs *a = NULL;
	uint32_t *ops = NULL;
	size_t done, chunk;
	int r;

	kmip_result_reset(c);
	r = -EINVAL;
	if (!uids || !states || !errs || n == 0)
		goto out;
	r = kmip_negotiate(c);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	items = calloc(KMIP_BATCH_MAX, sizeof(*items));
	ops = calloc(KMIP_BATCH_MAX, sizeof(*ops));
	a = malloc(sizeof(*a));
	if (!items || !ops || !a)
		goto out;
	for (done = 0; done < n; done += chunk) {
		chunk = n - done < KMIP_BATCH_MAX ? n - done : KMIP_BATCH_MAX;
		r = get_states_chunk(c, uids + done, chunk, states + done, errs + done,
				     ops, items, a);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(items);
	free(ops);
	free(a);
	return r;
}

int kmip_locate(struct kmip_client *c, const struct kmip_locate_filter *f,
		struct kmip_uid_list *out)
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	memset(out, 0, sizeof(*out));
	out->located_items = -1;
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_locate(&k.b, c->version, f);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_LOCATE, true, &p);
	if (r < 0)
		goto out;
	r = kmip_parse_locate_why(p, out, &c->why);
	if (r < 0)
		goto out;
	/* A server that ignored Maximum Items: keep what was asked for. */
	if (f && f->max_items && out->n > f->max_items)
		out->n = f->max_items;
out:
	call_end(&k);
	return r;
}

static bool has_text(char (*vals)[KMIP_TEXT_SIZE], unsigned n, const char *s)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(vals[i], s) == 0)
			return true;
	return false;
}

int kmip_locate_verify(struct kmip_client *c, const char *uid, const struct kmip_locate_filter *f)
{
	struct kmip_attrs *a;
	int r;

	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = kmip_get_attributes(c, uid, KMIP_ATTR_NAME | KMIP_ATTR_OBJECT_TYPE |
				KMIP_ATTR_STATE | KMIP_ATTR_OBJECT_GROUP, a);
	if (r < 0)
		goto out;
	/* An attribute the server did not return does not match (PyKMIP says it does). */
	r = 0;
	if (f->name && !has_text(a->names, a->n_names, f->name))
		goto out;
	if (f->object_type && (!(a->present & KMIP_ATTR_OBJECT_TYPE) ||
			       a->object_type != f->object_type))
		goto out;
	if (f->state && (!(a->present & KMIP_ATTR_STATE) || a->state != f->state))
		goto out;
	if (f->group && !has_text(a->groups, a->n_groups, f->group))
		goto out;
	r = 1;
out:
	free(a);
	return r;
}

static int crypt_op(struct kmip_client *c, uint32_t op, const char *uid,
		    struct kmip_crypt_params *out_p, const struct kmip_crypt_params *p,
		    const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	const struct ttlv_item *pl;
	struct ttlv_item iv, tag;
	const uint8_t *data;
	size_t len;
	struct call k;
	int r;

	*out = NULL;
	*out_len = 0;
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = build_crypt(&k.b, c->version, op, uid, p, in, in_len);
	if (r < 0)
		goto out;
	r = call_read(c, &k, op, true, &pl);
	if (r < 0)
		goto out;
	r = echo_ok(&c->why, pl, uid);
	if (r < 0)
		goto out;
	if (ttlv_find_bytes(pl, KMIP_TAG_DATA, &data, &len) < 0 || len == 0) {
		r = kmip_bad(&c->why, -EBADMSG, pl, "no Data, or empty Data, in the response payload");
		goto out;
	}
	/* The IV the server chose, when we let it choose. */
	if (out_p && !out_p->iv_len && ttlv_find(pl, KMIP_TAG_IV_COUNTER_NONCE, &iv) == 0) {
		if (iv.type != TTLV_BYTES || iv.len == 0 || iv.len > KMIP_IV_MAX) {
			r = kmip_bad(&c->why, -EBADMSG, &iv, "an IV/Counter/Nonce of 1 to %u bytes "
				     "expected", (unsigned)KMIP_IV_MAX);
			goto out;
		}
		memcpy(out_p->iv, iv.value, iv.len);
		out_p->iv_len = iv.len;
	}
	/* GCM: the tag, of the length asked for; a server that sends none does not do GCM. */
	if (out_p && out_p->mode == KMIP_BCM_GCM) {
		if (ttlv_find(pl, KMIP_TAG_AE_TAG, &tag) < 0) {
			r = kmip_bad(&c->why, -EOPNOTSUPP, pl, "no Authenticated Encryption Tag: "
				     "the server does not do AES-GCM");
			goto out;
		}
		if (tag.type != TTLV_BYTES || tag.len != out_p->tag_len) {
			r = kmip_bad(&c->why, -EBADMSG, &tag, "an Authenticated Encryption Tag of "
				     "%zu bytes expected", out_p->tag_len);
			goto out;
		}
		memcpy(out_p->tag, tag.value, tag.len);
	}
	r = -ENOMEM;
	*out = secmem_dup(data, len);
	if (!*out)
		goto out;
	*out_len = len;
	r = 0;
out:
	call_end(&k);
	return r;
}

int kmip_encrypt(struct kmip_client *c, const char *uid, struct kmip_crypt_params *p,
		 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	return crypt_op(c, KMIP_OP_ENCRYPT, uid, p, p, in, in_len, out, out_len);
}

int kmip_decrypt(struct kmip_client *c, const char *uid, const struct kmip_crypt_params *p,
		 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	return crypt_op(c, KMIP_OP_DECRYPT, uid, NULL, p, in, in_len, out, out_len);
}

int kmip_rekey(struct kmip_client *c, const char *uid, char new_uid[KMIP_UID_SIZE])
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	new_uid[0] = '\0';
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_rekey(&k.b, c->version, uid);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_REKEY, false, &p);
	if (r < 0)
		goto out;
	r = payload_uid(p, new_uid, &c->why);
out:
	call_end(&k);
	return r;
}
