/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ask file of a systemd password request (https://systemd.io/PASSWORD_AGENTS/):
 * /run/systemd/ask-password/ask.XXXX, an INI file with one section [Ask]:
 *
 *   [Ask]
 *   PID=1234                     the asker (may be absent)
 *   Socket=/run/systemd/ask-password/sck.XXXX   where the answer goes (AF_UNIX datagram)
 *   NotAfter=123456789           CLOCK_MONOTONIC, microseconds; 0 or absent: none
 *   Id=cryptsetup:/dev/sda2      what is asked for ("cryptsetup:" + the volume)
 *   Message=... Icon=... Echo=... AcceptCached=... Silent=...   (not used here)
 *
 * The answer is one datagram: "+" and the password (no NUL needed), or "-" to cancel.
 *
 * The file is input from another process: parsed strictly, every length
 * bounded.  Keys outside [Ask] and keys not used here are skipped; a key
 * used here that is given twice, empty where a value is needed, too long,
 * or not a number where one is needed makes the whole file -EINVAL; so do
 * a NUL byte, a line longer than ASKFILE_LINE_MAX, a file longer than
 * ASKFILE_MAX, and a file without [Ask] or without Socket=.
 */
#ifndef KMIPCRYPT_ASKFILE_H
#define KMIPCRYPT_ASKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ASKFILE_MAX		8192	/* bytes of an ask file accepted */
#define ASKFILE_LINE_MAX	2048	/* bytes of one line (Message= may be long) */
#define ASKFILE_SOCKET_MAX	107	/* sizeof(sun_path) - 1: a path that can be bound */
#define ASKFILE_ID_MAX		1024	/* bytes of Id= */
#define ASKFILE_ID_CRYPTSETUP	"cryptsetup:"

struct askfile {
	char socket[ASKFILE_SOCKET_MAX + 1];	/* absolute path */
	char id[ASKFILE_ID_MAX + 1];		/* "" if absent */
	uint64_t not_after_us;			/* 0: no limit */
	pid_t pid;				/* 0 if absent */
};

/* Parse buf[0..len) (not NUL-terminated): 0, or -EINVAL (why at debug level). */
int askfile_parse(const char *buf, size_t len, struct askfile *out);

/*
 * The volume of a cryptsetup request: Id= "cryptsetup:" + an absolute path
 * (what systemd-cryptsetup asks with); NULL for any other Id.
 */
const char *askfile_cryptsetup_device(const struct askfile *a);

/* Has the request's NotAfter passed at now_us (CLOCK_MONOTONIC, microseconds)? */
bool askfile_expired(const struct askfile *a, uint64_t now_us);

#endif
