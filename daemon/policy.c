/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's decisions (policy.h): pure, table-free, unit-tested. */
#include "daemon/policy.h"
#include "kmip/kmip.h"

void policy_from_config(const struct config_daemon *d, struct policy *p)
{
	p->pre_active = d->pre_active;
	p->permission_denied = d->permission_denied;
	p->offline_grace_s = d->offline_grace_s;
}

static enum verdict by_state(const struct policy *p, int state, enum rule *rule)
{
	switch (state) {
	case KMIP_STATE_ACTIVE:
		*rule = RULE_ACTIVE;
		return VERDICT_FINE;
	case KMIP_STATE_DEACTIVATED:
		*rule = RULE_DEACTIVATED;
		return VERDICT_REVOKED;
	case KMIP_STATE_COMPROMISED:
		*rule = RULE_COMPROMISED;
		return VERDICT_REVOKED;
	case KMIP_STATE_DESTROYED:
		*rule = RULE_DESTROYED;
		return VERDICT_REVOKED;
	case KMIP_STATE_DESTROYED_COMPROMISED:
		*rule = RULE_DESTROYED_COMPROMISED;
		return VERDICT_REVOKED;
	case KMIP_STATE_PRE_ACTIVE:
		if (p->pre_active == DAEMON_POLICY_REVOKED) {
			*rule = RULE_PRE_ACTIVE_REVOKED;
			return VERDICT_REVOKED;
		}
		*rule = RULE_PRE_ACTIVE_IGNORED;
		return VERDICT_FINE;
	default:
		*rule = RULE_UNKNOWN_STATE;
		return VERDICT_UNKNOWN;
	}
}

enum verdict policy_key(const struct policy *p, const struct key_obs *o, int64_t unreachable_ms,
			enum rule *rule)
{
	switch (o->kind) {
	case OBS_STATE:
		return by_state(p, o->state, rule);
	case OBS_NOT_FOUND:
		*rule = RULE_NOT_FOUND;
		return VERDICT_REVOKED;
	case OBS_DENIED:
		if (p->permission_denied == DAEMON_POLICY_REVOKED) {
			*rule = RULE_DENIED_REVOKED;
			return VERDICT_REVOKED;
		}
		*rule = RULE_DENIED_IGNORED;
		return VERDICT_FINE;
	case OBS_UNREACHABLE:
		if (p->offline_grace_s && unreachable_ms >= (int64_t)p->offline_grace_s * 1000) {
			*rule = RULE_OFFLINE_GRACE;
			return VERDICT_REVOKED;
		}
		*rule = RULE_UNREACHABLE;
		return VERDICT_UNREACHABLE;
	case OBS_OTHER:
	default:
		*rule = RULE_NO_USABLE_ANSWER;
		return VERDICT_UNKNOWN;
	}
}

enum verdict policy_volume(const enum verdict *keys, size_t n, size_t *which)
{
	/* The first key of the strongest kind, in this order: one fine key keeps the volume open. */
	static const enum verdict order[] = {
		VERDICT_FINE, VERDICT_UNKNOWN, VERDICT_UNREACHABLE, VERDICT_REVOKED,
	};
	size_t i, k;

	*which = 0;
	if (n == 0)
		return VERDICT_UNKNOWN;
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (i = 0; i < n; i++)
			if (keys[i] == order[k]) {
				*which = i;
				return order[k];
			}
	return VERDICT_UNKNOWN;	/* a value out of range */
}

bool policy_same(const struct key_obs *first, const struct key_obs *second)
{
	if (first->kind != second->kind)
		return false;
	return first->kind != OBS_STATE || first->state == second->state;
}

const char *policy_verdict_name(enum verdict v)
{
	static const char *const names[VERDICT_MAX] = {
		[VERDICT_FINE] = "fine",
		[VERDICT_REVOKED] = "revoked",
		[VERDICT_UNKNOWN] = "unknown",
		[VERDICT_UNREACHABLE] = "unreachable",
	};

	return (unsigned)v < VERDICT_MAX ? names[v] : "invalid";
}

const char *policy_rule_name(enum rule r)
{
	static const char *const names[RULE_MAX] = {
		[RULE_ACTIVE] = "active",
		[RULE_DEACTIVATED] = "deactivated",
		[RULE_COMPROMISED] = "compromised",
		[RULE_DESTROYED] = "destroyed",
		[RULE_DESTROYED_COMPROMISED] = "destroyed-compromised",
		[RULE_NOT_FOUND] = "not-found",
		[RULE_PRE_ACTIVE_REVOKED] = "pre-active-revoked",
		[RULE_PRE_ACTIVE_IGNORED] = "pre-active-ignored",
		[RULE_DENIED_REVOKED] = "permission-denied-revoked",
		[RULE_DENIED_IGNORED] = "permission-denied-ignored",
		[RULE_UNKNOWN_STATE] = "unknown-state",
		[RULE_NO_USABLE_ANSWER] = "no-usable-answer",
		[RULE_UNREACHABLE] = "unreachable",
		[RULE_OFFLINE_GRACE] = "offline-grace",
		[RULE_NOT_CONFIRMED] = "not-confirmed",
	};

	return (unsigned)r < RULE_MAX ? names[r] : "invalid";
}
