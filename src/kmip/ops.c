// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Operations: one client function per operation, over kmip/client.c's
 * exchange, built by build.c and read by parse.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmip/kmip_client_internal.h"
#include "util/errclass.h"
#include "ttlv/names.h"
#include "util/log.h"
#include "util/secmem.h"

/* ----------------------------------------------------------- operations */

/* A single-item call in flight: its request, and the reply it got. */
struct call {
	struct ttlv_buf b;
	struct kmip_reply reply;
	struct kmip_resp_item item;
};

static int call_begin(struct kmip_client *c, struct call *k)
{
	memset(k, 0, sizeof(*k));
	ttlv_buf_init(&k->b, c->max_message);
	kmip_result_reset(c);
	return kmip_negotiate(c);
}

/* Send the built request; 0 only for a success answer. */
static int call_send(struct kmip_client *c, struct call *k, uint32_t op, bool idempotent)
{
	int r = kmip_exchange(c, &k->b, &op, 1, idempotent, &k->reply, &k->item);

	if (r < 0)
		return r;
	return k->item.err;
}

static void call_end(struct call *k)
{
	kmip_reply_free(&k->reply);
	ttlv_buf_free(&k->b);	/* wipes: requests may carry key material */
}

/* Send, for an operation that reads the answer: it must carry a payload. */
static int call_read(struct kmip_client *c, struct call *k, uint32_t op, bool idempotent,
		     const struct ttlv_item **p)
{
	int r = call_send(c, k, op, idempotent);

	if (r < 0)
		return r;
	if (!k->item.has_payload)
		return kmip_bad(&c->why, -EBADMSG, NULL, "the %s answer has no Response Payload",
				kmip_operation_name(op));
	*p = &k->item.payload;
	return 0;
}

int kmip_query(struct kmip_client *c, struct kmip_server_info *out)
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	memset(out, 0, sizeof(*out));
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_query(&k.b, c->version);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_QUERY, true, &p);
	if (r < 0)
		goto out;
	r = kmip_parse_query_why(p, out, &c->why);
	if (r == 0 && !c->assumed) {
		c->offers = *out;
		c->offers_version = c->version;
	}
out:
	call_end(&k);
	return r;
}

int kmip_server_offers(struct kmip_client *c, uint32_t op)
{
	struct kmip_server_info *si = NULL;
	int r;

	if (c->offers_version && c->offers_version == c->version && !c->assumed)
		return kmip_server_has_op(&c->offers, op);
	r = -ENOMEM;
	si = malloc(sizeof(*si));
	if (!si)
		goto out;
	r = kmip_query(c, si);
	if (r == 0) {
		r = kmip_server_has_op(si, op);
		goto out;
	}
	/*
	 * The server answered Query, with a failure (it has no Query, or not
	 * for us): it offers nothing we know of.  Remembered like a list.
	 * A failure to negotiate, to reach it, or to read it is no answer.
	 */
	if (kmip_last_failure(c) == KMIP_FAILURE_SERVER && !kmip_last_failure_step(c) &&
	    !c->assumed) {
		log_debug("KMIP: %s answers Query with %s: taking it for a server that offers "
			  "nothing beyond the basics", c->server, kmip_last_error(c));
		memset(&c->offers, 0, sizeof(c->offers));
		c->offers_version = c->version;
		r = 0;
	}
out:
	free(si);
	return r;
}

/* Create or Register: send, read the new identifier, activate if asked. */
static int new_object(struct kmip_client *c, struct call *k, uint32_t op,
		      const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	const struct ttlv_item *p;
	int r;

	r = call_read(c, k, op, false, &p);
	if (r < 0)
		goto out;
	r = kmip_parse_uid_why(p, uid, &c->why);
	if (r < 0)
		goto out;
	/*
	 * A separate Activate, not an Activation Date attribute: PyKMIP does
	 * not support setting that attribute, and batching both would need
	 * the ID placeholder.
	 */
	if (a && a->activate)
		r = kmip_activate(c, uid);
out:
	return r;
}

