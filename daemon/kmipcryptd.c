/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcryptd: remote kill.  Watches every open dm-crypt mapping of a LUKS2
 * volume bound to a KMIP key and locks it when the key is revoked or
 * destroyed on the KMS (kmipcryptd(8)).
 *
 * Two processes, as OpenBSD's daemons are split:
 *   the locker (this one, root): reads the configuration, device-mapper and
 *     the local LUKS2 headers (the watch list, watch.h), receives fixed-size
 *     verdicts (proto.h) and acts on them (locker.h: suspend, close, exec),
 *     writes the audit trail (audit.h) and the state file (statefile.h),
 *     talks to systemd (sd_notify);
 *   the poller (poller.h): forked by the locker, drops to [daemon] user once
 *     its TLS sessions are open, and is the only process that speaks to the
 *     servers or parses what they send.
 * One event loop each, signals through signalfd.  SIGHUP: the configuration
 * reloaded (a bad one is refused and the old kept), the poller restarted
 * with it, the volumes rescanned.  SIGTERM, SIGINT: both stop within a second.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libudev.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon/audit.h"
#include "daemon/locker.h"
#include "daemon/poller.h"
#include "daemon/proto.h"
#include "daemon/statefile.h"
#include "daemon/watch.h"
#include "luks/luks.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/strnum.h"

#define STOP_WAIT_MS		900	/* SIGTERM: the poller's time to go before SIGKILL */
#define RESCAN_DEBOUNCE_MS	200	/* after a udev event, before the rescan */
#define RESPAWN_MAX_S		30

struct daemon {
	const char *config_path, *test_volumes, *test_record;
	bool once;
	unsigned test_interval_ms;	/* 0: poll_interval */
	bool test_no_rescan;		/* no periodic rescan (udev, SIGHUP, a changed header only) */
	enum poll_strategy test_strategy;
	bool test_violate;
	const char *test_keys;
	struct config *cfg;
	struct watch_list wl;
	uint32_t gen;
	pid_t poller;
	int fd;				/* the locker's end of the socketpair */
	int sfd, rescan_tfd, respawn_tfd, dog_tfd;
	struct udev *udev;
	struct udev_monitor *mon;
	char udev_why[64];		/* the udev event that armed the rescan, "" if none */
	struct group_view groups[CONFIG_GROUPS_MAX];
	size_t n_groups;
	unsigned cycles, respawn_s;
	int64_t last_cycle_ms;
	struct cycle_stats last;
	bool stopping_poller;		/* we asked it to stop: its end is no failure */
};

static const char usage[] =
"Usage: kmipcryptd [-c FILE] [-v] [--once]\n"
"Watch every open LUKS2 volume bound to a KMIP key; lock it when the key is\n"
"revoked or destroyed on the key server (remote kill).\n\n"
"  -c, --config FILE      configuration (default " KMIPCRYPT_CONF_PATH ")\n"
"      --once             one scan and one poll cycle (actions included), then exit\n"
"  -v, --verbose          debug messages\n"
"  -h, --help             this text\n"
"  -V, --version          the version\n\n"
"Test seams (kmipcryptd(8), TESTING): --test-volumes FILE treats the volumes\n"
"listed there (\"NAME DEVICE\" lines) as open; --test-record FILE appends a line\n"
"per lock to FILE instead of touching device-mapper; --test-interval-ms MS polls\n"
"every MS milliseconds instead of poll_interval; --test-keys FILE watches\n"
"\"NAME GROUP UID\" lines as volumes of one key each (no header read);\n"
"--test-strategy auto|batch|naive|locate forces how keys are asked;\n"
"--test-sandbox-violate makes the poller break its seccomp filter once started;\n"
"--test-no-rescan turns the periodic rescan off.\n";

/* ------------------------------------------------------------ timers */

/* poll_interval in ms, or the test seam's; also the period of the safety-net rescan. */
static int64_t interval_ms(const struct daemon *d)
{
	return d->test_interval_ms ? d->test_interval_ms :
	       (int64_t)d->cfg->daemon.poll_interval_s * 1000;
}

/* The period of the safety-net rescan: poll_interval; 0 (none) with --test-no-rescan. */
static int64_t rescan_ms(const struct daemon *d)
{
	return d->test_no_rescan ? 0 : interval_ms(d);
}

