/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KMIP XML encoding <-> TTLV.  Parsing is libxml2's; this file walks the
 * tree, checks every element and attribute, and encodes.  See xml.h.
 */
#define _GNU_SOURCE		/* memmem() */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ttlv/names.h"
#include "ttlv/text.h"
#include "ttlv/xml.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

/* ------------------------------------------------------------ message list */

void ttlv_msgs_init(struct ttlv_msgs *l)
{
	l->msg = NULL;
	l->n = 0;
	l->cap = 0;
}

/* Drop messages from index `keep` on. */
static void msgs_truncate(struct ttlv_msgs *l, size_t keep)
{
	while (l->n > keep)
		ttlv_buf_free(&l->msg[--l->n]);
}

void ttlv_msgs_free(struct ttlv_msgs *l)
{
	msgs_truncate(l, 0);
	free(l->msg);
	ttlv_msgs_init(l);
}

/* A new empty growable buffer at the end of the list, or NULL. */
static struct ttlv_buf *msgs_push(struct ttlv_msgs *l, size_t max)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct ttlv_buf *m;

		if (cap > SIZE_MAX / sizeof(*m))
			return NULL;
		m = realloc(l->msg, cap * sizeof(*m));
		if (!m)
			return NULL;
		l->msg = m;
		l->cap = cap;
	}
	ttlv_buf_init(&l->msg[l->n], max ? max : TTLV_XML_MAX_MESSAGE);
	return &l->msg[l->n++];
}

