/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcrypt reencrypt: a new volume key for a kmip-bound LUKS2 volume, the
 * data re-encrypted (src/luks/reencrypt.c).  Progress on a terminal, or as
 * JSON lines for scripts (--json; docs/kmipcrypt-reencrypt.8).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include <libcryptsetup.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "conf/config.h"
#include "luks/luks.h"
#include "luks/reencrypt.h"
#include "util/escape.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/strnum.h"

#define PASSPHRASE_MAX	(8u * 1024)	/* bytes of a keyslot passphrase (key file or prompt) */
#define KEY_FILES_MAX	32

static void reencrypt_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] reencrypt DEVICE [--key-file F ...] [--kek-file F]\n"
"                 [--hotzone-size SIZE] [--json]\n"
"       kmipcrypt [-c FILE] reencrypt DEVICE --resume [--token ID] [--kek-file F]\n"
"                 [--hotzone-size SIZE] [--json]\n\n"
"Give a kmip-bound LUKS2 volume a new volume key and re-encrypt its data with it\n"
"(libcryptsetup's LUKS2 reencryption: offline when no mapping of the volume is\n"
"open, online through the open one).  Every kmip token is proven first and\n"
"re-bound: passphrase and envelope tokens open a new keyslot for the new key with\n"
"the same secret; volume-key tokens get the new key registered on the KMS as a\n"
"new object, and the old object is revoked (reason Superseded) once the data is\n"
"re-encrypted, never before.  Every other keyslot bound to the data is kept under\n"
"its passphrase: give it with --key-file or on the terminal, or remove the\n"
"keyslot first; reencrypt refuses to lose one.\n\n"
"Interrupted (Ctrl-C, SIGTERM, SIGHUP) before the data pass, everything is\n"
"undone; during it, the pass stops at a safe point and the header records how\n"
"far it got: --resume continues it.  A crash or a power cut at any moment leaves\n"
"a volume that 'kmipcrypt unlock' opens; a later run takes back or finishes what\n"
"was left.\n\n"
"  --resume          continue an interrupted reencryption (or take back one that\n"
"                    had not reached its data pass, and start anew)\n"
"  --token ID        with --resume: open the volume with this kmip token's secret\n"
"                    (default: each in turn)\n"
"  --key-file F      the passphrase of a keyslot no kmip token uses, the whole\n"
"                    file (\"-\": standard input); repeat for several keyslots.\n"
"                    Without it, each is asked on the terminal\n"
"  --kek-file F      volume-key tokens with a wrapping key: the host copy of the KEK\n"
"                    (default <config dir>/kek/<WRAP UID>)\n"
"  --hotzone-size S  at most S of data re-encrypted between two records of\n"
"                    progress in the header (\"64M\"; K, M, G; default:\n"
"                    libcryptsetup's choice)\n"
"  --json            progress as JSON lines on standard output, one object per\n"
"                    line (see kmipcrypt-reencrypt(8)); no progress on the terminal\n\n"
"Progress (percent, speed, time left) goes to the terminal when standard error is\n"
"one (not with -q).  The server groups come from the tokens.\n"
"Test hook: KMIPCRYPT_FAIL_AT=STEP makes that step fail, STEP:SIGNAL (SIGINT,\n"
"SIGTERM, SIGHUP, SIGKILL) sends the signal there (steps: mark, keyslots,\n"
"register, activate, tokens, init, data, complete, revoke, unmark; data acts at\n"
"the first safe point after some data was re-encrypted; see\n"
"kmipcrypt-reencrypt(8)).\n");
}

/* "64M" and the like: bytes, a multiple of 4096, at most 1 TiB. */
static int parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	unsigned long long v;
	uint64_t mul = 1;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K': case 'k': mul = 1024; break;
	case 'M': case 'm': mul = 1024 * 1024; break;
	case 'G': case 'g': mul = 1024 * 1024 * 1024; break;
	default: break;
	}
	if (mul > 1)
		num[n - 1] = '\0';
	if (parse_uint(num, 1, (1ULL << 40) / mul, &v) < 0 || (v * mul) % 4096)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

/* -------------------------------------------------------------- progress */

struct show {
	bool json;		/* JSON lines on stdout */
	bool tty;		/* a line on the terminal (stderr) */
	bool line_open;		/* the terminal line is not ended yet */
};

static void human_bytes(uint64_t b, char *buf, size_t len)
{
	if (b >= 1024ULL * 1024 * 1024)
		snprintf(buf, len, "%.1f GiB", (double)b / (1024.0 * 1024 * 1024));
	else
		snprintf(buf, len, "%.1f MiB", (double)b / (1024.0 * 1024));
}

static void json_line(json_object *o)
{
	json_text_fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
	putchar('\n');
	fflush(stdout);
	json_object_put(o);
}

