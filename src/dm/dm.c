/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device-mapper through libdevmapper: see dm.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libdevmapper.h>
#include <linux/dm-ioctl.h>	/* DM_NAME_LEN, DM_UUID_LEN only: no ioctl here */

#include "dm/dm.h"
#include "util/hex.h"
#include "util/log.h"

_Static_assert(DMAP_NAME_MAX == DM_NAME_LEN, "DMAP_NAME_MAX is DM_NAME_LEN");
_Static_assert(DMAP_UUID_MAX == DM_UUID_LEN, "DMAP_UUID_MAX is DM_UUID_LEN");

#define KEY_WIPE	"key wipe"	/* dm-crypt's message, accepted while suspended */

/*
 * libdevmapper's messages.  While one of our calls runs they are details of
 * ours (its errors at info level, our summary is the error; quiet: all at
 * debug level); between our calls only at debug level (dm.h, Threads).
 */
static bool quiet;

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
	if (strncmp(msg, "<backtrace>", 11) == 0)
		return;		/* its stack trace: no news */
	if (!quiet && (level & 7) <= 3)		/* _LOG_ERR and worse */
		log_info("libdevmapper: %s", msg);
	else
		log_debug("libdevmapper: %s", msg);
}

static void call_begin(bool q)
{
	quiet = q;
	dm_log_with_errno_init(dm_log);
}

/*
 * Close the control descriptor, run pending node updates.  Our log function
 * stays, quiet: libdevmapper's default printer is no state to go back to,
 * because libcryptsetup raises libdevmapper's verbosity for as long as a
 * crypt_device exists, and the default printer would then put every debug
 * line on stdout (into `status --json`).  libcryptsetup installs its own
 * function again when it next starts from no crypt_device, and the default
 * (with the verbosity back at 0) when its last one is freed.
 */
static void call_end(void)
{
	dm_lib_release();
	quiet = true;
}

static int check_name(const char *name)
{
	if (!name || !*name || strchr(name, '/') || strlen(name) >= DMAP_NAME_MAX)
		return log_error_errno(-EINVAL, "'%s' is not a device-mapper mapping name "
				       "(as in /dev/mapper/NAME)", name ? name : "");
	return 0;
}

/*
 * A task on the mapping name (NULL: none).  NULL if out of memory, or if
 * libdevmapper's check of the driver failed (made once per process, then
 * remembered: a driver loaded later is not seen by this process).
 */
static struct dm_task *task(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);

	if (dmt && name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		dmt = NULL;
	}
	return dmt;
}

/* Why task() gave no task, logged: `what` of the mapping name (NULL: none). */
static int no_task(const char *name, const char *what)
{
	char version[64];

	if (!dm_driver_version(version, sizeof(version)))
		return log_error_errno(-EIO, "%s%sdevice-mapper %s: device-mapper is not available "
				       "(no driver answers)", name ? name : "", name ? ": " : "",
				       what);
	return log_error_errno(-ENOMEM, "%s%sdevice-mapper %s: out of memory", name ? name : "",
			       name ? ": " : "", what);
}

/* Run a task: 0, or the errno of its ioctl (-EIO if it did not get that far). */
static int run(struct dm_task *dmt)
{
	int e;

	if (dm_task_run(dmt))
		return 0;
	e = dm_task_get_errno(dmt);
	return e > 0 ? -e : -EIO;
}

/* One task without results on the mapping name, its failure logged as `what`. */
static int simple(int type, const char *name, const char *what)
{
	struct dm_task *dmt = task(type, name);
	int r;

	if (!dmt)
		return no_task(name, what);
	r = run(dmt);
	dm_task_destroy(dmt);
	if (r < 0)
		log_error_errno(r, "%s: device-mapper %s failed: %s", name, what, strerror(-r));
	return r;
}

const char *dmap_state_name(enum dmap_state s)
{
	switch (s) {
	case DMAP_ACTIVE:
		return "active";
	case DMAP_SUSPENDED:
		return "suspended";
	case DMAP_ERROR:
		return "error";
	case DMAP_ABSENT:
		return "absent";
	}
	return "unknown";
}

/*
 * A UUID as 32 hex digits, with the dashes of the 8-4-4-4-12 form (dashed)
 * or none, into out in lower case with its dashes.  The number of
 * characters read, or 0 if s does not start with one.
 */