int ttlv_msgs_add(struct ttlv_msgs *l, const uint8_t *buf, size_t len, size_t max)
{
	struct ttlv_limits lim = { .max_len = max ? max : TTLV_XML_MAX_MESSAGE,
				   .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item root;
	struct ttlv_buf *b;
	int r;

	r = ttlv_decode(buf, len, &lim, &root);
	if (r < 0)
		return r;
	b = msgs_push(l, lim.max_len);
	if (!b)
		return -ENOMEM;
	r = ttlv_put_item(b, &root);
	if (r < 0)
		msgs_truncate(l, l->n - 1);
	return r;
}

/* ----------------------------------------------------------------- parsing */

struct xp {
	const char *name;		/* for messages: the file name */
	const struct ttlv_xml_opts *o;
	struct ttlv_buf *b;
	uint8_t *scratch;		/* decoded Byte Strings: locked memory */
	size_t scratch_len;
};

/* Log "name:line: message" and return err. */
__attribute__((format(printf, 4, 5)))
static int xerr(struct xp *p, const xmlNode *n, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%ld: %s", p->name, n ? xmlGetLineNo(n) : 0L, msg);
	return err;
}

static bool is_name(const xmlNode *n, const char *s)
{
	return n->name && strcmp((const char *)n->name, s) == 0;
}

/* Whitespace-only text between elements is layout; anything else is data
 * this format has no place for. */
static bool blank(const xmlChar *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/* Check a node that is not an element: 0 if it may be skipped. */
static int check_other(struct xp *p, const xmlNode *c, const xmlNode *parent)
{
	switch (c->type) {
	case XML_COMMENT_NODE:
	case XML_PI_NODE:
		return 0;
	case XML_TEXT_NODE:
		if (blank(c->content))
			return 0;
		return xerr(p, parent, -EINVAL, "<%s> holds text; values go in value=\"...\"",
			    parent->name);
	default:
		return xerr(p, parent, -EINVAL, "<%s> holds an unexpected node (type %d)",
			    parent->name, (int)c->type);
	}
}

/* The value of attribute `a` of n, or NULL.  Must be xmlFree()d. */
static xmlChar *attr(const xmlNode *n, const char *a)
{
	return xmlGetNoNsProp(n, (const xmlChar *)a);
}

/* Wipe and free an attribute value (it may be key material in hex). */
static void attr_free(xmlChar *s)
{
	if (s) {
		explicit_bzero(s, strlen((char *)s));
		xmlFree(s);
	}
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *v)
{
	bool neg = false;
	uint64_t x = 0, lim;

	if (*s == '-') {
		neg = true;
		s++;
	}
	if (!*s)
		return -EINVAL;
	lim = neg ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (x > (lim - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (neg)
		*v = x ? -(int64_t)(x - 1) - 1 : 0;
	else
		*v = (int64_t)x;
	return 0;
}

/* "0x" + 1..digits hex digits. */
static int parse_hex(const char *s, unsigned maxdigits, uint64_t *v)
{
	uint64_t x = 0;
	unsigned n = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (s += 2; *s; s++, n++) {
		char c = *s;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		if (n >= maxdigits)
			return -ERANGE;
		x = x << 4 | d;
	}
	if (!n)
		return -EINVAL;
	*v = x;
	return 0;
}

static bool has_hex_prefix(const char *s)
{
	return s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* "$NOW", "$NOW-3600", "$NOW+60": *is set when s is such a placeholder. */
static int parse_now(struct xp *p, const char *s, bool *is, int64_t *v)
{
	int64_t off = 0;
	int r;

	*is = strncmp(s, "$NOW", 4) == 0;
	if (!*is)
		return 0;
	s += 4;
	if (*s == '+' || *s == '-') {
		bool neg = *s == '-';

		r = parse_i64(s + 1, 0, INT32_MAX, &off);
		if (r < 0)
			return r;
		if (neg)
			off = -off;
	} else if (*s) {
		return -EINVAL;
	}
	if ((off > 0 && p->o->now > INT64_MAX - off) || (off < 0 && p->o->now < INT64_MIN - off))
		return -ERANGE;
	*v = p->o->now + off;
	return 0;
}

/* Room for n decoded bytes in the locked scratch buffer. */
static int scratch(struct xp *p, size_t n)
{
	uint8_t *s;

	if (n <= p->scratch_len && p->scratch)
		return 0;
	s = secmem_realloc(p->scratch, n ? n : 1);
	if (!s)
		return -ENOMEM;
	p->scratch = s;
	p->scratch_len = n ? n : 1;
	return 0;
}

/* A placeholder in a Byte String: "$" then upper-case letters, digits, '_'. */
static bool placeholder(const uint8_t *s, size_t len)
{
	size_t i;

	if (len < 2 || s[0] != '$' || s[1] < 'A' || s[1] > 'Z')
		return false;
	for (i = 2; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* The tag naming an element's Enumeration / mask value: for a 1.x
 * Attribute Value, the attribute named by the Attribute Name beside it. */
static uint32_t xml_value_tag(const xmlNode *n, uint32_t tag)
{
	const xmlNode *c;
	uint32_t t = tag;

	if (tag != TAG_ATTRIBUTE_VALUE || !n->parent)
		return tag;
	for (c = n->parent->children; c; c = c->next) {
		xmlChar *v;

		if (c->type != XML_ELEMENT_NODE || !is_name(c, "AttributeName"))
			continue;
		v = attr(c, "value");
		if (v && ttlv_tag_by_name((const char *)v, &t) < 0)
			t = tag;
		xmlFree(v);
		break;
	}
	return t;
}

static int put_value(struct xp *p, const xmlNode *n, uint32_t tag, uint8_t type,
		     const char *v)
{
	struct ttlv_buf *b = p->b;
	uint32_t vtag, u32;
	uint64_t u64 = 0;
	int64_t i64;
	size_t len;
	bool now;
	int r;

	switch (type) {
	case TTLV_INTEGER:
		vtag = xml_value_tag(n, tag);
		if (ttlv_tag_value_names(vtag) == TTLV_NAMES_MASK && !has_hex_prefix(v) &&
		    !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))) {
			r = ttlv_mask_parse(vtag, v, &u32);
			if (r < 0)
				return xerr(p, n, -EINVAL, "\"%s\" is not a value of %s", v,
					    ttlv_enum_set_name(vtag));
			return ttlv_put_int(b, tag, (int32_t)u32);
		}
		if (has_hex_prefix(v)) {
			r = parse_hex(v, 8, &u64);
			i64 = (int32_t)(uint32_t)u64;
		} else {
			r = parse_i64(v, INT32_MIN, INT32_MAX, &i64);
		}
		if (r < 0)
			return xerr(p, n, -EINVAL, "\"%s\" is not an Integer", v);
		return ttlv_put_int(b, tag, (int32_t)i64);
	case TTLV_LONG:
		if (has_hex_prefix(v)) {
			r = parse_hex(v, 16, &u64);
			i64 = (int64_t)u64;
		} else {
			r = parse_i64(v, INT64_MIN, INT64_MAX, &i64);
		}
		if (r < 0)
			return xerr(p, n, -EINVAL, "\"%s\" is not a LongInteger", v);
		return ttlv_put_long(b, tag, i64);
	case TTLV_BIGINT: {
		const char *h = has_hex_prefix(v) ? v + 2 : v;
		size_t digits = strlen(h), nbytes, padded;

		/* Two's complement bytes, sign-extended to a multiple of 8. */
		if (digits == 0 || digits % 2)
			return xerr(p, n, -EINVAL, "a BigInteger needs an even number of hex digits");
		nbytes = digits / 2;
		padded = TTLV_PAD(nbytes);
		r = scratch(p, padded);
		if (r < 0)
			return r;
		r = ttlv_hex_read(h, digits, p->scratch + (padded - nbytes), nbytes, &len);
		if (r < 0 || len != nbytes)
			return xerr(p, n, -EINVAL, "a BigInteger is hex digits");
		memset(p->scratch, (p->scratch[padded - nbytes] & 0x80) ? 0xff : 0x00,
		       padded - nbytes);
		return ttlv_put_bigint(b, tag, p->scratch, padded);
	}
	case TTLV_ENUM:
		vtag = xml_value_tag(n, tag);
		r = ttlv_enum_by_name(vtag, v, &u32);
		if (r < 0) {
			const char *set = ttlv_enum_set_name(vtag);

			if (set)
				return xerr(p, n, -EINVAL, "\"%s\" is not a value of %s", v, set);
			return xerr(p, n, -EINVAL, "\"%s\": this Enumeration has no names "
				    "(write it as 0x0000000A)", v);
		}
		return ttlv_put_enum(b, tag, u32);
	case TTLV_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "0x1") || !strcmp(v, "0x0000000000000001"))
			return ttlv_put_bool(b, tag, true);
		if (!strcmp(v, "false") || !strcmp(v, "0x0") || !strcmp(v, "0x0000000000000000"))
			return ttlv_put_bool(b, tag, false);
		return xerr(p, n, -EINVAL, "\"%s\" is not a Boolean (true or false)", v);
	case TTLV_TEXT:
		len = strlen(v);
		if (!ttlv_utf8_valid(v, len))
			return xerr(p, n, -EINVAL, "TextString is not valid UTF-8 (or holds NUL)");
		return ttlv_put_text(b, tag, v, len);
	case TTLV_BYTES:
		len = strlen(v);
		if (v[0] == '$') {
			if (!placeholder((const uint8_t *)v, len))
				return xerr(p, n, -EINVAL, "\"%s\" is neither hex nor a $PLACEHOLDER", v);
			return ttlv_put_bytes(b, tag, (const uint8_t *)v, len);
		}
		r = scratch(p, len / 2);
		if (r < 0)
			return r;
		r = ttlv_hex_read(v, len, p->scratch, len / 2, &len);
		if (r < 0)
			return xerr(p, n, -EINVAL, "a ByteString is hex digits");
		return ttlv_put_bytes(b, tag, p->scratch, len);
	case TTLV_DATETIME:
	case TTLV_DATETIME_EXT: {
		bool ext = type == TTLV_DATETIME_EXT;

		r = parse_now(p, v, &now, &i64);
		if (now && !r && ext) {
			if (i64 > INT64_MAX / 1000000 || i64 < INT64_MIN / 1000000)
				r = -ERANGE;
			else
				i64 *= 1000000;
		} else if (!now) {
			if (has_hex_prefix(v)) {
				r = parse_hex(v, 16, &u64);
				i64 = (int64_t)u64;
			} else {
				r = ttlv_datetime_parse(v, ext, &i64);
			}
		}
		if (r < 0)
			return xerr(p, n, -EINVAL, "\"%s\" is not a %s (ISO 8601 with an offset, "
				    "$NOW[+-N] or 0x...)", v, ext ? "DateTimeExtended" : "DateTime");
		return ext ? ttlv_put_datetime_ext(b, tag, i64) : ttlv_put_datetime(b, tag, i64);
	}
	case TTLV_INTERVAL:
		if (has_hex_prefix(v)) {
			r = parse_hex(v, 8, &u64);
			i64 = (int64_t)u64;
		} else {
			r = parse_i64(v, 0, UINT32_MAX, &i64);
		}
		if (r < 0)
			return xerr(p, n, -EINVAL, "\"%s\" is not an Interval (seconds)", v);
		return ttlv_put_interval(b, tag, (uint32_t)i64);
	default:
		return xerr(p, n, -EINVAL, "unknown type 0x%02x", type);
	}
}

static int parse_elem(struct xp *p, const xmlNode *n)
{
	xmlChar *tagname = NULL, *typename = NULL, *value = NULL;
	const xmlAttr *a;
	const xmlNode *c;
	uint32_t tag;
	uint8_t type = TTLV_STRUCTURE;
	int r;

	if (n->ns)
		return xerr(p, n, -EINVAL, "<%s>: XML namespaces are not part of this encoding",
			    n->name);
	/* Every attribute must be one we use: nothing is dropped silently. */
	for (a = n->properties; a; a = a->next) {
		if (!a->ns && (is_name((const xmlNode *)a, "type") ||
			       is_name((const xmlNode *)a, "value") ||
			       (is_name((const xmlNode *)a, "tag") && is_name(n, "TTLV"))))
			continue;
		return xerr(p, n, -EINVAL, "<%s>: unknown attribute \"%s\"", n->name, a->name);
	}
	if (is_name(n, "TTLV")) {
		tagname = attr(n, "tag");
		if (!tagname) {
			r = xerr(p, n, -EINVAL, "<TTLV> needs tag=\"0x540001\"");
			goto out;
		}
		r = ttlv_tag_by_name((const char *)tagname, &tag);
	} else {
		r = ttlv_tag_by_name((const char *)n->name, &tag);
	}
	if (r < 0) {
		r = xerr(p, n, -EINVAL, "<%s%s%s>: unknown tag", n->name, tagname ? " " : "",
			 tagname ? (const char *)tagname : "");
		goto out;
	}
	typename = attr(n, "type");
	if (typename && ttlv_type_by_name((const char *)typename, &type) < 0) {
		r = xerr(p, n, -EINVAL, "<%s>: unknown type \"%s\"", n->name, typename);
		goto out;
	}
	value = attr(n, "value");

	if (type == TTLV_STRUCTURE) {
		if (value) {
			r = xerr(p, n, -EINVAL, "<%s>: a Structure has no value=", n->name);
			goto out;
		}
		r = ttlv_begin(p->b, tag);
		if (r < 0) {
			r = xerr(p, n, r, "<%s>: %s", n->name,
				 r == -ELOOP ? "nested too deeply" : strerror(-r));
			goto out;
		}
		for (c = n->children; c; c = c->next) {
			r = c->type == XML_ELEMENT_NODE ? parse_elem(p, c) : check_other(p, c, n);
			if (r < 0)
				goto out;
		}
		r = ttlv_end(p->b);
		if (r < 0)
			r = xerr(p, n, r, "<%s>: %s", n->name, strerror(-r));
		goto out;
	}

	if (!value) {
		r = xerr(p, n, -EINVAL, "<%s type=\"%s\">: value= is missing", n->name, typename);
		goto out;
	}
	for (c = n->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			r = xerr(p, c, -EINVAL, "<%s> is inside <%s type=\"%s\">, which is not a "
				 "Structure", c->name, n->name, typename);
			goto out;
		}
		r = check_other(p, c, n);
		if (r < 0)
			goto out;
	}
	r = put_value(p, n, tag, type, (const char *)value);
	if (r < 0 && p->b->err == r)
		r = xerr(p, n, r, "<%s>: %s", n->name,
			 r == -EMSGSIZE ? "message too large" : strerror(-r));
out:
	xmlFree(tagname);
	xmlFree(typename);
	attr_free(value);
	return r;
}

/* One message element into a new buffer appended to out. */
static int parse_message(struct xp *p, const xmlNode *n, struct ttlv_msgs *out)
{
	struct ttlv_limits lim;
	struct ttlv_item root;
	struct ttlv_error e;
	char why[TTLV_ERROR_TEXT];
	int r;

	lim.max_len = p->o->max_msg ? p->o->max_msg : TTLV_XML_MAX_MESSAGE;
	lim.max_depth = TTLV_MAX_DEPTH;
	p->b = msgs_push(out, lim.max_len);
	if (!p->b)
		return -ENOMEM;
	r = parse_elem(p, n);
	if (r < 0)
		return r;
	r = ttlv_buf_finish(p->b);
	if (r < 0)
		return xerr(p, n, r, "<%s>: %s", n->name, strerror(-r));
	r = ttlv_decode_detail(p->b->data, p->b->len, &lim, &root, &e);
	if (r < 0)
		return xerr(p, n, r, "<%s>: the encoded message does not validate: %s",
			    n->name, ttlv_error_format(&e, why, sizeof(why)));
	return 0;
}

int ttlv_xml_parse(const char *xml, size_t len, const char *name,
		   const struct ttlv_xml_opts *opts, struct ttlv_msgs *out)
{
	static const struct ttlv_xml_opts defaults;
	struct xp p = { .name = name ? name : "<xml>", .o = opts ? opts : &defaults };
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	const xmlNode *root, *c;
	size_t n0 = out->n;
	unsigned count = 0;
	int r;

	if (len > TTLV_XML_MAX_DOCUMENT || len > INT_MAX) {
		r = log_error_errno(-EMSGSIZE, "%s: larger than %u bytes", p.name,
				    TTLV_XML_MAX_DOCUMENT);
		goto out;
	}
	/*
	 * KMIP XML has no DTD.  Refusing one up front rules out entity
	 * expansion and external entities whatever the parser options.
	 */
	if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8)) {
		r = log_error_errno(-EINVAL, "%s: a DTD is not allowed in KMIP XML", p.name);
		goto out;
	}
	xmlInitParser();
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		r = -ENOMEM;
		goto out;
	}
	/* KMIP XML is UTF-8: a declared encoding is ignored, so that libxml2
	 * converts nothing (and prints no conversion errors past our log). */
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, p.name, "UTF-8",
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				XML_PARSE_BIG_LINES);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[256];
		size_t k;

		snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "not XML");
		k = strlen(msg);
		while (k && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
			msg[--k] = '\0';
		r = log_error_errno(-EINVAL, "%s:%d: %s", p.name, e ? e->line : 0, msg);
		goto out;
	}
	if (doc->intSubset || doc->extSubset) {
		r = log_error_errno(-EINVAL, "%s: a DTD is not allowed in KMIP XML", p.name);
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root) {
		r = log_error_errno(-EINVAL, "%s: no root element", p.name);
		goto out;
	}
	if (is_name(root, "KMIP")) {
		if (root->properties || root->ns) {
			r = xerr(&p, root, -EINVAL, "<KMIP> takes no attributes or namespace");
			goto out;
		}
		for (c = root->children; c; c = c->next) {
			/*
			 * Text between messages belongs to no message: the
			 * OASIS 1.0-1.2 test cases annotate their steps there
			 * ("# TIME 0", "[Client-A]", line numbers).
			 */
			if (c->type == XML_TEXT_NODE)
				continue;
			if (c->type != XML_ELEMENT_NODE) {
				r = check_other(&p, c, root);
				if (r < 0)
					goto out;
				continue;
			}
			r = parse_message(&p, c, out);
			if (r < 0)
				goto out;
			count++;
		}
		if (!count) {
			r = xerr(&p, root, -EINVAL, "<KMIP> holds no message");
			goto out;
		}
	} else {
		r = parse_message(&p, root, out);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		msgs_truncate(out, n0);
	secmem_free(p.scratch);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return r;
}

