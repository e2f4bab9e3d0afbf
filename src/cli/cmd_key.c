/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcrypt key: administer objects on the KMIP server, the tool that
 * storage and database vendors' guides tell their users to find elsewhere.
 *
 * Key material is printed only when asked for (--show-secret, --passphrase);
 * otherwise a fingerprint identifies it.  Every verb has --json.  Every
 * value that came from the server goes through util/escape.h before it
 * reaches standard output, and text sent to the server (--name,
 * --object-group, --message) must be printable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "kmip/kmip.h"
#include "luks/luks.h"
#include "ttlv/names.h"
#include "util/escape.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/strnum.h"

#define SECRET_FILE_MAX 4096
/* One value from the server, escaped (util/escape.h). */
#define ESC_SIZE TEXT_ESCAPED_SIZE(KMIP_TEXT_MAX > KMIP_UID_MAX ? KMIP_TEXT_MAX : KMIP_UID_MAX)

struct key_opts {
	const char *name;
	const char *group;
	const char *state;
	const char *type;
	const char *reason;
	const char *message;
	const char *wrap_key;
	const char *kek_file;
	const char *secret_file;
	unsigned long long bits;
	unsigned long long generate;
	unsigned long long max_items;
	unsigned long long offset_items;
	long long compromise_date;
	bool no_activate;
	bool activate;
	bool show_secret;
	bool passphrase;
	bool revoke_first;
	bool revoke_old;
	bool force;
	bool json;
	/*
	 * list, show: where enroll puts this host's objects unless told
	 * otherwise (luks_host_object_group() of the -g group), one of the
	 * two groups whose Pre-Active objects an enroll left behind.
	 */
	char host_group[KMIP_TEXT_SIZE];
};

enum {
	OPT_NAME = 256, OPT_GROUP, OPT_STATE, OPT_TYPE, OPT_REASON, OPT_MESSAGE,
	OPT_WRAP_KEY, OPT_KEK_FILE, OPT_SECRET_FILE, OPT_BITS, OPT_GENERATE,
	OPT_MAX, OPT_OFFSET, OPT_COMPROMISE_DATE, OPT_NO_ACTIVATE, OPT_ACTIVATE,
	OPT_SHOW_SECRET, OPT_PASSPHRASE, OPT_REVOKE, OPT_JSON, OPT_REVOKE_OLD, OPT_FORCE,
};

static const struct option key_options[] = {
	{ "name",            required_argument, NULL, OPT_NAME },
	{ "object-group",    required_argument, NULL, OPT_GROUP },
	{ "state",           required_argument, NULL, OPT_STATE },
	{ "type",            required_argument, NULL, OPT_TYPE },
	{ "reason",          required_argument, NULL, OPT_REASON },
	{ "message",         required_argument, NULL, OPT_MESSAGE },
	{ "wrap-key",        required_argument, NULL, OPT_WRAP_KEY },
	{ "kek-file",        required_argument, NULL, OPT_KEK_FILE },
	{ "secret-file",     required_argument, NULL, OPT_SECRET_FILE },
	{ "bits",            required_argument, NULL, OPT_BITS },
	{ "generate",        required_argument, NULL, OPT_GENERATE },
	{ "max",             required_argument, NULL, OPT_MAX },
	{ "offset",          required_argument, NULL, OPT_OFFSET },
	{ "compromise-date", required_argument, NULL, OPT_COMPROMISE_DATE },
	{ "no-activate",     no_argument,       NULL, OPT_NO_ACTIVATE },
	{ "activate",        no_argument,       NULL, OPT_ACTIVATE },
	{ "show-secret",     no_argument,       NULL, OPT_SHOW_SECRET },
	{ "passphrase",      no_argument,       NULL, OPT_PASSPHRASE },
	{ "revoke",          no_argument,       NULL, OPT_REVOKE },
	{ "json",            no_argument,       NULL, OPT_JSON },
	{ "revoke-old",      no_argument,       NULL, OPT_REVOKE_OLD },
	{ "force",           no_argument,       NULL, OPT_FORCE },
	{ "help",            no_argument,       NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void key_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] [-g GROUP] key VERB [OPTIONS] [UID]\n\n"
"Administer keys and secrets on the KMIP server of the configured group.\n\n"
"Verbs:\n"
"  list     [--state S] [--name N] [--object-group G] [--type T] [--max N] [--offset N]\n"
"           a table of the objects found (ID, Name, Type, Algorithm/Length, State, dates);\n"
"           a Pre-Active object in this host's Object Group (enroll's default) or in\n"
"           kmipcrypt (that of older versions), or any in kmipcrypt-enrolling, is\n"
"           marked unbound (an enroll that did not finish left it)\n"
"  locate   [same filters]   the identifiers only, verified against the filters\n"
"  show     UID              every attribute of one object\n"
"  create   [--name N] [--object-group G] [--bits 128|192|256] [--no-activate]\n"
"           a new AES key, Active unless --no-activate; prints its identifier\n"
"  register --type secret|aes (--secret-file F|- | --generate BYTES) [--name N]\n"
"           [--object-group G] [--activate]   store a secret (Secret Data, Password)\n"
"           or an AES key made elsewhere\n"
"  activate UID\n"
"  get      UID [--wrap-key KEK_UID [--kek-file F]] [--show-secret]\n"
"           fetch an object; with --wrap-key the server wraps it (NIST AES key wrap)\n"
"           and with --kek-file it is unwrapped here; material is printed only with\n"
"           --show-secret, otherwise its SHA-256 fingerprint\n"
"  get      UID --passphrase   only the keyslot passphrase of a passphrase binding's\n"
"           secret (its base64), to type at a passphrase prompt or to pipe into\n"
"           'cryptsetup open --key-file=- DEVICE' (no newline unless on a terminal)\n"
"  revoke   UID [--reason compromise|ca-compromise|affiliation-changed|superseded|\n"
"           cessation|privilege-withdrawn|unspecified] [--message M] [--compromise-date EPOCH]\n"
"  destroy  UID [--revoke]   (--revoke: revoke with cessation of operation first)\n"
"  rekey    UID [--name N] [--revoke-old [--message M] [--force]]\n"
"           a new symmetric key to replace UID on the server: KMIP Re-key where the\n"
"           server's Query lists it, else Create of a key like it (algorithm, length,\n"
"           usage mask, Object Groups; Name: --name N, or UID's Name with -rTIME added);\n"
"           Active unless UID is Pre-Active; the two linked where the server keeps\n"
"           links; prints the new identifier.  Nothing encrypted under UID changes:\n"
"           --revoke-old (revoke UID, reason Superseded) is refused for a key that\n"
"           looks like a volume's unless --force; 'kmipcrypt rekey DEVICE' rotates\n"
"           a bound volume's key\n\n"
"Every verb takes --json.  States: pre-active active deactivated compromised\n"
"destroyed destroyed-compromised.  Types: symmetric-key secret-data (or any KMIP name).\n"
"Values from the server are printed with control characters escaped (\\xNN, \\\\);\n"
"--name, --object-group and --message must be printable UTF-8.\n");
}

