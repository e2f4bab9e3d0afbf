/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Human-readable dump of TTLV, ISO 8601 dates, hex input.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ttlv/names.h"
#include "ttlv/text.h"
#include "util/hex.h"

/* Tags that may carry secrets in their own value, whatever their type. */
#define TAG_DERIVATION_DATA		0x420030u
#define TAG_SERVER_HASHED_PASSWORD	0x420155u
#define TAG_ONE_TIME_PASSWORD		0x420156u
#define TAG_HASHED_PASSWORD		0x420157u

/* ------------------------------------------------------------------ dates */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in POSIX seconds. */
#define ISO_MIN_SECS (-62167219200LL)
#define ISO_MAX_SECS (253402300799LL)

int ttlv_datetime_format(int64_t v, bool ext, char out[TTLV_DATETIME_LEN])
{
	int64_t secs = v, us = 0, days, rem, y;
	unsigned mo, d;
	char tmp[128];
	int n;

	if (ext) {
		/* Floor division, so that negative times get a positive fraction. */
		secs = v / 1000000;
		us = v % 1000000;
		if (us < 0) {
			us += 1000000;
			secs--;
		}
	}
	if (secs < ISO_MIN_SECS || secs > ISO_MAX_SECS)
		return -ERANGE;
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &mo, &d);
	/* The compiler cannot see the ranges; format wide, then copy (<= 32). */
	if (ext)
		n = snprintf(tmp, sizeof(tmp), "%04d-%02u-%02uT%02u:%02u:%02u.%06u+00:00",
			     (int)y, mo, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
			     (unsigned)(rem % 60), (unsigned)us);
	else
		n = snprintf(tmp, sizeof(tmp), "%04d-%02u-%02uT%02u:%02u:%02u+00:00",
			     (int)y, mo, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
			     (unsigned)(rem % 60));
	if (n < 0 || (size_t)n >= TTLV_DATETIME_LEN)
		return -ERANGE;
	memcpy(out, tmp, (size_t)n + 1);
	return 0;
}

/* Exactly n decimal digits at *s, advancing it. */
static bool digits(const char **s, unsigned n, unsigned *v)
{
	unsigned x = 0;

	while (n--) {
		if (**s < '0' || **s > '9')
			return false;
		x = x * 10 + (unsigned)(**s - '0');
		(*s)++;
	}
	*v = x;
	return true;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int ttlv_datetime_parse(const char *s, bool ext, int64_t *v)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0, us = 0, n;
	int sign = 0;
	int64_t t;

	if (!s)
		return -EINVAL;
	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
	    !digits(&s, 2, &d) || (*s != 'T' && *s != 't') || !(s++, digits(&s, 2, &h)) ||
	    *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' || !digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		s++;
		for (n = 0; *s >= '0' && *s <= '9'; n++, s++) {
			if (n >= 6)
				return -EINVAL;	/* finer than a microsecond */
			us = us * 10 + (unsigned)(*s - '0');
		}
		if (n == 0)
			return -EINVAL;
		for (; n < 6; n++)
			us *= 10;
		if (!ext && us)
			return -EINVAL;	/* a Date-Time has whole seconds */
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;	/* local time means nothing here: require an offset */
	}
	if (*s)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
		return -EINVAL;
	if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -EINVAL;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (int64_t)(oh * 3600 + om * 60);
	*v = ext ? t * 1000000 + us : t;
	return 0;
}

/* -------------------------------------------------------------------- hex */

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int ttlv_hex_read(const char *s, size_t slen, uint8_t *out, size_t max, size_t *n)
{
	size_t i, count = 0;
	int hi = -1;

	for (i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];
		int x;

		if (is_space(c))
			continue;
		x = hex_nibble((char)c);
		if (x < 0)
			return -EINVAL;
		if (hi < 0) {
			hi = x;
			continue;
		}
		if (count >= max)
			return -EMSGSIZE;
		if (out)
			out[count] = (uint8_t)(hi << 4 | x);
		count++;
		hi = -1;
	}
	if (hi >= 0)
		return -EINVAL;	/* odd number of digits */
	*n = count;
	return 0;
}

bool ttlv_hex_looks_like(const uint8_t *s, size_t len)
{
	bool any = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (is_space(s[i]))
			continue;
		if (hex_nibble((char)s[i]) < 0)
			return false;
		any = true;
	}
	return any;
}

/* ------------------------------------------------------------------- dump */

