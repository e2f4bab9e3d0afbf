// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Request headers and batch items; response validation and batch item
 * correlation.  The response side is strict about what it uses (types,
 * counts, identifiers) and skips whatever it does not know, because
 * servers add fields freely (Time Stamp, Server Correlation Value,
 * Attestation Type...).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kmip/kmip_internal.h"

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

int kmip_copy_text(const struct ttlv_item *it, char *dst, size_t dst_size)
{
	const char *s;
	size_t len;

	if (ttlv_get_text(it, &s, &len) < 0 || len >= dst_size)
		return -EBADMSG;
	memcpy(dst, s, len);	/* validated UTF-8 without NUL by the decoder */
	dst[len] = '\0';
	return 0;
}

/* ------------------------------------------------------------- requests */

int kmip_msg_begin(struct ttlv_buf *b, int version, unsigned count)
{
	if (!kmip_version_supported(version) || count == 0 || count > KMIP_BATCH_MAX) {
		if (!b->err)
			b->err = -EINVAL;
		return b->err;
	}
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

int kmip_parse_protocol_version(const struct ttlv_item *pv, int *version)
{
	int32_t major, minor;

	if (pv->type != TTLV_STRUCTURE ||
	    ttlv_find_int(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR, &major) < 0 ||
	    ttlv_find_int(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR, &minor) < 0 ||
	    major < 0 || major > 255 || minor < 0 || minor > 255)
		return -EBADMSG;
	*version = KMIP_VERSION(major, minor);
	return 0;
}

static int parse_header(const struct ttlv_item *hdr, int *version, int32_t *count)
{
	struct ttlv_item pv;

	if (hdr->type != TTLV_STRUCTURE ||
	    ttlv_find(hdr, KMIP_TAG_PROTOCOL_VERSION, &pv) < 0 ||
	    kmip_parse_protocol_version(&pv, version) < 0 ||
	    ttlv_find_int(hdr, KMIP_TAG_BATCH_COUNT, count) < 0)
		return -EBADMSG;
	return 0;
}

/* The fields of one response batch item; unknown ones skipped. */
struct raw_item {
	bool has_op, has_id, has_status;
	uint32_t op;
	const uint8_t *id;
	size_t id_len;
	struct kmip_resp_item r;
};

static int parse_item(const struct ttlv_item *bi, struct raw_item *ri)
{
	struct ttlv_iter it;
	struct ttlv_item c;
	int r = 0;

	memset(ri, 0, sizeof(*ri));
	if (bi->type != TTLV_STRUCTURE)
		return -EBADMSG;
	ttlv_iter_init(&it, bi);
	while (ttlv_iter_next(&it, &c)) {
		/* The first occurrence of a field counts; repeats are ignored. */
		switch (c.tag) {
		case KMIP_TAG_OPERATION:
			if (!ri->has_op) {
				r = ttlv_get_enum(&c, &ri->op);
				ri->has_op = true;
			}
			break;
		case KMIP_TAG_UNIQUE_BATCH_ITEM_ID:
			if (!ri->has_id) {
				r = ttlv_get_bytes(&c, &ri->id, &ri->id_len);
				ri->has_id = true;
			}
			break;
		case KMIP_TAG_RESULT_STATUS:
			if (!ri->has_status) {
				r = ttlv_get_enum(&c, &ri->r.status);
				ri->has_status = true;
			}
			break;
		case KMIP_TAG_RESULT_REASON:
			if (!ri->r.has_reason) {
				r = ttlv_get_enum(&c, &ri->r.reason);
				ri->r.has_reason = true;
			}
			break;
		case KMIP_TAG_RESULT_MESSAGE:
			if (!ri->r.message)
				r = ttlv_get_text(&c, &ri->r.message, &ri->r.message_len);
			break;
		case KMIP_TAG_RESPONSE_PAYLOAD:
			if (!ri->r.has_payload) {
				if (c.type != TTLV_STRUCTURE)
					r = -EBADMSG;
				ri->r.payload = c;
				ri->r.has_payload = true;
			}
			break;
		default:
			break;
		}
		if (r < 0)
			return -EBADMSG;
	}
	if (!ri->has_status || ri->r.status > KMIP_STATUS_OPERATION_UNDONE)
		return -EBADMSG;
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
	default:
		ri->r.err = -ECANCELED;
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

int kmip_response_parse(const uint8_t *msg, size_t len, size_t max_len,
			const uint32_t *ops, unsigned n, int *version,
			struct kmip_resp_item *items)
{
	struct ttlv_limits lim = { .max_len = max_len ? max_len : TTLV_MAX_MESSAGE,
				   .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item root, hdr, c;
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
		items[i].err = -ECANCELED;
	}
	r = ttlv_decode(msg, len, &lim, &root);
	if (r < 0)
		goto out;
	r = -EBADMSG;
	if (root.tag != KMIP_TAG_RESPONSE_MESSAGE || root.type != TTLV_STRUCTURE)
		goto out;

	ttlv_iter_init(&it, &root);
	while (ttlv_iter_next(&it, &c)) {
		if (c.tag == KMIP_TAG_RESPONSE_HEADER && !have_hdr) {
			hdr = c;
			have_hdr = true;
			continue;
		}
		if (c.tag != KMIP_TAG_BATCH_ITEM)
			continue;
		if (k >= n)
			goto out;		/* more answers than questions */
		if (parse_item(&c, &ri) < 0)
			goto out;
		if (k == 0)
			first = ri;
		/* IDs are ours only when we sent them (n > 1). */
		if (n > 1 && ri.has_id) {
			slot = id_index(&ri, n);
			if (slot < 0)
				goto out;
			any_id = true;
		} else {
			slot = (int)k;
		}
		if (items[slot].answered)
			goto out;		/* the same item answered twice */
		/* A message-level error item carries no Operation: fine. */
		if (ri.has_op && ops && ri.op != ops[slot])
			goto out;
		items[slot] = ri.r;
		k++;
	}
	if (!have_hdr || parse_header(&hdr, version, &count) < 0)
		goto out;
	if (count < 0 || (uint32_t)count != k || k == 0)
		goto out;
	/*
	 * One failed item without ID and without Operation for a multi-item
	 * request: the server rejected the message as a whole (PyKMIP does so
	 * for parse errors).  An item that names an Operation answers item 0
	 * only (a server that stopped at the first failure): copying its
	 * "Item Not Found" to every key would make the daemon lock volumes
	 * whose keys are fine.  The others stay unanswered (-ECANCELED).
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
			items[i].err = -ECANCELED;
		}
	}
	return r;
}
