// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kmipcrypt askpass: a systemd password agent (https://systemd.io/PASSWORD_AGENTS/)
 * that answers systemd-cryptsetup's passphrase request for a kmip-bound
 * volume from the KMS, beside the prompt on the console (as Clevis's
 * agent does): whoever answers first wins.
 *
 * For each ask file (util/askfile.h) with Id=cryptsetup:DEVICE: the
 * device's kmip tokens of a kind that yields a keyslot passphrase
 * (passphrase, envelope; volume-key cannot be typed) are tried with the
 * library's fetch (luks_fetch_secret, luks_secret_passphrase: exactly the
 * token plugin's secret), and the passphrase is sent to the ask file's
 * Socket= as "+PASSPHRASE".  Per device: retried with a capped backoff on
 * the "retry" class only (util/errclass.h: unreachable, bad answer); any
 * other answer is final (said once); an answer that the asker refuses (it
 * asks again for the same device) is not repeated.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "conf/config.h"
#include "kmip/kmip.h"
#include "luks/luks.h"
#include "util/askfile.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/strnum.h"

#define ASK_DIR_DEFAULT		"/run/systemd/ask-password"
#define ASK_DEVICES_MAX		64	/* devices followed at once */
#define ASK_FILES_MAX		256	/* ask files looked at per scan */
#define ASK_BACKOFF_FIRST_MS	1000
#define ASK_BACKOFF_MAX_MS	15000
#define ASK_ATTEMPT_MS		10000	/* one attempt: every token, every server */
#define ASK_IDLE_MS		2000	/* re-read the directory at least this often (NotAfter, PID) */

enum dev_state {
	DEV_WORKING = 0,	/* try at next_ms */
	DEV_ANSWERED,		/* answered to the request in file */
	DEV_FINAL,		/* bound, but the KMS's answer is final: the user types */
	DEV_UNBOUND,		/* no kmip token that gives a passphrase: not ours */
};

struct dev {
	char device[ASKFILE_ID_MAX + 1];
	enum dev_state st;
	int64_t next_ms;
	unsigned backoff_ms;
	char file[NAME_MAX + 1];	/* DEV_ANSWERED: the request answered */
	bool seen;			/* an ask file names it in this scan */
};

struct agent {
	const char *dir;
	int dirfd;
	struct config *cfg;
	int64_t deadline;	/* 0: none */
	struct dev devs[ASK_DEVICES_MAX];
	size_t n;
};

static struct dev *dev_of(struct agent *a, const char *device)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->devs[i].device, device) == 0)
			return &a->devs[i];
	if (a->n == ASK_DEVICES_MAX) {
		log_warn("askpass: more than %d devices asked for; %s is left to the prompt",
			 ASK_DEVICES_MAX, device);
		return NULL;
	}
	snprintf(a->devs[a->n].device, sizeof(a->devs[a->n].device), "%s", device);
	a->devs[a->n].backoff_ms = ASK_BACKOFF_FIRST_MS;
	return &a->devs[a->n++];
}

/*
 * Read one ask file: a regular file (never a symlink, FIFO or device) owned
 * by this user (the asker runs as the agent's user: root at boot), at most
 * ASKFILE_MAX bytes.  0, or -EINVAL (why at debug level).
 */
