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

#include "accept.h"
#include "bev.h"
#include "config.h"
#include "core.h"
#include "endpoint.h"
#include "log.h"
#include "peer.h"
#include "tls.h"

#define LISTEN_BACKLOG 511

struct listener {
	TAILQ_ENTRY(listener) entry;
	struct endpoints *eps;
	struct evconnlistener *lev;
	struct accept_pause pause;      /* out of descriptors: wait */
	char name[80];                  /* the bound address */
	char key[300];                  /* the bind endpoint it came from */
	char error[160];                /* lev == NULL: why the bind failed */
};

struct connector {
	TAILQ_ENTRY(connector) entry;
	struct endpoints *eps;
	const struct endpoint_conf *ep;
	char name[300];
	struct event *retry_ev;
	struct evdns_getaddrinfo_request *dns_req;      /* resolving */
	struct peer *peer;
	struct peer_owner owner;        /* what its peer calls back */
	uint64_t delay_ms;              /* the next retry's base delay */
	uint64_t up_since_ms;
	uint64_t retry_at_ms;           /* when the retry timer fires */
	unsigned failures;              /* in a row, since the last success */
	int ever_up;
	char last_error[128];
	char logged_error[128];         /* the cause the log last gave; ""
	                                   after a success */
	struct log_ratelimit rl_cause;  /* lines for changes of cause */
	unsigned next_addr;             /* rotates over resolved addresses */
};

/* Lines per LOG_RATELIMIT_MS for a connector whose cause keeps changing. */
#define CONNECTOR_CAUSE_BURST 3

struct endpoints {
	struct core *core;
	struct home *home;              /* the core's */
	struct tls *tls;                /* borrowed; NULL: plain TCP */
	struct evdns_base *dns;         /* borrowed */
	struct log_ratelimit rl_max_peers;
	int closing;                    /* endpoints_free() is under way */
	TAILQ_HEAD(, listener) listeners;
	TAILQ_HEAD(, connector) connectors;
};

static void connector_attempt(struct connector *);

/* What identifies a configured endpoint across reloads: host and port. */
static void
endpoint_key(const struct endpoint_conf *ep, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s", ep->host, ep->port);
}

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

/*
 * Does the socket have max_peers connections (handshakes and those of
 * connect endpoints included)?  Counted on demand, at most max_peers
 * steps: only accepts pay, and only with a limit.
 */
static int
listener_full(const struct endpoints *eps)
{
	return eps->home->conf->max_peers != CONFIG_UNLIMITED &&
	    core_npeers(eps->core) >= eps->home->conf->max_peers;
}

/* Over max_peers: closed before a byte is read or written. */
static void
listener_reject(struct endpoints *eps, evutil_socket_t fd, const char *addr)
{
	char more[LOG_MORE_LEN];
	int64_t k;

	STATS_INC(&eps->home->stats, rejected_max_peers);
	evutil_closesocket(fd);
	if ((k = log_ratelimit_pass(&eps->rl_max_peers, now_ms())) < 0)
		return;
	log_warnx("socket %s: closed connection from %s: max_peers (%" PRIu64
	    ") connections are open%s", eps->home->name, addr, eps->home->conf->max_peers,
	    log_more(more, k));
}

static void
listener_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct endpoints *eps = l->eps;
	struct bufferevent *bev;
	char addr[64];

	(void)lev;
	(void)salen;
	addr_format(sa, addr, sizeof(addr));
	if (listener_full(eps)) {
		listener_reject(eps, fd, addr);
		return;
	}
	set_nodelay(fd);
	if (eps->tls != NULL)
		bev = tls_accept_bev(eps->tls, eps->home->base, fd);
	else
		bev = bev_new(eps->home->base, fd);
	if (bev == NULL) {
		log_warnx("socket %s: dropped connection from %s: out of "
		    "memory", eps->home->name, addr);
		evutil_closesocket(fd);
		return;
	}
	STATS_INC(&eps->home->stats, conns_accepted);
	log_debug("socket %s: accepted %s on %s", eps->home->name, addr, l->name);
	if (peer_new(eps->home, bev, NULL, addr, eps->home->conf->heartbeat_timeout_ms) ==
	    NULL)
		log_warnx("socket %s: dropped connection from %s: out of "
		    "memory", eps->home->name, addr);
}

static void
listener_error(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;

	(void)lev;
	accept_pause_error(&l->pause);
}

