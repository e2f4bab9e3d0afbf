// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * TCP connect and poll() with deadlines: see sock.h.
 *
 * Every wait is against an absolute CLOCK_MONOTONIC deadline rather than a
 * per-call timeout, so that EINTR, spurious wake-ups and several addresses
 * cannot stretch the total past what the caller asked for.  Name
 * resolution too: getaddrinfo() has only the resolver's own timeouts
 * (resolv.conf: 5 s per try, per server, per address family), which a
 * DNS server that does not answer turns into tens of seconds.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/sock.h"
#include "util/clock.h"

int sock_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline - clock_now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		if (left > 0x7fffffff)
			left = 0x7fffffff;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			continue;	/* re-check the clock: poll may wake a little early */
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Rank of a connect error: when a name has several addresses, report the one
 * that tells the operator most.  "Refused" proves a host is there, so it
 * beats a missing IPv6 route on an IPv4-only machine.
 */
static int err_rank(int e)
{
	switch (e) {
	case -ECONNREFUSED:	return 5;
	case -ETIMEDOUT:	return 4;
	case -EHOSTUNREACH:	return 3;
	case -ENETUNREACH:	return 2;
	default:		return 1;
	}
}

/* Connect one address; 0 and *fdp, or -errno. */
static int connect_addr(const struct addrinfo *ai, int64_t deadline, int *fdp)
{
	socklen_t sl = sizeof(int);
	int fd, one = 1, soerr = 0, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	/* One write per message: do not let Nagle hold it for a delayed ACK. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		r = -errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		r = 0;
		goto out;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		r = -errno;
		goto out;
	}
	r = sock_wait(fd, POLLOUT, deadline);
	if (r < 0)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
		r = -errno;
		goto out;
	}
	r = -soerr;
out:
	if (r < 0) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

/*
 * One name lookup in a thread of its own, so that the caller can stop
 * waiting at its deadline.  A lookup still running then cannot be stopped:
 * it is left to finish, and the request is shared by the caller and the
 * thread with a reference count, so that whichever lets go last frees it.
 * (glibc's getaddrinfo_a() would do the same, but its request pool is
 * reported by valgrind at exit.)
 */
struct lookup {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC, as the deadlines */
	unsigned refs;			/* under lock */
	bool done;			/* under lock: err and res are set */
	int err;
	struct addrinfo hints, *res;
	char svc[8];
	char host[];
};

static void lookup_unref(struct lookup *l)
{
	bool last;

	pthread_mutex_lock(&l->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res)
		freeaddrinfo(l->res);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo *res = NULL;
	int e = getaddrinfo(l->host, l->svc, &l->hints, &res);

	pthread_mutex_lock(&l->lock);
	l->err = e == EAI_SYSTEM ? -errno : e;	/* errno is this thread's */
	l->res = res;
	l->done = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
	return NULL;
}

/* A detached thread with every signal blocked: signals are the process's, not its. */
static int lookup_start(struct lookup *l)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	int r;

	if (pthread_attr_init(&attr) != 0)
		return EAI_MEMORY;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&th, &attr, lookup_run, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return r == 0 ? 0 : EAI_MEMORY;
}

/*
 * getaddrinfo() of host and svc within the deadline.  0 and *res, an EAI_*
 * error of getaddrinfo() (EAI_SYSTEM: *sys_err), or EAI_AGAIN with
 * *timed_out when the deadline came first.
 */
static int resolve(const char *host, const char *svc, const struct addrinfo *hints,
		   int64_t deadline, struct addrinfo **res, bool *timed_out, int *sys_err)
{
	size_t hlen = strlen(host);
	pthread_condattr_t ca;
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000),
			       .tv_nsec = (long)(deadline % 1000) * 1000000 };
	struct lookup *l;
	int r;

	*res = NULL;
	*timed_out = false;
	l = calloc(1, sizeof(*l) + hlen + 1);
	if (!l)
		return EAI_MEMORY;
	memcpy(l->host, host, hlen + 1);
	snprintf(l->svc, sizeof(l->svc), "%s", svc);
	l->hints = *hints;
	l->refs = 2;	/* ours and the thread's */
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = lookup_start(l);
	if (r != 0) {
		l->refs = 1;	/* no thread */
		lookup_unref(l);
		return r;
	}
	pthread_mutex_lock(&l->lock);
	/* 0: woken (perhaps spuriously), look again; anything else: the deadline. */
	while (!l->done && pthread_cond_timedwait(&l->cond, &l->lock, &ts) == 0)
		;
	if (l->done) {
		r = l->err < 0 ? EAI_SYSTEM : l->err;
		*sys_err = l->err < 0 ? -l->err : 0;
		*res = l->res;
		l->res = NULL;
	} else {
		*timed_out = true;
		r = EAI_AGAIN;
	}
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
	return r;
}

static void addr_str(const struct addrinfo *ai, char *buf, size_t len)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, len, NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
}

int sock_connect(const char *host, uint16_t port, int64_t deadline,
		 char *why, size_t why_len)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP,
		.ai_family = AF_UNSPEC,
	};
	struct addrinfo *res = NULL, *ai;
	struct in6_addr a6;
	struct in_addr a4;
	char svc[8], addr[INET6_ADDRSTRLEN + 16];
	int best = 0, fd = -1, sys_err = 0, r;
	bool numeric = false, timed_out = false;

	snprintf(why, why_len, "no address");
	snprintf(svc, sizeof(svc), "%u", (unsigned)port);
	/* An IP literal must never go to a resolver (no DNS at early boot). */
	if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
		hints.ai_flags |= AI_NUMERICHOST;
		numeric = true;
	}
	hints.ai_flags |= AI_NUMERICSERV;
	/* A literal takes no time and no thread; a name is resolved within the deadline. */
	if (numeric) {
		r = getaddrinfo(host, svc, &hints, &res);
		sys_err = errno;
	} else {
		r = resolve(host, svc, &hints, deadline, &res, &timed_out, &sys_err);
	}
	if (timed_out) {
		snprintf(why, why_len, "cannot resolve host name: no answer from the DNS "
			 "servers in time (the resolver's configuration: /etc/resolv.conf)");
		r = -ETIMEDOUT;
		goto out;
	}
	if (r != 0) {
		snprintf(why, why_len, "cannot resolve host name: %s",
			 r == EAI_SYSTEM ? strerror(sys_err) : gai_strerror(r));
		r = -EHOSTUNREACH;
		goto out;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		r = connect_addr(ai, deadline, &fd);
		if (r == 0)
			goto out;
		if (!best || err_rank(r) > err_rank(best)) {
			best = r;
			addr_str(ai, addr, sizeof(addr));
			if (r == -ETIMEDOUT)
				snprintf(why, why_len, "connect to %s timed out (no answer)", addr);
			else
				snprintf(why, why_len, "connect to %s: %s", addr, strerror(-r));
		}
		/* The deadline is for the whole name, not for each address. */
		if (r == -ETIMEDOUT || clock_now_ms() >= deadline)
			break;
	}
	r = best ? best : -EHOSTUNREACH;
out:
	if (res)
		freeaddrinfo(res);
	if (r < 0)
		return r;
	why[0] = '\0';
	return fd;
}
