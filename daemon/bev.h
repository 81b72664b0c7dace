/*
 * bev: the one way the daemon makes a socket bufferevent and reads from
 * it, so every connection (peer or application) gets the same I/O sizes:
 * libevent's small reads and writes (4 KiB per read, 16 KiB per write by
 * default) cap a stream at about 1 GB/s; larger single reads and writes
 * let one system call move many messages or a large one.
 */
#ifndef SMARTSOCK_BEV_H
#define SMARTSOCK_BEV_H

#include <event2/util.h>

struct bufferevent;
struct event_base;

#define BEV_MAX_SINGLE_IO (256 * 1024)

/* A bufferevent owning fd (or -1 for one that will connect); NULL on
 * allocation failure (fd is then not closed). */
struct bufferevent *bev_new(struct event_base *, evutil_socket_t fd);
/* Give a bufferevent made elsewhere (TLS, see tls.h) the same sizes. */
void bev_set_io_sizes(struct bufferevent *);

/*
 * libevent 2.1 reads at most 4 KiB per read() whatever the socket holds.
 * Called from a read callback: when that read came back full, read what
 * else waits, up to BEV_MAX_SINGLE_IO, into the input buffer (a TLS
 * bufferevent's socket holds ciphertext: left to OpenSSL).  Returns 0,
 * or -1 at end of stream (errno 0) or on an error (errno set).
 */
int bev_read_more(struct bufferevent *);

#endif