static int
listener_open(struct endpoints *eps, const struct endpoint_conf *ep,
    const struct addrinfo *ai, char *err, size_t errlen)
{
	struct listener *l;
	evutil_socket_t fd;
	int one = 1;
	char name[80], what[96];

	addr_format(ai->ai_addr, name, sizeof(name));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		if (errno == EAFNOSUPPORT && strcmp(ep->host, "*") == 0)
			return 0;       /* no IPv6 here: "*" means what exists */
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		log_warn("socket %s: cannot bind %s (config line %d)",
		    eps->home->name, name, ep->line);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		log_warn("socket %s: cannot bind %s (config line %d)",
		    eps->home->name, name, ep->line);
		close(fd);
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	l->eps = eps;
	snprintf(l->name, sizeof(l->name), "%s", name);
	endpoint_key(ep, l->key, sizeof(l->key));
	snprintf(what, sizeof(what), "socket %s: %s", eps->home->name, name);
	l->lev = evconnlistener_new(eps->home->base, listener_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG, fd);
	if (l->lev == NULL ||
	    accept_pause_init(&l->pause, eps->home->base, l->lev, what) == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		log_warn("socket %s: cannot listen on %s", eps->home->name, name);
		if (l->lev == NULL)
			close(fd);
		else
			evconnlistener_free(l->lev);
		accept_pause_clear(&l->pause);
		free(l);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, listener_error);
	TAILQ_INSERT_TAIL(&eps->listeners, l, entry);
	log_info("socket %s: listening on %s", eps->home->name, name);
	return 0;
}

static int
listeners_open(struct endpoints *eps, const struct endpoint_conf *ep,
    char *err, size_t errlen)
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
		snprintf(err, errlen, "%s: %s", ep->host, gai_strerror(rc));
		log_warnx("socket %s: cannot resolve bind address %s "
		    "(config line %d): %s", eps->home->name, ep->host, ep->line,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (listener_open(eps, ep, ai, err, errlen) == -1) {
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
	const struct socket_conf *conf = c->eps->home->conf;
	uint64_t ms = jitter(c->delay_ms);
	struct timeval tv;

	if (ms > conf->reconnect_max_delay_ms)
		ms = conf->reconnect_max_delay_ms;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->retry_ev, &tv);
	c->retry_at_ms = now_ms() + ms;
	c->delay_ms *= 2;
	if (c->delay_ms > conf->reconnect_max_delay_ms)
		c->delay_ms = conf->reconnect_max_delay_ms;
}

/*
 * The first failure in a row is news, and so is each change of its cause;
 * the same cause again is not.  A change the rate limit held back is
 * logged at a later failure, so the log's last word on a connector is its
 * current cause (or its success).
 */
static void
connector_failed(struct connector *c, const char *why)
{
	char more[LOG_MORE_LEN];
	int64_t k;

	c->failures++;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	if (strcmp(why, c->logged_error) == 0) {
		log_debug("socket %s: connect to %s failed again (%u in a "
		    "row): %s", c->eps->home->name, c->name, c->failures, why);
	} else if ((k = log_ratelimit_pass(&c->rl_cause, now_ms())) >= 0) {
		if (c->failures == 1)
			log_warnx("socket %s: connect to %s failed: %s; "
			    "retrying with backoff", c->eps->home->name, c->name, why);
		else
			log_warnx("socket %s: connect to %s failed (%u in a "
			    "row), now: %s; retrying with backoff%s",
			    c->eps->home->name, c->name, c->failures, why,
			    log_more(more, k));
		snprintf(c->logged_error, sizeof(c->logged_error), "%s", why);
	}
	connector_schedule(c);
}

/* Connect to one of the resolved addresses (a different one each try). */
static void
connector_connect(struct connector *c, struct evutil_addrinfo *res)
{
	struct endpoints *eps = c->eps;
	struct evutil_addrinfo *ai;
	struct bufferevent *bev;
	unsigned n = 0, i;

	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	ai = res;
	for (i = 0; i < c->next_addr % n; i++)
		ai = ai->ai_next;
	c->next_addr++;
	if (eps->tls != NULL)
		bev = tls_connect_bev(eps->tls, eps->home->base, c->ep->host);
	else
		bev = bev_new(eps->home->base, -1);
	if (bev == NULL) {
		connector_failed(c, eps->tls != NULL ? "cannot set up TLS (out "
		    "of memory or a bad tls_server_name)" : "out of memory");
		return;
	}
	if (bufferevent_socket_connect(bev, ai->ai_addr,
	    (int)ai->ai_addrlen) == -1) {
		bufferevent_free(bev);
		connector_failed(c, strerror(errno));
		return;
	}
	set_nodelay(bufferevent_getfd(bev));
	c->peer = peer_new(eps->home, bev, &c->owner, c->name,
	    eps->home->conf->connect_timeout_ms);
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
	if (!c->eps->closing)
		connector_connect(c, res);
	evutil_freeaddrinfo(res);
}