/* ------------------------------------------------------------ names */

static const struct {
	const char *name;
	uint32_t code;
} revocation_reasons[] = {
	{ "unspecified", KMIP_REVOKE_UNSPECIFIED },
	{ "compromise", KMIP_REVOKE_KEY_COMPROMISE },
	{ "key-compromise", KMIP_REVOKE_KEY_COMPROMISE },
	{ "ca-compromise", KMIP_REVOKE_CA_COMPROMISE },
	{ "affiliation-changed", KMIP_REVOKE_AFFILIATION_CHANGED },
	{ "superseded", KMIP_REVOKE_SUPERSEDED },
	{ "cessation", KMIP_REVOKE_CESSATION_OF_OPERATION },
	{ "cessation-of-operation", KMIP_REVOKE_CESSATION_OF_OPERATION },
	{ "privilege-withdrawn", KMIP_REVOKE_PRIVILEGE_WITHDRAWN },
};

/* "pre-active", "Pre-Active", "PreActive" all name the same enumeration value. */
static int parse_enum_arg(uint32_t tag, const char *arg, uint32_t *v)
{
	char buf[64];
	size_t i, j = 0;
	bool up = true;

	if (ttlv_enum_by_name(tag, arg, v) == 0)
		return 0;
	/* dashed lower case -> the XML spelling ("pre-active" -> "PreActive") */
	for (i = 0; arg[i] && j + 1 < sizeof(buf); i++) {
		if (arg[i] == '-' || arg[i] == '_' || arg[i] == ' ') {
			up = true;
			continue;
		}
		buf[j++] = up ? (char)(arg[i] >= 'a' && arg[i] <= 'z' ? arg[i] - 32 : arg[i]) : arg[i];
		up = false;
	}
	buf[j] = 0;
	return ttlv_enum_by_name(tag, buf, v) == 0 ? 0 : -EINVAL;
}

static const char *enum_name(uint32_t tag, uint32_t v)
{
	const char *s = ttlv_enum_name(tag, v);

	return s ? s : "-";
}

/* ------------------------------------------------------------ output */

/* json-c escapes C0 controls; json_text_fputs also DEL, C1 and invalid UTF-8. */
static int json_print(struct json_object *o)
{
	json_text_fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
	putchar('\n');
	json_object_put(o);
	return EXIT_OK;
}

/* A value from the server for the terminal: buf holds ESC_SIZE bytes. */
static const char *esc(const char *s, char *buf)
{
	return text_escape(s, buf, ESC_SIZE);
}

/*
 * Left behind by an enroll that did not finish: enroll registers its
 * object Pre-Active in its Object Group and activates it only after the
 * token is written (src/luks/enroll.c), and unlock refuses a Pre-Active
 * key, so no volume unlocks with such an object.  An envelope key must be
 * Active before its token exists (KMIP Encrypt needs it), so it carries a
 * second, pending Object Group until the token is written.  That is all
 * the KMS can tell: a token may still name such an object if the enroll was
 * killed between writing the token and activating or unmarking
 * (kmipcrypt status shows that binding).  Enroll's Object Group is this
 * host's (o->host_group: the configuration's object_group, or the one
 * derived from the machine ID), or LUKS_ENROLL_OBJECT_GROUP, which every
 * enroll used before hosts had their own (and which a host without a
 * machine ID still uses).  Pre-Active objects of enroll --object-group G are
 * not recognised; pending envelope keys are.
 */
enum leftover { LEFT_NONE, LEFT_PRE_ACTIVE, LEFT_PENDING };

static enum leftover leftover(const struct kmip_attrs *a, const struct key_opts *o)
{
	bool ours = false;
	unsigned i;

	for (i = 0; i < a->n_groups; i++) {
		if (strcmp(a->groups[i], LUKS_ENROLL_PENDING_GROUP) == 0)
			return LEFT_PENDING;
		ours |= strcmp(a->groups[i], LUKS_ENROLL_OBJECT_GROUP) == 0 ||
			(o->host_group[0] && strcmp(a->groups[i], o->host_group) == 0);
	}
	if (ours && (a->present & KMIP_ATTR_STATE) && a->state == KMIP_STATE_PRE_ACTIVE)
		return LEFT_PRE_ACTIVE;
	return LEFT_NONE;
}

static bool unbound(const struct kmip_attrs *a, const struct key_opts *o)
{
	return leftover(a, o) != LEFT_NONE;
}

/* What to do about an unbound object, for the text output (uid escaped). */
static void print_unbound_note(const struct kmip_attrs *a, const struct key_opts *o)
{
	char e[ESC_SIZE];
	bool active = (a->present & KMIP_ATTR_STATE) && a->state == KMIP_STATE_ACTIVE;

	if (leftover(a, o) == LEFT_PENDING)
		printf("unbound: an envelope enroll did not finish (Object Group %s); unless "
		       "'kmipcrypt status' shows a volume bound to it, remove it with "
		       "'kmipcrypt key destroy%s %s'", LUKS_ENROLL_PENDING_GROUP,
		       active ? " --revoke" : "", esc(a->uid, e));
	else
		printf("unbound: an enroll did not finish (no volume unlocks with it); "
		       "remove it with 'kmipcrypt key destroy %s'", esc(a->uid, e));
}

static void json_add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void json_add_time(struct json_object *o, const char *k, int64_t t)
{
	char buf[32];

	if (t)
		json_add_str(o, k, cli_time(t, buf, sizeof(buf)));
}

static struct json_object *attrs_json(const struct kmip_attrs *a, const struct key_opts *ko)
{
	struct json_object *o = json_object_new_object();
	struct json_object *names = json_object_new_array();
	struct json_object *groups = json_object_new_array();
	unsigned i;

