// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Request builders: one pure function per operation, from arguments to the
 * bytes of a request message (tested byte for byte).  No client, no I/O.
 *
 * Field order follows the specification tables exactly: PyKMIP, among
 * others, reads payloads in order and rejects anything out of place.
 * Every request names its object by an explicit Unique Identifier (Text
 * String): the ID placeholder is shared engine-wide on PyKMIP.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "kmip/kmip_internal.h"

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
		return kmip_buf_fail(b, -EINVAL);
	return ttlv_put_str(b, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
}

/* ------------------------------------------------------------- builders */

int kmip_build_discover_versions(struct ttlv_buf *b, int version, const int *offer, size_t n)
{
	size_t i;

	single_begin(b, version, KMIP_OP_DISCOVER_VERSIONS);
	for (i = 0; i < n; i++) {
		if (!kmip_version_supported(offer[i]))
			return kmip_buf_fail(b, -EINVAL);
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

/* Usage Mask, Name, Object Groups: the attributes every new object gets. */
static int put_common_attrs(struct ttlv_buf *b, int version, const struct kmip_new_object *a)
{
	size_t i;

	if (a && a->n_more_groups && (!a->group || !a->more_groups ||
				      a->n_more_groups >= KMIP_ATTR_VALUES_MAX))
		return kmip_buf_fail(b, -EINVAL);
	for (i = 0; a && i < a->n_more_groups; i++)
		if (!text_ok(a->more_groups[i]))
			return kmip_buf_fail(b, -EINVAL);
	/* Always a usage mask: Vault 1.12+ rejects Register without one. */
	kmip_attr_int(b, version, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)usage_mask(a));
	if (a && a->name) {
		if (!text_ok(a->name))
			return kmip_buf_fail(b, -EINVAL);
		kmip_attr_name(b, version, a->name);
	}
	if (a && a->group) {
		if (!text_ok(a->group))
			return kmip_buf_fail(b, -EINVAL);
		kmip_attr_text(b, version, KMIP_TAG_OBJECT_GROUP, a->group);
	}
	/*
	 * 1.x numbers the further values of a multi-valued attribute (PyKMIP
	 * refuses a second Object Group without an Attribute Index); 2.x
	 * simply repeats the attribute.
	 */
	for (i = 0; a && i < a->n_more_groups; i++)
		kmip_attr_text_at(b, version, KMIP_TAG_OBJECT_GROUP, a->more_groups[i],
				  kmip_v2(version) ? -1 : (int32_t)(i + 1));
	return b->err;
}

/* The key length for the algorithm: AES's three, others whole bytes we would accept back. */
static bool bits_ok(uint32_t algorithm, unsigned bits)
{
	if (algorithm == KMIP_ALG_AES)
		return bits == 128 || bits == 192 || bits == 256;
	return bits >= 8 && bits % 8 == 0 && bits <= 8 * KMIP_MATERIAL_MAX;
}

int kmip_build_create(struct ttlv_buf *b, int version, unsigned bits,
		      const struct kmip_new_object *a)
{
	uint32_t alg = a && a->algorithm ? a->algorithm : KMIP_ALG_AES;

	if (!bits_ok(alg, bits))
		return kmip_buf_fail(b, -EINVAL);
	single_begin(b, version, KMIP_OP_CREATE);
	ttlv_put_enum(b, KMIP_TAG_OBJECT_TYPE, KMIP_OBJ_SYMMETRIC_KEY);
	kmip_attrs_begin(b, version, true);
	kmip_attr_enum(b, version, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg);
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
		return kmip_buf_fail(b, -EINVAL);
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
		return kmip_buf_fail(b, -EINVAL);
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

int kmip_build_rekey(struct ttlv_buf *b, int version, const char *uid,
		     const struct kmip_rekey_args *a)
{
	if (a && a->name && !text_ok(a->name))
		return kmip_buf_fail(b, -EINVAL);
	single_begin(b, version, KMIP_OP_REKEY);
	put_uid(b, uid);
	/* Table order: Unique Identifier, Offset, Template-Attribute / Attributes. */
	if (a && a->offset_set)
		ttlv_put_interval(b, KMIP_TAG_OFFSET, a->offset);
	if (a && a->name) {
		kmip_attrs_begin(b, version, true);
		kmip_attr_name(b, version, a->name);
		kmip_attrs_end(b, version, true);
	}
	return single_end(b);
}

int kmip_build_add_link(struct ttlv_buf *b, int version, const char *uid, uint32_t link_type,
			const char *linked_uid)
{
	if (!uid_ok(linked_uid) || !link_type)
		return kmip_buf_fail(b, -EINVAL);
	single_begin(b, version, KMIP_OP_ADD_ATTRIBUTE);
	put_uid(b, uid);
	/* 2.x wraps the attribute, by its own tag, in New Attribute. */
	if (kmip_v2(version))
		ttlv_begin(b, KMIP_TAG_NEW_ATTRIBUTE);
	kmip_attr_link(b, version, link_type, linked_uid);
	if (kmip_v2(version))
		ttlv_end(b);
	return single_end(b);
}

int kmip_build_modify_group(struct ttlv_buf *b, int version, const char *uid,
			    const char *from, const char *to, int32_t index)
{
	if (!from || !text_ok(from) || !to || !text_ok(to) || index < 0)
		return kmip_buf_fail(b, -EINVAL);
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

/* Get's payload: the identifier and, if wrap, the Key Wrapping Specification. */
static int put_get(struct ttlv_buf *b, const char *uid, const struct kmip_key_wrap *wrap)
{
	put_uid(b, uid);
	/*
	 * No Key Format Type: PyKMIP refuses any format but the stored one,
	 * and the stored one is what we registered.
	 */
	if (wrap) {
		if (!uid_ok(wrap->kek_uid) ||
		    (kmip_wrap_mode(wrap) != KMIP_BCM_NIST_KEY_WRAP &&
		     kmip_wrap_mode(wrap) != KMIP_BCM_AES_KEY_WRAP_PADDING))
			return kmip_buf_fail(b, -EINVAL);
		ttlv_begin(b, KMIP_TAG_KEY_WRAPPING_SPECIFICATION);
		ttlv_put_enum(b, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAP_ENCRYPT);
		ttlv_begin(b, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_put_str(b, KMIP_TAG_UNIQUE_IDENTIFIER, wrap->kek_uid);
		ttlv_begin(b, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		ttlv_put_enum(b, KMIP_TAG_BLOCK_CIPHER_MODE, kmip_wrap_mode(wrap));
		ttlv_end(b);
		ttlv_end(b);
		/* The raw key bytes wrapped, not a TTLV-encoded Key Value. */
		ttlv_put_enum(b, KMIP_TAG_ENCODING_OPTION, KMIP_ENCODING_NONE);
		ttlv_end(b);
	}
	return b->err;
}

int kmip_build_get(struct ttlv_buf *b, int version, const char *uid,
		   const struct kmip_key_wrap *wrap)
{
	single_begin(b, version, KMIP_OP_GET);
	put_get(b, uid, wrap);
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
	return kmip_build_get_attrs_batch(b, version, uids, n, KMIP_ATTR_STATE);
}

int kmip_build_get_attrs_batch(struct ttlv_buf *b, int version, const char *const *uids, size_t n,
			       uint32_t attrs)
{
	size_t i;

	if (!uids || n == 0 || n > KMIP_BATCH_MAX)
		return kmip_buf_fail(b, -EINVAL);
	kmip_msg_begin(b, version, (unsigned)n);
	for (i = 0; i < n; i++) {
		kmip_msg_item_begin(b, KMIP_OP_GET_ATTRIBUTES, (unsigned)i, (unsigned)n);
		put_uid(b, uids[i]);
		kmip_attr_refs(b, version, attrs);
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
		return kmip_buf_fail(b, -EINVAL);
	/* Offset Items appeared in 1.3; an older server would not understand it. */
	if (f->offset_items && version < KMIP_VERSION(1, 3))
		return kmip_buf_fail(b, -EOPNOTSUPP);
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
		return kmip_buf_fail(b, -EINVAL);
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

/* Is an Encrypt/Decrypt with p of len bytes something we can send in version? */
static int crypt_ok(int version, const struct kmip_crypt_params *p, const uint8_t *data,
		    size_t len)
{
	bool gcm = p->mode == KMIP_BCM_GCM;

	if (!data || !len || p->iv_len > KMIP_IV_MAX)
		return -EINVAL;
	if (gcm && (p->tag_len < 4 || p->tag_len > KMIP_AE_TAG_MAX ||
		    p->aad_len > KMIP_AE_AAD_MAX || (p->aad_len && !p->aad)))
		return -EINVAL;
	if (!gcm && (p->tag_len || p->aad))
		return -EINVAL;	/* tag and AAD mean GCM: never drop them silently */
	/* The tag and the additional data exist from KMIP 1.4 on. */
	if (gcm && version < KMIP_VERSION(1, 4))
		return -EOPNOTSUPP;
	return 0;
}

/* Encrypt's or Decrypt's payload (crypt_ok() first). */
static int put_crypt(struct ttlv_buf *b, uint32_t op, const char *uid,
		     const struct kmip_crypt_params *p, const uint8_t *data, size_t len)
{
	bool gcm = p->mode == KMIP_BCM_GCM;

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
	return b->err;
}

static const struct kmip_crypt_params crypt_default = { 0 };

static int build_crypt(struct ttlv_buf *b, int version, uint32_t op, const char *uid,
		       const struct kmip_crypt_params *p, const uint8_t *data, size_t len)
{
	int r;

	if (!p)
		p = &crypt_default;
	r = crypt_ok(version, p, data, len);
	if (r < 0)
		return kmip_buf_fail(b, r);
	single_begin(b, version, op);
	put_crypt(b, op, uid, p, data, len);
	return single_end(b);
}

int kmip_build_fetch(struct ttlv_buf *b, int version, const char *uid, uint32_t attrs,
		     const struct kmip_key_wrap *wrap, const struct kmip_crypt_params *decrypt,
		     const uint8_t *in, size_t in_len)
{
	int r;

	if (decrypt && (r = crypt_ok(version, decrypt, in, in_len)) < 0)
		return kmip_buf_fail(b, r);
	kmip_msg_begin(b, version, 2);
	kmip_msg_item_begin(b, KMIP_OP_GET_ATTRIBUTES, 0, 2);
	put_uid(b, uid);
	kmip_attr_refs(b, version, attrs);
	kmip_msg_item_end(b);
	kmip_msg_item_begin(b, decrypt ? KMIP_OP_DECRYPT : KMIP_OP_GET, 1, 2);
	if (decrypt)
		put_crypt(b, KMIP_OP_DECRYPT, uid, decrypt, in, in_len);
	else
		put_get(b, uid, wrap);
	kmip_msg_item_end(b);
	return kmip_msg_end(b);
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

int kmip_build_fetch_many(struct ttlv_buf *b, int version, struct kmip_fetch *const *f, size_t n)
{
	size_t i;
	int r;

	if (n == 0 || n > KMIP_BATCH_MAX / 2)
		return kmip_buf_fail(b, -EINVAL);
	for (i = 0; i < n; i++)
		if (f[i]->decrypt && (r = crypt_ok(version, f[i]->decrypt, f[i]->in, f[i]->in_len)) < 0)
			return kmip_buf_fail(b, r);
	kmip_msg_begin(b, version, (unsigned)(2 * n));
	for (i = 0; i < n; i++) {
		kmip_msg_item_begin(b, KMIP_OP_GET_ATTRIBUTES, (unsigned)(2 * i), (unsigned)(2 * n));
		put_uid(b, f[i]->uid);
		kmip_attr_refs(b, version, f[i]->attrs_wanted ? f[i]->attrs_wanted : KMIP_ATTR_STATE);
		kmip_msg_item_end(b);
		kmip_msg_item_begin(b, f[i]->decrypt ? KMIP_OP_DECRYPT : KMIP_OP_GET,
				    (unsigned)(2 * i + 1), (unsigned)(2 * n));
		if (f[i]->decrypt)
			put_crypt(b, KMIP_OP_DECRYPT, f[i]->uid, f[i]->decrypt, f[i]->in, f[i]->in_len);
		else
			put_get(b, f[i]->uid, f[i]->wrap);
		kmip_msg_item_end(b);
	}
	return kmip_msg_end(b);
}
