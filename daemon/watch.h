/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The watch list: every open dm-crypt mapping of a LUKS volume whose header
 * has a kmip token, with the keys (UID, server group) of its valid kmip
 * tokens.  Made by the locker (root): it reads device-mapper and the local
 * LUKS2 headers (through libcryptsetup and luks_status_read(), which check
 * them as hostile input), never the network.
 */
#ifndef KMIPCRYPTD_WATCH_H
#define KMIPCRYPTD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "daemon/policy.h"
#include "dm/dm.h"
#include "kmip/kmip.h"

#define WATCH_KEYS_MAX		8	/* kmip tokens watched per volume */
#define WATCH_DEVICE_MAX	4096

struct watch_key {
	int token_id;
	char uid[KMIP_UID_SIZE];
	char group[CONFIG_NAME_MAX];
};

struct volume {
	char name[DMAP_NAME_MAX];		/* the mapping, /dev/mapper/NAME */
	char *device;				/* the LUKS2 device under it (owned) */
	size_t nkeys;				/* 1..WATCH_KEYS_MAX */
	struct watch_key *keys;			/* nkeys of them (owned) */
	/* The locker's view, carried across rescans (watch_carry()). */
	bool seen;				/* a verdict came for it */
	enum verdict verdict;
	enum rule rule;
	uint32_t key;				/* index of the deciding key */
	int state, err;
	int64_t verdict_ms;			/* clock_now_ms() of the last verdict */
	bool locked;				/* an action was taken for its revocation */
	int64_t locked_ms;
};

struct watch_list {
	struct volume *v;
	size_t n, cap;
};

/*
 * Scan.  test_volumes NULL: the open LUKS mappings (dm/dm.h), those whose
 * header carries at least one valid kmip token.  test_volumes a file (a
 * test seam for machines without device-mapper): lines "NAME DEVICE", each
 * volume treated as open under NAME.  0 and *out (watch_list_free()), or
 * negative errno (logged); a volume that cannot be read is left out (logged
 * at debug level: it may have closed meanwhile).
 */
int watch_scan(const char *test_volumes, struct watch_list *out);
/*
 * A test seam for the bench (bench/daemon.sh): lines "NAME GROUP UID", each
 * a volume NAME of one key, no header read, device "-".
 */
int watch_keys_file(const char *path, struct watch_list *out);
/*
 * Does v's header still have a valid kmip token of key uid?  Read again
 * now (luks_status_read(): the header as hostile input): 1 yes, 0 no (a
 * rekey, a reencryption or an unbind has changed the header since v was
 * watched), negative errno when the header cannot be read (not logged) or
 * v has none (watch_keys_file(): -ENOENT).
 */
int watch_names_key(const struct volume *v, const char *uid);
void watch_list_free(struct watch_list *l);
/* Same mapping name, device and keys (UID and group, in order)? */
bool watch_same(const struct volume *a, const struct volume *b);
/* The locker's view of each volume of old kept in new (watch_same()). */
void watch_carry(struct watch_list *new_list, const struct watch_list *old);
/* The volume named name, or NULL. */
struct volume *watch_find(struct watch_list *l, const char *name);

#endif
