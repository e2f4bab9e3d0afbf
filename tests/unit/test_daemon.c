// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests of the daemon's pure parts: the decision (daemon/policy.h),
 * table-driven over every observation and policy, and the locker's check of
 * what the poller sends (daemon/proto.h), over a real socketpair.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/policy.h"
#include "daemon/proto.h"
#include "kmip/kmip.h"

static const struct policy defaults = {
	.pre_active = DAEMON_POLICY_IGNORE,
	.permission_denied = DAEMON_POLICY_REVOKED,
	.offline_grace_s = 0,
};

struct key_case {
	struct policy pol;
	struct key_obs obs;
	int64_t unreachable_ms;
	enum verdict v;
	enum rule rule;
};

static void test_policy_key_table(void **state)
{
	struct policy strict = { DAEMON_POLICY_REVOKED, DAEMON_POLICY_REVOKED, 60 };
	struct policy lenient = { DAEMON_POLICY_IGNORE, DAEMON_POLICY_IGNORE, 0 };
	const struct key_case cases[] = {
		{ defaults, { OBS_STATE, KMIP_STATE_ACTIVE, 0 }, 0, VERDICT_FINE, RULE_ACTIVE },
		{ defaults, { OBS_STATE, KMIP_STATE_DEACTIVATED, 0 }, 0, VERDICT_REVOKED,
		  RULE_DEACTIVATED },
		{ defaults, { OBS_STATE, KMIP_STATE_COMPROMISED, 0 }, 0, VERDICT_REVOKED,
		  RULE_COMPROMISED },
		{ defaults, { OBS_STATE, KMIP_STATE_DESTROYED, 0 }, 0, VERDICT_REVOKED,
		  RULE_DESTROYED },
		{ defaults, { OBS_STATE, KMIP_STATE_DESTROYED_COMPROMISED, 0 }, 0, VERDICT_REVOKED,
		  RULE_DESTROYED_COMPROMISED },
		{ defaults, { OBS_STATE, KMIP_STATE_PRE_ACTIVE, 0 }, 0, VERDICT_FINE,
		  RULE_PRE_ACTIVE_IGNORED },
		{ strict, { OBS_STATE, KMIP_STATE_PRE_ACTIVE, 0 }, 0, VERDICT_REVOKED,
		  RULE_PRE_ACTIVE_REVOKED },
		/* A State outside the specification's is no reason to lock. */
		{ defaults, { OBS_STATE, 0, 0 }, 0, VERDICT_UNKNOWN, RULE_UNKNOWN_STATE },
		{ defaults, { OBS_STATE, 7, 0 }, 0, VERDICT_UNKNOWN, RULE_UNKNOWN_STATE },
		{ defaults, { OBS_STATE, -1, 0 }, 0, VERDICT_UNKNOWN, RULE_UNKNOWN_STATE },
		{ defaults, { OBS_NOT_FOUND, 0, -ENOENT }, 0, VERDICT_REVOKED, RULE_NOT_FOUND },
		{ defaults, { OBS_DENIED, 0, -EPERM }, 0, VERDICT_REVOKED, RULE_DENIED_REVOKED },
		{ lenient, { OBS_DENIED, 0, -EPERM }, 0, VERDICT_FINE, RULE_DENIED_IGNORED },
		/* Garbled, unanswered, busy: nothing is known. */
		{ strict, { OBS_OTHER, 0, -EBADMSG }, 0, VERDICT_UNKNOWN, RULE_NO_USABLE_ANSWER },
		{ strict, { OBS_OTHER, 0, -ENOMSG }, 999999999, VERDICT_UNKNOWN,
		  RULE_NO_USABLE_ANSWER },
		/* Unreachable: never revoked without a grace; revoked once it has lasted it. */
		{ defaults, { OBS_UNREACHABLE, 0, -ECONNREFUSED }, INT64_MAX / 2, VERDICT_UNREACHABLE,
		  RULE_UNREACHABLE },
		{ strict, { OBS_UNREACHABLE, 0, -ECONNREFUSED }, 0, VERDICT_UNREACHABLE,
		  RULE_UNREACHABLE },
		{ strict, { OBS_UNREACHABLE, 0, -ECONNREFUSED }, 59999, VERDICT_UNREACHABLE,
		  RULE_UNREACHABLE },
		{ strict, { OBS_UNREACHABLE, 0, -ECONNREFUSED }, 60000, VERDICT_REVOKED,
		  RULE_OFFLINE_GRACE },
		/* An observation out of range. */
		{ defaults, { OBS_KIND_MAX, 0, 0 }, 0, VERDICT_UNKNOWN, RULE_NO_USABLE_ANSWER },
		{ defaults, { (enum obs_kind)-1, 0, 0 }, 0, VERDICT_UNKNOWN, RULE_NO_USABLE_ANSWER },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum rule rule = RULE_MAX;
		enum verdict v = policy_key(&cases[i].pol, &cases[i].obs, cases[i].unreachable_ms,
					    &rule);

		if (v != cases[i].v || rule != cases[i].rule)
			fail_msg("case %zu: verdict %s rule %s, expected %s %s", i,
				 policy_verdict_name(v), policy_rule_name(rule),
				 policy_verdict_name(cases[i].v), policy_rule_name(cases[i].rule));
	}
}