static int arm(int tfd, int64_t ms, int64_t every_ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L + (ms == 0 && every_ms ? 1 : 0);
	its.it_interval.tv_sec = (time_t)(every_ms / 1000);
	its.it_interval.tv_nsec = (long)(every_ms % 1000) * 1000000L;
	return timerfd_settime(tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void drain(int fd)
{
	uint64_t x;

	while (read(fd, &x, sizeof(x)) > 0)
		;
}

/* ------------------------------------------------------------ poller */

static int send_watch(struct daemon *d)
{
	struct msg m;
	size_t i, j;
	int r = 0;

	d->gen++;
	for (i = 0; r == 0 && i < d->wl.n; i++)
		for (j = 0; r == 0 && j < d->wl.v[i].nkeys; j++) {
			memset(&m, 0, sizeof(m));
			m.type = MSG_WATCH;
			m.gen = d->gen;
			m.u.watch.vol = (uint32_t)i;
			m.u.watch.key = (uint32_t)j;
			snprintf(m.u.watch.uid, sizeof(m.u.watch.uid), "%s", d->wl.v[i].keys[j].uid);
			snprintf(m.u.watch.group, sizeof(m.u.watch.group), "%s",
				 d->wl.v[i].keys[j].group);
			r = proto_send(d->fd, &m);
		}
	if (r == 0) {
		memset(&m, 0, sizeof(m));
		m.type = MSG_WATCH_END;
		m.gen = d->gen;
		m.u.end.n_volumes = (uint32_t)d->wl.n;
		r = proto_send(d->fd, &m);
	}
	if (r < 0 && r != -EPIPE)
		log_error("cannot send the watch list to the poller: %s", strerror(-r));
	return r;
}

static int spawn_poller(struct daemon *d)
{
	int sv[2], sndbuf = 1 << 20;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return log_error_errno(-errno, "socketpair: %m");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return log_error_errno(-errno, "fork: %m");
	}
	if (pid == 0) {
		/* Nothing of the locker's: only stdio and its end of the pair. */
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		_exit(poller_main(&(struct poller_opts){ .config_path = d->config_path, .fd = 3,
							 .interval_ms = d->test_interval_ms,
							 .strategy = d->test_strategy,
							 .test_violate = d->test_violate }));
	}
	close(sv[1]);
	d->fd = sv[0];
	d->poller = pid;
	d->stopping_poller = false;
	log_debug("poller started (pid %d)", (int)pid);
	return send_watch(d);
}

/* Wait up to ms for the poller to end: true once it has (reaped). */
static bool poller_gone(struct daemon *d, int64_t ms)
{
	int64_t end = clock_now_ms() + ms;
	int status;
	pid_t r;

	while ((r = waitpid(d->poller, &status, WNOHANG)) == 0 && clock_now_ms() < end)
		poll(NULL, 0, 10);
	return r != 0;	/* ended, or not ours any more (ECHILD) */
}

/*
 * Ask the poller to stop and wait for it, at most STOP_WAIT_MS, then kill
 * it.  Its socket is closed first: the poller ends on that alone (the locker
 * is gone), which needs no privilege, where a signal to a process of
 * another user needs CAP_KILL.  Never waits without a bound: a poller that
 * will not end is logged and left to SIGCHLD.
 */
static void stop_poller(struct daemon *d)
{
	if (d->poller <= 0)
		return;
	d->stopping_poller = true;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (kill(d->poller, SIGTERM) < 0 && errno != ESRCH)
		log_warn("cannot signal the poller (pid %d): %m; it stops when it sees the locker's "
			 "socket closed (does the unit lack CAP_KILL?)", (int)d->poller);
	if (!poller_gone(d, STOP_WAIT_MS)) {
		if (kill(d->poller, SIGKILL) < 0 && errno != ESRCH)
			log_error("cannot kill the poller (pid %d): %m", (int)d->poller);
		if (!poller_gone(d, STOP_WAIT_MS))
			log_error("the poller (pid %d) did not end within %d ms; going on without it",
				  (int)d->poller, 2 * STOP_WAIT_MS);
	}
	d->poller = 0;
}

/* ------------------------------------------------------------ watch list */

static bool same_list(const struct watch_list *a, const struct watch_list *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (!watch_same(&a->v[i], &b->v[i]))
			return false;
	return true;
}

/*
 * The open volumes again; why (the start, a udev event, SIGHUP, the
 * periodic rescan) is logged with each volume added or dropped: an
 * operator sees whether a volume was picked up at its event.
 */
static int rescan(struct daemon *d, bool force_send, const char *why)
{
	struct watch_list nl;
	bool same;
	size_t i;
	int r;

	r = d->test_keys ? watch_keys_file(d->test_keys, &nl) : watch_scan(d->test_volumes, &nl);
	if (r < 0) {
		log_error("rescan failed (%s); watching the volumes found before", strerror(-r));
		return r;
	}
	watch_carry(&nl, &d->wl);
	same = same_list(&nl, &d->wl);
	for (i = 0; !same && i < nl.n; i++) {
		const struct volume *was = watch_find(&d->wl, nl.v[i].name);

		if (!was || !watch_same(was, &nl.v[i]))
			log_info("%s (%s): watched%s, %zu kmip key(s) (%s)", nl.v[i].name,
				 nl.v[i].device, was ? " with other keys" : "", nl.v[i].nkeys, why);
	}
	for (i = 0; !same && i < d->wl.n; i++)
		if (!watch_find(&nl, d->wl.v[i].name))
			log_info("%s: no longer open; not watched (%s)", d->wl.v[i].name, why);
	watch_list_free(&d->wl);
	d->wl = nl;
	if ((!same || force_send) && d->fd >= 0)
		return send_watch(d);
	return 0;
}

/* ------------------------------------------------------------ verdicts */

static size_t nkeys_of(void *ctx, size_t vol)
{
	return ((struct daemon *)ctx)->wl.v[vol].nkeys;
}

static int group_known(void *ctx, const char *group)
{
	return config_group(((struct daemon *)ctx)->cfg, group) != NULL;
}

/* What the key was, in words for the audit trail. */
static const char *state_words(int state, enum rule rule)
{
	if (state)
		return kmip_state_name(state);
	switch (rule) {
	case RULE_NOT_FOUND:
		return "not-found";
	case RULE_DENIED_REVOKED:
		return "permission-denied";
	case RULE_OFFLINE_GRACE:
		return "unreachable";
	default:
		return "unknown";
	}
}

/*
 * The deciding key of v, revoked, may no longer be what unlocks it: a
 * rekey or a reencryption switches the token to a new object first and
 * revokes the old one after (Superseded), and a rescan may not have come
 * in between.  So the header is read again before acting: a key it no
 * longer names is no reason to lock the volume; the volumes are scanned
 * again and the poller watches the keys the header names now.  A header
 * that cannot be read does not stop the action.  True if the action is
 * off (v is then no longer valid: the watch list was replaced).
 */
static bool superseded(struct daemon *d, struct volume *v)
{
	char name[DMAP_NAME_MAX], uid[KMIP_UID_SIZE];

	if (watch_names_key(v, v->keys[v->key].uid) != 0)
		return false;
	snprintf(name, sizeof(name), "%s", v->name);
	snprintf(uid, sizeof(uid), "%s", v->keys[v->key].uid);
	log_info("%s: key '%s' is %s, but the volume's header no longer names it (re-keyed, "
		 "re-encrypted or unbound since it was watched): not locked; watching the "
		 "keys it names now", name, uid, state_words(v->state, v->rule));
	rescan(d, true, "header changed");
	return true;
}

static void act(struct daemon *d, struct volume *v)
{
	const struct config_volume *cv = config_volume(d->cfg, v->name);
	enum daemon_action a = cv && cv->action_set ? cv->action : d->cfg->daemon.action;
	const char *exec = cv && cv->exec_set ? cv->exec : d->cfg->daemon.exec;
	const struct watch_key *key = &v->keys[v->key];
	const char *state = state_words(v->state, v->rule), *rule = policy_rule_name(v->rule);
	char action[32];
	pid_t pid;
	int r;

	r = locker_lock(v, key, a, state, rule, d->test_record);
	audit_locked(&(struct audit_lock){ .mapping = v->name, .device = v->device,
					   .uid = key->uid, .state = state, .rule = rule,
					   .action = locker_action_name(a), .err = r });
	if (r == 0) {
		v->locked = true;
		v->locked_ms = clock_now_ms();
	}
	snprintf(action, sizeof(action), "%s%s", locker_action_name(a), r ? "-failed" : "");
	if (exec && *exec)
		locker_exec(exec, v, key, action, state, rule, &pid);
}

static void on_verdict(struct daemon *d, const struct msg *m)
{
	struct volume *v = &d->wl.v[m->u.verdict.vol];

	v->seen = true;
	v->verdict = (enum verdict)m->u.verdict.verdict;
	v->rule = (enum rule)m->u.verdict.rule;
	v->key = m->u.verdict.key;
	v->state = m->u.verdict.state;
	v->err = m->u.verdict.err;
	v->verdict_ms = clock_now_ms();
	if (v->verdict == VERDICT_REVOKED && !v->locked) {
		if (!superseded(d, v))
			act(d, v);
	} else if (v->verdict == VERDICT_FINE && v->locked) {
		struct dmap_mapping dm;

		/* Unlocked again (resumed with a usable key): watched as any open volume. */
		if (d->test_record || (dmap_query(v->name, &dm) == 0 && dm.state == DMAP_ACTIVE)) {
			log_info("%s: open again with a usable key ('%s')", v->name,
				 v->keys[v->key].uid);
			v->locked = false;
		}
	}
}

static struct group_view *group_view_of(struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_groups; i++)
		if (!strcmp(d->groups[i].name, name))
			return &d->groups[i];
	if (d->n_groups == CONFIG_GROUPS_MAX)
		return NULL;
	snprintf(d->groups[d->n_groups].name, sizeof(d->groups[0].name), "%s", name);
	return &d->groups[d->n_groups++];
}

