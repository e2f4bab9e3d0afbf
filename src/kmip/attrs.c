// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Attribute encodings.
 *
 * KMIP 1.x names attributes by text: Attribute {Attribute Name "State",
 * Attribute Value ...}, grouped in a Template-Attribute for Create and
 * Register and listed bare in Locate; Get Attributes asks by Attribute
 * Name.  KMIP 2.x uses each attribute's own tag inside an Attributes
 * structure, and Get Attributes asks by Attribute Reference, an
 * Enumeration whose value is the tag (State = 0x0042008D).
 *
 * Responses are read in both forms whatever the version, because
 * servers mix them (Cosmian sent 1.2 attributes to a 1.0 client), and
 * attributes we do not know are ignored.  The Get Attributes payload
 * around them is parse.c's.
 */
#include <errno.h>

#include "kmip/kmip_internal.h"

struct attr_def {
	uint32_t bit;
	uint32_t tag;
	const char *name;	/* 1.x Attribute Name */
};

/* Request order is table order. */
static const struct attr_def attr_defs[] = {
	{ KMIP_ATTR_UNIQUE_IDENTIFIER, KMIP_TAG_UNIQUE_IDENTIFIER, "Unique Identifier" },
	{ KMIP_ATTR_NAME, KMIP_TAG_NAME, "Name" },
	{ KMIP_ATTR_OBJECT_TYPE, KMIP_TAG_OBJECT_TYPE, "Object Type" },
	{ KMIP_ATTR_CRYPTO_ALGORITHM, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm" },
	{ KMIP_ATTR_CRYPTO_LENGTH, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length" },
	{ KMIP_ATTR_USAGE_MASK, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask" },
	{ KMIP_ATTR_STATE, KMIP_TAG_STATE, "State" },
	{ KMIP_ATTR_OBJECT_GROUP, KMIP_TAG_OBJECT_GROUP, "Object Group" },
	{ KMIP_ATTR_INITIAL_DATE, KMIP_TAG_INITIAL_DATE, "Initial Date" },
	{ KMIP_ATTR_ACTIVATION_DATE, KMIP_TAG_ACTIVATION_DATE, "Activation Date" },
	{ KMIP_ATTR_DEACTIVATION_DATE, KMIP_TAG_DEACTIVATION_DATE, "Deactivation Date" },
	{ KMIP_ATTR_COMPROMISE_DATE, KMIP_TAG_COMPROMISE_DATE, "Compromise Date" },
	{ KMIP_ATTR_COMPROMISE_OCCURRENCE_DATE, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE,
	  "Compromise Occurrence Date" },
	{ KMIP_ATTR_DESTROY_DATE, KMIP_TAG_DESTROY_DATE, "Destroy Date" },
	{ KMIP_ATTR_LAST_CHANGE_DATE, KMIP_TAG_LAST_CHANGE_DATE, "Last Change Date" },
	{ KMIP_ATTR_LINK, KMIP_TAG_LINK, "Link" },
};

#define N_ATTR_DEFS (sizeof(attr_defs) / sizeof(attr_defs[0]))

static const struct attr_def *def_by_tag(uint32_t tag)
{
	size_t i;

	for (i = 0; i < N_ATTR_DEFS; i++)
		if (attr_defs[i].tag == tag)
			return &attr_defs[i];
	return NULL;
}

static const struct attr_def *def_by_name(const struct ttlv_item *name)
{
	size_t i;

	for (i = 0; i < N_ATTR_DEFS; i++)
		if (ttlv_text_eq(name, attr_defs[i].name))
			return &attr_defs[i];
	return NULL;
}

bool kmip_v2(int version)
{
	return version >= KMIP_VERSION(2, 0);
}

/* ------------------------------------------------------------- encoding */

int kmip_attrs_begin(struct ttlv_buf *b, int version, bool template)
{
	if (kmip_v2(version))
		return ttlv_begin(b, KMIP_TAG_ATTRIBUTES);
	if (template)
		return ttlv_begin(b, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	return b->err;
}

int kmip_attrs_end(struct ttlv_buf *b, int version, bool template)
{
	if (kmip_v2(version) || template)
		return ttlv_end(b);
	return b->err;
}

/*
 * Open one attribute and return the tag its value must carry: 1.x wraps it
 * in Attribute {Attribute Name, [Attribute Index,] Attribute Value} (index
 * < 0: none, the first value of the attribute);
 * 2.x uses the tag itself.
 */
static uint32_t attr_open_at(struct ttlv_buf *b, int version, uint32_t tag, int32_t index)
{
	const struct attr_def *d = def_by_tag(tag);

	if (kmip_v2(version))
		return tag;
	if (!d) {
		kmip_buf_fail(b, -EINVAL);
		return tag;
	}
	ttlv_begin(b, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(b, KMIP_TAG_ATTRIBUTE_NAME, d->name);
	if (index >= 0)
		ttlv_put_int(b, KMIP_TAG_ATTRIBUTE_INDEX, index);
	return KMIP_TAG_ATTRIBUTE_VALUE;
}

static uint32_t attr_open(struct ttlv_buf *b, int version, uint32_t tag)
{
	return attr_open_at(b, version, tag, -1);
}

static int attr_close(struct ttlv_buf *b, int version)
{
	if (kmip_v2(version))
		return b->err;
	return ttlv_end(b);
}

int kmip_attr_enum(struct ttlv_buf *b, int version, uint32_t tag, uint32_t v)
{
	ttlv_put_enum(b, attr_open(b, version, tag), v);
	return attr_close(b, version);
}

int kmip_attr_int(struct ttlv_buf *b, int version, uint32_t tag, int32_t v)
{
	ttlv_put_int(b, attr_open(b, version, tag), v);
	return attr_close(b, version);
}

int kmip_attr_text_at(struct ttlv_buf *b, int version, uint32_t tag, const char *s,
		      int32_t index)
{
	ttlv_put_str(b, attr_open_at(b, version, tag, index), s);
	return attr_close(b, version);
}

int kmip_attr_text(struct ttlv_buf *b, int version, uint32_t tag, const char *s)
{
	return kmip_attr_text_at(b, version, tag, s, -1);
}

int kmip_attr_name(struct ttlv_buf *b, int version, const char *name)
{
	ttlv_begin(b, attr_open(b, version, KMIP_TAG_NAME));
	ttlv_put_str(b, KMIP_TAG_NAME_VALUE, name);
	ttlv_put_enum(b, KMIP_TAG_NAME_TYPE, KMIP_NAME_UNINTERPRETED_TEXT);
	ttlv_end(b);
	return attr_close(b, version);
}

int kmip_attr_link(struct ttlv_buf *b, int version, uint32_t link_type, const char *linked_uid)
{
	ttlv_begin(b, attr_open(b, version, KMIP_TAG_LINK));
	ttlv_put_enum(b, KMIP_TAG_LINK_TYPE, link_type);
	ttlv_put_str(b, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, linked_uid);
	ttlv_end(b);
	return attr_close(b, version);
}

/* Attributes every object of ours has: an answer asking for one of them is never empty. */
#define ATTRS_ALWAYS (KMIP_ATTR_UNIQUE_IDENTIFIER | KMIP_ATTR_OBJECT_TYPE | KMIP_ATTR_STATE)

int kmip_attr_refs(struct ttlv_buf *b, int version, uint32_t attrs)
{
	size_t i;

	if (attrs & ~(uint32_t)KMIP_ATTR_ALL)
		return kmip_buf_fail(b, -EINVAL);
	/*
	 * Asked only for attributes an object may lack (Name, Object Group,
	 * Link), the answer may hold none, and PyKMIP 0.10 cannot write a
	 * KMIP 2.0 Get Attributes answer without an attribute: it sends
	 * nothing and drops the connection, and the client waits out its
	 * timeout.  Object Type, which every object has, keeps it from empty.
	 * (0 asks for every attribute: nothing to add.)
	 */
	if (attrs && !(attrs & ATTRS_ALWAYS))
		attrs |= KMIP_ATTR_OBJECT_TYPE;
	for (i = 0; i < N_ATTR_DEFS; i++) {
		if (!(attrs & attr_defs[i].bit))
			continue;
		if (kmip_v2(version))
			ttlv_put_enum(b, KMIP_TAG_ATTRIBUTE_REFERENCE, attr_defs[i].tag);
		else
			ttlv_put_str(b, KMIP_TAG_ATTRIBUTE_NAME, attr_defs[i].name);
	}
	return b->err;
}

/* -------------------------------------------------------------- parsing */

static int get_date(const struct ttlv_item *v, int64_t *out, struct kmip_why *w)
{
	int64_t us;

	if (v->type == TTLV_DATETIME)
		return ttlv_get_datetime(v, out);
	if (ttlv_get_datetime_ext(v, &us) < 0)	/* 2.x may send microseconds */
		return kmip_need_type(w, v, TTLV_DATETIME);
	*out = us / 1000000;
	return 0;
}

/* Keep a text value of a multi-valued attribute; overlong ones are not kept. */
static void keep_text(const struct ttlv_item *v, char (*vals)[KMIP_TEXT_SIZE], unsigned *n)
{
	if (*n < KMIP_ATTR_VALUES_MAX && kmip_copy_text(v, vals[*n], KMIP_TEXT_SIZE, NULL) == 0)
		(*n)++;
}

/*
 * Link {Link Type, Linked Object Identifier}: the first link of each type
 * Re-key sets is kept; links of other types are skipped unread.
 */
static int set_link(struct kmip_attrs *out, const struct ttlv_item *v, struct kmip_why *w)
{
	struct ttlv_item t, id;
	uint32_t type;
	char *dst;
	int r;

	r = kmip_need_type(w, v, TTLV_STRUCTURE);
	if (r == 0)
		r = kmip_need(w, v, KMIP_TAG_LINK_TYPE, TTLV_ENUM, &t);
	if (r < 0)
		return r;
	ttlv_get_enum(&t, &type);
	if (type == KMIP_LINK_REPLACEMENT_OBJECT)
		dst = out->replacement;
	else if (type == KMIP_LINK_REPLACED_OBJECT)
		dst = out->replaced;
	else
		return 0;
	if (dst[0])
		return 0;	/* the spec allows one of each; keep the first */
	r = kmip_need(w, v, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, TTLV_TEXT, &id);
	if (r == 0 && id.len == 0)
		r = kmip_bad(w, -EBADMSG, &id, "empty");
	if (r == 0)
		r = kmip_copy_text(&id, dst, KMIP_UID_SIZE, w);
	return r;
}

/* The value v of attribute d (v's tag is d's, or Attribute Value in 1.x). */
static int set_attr(struct kmip_attrs *out, const struct attr_def *d, const struct ttlv_item *v,
		    struct kmip_why *w)
{
	struct ttlv_item nv;
	int32_t i;
	uint32_t e;
	int r;

	switch (d->tag) {
	case KMIP_TAG_UNIQUE_IDENTIFIER:
		r = kmip_copy_text(v, out->attr_uid, sizeof(out->attr_uid), w);
		break;
	case KMIP_TAG_NAME:
		r = kmip_need_type(w, v, TTLV_STRUCTURE);
		if (r == 0)
			r = kmip_need(w, v, KMIP_TAG_NAME_VALUE, TTLV_TEXT, &nv);
		if (r == 0)
			keep_text(&nv, out->names, &out->n_names);
		break;
	case KMIP_TAG_OBJECT_GROUP:
		r = kmip_need_type(w, v, TTLV_TEXT);
		if (r == 0)
			keep_text(v, out->groups, &out->n_groups);
		break;
	case KMIP_TAG_OBJECT_TYPE:
		r = kmip_need_type(w, v, TTLV_ENUM);
		ttlv_get_enum(v, &out->object_type);
		break;
	case KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM:
		r = kmip_need_type(w, v, TTLV_ENUM);
		ttlv_get_enum(v, &out->algorithm);
		break;
	case KMIP_TAG_CRYPTOGRAPHIC_LENGTH:
		r = kmip_need_type(w, v, TTLV_INTEGER);
		ttlv_get_int(v, &out->length);
		break;
	case KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK:
		r = kmip_need_type(w, v, TTLV_INTEGER);
		if (r == 0 && ttlv_get_int(v, &i) == 0)
			out->usage_mask = (uint32_t)i;
		break;
	case KMIP_TAG_STATE:
		r = kmip_need_type(w, v, TTLV_ENUM);
		/* Out-of-range values stay distinguishable from every real state. */
		if (r == 0 && ttlv_get_enum(v, &e) == 0)
			out->state = e <= KMIP_STATE_DESTROYED_COMPROMISED ? (int)e : -1;
		break;
	case KMIP_TAG_INITIAL_DATE:
		r = get_date(v, &out->initial_date, w);
		break;
	case KMIP_TAG_ACTIVATION_DATE:
		r = get_date(v, &out->activation_date, w);
		break;
	case KMIP_TAG_DEACTIVATION_DATE:
		r = get_date(v, &out->deactivation_date, w);
		break;
	case KMIP_TAG_COMPROMISE_DATE:
		r = get_date(v, &out->compromise_date, w);
		break;
	case KMIP_TAG_COMPROMISE_OCCURRENCE_DATE:
		r = get_date(v, &out->compromise_occurrence_date, w);
		break;
	case KMIP_TAG_DESTROY_DATE:
		r = get_date(v, &out->destroy_date, w);
		break;
	case KMIP_TAG_LAST_CHANGE_DATE:
		r = get_date(v, &out->last_change_date, w);
		break;
	case KMIP_TAG_LINK:
		r = set_link(out, v, w);
		break;
	default:
		r = 0;
		break;
	}
	if (r < 0)
		return r;
	out->present |= d->bit;
	return 0;
}

/* 1.x Attribute {Attribute Name, [Attribute Index], Attribute Value}, or a 2.x custom one. */
int kmip_attr_read(struct kmip_attrs *out, const struct ttlv_item *a, struct kmip_why *w)
{
	struct ttlv_item name, value, vendor;
	const struct attr_def *d;
	int r;

	r = kmip_need_type(w, a, TTLV_STRUCTURE);
	if (r == 0)
		r = kmip_need(w, a, KMIP_TAG_ATTRIBUTE_NAME, TTLV_TEXT, &name);
	if (r < 0)
		return r;
	/* 2.x vendor attributes carry a Vendor Identification: not ours. */
	if (ttlv_find(a, KMIP_TAG_VENDOR_IDENTIFICATION, &vendor) == 0)
		return 0;
	d = def_by_name(&name);
	if (!d)
		return 0;	/* unknown attribute: ignored */
	if (ttlv_find(a, KMIP_TAG_ATTRIBUTE_VALUE, &value) < 0)
		return kmip_bad(w, -EBADMSG, a, "no Attribute Value for %s", d->name);
	return set_attr(out, d, &value, w);
}

int kmip_attrs_read_v2(struct kmip_attrs *out, const struct ttlv_item *attrs,
		       struct kmip_why *w)
{
	const struct attr_def *d;
	struct ttlv_iter it;
	struct ttlv_item c;
	int r;

	r = kmip_need_type(w, attrs, TTLV_STRUCTURE);
	if (r < 0)
		return r;
	ttlv_iter_init(&it, attrs);
	while (ttlv_iter_next(&it, &c)) {
		if (c.tag == KMIP_TAG_ATTRIBUTE) {
			r = kmip_attr_read(out, &c, w);
		} else {
			d = def_by_tag(c.tag);
			r = d ? set_attr(out, d, &c, w) : 0;
		}
		if (r < 0)
			return r;
	}
	return 0;
}