int kmip_create(struct kmip_client *c, unsigned bits, const struct kmip_new_object *a,
		char uid[KMIP_UID_SIZE])
{
	struct call k;
	int r;

	uid[0] = '\0';
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_create(&k.b, c->version, bits, a);
	if (r < 0)
		goto out;
	r = new_object(c, &k, KMIP_OP_CREATE, a, uid);
out:
	call_end(&k);
	return r;
}

/* Register Secret Data, or (key) an AES Symmetric Key. */
static int register_object(struct kmip_client *c, bool key, const uint8_t *v, size_t len,
			   const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	struct call k;
	int r;

	uid[0] = '\0';
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	if (key)
		r = kmip_build_register_key(&k.b, c->version, v, len, a);
	else
		r = kmip_build_register_secret(&k.b, c->version, v, len, a);
	if (r < 0)
		goto out;
	r = new_object(c, &k, KMIP_OP_REGISTER, a, uid);
out:
	call_end(&k);
	return r;
}

int kmip_register_secret(struct kmip_client *c, const uint8_t *secret, size_t len,
			 const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	return register_object(c, false, secret, len, a, uid);
}

int kmip_register_key(struct kmip_client *c, const uint8_t *key, size_t len,
		      const struct kmip_new_object *a, char uid[KMIP_UID_SIZE])
{
	return register_object(c, true, key, len, a, uid);
}

/* Operations whose answer is only the Unique Identifier. */
static int uid_op(struct kmip_client *c, uint32_t op, const char *uid, const struct kmip_revoke *rv)
{
	struct call k;
	int r;

	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	if (op == KMIP_OP_REVOKE)
		r = kmip_build_revoke(&k.b, c->version, uid, rv);
	else
		r = op == KMIP_OP_ACTIVATE ? kmip_build_activate(&k.b, c->version, uid) :
		    kmip_build_destroy(&k.b, c->version, uid);
	if (r < 0)
		goto out;
	r = call_send(c, &k, op, false);
	if (r < 0)
		goto out;
	/* Some servers answer with an empty payload: the UID is ours anyway. */
	if (k.item.has_payload)
		r = kmip_parse_echo_why(&k.item.payload, uid, &c->why);
out:
	call_end(&k);
	return r;
}

int kmip_activate(struct kmip_client *c, const char *uid)
{
	return uid_op(c, KMIP_OP_ACTIVATE, uid, NULL);
}

int kmip_destroy(struct kmip_client *c, const char *uid)
{
	return uid_op(c, KMIP_OP_DESTROY, uid, NULL);
}

int kmip_revoke(struct kmip_client *c, const char *uid, const struct kmip_revoke *rv)
{
	return uid_op(c, KMIP_OP_REVOKE, uid, rv);
}

int kmip_modify_group(struct kmip_client *c, const char *uid, const char *from, const char *to)
{
	struct kmip_attrs a;
	struct call k;
	int32_t index = 0;
	unsigned i;
	int r;

	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	if (!kmip_v2(c->version)) {
		/* 1.x names a value by index: its position among those the server lists. */
		r = kmip_get_attributes(c, uid, KMIP_ATTR_OBJECT_GROUP, &a);
		if (r < 0)
			goto out;
		for (i = 0; i < a.n_groups && strcmp(a.groups[i], from); i++)
			;
		if (i == a.n_groups)
			goto out;	/* not (or no longer) there */
		index = (int32_t)i;
	}
	r = kmip_build_modify_group(&k.b, c->version, uid, from, to, index);
	if (r < 0)
		goto out;
	r = call_send(c, &k, KMIP_OP_MODIFY_ATTRIBUTE, false);
	if (r < 0)
		goto out;
	if (k.item.has_payload)
		r = kmip_parse_echo_why(&k.item.payload, uid, &c->why);
out:
	call_end(&k);
	return r;
}

