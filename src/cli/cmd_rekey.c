/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcrypt rekey: a new KMS object for a kmip-bound LUKS2 volume
 * (src/luks/rekey.c); with --due, for every token whose key is older than its
 * server group's rotate_after (kmipcrypt.conf(5)).  Each rotation done is an
 * audit entry (util/journal.h, MESSAGE_ID REKEY_ID_ROTATED).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "conf/config.h"
#include "kmip/kmip.h"
#include "luks/luks.h"
#include "util/escape.h"
#include "util/interrupt.h"
#include "util/journal.h"
#include "util/log.h"

/* A token switched to a new KMS object (kmipcrypt-rekey(8), AUDIT TRAIL). */
#define REKEY_ID_ROTATED	"b360f40b9530423d8a83debbd4637991"

static void rekey_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] rekey DEVICE [--token ID] [--destroy-old]\n"
"                 [--kek-file F]\n"
"       kmipcrypt [-c FILE] rekey --due [DEVICE...] [--destroy-old] [--kek-file F]\n"
"                 [--from LIST | --crypttab F] [--no-blkid]\n\n"
"Replace the KMS object a kmip token of a LUKS2 volume names by a new one; the\n"
"data is not touched.  passphrase: a new random secret and a new keyslot for it,\n"
"the old keyslot removed.  volume-key: the same volume key registered as a new\n"
"object.  The token is switched in one header write; the old object is then\n"
"revoked (reason Superseded) and kept for the record, unless --destroy-old.\n\n"
"Safe at every step: while it runs, a second token of type kmip-rotation records\n"
"the rotation.  After a crash or a power cut the volume still unlocks (with the\n"
"old key before the switch, the new one after), 'kmipcrypt status' shows the\n"
"rotation, and running rekey again takes it back and starts anew, or finishes\n"
"it.  Interrupted (Ctrl-C, SIGTERM, SIGHUP) before the switch, everything is\n"
"undone; after it, the rotation finishes.\n\n"
"  --token ID      the kmip token to rekey (default: the device's only one)\n"
"  --destroy-old   also destroy the old object once it is revoked\n"
"  --kek-file F    volume-key tokens with a wrapping key: the host copy of the KEK\n"
"                  (default <config dir>/kek/<WRAP UID>)\n"
"  --due           rotate every kmip token whose key is due: older than the\n"
"                  rotate_after of its server group (kmipcrypt.conf(5)), from the\n"
"                  key's Activation Date (else its Initial Date) on the KMS; and\n"
"                  finish the rotations left half-done.  The other tokens are\n"
"                  left alone, and said so.  The DEVICEs given, else the volumes\n"
"                  'unlock --all' would find (what kmipcrypt-rekey.timer runs)\n"
"  --from LIST     with --due: only the volumes listed in LIST, one \"DEVICE [NAME]\"\n"
"                  per line\n"
"  --crypttab F    with --due: read F instead of /etc/crypttab\n"
"  --no-blkid      with --due: do not scan block devices\n\n"
"The server group comes from the token.  Each rotation done is logged to the\n"
"journal (MESSAGE_ID " REKEY_ID_ROTATED "), or on stderr without one.\n"
"Exit status: the worst of the tokens rotated or found not usable (--due).\n"
"Test hook: KMIPCRYPT_FAIL_AT=STEP makes that step fail, STEP:SIGNAL (SIGINT,\n"
"SIGTERM, SIGHUP, SIGKILL) sends the signal there, STEP:STOP stops the process\n"
"there (steps: see kmipcrypt-rekey(8)).\n");
}

static int worst(int a, int b)
{
	return a > b ? a : b;
}

/* What rekey did, one line (the server's uids escaped). */
static void print_rekeyed(const char *device, const struct rekey_opts *o,
			  const struct rekey_result *res)
{
	char e1[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)], e2[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)];
	char e3[TEXT_ESCAPED_SIZE(PATH_MAX)];

	printf("%s: token %d%s now names key '%s' (kind %s, keyslot %d); the old key '%s' %s%s\n",
	       text_escape(device, e3, sizeof(e3)), res->token_id,
	       res->finished_earlier ? " (an interrupted rotation finished)" : "",
	       text_escape(res->new_uid, e1, sizeof(e1)), kmip_kind_name(res->kind),
	       res->keyslot, text_escape(res->old_uid, e2, sizeof(e2)),
	       res->old_destroyed ? "revoked and destroyed" : o->destroy_old ? "revoked" :
	       "revoked (Superseded), kept", res->restarted ?
	       " (an interrupted rotation was taken back first)" : "");
}