	json_add_str(o, "uid", a->uid);
	for (i = 0; i < a->n_names; i++)
		json_object_array_add(names, json_object_new_string(a->names[i]));
	json_object_object_add(o, "names", names);
	if (a->present & KMIP_ATTR_OBJECT_TYPE)
		json_add_str(o, "object_type", enum_name(KMIP_TAG_OBJECT_TYPE, a->object_type));
	if (a->present & KMIP_ATTR_CRYPTO_ALGORITHM)
		json_add_str(o, "algorithm", enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, a->algorithm));
	if (a->present & KMIP_ATTR_CRYPTO_LENGTH)
		json_object_object_add(o, "length", json_object_new_int(a->length));
	if (a->present & KMIP_ATTR_USAGE_MASK)
		json_object_object_add(o, "usage_mask", json_object_new_int64(a->usage_mask));
	if (a->present & KMIP_ATTR_STATE)
		json_add_str(o, "state", kmip_state_name(a->state));
	for (i = 0; i < a->n_groups; i++)
		json_object_array_add(groups, json_object_new_string(a->groups[i]));
	json_object_object_add(o, "object_groups", groups);
	json_add_time(o, "initial_date", a->initial_date);
	json_add_time(o, "activation_date", a->activation_date);
	json_add_time(o, "deactivation_date", a->deactivation_date);
	json_add_time(o, "compromise_date", a->compromise_date);
	json_add_time(o, "compromise_occurrence_date", a->compromise_occurrence_date);
	json_add_time(o, "destroy_date", a->destroy_date);
	json_add_time(o, "last_change_date", a->last_change_date);
	if (a->replacement[0])
		json_add_str(o, "replacement", a->replacement);
	if (a->replaced[0])
		json_add_str(o, "replaced", a->replaced);
	json_object_object_add(o, "unbound", json_object_new_boolean(unbound(a, ko)));
	return o;
}

static void alg_len(const struct kmip_attrs *a, char *buf, size_t len)
{
	if (a->present & KMIP_ATTR_CRYPTO_ALGORITHM)
		snprintf(buf, len, "%s/%d", enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, a->algorithm),
			 (a->present & KMIP_ATTR_CRYPTO_LENGTH) ? a->length : 0);
	else
		snprintf(buf, len, "-");
}

static void print_attrs(const struct kmip_attrs *a, const struct key_opts *o)
{
	char buf[64], mask[256], e[ESC_SIZE];
	unsigned i;

	printf("%-28s %s\n", "Unique Identifier", esc(a->uid, e));
	for (i = 0; i < a->n_names; i++)
		printf("%-28s %s\n", "Name", esc(a->names[i], e));
	if (a->present & KMIP_ATTR_OBJECT_TYPE)
		printf("%-28s %s\n", "Object Type", enum_name(KMIP_TAG_OBJECT_TYPE, a->object_type));
	if (a->present & KMIP_ATTR_CRYPTO_ALGORITHM)
		printf("%-28s %s\n", "Cryptographic Algorithm",
		       enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, a->algorithm));
	if (a->present & KMIP_ATTR_CRYPTO_LENGTH)
		printf("%-28s %d\n", "Cryptographic Length", a->length);
	if (a->present & KMIP_ATTR_USAGE_MASK) {
		if (ttlv_mask_format(KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, a->usage_mask,
				     TTLV_MASK_TEXT, mask, sizeof(mask)) < 0)
			snprintf(mask, sizeof(mask), "0x%08x", a->usage_mask);
		printf("%-28s %s\n", "Cryptographic Usage Mask", mask);
	}
	if (a->present & KMIP_ATTR_STATE)
		printf("%-28s %s\n", "State", kmip_state_name(a->state));
	for (i = 0; i < a->n_groups; i++)
		printf("%-28s %s\n", "Object Group", esc(a->groups[i], e));
#define DATE(bit, field, label) \
	if (a->present & (bit)) printf("%-28s %s\n", label, cli_time(a->field, buf, sizeof(buf)))
	DATE(KMIP_ATTR_INITIAL_DATE, initial_date, "Initial Date");
	DATE(KMIP_ATTR_ACTIVATION_DATE, activation_date, "Activation Date");
	DATE(KMIP_ATTR_DEACTIVATION_DATE, deactivation_date, "Deactivation Date");
	DATE(KMIP_ATTR_COMPROMISE_DATE, compromise_date, "Compromise Date");
	DATE(KMIP_ATTR_COMPROMISE_OCCURRENCE_DATE, compromise_occurrence_date, "Compromise Occurrence Date");
	DATE(KMIP_ATTR_DESTROY_DATE, destroy_date, "Destroy Date");
	DATE(KMIP_ATTR_LAST_CHANGE_DATE, last_change_date, "Last Change Date");
#undef DATE
	/* Links Re-key sets (kmipcrypt key rekey, rekey DEVICE) */
	if (a->replacement[0])
		printf("%-28s %s\n", "Replacement Object", esc(a->replacement, e));
	if (a->replaced[0])
		printf("%-28s %s\n", "Replaced Object", esc(a->replaced, e));
	if (unbound(a, o)) {
		printf("%-28s ", "Note");
		print_unbound_note(a, o);
		putchar('\n');
	}
}

/* ------------------------------------------------------------ verbs */

static int build_filter(const struct key_opts *o, struct kmip_locate_filter *f)
{
	uint32_t v;

	memset(f, 0, sizeof(*f));
	f->name = o->name;
	f->group = o->group;
	f->max_items = (uint32_t)o->max_items;
	f->offset_items = (uint32_t)o->offset_items;
	if (o->state) {
		if (parse_enum_arg(KMIP_TAG_STATE, o->state, &v) < 0)
			return log_error_errno(-EINVAL, "unknown state '%s'; see 'kmipcrypt key --help'", o->state);
		f->state = (int)v;
	}
	if (o->type) {
		if (parse_enum_arg(KMIP_TAG_OBJECT_TYPE, o->type, &v) < 0)
			return log_error_errno(-EINVAL, "unknown object type '%s'; see 'kmipcrypt key --help'", o->type);
		f->object_type = v;
	}
	return 0;
}

/* Does what the server said match the filter?  Servers ignore filters (KMIP-NOTES). */
static bool attrs_match(const struct kmip_attrs *a, const struct kmip_locate_filter *f)
{
	unsigned i;
	bool ok;

	if (f->state && (!(a->present & KMIP_ATTR_STATE) || a->state != f->state))
		return false;
	if (f->object_type && (!(a->present & KMIP_ATTR_OBJECT_TYPE) || a->object_type != f->object_type))
		return false;
	if (f->name) {
		for (ok = false, i = 0; i < a->n_names; i++)
			ok |= strcmp(a->names[i], f->name) == 0;
		if (!ok)
			return false;
	}
	if (f->group) {
		for (ok = false, i = 0; i < a->n_groups; i++)
			ok |= strcmp(a->groups[i], f->group) == 0;
		if (!ok)
			return false;
	}
	return true;
}

