/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which volumes `unlock --all` and `status` look at: every LUKS2 device with
 * a kmip token among the block devices libblkid finds (TYPE=crypto_LUKS) and
 * the entries of /etc/crypttab, or only those of a list file.
 *
 * libblkid is opened at run time (dlopen of libblkid.so.1, which
 * libcryptsetup itself depends on), so that the build needs no extra
 * library; if it cannot be loaded the scan is skipped with a warning and
 * crypttab still counts.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "luks/luks_internal.h"
#include "util/log.h"

#define CRYPTTAB_PATH	"/etc/crypttab"
#define LIST_LINE_MAX	4096

struct found {
	struct luks_volume_list *l;
	dev_t *ids;		/* st_rdev (block devices) or st_dev^st_ino (files), parallel to l->v */
	ino_t *inos;
};

void luks_volume_list_free(struct luks_volume_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].device);
		free(l->v[i].name);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void quiet(int level, const char *msg, void *usrptr)
{
	(void)level;
	(void)msg;
	(void)usrptr;
}

/* Does device hold LUKS2 with a kmip token?  Quiet: candidates that are not are normal. */
static bool has_kmip_token(const char *device, char *uuid, size_t uuid_len)
{
	struct crypt_device *cd = NULL;
	int ids[1], n = 0;
	const char *type, *u;

	if (crypt_init(&cd, device) < 0)
		return false;
	crypt_set_log_callback(cd, quiet, NULL);
	if (crypt_load(cd, CRYPT_LUKS2, NULL) == 0) {
		type = crypt_get_type(cd);
		if (type && strcmp(type, CRYPT_LUKS2) == 0)
			n = luks_kmip_tokens(cd, ids, 1);
		u = crypt_get_uuid(cd);
		snprintf(uuid, uuid_len, "%s", u ? u : "");
	}
	crypt_free(cd);
	return n > 0;
}