/*
 * Why a rotation was made (KMIPCRYPT_TRIGGER): asked for by name, its key
 * due (--due), or a rotation left half-done finished (--due).
 */
enum trigger { TRIGGER_COMMAND, TRIGGER_DUE, TRIGGER_FINISH };
static const char *const trigger_names[] = { "command", "due", "finish" };

/*
 * The audit entry of a rotation done (res->switched), err: what luks_rekey()
 * returned (after the switch: a step left for the next run).  rotate_after_s:
 * the token's group's policy with --due (0: none, or by name).
 */
static void audit_rotation(const char *device, const struct rekey_result *res, int err,
			   enum trigger why, unsigned rotate_after_s)
{
	char tok[16], ra[16], en[16];
	const char *fate = err ? "pending" : res->old_destroyed ? "destroyed" : "revoked";
	const struct journal_field f[] = {
		{ "KMIPCRYPT_DEVICE", device },
		{ "KMIPCRYPT_TOKEN", tok },
		{ "KMIPCRYPT_KIND", kmip_kind_name(res->kind) },
		{ "KMIPCRYPT_OLD_KEY_UID", res->old_uid },
		{ "KMIPCRYPT_NEW_KEY_UID", res->new_uid },
		{ "KMIPCRYPT_OLD_KEY", fate },
		{ "KMIPCRYPT_ROTATION", res->finished_earlier ? "resumed" : "new" },
		{ "KMIPCRYPT_TRIGGER", trigger_names[why] },
		{ "KMIPCRYPT_ROTATE_AFTER", rotate_after_s ? ra : NULL },
		{ "KMIPCRYPT_ERRNO", en },
	};

	snprintf(tok, sizeof(tok), "%d", res->token_id);
	snprintf(ra, sizeof(ra), "%u", rotate_after_s);
	snprintf(en, sizeof(en), "%d", err < 0 ? -err : 0);
	journal_entry(err ? LOG_LVL_WARN : LOG_LVL_INFO, "kmipcrypt", REKEY_ID_ROTATED, f,
		      sizeof(f) / sizeof(f[0]),
		      "%s: token %d rotated%s: key '%s' replaced by key '%s' (kind %s); the old key %s",
		      device, res->token_id, res->finished_earlier ?
		      " (an interrupted rotation finished)" : "", res->old_uid, res->new_uid,
		      kmip_kind_name(res->kind), err ? "is not revoked yet: run 'kmipcrypt rekey' "
		      "again to finish" : res->old_destroyed ? "revoked and destroyed" :
		      "revoked (Superseded)");
}

/* One rotation of token o->token_id (-1: the only one): done, said, audited.  The errno. */
static int rotate(const char *device, struct config *cfg, const struct rekey_opts *o,
		  enum trigger why, unsigned rotate_after_s)
{
	struct rekey_result res;
	int err;

	err = luks_rekey(device, cfg, o, &res);
	if (res.switched)
		audit_rotation(device, &res, err, why, rotate_after_s);
	if (err == 0)
		print_rekeyed(device, o, &res);
	return err;
}

/* The valid rotation record of token ts in s, or NULL. */
static const struct luks_rotation_status *record_of(const struct luks_status *s,
						    const struct luks_token_status *ts)
{
	size_t k;

	for (k = 0; k < s->n_rotations; k++)
		if (!s->rotations[k].parse_err && s->rotations[k].r.token == ts->token_id)
			return &s->rotations[k];
	return NULL;
}

/*
 * --due, one token: rotated when its key is due or a rotation of it was left
 * half-done, else left alone with the reason.  The exit code for it.
 */
