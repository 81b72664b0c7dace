/* ctl-show: smartsockctl's human format (see ctl-show.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl-show.h"
#include "json-parse.h"

#define SHOW_TEXT_MAX 512

/* s with control characters made visible as '?'; NULL shows as "-". */
static const char *
show_safe(const char *s, char *buf, size_t len)
{
	size_t i;

	if (s == NULL)
		return "-";
	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	buf[i] = '\0';
	return buf;
}

/* A string member, made safe to print. */
static const char *
show_str(const struct jsonp *v, const char *key, char *buf, size_t len)
{
	return show_safe(jsonp_str(v, key), buf, len);
}

static uint64_t
show_u64(const struct jsonp *v, const char *key)
{
	uint64_t n = 0;

	jsonp_u64(v, key, &n);
	return n;
}

/* A duration in at most 6 characters: 0.2s, 42s, 5m03s, 3h04m, 12d03h. */
static const char *
show_duration(double s, char *buf, size_t len)
{
	uint64_t t = (uint64_t)s;

	if (s < 10 && s != (double)t)           /* whole seconds stay whole */
		snprintf(buf, len, "%.1fs", s);
	else if (t < 60)
		snprintf(buf, len, "%" PRIu64 "s", t);
	else if (t < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", t / 3600,
		    t % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", t / 86400,
		    t % 86400 / 3600);
	return buf;
}

/* A count in at most 5 characters: 999, 1234, 12.3k, 123k, 1.2M, 12G. */
static const char *
show_count(uint64_t n, const char *unit, char *buf, size_t len)
{
	static const char *const sfx[] = { "k", "M", "G", "T", "P", "E" };
	double v = (double)n;
	size_t i = 0;

	if (n < 10000) {
		snprintf(buf, len, "%" PRIu64 "%s", n, unit);
		return buf;
	}
	v /= 1000;
	while (v >= 999.95 && i + 1 < sizeof(sfx) / sizeof(sfx[0])) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, v < 99.95 ? "%.1f%s%s" : "%.0f%s%s", v, sfx[i],
	    unit);
	return buf;
}

static void
show_endpoint(FILE *f, const struct jsonp *ep)
{
	char name[SHOW_TEXT_MAX], state[64], err[SHOW_TEXT_MAX], t[32];
	const char *kind = jsonp_str(ep, "kind");
	uint64_t failures = show_u64(ep, "failures");
	int ever = 0;

	jsonp_bool(ep, "ever_connected", &ever);
	show_str(ep, "state", state, sizeof(state));
	fprintf(f, "  %-13s%-28s %s", kind != NULL ? kind : "?",
	    show_str(ep, "name", name, sizeof(name)), state);
	if (strcmp(state, "backing off") == 0)
		fprintf(f, ", retry in %s", show_duration((double)show_u64(ep,
		    "retry_in_ms") / 1000, t, sizeof(t)));
	fputc('\n', f);
	if (kind == NULL || strcmp(kind, "connect") != 0 ||
	    strcmp(state, "connected") == 0)
		return;
	fprintf(f, "  %-13s%" PRIu64 " failure%s in a row, %s", "",
	    failures, failures == 1 ? "" : "s",
	    ever ? "was connected before" : "never connected");
	if (jsonp_str(ep, "last_error") != NULL)
		fprintf(f, ": %s", show_str(ep, "last_error", err,
		    sizeof(err)));
	fputc('\n', f);
}

static void
show_counters(FILE *f, const struct jsonp *counters)
{
	const struct jsonp *m;
	char name[64];
	int col = 0;

	if (counters == NULL)
		return;
	fprintf(f, "  counters\n");
	for (m = counters->child; m != NULL; m = m->next) {
		fprintf(f, "%s%-27s %8s", col == 0 ? "    " : "  ",
		    show_safe(m->key, name, sizeof(name)),
		    m->type == JSONP_NUMBER ? m->text : "?");
		if (++col == 2) {
			fputc('\n', f);
			col = 0;
		}
	}
	if (col != 0)
		fputc('\n', f);
}

/* The date part of an ISO 8601 time, and how far away it is. */
static void
show_expiry(const char *iso, char *buf, size_t len)
{
	struct tm tm;
	time_t t;
	double days;

	memset(&tm, 0, sizeof(tm));
	if (iso == NULL || sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec) != 6) {
		snprintf(buf, len, "?");
		return;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	days = difftime(t, time(NULL)) / 86400;
	if (days < 0)
		snprintf(buf, len, "EXPIRED on %.10s", iso);
	else
		snprintf(buf, len, "until %.10s, %.0f day%s left", iso, days,
		    days >= 0.5 && days < 1.5 ? "" : "s");
}

