/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Name lookups over the generated tables of names_table.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ttlv/names.h"
#include "ttlv/names_table.h"
#include "ttlv/ttlv.h"

/* Longest spelling the loose match looks at; longer input is not a name. */
#define LOOSE_MAX 128

/* ------------------------------------------------------------- searching */

/* First (canonical) entry of value v, or NULL. */
static const struct tn_entry *find_value(const struct tn_set *s, uint32_t v)
{
	size_t lo = 0, hi = s->ne;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->e[mid].value < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ne && s->e[lo].value == v)
		return &s->e[lo];
	return NULL;
}

static const struct tn_key *find_key(const struct tn_key *k, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(k[mid].key, key);

		if (c == 0)
			return &k[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Lower-case letters and digits of s; false if s is too long or has none. */
static bool loose_key(const char *s, char out[LOOSE_MAX])
{
	size_t n = 0;

	for (; *s; s++) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			continue;
		if (n + 1 >= LOOSE_MAX)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n > 0;
}

/*
 * "0x" followed by 1..8 hex digits and nothing else.  Returns 0, -ENOENT
 * when s does not start with "0x" (so the caller can try other forms), or
 * -EINVAL when it does but is malformed.
 */
static int parse_hex32(const char *s, uint32_t *v)
{
	uint32_t x = 0;
	size_t n = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -ENOENT;
	for (s += 2; *s; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (n >= 8)
			return -EINVAL;
		x = (x << 4) | (uint32_t)d;
	}
	if (n == 0)
		return -EINVAL;
	*v = x;
	return 0;
}

/* Any spelling of a value of set s: exact, then hex, then loose. */
static int set_by_name(const struct tn_set *s, const char *name, uint32_t *v)
{
	const struct tn_key *k;
	char lk[LOOSE_MAX];
	int r;

	if (!name || !*name)
		return -EINVAL;
	k = find_key(s->k, s->nk, name);
	if (k) {
		*v = k->value;
		return 0;
	}
	r = parse_hex32(name, v);
	if (r != -ENOENT)
		return r;
	if (!loose_key(name, lk))
		return -ENOENT;
	k = find_key(s->l, s->nl, lk);
	if (!k)
		return -ENOENT;
	*v = k->value;
	return 0;
}

/* The set naming this tag's values, or NULL; *tags set for TN_SET_TAGS. */
static const struct tn_set *set_of_tag(uint32_t tag, bool *tags)
{
	size_t lo = 0, hi = tn_ntagsets;

	*tags = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tn_tagsets[mid].tag < tag) {
			lo = mid + 1;
		} else if (tn_tagsets[mid].tag > tag) {
			hi = mid;
		} else {
			if (tn_tagsets[mid].set == TN_SET_TAGS) {
				*tags = true;
				return NULL;
			}
			if (tn_tagsets[mid].set >= tn_nsets)
				return NULL;
			return &tn_sets[tn_tagsets[mid].set];
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ tags */

const char *ttlv_tag_name(uint32_t tag)
{
	const struct tn_entry *e = find_value(&tn_tags, tag);

	return e ? e->name : NULL;
}

const char *ttlv_tag_xml_name(uint32_t tag)
{
	const struct tn_entry *e = find_value(&tn_tags, tag);

	return e ? e->xml : NULL;
}

int ttlv_tag_by_name(const char *name, uint32_t *tag)
{
	uint32_t v;
	int r;

	r = set_by_name(&tn_tags, name, &v);
	if (r < 0)
		return r;
	/* A hex tag is three bytes; 0x000000 too, as the decoder accepts any tag. */
	if (v > 0xFFFFFFu)
		return -EINVAL;
	*tag = v;
	return 0;
}

/* ----------------------------------------------------------------- types */

static const struct {
	const char *xml;
	const char *text;
} type_names[] = {
	[TTLV_STRUCTURE]	= { "Structure", "Structure" },
	[TTLV_INTEGER]		= { "Integer", "Integer" },
	[TTLV_LONG]		= { "LongInteger", "Long Integer" },
	[TTLV_BIGINT]		= { "BigInteger", "Big Integer" },
	[TTLV_ENUM]		= { "Enumeration", "Enumeration" },
	[TTLV_BOOL]		= { "Boolean", "Boolean" },
	[TTLV_TEXT]		= { "TextString", "Text String" },
	[TTLV_BYTES]		= { "ByteString", "Byte String" },
	[TTLV_DATETIME]		= { "DateTime", "Date-Time" },
	[TTLV_INTERVAL]		= { "Interval", "Interval" },
	[TTLV_DATETIME_EXT]	= { "DateTimeExtended", "Date-Time Extended" },
};
#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *ttlv_type_name(uint8_t type)
{
	return type < N_TYPES ? type_names[type].xml : NULL;
}

const char *ttlv_type_text(uint8_t type)
{
	return type < N_TYPES ? type_names[type].text : NULL;
}

int ttlv_type_by_name(const char *name, uint8_t *type)
{
	uint32_t v;
	size_t i;
	int r;

	if (!name || !*name)
		return -EINVAL;
	for (i = 1; i < N_TYPES; i++) {
		if (!strcmp(name, type_names[i].xml) || !strcmp(name, type_names[i].text)) {
			*type = (uint8_t)i;
			return 0;
		}
	}
	r = parse_hex32(name, &v);
	if (r < 0)
		return r;
	if (v == 0 || v >= N_TYPES)
		return -ENOENT;
	*type = (uint8_t)v;
	return 0;
}

/* ----------------------------------------------------------- enumerations */

enum ttlv_value_names ttlv_tag_value_names(uint32_t tag)
{
	bool tags;
	const struct tn_set *s = set_of_tag(tag, &tags);

	if (tags)
		return TTLV_NAMES_TAG;
	if (!s)
		return TTLV_NAMES_NONE;
	return s->kind == TN_MASK ? TTLV_NAMES_MASK : TTLV_NAMES_ENUM;
}

const char *ttlv_enum_set_name(uint32_t tag)
{
	bool tags;
	const struct tn_set *s = set_of_tag(tag, &tags);

	if (tags)
		return "Tag";
	return s ? s->name : NULL;
}

uint32_t ttlv_value_tag(const struct ttlv_item *it, const struct ttlv_item *parent)
{
	const char *s;
	size_t len;
	char name[128];
	uint32_t tag;

	if (it->tag != TAG_ATTRIBUTE_VALUE || !parent)
		return it->tag;
	if (ttlv_find_text(parent, TAG_ATTRIBUTE_NAME, &s, &len) < 0 || len >= sizeof(name))
		return it->tag;
	memcpy(name, s, len);
	name[len] = '\0';
	if (ttlv_tag_by_name(name, &tag) < 0)
		return it->tag;
	return tag;
}

static const struct tn_entry *enum_entry(uint32_t tag, uint32_t value)
{
	bool tags;
	const struct tn_set *s = set_of_tag(tag, &tags);

	if (tags)
		return value <= 0xFFFFFFu ? find_value(&tn_tags, value) : NULL;
	if (!s || s->kind != TN_ENUM)
		return NULL;
	return find_value(s, value);
}

const char *ttlv_enum_name(uint32_t tag, uint32_t value)
{
	const struct tn_entry *e = enum_entry(tag, value);

	return e ? e->name : NULL;
}

const char *ttlv_enum_xml_name(uint32_t tag, uint32_t value)
{
	const struct tn_entry *e = enum_entry(tag, value);

	return e ? e->xml : NULL;
}

int ttlv_enum_by_name(uint32_t tag, const char *name, uint32_t *value)
{
	bool tags;
	const struct tn_set *s = set_of_tag(tag, &tags);
	uint32_t v;
	int r;

	if (!name || !*name)
		return -EINVAL;
	if (tags) {
		r = ttlv_tag_by_name(name, &v);
		if (r == -EINVAL && parse_hex32(name, &v) == 0)
			r = 0;	/* any 32-bit hex value is a valid Enumeration */
		if (r < 0)
			return r;
		*value = v;
		return 0;
	}
	if (!s || s->kind != TN_ENUM) {
		/* No names for this tag: only the hex form. */
		r = parse_hex32(name, &v);
		if (r < 0)
			return r;
		*value = v;
		return 0;
	}
	return set_by_name(s, name, value);
}

/* ------------------------------------------------------------- bit masks */

/* Append s to buf[*len..size); false when it does not fit. */
static bool append(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= size)
		return false;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return true;
}

int ttlv_mask_format(uint32_t tag, uint32_t value, enum ttlv_mask_style style,
		     char *buf, size_t size)
{
	bool tags;
	const struct tn_set *s = set_of_tag(tag, &tags);
	const char *sep = style == TTLV_MASK_XML ? " " : " | ";
	uint32_t rest = value;
	size_t len = 0;
	char hex[16];
	unsigned bit;
	int r = -ENOSPC;

	if (!s || s->kind != TN_MASK)
		return -ENOENT;
	if (size == 0)
		return -ENOSPC;
	buf[0] = '\0';
	if (value == 0) {
		if (!append(buf, size, &len, "0"))
			goto out;
		return (int)len;
	}
	if (style == TTLV_MASK_XML) {
		/* Every bit must have a name, or the whole value goes in hex. */
		for (bit = 0; bit < 32; bit++)
			if ((value & (1u << bit)) && !find_value(s, 1u << bit))
				break;
		if (bit < 32) {
			snprintf(hex, sizeof(hex), "0x%08X", value);
			if (!append(buf, size, &len, hex))
				goto out;
			return (int)len;
		}
	}
	for (bit = 0; bit < 32; bit++) {
		const struct tn_entry *e;
		uint32_t m = 1u << bit;

		if (!(value & m))
			continue;
		e = find_value(s, m);
		if (!e)
			continue;
		if (len && !append(buf, size, &len, sep))
			goto out;
		if (!append(buf, size, &len, style == TTLV_MASK_XML ? e->xml : e->name))
			goto out;
		rest &= ~m;
	}
	if (rest) {
		snprintf(hex, sizeof(hex), "0x%08X", rest);
		if ((len && !append(buf, size, &len, sep)) || !append(buf, size, &len, hex))
			goto out;
	}
	return (int)len;
out:
	buf[0] = '\0';
	return r;
}

/* One flag: a name of set s or a hex number. */
static int mask_flag(const struct tn_set *s, const char *tok, size_t n, uint32_t *v)
{
	char word[LOOSE_MAX];

	/* Trim the spaces that '|'-separated lists have around each flag. */
	while (n && (*tok == ' ' || *tok == '\t' || *tok == '\n' || *tok == '\r')) {
		tok++;
		n--;
	}
	while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t' ||
		     tok[n - 1] == '\n' || tok[n - 1] == '\r'))
		n--;
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(word))
		return -ENOENT;
	memcpy(word, tok, n);
	word[n] = '\0';
	return set_by_name(s, word, v);
}

