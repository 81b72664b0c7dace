/* ctlcmd: status, peers and reload for the control socket (see ctlcmd.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "endpoint.h"
#include "idmap.h"
#include "json.h"
#include "link.h"
#include "local.h"
#include "log.h"
#include "route.h"
#include "ssock.h"
#include "tls.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static int ctlcmd_status(struct daemon *, const char *, struct json *,
    char *, size_t);
static int ctlcmd_peers(struct daemon *, const char *, struct json *,
    char *, size_t);
static int ctlcmd_reload(struct daemon *, const char *, struct json *,
    char *, size_t);

static const struct ctlcmd ctlcmds[] = {
	{ .name = "status", .usage = "status", .run = ctlcmd_status },
	{ .name = "peers", .nargs = 1, .usage = "peers SOCKET",
	  .run = ctlcmd_peers },
	{ .name = "reload", .usage = "reload", .logged = 1, .privileged = 1,
	  .run = ctlcmd_reload },
};

const struct ctlcmd *
ctlcmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(ctlcmds); i++)
		if (strcmp(ctlcmds[i].name, name) == 0)
			return &ctlcmds[i];
	return NULL;
}

const char *
ctlcmd_names(void)
{
	static char names[128];
	size_t i, used = 0;

	if (names[0] != '\0')
		return names;
	for (i = 0; i < nitems(ctlcmds); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used,
		    "%s%s", i == 0 ? "" : i + 1 == nitems(ctlcmds) ? " or " :
		    ", ", ctlcmds[i].name);
	return names;
}

/* Milliseconds from `then` to now, 0 if the clock says otherwise. */
static uint64_t
ctlcmd_ago(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static void
ctlcmd_endpoint(const struct endpoint_status *st, void *arg)
{
	struct json *j = arg;

	json_open_object(j, NULL);
	json_string(j, "kind", st->kind);
	json_string(j, "name", st->name);
	json_string(j, "state", st->state);
	json_bool(j, "ever_connected", st->ever_connected);
	json_uint(j, "retry_in_ms", st->retry_in_ms);
	json_uint(j, "failures", st->failures);
	json_string(j, "last_error", st->last_error != NULL &&
	    st->last_error[0] != '\0' ? st->last_error : NULL);
	json_close_object(j);
}

/* Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ". */
static void
ctlcmd_utc(struct json *j, const char *key, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		json_string(j, key, NULL);
	else
		json_string(j, key, buf);
}

static void
ctlcmd_certificate(const struct tls_cert_info *ci, void *arg)
{
	struct json *j = arg;

	json_open_object(j, NULL);
	json_string(j, "use", ci->use);
	json_string(j, "file", ci->file);
	json_string(j, "subject", ci->subject);
	json_string(j, "issuer", ci->issuer);
	ctlcmd_utc(j, "not_before", ci->not_before);
	ctlcmd_utc(j, "not_after", ci->not_after);
	json_close_object(j);
}

static void
ctlcmd_tls(struct json *j, const struct ssock *ss)
{
	const struct socket_conf *sc = ssock_conf(ss);

	if (ss->tls == NULL) {
		json_string(j, "tls", NULL);
		return;
	}
	json_open_object(j, "tls");
	json_string(j, "min_version", config_choice("tls_min_version",
	    (int)sc->tls.min_version));
	json_bool(j, "verify_client", sc->tls.verify_client);
	json_string(j, "server_name", sc->tls.server_name);
	json_open_array(j, "certificates");
	tls_certificates(ss->tls, ctlcmd_certificate, j);
	json_close_array(j);
	json_close_object(j);
}

static void
ctlcmd_route(struct json *j, const struct route *r)
{
	json_open_object(j, NULL);
	json_string(j, "to", r->to_name);
	json_bool(j, "forward_replies", r->replies);
	json_bool(j, "running", r->to != NULL);
	json_uint(j, "forwarded", r->forwarded);
	json_uint(j, "dropped", r->dropped);
	json_uint(j, "replies", r->replies_sent);
	json_uint(j, "replies_lost", r->replies_lost);
	json_uint(j, "awaiting_reply", r->awaiting);
	json_uint(j, "unanswered", r->unanswered);
	json_close_object(j);
}

static void
ctlcmd_route_entry(const struct route *r, void *arg)
{
	ctlcmd_route(arg, r);
}

static void
ctlcmd_socket(struct json *j, const struct ssock *ss)
{
	const struct home *h = core_home_c(ss->core);
	struct core_queues q;

	core_queues(ss->core, &q);
	json_open_object(j, NULL);
	json_string(j, "name", h->name);
	json_string(j, "send_mode", config_choice("send_mode",
	    (int)h->conf->send_mode));
	json_string(j, "delivery", config_choice("delivery",
	    (int)h->conf->delivery));
	json_string(j, "overflow", config_choice("overflow",
	    (int)h->conf->overflow));
	json_string(j, "identity", h->identity_hex);
	ctlcmd_tls(j, ss);
	json_open_array(j, "endpoints");
	if (ss->endpoints != NULL)
		endpoints_status(ss->endpoints, ctlcmd_endpoint, j);
	json_close_array(j);
	json_uint(j, "peers", q.active);
	json_uint(j, "applications", ss->local != NULL ?
	    local_count(ss->local) : 0);
	json_uint(j, "queued_to_send", q.send);
	json_uint(j, "awaiting_ack", q.pending);
	json_uint(j, "waiting_for_app", q.recv);
	json_uint(j, "queued_to_send_bytes", q.send_bytes);
	json_uint(j, "awaiting_ack_bytes", q.pending_bytes);
	json_uint(j, "waiting_for_app_bytes", q.recv_bytes);
	json_open_array(j, "routes");
	route_foreach_from(ss->core, ctlcmd_route_entry, j);
	json_close_array(j);
	json_open_object(j, "counters");
#define CTLCMD_COUNTER(field, name, help) json_uint(j, name, h->stats.field);
	STATS_COUNTERS(CTLCMD_COUNTER)
#undef CTLCMD_COUNTER
	json_close_object(j);
	json_close_object(j);
}

static int
ctlcmd_status(struct daemon *d, const char *arg, struct json *j, char *err,
    size_t errlen)
{
	const struct ssock *ss;

	(void)arg;
	(void)err;
	(void)errlen;
	json_open_object(j, "daemon");
	json_string(j, "version", PACKAGE_VERSION);
	json_uint(j, "pid", (uint64_t)d->pid);
	json_uint(j, "uptime_s", ctlcmd_ago(now_ms(), d->started_ms) / 1000);
	json_uint(j, "started", d->started_wall);
	json_string(j, "config", d->config_path);
	json_uint(j, "generation", d->generation);
	json_uint(j, "memory_used", budget_used());
	json_uint(j, "max_memory", budget_max());
	json_string(j, "last_reload_error", d->reload_error[0] != '\0' ?
	    d->reload_error : NULL);
	json_close_object(j);
	json_open_array(j, "sockets");
	TAILQ_FOREACH(ss, &d->sockets, entry)
		ctlcmd_socket(j, ss);
	json_close_array(j);
	return 0;
}

static void
ctlcmd_peer(struct json *j, const struct link *p, uint64_t now)
{
	int active = p->state == LINK_UP;

	json_open_object(j, NULL);
	json_string(j, "identity", active ? p->identity_hex : NULL);
	json_string(j, "address", p->addr);
	json_string(j, "state", active ? "active" : "handshake");
	json_uint(j, "since", p->since);
	if (p->last_recv_ms != 0)
		json_ms_as_s(j, "last_received_s_ago",
		    ctlcmd_ago(now, p->last_recv_ms));
	else
		json_string(j, "last_received_s_ago", NULL);
	json_ms_as_s(j, "last_sent_s_ago", ctlcmd_ago(now, p->last_sent_ms));
	json_uint(j, "queued_bytes", p->ops->unflushed(p));
	json_uint(j, "messages_in", p->msgs_in);
	json_uint(j, "messages_out", p->msgs_out);
	json_uint(j, "bytes_in", p->bytes_in);
	json_uint(j, "bytes_out", p->bytes_out);
	json_uint(j, "drops", p->drops);
	json_uint(j, "awaiting_replies", route_awaited(p));
	p->ops->describe(p, j);         /* direction, transport, TLS */
	json_close_object(j);
}

struct ctlcmd_peers_walk {
	struct json *j;
	uint64_t now;
};

static void
ctlcmd_peer_entry(const struct link *p, void *arg)
{
	struct ctlcmd_peers_walk *w = arg;

	ctlcmd_peer(w->j, p, w->now);
}

static int
ctlcmd_peers(struct daemon *d, const char *arg, struct json *j, char *err,
    size_t errlen)
{
	struct ctlcmd_peers_walk w = { .j = j, .now = now_ms() };
	const struct ssock *ss;

	if ((ss = daemon_find_socket(d, arg)) == NULL) {
		snprintf(err, errlen, "no socket named '%s'", arg);
		return -1;
	}
	json_string(j, "socket", ssock_name(ss));
	json_open_array(j, "peers");
	core_foreach_link(ss->core, ctlcmd_peer_entry, &w);
	json_close_array(j);
	return 0;
}

static int
ctlcmd_reload(struct daemon *d, const char *arg, struct json *j, char *err,
    size_t errlen)
{
	char summary[DAEMON_ERR_MAX];

	(void)arg;
	if (daemon_reload(d, summary, sizeof(summary)) == -1) {
		snprintf(err, errlen, "%s", summary);
		return -1;
	}
	json_string(j, "changes", summary);
	json_uint(j, "generation", d->generation);
	return 0;
}
