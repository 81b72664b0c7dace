/* endpoint: listeners and reconnecting connectors (see endpoint.h). */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "bev.h"
#include "config.h"
#include "endpoint.h"
#include "log.h"
#include "peer.h"
#include "ssock.h"

#define LISTEN_BACKLOG 511
#define ACCEPT_PAUSE_MS 1000    /* after an accept error such as EMFILE */

struct listener {
	TAILQ_ENTRY(listener) entry;
	struct ssock *ss;
	struct evconnlistener *lev;
	struct event *resume_ev;
	char name[80];
};

struct connector {
	TAILQ_ENTRY(connector) entry;
	struct ssock *ss;
	const struct endpoint_conf *ep;
	char name[300];
	struct event *retry_ev;
	struct evdns_getaddrinfo_request *dns_req;      /* resolving */
	struct peer *peer;
	uint64_t delay_ms;              /* the next retry's base delay */
	uint64_t up_since_ms;
	unsigned failures;              /* in a row, since the last success */
	unsigned next_addr;             /* rotates over resolved addresses */
};

struct endpoints {
	struct ssock *ss;
	TAILQ_HEAD(, listener) listeners;
	TAILQ_HEAD(, connector) connectors;
};

static void connector_attempt(struct connector *);

static void
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else
		snprintf(buf, len, "?");
}

static void
set_nodelay(evutil_socket_t fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* --- listeners --------------------------------------------------------- */

static void
listener_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct ssock *ss = l->ss;
	struct bufferevent *bev;
	char addr[64];

	(void)lev;
	(void)salen;
	addr_format(sa, addr, sizeof(addr));
	set_nodelay(fd);
	bev = bev_new(ss->base, fd);
	if (bev == NULL) {
		log_warnx("socket %s: dropped connection from %s: out of "
		    "memory", ss->name, addr);
		evutil_closesocket(fd);
		return;
	}
	STATS_INC(&ss->stats, conns_accepted);
	log_debug("socket %s: accepted %s on %s", ss->name, addr, l->name);
	if (peer_new(ss, bev, NULL, addr, ss->conf->heartbeat_timeout_ms) ==
	    NULL)
		log_warnx("socket %s: dropped connection from %s: out of "
		    "memory", ss->name, addr);
}

static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->lev);
}

static void
listener_error(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = { ACCEPT_PAUSE_MS / 1000, 0 };

	/* EMFILE and friends: pause instead of spinning on a ready fd. */
	log_warn("socket %s: accept on %s failed; pausing accepts for %d ms",
	    l->ss->name, l->name, ACCEPT_PAUSE_MS);
	evconnlistener_disable(lev);
	evtimer_add(l->resume_ev, &tv);
}

static int
listener_open(struct endpoints *eps, const struct endpoint_conf *ep,
    const struct addrinfo *ai)
{
	struct ssock *ss = eps->ss;
	struct listener *l;
	evutil_socket_t fd;
	int one = 1;
	char name[80];

	addr_format(ai->ai_addr, name, sizeof(name));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		if (errno == EAFNOSUPPORT && strcmp(ep->host, "*") == 0)
			return 0;       /* no IPv6 here: "*" means what exists */
		log_warn("socket %s: cannot bind %s (config line %d)",
		    ss->name, name, ep->line);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		log_warn("socket %s: cannot bind %s (config line %d)",
		    ss->name, name, ep->line);
		close(fd);
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return -1;
	}
	l->ss = ss;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->resume_ev = evtimer_new(ss->base, listener_resume, l);
	l->lev = evconnlistener_new(ss->base, listener_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG, fd);
	if (l->lev == NULL || l->resume_ev == NULL) {
		log_warn("socket %s: cannot listen on %s", ss->name, name);
		if (l->lev == NULL)
			close(fd);
		else
			evconnlistener_free(l->lev);
		if (l->resume_ev != NULL)
			event_free(l->resume_ev);
		free(l);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, listener_error);
	TAILQ_INSERT_TAIL(&eps->listeners, l, entry);
	log_info("socket %s: listening on %s", ss->name, name);
	return 0;
}

static int
listeners_open(struct endpoints *eps, const struct endpoint_conf *ep)
{
	struct addrinfo hints, *res, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(strcmp(ep->host, "*") == 0 ? NULL : ep->host,
	    ep->port, &hints, &res);
	if (rc != 0) {
		log_warnx("socket %s: cannot resolve bind address %s "
		    "(config line %d): %s", eps->ss->name, ep->host, ep->line,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (listener_open(eps, ep, ai) == -1) {
			freeaddrinfo(res);
			return -1;
		}
	}
	freeaddrinfo(res);
	return 0;
}

/* --- connectors ---------------------------------------------------------- */

static uint64_t
jitter(uint64_t ms)
{
	uint32_t r;

	/* Uniform in [0.75, 1.25] x ms. */
	evutil_secure_rng_get_bytes(&r, sizeof(r));
	return ms * 3 / 4 + (uint64_t)((double)(ms / 2) * (r / 4294967296.0));
}

static void
connector_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connector_attempt(arg);
}

static void
connector_schedule(struct connector *c)
{
	const struct socket_conf *conf = c->ss->conf;
	uint64_t ms = jitter(c->delay_ms);
	struct timeval tv;

	if (ms > conf->reconnect_max_delay_ms)
		ms = conf->reconnect_max_delay_ms;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->retry_ev, &tv);
	c->delay_ms *= 2;
	if (c->delay_ms > conf->reconnect_max_delay_ms)
		c->delay_ms = conf->reconnect_max_delay_ms;
}

