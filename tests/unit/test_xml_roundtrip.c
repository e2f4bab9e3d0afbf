/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KMIP XML <-> TTLV on every OASIS test case: each RequestMessage and
 * ResponseMessage goes XML -> TTLV -> XML -> TTLV; both TTLV encodings must
 * be identical and pass ttlv_decode(), and nothing may be lost on the way
 * (every message of a file converted, one TTLV item per XML element).
 * Then hand-checked values of TC-WRAP-1-14 and SKLC-M-1-21, byte-exact
 * small encodings, placeholders, and malformed XML that must be refused.
 *
 * The test cases are found through $KMIP_TESTCASES, by default
 * tests/data/kmip-testcases (the OASIS files, vendored) relative to the repository root (where the test
 * runner runs).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ttlv/names.h"
#include "ttlv/ttlv.h"
#include "ttlv/xml.h"
#include "util/log.h"

/* A fixed "$NOW" so that the encodings are the same on every run. */
#define NOW 1700000000LL

static const struct ttlv_xml_opts opts = { .now = NOW };

static const char *testcase_dir(void)
{
	const char *d = getenv("KMIP_TESTCASES");

	return d && *d ? d : "tests/data/kmip-testcases";
}

/* ------------------------------------------------------------ file list */

struct files {
	char **v;
	size_t n, cap;
};

static void files_add(struct files *f, const char *path)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->v = realloc(f->v, f->cap * sizeof(*f->v));
		assert_non_null(f->v);
	}
	f->v[f->n] = strdup(path);
	assert_non_null(f->v[f->n]);
	f->n++;
}