/* Check a wrapped answer against the request, then unwrap it if we can. */
static int get_unwrap(const struct kmip_key_wrap *w, struct kmip_object *o, struct kmip_why *why)
{
	const char *mode = ttlv_enum_name(KMIP_TAG_BLOCK_CIPHER_MODE, kmip_wrap_mode(w));
	const char *got = ttlv_enum_name(KMIP_TAG_BLOCK_CIPHER_MODE, o->wrap_mode);
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int r = -EPROTO;

	/* A key sent in the clear when we asked for it wrapped is refused. */
	if (!o->wrapped) {
		kmip_bad(why, r, NULL, "the server sent the key unwrapped; it was asked to wrap "
			 "it with key '%s'", w->kek_uid);
		goto out;
	}
	if (o->wrap_mode && o->wrap_mode != kmip_wrap_mode(w)) {
		kmip_bad(why, r, NULL, "the server wrapped the key with %s; %s was asked",
			 got ? got : "an unknown mode", mode ? mode : "another mode");
		goto out;
	}
	if (o->wrap_kek_uid[0] && strcmp(o->wrap_kek_uid, w->kek_uid) != 0) {
		kmip_bad(why, r, NULL, "the server wrapped the key with key '%s'; '%s' was asked",
			 o->wrap_kek_uid, w->kek_uid);
		goto out;
	}
	r = 0;
	if (!w->kek)
		goto out;
	r = kmip_unwrap(kmip_wrap_mode(w), w->kek, w->kek_len, o->material, o->material_len,
			&plain, &plain_len);
	if (r == -EBADMSG)	/* the wrong KEK, not a garbled response: no retry mends it */
		r = kmip_bad(why, -EKEKMISMATCH, NULL, "the key does not unwrap with the local "
			     "copy of key '%s' (integrity check failed)", w->kek_uid);
	if (r < 0)
		goto out;
	secmem_free(o->material);
	o->material = plain;
	o->material_len = plain_len;
	o->wrapped = false;
out:
	return r;
}

/* A Get answer's payload: about uid, unwrapped with wrap->kek if given. */
static int read_get(struct kmip_client *c, const struct ttlv_item *p, const char *uid,
		    const struct kmip_key_wrap *wrap, struct kmip_object *out)
{
	int r = kmip_parse_get_why(p, out, &c->why);

	if (r < 0)
		goto out;
	if (strcmp(out->uid, uid) != 0) {
		r = kmip_bad(&c->why, -EBADMSG, NULL, "the Get answer is about key '%.64s', the "
			     "request about '%s'", out->uid, uid);
		goto out;
	}
	r = wrap ? get_unwrap(wrap, out, &c->why) : 0;
out:
	if (r < 0)
		kmip_object_clear(out);
	return r;
}

int kmip_get(struct kmip_client *c, const char *uid, const struct kmip_key_wrap *wrap,
	     struct kmip_object *out)
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	memset(out, 0, sizeof(*out));
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_get(&k.b, c->version, uid, wrap);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_GET, true, &p);
	if (r < 0)
		goto out;
	r = read_get(c, p, uid, wrap, out);
out:
	call_end(&k);
	return r;
}

/* A Get Attributes item answered without failure: its attributes, about uid. */
static int read_attrs(struct kmip_client *c, const struct kmip_resp_item *it, const char *uid,
		      struct kmip_attrs *out)
{
	int r;

	if (!it->has_payload)
		return kmip_bad(&c->why, -EBADMSG, NULL, "the Get Attributes answer about key '%s' "
				"has no Response Payload", uid);
	r = kmip_parse_get_attributes_why(&it->payload, out, &c->why);
	if (r == 0 && out->uid[0] && strcmp(out->uid, uid))
		r = kmip_bad(&c->why, -EBADMSG, NULL, "the Get Attributes answer is about key "
			     "'%.64s', the request about '%s'", out->uid, uid);
	return r;
}