static void on_group(struct daemon *d, const struct msg *m)
{
	struct group_view *g = group_view_of(d, m->u.group.group);
	bool answering = m->u.group.answered;

	if (!g)
		return;
	if (!g->known && answering)
		log_info("group [%s]: its servers answer", g->name);
	else if ((!g->known || g->answering) && !answering)
		audit_group(g->name, m->u.group.err ? m->u.group.err : -EIO);
	else if (g->known && !g->answering && answering)
		audit_group(g->name, 0);
	g->known = true;
	g->answering = answering;
	g->err = m->u.group.err;
	g->unreachable_ms = m->u.group.unreachable_ms;
}

static void on_cycle(struct daemon *d, const struct msg *m)
{
	struct daemon_view view = { .cfg = d->cfg, .wl = &d->wl, .groups = d->groups,
				    .n_groups = d->n_groups };
	size_t i, locked = 0;

	d->cycles++;
	d->last_cycle_ms = clock_now_ms();
	d->respawn_s = 0;	/* it works: a later crash restarts it at once */
	view.cycles = d->cycles;
	view.last_cycle_ms = d->last_cycle_ms;
	d->last.keys = m->u.cycle.n_keys;
	d->last.requests = m->u.cycle.n_requests;
	d->last.wall_ms = m->u.cycle.wall_ms;
	d->last.cpu_us = m->u.cycle.cpu_us;
	view.last = d->last;
	statefile_write(d->cfg->daemon.state_file, &view);
	for (i = 0; i < d->wl.n; i++)
		locked += d->wl.v[i].locked;
	log_debug("cycle %u: %u key(s), %u request(s), %u ms, poller CPU %u us", d->cycles,
		  m->u.cycle.n_keys, m->u.cycle.n_requests, m->u.cycle.wall_ms, m->u.cycle.cpu_us);
	sd_notifyf(0, "%sSTATUS=watching %zu volume(s), %zu locked; last poll: %u request(s)\n"
		   "WATCHDOG=1", d->cycles == 1 ? "READY=1\n" : "", d->wl.n, locked,
		   m->u.cycle.n_requests);
}

