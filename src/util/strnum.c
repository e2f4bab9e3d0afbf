// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Bounded parsing of numbers, durations and booleans.
 *
 * Written by hand rather than on top of strtoull(): strtoull() skips leading
 * whitespace, accepts a sign and wraps "-1" to ULLONG_MAX, which is exactly
 * the kind of silent surprise a configuration parser must not have.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "util/strnum.h"

/*
 * Parse the leading decimal digits of s into *out, *end past them.
 * -EINVAL if there is no digit, -ERANGE on overflow.
 */
static int parse_digits(const char *s, unsigned long long *out, const char **end)
{
	unsigned long long v = 0;
	const char *p = s;
	int r = 0;

	if (*p < '0' || *p > '9') {
		r = -EINVAL;
		goto out;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (ULLONG_MAX - d) / 10) {
			r = -ERANGE;
			goto out;
		}
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
out:
	return r;
}

int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out)
{
	unsigned long long v;
	const char *end;
	int r;

	if (!s || !out) {
		r = -EINVAL;
		goto out;
	}
	r = parse_digits(s, &v, &end);
	if (r < 0)
		goto out;
	if (*end != '\0') {
		r = -EINVAL;
		goto out;
	}
	if (v < min || v > max) {
		r = -ERANGE;
		goto out;
	}
	*out = v;
out:
	return r;
}

static const struct {
	const char *suffix;
	uint64_t ms;
} duration_units[] = {
	{ "ms",  1 },
	{ "",    1000 },		/* bare numbers are seconds */
	{ "s",   1000 },
	{ "m",   60ULL * 1000 },
	{ "min", 60ULL * 1000 },
	{ "h",   3600ULL * 1000 },
	{ "d",   86400ULL * 1000 },
};

int parse_duration_ms(const char *s, uint64_t *out_ms)
{
	unsigned long long v;
	const char *end;
	size_t i;
	int r;

	if (!s || !out_ms) {
		r = -EINVAL;
		goto out;
	}
	if (!strcasecmp(s, "unlimited") || !strcasecmp(s, "infinity")) {
		*out_ms = DURATION_INFINITY;
		r = 0;
		goto out;
	}
	r = parse_digits(s, &v, &end);
	if (r < 0)
		goto out;
	for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		if (strcmp(end, duration_units[i].suffix))
			continue;
		/* Strictly below: DURATION_INFINITY must stay distinguishable. */
		if (v > (DURATION_INFINITY - 1) / duration_units[i].ms) {
			r = -ERANGE;
			goto out;
		}
		*out_ms = (uint64_t)v * duration_units[i].ms;
		r = 0;
		goto out;
	}
	r = -EINVAL;
out:
	return r;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;
	int r = -EINVAL;

	if (!s || !out)
		goto out;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			r = 0;
			goto out;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			r = 0;
			goto out;
		}
	}
out:
	return r;
}