static void on_progress(void *ctx, const char *device, const struct reencrypt_progress *p)
{
	struct show *s = ctx;
	uint64_t done = p->done ? p->size : p->offset, did = done - p->start;
	double pct = p->size ? 100.0 * (double)done / (double)p->size : 100.0;
	uint64_t rate = p->elapsed_ms ? did * 1000 / p->elapsed_ms : 0;
	int64_t eta = rate ? (int64_t)((p->size - done) / rate) : -1;
	char a[32], b[32], r[32], e1[TEXT_ESCAPED_SIZE(PATH_MAX)];

	if (s->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string(p->done ? "done-data" :
									   "progress"));
		json_object_object_add(o, "device", json_object_new_string(device));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)p->size));
		json_object_object_add(o, "offset", json_object_new_int64((int64_t)done));
		snprintf(a, sizeof(a), "%.1f", pct);
		json_object_object_add(o, "percent", json_object_new_double_s(pct, a));
		json_object_object_add(o, "bytes_per_second", json_object_new_int64((int64_t)rate));
		json_object_object_add(o, "eta_seconds", eta >= 0 ? json_object_new_int64(eta) : NULL);
		json_line(o);
		return;
	}
	if (!s->tty)
		return;
	human_bytes(done, a, sizeof(a));
	human_bytes(p->size, b, sizeof(b));
	human_bytes(rate, r, sizeof(r));
	fprintf(stderr, "\r%s: %5.1f%% (%s of %s), %s/s", text_escape(device, e1, sizeof(e1)), pct,
		a, b, r);
	if (p->done)
		fputs(", done", stderr);
	else if (eta >= 0)
		fprintf(stderr, ", %lld:%02lld:%02lld left", (long long)(eta / 3600),
			(long long)(eta / 60 % 60), (long long)(eta % 60));
	fputs("   ", stderr);
	s->line_open = !p->done;
	if (p->done)
		fputc('\n', stderr);
	fflush(stderr);
}

/* -------------------------------------------------------------- passphrases */

static int ask_passphrase(void *ctx, const char *device, int keyslot, const char *tokens,
			  char **pass, size_t *len)
{
	struct show *s = ctx;
	char prompt[PATH_MAX + 300];
	int r;

	if (s->line_open) {
		fputc('\n', stderr);
		s->line_open = false;
	}
	snprintf(prompt, sizeof(prompt), "Enter the passphrase of keyslot %d of %s%s%s (to keep it)",
		 keyslot, device, tokens[0] ? ", used by " : "", tokens);
	r = cli_prompt_secret(prompt, PASSPHRASE_MAX, pass, len);
	return r == -ENOTTY ? -ENOENT : r;
}

/* -------------------------------------------------------------- the result */

static void print_result(const char *device, const struct reencrypt_result *res, bool json)
{
	char e1[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)], e2[TEXT_ESCAPED_SIZE(KMIP_UID_MAX)];
	json_object *o, *a, *t;
	size_t i;

	if (json) {
		o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string("done"));
		json_object_object_add(o, "device", json_object_new_string(device));
		json_object_object_add(o, "online", json_object_new_boolean(res->online));
		a = json_object_new_array();
		for (i = 0; i < res->n_tokens; i++) {
			t = json_object_new_object();
			json_object_object_add(t, "token", json_object_new_int(res->tokens[i].token));
			json_object_object_add(t, "keyslot", json_object_new_int(
						       res->tokens[i].new_keyslot));
			if (res->tokens[i].old_uid[0]) {
				json_object_object_add(t, "old_uid", json_object_new_string(
							       res->tokens[i].old_uid));
				json_object_object_add(t, "uid", json_object_new_string(
							       res->tokens[i].new_uid));
				json_object_object_add(t, "old_revoked", json_object_new_boolean(
							       res->tokens[i].revoked));
			} else {
				json_object_object_add(t, "old_keyslot", json_object_new_int(
							       res->tokens[i].old_keyslot));
			}
			json_object_array_add(a, t);
		}
		json_object_object_add(o, "tokens", a);
		a = json_object_new_array();
		for (i = 0; i < res->n_keyslots; i++) {
			t = json_object_new_object();
			json_object_object_add(t, "old_keyslot", json_object_new_int(res->keyslots[i][0]));
			json_object_object_add(t, "keyslot", json_object_new_int(res->keyslots[i][1]));
			json_object_array_add(a, t);
		}
		json_object_object_add(o, "keyslots", a);
		json_line(o);
		return;
	}
	printf("%s: re-encrypted with a new volume key%s%s\n", device,
	       res->online ? ", online through " : "", res->online ? res->mapping : "");
	for (i = 0; i < res->n_tokens; i++) {
		if (res->tokens[i].old_uid[0])
			printf("  token %d: key '%s' (the old key '%s' %s)\n", res->tokens[i].token,
			       text_escape(res->tokens[i].new_uid, e1, sizeof(e1)),
			       text_escape(res->tokens[i].old_uid, e2, sizeof(e2)),
			       res->tokens[i].revoked ? "revoked, Superseded" : "NOT revoked: see above");
		else
			printf("  token %d: keyslot %d (was %d)\n", res->tokens[i].token,
			       res->tokens[i].new_keyslot, res->tokens[i].old_keyslot);
	}
	for (i = 0; i < res->n_keyslots; i++)
		printf("  keyslot %d kept as keyslot %d\n", res->keyslots[i][0], res->keyslots[i][1]);
}

