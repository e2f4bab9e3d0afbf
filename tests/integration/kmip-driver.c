// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kmip-driver: drives src/kmip against a real KMIP server for
 * tests/integration/kmip-ops.sh.  Compiled by that script against
 * build/libkmipcrypt.a.
 *
 *   kmip-driver -c CONF [-V auto|1.0..2.1] [-t TAG] suite
 *       Every operation, with checks; prints "ok - ..." / "FAIL - ..."
 *       lines and "uid LABEL UID" lines for cross-checks.  Exit 1 if any
 *       check failed.
 *   kmip-driver -c CONF [-V V] version             negotiated version
 *   kmip-driver -c CONF [-V V] states UID...       "UID STATE|-errno name"
 *   kmip-driver -c CONF [-V V] get UID [KEKUID KEKHEX]   hex of the key
 *   kmip-driver -c CONF [-V V] create NAME         uid of a new active key
 *   kmip-driver -c CONF [-V V] revoke UID REASON   reason 1..7
 *
 * Key material is printed only by "get", and only because the test keys
 * are throw-away ones made by the test.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "conf/config.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

static unsigned fails, oks;
static const char *tag = "drv";

static void check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (cond)
		oks++;
	else
		fails++;
}

/* Check an int result against an expected one, with the server's words on failure. */
#define CHECK_R(c, r, want, what, ...) \
	check((r) == (want), what " (r=%d want %d%s%s)", ##__VA_ARGS__, (r), (want), \
	      kmip_last_error(c)[0] ? ": " : "", kmip_last_error(c))

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int open_session(const char *conf, const char *version, struct config **cfg,
			struct kmip_session **s)
{
	struct config_group *g;
	int r;

	r = config_load(conf, cfg);
	if (r < 0)
		return r;
	g = config_group(*cfg, NULL);
	if (!g)
		return -ENOENT;
	if (version && (r = config_group_set(g, "kmip_version", version, "-V")) < 0)
		return r;
	return conf_session_open(*cfg, NULL, 0, s);
}

static uint8_t *random_secret(size_t len)
{
	uint8_t *p = secmem_alloc(len);

	if (p && RAND_bytes(p, (int)len) != 1) {
		secmem_free(p);
		p = NULL;
	}
	return p;
}

/* Destroy what the suite made: Revoke first (PyKMIP refuses to destroy Active keys). */
static void cleanup(struct kmip_client *c, char (*uids)[KMIP_UID_SIZE], size_t n)
{
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_CESSATION_OF_OPERATION };
	size_t i;

	for (i = 0; i < n; i++) {
		if (!uids[i][0])
			continue;
		kmip_revoke(c, uids[i], &rv);
		kmip_destroy(c, uids[i]);
	}
}

#define MAX_MADE 32