static size_t uuid_canon(const char *s, bool dashed, char out[DMAP_LUKS_UUID_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	size_t i = 0, k;
	int v;

	for (k = 0; k < DMAP_LUKS_UUID_SIZE - 1; k++) {
		if (k == 8 || k == 13 || k == 18 || k == 23) {
			out[k] = '-';
			if (dashed && s[i++] != '-')
				return 0;
			continue;
		}
		v = hex_nibble(s[i]);
		if (v < 0)
			return 0;
		out[k] = digits[v];
		i++;
	}
	out[k] = '\0';
	return i;
}

int dmap_luks_uuid_parse(const char *dm_uuid, int *version, char luks_uuid[DMAP_LUKS_UUID_SIZE])
{
	static const char prefix[] = "CRYPT-LUKS";
	const char *p;
	size_t n;

	*version = 0;
	luks_uuid[0] = '\0';
	if (!dm_uuid || strncmp(dm_uuid, prefix, sizeof(prefix) - 1) != 0)
		return -EINVAL;
	p = dm_uuid + sizeof(prefix) - 1;
	if ((p[0] != '1' && p[0] != '2') || p[1] != '-')
		return -EINVAL;
	p += 2;
	/* libcryptsetup: "<uuid without dashes>-" when the header's UUID is valid, then the name. */
	n = uuid_canon(p, false, luks_uuid);
	if (n && p[n] == '-')
		p += n + 1;
	else
		luks_uuid[0] = '\0';
	if (!*p) {
		luks_uuid[0] = '\0';
		return -EINVAL;		/* no name: not one of libcryptsetup's */
	}
	*version = dm_uuid[sizeof(prefix) - 1] - '0';
	return 0;
}

/* dmap_query without the call's setup (dm.h). */
static int query(const char *name, struct dmap_mapping *m)
{
	struct dm_task *dmt;
	struct dm_info info;
	uint64_t start, length;
	char *type, *params;
	void *next = NULL;
	unsigned targets = 0, errors = 0;
	const char *uuid;
	int r;

	memset(m, 0, sizeof(*m));
	m->state = DMAP_ABSENT;
	snprintf(m->name, sizeof(m->name), "%s", name);
	/* Status, not table: a crypt table holds the key (dm.h). */
	dmt = task(DM_DEVICE_STATUS, name);
	if (!dmt)
		return no_task(name, "status");
	r = run(dmt);
	if (r == 0 && !dm_task_get_info(dmt, &info))
		r = -EIO;
	if (r < 0) {
		log_error_errno(r, "%s: the device-mapper status of the mapping cannot be read: %s",
				name, strerror(-r));
		goto out;
	}
	if (!info.exists)
		goto out;
	m->suspended = info.suspended;
	m->major = info.major;
	m->minor = info.minor;
	uuid = dm_task_get_uuid(dmt);
	snprintf(m->dm_uuid, sizeof(m->dm_uuid), "%s", uuid ? uuid : "");
	(void)dmap_luks_uuid_parse(m->dm_uuid, &m->luks_version, m->luks_uuid);
	do {
		next = dm_get_next_target(dmt, next, &start, &length, &type, &params);
		if (!type)
			break;		/* no live table */
		targets++;
		if (strcmp(type, "crypt") == 0)
			m->crypt_targets++;
		else if (strcmp(type, "error") == 0)
			errors++;
		if (start + length > m->sectors)
			m->sectors = start + length;
	} while (next);
	m->state = targets && errors == targets ? DMAP_ERROR :
		   info.suspended ? DMAP_SUSPENDED : DMAP_ACTIVE;
out:
	dm_task_destroy(dmt);
	return r;
}

bool dmap_available(void)
{
	char version[64];
	int ok;

	call_begin(true);
	ok = dm_driver_version(version, sizeof(version));
	call_end();
	if (ok)
		log_debug("device-mapper driver %s", version);
	else
		log_debug("device-mapper is not available: its driver does not answer");
	return ok;
}

int dmap_query(const char *name, struct dmap_mapping *m)
{
	int r = check_name(name);

	if (r < 0) {
		memset(m, 0, sizeof(*m));
		m->state = DMAP_ABSENT;
		return r;
	}
	call_begin(false);
	r = query(name, m);
	call_end();
	return r;
}

/* dmap_list_luks without the call's setup. */
static int list_luks(struct dmap_mapping **list, size_t *n)
{
	struct dm_task *dmt = task(DM_DEVICE_LIST, NULL);
	struct dmap_mapping *v = NULL, *grown, m;
	struct dm_names *names;
	size_t k = 0, cap = 0;
	unsigned next;
	int r;

	*list = NULL;
	*n = 0;
	if (!dmt)
		return no_task(NULL, "list");
	r = run(dmt);
	if (r < 0) {
		log_error_errno(r, "the device-mapper mappings cannot be listed: %s", strerror(-r));
		goto out;
	}
	/* Entries chain by byte offsets; an empty list is one entry with dev 0. */
	for (names = dm_task_get_names(dmt); names && names->dev;
	     names = next ? (struct dm_names *)((char *)names + next) : NULL) {
		next = names->next;
		if (strlen(names->name) >= DMAP_NAME_MAX)
			continue;
		r = query(names->name, &m);
		if (r < 0)
			goto out;
		if (m.state == DMAP_ABSENT || !m.luks_version)
			continue;	/* gone meanwhile, or not LUKS */
		if (k == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				r = log_error_errno(-ENOMEM, "device-mapper list: out of memory");
				goto out;
			}
			v = grown;
		}
		v[k++] = m;
	}
	*list = v;
	*n = k;
	v = NULL;
	r = 0;
out:
	free(v);
	dm_task_destroy(dmt);
	return r;
}

