/*
 * reload: apply a new configuration by difference (see daemon.h).  What a
 * change of each key takes comes from the option table's reloadable
 * column: applied in place, a restart of that one socket (identity), or a
 * refusal (daemon keys that need a restart of smartsockd).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <event2/event.h>

#include "advice.h"
#include "budget.h"
#include "daemon.h"
#include "endpoint.h"
#include "log.h"
#include "notify.h"
#include "route.h"
#include "tls.h"

/* Append a part to the summary, "; "-separated. */
static void
summary_add(char *summary, size_t len, const char *part)
{
	size_t used = strlen(summary);

	snprintf(summary + used, len - used, "%s%s", used ? "; " : "", part);
}

static int
reload_refuse(struct daemon *d, char *summary, size_t len, const char *why)
{
	snprintf(summary, len, "%s", why);
	snprintf(d->reload_error, sizeof(d->reload_error), "%s", why);
	log_errx("reload refused, the running configuration stays: %s", why);
	return -1;
}

/* Does sc (the socket's section in the new file) restart ss: a key that
 * cannot be applied in place changed?  keys receives which. */
static int
reload_restarts(const struct ssock *ss, const struct socket_conf *sc,
    char *keys, size_t len)
{
	int restart;

	return config_socket_changes(ssock_conf(ss), sc, keys, len, &restart) > 0 &&
	    restart;
}

/* Messages a socket holds that closing it would discard. */
static size_t
reload_held(const struct ssock *ss)
{
	struct core_queues q;

	core_queues(ss->core, &q);
	return q.send + q.pending + q.recv;
}