static int due_token(const char *device, struct config *cfg, const struct luks_status *s,
		     const struct luks_token_status *ts, const struct rekey_opts *base)
{
	char e1[TEXT_ESCAPED_SIZE(PATH_MAX)], e2[TEXT_ESCAPED_SIZE(LUKS_REASON_MAX)];
	char age[160], when[32];
	struct rekey_opts o = *base;
	const char *dev = text_escape(device, e1, sizeof(e1));

	o.token_id = ts->token_id;
	if (ts->parse_err) {
		log_error("%s: token %d: invalid kmip token (%s): not rotated", dev, ts->token_id,
			  text_escape(ts->reason, e2, sizeof(e2)));
		return EXIT_LUKS;
	}
	/* Left half-done: finished (or taken back and done anew) whatever the key's age. */
	if (record_of(s, ts)) {
		printf("%s: token %d: a rotation was left half-done: finishing it\n", dev,
		       ts->token_id);
		return exit_code_from_errno(rotate(device, cfg, &o, TRIGGER_FINISH,
						   ts->rotate_after_s));
	}
	if (ts->state_err || ts->state != KMIP_STATE_ACTIVE) {
		log_error("%s: token %d: %s: not rotated (rekey replaces the key of a working "
			  "binding only)", dev, ts->token_id, text_escape(ts->reason, e2, sizeof(e2)));
		return ts->err ? exit_code_from_errno(ts->err) : EXIT_OTHER;
	}
	if (!ts->rotate_after_s) {
		printf("%s: token %d: group [%s] has no rotate_after: left alone\n", dev,
		       ts->token_id, text_escape(ts->t.group, e2, sizeof(e2)));
		return EXIT_OK;
	}
	luks_token_age_text(ts, age, sizeof(age));
	if (!ts->due_at) {
		log_error("%s: token %d: %s: cannot tell whether it is due; not rotated", dev,
			  ts->token_id, age);
		return exit_code_from_errno(-EOPNOTSUPP);
	}
	if (!ts->due) {
		printf("%s: token %d: %s: not due until %s: left alone\n", dev, ts->token_id, age,
		       cli_time(ts->due_at, when, sizeof(when)));
		return EXIT_OK;
	}
	printf("%s: token %d: %s: due since %s: rotating\n", dev, ts->token_id, age,
	       cli_time(ts->due_at, when, sizeof(when)));
	return exit_code_from_errno(rotate(device, cfg, &o, TRIGGER_DUE, ts->rotate_after_s));
}

/*
 * --due: the volumes given or found (luks_discover(), as status and unlock
 * --all find them), their keys' States and dates asked per server group in
 * one batch (luks_status_query_states()), then each due token rotated.
 */
static int rekey_due(char **devs, size_t ndev, const struct discover_opts *dopt,
		     struct config *cfg, const struct rekey_opts *base, bool *interrupted)
{
	struct luks_volume_list l = { 0 };
	struct luks_status *s = NULL;
	int *errs = NULL, code = EXIT_OK, r;
	size_t i, k, n;

	if (!ndev) {
		r = luks_discover(dopt, &l);
		if (r < 0) {
			code = exit_code_from_errno(r);
			goto out;
		}
	}
	n = ndev ? ndev : l.n;
	if (n == 0) {
		printf("no LUKS2 volume with a kmip token found: nothing to rotate\n");
		goto out;
	}
	s = calloc(n, sizeof(*s));
	errs = calloc(n, sizeof(*errs));
	if (!s || !errs) {
		code = EXIT_OTHER;
		goto out;
	}
	for (i = 0; i < n; i++)
		errs[i] = !ndev && l.v[i].err ? l.v[i].err :
			  luks_status_read_header(ndev ? devs[i] : l.v[i].device, &s[i]);
	r = luks_status_query_states(cfg, s, n, 0);
	if (r < 0) {
		code = exit_code_from_errno(r);
		goto out;
	}
	for (i = 0; i < n && !*interrupted; i++) {
		const char *dev = ndev ? devs[i] : l.v[i].device;

		if (errs[i] < 0) {	/* said already, by the reader or the list */
			code = worst(code, exit_code_from_errno(errs[i]));
			continue;
		}
		if (s[i].n_tokens == 0) {
			log_error("%s: no kmip token (bind it with 'kmipcrypt enroll %s')", dev, dev);
			code = worst(code, EXIT_LUKS);
		}
		for (k = 0; k < s[i].n_tokens; k++) {
			/* A termination request (during a rotation, or before): no new one. */
			if (interrupt_pending()) {
				*interrupted = true;
				log_error("interrupted: %s token %d and what follows it not looked at",
					  dev, s[i].tokens[k].token_id);
				break;
			}
			code = worst(code, due_token(dev, cfg, &s[i], &s[i].tokens[k], base));
		}
	}
	if (interrupt_pending())
		*interrupted = true;
out:
	for (i = 0; s && i < n; i++)
		luks_status_free(&s[i]);
	free(s);
	free(errs);
	luks_volume_list_free(&l);
	return code;
}

