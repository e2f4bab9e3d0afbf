/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the files of src/luks; not a public interface. */
#ifndef KMIPCRYPT_LUKS_INTERNAL_H
#define KMIPCRYPT_LUKS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <libcryptsetup.h>

#include "luks/luks.h"

struct config;
struct config_group;
struct kmip_client;

/* device.c ----------------------------------------------------------- */

/*
 * crypt_init + crypt_load(LUKS2), libcryptsetup's messages routed to our
 * log (its errors at info level: we log our own summary as the error).
 * A LUKS1 or non-LUKS device, or one that cannot be read: logged, -ELUKS.
 */
int luks_dev_open(const char *device, struct crypt_device **cd);
void luks_dev_log_to_ours(struct crypt_device *cd);

/*
 * Log a libcryptsetup failure r of `what` on device (with its errno and a
 * hint for the usual causes: wrong passphrase, no device-mapper, busy) and
 * return -ELUKS.
 */
int luks_crypt_fail(int r, const char *device, const char *what);

/* Token ids of type "kmip", in order.  Returns the count (<= max). */
int luks_kmip_tokens(struct crypt_device *cd, int *ids, int max);
/* Read and strictly parse one token; logged errors.  -EINVAL invalid, -ENOENT none. */
int luks_token_read(struct crypt_device *cd, const char *device, int id, struct kmip_token *t);

/* Keyslots bound to the volume's segment (ACTIVE or ACTIVE_LAST), except `except` (-1: none). */
int luks_bound_keyslots(struct crypt_device *cd, int except);
/* The keyslot the LUKS2 metadata assigns to token id, or -1 (first one). */
int luks_token_keyslot(struct crypt_device *cd, int id);

/* Is device-mapper usable here (/dev/mapper/control)? */
bool luks_dm_available(void);

/* Test hook: is KMIPCRYPT_FAIL_AT set to step?  Logs that the failure is injected. */
bool luks_fail_at(const char *step);
/* Say at once that KMIPCRYPT_FAIL_AT is set, and whether it names one of steps (NULL-ended). */
void luks_fail_at_check(const char *const *steps);

/* fetch.c ------------------------------------------------------------ */

/*
 * The key's State (and Object Type) on the server: 0 if Active and of the
 * type the kind needs, else the errno of luks.h with the reason logged.
 * *state gets the State if the server answered (0 otherwise).
 */
int luks_check_key(struct kmip_client *c, const struct kmip_token *t, int *state);

/* The KEK file: 16, 24 or 32 bytes, regular, not accessible to "other". */
int luks_read_kek(const char *path, uint8_t **kek, size_t *len);

#endif