int kmip_get_attributes(struct kmip_client *c, const char *uid, uint32_t attrs,
			struct kmip_attrs *out)
{
	struct call k;
	int r;

	memset(out, 0, sizeof(*out));
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_get_attributes(&k.b, c->version, uid, attrs);
	if (r < 0)
		goto out;
	r = call_send(c, &k, KMIP_OP_GET_ATTRIBUTES, true);
	if (r < 0)
		goto out;
	r = read_attrs(c, &k.item, uid, out);
out:
	call_end(&k);
	return r;
}

/* One message of at most KMIP_BATCH_MAX Get Attributes items, each handed to fn. */
static int attrs_chunk(struct kmip_client *c, const char *const *uids, size_t n, size_t base,
		       uint32_t attrs, uint32_t *ops, struct kmip_resp_item *items,
		       struct kmip_attrs *a,
		       void (*fn)(void *ctx, size_t i, int err, const struct kmip_attrs *a),
		       void *ctx)
{
	struct kmip_reply reply = { 0 };
	struct ttlv_buf b;
	size_t i;
	int r, err;

	ttlv_buf_init(&b, c->max_message);
	r = kmip_build_get_attrs_batch(&b, c->version, uids, n, attrs);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++)
		ops[i] = KMIP_OP_GET_ATTRIBUTES;
	r = kmip_exchange(c, &b, ops, (unsigned)n, true, &reply, items);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		err = items[i].err;
		if (!err)
			err = read_attrs(c, &items[i], uids[i], a);
		if (!err && (attrs & KMIP_ATTR_STATE) && !(a->present & KMIP_ATTR_STATE))
			err = -ENODATA;
		fn(ctx, base + i, err, err ? NULL : a);
	}
out:
	kmip_reply_free(&reply);
	ttlv_buf_free(&b);
	return r;
}

int kmip_get_attrs_each(struct kmip_client *c, const char *const *uids, size_t n, uint32_t attrs,
			void (*fn)(void *ctx, size_t i, int err, const struct kmip_attrs *a),
			void *ctx)
{
	struct kmip_resp_item *items = NULL;
	struct kmip_attrs *a = NULL;
	uint32_t *ops = NULL;
	size_t done, chunk;
	int r;

	kmip_result_reset(c);
	r = -EINVAL;
	if (!uids || !fn || n == 0)
		goto out;
	r = kmip_negotiate(c);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	items = calloc(KMIP_BATCH_MAX, sizeof(*items));
	ops = calloc(KMIP_BATCH_MAX, sizeof(*ops));
	a = malloc(sizeof(*a));
	if (!items || !ops || !a)
		goto out;
	for (done = 0; done < n; done += chunk) {
		chunk = n - done < KMIP_BATCH_MAX ? n - done : KMIP_BATCH_MAX;
		r = attrs_chunk(c, uids + done, chunk, done, attrs, ops, items, a, fn, ctx);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(items);
	free(ops);
	free(a);
	return r;
}

struct states_ctx {
	int *states, *errs;
};

static void take_state(void *ctx, size_t i, int err, const struct kmip_attrs *a)
{
	struct states_ctx *x = ctx;

	x->errs[i] = err;
	x->states[i] = err ? 0 : a->state;
}

int kmip_get_states(struct kmip_client *c, const char *const *uids, size_t n,
		    int *states, int *errs)
{
	struct states_ctx x = { states, errs };

	if (!states || !errs)
		return -EINVAL;
	return kmip_get_attrs_each(c, uids, n, KMIP_ATTR_STATE, take_state, &x);
}

int kmip_locate(struct kmip_client *c, const struct kmip_locate_filter *f,
		struct kmip_uid_list *out)
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	memset(out, 0, sizeof(*out));
	out->located_items = -1;
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_locate(&k.b, c->version, f);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_LOCATE, true, &p);
	if (r < 0)
		goto out;
	r = kmip_parse_locate_why(p, out, &c->why);
	if (r < 0)
		goto out;
	/* A server that ignored Maximum Items: keep what was asked for. */
	if (f && f->max_items && out->n > f->max_items)
		out->n = f->max_items;