bool ttlv_text_is_secret(uint32_t tag, uint8_t type, bool in_key_value)
{
	if (type == TTLV_STRUCTURE)
		return false;
	switch (tag) {
	case TAG_KEY_MATERIAL:
	case TAG_DATA:
	case TAG_PASSWORD:
	case TAG_ONE_TIME_PASSWORD:
	case TAG_HASHED_PASSWORD:
	case TAG_SERVER_HASHED_PASSWORD:
	case TAG_DERIVATION_DATA:
		return true;
	case TAG_KEY_VALUE:
		/* A wrapped key: a Byte String in place of the Structure. */
		return true;
	default:
		break;
	}
	return in_key_value && (type == TTLV_BYTES || type == TTLV_BIGINT);
}

struct dump {
	FILE *f;
	bool show;
};

static void indent(FILE *f, unsigned level)
{
	fprintf(f, "%*s", (int)(2 * level), "");
}

/* Quoted text; every control character (C0, DEL, C1) escaped. */
static void put_text(FILE *f, const char *s, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\x%02x", c);
		} else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			/* U+0080..U+009F: C1 controls, some terminals obey them. */
			fprintf(f, "\\u%04x", (unsigned char)s[i + 1]);
			i++;
		} else {
			fputc(c, f);
		}
	}
	fputc('"', f);
}

static void dump_value(struct dump *d, const struct ttlv_item *it, uint32_t vtag)
{
	FILE *f = d->f;
	char buf[TTLV_DATETIME_LEN > 512 ? TTLV_DATETIME_LEN : 512];
	const char *name;
	int32_t i32;
	int64_t i64;
	uint32_t u32;
	bool bv;
	const char *s;
	const uint8_t *b;
	size_t len;

	switch (it->type) {
	case TTLV_INTEGER:
		ttlv_get_int(it, &i32);
		if (ttlv_tag_value_names(vtag) == TTLV_NAMES_MASK &&
		    ttlv_mask_format(vtag, (uint32_t)i32, TTLV_MASK_TEXT, buf, sizeof(buf)) >= 0)
			fprintf(f, "%s (0x%08" PRIX32 ")", buf, (uint32_t)i32);
		else
			fprintf(f, "%" PRId32, i32);
		break;
	case TTLV_LONG:
		ttlv_get_long(it, &i64);
		fprintf(f, "%" PRId64, i64);
		break;
	case TTLV_ENUM:
		ttlv_get_enum(it, &u32);
		name = ttlv_enum_name(vtag, u32);
		if (!name)
			fprintf(f, "0x%08" PRIX32, u32);
		else if (ttlv_tag_value_names(vtag) == TTLV_NAMES_TAG)
			fprintf(f, "%s (0x%06" PRIX32 ")", name, u32);
		else
			fputs(name, f);
		break;
	case TTLV_BOOL:
		ttlv_get_bool(it, &bv);
		fputs(bv ? "true" : "false", f);
		break;
	case TTLV_TEXT:
		ttlv_get_text(it, &s, &len);
		put_text(f, s, len);
		break;
	case TTLV_BYTES:
		ttlv_get_bytes(it, &b, &len);
		hex_fput(f, b, len);
		break;
	case TTLV_BIGINT:
		ttlv_get_bigint(it, &b, &len);
		fputs("0x", f);
		hex_fput(f, b, len);
		break;
	case TTLV_DATETIME:
		ttlv_get_datetime(it, &i64);
		if (ttlv_datetime_format(i64, false, buf) == 0)
			fputs(buf, f);
		else
			fprintf(f, "%" PRId64 " s", i64);
		break;
	case TTLV_DATETIME_EXT:
		ttlv_get_datetime_ext(it, &i64);
		if (ttlv_datetime_format(i64, true, buf) == 0)
			fputs(buf, f);
		else
			fprintf(f, "%" PRId64 " us", i64);
		break;
	case TTLV_INTERVAL:
		ttlv_get_interval(it, &u32);
		fprintf(f, "%" PRIu32 " s", u32);
		break;
	default:
		/* Cannot happen after ttlv_decode(); say so rather than guess. */
		fprintf(f, "<type 0x%02x>", it->type);
		break;
	}
}

