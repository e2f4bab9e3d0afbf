/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What is known about a kmip-bound volume: tokens, keys' State, open mapping. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/config.h"
#include "dm/dm.h"
#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "util/clock.h"
#include "util/log.h"

void luks_status_free(struct luks_status *s)
{
	size_t i;

	if (!s)
		return;
	crypt_free(s->cd);
	s->cd = NULL;
	free(s->device);
	s->device = NULL;
	for (i = 0; i < s->n_tokens; i++)
		explicit_bzero(&s->tokens[i].t, sizeof(s->tokens[i].t));
	for (i = 0; i < s->n_rotations; i++)
		explicit_bzero(&s->rotations[i].r, sizeof(s->rotations[i].r));
}

const char *luks_token_age_text(const struct luks_token_status *ts, char *buf, size_t len)
{
	char date[32] = "?", ra[16] = "";
	time_t t = (time_t)ts->activated;
	struct tm tm;

	if (ts->activated > 0 && gmtime_r(&t, &tm))
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (ts->rotate_after_s)
		config_duration_text(ts->rotate_after_s, ra, sizeof(ra));
	if (ts->activated <= 0)
		snprintf(buf, len, "key age unknown (the server gave no Activation Date or Initial "
			 "Date)%s%s", ra[0] ? ", rotate_after " : "", ra);
	else
		snprintf(buf, len, "key %s %s%s%s%s", ts->activated_initial ? "created" : "activated",
			 date, ts->activated_initial ? " (no Activation Date)" : "",
			 ra[0] ? ", rotate_after " : "", ra);
	return buf;
}

/* The rotation records: valid or not, and whether their token is switched already. */
static void read_rotations(struct crypt_device *cd, const char *device, struct luks_status *out)
{
	int ids[LUKS_STATUS_TOKENS_MAX], n, i;
	size_t k;

	n = luks_tokens_of_type(cd, KMIP_ROTATION_TOKEN_TYPE, ids, LUKS_STATUS_TOKENS_MAX);
	for (i = 0; i < n; i++) {
		struct luks_rotation_status *rs = &out->rotations[out->n_rotations++];
		struct luks_log_tee tee = { .why = rs->reason, .len = sizeof(rs->reason),
					    .quiet = true };

		rs->token_id = ids[i];
		luks_log_tee_begin(&tee);
		rs->parse_err = luks_rotation_read(cd, device, ids[i], &rs->r) < 0 ? -EINVAL : 0;
		luks_log_tee_end(&tee);
		if (rs->parse_err) {
			const char *pfx = "invalid " KMIP_ROTATION_TOKEN_TYPE " token: ";

			luks_why_strip(rs->reason, device);
			if (!strncmp(rs->reason, pfx, strlen(pfx)))	/* said where it is shown */
				memmove(rs->reason, rs->reason + strlen(pfx),
					strlen(rs->reason + strlen(pfx)) + 1);
			continue;
		}
		rs->reason[0] = '\0';
		for (k = 0; k < out->n_tokens; k++)
			if (out->tokens[k].token_id == rs->r.token && !out->tokens[k].parse_err &&
			    rs->r.uid[0] && strcmp(out->tokens[k].t.uid, rs->r.uid) == 0)
				rs->switched = true;
	}
}

/* The volume's tokens and rotation records, from its header alone. */
int luks_status_read_header(const char *device, struct luks_status *out)
{
	struct crypt_device *cd = NULL;
	int ids[LUKS_STATUS_TOKENS_MAX], n, i, r;
	const char *uuid;

	memset(out, 0, sizeof(*out));
	r = luks_dev_open(device, &cd);
	if (r < 0)
		return r;
	out->device = strdup(device);
	if (!out->device) {
		crypt_free(cd);
		return -ENOMEM;
	}
	out->cd = cd;
	uuid = crypt_get_uuid(cd);
	snprintf(out->uuid, sizeof(out->uuid), "%s", uuid ? uuid : "");
	n = luks_kmip_tokens(cd, ids, LUKS_STATUS_TOKENS_MAX);
	out->n_tokens = (size_t)n;
	for (i = 0; i < n; i++) {
		struct luks_token_status *ts = &out->tokens[i];
		/* Why a token is invalid is its reason, shown by the caller. */
		struct luks_log_tee tee = { .why = ts->reason, .len = sizeof(ts->reason),
					    .quiet = true };

		ts->token_id = ids[i];
		ts->keyslot = luks_token_keyslot(cd, ids[i]);
		luks_log_tee_begin(&tee);
		ts->parse_err = luks_token_read(cd, device, ids[i], &ts->t) < 0 ? -EINVAL : 0;
		luks_log_tee_end(&tee);
		if (ts->parse_err) {
			luks_why_strip(ts->reason, device);
			if (!ts->reason[0])
				snprintf(ts->reason, sizeof(ts->reason), "invalid kmip token");
			ts->err = -ELUKS;	/* unlock: exit 5 */
		} else {
			ts->reason[0] = '\0';
		}
	}
	read_rotations(cd, device, out);
	return 0;
}

