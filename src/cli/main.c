/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcrypt: unlock LUKS2 volumes with keys from a KMIP server.
 * Global options, then one verb; each verb parses its own options.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "net/transport.h"
#include "util/log.h"
#include "util/secmem.h"

#ifndef KMIPCRYPT_VERSION
#error "KMIPCRYPT_VERSION comes from the Makefile (VERSION)"
#endif

static int run_ttlv_tool(int argc, char **argv);

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} verbs[] = {
	{ "enroll", cmd_enroll, "bind a LUKS2 volume to a new key on the KMIP server" },
	{ "unlock", cmd_unlock, "unlock kmip-bound LUKS2 volumes (one, or --all; --test checks only)" },
	{ "status", cmd_status, "kmip tokens of LUKS2 volumes, their keys' state, open mappings" },
	{ "lock",   cmd_lock,   "suspend or close an open mapping by hand (key revoked, host lost)" },
	{ "unbind", cmd_unbind, "remove a kmip token and its keyslot (--destroy-key: and the key)" },
	{ "rekey",  cmd_rekey,  "replace a bound volume's KMS object by a new one (old revoked)" },
	{ "reencrypt", cmd_reencrypt, "a new volume key, the data re-encrypted, every binding kept" },
	{ "askpass", cmd_askpass, "answer systemd-cryptsetup's passphrase requests from the KMS (boot agent)" },
	{ "key",  cmd_key,  "administer keys on the KMIP server (list, create, get, revoke, ...)" },
	{ "config", cmd_config, "check the configuration and its credentials; list the files it needs" },
	{ "ttlv", run_ttlv_tool, "decode, encode and convert KMIP messages (TTLV, hex, XML)" },
};

