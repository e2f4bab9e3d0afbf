/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Codec micro-benchmark: kmipcrypt's TTLV codec on a KMIP 1.2 Get request
 * and on a real PyKMIP Get response (capture 7 of pykmip-captures.md).
 * bench/pykmip_codec.py measures PyKMIP's codec on the same messages; see
 * bench/run.sh and bench/README.md.
 *
 *   codec [--reps R] [--min-ms MS] [--ops a,b]   time each op, print lines:
 *       op <name> iters <N> reps <R> median_ns <x> min_ns <y> max_ns <z> samples_ns <R values>
 *       rss_kb <peak RSS, KiB>
 *       bytes <name> <hex>
 *   codec --once OP ITERS                         run OP ITERS times, untimed
 *       (for callgrind: valgrind --tool=callgrind --toggle-collect=op_OP)
 *
 * Operations:
 *   encode_get         values -> bytes of the Get request (UID "1"), into a
 *                      caller buffer (the codec alone)
 *   encode_get_locked  the same into a growable buffer in locked memory,
 *                      allocated and freed each time (mmap + mlock + wipe +
 *                      munmap: what a request that may carry key material costs)
 *   decode_get_resp    ttlv_decode() of capture 7 (full validation), a walk
 *                      of every item with its typed getter, and the fields a
 *                      client reads (status, UID, object type, key bytes)
 * With -DWITH_KMIP (src/kmip linked in):
 *   kmip_build_get     kmip_build_get() of the same request, caller buffer
 *   kmip_parse_get_resp  kmip_response_parse() + kmip_parse_get() of capture
 *                      7, key material copied into locked memory and freed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "ttlv/ttlv.h"

/* KMIP 1.2 Get response, AES-256 Symmetric Key, UID "1" (capture 7). */
static const char get_resp_hex[] =
	"42007b010000011042007a0100000048420069010000002042006a0200000004000000"
	"010000000042006b020000000400000002000000004200920900000008000000006b04"
	"083b42000d0200000004000000010000000042000f01000000b842005c050000000400"
	"00000a0000000042007f0500000004000000000000000042007c010000009042005705"
	"0000000400000002000000004200940700000001310000000000000042008f01000000"
	"684200400100000060420042050000000400000001000000004200450100000028420043"
	"080000002055cce3b2452b7a0718643624794c951b73ed5607cf48394bf0684ad4655a"
	"0ad84200280500000004000000030000000042002a02000000040000010000000000";

enum {
	TAG_REQUEST_MESSAGE = 0x420078, TAG_REQUEST_HEADER = 0x420077,
	TAG_PROTOCOL_VERSION = 0x420069, TAG_MAJOR = 0x42006A, TAG_MINOR = 0x42006B,
	TAG_BATCH_COUNT = 0x42000D, TAG_BATCH_ITEM = 0x42000F, TAG_OPERATION = 0x42005C,
	TAG_REQUEST_PAYLOAD = 0x420079, TAG_UID = 0x420094,
	TAG_RESPONSE_HEADER = 0x42007A, TAG_RESULT_STATUS = 0x42007F,
	TAG_RESPONSE_PAYLOAD = 0x42007C, TAG_OBJECT_TYPE = 0x420057,
	TAG_SYMMETRIC_KEY = 0x42008F, TAG_KEY_BLOCK = 0x420040,
	TAG_KEY_VALUE = 0x420045, TAG_KEY_MATERIAL = 0x420043,
};

static uint8_t resp[512];
static size_t resp_len;
static volatile uint64_t sink;

static void die(const char *what)
{
	fprintf(stderr, "codec: %s\n", what);
	exit(1);
}

static int build_get(struct ttlv_buf *b)
{
	ttlv_begin(b, TAG_REQUEST_MESSAGE);
	ttlv_begin(b, TAG_REQUEST_HEADER);
	ttlv_begin(b, TAG_PROTOCOL_VERSION);
	ttlv_put_int(b, TAG_MAJOR, 1);
	ttlv_put_int(b, TAG_MINOR, 2);
	ttlv_end(b);
	ttlv_put_int(b, TAG_BATCH_COUNT, 1);
	ttlv_end(b);
	ttlv_begin(b, TAG_BATCH_ITEM);
	ttlv_put_enum(b, TAG_OPERATION, 0x0A);	/* Get */
	ttlv_begin(b, TAG_REQUEST_PAYLOAD);
	ttlv_put_text(b, TAG_UID, "1", 1);
	ttlv_end(b);
	ttlv_end(b);
	ttlv_end(b);
	return ttlv_buf_finish(b);
}

