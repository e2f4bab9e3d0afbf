/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which volumes `unlock --all` and `status` look at: every LUKS2 device with
 * a kmip token among the block devices libblkid finds (TYPE=crypto_LUKS) and
 * the entries of /etc/crypttab, or only those of a list file.
 *
 * crypttab(5) as systemd reads it: NAME DEVICE [KEYFILE [OPTIONS]].  The
 * options that change the mapping are applied (crypttab_options()); noauto
 * keeps the volume out of --all; header= (detached header) is not supported
 * and skips the line; the rest are systemd's and ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <blkid.h>

#include "luks/luks_internal.h"
#include "util/file.h"
#include "util/log.h"

#define CRYPTTAB_PATH	"/etc/crypttab"
#define LIST_LINE_MAX	4096
/* A list file or crypttab larger than this is a mistake, refused before reading it. */
#define LIST_FILE_MAX	(1024 * 1024)

struct found {
	struct luks_volume_list *l;
	/* Every device seen so far, listed or not, so that each counts once. */
	dev_t *ids;		/* st_rdev (block devices) or st_dev (files) */
	ino_t *inos;		/* 0 (block devices) or st_ino (files) */
	size_t n_seen;
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

/*
 * Does device hold LUKS2 with a kmip token?  NULL if it does, else what it
 * is (static text).  Quiet: candidates that are not are normal.
 */
static const char *kmip_volume(const char *device, char *uuid, size_t uuid_len)
{
	struct crypt_device *cd = NULL;
	const char *why = "no LUKS2 header on it", *type, *u;
	struct stat st;
	int ids[1];

	/* libcryptsetup's open of a FIFO would block for ever: only what can hold LUKS. */
	if (stat(device, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISREG(st.st_mode)))
		return "not a block device or an image file";
	if (crypt_init(&cd, device) < 0)
		return "it cannot be opened";
	crypt_set_log_callback(cd, quiet, NULL);
	if (crypt_load(cd, CRYPT_LUKS2, NULL) == 0) {
		type = crypt_get_type(cd);
		if (!type || strcmp(type, CRYPT_LUKS2) != 0)
			why = "not a LUKS2 volume";
		else if (luks_kmip_tokens(cd, ids, 1) == 0)
			why = "no kmip token";
		else
			why = NULL;
		u = crypt_get_uuid(cd);
		snprintf(uuid, uuid_len, "%s", u ? u : "");
	}
	crypt_free(cd);
	return why;
}

/* The identity of a device path: the same block device or file by any name. */
static int device_id(const char *device, dev_t *id, ino_t *ino)
{
	struct stat st;

	if (stat(device, &st) < 0) {
		log_debug("%s: %m; skipped", device);
		return -errno;
	}
	*ino = 0;
	if (S_ISBLK(st.st_mode)) {
		*id = st.st_rdev;
	} else if (S_ISREG(st.st_mode)) {
		*id = st.st_dev;
		*ino = st.st_ino;
	} else {
		log_debug("%s: neither a block device nor a file; skipped", device);
		return -ENOTBLK;
	}
	return 0;
}

/* Why device_id() failed, as static text. */
static const char *device_id_why(int r)
{
	switch (r) {
	case -ENOENT:
		return "No such file or directory";
	case -EACCES:
		return "Permission denied";
	case -ENOTBLK:
		return "neither a block device nor an image file";
	default:
		return "it cannot be looked at";
	}
}

/* Remember (id, ino); false if it was seen before. */
static int see(struct found *f, dev_t id, ino_t ino, bool *first)
{
	dev_t *ids;
	ino_t *inos;
	size_t i;

	*first = false;
	for (i = 0; i < f->n_seen; i++)
		if (f->ids[i] == id && f->inos[i] == ino)
			return 0;
	ids = realloc(f->ids, (f->n_seen + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	f->ids = ids;
	inos = realloc(f->inos, (f->n_seen + 1) * sizeof(*inos));
	if (!inos)
		return -ENOMEM;
	f->inos = inos;
	f->ids[f->n_seen] = id;
	f->inos[f->n_seen] = ino;
	f->n_seen++;
	*first = true;
	return 0;
}

/* Append a volume to the list (why: NULL, or why it cannot be used). */
static int append(struct found *f, const char *device, const char *name, uint32_t flags,
		  const char *why)
{
	struct luks_volume *v;

	v = realloc(f->l->v, (f->l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->l->v = v;
	v = &f->l->v[f->l->n];
	memset(v, 0, sizeof(*v));
	v->device = strdup(device);
	v->name = strdup(name);
	v->activate_flags = flags;
	v->err = why ? -ELUKS : 0;
	v->why = why;
	if (!v->device || !v->name) {
		free(v->device);
		free(v->name);
		return -ENOMEM;
	}
	f->l->n++;
	return 0;
}

/*
 * Add device (named name, NULL: luks-<UUID>) if it is a LUKS2 volume with a
 * kmip token and was not seen before.  skip: count it as seen, list it not
 * (crypttab's noauto, an unsupported line), so that the scan does not add it.
 * listed ("LIST:LINE"): from a list file, a promise: a device that is no
 * kmip-bound LUKS2 volume is added too, with its reason, and logged.
 */
static int add(struct found *f, const char *device, const char *name, uint32_t flags, bool skip,
	       const char *listed)
{
	char uuid[64] = "", def[80];
	const char *why;
	dev_t id;
	ino_t ino;
	bool first;
	int r;

	r = device_id(device, &id, &ino);
	if (r < 0) {
		why = device_id_why(r);
		goto unusable;
	}
	r = see(f, id, ino, &first);
	if (r < 0 || !first || skip)
		return r;	/* seen: the first source (crypttab before blkid) decides */
	why = kmip_volume(device, uuid, sizeof(uuid));
	if (why) {
		log_debug("%s: %s; skipped", device, why);
		goto unusable;
	}
	if (!name && luks_uuid_name(uuid, def, sizeof(def)) < 0) {
		why = "its LUKS2 UUID is not hex digits and dashes, so it makes no mapping name";
		if (!listed)
			log_warn("%s: %s; skipped (give it a NAME in crypttab)", device, why);
		goto unusable;
	}
	if (!name)
		name = def;
	log_debug("%s: kmip-bound volume, mapping name %s", device, name);
	return append(f, device, name, flags, NULL);
unusable:
	if (!listed)
		return 0;
	log_error("%s: %s: %s%s; every volume of the list must be a LUKS2 volume with a kmip "
		  "token", listed, device, why, strcmp(why, "no kmip token") ? "" :
		  " (bind it with 'kmipcrypt enroll', or take it off the list)");
	return append(f, device, name ? name : device, flags, why);
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
	char line[LIST_LINE_MAX + 2], *fl[3], where[PATH_MAX + 16];
	unsigned lineno = 0;
	struct stat st;
	FILE *fp;
	int n, r = 0;

	if (stat(path, &st) == 0 && file_is_null(&st))
		return 0;	/* --from /dev/null: an empty list */
	/* A regular file only, opened without blocking (a FIFO would wait for a writer). */
	fp = file_fopen(path, LIST_FILE_MAX, &(const struct read_file_opts){
			.where = "the list of volumes (--from)" });
	if (!fp)
		return -EINVAL;	/* logged by file_fopen(); the command line's: exit 1 */
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
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		r = add(f, fl[0], n > 1 ? fl[1] : NULL, 0, false, where);
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

struct crypttab_line {
	const char *name;
	char device[PATH_MAX];
	uint32_t flags;		/* CRYPT_ACTIVATE_* */
	bool noauto;
	bool unsupported;	/* header=: a detached header, not ours to open */
};

/*
 * The fourth field, comma-separated: the options that shape the mapping
 * (as systemd-cryptsetup maps them); noauto; header=.  Everything else is
 * systemd's business (nofail, _netdev, x-systemd.*, tries=, timeout=...).
 */
static void crypttab_options(char *opts, const char *where, struct crypttab_line *e)
{
	static const struct { const char *name; uint32_t flag; } flags[] = {
		{ "discard", CRYPT_ACTIVATE_ALLOW_DISCARDS },
		{ "readonly", CRYPT_ACTIVATE_READONLY },
		{ "read-only", CRYPT_ACTIVATE_READONLY },
		{ "same-cpu-crypt", CRYPT_ACTIVATE_SAME_CPU_CRYPT },
		{ "submit-from-crypt-cpus", CRYPT_ACTIVATE_SUBMIT_FROM_CRYPT_CPUS },
		{ "no-read-workqueue", CRYPT_ACTIVATE_NO_READ_WORKQUEUE },
		{ "no-write-workqueue", CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE },
	};
	char *save = NULL, *o;
	size_t i;

	for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (strcmp(o, flags[i].name) == 0)
				break;
		if (i < sizeof(flags) / sizeof(flags[0]))
			e->flags |= flags[i].flag;
		else if (strcmp(o, "noauto") == 0)
			e->noauto = true;
		else if (strncmp(o, "header=", 7) == 0)
			e->unsupported = true;
		else
			log_debug("%s: option '%s' is not kmipcrypt's; ignored", where, o);
	}
	if (e->unsupported)
		log_warn("%s: %s has a detached header (header=), which kmipcrypt does not "
			 "support; skipped", where, e->name);
}

/*
 * Each line of a crypttab, parsed, to fn (nonzero return: stop with it).
 * A missing file is no line at all unless must_exist.
 */
static int crypttab_each(const char *path, bool must_exist,
			 int (*fn)(const struct crypttab_line *e, void *ctx), void *ctx)
{
	char line[LIST_LINE_MAX + 2], where[PATH_MAX + 16], *fl[4];
	struct crypttab_line e;
	unsigned lineno = 0;
	struct stat st;
	FILE *fp;
	int n, r = 0;

	/*
	 * A regular file only, opened without blocking (a FIFO would wait for a
	 * writer for ever).  The default /etc/crypttab may be missing; a file
	 * the user named may not; /dev/null is no crypttab at all.
	 */
	if (stat(path, &st) == 0 && file_is_null(&st)) {
		log_debug("%s: no crypttab", path);
		return 0;
	}
	fp = file_fopen(path, LIST_FILE_MAX, &(const struct read_file_opts){
			.where = must_exist ? "the crypttab (--crypttab)" : "the crypttab",
			.quiet_enoent = !must_exist });
	if (!fp) {
		if (errno == ENOENT && !must_exist)
			return 0;	/* logged at debug level */
		return -EINVAL;	/* logged; the command line's or the host's configuration: exit 1 */
	}
	while (r == 0 && fgets(line, sizeof(line), fp)) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (!strchr(line, '\n') && !feof(fp)) {
			log_warn("%s: line too long; skipped", where);
			while (fgets(line, sizeof(line), fp) && !strchr(line, '\n'))
				;
			continue;
		}
		n = fields(line, fl, 4);
		if (n < 2)
			continue;
		memset(&e, 0, sizeof(e));
		e.name = fl[0];
		crypttab_device(fl[1], e.device, sizeof(e.device));
		if (n > 3)
			crypttab_options(fl[3], where, &e);
		r = fn(&e, ctx);
	}
	fclose(fp);
	return r < 0 ? r : 0;
}

static int add_crypttab_line(const struct crypttab_line *e, void *ctx)
{
	if (e->noauto)
		log_debug("%s: noauto in crypttab; not unlocked by --all", e->name);
	return add(ctx, e->device, e->name, e->flags, e->noauto || e->unsupported, NULL);
}

struct lookup {
	dev_t id;
	ino_t ino;
	struct luks_volume *out;
	bool found;
};

static int match_crypttab_line(const struct crypttab_line *e, void *ctx)
{
	struct lookup *k = ctx;
	dev_t id;
	ino_t ino;

	if (e->unsupported || device_id(e->device, &id, &ino) < 0 || id != k->id || ino != k->ino)
		return 0;
	k->out->name = strdup(e->name);
	if (!k->out->name)
		return -ENOMEM;
	k->out->activate_flags = e->flags;
	k->found = true;
	return 1;	/* the first line for a device is the one systemd uses */
}

int luks_crypttab_find(const char *crypttab, const char *device, struct luks_volume *out)
{
	struct lookup k = { .out = out };
	int r;

	memset(out, 0, sizeof(*out));
	r = device_id(device, &k.id, &k.ino);
	if (r < 0)
		return -ENOENT;
	r = crypttab_each(crypttab ? crypttab : CRYPTTAB_PATH, crypttab != NULL,
			  match_crypttab_line, &k);
	if (r < 0)
		goto fail;	/* not -ENOENT: a crypttab that cannot be read is an error */
	if (!k.found)
		return -ENOENT;
	out->device = strdup(device);
	if (!out->device) {
		r = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	free(out->name);
	out->name = NULL;
	return r;
}

/* Every block device libblkid probes as crypto_LUKS (no cache file is read or written). */
static int scan_blkid(struct found *f)
{
	blkid_cache cache = NULL;
	blkid_dev_iterate iter;
	blkid_dev dev;
	int r = 0;

	if (blkid_get_cache(&cache, "/dev/null") < 0) {
		log_warn("libblkid: cannot make a cache; block devices are not scanned, only "
			 "crypttab");
		return 0;
	}
	blkid_probe_all(cache);
	iter = blkid_dev_iterate_begin(cache);
	if (iter) {
		blkid_dev_set_search(iter, "TYPE", "crypto_LUKS");
		while (r == 0 && blkid_dev_next(iter, &dev) == 0) {
			const char *name = blkid_dev_devname(dev);

			if (name)
				r = add(f, name, NULL, 0, false, NULL);
		}
		blkid_dev_iterate_end(iter);
	}
	blkid_put_cache(cache);
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
		r = crypttab_each(o && o->crypttab ? o->crypttab : CRYPTTAB_PATH,
				  o && o->crypttab, add_crypttab_line, &f);
		if (r == 0 && !(o && o->no_blkid))
			r = scan_blkid(&f);
	}
	free(f.ids);
	free(f.inos);
	if (r < 0)
		luks_volume_list_free(out);
	return r;
}
