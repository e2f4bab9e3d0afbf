/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's messages between its two processes (proto.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/policy.h"
#include "daemon/proto.h"

int proto_send(int fd, const struct msg *m)
{
	ssize_t n;

	do
		n = send(fd, m, sizeof(*m), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	return n == (ssize_t)sizeof(*m) ? 0 : -EIO;
}

int proto_recv(int fd, struct msg *m)
{
	ssize_t n;

	/*
	 * MSG_TRUNC: the real length of a longer packet, so that it is refused,
	 * not cut.  MSG_DONTWAIT: both loops read after poll() said so, and
	 * drain until -EAGAIN; a read must never hold a loop (and its signals).
	 */
	do
		n = recv(fd, m, sizeof(*m), MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return -EPIPE;
	return n == (ssize_t)sizeof(*m) ? 0 : -EBADMSG;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int proto_check_from_poller(const struct msg *m, uint32_t gen, size_t n,
			    size_t (*nkeys)(void *ctx, size_t vol),
			    int (*group_known)(void *ctx, const char *group), void *ctx)
{
	switch (m->type) {
	case MSG_VERDICT:
		if (m->gen != gen)
			return -ESTALE;
		if (m->u.verdict.vol >= n || m->u.verdict.key >= nkeys(ctx, m->u.verdict.vol) ||
		    m->u.verdict.verdict >= VERDICT_MAX || m->u.verdict.rule >= RULE_MAX ||
		    m->u.verdict.state < 0 || m->u.verdict.err > 0)
			return -EBADMSG;
		return 0;
	case MSG_GROUP:
		if (!terminated(m->u.group.group, sizeof(m->u.group.group)) ||
		    !group_known(ctx, m->u.group.group) || m->u.group.answered > 1 ||
		    m->u.group.err > 0 || m->u.group.unreachable_ms < 0)
			return -EBADMSG;
		return 0;
	case MSG_CYCLE:
		return 0;
	default:
		return -EBADMSG;
	}
}