int dmap_list_luks(struct dmap_mapping **list, size_t *n)
{
	int r;

	call_begin(false);
	r = list_luks(list, n);
	call_end();
	return r;
}

int dmap_find_luks(const char *luks_uuid, struct dmap_mapping *m)
{
	char want[DMAP_LUKS_UUID_SIZE];
	struct dmap_mapping *v = NULL;
	size_t i, n = 0;
	int r;

	memset(m, 0, sizeof(*m));
	m->state = DMAP_ABSENT;
	if (!luks_uuid || uuid_canon(luks_uuid, true, want) != DMAP_LUKS_UUID_SIZE - 1 ||
	    luks_uuid[DMAP_LUKS_UUID_SIZE - 1])
		return -ENOENT;
	r = dmap_list_luks(&v, &n);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (i = 0; i < n && r < 0; i++)
		if (strcmp(v[i].luks_uuid, want) == 0) {
			*m = v[i];
			r = 0;
		}
	free(v);
	return r;
}

/* Send "key wipe" to every crypt target of the suspended mapping name. */
static int wipe_keys(const char *name)
{
	struct dm_task *dmt = task(DM_DEVICE_STATUS, name), *msg;
	uint64_t start, length;
	char *type, *params;
	void *next = NULL;
	int r, first = 0;

	if (!dmt)
		return no_task(name, "status");
	r = run(dmt);
	if (r < 0) {
		first = log_error_errno(r, "%s: the device-mapper status of the mapping cannot be "
					"read: %s", name, strerror(-r));
		goto out;
	}
	do {
		next = dm_get_next_target(dmt, next, &start, &length, &type, &params);
		if (!type || strcmp(type, "crypt") != 0)
			continue;
		msg = task(DM_DEVICE_TARGET_MSG, name);
		r = msg && dm_task_set_sector(msg, start) && dm_task_set_message(msg, KEY_WIPE) ?
		    run(msg) : -ENOMEM;
		if (msg)
			dm_task_destroy(msg);
		if (r < 0) {
			log_error_errno(r, "%s: dm-crypt '" KEY_WIPE "' of the target at sector %llu "
					"failed: %s", name, (unsigned long long)start, strerror(-r));
			first = first ? first : r;
		}
	} while (next);
out:
	dm_task_destroy(dmt);
	return first;
}

/* Freeze I/O, unless m is suspended already. */
static int freeze(const struct dmap_mapping *m)
{
	return m->suspended ? 0 : simple(DM_DEVICE_SUSPEND, m->name, "suspend");
}

/* Wipe the keys of m, frozen now, and say so. */
static int wipe(const struct dmap_mapping *m)
{
	int r = wipe_keys(m->name);

	if (r < 0)
		log_error("%s: the mapping is suspended (I/O frozen), but its volume key may still "
			  "be in the kernel", m->name);
	else
		log_info(m->suspended ? "%s: already suspended; volume key wiped from the kernel" :
			 "%s: suspended, volume key wiped from the kernel", m->name);
	return r;
}

