/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/commands.h"

/*
 * One table for every command, so that scripts (and the dracut/systemd glue)
 * can tell "server down, try later" from "key revoked, give up": the one of
 * util/errclass.h, which the token plugin and unlock follow too.
 */
int exit_code_from_errno(int r)
{
	return errclass_exit(r);
}
