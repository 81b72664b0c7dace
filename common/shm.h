/*
 * shm: memory one process makes and another maps, for the rings of the
 * shared-memory path between libsmartsock and smartsockd (ring.h;
 * issue 19), and the descriptors that travel with it over a Unix socket.
 *
 * The maker (the daemon) calls shm_create(): a memfd of exactly `bytes`,
 * whose pages are allocated at once (fallocate), so that a shortage is
 * ENOMEM now and never a SIGBUS later, then sealed against shrinking and
 * growing (and against new seals), so that neither side can truncate it
 * under the other.  The taker (the library) calls shm_map() on the
 * descriptor it received: it maps only a memfd of the size it was told,
 * carrying those seals.
 *
 * shm_send_fds() and shm_recv_fds() pass descriptors with one byte of
 * data over a connected Unix stream socket (SCM_RIGHTS); a message with
 * more or fewer descriptors than asked for, or cut short, is refused and
 * whatever descriptors came are closed.
 */
#ifndef SMARTSOCK_SHM_H
#define SMARTSOCK_SHM_H

#include <stddef.h>

#define SHM_MAX_FDS 4

struct shm {
	int fd;                         /* the memfd, -1 once closed */
	void *mem;
	size_t bytes;
};

/* 0, or -1 with errno (ENOMEM or ENOSPC: not enough memory for it). */
int shm_create(struct shm *, const char *name, size_t bytes);
/* Map a received memfd of `bytes`: 0, or -1 with errno (EINVAL: not a
 * sealed memfd of that size).  The descriptor becomes the shm's. */
int shm_map(struct shm *, int fd, size_t bytes);
/* Unmap and close; a no-op on a shm that shm_create() or shm_map() failed
 * to make, or that was freed already. */
void shm_free(struct shm *);

/* Send n (1..SHM_MAX_FDS) descriptors with the byte `tag`: 0, or -1. */
int shm_send_fds(int sock, unsigned char tag, const int *fds, int n);
/* Receive exactly n descriptors and their tag byte: 0, or -1 (errno
 * EPROTO when the message did not carry exactly n). */
int shm_recv_fds(int sock, unsigned char *tag, int *fds, int n);

#endif
