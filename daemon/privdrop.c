/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dropping the poller's privileges (privdrop.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon/privdrop.h"
#include "util/log.h"
#include "util/secmem.h"

int privdrop(const char *user)
{
	struct passwd *pw;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int r;

	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return log_error_errno(errno ? -errno : -ENOENT, "user '%s' (the poller's, [daemon] "
				       "user) does not exist: create it (useradd --system --no-create-home "
				       "--shell /usr/sbin/nologin %s) or name another", user, user);
	if (pw->pw_uid == 0)
		return log_error_errno(-EPERM, "user '%s' is root: the poller must run without "
				       "privileges; name another user in [daemon] user", user);
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			goto harden;
		return log_error_errno(-EPERM, "the daemon runs as uid %u, neither root nor '%s': "
				       "it cannot change to '%s'", (unsigned)geteuid(), user, user);
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return log_error_errno(-errno, "cannot become user '%s': %m", user);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return log_error_errno(-errno, "cannot clear the ambient capabilities: %m");
harden:
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return log_error_errno(-errno, "PR_SET_NO_NEW_PRIVS: %m");
	r = secmem_harden_process();	/* after the uid change, which resets "dumpable" */
	if (r < 0)
		return log_error_errno(r, "cannot make the poller non-dumpable: %m");
	if (chdir("/") < 0)
		return log_error_errno(-errno, "chdir /: %m");
	/* What the kernel says now, not what we asked for. */
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
	    rgid != pw->pw_gid || egid != pw->pw_gid || sgid != pw->pw_gid)
		abort();
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		abort();
	return 0;
}
