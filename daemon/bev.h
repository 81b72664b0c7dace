/*
 * bev: the one way the daemon makes a socket bufferevent, so every
 * connection (peer or application) gets the same I/O sizes: libevent's
 * default of 16 KiB per read() and write() caps a stream at a few hundred
 * MB/s; larger single reads and writes let one system call move many
 * messages or a large one.
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

#endif
