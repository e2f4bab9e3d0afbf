/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The poller's seccomp filter (sandbox.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/sandbox.h"
#include "util/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SKIP "a build with AddressSanitizer"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SKIP "a build with AddressSanitizer"
#endif
#endif

#ifndef SANDBOX_SKIP
/*
 * Allowed without a condition.  The list was taken from the poller's own
 * system calls after privdrop() under strace (tests/integration/
 * test-daemon*.sh: polls, reconnects to a restarted server, SIGHUP,
 * SIGTERM), plus what glibc's getaddrinfo() needs for a server named by
 * host name (its files read-only, DNS over UDP and TCP, its thread) and
 * what a process needs to end.
 */
static const int allowed[] = {
	/* the event loop: socketpair, signalfd, timerfd */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
	SCMP_SYS(close), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction),
	/* TLS over TCP */
	SCMP_SYS(connect), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(shutdown), SCMP_SYS(bind),
	SCMP_SYS(fcntl),
	/* name resolution reads hosts, nsswitch.conf, resolv.conf */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek), SCMP_SYS(uname),
	/* memory: mappings never writable and executable at once (below) */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(mlock),
	SCMP_SYS(munlock), SCMP_SYS(futex),
	/* the name lookup's thread (net/sock.c): clone only for a thread (below) */
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(sigaltstack), SCMP_SYS(sched_yield),
	/* randomness, time, accounting */
	SCMP_SYS(getrandom), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(getrusage), SCMP_SYS(getpid), SCMP_SYS(gettid),
	/* the end */
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};
#endif

int sandbox_poller(bool violate)
{
#ifdef SANDBOX_SKIP
	(void)violate;
	log_debug("no seccomp filter for the poller in %s", SANDBOX_SKIP);
	return 0;
#else
	static const int families[] = { AF_INET, AF_INET6 };
	static const int refused[] = { AF_UNIX, AF_NETLINK };
	static const scmp_datum_t wx_ok[] = { 0, PROT_WRITE, PROT_EXEC };
	scmp_filter_ctx ctx;
	size_t i;
	int r = -ENOMEM;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		goto out;
	for (i = 0, r = 0; r == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/*
	 * TCP to the servers, UDP and TCP to the DNS servers.  glibc's
	 * getaddrinfo() also tries nscd (AF_UNIX) and asks the kernel which
	 * address families are configured (AF_NETLINK, for AI_ADDRCONFIG):
	 * refused, it goes without nscd and assumes both families, which costs
	 * nothing here.  Any other family kills.
	 */
	for (i = 0; r == 0 && i < sizeof(families) / sizeof(families[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	for (i = 0; r == 0 && i < sizeof(refused) / sizeof(refused[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)refused[i]));
	/*
	 * Memory as MemoryDenyWriteExecute= in the unit: no mapping writable and
	 * executable, no page made executable later.  A file mapped executable
	 * (glibc loading an NSS module for the name lookup) is allowed.
	 */
	for (i = 0; r == 0 && i < sizeof(wx_ok) / sizeof(wx_ok[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, wx_ok[i]));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/*
	 * Threads, not processes: clone with CLONE_THREAD only; clone3, whose
	 * flags a filter cannot see, answers ENOSYS (glibc then uses clone).
	 */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/*
	 * ioctl: none of the poller's own (its sockets are made non-blocking
	 * with fcntl), only glibc's isatty() (TCGETS), which stdio may ask of
	 * a terminal on stderr.  Any other request, the kernel's widest
	 * interface, kills.
	 */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)TCGETS));
	/* Files: read only (the resolver's configuration). */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC,
					     O_RDONLY));
	if (r == 0)
		r = seccomp_load(ctx);
	if (r < 0)
		log_error("the poller's seccomp filter: %s; the poller stops", strerror(-r));
	else
		log_debug("seccomp filter in place");
	/*
	 * A call the filter refuses by its arguments, not by its name: an ioctl
	 * other than TCGETS (TIOCSTI, typing into a terminal; on fd 0, which is
	 * no terminal here, harmless if the filter let it through).
	 */
	if (r == 0 && violate)
		syscall(SYS_ioctl, 0, TIOCSTI, "x");
out:
	seccomp_release(ctx);
	return r;
#endif
}
