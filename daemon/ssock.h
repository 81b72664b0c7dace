/*
 * ssock: one smart socket, as configured by a [socket NAME] section: a
 * routing core (core.h) and its doors to the world, the Unix socket of
 * its applications (local.h) and its TCP endpoints (endpoint.h).
 *
 * It makes the three and ties them together: the applications are the
 * core's sink until routes take it over (route.h), the core's `room` wakes
 * blocked applications and routes into it, routes see its links through
 * route.c's tap.  It owns them and frees them, in an order that leaves
 * no one pointing at what is gone.
 */
#ifndef SMARTSOCK_SSOCK_H
#define SMARTSOCK_SSOCK_H

#include <sys/queue.h>
#include <stddef.h>

#include "config.h"
#include "core.h"

struct event_base;
struct evdns_base;
struct endpoints;
struct local;
struct tls;

struct ssock {
	TAILQ_ENTRY(ssock) entry;
	struct core *core;
	struct local *local;                    /* application attachments */
	struct endpoints *endpoints;            /* listeners, connectors */
	struct tls *tls;                        /* borrowed, of the same
	                                           config; NULL: plain TCP */
};
TAILQ_HEAD(ssock_list, ssock);

/* Create the socket, its Unix socket and its endpoints.  NULL after
 * logging why (a bind that fails, a live daemon on the Unix socket).
 * tls is the TLS state loaded with conf (tls.h), NULL without TLS. */
struct ssock *ssock_new(struct event_base *, struct evdns_base *,
    const struct socket_conf *, struct tls *, const char *runtime_dir,
    size_t max_message_size);
/*
 * Reload: take `conf` and `tls` (same name and identity) in place of the
 * old ones, which are about to be freed; new connections use the new TLS
 * state, connections made earlier keep theirs.  ssock_set_conf()
 * repoints the socket, its links' timers and its endpoints' kept
 * entries; ssock_add_endpoints(), once every socket has dropped what it
 * lost, opens new endpoints (how many failed: logged);
 * ssock_conf_applied() acts on changed limits.
 */
void ssock_set_conf(struct ssock *, const struct socket_conf *conf,
    struct tls *tls);
int ssock_add_endpoints(struct ssock *);
void ssock_conf_applied(struct ssock *);
/* Stop accepting (TCP and Unix) and remove the Unix socket file. */
void ssock_stop_accepting(struct ssock *);
void ssock_free(struct ssock *);

/* Its name (the section's) and settings. */
const char *ssock_name(const struct ssock *);
const struct socket_conf *ssock_conf(const struct ssock *);
/* The socket named `name` in a list of sockets, or NULL. */
struct ssock *ssock_list_find(struct ssock_list *, const char *name);

/*
 * Log the process's descriptor limit (RLIMIT_NOFILE), and warn when the
 * max_peers and max_clients of cfg's sockets obviously need more.  For
 * the start, and after a reload.
 */
void ssock_check_fd_limit(const struct config *cfg);

#endif