static int add(struct found *f, const char *device, const char *name)
{
	struct luks_volume *v;
	struct stat st;
	char uuid[64] = "", def[80];
	dev_t id;
	ino_t ino = 0;
	size_t i;

	if (stat(device, &st) < 0) {
		log_debug("%s: %m; skipped", device);
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		id = st.st_rdev;
	} else if (S_ISREG(st.st_mode)) {
		id = st.st_dev;
		ino = st.st_ino;
	} else {
		log_debug("%s: neither a block device nor a file; skipped", device);
		return 0;
	}
	for (i = 0; i < f->l->n; i++)
		if (f->ids[i] == id && f->inos[i] == ino)
			return 0;	/* seen: the first source (crypttab before blkid) names it */
	if (!has_kmip_token(device, uuid, sizeof(uuid))) {
		log_debug("%s: no LUKS2 header with a kmip token; skipped", device);
		return 0;
	}
	if (!name) {
		snprintf(def, sizeof(def), "luks-%s", uuid);
		name = def;
	}
	v = realloc(f->l->v, (f->l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->l->v = v;
	{
		dev_t *ids = realloc(f->ids, (f->l->n + 1) * sizeof(*ids));
		ino_t *inos;

		if (!ids)
			return -ENOMEM;
		f->ids = ids;
		inos = realloc(f->inos, (f->l->n + 1) * sizeof(*inos));
		if (!inos)
			return -ENOMEM;
		f->inos = inos;
	}
	f->l->v[f->l->n].device = strdup(device);
	f->l->v[f->l->n].name = strdup(name);
	if (!f->l->v[f->l->n].device || !f->l->v[f->l->n].name) {
		free(f->l->v[f->l->n].device);
		free(f->l->v[f->l->n].name);
		return -ENOMEM;
	}
	f->ids[f->l->n] = id;
	f->inos[f->l->n] = ino;
	f->l->n++;
	log_debug("%s: kmip-bound volume, mapping name %s", device, name);
	return 0;
}

/* Split a line into at most max whitespace-separated fields (in place). */
static int fields(char *line, char **out, int max)
{
	int n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		out[n++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static int read_list(struct found *f, const char *path)
{
	char line[LIST_LINE_MAX + 2], *fl[3];
	unsigned lineno = 0;
	FILE *fp;
	int n, r = 0;

	fp = fopen(path, "re");
	if (!fp)
		return log_error_errno(-errno, "cannot open the list %s: %m", path);
	while (fgets(line, sizeof(line), fp)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			r = log_error_errno(-EINVAL, "%s:%u: line too long", path, lineno);
			break;
		}
		n = fields(line, fl, 3);
		if (n == 0)
			continue;
		if (n > 2) {
			r = log_error_errno(-EINVAL, "%s:%u: expected 'DEVICE [NAME]'", path, lineno);
			break;
		}
		r = add(f, fl[0], n > 1 ? fl[1] : NULL);
		if (r < 0)
			break;
	}
	fclose(fp);
	return r;
}

/* crypttab's second field: a path, or UUID= / PARTUUID= / LABEL= / PARTLABEL=. */
static void crypttab_device(const char *spec, char *buf, size_t len)
{
	static const struct { const char *prefix, *dir; } tags[] = {
		{ "UUID=", "/dev/disk/by-uuid/" },
		{ "PARTUUID=", "/dev/disk/by-partuuid/" },
		{ "LABEL=", "/dev/disk/by-label/" },
		{ "PARTLABEL=", "/dev/disk/by-partlabel/" },
	};
	size_t i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		size_t n = strlen(tags[i].prefix);

		if (strncmp(spec, tags[i].prefix, n) == 0) {
			snprintf(buf, len, "%s%s", tags[i].dir, spec + n);
			return;
		}
	}
	snprintf(buf, len, "%s", spec);
}

static int read_crypttab(struct found *f, const char *path, bool must_exist)
{
	char line[LIST_LINE_MAX + 2], dev[PATH_MAX], *fl[4];
	FILE *fp;
	int n, r = 0;

	fp = fopen(path, "re");
	if (!fp) {
		if (errno == ENOENT && !must_exist) {
			log_debug("%s: none", path);
			return 0;
		}
		return log_error_errno(-errno, "cannot open %s: %m", path);
	}
	while (fgets(line, sizeof(line), fp)) {
		n = fields(line, fl, 4);
		if (n < 2)
			continue;
		crypttab_device(fl[1], dev, sizeof(dev));
		r = add(f, dev, fl[0]);
		if (r < 0)
			break;
	}
	fclose(fp);
	return r;
}

/* libblkid, loaded at run time: just the device iteration of its cache API. */
struct blkid_api {
	void *h;
	int (*get_cache)(void **cache, const char *filename);
	void (*put_cache)(void *cache);
	int (*probe_all)(void *cache);
	void *(*iterate_begin)(void *cache);
	int (*set_search)(void *iter, const char *type, const char *value);
	int (*next)(void *iter, void **dev);
	void (*iterate_end)(void *iter);
	const char *(*devname)(void *dev);
};

static int scan_blkid(struct found *f)
{
	struct blkid_api b = { 0 };
	void *cache = NULL, *iter, *dev;
	int r = 0;

	b.h = dlopen("libblkid.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!b.h) {
		log_warn("libblkid cannot be loaded (%s); block devices are not scanned, only "
			 "crypttab", dlerror());
		return 0;
	}
	*(void **)&b.get_cache = dlsym(b.h, "blkid_get_cache");
	*(void **)&b.put_cache = dlsym(b.h, "blkid_put_cache");
	*(void **)&b.probe_all = dlsym(b.h, "blkid_probe_all");
	*(void **)&b.iterate_begin = dlsym(b.h, "blkid_dev_iterate_begin");
	*(void **)&b.set_search = dlsym(b.h, "blkid_dev_set_search");
	*(void **)&b.next = dlsym(b.h, "blkid_dev_next");
	*(void **)&b.iterate_end = dlsym(b.h, "blkid_dev_iterate_end");
	*(void **)&b.devname = dlsym(b.h, "blkid_dev_devname");
	if (!b.get_cache || !b.put_cache || !b.probe_all || !b.iterate_begin || !b.set_search ||
	    !b.next || !b.iterate_end || !b.devname) {
		log_warn("libblkid lacks the functions needed; block devices are not scanned");
		goto out;
	}
	/* No cache file: probe what is there now, write nothing. */
	if (b.get_cache(&cache, "/dev/null") < 0) {
		log_warn("libblkid: cannot make a cache; block devices are not scanned");
		goto out;
	}
	b.probe_all(cache);
	iter = b.iterate_begin(cache);
	if (iter) {
		b.set_search(iter, "TYPE", "crypto_LUKS");
		while (r == 0 && b.next(iter, &dev) == 0) {
			const char *name = b.devname(dev);

			if (name)
				r = add(f, name, NULL);
		}
		b.iterate_end(iter);
	}
	b.put_cache(cache);
out:
	dlclose(b.h);
	return r;
}

int luks_discover(const struct discover_opts *o, struct luks_volume_list *out)
{
	struct found f = { .l = out };
	int r;

	out->v = NULL;
	out->n = 0;
	if (o && o->list_file) {
		r = read_list(&f, o->list_file);
	} else {
		r = read_crypttab(&f, o && o->crypttab ? o->crypttab : CRYPTTAB_PATH,
				  o && o->crypttab);
		if (r == 0 && !(o && o->no_blkid))
			r = scan_blkid(&f);
	}
	free(f.ids);
	free(f.inos);
	if (r < 0)
		luks_volume_list_free(out);
	return r;
}
