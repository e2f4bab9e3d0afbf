/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's view for `kmipcrypt status`: a JSON file ([daemon]
 * state_file, default /run/kmipcryptd/state.json), replaced atomically
 * (written beside it, then renamed) after every poll cycle, removed when the
 * daemon stops.  Mode 0644: it holds no secret (mapping names, devices, key
 * UIDs, States, rules, times).
 *
 *   {"version":1,"pid":N,"updated":T,"poll_interval":S,"offline_grace":S|null,
 *    "cycles":N,"last_cycle":T,
 *    "last_poll":{"keys":N,"requests":N,"wall_ms":N,"cpu_us":N},
 *    "groups":[{"name":G,"answering":B,"error":E|null,"unreachable_for":S}],
 *    "volumes":[{"mapping":M,"device":D,"keys":[{"uid":U,"group":G,"token":N}],
 *                "verdict":V,"rule":R,"key":U,"state":S|null,"checked":T|null,
 *                "locked":B,"locked_at":T|null}]}
 *
 * Times T are seconds since the epoch; S seconds.
 */
#ifndef KMIPCRYPTD_STATEFILE_H
#define KMIPCRYPTD_STATEFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/config.h"
#include "daemon/watch.h"

struct group_view {
	char name[CONFIG_NAME_MAX];
	bool known, answering;
	int err;
	int64_t unreachable_ms;
};

/* What the last poll cycle cost (the poller's own measure). */
struct cycle_stats {
	unsigned keys, requests, wall_ms, cpu_us;
};

struct daemon_view {
	const struct config *cfg;
	const struct watch_list *wl;
	const struct group_view *groups;
	size_t n_groups;
	unsigned cycles;
	int64_t last_cycle_ms;		/* clock_now_ms(), 0: none yet */
	struct cycle_stats last;
};

/* 0 or negative errno (logged). */
int statefile_write(const char *path, const struct daemon_view *v);
void statefile_remove(const char *path);

#endif