int ttlv_xml_parse_file(const char *path, const struct ttlv_xml_opts *opts,
			struct ttlv_msgs *out)
{
	char *buf = NULL;	/* locked: the document may hold key material */
	size_t n = 0;
	int r;

	r = read_file_locked_opts(path, TTLV_XML_MAX_DOCUMENT, NULL, &buf, &n);
	if (r == -EFBIG)
		r = -EMSGSIZE;
	if (r == 0)
		r = ttlv_xml_parse(buf, n, path, opts, out);
	secmem_free(buf);
	return r;
}

/* ----------------------------------------------------------------- writing */

static void indent(FILE *f, unsigned level)
{
	fprintf(f, "%*s", (int)(2 * level), "");
}

/*
 * Does s[i] start a character that XML 1.0 cannot carry: a C0 control
 * other than tab and line ends, or U+FFFE / U+FFFF?
 */
static bool xml_char_bad(const char *s, size_t len, size_t i)
{
	unsigned char ch = (unsigned char)s[i];

	if (ch < 0x20)
		return ch != '\t' && ch != '\n' && ch != '\r';
	return ch == 0xef && i + 2 < len && (unsigned char)s[i + 1] == 0xbf &&
	       ((unsigned char)s[i + 2] == 0xbe || (unsigned char)s[i + 2] == 0xbf);
}