/* Resolve without blocking the loop (numeric addresses answer at once). */
static void
connector_attempt(struct connector *c)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;

	if (c->eps->closing)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	req = evdns_getaddrinfo(c->eps->dns, c->ep->host, c->ep->port, &hints,
	    connector_resolved, c);
	if (req != NULL)
		c->dns_req = req;
}

static void
connector_peer_up(void *arg)
{
	struct connector *c = arg;

	STATS_INC(&c->eps->home->stats, conns_connected);
	if (c->failures > 0)
		log_info("socket %s: connected to %s after %u failed "
		    "attempt%s", c->eps->home->name, c->name, c->failures,
		    c->failures == 1 ? "" : "s");
	c->failures = 0;
	c->logged_error[0] = '\0';
	c->ever_up = 1;
	c->up_since_ms = now_ms();
}

static void
connector_peer_down(void *arg, const char *why, int was_up)
{
	struct connector *c = arg;

	c->peer = NULL;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	if (c->eps->closing)
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
	if (now_ms() - c->up_since_ms >= c->eps->home->conf->reconnect_max_delay_ms)
		c->delay_ms = c->eps->home->conf->reconnect_delay_ms;
	connector_schedule(c);
}

const char *
connector_name(const struct connector *c)
{
	return c->name;
}

void
endpoints_status(const struct endpoints *eps,
    void (*fn)(const struct endpoint_status *, void *), void *arg)
{
	const struct listener *l;
	const struct connector *c;
	struct endpoint_status st;
	uint64_t now = now_ms();

	TAILQ_FOREACH(l, &eps->listeners, entry) {
		memset(&st, 0, sizeof(st));
		st.kind = "bind";
		st.name = l->name;
		st.state = l->lev != NULL ? "listening" : "failed";
		st.last_error = l->error;
		fn(&st, arg);
	}
	TAILQ_FOREACH(c, &eps->connectors, entry) {
		memset(&st, 0, sizeof(st));
		st.kind = "connect";
		st.name = c->name;
		st.ever_connected = c->ever_up;
		st.failures = c->failures;
		st.last_error = c->last_error;
		if (c->peer != NULL && c->peer->link.state == LINK_UP)
			st.state = "connected";
		else if (c->peer != NULL || c->dns_req != NULL)
			st.state = "connecting";
		else {
			st.state = "backing off";
			st.retry_in_ms = c->retry_at_ms > now ?
			    c->retry_at_ms - now : 0;
		}
		fn(&st, arg);
	}
}

/* --- the set ------------------------------------------------------------- */

static struct connector *
connector_new(struct endpoints *eps, const struct endpoint_conf *ep)
{
	struct connector *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->retry_ev = evtimer_new(eps->home->base, connector_retry,
	    c)) == NULL) {
		free(c);
		return NULL;
	}
	c->eps = eps;
	c->ep = ep;
	c->delay_ms = eps->home->conf->reconnect_delay_ms;
	c->rl_cause.burst = CONNECTOR_CAUSE_BURST;
	c->owner.up = connector_peer_up;
	c->owner.down = connector_peer_down;
	c->owner.arg = c;
	if (strchr(ep->host, ':') != NULL)
		snprintf(c->name, sizeof(c->name), "[%s]:%s", ep->host,
		    ep->port);
	else
		snprintf(c->name, sizeof(c->name), "%s:%s", ep->host, ep->port);
	TAILQ_INSERT_TAIL(&eps->connectors, c, entry);
	log_info("socket %s: connecting to %s%s", eps->home->name, c->name,
	    eps->tls != NULL ? " (TLS)" : "");
	return c;
}

/* Free a connector; its connection, if any, is closed with `why`. */
static void
connector_free(struct endpoints *eps, struct connector *c, const char *why)
{
	struct peer *p = c->peer;

	TAILQ_REMOVE(&eps->connectors, c, entry);
	if (p != NULL) {
		p->owner = NULL;
		if (why != NULL)
			peer_close(p, why);
	}
	if (c->dns_req != NULL)
		evdns_getaddrinfo_cancel(c->dns_req);
	event_free(c->retry_ev);
	free(c);
}

static void
listener_free(struct endpoints *eps, struct listener *l)
{
	TAILQ_REMOVE(&eps->listeners, l, entry);
	if (l->lev != NULL)
		evconnlistener_free(l->lev);
	accept_pause_clear(&l->pause);
	free(l);
}