static void dump_item(struct dump *d, const struct ttlv_item *it,
		      const struct ttlv_item *parent, unsigned level, bool in_kv)
{
	FILE *f = d->f;
	const char *name = ttlv_tag_name(it->tag);
	const char *type = ttlv_type_text(it->type);

	indent(f, level);
	if (name)
		fputs(name, f);
	else
		fprintf(f, "0x%06" PRIX32, it->tag);

	if (it->type == TTLV_STRUCTURE) {
		struct ttlv_iter iter;
		struct ttlv_item child;
		bool kv = in_kv || it->tag == TAG_KEY_VALUE || it->tag == TAG_KEY_MATERIAL;

		fputc('\n', f);
		ttlv_iter_init(&iter, it);
		while (ttlv_iter_next(&iter, &child))
			dump_item(d, &child, it, level + 1, kv);
		return;
	}
	fprintf(f, " (%s): ", type ? type : "?");
	if (!d->show && ttlv_text_is_secret(it->tag, it->type, in_kv))
		fprintf(f, "<redacted, %" PRIu32 " bytes>", it->len);
	else
		dump_value(d, it, ttlv_value_tag(it, parent));
	fputc('\n', f);
}

int ttlv_text_dump_item(FILE *f, const struct ttlv_item *root, unsigned level,
			bool show_secrets)
{
	struct dump d = { .f = f, .show = show_secrets };

	dump_item(&d, root, NULL, level, false);
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}

/* ---------------------------------------------------------- decode errors */

/* "Batch Count (0x42000D, Integer) at byte 48", or "tag 0x540001 (type 0x0C) at byte 8". */
static void describe(char *out, size_t size, uint32_t tag, bool has_type, uint8_t type,
		     size_t off)
{
	const char *name = ttlv_tag_name(tag);
	const char *tn = has_type ? ttlv_type_text(type) : NULL;
	char tb[16];

	if (has_type && !tn) {
		snprintf(tb, sizeof(tb), "type 0x%02X", type);
		tn = tb;
	}
	if (name)
		snprintf(out, size, "%s (0x%06" PRIX32 "%s%s) at byte %zu", name, tag,
			 tn ? ", " : "", tn ? tn : "", off);
	else
		snprintf(out, size, "tag 0x%06" PRIX32 "%s%s%s at byte %zu", tag,
			 tn ? " (" : "", tn ? tn : "", tn ? ")" : "", off);
}

/* The length an item of this type must have, or 0 for a variable one. */
static unsigned fixed_len(uint8_t type)
{
	switch (type) {
	case TTLV_INTEGER:
	case TTLV_ENUM:
	case TTLV_INTERVAL:
		return 4;
	case TTLV_LONG:
	case TTLV_BOOL:
	case TTLV_DATETIME:
	case TTLV_DATETIME_EXT:
		return 8;
	default:
		return 0;
	}
}

const char *ttlv_error_format(const struct ttlv_error *e, char *buf, size_t size)
{
	char item[128], parent[128];
	const char *tn = ttlv_type_text(e->type);
	size_t left = e->room >= TTLV_HEADER_LEN ? e->room - TTLV_HEADER_LEN : 0;

	if (!size)
		return buf;
	describe(item, sizeof(item), e->tag, true, e->type, e->offset);
	if (e->has_parent)
		describe(parent, sizeof(parent), e->parent_tag, false, 0, e->parent_offset);
	else
		snprintf(parent, sizeof(parent), "the message");
	switch (e->fault) {
	case TTLV_FAULT_NONE:
		snprintf(buf, size, "no error");
		break;
	case TTLV_FAULT_SIZE:
		snprintf(buf, size, "the message is %zu bytes, over the size cap of %zu bytes",
			 e->room, e->limit);
		break;
	case TTLV_FAULT_HEADER:
		if (!e->has_parent && e->offset == 0)
			snprintf(buf, size, "%zu bytes: too short for an item header (8 bytes)",
				 e->room);
		else
			snprintf(buf, size, "at byte %zu, inside %s: %zu bytes left, too few for "
				 "an item header (8 bytes)", e->offset, parent, e->room);
		break;
	case TTLV_FAULT_OVERRUN:
		snprintf(buf, size, "%s: length %" PRIu32 "%s runs past the end of %s: "
			 "%zu bytes left", item, e->len,
			 e->len % 8 ? " (with padding to 8)" : "",
			 e->has_parent ? parent : "the input", left);
		break;
	case TTLV_FAULT_STRUCT_LEN:
		snprintf(buf, size, "%s: length %" PRIu32 ", not a multiple of 8", item, e->len);
		break;
	case TTLV_FAULT_FIXED_LEN:
		snprintf(buf, size, "%s: length %" PRIu32 ", a%s %s is %u bytes", item, e->len,
			 e->type == TTLV_INTEGER || e->type == TTLV_ENUM ||
			 e->type == TTLV_INTERVAL ? "n" : "", tn ? tn : "value",
			 fixed_len(e->type));
		break;
	case TTLV_FAULT_BIGINT_LEN:
		snprintf(buf, size, "%s: length %" PRIu32 ", a Big Integer is a non-zero "
			 "multiple of 8 bytes", item, e->len);
		break;
	case TTLV_FAULT_BOOL:
		snprintf(buf, size, "%s: value %" PRIu64 ", a Boolean is 0 or 1", item, e->value);
		break;
	case TTLV_FAULT_UTF8:
		snprintf(buf, size, "%s: not UTF-8 (or a NUL) at byte %zu", item, e->at);
		break;
	case TTLV_FAULT_TYPE:
		snprintf(buf, size, "%s: unknown item type 0x%02X", item, e->type);
		break;
	case TTLV_FAULT_PADDING:
		snprintf(buf, size, "%s: padding byte %zu is not zero", item, e->at);
		break;
	case TTLV_FAULT_DEPTH:
		snprintf(buf, size, "%s: nested deeper than %zu levels", item, e->limit);
		break;
	case TTLV_FAULT_TRAILING:
		snprintf(buf, size, "%zu bytes after the end of the message (at byte %zu)",
			 e->room, e->offset);
		break;
	default:
		snprintf(buf, size, "malformed at byte %zu", e->offset);
		break;
	}
	return buf;
}

