/* shm: sealed shared memory and descriptor passing (shm.h). */
#define _GNU_SOURCE             /* memfd_create, fallocate, F_ADD_SEALS */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"

/* What the maker seals and the taker requires. */
#define SHM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int
shm_mmap(struct shm *s, int fd, size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);

	if (m == MAP_FAILED)
		return -1;
	s->fd = fd;
	s->mem = m;
	s->bytes = bytes;
	return 0;
}

int
shm_create(struct shm *s, const char *name, size_t bytes)
{
	int fd, err;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (bytes == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	/* Every page now: a shortage is this call's ENOMEM or ENOSPC. */
	if ((err = posix_fallocate(fd, 0, (off_t)bytes)) != 0) {
		close(fd);
		errno = err == ENOSPC ? ENOMEM : err;
		return -1;
	}
	if (fcntl(fd, F_ADD_SEALS, SHM_SEALS) == -1 ||
	    shm_mmap(s, fd, bytes) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return 0;
}

int
shm_map(struct shm *s, int fd, size_t bytes)
{
	struct stat st;
	int seals, err;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size != bytes || bytes == 0 ||
	    (seals = fcntl(fd, F_GET_SEALS)) == -1 ||
	    (seals & SHM_SEALS) != SHM_SEALS) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (shm_mmap(s, fd, bytes) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return 0;
}

void
shm_free(struct shm *s)
{
	if (s->mem != NULL)
		munmap(s->mem, s->bytes);
	if (s->fd >= 0)
		close(s->fd);
	s->mem = NULL;
	s->fd = -1;
	s->bytes = 0;
}

/* Room for the control message of SHM_MAX_FDS descriptors, aligned. */
union shm_cmsg {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
};

/* A message of one byte at *byte with u as its control buffer. */
static void
shm_msg(struct msghdr *msg, struct iovec *iov, unsigned char *byte,
    union shm_cmsg *u, size_t controllen)
{
	iov->iov_base = byte;
	iov->iov_len = 1;
	memset(msg, 0, sizeof(*msg));
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = u->buf;
	msg->msg_controllen = controllen;
}

int
shm_send_fds(int sock, unsigned char tag, const int *fds, int n)
{
	union shm_cmsg u;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t r;

	if (n < 1 || n > SHM_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	memset(&u, 0, sizeof(u));
	shm_msg(&msg, &iov, &tag, &u, CMSG_SPACE(sizeof(int) * (size_t)n));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
	do
		r = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

/* Close every descriptor a control message carried. */
static void
shm_close_all(struct msghdr *msg)
{
	struct cmsghdr *c;
	size_t i, k;
	int fd;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

int
shm_recv_fds(int sock, unsigned char *tag, int *fds, int n)
{
	union shm_cmsg u;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t r;

	if (n < 1 || n > SHM_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	shm_msg(&msg, &iov, tag, &u, sizeof(u.buf));
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (r != 1 || (msg.msg_flags & MSG_CTRUNC) || c == NULL ||
	    c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int) * (size_t)n) ||
	    CMSG_NXTHDR(&msg, c) != NULL) {
		shm_close_all(&msg);
		errno = EPROTO;
		return -1;
	}
	memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)n);
	return 0;
}
