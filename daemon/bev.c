/* bev: socket bufferevents with the daemon's I/O sizes (see bev.h). */
#include <sys/uio.h>
#include <errno.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "bev.h"

struct bufferevent *
bev_new(struct event_base *base, evutil_socket_t fd)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bev_set_io_sizes(bev);
	return bev;
}

void
bev_set_io_sizes(struct bufferevent *bev)
{
	bufferevent_set_max_single_read(bev, BEV_MAX_SINGLE_IO);
	bufferevent_set_max_single_write(bev, BEV_MAX_SINGLE_IO);
}

/* What libevent 2.1 reads at most per read() (EVBUFFER_MAX_READ). */
#define BEV_LIBEVENT_READ 4096

int
bev_read_more(struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	ssize_t r;
	size_t left;
	int n, i;

	/* Less than a full read came in: the socket had no more. */
	if (evbuffer_get_length(in) < BEV_LIBEVENT_READ ||
	    bufferevent_openssl_get_ssl(bev) != NULL ||
	    bufferevent_get_underlying(bev) != NULL)
		return 0;
	/* bufferevent keeps the end of its input frozen outside its reads. */
	evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, BEV_MAX_SINGLE_IO, v, 2);
	if (n < 1) {
		evbuffer_freeze(in, 0);
		return 0;
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	do {
		r = readv(bufferevent_getfd(bev), iov, n);
	} while (r == -1 && errno == EINTR);
	if (r <= 0) {
		evbuffer_commit_space(in, v, 0);
		evbuffer_freeze(in, 0);
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r == 0)
			errno = 0;
		return -1;
	}
	left = (size_t)r;
	for (i = 0; i < n; i++) {
		v[i].iov_len = left < v[i].iov_len ? left : v[i].iov_len;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(in, v, n);
	evbuffer_freeze(in, 0);
	return 0;
}