/* Resume name, making its nodes ourselves: nobody may wait for udev here (early boot, a daemon). */
static int resume(const char *name, const char *what)
{
	int sync = dm_udev_get_sync_support(), r;

	dm_udev_set_sync_support(0);
	r = simple(DM_DEVICE_RESUME, name, what);
	dm_udev_set_sync_support(sync);
	return r;
}

/* The mapping must be there and, unless closed already, be dm-crypt. */
static int lockable(const char *name, struct dmap_mapping *m)
{
	int r = query(name, m);

	if (r < 0)
		return r;
	if (m->state == DMAP_ABSENT)
		return log_error_errno(-ENODEV, "%s: no such device-mapper mapping", name);
	if (m->state != DMAP_ERROR && !m->crypt_targets)
		return log_error_errno(-EINVAL, "%s: not a dm-crypt mapping (its table has no "
				       "crypt target)", name);
	return 0;
}

/* A lock action on a mapping that lockable() accepted, between call_begin() and call_end(). */
static int lock_run(const char *name, int (*act)(const char *name, struct dmap_mapping *m))
{
	struct dmap_mapping m;
	int r = check_name(name);

	if (r < 0)
		return r;
	call_begin(false);
	r = lockable(name, &m);
	if (r == 0)
		r = act(name, &m);
	call_end();
	return r;
}

static int suspend_act(const char *name, struct dmap_mapping *m)
{
	int r;

	if (m->state == DMAP_ERROR) {
		log_info("%s: already closed (an error target, no key): nothing to suspend", name);
		return 0;
	}
	r = freeze(m);
	return r < 0 ? r : wipe(m);
}

int dmap_suspend(const char *name)
{
	return lock_run(name, suspend_act);
}

/* Load an error target of m's size as the inactive table (swapped in by the next resume). */
static int load_error_table(const struct dmap_mapping *m)
{
	struct dm_task *dmt = task(DM_DEVICE_RELOAD, m->name);
	int r;

	if (!dmt || !dm_task_add_target(dmt, 0, m->sectors, "error", "")) {
		r = log_error_errno(-ENOMEM, "%s: device-mapper load of an error table: out of "
				    "memory", m->name);
		goto out;
	}
	r = run(dmt);
	if (r < 0)
		log_error_errno(r, "%s: device-mapper load of an error table failed: %s", m->name,
				strerror(-r));
out:
	if (dmt)
		dm_task_destroy(dmt);
	return r;
}

/*
 * The close lock, in the order device-mapper swaps tables: load the error
 * table beside the live one (so that no table is loaded into a device we
 * froze), freeze, wipe the keys, resume on the error table.  Fail closed: a
 * failed load still freezes and wipes; a failed wipe still swaps (the crypt
 * table and its key are destroyed with it).
 */
static int close_crypt(const struct dmap_mapping *m)
{
	int loaded = load_error_table(m), r;

	r = freeze(m);
	if (r < 0) {
		/* Still running: drop the error table, or any later resume would swap it in. */
		if (loaded == 0)
			(void)simple(DM_DEVICE_CLEAR, m->name, "clear of the inactive error table");
		return r;
	}
	(void)wipe(m);
	if (loaded < 0) {
		log_error("%s: its table could not be replaced by an error target", m->name);
		return loaded;
	}
	r = resume(m->name, "resume on the error table");
	if (r < 0) {
		log_error("%s: the mapping stays suspended (I/O frozen) with an error table "
			  "loaded but not live", m->name);
		return r;
	}
	log_info("%s: table replaced by an error target: every I/O fails", m->name);
	return 0;
}

static int close_act(const char *name, struct dmap_mapping *m)
{
	int r = 0;

	if (m->state != DMAP_ERROR)
		r = close_crypt(m);
	else if (!m->suspended)
		log_info("%s: already closed (an error target: every I/O fails)", name);
	else if ((r = resume(name, "resume on the error table")) == 0)
		log_info("%s: already closed, but suspended: resumed, every I/O fails", name);
	return r;
}

int dmap_close(const char *name)
{
	return lock_run(name, close_act);
}