/*
 * Text as an attribute value.  Tabs and line ends become character
 * references (a parser would normalize them to spaces otherwise); other
 * C0 controls and U+FFFE/U+FFFF cannot be written in XML 1.0 at all.
 */
static int put_escaped(FILE *f, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\t':
			fputs("&#9;", f);
			break;
		case '\n':
			fputs("&#10;", f);
			break;
		case '\r':
			fputs("&#13;", f);
			break;
		default:
			if (xml_char_bad(s, len, i))
				return -EILSEQ;
			fputc(ch, f);
			break;
		}
	}
	return 0;
}

static int write_value(FILE *f, const struct ttlv_item *it, uint32_t vtag)
{
	char buf[512];
	const char *name;
	const uint8_t *b;
	const char *s;
	size_t len;
	int32_t i32;
	int64_t i64;
	uint32_t u32;
	bool bv;

	switch (it->type) {
	case TTLV_INTEGER:
		ttlv_get_int(it, &i32);
		if (ttlv_tag_value_names(vtag) == TTLV_NAMES_MASK &&
		    ttlv_mask_format(vtag, (uint32_t)i32, TTLV_MASK_XML, buf, sizeof(buf)) >= 0)
			fputs(buf, f);
		else
			fprintf(f, "%" PRId32, i32);
		return 0;
	case TTLV_LONG:
		ttlv_get_long(it, &i64);
		fprintf(f, "%" PRId64, i64);
		return 0;
	case TTLV_BIGINT:
		ttlv_get_bigint(it, &b, &len);
		hex_fput(f, b, len);
		return 0;
	case TTLV_ENUM:
		ttlv_get_enum(it, &u32);
		name = ttlv_enum_xml_name(vtag, u32);
		if (name)
			fputs(name, f);
		else
			fprintf(f, "0x%08" PRIX32, u32);
		return 0;
	case TTLV_BOOL:
		ttlv_get_bool(it, &bv);
		fputs(bv ? "true" : "false", f);
		return 0;
	case TTLV_TEXT:
		ttlv_get_text(it, &s, &len);
		return put_escaped(f, s, len);
	case TTLV_BYTES:
		ttlv_get_bytes(it, &b, &len);
		if (placeholder(b, len))
			fwrite(b, 1, len, f);
		else
			hex_fput(f, b, len);
		return 0;
	case TTLV_DATETIME:
	case TTLV_DATETIME_EXT:
		if (it->type == TTLV_DATETIME)
			ttlv_get_datetime(it, &i64);
		else
			ttlv_get_datetime_ext(it, &i64);
		if (ttlv_datetime_format(i64, it->type == TTLV_DATETIME_EXT, buf) == 0)
			fputs(buf, f);
		else
			fprintf(f, "0x%016" PRIX64, (uint64_t)i64);
		return 0;
	case TTLV_INTERVAL:
		ttlv_get_interval(it, &u32);
		fprintf(f, "%" PRIu32, u32);
		return 0;
	default:
		return -EBADMSG;
	}
}

