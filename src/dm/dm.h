/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device-mapper, the one module that speaks to it (through libdevmapper):
 * is it there, what state a mapping is in, which mappings belong to which
 * LUKS volume, and the two locks that kmipcrypt lock and the daemon apply
 * to a dm-crypt mapping when its key is revoked:
 *
 *   suspend  I/O frozen (the file system is flushed and frozen first; I/O
 *            issued afterwards queues, nothing is lost), then the volume key
 *            wiped from the kernel (dm-crypt's "key wipe" message), as
 *            cryptsetup luksSuspend does.  Resumable with the key
 *            (crypt_resume_by_*(), cryptsetup luksResume).
 *   close    the mapping's table replaced by an `error` target of the same
 *            size (loaded beside the live table, swapped in by a suspend,
 *            key wipe, resume): every queued and further I/O fails, the old
 *            table and its key are gone.  The mapping itself stays (a mounted
 *            file system cannot be removed under its users); cryptsetup
 *            close or dmsetup remove it after unmounting.
 *
 * Both are idempotent: a mapping already suspended gets its key wiped
 * again (whoever suspended it), one already closed is left as it is (or
 * resumed, if it was left suspended on its error table, so that its I/O
 * fails instead of hanging).  Both fail closed: a step that fails leaves the
 * mapping at least as locked as it was (never resumed on its crypt table).
 *
 * No LUKS here (no header is read): a LUKS mapping is recognised by the
 * device-mapper UUID libcryptsetup gives it, "CRYPT-LUKS2-<uuid without
 * dashes>-<name>" (LUKS1 alike).  A crypt table is never read (it holds
 * the key in hex unless the key is in the kernel keyring): the state comes
 * from the mapping's status, which names only the target types.
 *
 * Errors: negative errno, logged (naming the mapping and the step) unless
 * said otherwise.  -EINVAL a name that cannot be a mapping name, or a
 * mapping that is not dm-crypt; -ENODEV no such mapping (suspend, close);
 * -ENOMEM; otherwise the errno of the failed device-mapper ioctl (-EBUSY,
 * -ENXIO...), or -EIO when libdevmapper did not get as far as the ioctl
 * (no driver: see dmap_available()).  libdevmapper's own messages go to our
 * log at info level (its errors: our summary is the error) or debug level.
 *
 * Threads and process state: libdevmapper keeps per-process state (its
 * log function, the control descriptor, the udev setting, its check of the
 * driver, made once), so these functions are not thread-safe: call them
 * from one thread (the CLI; the daemon's locker).  Each call leaves no
 * descriptor open and the udev setting as it found it.  It installs its
 * own libdevmapper log function and leaves it installed, at debug level,
 * for the libdevmapper messages of others (libcryptsetup), because the
 * function it replaced cannot be read back (dm.c, call_end()).  So not
 * for the token plugin, which runs inside cryptsetup's process.
 */
#ifndef KMIPCRYPT_DM_H
#define KMIPCRYPT_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMAP_NAME_MAX		128	/* bytes of a mapping name with its NUL (DM_NAME_LEN) */
#define DMAP_UUID_MAX		129	/* bytes of a device-mapper UUID with its NUL (DM_UUID_LEN) */
#define DMAP_LUKS_UUID_SIZE	37	/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL */

/* A mapping, as the locks leave it (the values are those of the JSON status). */
enum dmap_state {
	DMAP_ACTIVE = 0,	/* a live table, I/O running */
	DMAP_SUSPENDED,		/* I/O frozen (by the suspend lock: the key wiped too) */
	DMAP_ERROR,		/* its live table is an error target: every I/O fails (close) */
	DMAP_ABSENT,		/* no such mapping */
};
/* "active", "suspended", "error", "absent" ("unknown" for another value). */
const char *dmap_state_name(enum dmap_state s);

struct dmap_mapping {
	char name[DMAP_NAME_MAX];
	enum dmap_state state;
	bool suspended;			/* I/O frozen (also in state DMAP_ERROR) */
	uint32_t major, minor;		/* the mapping's block device */
	uint64_t sectors;		/* size of its live table, 512-byte sectors */
	unsigned crypt_targets;		/* targets of type crypt in the live table */
	char dm_uuid[DMAP_UUID_MAX];	/* "" if it has none */
	/*
	 * From dm_uuid (dmap_luks_uuid_parse): 1 or 2 for a LUKS mapping made
	 * by libcryptsetup, else 0; its volume's UUID, lower case, "" when the
	 * device-mapper UUID carries none (libcryptsetup leaves it out when
	 * the header's UUID is not a valid UUID).
	 */
	int luks_version;
	char luks_uuid[DMAP_LUKS_UUID_SIZE];
};

/*
 * Does the device-mapper driver answer here (a version query through
 * libdevmapper)?  Not only whether /dev/mapper/control exists: a static node
 * may be there without the driver (as in the lab's kernel).  Quiet: its
 * failure is logged at debug level only.  libdevmapper creates
 * /dev/mapper/control if it is missing (as for any of its calls), and asks
 * the driver once per process: a driver loaded later is not seen.
 */
bool dmap_available(void);

/*
 * The mapping name (as in /dev/mapper/NAME): *m filled, 0.  A name that does
 * not exist is no error: state DMAP_ABSENT, the rest zero.  -EINVAL for a
 * name that cannot be one (empty, a '/', DMAP_NAME_MAX bytes or more).
 */
int dmap_query(const char *name, struct dmap_mapping *m);

/*
 * Every LUKS mapping open now (luks_version != 0), in the kernel's order.
 * *list is allocated (free(); NULL when *n is 0).  Mappings that go away
 * while the list is made are left out.
 */
int dmap_list_luks(struct dmap_mapping **list, size_t *n);

/*
 * The first LUKS mapping of the volume whose LUKS UUID is luks_uuid (any
 * case, with its dashes, as in the header): *m filled, 0; -ENOENT if none
 * (not logged; also for a luks_uuid that is no valid UUID: no mapping can
 * carry it).
 */
int dmap_find_luks(const char *luks_uuid, struct dmap_mapping *m);

/*
 * The locks (see the top).  The mapping must exist (-ENODEV) and, unless it
 * is closed already, hold a crypt target (-EINVAL); each crypt target's key
 * is wiped.  What was done is logged at info level ("NAME: suspended,
 * volume key wiped from the kernel"; "NAME: table replaced by an error
 * target: every I/O fails").  A failure says in what state the mapping was
 * left.  The caller decides whether the mapping may be locked (e.g. that
 * it is a LUKS one); these only check what device-mapper needs.
 */
int dmap_suspend(const char *name);
int dmap_close(const char *name);

/*
 * Pure (tests): a device-mapper UUID of a LUKS mapping, "CRYPT-LUKS1-" or
 * "CRYPT-LUKS2-", then optionally 32 hex digits and '-' (the volume's UUID
 * without its dashes), then the name.  0 and *version 1 or 2, luks_uuid
 * the volume's UUID in lower case with its dashes (or "" if the UUID part
 * is missing); -EINVAL for any other device-mapper UUID (another target or
 * owner, libcryptsetup's CRYPT-TEMP- and CRYPT-SUBDEV- helpers, NULL).
 */
int dmap_luks_uuid_parse(const char *dm_uuid, int *version,
			 char luks_uuid[DMAP_LUKS_UUID_SIZE]);

#endif
