/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcrypt enroll | unlock | status | lock | unbind: binding LUKS2 volumes
 * to KMIP keys (src/luks).  On block devices and image files alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include <libcryptsetup.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "dm/dm.h"
#include "kmip/kmip.h"
#include "luks/luks.h"
#include "conf/config.h"
#include "util/escape.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/strnum.h"

#define PASSPHRASE_MAX	(8u * 1024)	/* bytes of an existing passphrase (prompt or key file) */

/* ------------------------------------------------------------ shared */

/* The worse of two exit statuses (the higher). */
static int worst(int a, int b)
{
	return a > b ? a : b;
}

/* An existing passphrase from the terminal, echo off, into locked memory. */
static int prompt_passphrase(const char *device, char **out, size_t *len)
{
	char prompt[PATH_MAX + 48];
	int r;

	snprintf(prompt, sizeof(prompt), "Enter an existing passphrase of %s", device);
	r = cli_prompt_secret(prompt, PASSPHRASE_MAX, out, len);
	if (r == -ENOTTY)
		r = log_error_errno(-EINVAL, "no terminal to ask for the passphrase of %s; "
				    "use --key-file", device);
	return r;
}

static int parse_timeout(const char *s, unsigned *ms)
{
	uint64_t v;

	if (parse_duration_ms(s, &v) < 0 || v == 0 || v > 3600u * 1000u) {
		log_error("invalid --timeout '%s': a duration from 1 ms to 1 h (\"30\", \"5s\", "
			  "\"500ms\")", s);
		return -EINVAL;
	}
	*ms = (unsigned)v;
	return 0;
}

/* What enroll bound, one line (no secret in it; the server's uid escaped). */
static void print_enrolled(const char *device, const struct enroll_result *res)
{
	const struct kmip_token *t = &res->token;
	char uid[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)], og[TEXT_ESCAPED_SIZE(KMIP_TEXT_MAX)];

	printf("%s: token %d on keyslot %d%s, kind %s%s%s, key '%s' in group [%s], Object Group "
	       "'%s'\n", device, res->token_id, t->keyslot,
	       t->kind == KMIP_KIND_VOLUME_KEY ? " (unbound)" : "", kmip_kind_name(t->kind),
	       t->kind == KMIP_KIND_ENVELOPE ? " " : "",
	       t->kind == KMIP_KIND_ENVELOPE ? kmip_envelope_mode_name(t->mode) : "",
	       text_escape(t->uid, uid, sizeof(uid)), t->group,
	       text_escape(t->object_group, og, sizeof(og)));
}

/* ------------------------------------------------------------ enroll */

static void enroll_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] [-g GROUP] enroll DEVICE [--kind K] [--name N]\n"
"       [--object-group G] [--wrap-key UID [--kek-file F]] [--key-file F]\n\n"
"Bind a LUKS2 volume (block device or image file) to a new object on the KMIP\n"
"server of GROUP: prove an existing passphrase, create the object, add a keyslot,\n"
"write a kmip token.  If a step fails, or the command is interrupted (Ctrl-C,\n"
"SIGTERM, SIGHUP) before the token is written, the earlier steps are undone;\n"
"once the token is written an interruption lets it finish.\n\n"
"  --kind K          passphrase (default): a random 32-byte secret, stored on the\n"
"                      KMS as Secret Data (Password), unlocks a new PBKDF2 keyslot\n"
"                    volume-key: the volume key itself is registered on the KMS and\n"
"                      unlock activates by volume key (token on an unbound keyslot)\n"
"                    envelope: a new AES-256 key on the KMS encrypts the keyslot\n"
"                      secret (AES-GCM bound to this volume where the server offers\n"
"                      it); unlock asks the KMS to decrypt it (the key never leaves)\n"
"  --name N          KMIP Name (default kmipcrypt-<LUKS UUID>-<kind>)\n"
"  --object-group G  KMIP Object Group of the new object (default: object_group of\n"
"                    GROUP in the configuration, else this host's own,\n"
"                    kmipcrypt-<16 hex digits derived from /etc/machine-id>)\n"
"  --wrap-key UID    volume-key: fetch the key wrapped by this key-encryption key\n"
"                    (NIST AES key wrap); the host keeps a copy of that KEK\n"
"  --kek-file F      the host copy of the KEK (raw 16/24/32 bytes, mode 600;\n"
"                    default <config dir>/kek/<UID>)\n"
"  --key-file F      the existing passphrase: the whole file, as cryptsetup reads\n"
"                    --key-file (\"-\": standard input); default: ask on the terminal\n\n"
"The token records GROUP (-g, default \"default\"); unlock uses that group.\n"
"Test hook: KMIPCRYPT_FAIL_AT=STEP makes that step fail, STEP:SIGNAL (SIGINT,\n"
"SIGTERM, SIGHUP, SIGKILL) sends the signal there (steps: connect, register,\n"
"wrap, keyslot, activate, encrypt, token, unmark, verify; see\n"
"kmipcrypt-enroll(8)).\n");
}