static int write_item(FILE *f, const struct ttlv_item *it, const struct ttlv_item *parent,
		      unsigned level)
{
	const char *name = ttlv_tag_xml_name(it->tag);
	char tagbuf[24];
	struct ttlv_iter iter;
	struct ttlv_item child;
	int r;

	/* A tag without a name: <TTLV tag="0x540001" ...>. */
	if (!name)
		snprintf(tagbuf, sizeof(tagbuf), "0x%06" PRIX32, it->tag);
	indent(f, level);
	if (name)
		fprintf(f, "<%s", name);
	else
		fprintf(f, "<TTLV tag=\"%s\"", tagbuf);

	if (it->type == TTLV_STRUCTURE) {
		if (it->len == 0) {
			fputs("/>\n", f);
			return 0;
		}
		fputs(">\n", f);
		ttlv_iter_init(&iter, it);
		while (ttlv_iter_next(&iter, &child)) {
			r = write_item(f, &child, it, level + 1);
			if (r < 0)
				return r;
		}
		indent(f, level);
		fprintf(f, "</%s>\n", name ? name : "TTLV");
		return 0;
	}
	fprintf(f, " type=\"%s\" value=\"", ttlv_type_name(it->type));
	r = write_value(f, it, ttlv_value_tag(it, parent));
	if (r < 0)
		return r;
	fputs("\"/>\n", f);
	return 0;
}

