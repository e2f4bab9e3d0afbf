// SPDX-License-Identifier: LGPL-2.1-or-later
/* Running another program with nothing but what it is given: see spawn.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* posix_spawn_file_actions_addclosefrom_np */
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "util/spawn.h"

static bool valid_env(const char *const envp[])
{
	size_t i;

	for (i = 0; envp && envp[i]; i++)
		if (envp[i][0] == '=' || !strchr(envp[i], '='))
			return false;
	return true;
}

int spawn_start(const char *const argv[], const char *const envp[], pid_t *pid)
{
	static const char *const no_env[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_init = false, attr_init = false;
	sigset_t none, all;
	int r;

	*pid = -1;
	if (!argv || !argv[0] || argv[0][0] != '/' || !valid_env(envp)) {
		r = EINVAL;
		goto out;
	}
	r = posix_spawn_file_actions_init(&fa);
	if (r)
		goto out;
	fa_init = true;
	/* Descriptors: 0 from /dev/null, 1 and 2 kept, nothing else (CLOEXEC or not). */
	r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (!r)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	if (r)
		goto out;
	r = posix_spawnattr_init(&attr);
	if (r)
		goto out;
	attr_init = true;
	sigemptyset(&none);
	sigfillset(&all);
	r = posix_spawnattr_setsigmask(&attr, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (!r)
		r = posix_spawnattr_setpgroup(&attr, 0);
	if (!r)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						    POSIX_SPAWN_SETPGROUP);
	if (r)
		goto out;
	/* posix_spawn, not posix_spawnp: no $PATH lookup.  The casts are POSIX's old prototype. */
	r = posix_spawn(pid, argv[0], &fa, &attr, (char *const *)argv,
			(char *const *)(envp ? envp : no_env));
	if (r)
		*pid = -1;
out:
	if (attr_init)
		posix_spawnattr_destroy(&attr);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	return -r;
}

int spawn_wait(pid_t pid, int *status)
{
	pid_t p;

	do
		p = waitpid(pid, status, 0);
	while (p < 0 && errno == EINTR);
	return p < 0 ? -errno : 0;
}