int cmd_reencrypt(int argc, char **argv)
{
	enum { O_RESUME = 256, O_TOKEN, O_KEYFILE, O_KEK, O_HOTZONE, O_JSON };
	static const struct option opts[] = {
		{ "resume",       no_argument,       NULL, O_RESUME },
		{ "token",        required_argument, NULL, O_TOKEN },
		{ "key-file",     required_argument, NULL, O_KEYFILE },
		{ "kek-file",     required_argument, NULL, O_KEK },
		{ "hotzone-size", required_argument, NULL, O_HOTZONE },
		{ "json",         no_argument,       NULL, O_JSON },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct reencrypt_opts o = { .token_id = -1 };
	struct reencrypt_result res;
	struct show show = { 0 };
	struct config *cfg = NULL;
	const char *key_files[KEY_FILES_MAX], *device;
	char *pass[KEY_FILES_MAX] = { 0 };
	size_t lens[KEY_FILES_MAX] = { 0 }, n_files = 0, i;
	int c, r, err = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_RESUME: o.resume = true; break;
		case O_TOKEN:
			if (cli_token_id("reencrypt", optarg, &o.token_id))
				return EXIT_USAGE;
			break;
		case O_KEYFILE:
			if (n_files == KEY_FILES_MAX)
				return cli_usage_error("reencrypt", "at most %d --key-file",
						   KEY_FILES_MAX);
			key_files[n_files++] = optarg;
			break;
		case O_KEK: o.kek_file = optarg; break;
		case O_HOTZONE:
			if (parse_size(optarg, &o.hotzone_bytes) < 0)
				return cli_usage_error("reencrypt", "invalid --hotzone-size '%s': a size "
						   "from 4K to 1T, a multiple of 4K (\"64M\")",
						   optarg);
			break;
		case O_JSON: show.json = true; break;
		case 'h':
			reencrypt_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("reencrypt", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("reencrypt", "reencrypt takes one DEVICE");
	if (o.token_id >= 0 && !o.resume)
		return cli_usage_error("reencrypt", "--token goes with --resume: a new reencryption "
				   "re-binds every kmip token%s", "");
	device = argv[optind];
	cli_luks_setup();
	show.tty = !show.json && isatty(STDERR_FILENO) && log_get_level() >= LOG_LVL_WARN;
	r = cli_load_config_file(&cfg);
	if (r)
		return r;
	/*
	 * SIGINT, SIGTERM and SIGHUP are requests from here on: before the data
	 * pass luks_reencrypt() undoes what it did; during it, the pass stops at
	 * a safe point; then the process ends as the signal ends it.
	 */
	err = interrupt_catch();
	if (err < 0) {
		r = cli_fail(err, NULL, "catching termination signals", NULL);
		goto out;
	}
	for (i = 0; i < n_files && err == 0; i++) {
		uint8_t *p = NULL;

		err = cli_read_secret(key_files[i], PASSPHRASE_MAX, &p, &lens[i]);
		pass[i] = (char *)p;
	}
	if (err < 0) {
		r = exit_code_from_errno(err);
		goto out;
	}
	o.passphrases = (const char *const *)pass;
	o.passphrase_lens = lens;
	o.n_passphrases = n_files;
	o.ask = ask_passphrase;
	o.ask_ctx = &show;
	o.progress = on_progress;
	o.progress_ctx = &show;
	err = luks_reencrypt(device, cfg, &o, &res);
	if (show.line_open)
		fputc('\n', stderr);
	if (err == 0)
		print_result(device, &res, show.json);
	r = exit_code_from_errno(err);
	if (err < 0 && show.json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "event", json_object_new_string("failed"));
		json_object_object_add(j, "device", json_object_new_string(device));
		json_object_object_add(j, "exit", json_object_new_int(r));
		json_line(j);
	}
out:
	for (i = 0; i < n_files; i++)
		secmem_free(pass[i]);
	config_free(cfg);
	if (err == -EINTR)	/* undone or stopped: end as the signal would (see cmd_enroll) */
		interrupt_release(true);
	return r;
}
