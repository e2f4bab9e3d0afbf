// SPDX-License-Identifier: LGPL-2.1-or-later
/* Terminal-safe text and text checks: see escape.h. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/escape.h"

size_t utf8_char_len(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	uint32_t cp;
	size_t n, k;

	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		cp = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		cp = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;	/* continuation byte, overlong lead C0/C1, or F5..FF */
	}
	if (len < n)
		return 0;
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* Is the valid character s[0..n) a C0 control, DEL or a C1 control? */
static bool is_control(const uint8_t *s, size_t n)
{
	if (n == 1)
		return s[0] < 0x20 || s[0] == 0x7F;
	return n == 2 && s[0] == 0xC2 && s[1] <= 0x9F;	/* U+0080..U+009F */
}

/*
 * The escape unit for s[0..len) into unit[8]: its length in *ulen, and the
 * number of input bytes it stands for (returned).  One byte of a control
 * or of invalid UTF-8 at a time: the rest of a C1 sequence is then a stray
 * continuation byte, escaped on the next call.
 */
static size_t next_unit(const char *s, size_t len, char unit[8], size_t *ulen)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = utf8_char_len(s, len);
	uint8_t c = (uint8_t)s[0];

	if (c == '\\') {
		memcpy(unit, "\\\\", 2);
		*ulen = 2;
		return 1;
	}
	if (n == 0 || is_control((const uint8_t *)s, n)) {
		unit[0] = '\\';
		unit[1] = 'x';
		unit[2] = digits[c >> 4];
		unit[3] = digits[c & 0xF];
		*ulen = 4;
		return 1;
	}
	memcpy(unit, s, n);
	*ulen = n;
	return n;
}

const char *text_escape(const char *s, char *out, size_t out_size)
{
	size_t len = strlen(s), i = 0, o = 0, cut = 0;
	char unit[8];

	while (i < len) {
		size_t ulen, used = next_unit(s + i, len - i, unit, &ulen);

		if (o + ulen >= out_size) {
			/*
			 * It does not fit with the NUL: "..." after the last unit
			 * that leaves room for it, or (out_size < 4) what fits.
			 */
			if (out_size >= 4) {
				memcpy(out + cut, "...", 3);
				o = cut + 3;
			}
			break;
		}
		memcpy(out + o, unit, ulen);
		o += ulen;
		i += used;
		if (o + 4 <= out_size)
			cut = o;
	}
	out[o] = '\0';
	return out;
}

bool text_is_printable(const char *s)
{
	size_t len = strlen(s), i = 0;

	while (i < len) {
		size_t n = utf8_char_len(s + i, len - i);

		if (n == 0 || is_control((const uint8_t *)s + i, n))
			return false;
		i += n;
	}
	return true;
}

int json_text_fputs(const char *json, FILE *f)
{
	size_t len = strlen(json), i = 0;

	while (i < len) {
		uint8_t c = (uint8_t)json[i];
		size_t n;

		if (c < 0x80 && c != 0x7F) {
			size_t run = 1;

			/* Plain ASCII in one write. */
			while (i + run < len && (uint8_t)json[i + run] < 0x7F)
				run++;
			fwrite(json + i, 1, run, f);
			i += run;
			continue;
		}
		n = utf8_char_len(json + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
		} else if (is_control((const uint8_t *)json + i, n)) {
			fprintf(f, "\\u%04x", n == 1 ? c : (uint8_t)json[i + 1]);
			i += n;
		} else {
			fwrite(json + i, 1, n, f);
			i += n;
		}
	}
	return ferror(f) ? -EIO : 0;
}