static int suite(struct kmip_client *c)
{
	static const uint8_t kek[32] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
		0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
		0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	};
	char made[MAX_MADE][KMIP_UID_SIZE];
	size_t n_made = 0;
	char name[128], group[64], uid_k[KMIP_UID_SIZE], uid_s[KMIP_UID_SIZE];
	char uid_r[KMIP_UID_SIZE], uid_kek[KMIP_UID_SIZE], uid_x[KMIP_UID_SIZE], vb[8];
	struct kmip_server_info si;
	struct kmip_attrs *a = malloc(sizeof(*a));
	struct kmip_object o;
	struct kmip_uid_list l;
	struct kmip_crypt_params cp;
	uint8_t *secret = NULL, *key = NULL, *ct = NULL, *pt = NULL;
	size_t ctl, ptl, i, n;
	int versions[16], r, v;
	uint32_t reason;

	memset(made, 0, sizeof(made));
	if (!a)
		return 1;
	v = kmip_client_version(c);
	check(v > 0, "version negotiated: %s", v > 0 ? kmip_version_str(v, vb, sizeof(vb)) : "none");
	if (v < 0)
		goto out;
	snprintf(group, sizeof(group), "kmipcrypt-%s", tag);

	/* ---- Discover Versions, Query */
	r = kmip_discover_versions(c, versions, 16, &n);
	CHECK_R(c, r, 0, "Discover Versions");
	if (r == 0) {
		bool has20 = false, has21 = false;

		for (i = 0; i < n; i++) {
			has20 |= versions[i] == KMIP_VERSION(2, 0);
			has21 |= versions[i] == KMIP_VERSION(2, 1);
		}
		check(n >= 1 && versions[0] == KMIP_VERSION(2, 0),
		      "Discover Versions lists %zu versions, first %s", n,
		      n ? kmip_version_str(versions[0], vb, sizeof(vb)) : "-");
		check(has20 && !has21, "PyKMIP speaks 2.0 and not 2.1");
	}
	r = kmip_query(c, &si);
	CHECK_R(c, r, 0, "Query");
	if (r == 0) {
		check(strstr(si.vendor, "PyKMIP") != NULL, "Query vendor: '%s'", si.vendor);
		check(kmip_server_has_op(&si, KMIP_OP_CREATE) && kmip_server_has_op(&si, KMIP_OP_GET) &&
		      !kmip_server_has_op(&si, KMIP_OP_REKEY),
		      "Query operations: %zu listed, Create and Get, no Re-key", si.n_ops);
		note("Query: %zu operations, %zu object types, info '%s'", si.n_ops,
		     si.n_objects, si.info);
	}

	/* ---- Create (activated), Get Attributes */
	snprintf(name, sizeof(name), "%s-key", tag);
	r = kmip_create(c, 256, &(struct kmip_new_object){ .name = name, .group = group,
							  .activate = true }, uid_k);
	CHECK_R(c, r, 0, "Create AES-256 '%s' + Activate -> '%s'", name, uid_k);
	if (r < 0)
		goto out;
	strcpy(made[n_made++], uid_k);
	printf("uid key %s\n", uid_k);
	r = kmip_get_attributes(c, uid_k, KMIP_ATTR_ALL, a);
	CHECK_R(c, r, 0, "Get Attributes (all)");
	if (r == 0) {
		check(a->state == KMIP_STATE_ACTIVE, "State %s", kmip_state_name(a->state));
		check(a->object_type == KMIP_OBJ_SYMMETRIC_KEY && a->algorithm == KMIP_ALG_AES &&
		      a->length == 256, "Object Type %u, Algorithm %u, Length %d",
		      a->object_type, a->algorithm, a->length);
		check(a->n_names == 1 && !strcmp(a->names[0], name), "Name '%s'",
		      a->n_names ? a->names[0] : "");
		check(a->n_groups == 1 && !strcmp(a->groups[0], group), "Object Group '%s'",
		      a->n_groups ? a->groups[0] : "");
		check(a->usage_mask == (KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT), "Usage Mask 0x%x",
		      a->usage_mask);
		check(a->present & KMIP_ATTR_INITIAL_DATE, "Initial Date %lld",
		      (long long)a->initial_date);
		note("attributes present: 0x%04x (activation date %lld, last change %lld)",
		     a->present, (long long)a->activation_date, (long long)a->last_change_date);
	}

	/* ---- Register Secret Data (Password) and a Symmetric Key */
	secret = random_secret(32);
	key = random_secret(32);
	if (!secret || !key)
		goto out;
	snprintf(name, sizeof(name), "%s-secret", tag);
	r = kmip_register_secret(c, secret, 32, &(struct kmip_new_object){
		.name = name, .group = group, .activate = true }, uid_s);
	CHECK_R(c, r, 0, "Register Secret Data '%s' + Activate -> '%s'", name, uid_s);
	if (r < 0)
		goto out;
	strcpy(made[n_made++], uid_s);
	printf("uid secret %s\n", uid_s);
	r = kmip_get(c, uid_s, NULL, &o);
	CHECK_R(c, r, 0, "Get Secret Data");
	if (r == 0) {
		check(o.object_type == KMIP_OBJ_SECRET_DATA && o.secret_data_type == KMIP_SECRET_PASSWORD &&
		      o.key_format == KMIP_KFT_OPAQUE, "Secret Data, Password, Opaque");
		check(o.material_len == 32 && !memcmp(o.material, secret, 32),
		      "secret bytes round-trip");
		kmip_object_clear(&o);
	}
	snprintf(name, sizeof(name), "%s-registered", tag);
	r = kmip_register_key(c, key, 32, &(struct kmip_new_object){ .name = name, .group = group,
								     .activate = true }, uid_r);
	CHECK_R(c, r, 0, "Register Symmetric Key + Activate -> '%s'", uid_r);
	if (r < 0)
		goto out;
	strcpy(made[n_made++], uid_r);
	printf("uid registered %s\n", uid_r);
	r = kmip_get(c, uid_r, NULL, &o);
	CHECK_R(c, r, 0, "Get Symmetric Key");
	if (r == 0) {
		check(o.key_format == KMIP_KFT_RAW && o.algorithm == KMIP_ALG_AES && o.length == 256 &&
		      o.material_len == 32 && !memcmp(o.material, key, 32),
		      "key bytes, Raw, AES-256 round-trip");
		kmip_object_clear(&o);
	}

	/* ---- Get with Key Wrapping Specification, unwrapped locally */
	snprintf(name, sizeof(name), "%s-kek", tag);
	r = kmip_register_key(c, kek, 32, &(struct kmip_new_object){
		.name = name, .group = group, .activate = true,
		.usage_mask = KMIP_USAGE_WRAP_KEY | KMIP_USAGE_UNWRAP_KEY }, uid_kek);
	CHECK_R(c, r, 0, "Register KEK (Wrap Key) + Activate -> '%s'", uid_kek);
	if (r < 0)
		goto out;
	strcpy(made[n_made++], uid_kek);
	r = kmip_get(c, uid_r, &(struct kmip_key_wrap){ .kek_uid = uid_kek }, &o);
	CHECK_R(c, r, 0, "Get wrapped (NIST Key Wrap), no local KEK");
	if (r == 0) {
		check(o.wrapped && o.material_len == 40 && o.wrap_mode == KMIP_BCM_NIST_KEY_WRAP &&
		      !strcmp(o.wrap_kek_uid, uid_kek),
		      "wrapped key: 40 bytes, Key Wrapping Data echoes mode %u and KEK '%s'",
		      o.wrap_mode, o.wrap_kek_uid);
		kmip_object_clear(&o);
	}
	r = kmip_get(c, uid_r, &(struct kmip_key_wrap){ .kek_uid = uid_kek, .kek = kek,
							.kek_len = 32 }, &o);
	CHECK_R(c, r, 0, "Get wrapped + kmip_unwrap (RFC 3394)");
	if (r == 0) {
		check(!o.wrapped && o.material_len == 32 && !memcmp(o.material, key, 32),
		      "unwrapped key equals the registered one");
		kmip_object_clear(&o);
	}
	r = kmip_get(c, uid_r, &(struct kmip_key_wrap){ .kek_uid = uid_kek,
							.mode = KMIP_BCM_AES_KEY_WRAP_PADDING }, &o);
	check(r < 0, "AES Key Wrap Padding refused by PyKMIP (r=%d: %s)", r, kmip_last_error(c));
	r = kmip_get(c, uid_r, &(struct kmip_key_wrap){ .kek_uid = uid_k }, &o);
	check(r == -EPERM, "wrapping with a key lacking Wrap Key refused (r=%d: %s)", r,
	      kmip_last_error(c));

	/* ---- Batched states */
	{
		const char *uids[5] = { uid_k, uid_s, "999999", uid_r, uid_kek };
		int states[5], errs[5];

		r = kmip_get_states(c, uids, 5, states, errs);
		CHECK_R(c, r, 0, "Get Attributes (State) x5 in one batch");
		if (r == 0) {
			check(errs[0] == 0 && states[0] == KMIP_STATE_ACTIVE, "batch[0] Active");
			check(errs[1] == 0 && states[1] == KMIP_STATE_ACTIVE, "batch[1] Active");
			check(errs[2] == -ENOENT, "batch[2] unknown -> -ENOENT (%d)", errs[2]);
			check(errs[3] == 0 && states[3] == KMIP_STATE_ACTIVE,
			      "batch[3] Active after a failed item (Continue honoured)");
			check(errs[4] == 0 && states[4] == KMIP_STATE_ACTIVE, "batch[4] Active");
		}
	}
	{
		const char **many = calloc(300, sizeof(*many));
		int *st = calloc(300, sizeof(int)), *er = calloc(300, sizeof(int));
		bool all = true;

		if (many && st && er) {
			for (i = 0; i < 300; i++)
				many[i] = i % 3 ? uid_k : uid_s;
			r = kmip_get_states(c, many, 300, st, er);
			for (i = 0; i < 300; i++)
				all &= er[i] == 0 && st[i] == KMIP_STATE_ACTIVE;
			check(r == 0 && all, "300 states in 3 messages (r=%d)", r);
		}
		free(many);
		free(st);
		free(er);
	}

	/* ---- Locate, verified */
	snprintf(name, sizeof(name), "%s-key", tag);
	r = kmip_locate(c, &(struct kmip_locate_filter){ .name = name,
							  .state = KMIP_STATE_ACTIVE }, &l);
	CHECK_R(c, r, 0, "Locate Name '%s' + State Active", name);
	if (r == 0) {
		check(l.n == 1 && !strcmp(l.uids[0], uid_k), "Locate found exactly the key (%zu)", l.n);
		kmip_uid_list_free(&l);
	}
	r = kmip_locate(c, &(struct kmip_locate_filter){ .group = group }, &l);
	CHECK_R(c, r, 0, "Locate Object Group '%s'", group);
	if (r == 0) {
		check(l.n == 4, "Locate by group: 4 objects (%zu)", l.n);
		kmip_uid_list_free(&l);
	}
	r = kmip_locate(c, &(struct kmip_locate_filter){ .group = group,
							  .object_type = KMIP_OBJ_SECRET_DATA }, &l);
	CHECK_R(c, r, 0, "Locate Object Group + Object Type Secret Data");
	if (r == 0) {
		check(l.n == 1 && !strcmp(l.uids[0], uid_s), "found the secret (%zu)", l.n);
		kmip_uid_list_free(&l);
	}
	r = kmip_locate(c, &(struct kmip_locate_filter){ .group = group, .max_items = 2 }, &l);
	CHECK_R(c, r, 0, "Locate Maximum Items 2");
	if (r == 0) {
		check(l.n == 2, "Maximum Items honoured (%zu)", l.n);
		kmip_uid_list_free(&l);
	}
	if (v >= KMIP_VERSION(1, 3)) {
		r = kmip_locate(c, &(struct kmip_locate_filter){ .group = group, .offset_items = 3 },
				&l);
		CHECK_R(c, r, 0, "Locate Offset Items 3");
		if (r == 0) {
			check(l.n == 1, "Offset Items honoured (%zu)", l.n);
			kmip_uid_list_free(&l);
		}
	}
	{
		struct kmip_locate_filter f = { .name = name, .state = KMIP_STATE_ACTIVE,
						.object_type = KMIP_OBJ_SYMMETRIC_KEY, .group = group };

		check(kmip_locate_verify(c, uid_k, &f) == 1, "verify: the key matches its filter");
		check(kmip_locate_verify(c, uid_s, &f) == 0, "verify: the secret does not");
	}

	/* ---- Encrypt / Decrypt (AES-CBC-PKCS5) */
	memset(&cp, 0, sizeof(cp));
	r = kmip_encrypt(c, uid_k, &cp, (const uint8_t *)"attack at dawn!!", 16, &ct, &ctl);
	CHECK_R(c, r, 0, "Encrypt, server-chosen IV");
	if (r == 0) {
		check(ctl == 32 && cp.iv_len == 16, "ciphertext %zu bytes (padded), IV %zu bytes",
		      ctl, cp.iv_len);
		r = kmip_decrypt(c, uid_k, &cp, ct, ctl, &pt, &ptl);
		CHECK_R(c, r, 0, "Decrypt");
		check(r == 0 && ptl == 16 && !memcmp(pt, "attack at dawn!!", 16), "plaintext back");
		secmem_free(ct);
		secmem_free(pt);
		ct = pt = NULL;
	}
	memset(&cp, 0, sizeof(cp));
	memset(cp.iv, 0x24, 16);
	cp.iv_len = 16;
	r = kmip_encrypt(c, uid_k, &cp, (const uint8_t *)"x", 1, &ct, &ctl);
	CHECK_R(c, r, 0, "Encrypt with our IV");
	if (r == 0) {
		r = kmip_decrypt(c, uid_k, &cp, ct, ctl, &pt, &ptl);
		check(r == 0 && ptl == 1 && pt[0] == 'x', "round trip with our IV");
		secmem_free(ct);
		secmem_free(pt);
		ct = pt = NULL;
	}

	/* ---- Re-key: not in PyKMIP */
	r = kmip_rekey(c, uid_k, uid_x);
	CHECK_R(c, r, -EOPNOTSUPP, "Re-key -> -EOPNOTSUPP");
	check(!strncmp(kmip_last_error(c), "Operation Not Supported", 23),
	      "last error: '%s'", kmip_last_error(c));

	/* ---- Errors */
	r = kmip_get(c, "999999", NULL, &o);
	CHECK_R(c, r, -ENOENT, "Get unknown UID -> -ENOENT");
	note("unknown UID: %s", kmip_last_error(c));
	r = kmip_activate(c, uid_k);
	check(r == -EPERM, "Activate an Active key refused (r=%d: %s)", r, kmip_last_error(c));
	r = kmip_destroy(c, uid_k);
	check(r == -EPERM, "Destroy an Active key refused (r=%d: %s)", r, kmip_last_error(c));

	/* ---- Revoke with every reason */
	for (reason = 1; reason <= 7; reason++) {
		struct kmip_revoke rv = { .reason = reason, .message = "kmipcrypt test" };
		int st[1], er[1];
		const char *u[1];
		int want = reason == KMIP_REVOKE_KEY_COMPROMISE ? KMIP_STATE_COMPROMISED :
			   KMIP_STATE_DEACTIVATED;

		snprintf(name, sizeof(name), "%s-revoke-%u", tag, reason);
		r = kmip_create(c, 128, &(struct kmip_new_object){ .name = name, .group = group,
								  .activate = true }, uid_x);
		if (r < 0) {
			CHECK_R(c, r, 0, "Create '%s'", name);
			continue;
		}
		strcpy(made[n_made++], uid_x);
		r = kmip_revoke(c, uid_x, &rv);
		CHECK_R(c, r, 0, "Revoke '%s' (%s)", uid_x, kmip_revocation_reason_name(reason));
		u[0] = uid_x;
		r = kmip_get_states(c, u, 1, st, er);
		check(r == 0 && er[0] == 0 && st[0] == want, "  -> %s",
		      er[0] == 0 ? kmip_state_name(st[0]) : "error");
	}
	/* PyKMIP still hands out a revoked key: callers must check State. */
	r = kmip_get(c, uid_x, NULL, &o);
	note("Get of a Deactivated key: r=%d (PyKMIP returns the key material)", r);
	kmip_object_clear(&o);
	r = kmip_revoke(c, uid_x, &(struct kmip_revoke){ .reason = KMIP_REVOKE_SUPERSEDED });
	check(r < 0, "Revoke a Deactivated key (non-compromise) refused (r=%d: %s)", r,
	      kmip_last_error(c));

	/* ---- Destroy */
	r = kmip_revoke(c, uid_s, &(struct kmip_revoke){
		.reason = KMIP_REVOKE_CESSATION_OF_OPERATION, .message = "decommissioned" });
	CHECK_R(c, r, 0, "Revoke the secret (Cessation of Operation, message)");
	r = kmip_destroy(c, uid_s);
	CHECK_R(c, r, 0, "Destroy the secret");
	{
		const char *u[1] = { uid_s };
		int st[1], er[1];

		r = kmip_get_states(c, u, 1, st, er);
		check(r == 0 && er[0] == -ENOENT, "destroyed object is gone (not 'Destroyed')");
	}
	made[1][0] = '\0';
