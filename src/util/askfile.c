/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/askfile.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

/* Copy value v[0..n) into dst[cap] as a string: -EINVAL if it does not fit or is empty. */
static int take_text(char *dst, size_t cap, const char *v, size_t n, const char *key)
{
	if (n == 0 || n >= cap) {
		log_debug("ask file: %s= is %s", key, n ? "too long" : "empty");
		return -EINVAL;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* A decimal number of at most 20 digits that fits in uint64_t. */
static int take_u64(uint64_t *dst, const char *v, size_t n, const char *key)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		goto bad;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			goto bad;
		if (x > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			goto bad;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*dst = x;
	return 0;
bad:
	log_debug("ask file: %s= is not a number", key);
	return -EINVAL;
}

enum { SEEN_SOCKET = 1, SEEN_ID = 2, SEEN_NOTAFTER = 4, SEEN_PID = 8 };

/* One "key=value" line of [Ask]. */
static int ask_line(const char *l, size_t n, struct askfile *a, unsigned *seen)
{
	const char *eq = memchr(l, '=', n), *v;
	size_t kn, vn;
	uint64_t x;
	unsigned bit;
	int r;

	if (!eq) {
		log_debug("ask file: a line without '='");
		return -EINVAL;
	}
	kn = (size_t)(eq - l);
	v = eq + 1;
	vn = n - kn - 1;
#define KEY(s) (kn == sizeof(s) - 1 && memcmp(l, s, kn) == 0)
	if (KEY("Socket"))
		bit = SEEN_SOCKET;
	else if (KEY("Id"))
		bit = SEEN_ID;
	else if (KEY("NotAfter"))
		bit = SEEN_NOTAFTER;
	else if (KEY("PID"))
		bit = SEEN_PID;
	else
		return 0;	/* Message=, Icon=, Echo=...: not ours */
#undef KEY
	if (*seen & bit) {
		log_debug("ask file: %.*s= given twice", (int)kn, l);
		return -EINVAL;
	}
	*seen |= bit;
	switch (bit) {
	case SEEN_SOCKET:
		r = take_text(a->socket, sizeof(a->socket), v, vn, "Socket");
		if (r == 0 && a->socket[0] != '/') {
			log_debug("ask file: Socket= is not an absolute path");
			r = -EINVAL;
		}
		return r;
	case SEEN_ID:
		return take_text(a->id, sizeof(a->id), v, vn, "Id");
	case SEEN_NOTAFTER:
		return take_u64(&a->not_after_us, v, vn, "NotAfter");
	default:
		r = take_u64(&x, v, vn, "PID");
		if (r == 0 && (x == 0 || x > (uint64_t)INT32_MAX)) {
			log_debug("ask file: PID= out of range");
			r = -EINVAL;
		}
		if (r == 0)
			a->pid = (pid_t)x;
		return r;
	}
}

int askfile_parse(const char *buf, size_t len, struct askfile *out)
{
	struct askfile a;
	const char *p = buf, *end = buf + len, *nl;
	bool in_ask = false, had_ask = false;
	unsigned seen = 0;
	size_t n;
	int r = -EINVAL;

	memset(&a, 0, sizeof(a));
	if (len > ASKFILE_MAX || memchr(buf, '\0', len)) {
		log_debug("ask file: %s", len > ASKFILE_MAX ? "too long" : "a NUL byte");
		goto out;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		if (n > ASKFILE_LINE_MAX) {
			log_debug("ask file: a line of more than %d bytes", ASKFILE_LINE_MAX);
			goto out;
		}
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0 || p[0] == '#' || p[0] == ';') {
			/* blank line or comment */
		} else if (p[0] == '[') {
			if (p[n - 1] != ']') {
				log_debug("ask file: a bad section line");
				goto out;
			}
			in_ask = n == 5 && memcmp(p, "[Ask]", 5) == 0;
			if (in_ask && had_ask) {
				log_debug("ask file: [Ask] given twice");
				goto out;
			}
			had_ask |= in_ask;
		} else if (in_ask) {
			if (ask_line(p, n, &a, &seen) < 0)
				goto out;
		}
		p = nl ? nl + 1 : end;
	}
	if (!(seen & SEEN_SOCKET)) {
		log_debug("ask file: no [Ask] Socket=");
		goto out;
	}
	*out = a;
	r = 0;
out:
	explicit_bzero(&a, sizeof(a));
	return r;
}

const char *askfile_cryptsetup_device(const struct askfile *a)
{
	size_t k = sizeof(ASKFILE_ID_CRYPTSETUP) - 1;

	if (strncmp(a->id, ASKFILE_ID_CRYPTSETUP, k) != 0 || a->id[k] != '/')
		return NULL;
	return a->id + k;
}

bool askfile_expired(const struct askfile *a, uint64_t now_us)
{
	return a->not_after_us != 0 && now_us > a->not_after_us;
}
