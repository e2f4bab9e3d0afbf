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
 * - The one way a secret crosses fork, on purpose and for one child: a
 *   hand-over (below).  The parent puts the secret in a mapping made for
 *   that child just before the fork (shared, locked, not dumped), keeps it
 *   from every later child right after (MADV_DONTFORK); the child takes it
 *   into a block of its own, wiping the shared copy; the parent wipes and
 *   unmaps it once the child has ended.  Not a pipe: the bytes would stay
 *   in kernel pipe buffers that nobody wipes.  util/fanout.h uses it.
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

/*
 * Hand-over of one secret to one child (see the rule above):
 *   h = secmem_handover_new(secret, len)   parent, just before fork()
 *   fork()
 *   secmem_handover_forked(h)              parent, at once: 0 or -errno; on
 *                                          failure fork no other child until
 *                                          this one has ended
 *   secmem_handover_take(h, &len)          child: the secret in a block of its
 *                                          own (secmem_free() it), the shared
 *                                          copy wiped; NULL (errno) on failure,
 *                                          EPERM in the parent
 *   secmem_handover_free(h)                parent, once the child has ended:
 *                                          wiped (taken or not) and unmapped;
 *                                          in a child, unmapped only.  NULL is fine.
 * secmem_handover_new() returns NULL (errno) if the memory cannot be locked.
 */
struct secmem_handover;
struct secmem_handover *secmem_handover_new(const void *secret, size_t len);
int secmem_handover_forked(struct secmem_handover *h);
void *secmem_handover_take(struct secmem_handover *h, size_t *len);
void secmem_handover_free(struct secmem_handover *h);

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