int cmd_rekey(int argc, char **argv)
{
	enum { O_TOKEN = 256, O_DESTROY, O_KEK, O_DUE, O_FROM, O_CRYPTTAB, O_NOBLKID };
	static const struct option opts[] = {
		{ "token",       required_argument, NULL, O_TOKEN },
		{ "destroy-old", no_argument,       NULL, O_DESTROY },
		{ "kek-file",    required_argument, NULL, O_KEK },
		{ "due",         no_argument,       NULL, O_DUE },
		{ "from",        required_argument, NULL, O_FROM },
		{ "crypttab",    required_argument, NULL, O_CRYPTTAB },
		{ "no-blkid",    no_argument,       NULL, O_NOBLKID },
		{ "help",        no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct rekey_opts o = { .token_id = -1 };
	struct discover_opts dopt = { 0 };
	struct config *cfg = NULL;
	bool due = false, token_given = false, interrupted = false;
	int c, r, err = 0;
	size_t ndev;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_TOKEN:
			if (cli_token_id("rekey", optarg, &o.token_id))
				return EXIT_USAGE;
			token_given = true;
			break;
		case O_DESTROY: o.destroy_old = true; break;
		case O_KEK: o.kek_file = optarg; break;
		case O_DUE: due = true; break;
		case O_FROM: dopt.list_file = optarg; break;
		case O_CRYPTTAB: dopt.crypttab = optarg; break;
		case O_NOBLKID: dopt.no_blkid = true; break;
		case 'h':
			rekey_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("rekey", "unknown option");
		}
	}
	ndev = (size_t)(argc - optind);
	if (!due && (dopt.list_file || dopt.crypttab || dopt.no_blkid))
		return cli_usage_error("rekey", "--from, --crypttab and --no-blkid find the volumes "
				       "of --due%s", "");
	if (due && token_given)
		return cli_usage_error("rekey", "--due looks at every kmip token; --token is for "
				       "rotating one by hand%s", "");
	if (due && ndev && (dopt.list_file || dopt.crypttab || dopt.no_blkid))
		return cli_usage_error("rekey", "--from, --crypttab and --no-blkid are for finding "
				       "volumes: not with DEVICEs%s", "");
	if (!due && ndev != 1)
		return cli_usage_error("rekey", "rekey takes one DEVICE (or --due, and any number)%s",
				       "");
	cli_luks_setup();
	r = cli_load_config_file(&cfg);
	if (r)
		return r;
	/*
	 * SIGINT, SIGTERM and SIGHUP are requests from here on: before the token
	 * is switched luks_rekey() undoes what it did, and the process then ends
	 * as the signal ends it; after, it finishes.  --due starts no rotation
	 * once one came.
	 */
	err = interrupt_catch();
	if (err < 0) {
		r = cli_fail(err, NULL, "catching termination signals", NULL);
		goto out;
	}
	if (due) {
		r = rekey_due(argv + optind, ndev, &dopt, cfg, &o, &interrupted);
		goto out;
	}
	err = rotate(argv[optind], cfg, &o, TRIGGER_COMMAND, 0);
	r = exit_code_from_errno(err);
out:
	config_free(cfg);
	/* Undone, or stopped before the next rotation: end as the signal would (see cmd_enroll). */
	if (err == -EINTR || interrupted)
		interrupt_release(true);
	return r;
}