/* Everything the poller sent; -EPIPE when it is gone. */
static int from_poller(struct daemon *d)
{
	struct msg m;
	int r;

	for (;;) {
		r = proto_recv(d->fd, &m);
		if (r == -EAGAIN)
			return 0;
		if (r == -EBADMSG) {
			log_error("a malformed message from the poller: ignored");
			continue;
		}
		if (r < 0)
			return r;
		r = proto_check_from_poller(&m, d->gen, d->wl.n, nkeys_of, group_known, d);
		if (r == -ESTALE)
			continue;
		if (r < 0) {
			log_error("a message from the poller out of range (type %u): ignored", m.type);
			continue;
		}
		if (m.type == MSG_VERDICT)
			on_verdict(d, &m);
		else if (m.type == MSG_GROUP)
			on_group(d, &m);
		else if (m.type == MSG_CYCLE) {
			on_cycle(d, &m);
			if (d->once)
				return 1;
		}
	}
}

/* ------------------------------------------------------------ signals */

static void reap(struct daemon *d)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == d->poller) {
			d->poller = 0;
			if (d->fd >= 0)
				close(d->fd);
			d->fd = -1;
			if (d->stopping_poller)
				continue;
			d->respawn_s = d->respawn_s ? d->respawn_s * 2 : 1;
			if (d->respawn_s > RESPAWN_MAX_S)
				d->respawn_s = RESPAWN_MAX_S;
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
				log_error("the poller was killed by its seccomp filter (SIGSYS: a "
					  "system call it may not make; kmipcryptd(8), SANDBOX): a "
					  "bug, please report it with the output of 'kmipcryptd -v'; "
					  "restarting it in %us", d->respawn_s);
			else
				log_error("the poller ended (%s %d); restarting it in %us",
					  WIFSIGNALED(status) ? "signal" : "status",
					  WIFSIGNALED(status) ? WTERMSIG(status) :
					  WEXITSTATUS(status), d->respawn_s);
			arm(d->respawn_tfd, (int64_t)d->respawn_s * 1000, 0);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			log_warn("exec command (pid %d) ended with %s %d", (int)pid,
				 WIFSIGNALED(status) ? "signal" : "status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		}
	}
}

