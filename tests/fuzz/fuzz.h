/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the fuzz targets: a property check that aborts, so libFuzzer reports it. */
#ifndef KMIPCRYPT_FUZZ_H
#define KMIPCRYPT_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif
