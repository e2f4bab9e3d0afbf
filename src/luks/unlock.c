/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unlock: for each kmip token of the device (in token order, or the one
 * asked for), prove the binding (luks_prove: the key's State, the secret
 * fetched or decrypted and checked against the header, no mapping), then
 * hand the secret to libcryptsetup: the token's keyslot by passphrase
 * (passphrase, envelope) or the volume key itself (volume-key).  With no
 * name the proof is all it does (check only).  A volume
 * already open as name is left alone; one open but suspended (`lock`) is
 * resumed with the secret, fetched again: the key must still be Active.
 *
 * Many volumes (--all): one child process per volume, all at once, each
 * bounded by its own deadline; the parent kills a child that overruns it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "luks/luks_internal.h"
#include "conf/config.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secmem.h"

#define TOKENS_MAX	32
#define KILL_GRACE_MS	1000	/* a child's own deadline, then this, then SIGKILL */

/* Activate (or resume) as name with a secret that luks_prove() proved. */
static int activate(struct crypt_device *cd, const char *device, const char *name,
		    const struct kmip_token *t, const struct luks_proof *p, uint32_t flags,
		    bool resume)
{
	char *pass = NULL, what[160];
	size_t pass_len = 0;
	int r;

	if (p->is_vk) {
		r = resume ? crypt_resume_by_volume_key(cd, name, (const char *)p->secret, p->len) :
			crypt_activate_by_volume_key(cd, name, (const char *)p->secret, p->len, flags);
	} else {
		r = luks_secret_passphrase(p->secret, p->len, &pass, &pass_len);
		if (r < 0)
			return r;
		r = resume ? crypt_resume_by_passphrase(cd, name, t->keyslot, pass, pass_len) :
			crypt_activate_by_passphrase(cd, name, t->keyslot, pass, pass_len, flags);
		secmem_free(pass);
	}
	if (r >= 0)
		return 0;
	snprintf(what, sizeof(what), "%s the mapping %s", resume ? "resuming" : "activating", name);
	return luks_crypt_fail(r, device, what);
}