static void test_policy_volume(void **state)
{
	enum verdict all_revoked[] = { VERDICT_REVOKED, VERDICT_REVOKED };
	enum verdict one_fine[] = { VERDICT_REVOKED, VERDICT_FINE };
	enum verdict unknown[] = { VERDICT_REVOKED, VERDICT_UNREACHABLE, VERDICT_UNKNOWN };
	enum verdict unreach[] = { VERDICT_UNREACHABLE, VERDICT_REVOKED };
	enum verdict bad[] = { VERDICT_MAX };
	size_t which = 99;

	assert_int_equal(policy_volume(all_revoked, 2, &which), VERDICT_REVOKED);
	assert_int_equal(which, 0);
	/* One usable key still opens the volume: locking it would protect nothing. */
	assert_int_equal(policy_volume(one_fine, 2, &which), VERDICT_FINE);
	assert_int_equal(which, 1);
	assert_int_equal(policy_volume(unknown, 3, &which), VERDICT_UNKNOWN);
	assert_int_equal(which, 2);
	assert_int_equal(policy_volume(unreach, 2, &which), VERDICT_UNREACHABLE);
	assert_int_equal(which, 0);
	assert_int_equal(policy_volume(all_revoked, 0, &which), VERDICT_UNKNOWN);
	assert_int_equal(policy_volume(bad, 1, &which), VERDICT_UNKNOWN);
}

static void test_policy_same(void **state)
{
	struct key_obs deact = { OBS_STATE, KMIP_STATE_DEACTIVATED, 0 };
	struct key_obs deact2 = { OBS_STATE, KMIP_STATE_DEACTIVATED, 0 };
	struct key_obs active = { OBS_STATE, KMIP_STATE_ACTIVE, 0 };
	struct key_obs gone = { OBS_NOT_FOUND, 0, -ENOENT };
	struct key_obs garbled = { OBS_OTHER, 0, -EBADMSG };

	assert_true(policy_same(&deact, &deact2));
	assert_true(policy_same(&gone, &gone));
	assert_false(policy_same(&deact, &active));	/* a lagging replica, then the truth */
	assert_false(policy_same(&gone, &garbled));
	assert_false(policy_same(&gone, &deact));
}

static void test_policy_names(void **state)
{
	int i;

	for (i = 0; i < VERDICT_MAX; i++)
		assert_string_not_equal(policy_verdict_name((enum verdict)i), "invalid");
	for (i = 0; i < RULE_MAX; i++)
		assert_string_not_equal(policy_rule_name((enum rule)i), "invalid");
	assert_string_equal(policy_verdict_name(VERDICT_MAX), "invalid");
	assert_string_equal(policy_rule_name(RULE_MAX), "invalid");
	assert_string_equal(policy_rule_name(RULE_OFFLINE_GRACE), "offline-grace");
}

/* ---------------------------------------------------------------- proto */

