/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The KMIP XML encoding (KMIP Profiles, "XML Encoding"), as used by the
 * OASIS test cases: one element per item, named by the tag's XML name
 * (<UniqueIdentifier>), or <TTLV tag="0x540001"> for a tag without a name;
 * type="..." (absent for a Structure) and value="...":
 *
 *   Integer       decimal, "0x" + hex, or for a bit mask tag the flag names
 *                 separated by spaces ("Encrypt Decrypt")
 *   LongInteger   decimal or "0x" + hex
 *   BigInteger    hex (optional "0x"): the two's complement bytes,
 *                 sign-extended to a multiple of 8 bytes
 *   Enumeration   the value's name ("SymmetricKey") or "0x0000000A"; for
 *                 Attribute Reference (2.x) a tag name ("State")
 *   Boolean       "true" / "false" (or "0x0"/"0x1")
 *   TextString    the text
 *   ByteString    hex
 *   DateTime      ISO 8601 "2001-01-01T10:00:00+00:00" ("Z" and other
 *                 offsets accepted), or "0x" + hex seconds
 *   Interval      decimal or "0x" + hex
 *   DateTimeExtended  ISO 8601 with up to 6 fraction digits, or hex us
 *
 * In a 1.x Attribute the Attribute Value's Enumeration / mask is named by
 * the sibling Attribute Name ("State" -> "Active").
 *
 * Test-case placeholders: a DateTime (Extended) "$NOW", "$NOW-3600",
 * "$NOW+60" becomes opts->now plus the offset.  Other placeholders stay
 * as they are: text in a TextString; in a ByteString ("$KEY_MATERIAL_0")
 * the ASCII bytes of the placeholder, which the writer turns back into
 * the placeholder, so that test-case files convert both ways.
 *
 * The parser is strict: an unknown element, an unknown attribute, text
 * inside a message, a missing or malformed value is an error naming the
 * file and line; nothing is silently dropped.  Text directly under <KMIP>,
 * between messages, belongs to no message and is skipped: the OASIS test
 * cases of KMIP 1.0 to 1.2 annotate their steps there ("# TIME 0",
 * "[Client-A]", "[Server-to-Client]", line numbers).  Documents with a DTD
 * are refused (no entity expansion, no external loads).
 */
#ifndef KMIPCRYPT_TTLV_XML_H
#define KMIPCRYPT_TTLV_XML_H

#include <stdint.h>
#include <stdio.h>

#include "ttlv/ttlv.h"

/* Size cap of one message parsed from XML (Query responses get large). */
#define TTLV_XML_MAX_MESSAGE	(1024u * 1024u)
/* Size cap of an XML document. */
#define TTLV_XML_MAX_DOCUMENT	(16u * 1024u * 1024u)

/* A list of encoded messages; each buffer lives in locked memory. */
struct ttlv_msgs {
	struct ttlv_buf *msg;
	size_t n;
	size_t cap;
};

void ttlv_msgs_init(struct ttlv_msgs *l);
/* Wipe and free every message; the list is empty and reusable after. */
void ttlv_msgs_free(struct ttlv_msgs *l);
/*
 * Append a copy of the validated message buf[0..len) (any TTLV item).
 * max: size cap (0: TTLV_XML_MAX_MESSAGE).  0 or -errno.
 */
int ttlv_msgs_add(struct ttlv_msgs *l, const uint8_t *buf, size_t len, size_t max);

struct ttlv_xml_opts {
	int64_t now;		/* POSIX seconds that "$NOW" stands for */
	size_t max_msg;		/* size cap of one message, 0: TTLV_XML_MAX_MESSAGE */
};

/*
 * Parse XML text into messages, appended to *out.  The document is either
 * a <KMIP> element whose child elements are the messages (any tag, in
 * practice RequestMessage / ResponseMessage), or a single message element.
 * name is used in error messages (a file name).  On error nothing is
 * appended, the error is logged (name:line: what) and returned:
 * -EINVAL (bad XML or content), -EMSGSIZE, -ELOOP (too deep), -ENOMEM.
 */
int ttlv_xml_parse(const char *xml, size_t len, const char *name,
		   const struct ttlv_xml_opts *opts, struct ttlv_msgs *out);
/* The same for a file (at most TTLV_XML_MAX_DOCUMENT bytes). */
int ttlv_xml_parse_file(const char *path, const struct ttlv_xml_opts *opts,
			struct ttlv_msgs *out);

/*
 * Write one validated item (a message) as XML, indented by two spaces per
 * level, starting at indentation level `level`.  0, -EIO (write error), or
 * -EILSEQ when a Text String holds a character XML 1.0 cannot carry.
 */
int ttlv_xml_write_item(FILE *f, const struct ttlv_item *root, unsigned level);
/* Decode buf[0..len) (size cap TTLV_XML_MAX_MESSAGE) and write it. */
int ttlv_xml_write(FILE *f, const uint8_t *buf, size_t len, unsigned level);

#endif
