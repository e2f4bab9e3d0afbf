/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tag, type, enumeration and mask names: lookups both ways, the 1.4/2.1
 * aliases, the XML and loose spellings, unknown names, and the shape of
 * the generated tables (sorted, every spelling finds its value).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ttlv/names.h"
#include "ttlv/names_table.h"
#include "ttlv/ttlv.h"

#define TAG_STATE		0x42008Du
#define TAG_HASHING_ALGORITHM	0x420038u
#define TAG_CRYPTO_ALGORITHM	0x420028u
#define TAG_RESULT_REASON	0x42007Eu
#define TAG_MASK_GENERATOR	0x420101u
#define TAG_MGF_HASH		0x420102u
#define TAG_DSA			0x4200AEu
#define TAG_STORAGE_STATUS_MASK	0x42008Eu
#define TAG_BATCH_COUNT		0x42000Du
#define TAG_PKCS11_FUNCTION	0x42015Au

static uint32_t tag_of(const char *name)
{
	uint32_t t = 0;

	assert_int_equal(ttlv_tag_by_name(name, &t), 0);
	return t;
}

static uint32_t enum_of(uint32_t tag, const char *name)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(ttlv_enum_by_name(tag, name, &v), 0);
	return v;
}

static void test_tags(void **state)
{
	uint32_t t;

	(void)state;
	assert_string_equal(ttlv_tag_name(TAG_UNIQUE_IDENTIFIER), "Unique Identifier");
	assert_string_equal(ttlv_tag_xml_name(TAG_UNIQUE_IDENTIFIER), "UniqueIdentifier");
	assert_string_equal(ttlv_tag_name(0x42003D), "IV/Counter/Nonce");
	assert_string_equal(ttlv_tag_xml_name(0x42003D), "IVCounterNonce");
	assert_string_equal(ttlv_tag_xml_name(0x42015A), "PKCS_11Function");
	assert_string_equal(ttlv_tag_xml_name(0x420014), "CertificateIdentifier");

	assert_int_equal(tag_of("Unique Identifier"), TAG_UNIQUE_IDENTIFIER);
	assert_int_equal(tag_of("UniqueIdentifier"), TAG_UNIQUE_IDENTIFIER);
	assert_int_equal(tag_of("0x420094"), TAG_UNIQUE_IDENTIFIER);
	assert_int_equal(tag_of("0x00420094"), TAG_UNIQUE_IDENTIFIER);
	assert_int_equal(tag_of("unique-identifier"), TAG_UNIQUE_IDENTIFIER);
	assert_int_equal(tag_of("0x540001"), 0x540001);	/* extensions have no name */
	/* 1.x only (reserved in 2.x) and 2.x only. */
	assert_int_equal(tag_of("Template-Attribute"), 0x420091);
	assert_int_equal(tag_of("TemplateAttribute"), 0x420091);
	assert_int_equal(tag_of("Attribute Reference"), TAG_ATTRIBUTE_REFERENCE);
	assert_int_equal(tag_of("Cryptographic Usage Mask"), TAG_CRYPTOGRAPHIC_USAGE_MASK);

	/* Unknown and malformed. */
	assert_null(ttlv_tag_name(0x540001));
	assert_null(ttlv_tag_xml_name(0));
	assert_null(ttlv_tag_name(0x42FFFF));
	assert_int_equal(ttlv_tag_by_name("No Such Tag", &t), -ENOENT);
	assert_int_equal(ttlv_tag_by_name("x-ID", &t), -ENOENT);
	assert_int_equal(ttlv_tag_by_name("", &t), -EINVAL);
	assert_int_equal(ttlv_tag_by_name(NULL, &t), -EINVAL);
	assert_int_equal(ttlv_tag_by_name("0x", &t), -EINVAL);
	assert_int_equal(ttlv_tag_by_name("0x1000000", &t), -EINVAL);
	/* Tag 0 is three bytes like any other: what the decoder takes, XML carries. */
	assert_int_equal(ttlv_tag_by_name("0x000000", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(ttlv_tag_by_name("0x42009G", &t), -EINVAL);
	assert_int_equal(ttlv_tag_by_name("0x000000420094", &t), -EINVAL);
}

static void test_types(void **state)
{
	uint8_t ty;

	(void)state;
	assert_string_equal(ttlv_type_name(TTLV_STRUCTURE), "Structure");
	assert_string_equal(ttlv_type_name(TTLV_LONG), "LongInteger");
	assert_string_equal(ttlv_type_name(TTLV_TEXT), "TextString");
	assert_string_equal(ttlv_type_name(TTLV_DATETIME_EXT), "DateTimeExtended");
	assert_string_equal(ttlv_type_text(TTLV_BYTES), "Byte String");
	assert_null(ttlv_type_name(0));
	assert_null(ttlv_type_name(0x0C));
	assert_null(ttlv_type_text(0xFF));

	assert_int_equal(ttlv_type_by_name("BigInteger", &ty), 0);
	assert_int_equal(ty, TTLV_BIGINT);
	assert_int_equal(ttlv_type_by_name("Text String", &ty), 0);
	assert_int_equal(ty, TTLV_TEXT);
	assert_int_equal(ttlv_type_by_name("0x0A", &ty), 0);
	assert_int_equal(ty, TTLV_INTERVAL);
	assert_int_equal(ttlv_type_by_name("Float", &ty), -ENOENT);
	assert_int_equal(ttlv_type_by_name("0x0C", &ty), -ENOENT);
	assert_int_equal(ttlv_type_by_name("0x00", &ty), -ENOENT);
	assert_int_equal(ttlv_type_by_name("", &ty), -EINVAL);
}

static void test_enums(void **state)
{
	uint32_t v;

	(void)state;
	assert_string_equal(ttlv_enum_name(TAG_STATE, 1), "Pre-Active");
	assert_string_equal(ttlv_enum_xml_name(TAG_STATE, 1), "PreActive");
	assert_string_equal(ttlv_enum_name(TAG_OPERATION, 0x0A), "Get");
	assert_int_equal(enum_of(TAG_STATE, "PreActive"), 1);
	assert_int_equal(enum_of(TAG_STATE, "Pre-Active"), 1);
	assert_int_equal(enum_of(TAG_STATE, "pre active"), 1);
	assert_int_equal(enum_of(TAG_STATE, "0x00000001"), 1);
	assert_int_equal(enum_of(TAG_STATE, "0x80000001"), 0x80000001);
	assert_int_equal(enum_of(TAG_OPERATION, "GetAttributes"), 0x0B);
	assert_int_equal(enum_of(TAG_OPERATION, "Get Attributes"), 0x0B);
	assert_int_equal(enum_of(TAG_OPERATION, "PKCS_11"), 0x33);
	assert_int_equal(enum_of(TAG_CRYPTO_ALGORITHM, "3DES"), 2);
	assert_int_equal(enum_of(TAG_CRYPTO_ALGORITHM, "DES3"), 2);
	assert_string_equal(ttlv_enum_xml_name(TAG_CRYPTO_ALGORITHM, 2), "DES3");
	assert_string_equal(ttlv_enum_xml_name(TAG_HASHING_ALGORITHM, 6), "SHA_256");
	assert_string_equal(ttlv_enum_xml_name(0x42001D, 1), "X_509");	/* Certificate Type */
	assert_string_equal(ttlv_enum_xml_name(0x420042, 3), "PKCS_1");	/* Key Format Type */

	/* The same set under another tag. */
	assert_string_equal(ttlv_enum_set_name(TAG_MGF_HASH), "Hashing Algorithm");
	assert_string_equal(ttlv_enum_name(TAG_MGF_HASH, 6), "SHA-256");
	assert_int_equal(enum_of(TAG_MGF_HASH, "SHA_512"), 8);

	/* 2.x Attribute Reference: the values are tags. */
	assert_int_equal(ttlv_tag_value_names(TAG_ATTRIBUTE_REFERENCE), TTLV_NAMES_TAG);
	assert_string_equal(ttlv_enum_set_name(TAG_ATTRIBUTE_REFERENCE), "Tag");
	assert_string_equal(ttlv_enum_name(TAG_ATTRIBUTE_REFERENCE, TAG_STATE), "State");
	assert_string_equal(ttlv_enum_xml_name(TAG_ATTRIBUTE_REFERENCE, 0x42002C),
			    "CryptographicUsageMask");
	assert_int_equal(enum_of(TAG_ATTRIBUTE_REFERENCE, "CryptographicUsageMask"), 0x42002C);
	assert_int_equal(enum_of(TAG_ATTRIBUTE_REFERENCE, "0x80000000"), 0x80000000);
	assert_null(ttlv_enum_name(TAG_ATTRIBUTE_REFERENCE, 0x80000000));

	/* PKCS#11 functions (defined by reference to PKCS#11). */
	assert_int_equal(enum_of(TAG_PKCS11_FUNCTION, "C_Initialize"), 1);
	assert_int_equal(enum_of(TAG_PKCS11_FUNCTION, "C_GetInfo"), 3);
	assert_string_equal(ttlv_enum_name(TAG_PKCS11_FUNCTION, 68), "C_WaitForSlotEvent");

	/* Kinds. */
	assert_int_equal(ttlv_tag_value_names(TAG_STATE), TTLV_NAMES_ENUM);
	assert_int_equal(ttlv_tag_value_names(TAG_CRYPTOGRAPHIC_USAGE_MASK), TTLV_NAMES_MASK);
	assert_int_equal(ttlv_tag_value_names(TAG_BATCH_COUNT), TTLV_NAMES_NONE);
	assert_null(ttlv_enum_set_name(TAG_BATCH_COUNT));

	/* Unknown. */
	assert_null(ttlv_enum_name(TAG_STATE, 99));
	assert_null(ttlv_enum_name(TAG_BATCH_COUNT, 1));
	assert_null(ttlv_enum_name(TAG_CRYPTOGRAPHIC_USAGE_MASK, 4));	/* a mask */
	assert_int_equal(ttlv_enum_by_name(TAG_STATE, "Sleepy", &v), -ENOENT);
	assert_int_equal(ttlv_enum_by_name(TAG_STATE, "", &v), -EINVAL);
	assert_int_equal(ttlv_enum_by_name(TAG_STATE, "0x100000000", &v), -EINVAL);
	assert_int_equal(ttlv_enum_by_name(TAG_BATCH_COUNT, "Active", &v), -ENOENT);
	assert_int_equal(enum_of(TAG_BATCH_COUNT, "0x2"), 2);
}

/* Where 1.4 and 2.1 spell a value differently, both parse, 2.1 prints. */
static void test_aliases(void **state)
{
	(void)state;
	assert_string_equal(ttlv_enum_name(TAG_HASHING_ALGORITHM, 0x0E), "SHA3-224");
	assert_int_equal(enum_of(TAG_HASHING_ALGORITHM, "SHA-3-224"), 0x0E);	/* 1.4 */
	assert_int_equal(enum_of(TAG_HASHING_ALGORITHM, "SHA_3_224"), 0x0E);
	assert_int_equal(enum_of(TAG_HASHING_ALGORITHM, "SHA3_224"), 0x0E);
	assert_string_equal(ttlv_enum_name(TAG_RESULT_REASON, 0x0D), "Object Archived");
	assert_int_equal(enum_of(TAG_RESULT_REASON, "Object archived"), 0x0D);
	assert_string_equal(ttlv_enum_name(TAG_DSA, 1), "MD2 with RSA Encryption");
	assert_int_equal(enum_of(TAG_DSA, "MD2 with RSA Encryption (PKCS#1 v1.5)"), 1);
	assert_int_equal(enum_of(TAG_DSA, "MD2WithRSAEncryptionPKCS_1V1_5"), 1);
	/* 2.1 has the typo "MFG1"; the test cases of both versions say MGF1. */
	assert_string_equal(ttlv_enum_xml_name(TAG_MASK_GENERATOR, 1), "MGF1");
	assert_int_equal(enum_of(TAG_MASK_GENERATOR, "MFG1"), 1);
	/*
	 * The HMAC algorithms are written as the OASIS test cases spell them
	 * (HMAC_SHA256); the normalization rule's spelling, which earlier
	 * versions wrote, is still read.
	 */
	assert_string_equal(ttlv_enum_name(TAG_CRYPTO_ALGORITHM, 9), "HMAC-SHA256");
	assert_string_equal(ttlv_enum_xml_name(TAG_CRYPTO_ALGORITHM, 9), "HMAC_SHA256");
	assert_string_equal(ttlv_enum_xml_name(TAG_CRYPTO_ALGORITHM, 7), "HMAC_SHA1");
	assert_string_equal(ttlv_enum_xml_name(TAG_CRYPTO_ALGORITHM, 0x0C), "HMAC_MD5");
	assert_string_equal(ttlv_enum_xml_name(TAG_CRYPTO_ALGORITHM, 0x24), "HMAC_SHA3_256");
	assert_int_equal(enum_of(TAG_CRYPTO_ALGORITHM, "HMAC_SHA256"), 9);
	assert_int_equal(enum_of(TAG_CRYPTO_ALGORITHM, "HMACSHA256"), 9);
	assert_int_equal(enum_of(TAG_CRYPTO_ALGORITHM, "HMACSHA3_256"), 0x24);
	assert_int_equal(enum_of(TAG_CRYPTO_ALGORITHM, "HMAC-SHA256"), 9);
}

static void test_masks(void **state)
{
	const uint32_t cum = TAG_CRYPTOGRAPHIC_USAGE_MASK;
	char buf[256];
	uint32_t v;

	(void)state;
	assert_int_equal(ttlv_mask_format(cum, 0x0C, TTLV_MASK_XML, buf, sizeof(buf)), 15);
	assert_string_equal(buf, "Encrypt Decrypt");
	assert_true(ttlv_mask_format(cum, 0x30, TTLV_MASK_TEXT, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "Wrap Key | Unwrap Key");
	/* A bit without a name: XML writes the whole value in hex. */
	assert_true(ttlv_mask_format(cum, 0x01000004, TTLV_MASK_XML, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "0x01000004");
	assert_true(ttlv_mask_format(cum, 0x01000004, TTLV_MASK_TEXT, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "Encrypt | 0x01000000");
	assert_int_equal(ttlv_mask_format(cum, 0, TTLV_MASK_XML, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "0");
	assert_int_equal(ttlv_mask_format(cum, 0x0C, TTLV_MASK_XML, buf, 15), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(ttlv_mask_format(cum, 0x0C, TTLV_MASK_XML, buf, 0), -ENOSPC);
	assert_int_equal(ttlv_mask_format(TAG_STATE, 1, TTLV_MASK_XML, buf, sizeof(buf)), -ENOENT);
	assert_true(ttlv_mask_format(TAG_STORAGE_STATUS_MASK, 3, TTLV_MASK_XML, buf,
				     sizeof(buf)) > 0);
	assert_string_equal(buf, "OnLineStorage ArchivalStorage");

	assert_int_equal(ttlv_mask_parse(cum, "Encrypt Decrypt", &v), 0);
	assert_int_equal(v, 0x0C);
	assert_int_equal(ttlv_mask_parse(cum, " Decrypt\n\tEncrypt ", &v), 0);
	assert_int_equal(v, 0x0C);
	assert_int_equal(ttlv_mask_parse(cum, "Wrap Key | Unwrap Key", &v), 0);
	assert_int_equal(v, 0x30);
	assert_int_equal(ttlv_mask_parse(cum, "WrapKey|UnwrapKey", &v), 0);
	assert_int_equal(v, 0x30);
	assert_int_equal(ttlv_mask_parse(cum, "12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(ttlv_mask_parse(cum, "0x10 Encrypt", &v), 0);
	assert_int_equal(v, 0x14);
	assert_int_equal(ttlv_mask_parse(cum, "Bogus", &v), -ENOENT);
	assert_int_equal(ttlv_mask_parse(cum, "Encrypt Bogus", &v), -ENOENT);
	assert_int_equal(ttlv_mask_parse(cum, "", &v), -EINVAL);
	assert_int_equal(ttlv_mask_parse(cum, "   ", &v), -EINVAL);
	assert_int_equal(ttlv_mask_parse(cum, "Encrypt|", &v), -EINVAL);
	assert_int_equal(ttlv_mask_parse(cum, "|Encrypt", &v), -EINVAL);
	assert_int_equal(ttlv_mask_parse(cum, "4294967296", &v), -EINVAL);
	assert_int_equal(ttlv_mask_parse(TAG_STATE, "Active", &v), -ENOENT);
}

/* Every table sorted, every spelling of every value found again. */
static void check_set(const struct tn_set *s, bool tags)
{
	size_t i;
	uint32_t v;

	for (i = 1; i < s->ne; i++) {
		assert_true(s->e[i - 1].value <= s->e[i].value);
		/* The canonical name comes first. */
		if (s->e[i - 1].value != s->e[i].value)
			assert_int_equal(s->e[i].alias, 0);
		else
			assert_int_equal(s->e[i].alias, 1);
	}
	if (s->ne)
		assert_int_equal(s->e[0].alias, 0);
	for (i = 1; i < s->nk; i++)
		assert_true(strcmp(s->k[i - 1].key, s->k[i].key) < 0);
	for (i = 1; i < s->nl; i++)
		assert_true(strcmp(s->l[i - 1].key, s->l[i].key) < 0);
	if (!tags)
		return;
	for (i = 0; i < s->ne; i++) {
		assert_int_equal(ttlv_tag_by_name(s->e[i].name, &v), 0);
		assert_int_equal(v, s->e[i].value);
		assert_int_equal(ttlv_tag_by_name(s->e[i].xml, &v), 0);
		assert_int_equal(v, s->e[i].value);
	}
}

static void test_tables(void **state)
{
	size_t i, j, nenum = 0, nmask = 0;
	uint32_t v;
	char buf[64];

	(void)state;
	/* 292 tags in 1.4, 354 in 2.1, 371 values in all. */
	check_set(&tn_tags, true);
	for (i = 0, j = 0; i < tn_tags.ne; i++)
		j += !tn_tags.e[i].alias;
	assert_int_equal(j, 371);

	for (i = 0; i < tn_nsets; i++) {
		check_set(&tn_sets[i], false);
		if (tn_sets[i].kind == TN_MASK)
			nmask++;
		else
			nenum++;
	}
	assert_int_equal(nmask, 3);
	assert_int_equal(nenum, 63);

	for (i = 1; i < tn_ntagsets; i++)
		assert_true(tn_tagsets[i - 1].tag < tn_tagsets[i].tag);
	/* Through the public API: every name of every enumeration of every tag. */
	for (i = 0; i < tn_ntagsets; i++) {
		const struct tn_set *s;
		uint32_t tag = tn_tagsets[i].tag;

		if (tn_tagsets[i].set == TN_SET_TAGS)
			continue;
		assert_true(tn_tagsets[i].set < tn_nsets);
		s = &tn_sets[tn_tagsets[i].set];
		for (j = 0; j < s->ne; j++) {
			if (s->kind == TN_MASK) {
				assert_int_equal(ttlv_mask_parse(tag, s->e[j].xml, &v), 0);
				assert_int_equal(v, s->e[j].value);
				continue;
			}
			assert_int_equal(ttlv_enum_by_name(tag, s->e[j].name, &v), 0);
			assert_int_equal(v, s->e[j].value);
			assert_int_equal(ttlv_enum_by_name(tag, s->e[j].xml, &v), 0);
			assert_int_equal(v, s->e[j].value);
			if (!s->e[j].alias)
				assert_string_equal(ttlv_enum_xml_name(tag, v), s->e[j].xml);
			snprintf(buf, sizeof(buf), "0x%08X", s->e[j].value);
			assert_int_equal(ttlv_enum_by_name(tag, buf, &v), 0);
			assert_int_equal(v, s->e[j].value);
		}
	}
}

/* A 1.x Attribute Value is named by its sibling Attribute Name. */
static void test_value_tag(void **state)
{
	static const struct ttlv_limits lim = { .max_len = 1024, .max_depth = 4 };
	static const char *const names[] = { "State", "Nonsense", NULL };
	uint8_t mem[256];
	struct ttlv_buf b;
	struct ttlv_item root, av, an;
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++) {
		ttlv_buf_init_fixed(&b, mem, sizeof(mem));
		ttlv_begin(&b, TAG_ATTRIBUTE);
		if (names[i])
			ttlv_put_str(&b, TAG_ATTRIBUTE_NAME, names[i]);
		ttlv_put_enum(&b, TAG_ATTRIBUTE_VALUE, 2);
		ttlv_end(&b);
		assert_int_equal(b.err, 0);
		assert_int_equal(ttlv_decode(mem, b.len, &lim, &root), 0);
		assert_int_equal(ttlv_find(&root, TAG_ATTRIBUTE_VALUE, &av), 0);
		/* Only a known name counts; otherwise the item's own tag. */
		assert_int_equal(ttlv_value_tag(&av, &root),
				 i == 0 ? TAG_STATE : TAG_ATTRIBUTE_VALUE);
		assert_int_equal(ttlv_value_tag(&av, NULL), TAG_ATTRIBUTE_VALUE);
		assert_int_equal(ttlv_value_tag(&root, NULL), TAG_ATTRIBUTE);
		if (names[i]) {
			assert_int_equal(ttlv_find(&root, TAG_ATTRIBUTE_NAME, &an), 0);
			assert_int_equal(ttlv_value_tag(&an, &root), TAG_ATTRIBUTE_NAME);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_value_tag),
	};

	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