out:
	call_end(&k);
	return r;
}

static bool has_text(char (*vals)[KMIP_TEXT_SIZE], unsigned n, const char *s)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(vals[i], s) == 0)
			return true;
	return false;
}

int kmip_locate_verify(struct kmip_client *c, const char *uid, const struct kmip_locate_filter *f)
{
	struct kmip_attrs *a;
	int r;

	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = kmip_get_attributes(c, uid, KMIP_ATTR_NAME | KMIP_ATTR_OBJECT_TYPE |
				KMIP_ATTR_STATE | KMIP_ATTR_OBJECT_GROUP, a);
	if (r < 0)
		goto out;
	/* An attribute the server did not return does not match (PyKMIP says it does). */
	r = 0;
	if (f->name && !has_text(a->names, a->n_names, f->name))
		goto out;
	if (f->object_type && (!(a->present & KMIP_ATTR_OBJECT_TYPE) ||
			       a->object_type != f->object_type))
		goto out;
	if (f->state && (!(a->present & KMIP_ATTR_STATE) || a->state != f->state))
		goto out;
	if (f->group && !has_text(a->groups, a->n_groups, f->group))
		goto out;
	r = 1;
out:
	free(a);
	return r;
}

static int crypt_op(struct kmip_client *c, uint32_t op, const char *uid,
		    struct kmip_crypt_params *out_p, const struct kmip_crypt_params *p,
		    const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	const struct ttlv_item *pl;
	struct call k;
	int r;

	*out = NULL;
	*out_len = 0;
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = op == KMIP_OP_ENCRYPT ? kmip_build_encrypt(&k.b, c->version, uid, p, in, in_len) :
	    kmip_build_decrypt(&k.b, c->version, uid, p, in, in_len);
	if (r < 0)
		goto out;
	r = call_read(c, &k, op, true, &pl);
	if (r < 0)
		goto out;
	r = kmip_parse_crypt_why(pl, uid, out_p, out, out_len, &c->why);
out:
	call_end(&k);
	return r;
}

int kmip_encrypt(struct kmip_client *c, const char *uid, struct kmip_crypt_params *p,
		 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	return crypt_op(c, KMIP_OP_ENCRYPT, uid, p, p, in, in_len, out, out_len);
}

int kmip_decrypt(struct kmip_client *c, const char *uid, const struct kmip_crypt_params *p,
		 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	return crypt_op(c, KMIP_OP_DECRYPT, uid, NULL, p, in, in_len, out, out_len);
}

int kmip_rekey_with(struct kmip_client *c, const char *uid, const struct kmip_rekey_args *a,
		    char new_uid[KMIP_UID_SIZE])
{
	const struct ttlv_item *p;
	struct call k;
	int r;

	new_uid[0] = '\0';
	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_rekey(&k.b, c->version, uid, a);
	if (r < 0)
		goto out;
	r = call_read(c, &k, KMIP_OP_REKEY, false, &p);
	if (r < 0)
		goto out;
	/* The response payload: Unique Identifier, then attributes the server chose (ignored). */
	r = kmip_parse_uid_why(p, new_uid, &c->why);
	if (r == 0 && strcmp(new_uid, uid) == 0)
		r = kmip_bad(&c->why, -EBADMSG, p, "the Re-key answer names key '%s' itself as "
			     "its replacement", uid);
out:
	if (r < 0)
		new_uid[0] = '\0';
	call_end(&k);
	return r;
}

int kmip_rekey(struct kmip_client *c, const char *uid, char new_uid[KMIP_UID_SIZE])
{
	return kmip_rekey_with(c, uid, NULL, new_uid);
}