out:
	cleanup(c, made, n_made);
	secmem_free(secret);
	secmem_free(key);
	free(a);
	printf("# %u ok, %u failed\n", oks, fails);
	return fails ? 1 : 0;
}

static int cmd_states(struct kmip_client *c, int argc, char **argv)
{
	int *st = calloc((size_t)argc, sizeof(int)), *er = calloc((size_t)argc, sizeof(int));
	int i, r = -ENOMEM;

	if (!st || !er)
		goto out;
	r = kmip_get_states(c, (const char *const *)argv, (size_t)argc, st, er);
	if (r < 0)
		goto out;
	for (i = 0; i < argc; i++) {
		if (er[i])
			printf("%s %d\n", argv[i], er[i]);
		else
			printf("%s %s\n", argv[i], kmip_state_name(st[i]));
	}
out:
	free(st);
	free(er);
	return r;
}

static int cmd_get(struct kmip_client *c, int argc, char **argv)
{
	struct kmip_key_wrap w = { 0 };
	struct kmip_object o;
	uint8_t kek[32];
	char *hex = NULL;
	int r;

	if (argc == 3) {
		if (strlen(argv[2]) != 64 || hex_decode(argv[2], 64, kek, 32) < 0)
			return -EINVAL;
		w.kek_uid = argv[1];
		w.kek = kek;
		w.kek_len = 32;
	}
	r = kmip_get(c, argv[0], argc == 3 ? &w : NULL, &o);
	if (r < 0)
		return r;
	hex = malloc(2 * o.material_len + 1);
	if (hex) {
		hex_encode(o.material, o.material_len, hex);
		printf("%s\n", hex);
		free(hex);
	}
	kmip_object_clear(&o);
	return hex ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *version = NULL;
	struct config *cfg = NULL;
	struct kmip_session *s = NULL;
	struct kmip_client *c;
	char uid[KMIP_UID_SIZE];
	int opt, r;

	while ((opt = getopt(argc, argv, "c:V:t:v")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'V': version = optarg; break;
		case 't': tag = optarg; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		default: return 2;
		}
	}
	if (!conf || optind >= argc) {
		fprintf(stderr, "usage: kmip-driver -c CONF [-V VERSION] [-t TAG] "
			"suite|version|states|get|create|revoke ...\n");
		return 2;
	}
	r = open_session(conf, version, &cfg, &s);
	if (r < 0) {
		fprintf(stderr, "kmip-driver: %s: %s\n", conf, strerror(-r));
		return 2;
	}
	c = kmip_session_client(s);
	argv += optind;
	argc -= optind;
	if (!strcmp(argv[0], "suite")) {
		r = suite(c) ? -EIO : 0;
	} else if (!strcmp(argv[0], "version")) {
		char vb[8];

		r = kmip_client_version(c);
		if (r > 0) {
			printf("%s\n", kmip_version_str(r, vb, sizeof(vb)));
			r = 0;
		}
	} else if (!strcmp(argv[0], "states") && argc > 1) {
		r = cmd_states(c, argc - 1, argv + 1);
	} else if (!strcmp(argv[0], "get") && (argc == 2 || argc == 4)) {
		r = cmd_get(c, argc - 1, argv + 1);
	} else if (!strcmp(argv[0], "create") && argc == 2) {
		r = kmip_create(c, 256, &(struct kmip_new_object){ .name = argv[1],
								  .activate = true }, uid);
		if (r == 0)
			printf("%s\n", uid);
	} else if (!strcmp(argv[0], "revoke") && argc == 3) {
		r = kmip_revoke(c, argv[1], &(struct kmip_revoke){
			.reason = (uint32_t)strtoul(argv[2], NULL, 10) });
	} else {
		fprintf(stderr, "kmip-driver: bad command\n");
		r = -EINVAL;
	}
	if (r < 0 && strcmp(argv[0], "suite"))
		fprintf(stderr, "kmip-driver: %s: %s%s%s\n", argv[0], strerror(-r),
			kmip_last_error(c)[0] ? ": " : "", kmip_last_error(c));
	kmip_session_close(s);
	config_free(cfg);
	return r < 0 ? 1 : 0;
}