static int
reload_apply(struct daemon *d, char *summary, size_t len)
{
	struct config cfg;
	struct tls **tls;
	const struct socket_conf *sc;
	struct ssock *ss, *next;
	char err[DAEMON_ERR_MAX], keys[512], why[DAEMON_ERR_MAX];
	int restart, failed = 0, unchanged = 0;
	size_t i;

	summary[0] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(d->config_path, &cfg, err, sizeof(err)) == -1)
		return reload_refuse(d, summary, len, err);
	if (config_daemon_changes(&d->cfg.daemon, &cfg.daemon, keys,
	    sizeof(keys), &restart) > 0 && restart) {
		snprintf(why, sizeof(why), "%s: changing %s needs a restart "
		    "of smartsockd", d->config_path, keys);
		config_free(&cfg);
		return reload_refuse(d, summary, len, why);
	}
	/* Certificates and keys are read again, changed or not. */
	if (tls_load_config(&cfg, &tls, err, sizeof(err)) == -1) {
		config_free(&cfg);
		return reload_refuse(d, summary, len, err);
	}

	/* 0. A restart would discard what a socket holds: refused. */
	TAILQ_FOREACH(ss, &d->sockets, entry) {
		struct core_queues q;

		sc = config_find_socket(&cfg, ssock_name(ss));
		if (sc == NULL || reload_held(ss) == 0 ||
		    !reload_restarts(ss, sc, keys, sizeof(keys)))
			continue;
		core_queues(ss->core, &q);
		snprintf(why, sizeof(why), "%s: changing %s of socket %s "
		    "would discard the %zu message%s it holds (%zu waiting for "
		    "a peer, %zu awaiting an ACK, %zu waiting for an "
		    "application); reload once they are delivered",
		    d->config_path, keys, ssock_name(ss), reload_held(ss),
		    reload_held(ss) == 1 ? "" : "s", q.send, q.pending,
		    q.recv);
		tls_free_config(tls, cfg.nsockets);
		config_free(&cfg);
		return reload_refuse(d, summary, len, why);
	}
	/* 1. Sockets gone, or whose identity changed, close first. */
	for (ss = TAILQ_FIRST(&d->sockets); ss != NULL; ss = next) {
		next = TAILQ_NEXT(ss, entry);
		sc = config_find_socket(&cfg, ssock_name(ss));
		if (sc != NULL && !reload_restarts(ss, sc, keys, sizeof(keys)))
			continue;
		if (sc == NULL && reload_held(ss) > 0)
			snprintf(why, sizeof(why), "removed %s (%zu message%s it "
			    "held discarded)", ssock_name(ss), reload_held(ss),
			    reload_held(ss) == 1 ? "" : "s");
		else if (sc == NULL)
			snprintf(why, sizeof(why), "removed %s", ssock_name(ss));
		else
			snprintf(why, sizeof(why), "restarted %s (%s changed)",
			    ssock_name(ss), keys);
		summary_add(summary, len, why);
		log_info("reload: %s socket %s", sc == NULL ? "closing" :
		    "restarting", ssock_name(ss));
		TAILQ_REMOVE(&d->sockets, ss, entry);
		ssock_free(ss);
	}
	/* 2. Kept sockets take their new settings and drop lost endpoints;
	 *    only then may a port freed here be bound elsewhere. */
	TAILQ_FOREACH(ss, &d->sockets, entry) {
		sc = config_find_socket(&cfg, ssock_name(ss));
		if (config_socket_changes(ssock_conf(ss), sc, keys, sizeof(keys),
		    &restart) == 0)
			unchanged++;
		else {
			snprintf(why, sizeof(why), "changed %s (%s)", ssock_name(ss),
			    keys);
			summary_add(summary, len, why);
			log_info("reload: socket %s: %s", ssock_name(ss), keys);
		}
		if (sc->tls.on) {
			snprintf(why, sizeof(why), "re-read TLS files of %s",
			    ssock_name(ss));
			summary_add(summary, len, why);
		}
		ssock_set_conf(ss, sc, tls[sc - cfg.sockets]);
	}
	TAILQ_FOREACH(ss, &d->sockets, entry) {
		failed += ssock_add_endpoints(ss);
		ssock_conf_applied(ss);
	}
	/* 3. New sockets (and restarted ones) start. */
	for (i = 0; i < cfg.nsockets; i++) {
		sc = &cfg.sockets[i];
		if (daemon_find_socket(d, sc->name) != NULL)
			continue;
		if ((ss = daemon_start_socket(d, &cfg, i, tls[i])) == NULL) {
			failed++;
			snprintf(why, sizeof(why), "could not start %s (see "
			    "the log)", sc->name);
			summary_add(summary, len, why);
			continue;
		}
		/* A restarted socket was already named in step 1. */
		snprintf(why, sizeof(why), "restarted %s (", sc->name);
		if (strstr(summary, why) == NULL) {
			snprintf(why, sizeof(why), "added %s", sc->name);
			summary_add(summary, len, why);
		}
	}
	tls_free_config(d->tls, d->cfg.nsockets);
	config_free(&d->cfg);
	d->cfg = cfg;
	d->tls = tls;
	daemon_apply_routes(d);
	daemon_set_log_level(d);
	budget_set_max(d->cfg.daemon.max_memory);
	config_advise(&d->cfg);
	d->generation++;
	d->reload_error[0] = '\0';
	if (summary[0] == '\0')
		snprintf(summary, len, "no change");
	if (failed > 0) {
		summary_add(summary, len, "some endpoints or sockets failed "
		    "to open (see the log)");
		snprintf(d->reload_error, sizeof(d->reload_error), "%s",
		    summary);
	}
	log_info("reload: generation %u: %s (%d socket%s unchanged)",
	    d->generation, summary, unchanged, unchanged == 1 ? "" : "s");
	return failed > 0 ? -1 : 0;
}

static void
reload_sighup(evutil_socket_t sig, short what, void *arg)
{
	char summary[DAEMON_ERR_MAX];

	(void)sig;
	(void)what;
	daemon_reload(arg, summary, sizeof(summary));
}

int
daemon_reload_on_sighup(struct daemon *d)
{
	if ((d->sig_hup = evsignal_new(d->base, SIGHUP, reload_sighup,
	    d)) == NULL)
		return -1;
	return evsignal_add(d->sig_hup, NULL);
}

int
daemon_reload(struct daemon *d, char *summary, size_t len)
{
	unsigned generation = d->generation;
	int rc;

	notify_reloading("reloading %s", d->config_path);
	rc = reload_apply(d, summary, len);
	if (d->generation == generation)
		notify_ready("running generation %u, %zu socket%s; reload "
		    "refused: %s", d->generation, d->cfg.nsockets,
		    d->cfg.nsockets == 1 ? "" : "s", summary);
	else
		notify_ready("running generation %u, %zu socket%s; reloaded%s: "
		    "%s", d->generation, d->cfg.nsockets,
		    d->cfg.nsockets == 1 ? "" : "s", rc == -1 ?
		    " with errors" : "", summary);
	return rc;
}