int cmd_enroll(int argc, char **argv)
{
	enum { O_KIND = 256, O_NAME, O_GROUP, O_WRAP, O_KEK, O_KEYFILE };
	static const struct option opts[] = {
		{ "kind",         required_argument, NULL, O_KIND },
		{ "name",         required_argument, NULL, O_NAME },
		{ "object-group", required_argument, NULL, O_GROUP },
		{ "wrap-key",     required_argument, NULL, O_WRAP },
		{ "kek-file",     required_argument, NULL, O_KEK },
		{ "key-file",     required_argument, NULL, O_KEYFILE },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct enroll_opts o = { .kind = KMIP_KIND_PASSPHRASE };
	struct config *cfg = NULL;
	const char *key_file = NULL, *device;
	uint8_t *pass = NULL;
	size_t pass_len = 0;
	struct enroll_result res;
	int c, r, err = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_KIND:
			if (kmip_kind_parse(optarg, &o.kind) < 0)
				return cli_usage_error("enroll", "unknown --kind '%s' (passphrase, "
						   "volume-key, envelope)", optarg);
			break;
		case O_NAME: o.name = optarg; break;
		case O_GROUP: o.object_group = optarg; break;
		case O_WRAP: o.wrap_uid = optarg; break;
		case O_KEK: o.kek_file = optarg; break;
		case O_KEYFILE: key_file = optarg; break;
		case 'h':
			enroll_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("enroll", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("enroll", "enroll takes one DEVICE");
	device = argv[optind];
	o.group = g_opts.group;
	if (luks_enroll_check(&o) < 0)
		return EXIT_USAGE;	/* before anything is asked for */
	cli_luks_setup();

	/*
	 * From here on SIGINT, SIGTERM and SIGHUP are requests: a prompt gives
	 * up, luks_enroll() undoes what it did (or finishes, once the token is
	 * written), and then the process ends as the signal ends it.
	 */
	err = interrupt_catch();
	if (err < 0) {
		r = cli_fail(err, NULL, "catching termination signals", NULL);
		goto out;
	}
	r = cli_load_config(&cfg);	/* the group, and its key password if asked for */
	if (r) {
		err = interrupt_pending() ? -EINTR : 0;	/* the key password prompt gave up */
		goto out;
	}

	if (key_file)
		err = cli_read_secret(key_file, PASSPHRASE_MAX, &pass, &pass_len);
	else
		err = prompt_passphrase(device, (char **)&pass, &pass_len);
	if (err == 0) {
		o.passphrase = (const char *)pass;
		o.passphrase_len = pass_len;
		err = luks_enroll(device, cfg, &o, &res);
	}
	if (err < 0) {
		r = exit_code_from_errno(err);
		goto out;
	}
	print_enrolled(device, &res);
	r = EXIT_OK;
out:
	secmem_free(pass);
	config_free(cfg);
	/*
	 * Undone: end as the signal would.  Otherwise the handlers stay until
	 * exit: a signal that comes after the work is done must not kill the
	 * process before it reports what it did (exit 130 for a bound volume).
	 */
	if (err == -EINTR)
		interrupt_release(true);
	return r;
}

/* ------------------------------------------------------------ unlock */

static void unlock_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] unlock DEVICE [NAME] [--test] [--token ID | --kind K]\n"
"                 [--kek-file F] [--timeout T] [--crypttab FILE]\n"
"       kmipcrypt [-c FILE] unlock --all [--test] [--from LIST | --crypttab FILE]\n"
"                 [--no-blkid] [--kind K] [--kek-file F] [--timeout T] [--jobs N]\n\n"
"Unlock a kmip-bound LUKS2 volume: check the key's State on the KMS (only Active\n"
"unlocks), fetch or decrypt the secret, and open /dev/mapper/NAME (default: the\n"
"name of the device's /etc/crypttab line, else luks-<UUID>).  The options of that\n"
"line discard, readonly, same-cpu-crypt, submit-from-crypt-cpus,\n"
"no-read-workqueue and no-write-workqueue apply.  Each kmip token of the volume\n"
"is tried in turn.\n\n"
"  --test          verify the secret against the header; create no mapping\n"
"  --token ID      only this token\n"
"  --kek-file F    volume-key tokens with a wrapping key: the host copy of the KEK\n"
"                  (default <config dir>/kek/<WRAP UID>)\n"
"  --timeout T     time limit, every server and request included (with --all:\n"
"                  for the whole run; default 30s; \"500ms\", \"10s\", \"2m\")\n"
"  --all           every LUKS2 volume with a kmip token: block devices found by\n"
"                  libblkid (TYPE=crypto_LUKS) and entries of /etc/crypttab (whose\n"
"                  names are used; noauto lines are skipped); one request per\n"
"                  server group for all their secrets; the exit status is the\n"
"                  worst of them\n"
"  --kind K        only tokens of kind K (passphrase, envelope, volume-key, or a\n"
"                  comma list); a volume with none is skipped (exit 0)\n"
"  --jobs N        with --all: check and activate up to N volumes at once, each in\n"
"                  a process of its own (default: the number of CPUs; 1: in turn)\n"
"  --from LIST     with --all: only the volumes listed in LIST, one \"DEVICE [NAME]\"\n"
"                  per line (# comments); a listed device that is missing, not\n"
"                  LUKS2 or without a kmip token is named and fails the run (the\n"
"                  others are still unlocked)\n"
"  --crypttab F    read F instead of /etc/crypttab\n"
"  --no-blkid      with --all: do not scan block devices\n\n"
"The server group comes from each token (enroll's -g).\n");
}

/* One line per volume, on standard output: what unlock did. */
static void print_unlocked(const char *device, const char *name, enum luks_unlock_outcome how)
{
	switch (how) {
	case LUKS_UNLOCK_VERIFIED:
		printf("%s: verified (check only, no mapping)\n", device);
		break;
	case LUKS_UNLOCK_ALREADY_OPEN:
		printf("%s: already unlocked as %s\n", device, name);
		break;
	case LUKS_UNLOCK_RESUMED:
		printf("%s: resumed %s (it was locked)\n", device, name);
		break;
	case LUKS_UNLOCK_SKIPPED:
		printf("%s: skipped (no kmip token of the kinds asked for)\n", device);
		break;
	default:
		printf("%s: unlocked as %s\n", device, name);
		break;
	}
}