int kmip_add_link(struct kmip_client *c, const char *uid, uint32_t link_type,
		  const char *linked_uid)
{
	struct call k;
	int r;

	r = call_begin(c, &k);
	if (r < 0)
		goto out;
	r = kmip_build_add_link(&k.b, c->version, uid, link_type, linked_uid);
	if (r < 0)
		goto out;
	r = call_send(c, &k, KMIP_OP_ADD_ATTRIBUTE, false);
	if (r < 0)
		goto out;
	/* 1.x echoes the attribute after the identifier; 2.x answers the identifier only. */
	if (k.item.has_payload)
		r = kmip_parse_echo_why(&k.item.payload, uid, &c->why);
out:
	call_end(&k);
	return r;
}

/* ----------------------------------------------------------------- fetch */

static void fetch_wipe(struct kmip_fetch *f)
{
	kmip_object_clear(&f->obj);
	secmem_free(f->out);
	f->out = NULL;
	f->out_len = 0;
}

/* The second step alone, after an answered State (a server that answers one item only). */
static int fetch_alone(struct kmip_client *c, struct kmip_fetch *f)
{
	if (f->decrypt)
		return kmip_decrypt(c, f->uid, f->decrypt, f->in, f->in_len, &f->out, &f->out_len);
	return kmip_get(c, f->uid, f->wrap, &f->obj);
}

/* Both steps as two requests: for a server that refuses a batch of two. */
static int fetch_apart(struct kmip_client *c, struct kmip_fetch *f)
{
	int r = kmip_get_attributes(c, f->uid, f->attrs_wanted, &f->attrs);

	if (r < 0)
		return r;
	f->fetch_err = -ENOKEY;
	if ((f->attrs.present & KMIP_ATTR_STATE) && f->attrs.state == KMIP_STATE_ACTIVE)
		f->fetch_err = fetch_alone(c, f);
	return 0;
}

static void fetch_reset(struct kmip_fetch *f)
{
	memset(&f->attrs, 0, sizeof(f->attrs));
	memset(&f->obj, 0, sizeof(f->obj));
	f->out = NULL;
	f->out_len = 0;
	f->fetch_err = -ENOMSG;
	if (!f->attrs_wanted)
		f->attrs_wanted = KMIP_ATTR_STATE;
}

/*
 * One key's two answered items (the State item answered without failure):
 * its attributes, then its material, wiped unless the key is Active.
 */
static int read_pair(struct kmip_client *c, struct kmip_fetch *f,
		     const struct kmip_resp_item *a, const struct kmip_resp_item *m)
{
	uint32_t op = f->decrypt ? KMIP_OP_DECRYPT : KMIP_OP_GET;
	int r;

	r = read_attrs(c, a, f->uid, &f->attrs);
	if (r < 0)
		return r;
	if (m->answered) {
		f->fetch_err = m->err;
		if (!f->fetch_err && !m->has_payload)
			f->fetch_err = kmip_bad(&c->why, -EBADMSG, NULL, "the %s answer has no "
						"Response Payload", kmip_operation_name(op));
		else if (!f->fetch_err && f->decrypt)
			f->fetch_err = kmip_parse_crypt_why(&m->payload, f->uid, NULL, &f->out,
							    &f->out_len, &c->why);
		else if (!f->fetch_err)
			f->fetch_err = read_get(c, &m->payload, f->uid, f->wrap, &f->obj);
	}
	if (!(f->attrs.present & KMIP_ATTR_STATE) || f->attrs.state != KMIP_STATE_ACTIVE) {
		/* Material of a key that is not Active is never used. */
		fetch_wipe(f);
		f->fetch_err = -ENOKEY;
	}
	return 0;
}

