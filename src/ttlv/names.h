/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names of TTLV tags, item types, enumeration values and bit mask flags,
 * both as the KMIP specification writes them ("Unique Identifier",
 * "Wrap Key") and as the XML/JSON encodings of the KMIP Profiles write them
 * ("UniqueIdentifier", "WrapKey").
 *
 * The tables (src/ttlv/names_table.c) are generated from the 1.4 and 2.1
 * specifications by src/ttlv/gen-names.py.  A value that 1.4 and 2.1 name
 * differently has both names; the 2.1 one is canonical (returned by the
 * *_name() functions), both are accepted by the *_by_name() functions.
 * XML spellings follow the normalization rule of the KMIP Profiles' XML
 * encoding, except where the OASIS test cases spell a name otherwise
 * (HMAC_SHA256, not the rule's HMACSHA256): the *_xml_name() functions
 * return the OASIS spelling, and the rule's is still read.  Every tag,
 * Enumeration and mask name of the OASIS XML files comes back as the
 * files spell it (tests/unit/test_xml_roundtrip.c).
 *
 * Lookups are binary searches over constant tables: no allocation, no
 * global state, thread-safe.  Name lookups accept, in this order, an exact
 * spec or XML spelling, a hex number ("0x420094"), and a loose spelling
 * (case, spaces and punctuation ignored: "unique-identifier") when it is
 * not ambiguous.
 */
#ifndef KMIPCRYPT_TTLV_NAMES_H
#define KMIPCRYPT_TTLV_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct ttlv_item;

/* Frequently used tags (spec v1.4 9.1.3.1, v2.1 11.56). */
#define TAG_ATTRIBUTE			0x420008u
#define TAG_ATTRIBUTE_NAME		0x42000Au
#define TAG_ATTRIBUTE_VALUE		0x42000Bu
#define TAG_BATCH_ITEM			0x42000Fu
#define TAG_CRYPTOGRAPHIC_USAGE_MASK	0x42002Cu
#define TAG_DATA			0x4200C2u
#define TAG_IV_COUNTER_NONCE		0x42003Du
#define TAG_KEY_BLOCK			0x420040u
#define TAG_KEY_MATERIAL		0x420043u
#define TAG_KEY_VALUE			0x420045u
#define TAG_OPERATION			0x42005Cu
#define TAG_PASSWORD			0x4200A1u
#define TAG_REQUEST_MESSAGE		0x420078u
#define TAG_RESPONSE_MESSAGE		0x42007Bu
#define TAG_SECRET_DATA			0x420085u
#define TAG_UNIQUE_IDENTIFIER		0x420094u
#define TAG_ATTRIBUTE_REFERENCE		0x42013Bu

/* ------------------------------------------------------------------ tags */

/* "Unique Identifier", or NULL for a tag with no name (extensions). */
const char *ttlv_tag_name(uint32_t tag);
/* "UniqueIdentifier", or NULL. */
const char *ttlv_tag_xml_name(uint32_t tag);
/*
 * "Unique Identifier", "UniqueIdentifier", a 1.x name, "0x420094" (up to
 * 0xFFFFFF) or a loose spelling.  0, -ENOENT (unknown name), -EINVAL
 * (NULL, empty, or a malformed / too large hex number).
 */
int ttlv_tag_by_name(const char *name, uint32_t *tag);

/* ----------------------------------------------------------------- types */

/* XML type names: "Structure", "Integer", "LongInteger", "BigInteger",
 * "Enumeration", "Boolean", "TextString", "ByteString", "DateTime",
 * "Interval", "DateTimeExtended"; NULL for an unknown type. */
const char *ttlv_type_name(uint8_t type);
/* Spec spelling for people: "Long Integer", "Text String", ... or NULL. */
const char *ttlv_type_text(uint8_t type);
/* Either spelling (exact), or "0x07".  0, -ENOENT, -EINVAL. */
int ttlv_type_by_name(const char *name, uint8_t *type);

/* ----------------------------------------------------------- enumerations */

enum ttlv_value_names {
	TTLV_NAMES_NONE = 0,	/* the tag's value has no symbolic names */
	TTLV_NAMES_ENUM,	/* an Enumeration with named values */
	TTLV_NAMES_MASK,	/* an Integer bit mask with named flags */
	TTLV_NAMES_TAG,		/* an Enumeration whose values are tags */
};

/* How the value of an item with this tag is named. */
enum ttlv_value_names ttlv_tag_value_names(uint32_t tag);
/* Name of the enumeration or mask the tag's value uses ("Hashing
 * Algorithm" for Mask Generator Hashing Algorithm), "Tag", or NULL. */
const char *ttlv_enum_set_name(uint32_t tag);
/*
 * The tag whose names the value of item `it` (a child of `parent`, NULL
 * for a root) takes: its own tag, except for a 1.x Attribute Value, which
 * is named by the Attribute Name beside it ("State" -> State's values).
 */
uint32_t ttlv_value_tag(const struct ttlv_item *it, const struct ttlv_item *parent);

/* Canonical spec / XML name of an Enumeration value of this tag, or NULL. */
const char *ttlv_enum_name(uint32_t tag, uint32_t value);
const char *ttlv_enum_xml_name(uint32_t tag, uint32_t value);
/*
 * Any spelling of a value of this tag's enumeration, or hex "0x0000000A"
 * (1 to 8 digits; accepted for every tag).  0, -ENOENT, -EINVAL.
 */
int ttlv_enum_by_name(uint32_t tag, const char *name, uint32_t *value);

/* ------------------------------------------------------------- bit masks */

enum ttlv_mask_style {
	/*
	 * XML: flag names in XML spelling separated by one space, lowest bit
	 * first ("Encrypt Decrypt").  A value with a bit that has no name is
	 * written whole in hex ("0x00000404") so that it reads back exactly;
	 * 0 is "0".
	 */
	TTLV_MASK_XML,
	/* People: spec names joined by " | " ("Wrap Key | Unwrap Key"), bits
	 * without a name appended in hex; 0 is "0". */
	TTLV_MASK_TEXT,
};

/*
 * Write the flag names of a mask value of this tag into buf (always
 * NUL-terminated when size > 0).  Returns the length, -ENOENT if the tag
 * is not a bit mask, -ENOSPC if buf is too small.
 */
int ttlv_mask_format(uint32_t tag, uint32_t value, enum ttlv_mask_style style,
		     char *buf, size_t size);
/*
 * Parse a mask of this tag: flag names separated by white space (XML), or
 * by '|' (then spec spellings with spaces work too); each flag may also be
 * a hex number.  A whole decimal number ("12") is accepted as well.
 * 0, -ENOENT (unknown flag, or the tag is not a mask), -EINVAL.
 */
int ttlv_mask_parse(uint32_t tag, const char *s, uint32_t *value);

#endif
