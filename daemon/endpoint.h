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

struct core;
struct evdns_base;
struct tls;
struct endpoints;
struct connector;

struct socket_conf;

/* Bind every listener and start every connector of core's settings; the
 * connections made are core's links (peer.h), over TLS with tls (NULL:
 * plain TCP), resolved through dns.  NULL after logging the reason when a
 * bind fails. */
struct endpoints *endpoints_start(struct core *, struct tls *,
    struct evdns_base *);
void endpoints_stop_accepting(struct endpoints *);

/*
 * A reload gave the socket `conf` and `tls` (for new connections).
 * ENDPOINTS_DROP closes the listeners
 * and connectors whose host:port is no longer configured (and points the
 * kept ones at conf); ENDPOINTS_ADD, once every socket has dropped what it
 * lost (a port may move between sockets), opens the new ones.  Kept ones
 * and their connections are untouched.  Returns how many failed to open
 * (logged).
 */
enum endpoints_phase { ENDPOINTS_DROP, ENDPOINTS_ADD };
int endpoints_reconfigure(struct endpoints *, const struct socket_conf *conf,
    struct tls *, enum endpoints_phase);
void endpoints_free(struct endpoints *);         /* NULL is a no-op */

/* What status shows of one endpoint. */
struct endpoint_status {
	const char *kind;               /* "bind" or "connect" */
	const char *name;               /* "host:port" as configured, or the
	                                   address a listener is bound to */
	const char *state;              /* bind: "listening", or "failed"
	                                   (a reload could not open it);
	                                   connect:
	                                   "connected", "connecting" or
	                                   "backing off" */
	int ever_connected;             /* connect: a handshake ever completed */
	uint64_t retry_in_ms;           /* backing off: until the next try */
	unsigned failures;              /* connect: failures in a row */
	const char *last_error;         /* "" when none */
};

/* Call fn for every endpoint, binds first, in config order. */
void endpoints_status(const struct endpoints *,
    void (*fn)(const struct endpoint_status *, void *), void *arg);

const char *connector_name(const struct connector *);

#endif
