// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Request headers and batch items; response validation and batch item
 * correlation.  The response side is strict about what it uses (types,
 * counts, identifiers) and skips whatever it does not know, because
 * servers add fields freely (Time Stamp, Server Correlation Value,
 * Attestation Type...).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kmip/kmip_internal.h"
#include "ttlv/names.h"
#include "ttlv/text.h"

#define BATCH_ID_LEN 4u

bool kmip_version_supported(int v)
{
	switch (v) {
	case KMIP_VERSION(1, 0): case KMIP_VERSION(1, 1): case KMIP_VERSION(1, 2):
	case KMIP_VERSION(1, 3): case KMIP_VERSION(1, 4):
	case KMIP_VERSION(2, 0): case KMIP_VERSION(2, 1):
		return true;
	default:
		return false;
	}
}

const char *kmip_version_str(int v, char *buf, size_t len)
{
	snprintf(buf, len, "%d.%d", (v >> 8) & 0xFF, v & 0xFF);
	return buf;
}

void kmip_sanitize(char *dst, size_t dst_size, const char *src, size_t len)
{
	size_t i;

	if (!dst_size)
		return;
	if (len > dst_size - 1)
		len = dst_size - 1;
	/*
	 * Server text ends up in logs and on terminals: keep printable ASCII
	 * only, so that no escape sequence or line break can be injected.
	 */
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch >= 0x20 && ch < 0x7F) ? (char)ch : '?';
	}
	dst[len] = '\0';
}

/* ------------------------------------------------------------- reasons */

/* "Batch Item (0x42000F) at byte 72", the offset when it lies in the response. */
static void describe(const struct kmip_why *w, const struct ttlv_item *it, char *out, size_t size)
{
	const char *name = ttlv_tag_name(it->tag);
	const uint8_t *hdr = it->value - TTLV_HEADER_LEN;
	char at[40] = "";

	if (w->base && it->value >= w->base + TTLV_HEADER_LEN && it->value <= w->base + w->len)
		snprintf(at, sizeof(at), " at byte %zu", (size_t)(hdr - w->base));
	if (name)
		snprintf(out, size, "%s (0x%06" PRIX32 ")%s", name, it->tag, at);
	else
		snprintf(out, size, "tag 0x%06" PRIX32 "%s", it->tag, at);
}

int kmip_bad(struct kmip_why *w, int err, const struct ttlv_item *at, const char *fmt, ...)
{
	char what[128], item[96] = "";	/* with the prefix, within KMIP_WHY_SIZE */
	va_list ap;

	if (!w || w->err)
		return err;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (at)
		describe(w, at, item, sizeof(item));
	snprintf(w->text, sizeof(w->text), "%s%s%s%s", err == -EBADMSG ? "malformed response: " : "",
		 item, at ? ": " : "", what);
	/* Reasons may quote the server (identifiers): printable ASCII only. */
	kmip_sanitize(w->text, sizeof(w->text), w->text, strlen(w->text));
	w->err = err;
	return err;
}

/* "an Integer", "a Text String", "a value of type 0x0C". */
static void type_text(uint8_t type, char *out, size_t size)
{
	const char *t = ttlv_type_text(type);

	if (!t)
		snprintf(out, size, "a value of type 0x%02X", type);
	else
		snprintf(out, size, "%s %s", strchr("AEIOU", t[0]) ? "an" : "a", t);
}

int kmip_need_type(struct kmip_why *w, const struct ttlv_item *it, uint8_t type)
{
	char is[40], want[40];

	if (it->type == type)
		return 0;
	type_text(it->type, is, sizeof(is));
	type_text(type, want, sizeof(want));
	return kmip_bad(w, -EBADMSG, it, "%s, not %s", is, want);
}

int kmip_need(struct kmip_why *w, const struct ttlv_item *parent, uint32_t tag, uint8_t type,
	      struct ttlv_item *out)
{
	const char *name = ttlv_tag_name(tag);
	char hex[16];

	if (ttlv_find(parent, tag, out) < 0) {
		if (!name) {
			snprintf(hex, sizeof(hex), "0x%06" PRIX32, tag);
			name = hex;
		}
		return kmip_bad(w, -EBADMSG, parent, "no %s", name);
	}
	return kmip_need_type(w, out, type);
}

