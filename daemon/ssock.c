/* ssock: a smart socket, its core and its doors (ssock.h). */
#include <sys/time.h>
#include <sys/resource.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "endpoint.h"
#include "local.h"
#include "log.h"
#include "route.h"
#include "ssock.h"

/* The core's send buffer has room: whoever waited to send goes on. */
static void
ssock_room(void *arg)
{
	struct ssock *ss = arg;

	if (ss->local != NULL)
		local_resume_reading(ss->local);
	route_target_ready(ss->core);
}

struct ssock *
ssock_new(struct event_base *base, struct evdns_base *dns,
    const struct socket_conf *conf, struct tls *tls, const char *runtime_dir,
    size_t max_message_size)
{
	struct ssock *ss = calloc(1, sizeof(*ss));
	const struct home *h;
	char path[4096];

	if (ss == NULL) {
		log_warnx("socket %s: out of memory", conf->name);
		return NULL;
	}
	ss->tls = tls;
	if ((ss->core = core_new(base, conf, max_message_size)) == NULL) {
		free(ss);
		return NULL;
	}
	core_on_room(ss->core, ssock_room, ss);
	core_set_tap(ss->core, &route_tap);
	snprintf(path, sizeof(path), "%s/%s.sock", runtime_dir, conf->name);
	if ((ss->local = local_new(ss->core, path)) == NULL) {
		ssock_free(ss);
		return NULL;
	}
	core_set_sink(ss->core, local_sink(ss->local));
	if ((ss->endpoints = endpoints_start(ss->core, tls, dns)) == NULL) {
		ssock_free(ss);
		return NULL;
	}
	h = core_home(ss->core);
	log_info("socket %s: identity %s, %s, %s%s, application socket %s",
	    h->name, h->identity_hex,
	    conf->send_mode == SEND_PUBLISH ? "publish" : "roundrobin",
	    conf->delivery == DELIVERY_AT_LEAST_ONCE ? "at-least-once" :
	    "at-most-once", tls != NULL ? ", TLS" : "", path);
	return ss;
}

void
ssock_set_conf(struct ssock *ss, const struct socket_conf *conf,
    struct tls *tls)
{
	ss->tls = tls;
	core_set_conf(ss->core, conf);
	endpoints_reconfigure(ss->endpoints, conf, tls, ENDPOINTS_DROP);
}

int
ssock_add_endpoints(struct ssock *ss)
{
	return endpoints_reconfigure(ss->endpoints, ssock_conf(ss), ss->tls,
	    ENDPOINTS_ADD);
}

void
ssock_conf_applied(struct ssock *ss)
{
	local_reconfigure(ss->local);
	core_conf_applied(ss->core);
}

void
ssock_stop_accepting(struct ssock *ss)
{
	endpoints_stop_accepting(ss->endpoints);
	local_stop_accepting(ss->local);
}

/*
 * Routes first (they point at the core), then the endpoints (their
 * connectors point at links), then the core with its links; the
 * applications last, whose sink the core logged with.
 */
void
ssock_free(struct ssock *ss)
{
	if (ss == NULL)
		return;
	if (ss->core != NULL)
		routes_forget(ss->core);
	endpoints_free(ss->endpoints);
	core_free(ss->core);
	local_free(ss->local);
	free(ss);
}

const char *
ssock_name(const struct ssock *ss)
{
	return core_home_c(ss->core)->name;
}

const struct socket_conf *
ssock_conf(const struct ssock *ss)
{
	return core_home_c(ss->core)->conf;
}

struct ssock *
ssock_list_find(struct ssock_list *list, const char *name)
{
	struct ssock *ss;

	TAILQ_FOREACH(ss, list, entry)
		if (strcmp(ssock_name(ss), name) == 0)
			return ss;
	return NULL;
}


/* Descriptors besides the sockets' own: standard streams, the event loop,
 * the resolver, syslog, control.sock and its clients (at most 32). */
#define SSOCK_FD_DAEMON 48

static void
ssock_format_rlim(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static uint64_t
ssock_add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

void
ssock_check_fd_limit(const struct config *cfg)
{
	const struct socket_conf *sc;
	struct rlimit rl;
	char soft[32], hard[32];
	uint64_t need = SSOCK_FD_DAEMON, finite = 0;
	size_t i;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	ssock_format_rlim(rl.rlim_cur, soft, sizeof(soft));
	ssock_format_rlim(rl.rlim_max, hard, sizeof(hard));
	log_info("descriptor limit (RLIMIT_NOFILE): soft %s, hard %s", soft,
	    hard);
	/* A "*" bind may listen on two addresses; unlimited adds nothing. */
	for (i = 0; i < cfg->nsockets; i++) {
		sc = &cfg->sockets[i];
		need = ssock_add_sat(need, 1 + 2 * sc->nbinds);
		if (sc->max_peers != CONFIG_UNLIMITED) {
			need = ssock_add_sat(need, sc->max_peers);
			finite = 1;
		} else
			need = ssock_add_sat(need, sc->nconnects);
		if (sc->max_clients != CONFIG_UNLIMITED) {
			need = ssock_add_sat(need, sc->max_clients);
			finite = 1;
		}
	}
	if (finite && rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
		log_warnx("max_peers and max_clients allow about %" PRIu64
		    " descriptors, more than the soft limit of %s: past it, "
		    "accepting pauses until descriptors are free (raise "
		    "LimitNOFILE= or ulimit -n)", need, soft);
}


