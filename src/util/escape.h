/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Text that came from the KMS or a disk header, made safe for a terminal,
 * and text that goes to the KMS, checked before it is sent.
 *
 * A value printed raw could move the cursor, clear the screen, retitle the
 * window or answer back through the terminal (ESC [ ... and the 8-bit CSI
 * U+009B), or break one value over several lines.  Every value from the
 * server or a header goes through text_escape() (text) or json_text_fputs()
 * (JSON) before it reaches standard output; log lines have their own rule
 * (util/log.h: controls become '?').
 *
 * "Control" here means: a C0 control (U+0000..U+001F), DEL (U+007F), or a
 * C1 control (U+0080..U+009F, the UTF-8 bytes C2 80..C2 9F).  Other valid
 * UTF-8 (accented letters, CJK, ...) is printable and passes unchanged.
 */
#ifndef KMIPCRYPT_ESCAPE_H
#define KMIPCRYPT_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * The length of the valid UTF-8 character at s[0..len): 1 to 4, or 0 when
 * s does not start one (a continuation byte, an overlong form, a surrogate,
 * more than U+10FFFF, a sequence cut short, len == 0).  A NUL byte is a
 * character of length 1 here (callers decide about it).
 */
size_t utf8_char_len(const char *s, size_t len);

/* The size text_escape() needs for an input of len bytes, NUL included. */
#define TEXT_ESCAPED_SIZE(len)	(4 * (size_t)(len) + 1)

/*
 * s (NUL-terminated) as text that a terminal shows and never obeys, on one
 * line, into out[0..out_size), NUL-terminated; returns out.  Printable
 * ASCII and valid UTF-8 other than controls are copied; a backslash becomes
 * "\\"; each byte of a control or of invalid UTF-8 becomes "\xNN" (two
 * lower-case hex digits: ESC is "\x1b", U+009B is "\xc2\x9b").  So the
 * result reads back unambiguously.  With out_size >= TEXT_ESCAPED_SIZE(
 * strlen(s)) all of s fits; otherwise the text is cut between two
 * characters (never inside an escape or a UTF-8 sequence) and ends in
 * "..." when out_size allows it.  out_size must be at least 1.
 */
const char *text_escape(const char *s, char *out, size_t out_size);

/*
 * Is s (NUL-terminated) text that prints as it is: valid UTF-8 without any
 * control?  What options such as --name and --object-group accept, so that
 * nothing kmipcrypt stores on the KMS can reach another tool's terminal.
 * The empty string is printable (callers that need a value check that).
 */
bool text_is_printable(const char *s);

/*
 * Write json (JSON text as json-c writes it) to f with the characters that
 * json-c leaves raw escaped too: DEL and C1 controls as \u007f and
 * \u0080..\u009f, and each byte of invalid UTF-8 as \ufffd (JSON text is
 * UTF-8; the byte cannot be kept).  json-c escapes C0 controls itself.
 * Outside strings JSON text is ASCII, so only string contents change, and
 * a JSON reader gets the same characters back.  No newline is added.
 * Returns 0, or -EIO when writing to f failed.
 */
int json_text_fputs(const char *json, FILE *f);

#endif
