/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "cli/commands.h"

/*
 * One table for every command, so that scripts (and the dracut/systemd glue)
 * can tell "server down, try later" from "key revoked, give up".
 */
int exit_code_from_errno(int r)
{
	switch (r) {
	case 0:
		return EXIT_OK;
	case -EINVAL:
	case -EACCES:	/* wrong client key password, unreadable credentials */
	case -E2BIG:
	case -ENAMETOOLONG:
		return EXIT_USAGE;
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EHOSTDOWN:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EADDRNOTAVAIL:
		return EXIT_UNREACHABLE;
	case -EKEYREJECTED:
		return EXIT_TLS;
	case -EMEDIUMTYPE:	/* ELUKS, see luks/luks.h */
		return EXIT_LUKS;
	case -ENOENT:
	case -ENOKEY:
	case -EBADSLT:	/* EKEYMISMATCH, see luks/luks.h */
	case -EKEYREVOKED:
	case -EKEYEXPIRED:
	case -EPERM:
		return EXIT_KEY;
	default:
		return EXIT_OTHER;
	}
}