static void
show_tls(FILE *f, const struct jsonp *tls)
{
	const struct jsonp *certs = jsonp_get(tls, "certificates"), *c;
	char v[16], use[32], subj[SHOW_TEXT_MAX], exp[64], sn[SHOW_TEXT_MAX];
	int verify = 0;

	if (tls == NULL || tls->type != JSONP_OBJECT)
		return;
	jsonp_bool(tls, "verify_client", &verify);
	fprintf(f, "  %-13sTLS %s or later%s", "tls",
	    show_str(tls, "min_version", v, sizeof(v)),
	    verify ? ", client certificates required" : "");
	if (jsonp_str(tls, "server_name") != NULL)
		fprintf(f, ", server name %s", show_str(tls, "server_name", sn,
		    sizeof(sn)));
	fputc('\n', f);
	for (c = certs != NULL ? certs->child : NULL; c != NULL; c = c->next) {
		show_expiry(jsonp_str(c, "not_after"), exp, sizeof(exp));
		fprintf(f, "  %-13s%s (%s)\n", show_str(c, "use", use,
		    sizeof(use)), show_str(c, "subject", subj, sizeof(subj)),
		    exp);
	}
}

static void
show_routes(FILE *f, const struct jsonp *routes)
{
	const struct jsonp *r;
	char to[SHOW_TEXT_MAX];
	int replies = 0, running = 1;

	for (r = routes != NULL ? routes->child : NULL; r != NULL;
	    r = r->next) {
		jsonp_bool(r, "forward_replies", &replies);
		jsonp_bool(r, "running", &running);
		fprintf(f, "  %-13s-> %s%s: %" PRIu64 " forwarded, %" PRIu64
		    " dropped\n", "route", show_str(r, "to", to, sizeof(to)),
		    running ? "" : " (idle)", show_u64(r, "forwarded"),
		    show_u64(r, "dropped"));
		if (replies)
			fprintf(f, "  %-13s%" PRIu64 " replies back, %" PRIu64
			    " lost, %" PRIu64 " awaited, %" PRIu64
			    " unanswered\n", "", show_u64(r, "replies"),
			    show_u64(r, "replies_lost"),
			    show_u64(r, "awaiting_reply"),
			    show_u64(r, "unanswered"));
	}
}

static void
show_socket(FILE *f, const struct jsonp *s)
{
	char name[SHOW_TEXT_MAX], a[32], b[32], c[32], id[64];
	const struct jsonp *eps = jsonp_get(s, "endpoints"), *ep;

	fprintf(f, "\nsocket %s: %s, %s, overflow %s\n",
	    show_str(s, "name", name, sizeof(name)),
	    show_str(s, "send_mode", a, sizeof(a)),
	    show_str(s, "delivery", b, sizeof(b)),
	    show_str(s, "overflow", c, sizeof(c)));
	fprintf(f, "  %-13s%s\n", "identity",
	    show_str(s, "identity", id, sizeof(id)));
	show_tls(f, jsonp_get(s, "tls"));
	for (ep = eps != NULL ? eps->child : NULL; ep != NULL; ep = ep->next)
		show_endpoint(f, ep);
	fprintf(f, "  %-13s%" PRIu64 " peer%s, %" PRIu64 " application%s\n",
	    "attached", show_u64(s, "peers"),
	    show_u64(s, "peers") == 1 ? "" : "s",
	    show_u64(s, "applications"),
	    show_u64(s, "applications") == 1 ? "" : "s");
	fprintf(f, "  %-13s%" PRIu64 " to send (%s), %" PRIu64 " awaiting ACK "
	    "(%s),\n  %-13s%" PRIu64 " waiting for an application (%s)\n",
	    "queued", show_u64(s, "queued_to_send"),
	    show_count(show_u64(s, "queued_to_send_bytes"), "B", a, sizeof(a)),
	    show_u64(s, "awaiting_ack"),
	    show_count(show_u64(s, "awaiting_ack_bytes"), "B", b, sizeof(b)),
	    "", show_u64(s, "waiting_for_app"),
	    show_count(show_u64(s, "waiting_for_app_bytes"), "B", c,
	    sizeof(c)));
	show_routes(f, jsonp_get(s, "routes"));
	show_counters(f, jsonp_get(s, "counters"));
}

void
ctl_show_status(FILE *f, const struct jsonp *answer)
{
	const struct jsonp *d = jsonp_get(answer, "daemon");
	const struct jsonp *socks = jsonp_get(answer, "sockets"), *s;
	char ver[64], path[SHOW_TEXT_MAX], err[SHOW_TEXT_MAX], up[32];
	char since[32], used[16], max[16];
	time_t started = (time_t)show_u64(d, "started");
	struct tm tm;

	since[0] = '\0';
	if (localtime_r(&started, &tm) != NULL)
		strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(f, "smartsockd %s, pid %" PRIu64 ", up %s (since %s)\n",
	    show_str(d, "version", ver, sizeof(ver)), show_u64(d, "pid"),
	    show_duration((double)show_u64(d, "uptime_s"), up, sizeof(up)),
	    since);
	fprintf(f, "  %-13s%s\n", "config", show_str(d, "config", path,
	    sizeof(path)));
	fprintf(f, "  %-13s%" PRIu64 "\n", "generation",
	    show_u64(d, "generation"));
	fprintf(f, "  %-13s%s of max_memory %s held by messages\n", "memory",
	    show_count(show_u64(d, "memory_used"), "B", used, sizeof(used)),
	    show_count(show_u64(d, "max_memory"), "B", max, sizeof(max)));
	if (jsonp_str(d, "last_reload_error") != NULL)
		fprintf(f, "  %-13s%s\n", "reload error",
		    show_str(d, "last_reload_error", err, sizeof(err)));
	for (s = socks != NULL ? socks->child : NULL; s != NULL; s = s->next)
		show_socket(f, s);
}