static void find_xml(struct files *f, const char *dir, unsigned depth)
{
	DIR *d;
	struct dirent *e;

	assert_true(depth < 16);
	d = opendir(dir);
	if (!d)
		fail_msg("cannot open test case directory %s: %s (set KMIP_TESTCASES)",
			 dir, strerror(errno));
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			find_xml(f, path, depth + 1);
		else if (S_ISREG(st.st_mode) && len > 4 && !strcmp(e->d_name + len - 4, ".xml"))
			files_add(f, path);
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void files_free(struct files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
}

/* --------------------------------------------- independent counts (libxml2) */

/* Elements in the subtree of n, n included. */
static unsigned count_elements(const xmlNode *n)
{
	const xmlNode *c;
	unsigned k = 1;

	for (c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			k += count_elements(c);
	return k;
}

/* Items in a decoded TTLV item, the item included. */
static unsigned count_items(const struct ttlv_item *it)
{
	struct ttlv_iter iter;
	struct ttlv_item c;
	unsigned k = 1;

	if (it->type != TTLV_STRUCTURE)
		return 1;
	ttlv_iter_init(&iter, it);
	while (ttlv_iter_next(&iter, &c))
		k += count_items(&c);
	return k;
}

struct msg_elems {
	unsigned n;			/* message elements in the file */
	unsigned requests, responses;
	unsigned elems[256];		/* elements per message */
	char names[256][32];
};

static void scan_file(const char *path, struct msg_elems *m)
{
	xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
	const xmlNode *root, *c;

	memset(m, 0, sizeof(*m));
	if (!doc)
		fail_msg("%s: libxml2 cannot read it", path);
	root = xmlDocGetRootElement(doc);
	assert_non_null(root);
	assert_string_equal((const char *)root->name, "KMIP");
	for (c = root->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		assert_true(m->n < 256);
		m->elems[m->n] = count_elements(c);
		snprintf(m->names[m->n], sizeof(m->names[0]), "%s", (const char *)c->name);
		if (!strcmp((const char *)c->name, "RequestMessage"))
			m->requests++;
		else if (!strcmp((const char *)c->name, "ResponseMessage"))
			m->responses++;
		m->n++;
	}
	xmlFreeDoc(doc);
}

/* ------------------------------------------------------------- round trip */

/* TTLV -> XML text (malloc'd). */
static char *to_xml(const uint8_t *buf, size_t len, size_t *xlen)
{
	char *x = NULL;
	FILE *f = open_memstream(&x, xlen);
	int r;

	assert_non_null(f);
	r = ttlv_xml_write(f, buf, len, 0);
	fclose(f);
	if (r < 0) {
		free(x);
		return NULL;
	}
	return x;
}

static void test_all_testcases(void **state)
{
	struct ttlv_limits lim = { TTLV_XML_MAX_MESSAGE, TTLV_MAX_DEPTH };
	struct files files = { 0 };
	unsigned nfiles = 0, nmsgs = 0, nreq = 0, nresp = 0, failures = 0, v14 = 0, v21 = 0;
	size_t i, k;

	(void)state;
	find_xml(&files, testcase_dir(), 0);
	qsort(files.v, files.n, sizeof(*files.v), cmp_str);
	if (files.n == 0)
		fail_msg("no XML test cases under %s", testcase_dir());

	for (i = 0; i < files.n; i++) {
		const char *path = files.v[i];
		struct ttlv_msgs l1;
		struct msg_elems *m = calloc(1, sizeof(*m));
		bool file_ok = true;
		int r;

		assert_non_null(m);
		scan_file(path, m);
		ttlv_msgs_init(&l1);
		r = ttlv_xml_parse_file(path, &opts, &l1);
		if (r < 0) {
			printf("FAIL %s: XML -> TTLV: %s\n", path, strerror(-r));
			failures += m->n;
			free(m);
			continue;
		}
		if (l1.n != m->n) {
			printf("FAIL %s: %u message elements, %zu messages\n", path, m->n, l1.n);
			failures++;
			file_ok = false;
		}
		for (k = 0; k < l1.n && k < m->n; k++) {
			struct ttlv_item root;
			struct ttlv_msgs l2;
			size_t xlen = 0;
			char *x;

			r = ttlv_decode(l1.msg[k].data, l1.msg[k].len, &lim, &root);
			if (r < 0) {
				printf("FAIL %s message %zu: TTLV does not decode: %s\n", path, k,
				       strerror(-r));
				failures++;
				file_ok = false;
				continue;
			}
			if (count_items(&root) != m->elems[k]) {
				printf("FAIL %s message %zu (%s): %u elements but %u items\n", path, k,
				       m->names[k], m->elems[k], count_items(&root));
				failures++;
				file_ok = false;
			}
			x = to_xml(l1.msg[k].data, l1.msg[k].len, &xlen);
			if (!x) {
				printf("FAIL %s message %zu: TTLV -> XML\n", path, k);
				failures++;
				file_ok = false;
				continue;
			}
			ttlv_msgs_init(&l2);
			r = ttlv_xml_parse(x, xlen, "(written XML)", &opts, &l2);
			if (r < 0 || l2.n != 1) {
				printf("FAIL %s message %zu: written XML does not parse back:\n%s\n",
				       path, k, x);
				failures++;
				file_ok = false;
			} else if (l2.msg[0].len != l1.msg[k].len ||
				   memcmp(l2.msg[0].data, l1.msg[k].data, l1.msg[k].len)) {
				printf("FAIL %s message %zu: TTLV differs after XML round trip\n",
				       path, k);
				failures++;
				file_ok = false;
			} else if (ttlv_decode(l2.msg[0].data, l2.msg[0].len, &lim, &root) < 0) {
				printf("FAIL %s message %zu: second TTLV does not decode\n", path, k);
				failures++;
				file_ok = false;
			} else {
				nmsgs++;
			}
			ttlv_msgs_free(&l2);
			free(x);
		}
		if (file_ok) {
			nfiles++;
			nreq += m->requests;
			nresp += m->responses;
			if (strstr(path, "v1.4"))
				v14++;
			else if (strstr(path, "v2.1"))
				v21++;
		}
		ttlv_msgs_free(&l1);
		free(m);
	}
	printf("xml round trip: %u of %zu files (v1.4 %u, v2.1 %u), %u messages "
	       "(%u requests, %u responses), %u failures\n",
	       nfiles, files.n, v14, v21, nmsgs, nreq, nresp, failures);
	files_free(&files);
	assert_int_equal(failures, 0);
	assert_true(nmsgs > 0);
}

static void expect_refused(const char *xml, int err);

/* ----------------------------------------------- names as the files spell them */

/* "Decrypt Encrypt" and "Encrypt Decrypt" name the same mask: compare sorted words. */
static void sort_words(const char *s, char *out, size_t size)
{
	char words[32][64];
	size_t n = 0, i, j, used = 0;
	const char *p = s;

	while (*p && n < 32) {
		size_t k = 0;

		while (*p == ' ')
			p++;
		while (*p && *p != ' ' && k < 63)
			words[n][k++] = *p++;
		words[n][k] = '\0';
		if (k)
			n++;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(words[j - 1], words[j]) > 0; j--) {
			char t[64];

			memcpy(t, words[j], sizeof(t));
			memcpy(words[j], words[j - 1], sizeof(t));
			memcpy(words[j - 1], t, sizeof(t));
		}
	out[0] = '\0';
	for (i = 0; i < n && used + 66 < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "", words[i]);
}

/*
 * Walk the file's element a and our written element b side by side: the
 * same element (tag) names, and the same Enumeration value names and mask
 * flag names.  Returns the number of differences (printed).
 */
static unsigned compare_names(const char *path, const xmlNode *a, const xmlNode *b)
{
	const xmlNode *ca, *cb;
	xmlChar *ta, *va, *vb;
	unsigned bad = 0;

	if (strcmp((const char *)a->name, (const char *)b->name)) {
		printf("FAIL %s:%ld: tag <%s> written as <%s>\n", path, xmlGetLineNo(a), a->name,
		       b->name);
		return 1;
	}
	ta = xmlGetProp(a, (const xmlChar *)"type");
	va = xmlGetProp(a, (const xmlChar *)"value");
	vb = xmlGetProp(b, (const xmlChar *)"value");
	if (ta && va && vb && va[0] && !(va[0] == '0' && va[1] == 'x')) {
		char sa[1024], sb[1024];

		if (!strcmp((const char *)ta, "Enumeration") && strcmp((const char *)va,
								       (const char *)vb)) {
			printf("FAIL %s:%ld: <%s> Enumeration \"%s\" written as \"%s\"\n", path,
			       xmlGetLineNo(a), a->name, va, vb);
			bad++;
		}
		if (!strcmp((const char *)ta, "Integer") && !(va[0] >= '0' && va[0] <= '9') &&
		    va[0] != '-') {
			sort_words((const char *)va, sa, sizeof(sa));
			sort_words((const char *)vb, sb, sizeof(sb));
			if (strcmp(sa, sb)) {
				printf("FAIL %s:%ld: <%s> mask \"%s\" written as \"%s\"\n", path,
				       xmlGetLineNo(a), a->name, va, vb);
				bad++;
			}
		}
	}
	xmlFree(ta);
	xmlFree(va);
	xmlFree(vb);
	for (ca = a->children, cb = b->children; ca || cb; ca = ca->next, cb = cb->next) {
		while (ca && ca->type != XML_ELEMENT_NODE)
			ca = ca->next;
		while (cb && cb->type != XML_ELEMENT_NODE)
			cb = cb->next;
		if (!ca || !cb) {
			if (ca || cb) {
				printf("FAIL %s:%ld: children differ\n", path, xmlGetLineNo(a));
				bad++;
			}
			break;
		}
		bad += compare_names(path, ca, cb);
	}
	return bad;
}

/*
 * Every tag name, Enumeration value name and mask flag name of every OASIS
 * file comes back exactly as the file spells it after XML -> TTLV -> XML:
 * what we write is what the XML profile's readers expect (HMAC_SHA256, not
 * HMACSHA256).
 */
static void test_testcase_names(void **state)
{
	struct files files = { 0 };
	unsigned bad = 0, nmsgs = 0;
	size_t i, k;

	(void)state;
	find_xml(&files, testcase_dir(), 0);
	qsort(files.v, files.n, sizeof(*files.v), cmp_str);
	for (i = 0; i < files.n; i++) {
		xmlDocPtr doc = xmlReadFile(files.v[i], NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
		const xmlNode *c;
		struct ttlv_msgs l;

		assert_non_null(doc);
		ttlv_msgs_init(&l);
		assert_int_equal(ttlv_xml_parse_file(files.v[i], &opts, &l), 0);
		k = 0;
		for (c = xmlDocGetRootElement(doc)->children; c; c = c->next) {
			xmlDocPtr w;
			size_t xlen = 0;
			char *x;

			if (c->type != XML_ELEMENT_NODE)
				continue;
			assert_true(k < l.n);
			x = to_xml(l.msg[k].data, l.msg[k].len, &xlen);
			assert_non_null(x);
			w = xmlReadMemory(x, (int)xlen, "written", NULL, XML_PARSE_NONET);
			assert_non_null(w);
			bad += compare_names(files.v[i], c, xmlDocGetRootElement(w));
			xmlFreeDoc(w);
			free(x);
			k++;
			nmsgs++;
		}
		ttlv_msgs_free(&l);
		xmlFreeDoc(doc);
	}
	printf("names: %u messages of %zu files compared, %u differences\n", nmsgs, files.n, bad);
	files_free(&files);
	assert_int_equal(bad, 0);
	assert_true(nmsgs > 0);
}

/* ---------------------------------------------------------- annotations */

/* The OASIS 1.0-1.2 test cases annotate their steps between the messages. */
static void test_annotations(void **state)
{
	static const char req[] =
		"<RequestMessage><RequestHeader><ProtocolVersion>"
		"<ProtocolVersionMajor type=\"Integer\" value=\"1\"/>"
		"<ProtocolVersionMinor type=\"Integer\" value=\"2\"/></ProtocolVersion>"
		"<BatchCount type=\"Integer\" value=\"1\"/></RequestHeader>"
		"<BatchItem><Operation type=\"Enumeration\" value=\"Destroy\"/>"
		"<RequestPayload><UniqueIdentifier type=\"TextString\" value=\"1\"/>"
		"</RequestPayload></BatchItem></RequestMessage>";
	static const char resp[] =
		"<ResponseMessage><ResponseHeader><ProtocolVersion>"
		"<ProtocolVersionMajor type=\"Integer\" value=\"1\"/>"
		"<ProtocolVersionMinor type=\"Integer\" value=\"2\"/></ProtocolVersion>"
		"<TimeStamp type=\"DateTime\" value=\"$NOW\"/>"
		"<BatchCount type=\"Integer\" value=\"1\"/></ResponseHeader>"
		"<BatchItem><Operation type=\"Enumeration\" value=\"Destroy\"/>"
		"<ResultStatus type=\"Enumeration\" value=\"Success\"/>"
		"<ResponsePayload><UniqueIdentifier type=\"TextString\" value=\"1\"/>"
		"</ResponsePayload></BatchItem></ResponseMessage>";
	char annotated[4096], plain[4096], inside[4096];
	struct ttlv_msgs a, p;
	size_t k;

	(void)state;
	snprintf(annotated, sizeof(annotated),
		 "<KMIP>\n# TIME 0\n[Client-A]\n%s\n[Server-to-Client]\n%s\n17\n"
		 "# TIME 1\n[Client-A]\n%s\n<!-- a comment -->\n[Server-to-Client]\n%s\n</KMIP>\n",
		 req, resp, req, resp);
	snprintf(plain, sizeof(plain), "<KMIP>%s%s%s%s</KMIP>", req, resp, req, resp);
	ttlv_msgs_init(&a);
	ttlv_msgs_init(&p);
	assert_int_equal(ttlv_xml_parse(annotated, strlen(annotated), "annotated", &opts, &a), 0);
	assert_int_equal(ttlv_xml_parse(plain, strlen(plain), "plain", &opts, &p), 0);
	assert_int_equal(a.n, 4);
	assert_int_equal(p.n, 4);
	for (k = 0; k < 4; k++) {
		assert_int_equal(a.msg[k].len, p.msg[k].len);
		assert_memory_equal(a.msg[k].data, p.msg[k].data, p.msg[k].len);
	}
	ttlv_msgs_free(&a);
	ttlv_msgs_free(&p);
	/* Text inside a message is still data this format has no place for. */
	snprintf(inside, sizeof(inside), "<KMIP>\n# TIME 0\n<RequestMessage>[Client-A]%s</KMIP>",
		 req + strlen("<RequestMessage>"));
	expect_refused(inside, -EINVAL);
	expect_refused("<KMIP># TIME 0</KMIP>", -EINVAL);	/* still no message */
}

/* ------------------------------------------------------ hand-checked values */

static void parse_path(const char *rel, struct ttlv_msgs *l)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", testcase_dir(), rel);
	ttlv_msgs_init(l);
	assert_int_equal(ttlv_xml_parse_file(path, &opts, l), 0);
}

static void root_of(const struct ttlv_msgs *l, size_t k, struct ttlv_item *root)
{
	struct ttlv_limits lim = { TTLV_XML_MAX_MESSAGE, TTLV_MAX_DEPTH };

	assert_true(k < l->n);
	assert_int_equal(ttlv_decode(l->msg[k].data, l->msg[k].len, &lim, root), 0);
}

static void find(const struct ttlv_item *p, uint32_t tag, struct ttlv_item *out)
{
	assert_int_equal(ttlv_find(p, tag, out), 0);
}

static void test_tc_wrap(void **state)
{
	static const uint8_t kek[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const uint8_t wrapped[24] = {
		0x1f, 0xa6, 0x8b, 0x0a, 0x81, 0x12, 0xb4, 0x47, 0xae, 0xf3, 0x4b, 0xd8,
		0xfb, 0x5a, 0x7b, 0x82, 0x9d, 0x3e, 0x86, 0x23, 0x71, 0xd2, 0xcf, 0xe5,
	};
	struct ttlv_msgs l;
	struct ttlv_item m, hdr, bi, pl, ta, at, sk, kb, kv, it, kwd;
	struct ttlv_iter iter;
	const uint8_t *b;
	const char *s;
	size_t len;
	uint32_t e;
	int32_t i;
	int64_t t;
	bool seen_mask = false, seen_date = false;

	(void)state;
	parse_path("v1.4/other/TC-WRAP-1-14.xml", &l);
	assert_int_equal(l.n, 6);

	/* Request 0: Register the KEK. */
	root_of(&l, 0, &m);
	assert_int_equal(m.tag, TAG_REQUEST_MESSAGE);
	find(&m, 0x420077, &hdr);			/* Request Header */
	find(&hdr, 0x420069, &it);			/* Protocol Version */
	assert_int_equal(ttlv_find_int(&it, 0x42006A, &i), 0);
	assert_int_equal(i, 1);
	assert_int_equal(ttlv_find_int(&it, 0x42006B, &i), 0);
	assert_int_equal(i, 4);
	find(&m, TAG_BATCH_ITEM, &bi);
	assert_int_equal(ttlv_find_enum(&bi, TAG_OPERATION, &e), 0);
	assert_int_equal(e, 0x03);			/* Register */
	find(&bi, 0x420079, &pl);			/* Request Payload */
	assert_int_equal(ttlv_find_enum(&pl, 0x420057, &e), 0);
	assert_int_equal(e, 0x02);			/* Symmetric Key */
	find(&pl, 0x420091, &ta);			/* Template-Attribute */
	ttlv_iter_init(&iter, &ta);
	while (ttlv_iter_next(&iter, &at)) {
		struct ttlv_item v;

		assert_int_equal(at.tag, TAG_ATTRIBUTE);
		assert_int_equal(ttlv_find_text(&at, TAG_ATTRIBUTE_NAME, &s, &len), 0);
		find(&at, TAG_ATTRIBUTE_VALUE, &v);
		if (len == 24 && !memcmp(s, "Cryptographic Usage Mask", 24)) {
			/* "WrapKey", named through the sibling Attribute Name. */
			assert_int_equal(ttlv_get_int(&v, &i), 0);
			assert_int_equal(i, 0x10);
			seen_mask = true;
		} else if (len == 15 && !memcmp(s, "Activation Date", 15)) {
			assert_int_equal(ttlv_get_datetime(&v, &t), 0);
			assert_int_equal(t, NOW - 3600);	/* "$NOW-3600" */
			seen_date = true;
		} else if (len == 24 && !memcmp(s, "Cryptographic Parameters", 24)) {
			assert_int_equal(ttlv_find_enum(&v, 0x420011, &e), 0);
			assert_int_equal(e, 0x0D);	/* NIST Key Wrap */
		}
	}
	assert_true(seen_mask);
	assert_true(seen_date);
	find(&pl, 0x42008F, &sk);			/* Symmetric Key */
	find(&sk, TAG_KEY_BLOCK, &kb);
	assert_int_equal(ttlv_find_enum(&kb, 0x420042, &e), 0);
	assert_int_equal(e, 0x01);			/* Raw */
	find(&kb, TAG_KEY_VALUE, &kv);
	assert_int_equal(ttlv_find_bytes(&kv, TAG_KEY_MATERIAL, &b, &len), 0);
	assert_int_equal(len, sizeof(kek));
	assert_memory_equal(b, kek, sizeof(kek));
	assert_int_equal(ttlv_find_enum(&kb, 0x420028, &e), 0);
	assert_int_equal(e, 0x03);			/* AES */
	assert_int_equal(ttlv_find_int(&kb, 0x42002A, &i), 0);
	assert_int_equal(i, 128);

	/* Response 1: Time Stamp "$NOW", Unique Identifier placeholder kept. */
	root_of(&l, 1, &m);
	assert_int_equal(m.tag, TAG_RESPONSE_MESSAGE);
	find(&m, 0x42007A, &hdr);
	find(&hdr, 0x420092, &it);			/* Time Stamp */
	assert_int_equal(ttlv_get_datetime(&it, &t), 0);
	assert_int_equal(t, NOW);
	find(&m, TAG_BATCH_ITEM, &bi);
	assert_int_equal(ttlv_find_enum(&bi, 0x42007F, &e), 0);
	assert_int_equal(e, 0x00);			/* Success */
	find(&bi, 0x42007C, &pl);
	assert_int_equal(ttlv_find_text(&pl, TAG_UNIQUE_IDENTIFIER, &s, &len), 0);
	assert_int_equal(len, strlen("$UNIQUE_IDENTIFIER_0"));
	assert_memory_equal(s, "$UNIQUE_IDENTIFIER_0", len);

	/* Request 4: Get with Key Wrap Type As Registered. */
	root_of(&l, 4, &m);
	find(&m, TAG_BATCH_ITEM, &bi);
	assert_int_equal(ttlv_find_enum(&bi, TAG_OPERATION, &e), 0);
	assert_int_equal(e, 0x0A);			/* Get */
	find(&bi, 0x420079, &pl);
	assert_int_equal(ttlv_find_enum(&pl, 0x4200F8, &e), 0);
	assert_int_equal(e, 0x02);			/* As Registered */

	/* Response 5: the wrapped key and how it was wrapped. */
	root_of(&l, 5, &m);
	find(&m, TAG_BATCH_ITEM, &bi);
	find(&bi, 0x42007C, &pl);
	find(&pl, 0x42008F, &sk);
	find(&sk, TAG_KEY_BLOCK, &kb);
	find(&kb, TAG_KEY_VALUE, &kv);
	assert_int_equal(ttlv_find_bytes(&kv, TAG_KEY_MATERIAL, &b, &len), 0);
	assert_int_equal(len, sizeof(wrapped));
	assert_memory_equal(b, wrapped, sizeof(wrapped));
	find(&kb, 0x420046, &kwd);			/* Key Wrapping Data */
	assert_int_equal(ttlv_find_enum(&kwd, 0x42009E, &e), 0);
	assert_int_equal(e, 0x01);			/* Encrypt */
	assert_int_equal(ttlv_find_enum(&kwd, 0x4200A3, &e), 0);
	assert_int_equal(e, 0x01);			/* No Encoding */
	ttlv_msgs_free(&l);
}

static void test_sklc_21(void **state)
{
	struct ttlv_msgs l;
	struct ttlv_item m, bi, pl, a, it;
	struct ttlv_iter iter;
	uint32_t e, refs[16];
	unsigned n = 0;
	int32_t i;

	(void)state;
	parse_path("v2.1/mandatory/SKLC-M-1-21.xml", &l);
	assert_true(l.n >= 4);

	/* Create: 2.x Attributes hold each attribute under its own tag. */
	root_of(&l, 0, &m);
	find(&m, TAG_BATCH_ITEM, &bi);
	find(&bi, 0x420079, &pl);
	find(&pl, 0x420125, &a);			/* Attributes */
	assert_int_equal(ttlv_find_int(&a, TAG_CRYPTOGRAPHIC_USAGE_MASK, &i), 0);
	assert_int_equal(i, 0x04 | 0x08);		/* "Encrypt Decrypt" */
	assert_int_equal(ttlv_find_int(&a, 0x42002A, &i), 0);
	assert_int_equal(i, 256);

	/* Get Attributes: Attribute Reference values are tags. */
	root_of(&l, 2, &m);
	find(&m, TAG_BATCH_ITEM, &bi);
	assert_int_equal(ttlv_find_enum(&bi, TAG_OPERATION, &e), 0);
	assert_int_equal(e, 0x0B);			/* Get Attributes */
	find(&bi, 0x420079, &pl);
	ttlv_iter_init(&iter, &pl);
	while (ttlv_iter_next(&iter, &it))
		if (it.tag == TAG_ATTRIBUTE_REFERENCE && n < 16)
			assert_int_equal(ttlv_get_enum(&it, &refs[n++]), 0);
	assert_int_equal(n, 10);
	assert_int_equal(refs[0], 0x0042008D);		/* State */
	assert_int_equal(refs[1], 0x0042002C);		/* Cryptographic Usage Mask */
	assert_int_equal(refs[2], 0x00420094);		/* Unique Identifier */

	/* Its response: State Pre-Active. */
	root_of(&l, 3, &m);
	find(&m, TAG_BATCH_ITEM, &bi);
	find(&bi, 0x42007C, &pl);
	find(&pl, 0x420125, &a);
	assert_int_equal(ttlv_find_enum(&a, 0x42008D, &e), 0);
	assert_int_equal(e, 0x01);
	ttlv_msgs_free(&l);
}

/* ------------------------------------------------------ byte-exact snippets */

static void expect_bytes(const char *xml, const uint8_t *want, size_t wlen)
{
	struct ttlv_msgs l;

	ttlv_msgs_init(&l);
	assert_int_equal(ttlv_xml_parse(xml, strlen(xml), "snippet", &opts, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.msg[0].len, wlen);
	assert_memory_equal(l.msg[0].data, want, wlen);
	ttlv_msgs_free(&l);
}

static void test_exact(void **state)
{
	static const uint8_t pv[] = {
		0x42, 0x00, 0x69, 0x01, 0x00, 0x00, 0x00, 0x20,
		0x42, 0x00, 0x6A, 0x02, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0,
		0x42, 0x00, 0x6B, 0x02, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 4, 0, 0, 0, 0,
	};
	/* Spec 1.4 9.1.2 style: an Enumeration, a Text String, a Date-Time. */
	static const uint8_t misc[] = {
		0x42, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x40,
		0x42, 0x00, 0x0A, 0x07, 0x00, 0x00, 0x00, 0x05, 'S', 't', 'a', 't', 'e', 0, 0, 0,
		0x42, 0x00, 0x0B, 0x05, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 2, 0, 0, 0, 0,
		0x42, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00, 0x08,
		0x00, 0x00, 0x00, 0x00, 0x3A, 0x50, 0x55, 0x20,	/* 2001-01-01T10:00:00Z */
		0x42, 0x00, 0x04, 0x04, 0x00, 0x00, 0x00, 0x08,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80,	/* sign-extended */
	};
	/* Tag without a name, Interval, Boolean, Long Integer, a mask in hex. */
	static const uint8_t ext[] = {
		0x54, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x40,
		0x54, 0x00, 0x02, 0x0A, 0x00, 0x00, 0x00, 0x04, 0, 0, 0x0E, 0x10, 0, 0, 0, 0,
		0x42, 0x00, 0x08, 0x06, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 1,
		0x42, 0x00, 0x08, 0x03, 0x00, 0x00, 0x00, 0x08,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0x42, 0x00, 0x2C, 0x02, 0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0,
	};

	(void)state;
	expect_bytes("<ProtocolVersion>\n"
		     "  <ProtocolVersionMajor type=\"Integer\" value=\"1\"/>\n"
		     "  <ProtocolVersionMinor type=\"Integer\" value=\"0x00000004\"/>\n"
		     "</ProtocolVersion>\n", pv, sizeof(pv));
	expect_bytes("<Attribute>"
		     "<AttributeName type=\"TextString\" value=\"State\"/>"
		     "<AttributeValue type=\"Enumeration\" value=\"Active\"/>"
		     "<ActivationDate type=\"DateTime\" value=\"2001-01-01T20:00:00+10:00\"/>"
		     "<ApplicationSpecificInformation type=\"BigInteger\" value=\"80\"/>"
		     "</Attribute>", misc, sizeof(misc));
	expect_bytes("<TTLV tag=\"0x540001\">"
		     "<TTLV tag=\"0x540002\" type=\"Interval\" value=\"3600\"/>"
		     "<Attribute type=\"Boolean\" value=\"true\"/>"
		     "<Attribute type=\"LongInteger\" value=\"-2\"/>"
		     "<CryptographicUsageMask type=\"Integer\" value=\"Sign 0x01000000\"/>"
		     "</TTLV>", ext, sizeof(ext));
}

/* Placeholders, written XML, and the "0x" forms of values without a name. */
static void test_write(void **state)
{
	static const char *in =
		"<KMIP><RequestMessage>"
		"<KeyMaterial type=\"ByteString\" value=\"$KEY_MATERIAL_0\"/>"
		"<UniqueIdentifier type=\"TextString\" value=\"$UNIQUE_IDENTIFIER_0\"/>"
		"<TimeStamp type=\"DateTime\" value=\"$NOW+60\"/>"
		"<OpaqueDataType type=\"Enumeration\" value=\"0x80000001\"/>"
		"<CryptographicUsageMask type=\"Integer\" value=\"Decrypt Encrypt\"/>"
		"<StorageStatusMask type=\"Integer\" value=\"0x00010000\"/>"
		"<Name type=\"TextString\" value=\"a&amp;b&lt;&#10;&quot;\"/>"
		"<Attribute/>"
		"</RequestMessage></KMIP>";
	static const char *want =
		"<RequestMessage>\n"
		"  <KeyMaterial type=\"ByteString\" value=\"$KEY_MATERIAL_0\"/>\n"
		"  <UniqueIdentifier type=\"TextString\" value=\"$UNIQUE_IDENTIFIER_0\"/>\n"
		"  <TimeStamp type=\"DateTime\" value=\"2023-11-14T22:14:20+00:00\"/>\n"
		"  <OpaqueDataType type=\"Enumeration\" value=\"0x80000001\"/>\n"
		"  <CryptographicUsageMask type=\"Integer\" value=\"Encrypt Decrypt\"/>\n"
		"  <StorageStatusMask type=\"Integer\" value=\"0x00010000\"/>\n"
		"  <Name type=\"TextString\" value=\"a&amp;b&lt;&#10;&quot;\"/>\n"
		"  <Attribute/>\n"
		"</RequestMessage>\n";
	struct ttlv_msgs l;
	size_t xlen = 0;
	char *x;

	(void)state;
	ttlv_msgs_init(&l);
	assert_int_equal(ttlv_xml_parse(in, strlen(in), "write", &opts, &l), 0);
	assert_int_equal(l.n, 1);
	x = to_xml(l.msg[0].data, l.msg[0].len, &xlen);
	assert_non_null(x);
	assert_string_equal(x, want);
	free(x);
	ttlv_msgs_free(&l);
}

/* A Text String XML 1.0 cannot carry: refused before anything is written. */
static void test_write_unrepresentable(void **state)
{
	struct ttlv_buf b;
	char *x = NULL;
	size_t xlen = 0;
	FILE *f;

	(void)state;
	ttlv_buf_init(&b, 0);
	ttlv_begin(&b, TAG_BATCH_ITEM);
	ttlv_put_str(&b, 0x420053, "ok");
	ttlv_put_str(&b, 0x420053, "esc\x1b");
	ttlv_end(&b);
	assert_int_equal(ttlv_buf_finish(&b), 0);
	f = open_memstream(&x, &xlen);
	assert_non_null(f);
	assert_int_equal(ttlv_xml_write(f, b.data, b.len, 0), -EILSEQ);
	fclose(f);
	assert_int_equal(xlen, 0);
	free(x);
	ttlv_buf_free(&b);
}

/* ------------------------------------------------------------- malformed */

static void expect_refused(const char *xml, int err)
{
	struct ttlv_msgs l;

	ttlv_msgs_init(&l);
	assert_int_equal(ttlv_xml_parse(xml, strlen(xml), "bad", &opts, &l), err);
	assert_int_equal(l.n, 0);	/* nothing appended on error */
	ttlv_msgs_free(&l);
}

static void test_refused(void **state)
{
	char deep[4096];
	size_t i, n = 0;

	(void)state;
	expect_refused("", -EINVAL);
	expect_refused("<KMIP>", -EINVAL);
	expect_refused("<KMIP></KMIP>", -EINVAL);
	expect_refused("<NoSuchTag type=\"Integer\" value=\"1\"/>", -EINVAL);
	expect_refused("<BatchCount type=\"Integer\" value=\"1\" extra=\"x\"/>", -EINVAL);
	expect_refused("<BatchCount type=\"Integer\"/>", -EINVAL);
	expect_refused("<BatchCount type=\"Integer\" value=\"1x\"/>", -EINVAL);
	expect_refused("<BatchCount type=\"Integer\" value=\"2147483648\"/>", -EINVAL);
	expect_refused("<BatchCount type=\"Integr\" value=\"1\"/>", -EINVAL);
	expect_refused("<BatchItem value=\"1\"/>", -EINVAL);
	expect_refused("<BatchItem>text</BatchItem>", -EINVAL);
	expect_refused("<BatchCount type=\"Integer\" value=\"1\"><BatchItem/></BatchCount>",
		       -EINVAL);
	expect_refused("<Operation type=\"Enumeration\" value=\"NoSuchOp\"/>", -EINVAL);
	expect_refused("<KeyMaterial type=\"ByteString\" value=\"abc\"/>", -EINVAL);
	expect_refused("<KeyMaterial type=\"ByteString\" value=\"$lower\"/>", -EINVAL);
	expect_refused("<TimeStamp type=\"DateTime\" value=\"2001-02-30T00:00:00Z\"/>", -EINVAL);
	expect_refused("<TimeStamp type=\"DateTime\" value=\"2001-01-01T00:00:00\"/>", -EINVAL);
	expect_refused("<TimeStamp type=\"DateTime\" value=\"$NOWISH\"/>", -EINVAL);
	expect_refused("<BatchCount type=\"Integer\" value=\"$NOW\"/>", -EINVAL);
	expect_refused("<Attribute type=\"Boolean\" value=\"yes\"/>", -EINVAL);
	expect_refused("<TTLV type=\"Integer\" value=\"1\"/>", -EINVAL);
	expect_refused("<!DOCTYPE x [<!ENTITY a \"b\">]><Name type=\"TextString\" value=\"&a;\"/>",
		       -EINVAL);
	expect_refused("<x:Name xmlns:x=\"urn:x\" type=\"TextString\" value=\"a\"/>", -EINVAL);
	/* The second message is bad: the first must not be kept either. */
	expect_refused("<KMIP><BatchCount type=\"Integer\" value=\"1\"/>"
		       "<BatchCount type=\"Integer\" value=\"x\"/></KMIP>", -EINVAL);
	/* Deeper than the encoder's nesting cap. */
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<BatchItem>");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "</BatchItem>");
	expect_refused(deep, -ELOOP);
}

/* Files: missing, over the size cap (sparse: nothing is read), fine. */
static void test_file_errors(void **state)
{
	char path[] = "/tmp/kmipcrypt-test-xml.XXXXXX";
	const char *xml = "<BatchCount type=\"Integer\" value=\"1\"/>";
	struct ttlv_msgs l;
	int fd;

	(void)state;
	ttlv_msgs_init(&l);
	assert_int_equal(ttlv_xml_parse_file("/nonexistent/x.xml", &opts, &l), -ENOENT);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)TTLV_XML_MAX_DOCUMENT + 1), 0);
	assert_int_equal(ttlv_xml_parse_file(path, &opts, &l), -EMSGSIZE);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
	assert_int_equal(ttlv_xml_parse_file(path, &opts, &l), 0);
	assert_int_equal(l.n, 1);
	close(fd);
	unlink(path);
	ttlv_msgs_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_unrepresentable),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_tc_wrap),
		cmocka_unit_test(test_sklc_21),
		cmocka_unit_test(test_all_testcases),
		cmocka_unit_test(test_testcase_names),
		cmocka_unit_test(test_annotations),
	};

	/* The refusals log on purpose; keep the output to the counts. */
	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests_name("xml_roundtrip", tests, NULL, NULL);
}
