/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What is known about a kmip-bound volume: tokens, keys' State, open mapping. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The volume's tokens and mapping, from its header and the kernel: no server. */
int luks_status_read(const char *device, const char *name, struct luks_status *out)
{
	struct crypt_device *cd = NULL;
	int ids[LUKS_STATUS_TOKENS_MAX], n, i, r;
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

		ts->token_id = ids[i];
		ts->keyslot = luks_token_keyslot(cd, ids[i]);
		ts->parse_err = luks_token_read(cd, device, ids[i], &ts->t) < 0 ? -EINVAL : 0;
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

/* The valid tokens of s[0..n) whose server group is group, in order. */
static size_t group_tokens(struct luks_status *s, size_t n, const char *group,
			   struct luks_token_status **out, size_t max)
{
	size_t i, k, m = 0;

	for (i = 0; i < n; i++)
		for (k = 0; k < s[i].n_tokens; k++) {
			struct luks_token_status *ts = &s[i].tokens[k];

			if (!ts->parse_err && !ts->queried && strcmp(ts->t.group, group) == 0 &&
			    m < max)
				out[m++] = ts;
		}
	return m;
}

/* One server group: one connection, the States of all its tokens in batches. */
static int query_group(struct config *cfg, const char *group, struct luks_token_status **ts,
		       size_t m, int64_t deadline)
{
	struct luks_conn *conn = NULL;
	const char **uids = NULL;
	int *states = NULL, *errs = NULL;
	size_t i;
	int r;

	uids = calloc(m, sizeof(*uids));
	states = calloc(m, sizeof(*states));
	errs = calloc(m, sizeof(*errs));
	if (!uids || !states || !errs) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < m; i++)
		uids[i] = ts[i]->t.uid;
	r = luks_conn_open(cfg, group, deadline, &conn);
	if (r == 0)
		r = kmip_get_states(luks_conn_client(conn), uids, m, states, errs);
	if (r < 0)
		log_debug("group [%s]: the States of %zu key(s) cannot be read: %s", group, m,
			  strerror(-r));
	for (i = 0; i < m; i++) {
		ts[i]->queried = true;
		ts[i]->state_err = r < 0 ? r : errs[i];
		ts[i]->state = r < 0 || errs[i] ? 0 : states[i];
	}
out:
	luks_conn_close(conn);
	free(uids);
	free(states);
	free(errs);
	return r;
}

int luks_status_query(struct config *cfg, struct luks_status *s, size_t n, unsigned deadline_ms)
{
	int64_t deadline = luks_now_ms() + (deadline_ms ? deadline_ms : LUKS_DEADLINE_MS_DEFAULT);
	struct luks_token_status **ts;
	size_t i, k, m, max = 0;
	int r = 0;

	for (i = 0; i < n; i++)
		max += s[i].n_tokens;
	if (max == 0)
		return 0;
	ts = calloc(max, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	/* Each group in turn, found at its first token not asked yet. */
	for (i = 0; i < n && r == 0; i++)
		for (k = 0; k < s[i].n_tokens && r == 0; k++) {
			struct luks_token_status *first = &s[i].tokens[k];

			if (first->parse_err || first->queried)
				continue;
			m = group_tokens(s, n, first->t.group, ts, max);
			if (query_group(cfg, first->t.group, ts, m, deadline) == -ENOMEM)
				r = -ENOMEM;
		}
	free(ts);
	return r;
}

int luks_status(const char *device, const char *name, struct config *cfg, unsigned deadline_ms,
		struct luks_status *out)
{
	int r = luks_status_read(device, name, out);

	return r < 0 ? r : luks_status_query(cfg, out, 1, deadline_ms);
}