static size_t two_keys(void *ctx, size_t vol)
{
	return vol == 0 ? 2 : 1;
}

static int only_default(void *ctx, const char *group)
{
	return !strcmp(group, "default");
}

static struct msg verdict_msg(uint32_t gen, uint32_t vol, uint32_t key)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_VERDICT;
	m.gen = gen;
	m.u.verdict.vol = vol;
	m.u.verdict.key = key;
	m.u.verdict.verdict = VERDICT_REVOKED;
	m.u.verdict.rule = RULE_DEACTIVATED;
	m.u.verdict.state = KMIP_STATE_DEACTIVATED;
	return m;
}

static int check(const struct msg *m)
{
	return proto_check_from_poller(m, 7, 2, two_keys, only_default, NULL);
}

static void test_proto_check(void **state)
{
	struct msg m;

	m = verdict_msg(7, 0, 1);
	assert_int_equal(check(&m), 0);
	m = verdict_msg(6, 0, 1);
	assert_int_equal(check(&m), -ESTALE);		/* an older watch list: ignored */
	m = verdict_msg(7, 2, 0);
	assert_int_equal(check(&m), -EBADMSG);		/* no such volume */
	m = verdict_msg(7, 1, 1);
	assert_int_equal(check(&m), -EBADMSG);		/* no such key */
	m = verdict_msg(7, 0, 0);
	m.u.verdict.verdict = VERDICT_MAX;
	assert_int_equal(check(&m), -EBADMSG);
	m = verdict_msg(7, 0, 0);
	m.u.verdict.rule = RULE_MAX;
	assert_int_equal(check(&m), -EBADMSG);
	m = verdict_msg(7, 0, 0);
	m.u.verdict.err = 5;
	assert_int_equal(check(&m), -EBADMSG);
	m = verdict_msg(7, 0, 0);
	m.u.verdict.state = -3;
	assert_int_equal(check(&m), -EBADMSG);

	memset(&m, 0, sizeof(m));
	m.type = MSG_GROUP;
	snprintf(m.u.group.group, sizeof(m.u.group.group), "default");
	assert_int_equal(check(&m), 0);
	snprintf(m.u.group.group, sizeof(m.u.group.group), "other");
	assert_int_equal(check(&m), -EBADMSG);		/* not a group of the config */
	memset(m.u.group.group, 'a', sizeof(m.u.group.group));
	assert_int_equal(check(&m), -EBADMSG);		/* not terminated */
	snprintf(m.u.group.group, sizeof(m.u.group.group), "default");
	m.u.group.answered = 2;
	assert_int_equal(check(&m), -EBADMSG);

	memset(&m, 0, sizeof(m));
	m.type = MSG_WATCH;				/* the locker's own message */
	assert_int_equal(check(&m), -EBADMSG);
	m.type = 0;
	assert_int_equal(check(&m), -EBADMSG);
}

static void test_proto_sizes(void **state)
{
	struct msg m = verdict_msg(1, 0, 0), got;
	char small[8] = { 0 }, big[sizeof(struct msg) + 8];
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(proto_send(sv[0], &m), 0);
	assert_int_equal(proto_recv(sv[1], &got), 0);
	assert_memory_equal(&m, &got, sizeof(m));
	/* A packet of another size is refused whole, not read in parts. */
	assert_int_equal(send(sv[0], small, sizeof(small), 0), (ssize_t)sizeof(small));
	assert_int_equal(proto_recv(sv[1], &got), -EBADMSG);
	memset(big, 1, sizeof(big));
	assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(proto_recv(sv[1], &got), -EBADMSG);
	assert_int_equal(proto_send(sv[0], &m), 0);	/* and the next one is whole */
	assert_int_equal(proto_recv(sv[1], &got), 0);
	close(sv[0]);
	assert_int_equal(proto_recv(sv[1], &got), -EPIPE);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_key_table),
		cmocka_unit_test(test_policy_volume),
		cmocka_unit_test(test_policy_same),
		cmocka_unit_test(test_policy_names),
		cmocka_unit_test(test_proto_check),
		cmocka_unit_test(test_proto_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
