/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: everything in src/kmip/ that reads a server's answer.
 *
 * Input = 2 control bytes + response bytes.
 *
 *   byte 0, bit 7 clear: RAW mode.  kmip_response_parse() on the response,
 *       as the answer to a request of n items (byte 1 & 7, plus 1) whose
 *       operations come from byte 0 (bits 0-2 pick the first operation from
 *       a table, the next items take the following entries; 7 means all Get
 *       Attributes, the shape of kmip_get_states; bit 3 passes ops = NULL).
 *       Then every answered payload goes through kmip_parse_get,
 *       kmip_parse_get_attributes and kmip_parse_locate.
 *   byte 0, bit 7 set: CLIENT mode.  A kmip_client over a roundtrip function
 *       that answers each request with the next TTLV frame of the response
 *       bytes (the rest of the input when it does not frame), then fails
 *       with -ECONNRESET.  Byte 0 & 0x1F picks the operation (kmip_get, with
 *       and without local unwrapping, kmip_get_attributes, kmip_get_states,
 *       kmip_locate, kmip_locate_verify, kmip_query, kmip_discover_versions,
 *       kmip_create, kmip_register_*, kmip_activate, kmip_revoke,
 *       kmip_destroy, kmip_encrypt, kmip_decrypt, kmip_rekey); byte 1 & 7
 *       the version (0: negotiate, then 1.0 .. 2.1).
 *
 * Properties checked beyond "no crash, no leak, no UB":
 *  - every request the client sends is one valid TTLV Request Message;
 *  - kmip_response_parse: returns 0 or a documented error; on error every
 *    item is unanswered with -ENOMSG; on success Result Messages and
 *    payloads point inside the message, payloads are Structures, and errors
 *    are within the documented set;
 *  - the client's last error is printable and bounded, "" exactly when it
 *    reports no failure (kmip_last_failure()), and a failed negotiation is
 *    named as such (kmip_last_failure_step());
 *  - results are NUL-terminated inside their arrays, counts within caps,
 *    key material within KMIP_MATERIAL_MAX and in locked memory;
 *  - no locked memory (secmem) block is left when an input is done (LSan
 *    does not see mmap()ed blocks).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmip/kmip.h"
#include "ttlv/ttlv.h"
#include "util/log.h"
#include "util/secmem.h"

#include "fuzz.h"

static volatile size_t sink;
/* FUZZ_DEBUG=1 in the environment: one line per input on stderr. */
static int debug = -1;
/* FUZZ_STRICT=1: no allowance for the open findings of crashes/README.md. */
static bool strict;

static bool nul_in(const char *s, size_t size)
{
	return memchr(s, 0, size) != NULL;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
			return false;
	return true;
}

static void quiet(enum log_level lvl, const char *msg, void *ctx)
{
	sink += strlen(msg);
}

/* --------------------------------------------------------- payload parsers */

static void parse_payload(const struct ttlv_item *pl)
{
	struct kmip_object o;
	struct kmip_attrs a;
	struct kmip_uid_list l;
	int r;

	r = kmip_parse_get(pl, &o);
	if (r == 0) {
		CHECK(nul_in(o.uid, sizeof(o.uid)));
		CHECK(nul_in(o.wrap_kek_uid, sizeof(o.wrap_kek_uid)));
		CHECK(o.material && o.material_len && o.material_len <= KMIP_MATERIAL_MAX);
		CHECK(secmem_size(o.material) == o.material_len);
		sink += o.material[o.material_len - 1];
	} else {
		CHECK(o.material == NULL);
	}
	kmip_object_clear(&o);

	r = kmip_parse_get_attributes(pl, &a);
	if (r == 0) {
		CHECK(nul_in(a.uid, sizeof(a.uid)));
		CHECK(nul_in(a.attr_uid, sizeof(a.attr_uid)));
		CHECK(a.n_names <= KMIP_ATTR_VALUES_MAX && a.n_groups <= KMIP_ATTR_VALUES_MAX);
		for (unsigned i = 0; i < a.n_names; i++)
			CHECK(nul_in(a.names[i], sizeof(a.names[i])));
		for (unsigned i = 0; i < a.n_groups; i++)
			CHECK(nul_in(a.groups[i], sizeof(a.groups[i])));
		CHECK((a.present & ~(uint32_t)KMIP_ATTR_ALL) == 0);
	}

	r = kmip_parse_locate(pl, &l);
	if (r == 0) {
		CHECK(l.n <= KMIP_LOCATE_MAX);
		CHECK(l.n == 0 || l.uids);
		for (size_t i = 0; i < l.n; i++)
			sink += strlen(l.uids[i]);
	} else {
		CHECK(l.n == 0 && l.uids == NULL);
	}
	kmip_uid_list_free(&l);
}