static void
show_peer(FILE *f, const struct jsonp *p)
{
	char id[64], addr[SHOW_TEXT_MAX], dir[16], t[5][32];
	char n[4][32], cert[SHOW_TEXT_MAX];
	const char *direction = jsonp_str(p, "direction");
	double recv = 0, sent = 0;
	uint64_t now = (uint64_t)time(NULL), since = show_u64(p, "since");

	if (direction != NULL && strcmp(direction, "accepted") == 0)
		snprintf(dir, sizeof(dir), "in");
	else if (direction != NULL && strcmp(direction, "connected") == 0)
		snprintf(dir, sizeof(dir), "out");
	else
		show_safe(direction, dir, sizeof(dir));
	if (jsonp_str(p, "identity") == NULL)
		snprintf(id, sizeof(id), "(handshake)");
	else
		show_str(p, "identity", id, sizeof(id));
	fprintf(f, "%-32s %-21s %-3s %6s %7s\n", id,
	    show_str(p, "address", addr, sizeof(addr)), dir,
	    show_duration(now > since ? (double)(now - since) : 0, t[0],
	    sizeof(t[0])),
	    show_count(show_u64(p, "queued_bytes"), "B", t[1], sizeof(t[1])));
	if (!jsonp_double(p, "last_received_s_ago", &recv))
		snprintf(t[2], sizeof(t[2]), "-");
	else
		show_duration(recv, t[2], sizeof(t[2]));
	jsonp_double(p, "last_sent_s_ago", &sent);
	fprintf(f, "  recv %-6s  sent %-6s  in %s/%s  out %s/%s  drops %s\n",
	    t[2], show_duration(sent, t[3], sizeof(t[3])),
	    show_count(show_u64(p, "messages_in"), "", n[0], sizeof(n[0])),
	    show_count(show_u64(p, "bytes_in"), "B", n[1], sizeof(n[1])),
	    show_count(show_u64(p, "messages_out"), "", n[2], sizeof(n[2])),
	    show_count(show_u64(p, "bytes_out"), "B", n[3], sizeof(n[3])),
	    show_count(show_u64(p, "drops"), "", t[4], sizeof(t[4])));
	if (jsonp_str(p, "transport") != NULL &&
	    strcmp(jsonp_str(p, "transport"), "websocket") == 0)
		fprintf(f, "  over WebSocket\n");
	if (jsonp_str(p, "tls") != NULL)
		fprintf(f, "  tls %s, peer certificate %s\n",
		    show_str(p, "tls", addr, sizeof(addr)),
		    jsonp_str(p, "peer_certificate") != NULL ?
		    show_str(p, "peer_certificate", cert, sizeof(cert)) :
		    "none");
}

void
ctl_show_peers(FILE *f, const struct jsonp *answer)
{
	const struct jsonp *peers = jsonp_get(answer, "peers"), *p;
	char name[SHOW_TEXT_MAX];
	size_t n = 0;

	for (p = peers != NULL ? peers->child : NULL; p != NULL; p = p->next)
		n++;
	fprintf(f, "socket %s: %zu connection%s\n",
	    show_str(answer, "socket", name, sizeof(name)), n,
	    n == 1 ? "" : "s");
	if (n == 0)
		return;
	fprintf(f, "%-32s %-21s %-3s %6s %7s\n", "IDENTITY", "ADDRESS", "DIR",
	    "UP", "QUEUED");
	for (p = peers->child; p != NULL; p = p->next)
		show_peer(f, p);
}

void
ctl_show_reload(FILE *f, const struct jsonp *answer)
{
	char changes[4096];

	fprintf(f, "reloaded, generation %" PRIu64 ": %s\n",
	    show_u64(answer, "generation"),
	    show_str(answer, "changes", changes, sizeof(changes)));
}

void
ctl_show_refusal(FILE *f, const char *command, const struct jsonp *answer)
{
	char why[4096];

	fprintf(f, "smartsockctl: %s refused: %s\n", command,
	    jsonp_str(answer, "error") != NULL ? show_str(answer, "error", why,
	    sizeof(why)) : "(no reason given)");
}