/* "volume-key" or "passphrase,envelope": the mask of unlock_opts.kinds. */
static int parse_kinds(const char *s, unsigned *mask)
{
	char buf[128], *save = NULL, *w;
	enum kmip_secret_kind k;
	int r = 0;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	*mask = 0;
	for (w = strtok_r(buf, ",", &save); w && r == 0; w = strtok_r(NULL, ",", &save)) {
		r = kmip_kind_parse(w, &k);
		if (r == 0)
			*mask |= 1u << k;
	}
	return r < 0 || !*mask ? -EINVAL : 0;
}

int cmd_unlock(int argc, char **argv)
{
	enum { O_TEST = 256, O_ALL, O_FROM, O_CRYPTTAB, O_NOBLKID, O_KEK, O_TIMEOUT, O_TOKEN,
	       O_JOBS, O_KIND };
	static const struct option opts[] = {
		{ "test",      no_argument,       NULL, O_TEST },
		{ "all",       no_argument,       NULL, O_ALL },
		{ "from",      required_argument, NULL, O_FROM },
		{ "crypttab",  required_argument, NULL, O_CRYPTTAB },
		{ "no-blkid",  no_argument,       NULL, O_NOBLKID },
		{ "kek-file",  required_argument, NULL, O_KEK },
		{ "timeout",   required_argument, NULL, O_TIMEOUT },
		{ "token",     required_argument, NULL, O_TOKEN },
		{ "jobs",      required_argument, NULL, O_JOBS },
		{ "kind",      required_argument, NULL, O_KIND },
		{ "help",      no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct unlock_opts uo = { .token_id = -1 };
	unsigned long long jobs;
	struct discover_opts dopt = { 0 };
	struct luks_volume_list l = { 0 };
	struct luks_volume tab = { 0 };
	struct config *cfg = NULL;
	enum luks_unlock_outcome how = LUKS_UNLOCK_OPENED, *outcomes = NULL;
	bool test = false, all = false;
	char name[128], why[KMIP_FAILURE_TEXT_SIZE];
	int c, r, *results = NULL;
	size_t i;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_TEST: test = true; break;
		case O_ALL: all = true; break;
		case O_FROM: dopt.list_file = optarg; break;
		case O_CRYPTTAB: dopt.crypttab = optarg; break;
		case O_NOBLKID: dopt.no_blkid = true; break;
		case O_KEK: uo.kek_file = optarg; break;
		case O_TIMEOUT:
			if (parse_timeout(optarg, &uo.deadline_ms) < 0)
				return EXIT_USAGE;
			break;
		case O_TOKEN:
			if (cli_token_id("unlock", optarg, &uo.token_id))
				return EXIT_USAGE;
			break;
		case O_KIND:
			if (parse_kinds(optarg, &uo.kinds) < 0)
				return cli_usage_error("unlock", "--kind takes passphrase, envelope or "
						   "volume-key, or a comma list of them (got '%s')",
						   optarg);
			break;
		case O_JOBS:
			if (parse_uint(optarg, 1, UNLOCK_JOBS_MAX, &jobs) < 0)
				return cli_usage_error("unlock", "--jobs takes a number of volumes from 1 "
						   "to %d (got '%s')", UNLOCK_JOBS_MAX, optarg);
			uo.jobs = (unsigned)jobs;
			break;
		case 'h':
			unlock_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("unlock", "unknown option");
		}
	}
	if (uo.token_id >= 0 && uo.kinds)
		return cli_usage_error("unlock", "--token and --kind exclude each other%s", "");
	if (all) {
		if (argc - optind != 0)
			return cli_usage_error("unlock", "unlock --all takes no DEVICE (got '%s')",
					   argv[optind]);
		if (uo.token_id >= 0)
			return cli_usage_error("unlock", "--token is for one DEVICE");
	} else {
		if (argc - optind < 1 || argc - optind > 2)
			return cli_usage_error("unlock", "unlock takes DEVICE [NAME], or --all");
		if (dopt.list_file || dopt.no_blkid || uo.jobs)
			return cli_usage_error("unlock", "--from, --no-blkid and --jobs go with --all%s", "");
		if (test && argc - optind == 2)
			return cli_usage_error("unlock", "--test creates no mapping: no NAME");
	}
	cli_luks_setup();
	r = cli_load_config_file(&cfg);
	if (r)
		return r;

	if (!all) {
		const char *device = argv[optind], *mapname = NULL;

		/* The device's crypttab line: its name (unless given) and its options. */
		r = luks_crypttab_find(dopt.crypttab, device, &tab);
		if (r < 0 && r != -ENOENT) {
			r = exit_code_from_errno(r);
			goto out;
		}
		uo.activate_flags = tab.activate_flags;
		if (!test) {
			if (argc - optind == 2) {
				mapname = argv[optind + 1];
			} else if (tab.name) {
				mapname = tab.name;
			} else {
				r = luks_default_name(device, name, sizeof(name));
				if (r < 0) {
					r = exit_code_from_errno(r);
					goto out;
				}
				mapname = name;
			}
		}
		uo.outcome = &how;
		r = luks_unlock_ex(device, mapname, cfg, &uo);
		if (r == 0)
			print_unlocked(device, mapname, how);
		r = exit_code_from_errno(r);
		goto out;
	}

	r = luks_discover(&dopt, &l);
	if (r < 0) {
		r = exit_code_from_errno(r);
		goto out;
	}
	if (l.n == 0) {
		log_warn("no LUKS2 volume with a kmip token found");
		r = EXIT_OK;
		goto out;
	}
	results = calloc(l.n, sizeof(*results));
	outcomes = calloc(l.n, sizeof(*outcomes));
	if (!results || !outcomes) {
		r = EXIT_OTHER;
		goto out;
	}
	r = luks_unlock_many(&l, test, cfg, &uo, results, outcomes);
	if (r < 0) {
		r = exit_code_from_errno(r);
		goto out;
	}
	r = EXIT_OK;
	for (i = 0; i < l.n; i++) {
		int code = exit_code_from_errno(results[i]);

		if (results[i] == 0)
			print_unlocked(l.v[i].device, l.v[i].name, outcomes[i]);
		else
			printf("%s: FAILED (exit %d: %s)\n", l.v[i].device, code,
			       l.v[i].why ? l.v[i].why : results[i] == -ELUKS ? "LUKS error" :
			       kmip_failure_reason(NULL, results[i], why, sizeof(why)));
	}
	r = errclass_exit_many(results, l.n);
out:
	free(results);
	free(outcomes);
	free(tab.device);
	free(tab.name);
	luks_volume_list_free(&l);
	config_free(cfg);
	return r;
}

