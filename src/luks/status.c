/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What is known about a kmip-bound volume: tokens, keys' State, open mapping. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "util/log.h"

/* One line of a sysfs file, without the newline. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	n = strcspn(buf, "\n");
	buf[n] = '\0';
	return 0;
}

/*
 * Not just /dev/mapper/control (a static node may exist without the driver,
 * as in the lab's kernel): ask the driver for its version.
 */
bool luks_dm_available(void)
{
	struct dm_ioctl dmi;
	int fd, r;

	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	memset(&dmi, 0, sizeof(dmi));
	dmi.version[0] = DM_VERSION_MAJOR;
	dmi.data_size = sizeof(dmi);
	r = ioctl(fd, DM_VERSION, &dmi);
	close(fd);
	return r == 0;
}

/*
 * A dm-crypt mapping of this LUKS2 volume: libcryptsetup names its
 * device-mapper UUID "CRYPT-LUKS2-<uuid without dashes>-<name>".
 */
static bool find_mapping(const char *uuid, char *name, size_t len)
{
	char prefix[80], path[300], dmuuid[256];
	struct dirent *de;
	size_t i, k = 0;
	bool found = false;
	DIR *d;

	k = (size_t)snprintf(prefix, sizeof(prefix), "CRYPT-LUKS2-");
	for (i = 0; uuid[i] && k + 2 < sizeof(prefix); i++)
		if (uuid[i] != '-')
			prefix[k++] = uuid[i];
	prefix[k++] = '-';
	prefix[k] = '\0';
	d = opendir("/sys/block");
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (strncmp(de->d_name, "dm-", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/uuid", de->d_name);
		if (read_line(path, dmuuid, sizeof(dmuuid)) < 0 || strncmp(dmuuid, prefix, k) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name", de->d_name);
		if (read_line(path, name, len) == 0)
			found = true;
	}
	closedir(d);
	return found;
}

int luks_status(const char *device, const char *name, struct config *cfg, unsigned deadline_ms,
		struct luks_status *out)
{
	struct crypt_device *cd = NULL;
	int ids[LUKS_STATUS_TOKENS_MAX], n, i, r;
	int64_t deadline = luks_now_ms() + (deadline_ms ? deadline_ms : LUKS_DEADLINE_MS_DEFAULT);
	const char *uuid;

	memset(out, 0, sizeof(*out));
	r = luks_dev_open(device, &cd);
	if (r < 0)
		return r;
	uuid = crypt_get_uuid(cd);
	snprintf(out->uuid, sizeof(out->uuid), "%s", uuid ? uuid : "");
	n = luks_kmip_tokens(cd, ids, LUKS_STATUS_TOKENS_MAX);
	out->n_tokens = (size_t)n;
	for (i = 0; i < n; i++) {
		struct luks_token_status *ts = &out->tokens[i];
		struct luks_conn *conn = NULL;
		struct kmip_attrs a;

		ts->token_id = ids[i];
		ts->keyslot = luks_token_keyslot(cd, ids[i]);
		ts->parse_err = luks_token_read(cd, device, ids[i], &ts->t);
		if (ts->parse_err < 0) {
			ts->parse_err = -EINVAL;
			continue;
		}
		ts->state_err = luks_conn_open(cfg, ts->t.group, deadline, &conn);
		if (ts->state_err < 0)
			continue;
		memset(&a, 0, sizeof(a));
		ts->state_err = kmip_get_attributes(luks_conn_client(conn), ts->t.uid, KMIP_ATTR_STATE, &a);
		if (ts->state_err == 0 && (a.present & KMIP_ATTR_STATE))
			ts->state = a.state;
		else if (ts->state_err == 0)
			ts->state_err = -ENODATA;
		if (ts->state_err < 0)
			log_debug("%s token %d: State of key '%s': %s", device, ids[i], ts->t.uid,
				  strerror(-ts->state_err));
		luks_conn_close(conn);
	}
	out->dm_available = luks_dm_available();
	if (out->dm_available && out->uuid[0])
		out->mapping_open = find_mapping(out->uuid, out->mapping, sizeof(out->mapping));
	/* Not in sysfs (other /sys layout?): ask libcryptsetup about the expected name. */
	if (out->dm_available && !out->mapping_open && name) {
		struct crypt_device *byname = NULL;

		if (crypt_status(NULL, name) >= CRYPT_ACTIVE && crypt_init_by_name(&byname, name) == 0) {
			crypt_status_info st = crypt_status(byname, name);
			const char *u = crypt_get_uuid(byname);

			if ((st == CRYPT_ACTIVE || st == CRYPT_BUSY) && u && strcmp(u, out->uuid) == 0) {
				out->mapping_open = true;
				snprintf(out->mapping, sizeof(out->mapping), "%s", name);
			}
			crypt_free(byname);
		}
	}
	if (out->mapping_open && luks_mapping_state(out->mapping, &out->mapping_state) < 0)
		log_debug("%s: the state of mapping %s cannot be read", device, out->mapping);
	crypt_free(cd);
	return 0;
}