/* ... and its mapping, from the kernel: no server. */
int luks_status_read(const char *device, const char *name, struct luks_status *out)
{
	struct crypt_device *byname = NULL;
	struct dmap_mapping m;
	int r;

	r = luks_status_read_header(device, out);
	if (r < 0)
		return r;
	out->dm_available = dmap_available();
	if (!out->dm_available)
		return 0;
	/* Its mapping: by the LUKS2 UUID in the device-mapper UUIDs (dm.h)... */
	if (dmap_find_luks(out->uuid, &m) == 0) {
		out->mapping_open = true;
		snprintf(out->mapping, sizeof(out->mapping), "%s", m.name);
		out->mapping_state = m.state;
		return 0;
	}
	/*
	 * ... or, when that has no UUID in it (libcryptsetup leaves out a header
	 * UUID that is not a valid one), the expected name if its header is this one.
	 */
	if (name && crypt_status(NULL, name) >= CRYPT_ACTIVE &&
	    crypt_init_by_name(&byname, name) == 0) {
		crypt_status_info st = crypt_status(byname, name);
		const char *u = crypt_get_uuid(byname);

		if ((st == CRYPT_ACTIVE || st == CRYPT_BUSY) && u && strcmp(u, out->uuid) == 0 &&
		    dmap_query(name, &m) == 0 && m.state != DMAP_ABSENT) {
			out->mapping_open = true;
			snprintf(out->mapping, sizeof(out->mapping), "%s", name);
			out->mapping_state = m.state;
		}
		crypt_free(byname);
	}
	return 0;
}

/* A token of a volume, for the proofs of a group. */
struct tok {
	struct luks_status *s;
	struct luks_token_status *ts;
};

/* The valid tokens of s[0..n) whose server group is group, in order. */
static size_t group_tokens(struct luks_status *s, size_t n, const char *group,
			   struct tok *out, size_t max)
{
	size_t i, k, m = 0;

	for (i = 0; i < n; i++)
		for (k = 0; k < s[i].n_tokens; k++) {
			struct luks_token_status *ts = &s[i].tokens[k];

			if (!ts->parse_err && !ts->queried && strcmp(ts->t.group, group) == 0 &&
			    m < max) {
				out[m].s = &s[i];
				out[m++].ts = ts;
			}
		}
	return m;
}

/* Why a key that is not Active does not unlock: the errno unlock gives, and the reason. */
static void judge_state(struct luks_token_status *ts)
{
	const char *u = ts->t.uid;

	switch (ts->state) {
	case KMIP_STATE_PRE_ACTIVE:
		ts->err = -ENOKEY;
		snprintf(ts->reason, sizeof(ts->reason), "key '%s' is Pre-Active (never activated): "
			 "only an Active key unlocks", u);
		break;
	case KMIP_STATE_DEACTIVATED:
	case KMIP_STATE_COMPROMISED:
		ts->err = -EKEYREVOKED;
		snprintf(ts->reason, sizeof(ts->reason), "key '%s' is %s (revoked): only an Active "
			 "key unlocks", u, kmip_state_name(ts->state));
		break;
	case KMIP_STATE_DESTROYED:
	case KMIP_STATE_DESTROYED_COMPROMISED:
		ts->err = -ENOENT;
		snprintf(ts->reason, sizeof(ts->reason), "key '%s' is %s", u,
			 kmip_state_name(ts->state));
		break;
	default:
		ts->err = -ENOKEY;
		snprintf(ts->reason, sizeof(ts->reason), "key '%s' is in an unknown State (%d)", u,
			 ts->state);
		break;
	}
}