/* ------------------------------------------------------------ status */

static void status_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] status [DEVICE...] [--json] [--timeout T] [--kek-file F]\n"
"       [--from LIST | --crypttab FILE] [--no-blkid]\n\n"
"For each kmip-bound volume (the DEVICEs given, else those `unlock --all` would\n"
"find): each kmip token with its keyslot, kind, key UID and server group, the\n"
"key's State on the KMS, whether the token would unlock the volume now (the\n"
"secret is fetched as unlock fetches it and checked against the header: no\n"
"mapping is made) and if not why, whether the key is due for rotation (the\n"
"rotate_after of its group: 'kmipcrypt rekey --due'), and whether a dm-crypt\n"
"mapping is open.\n\n"
"  --json          a JSON array, one object per volume\n"
"  --timeout T     time limit for all servers and requests (default 30s)\n"
"  --kek-file F    volume-key tokens with a wrapping key: the host copy of the KEK\n"
"                  (default <config dir>/kek/<WRAP UID>)\n"
"  --from LIST     only the volumes listed in LIST, one \"DEVICE [NAME]\" per line;\n"
"                  a listed device that is missing, not LUKS2 or without a kmip\n"
"                  token is an error\n"
"  --crypttab F    read F instead of /etc/crypttab\n"
"  --no-blkid      do not scan block devices\n\n"
"Exit status: 0 if every token would unlock; otherwise the worst of them (1 no\n"
"such server group or KEK file, 2 no server reachable, 3 TLS, 4 key not Active,\n"
"not found or of the wrong type, 5 the secret does not open the volume, an\n"
"invalid token, no kmip token or not LUKS2).\n");
}

static const char *state_text(const struct luks_token_status *ts, char *buf, size_t len)
{
	char why[KMIP_FAILURE_TEXT_SIZE];

	if (ts->parse_err)
		return "invalid token";
	if (ts->state_err == -ENOENT)
		return "not found (destroyed?)";
	if (ts->state_err == -EPERM)
		return "permission denied (another owner's?)";
	if (ts->state_err == -EINVAL) {
		snprintf(buf, len, "unknown: no usable server group [%s] in the configuration",
			 ts->t.group);
		return buf;
	}
	if (ts->state_err) {
		snprintf(buf, len, "unknown: %s",
			 kmip_failure_reason(NULL, ts->state_err, why, sizeof(why)));
		return buf;
	}
	return kmip_state_name(ts->state);
}

/* The exit code unlock would give with this token. */
static int token_code(const struct luks_token_status *ts)
{
	if (ts->usable)
		return EXIT_OK;
	return ts->err ? exit_code_from_errno(ts->err) : EXIT_OTHER;
}

static void json_add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

/* Is the kmip token a record rotates one of the volume's? */
static bool rotated_token(const struct luks_status *s, const struct luks_rotation_status *rs)
{
	size_t i;

	for (i = 0; i < s->n_tokens; i++)
		if (s->tokens[i].token_id == rs->r.token)
			return true;
	return false;
}

/* The rotation records: a rekey in progress or left half-done, and the command for it. */
static json_object *rotations_json(const char *device, const struct luks_status *s)
{
	json_object *a = json_object_new_array();
	char cmd[PATH_MAX + 64];
	size_t k;

	for (k = 0; k < s->n_rotations; k++) {
		const struct luks_rotation_status *rs = &s->rotations[k];
		json_object *r = json_object_new_object();

		json_add(r, "token", json_object_new_int(rs->token_id));
		json_add(r, "valid", json_object_new_boolean(!rs->parse_err));
		if (rs->parse_err) {
			json_add(r, "reason", json_object_new_string(rs->reason));
		} else {
			json_add(r, "rotates", json_object_new_int(rs->r.token));
			json_add(r, "name", json_object_new_string(rs->r.name));
			json_add(r, "uid", rs->r.uid[0] ? json_object_new_string(rs->r.uid) : NULL);
			json_add(r, "old_uid", rs->r.old_uid[0] ?
				 json_object_new_string(rs->r.old_uid) : NULL);
			json_add(r, "switched", json_object_new_boolean(rs->switched));
			/* Unescaped: JSON escapes what it must. */
			snprintf(cmd, sizeof(cmd), "kmipcrypt rekey %s --token %d", device, rs->r.token);
			json_add(r, "run", rotated_token(s, rs) ? json_object_new_string(cmd) : NULL);
		}
		json_object_array_add(a, r);
	}
	return a;
}

/*
 * The key's rotation policy, where its group has a rotate_after and its
 * State was read: "activated" (the date the age counts from:
 * "activated_from" says which KMIP attribute; null when the server gave
 * neither), "rotate_after" (seconds), "rotation_due" and "rotation_due_at".
 */
static void age_json(json_object *t, const struct luks_token_status *ts)
{
	char buf[32];

	if (!ts->queried || ts->state_err || !ts->rotate_after_s)
		return;
	json_add(t, "activated", ts->activated > 0 ?
		 json_object_new_string(cli_time(ts->activated, buf, sizeof(buf))) : NULL);
	if (ts->activated > 0)
		json_add(t, "activated_from", json_object_new_string(ts->activated_initial ?
								     "Initial Date" :
								     "Activation Date"));
	json_add(t, "rotate_after", json_object_new_int64(ts->rotate_after_s));
	json_add(t, "rotation_due", json_object_new_boolean(ts->due));
	json_add(t, "rotation_due_at", ts->due_at ?
		 json_object_new_string(cli_time(ts->due_at, buf, sizeof(buf))) : NULL);
}

