/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory for secrets: locked (never swapped), excluded from core dumps,
 * wiped on free.  Every buffer that may hold key material comes from here.
 *
 * Each block is its own anonymous mapping, so that mlock()/munlock() never
 * affect a page shared with unrelated heap data (mlock does not nest: one
 * munlock would unlock a neighbour's secret).  This costs two pages per
 * block (one for the header, see below); secrets are few and small.  If the
 * memory cannot be locked (RLIMIT_MEMLOCK, no CAP_IPC_LOCK), allocation
 * fails rather than keeping a secret in swappable memory.
 *
 * Secrets and processes: a secret never crosses fork().
 * - A forked child sees the data of every block wiped: its pages are
 *   MADV_WIPEONFORK, so the kernel gives the child zero-filled pages, and no
 *   copy of a secret exists in a child at any moment (mlock() is not
 *   inherited: a child's copy would be swappable).  On kernels before 4.14,
 *   which lack it, the pages are MADV_DONTFORK: the child has no such pages
 *   at all.  Not a pthread_atfork() wipe: that runs for fork() only (not
 *   _Fork(), clone()), and it would make the kernel copy every secret page
 *   into the child's unlocked memory before wiping it.  If neither advice
 *   can be given, the allocation fails.
 * - A child must not use a block inherited from its parent: secmem_size()
 *   says 0 and secmem_realloc() fails with EPERM; its bytes read as zeros
 *   (DONTFORK: the address is not mapped, or mapped to something else).  A
 *   child that needs a secret gets it itself after the fork (reads its file,
 *   fetches it), or the parent does the work that needs it and the child
 *   gets only the result.
 * - A child may secmem_free() an inherited block, or leave it to _exit() or
 *   execve(): freeing releases it quietly, touching none of its data pages.
 *   Each block records its owner's pid in a header page of its own that is
 *   not wiped (it holds no secret), sealed with every field of the header,
 *   so a header that was overwritten or a pointer that is not from here
 *   still aborts, in the owner and in a child alike.
 * - A vfork() or CLONE_VM child shares the parent's blocks: it calls no
 *   secmem function (it only execs or _exits).  Other programs are started
 *   with util/spawn.h, which is such a child and touches nothing here.
 */
#ifndef KMIPCRYPT_SECMEM_H
#define KMIPCRYPT_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroed, mlock()ed, MADV_DONTDUMP.  NULL (errno set) on failure. */
void *secmem_alloc(size_t len);
/*
 * Like realloc; the old block is wiped.  NULL on failure (old block kept).
 * secmem_realloc(NULL, n) is secmem_alloc(n); a length of 0 keeps a valid
 * empty block (use secmem_free() to release).  Shrinking wipes the tail.
 */
void *secmem_realloc(void *p, size_t len);
/*
 * Wipe and release; NULL is fine.  Aborts on a pointer not from here or an
 * overwritten header.  A block inherited across fork is released quietly.
 */
void secmem_free(void *p);
/* Duplicate len bytes into locked memory (plus a NUL, not counted). */
void *secmem_dup(const void *src, size_t len);
/* Usable size of a block from secmem_alloc (0 for NULL and an inherited block). */
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
/*
 * Tests only: allocate as on a kernel without MADV_WIPEONFORK (MADV_DONTFORK)
 * while on is true, so that the fallback is tested too.  Not thread-safe.
 */
void secmem_test_without_wipeonfork(bool on);

/* For __attribute__((cleanup)): `_cleanup_secmem_ uint8_t *key = NULL;` */
static inline void secmem_freep(void *pp) { secmem_free(*(void **)pp); }
#define _cleanup_secmem_ __attribute__((cleanup(secmem_freep)))

#endif