static int ask_read(struct agent *a, const char *name, struct askfile *out)
{
	char buf[ASKFILE_MAX + 1];
	struct stat st;
	ssize_t k;
	size_t len = 0;
	int fd, r = -EINVAL;

	fd = openat(a->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_debug("askpass: %s/%s: %s", a->dir, name, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		log_debug("askpass: %s/%s: not a regular file of this user; ignored", a->dir, name);
		goto out;
	}
	while (len < sizeof(buf)) {
		k = read(fd, buf + len, sizeof(buf) - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	if (k < 0 || len > ASKFILE_MAX) {
		log_debug("askpass: %s/%s: unreadable or longer than %d bytes; ignored", a->dir,
			  name, ASKFILE_MAX);
		goto out;
	}
	r = askfile_parse(buf, len, out);
	if (r < 0)
		log_debug("askpass: %s/%s: not a valid ask file; ignored", a->dir, name);
out:
	close(fd);
	return r;
}

/* Is sock an AF_UNIX socket of this user (the secret goes to no one else)? */
static bool sock_ok(const char *sock)
{
	struct stat st;

	return lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == geteuid();
}

/* Send "+" and the passphrase to the asker's socket.  0 or a negative errno (logged). */
static int ask_answer(const char *device, const char *sock, const char *pass, size_t pass_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *msg = NULL;
	int fd = -1, r;

	if (!sock_ok(sock)) {
		r = log_error_errno(-EINVAL, "askpass: %s: the request's Socket=%s is not a socket "
				    "of this user; not answered", device, sock);
		goto out;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);	/* <= ASKFILE_SOCKET_MAX */
	msg = secmem_alloc(pass_len + 1);
	if (!msg) {
		r = log_error_errno(-ENOMEM, "askpass: %s: out of locked memory", device);
		goto out;
	}
	msg[0] = '+';
	memcpy(msg + 1, pass, pass_len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, pass_len + 1, MSG_NOSIGNAL, (struct sockaddr *)&sa,
			     sizeof(sa)) != (ssize_t)(pass_len + 1)) {
		r = log_error_errno(-errno, "askpass: %s: cannot answer on %s: %s", device, sock,
				    strerror(errno));
		goto out;
	}
	r = 0;
out:
	secmem_free(msg);
	if (fd >= 0)
		close(fd);
	return r;
}

/*
 * One attempt for a device: each of its kmip tokens that yields a keyslot
 * passphrase, in order, until one gives it.  0 answered; 1 fetched but not
 * sent (the socket went away: a later request may be answered); else the errno
 * that decides what next: a retry-class one if any token may answer later,
 * -ENOENT if the device has no such token (not ours), else the first final
 * error.  Each final refusal is logged here, once per attempt (and a final
 * refusal ends the device's attempts).
 */
static int attempt(struct agent *a, const char *device, const char *sock)
{
	struct luks_status s = { 0 };
	struct kmip_session *conn = NULL;
	struct kmip_token t = { 0 };
	uint8_t *secret = NULL;
	char *pass = NULL;
	size_t i, secret_len = 0, pass_len = 0, tried = 0;
	bool is_vk = false;
	int64_t dl = clock_now_ms() + ASK_ATTEMPT_MS;
	int r, retry = 0, final = 0;

	if (a->deadline && dl > a->deadline)
		dl = a->deadline;
	r = luks_status_read(device, NULL, &s);
	if (r < 0) {
		log_warn("askpass: %s: cannot read its LUKS2 header (above); left to the prompt",
			 device);
		r = -ENOENT;
		goto out;
	}
	for (i = 0; i < s.n_tokens; i++) {
		if (s.tokens[i].parse_err || s.tokens[i].t.kind == KMIP_KIND_VOLUME_KEY)
			continue;
		tried++;
		t = s.tokens[i].t;
		snprintf(t.volume_uuid, sizeof(t.volume_uuid), "%s", s.uuid);
		r = conf_session_open(a->cfg, t.group, dl, &conn);
		if (r == 0)
			r = luks_fetch_secret(kmip_session_client(conn), &t, NULL, &secret,
					      &secret_len, &is_vk);
		kmip_session_close(conn);
		conn = NULL;
		if (r == 0 && is_vk)
			r = -EKEYMISMATCH;
		if (r == 0)
			r = luks_secret_passphrase(secret, secret_len, &pass, &pass_len);
		secmem_free(secret);
		secret = NULL;
		if (r == 0) {
			/* Not sent (the asker went away meanwhile): 1, the next request may take it. */
			r = ask_answer(device, sock, pass, pass_len) < 0 ? 1 : 0;
			if (r == 0) {
				printf("%s: answered with the secret of key '%s' (token %d, "
				       "server group [%s])\n", device, t.uid, s.tokens[i].token_id,
				       t.group);
				fflush(stdout);
			}
			goto out;
		}
		if (errclass_retry(r)) {
			if (!retry)
				retry = r;
			log_warn("askpass: %s: no usable answer from server group [%s] for key "
				 "'%s' (%s); trying again", device, t.group, t.uid, strerror(-r));
		} else {
			if (!final)
				final = r;
			log_error("askpass: %s: key '%s' on server group [%s]: %s: not retrying; "
				  "type the passphrase", device, t.uid, t.group,
				  r == -EKEYREVOKED ? "Deactivated (revoked) or Compromised" :
				  strerror(-r));
		}
	}
	r = !tried ? -ENOENT : retry ? retry : final;
out:
	secmem_free(pass);
	explicit_bzero(&t, sizeof(t));
	luks_status_free(&s);
	return r;
}

/* Work on one valid request for device. */
static void ask_handle(struct agent *a, const char *name, const struct askfile *q,
		       const char *device, int64_t *wake)
{
	struct dev *d = dev_of(a, device);
	int r;

	if (!d)
		return;
	d->seen = true;
	if (d->st == DEV_ANSWERED && strcmp(d->file, name) != 0) {
		/* systemd-cryptsetup asks anew after a passphrase that does not open. */
		log_error("askpass: %s: the answer from the KMS was refused (asked again); not "
			  "answering again; type the passphrase", device);
		d->st = DEV_FINAL;
	}
	if (d->st != DEV_WORKING)
		return;
	if (clock_now_ms() < d->next_ms)
		goto later;
	if (!sock_ok(q->socket)) {
		log_debug("askpass: %s: request %s: Socket=%s is not a socket of this user; ignored",
			  device, name, q->socket);
		return;
	}
	r = attempt(a, device, q->socket);
	if (r > 0)
		return;
	if (r == 0) {
		d->st = DEV_ANSWERED;
		snprintf(d->file, sizeof(d->file), "%s", name);
		return;
	}
	if (r == -ENOENT) {
		log_debug("askpass: %s: no kmip token that gives a passphrase; not ours", device);
		d->st = DEV_UNBOUND;
		return;
	}
	if (!errclass_retry(r)) {
		d->st = DEV_FINAL;
		return;
	}
	d->next_ms = clock_now_ms() + d->backoff_ms;
	log_info("askpass: %s: next attempt in %u ms", device, d->backoff_ms);
	d->backoff_ms = d->backoff_ms * 2 > ASK_BACKOFF_MAX_MS ? ASK_BACKOFF_MAX_MS : d->backoff_ms * 2;
later:
	if (d->next_ms < *wake)
		*wake = d->next_ms;
}

/*
 * Read the directory and work on each request.  Returns how many
 * passphrase requests of systemd-cryptsetup stand (not expired, asker
 * alive), bound to the KMS or not, with *wake the time of the next due
 * attempt.  The agent stays while any stands: were it to exit with one
 * left, kmipcrypt-askpass.path (DirectoryNotEmpty=) would start it again
 * at once, over and over.
 */
static int scan(struct agent *a, int64_t *wake)
{
	struct askfile q;
	struct dirent *e;
	DIR *d;
	const char *device;
	size_t i, files = 0;
	int fd, left = 0;

	for (i = 0; i < a->n; i++)
		a->devs[i].seen = false;
	fd = dup(a->dirfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return log_error_errno(-errno, "askpass: cannot read %s: %s", a->dir,
				       strerror(errno));
	}
	rewinddir(d);
	while ((e = readdir(d)) && files < ASK_FILES_MAX) {
		if (strncmp(e->d_name, "ask.", 4) != 0)
			continue;
		files++;
		if (ask_read(a, e->d_name, &q) < 0)
			continue;
		device = askfile_cryptsetup_device(&q);
		if (!device)
			continue;
		if (askfile_expired(&q, (uint64_t)clock_now_ms() * 1000u)) {
			log_debug("askpass: %s: request %s has expired", device, e->d_name);
			continue;
		}
		if (q.pid > 0 && kill(q.pid, 0) < 0 && errno == ESRCH) {
			log_debug("askpass: %s: the asker of %s is gone", device, e->d_name);
			continue;
		}
		ask_handle(a, e->d_name, &q, device, wake);
		left++;
	}
	closedir(d);
	/* A device that is no longer asked for starts afresh if asked again. */
	for (i = 0; i < a->n; i++)
		if (!a->devs[i].seen && a->devs[i].st == DEV_WORKING)
			a->devs[i].backoff_ms = ASK_BACKOFF_FIRST_MS;
	explicit_bzero(&q, sizeof(q));
	return left;
}

static int agent_run(struct agent *a)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p;
	int64_t now, wake;
	int ino, left, r;

	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino < 0)
		return log_error_errno(-errno, "askpass: inotify: %s", strerror(errno));
	if (inotify_add_watch(ino, a->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE |
			      IN_MOVED_FROM | IN_ONLYDIR) < 0) {
		r = log_error_errno(-errno, "askpass: cannot watch %s: %s", a->dir, strerror(errno));
		goto out;
	}
	for (;;) {
		now = clock_now_ms();
		if (a->deadline && now >= a->deadline) {
			log_info("askpass: deadline reached; the remaining requests are left to "
				 "the prompt");
			r = 0;
			break;
		}
		wake = now + ASK_IDLE_MS;
		left = scan(a, &wake);
		if (left < 0) {
			r = left;
			break;
		}
		if (left == 0) {
			log_debug("askpass: no passphrase request left");
			r = 0;
			break;
		}
		if (a->deadline && wake > a->deadline)
			wake = a->deadline;
		now = clock_now_ms();
		p = (struct pollfd){ .fd = ino, .events = POLLIN };
		r = poll(&p, 1, wake > now ? (int)(wake - now) : 0);
		if (r < 0 && errno != EINTR) {
			r = log_error_errno(-errno, "askpass: poll: %s", strerror(errno));
			break;
		}
		while (read(ino, ev, sizeof(ev)) > 0)
			;	/* what changed does not matter: the directory is read again */
	}
out:
	close(ino);
	return r;
}