/* ------------------------------------------------------------------ RAW */

static const uint32_t op_table[7] = {
	KMIP_OP_GET, KMIP_OP_GET_ATTRIBUTES, KMIP_OP_LOCATE, KMIP_OP_CREATE,
	KMIP_OP_REGISTER, KMIP_OP_REVOKE, KMIP_OP_DESTROY,
};

/* The error an answered item must carry, from its status and reason. */
static int expected_err(const struct kmip_resp_item *it)
{
	switch (it->status) {
	case KMIP_STATUS_SUCCESS:
		return 0;
	case KMIP_STATUS_OPERATION_FAILED:
		return it->has_reason ? kmip_reason_errno(it->reason) : -EIO;
	case KMIP_STATUS_OPERATION_PENDING:
		return -EINPROGRESS;
	default:	/* Undone (the parser refuses any other status) */
		return -ENOMSG;
	}
}

static void raw_mode(uint8_t c0, uint8_t c1, const uint8_t *msg, size_t len)
{
	struct kmip_resp_item items[8];
	uint32_t ops[8];
	unsigned n = (c1 & 7) + 1, sel = c0 & 7, i;
	bool no_ops = c0 & 8;
	int version = -1, r;

	for (i = 0; i < n; i++)
		ops[i] = sel == 7 ? KMIP_OP_GET_ATTRIBUTES : op_table[(sel + i) % 7];
	r = kmip_response_parse(msg, len, 0, no_ops ? NULL : ops, n, &version, items);
	if (debug)
		fprintf(stderr, "raw n %u: %d, version 0x%x\n", n, r, version);
	if (r < 0) {
		CHECK(r == -EBADMSG || r == -EMSGSIZE || r == -ELOOP);
		for (i = 0; i < n; i++)
			CHECK(!items[i].answered && items[i].err == -ENOMSG);
		return;
	}
	CHECK(r == 0);
	/* Any major.minor 0..255 (the header's version is only reported). */
	CHECK(version >= 0 && version <= 0xFFFF);
	for (i = 0; i < n; i++) {
		const struct kmip_resp_item *it = &items[i];

		if (!it->answered) {
			CHECK(it->err == -ENOMSG);
			continue;
		}
		CHECK(it->status <= KMIP_STATUS_OPERATION_UNDONE);
		CHECK(it->err == expected_err(it));
		if (it->status != KMIP_STATUS_SUCCESS)
			CHECK(it->err < 0);
		/* An item answers its own operation (the copied message-level
		 * error has no Operation: it->op is 0 there). */
		if (!no_ops && it->op)
			CHECK(it->op == ops[i]);
		if (it->message) {
			CHECK((const uint8_t *)it->message >= msg &&
			      (const uint8_t *)it->message + it->message_len <= msg + len);
		}
		if (it->has_payload) {
			CHECK(it->payload.type == TTLV_STRUCTURE);
			CHECK(it->payload.value >= msg &&
			      it->payload.value + it->payload.len <= msg + len);
			parse_payload(&it->payload);
		}
		/* Name lookups take any value. */
		sink += strlen(kmip_reason_name(it->reason)) + strlen(kmip_operation_name(it->op));
	}
}

/* --------------------------------------------------------------- CLIENT */

struct feed {
	const uint8_t *p;
	size_t left;
	unsigned calls;
};

static int feed_rt(void *ctx, const uint8_t *req, size_t req_len,
		   uint8_t **resp, size_t *resp_len, bool idempotent)
{
	struct feed *f = ctx;
	struct ttlv_item root;
	size_t n = f->left, total;

	/* Whatever the client sends is one valid Request Message. */
	CHECK(ttlv_decode(req, req_len, NULL, &root) == 0);
	CHECK(root.tag == 0x420078 && root.type == TTLV_STRUCTURE);

	if (++f->calls > 16 || f->left == 0)
		return -ECONNRESET;
	if (f->left >= TTLV_HEADER_LEN &&
	    ttlv_frame_len(f->p, TTLV_MAX_MESSAGE, &total) == 0 && total <= f->left)
		n = total;
	*resp = secmem_alloc(n);
	if (!*resp)
		return -ENOMEM;
	memcpy(*resp, f->p, n);
	*resp_len = n;
	f->p += n;
	f->left -= n;
	return 0;
}