static int key_list(struct kmip_client *c, const struct key_opts *o, bool ids_only)
{
	struct kmip_locate_filter f;
	struct kmip_uid_list l = { 0 };
	struct kmip_attrs *attrs = NULL;
	struct json_object *arr = NULL;
	char al[64], d1[32], d2[32], e_uid[ESC_SIZE], e_name[ESC_SIZE];
	size_t i, shown = 0;
	int r;

	r = build_filter(o, &f);
	if (r < 0)
		return EXIT_USAGE;
	r = kmip_locate(c, &f, &l);
	if (r < 0)
		return cli_fail(r, c, "Locate", NULL);
	attrs = calloc(l.n ? l.n : 1, sizeof(*attrs));
	if (!attrs) {
		r = cli_fail(-ENOMEM, c, "Locate", NULL);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		r = kmip_get_attributes(c, l.uids[i], KMIP_ATTR_ALL, &attrs[i]);
		if (r == -ENOENT || r == -EPERM) {
			/* destroyed or hidden between Locate and now: not a match */
			char why[KMIP_FAILURE_TEXT_SIZE];

			log_info("skipping %s: %s", l.uids[i], kmip_failure_reason(c, r, why,
											sizeof(why)));
			attrs[i].present = 0;
			continue;
		}
		if (r < 0) {
			r = cli_fail(r, c, "Get Attributes", l.uids[i]);
			goto out;
		}
		if (!attrs[i].uid[0])
			snprintf(attrs[i].uid, sizeof(attrs[i].uid), "%s", l.uids[i]);
	}
	if (o->json)
		arr = json_object_new_array();
	else if (!ids_only)
		printf("%-38s %-24s %-14s %-10s %-12s %-20s %s\n", "ID", "Name", "Type",
		       "Alg/Len", "State", "Created", "Activated");
	for (i = 0; i < l.n; i++) {
		const struct kmip_attrs *a = &attrs[i];

		if (!a->present || !attrs_match(a, &f))
			continue;
		shown++;
		if (o->json) {
			json_object_array_add(arr, ids_only ? json_object_new_string(a->uid) :
					      attrs_json(a, o));
		} else if (ids_only) {
			puts(esc(a->uid, e_uid));
		} else {
			alg_len(a, al, sizeof(al));
			printf("%-38s %-24s %-14s %-10s %-12s %-20s %s", esc(a->uid, e_uid),
			       a->n_names ? esc(a->names[0], e_name) : "-",
			       (a->present & KMIP_ATTR_OBJECT_TYPE) ? enum_name(KMIP_TAG_OBJECT_TYPE, a->object_type) : "-",
			       al, (a->present & KMIP_ATTR_STATE) ? kmip_state_name(a->state) : "-",
			       cli_time(a->initial_date, d1, sizeof(d1)),
			       cli_time(a->activation_date, d2, sizeof(d2)));
			if (unbound(a, o)) {
				fputs("  ", stdout);
				print_unbound_note(a, o);
			}
			putchar('\n');
		}
	}
	if (l.n != shown)
		log_info("%zu of %zu objects the server returned did not match the filter", l.n - shown, l.n);
	if (o->json) {
		json_print(arr);
		arr = NULL;
	}
	r = EXIT_OK;
out:
	json_object_put(arr);
	free(attrs);
	kmip_uid_list_free(&l);
	return r;
}

static int key_show(struct kmip_client *c, const struct key_opts *o, const char *uid)
{
	struct kmip_attrs a;
	int r;

	r = kmip_get_attributes(c, uid, KMIP_ATTR_ALL, &a);
	if (r < 0)
		return cli_fail(r, c, "Get Attributes", uid);
	if (!a.uid[0])
		snprintf(a.uid, sizeof(a.uid), "%s", uid);
	if (o->json)
		return json_print(attrs_json(&a, o));
	print_attrs(&a, o);
	return EXIT_OK;
}

static void print_created(const struct key_opts *o, const char *what, const char *uid, bool active)
{
	struct json_object *j;
	char e[ESC_SIZE];

	if (!o->json) {
		printf("%s\n", esc(uid, e));
		log_info("%s %s created%s", what, uid, active ? " and activated" : "");
		return;
	}
	j = json_object_new_object();
	json_add_str(j, "uid", uid);
	json_add_str(j, "state", active ? "Active" : "Pre-Active");
	json_print(j);
}

static int key_create(struct kmip_client *c, const struct key_opts *o)
{
	struct kmip_new_object a = {
		.name = o->name, .group = o->group,
		.usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT | KMIP_USAGE_WRAP_KEY | KMIP_USAGE_UNWRAP_KEY,
		.activate = !o->no_activate,
	};
	char uid[KMIP_UID_SIZE] = "";
	int r;

	if (o->bits != 128 && o->bits != 192 && o->bits != 256) {
		log_error("--bits must be 128, 192 or 256, not %llu", o->bits);
		return EXIT_USAGE;
	}
	r = kmip_create(c, (unsigned)o->bits, &a, uid);
	if (r < 0) {
		if (uid[0])
			log_error("key %s was created but not activated; 'kmipcrypt key destroy %s' removes it",
				  uid, uid);
		return cli_fail(r, c, "Create", NULL);
	}
	print_created(o, "key", uid, a.activate);
	return EXIT_OK;
}