/* The CRYPT_ACTIVATE_* flags crypttab can set, for messages. */
static void flags_text(uint32_t flags, char *buf, size_t len)
{
	static const struct { uint32_t flag; const char *name; } names[] = {
		{ CRYPT_ACTIVATE_ALLOW_DISCARDS, "discard" },
		{ CRYPT_ACTIVATE_READONLY, "readonly" },
		{ CRYPT_ACTIVATE_SAME_CPU_CRYPT, "same-cpu-crypt" },
		{ CRYPT_ACTIVATE_SUBMIT_FROM_CRYPT_CPUS, "submit-from-crypt-cpus" },
		{ CRYPT_ACTIVATE_NO_READ_WORKQUEUE, "no-read-workqueue" },
		{ CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE, "no-write-workqueue" },
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((flags & names[i].flag) && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[i].name);
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* The network, TLS, a malformed or failed answer: the messages so far named no group. */
static bool server_failure(int r)
{
	switch (r) {
	case -ECONNREFUSED: case -ETIMEDOUT: case -EHOSTUNREACH: case -ENETUNREACH:
	case -ENETDOWN: case -EHOSTDOWN: case -ECONNRESET: case -ECONNABORTED:
	case -EADDRNOTAVAIL: case -EPIPE: case -EKEYREJECTED: case -EAGAIN:
	case -EMSGSIZE: case -EPROTO: case -EPROTONOSUPPORT: case -EIO:
	case -ECANCELED: case -ENODATA:
		return true;
	default:
		return false;
	}
}

/*
 * One token: prove it (fetch the secret, check it against the header), then
 * activate or resume if name.  *fatal: a LUKS failure no other token would
 * avoid (no device-mapper, the name in use...); a wrong secret or object is
 * this token's problem only.
 */
static int unlock_token(struct crypt_device *cd, const char *device, const char *name,
			struct config *cfg, const struct unlock_opts *o, int64_t deadline,
			int id, bool resume, bool *fatal)
{
	struct luks_proof p = { .keep_secret = name != NULL };
	struct kmip_token t;
	struct kmip_session *conn = NULL;
	char kek[4096], why[KMIP_FAILURE_TEXT_SIZE];
	const char *kek_file = NULL;
	int r;

	*fatal = false;
	r = luks_token_read(cd, device, id, &t);
	if (r < 0)
		return -ELUKS;
	r = luks_token_kek_file(cfg, device, id, &t, o->kek_file, kek, sizeof(kek), &kek_file);
	if (r < 0)
		goto out;
	r = conf_session_open(cfg, t.group, deadline, &conn);
	if (r < 0)
		goto out;
	log_debug("%s token %d: %s key '%s' from group [%s]", device, id, kmip_kind_name(t.kind),
		  t.uid, t.group);
	r = luks_prove(cd, device, id, &t, kmip_session_client(conn), kek_file, &p);
	if (r < 0) {
		if (p.verdict == LUKS_UNPROVEN && server_failure(r))
			log_error("%s token %d: no usable answer from the server(s) of group [%s]: %s",
				  device, id, t.group, kmip_failure_reason(kmip_session_client(conn), r,
									   why, sizeof(why)));
		*fatal = p.verdict == LUKS_UNPROVEN && r == -ELUKS;
		goto out;
	}
	if (name) {
		r = activate(cd, device, name, &t, &p, o->activate_flags, resume);
		*fatal = r < 0;
	}
	if (r == 0)
		log_info("%s: %s with token %d (key '%s', kind %s)", device,
			 resume ? "resumed" : name ? "unlocked" :
			 "verified, no mapping created (check only)", id, t.uid,
			 kmip_kind_name(t.kind));
out:
	secmem_free(p.secret);
	kmip_session_close(conn);
	explicit_bzero(&t, sizeof(t));
	return r;
}

/*
 * Is this volume open as name already?  Then unlocking is done (as
 * systemd-cryptsetup does): nothing is fetched, 1.  Open but suspended (by
 * `lock`, luksSuspend): 2, the secret is fetched again to resume it.  A
 * mapping of that name of another volume, or one closed to an error target,
 * is left to activation to refuse (-EEXIST): 0.
 */
static int already_open(struct crypt_device *cd, const char *device, const char *name)
{
	struct crypt_device *byname = NULL;
	struct crypt_active_device cad;
	const char *mine = crypt_get_uuid(cd), *theirs;
	int open = 0;

	/* crypt_status(NULL, ...) asks quietly; crypt_init_by_name would log "not active". */
	if (!luks_dm_available() || crypt_status(NULL, name) < CRYPT_ACTIVE ||
	    crypt_init_by_name(&byname, name) < 0)
		return 0;
	luks_dev_log_to_ours(byname);
	theirs = crypt_get_uuid(byname);
	if (crypt_status(byname, name) >= CRYPT_ACTIVE && mine && theirs && !strcmp(mine, theirs)) {
		open = 1;
		if (crypt_get_active_device(byname, name, &cad) == 0 &&
		    (cad.flags & CRYPT_ACTIVATE_SUSPENDED)) {
			log_info("%s: open as %s but suspended (locked); resuming it", device, name);
			open = 2;
		} else {
			log_info("%s: already unlocked as %s", device, name);
		}
	}
	crypt_free(byname);
	return open;
}

int luks_unlock_ex(const char *device, const char *name, struct config *cfg,
		   const struct unlock_opts *o)
{
	static const struct unlock_opts defaults = { .token_id = -1 };
	struct crypt_device *cd = NULL;
	int ids[TOKENS_MAX], n, i, r, first = 0, open;
	int64_t deadline;
	bool fatal = false;

	if (!o)
		o = &defaults;
	deadline = clock_now_ms() + (o->deadline_ms ? o->deadline_ms : LUKS_DEADLINE_MS_DEFAULT);
	r = luks_dev_open(device, &cd);
	if (r < 0)
		return r;
	open = name ? already_open(cd, device, name) : 0;
	if (o->outcome)
		*o->outcome = open == 1 ? LUKS_UNLOCK_ALREADY_OPEN : open == 2 ? LUKS_UNLOCK_RESUMED :
			      name ? LUKS_UNLOCK_OPENED : LUKS_UNLOCK_VERIFIED;
	if (open == 1) {
		r = 0;
		goto out;
	}
	if (name) {
		char flags[128];

		flags_text(o->activate_flags, flags, sizeof(flags));
		log_debug("%s: to be opened as %s, options %s", device, name, flags);
	}
	n = luks_kmip_tokens(cd, ids, TOKENS_MAX);
	if (o->token_id >= 0) {
		for (i = 0; i < n && ids[i] != o->token_id; i++)
			;
		if (i == n) {
			r = log_error_errno(-ELUKS, "%s: token %d is not a kmip token", device,
					    o->token_id);
			goto out;
		}
		ids[0] = o->token_id;
		n = 1;
	}
	if (n == 0) {
		r = log_error_errno(-ELUKS, "%s: no kmip token (bind it with 'kmipcrypt enroll %s')",
				    device, device);
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = unlock_token(cd, device, name, cfg, o, deadline, ids[i], open == 2, &fatal);
		if (r == 0)
			goto out;
		if (!first)
			first = r;
		if (fatal)
			break;
		if (i + 1 < n)
			log_warn("%s: token %d did not unlock; trying token %d", device, ids[i],
				 ids[i + 1]);
	}
	r = first;
out:
	crypt_free(cd);
	return r;
}

int luks_unlock(const char *device, const char *name, struct config *cfg)
{
	return luks_unlock_ex(device, name, cfg, NULL);
}

/* ------------------------------------------------------------ many */

struct child {
	pid_t pid;
	int64_t kill_at;
	bool done;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * A child's exit status: the errno of a failure (1..133), or 0 and these for
 * what a success did (above any errno).
 */
#define CHILD_EXIT_ALREADY_OPEN	254
#define CHILD_EXIT_RESUMED	255

int luks_unlock_many(const struct luks_volume_list *l, bool check_only, struct config *cfg,
		     const struct unlock_opts *o, int *results,
		     enum luks_unlock_outcome *outcomes)
{
	static const struct unlock_opts defaults = { .token_id = -1 };
	struct child *ch;
	unsigned deadline_ms;
	size_t i, left;
	int status;

	if (!o)
		o = &defaults;
	if (l->n == 0)
		return 0;
	deadline_ms = o->deadline_ms ? o->deadline_ms : LUKS_DEADLINE_MS_DEFAULT;
	ch = calloc(l->n, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	fflush(NULL);
	for (i = 0; i < l->n; i++) {
		results[i] = -ECANCELED;
		if (l->v[i].err) {	/* a listed volume that is none (logged by luks_discover) */
			results[i] = l->v[i].err;
			ch[i].done = true;
			continue;
		}
		ch[i].pid = fork();
		if (ch[i].pid < 0) {
			results[i] = log_error_errno(-errno, "%s: cannot start a process: %m",
						     l->v[i].device);
			ch[i].done = true;
			continue;
		}
		if (ch[i].pid == 0) {
			struct unlock_opts mine = *o;
			enum luks_unlock_outcome how = LUKS_UNLOCK_OPENED;
			int r, code;

			mine.activate_flags |= l->v[i].activate_flags;
			mine.outcome = &how;
			r = luks_unlock_ex(l->v[i].device, check_only ? NULL : l->v[i].name, cfg, &mine);
			if (r < 0)
				code = -r < CHILD_EXIT_ALREADY_OPEN ? -r : EIO;
			else
				code = how == LUKS_UNLOCK_ALREADY_OPEN ? CHILD_EXIT_ALREADY_OPEN :
				       how == LUKS_UNLOCK_RESUMED ? CHILD_EXIT_RESUMED : 0;
			config_free(cfg);	/* this copy's key password: wiped, not just dropped */
			free(ch);
			fflush(NULL);
			_exit(code);
		}
		ch[i].kill_at = clock_now_ms() + deadline_ms + KILL_GRACE_MS;
	}
	for (;;) {
		int64_t now = clock_now_ms();

		left = 0;
		for (i = 0; i < l->n; i++) {
			pid_t p;

			if (ch[i].done)
				continue;
			p = waitpid(ch[i].pid, &status, WNOHANG);
			if (p == ch[i].pid) {
				ch[i].done = true;
				if (WIFEXITED(status) && WEXITSTATUS(status) >= CHILD_EXIT_ALREADY_OPEN) {
					results[i] = 0;
					if (outcomes)
						outcomes[i] = WEXITSTATUS(status) == CHILD_EXIT_RESUMED ?
							LUKS_UNLOCK_RESUMED : LUKS_UNLOCK_ALREADY_OPEN;
				} else if (WIFEXITED(status)) {
					results[i] = -WEXITSTATUS(status);
					if (outcomes)
						outcomes[i] = check_only ? LUKS_UNLOCK_VERIFIED :
							      LUKS_UNLOCK_OPENED;
				}
				else if (results[i] != -ETIMEDOUT)
					results[i] = log_error_errno(-EIO, "%s: the unlock process died "
								     "(signal %d)", l->v[i].device,
								     WTERMSIG(status));
				continue;
			}
			if (now >= ch[i].kill_at && results[i] != -ETIMEDOUT) {
				log_error("%s: no result within the time limit (%u ms); stopping it",
					  l->v[i].device, deadline_ms);
				kill(ch[i].pid, SIGKILL);
				results[i] = -ETIMEDOUT;
			}
			left++;
		}
		if (left == 0)
			break;
		sleep_ms(10);
	}
	free(ch);
	return 0;
}