/* ------------------------------------------------------------ damaged */

static void header_at(const uint8_t *p, struct ttlv_item *it)
{
	it->tag = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	it->type = p[3];
	it->len = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	it->value = p + TTLV_HEADER_LEN;
}

/*
 * The checked part of a damaged message: the items of [p, end), end being
 * at most where checking stopped.  An item that lies there whole and
 * decodes on its own is dumped as usual; a Structure that does not (it
 * holds a fault, or runs past `end`) is shown by name, then what of it lies
 * there, and nothing after it.  Every item is checked again before it is
 * walked: what was checked in the message's context (an overlong
 * Structure's children, which fill their parent) is not always a whole
 * item.  Children of a Structure shown by name see it cut to the part
 * shown, so that nothing (such as the Attribute Name lookup of a 1.x
 * Attribute Value) reads past it.  The depth of the nesting followed is
 * the depth checking reached, at most the depth cap.
 */
static void dump_checked(struct dump *d, const uint8_t *p, const uint8_t *end,
			 const struct ttlv_item *parent, unsigned level, bool in_kv)
{
	struct ttlv_limits lim = { .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item it, cut;
	const uint8_t *vend;
	size_t total;

	while (end - p >= (ptrdiff_t)TTLV_HEADER_LEN && level <= TTLV_MAX_DEPTH) {
		header_at(p, &it);
		total = TTLV_HEADER_LEN + TTLV_PAD(it.len);
		lim.max_len = total;
		if (total <= (size_t)(end - p) && ttlv_decode(p, total, &lim, &cut) == 0) {
			dump_item(d, &it, parent, level, in_kv);
			p += total;
			continue;
		}
		if (it.type != TTLV_STRUCTURE)
			break;
		indent(d->f, level);
		if (ttlv_tag_name(it.tag))
			fprintf(d->f, "%s\n", ttlv_tag_name(it.tag));
		else
			fprintf(d->f, "0x%06" PRIX32 "\n", it.tag);
		vend = it.len <= (size_t)(end - it.value) ? it.value + it.len : end;
		cut = it;
		cut.len = (uint32_t)(vend - it.value);
		dump_checked(d, it.value, vend, &cut, level + 1,
			     in_kv || it.tag == TAG_KEY_VALUE || it.tag == TAG_KEY_MATERIAL);
		break;
	}
}

int ttlv_text_dump(FILE *f, const uint8_t *buf, size_t len, size_t max_len,
		   bool show_secrets, struct ttlv_error *err)
{
	struct ttlv_limits lim = { .max_len = max_len ? max_len : TTLV_MAX_MESSAGE,
				   .max_depth = TTLV_MAX_DEPTH };
	struct dump d = { .f = f, .show = show_secrets };
	struct ttlv_error mine;
	struct ttlv_item root;
	char why[TTLV_ERROR_TEXT];
	int r;

	if (!err)
		err = &mine;
	r = ttlv_decode_detail(buf, len, &lim, &root, err);
	if (r == 0)
		return ttlv_text_dump_item(f, &root, 0, show_secrets);
	if (err->valid <= len)
		dump_checked(&d, buf, buf + err->valid, NULL, 0, false);
	indent(f, err->depth ? err->depth - 1 : 0);
	fprintf(f, "<malformed: %s>\n", ttlv_error_format(err, why, sizeof(why)));
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return r;
}
