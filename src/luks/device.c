/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LUKS2 devices through libcryptsetup: open, tokens, keyslots, error reporting. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* secure_getenv */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks/luks_internal.h"
#include "luks/token.h"
#include "util/log.h"

/* libcryptsetup's own lines: details under ours (shown with -v / -vv). */
static void crypt_log_cb(int level, const char *msg, void *usrptr)
{
	size_t n = strlen(msg);

	(void)usrptr;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (n == 0)
		return;
	switch (level) {
	case CRYPT_LOG_ERROR:
		log_info("libcryptsetup: %.*s", (int)n, msg);
		break;
	case CRYPT_LOG_DEBUG:
	case CRYPT_LOG_DEBUG_JSON:
		break;
	default:
		log_debug("libcryptsetup: %.*s", (int)n, msg);
		break;
	}
}

void luks_dev_log_to_ours(struct crypt_device *cd)
{
	crypt_set_log_callback(cd, crypt_log_cb, NULL);
}

void luks_log_setup(void)
{
	crypt_set_log_callback(NULL, crypt_log_cb, NULL);
}

int luks_crypt_fail(int r, const char *device, const char *what)
{
	const char *hint = "";

	switch (r) {
	case -EOPNOTSUPP:
		hint = "; device-mapper is not available on this system (no dm-mod/dm-crypt "
		       "in the kernel, or /dev/mapper/control missing)";
		break;
	case -EPERM:
		hint = "; the secret does not unlock that keyslot";
		break;
	case -EBUSY:
		hint = "; the device or the mapping name is in use";
		break;
	case -EEXIST:
		hint = "; a mapping of that name exists already";
		break;
	case -ENOENT:
		hint = "; no such keyslot, token or mapping";
		break;
	case -EACCES:
		hint = "; permission denied (root needed?)";
		break;
	default:
		break;
	}
	log_error("%s: %s failed: %s (libcryptsetup error %d)%s", device, what,
		  strerror(r < 0 ? -r : r), r, hint);
	return -ELUKS;
}

int luks_dev_open(const char *device, struct crypt_device **out)
{
	struct crypt_device *cd = NULL;
	const char *type;
	int r;

	*out = NULL;
	r = crypt_init(&cd, device);
	if (r < 0) {
		log_error("%s: cannot open the device: %s", device, strerror(-r));
		return -ELUKS;
	}
	luks_dev_log_to_ours(cd);
	r = crypt_load(cd, NULL, NULL);
	if (r < 0) {
		log_error("%s: not a LUKS volume, or its header cannot be read (%s)", device,
			  strerror(-r));
		crypt_free(cd);
		return -ELUKS;
	}
	type = crypt_get_type(cd);
	if (!type || strcmp(type, CRYPT_LUKS2) != 0) {
		log_error("%s: a %s volume; kmip tokens need LUKS2 (convert with "
			  "'cryptsetup convert --type luks2 %s')", device, type ? type : "non-LUKS",
			  device);
		crypt_free(cd);
		return -ELUKS;
	}
	*out = cd;
	return 0;
}

int luks_kmip_tokens(struct crypt_device *cd, int *ids, int max)
{
	int i, n = 0, tmax = crypt_token_max(CRYPT_LUKS2);
	const char *type;

	if (tmax <= 0)
		tmax = 32;
	for (i = 0; i < tmax && n < max; i++) {
		crypt_token_info ti = crypt_token_status(cd, i, &type);

		if ((ti == CRYPT_TOKEN_EXTERNAL || ti == CRYPT_TOKEN_EXTERNAL_UNKNOWN) &&
		    type && strcmp(type, KMIP_TOKEN_TYPE) == 0)
			ids[n++] = i;
	}
	return n;
}

int luks_token_read(struct crypt_device *cd, const char *device, int id, struct kmip_token *t)
{
	char where[512];
	const char *json = NULL;
	int r;

	snprintf(where, sizeof(where), "%s token %d", device, id);
	r = crypt_token_json_get(cd, id, &json);
	if (r < 0 || !json) {
		log_error("%s: cannot read the token: %s", where, strerror(r < 0 ? -r : ENOENT));
		return -ENOENT;
	}
	r = kmip_token_parse(json, strnlen(json, KMIP_TOKEN_JSON_MAX + 1), where, t);
	if (r < 0)
		return -EINVAL;
	/* The token's own keyslots list must agree with libcryptsetup's assignment. */
	if (crypt_token_is_assigned(cd, id, t->keyslot) != 0) {
		log_error("%s: invalid kmip token: keyslot %d is not assigned to it", where,
			  t->keyslot);
		return -EINVAL;
	}
	return 0;
}

int luks_bound_keyslots(struct crypt_device *cd, int except)
{
	int i, n = 0, max = crypt_keyslot_max(CRYPT_LUKS2);

	for (i = 0; i < max; i++) {
		crypt_keyslot_info ki = crypt_keyslot_status(cd, i);

		if (i != except && (ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST))
			n++;
	}
	return n;
}

int luks_token_keyslot(struct crypt_device *cd, int id)
{
	int i, max = crypt_keyslot_max(CRYPT_LUKS2);

	for (i = 0; i < max; i++)
		if (crypt_token_is_assigned(cd, id, i) == 0)
			return i;
	return -1;
}

bool luks_fail_at(const char *step)
{
	const char *v = secure_getenv(LUKS_FAIL_AT_ENV);

	if (!v || strcmp(v, step) != 0)
		return false;
	log_warn("test hook %s=%s: injecting a failure at step '%s'", LUKS_FAIL_AT_ENV, v, step);
	return true;
}

void luks_fail_at_check(const char *const *steps)
{
	const char *v = secure_getenv(LUKS_FAIL_AT_ENV);
	size_t i;

	if (!v)
		return;
	for (i = 0; steps[i]; i++)
		if (strcmp(v, steps[i]) == 0) {
			log_warn("test hook %s=%s is set: this run will fail at that step",
				 LUKS_FAIL_AT_ENV, v);
			return;
		}
	log_warn("test hook %s=%s names no step of this command; ignored", LUKS_FAIL_AT_ENV, v);
}
