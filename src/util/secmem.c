// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Locked, non-dumpable, wiped-on-free memory for secrets: see secmem.h.
 *
 * Layout of a block, one private anonymous mapping per block:
 *
 *   [ struct secmem_hdr | user bytes ... | unused tail up to a page ]
 *
 * The header records the usable length and the mapping length, so that
 * secmem_free() needs no size and secmem_realloc() can grow in place while
 * the mapping has room.  The tail past the usable length is always zero
 * (fresh mappings are zero-filled, shrinking wipes), which is what lets an
 * in-place grow hand out "new" bytes without touching them.
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

struct secmem_hdr {
	/* SECMEM_MAGIC ^ address: catches frees of foreign or shifted pointers. */
	uint64_t magic;
	size_t len;		/* usable length, as requested */
	size_t map_len;		/* length of the whole mapping */
};

/* Keep user pointers aligned like malloc()'s. */
#define SECMEM_HDR_LEN \
	((sizeof(struct secmem_hdr) + alignof(max_align_t) - 1) & \
	 ~(alignof(max_align_t) - 1))

static size_t live_blocks, live_bytes;
static void (*wipe_hook)(const void *p, size_t len);

static struct secmem_hdr *hdr_of(const void *p)
{
	struct secmem_hdr *h = (struct secmem_hdr *)((uintptr_t)p - SECMEM_HDR_LEN);

	/*
	 * A bad pointer here is a memory-safety bug in the caller; carrying on
	 * would munmap() someone else's memory.  Stop hard.
	 */
	if (h->magic != (SECMEM_MAGIC ^ (uintptr_t)h))
		abort();
	return h;
}

static void wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
	if (wipe_hook)
		wipe_hook(p, len);
}

static void *secmem_alloc_extra(size_t len, size_t extra)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), map_len;
	struct secmem_hdr *h = MAP_FAILED;
	void *p = NULL;
	int saved;

	if (len > SIZE_MAX - SECMEM_HDR_LEN - extra - page) {
		errno = ENOMEM;
		goto out;
	}
	map_len = (SECMEM_HDR_LEN + len + extra + page - 1) & ~(page - 1);
	h = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		goto out;
	/* MAP_LOCKED would not report a failure to lock: mlock() does. */
	if (mlock(h, map_len) < 0)
		goto out;
	if (madvise(h, map_len, MADV_DONTDUMP) < 0)
		goto out;
	/*
	 * A forked child (the daemon's exec action) must not inherit secrets.
	 * Best effort: kernels before 4.14 lack it, and DONTDUMP plus
	 * PR_SET_DUMPABLE already keep the pages out of core files.
	 */
	(void)madvise(h, map_len, MADV_WIPEONFORK);

	h->magic = SECMEM_MAGIC ^ (uintptr_t)h;
	h->len = len;
	h->map_len = map_len;
	p = (uint8_t *)h + SECMEM_HDR_LEN;
	__atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&live_bytes, len, __ATOMIC_RELAXED);
out:
	if (!p && h != MAP_FAILED) {
		saved = errno;
		munmap(h, map_len);
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
	return p ? hdr_of(p)->len : 0;
}

void secmem_free(void *p)
{
	struct secmem_hdr *h;
	size_t len, map_len;

	if (!p)
		return;
	h = hdr_of(p);
	len = h->len;
	map_len = h->map_len;
	/* Wipe the whole usable area: in-place growth may have used it. */
	wipe(p, map_len - SECMEM_HDR_LEN);
	explicit_bzero(h, SECMEM_HDR_LEN);
	__atomic_sub_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&live_bytes, len, __ATOMIC_RELAXED);
	/* munmap() also unlocks; it cannot fail on a mapping we made. */
	munmap(h, map_len);
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
	if (len <= h->map_len - SECMEM_HDR_LEN) {
		/* In place: keep the tail zero, see the layout note above. */
		if (len < h->len)
			wipe((uint8_t *)p + len, h->len - len);
		__atomic_add_fetch(&live_bytes, len, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&live_bytes, h->len, __ATOMIC_RELAXED);
		h->len = len;
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