/* why: the device's error in words (err != 0), or that it has no kmip token. */
static json_object *status_json(const char *device, const struct luks_status *s, int err,
				const char *why)
{
	json_object *o = json_object_new_object(), *toks;
	char buf[128];
	size_t i, k;

	json_add(o, "device", json_object_new_string(device));
	if (err) {
		json_add(o, "error", json_object_new_string(why ? why : err == -ELUKS ?
							    "not a usable LUKS2 volume" :
							    strerror(-err)));
		return o;
	}
	json_add(o, "uuid", json_object_new_string(s->uuid));
	json_add(o, "dm_available", json_object_new_boolean(s->dm_available));
	json_add(o, "mapping_open", json_object_new_boolean(s->mapping_open));
	json_add(o, "mapping", s->mapping_open ? json_object_new_string(s->mapping) : NULL);
	json_add(o, "mapping_state", s->mapping_open ?
		 json_object_new_string(dmap_state_name(s->mapping_state)) : NULL);
	if (why)
		json_add(o, "error", json_object_new_string(why));
	toks = json_object_new_array();
	for (i = 0; i < s->n_tokens; i++) {
		const struct luks_token_status *ts = &s->tokens[i];
		json_object *t = json_object_new_object();

		json_add(t, "token", json_object_new_int(ts->token_id));
		json_add(t, "keyslot", ts->keyslot >= 0 ? json_object_new_int(ts->keyslot) : NULL);
		json_add(t, "valid", json_object_new_boolean(!ts->parse_err));
		if (!ts->parse_err) {
			json_add(t, "kind", json_object_new_string(kmip_kind_name(ts->t.kind)));
			json_add(t, "uid", json_object_new_string(ts->t.uid));
			json_add(t, "group", json_object_new_string(ts->t.group));
			if (ts->t.wrap_uid[0])
				json_add(t, "wrap_uid", json_object_new_string(ts->t.wrap_uid));
			/* null: a token made before enroll recorded it. */
			json_add(t, "object_group", ts->t.object_group[0] ?
				 json_object_new_string(ts->t.object_group) : NULL);
			json_add(t, "state", ts->state_err ? NULL :
				 json_object_new_string(kmip_state_name(ts->state)));
			if (ts->state_err)
				json_add(t, "state_error", json_object_new_string(
						 state_text(ts, buf, sizeof(buf))));
			age_json(t, ts);
		}
		json_add(t, "usable", json_object_new_boolean(ts->usable));
		json_add(t, "reason", ts->usable ? NULL : json_object_new_string(ts->reason));
		/* The record of a rotation of this token (its token number), or null. */
		for (k = 0; k < s->n_rotations; k++)
			if (!s->rotations[k].parse_err && s->rotations[k].r.token == ts->token_id)
				break;
		json_add(t, "rotation", k < s->n_rotations ?
			 json_object_new_int(s->rotations[k].token_id) : NULL);
		json_object_array_add(toks, t);
	}
	json_add(o, "tokens", toks);
	json_add(o, "rotations", rotations_json(device, s));
	return o;
}

/* The command that finishes (or takes back and restarts) a rotation. */
static void rotation_command(const char *device, const struct luks_rotation_status *rs,
			     char *buf, size_t len)
{
	char e[TEXT_ESCAPED_SIZE(PATH_MAX)];

	snprintf(buf, len, "kmipcrypt rekey %s --token %d", text_escape(device, e, sizeof(e)),
		 rs->r.token);
}

/* Under its token: a rotation in progress, or left half-done, and what to run. */
static void rotation_text(const char *device, const struct luks_rotation_status *rs)
{
	char e1[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)], e2[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)];
	char cmd[PATH_MAX + 64];

	rotation_command(device, rs, cmd, sizeof(cmd));
	if (rs->switched)
		printf("    ROTATION in progress (record: token %d): switched from key '%s' to '%s', "
		       "not finished (the old key not yet revoked); run '%s' to finish it\n",
		       rs->token_id, text_escape(rs->r.old_uid, e1, sizeof(e1)),
		       text_escape(rs->r.uid, e2, sizeof(e2)), cmd);
	else
		printf("    ROTATION in progress (record: token %d): to %s%s%s, not switched yet "
		       "(this key still unlocks); run '%s' to take it back and rotate anew\n",
		       rs->token_id, rs->r.uid[0] ? "key '" : "a key not created yet",
		       rs->r.uid[0] ? text_escape(rs->r.uid, e1, sizeof(e1)) : "",
		       rs->r.uid[0] ? "'" : "", cmd);
}

/*
 * Under an Active key of a group with a rotate_after: whether it is due,
 * and what to run then.  Nothing for a key that is not Active (its NOT
 * usable line says why), nor without a policy.
 */
static void age_text(const char *device, const struct luks_status *s,
		     const struct luks_token_status *ts)
{
	char age[160], when[32], tok[32] = "", e[TEXT_ESCAPED_SIZE(PATH_MAX)];

	if (!ts->rotate_after_s || !ts->queried || ts->state_err ||
	    ts->state != KMIP_STATE_ACTIVE)
		return;
	luks_token_age_text(ts, age, sizeof(age));
	if (s->n_tokens > 1)
		snprintf(tok, sizeof(tok), " --token %d", ts->token_id);
	if (ts->due)
		printf("    ROTATION DUE: %s (due since %s); run 'kmipcrypt rekey %s%s'\n", age,
		       cli_time(ts->due_at, when, sizeof(when)), text_escape(device, e, sizeof(e)),
		       tok);
	else if (ts->due_at)
		printf("    rotation: %s: due %s\n", age, cli_time(ts->due_at, when, sizeof(when)));
	else
		printf("    rotation: %s: cannot tell when it is due\n", age);
}

