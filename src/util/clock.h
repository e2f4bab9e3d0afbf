/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one clock for deadlines: CLOCK_MONOTONIC in milliseconds, so that a
 * deadline does not move with the wall clock.  Thread-safe.
 */
#ifndef KMIPCRYPT_CLOCK_H
#define KMIPCRYPT_CLOCK_H

#include <stdint.h>

int64_t clock_now_ms(void);

#endif
