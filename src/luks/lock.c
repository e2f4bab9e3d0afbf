/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Lock an open dm-crypt mapping of a LUKS volume (kmipcrypt lock): the
 * LUKS policy around dm/dm.h's locks, which do the work (suspend: I/O
 * frozen, key wiped; close: an error target, every I/O fails).  Only a
 * mapping libcryptsetup made for a LUKS volume is locked; the header is not
 * read (a locker must work when the disk under the mapping does not).
 */
#include <errno.h>
#include <string.h>

#include "dm/dm.h"
#include "luks/luks.h"
#include "util/log.h"

int luks_lock(const char *name, enum lock_action a)
{
	struct dmap_mapping m;
	int r;

	if (!name || !*name || strchr(name, '/') || strlen(name) >= DMAP_NAME_MAX)
		return log_error_errno(-EINVAL, "lock needs a mapping name (as in /dev/mapper/NAME)");
	if (a != LOCK_SUSPEND && a != LOCK_CLOSE)
		return log_error_errno(-EINVAL, "unknown lock action %d", (int)a);
	if (!dmap_available())
		return log_error_errno(-ELUKS, "cannot lock '%s': device-mapper is not available on "
				       "this system (its driver does not answer on "
				       "/dev/mapper/control: no dm-mod in this kernel?), so no "
				       "mapping can be open here", name);
	r = dmap_query(name, &m);
	if (r < 0)
		goto out;
	if (m.state == DMAP_ABSENT)
		return log_error_errno(-ELUKS, "cannot lock '%s': no such open mapping", name);
	if (!m.luks_version)
		return log_error_errno(-ELUKS, "cannot lock '%s': not a LUKS mapping (its "
				       "device-mapper UUID is '%s')", name, m.dm_uuid);
	r = a == LOCK_SUSPEND ? dmap_suspend(name) : dmap_close(name);
out:
	/* dm/ said what failed and how the mapping was left: a LUKS operation failed (exit 5). */
	return r < 0 && r != -ENOMEM ? -ELUKS : r;
}