static int key_register(struct kmip_client *c, const struct key_opts *o)
{
	struct kmip_new_object a = {
		.name = o->name, .group = o->group, .activate = o->activate,
	};
	_cleanup_secmem_ uint8_t *secret = NULL;
	char uid[KMIP_UID_SIZE] = "";
	bool aes;
	size_t len = 0;
	int r;

	if (!o->type || (strcmp(o->type, "secret") && strcmp(o->type, "aes"))) {
		log_error("register needs --type secret or --type aes");
		return EXIT_USAGE;
	}
	aes = strcmp(o->type, "aes") == 0;
	if (!!o->secret_file == !!o->generate) {
		log_error("register needs exactly one of --secret-file FILE and --generate BYTES");
		return EXIT_USAGE;
	}
	if (o->generate) {
		len = (size_t)o->generate;
		secret = secmem_alloc(len);
		if (!secret || RAND_bytes(secret, (int)len) != 1)
			return cli_fail(-ENOMEM, NULL, "generating a random secret", NULL);
	} else {
		r = cli_read_secret(o->secret_file, SECRET_FILE_MAX, &secret, &len);
		if (r < 0)
			return EXIT_USAGE;
	}
	if (aes && len != 16 && len != 24 && len != 32) {
		log_error("an AES key is 16, 24 or 32 bytes, not %zu", len);
		return EXIT_USAGE;
	}
	if (aes) {
		a.usage_mask = KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT | KMIP_USAGE_WRAP_KEY | KMIP_USAGE_UNWRAP_KEY;
		r = kmip_register_key(c, secret, len, &a, uid);
	} else {
		/* The storage-array / SED profile registers passwords with Verify. */
		a.usage_mask = 0x80;	/* Verify */
		r = kmip_register_secret(c, secret, len, &a, uid);
	}
	if (r < 0) {
		if (uid[0])
			log_error("object %s was registered but not activated", uid);
		return cli_fail(r, c, "Register", NULL);
	}
	print_created(o, aes ? "key" : "secret", uid, a.activate);
	return EXIT_OK;
}

static int key_activate(struct kmip_client *c, const struct key_opts *o, const char *uid)
{
	int r = kmip_activate(c, uid);

	if (r < 0)
		return cli_fail(r, c, "Activate", uid);
	if (o->json) {
		struct json_object *j = json_object_new_object();

		json_add_str(j, "uid", uid);
		json_add_str(j, "state", "Active");
		return json_print(j);
	}
	log_info("key %s activated", uid);
	return EXIT_OK;
}

/* SHA-256 of the material, first 16 bytes in hex: names a key without revealing it. */
static void fingerprint(const uint8_t *m, size_t len, char out[33])
{
	uint8_t md[32];
	unsigned mdlen = 0;

	EVP_Digest(m, len, md, &mdlen, EVP_sha256(), NULL);
	hex_encode(md, 16, out);
	explicit_bzero(md, sizeof(md));
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * key get --passphrase: the keyslot passphrase that enroll gave a passphrase
 * binding's keyslot, made by the same function (luks_secret_passphrase:
 * base64), so that what is printed is exactly what opens the keyslot.
 * Written with write(2), not stdio, so that no stdio buffer keeps a copy.
 * A newline only on a terminal: cryptsetup --key-file=- takes every byte
 * of its input, a newline included, as the passphrase.
 */
static int print_passphrase(const struct key_opts *o, const struct kmip_object *obj,
			    const char *uid)
{
	_cleanup_secmem_ char *pass = NULL;
	struct json_object *j;
	struct stat st;
	char e[ESC_SIZE];
	size_t pass_len = 0;
	bool tty = isatty(STDOUT_FILENO);
	int r;

	if (obj->wrapped) {
		log_error("the secret of %s came back wrapped: add --kek-file with the host copy of the "
			  "wrapping key to unwrap it here", uid);
		return EXIT_USAGE;
	}
	if (obj->object_type != KMIP_OBJ_SECRET_DATA) {
		log_error("%s is a %s, not Secret Data: only the secret of a passphrase binding is a "
			  "keyslot passphrase; a volume-key or envelope binding is recovered with "
			  "'kmipcrypt unlock DEVICE' (see RECOVERY in kmipcrypt-unlock(8))",
			  uid, enum_name(KMIP_TAG_OBJECT_TYPE, obj->object_type));
		return EXIT_KEY;
	}
	r = luks_secret_passphrase(obj->material, obj->material_len, &pass, &pass_len);
	if (r < 0)
		return cli_fail(r, NULL, "making the keyslot passphrase", uid);
	if (o->json) {
		/* json-c copies it into ordinary memory: asked for with --json. */
		j = json_object_new_object();
		json_add_str(j, "uid", obj->uid[0] ? obj->uid : uid);
		json_add_str(j, "passphrase", pass);
		return json_print(j);
	}
	fflush(stdout);
	r = write_all(STDOUT_FILENO, pass, pass_len);
	if (r == 0 && tty)
		r = write_all(STDOUT_FILENO, "\n", 1);
	if (r < 0)
		return cli_fail(r, NULL, "writing the keyslot passphrase to standard output", uid);
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode))
		log_warn("the keyslot passphrase of %s is now in a file: remove it (shred -u) once "
			 "used; 'kmipcrypt key get --passphrase UID | cryptsetup ... --key-file=-' "
			 "keeps it off the disk", uid);
	/* For the person reading it (not -q): which keyslot, the KMS cannot say. */
	if (tty && log_get_level() >= LOG_LVL_WARN)
		fprintf(stderr, "kmipcrypt: the keyslot passphrase of key '%s': it opens the keyslot "
			"that the volume's kmip token names ('kmipcrypt status DEVICE' shows it)\n",
			text_escape(uid, e, sizeof(e)));
	return EXIT_OK;
}