static void status_text(const char *device, const struct luks_status *s, int err, const char *why)
{
	/* Header, kernel and server text escaped for the terminal (util/escape.h). */
	char buf[128], e1[TEXT_ESCAPED_SIZE(PATH_MAX)], e2[TEXT_ESCAPED_SIZE(LUKS_REASON_MAX)];
	char e3[TEXT_ESCAPED_SIZE(KMIP_UID_MAX > KMIP_TEXT_MAX ? KMIP_UID_MAX : KMIP_TEXT_MAX)];
	size_t i, k;

	printf("%s\n", text_escape(device, e1, sizeof(e1)));
	if (err) {
		printf("  error: %s\n", why ? text_escape(why, e2, sizeof(e2)) : err == -ELUKS ?
		       "not a usable LUKS2 volume (see above)" : strerror(-err));
		return;
	}
	printf("  uuid:    %s\n", text_escape(s->uuid, e1, sizeof(e1)));
	if (!s->mapping_open)
		printf("  mapping: not open%s\n", s->dm_available ? "" : " (no device-mapper here)");
	else if (s->mapping_state == DMAP_SUSPENDED)
		printf("  mapping: open as %s, SUSPENDED (locked: I/O frozen, key wiped)\n",
		       text_escape(s->mapping, e1, sizeof(e1)));
	else if (s->mapping_state == DMAP_ERROR)
		printf("  mapping: open as %s, CLOSED (locked: error target, every I/O fails)\n",
		       text_escape(s->mapping, e1, sizeof(e1)));
	else
		printf("  mapping: open as %s\n", text_escape(s->mapping, e1, sizeof(e1)));
	if (s->n_tokens == 0)
		printf("  error: no kmip token\n");
	for (i = 0; i < s->n_tokens; i++) {
		const struct luks_token_status *ts = &s->tokens[i];

		if (ts->parse_err)
			printf("  token %d: keyslot %d, INVALID kmip token\n", ts->token_id,
			       ts->keyslot);
		else
			printf("  token %d: keyslot %d%s, kind %s, key '%s', group [%s]%s%s%s, "
			       "state %s\n", ts->token_id, ts->keyslot,
			       ts->t.kind == KMIP_KIND_VOLUME_KEY ? " (unbound)" : "",
			       kmip_kind_name(ts->t.kind), text_escape(ts->t.uid, e1, sizeof(e1)),
			       text_escape(ts->t.group, e2, sizeof(e2)),
			       ts->t.wrap_uid[0] ? ", wrapped by '" : "",
			       text_escape(ts->t.wrap_uid, e3, sizeof(e3)),
			       ts->t.wrap_uid[0] ? "'" : "", state_text(ts, buf, sizeof(buf)));
		if (!ts->parse_err && ts->t.object_group[0])
			printf("    Object Group: %s\n",
			       text_escape(ts->t.object_group, e3, sizeof(e3)));
		if (!ts->usable)
			printf("    NOT usable: %s\n", text_escape(ts->reason, e2, sizeof(e2)));
		if (!ts->parse_err)
			age_text(device, s, ts);
		for (k = 0; k < s->n_rotations; k++)
			if (!s->rotations[k].parse_err && s->rotations[k].r.token == ts->token_id)
				rotation_text(device, &s->rotations[k]);
	}
	/* Records of no kmip token, or that cannot be read: said too, with what to do. */
	for (k = 0; k < s->n_rotations; k++) {
		const struct luks_rotation_status *rs = &s->rotations[k];

		if (!rs->parse_err && rotated_token(s, rs))
			continue;
		if (rs->parse_err)
			printf("  token %d: INVALID kmip-rotation token: %s\n", rs->token_id,
			       text_escape(rs->reason, e2, sizeof(e2)));
		else
			printf("  token %d: kmip-rotation record of token %d, which is not a kmip token\n",
			       rs->token_id, rs->r.token);
		printf("    look at it with 'cryptsetup token export --token-id %d %s'; "
		       "'kmipcrypt rekey' refuses to act on it\n", rs->token_id,
		       text_escape(device, e1, sizeof(e1)));
	}
}

/*
 * The daemon's view (kmipcryptd(8): its state file, statefile.h): NULL when
 * no daemon runs (no file, or one left by a process that is gone).  The
 * file is root's and holds no secret; read as any input: types checked.
 */
static json_object *daemon_view(const struct config *cfg)
{
	json_object *o, *pid;

	o = json_object_from_file(cfg->daemon.state_file);
	if (!o)
		return NULL;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "pid", &pid) || !json_object_is_type(pid, json_type_int) ||
	    json_object_get_int(pid) <= 1 ||
	    (kill((pid_t)json_object_get_int(pid), 0) < 0 && errno != EPERM)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The daemon's entry for mapping, or NULL. */
