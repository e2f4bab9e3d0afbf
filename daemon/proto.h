/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The messages between the daemon's two processes, over a SOCK_SEQPACKET
 * socketpair: one message per packet, every message the same fixed size.
 *
 *   locker (root) -> poller:  WATCH (one per key of a watched volume), then
 *                             WATCH_END: the whole watch list, as a new
 *                             generation (gen); the poller forgets the last.
 *   poller -> locker:         VERDICT (per volume, each poll cycle), GROUP
 *                             (per server group, each cycle), CYCLE (a cycle
 *                             ended: the watchdog's heartbeat).
 *
 * The locker never parses network input: what it receives is numbers
 * (indexes into the list it sent, enums) and a server group's name, each
 * checked by proto_check_from_poller() before use; no key identifier, no
 * server text comes back.  No secret travels either way (the daemon holds
 * none).
 */
#ifndef KMIPCRYPTD_PROTO_H
#define KMIPCRYPTD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "kmip/kmip.h"

enum msg_type {
	MSG_WATCH = 1,
	MSG_WATCH_END,
	MSG_VERDICT,
	MSG_GROUP,
	MSG_CYCLE,
};

struct msg {
	uint32_t type;
	uint32_t gen;				/* the watch list's generation */
	union {
		struct {			/* MSG_WATCH */
			uint32_t vol;		/* index of the volume in the list */
			uint32_t key;		/* index of the key in the volume */
			char uid[KMIP_UID_SIZE];
			char group[CONFIG_NAME_MAX];
		} watch;
		struct {			/* MSG_WATCH_END */
			uint32_t n_volumes;
		} end;
		struct {			/* MSG_VERDICT */
			uint32_t vol;
			uint32_t key;		/* the key whose rule decided */
			uint32_t verdict;	/* enum verdict */
			uint32_t rule;		/* enum rule */
			int32_t state;		/* KMIP State of that key, 0 if none */
			int32_t err;		/* negative errno of its observation, 0 if none */
		} verdict;
		struct {			/* MSG_GROUP */
			char group[CONFIG_NAME_MAX];
			uint32_t answered;	/* 1: a server of the group answered this cycle */
			int32_t err;		/* why not, negative errno */
			int64_t unreachable_ms;	/* for how long no server answered */
		} group;
		struct {			/* MSG_CYCLE */
			uint32_t n_keys;	/* keys asked about in this cycle */
			uint32_t n_requests;	/* requests sent */
			uint32_t wall_ms;	/* the cycle's time */
			uint32_t cpu_us;	/* the poller's CPU time in it */
		} cycle;
	} u;
};

/*
 * Send / receive one message.  0 or negative errno: -EPIPE the other process
 * is gone (recv: it closed its end), -EBADMSG a packet of the wrong size
 * (recv; the packet is dropped), -EAGAIN nothing to read now (recv never
 * waits; send does, for room in the socket buffer).
 */
int proto_send(int fd, const struct msg *m);
int proto_recv(int fd, struct msg *m);

/*
 * The locker's check of a message from the poller, against what it sent:
 * the current generation, n volumes and nkeys(vol) keys per volume (a
 * callback), and whether a group name is one of the config's.  0, -ESTALE
 * (an older generation: ignore it quietly) or -EBADMSG (refuse, log).
 */
int proto_check_from_poller(const struct msg *m, uint32_t gen, size_t n,
			    size_t (*nkeys)(void *ctx, size_t vol),
			    int (*group_known)(void *ctx, const char *group), void *ctx);

#endif
