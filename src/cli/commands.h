/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kmipcrypt command line: one function per verb, one file per verb group. */
#ifndef KMIPCRYPT_COMMANDS_H
#define KMIPCRYPT_COMMANDS_H

#include <stdbool.h>

/* Documented exit codes, the same for every command (kmipcrypt(8), EXIT STATUS). */
enum exit_code {
	EXIT_OK          = 0,
	EXIT_USAGE       = 1,	/* usage or configuration error */
	EXIT_UNREACHABLE = 2,	/* no KMIP server reachable */
	EXIT_TLS         = 3,	/* TLS or authentication failure */
	EXIT_KEY         = 4,	/* key not usable: not found, not Active, revoked, destroyed, denied */
	EXIT_LUKS        = 5,	/* LUKS error */
	EXIT_OTHER       = 6,	/* anything else */
};

/* Options common to every command, parsed before the verb. */
struct global_opts {
	const char *config_path;	/* -c FILE; NULL: /etc/kmipcrypt/kmipcrypt.conf */
	const char *group;		/* -g NAME; NULL: "default" */
	bool json;			/* --json */
};

extern struct global_opts g_opts;

/* Map a negative errno from the library to the exit code. */
int exit_code_from_errno(int r);

int cmd_key(int argc, char **argv);
int cmd_ttlv(int argc, char **argv);
/* cmd_luks.c: binding LUKS2 volumes to KMIP keys */
int cmd_enroll(int argc, char **argv);
int cmd_unlock(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_unbind(int argc, char **argv);

#endif
