/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Lock an open dm-crypt mapping of a LUKS volume, as the daemon does when a
 * key is revoked:
 *
 *   suspend  crypt_suspend(): I/O frozen (queued, nothing lost), the volume
 *            key wiped from the kernel (dm-crypt "key wipe"); resumable with
 *            a passphrase (cryptsetup luksResume).
 *   close    suspend as above, then the mapping's table is replaced by an
 *            `error` target of the same size (libdevmapper reload + resume):
 *            every queued and further I/O fails, the old table and its key
 *            are gone.  The mapping itself stays (a mounted file system
 *            cannot be removed under its users); `cryptsetup close` or
 *            `dmsetup remove` it after unmounting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libdevmapper.h>

#include "luks/luks_internal.h"
#include "util/log.h"

static void dm_log(int level, const char *file, int line, int dm_errno_or_class,
		   const char *f, ...) __attribute__((format(printf, 5, 6)));

static void dm_log(int level, const char *file, int line, int dm_errno_or_class,
		   const char *f, ...)
{
	char msg[512];
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno_or_class;
	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	if ((level & 7) <= 3)	/* _LOG_ERR */
		log_info("libdevmapper: %s", msg);
	else
		log_debug("libdevmapper: %s", msg);
}

static int dm_run(int type, const char *name, uint64_t sectors, const char *what)
{
	struct dm_task *dmt = dm_task_create(type);
	int ok = 0;

	if (!dmt)
		return log_error_errno(-ENOMEM, "%s: libdevmapper: cannot create a task", name);
	if (!dm_task_set_name(dmt, name))
		goto out;
	if (type == DM_DEVICE_RELOAD && !dm_task_add_target(dmt, 0, sectors, "error", ""))
		goto out;
	ok = dm_task_run(dmt);
out:
	dm_task_destroy(dmt);
	if (!ok)
		return log_error_errno(-EIO, "%s: device-mapper %s failed", name, what);
	return 0;
}

const char *luks_mapping_state_name(enum luks_mapping_state s)
{
	switch (s) {
	case LUKS_MAPPING_ACTIVE:
		return "active";
	case LUKS_MAPPING_SUSPENDED:
		return "suspended";
	case LUKS_MAPPING_ERROR:
		return "error";
	}
	return "unknown";
}

int luks_mapping_state(const char *name, enum luks_mapping_state *state)
{
	struct dm_task *dmt = NULL;
	struct dm_info info;
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	int r = -EIO;

	*state = LUKS_MAPPING_ACTIVE;
	dm_log_with_errno_init(dm_log);
	dmt = dm_task_create(DM_DEVICE_TABLE);
	if (!dmt || !dm_task_set_name(dmt, name) || !dm_task_run(dmt) ||
	    !dm_task_get_info(dmt, &info))
		goto out;
	if (!info.exists) {
		r = -ENODEV;
		goto out;
	}
	/* A suspended mapping answers with its live table: crypt, or error after close. */
	dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
	if (type && strcmp(type, "error") == 0)
		*state = LUKS_MAPPING_ERROR;
	else if (info.suspended)
		*state = LUKS_MAPPING_SUSPENDED;
	r = 0;
out:
	if (dmt)
		dm_task_destroy(dmt);
	dm_log_with_errno_init(NULL);
	return r;
}

/* Replace the table of a suspended mapping by `error`, then resume it. */
static int error_table(const char *name, uint64_t sectors)
{
	int r;

	dm_log_with_errno_init(dm_log);
	/* Nobody may wait for udev events here (early boot, a daemon): make the nodes ourselves. */
	dm_udev_set_sync_support(0);
	r = dm_run(DM_DEVICE_RELOAD, name, sectors, "load of an error table");
	if (r == 0)
		r = dm_run(DM_DEVICE_RESUME, name, 0, "resume with the error table");
	dm_log_with_errno_init(NULL);
	return r;
}

int luks_lock(const char *name, enum lock_action a)
{
	struct crypt_device *cd = NULL;
	struct crypt_active_device cad;
	const char *type;
	bool suspended;
	int r;

	if (!name || !*name || strchr(name, '/'))
		return log_error_errno(-EINVAL, "lock needs a mapping name (as in /dev/mapper/NAME)");
	if (a != LOCK_SUSPEND && a != LOCK_CLOSE)
		return log_error_errno(-EINVAL, "unknown lock action %d", (int)a);
	if (!luks_dm_available())
		return log_error_errno(-ELUKS, "cannot lock '%s': device-mapper is not available on "
				       "this system (its driver does not answer on "
				       "/dev/mapper/control: no dm-mod in this kernel?), so no "
				       "mapping can be open here", name);
	r = crypt_status(NULL, name) < CRYPT_ACTIVE ? -ENODEV : crypt_init_by_name(&cd, name);
	if (r == -ENODEV || r == -ENOENT) {
		r = log_error_errno(-ELUKS, "cannot lock '%s': no such open mapping", name);
		goto out;
	}
	if (r < 0) {
		r = luks_crypt_fail(r, name, "finding the mapping");
		goto out;
	}
	luks_dev_log_to_ours(cd);
	type = crypt_get_type(cd);
	if (!type || (strcmp(type, CRYPT_LUKS2) && strcmp(type, CRYPT_LUKS1))) {
		r = log_error_errno(-ELUKS, "cannot lock '%s': not a LUKS mapping (%s)", name,
				    type ? type : "unknown type");
		goto out;
	}
	memset(&cad, 0, sizeof(cad));
	r = crypt_get_active_device(cd, name, &cad);
	if (r < 0) {
		r = luks_crypt_fail(r, name, "reading the mapping");
		goto out;
	}
	suspended = cad.flags & CRYPT_ACTIVATE_SUSPENDED;
	if (!suspended) {
		r = crypt_suspend(cd, name);
		if (r < 0) {
			r = luks_crypt_fail(r, name, "suspending the mapping and wiping its key");
			goto out;
		}
		log_info("%s: suspended, volume key wiped from the kernel", name);
	} else if (a == LOCK_SUSPEND) {
		log_info("%s: already suspended", name);
	}
	if (a == LOCK_CLOSE) {
		r = error_table(name, cad.size);
		if (r < 0) {
			log_error("%s: the mapping stays suspended with its key wiped, but its table "
				  "could not be replaced", name);
			r = -ELUKS;
			goto out;
		}
		log_info("%s: table replaced by an error target: every I/O fails", name);
	}
	r = 0;
out:
	crypt_free(cd);
	return r;
}