static int key_get(struct kmip_client *c, const struct key_opts *o, const char *uid)
{
	struct kmip_key_wrap wrap = { 0 };
	struct kmip_object obj = { 0 };
	_cleanup_secmem_ uint8_t *kek = NULL;
	_cleanup_secmem_ char *hex = NULL;
	struct json_object *j = NULL;
	char fp[33], e[ESC_SIZE];
	size_t kek_len = 0, hex_len;
	int r;

	if (o->kek_file && !o->wrap_key) {
		log_error("--kek-file needs --wrap-key KEK_UID");
		return EXIT_USAGE;
	}
	if (o->wrap_key) {
		wrap.kek_uid = o->wrap_key;
		wrap.mode = KMIP_BCM_NIST_KEY_WRAP;
		if (o->kek_file) {
			/* As unlock reads it: one reader, one set of rules for KEK files. */
			r = luks_read_kek(o->kek_file, &kek, &kek_len);
			if (r < 0)
				return EXIT_USAGE;
			wrap.kek = kek;
			wrap.kek_len = kek_len;
		}
	}
	r = kmip_get(c, uid, o->wrap_key ? &wrap : NULL, &obj);
	if (r < 0) {
		r = cli_fail(r, c, "Get", uid);
		goto out;
	}
	if (o->passphrase) {
		r = print_passphrase(o, &obj, uid);
		goto out;
	}
	hex_len = obj.material_len * 2 + 1;
	hex = secmem_alloc(hex_len);
	if (!hex) {
		r = cli_fail(-ENOMEM, c, "Get", uid);
		goto out;
	}
	hex_encode(obj.material, obj.material_len, hex);
	fingerprint(obj.material, obj.material_len, fp);
	/* Wrapped material is ciphertext: showing it reveals nothing. */
	if (o->json) {
		j = json_object_new_object();
		json_add_str(j, "uid", obj.uid[0] ? obj.uid : uid);
		json_add_str(j, "object_type", enum_name(KMIP_TAG_OBJECT_TYPE, obj.object_type));
		if (obj.algorithm)
			json_add_str(j, "algorithm", enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, obj.algorithm));
		if (obj.length)
			json_object_object_add(j, "length", json_object_new_int(obj.length));
		json_add_str(j, "key_format", enum_name(KMIP_TAG_KEY_FORMAT_TYPE, obj.key_format));
		json_object_object_add(j, "wrapped", json_object_new_boolean(obj.wrapped));
		if (o->wrap_key)
			json_add_str(j, "wrapping_key", o->wrap_key);
		json_object_object_add(j, "material_length", json_object_new_int((int)obj.material_len));
		json_add_str(j, "sha256_prefix", fp);
		if (obj.wrapped || o->show_secret)
			json_add_str(j, obj.wrapped ? "wrapped_material" : "material", hex);
		/* json-c copies the string into ordinary memory: only with --show-secret. */
		json_print(j);
		j = NULL;
	} else {
		printf("%-20s %s\n", "Unique Identifier", esc(obj.uid[0] ? obj.uid : uid, e));
		printf("%-20s %s\n", "Object Type", enum_name(KMIP_TAG_OBJECT_TYPE, obj.object_type));
		if (obj.algorithm)
			printf("%-20s %s/%d\n", "Algorithm/Length",
			       enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, obj.algorithm), obj.length);
		printf("%-20s %s\n", "Key Format Type", enum_name(KMIP_TAG_KEY_FORMAT_TYPE, obj.key_format));
		if (o->wrap_key)
			printf("%-20s wrapped by %s (NIST AES key wrap, RFC 3394)%s\n", "Transport",
			       o->wrap_key, obj.wrapped ? "" : ", unwrapped here");
		printf("%-20s %zu bytes, SHA-256 %s...\n", "Material", obj.material_len, fp);
		if (obj.wrapped)
			printf("%-20s %s\n", "Wrapped Material", hex);
		else if (o->show_secret)
			printf("%-20s %s\n", "Key Material", hex);
	}
	r = EXIT_OK;
out:
	json_object_put(j);
	kmip_object_clear(&obj);
	return r;
}

static int key_revoke(struct kmip_client *c, const struct key_opts *o, const char *uid)
{
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_CESSATION_OF_OPERATION, .message = o->message };
	size_t i;
	int r;

	if (o->reason) {
		rv.reason = 0;
		for (i = 0; i < sizeof(revocation_reasons) / sizeof(revocation_reasons[0]); i++)
			if (strcmp(o->reason, revocation_reasons[i].name) == 0)
				rv.reason = revocation_reasons[i].code;
		if (!rv.reason) {
			log_error("unknown revocation reason '%s'; see 'kmipcrypt key --help'", o->reason);
			return EXIT_USAGE;
		}
	}
	rv.compromise_date = o->compromise_date;
	r = kmip_revoke(c, uid, &rv);
	if (r < 0)
		return cli_fail(r, c, "Revoke", uid);
	if (o->json) {
		struct json_object *j = json_object_new_object();

		json_add_str(j, "uid", uid);
		json_add_str(j, "reason", kmip_revocation_reason_name(rv.reason));
		return json_print(j);
	}
	log_info("key %s revoked (%s)", uid, kmip_revocation_reason_name(rv.reason));
	return EXIT_OK;
}

static int key_destroy(struct kmip_client *c, const struct key_opts *o, const char *uid)
{
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_CESSATION_OF_OPERATION };
	int r;

	if (o->revoke_first) {
		r = kmip_revoke(c, uid, &rv);
		if (r < 0)
			return cli_fail(r, c, "Revoke", uid);
	}
	r = kmip_destroy(c, uid);
	if (r < 0) {
		if (r == -EPERM || r == -EKEYREVOKED)
			log_error("an Active key cannot be destroyed: revoke it first, or use 'destroy --revoke'");
		return cli_fail(r, c, "Destroy", uid);
	}
	if (o->json) {
		struct json_object *j = json_object_new_object();

		json_add_str(j, "uid", uid);
		json_add_str(j, "state", "Destroyed");
		return json_print(j);
	}
	log_info("key %s destroyed", uid);
	return EXIT_OK;
}

/*
 * Does the key look like one a volume names?  Enroll names its objects
 * "kmipcrypt-<LUKS UUID>-<kind>" and puts them in this host's Object Group,
 * LUKS_ENROLL_OBJECT_GROUP (older versions) or, while pending,
 * LUKS_ENROLL_PENDING_GROUP.  The KMS cannot say which volume uses a key:
 * this is the evidence there is, enough to stop a revocation that would
 * lock such a volume out.
 */
static bool looks_bound(const struct kmip_attrs *a, const struct key_opts *o)
{
	unsigned i;

	for (i = 0; i < a->n_names; i++)
		if (strncmp(a->names[i], "kmipcrypt-", 10) == 0)
			return true;
	for (i = 0; i < a->n_groups; i++)
		if (strcmp(a->groups[i], LUKS_ENROLL_OBJECT_GROUP) == 0 ||
		    strcmp(a->groups[i], LUKS_ENROLL_PENDING_GROUP) == 0 ||
		    (o->host_group[0] && strcmp(a->groups[i], o->host_group) == 0))
			return true;
	return false;
}

/* "Name vol1, Object Group g": what made looks_bound() say so, for the message. */
static void bound_evidence(const struct kmip_attrs *a, char *buf, size_t len)
{
	char e1[ESC_SIZE], e2[ESC_SIZE];

	snprintf(buf, len, "Name %s, Object Group %s",
		 a->n_names ? esc(a->names[0], e1) : "-", a->n_groups ? esc(a->groups[0], e2) : "-");
}

/* After a failed key rekey: the step the server refused, when it was not Re-key itself. */
static int rekey_fail(int r, struct kmip_client *c, const char *uid, const char *made)
{
	uint32_t op = kmip_last_result(c)->op;
	char what[64];

	if (made[0])
		log_error("key %s was created but not activated; 'kmipcrypt key destroy %s' "
			  "removes it", made, made);
	/* The server's answer to another step (Create, Activate...): name that step. */
	if (kmip_last_failure(c) == KMIP_FAILURE_SERVER && op && op != KMIP_OP_REKEY)
		snprintf(what, sizeof(what), "Re-key (%s)", kmip_operation_name(op));
	else
		snprintf(what, sizeof(what), "Re-key");
	return cli_fail(r, c, what, uid);
}