/* Why the State could not be read, as a reason; c: the client whose request failed, or NULL. */
static void judge_state_err(struct luks_token_status *ts, const struct kmip_client *c)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	int e = ts->state_err;

	ts->err = e;
	if (e == -ENOENT)
		snprintf(ts->reason, sizeof(ts->reason), "key '%s' was not found on the server: "
			 "destroyed, or never there", ts->t.uid);
	else if (e == -EPERM)
		snprintf(ts->reason, sizeof(ts->reason), "key '%s': permission denied: it belongs to "
			 "another client (certificate)", ts->t.uid);
	else if (e == -EINVAL)
		snprintf(ts->reason, sizeof(ts->reason), "no usable server group [%s] in the "
			 "configuration", ts->t.group);
	else
		snprintf(ts->reason, sizeof(ts->reason), "no usable answer from the server(s) of "
			 "group [%s]: %s", ts->t.group, kmip_failure_reason(c, e, why, sizeof(why)));
}

/*
 * An Active key: prove the binding over the group's connection (the secret
 * fetched as unlock fetches it, checked against the header).
 */
static void prove_token(struct config *cfg, struct kmip_client *c, struct tok *k,
			const char *kek_file)
{
	struct luks_token_status *ts = k->ts;
	struct luks_proof p = { .capture = true, .quiet = true };
	struct luks_log_tee tee = { .why = ts->reason, .len = sizeof(ts->reason), .quiet = true };
	const char *kek = NULL;
	char buf[4096];
	int r;

	luks_log_tee_begin(&tee);
	r = luks_token_kek_file(cfg, k->s->device, ts->token_id, &ts->t, kek_file, buf,
				sizeof(buf), &kek);
	luks_log_tee_end(&tee);
	if (r == 0) {
		r = luks_prove(k->s->cd, k->s->device, ts->token_id, &ts->t, c, kek, &p);
		snprintf(ts->reason, sizeof(ts->reason), "%s", r < 0 ? p.why : "");
	}
	luks_why_strip(ts->reason, k->s->device);
	ts->err = r;
	ts->usable = r == 0;
	if (r < 0)
		log_debug("%s token %d would not unlock: %s", k->s->device, ts->token_id, ts->reason);
}

/* What Get Attributes said of the i-th key of a group: its State and its dates. */
static void take_attrs(void *ctx, size_t i, int err, const struct kmip_attrs *a)
{
	struct luks_token_status *ts = ((struct tok *)ctx)[i].ts;

	ts->state_err = err;
	if (err)
		return;
	ts->state = a->state;
	/* A date before 1970 is no date: it would only make an age of nonsense. */
	if ((a->present & KMIP_ATTR_ACTIVATION_DATE) && a->activation_date > 0) {
		ts->activated = a->activation_date;
	} else if ((a->present & KMIP_ATTR_INITIAL_DATE) && a->initial_date > 0) {
		ts->activated = a->initial_date;
		ts->activated_initial = true;
	}
}

/*
 * The token's rotation policy (its group's rotate_after) against the key's
 * age, now.  Only an Active key is due: one that is not unlocks nothing,
 * and rekey refuses it.
 */
static void judge_age(struct config *cfg, struct luks_token_status *ts, int64_t now)
{
	const struct config_group *g = config_group(cfg, ts->t.group);

	ts->rotate_after_s = g ? g->rotate_after_s : 0;
	if (!ts->rotate_after_s || ts->activated <= 0)
		return;
	/* activated > 0, rotate_after_s below 2^32: no overflow unless a date near the end of time. */
	if (ts->activated <= INT64_MAX - (int64_t)ts->rotate_after_s)
		ts->due_at = ts->activated + (int64_t)ts->rotate_after_s;
	ts->due = ts->state == KMIP_STATE_ACTIVE && !ts->state_err && ts->due_at &&
		  now >= ts->due_at;
}