static void
connector_failed(struct connector *c, const char *why)
{
	c->failures++;
	/* The first failure in a row is news; the rest are the same news. */
	if (c->failures == 1)
		log_warnx("socket %s: connect to %s failed: %s; retrying "
		    "with backoff", c->ss->name, c->name, why);
	else
		log_debug("socket %s: connect to %s failed again (%u): %s",
		    c->ss->name, c->name, c->failures, why);
	connector_schedule(c);
}

/* Connect to one of the resolved addresses (a different one each try). */
static void
connector_connect(struct connector *c, struct evutil_addrinfo *res)
{
	struct ssock *ss = c->ss;
	struct evutil_addrinfo *ai;
	struct bufferevent *bev;
	unsigned n = 0, i;

	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	ai = res;
	for (i = 0; i < c->next_addr % n; i++)
		ai = ai->ai_next;
	c->next_addr++;
	if ((bev = bev_new(ss->base, -1)) == NULL) {
		connector_failed(c, "out of memory");
		return;
	}
	if (bufferevent_socket_connect(bev, ai->ai_addr,
	    (int)ai->ai_addrlen) == -1) {
		bufferevent_free(bev);
		connector_failed(c, strerror(errno));
		return;
	}
	set_nodelay(bufferevent_getfd(bev));
	c->peer = peer_new(ss, bev, c, c->name, ss->conf->connect_timeout_ms);
	if (c->peer == NULL)
		connector_failed(c, "out of memory");
}

static void
connector_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
	struct connector *c = arg;

	if (err == EVUTIL_EAI_CANCEL)
		return;         /* the connector is being freed */
	c->dns_req = NULL;
	if (err != 0) {
		connector_failed(c, evutil_gai_strerror(err));
		return;
	}
	if (!c->ss->closing)
		connector_connect(c, res);
	evutil_freeaddrinfo(res);
}

/* Resolve without blocking the loop (numeric addresses answer at once). */
static void
connector_attempt(struct connector *c)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;

	if (c->ss->closing)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	req = evdns_getaddrinfo(c->ss->dns, c->ep->host, c->ep->port, &hints,
	    connector_resolved, c);
	if (req != NULL)
		c->dns_req = req;
}

void
connector_peer_up(struct connector *c)
{
	STATS_INC(&c->ss->stats, conns_connected);
	if (c->failures > 0)
		log_info("socket %s: connected to %s after %u failed "
		    "attempts", c->ss->name, c->name, c->failures);
	c->failures = 0;
	c->up_since_ms = now_ms();
}

void
connector_peer_down(struct connector *c, const char *why, int was_up)
{
	c->peer = NULL;
	if (c->ss->closing)
		return;
	if (!was_up) {
		connector_failed(c, why);
		return;
	}
	/*
	 * A connection that lived a while restarts the backoff; one closed
	 * at once after its HELLO (say, a duplicate identity there) does not,
	 * or we would reconnect in a tight loop.
	 */
	if (now_ms() - c->up_since_ms >= c->ss->conf->reconnect_max_delay_ms)
		c->delay_ms = c->ss->conf->reconnect_delay_ms;
	connector_schedule(c);
}

const char *
connector_name(const struct connector *c)
{
	return c->name;
}

/* --- the set ------------------------------------------------------------- */

struct endpoints *
endpoints_start(struct ssock *ss)
{
	const struct socket_conf *conf = ss->conf;
	struct endpoints *eps = calloc(1, sizeof(*eps));
	struct connector *c;
	size_t i;

	if (eps == NULL)
		return NULL;
	eps->ss = ss;
	TAILQ_INIT(&eps->listeners);
	TAILQ_INIT(&eps->connectors);
	for (i = 0; i < conf->nbinds; i++) {
		if (listeners_open(eps, &conf->binds[i]) == -1) {
			endpoints_free(eps);
			return NULL;
		}
	}
	for (i = 0; i < conf->nconnects; i++) {
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->retry_ev = evtimer_new(ss->base, connector_retry,
		    c)) == NULL) {
			free(c);
			endpoints_free(eps);
			return NULL;
		}
		c->ss = ss;
		c->ep = &conf->connects[i];
		c->delay_ms = conf->reconnect_delay_ms;
		if (strchr(c->ep->host, ':') != NULL)
			snprintf(c->name, sizeof(c->name), "[%s]:%s",
			    c->ep->host, c->ep->port);
		else
			snprintf(c->name, sizeof(c->name), "%s:%s",
			    c->ep->host, c->ep->port);
		TAILQ_INSERT_TAIL(&eps->connectors, c, entry);
	}
	TAILQ_FOREACH(c, &eps->connectors, entry)
		connector_attempt(c);
	return eps;
}

void
endpoints_stop_accepting(struct endpoints *eps)
{
	struct listener *l;
	struct connector *c;

	while ((l = TAILQ_FIRST(&eps->listeners)) != NULL) {
		TAILQ_REMOVE(&eps->listeners, l, entry);
		evconnlistener_free(l->lev);
		event_free(l->resume_ev);
		free(l);
	}
	TAILQ_FOREACH(c, &eps->connectors, entry)
		evtimer_del(c->retry_ev);
}

void
endpoints_free(struct endpoints *eps)
{
	struct connector *c;

	if (eps == NULL)
		return;
	endpoints_stop_accepting(eps);
	while ((c = TAILQ_FIRST(&eps->connectors)) != NULL) {
		TAILQ_REMOVE(&eps->connectors, c, entry);
		if (c->peer != NULL)
			c->peer->connector = NULL;
		if (c->dns_req != NULL)
			evdns_getaddrinfo_cancel(c->dns_req);
		event_free(c->retry_ev);
		free(c);
	}
	free(eps);
}