/*
 * key rekey UID: kmip_replace_key() (src/kmip/rekey.c), then the link and,
 * if asked, the revocation.  The new identifier is printed as soon as the
 * key exists, so that a script has it even when a later step fails.  The
 * link is best effort (kmip_link_replacement()); the revocation is not: a
 * failure is the command's exit status, with what to do.
 */
static int key_rekey(struct kmip_client *c, const struct key_opts *o, const char *uid)
{
	struct kmip_replace_args ra = { .name = o->name };
	struct kmip_revoke rv = { .reason = KMIP_REVOKE_SUPERSEDED, .message = o->message };
	struct kmip_replacement *out = NULL;
	struct json_object *j = NULL;
	char suffix[32], msg[KMIP_TEXT_SIZE], why[KMIP_FAILURE_TEXT_SIZE], ev[2 * ESC_SIZE];
	char e[ESC_SIZE], alg[64];
	const char *link_text = NULL;
	bool bound;
	time_t now = time(NULL);
	struct tm tm;
	int r, lr, rr = 0;

	out = calloc(1, sizeof(*out));
	if (!out)
		return cli_fail(-ENOMEM, NULL, "Re-key", uid);
	/* The fallback's default Name: the old one with "-r" and the time, UTC. */
	if (!gmtime_r(&now, &tm) || !strftime(suffix, sizeof(suffix), "-r%Y%m%dT%H%M%SZ", &tm))
		snprintf(suffix, sizeof(suffix), "-r%lld", (long long)now);
	ra.name_suffix = suffix;
	/* Before anything is made: a revocation that would lock a volume out needs --force. */
	if (o->revoke_old && !o->force) {
		r = kmip_get_attributes(c, uid, KMIP_ATTR_NAME | KMIP_ATTR_OBJECT_GROUP, &out->old);
		if (r < 0) {
			r = cli_fail(r, c, "Get Attributes", uid);
			goto out;
		}
		if (looks_bound(&out->old, o)) {
			bound_evidence(&out->old, ev, sizeof(ev));
			log_error("key %s looks like a volume's key (%s): revoking it would stop that "
				  "volume from unlocking, and 'key rekey' changes nothing in the volume; "
				  "rotate a bound volume's key with 'kmipcrypt rekey DEVICE', or add "
				  "--force if no volume uses this key", esc(uid, e), ev);
			r = EXIT_USAGE;
			goto out;
		}
	}
	r = kmip_replace_key(c, uid, &ra, out);
	if (r < 0) {
		r = rekey_fail(r, c, uid, out->uid);
		goto out;
	}
	bound = looks_bound(&out->old, o);
	if (!o->json)
		printf("%s\n", esc(out->uid, e));
	fflush(stdout);
	alg_len(&out->old, alg, sizeof(alg));
	if (out->rekeyed)
		log_info("key %s re-keyed by the server (KMIP Re-key): new key %s, %s", uid, out->uid,
			 out->state ? kmip_state_name(out->state) : "State unknown");
	else
		log_info("the server does not offer Re-key: key %s created like key %s (%s, its "
			 "usage mask and Object Groups), %s", out->uid, uid, alg,
			 out->state ? kmip_state_name(out->state) : "State unknown");

	lr = kmip_link_replacement(c, uid, out->uid);
	if (lr == 0) {
		log_info("key %s linked to its replacement %s (Link: Replacement Object, Replaced "
			 "Object)", uid, out->uid);
	} else {
		link_text = kmip_failure_text(c, lr, why, sizeof(why), "linking key '%s' to '%s'",
					      uid, out->uid);
		if (lr == -EOPNOTSUPP)
			log_info("not linked: the server keeps no Link attributes (%s)", link_text);
		else
			log_warn("not linked (the keys are fine): %s", link_text);
	}

	if (o->revoke_old) {
		if (!rv.message) {
			/* Where the server keeps no link, the message says what replaced it. */
			snprintf(msg, sizeof(msg), "superseded by key %.*s", (int)KMIP_TEXT_MAX - 18,
				 out->uid);
			rv.message = msg;
		}
		rr = kmip_revoke(c, uid, &rv);
		if (rr < 0)
			r = cli_fail(rr, c, "Revoke", uid);
		if (rr < 0)
			log_error("the new key %s is made; the old key %s is not revoked: revoke it with "
				  "'kmipcrypt key revoke %s --reason superseded'", out->uid, uid, uid);
		else
			log_info("key %s revoked (Superseded)", uid);
	} else if (bound) {
		bound_evidence(&out->old, ev, sizeof(ev));
		log_warn("key %s looks like a volume's key (%s): the volume still names it and needs "
			 "it (keep it Active); 'kmipcrypt rekey DEVICE' rotates a bound volume's key",
			 uid, ev);
	}
	if (o->json) {
		j = json_object_new_object();
		json_add_str(j, "uid", out->uid);
		json_add_str(j, "old_uid", uid);
		json_add_str(j, "method", out->rekeyed ? "rekey" : "create");
		json_add_str(j, "state", out->state ? kmip_state_name(out->state) : NULL);
		json_object_object_add(j, "linked", json_object_new_boolean(lr == 0));
		if (link_text)
			json_add_str(j, "link_error", link_text);
		json_object_object_add(j, "old_revoked", json_object_new_boolean(o->revoke_old &&
										  rr == 0));
		json_print(j);
	}
	if (rr == 0)
		r = EXIT_OK;
out:
	free(out);
	return r;
}

/*
 * Text that create, register and revoke store on the KMS: every tool that
 * lists the object prints it later, so only printable UTF-8 (no control
 * character that a terminal would obey), 1 to KMIP_TEXT_MAX bytes.  The
 * list filters take any text: they only search, and may have to find an
 * object that another client named badly.
 */
static int check_text_opt(const char *opt, const char *v)
{
	char e[128];

	if (!v)
		return 0;
	if (!*v)
		return log_error_errno(-EINVAL, "--%s is empty; leave the option out for none", opt);
	if (strlen(v) > KMIP_TEXT_MAX)
		return log_error_errno(-EINVAL, "--%s is longer than %u bytes", opt, KMIP_TEXT_MAX);
	if (!text_is_printable(v))
		return log_error_errno(-EINVAL, "--%s '%s' holds a control character or invalid UTF-8 "
				       "(shown escaped); use printable text", opt,
				       text_escape(v, e, sizeof(e)));
	return 0;
}