static const int versions[8] = {
	0, KMIP_VERSION(1, 0), KMIP_VERSION(1, 1), KMIP_VERSION(1, 2),
	KMIP_VERSION(1, 3), KMIP_VERSION(1, 4), KMIP_VERSION(2, 0), KMIP_VERSION(2, 1),
};

/*
 * The last error is one printable, bounded line, "" exactly when there is
 * no failure to describe; a failed negotiation names itself.
 */
static void check_client_state(struct kmip_client *c)
{
	const struct kmip_result *lr = kmip_last_result(c);
	const char *e = kmip_last_error(c);
	const char *step = kmip_last_failure_step(c);

	CHECK(nul_in(lr->message, sizeof(lr->message)));
	CHECK(printable(lr->message));
	CHECK(printable(e));
	CHECK(strlen(e) < KMIP_RESULT_MESSAGE_MAX + 64);
	CHECK((kmip_last_failure(c) == KMIP_FAILURE_NONE) == (e[0] == '\0'));
	if (step) {
		CHECK(printable(step));
		CHECK(!strncmp(step, "negotiating the KMIP version with ", 34));
	}
	sink += strlen(e);
}

static void client_mode(uint8_t c0, uint8_t c1, const uint8_t *msg, size_t len)
{
	static const uint8_t kek[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const uint8_t secret[32] = { 0x55 };
	static const char *const uids[3] = { "1", "2", "3" };
	struct feed f = { msg, len, 0 };
	struct kmip_client *c = NULL;
	char uid[KMIP_UID_SIZE];
	int r;

	r = kmip_client_new_custom(feed_rt, &f, versions[c1 & 7], &c);
	CHECK(r == 0 && c);

	switch ((c0 & 0x1F) % 20) {
	case 0:
	case 1: {
		struct kmip_key_wrap w = { .kek_uid = "9", .mode = KMIP_BCM_NIST_KEY_WRAP,
					   .kek = (c0 & 0x1F) == 1 ? kek : NULL,
					   .kek_len = sizeof(kek) };
		struct kmip_object o;

		r = kmip_get(c, "1", (c0 & 0x1F) == 1 ? &w : NULL, &o);
		if (r == 0) {
			CHECK(nul_in(o.uid, sizeof(o.uid)));
			CHECK(o.material && o.material_len <= KMIP_MATERIAL_MAX);
			kmip_object_clear(&o);
		}
		break;
	}
	case 2: {
		struct kmip_attrs a;

		r = kmip_get_attributes(c, "1", KMIP_ATTR_ALL, &a);
		if (r == 0)
			CHECK(a.n_names <= KMIP_ATTR_VALUES_MAX && nul_in(a.uid, sizeof(a.uid)));
		break;
	}
	case 3: {
		int states[3], errs[3];

		r = kmip_get_states(c, uids, 3, states, errs);
		break;
	}
	case 4:
	case 5: {
		struct kmip_locate_filter fl = { .name = "vmk-host1", .object_type = KMIP_OBJ_SYMMETRIC_KEY,
						 .state = KMIP_STATE_ACTIVE, .group = "g",
						 .max_items = 2, .offset_items = 1 };
		struct kmip_uid_list l;

		if ((c0 & 0x1F) == 4) {
			r = kmip_locate(c, &fl, &l);
			if (r == 0) {
				CHECK(l.n <= KMIP_LOCATE_MAX);
				kmip_uid_list_free(&l);
			}
		} else {
			r = kmip_locate_verify(c, "1", &fl);
		}
		break;
	}
	case 6: {
		struct kmip_server_info si;

		r = kmip_query(c, &si);
		if (r == 0) {
			CHECK(nul_in(si.vendor, sizeof(si.vendor)) && nul_in(si.info, sizeof(si.info)));
			sink += kmip_server_has_op(&si, KMIP_OP_GET);
		}
		break;
	}
	case 7: {
		int v[8];
		size_t n = 0;

		r = kmip_discover_versions(c, v, 8, &n);
		if (r == 0)
			CHECK(n <= 8);
		break;
	}
	case 8: {
		struct kmip_new_object a = { .name = "n", .group = "g", .activate = true };

		r = kmip_create(c, 256, &a, uid);
		CHECK(nul_in(uid, sizeof(uid)) || r < 0);
		break;
	}
	case 9: {
		struct kmip_new_object a = { .name = "n" };

		r = kmip_register_secret(c, secret, sizeof(secret), &a, uid);
		break;
	}
	case 10: {
		struct kmip_new_object a = { .group = "g", .activate = true };

		r = kmip_register_key(c, secret, sizeof(secret), &a, uid);
		break;
	}
	case 11:
		r = kmip_activate(c, "1");
		break;
	case 12: {
		struct kmip_revoke rv = { .reason = KMIP_REVOKE_KEY_COMPROMISE, .message = "m" };

		r = kmip_revoke(c, "1", &rv);
		break;
	}
	case 13:
		r = kmip_destroy(c, "1");
		break;
	case 14:
	case 15: {
		struct kmip_crypt_params p = { .iv_len = (c0 & 0x1F) == 14 ? 0 : 16 };
		uint8_t *out = NULL;
		size_t out_len = 0;

		if ((c0 & 0x1F) == 14)
			r = kmip_encrypt(c, "1", &p, secret, sizeof(secret), &out, &out_len);
		else
			r = kmip_decrypt(c, "1", &p, secret, sizeof(secret), &out, &out_len);
		if (r == 0)
			CHECK(out || out_len == 0);
		CHECK(p.iv_len <= KMIP_IV_MAX);
		secmem_free(out);
		break;
	}
	case 16:
		r = kmip_rekey(c, "1", uid);
		break;
	case 17:
		r = kmip_client_version(c);
		CHECK(r != 0);
		if (r > 0)
			CHECK(kmip_version_supported(r));
		break;
	case 18:
	case 19: {
		/* The unlock request: State and Get (or Decrypt) in one batch. */
		struct kmip_key_wrap w = { .kek_uid = "9", .kek = kek, .kek_len = sizeof(kek) };
		struct kmip_crypt_params p = { .iv_len = 16 };
		struct kmip_fetch fe = { .uid = "1" };

		if ((c0 & 0x1F) == 19) {
			fe.decrypt = &p;
			fe.in = secret;
			fe.in_len = sizeof(secret);
		} else if (c1 & 0x80) {
			fe.wrap = &w;
		}
		kmip_client_assume_version(c, versions[(c1 >> 3) & 7]);
		r = kmip_fetch(c, &fe);
		/* Never material for a key that is not Active, or after a failure. */
		if (r < 0 || fe.fetch_err || !(fe.attrs.present & KMIP_ATTR_STATE) ||
		    fe.attrs.state != KMIP_STATE_ACTIVE)
			CHECK(!fe.obj.material && !fe.out);
		if (r == 0 && !fe.fetch_err && !fe.decrypt)
			CHECK(fe.obj.material && fe.obj.material_len <= KMIP_MATERIAL_MAX);
		if (r == 0 && !fe.fetch_err && fe.decrypt)
			CHECK(fe.out && fe.out_len > 0);
		kmip_object_clear(&fe.obj);
		secmem_free(fe.out);
		break;
	}
	}
	sink += (size_t)r;
	if (debug)
		fprintf(stderr, "client op %u version %d: %d (%s) after %u exchanges\n",
			(c0 & 0x1F) % 20, versions[c1 & 7], r, kmip_last_error(c), f.calls);
	check_client_state(c);
	kmip_client_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t before = secmem_in_use(NULL);

	if (debug < 0) {
		debug = getenv("FUZZ_DEBUG") != NULL;
		strict = getenv("FUZZ_STRICT") != NULL;
		/* The client logs (negotiation, failures): formatted, not printed. */
		if (!debug)
			log_set_sink(quiet, NULL);
	}
	if (size < 2)
		return 0;
	if (data[0] & 0x80)
		client_mode(data[0], data[1], data + 2, size - 2);
	else
		raw_mode(data[0], data[1], data + 2, size - 2);
	CHECK(secmem_in_use(NULL) == before);
	return 0;
}