__attribute__((noinline)) void op_encode_get(void)
{
	uint8_t mem[256];
	struct ttlv_buf b;

	ttlv_buf_init_fixed(&b, mem, sizeof(mem));
	if (build_get(&b) < 0)
		die("encode_get failed");
	sink += b.len + mem[b.len - 1];
}

__attribute__((noinline)) void op_encode_get_locked(void)
{
	struct ttlv_buf b;

	ttlv_buf_init(&b, 0);
	if (build_get(&b) < 0)
		die("encode_get_locked failed");
	sink += b.len;
	ttlv_buf_free(&b);
}

static void walk(const struct ttlv_item *it)
{
	struct ttlv_iter iter;
	struct ttlv_item c;
	int32_t i32;
	int64_t i64;
	uint32_t u32;
	bool bo;
	const char *s;
	const uint8_t *p;
	size_t n;

	switch (it->type) {
	case TTLV_STRUCTURE:
		ttlv_iter_init(&iter, it);
		while (ttlv_iter_next(&iter, &c))
			walk(&c);
		return;
	case TTLV_INTEGER: ttlv_get_int(it, &i32); sink += (uint32_t)i32; return;
	case TTLV_LONG: ttlv_get_long(it, &i64); sink += (uint64_t)i64; return;
	case TTLV_ENUM: ttlv_get_enum(it, &u32); sink += u32; return;
	case TTLV_BOOL: ttlv_get_bool(it, &bo); sink += bo; return;
	case TTLV_DATETIME: ttlv_get_datetime(it, &i64); sink += (uint64_t)i64; return;
	case TTLV_DATETIME_EXT: ttlv_get_datetime_ext(it, &i64); sink += (uint64_t)i64; return;
	case TTLV_INTERVAL: ttlv_get_interval(it, &u32); sink += u32; return;
	case TTLV_TEXT: ttlv_get_text(it, &s, &n); sink += n; return;
	case TTLV_BYTES: ttlv_get_bytes(it, &p, &n); sink += n; return;
	case TTLV_BIGINT: ttlv_get_bigint(it, &p, &n); sink += n; return;
	}
}

__attribute__((noinline)) void op_decode_get_resp(void)
{
	struct ttlv_item root, bi, pl, key, kb, kv;
	uint32_t status, otype;
	const char *uid;
	const uint8_t *km;
	size_t uid_len, km_len;

	if (ttlv_decode(resp, resp_len, NULL, &root) < 0)
		die("decode_get_resp: decode failed");
	walk(&root);
	/* What a client reads, as the PyKMIP side does. */
	if (ttlv_find(&root, TAG_BATCH_ITEM, &bi) < 0 ||
	    ttlv_find_enum(&bi, TAG_RESULT_STATUS, &status) < 0 || status != 0 ||
	    ttlv_find(&bi, TAG_RESPONSE_PAYLOAD, &pl) < 0 ||
	    ttlv_find_enum(&pl, TAG_OBJECT_TYPE, &otype) < 0 || otype != 2 ||
	    ttlv_find_text(&pl, TAG_UID, &uid, &uid_len) < 0 || uid_len != 1 ||
	    ttlv_find(&pl, TAG_SYMMETRIC_KEY, &key) < 0 ||
	    ttlv_find(&key, TAG_KEY_BLOCK, &kb) < 0 ||
	    ttlv_find(&kb, TAG_KEY_VALUE, &kv) < 0 ||
	    ttlv_find_bytes(&kv, TAG_KEY_MATERIAL, &km, &km_len) < 0 || km_len != 32)
		die("decode_get_resp: unexpected content");
	sink += km[0] + (unsigned char)uid[0];
}

#ifdef WITH_KMIP
/*
 * The product's own layer above the codec (src/kmip/), when it builds:
 * the request builder, and the response path kmip_get() takes (message
 * validation and correlation, payload parsing, key material copied into
 * locked memory).
 */
#include "kmip/kmip.h"

__attribute__((noinline)) void op_kmip_build_get(void)
{
	uint8_t mem[256];
	struct ttlv_buf b;

	ttlv_buf_init_fixed(&b, mem, sizeof(mem));
	if (kmip_build_get(&b, KMIP_VERSION(1, 2), "1", NULL) < 0)
		die("kmip_build_get failed");
	sink += b.len + mem[b.len - 1];
}