/* The global options; getopt_long's table, and the list of what goes before the command. */
static const struct option global_options[] = {
	{ "config",  required_argument, NULL, 'c' },
	{ "group",   required_argument, NULL, 'g' },
	{ "verbose", no_argument,       NULL, 'v' },
	{ "quiet",   no_argument,       NULL, 'q' },
	{ "help",    no_argument,       NULL, 'h' },
	{ "version", no_argument,       NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/*
 * The global option that the command-line word w spells (-c, -cFILE, -vv,
 * --config, --config=FILE), or NULL.  Not --help/-h: every command has its own.
 */
static const struct option *global_option_of(const char *w)
{
	const struct option *o;
	size_t n;

	if (w[0] != '-')
		return NULL;
	for (o = global_options; o->name; o++) {
		n = strlen(o->name);
		if (o->val == 'h')
			continue;
		if (w[1] == o->val ||
		    (w[1] == '-' && strncmp(w + 2, o->name, n) == 0 &&
		     (w[2 + n] == '\0' || (o->has_arg && w[2 + n] == '='))))
			return o;
	}
	return NULL;
}

/*
 * A global option among the command's arguments (argv[0] is the command;
 * up to a "--"): each command parses its own options and would only call it
 * unknown, so say where it goes.  A value that happens to spell a global
 * option must then be attached to its option (--name=-v).
 * Returns 0, or -EINVAL (logged).
 */
static int misplaced_global_option(int argc, char **argv)
{
	const struct option *o = NULL;
	const char *w, *val = "", *sep = "";
	bool more;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0 && !o; i++)
		o = global_option_of(argv[i]);
	if (!o)
		return 0;
	w = argv[--i];
	more = argc > 2;	/* arguments besides this one */
	if (o->has_arg) {
		if (w[1] == '-' && strchr(w, '='))		/* --config=FILE */
			val = strchr(w, '=') + 1;
		else if (w[1] != '-' && w[2])			/* -cFILE */
			val = w + 2;
		else if (i + 1 < argc) {			/* -c FILE, --config FILE */
			val = argv[i + 1];
			more = argc > 3;
		} else {
			val = "...";
		}
		sep = w[1] == '-' ? "=" : " ";
	}
	if (w[1] == '-')
		log_error("--%s is a global option: put it before the command: "
			  "kmipcrypt --%s%s%s %s%s", o->name, o->name, sep, val, argv[0],
			  more ? " ..." : "");
	else
		log_error("-%c is a global option: put it before the command: "
			  "kmipcrypt -%c%s%s %s%s", o->val, o->val, sep, val, argv[0],
			  more ? " ..." : "");
	return -EINVAL;
}

/*
 * `kmipcrypt ttlv ...` is the program kmipcrypt-ttlv (src/cli/cmd_ttlv.c),
 * run in this process's place: it links libxml2, which brings ICU and
 * libstdc++ with it, and none of them may be loaded into the kmipcrypt that
 * unlocks volumes at boot (tests/integration/test-links.sh).  Where it is,
 * relative to this binary (/proc/self/exe) so that a build tree, an
 * installed tree and a DESTDIR staging tree all find their own:
 *   DIR/kmipcrypt-ttlv                     a build tree (both in BUILD)
 *   DIR/../libexec/kmipcrypt/kmipcrypt-ttlv  `make install` (PREFIX/sbin)
 */
#define TTLV_TOOL		"kmipcrypt-ttlv"
#define TTLV_TOOL_INSTALLED	"/libexec/kmipcrypt/" TTLV_TOOL

/* "DIR/kmipcrypt-ttlv" and "DIR/../libexec/kmipcrypt/kmipcrypt-ttlv", ".." resolved. */
static int ttlv_tool_paths(char built[PATH_MAX], char installed[PATH_MAX])
{
	char self[PATH_MAX];
	char *slash;
	ssize_t n;
	int a, b;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return log_error_errno(-errno, "cannot find the TTLV tools (%s): "
				       "/proc/self/exe: %s; is /proc mounted?",
				       TTLV_TOOL, strerror(errno));
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return log_error_errno(-EINVAL, "cannot find the TTLV tools (%s): "
				       "/proc/self/exe is \"%s\", not a path", TTLV_TOOL, self);
	*slash = '\0';
	a = snprintf(built, PATH_MAX, "%s/%s", self, TTLV_TOOL);
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	b = snprintf(installed, PATH_MAX, "%s%s", self, TTLV_TOOL_INSTALLED);
	if (a < 0 || a >= PATH_MAX || b < 0 || b >= PATH_MAX)
		return log_error_errno(-ENAMETOOLONG, "cannot find the TTLV tools (%s): "
				       "the directory of kmipcrypt has too long a name", TTLV_TOOL);
	return 0;
}

/*
 * Exec kmipcrypt-ttlv with this process's log level (-q, -v, -v -v), "--"
 * and the arguments after "ttlv" (argv[0]); its exit status is the
 * command's.  Returns only on failure: EXIT_OTHER, the reason logged.
 */
static int run_ttlv_tool(int argc, char **argv)
{
	char built[PATH_MAX], installed[PATH_MAX];
	enum log_level lvl = log_get_level();
	const char *path;
	char **args = NULL;
	int i, n = 0;

	if (ttlv_tool_paths(built, installed) < 0)
		goto out;
	path = access(built, X_OK) == 0 ? built : installed;
	/* name, at most two level options, "--", the arguments, NULL */
	args = calloc((size_t)argc + 4, sizeof(*args));
	if (!args) {
		log_error("cannot run %s: out of memory", path);
		goto out;
	}
	args[n++] = (char *)TTLV_TOOL;
	if (lvl <= LOG_LVL_ERR)
		args[n++] = (char *)"-q";
	if (lvl >= LOG_LVL_INFO)
		args[n++] = (char *)"-v";
	if (lvl >= LOG_LVL_DEBUG)
		args[n++] = (char *)"-v";
	args[n++] = (char *)"--";
	for (i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(NULL);
	execv(path, args);
	if (errno == ENOENT && path == installed)
		log_error("the TTLV tools are not installed: no %s beside kmipcrypt (a build tree) "
			  "nor %s; 'make' builds it next to kmipcrypt, 'make install' installs both",
			  built, installed);
	else
		log_error("cannot run the TTLV tools, %s: %s", path, strerror(errno));
out:
	free(args);
	return EXIT_OTHER;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: kmipcrypt [-c FILE] [-g GROUP] [-v|-q] COMMAND [ARGS...]\n\n"
		"Unlock LUKS2 volumes with keys held on a KMIP server.\n\n"
		"Global options (before COMMAND):\n"
		"  -c, --config FILE   configuration file (default " "/etc/kmipcrypt/kmipcrypt.conf" ")\n"
		"  -g, --group NAME    server group in the configuration (default \"default\")\n"
		"  -v, --verbose       more messages (repeat for debug)\n"
		"  -q, --quiet         errors only\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n\n"
		"Commands:\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-6s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\n'kmipcrypt COMMAND --help' describes a command; see kmipcrypt(8).\n"
		"Exit status: 0 ok, 1 usage or configuration, 2 no KMIP server reachable,\n"
		"3 TLS or authentication, 4 key not usable, 5 LUKS, 6 other.\n");
}

int main(int argc, char **argv)
{
	enum log_level lvl = LOG_LVL_WARN;
	size_t i;
	int c;

	log_set_ident("kmipcrypt");
	/* Key material may pass through this process: no core dumps, no ptrace by peers. */
	if (secmem_harden_process() < 0)
		log_warn("cannot make the process non-dumpable; continuing");
	transport_secure_heap();	/* the client key in locked memory too */

	while ((c = getopt_long(argc, argv, "+c:g:vqhV", global_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			g_opts.config_path = optarg;
			break;
		case 'g':
			g_opts.group = optarg;
			break;
		case 'v':
			lvl = lvl == LOG_LVL_WARN ? LOG_LVL_INFO : LOG_LVL_DEBUG;
			break;
		case 'q':
			lvl = LOG_LVL_ERR;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("kmipcrypt %s\n", KMIPCRYPT_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	log_set_level(lvl);
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[optind], verbs[i].name) == 0) {
			argc -= optind;
			argv += optind;
			optind = 0;	/* reset getopt for the verb's own parsing */
			if (misplaced_global_option(argc, argv) < 0)
				return EXIT_USAGE;
			return verbs[i].run(argc, argv);
		}
	}
	log_error("unknown command '%s'; 'kmipcrypt --help' lists the commands", argv[optind]);
	return EXIT_USAGE;
}