static int parse_key_opts(int argc, char **argv, struct key_opts *o)
{
	int c, r = 0;

	memset(o, 0, sizeof(*o));
	o->bits = 256;
	o->json = g_opts.json;
	while ((c = getopt_long(argc, argv, "h", key_options, NULL)) != -1) {
		switch (c) {
		case OPT_NAME: o->name = optarg; break;
		case OPT_GROUP: o->group = optarg; break;
		case OPT_STATE: o->state = optarg; break;
		case OPT_TYPE: o->type = optarg; break;
		case OPT_REASON: o->reason = optarg; break;
		case OPT_MESSAGE: o->message = optarg; break;
		case OPT_WRAP_KEY: o->wrap_key = optarg; break;
		case OPT_KEK_FILE: o->kek_file = optarg; break;
		case OPT_SECRET_FILE: o->secret_file = optarg; break;
		case OPT_BITS: r = parse_uint(optarg, 1, 4096, &o->bits); break;
		case OPT_GENERATE: r = parse_uint(optarg, 1, SECRET_FILE_MAX, &o->generate); break;
		case OPT_MAX: r = parse_uint(optarg, 1, KMIP_LOCATE_MAX, &o->max_items); break;
		case OPT_OFFSET: r = parse_uint(optarg, 0, UINT32_MAX, &o->offset_items); break;
		case OPT_COMPROMISE_DATE: {
			unsigned long long v;

			r = parse_uint(optarg, 1, INT64_MAX, &v);
			o->compromise_date = (long long)v;
			break;
		}
		case OPT_NO_ACTIVATE: o->no_activate = true; break;
		case OPT_ACTIVATE: o->activate = true; break;
		case OPT_SHOW_SECRET: o->show_secret = true; break;
		case OPT_PASSPHRASE: o->passphrase = true; break;
		case OPT_REVOKE: o->revoke_first = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_REVOKE_OLD: o->revoke_old = true; break;
		case OPT_FORCE: o->force = true; break;
		case 'h':
			key_usage(stdout);
			return 1;
		default:
			key_usage(stderr);
			return -EINVAL;
		}
		if (r < 0) {
			/* key_options lists the options in OPT_ order */
			log_error("invalid value '%s' for --%s", optarg,
				  key_options[c - OPT_NAME].name);
			return -EINVAL;
		}
	}
	return 0;
}

int cmd_key(int argc, char **argv)
{
	static const char *const need_uid[] = { "show", "activate", "get", "revoke", "destroy",
						"rekey" };
	struct config *cfg = NULL;
	struct kmip_session *s = NULL;
	struct kmip_client *c;
	struct key_opts o;
	const char *verb, *uid = NULL;
	bool uid_verb = false;
	size_t i;
	int r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		key_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	verb = argv[1];
	r = parse_key_opts(argc - 1, argv + 1, &o);
	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	for (i = 0; i < sizeof(need_uid) / sizeof(need_uid[0]); i++)
		uid_verb |= strcmp(verb, need_uid[i]) == 0;
	/* optind counts within argv + 1 */
	if (uid_verb) {
		if (argc - 1 - optind != 1) {
			log_error("'key %s' takes one key identifier (UID)", verb);
			return EXIT_USAGE;
		}
		uid = argv[1 + optind];
		if (!*uid || strlen(uid) > KMIP_UID_MAX) {
			log_error("invalid key identifier '%s'", uid);
			return EXIT_USAGE;
		}
	} else if (argc - 1 - optind != 0) {
		log_error("'key %s' takes no arguments besides options (got '%s')", verb, argv[1 + optind]);
		return EXIT_USAGE;
	}
	if (strcmp(verb, "list") && strcmp(verb, "locate") && strcmp(verb, "create") &&
	    strcmp(verb, "register") && !uid_verb) {
		log_error("unknown verb 'key %s'; 'kmipcrypt key --help' lists them", verb);
		return EXIT_USAGE;
	}
	if (o.passphrase && strcmp(verb, "get")) {
		log_error("--passphrase is for 'key get UID'");
		return EXIT_USAGE;
	}
	if ((o.revoke_old || o.force) && strcmp(verb, "rekey")) {
		log_error("--revoke-old and --force are for 'key rekey UID'");
		return EXIT_USAGE;
	}
	if (o.force && !o.revoke_old) {
		log_error("--force only lets --revoke-old revoke a key that looks like a volume's");
		return EXIT_USAGE;
	}
	if (!strcmp(verb, "rekey") && o.message && !o.revoke_old) {
		log_error("--message is the revocation message of --revoke-old");
		return EXIT_USAGE;
	}
	if (!strcmp(verb, "create") || !strcmp(verb, "register") || !strcmp(verb, "revoke") ||
	    !strcmp(verb, "rekey")) {
		if (check_text_opt("name", o.name) < 0 ||
		    check_text_opt("object-group", o.group) < 0 ||
		    check_text_opt("message", o.message) < 0)
			return EXIT_USAGE;
	}

	r = cli_open_session(&cfg, &s);
	if (r)
		return r;
	c = kmip_session_client(s);
	/* Which objects an enroll left behind: in this host's group too, not only in the old one. */
	if ((!strcmp(verb, "list") || !strcmp(verb, "show") || !strcmp(verb, "rekey")) &&
	    luks_host_object_group(cfg, g_opts.group, o.host_group, sizeof(o.host_group)) < 0)
		o.host_group[0] = '\0';	/* logged; the old group is still looked at */
	if (!strcmp(verb, "list"))
		r = key_list(c, &o, false);
	else if (!strcmp(verb, "locate"))
		r = key_list(c, &o, true);
	else if (!strcmp(verb, "create"))
		r = key_create(c, &o);
	else if (!strcmp(verb, "register"))
		r = key_register(c, &o);
	else if (!strcmp(verb, "show"))
		r = key_show(c, &o, uid);
	else if (!strcmp(verb, "activate"))
		r = key_activate(c, &o, uid);
	else if (!strcmp(verb, "get"))
		r = key_get(c, &o, uid);
	else if (!strcmp(verb, "revoke"))
		r = key_revoke(c, &o, uid);
	else if (!strcmp(verb, "rekey"))
		r = key_rekey(c, &o, uid);
	else
		r = key_destroy(c, &o, uid);
	cli_close_session(cfg, s);
	return r;
}