/*
 * One server group: one connection, the States (and with a rotate_after the
 * dates) of all its tokens in batches (one Get Attributes per key,
 * KMIP_BATCH_MAX per message), then the proofs (unless states_only).
 */
static int query_group(struct config *cfg, const char *group, struct tok *k, size_t m,
		       int64_t deadline, const char *kek_file, bool states_only)
{
	const struct config_group *g = config_group(cfg, group);
	struct kmip_session *conn = NULL;
	const char **uids = NULL;
	char why[KMIP_FAILURE_TEXT_SIZE];
	int64_t now = (int64_t)time(NULL);
	/*
	 * The dates only where a policy needs them: a group without one is
	 * asked exactly what it always was (a server that balks at a date
	 * attribute costs no State there).
	 */
	uint32_t attrs = KMIP_ATTR_STATE | (g && g->rotate_after_s ?
					    KMIP_ATTR_ACTIVATION_DATE | KMIP_ATTR_INITIAL_DATE : 0);
	size_t i;
	int r;

	uids = calloc(m, sizeof(*uids));
	if (!uids) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < m; i++) {
		uids[i] = k[i].ts->t.uid;
		k[i].ts->state_err = -ENOMSG;	/* not answered, until it is */
	}
	r = conf_session_open(cfg, group, deadline, &conn);
	if (r == 0)
		r = kmip_get_attrs_each(kmip_session_client(conn), uids, m, attrs, take_attrs, k);
	if (r < 0)
		log_debug("group [%s]: the States of %zu key(s) cannot be read: %s", group, m,
			  kmip_failure_reason(conn ? kmip_session_client(conn) : NULL, r, why,
					      sizeof(why)));
	for (i = 0; i < m; i++) {
		struct luks_token_status *ts = k[i].ts;

		ts->queried = true;
		if (r < 0) {
			ts->state_err = r;
			ts->activated = 0;
			ts->activated_initial = false;
		}
		if (ts->state_err)
			ts->state = 0;
		judge_age(cfg, ts, now);
		if (ts->state_err)
			judge_state_err(ts, r < 0 && conn ? kmip_session_client(conn) : NULL);
		else if (ts->state != KMIP_STATE_ACTIVE)
			judge_state(ts);
		else if (!states_only)
			prove_token(cfg, kmip_session_client(conn), &k[i], kek_file);
	}
	r = r == -ENOMEM ? r : 0;
out:
	kmip_session_close(conn);
	free(uids);
	return r;
}

static int query(struct config *cfg, struct luks_status *s, size_t n, unsigned deadline_ms,
		 const char *kek_file, bool states_only)
{
	int64_t deadline = clock_now_ms() + (deadline_ms ? deadline_ms : LUKS_DEADLINE_MS_DEFAULT);
	struct tok *k;
	size_t i, j, m, max = 0;
	int r = 0;

	for (i = 0; i < n; i++)
		max += s[i].n_tokens;
	if (max == 0)
		return 0;
	k = calloc(max, sizeof(*k));
	if (!k)
		return -ENOMEM;
	/* Each group in turn, found at its first token not asked yet. */
	for (i = 0; i < n && r == 0; i++)
		for (j = 0; j < s[i].n_tokens && r == 0; j++) {
			struct luks_token_status *first = &s[i].tokens[j];

			if (first->parse_err || first->queried)
				continue;
			m = group_tokens(s, n, first->t.group, k, max);
			r = query_group(cfg, first->t.group, k, m, deadline, kek_file, states_only);
		}
	free(k);
	return r;
}

int luks_status_query(struct config *cfg, struct luks_status *s, size_t n, unsigned deadline_ms,
		      const char *kek_file)
{
	return query(cfg, s, n, deadline_ms, kek_file, false);
}

int luks_status_query_states(struct config *cfg, struct luks_status *s, size_t n,
			     unsigned deadline_ms)
{
	return query(cfg, s, n, deadline_ms, NULL, true);
}

int luks_status(const char *device, const char *name, struct config *cfg, unsigned deadline_ms,
		const char *kek_file, struct luks_status *out)
{
	int r = luks_status_read(device, name, out);

	return r < 0 ? r : luks_status_query(cfg, out, 1, deadline_ms, kek_file);
}
