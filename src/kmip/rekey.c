// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Replacing a key on the server: KMIP Re-key where the server offers it,
 * else Create of a key like the old one; and the Link attributes between
 * the two.  Over ops.c's operations; `kmipcrypt key rekey` and `kmipcrypt
 * rekey DEVICE` both come here, so that there is one fallback.
 *
 * Why Create copies what it copies: Re-key (KMIP 1.4 section 4.4) gives
 * the replacement every attribute of the old key but a few; the fallback
 * can copy only what it can read and set, and those are the attributes a
 * key's users depend on: what it is (algorithm, length), what it may do
 * (usage mask) and where it is found (Object Groups).  It does not move
 * the Names as Re-key does: a server may hold Names unique, and moving
 * one means a moment in which neither key has it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmip/kmip_client_internal.h"
#include "ttlv/names.h"
#include "util/errclass.h"
#include "util/log.h"

#define OLD_ATTRS (KMIP_ATTR_NAME | KMIP_ATTR_OBJECT_TYPE | KMIP_ATTR_CRYPTO_ALGORITHM | \
		   KMIP_ATTR_CRYPTO_LENGTH | KMIP_ATTR_USAGE_MASK | KMIP_ATTR_STATE | \
		   KMIP_ATTR_OBJECT_GROUP | KMIP_ATTR_LINK)

static bool destroyed(const struct kmip_attrs *a)
{
	return (a->present & KMIP_ATTR_STATE) && (a->state == KMIP_STATE_DESTROYED ||
						  a->state == KMIP_STATE_DESTROYED_COMPROMISED);
}

/* Can old be replaced at all?  0, or why not (recorded for kmip_failure_text()). */
static int check_old(struct kmip_client *c, const char *uid, const struct kmip_attrs *a)
{
	const char *t;

	if (!(a->present & KMIP_ATTR_OBJECT_TYPE) || a->object_type != KMIP_OBJ_SYMMETRIC_KEY) {
		t = (a->present & KMIP_ATTR_OBJECT_TYPE) ?
		    ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, a->object_type) : NULL;
		return kmip_bad(&c->why, -EKEYMISMATCH, NULL, "object '%s' is %s%s, not a Symmetric "
				"Key: only symmetric keys are re-keyed", uid, t ? "a " : "",
				t ? t : "of no Object Type the server names");
	}
	if (destroyed(a))
		return kmip_bad(&c->why, -EKEYREVOKED, NULL, "key '%s' is %s: there is nothing "
				"left to replace", uid, kmip_state_name(a->state));
	return 0;
}

/* The Name Create gives the new key: a->name, or old's first + a->name_suffix, or none. */
static int create_name(struct kmip_client *c, const struct kmip_attrs *old,
		       const struct kmip_replace_args *a, char buf[KMIP_TEXT_SIZE],
		       const char **name)
{
	*name = a ? a->name : NULL;
	if (*name || !a || !a->name_suffix || !old->n_names)
		return 0;
	if (snprintf(buf, KMIP_TEXT_SIZE, "%s%s", old->names[0], a->name_suffix) >=
	    (int)KMIP_TEXT_SIZE)
		return kmip_bad(&c->why, -EINVAL, NULL, "the new Name would be longer than %u "
				"bytes (the old Name with '%.32s' added): name the new key",
				KMIP_TEXT_MAX, a->name_suffix);
	*name = buf;
	return 0;
}

/* Create a key like old (see kmip.h), Active unless old is Pre-Active. */
static int create_like(struct kmip_client *c, const char *old_uid, const struct kmip_attrs *old,
		       const struct kmip_replace_args *a, char uid[KMIP_UID_SIZE])
{
	const char *groups[KMIP_ATTR_VALUES_MAX];
	struct kmip_new_object no = { 0 };
	char name[KMIP_TEXT_SIZE];
	unsigned i;
	int r;

	if (!(old->present & KMIP_ATTR_CRYPTO_ALGORITHM) || !(old->present & KMIP_ATTR_CRYPTO_LENGTH) ||
	    old->length <= 0)
		return kmip_bad(&c->why, -ENODATA, NULL, "the server does not say the Cryptographic "
				"Algorithm and Length of key '%s': a key like it cannot be created",
				old_uid);
	r = create_name(c, old, a, name, &no.name);
	if (r < 0)
		return r;
	for (i = 0; i < old->n_groups; i++)
		groups[i] = old->groups[i];
	if (old->n_groups) {
		no.group = groups[0];
		no.more_groups = groups + 1;
		no.n_more_groups = old->n_groups - 1;
	}
	no.algorithm = old->algorithm;
	no.usage_mask = (old->present & KMIP_ATTR_USAGE_MASK) ? old->usage_mask : 0;
	/* As Re-key: its Activation Date is copied, so the copy is active if the old one was. */
	no.activate = !(old->present & KMIP_ATTR_STATE) || old->state != KMIP_STATE_PRE_ACTIVE;
	return kmip_create(c, (unsigned)old->length, &no, uid);
}

/*
 * A key has one replacement (KMIP 1.4 section 3.35): one that has a live
 * one is not replaced again (its replacement is the key to re-key).  A
 * replacement that is gone or Destroyed (a rotation that was taken back)
 * does not count.  0, -EEXIST, or the error of asking.
 */
static int check_replaced(struct kmip_client *c, const char *uid, const struct kmip_attrs *old,
			  struct kmip_attrs *tmp)
{
	int r;

	if (!old->replacement[0])
		return 0;
	r = kmip_get_attributes(c, old->replacement, KMIP_ATTR_STATE, tmp);
	if (r == -ENOENT || (r == 0 && destroyed(tmp))) {
		log_debug("KMIP: key '%s' names '%s' as its replacement, which is gone: replacing "
			  "it again", uid, old->replacement);
		return 0;
	}
	if (r < 0)
		return r;
	return kmip_bad(&c->why, -EEXIST, NULL, "key '%s' has been replaced already, by key "
			"'%s' (%s): re-key that one", uid, old->replacement,
			(tmp->present & KMIP_ATTR_STATE) ? kmip_state_name(tmp->state) : "State unknown");
}

int kmip_replace_key(struct kmip_client *c, const char *old_uid,
		     const struct kmip_replace_args *a, struct kmip_replacement *out)
{
	struct kmip_rekey_args ra = { .name = a ? a->name : NULL };
	struct kmip_attrs *now = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = -ENOMEM;
	now = malloc(sizeof(*now));
	if (!now)
		goto out;
	r = kmip_get_attributes(c, old_uid, OLD_ATTRS, &out->old);
	if (r < 0)
		goto out;
	r = check_old(c, old_uid, &out->old);
	if (r == 0)
		r = check_replaced(c, old_uid, &out->old, now);
	if (r < 0)
		goto out;
	r = kmip_server_offers(c, KMIP_OP_REKEY);
	if (r < 0)
		goto out;
	if (r == 1) {
		r = kmip_rekey_with(c, old_uid, &ra, out->uid);
		out->rekeyed = r == 0;
		if (r != -EOPNOTSUPP)
			goto made;
		log_info("%s lists Re-key in its Query answer but refuses it (%s): creating a key "
			 "like '%s' instead", c->server, kmip_last_error(c), old_uid);
	}
	r = create_like(c, old_uid, &out->old, a, out->uid);
made:
	if (r < 0)
		goto out;
	/* Which State it got is the server's business under Re-key: say what it is. */
	if (kmip_get_attributes(c, out->uid, KMIP_ATTR_STATE, now) == 0 &&
	    (now->present & KMIP_ATTR_STATE))
		out->state = now->state;
	else
		log_debug("KMIP: the State of the new key '%s' is not known", out->uid);
	kmip_result_reset(c);	/* the key is made: that question is no failure of it */
	r = 0;
out:
	free(now);
	return r;
}

/* ---------------------------------------------------------------- links */

/* Did Add Attribute fail because the server keeps no such attribute? */
static bool link_unsupported(const struct kmip_client *c, int r)
{
	const struct kmip_result *res = kmip_last_result(c);

	if (r == -EOPNOTSUPP)
		return true;
	if (kmip_last_failure(c) != KMIP_FAILURE_SERVER || !res->has_reason)
		return false;
	/* PyKMIP 0.10 has no Add Attribute payload: the request is an Invalid Message to it. */
	return res->reason == KMIP_REASON_INVALID_MESSAGE ||
	       res->reason == KMIP_REASON_UNSUPPORTED_ATTRIBUTE ||
	       res->reason == KMIP_REASON_INVALID_ATTRIBUTE;
}

/*
 * One side: uid gets Link {type, other} unless it has it already.  The
 * object's link of that type, read first, decides: none -> add, other ->
 * -EEXIST (never a second one: the spec allows one replacement), the
 * same -> nothing to do.
 */
static int link_one(struct kmip_client *c, const char *uid, uint32_t type, const char *other,
		    struct kmip_attrs *a)
{
	const char *have;
	int r;

	r = kmip_get_attributes(c, uid, KMIP_ATTR_LINK, a);
	if (r < 0)
		return r;
	have = type == KMIP_LINK_REPLACEMENT_OBJECT ? a->replacement : a->replaced;
	if (have[0] && strcmp(have, other) == 0)
		return 0;
	if (have[0])
		return kmip_bad(&c->why, -EEXIST, NULL, "key '%s' is linked to key '%s' as its %s "
				"already", uid, have, type == KMIP_LINK_REPLACEMENT_OBJECT ?
				"replacement" : "predecessor");
	r = kmip_add_link(c, uid, type, other);
	if (r < 0 && link_unsupported(c, r))
		r = -EOPNOTSUPP;
	return r;
}

int kmip_link_replacement(struct kmip_client *c, const char *old_uid, const char *new_uid)
{
	struct kmip_attrs *a;
	int r;

	kmip_result_reset(c);
	if (!old_uid || !new_uid || strcmp(old_uid, new_uid) == 0)
		return -EINVAL;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = link_one(c, old_uid, KMIP_LINK_REPLACEMENT_OBJECT, new_uid, a);
	if (r == 0)
		r = link_one(c, new_uid, KMIP_LINK_REPLACED_OBJECT, old_uid, a);
	free(a);
	return r;
}