int kmip_fetch(struct kmip_client *c, struct kmip_fetch *f)
{
	uint32_t ops[2] = { KMIP_OP_GET_ATTRIBUTES, f->decrypt ? KMIP_OP_DECRYPT : KMIP_OP_GET };
	struct kmip_resp_item items[2];
	struct kmip_reply reply = { 0 };
	struct ttlv_buf b;
	bool again = true;
	int r;

	fetch_reset(f);
	ttlv_buf_init(&b, c->max_message);
retry:
	kmip_reply_free(&reply);
	ttlv_buf_reset(&b);
	kmip_result_reset(c);
	r = kmip_negotiate(c);
	if (r < 0)
		goto out;
	r = kmip_build_fetch(&b, c->version, f->uid, f->attrs_wanted, f->wrap, f->decrypt,
			     f->in, f->in_len);
	if (r < 0)
		goto out;
	r = kmip_exchange(c, &b, ops, 2, true, &reply, items);
	if (r == 0 && !items[0].answered)
		r = -ENOMSG;
	else if (r == 0)
		r = items[0].err;
	if (r < 0 && again && kmip_client_doubt_version(c, r)) {
		again = false;
		goto retry;
	}
	/* A server that refuses a batch (Invalid Message, not supported): two requests. */
	if (r == -EPROTO || r == -EOPNOTSUPP || r == -ENOMSG) {
		log_debug("KMIP: the batch of Get Attributes and %s was refused (%s): asking apart",
			  kmip_operation_name(ops[1]), strerror(-r));
		r = fetch_apart(c, f);
		goto out;
	}
	if (r < 0)
		goto out;
	r = read_pair(c, f, &items[0], &items[1]);
	if (r == 0 && f->fetch_err == -ENOMSG && (f->attrs.present & KMIP_ATTR_STATE) &&
	    f->attrs.state == KMIP_STATE_ACTIVE)
		f->fetch_err = fetch_alone(c, f);	/* the server answered the State only */
out:
	if (r < 0)
		fetch_wipe(f);
	kmip_reply_free(&reply);
	ttlv_buf_free(&b);
	return r;
}

/* Up to KMIP_BATCH_MAX / 2 keys in one message. */
static int fetch_chunk(struct kmip_client *c, struct kmip_fetch *const *f, size_t n)
{
	uint32_t ops[KMIP_BATCH_MAX];
	struct kmip_resp_item items[KMIP_BATCH_MAX];
	struct kmip_reply reply = { 0 };
	struct ttlv_buf b;
	size_t i;
	int r;

	ttlv_buf_init(&b, c->max_message);
	kmip_result_reset(c);
	r = kmip_negotiate(c);
	if (r < 0)
		goto out;
	r = kmip_build_fetch_many(&b, c->version, f, n);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		ops[2 * i] = KMIP_OP_GET_ATTRIBUTES;
		ops[2 * i + 1] = f[i]->decrypt ? KMIP_OP_DECRYPT : KMIP_OP_GET;
	}
	r = kmip_exchange(c, &b, ops, (unsigned)(2 * n), true, &reply, items);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		f[i]->err = !items[2 * i].answered ? -ENOMSG : items[2 * i].err;
		if (!f[i]->err)
			f[i]->err = read_pair(c, f[i], &items[2 * i], &items[2 * i + 1]);
		if (f[i]->err)
			fetch_wipe(f[i]);
	}
out:
	kmip_reply_free(&reply);
	ttlv_buf_free(&b);
	return r;
}

int kmip_fetch_many(struct kmip_client *c, struct kmip_fetch *const *f, size_t n)
{
	size_t i, k;
	int r = 0;

	for (i = 0; i < n; i++) {
		fetch_reset(f[i]);
		f[i]->err = -ENOMSG;
	}
	for (i = 0; i < n && r == 0; i += k) {
		k = n - i < KMIP_BATCH_MAX / 2 ? n - i : KMIP_BATCH_MAX / 2;
		r = fetch_chunk(c, f + i, k);
	}
	if (r < 0)
		for (i = 0; i < n; i++)
			if (f[i]->err == -ENOMSG)
				f[i]->err = r;
	return r;
}
