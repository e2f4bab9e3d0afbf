// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Locked, non-dumpable, wiped-on-free memory for secrets: see secmem.h.
 *
 * Layout of a block, one private anonymous mapping per block:
 *
 *   [ header page: ... struct secmem_hdr ][ data pages: user bytes ... | zero tail ]
 *                                         ^ the user pointer
 *
 * Only the data pages hold a secret: they alone are locked, kept out of core
 * dumps and wiped on fork (MADV_WIPEONFORK; MADV_DONTFORK before Linux
 * 4.14).  The header has a page of its own because a forked child must still
 * be able to read it: were it in a wiped page, the child would see zeros and
 * could not tell a block wiped by fork from a header that was overwritten
 * (a bug that must stop the program).  The header page holds no secret and
 * crosses fork as ordinary memory; the header sits at its end, right before
 * the user bytes, so an underflow of the user buffer breaks its seal.
 *
 * The header records the owner (the process that allocated the block), the
 * usable length and the mapping length, so that secmem_free() needs no size,
 * knows whether the data is its own to wipe, and secmem_realloc() can grow in
 * place while the mapping has room.  The tail past the usable length is
 * always zero (fresh mappings are zero-filled, shrinking wipes), which is
 * what lets an in-place grow hand out "new" bytes without touching them.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "util/secmem.h"

#define SECMEM_MAGIC 0x6b6d6970736d656dULL	/* "kmipsmem" */
#define SECMEM_MIX   0x9e3779b97f4a7c15ULL	/* odd: multiplying by it loses nothing */

/* The data pages are MADV_DONTFORK (a kernel without MADV_WIPEONFORK). */
#define SECMEM_F_DONTFORK 1u

struct secmem_hdr {
	uint64_t seal;		/* seal_of(): catches foreign, shifted or overwritten headers */
	pid_t owner;		/* getpid() of the allocating process */
	uint32_t flags;		/* SECMEM_F_* */
	size_t len;		/* usable length, as requested */
	size_t map_len;		/* length of the whole mapping, header page included */
};

/* Keep user pointers aligned like malloc()'s (they are page-aligned). */
#define SECMEM_HDR_LEN \
	((sizeof(struct secmem_hdr) + alignof(max_align_t) - 1) & \
	 ~(alignof(max_align_t) - 1))

static size_t live_blocks, live_bytes;
static void (*wipe_hook)(const void *p, size_t len);
static bool force_dontfork;

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * Every field and the header's own address: a changed byte anywhere in the
 * header (a stray write, an underflow, a pointer that is not ours) changes
 * it.  Multiplying by an odd constant is a bijection, so no change to one
 * field cancels out.
 */
static uint64_t seal_of(const struct secmem_hdr *h)
{
	uint64_t s = SECMEM_MAGIC ^ (uintptr_t)h;

	s = (s ^ (uint32_t)h->owner) * SECMEM_MIX;
	s = (s ^ h->flags) * SECMEM_MIX;
	s = (s ^ h->len) * SECMEM_MIX;
	s = (s ^ h->map_len) * SECMEM_MIX;
	return s;
}

static struct secmem_hdr *hdr_of(const void *p)
{
	struct secmem_hdr *h = (struct secmem_hdr *)((uintptr_t)p - SECMEM_HDR_LEN);

	/*
	 * A bad pointer or header here is a memory-safety bug in the caller;
	 * carrying on would munmap() someone else's memory.  Stop hard, in
	 * the owner and in a child alike: fork never changes the header.
	 */
	if (h->seal != seal_of(h))
		abort();
	return h;
}

/*
 * Inherited across fork: this process is not the one that allocated the
 * block, so its data pages were wiped (or left out) by the kernel at fork.
 */
static bool inherited(const struct secmem_hdr *h)
{
	return h->owner != getpid();
}

static void *map_of(struct secmem_hdr *h)
{
	return (uint8_t *)h + SECMEM_HDR_LEN - page_size();
}

static void wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
	if (wipe_hook)
		wipe_hook(p, len);
}

/* The data pages must not cross fork: wiped in the child, else absent from it. */
static int keep_from_children(void *data, size_t len, uint32_t *flags)
{
	if (!force_dontfork && madvise(data, len, MADV_WIPEONFORK) == 0)
		return 0;
	if (!force_dontfork && errno != EINVAL)
		return -1;
	/* Linux before 4.14.  See secmem.h for why not a pthread_atfork() wipe. */
	if (madvise(data, len, MADV_DONTFORK) < 0)
		return -1;
	*flags |= SECMEM_F_DONTFORK;
	return 0;
}

static void *secmem_alloc_extra(size_t len, size_t extra)
{
	size_t page = page_size(), data_len, map_len = 0;
	uint8_t *map = MAP_FAILED, *p = NULL;
	struct secmem_hdr *h;
	uint32_t flags = 0;
	int saved;

	if (len > SIZE_MAX - extra - 2 * page) {
		errno = ENOMEM;
		goto out;
	}
	/* At least one data page: the user pointer always points into the block. */
	data_len = (len + extra + page - 1) & ~(page - 1);
	if (data_len == 0)
		data_len = page;
	map_len = page + data_len;
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		goto out;
	/* MAP_LOCKED would not report a failure to lock: mlock() does. */
	if (mlock(map + page, data_len) < 0)
		goto out;
	if (madvise(map + page, data_len, MADV_DONTDUMP) < 0)
		goto out;
	if (keep_from_children(map + page, data_len, &flags) < 0)
		goto out;

	h = (struct secmem_hdr *)(map + page - SECMEM_HDR_LEN);
	h->owner = getpid();
	h->flags = flags;
	h->len = len;
	h->map_len = map_len;
	h->seal = seal_of(h);
	p = map + page;
	__atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&live_bytes, len, __ATOMIC_RELAXED);
