/*
 * daemon: the daemon object's life (see daemon.h): its sockets, signals,
 * the stop with its grace period, and its end.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "budget.h"
#include "daemon.h"
#include "local.h"
#include "log.h"
#include "notify.h"
#include "route.h"
#include "share.h"
#include "tls.h"

#define SHUTDOWN_GRACE_MS 2000
#define SHUTDOWN_POLL_MS 20

struct ssock *
daemon_find_socket(struct daemon *d, const char *name)
{
	return ssock_list_find(&d->sockets, name);
}

/* routes_apply()'s finder: the core of the running socket named name. */
static struct core *
daemon_find_core(void *arg, const char *name)
{
	struct ssock *ss = daemon_find_socket(arg, name);

	return ss != NULL ? ss->core : NULL;
}

void
daemon_apply_routes(struct daemon *d)
{
	routes_apply(&d->cfg, daemon_find_core, d);
}

void
daemon_set_log_level(struct daemon *d)
{
	static const int priority[] = {
		[LOG_LEVEL_ERROR] = LOG_ERR,
		[LOG_LEVEL_WARNING] = LOG_WARNING,
		[LOG_LEVEL_INFO] = LOG_INFO,
		[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	};

	log_set_level(d->verbose ? LOG_DEBUG :
	    priority[d->cfg.daemon.log_level]);
}

struct ssock *
daemon_start_socket(struct daemon *d, const struct config *cfg, size_t i,
    struct tls *tls)
{
	struct ssock *ss;

	ss = ssock_new(d->base, d->dns, &cfg->sockets[i], tls,
	    cfg->daemon.runtime_dir, (size_t)cfg->daemon.max_message_size);
	if (ss == NULL)
		return NULL;
	TAILQ_INSERT_TAIL(&d->sockets, ss, entry);
	return ss;
}

/*
 * Stopping: wait until every application has ended its stream after
 * CLOSING (what it wrote is then handled) and taken what was left for it,
 * and the peers' output is written, or the grace period is over.
 */
static void
daemon_grace(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { 0, SHUTDOWN_POLL_MS * 1000 };
	struct ssock *ss;
	size_t left = 0, apps = 0;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(ss, &d->sockets, entry) {
		left += core_unflushed(ss->core);
		apps += local_unfinished(ss->local);
	}
	if ((left == 0 && apps == 0) || now_ms() >= d->grace_deadline_ms) {
		if (left > 0)
			log_warnx("%zu bytes still unsent after the %d ms "
			    "grace period", left, SHUTDOWN_GRACE_MS);
		if (apps > 0)
			log_warnx("%zu application%s not finished after the %d "
			    "ms grace period", apps, apps == 1 ? "" : "s",
			    SHUTDOWN_GRACE_MS);
		event_base_loopbreak(d->base);
		return;
	}
	evtimer_add(d->grace_ev, &tv);
}

static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct ssock *ss;

	(void)what;
	if (d->grace_deadline_ms != 0)
		return;
	log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_stopping("stopping on %s: closing every socket, up to %d ms "
	    "for applications to finish and to send what is queued",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT", SHUTDOWN_GRACE_MS);
	TAILQ_FOREACH(ss, &d->sockets, entry) {
		ssock_stop_accepting(ss);
		local_closing(ss->local);
	}
	d->grace_deadline_ms = now_ms() + SHUTDOWN_GRACE_MS;
	daemon_grace(-1, 0, d);
}

int
daemon_signals_init(struct daemon *d)
{
	d->sig_term = evsignal_new(d->base, SIGTERM, daemon_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, daemon_signal, d);
	d->grace_ev = evtimer_new(d->base, daemon_grace, d);
	if (d->sig_term == NULL || d->sig_int == NULL || d->grace_ev == NULL)
		return -1;
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);
	return 0;
}

/* Message memory is back under max_memory: every socket may go on. */
void
daemon_budget_relief(void *arg)
{
	struct daemon *d = arg;
	struct ssock *ss;

	TAILQ_FOREACH(ss, &d->sockets, entry)
		core_budget_relief(ss->core);
}

/*
 * libevent runs some callbacks one pass of the loop after they were queued
 * (a TLS bufferevent's "written" callback, for one) and holds a reference
 * on the bufferevent until then; a base freed before that pass leaks each
 * such bufferevent with its SSL and socket.  Once every object is freed,
 * run the passes still due (bounded: nothing new is queued by then).
 */
static void
daemon_drain_loop(struct event_base *base)
{
	int i;

	for (i = 0; i < 16 && event_base_get_num_events(base,
	    EVENT_BASE_COUNT_ACTIVE) > 0; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

void
daemon_free(struct daemon *d)
{
	struct ssock *ss;

	while ((ss = TAILQ_FIRST(&d->sockets)) != NULL) {
		TAILQ_REMOVE(&d->sockets, ss, entry);
		ssock_free(ss);
	}
	routes_free();
	if (d->sig_term != NULL)
		event_free(d->sig_term);
	if (d->sig_int != NULL)
		event_free(d->sig_int);
	if (d->sig_hup != NULL)
		event_free(d->sig_hup);
	if (d->grace_ev != NULL)
		event_free(d->grace_ev);
	notify_free();
	budget_free();
	share_free();
	if (d->dns != NULL)
		evdns_base_free(d->dns, 0);
	if (d->base != NULL) {
		daemon_drain_loop(d->base);
		event_base_free(d->base);
	}
	tls_free_config(d->tls, d->cfg.nsockets);
	config_free(&d->cfg);
	free(d->config_path);
}