__attribute__((noinline)) void op_kmip_parse_get_resp(void)
{
	static const uint32_t ops_get[1] = { KMIP_OP_GET };
	struct kmip_resp_item item;
	struct kmip_object obj;
	int version;

	if (kmip_response_parse(resp, resp_len, 0, ops_get, 1, &version, &item) < 0 ||
	    item.err || !item.has_payload || kmip_parse_get(&item.payload, &obj) < 0)
		die("kmip_parse_get_resp failed");
	if (obj.material_len != 32)
		die("kmip_parse_get_resp: unexpected content");
	sink += obj.material[0];
	kmip_object_clear(&obj);
}
#endif

static const struct op {
	const char *name;
	void (*fn)(void);
} ops[] = {
	{ "encode_get", op_encode_get },
	{ "encode_get_locked", op_encode_get_locked },
	{ "decode_get_resp", op_decode_get_resp },
#ifdef WITH_KMIP
	{ "kmip_build_get", op_kmip_build_get },
	{ "kmip_parse_get_resp", op_kmip_parse_get_resp },
#endif
};

static const struct op *find_op(const char *name)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	fprintf(stderr, "codec: unknown op %s\n", name);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t run(void (*fn)(void), unsigned long iters)
{
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < iters; i++)
		fn();
	return now_ns() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void measure(const struct op *op, unsigned reps, unsigned min_ms)
{
	unsigned long iters = 16;
	double per[64];

	/* Calibrate: enough iterations that one repetition lasts min_ms. */
	run(op->fn, iters);
	for (;;) {
		uint64_t t = run(op->fn, iters);

		if (t >= (uint64_t)min_ms * 1000000u / 4) {
			iters = (unsigned long)((double)iters * min_ms * 1e6 / (double)t) + 1;
			break;
		}
		iters *= 4;
	}
	for (unsigned r = 0; r < reps; r++)
		per[r] = (double)run(op->fn, iters) / (double)iters;
	qsort(per, reps, sizeof(per[0]), cmp_double);
	printf("op %s iters %lu reps %u median_ns %.1f min_ns %.1f max_ns %.1f samples_ns",
	       op->name, iters, reps, per[reps / 2], per[0], per[reps - 1]);
	for (unsigned r = 0; r < reps; r++)
		printf(" %.1f", per[r]);
	printf("\n");
	fflush(stdout);
}

static void unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s) / 2;

	if (n > cap)
		die("hex too long");
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			die("bad hex");
		out[i] = (uint8_t)v;
	}
	*len = n;
}

static void print_hex(const char *name, const uint8_t *p, size_t n)
{
	printf("bytes %s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	unsigned reps = 9, min_ms = 40;
#ifdef WITH_KMIP
	const char *list = "encode_get,encode_get_locked,decode_get_resp,kmip_build_get,kmip_parse_get_resp";
#else
	const char *list = "encode_get,encode_get_locked,decode_get_resp";
#endif
	struct rusage ru;
	int i;

	unhex(get_resp_hex, resp, sizeof(resp), &resp_len);

	if (argc == 4 && !strcmp(argv[1], "--once")) {
		const struct op *op = find_op(argv[2]);
		unsigned long n = strtoul(argv[3], NULL, 10);

		run(op->fn, n);
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
			min_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			list = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--reps R] [--min-ms MS] [--ops a,b] | --once OP ITERS\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 1 || reps > 64 || min_ms < 1)
		die("--reps must be 1..64, --min-ms >= 1");

	{
		uint8_t mem[256];
		struct ttlv_buf b;

		ttlv_buf_init_fixed(&b, mem, sizeof(mem));
		if (build_get(&b) < 0)
			die("encode failed");
		print_hex("encode_get", mem, b.len);
#ifdef WITH_KMIP
		ttlv_buf_init_fixed(&b, mem, sizeof(mem));
		if (kmip_build_get(&b, KMIP_VERSION(1, 2), "1", NULL) < 0)
			die("kmip_build_get failed");
		print_hex("kmip_build_get", mem, b.len);
#endif
		print_hex("decode_get_resp", resp, resp_len);
	}

	{
		char *dup = strdup(list), *save = NULL, *name;

		for (name = strtok_r(dup, ",", &save); name; name = strtok_r(NULL, ",", &save))
			measure(find_op(name), reps, min_ms);
		free(dup);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("rss_kb %ld\n", ru.ru_maxrss);
	return 0;
}