static json_object *daemon_volume(json_object *view, const char *mapping)
{
	json_object *vols, *v, *m;
	size_t i;

	if (!view || !mapping || !json_object_object_get_ex(view, "volumes", &vols) ||
	    !json_object_is_type(vols, json_type_array))
		return NULL;
	for (i = 0; i < json_object_array_length(vols); i++) {
		v = json_object_array_get_idx(vols, i);
		if (json_object_is_type(v, json_type_object) &&
		    json_object_object_get_ex(v, "mapping", &m) &&
		    json_object_is_type(m, json_type_string) &&
		    !strcmp(json_object_get_string(m), mapping))
			return v;
	}
	return NULL;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

/* "kmipcryptd: ..." under a volume: what the daemon makes of it. */
static void daemon_text(json_object *view, const struct luks_status *s)
{
	char e1[TEXT_ESCAPED_SIZE(64)], e2[TEXT_ESCAPED_SIZE(64)];
	json_object *v = s->mapping_open ? daemon_volume(view, s->mapping) : NULL;
	int64_t now = (int64_t)time(NULL), checked, at;
	json_object *locked;

	if (!view) {
		printf("  kmipcryptd: not running\n");
		return;
	}
	if (!v) {
		printf("  kmipcryptd: running (pid %lld), not watching this volume%s\n",
		       (long long)jint(view, "pid"), s->mapping_open ? "" : " (not open)");
		return;
	}
	checked = jint(v, "checked");
	printf("  kmipcryptd: watching it: %s", text_escape(jstr(v, "verdict") ?
							    jstr(v, "verdict") : "?", e1, sizeof(e1)));
	if (jstr(v, "rule"))
		printf(" (rule %s)", text_escape(jstr(v, "rule"), e2, sizeof(e2)));
	if (checked)
		printf(", checked %llds ago", (long long)(now > checked ? now - checked : 0));
	at = jint(v, "locked_at");
	if (json_object_object_get_ex(v, "locked", &locked) && json_object_get_boolean(locked)) {
		if (at)
			printf("; LOCKED by it %llds ago", (long long)(now > at ? now - at : 0));
		else
			printf("; LOCKED by it");
	}
	printf("\n");
}

int cmd_status(int argc, char **argv)
{
	enum { O_JSON = 256, O_FROM, O_CRYPTTAB, O_NOBLKID, O_TIMEOUT, O_KEK };
	static const struct option opts[] = {
		{ "json",     no_argument,       NULL, O_JSON },
		{ "from",     required_argument, NULL, O_FROM },
		{ "crypttab", required_argument, NULL, O_CRYPTTAB },
		{ "no-blkid", no_argument,       NULL, O_NOBLKID },
		{ "timeout",  required_argument, NULL, O_TIMEOUT },
		{ "kek-file", required_argument, NULL, O_KEK },
		{ "help",     no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct discover_opts dopt = { 0 };
	struct luks_volume_list l = { 0 };
	struct config *cfg = NULL;
	struct luks_status *s = NULL;
	const char *kek_file = NULL;
	int *errs = NULL;
	json_object *arr = NULL, *view = NULL;
	bool json = g_opts.json, given;
	unsigned timeout = 0;
	int c, r, code = EXIT_OK;
	size_t i, n = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = true; break;
		case O_FROM: dopt.list_file = optarg; break;
		case O_CRYPTTAB: dopt.crypttab = optarg; break;
		case O_NOBLKID: dopt.no_blkid = true; break;
		case O_KEK: kek_file = optarg; break;
		case O_TIMEOUT:
			if (parse_timeout(optarg, &timeout) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("status", "unknown option");
		}
	}
	given = argc > optind;
	if (given && (dopt.list_file || dopt.crypttab || dopt.no_blkid))
		return cli_usage_error("status", "--from, --crypttab and --no-blkid are for finding "
				   "volumes: not with DEVICEs%s", "");
	cli_luks_setup();
	r = cli_load_config_file(&cfg);
	if (r)
		return r;
	if (!given) {
		r = luks_discover(&dopt, &l);
		if (r < 0) {
			code = exit_code_from_errno(r);
			goto out;
		}
	}
	n = given ? (size_t)(argc - optind) : l.n;
	s = calloc(n ? n : 1, sizeof(*s));
	errs = calloc(n ? n : 1, sizeof(*errs));
	if (!s || !errs) {
		code = EXIT_OTHER;
		goto out;
	}
	if (json)
		arr = json_object_new_array();
	else if (n == 0)
		printf("no LUKS2 volume with a kmip token found\n");
	/* Headers first, then per server group one connection for all: States, then proofs. */
	for (i = 0; i < n; i++) {
		if (!given && l.v[i].err)
			errs[i] = l.v[i].err;	/* a listed device that is none: said already */
		else
			errs[i] = luks_status_read(given ? argv[optind + (int)i] : l.v[i].device,
						   given ? NULL : l.v[i].name, &s[i]);
	}
	r = luks_status_query(cfg, s, n, timeout, kek_file);
	if (r < 0) {
		code = exit_code_from_errno(r);
		goto out;
	}
	view = daemon_view(cfg);
	for (i = 0; i < n; i++) {
		const char *dev = given ? argv[optind + (int)i] : l.v[i].device;
		const char *why = !given && l.v[i].err ? l.v[i].why : NULL;
		size_t k;

		if (errs[i] < 0)
			code = worst(code, exit_code_from_errno(errs[i]));
		else if (s[i].n_tokens == 0) {
			/* Asked for by name (found volumes all have a token): a promise broken. */
			log_error("%s: no kmip token (bind it with 'kmipcrypt enroll %s')", dev, dev);
			why = "no kmip token";
			code = worst(code, EXIT_LUKS);
		}
		for (k = 0; k < s[i].n_tokens; k++)
			code = worst(code, token_code(&s[i].tokens[k]));
		if (json) {
			json_object *o = status_json(dev, &s[i], errs[i], why), *d;

			/* null: no daemon; else its entry for the mapping, or {} if not watched. */
			d = !view ? NULL : daemon_volume(view, s[i].mapping_open ? s[i].mapping : NULL);
			json_add(o, "daemon", !view ? NULL : d ? json_object_get(d) :
				 json_object_new_object());
			json_object_array_add(arr, o);
		} else {
			status_text(dev, &s[i], errs[i], why);
			if (!errs[i])
				daemon_text(view, &s[i]);
		}
	}
	if (json) {
		/* json-c leaves DEL and C1 controls raw: json_text_fputs escapes them. */
		json_text_fputs(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
		putchar('\n');
	}
out:
	json_object_put(arr);
	json_object_put(view);
	for (i = 0; s && i < n; i++)
		luks_status_free(&s[i]);
	free(errs);
	free(s);
	luks_volume_list_free(&l);
	config_free(cfg);
	return code;
}

/* -------------------------------------------------------------- lock */

static void lock_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt lock NAME [--action suspend|close]\n\n"
"Lock the open dm-crypt mapping /dev/mapper/NAME of a LUKS volume by hand, as\n"
"kmipcryptd does when its key is revoked:\n"
"  suspend (default)  freeze I/O and wipe the volume key from the kernel; queued\n"
"                     writes are kept; 'kmipcrypt unlock DEVICE NAME' resumes\n"
"                     (if the key is Active again), or 'cryptsetup luksResume'\n"
"  close              the same, then replace the mapping's table by an error\n"
"                     target: every further I/O fails; unmount, then\n"
"                     'cryptsetup close NAME'\n");
}

int cmd_lock(int argc, char **argv)
{
	enum { O_ACTION = 256 };
	static const struct option opts[] = {
		{ "action", required_argument, NULL, O_ACTION },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	enum lock_action a = LOCK_SUSPEND;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_ACTION:
			if (!strcmp(optarg, "suspend"))
				a = LOCK_SUSPEND;
			else if (!strcmp(optarg, "close"))
				a = LOCK_CLOSE;
			else
				return cli_usage_error("lock", "unknown --action '%s' (suspend, close)",
						   optarg);
			break;
		case 'h':
			lock_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("lock", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("lock", "lock takes one mapping NAME");
	cli_luks_setup();
	r = luks_lock(argv[optind], a);
	if (r == 0)
		printf("%s: %s\n", argv[optind], a == LOCK_SUSPEND ?
		       "suspended, key wiped" : "closed: key wiped, every I/O fails");
	return exit_code_from_errno(r);
}

/* ------------------------------------------------------------ unbind */

static void unbind_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] unbind DEVICE [--token ID] [--destroy-key] [--force]\n"
"                 [--kek-file F]\n\n"
"Remove a kmip token (the device's only kmip token, or --token ID) and its\n"
"keyslot; with --destroy-key then revoke (Cessation of Operation) and destroy\n"
"the KMS object, unless another token of the volume names it.\n\n"
"The header is not trusted to name what to remove: first the key's secret is\n"
"fetched and checked against the header (it must open the token's keyslot; for\n"
"volume-key, be the volume key).  If that cannot be proven (another object, the\n"
"server down, the key not Active...), unbind refuses and says why.  Refused\n"
"too if no other way into the volume would remain: a keyslot bound to the data\n"
"that another valid kmip token uses, or that no kmip token uses and that does\n"
"not look like a kmipcrypt keyslot left behind by a removed token (PBKDF2-SHA256,\n"
"%d iterations).  Interrupted (Ctrl-C, SIGTERM, SIGHUP) before the header is\n"
"changed, nothing is changed; after, it finishes.\n\n"
"  --token ID      the kmip token to remove (0 to 31)\n"
"  --destroy-key   also revoke and destroy the key on the KMS\n"
"  --force         remove the token even if the key is not proven to be its\n"
"                  secret; its keyslot is then kept (the message gives the\n"
"                  command to remove it), and --destroy-key destroys the key the\n"
"                  token names, whatever it is\n"
"  --kek-file F    volume-key tokens with a wrapping key: the host copy of the KEK\n"
"                  (default <config dir>/kek/<WRAP UID>)\n\n"
"Test hook: KMIPCRYPT_FAIL_AT=STEP[:SIGNAL] (steps: prove, token, keyslot,\n"
"destroy; see kmipcrypt-unbind(8)).\n", KMIP_KEYSLOT_PBKDF2_ITERATIONS);
}

