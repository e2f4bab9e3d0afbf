/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The poller's privileges: after it has read what only root may read (the
 * configuration, the client key and its password, loaded into its TLS
 * contexts), it becomes user (no supplementary groups, the user's group,
 * real = effective = saved ids), with no capabilities (the kernel clears
 * them when every uid leaves 0; the ambient set is cleared too), no new
 * privileges (PR_SET_NO_NEW_PRIVS: no setuid binary, no file capability can
 * give any back), not dumpable, in "/".  Checked afterwards: a setuid(0)
 * that succeeded would abort.
 */
#ifndef KMIPCRYPTD_PRIVDROP_H
#define KMIPCRYPTD_PRIVDROP_H

/*
 * 0, or negative errno (logged): -ENOENT no such user, -EPERM user is root
 * or this process is not (a daemon started by another user cannot change
 * to user; it runs on with a warning only if it is user already).
 */
int privdrop(const char *user);

#endif
