/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the KMIP XML encoding (src/ttlv/xml.c), both ways.
 *
 *   input starting with 'B': the rest is binary TTLV.  If it decodes,
 *       ttlv_xml_write() it (0, or -EILSEQ for text XML cannot carry), and
 *       ttlv_xml_parse() the XML back: exactly one message, byte-identical
 *       to the input.
 *   any other input: an XML document for ttlv_xml_parse().  On success
 *       every message must validate (ttlv_decode), and XML -> TTLV -> XML ->
 *       TTLV must give the same bytes the second time.  On failure: one of
 *       the documented errors and nothing appended.
 *
 * Also: no locked-memory block (secmem) left after an input.  Log lines are
 * formatted but discarded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttlv/ttlv.h"
#include "ttlv/xml.h"
#include "util/log.h"
#include "util/secmem.h"

#include "fuzz.h"

static const struct ttlv_xml_opts opts = { .now = 1700000000 };
static int debug = -1;
/* FUZZ_STRICT=1: no allowance for the open findings of crashes/README.md. */
static bool strict;

static void quiet(enum log_level lvl, const char *msg, void *ctx)
{
	if (debug)
		fprintf(stderr, "log: %s\n", msg);
}

/* ttlv_xml_write() into a malloc'd string; returns its result. */
static int to_xml(const uint8_t *buf, size_t len, char **xml, size_t *xml_len)
{
	FILE *f = open_memstream(xml, xml_len);
	int r;

	CHECK(f);
	r = ttlv_xml_write(f, buf, len, 0);
	CHECK(fclose(f) == 0);
	return r;
}

/* TTLV -> XML -> TTLV must give the same bytes (unless text cannot be XML). */
static void round_trip(const uint8_t *buf, size_t len)
{
	struct ttlv_item root;
	const struct ttlv_limits lim = { TTLV_XML_MAX_MESSAGE, TTLV_MAX_DEPTH };
	struct ttlv_msgs back;
	char *xml = NULL;
	size_t xml_len = 0;
	int r;

	CHECK(ttlv_decode(buf, len, &lim, &root) == 0);
	r = to_xml(buf, len, &xml, &xml_len);
	if (debug)
		fprintf(stderr, "write: %d\n%.*s", r, (int)xml_len, xml);
	if (r == -EILSEQ) {
		free(xml);
		return;
	}
	CHECK(r == 0);
	ttlv_msgs_init(&back);
	r = ttlv_xml_parse(xml, xml_len, "written", &opts, &back);
	if (r != 0 || back.n != 1 || back.msg[0].len != len ||
	    memcmp(back.msg[0].data, buf, len) != 0) {
		fprintf(stderr, "round trip: parse %d, %zu message(s); XML written:\n%.*s\n",
			r, back.n, (int)xml_len, xml);
		CHECK(!"TTLV -> XML -> TTLV changed the message");
	}
	ttlv_msgs_free(&back);
	free(xml);
}

static void binary_mode(const uint8_t *data, size_t size)
{
	struct ttlv_item root;

	if (ttlv_decode(data, size, NULL, &root) < 0)
		return;
	round_trip(data, size);
}

static void xml_mode(const uint8_t *data, size_t size)
{
	struct ttlv_msgs l;
	struct ttlv_item root;
	size_t i;
	int r;

	ttlv_msgs_init(&l);
	r = ttlv_xml_parse((const char *)data, size, "fuzz", &opts, &l);
	if (debug)
		fprintf(stderr, "parse: %d, %zu message(s)\n", r, l.n);
	if (r < 0) {
		CHECK(r == -EINVAL || r == -EMSGSIZE || r == -ELOOP || r == -ENOMEM);
		CHECK(l.n == 0);
		ttlv_msgs_free(&l);
		return;
	}
	CHECK(r == 0 && l.n >= 1);
	for (i = 0; i < l.n; i++) {
		const struct ttlv_limits lim = { TTLV_XML_MAX_MESSAGE, TTLV_MAX_DEPTH };

		CHECK(ttlv_decode(l.msg[i].data, l.msg[i].len, &lim, &root) == 0);
		/* The writer takes TTLV_XML_MAX_MESSAGE too. */
		round_trip(l.msg[i].data, l.msg[i].len);
	}
	ttlv_msgs_free(&l);
	CHECK(l.n == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t before;

	if (debug < 0) {
		debug = getenv("FUZZ_DEBUG") != NULL;
		strict = getenv("FUZZ_STRICT") != NULL;
		log_set_sink(quiet, NULL);
	}
	before = secmem_in_use(NULL);
	if (size >= 1 && data[0] == 'B')
		binary_mode(data + 1, size - 1);
	else
		xml_mode(data, size);
	CHECK(secmem_in_use(NULL) == before);
	return 0;
}
