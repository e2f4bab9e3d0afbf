/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The poller's seccomp filter (kmipcryptd(8), SANDBOX): after privdrop(),
 * before it reads anything from the network, the poller allows itself only
 * the system calls it needs for the rest of its life: its event loop
 * (poll, timerfd, signalfd, its socketpair), TLS over TCP to the key
 * servers (sockets of AF_INET and AF_INET6 only: glibc's resolver asks
 * AF_NETLINK and AF_UNIX sockets, refused with EAFNOSUPPORT, and does
 * without them), memory (nothing writable and executable), randomness and
 * time; ioctl only as isatty() asks it (TCGETS).  Anything else kills the process
 * (SIGSYS): the locker sees that death, logs it as the filter's and starts
 * a new poller after its backoff.
 *
 * Not installed in a build with AddressSanitizer (its runtime makes system
 * calls no poller needs): said at debug level.
 */
#ifndef KMIPCRYPT_DAEMON_SANDBOX_H
#define KMIPCRYPT_DAEMON_SANDBOX_H

#include <stdbool.h>

/*
 * 0, or a negative errno (logged): the caller stops, it must not run
 * unfiltered.  violate (a test seam, --test-sandbox-violate): then make a
 * system call the filter does not allow, which kills the process.
 */
int sandbox_poller(bool violate);

#endif
