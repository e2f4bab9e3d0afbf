/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The watch list (watch.h). */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/watch.h"
#include "luks/luks.h"
#include "util/log.h"

#define WATCH_VOLUMES_MAX	4096

/*
 * A new volume at the end of l (its room grown by half as needed), with
 * room for nkeys keys (1..WATCH_KEYS_MAX); NULL on -ENOMEM.  The caller sets
 * v->nkeys to the keys it fills (0: the volume is dropped by drop_last()).
 */
static struct volume *append(struct watch_list *l, const char *name, const char *device,
			     size_t nkeys)
{
	struct volume *grown, *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap + l->cap / 2 : 16;
		grown = reallocarray(l->v, cap, sizeof(*grown));
		if (!grown)
			return NULL;
		l->v = grown;
		l->cap = cap;
	}
	v = &l->v[l->n];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->device = strdup(device);
	v->keys = calloc(nkeys, sizeof(*v->keys));
	if (!v->device || !v->keys) {
		free(v->device);
		free(v->keys);
		return NULL;
	}
	l->n++;
	return v;
}

static void drop_last(struct watch_list *l)
{
	l->n--;
	free(l->v[l->n].device);
	free(l->v[l->n].keys);
}

/* Add name on device if its header has valid kmip tokens. */
static int add_volume(struct watch_list *l, const char *name, const char *device)
{
	struct luks_status st;
	struct volume *v;
	size_t i;
	int r;

	if (l->n == WATCH_VOLUMES_MAX)
		return log_error_errno(-E2BIG, "more than %d volumes to watch; %s not watched",
				       WATCH_VOLUMES_MAX, name);
	r = luks_status_read(device, name, &st);
	if (r < 0) {
		log_debug("%s (%s): header not read: %s; not watched", name, device, strerror(-r));
		r = 0;
		goto out;
	}
	v = append(l, name, device, WATCH_KEYS_MAX);
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < st.n_tokens && v->nkeys < WATCH_KEYS_MAX; i++) {
		const struct luks_token_status *ts = &st.tokens[i];

		if (ts->parse_err)
			continue;
		v->keys[v->nkeys].token_id = ts->token_id;
		snprintf(v->keys[v->nkeys].uid, sizeof(v->keys[0].uid), "%s", ts->t.uid);
		snprintf(v->keys[v->nkeys].group, sizeof(v->keys[0].group), "%s", ts->t.group);
		v->nkeys++;
	}
	if (v->nkeys) {
		struct watch_key *fit = reallocarray(v->keys, v->nkeys, sizeof(*fit));

		if (fit)
			v->keys = fit;	/* most volumes have one key: no room for eight */
		log_debug("%s (%s): %zu kmip key(s) watched", name, device, v->nkeys);
	} else {
		drop_last(l);
	}
out:
	luks_status_free(&st);
	return r;
}

static int scan_dm(struct watch_list *l)
{
	struct dmap_mapping *m = NULL;
	struct crypt_device *cd;
	char device[WATCH_DEVICE_MAX];
	size_t n = 0, i;
	int r;

	r = dmap_list_luks(&m, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n && r == 0; i++) {
		const char *d;

		if (m[i].luks_version != 2 || m[i].state == DMAP_ERROR)
			continue;	/* LUKS1 has no tokens; a closed one has no key left */
		cd = NULL;
		if (crypt_init_by_name(&cd, m[i].name) < 0 || !(d = crypt_get_device_name(cd))) {
			log_debug("%s: its device is not known; not watched", m[i].name);
			crypt_free(cd);
			continue;
		}
		snprintf(device, sizeof(device), "%s", d);
		crypt_free(cd);
		r = add_volume(l, m[i].name, device);
	}
	free(m);
	return r;
}

static int scan_file(struct watch_list *l, const char *path)
{
	char line[WATCH_DEVICE_MAX + DMAP_NAME_MAX + 2], name[DMAP_NAME_MAX];
	char device[WATCH_DEVICE_MAX];
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f)
		return log_error_errno(-errno, "%s: cannot open the test volume list: %m", path);
	while (r == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%127s %4095s", name, device) != 2) {
			r = log_error_errno(-EINVAL, "%s:%u: expected 'NAME DEVICE'", path, lineno);
			break;
		}
		r = add_volume(l, name, device);
	}
	fclose(f);
	return r;
}

int watch_scan(const char *test_volumes, struct watch_list *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = test_volumes ? scan_file(out, test_volumes) : scan_dm(out);
	if (r < 0)
		watch_list_free(out);
	return r;
}

int watch_names_key(const struct volume *v, const char *uid)
{
	struct luks_status st;
	size_t i;
	int r;

	if (!strcmp(v->device, "-"))
		return -ENOENT;		/* watch_keys_file(): no header */
	r = luks_status_read(v->device, v->name, &st);
	if (r < 0)
		goto out;
	r = 0;
	for (i = 0; i < st.n_tokens && !r; i++)
		r = !st.tokens[i].parse_err && !strcmp(st.tokens[i].t.uid, uid);
out:
	luks_status_free(&st);
	return r;
}

int watch_keys_file(const char *path, struct watch_list *out)
{
	char line[DMAP_NAME_MAX + CONFIG_NAME_MAX + KMIP_UID_SIZE + 4], name[DMAP_NAME_MAX];
	char group[CONFIG_NAME_MAX], uid[KMIP_UID_SIZE];
	struct volume *v;
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "re");
	if (!f)
		return log_error_errno(-errno, "%s: cannot open the test key list: %m", path);
	while (r == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (sscanf(line, "%127s %63s %255s", name, group, uid) != 3) {
			r = log_error_errno(-EINVAL, "%s:%u: expected 'NAME GROUP UID'", path, lineno);
			break;
		}
		if (out->n == WATCH_VOLUMES_MAX * 4) {
			r = log_error_errno(-E2BIG, "%s: too many keys", path);
			break;
		}
		v = append(out, name, "-", 1);
		if (!v) {
			r = -ENOMEM;
			break;
		}
		v->nkeys = 1;
		snprintf(v->keys[0].uid, sizeof(v->keys[0].uid), "%s", uid);
		snprintf(v->keys[0].group, sizeof(v->keys[0].group), "%s", group);
	}
	fclose(f);
	if (r < 0)
		watch_list_free(out);
	return r;
}

void watch_list_free(struct watch_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].device);
		free(l->v[i].keys);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

bool watch_same(const struct volume *a, const struct volume *b)
{
	size_t i;

	if (strcmp(a->name, b->name) || a->nkeys != b->nkeys || strcmp(a->device, b->device))
		return false;
	for (i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i].uid, b->keys[i].uid) || strcmp(a->keys[i].group, b->keys[i].group))
			return false;
	return true;
}

void watch_carry(struct watch_list *new_list, const struct watch_list *old)
{
	size_t i, j;

	for (i = 0; i < new_list->n; i++)
		for (j = 0; j < old->n; j++) {
			struct volume *v = &new_list->v[i];
			const struct volume *o = &old->v[j];

			if (!watch_same(v, o))
				continue;
			v->seen = o->seen;
			v->verdict = o->verdict;
			v->rule = o->rule;
			v->key = o->key;
			v->state = o->state;
			v->err = o->err;
			v->verdict_ms = o->verdict_ms;
			v->locked = o->locked;
			v->locked_ms = o->locked_ms;
			break;
		}
}

struct volume *watch_find(struct watch_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}