struct endpoints *
endpoints_start(struct core *core, struct tls *tls, struct evdns_base *dns)
{
	const struct socket_conf *conf = core_home(core)->conf;
	struct endpoints *eps = calloc(1, sizeof(*eps));
	struct connector *c;
	char err[160];
	size_t i;

	if (eps == NULL)
		return NULL;
	eps->core = core;
	eps->home = core_home(core);
	eps->tls = tls;
	eps->dns = dns;
	TAILQ_INIT(&eps->listeners);
	TAILQ_INIT(&eps->connectors);
	for (i = 0; i < conf->nbinds; i++) {
		if (listeners_open(eps, &conf->binds[i], err,
		    sizeof(err)) == -1) {
			endpoints_free(eps);
			return NULL;
		}
	}
	for (i = 0; i < conf->nconnects; i++) {
		if (connector_new(eps, &conf->connects[i]) == NULL) {
			endpoints_free(eps);
			return NULL;
		}
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

	while ((l = TAILQ_FIRST(&eps->listeners)) != NULL)
		listener_free(eps, l);
	TAILQ_FOREACH(c, &eps->connectors, entry)
		evtimer_del(c->retry_ev);
}

void
endpoints_free(struct endpoints *eps)
{
	struct connector *c;

	if (eps == NULL)
		return;
	eps->closing = 1;
	endpoints_stop_accepting(eps);
	while ((c = TAILQ_FIRST(&eps->connectors)) != NULL)
		connector_free(eps, c, NULL);
	free(eps);
}

static const struct endpoint_conf *
endpoint_find(const struct endpoint_conf *list, size_t n, const char *key)
{
	char k[300];
	size_t i;

	for (i = 0; i < n; i++) {
		endpoint_key(&list[i], k, sizeof(k));
		if (strcmp(k, key) == 0)
			return &list[i];
	}
	return NULL;
}

/* A bind endpoint that a reload could not open: status shows why, and the
 * next reload tries again. */
static void
listener_failed(struct endpoints *eps, const struct endpoint_conf *ep,
    const char *why)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return;
	l->eps = eps;
	if (strchr(ep->host, ':') != NULL)
		snprintf(l->name, sizeof(l->name), "[%s]:%s", ep->host,
		    ep->port);
	else
		snprintf(l->name, sizeof(l->name), "%s:%s", ep->host, ep->port);
	endpoint_key(ep, l->key, sizeof(l->key));
	snprintf(l->error, sizeof(l->error), "%s", why);
	TAILQ_INSERT_TAIL(&eps->listeners, l, entry);
}

int
endpoints_reconfigure(struct endpoints *eps, const struct socket_conf *conf,
    struct tls *tls, enum endpoints_phase phase)
{
	struct listener *l, *lnext;
	struct connector *c, *cnext;
	const struct endpoint_conf *ep;
	char key[300], err[160];
	int failed = 0, found;
	size_t i;

	eps->tls = tls;
	if (phase == ENDPOINTS_DROP) {
		for (l = TAILQ_FIRST(&eps->listeners); l != NULL; l = lnext) {
			lnext = TAILQ_NEXT(l, entry);
			if (endpoint_find(conf->binds, conf->nbinds,
			    l->key) == NULL) {
				log_info("socket %s: no longer listening on %s",
				    eps->home->name, l->name);
				listener_free(eps, l);
			}
		}
		for (c = TAILQ_FIRST(&eps->connectors); c != NULL; c = cnext) {
			cnext = TAILQ_NEXT(c, entry);
			endpoint_key(c->ep, key, sizeof(key));
			ep = endpoint_find(conf->connects, conf->nconnects, key);
			if (ep != NULL)
				c->ep = ep;     /* the old config goes away */
			else {
				log_info("socket %s: no longer connecting to %s",
				    eps->home->name, c->name);
				connector_free(eps, c, "endpoint removed by "
				    "reload");
			}
		}
		return 0;
	}
	for (i = 0; i < conf->nbinds; i++) {
		endpoint_key(&conf->binds[i], key, sizeof(key));
		found = 0;
		for (l = TAILQ_FIRST(&eps->listeners); l != NULL; l = lnext) {
			lnext = TAILQ_NEXT(l, entry);
			if (strcmp(l->key, key) != 0)
				continue;
			if (l->lev != NULL)
				found = 1;
			else
				listener_free(eps, l);  /* failed: try again */
		}
		if (found)
			continue;
		if (listeners_open(eps, &conf->binds[i], err,
		    sizeof(err)) == -1) {
			listener_failed(eps, &conf->binds[i], err);
			failed++;
		}
	}
	for (i = 0; i < conf->nconnects; i++) {
		found = 0;
		TAILQ_FOREACH(c, &eps->connectors, entry)
			if (c->ep == &conf->connects[i])
				found = 1;
		if (found)
			continue;
		if ((c = connector_new(eps, &conf->connects[i])) == NULL) {
			failed++;
			continue;
		}
		connector_attempt(c);
	}
	return failed;
}