int ttlv_mask_parse(uint32_t tag, const char *str, uint32_t *value)
{
	bool tags;
	const struct tn_set *s = set_of_tag(tag, &tags);
	bool bar;
	const char *p;
	uint32_t acc = 0;
	unsigned long long dec = 0;
	unsigned flags = 0;
	int r;

	if (!str)
		return -EINVAL;
	if (!s || s->kind != TN_MASK)
		return -ENOENT;
	/* A whole decimal number is a plain Integer value. */
	for (p = str; *p >= '0' && *p <= '9'; p++) {
		dec = dec * 10 + (unsigned)(*p - '0');
		if (dec > 0xFFFFFFFFull)
			return -EINVAL;
	}
	if (p != str && *p == '\0') {
		*value = (uint32_t)dec;
		return 0;
	}
	bar = strchr(str, '|') != NULL;
	p = str;
	for (;;) {
		const char *end;
		uint32_t v;

		if (!bar)
			while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				p++;
		if (!*p)
			break;
		end = p;
		if (bar)
			while (*end && *end != '|')
				end++;
		else
			while (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
				end++;
		r = mask_flag(s, p, (size_t)(end - p), &v);
		if (r < 0)
			return r;
		acc |= v;
		flags++;
		p = end;
		if (bar) {
			if (!*p)
				break;
			p++;	/* past '|'; "a|" leaves an empty flag: an error */
			if (!*p)
				return -EINVAL;
		}
	}
	if (!flags)
		return -EINVAL;	/* empty, or nothing but white space */
	*value = acc;
	return 0;
}