int cmd_unbind(int argc, char **argv)
{
	enum { O_TOKEN = 256, O_DESTROY, O_FORCE, O_KEK };
	static const struct option opts[] = {
		{ "token",       required_argument, NULL, O_TOKEN },
		{ "destroy-key", no_argument,       NULL, O_DESTROY },
		{ "force",       no_argument,       NULL, O_FORCE },
		{ "kek-file",    required_argument, NULL, O_KEK },
		{ "help",        no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct unbind_opts o = { .token_id = -1 };
	struct config *cfg = NULL;
	int c, r, err = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_TOKEN:
			if (cli_token_id("unbind", optarg, &o.token_id))
				return EXIT_USAGE;
			break;
		case O_DESTROY: o.destroy_key = true; break;
		case O_FORCE: o.force = true; break;
		case O_KEK: o.kek_file = optarg; break;
		case 'h':
			unbind_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("unbind", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("unbind", "unbind takes one DEVICE");
	cli_luks_setup();
	/* The proof needs the server: the configuration always. */
	r = cli_load_config_file(&cfg);
	if (r)
		return r;
	/*
	 * SIGINT, SIGTERM and SIGHUP are requests from here on: before the
	 * header is changed luks_unbind() gives up (-EINTR), and the process
	 * then ends as the signal ends it; after, it finishes.
	 */
	err = interrupt_catch();
	if (err < 0) {
		r = cli_fail(err, NULL, "catching termination signals", NULL);
		goto out;
	}
	err = luks_unbind(argv[optind], cfg, &o);
	if (err == 0)
		printf("%s: unbound%s%s\n", argv[optind],
		       o.keyslot_kept ? ", keyslot kept (see above)" : "",
		       o.key_destroyed ? ", key revoked and destroyed" :
		       o.key_shared ? ", key kept (another token names it)" : "");
	r = exit_code_from_errno(err);
out:
	config_free(cfg);
	if (err == -EINTR)	/* gave up: end as the signal would (otherwise see cmd_enroll) */
		interrupt_release(true);
	return r;
}
