/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory for secrets: locked (never swapped), excluded from core dumps,
 * wiped on free.  Every buffer that may hold key material comes from here.
 *
 * Each block is its own anonymous mapping, so that mlock()/munlock() never
 * affect a page shared with unrelated heap data (mlock does not nest: one
 * munlock would unlock a neighbour's secret).  This costs at least a page
 * per block; secrets are few and small.  If the memory cannot be locked
 * (RLIMIT_MEMLOCK, no CAP_IPC_LOCK), allocation fails rather than keeping a
 * secret in swappable memory.
 */
#ifndef KMIPCRYPT_SECMEM_H
#define KMIPCRYPT_SECMEM_H

#include <stddef.h>

/* Zeroed, mlock()ed, MADV_DONTDUMP.  NULL (errno set) on failure. */
void *secmem_alloc(size_t len);
/*
 * Like realloc; the old block is wiped.  NULL on failure (old block kept).
 * secmem_realloc(NULL, n) is secmem_alloc(n); a length of 0 keeps a valid
 * empty block (use secmem_free() to release).  Shrinking wipes the tail.
 */
void *secmem_realloc(void *p, size_t len);
/* Wipe and release; NULL is fine.  Aborts on a pointer not from here. */
void secmem_free(void *p);
/* Duplicate len bytes into locked memory (plus a NUL, not counted). */
void *secmem_dup(const void *src, size_t len);
/* Usable size of a block from secmem_alloc (0 for NULL). */
size_t secmem_size(const void *p);

/* Not dumpable, no core files.  0 or -errno. */
int secmem_harden_process(void);

/* Number of live blocks (and their total usable size if bytes is not NULL): for leak checks in tests. */
size_t secmem_in_use(size_t *bytes);
/*
 * Tests only: called with every region just after it was wiped (on free,
 * on realloc, on shrink), before the memory is released, so that a test can
 * check that the bytes really are zero.  NULL to remove.  Not thread-safe.
 */
void secmem_set_wipe_hook(void (*hook)(const void *p, size_t len));

/* For __attribute__((cleanup)): `_cleanup_secmem_ uint8_t *key = NULL;` */
static inline void secmem_freep(void *pp) { secmem_free(*(void **)pp); }
#define _cleanup_secmem_ __attribute__((cleanup(secmem_freep)))

#endif
