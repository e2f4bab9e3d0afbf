/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kmipcrypt command line: one function per verb, one file per verb group. */
#ifndef KMIPCRYPT_COMMANDS_H
#define KMIPCRYPT_COMMANDS_H

#include <stdbool.h>

/*
 * The documented exit codes, the same for every command (kmipcrypt(8), EXIT
 * STATUS), are enum exit_code of util/errclass.h, which decides them.
 */
#include "util/errclass.h"

/* Options common to every command, parsed before the verb. */
struct global_opts {
	const char *config_path;	/* -c FILE; NULL: /etc/kmipcrypt/kmipcrypt.conf */
	const char *group;		/* -g NAME; NULL: "default" */
	bool json;			/* --json */
};

extern struct global_opts g_opts;

/* The exit code of 0 or a negative errno from the library: errclass_exit(). */
int exit_code_from_errno(int r);

int cmd_key(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_ttlv(int argc, char **argv);
/* cmd_luks.c: binding LUKS2 volumes to KMIP keys */
int cmd_enroll(int argc, char **argv);
int cmd_unlock(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_unbind(int argc, char **argv);
/* cmd_rekey.c: a new KMS object for a bound volume */
int cmd_rekey(int argc, char **argv);
/* cmd_reencrypt.c: a new volume key, the data re-encrypted */
int cmd_reencrypt(int argc, char **argv);
/* cmd_askpass.c: the systemd password agent (boot) */
int cmd_askpass(int argc, char **argv);

#endif
