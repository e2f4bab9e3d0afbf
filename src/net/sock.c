// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * TCP connect and poll() with deadlines: see sock.h.
 *
 * Every wait is against an absolute CLOCK_MONOTONIC deadline rather than a
 * per-call timeout, so that EINTR, spurious wake-ups and several addresses
 * cannot stretch the total past what the caller asked for.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/sock.h"

int64_t sock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sock_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline - sock_now_ms();
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
	int best = 0, fd = -1, r;

	snprintf(why, why_len, "no address");
	snprintf(svc, sizeof(svc), "%u", (unsigned)port);
	/* An IP literal must never go to a resolver (no DNS at early boot). */
	if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
		hints.ai_flags |= AI_NUMERICHOST;
	hints.ai_flags |= AI_NUMERICSERV;
	/* getaddrinfo() has no timeout: the resolver's own (resolv.conf) applies. */
	r = getaddrinfo(host, svc, &hints, &res);
	if (r != 0) {
		snprintf(why, why_len, "cannot resolve host name: %s",
			 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
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
		if (r == -ETIMEDOUT || sock_now_ms() >= deadline)
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
