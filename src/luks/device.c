/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LUKS2 devices through libcryptsetup: open, tokens, keyslots, error reporting. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>
#include <json-c/json.h>

#include "luks/luks_internal.h"
#include "luks/token.h"
#include "util/file.h"
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

/* LUKS2's binary header; a LUKS1 header with its key material is larger. */
#define DEV_LUKS_MIN_SIZE 4096

/* Can a file of this mode hold a LUKS volume? */
static bool dev_usable_mode(mode_t mode)
{
	return S_ISBLK(mode) || S_ISREG(mode);
}

/*
 * Is device a block device or an image file that can be read?  Asked before
 * libcryptsetup is, because it says "Block device required" for a missing
 * file or a directory, and its open() of a FIFO blocks for ever.  stat()
 * first, so that no character device or FIFO is ever opened; then the open
 * libcryptsetup will do, non-blocking, and fstat() of what was opened, in
 * case the path was replaced in between.  Logged; 0 or -ELUKS.
 */
static int dev_check_file(const char *device)
{
	const char *kind;
	struct stat st;
	int fd = -1, r = -ELUKS, err;

	if (stat(device, &st) < 0)
		goto fail_errno;
	if (!dev_usable_mode(st.st_mode))
		goto fail_kind;
	fd = open(device, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail_errno;
	if (!dev_usable_mode(st.st_mode))
		goto fail_kind;
	/* libcryptsetup would say "Input/output error" of a short read */
	if (S_ISREG(st.st_mode) && st.st_size < DEV_LUKS_MIN_SIZE) {
		log_error("%s: not a LUKS volume: %lld bytes, too small for a LUKS header", device,
			  (long long)st.st_size);
		goto out;
	}
	r = 0;
	goto out;
fail_errno:
	err = errno;	/* of the stat(), open() or fstat() that jumped here */
	log_error("%s: cannot open the device: %s%s", device, strerror(err),
		  err == ENOENT ? "; check the path ('lsblk -f' lists the block devices)" :
		  err == EACCES ? " (root needed?)" : "");
	goto out;
fail_kind:
	kind = file_kind(st.st_mode);	/* "a FIFO (named pipe)", ... or "not a regular file" */
	log_error("%s: %s%s; a LUKS2 volume is a block device or an image file", device,
		  strncmp(kind, "not ", 4) ? "is " : "", kind);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int luks_dev_open(const char *device, struct crypt_device **out)
{
	struct crypt_device *cd = NULL;
	const char *type;
	int r;

	*out = NULL;
	r = dev_check_file(device);
	if (r < 0)
		return r;
	r = crypt_init(&cd, device);
	if (r < 0) {
		log_error("%s: cannot open the device: %s", device, strerror(-r));
		return -ELUKS;
	}
	luks_dev_log_to_ours(cd);
	r = crypt_load(cd, NULL, NULL);
	if (r == -EINVAL) {
		log_error("%s: not a LUKS volume: no valid LUKS header on it ('blkid %s' says what "
			  "it holds; -v shows libcryptsetup's reason)", device, device);
		crypt_free(cd);
		return -ELUKS;
	}
	if (r < 0) {
		log_error("%s: cannot read the LUKS header: %s", device, strerror(-r));
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

int luks_uuid_name(const char *uuid, char *buf, size_t len)
{
	size_t i;

	/* From the header: hostile input, and a device-mapper name must stay a plain name. */
	for (i = 0; uuid && uuid[i] && (isxdigit((unsigned char)uuid[i]) || uuid[i] == '-'); i++)
		;
	if (!uuid || !uuid[0] || uuid[i] || i > 64)
		return -EINVAL;
	return snprintf(buf, len, "luks-%s", uuid) >= (int)len ? -ENAMETOOLONG : 0;
}

int luks_default_name(const char *device, char *buf, size_t len)
{
	struct crypt_device *cd = NULL;
	int r;

	r = luks_dev_open(device, &cd);
	if (r < 0)
		return r;
	r = luks_uuid_name(crypt_get_uuid(cd), buf, len);
	if (r == -EINVAL)
		r = log_error_errno(-ELUKS, "%s: the LUKS2 UUID is not hex digits and dashes, so it "
				    "makes no mapping name; give NAME", device);
	crypt_free(cd);
	return r;
}

int luks_tokens_of_type(struct crypt_device *cd, const char *want, int *ids, int max)
{
	int i, n = 0, tmax = crypt_token_max(CRYPT_LUKS2);
	const char *type;

	if (tmax <= 0)
		tmax = 32;
	for (i = 0; i < tmax && n < max; i++) {
		crypt_token_info ti = crypt_token_status(cd, i, &type);

		/* Exactly the type: "kmip-rotation" is not a "kmip" token. */
		if ((ti == CRYPT_TOKEN_EXTERNAL || ti == CRYPT_TOKEN_EXTERNAL_UNKNOWN) &&
		    type && strcmp(type, want) == 0)
			ids[n++] = i;
	}
	return n;
}

int luks_kmip_tokens(struct crypt_device *cd, int *ids, int max)
{
	return luks_tokens_of_type(cd, KMIP_TOKEN_TYPE, ids, max);
}

int luks_rotation_read(struct crypt_device *cd, const char *device, int id, struct kmip_rotation *r)
{
	char where[512];
	const char *json = NULL;
	int ret;

	snprintf(where, sizeof(where), "%s token %d", device, id);
	ret = crypt_token_json_get(cd, id, &json);
	if (ret < 0 || !json) {
		log_error("%s: cannot read the token: %s", where, strerror(ret < 0 ? -ret : ENOENT));
		return -ENOENT;
	}
	return kmip_rotation_parse(json, strnlen(json, KMIP_TOKEN_JSON_MAX + 1), where, r) < 0 ?
	       -EINVAL : 0;
}

/* The "token" member of a rotation token that does not parse, as it reads: -1 if it does not. */
static int rotation_token_member(struct crypt_device *cd, int id)
{
	const char *json = NULL;
	json_object *root, *t;
	int v = -1;

	if (crypt_token_json_get(cd, id, &json) < 0 || !json)
		return -1;
	root = json_tokener_parse(json);
	if (root && json_object_object_get_ex(root, "token", &t)) {
		const char *s = json_object_get_string(t);	/* a number reads as text too */
		char *end = NULL;
		long x = s ? strtol(s, &end, 10) : -1;

		if (s && *s && end && !*end && x >= 0 && x < 32)
			v = (int)x;
	}
	json_object_put(root);
	return v;
}

int luks_rotation_of(struct crypt_device *cd, const char *device, int token, int *rid,
		     struct kmip_rotation *r)
{
	int ids[32], n = luks_tokens_of_type(cd, KMIP_ROTATION_TOKEN_TYPE, ids, 32), i, found = -1;
	struct kmip_rotation x;
	int ret = -ENOENT, t;

	for (i = 0; i < n; i++) {
		if (luks_rotation_read(cd, device, ids[i], &x) == 0) {
			if (x.token != token)
				continue;
		} else {
			t = rotation_token_member(cd, ids[i]);
			if (t >= 0 && t != token)
				continue;
			*rid = ids[i];
			return -EINVAL;
		}
		if (found >= 0) {
			*rid = ids[i];
			explicit_bzero(&x, sizeof(x));
			return -EEXIST;
		}
		found = ids[i];
		if (r)
			*r = x;
		ret = 0;
	}
	if (found >= 0)
		*rid = found;
	explicit_bzero(&x, sizeof(x));
	return ret;
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
	/* What an AES-GCM envelope authenticates (token.h). */
	snprintf(t->volume_uuid, sizeof(t->volume_uuid), "%s", crypt_get_uuid(cd) ? crypt_get_uuid(cd) : "");
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