/* Can every Text String under it be written?  Checked before writing
 * anything, so that a refused message leaves no half-written XML. */
static bool xml_text_ok(const struct ttlv_item *it)
{
	struct ttlv_iter iter;
	struct ttlv_item child;
	const char *s;
	size_t len, i;

	if (it->type == TTLV_TEXT) {
		ttlv_get_text(it, &s, &len);
		for (i = 0; i < len; i++)
			if (xml_char_bad(s, len, i))
				return false;
		return true;
	}
	if (it->type != TTLV_STRUCTURE)
		return true;
	ttlv_iter_init(&iter, it);
	while (ttlv_iter_next(&iter, &child))
		if (!xml_text_ok(&child))
			return false;
	return true;
}

int ttlv_xml_write_item(FILE *f, const struct ttlv_item *root, unsigned level)
{
	int r;

	if (!xml_text_ok(root))
		return -EILSEQ;
	r = write_item(f, root, NULL, level);

	if (r < 0)
		return r;
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}

int ttlv_xml_write(FILE *f, const uint8_t *buf, size_t len, unsigned level)
{
	struct ttlv_limits lim = { .max_len = TTLV_XML_MAX_MESSAGE, .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item root;
	int r;

	r = ttlv_decode(buf, len, &lim, &root);
	if (r < 0)
		return r;
	return ttlv_xml_write_item(f, &root, level);
}