static void reload(struct daemon *d)
{
	struct config *n = NULL;
	int r;

	r = config_load(d->config_path, &n);
	if (r < 0) {
		log_error("SIGHUP: %s not reloaded (%s); the configuration in use stays",
			  d->config_path, strerror(-r));
		return;
	}
	config_forget_secrets(n);
	config_free(d->cfg);
	d->cfg = n;
	log_info("SIGHUP: configuration reloaded; restarting the poller, rescanning");
	stop_poller(d);
	rescan(d, false, "SIGHUP");
	spawn_poller(d);
	arm(d->rescan_tfd, rescan_ms(d), rescan_ms(d));
}

/* ------------------------------------------------------------ loop */

static void udev_open(struct daemon *d)
{
	if (d->test_volumes)
		return;
	d->udev = udev_new();
	if (d->udev)
		d->mon = udev_monitor_new_from_netlink(d->udev, "udev");
	if (!d->mon || udev_monitor_filter_add_match_subsystem_devtype(d->mon, "block", "disk") < 0 ||
	    udev_monitor_enable_receiving(d->mon) < 0) {
		log_warn("no udev events: volumes opened or closed are seen at the next periodic "
			 "rescan (every poll_interval)");
		udev_monitor_unref(d->mon);
		d->mon = NULL;
	}
}

static void udev_event(struct daemon *d)
{
	struct udev_device *dev;
	const char *name, *action;

	while ((dev = udev_monitor_receive_device(d->mon))) {
		name = udev_device_get_sysname(dev);
		action = udev_device_get_action(dev);
		if (name && !strncmp(name, "dm-", 3)) {
			snprintf(d->udev_why, sizeof(d->udev_why), "udev: %s %s",
				 action ? action : "event", name);
			arm(d->rescan_tfd, RESCAN_DEBOUNCE_MS, rescan_ms(d));
		}
		udev_device_unref(dev);
	}
}