int kmip_copy_text(const struct ttlv_item *it, char *dst, size_t dst_size, struct kmip_why *w)
{
	const char *s;
	size_t len;
	int r;

	r = kmip_need_type(w, it, TTLV_TEXT);
	if (r < 0)
		return r;
	ttlv_get_text(it, &s, &len);
	if (len >= dst_size)
		return kmip_bad(w, -EBADMSG, it, "%zu bytes, more than the %zu accepted", len,
				dst_size - 1);
	memcpy(dst, s, len);	/* validated UTF-8 without NUL by the decoder */
	dst[len] = '\0';
	return 0;
}

/* ------------------------------------------------------------- requests */

int kmip_buf_fail(struct ttlv_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

int kmip_msg_begin(struct ttlv_buf *b, int version, unsigned count)
{
	if (!kmip_version_supported(version) || count == 0 || count > KMIP_BATCH_MAX)
		return kmip_buf_fail(b, -EINVAL);
	ttlv_begin(b, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_begin(b, KMIP_TAG_REQUEST_HEADER);
	ttlv_begin(b, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MAJOR, version >> 8);
	ttlv_put_int(b, KMIP_TAG_PROTOCOL_VERSION_MINOR, version & 0xFF);
	ttlv_end(b);
	/*
	 * The default is Stop: a server would skip every item after the first
	 * unknown key, which would hide the states of the others.
	 */
	if (count > 1)
		ttlv_put_enum(b, KMIP_TAG_BATCH_ERROR_CONTINUATION, KMIP_BATCH_ERROR_CONTINUE);
	/* No Time Stamp: servers reject skewed ones and boot clocks are wrong. */
	ttlv_put_int(b, KMIP_TAG_BATCH_COUNT, (int32_t)count);
	return ttlv_end(b);
}

static void batch_id(unsigned index, uint8_t id[BATCH_ID_LEN])
{
	uint32_t v = index + 1;

	id[0] = v >> 24;
	id[1] = v >> 16;
	id[2] = v >> 8;
	id[3] = v;
}

int kmip_msg_item_begin(struct ttlv_buf *b, uint32_t op, unsigned index, unsigned count)
{
	uint8_t id[BATCH_ID_LEN];

	ttlv_begin(b, KMIP_TAG_BATCH_ITEM);
	ttlv_put_enum(b, KMIP_TAG_OPERATION, op);
	/* PyKMIP refuses a multi-item batch whose items lack IDs. */
	if (count > 1) {
		batch_id(index, id);
		ttlv_put_bytes(b, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, id, sizeof(id));
	}
	return ttlv_begin(b, KMIP_TAG_REQUEST_PAYLOAD);
}

int kmip_msg_item_end(struct ttlv_buf *b)
{
	ttlv_end(b);		/* Request Payload */
	return ttlv_end(b);	/* Batch Item */
}

int kmip_msg_end(struct ttlv_buf *b)
{
	ttlv_end(b);
	return ttlv_buf_finish(b);
}

/* ------------------------------------------------------------ responses */

int kmip_parse_protocol_version(const struct ttlv_item *pv, int *version, struct kmip_why *w)
{
	struct ttlv_item maj, min;
	int32_t major, minor;
	int r;

	r = kmip_need_type(w, pv, TTLV_STRUCTURE);
	if (r == 0)
		r = kmip_need(w, pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR, TTLV_INTEGER, &maj);
	if (r == 0)
		r = kmip_need(w, pv, KMIP_TAG_PROTOCOL_VERSION_MINOR, TTLV_INTEGER, &min);
	if (r < 0)
		return r;
	ttlv_get_int(&maj, &major);
	ttlv_get_int(&min, &minor);
	if (major < 0 || major > 255 || minor < 0 || minor > 255)
		return kmip_bad(w, -EBADMSG, pv, "version %" PRId32 ".%" PRId32 " is out of range",
				major, minor);
	*version = KMIP_VERSION(major, minor);
	return 0;
}

static int parse_header(const struct ttlv_item *hdr, int *version, int32_t *count,
			struct kmip_why *w)
{
	struct ttlv_item pv, bc;
	int r;

	r = kmip_need_type(w, hdr, TTLV_STRUCTURE);
	if (r == 0)
		r = kmip_need(w, hdr, KMIP_TAG_PROTOCOL_VERSION, TTLV_STRUCTURE, &pv);
	if (r == 0)
		r = kmip_parse_protocol_version(&pv, version, w);
	if (r == 0)
		r = kmip_need(w, hdr, KMIP_TAG_BATCH_COUNT, TTLV_INTEGER, &bc);
	if (r == 0)
		ttlv_get_int(&bc, count);
	return r;
}

/* The fields of one response batch item; unknown ones skipped. */
struct raw_item {
	bool has_op, has_id, has_status;
	uint32_t op;
	const uint8_t *id;
	size_t id_len;
	struct kmip_resp_item r;
};

static int parse_item(const struct ttlv_item *bi, struct raw_item *ri, struct kmip_why *w)
{
	struct ttlv_iter it;
	struct ttlv_item c;
	int r = 0;

	memset(ri, 0, sizeof(*ri));
	r = kmip_need_type(w, bi, TTLV_STRUCTURE);
	if (r < 0)
		return r;
	ttlv_iter_init(&it, bi);
	while (ttlv_iter_next(&it, &c)) {
		/* The first occurrence of a field counts; repeats are ignored. */
		switch (c.tag) {
		case KMIP_TAG_OPERATION:
			if (!ri->has_op) {
				r = kmip_need_type(w, &c, TTLV_ENUM);
				ttlv_get_enum(&c, &ri->op);
				ri->has_op = true;
			}
			break;
		case KMIP_TAG_UNIQUE_BATCH_ITEM_ID:
			if (!ri->has_id) {
				r = kmip_need_type(w, &c, TTLV_BYTES);
				ttlv_get_bytes(&c, &ri->id, &ri->id_len);
				ri->has_id = true;
			}
			break;
		case KMIP_TAG_RESULT_STATUS:
			if (!ri->has_status) {
				r = kmip_need_type(w, &c, TTLV_ENUM);
				ttlv_get_enum(&c, &ri->r.status);
				ri->has_status = true;
				if (r == 0 && ri->r.status > KMIP_STATUS_OPERATION_UNDONE)
					r = kmip_bad(w, -EBADMSG, &c, "%" PRIu32 " is not a Result "
						     "Status (0 to 3)", ri->r.status);
			}
			break;
		case KMIP_TAG_RESULT_REASON:
			if (!ri->r.has_reason) {
				r = kmip_need_type(w, &c, TTLV_ENUM);
				ttlv_get_enum(&c, &ri->r.reason);
				ri->r.has_reason = true;
			}
			break;
		case KMIP_TAG_RESULT_MESSAGE:
			if (!ri->r.message) {
				r = kmip_need_type(w, &c, TTLV_TEXT);
				ttlv_get_text(&c, &ri->r.message, &ri->r.message_len);
			}
			break;
		case KMIP_TAG_RESPONSE_PAYLOAD:
			if (!ri->r.has_payload) {
				r = kmip_need_type(w, &c, TTLV_STRUCTURE);
				ri->r.payload = c;
				ri->r.has_payload = true;
			}
			break;
		default:
			break;
		}
		if (r < 0)
			return r;
	}
	if (!ri->has_status)
		return kmip_bad(w, -EBADMSG, bi, "no Result Status");
	ri->r.op = ri->has_op ? ri->op : 0;
	ri->r.answered = true;
	switch (ri->r.status) {
	case KMIP_STATUS_SUCCESS:
		ri->r.err = 0;
		break;
	case KMIP_STATUS_OPERATION_FAILED:
		ri->r.err = ri->r.has_reason ? kmip_reason_errno(ri->r.reason) : -EIO;
		break;
	case KMIP_STATUS_OPERATION_PENDING:
		/* We never ask for asynchronous processing. */
		ri->r.err = -EINPROGRESS;
		break;
	case KMIP_STATUS_OPERATION_UNDONE:
		/* Rolled back with a failed item (we never ask for Undo): no result. */
		ri->r.err = -ENOMSG;
		break;
	default:
		ri->r.err = -EBADMSG;	/* a Result Status the specification does not have */
		break;
	}
	return 0;
}

/* Which request item does an ID name?  -1 if none of ours. */
static int id_index(const struct raw_item *ri, unsigned n)
{
	uint32_t v;

	if (ri->id_len != BATCH_ID_LEN)
		return -1;
	v = (uint32_t)ri->id[0] << 24 | (uint32_t)ri->id[1] << 16 |
	    (uint32_t)ri->id[2] << 8 | ri->id[3];
	if (v == 0 || v > n)
		return -1;
	return (int)(v - 1);
}

/* The whole message does not decode: where and why, in the decoder's words. */
static int undecodable(struct kmip_why *w, const struct ttlv_error *e)
{
	char why[TTLV_ERROR_TEXT];

	ttlv_error_format(e, why, sizeof(why));
	return kmip_bad(w, e->err == -EBADMSG ? -EBADMSG : e->err, NULL, "%s%s",
			e->err == -EBADMSG ? "" : "response refused: ", why);
}

int kmip_response_parse(const uint8_t *msg, size_t len, size_t max_len,
			const uint32_t *ops, unsigned n, int *version,
			struct kmip_resp_item *items)
{
	return kmip_response_parse_why(msg, len, max_len, ops, n, version, items, NULL);
}

int kmip_response_parse_why(const uint8_t *msg, size_t len, size_t max_len,
			    const uint32_t *ops, unsigned n, int *version,
			    struct kmip_resp_item *items, struct kmip_why *w)
{
	struct ttlv_limits lim = { .max_len = max_len ? max_len : TTLV_MAX_MESSAGE,
				   .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item root, hdr, c;
	struct ttlv_error e;
	struct ttlv_iter it;
	struct raw_item ri, first = { 0 };
	bool have_hdr = false, any_id = false;
	unsigned k = 0, i;
	int32_t count = 0;
	int r, slot;

	if (n == 0 || n > KMIP_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		memset(&items[i], 0, sizeof(items[i]));
		items[i].err = -ENOMSG;
	}
	r = ttlv_decode_detail(msg, len, &lim, &root, &e);
	if (r < 0) {
		undecodable(w, &e);
		goto out;
	}
	r = -EBADMSG;
	if (root.tag != KMIP_TAG_RESPONSE_MESSAGE || root.type != TTLV_STRUCTURE) {
		kmip_bad(w, r, &root, "not a Response Message (Structure)");
		goto out;
	}

	ttlv_iter_init(&it, &root);
	while (ttlv_iter_next(&it, &c)) {
		if (c.tag == KMIP_TAG_RESPONSE_HEADER && !have_hdr) {
			hdr = c;
			have_hdr = true;
			continue;
		}
		if (c.tag != KMIP_TAG_BATCH_ITEM)
			continue;
		if (k >= n) {
			kmip_bad(w, r, &c, "more Batch Items than the %u asked", n);
			goto out;		/* more answers than questions */
		}
		if (parse_item(&c, &ri, w) < 0)
			goto out;
		if (k == 0)
			first = ri;
		/* IDs are ours only when we sent them (n > 1). */
		if (n > 1 && ri.has_id) {
			slot = id_index(&ri, n);
			if (slot < 0) {
				kmip_bad(w, r, &c, "its Unique Batch Item ID names no item of the "
					 "request");
				goto out;
			}
			any_id = true;
		} else {
			slot = (int)k;
		}
		if (items[slot].answered) {
			kmip_bad(w, r, &c, "answers request item %d a second time", slot + 1);
			goto out;		/* the same item answered twice */
		}
		/* A message-level error item carries no Operation: fine. */
		if (ri.has_op && ops && ri.op != ops[slot]) {
			kmip_bad(w, r, &c, "answers %s, the request item was %s",
				 kmip_operation_name(ri.op), kmip_operation_name(ops[slot]));
			goto out;
		}
		items[slot] = ri.r;
		k++;
	}
	if (!have_hdr) {
		kmip_bad(w, r, &root, "no Response Header");
		goto out;
	}
	if (parse_header(&hdr, version, &count, w) < 0)
		goto out;
	if (k == 0) {
		kmip_bad(w, r, &root, "no Batch Item");
		goto out;
	}
	if (count < 0 || (uint32_t)count != k) {
		kmip_bad(w, r, &hdr, "Batch Count %" PRId32 ", but %u Batch Item%s", count, k,
			 k == 1 ? "" : "s");
		goto out;
	}
	/*
	 * One failed item without ID and without Operation for a multi-item
	 * request: the server rejected the message as a whole (PyKMIP does so
	 * for parse errors).  An item that names an Operation answers item 0
	 * only (a server that stopped at the first failure): copying its
	 * "Item Not Found" to every key would make the daemon lock volumes
	 * whose keys are fine.  The others stay unanswered (-ENOMSG).
	 */
	if (n > 1 && k == 1 && !any_id && !first.has_id && !first.has_op &&
	    first.r.status != KMIP_STATUS_SUCCESS) {
		for (i = 0; i < n; i++)
			items[i] = first.r;
	}
	r = 0;
out:
	if (r < 0) {
		for (i = 0; i < n; i++) {
			memset(&items[i], 0, sizeof(items[i]));
			items[i].err = -ENOMSG;
		}
	}
	return r;
}