out:
	if (!p && map != MAP_FAILED) {
		saved = errno;
		munmap(map, map_len);
		errno = saved;
	}
	return p;
}

void *secmem_alloc(size_t len)
{
	return secmem_alloc_extra(len, 0);
}

void *secmem_dup(const void *src, size_t len)
{
	uint8_t *p;

	/* The NUL lives past the counted length, in zero-filled memory. */
	p = secmem_alloc_extra(len, 1);
	if (p && len)
		memcpy(p, src, len);
	return p;
}

size_t secmem_size(const void *p)
{
	const struct secmem_hdr *h;

	if (!p)
		return 0;
	h = hdr_of(p);
	/* An inherited block has nothing left in it: see secmem.h. */
	return inherited(h) ? 0 : h->len;
}

void secmem_free(void *p)
{
	struct secmem_hdr *h;
	size_t len, map_len, page = page_size();
	bool theirs;
	void *map;

	if (!p)
		return;
	h = hdr_of(p);
	len = h->len;
	map_len = h->map_len;
	map = map_of(h);
	theirs = inherited(h);
	__atomic_sub_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&live_bytes, len, __ATOMIC_RELAXED);
	if (theirs) {
		/*
		 * The kernel already zeroed the data pages at fork (nothing to
		 * wipe, and writing would only fault in new pages), or never
		 * gave them to this process (DONTFORK): then that range is a
		 * hole here that this process may since have mapped again for
		 * something else, so only the header page is released.
		 */
		munmap(map, h->flags & SECMEM_F_DONTFORK ? page : map_len);
		return;
	}
	/* Wipe the whole usable area: in-place growth may have used it. */
	wipe(p, map_len - page);
	explicit_bzero(h, SECMEM_HDR_LEN);
	/* munmap() also unlocks; it cannot fail on a mapping we made. */
	munmap(map, map_len);
}

void *secmem_realloc(void *p, size_t len)
{
	struct secmem_hdr *h;
	void *n = NULL;

	if (!p) {
		n = secmem_alloc(len);
		goto out;
	}
	h = hdr_of(p);
	if (inherited(h)) {
		/* A child must not use its parent's secrets (there is nothing to copy). */
		errno = EPERM;
		goto out;
	}
	if (len <= h->map_len - page_size()) {
		/* In place: keep the tail zero, see the layout note above. */
		if (len < h->len)
			wipe((uint8_t *)p + len, h->len - len);
		__atomic_add_fetch(&live_bytes, len, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&live_bytes, h->len, __ATOMIC_RELAXED);
		h->len = len;
		h->seal = seal_of(h);
		n = p;
		goto out;
	}
	n = secmem_alloc(len);
	if (!n)
		goto out;
	memcpy(n, p, h->len);
	secmem_free(p);
out:
	return n;
}

size_t secmem_in_use(size_t *bytes)
{
	if (bytes)
		*bytes = __atomic_load_n(&live_bytes, __ATOMIC_RELAXED);
	return __atomic_load_n(&live_blocks, __ATOMIC_RELAXED);
}

void secmem_set_wipe_hook(void (*hook)(const void *p, size_t len))
{
	wipe_hook = hook;
}

void secmem_test_without_wipeonfork(bool on)
{
	force_dontfork = on;
}

/* ------------------------------------------------------------ hand-over */

struct secmem_handover {
	pid_t owner;		/* the parent */
	size_t len;		/* bytes of data */
	size_t map_len;
	uint8_t data[];
};

struct secmem_handover *secmem_handover_new(const void *secret, size_t len)
{
	size_t page = page_size(), map_len;
	struct secmem_handover *h = MAP_FAILED;
	int saved;

	if (len > SIZE_MAX - sizeof(*h) - page) {
		errno = ENOMEM;
		return NULL;
	}
	map_len = (sizeof(*h) + len + page - 1) & ~(page - 1);
	/* Shared: the child's reads see the parent's bytes, and its wipe reaches them. */
	h = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	if (mlock(h, map_len) < 0 || madvise(h, map_len, MADV_DONTDUMP) < 0) {
		saved = errno;
		munmap(h, map_len);
		errno = saved;
		return NULL;
	}
	h->owner = getpid();
	h->len = len;
	h->map_len = map_len;
	if (len)
		memcpy(h->data, secret, len);
	return h;
}

int secmem_handover_forked(struct secmem_handover *h)
{
	return madvise(h, h->map_len, MADV_DONTFORK) < 0 ? -errno : 0;
}

void *secmem_handover_take(struct secmem_handover *h, size_t *len)
{
	void *p;

	*len = 0;
	if (h->owner == getpid()) {
		errno = EPERM;
		return NULL;
	}
	p = secmem_dup(h->data, h->len);
	if (p)
		*len = h->len;
	wipe(h->data, h->len);	/* taken or not: the child was its only reader */
	return p;
}

void secmem_handover_free(struct secmem_handover *h)
{
	if (!h)
		return;
	if (h->owner == getpid())
		wipe(h->data, h->len);
	munmap(h, h->map_len);	/* also unlocks */
}

int secmem_harden_process(void)
{
	struct rlimit rl = { 0, 0 };
	int r = 0;

	/*
	 * Not dumpable: no core dump, no ptrace attach and no
	 * /proc/PID/mem by other unprivileged processes of the same user.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		r = -errno;
		goto out;
	}
	/*
	 * The dumpable flag is reset by execve() and by credential changes;
	 * a zero core limit survives both (the exec action's children too).
	 */
	if (setrlimit(RLIMIT_CORE, &rl) < 0) {
		r = -errno;
		goto out;
	}
out:
	return r;
}
