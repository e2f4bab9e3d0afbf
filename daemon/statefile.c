/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's state file (statefile.h). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/statefile.h"
#include "util/clock.h"
#include "util/errclass.h"
#include "util/log.h"

/* A clock_now_ms() time as seconds since the epoch. */
static json_object *epoch_of(int64_t ms)
{
	if (!ms)
		return NULL;
	return json_object_new_int64((int64_t)time(NULL) - (clock_now_ms() - ms) / 1000);
}

static void add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *volume_json(const struct volume *v)
{
	json_object *o = json_object_new_object(), *keys = json_object_new_array();
	size_t i;

	add(o, "mapping", json_object_new_string(v->name));
	add(o, "device", json_object_new_string(v->device));
	for (i = 0; i < v->nkeys; i++) {
		json_object *k = json_object_new_object();

		add(k, "uid", json_object_new_string(v->keys[i].uid));
		add(k, "group", json_object_new_string(v->keys[i].group));
		add(k, "token", json_object_new_int(v->keys[i].token_id));
		json_object_array_add(keys, k);
	}
	add(o, "keys", keys);
	add(o, "verdict", json_object_new_string(v->seen ? policy_verdict_name(v->verdict) :
						 "not-polled-yet"));
	add(o, "rule", v->seen ? json_object_new_string(policy_rule_name(v->rule)) : NULL);
	add(o, "key", v->seen && v->key < v->nkeys ? json_object_new_string(v->keys[v->key].uid) :
		NULL);
	add(o, "state", v->seen && v->state ? json_object_new_string(kmip_state_name(v->state)) :
		NULL);
	add(o, "checked", v->seen ? epoch_of(v->verdict_ms) : NULL);
	add(o, "locked", json_object_new_boolean(v->locked));
	add(o, "locked_at", v->locked ? epoch_of(v->locked_ms) : NULL);
	return o;
}

/*
 * The view, written as it is built: the head's members, then one volume
 * object at a time (serialised and freed before the next), so that memory
 * does not grow with the volumes watched (bench/daemon.sh: RSS with 1,000).
 */
static int write_view(FILE *f, const struct daemon_view *v)
{
	json_object *o = json_object_new_object(), *a;
	const char *text;
	size_t i, len;

	add(o, "version", json_object_new_int(1));
	add(o, "pid", json_object_new_int((int)getpid()));
	add(o, "updated", json_object_new_int64((int64_t)time(NULL)));
	add(o, "poll_interval", json_object_new_int((int)v->cfg->daemon.poll_interval_s));
	add(o, "offline_grace", v->cfg->daemon.offline_grace_s ?
		json_object_new_int((int)v->cfg->daemon.offline_grace_s) : NULL);
	add(o, "cycles", json_object_new_int((int)v->cycles));
	add(o, "last_cycle", epoch_of(v->last_cycle_ms));
	a = json_object_new_object();
	add(a, "keys", json_object_new_int64(v->last.keys));
	add(a, "requests", json_object_new_int64(v->last.requests));
	add(a, "wall_ms", json_object_new_int64(v->last.wall_ms));
	add(a, "cpu_us", json_object_new_int64(v->last.cpu_us));
	add(o, "last_poll", a);
	a = json_object_new_array();
	for (i = 0; i < v->n_groups; i++) {
		const struct group_view *g = &v->groups[i];
		json_object *j;

		if (!g->known)
			continue;
		j = json_object_new_object();
		add(j, "name", json_object_new_string(g->name));
		add(j, "answering", json_object_new_boolean(g->answering));
		add(j, "error", g->err ? json_object_new_string(errclass_words(g->err)) : NULL);
		add(j, "unreachable_for", json_object_new_int64(g->unreachable_ms / 1000));
		json_object_array_add(a, j);
	}
	add(o, "groups", a);
	/* The head without its closing brace, then "volumes": [...]}. */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	fwrite(text, 1, len - 1, f);
	fputs(",\"volumes\":[", f);
	json_object_put(o);
	for (i = 0; i < v->wl->n; i++) {
		o = volume_json(&v->wl->v[i]);
		fputs(i ? "," : "", f);
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f);
		json_object_put(o);
	}
	fputs("]}\n", f);
	return ferror(f) ? -EIO : 0;
}

int statefile_write(const char *path, const struct daemon_view *v)
{
	char tmp[300], dir[300];
	FILE *f = NULL;
	int fd = -1, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "%s: cannot create its directory: %m", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "%s: cannot write: %m", tmp);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		r = log_error_errno(-errno, "%s: cannot write: %m", tmp);
		goto out;
	}
	r = fchmod(fd, 0644) < 0 ? -errno : write_view(f, v);
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	if (r < 0) {
		log_error("%s: cannot write: %s", tmp, strerror(-r));
		goto out;
	}
	if (rename(tmp, path) < 0)
		r = log_error_errno(-errno, "%s: cannot replace: %m", path);
out:
	if (r < 0)
		unlink(tmp);
	return r;
}

void statefile_remove(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove: %m", path);
}
