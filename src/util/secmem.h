/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory for secrets: locked (never swapped), excluded from core dumps,
 * wiped on free.  Every buffer that may hold key material comes from here.
 */
#ifndef KMIPCRYPT_SECMEM_H
#define KMIPCRYPT_SECMEM_H

#include <stddef.h>

/* Zeroed, mlock()ed, MADV_DONTDUMP.  NULL (errno set) on failure. */
void *secmem_alloc(size_t len);
/* Like realloc; the old block is wiped.  NULL on failure (old block kept). */
void *secmem_realloc(void *p, size_t len);
/* Wipe and release; NULL is fine. */
void secmem_free(void *p);
/* Duplicate len bytes into locked memory (plus a NUL, not counted). */
void *secmem_dup(const void *src, size_t len);
/* Usable size of a block from secmem_alloc. */
size_t secmem_size(const void *p);

/* Not dumpable, no core files.  0 or -errno. */
int secmem_harden_process(void);

/* For __attribute__((cleanup)): `_cleanup_secmem_ uint8_t *key = NULL;` */
static inline void secmem_freep(void *pp) { secmem_free(*(void **)pp); }
#define _cleanup_secmem_ __attribute__((cleanup(secmem_freep)))

#endif