static int run(struct daemon *d)
{
	struct signalfd_siginfo si;
	uint64_t usec = 0;
	int r;

	r = rescan(d, false, "start");
	if (r < 0)
		return r;
	r = spawn_poller(d);
	if (r < 0)
		return r;
	arm(d->rescan_tfd, rescan_ms(d), rescan_ms(d));
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
		arm(d->dog_tfd, (int64_t)(usec / 2000), (int64_t)(usec / 2000));
	for (;;) {
		struct pollfd fds[6] = {
			{ .fd = d->sfd, .events = POLLIN },
			{ .fd = d->fd, .events = POLLIN },
			{ .fd = d->rescan_tfd, .events = POLLIN },
			{ .fd = d->respawn_tfd, .events = POLLIN },
			{ .fd = d->dog_tfd, .events = POLLIN },
			{ .fd = d->mon ? udev_monitor_get_fd(d->mon) : -1, .events = POLLIN },
		};

		if (poll(fds, 6, -1) < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(-errno, "poll: %m");
		}
		if (fds[0].revents & POLLIN) {
			while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					reap(d);
				else if (si.ssi_signo == SIGHUP)
					reload(d);
				else
					return 0;	/* SIGTERM, SIGINT */
			}
		}
		if (d->fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			r = from_poller(d);
			if (r == 1)
				return 0;	/* --once */
			if (r < 0 && d->fd >= 0) {
				close(d->fd);	/* its end comes with SIGCHLD */
				d->fd = -1;
			}
		}
		if (fds[2].revents & POLLIN) {
			drain(d->rescan_tfd);
			rescan(d, false, d->udev_why[0] ? d->udev_why : "periodic rescan");
			d->udev_why[0] = '\0';
		}
		if (fds[3].revents & POLLIN) {
			drain(d->respawn_tfd);
			if (d->poller <= 0)
				spawn_poller(d);
		}
		if (fds[4].revents & POLLIN) {
			drain(d->dog_tfd);
			/* Only while the poller keeps polling: a stuck one stops the pings. */
			if (d->last_cycle_ms && clock_now_ms() - d->last_cycle_ms <=
			    interval_ms(d) * 2 + 60000)
				sd_notify(0, "WATCHDOG=1");
		}
		if (fds[5].revents & POLLIN)
			udev_event(d);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "test-volumes", required_argument, NULL, 't' },
		{ "test-record", required_argument, NULL, 'r' },
		{ "test-interval-ms", required_argument, NULL, 'i' },
		{ "test-strategy", required_argument, NULL, 's' },
		{ "test-keys", required_argument, NULL, 'k' },
		{ "test-sandbox-violate", no_argument, NULL, 'x' },
		{ "test-no-rescan", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { .config_path = KMIPCRYPT_CONF_PATH, .fd = -1, .sfd = -1,
			    .rescan_tfd = -1, .respawn_tfd = -1, .dog_tfd = -1 };
	unsigned long long ull;
	sigset_t mask;
	int c, r;

	log_set_ident("kmipcryptd");
	while ((c = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d.config_path = optarg; break;
		case 'o': d.once = true; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 't': d.test_volumes = optarg; break;
		case 'r': d.test_record = optarg; break;
		case 'n': d.test_no_rescan = true; break;
		case 'i':
			if (parse_uint(optarg, 1, 86400000, &ull) < 0) {
				fprintf(stderr, "kmipcryptd: --test-interval-ms: 1 to 86400000\n");
				return 1;
			}
			d.test_interval_ms = (unsigned)ull;
			break;
		case 's':
			if (!strcmp(optarg, "auto"))
				d.test_strategy = POLL_AUTO;
			else if (!strcmp(optarg, "batch"))
				d.test_strategy = POLL_BATCH;
			else if (!strcmp(optarg, "naive"))
				d.test_strategy = POLL_NAIVE;
			else if (!strcmp(optarg, "locate"))
				d.test_strategy = POLL_LOCATE;
			else {
				fprintf(stderr, "kmipcryptd: --test-strategy: auto, batch, naive or "
					"locate\n");
				return 1;
			}
			break;
		case 'k': d.test_keys = optarg; break;
		case 'x': d.test_violate = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': puts("kmipcryptd " KMIPCRYPT_VERSION); return 0;
		default: fputs(usage, stderr); return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kmipcryptd: unexpected argument '%s'\n%s", argv[optind], usage);
		return 1;
	}
	r = secmem_harden_process();
	if (r < 0)
		log_warn("cannot make the process non-dumpable: %s", strerror(-r));
	r = config_load(d.config_path, &d.cfg);
	if (r < 0) {
		log_error("cannot load %s (%s): not started", d.config_path, strerror(-r));
		return 1;
	}
	config_forget_secrets(d.cfg);	/* the locker loads no key: the poller reads its own */
	luks_log_setup();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d.rescan_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d.respawn_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d.dog_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d.sfd < 0 || d.rescan_tfd < 0 || d.respawn_tfd < 0 || d.dog_tfd < 0) {
		r = log_error_errno(-errno, "signalfd/timerfd: %m");
		goto out;
	}
	udev_open(&d);
	r = run(&d);
	sd_notify(0, "STOPPING=1");
out:
	stop_poller(&d);
	if (d.cfg)
		statefile_remove(d.cfg->daemon.state_file);
	udev_monitor_unref(d.mon);
	udev_unref(d.udev);
	watch_list_free(&d.wl);
	config_free(d.cfg);
	return r < 0 ? 1 : 0;
}
