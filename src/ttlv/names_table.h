/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal: the layout of the name tables that src/ttlv/gen-names.py writes
 * into names_table.c.  Only names.c reads them; everything else uses the
 * API in names.h.
 */
#ifndef KMIPCRYPT_TTLV_NAMES_TABLE_H
#define KMIPCRYPT_TTLV_NAMES_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* One name of one value.  A value with several names (1.4 and 2.1 spell it
 * differently) has several entries, the canonical (2.1) one first. */
struct tn_entry {
	uint32_t value;
	const char *name;	/* as the spec writes it: "Unique Identifier" */
	const char *xml;	/* XML/JSON spelling: "UniqueIdentifier" */
	uint8_t alias;		/* 0 for the canonical name of the value */
};

/* A spelling -> value.  Exact keys hold every spec and XML spelling; loose
 * keys are lower-case letters and digits only, ambiguous ones left out. */
struct tn_key {
	const char *key;
	uint32_t value;
};

enum { TN_ENUM = 0, TN_MASK = 1 };

struct tn_set {
	const char *name;
	const struct tn_entry *e;	/* sorted by value */
	size_t ne;
	const struct tn_key *k;		/* sorted by strcmp(key) */
	size_t nk;
	const struct tn_key *l;		/* loose keys, sorted by strcmp(key) */
	size_t nl;
	int kind;			/* TN_ENUM or TN_MASK */
};

/* The values of this tag's Enumeration are tags (2.x Attribute Reference). */
#define TN_SET_TAGS 0xFFFFu

struct tn_tagset {
	uint32_t tag;
	uint16_t set;			/* index into tn_sets, or TN_SET_TAGS */
};

extern const struct tn_set tn_tags;
extern const struct tn_set tn_sets[];
extern const unsigned tn_nsets;
extern const struct tn_tagset tn_tagsets[];	/* sorted by tag */
extern const unsigned tn_ntagsets;

#endif
