/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bounded parsing of numbers, durations and booleans from configuration
 * files and command lines.  Unlike strtoul() these accept no leading
 * whitespace, no sign, no base prefix and no trailing junk, so that " 5",
 * "-1" (which strtoul() silently turns into ULLONG_MAX) and "5x" are errors.
 *
 * All return 0 or a negative errno and leave *out untouched on error:
 *   -EINVAL  not a valid spelling
 *   -ERANGE  well-formed but outside the allowed range (overflow included)
 */
#ifndef KMIPCRYPT_STRNUM_H
#define KMIPCRYPT_STRNUM_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal digits only, value in [min, max]. */
int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out);

/* parse_duration_ms() result for "unlimited" / "infinity". */
#define DURATION_INFINITY UINT64_MAX

/*
 * A duration in milliseconds: a decimal number with an optional unit,
 * no space in between: "ms", "s" (the default: "30" is 30 s), "m" or "min",
 * "h", "d".  "unlimited" and "infinity" give DURATION_INFINITY; "0" gives 0.
 * Callers decide which of 0 and DURATION_INFINITY make sense for them.
 */
int parse_duration_ms(const char *s, uint64_t *out_ms);

/* yes/no, true/false, on/off, 1/0; case-insensitive. */
int parse_bool(const char *s, bool *out);

#endif