static void askpass_usage(FILE *f)
{
	fprintf(f,
"Usage: kmipcrypt [-c FILE] askpass [--dir DIR] [--deadline T]\n\n"
"A systemd password agent: answer systemd-cryptsetup's passphrase requests for\n"
"kmip-bound LUKS2 volumes (tokens of kind passphrase or envelope) from the KMS,\n"
"beside the prompt on the console.  A KMS that does not answer is asked again\n"
"with a growing pause (up to 15s) while the request stands; a key the KMS\n"
"refuses (revoked, not found, TLS) is not asked again: type the passphrase.\n"
"Exits when no passphrase request is left (typed, answered, or given up by\n"
"its asker), or at the deadline.\n"
"Meant for kmipcrypt-askpass.path in the initramfs (kmipcrypt-askpass(8)).\n\n"
"  --dir DIR       where the requests are (default " ASK_DIR_DEFAULT ")\n"
"  --deadline T    give up after T (\"90s\", \"5m\"; default: none)\n"
"  -h, --help      this help\n");
}

int cmd_askpass(int argc, char **argv)
{
	enum { O_DIR = 256, O_DEADLINE };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "deadline", required_argument, NULL, O_DEADLINE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct agent a = { .dir = ASK_DIR_DEFAULT, .dirfd = -1 };
	uint64_t ms = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_DIR: a.dir = optarg; break;
		case O_DEADLINE:
			if (parse_duration_ms(optarg, &ms) < 0 || ms == 0 || ms > 24u * 3600u * 1000u)
				return cli_usage_error("askpass", "--deadline takes a duration from "
						   "1 ms to 24 h (got '%s')", optarg);
			break;
		case 'h':
			askpass_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("askpass", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("askpass", "no arguments expected (got '%s')", argv[optind]);
	if (ms)
		a.deadline = clock_now_ms() + (int64_t)ms;
	a.dirfd = open(a.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a.dirfd < 0) {
		if (errno == ENOENT) {
			log_info("askpass: %s does not exist: no request to answer", a.dir);
			return EXIT_OK;
		}
		log_error("askpass: cannot open %s: %s", a.dir, strerror(errno));
		return EXIT_USAGE;
	}
	r = cli_load_config_file(&a.cfg);
	if (r) {
		close(a.dirfd);
		return r;
	}
	luks_log_setup();
	r = agent_run(&a);
	config_free(a.cfg);
	close(a.dirfd);
	return exit_code_from_errno(r);
}
