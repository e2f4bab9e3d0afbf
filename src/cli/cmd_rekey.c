/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kmipcrypt rekey: a new KMS object for a kmip-bound LUKS2 volume (src/luks/rekey.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "conf/config.h"
#include "luks/luks.h"
#include "util/escape.h"
#include "util/interrupt.h"
#include "util/log.h"

static void rekey_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] rekey DEVICE [--token ID] [--destroy-old]\n"
"                 [--kek-file F]\n\n"
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
"                  (default <config dir>/kek/<WRAP UID>)\n\n"
"The server group comes from the token.\n"
"Test hook: KMIPCRYPT_FAIL_AT=STEP makes that step fail, STEP:SIGNAL (SIGINT,\n"
"SIGTERM, SIGHUP, SIGKILL) sends the signal there, STEP:STOP stops the process\n"
"there (steps: see kmipcrypt-rekey(8)).\n");
}

/* What rekey did, one line (the server's uids escaped). */
static void print_rekeyed(const char *device, const struct rekey_opts *o,
			  const struct rekey_result *res)
{
	char e1[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)], e2[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)];

	printf("%s: token %d%s now names key '%s' (kind %s, keyslot %d); the old key '%s' %s%s\n",
	       device, res->token_id, res->finished_earlier ? " (an interrupted rotation finished)" :
	       "", text_escape(res->new_uid, e1, sizeof(e1)), kmip_kind_name(res->kind),
	       res->keyslot, text_escape(res->old_uid, e2, sizeof(e2)),
	       res->old_destroyed ? "revoked and destroyed" : o->destroy_old ? "revoked" :
	       "revoked (Superseded), kept", res->restarted ?
	       " (an interrupted rotation was taken back first)" : "");
}

int cmd_rekey(int argc, char **argv)
{
	enum { O_TOKEN = 256, O_DESTROY, O_KEK };
	static const struct option opts[] = {
		{ "token",       required_argument, NULL, O_TOKEN },
		{ "destroy-old", no_argument,       NULL, O_DESTROY },
		{ "kek-file",    required_argument, NULL, O_KEK },
		{ "help",        no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct rekey_opts o = { .token_id = -1 };
	struct rekey_result res;
	struct config *cfg = NULL;
	int c, r, err = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_TOKEN:
			if (cli_token_id("rekey", optarg, &o.token_id))
				return EXIT_USAGE;
			break;
		case O_DESTROY: o.destroy_old = true; break;
		case O_KEK: o.kek_file = optarg; break;
		case 'h':
			rekey_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("rekey", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("rekey", "rekey takes one DEVICE");
	cli_luks_setup();
	r = cli_load_config_file(&cfg);
	if (r)
		return r;
	/*
	 * SIGINT, SIGTERM and SIGHUP are requests from here on: before the token
	 * is switched luks_rekey() undoes what it did, and the process then ends
	 * as the signal ends it; after, it finishes.
	 */
	err = interrupt_catch();
	if (err < 0) {
		r = cli_fail(err, NULL, "catching termination signals", NULL);
		goto out;
	}
	err = luks_rekey(argv[optind], cfg, &o, &res);
	if (err == 0)
		print_rekeyed(argv[optind], &o, &res);
	r = exit_code_from_errno(err);
out:
	config_free(cfg);
	if (err == -EINTR)	/* undone: end as the signal would (see cmd_enroll) */
		interrupt_release(true);
	return r;
}
