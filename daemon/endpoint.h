/*
 * endpoint: the TCP side of a smart socket's configured endpoints.
 *
 * Each bind endpoint is one or more listening sockets (every address the
 * host resolves to); accepted connections become peers.  Each connect
 * endpoint is a connector that keeps one connection up for the socket's
 * whole life: it connects, and after every failure (refused, timeout, bad
 * HELLO, a dropped connection) retries after reconnect_delay, doubling up to
 * reconnect_max_delay, with jitter; a completed handshake resets the delay.
 */
#ifndef SMARTSOCK_ENDPOINT_H
#define SMARTSOCK_ENDPOINT_H

struct ssock;
struct endpoints;
struct connector;

/* Bind every listener and start every connector.  NULL after logging the
 * reason when a bind fails. */
struct endpoints *endpoints_start(struct ssock *);
void endpoints_stop_accepting(struct endpoints *);
void endpoints_free(struct endpoints *);         /* NULL is a no-op */

/* From the connector's peer. */
void connector_peer_up(struct connector *);
void connector_peer_down(struct connector *, const char *why, int was_up);
const char *connector_name(const struct connector *);

#endif
