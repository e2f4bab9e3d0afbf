/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TCP sockets with deadlines (util/clock.h time): poll() until a deadline,
 * and a non-blocking connect that tries every address of a name within one
 * deadline.  Used by the TLS transport; no TLS here.
 */
#ifndef KMIPCRYPT_SOCK_H
#define KMIPCRYPT_SOCK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Wait until fd is ready for events (POLLIN / POLLOUT) or the deadline
 * (clock_now_ms() time) passes.  0 when ready (also on POLLERR / POLLHUP: the
 * next I/O call reports the error), -ETIMEDOUT, or -errno from poll().
 */
int sock_wait(int fd, short events, int64_t deadline);

/*
 * Resolve host (name or IP literal, IPv4 or IPv6) and connect to port,
 * trying each address in getaddrinfo() order until one accepts, all within
 * the one deadline, name resolution included (-ETIMEDOUT when the DNS
 * servers do not answer in time; a name is resolved in a thread of its own,
 * left to finish by itself if it outlives the deadline).  The socket is non-blocking, close-on-exec, TCP_NODELAY.
 * Returns the fd, or -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH (also: name
 * does not resolve), -ENETUNREACH, or another -errno; why[0..why_len) then
 * says what happened, in words, for the log.
 */
int sock_connect(const char *host, uint16_t port, int64_t deadline,
		 char *why, size_t why_len);

#endif
