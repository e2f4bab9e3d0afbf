/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The locker's actions (locker.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/locker.h"
#include "luks/luks.h"
#include "util/log.h"
#include "util/spawn.h"

const char *locker_action_name(enum daemon_action a)
{
	switch (a) {
	case DAEMON_ACTION_SUSPEND:
		return "suspend";
	case DAEMON_ACTION_CLOSE:
		return "close";
	case DAEMON_ACTION_NONE:
		return "none";
	default:
		return "?";
	}
}

static int record_line(const char *record, const struct volume *v, const struct watch_key *key,
		       enum daemon_action a, const char *state, const char *rule)
{
	char line[DMAP_NAME_MAX + KMIP_UID_SIZE + 128];
	int fd, n, r = 0;

	n = snprintf(line, sizeof(line), "%s %s %s %s %s\n", v->name, locker_action_name(a),
		     key->uid, state, rule);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	fd = open(record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return log_error_errno(-errno, "%s: cannot open the record file: %m", record);
	if (write(fd, line, (size_t)n) != n)
		r = log_error_errno(-EIO, "%s: cannot append: %m", record);
	close(fd);
	return r;
}

int locker_lock(const struct volume *v, const struct watch_key *key, enum daemon_action a,
		const char *state, const char *rule, const char *record)
{
	if (record)
		return record_line(record, v, key, a, state, rule);
	switch (a) {
	case DAEMON_ACTION_SUSPEND:
		return luks_lock(v->name, LOCK_SUSPEND);
	case DAEMON_ACTION_CLOSE:
		return luks_lock(v->name, LOCK_CLOSE);
	case DAEMON_ACTION_NONE:
		return 0;
	default:
		return -EINVAL;
	}
}

int locker_exec(const char *exec, const struct volume *v, const struct watch_key *key,
		const char *action, const char *state, const char *rule, pid_t *pid)
{
	const char *argv[LOCKER_EXEC_ARGS_MAX + 1];
	char env[7][KMIP_UID_SIZE + WATCH_DEVICE_MAX];
	const char *envp[9];
	char *line, *save = NULL, *w;
	size_t n = 0;
	int r;

	line = strdup(exec);
	if (!line)
		return -ENOMEM;
	for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == LOCKER_EXEC_ARGS_MAX) {
			r = log_error_errno(-E2BIG, "exec: more than %d words; not run",
					    LOCKER_EXEC_ARGS_MAX);
			goto out;
		}
		argv[n++] = w;
	}
	argv[n] = NULL;
	if (!n) {
		r = -EINVAL;
		goto out;
	}
	envp[0] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	snprintf(env[0], sizeof(env[0]), "KMIPCRYPT_MAPPING=%s", v->name);
	snprintf(env[1], sizeof(env[1]), "KMIPCRYPT_DEVICE=%s", v->device);
	snprintf(env[2], sizeof(env[2]), "KMIPCRYPT_KEY_UID=%s", key->uid);
	snprintf(env[3], sizeof(env[3]), "KMIPCRYPT_KEY_STATE=%s", state);
	snprintf(env[4], sizeof(env[4]), "KMIPCRYPT_RULE=%s", rule);
	snprintf(env[5], sizeof(env[5]), "KMIPCRYPT_ACTION=%s", action);
	snprintf(env[6], sizeof(env[6]), "KMIPCRYPT_GROUP=%s", key->group);
	for (n = 0; n < 7; n++)
		envp[n + 1] = env[n];
	envp[8] = NULL;
	r = spawn_start(argv, envp, pid);
	if (r < 0)
		log_error("%s: exec %s could not run: %s", v->name, argv[0], strerror(-r));
out:
	free(line);
	return r;
}
