/* conftab: the option table and the commented defaults (see conftab.h). */
#include <stdio.h>
#include <string.h>

#include "conftab.h"
#include "parse.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static const char *const config_send_modes[] = {
	[SEND_ROUNDROBIN] = "roundrobin",
	[SEND_PUBLISH] = "publish",
	NULL
};

static const char *const config_deliveries[] = {
	[DELIVERY_AT_MOST_ONCE] = "at-most-once",
	[DELIVERY_AT_LEAST_ONCE] = "at-least-once",
	NULL
};

static const char *const config_overflows[] = {
	[OVERFLOW_BLOCK] = "block",
	[OVERFLOW_DROP_NEW] = "drop-new",
	[OVERFLOW_DROP_OLD] = "drop-old",
	NULL
};

static const char *const config_log_facilities[] = {
	[LOG_FACILITY_DAEMON] = "daemon",
	[LOG_FACILITY_USER] = "user",
	[LOG_FACILITY_LOCAL0] = "local0",
	[LOG_FACILITY_LOCAL1] = "local1",
	[LOG_FACILITY_LOCAL2] = "local2",
	[LOG_FACILITY_LOCAL3] = "local3",
	[LOG_FACILITY_LOCAL4] = "local4",
	[LOG_FACILITY_LOCAL5] = "local5",
	[LOG_FACILITY_LOCAL6] = "local6",
	[LOG_FACILITY_LOCAL7] = "local7",
	NULL
};

static const char *const config_log_levels[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
	NULL
};

static const char *const config_tls_versions[] = {
	[TLS_VERSION_1_2] = "1.2",
	[TLS_VERSION_1_3] = "1.3",
	NULL
};

#define D(f) offsetof(struct daemon_conf, f)
#define S(f) offsetof(struct socket_conf, f)
#define DURATION(k, def, rl, f, help) \
	{ OPT_SOCKET, k, OPT_DURATION, 1, 24 * HOUR_MS, def, rl, 0, S(f), 0, \
	  NULL, NULL, help }
#define COUNT(k, min, def, rl, f, help) \
	{ OPT_SOCKET, k, OPT_COUNT, min, CONFIG_UNLIMITED - 1, def, rl, 0, \
	  S(f), 0, NULL, NULL, help }
#define TLSFILE(k, f, example, help) \
	{ OPT_SOCKET, k, OPT_FILE, 0, 0, NULL, 1, 0, S(tls.f), \
	  S(tls.f##_line), NULL, example, help }
#define ENUM(k, choices, def, rl, f, help) \
	{ OPT_SOCKET, k, OPT_ENUM, 0, 0, def, rl, 0, S(f), 0, choices, NULL, \
	  help }

const struct opt config_options[] = {
	{ OPT_DAEMON, "runtime_dir", OPT_PATH, 0, 0,
	  RUNSTATEDIR "/smartsock", 0, 0, D(runtime_dir), 0, NULL, NULL,
	  "Directory for the daemon's Unix sockets (control and applications). "
	  "A relative path is taken from the directory of this file." },
	{ OPT_DAEMON, "max_message_size", OPT_SIZE, 1, 2 * GIB, "16M", 0, 0,
	  D(max_message_size), 0, NULL, NULL,
	  "Largest message accepted from a peer or an application, in bytes." },
	{ OPT_DAEMON, "max_memory", OPT_SIZE, 1, 1ULL << 40, "1G", 1, 0,
	  D(max_memory), 0, NULL, NULL,
	  "Ceiling on the memory all messages take in the daemon, every "
	  "queue of every socket together; reached, every socket acts as if "
	  "its own buffers were full until use is back to 7/8 of it." },
	{ OPT_DAEMON, "control_mode", OPT_MODE, 0, 0777, "0660", 0, 0,
	  D(control_mode), 0, NULL, NULL,
	  "Permissions of runtime_dir/control.sock, through which "
	  "smartsockctl sees and reloads the daemon: whoever may write to "
	  "it may ask for status and peers; reload is for root and the "
	  "daemon's own user only." },
	{ OPT_DAEMON, "control_owner", OPT_USER, 0, 0, NULL, 0, 0,
	  D(control_owner), 0, NULL, "root",
	  "Owner of control.sock, a user name or uid; unset, the daemon's "
	  "own user." },
	{ OPT_DAEMON, "control_group", OPT_GROUP, 0, 0, NULL, 0, 0,
	  D(control_group), 0, NULL, "root",
	  "Group of control.sock, a group name or gid; unset, the daemon's "
	  "own group." },
	{ OPT_DAEMON, "socket_mode", OPT_MODE, 0, 0777, "0660", 1, 0,
	  D(socket_mode), 0, NULL, NULL,
	  "Permissions of each socket's runtime_dir/NAME.sock, through which "
	  "applications attach, unless the socket sets its own: whoever may "
	  "write to it may attach (see allow_users)." },
	{ OPT_DAEMON, "socket_group", OPT_GROUP, 0, 0, NULL, 1, 0,
	  D(socket_group), 0, NULL, "root",
	  "Group of each NAME.sock, a group name or gid, unless the socket "
	  "sets its own; unset, the daemon's own group." },
	{ OPT_DAEMON, "log_facility", OPT_ENUM, 0, 0, "daemon", 0, 0,
	  D(log_facility), 0, config_log_facilities, NULL,
	  "syslog facility of the daemon's log when it runs without -f "
	  "(with -f, as under systemd, it logs to standard error)." },
	{ OPT_DAEMON, "log_level", OPT_ENUM, 0, 0, "info", 1, 0,
	  D(log_level), 0, config_log_levels, NULL,
	  "The least severe lines logged: error, warning, info (connections "
	  "and reloads as well) or debug (everything; -v sets it)." },

	{ OPT_SOCKET, "bind", OPT_ENDPOINTS, 0, 0, NULL, 1,
	  OPTF_MULTI | OPTF_EXCLUSIVE | OPTF_WILDCARD, S(binds), S(nbinds),
	  NULL, "127.0.0.1:25000",
	  "Listen for peers on HOST:PORT, [IPV6]:PORT or *:PORT. May be "
	  "repeated and may hold a comma-separated list." },
	{ OPT_SOCKET, "connect", OPT_ENDPOINTS, 0, 0, NULL, 1,
	  OPTF_MULTI, S(connects), S(nconnects), NULL, "[::1]:25001",
	  "Connect to a peer at HOST:PORT or [IPV6]:PORT, reconnecting when "
	  "the connection is lost. May be repeated and may hold a "
	  "comma-separated list." },
	ENUM("send_mode", config_send_modes, "roundrobin", 1, send_mode,
	    "roundrobin sends each message to one peer in turn; publish sends "
	    "it to every connected peer."),
	ENUM("delivery", config_deliveries, "at-most-once", 1, delivery,
	    "at-least-once keeps each message until the peer acknowledges it "
	    "and resends it otherwise; not possible with publish."),
	{ OPT_SOCKET, "identity", OPT_IDENTITY, 0, 0, "random", 0, 0,
	  S(identity), S(has_identity), NULL, NULL,
	  "This socket's identity in the aiomsg handshake: 32 hex digits, or "
	  "random for a new one at each start (peers then see a new socket "
	  "after every restart; set one to keep it)." },
	DURATION("heartbeat_interval", "5s", 1, heartbeat_interval_ms,
	    "Time between heartbeats sent on each peer connection."),
	DURATION("heartbeat_timeout", "15s", 1, heartbeat_timeout_ms,
	    "A peer silent for this long is disconnected; must be greater "
	    "than heartbeat_interval."),
	DURATION("reconnect_delay", "100ms", 1, reconnect_delay_ms,
	    "First wait before reconnecting to a connect endpoint; later "
	    "waits grow up to reconnect_max_delay."),
	DURATION("reconnect_max_delay", "10s", 1, reconnect_max_delay_ms,
	    "Longest wait between reconnection attempts; at least "
	    "reconnect_delay."),
	DURATION("connect_timeout", "2s", 1, connect_timeout_ms,
	    "Give up on a connection attempt not complete within this time."),
	DURATION("resend_timeout", "5s", 1, resend_timeout_ms,
	    "With at-least-once, resend a message not acknowledged within "
	    "this time."),
	COUNT("max_retries", 0, "10", 1, max_retries,
	    "With at-least-once, give a message up (counted and logged) once "
	    "this many connections closed while it was on them without its "
	    "ACK: a message no receiver survives. Resends on a connection "
	    "that is up never count: a slow receiver is back-pressure."),
	COUNT("send_buffer", 1, "100000", 1, send_buffer,
	    "Messages from applications the socket holds: waiting for a peer, "
	    "or, with at-least-once, sent and awaiting their ACK."),
	{ OPT_SOCKET, "send_buffer_size", OPT_SIZE, 1, 1ULL << 40, "64M", 1, 0,
	  S(send_buffer_size), 0, NULL, NULL,
	  "Bytes of the messages send_buffer counts (each with about 120 "
	  "bytes of bookkeeping); either limit full applies overflow." },
	COUNT("recv_buffer", 1, "100000", 1, recv_buffer,
	    "Messages from peers waiting for an application."),
	{ OPT_SOCKET, "recv_buffer_size", OPT_SIZE, 1, 1ULL << 40, "64M", 1, 0,
	  S(recv_buffer_size), 0, NULL, NULL,
	  "Bytes of the messages recv_buffer counts; either limit full, the "
	  "socket stops reading from its peers until applications take "
	  "some." },
	{ OPT_SOCKET, "peer_buffer", OPT_SIZE, 1, 2 * GIB, "4M", 1, 0,
	  S(peer_buffer), 0, NULL, NULL,
	  "Bytes queued on one peer connection before it counts as full." },
	DURATION("subscriber_timeout", "2s", 1, subscriber_timeout_ms,
	    "publish: a subscriber whose queue stays full this long, taking "
	    "nothing, is disconnected; meanwhile messages wait for it "
	    "(overflow = block) or its copies are dropped."),
	ENUM("overflow", config_overflows, "block", 1, overflow,
	    "When send_buffer or send_buffer_size is full, block the sending "
	    "application, drop the new message (drop-new) or the oldest one "
	    "(drop-old)."),
	COUNT("max_peers", 1, "unlimited", 1, max_peers,
	    "Connections of this socket at once, those of connect endpoints "
	    "included; an accepted connection past it is closed at once."),
	COUNT("max_clients", 1, "unlimited", 1, max_clients,
	    "Applications attached to this socket at once; one more is "
	    "refused."),
	{ OPT_SOCKET, "socket_mode", OPT_MODE, 0, 0777, NULL, 1, OPTF_INHERIT,
	  S(socket_mode), 0, NULL, "0660",
	  "Permissions of runtime_dir/NAME.sock; unset, [daemon] "
	  "socket_mode." },
	{ OPT_SOCKET, "socket_group", OPT_GROUP, 0, 0, NULL, 1, OPTF_INHERIT,
	  S(socket_group), 0, NULL, "root",
	  "Group of runtime_dir/NAME.sock, a group name or gid; unset, "
	  "[daemon] socket_group." },
	{ OPT_SOCKET, "allow_users", OPT_USER, 0, 0, NULL, 1, OPTF_LIST,
	  S(allow_users), S(allow_uids), NULL, "root, 1000",
	  "Only these users, and members of allow_groups, may attach, besides "
	  "root and the daemon's own user; unset (and allow_groups unset), "
	  "whoever may open NAME.sock. Names are looked up at each load." },
	{ OPT_SOCKET, "allow_groups", OPT_GROUP, 0, 0, NULL, 1, OPTF_LIST,
	  S(allow_groups), S(allow_gids), NULL, "root, 1000",
	  "Only members of these groups (the attaching process's own group "
	  "or supplementary groups), and allow_users, may attach." },
	{ OPT_SOCKET, "forward", OPT_STRING, 0, 0, NULL, 1, 0,
	  S(forward), S(forward_line), NULL, "workers, audit",
	  "Route: every message received from this socket's peers is sent "
	  "out through these other sockets (a comma-separated list of "
	  "names), with their send modes, instead of going to "
	  "applications. Routes may not form a loop." },
	{ OPT_SOCKET, "forward_replies", OPT_BOOL, 0, 0, "off", 1, 0,
	  S(forward_replies), 0, NULL, NULL,
	  "With forward: what a peer of the other socket sends back on the "
	  "connection a forwarded message went out on is a reply, routed "
	  "back to the peer it came from here (the Nth message back "
	  "answers the Nth written)." },
	{ OPT_SOCKET, "websocket", OPT_BOOL, 0, 0, "off", 1, 0,
	  S(websocket), 0, NULL, NULL,
	  "Bind endpoints also take browsers: a connection whose first byte "
	  "(after TLS) is an HTTP GET is upgraded to WebSocket (RFC 6455) "
	  "and carries the aiomsg stream in binary messages." },
	{ OPT_SOCKET, "websocket_origins", OPT_STRING, 0, 0, NULL, 1, 0,
	  S(websocket_origins), S(websocket_origins_line), NULL,
	  "https://app.example, http://localhost:8080",
	  "Origins a WebSocket upgrade may come from (comma-separated); "
	  "another, or none, is refused with 403. Unset, any." },

	{ OPT_SOCKET, "tls", OPT_BOOL, 0, 0, "off", 1, 0, S(tls.on), 0, NULL,
	  NULL,
	  "Speak TLS on every bind and connect endpoint of this socket. "
	  "TLS settings apply to new connections; a reload re-reads every "
	  "certificate, key and CA file." },
	TLSFILE("tls_cert", cert, "/etc/smartsock/tls/server.pem",
	    "Certificate chain (PEM) this socket presents: needed with a "
	    "bind; on the connect side, a client certificate for mutual "
	    "TLS. A relative path is taken from the directory of this file."),
	TLSFILE("tls_key", key, "/etc/smartsock/tls/server.key",
	    "Private key (PEM) of tls_cert."),
	TLSFILE("tls_ca", ca, "/etc/smartsock/tls/ca.pem",
	    "CA certificates (PEM) that connect endpoints verify servers "
	    "against; unset, the system's trust store."),
	{ OPT_SOCKET, "tls_server_name", OPT_STRING, 0, 0, NULL, 1, 0,
	  S(tls.server_name), S(tls.server_name_line), NULL, "broker.example",
	  "Name a server's certificate must carry; unset, the host of the "
	  "connect endpoint (an IP address must be in the certificate's IP "
	  "addresses)." },
	{ OPT_SOCKET, "tls_verify_client", OPT_BOOL, 0, 0, "off", 1, 0,
	  S(tls.verify_client), 0, NULL, NULL,
	  "Mutual TLS: bind endpoints accept only clients presenting a "
	  "certificate signed by tls_client_ca." },
	TLSFILE("tls_client_ca", client_ca, "/etc/smartsock/tls/clients.pem",
	    "CA certificates (PEM) client certificates must be signed by; "
	    "unset, tls_ca."),
	ENUM("tls_min_version", config_tls_versions, "1.2", 1,
	    tls.min_version,
	    "Oldest TLS version accepted, 1.2 or 1.3."),
	{ OPT_SOCKET, "tls_ciphers", OPT_STRING, 0, 0, NULL, 1, 0,
	  S(tls.ciphers), S(tls.ciphers_line), NULL, "ECDHE+AESGCM:ECDHE+CHACHA20",
	  "OpenSSL cipher list for TLS 1.2 (see ciphers(1ssl)); unset, the "
	  "system's default. TLS 1.3 suites stay the system's default." },
};

#undef D
#undef S
#undef DURATION
#undef COUNT
#undef ENUM
#undef TLSFILE

_Static_assert(nitems(config_options) == CONFIG_NOPTIONS,
    "CONFIG_NOPTIONS must match the table");


const struct config_unit config_ms_units[] = {
	{ HOUR_MS, "h" }, { MINUTE_MS, "m" }, { SECOND_MS, "s" }, { 1, "ms" },
	{ 0, NULL }
};

const struct config_unit config_byte_units[] = {
	{ GIB, "G" }, { MIB, "M" }, { KIB, "K" }, { 1, "" }, { 0, NULL }
};

const struct config_unit config_plain_units[] = {
	{ 1, "" }, { 0, NULL }
};


const struct config_type config_types[] = {
	[OPT_DURATION] = { "duration", parse_duration_ms, config_ms_units,
	    "a whole number with unit ms, s, m or h (e.g. 100ms, 5s)" },
	[OPT_SIZE] = { "size", parse_size, config_byte_units,
	    "a size in bytes with optional K, M or G (e.g. 4096, 64K, 16M)" },
	[OPT_COUNT] = { "count", parse_u64, config_plain_units,
	    "a whole number or unlimited" },
	[OPT_ENUM] = { "enum", NULL, NULL, NULL },
	[OPT_IDENTITY] = { "identity", NULL, NULL,
	    "32 hex digits or random" },
	[OPT_ENDPOINTS] = { "endpoint list", NULL, NULL,
	    "HOST:PORT, [IPV6]:PORT or *:PORT with port 1..65535" },
	[OPT_PATH] = { "path", NULL, NULL, "a directory path" },
	[OPT_MODE] = { "mode", parse_mode, NULL,
	    "an octal file mode (e.g. 0660)" },
	[OPT_USER] = { "user", NULL, NULL, "a user name or uid" },
	[OPT_GROUP] = { "group", NULL, NULL, "a group name or gid" },
	[OPT_BOOL] = { "boolean", NULL, NULL, "on or off" },
	[OPT_FILE] = { "file", NULL, NULL, "a file path" },
	[OPT_STRING] = { "string", NULL, NULL, "a non-empty string" },
};

/* Largest unit first; formatting picks the first that divides exactly. */
void
config_format_units(const struct config_unit *u, uint64_t v, char *buf,
    size_t len)
{
	while (u[1].mult != 0 && (v == 0 || v % u->mult != 0))
		u++;
	snprintf(buf, len, "%llu%s", (unsigned long long)(v / u->mult),
	    u->suffix);
}

/* "a, b or c" */
void
config_format_choices(const char *const *choices, char *buf, size_t len)
{
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; choices[i] != NULL; i++) {
		n = snprintf(buf + used, len - used, "%s%s",
		    i == 0 ? "" : choices[i + 1] == NULL ? " or " : ", ",
		    choices[i]);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

const char *
config_expect(const struct opt *o)
{
	if (o->flags & OPTF_LIST) {
		if (o->type == OPT_USER)
			return "user names or uids, separated by commas";
		if (o->type == OPT_GROUP)
			return "group names or gids, separated by commas";
	}
	return config_types[o->type].expect;
}

/* What values a key takes, as text for messages and the defaults. */
void
config_format_range(const struct opt *o, char *buf, size_t len)
{
	char lo[32], hi[32];

	switch (o->type) {
	case OPT_DURATION:
	case OPT_SIZE:
		config_format_units(config_types[o->type].units, o->min, lo,
		    sizeof lo);
		config_format_units(config_types[o->type].units, o->max, hi,
		    sizeof hi);
		snprintf(buf, len, "%s .. %s", lo, hi);
		break;
	case OPT_COUNT:
		snprintf(buf, len, "%llu or more, or unlimited",
		    (unsigned long long)o->min);
		break;
	case OPT_ENUM:
		config_format_choices(o->choices, buf, len);
		break;
	case OPT_MODE:
		snprintf(buf, len, "%04llo .. %04llo",
		    (unsigned long long)o->min, (unsigned long long)o->max);
		break;
	default:
		snprintf(buf, len, "%s", config_expect(o));
		break;
	}
}

/* Help text as "# " comment lines of at most about 76 columns. */
static void
config_print_comment(const char *text)
{
	const char *p = text;
	size_t len, word, col;

	while (*p != '\0') {
		fputs("#", stdout);
		col = 1;
		len = 0;
		while (p[len] != '\0') {
			word = strcspn(p + len, " ");
			if (len > 0 && col + 1 + word > 76)
				break;
			printf(" %.*s", (int)word, p + len);
			col += 1 + word;
			len += word;
			len += strspn(p + len, " ");
		}
		putchar('\n');
		p += len;
	}
}

static void
config_print_section(enum opt_section section)
{
	const struct opt *o;
	char range[128], meta[256];

	for (o = config_options; o < config_options + CONFIG_NOPTIONS; o++) {
		if (o->section != section)
			continue;
		config_format_range(o, range, sizeof range);
		snprintf(meta, sizeof meta, "%s: %s%s%s.",
		    config_types[o->type].name, range,
		    (o->flags & OPTF_MULTI) ? "; may repeat" : "",
		    (o->flags & OPTF_INHERIT) ? "; unset, the [daemon] key, an "
		    "example follows" : o->def == NULL ? "; no default, an "
		    "example follows" : "");
		printf("\n");
		config_print_comment(o->help);
		config_print_comment(meta);
		printf(";%s = %s\n", o->key,
		    o->def != NULL ? o->def : o->example);
	}
}

void
config_print_defaults(void)
{
	printf("# smartsockd.conf: see smartsockd.conf(5).\n"
	    "# Every key is shown commented out (;) at its default.\n"
	    "# A ';' after whitespace starts a comment.\n"
	    "# Durations: ms, s, m, h (a bare number is seconds).\n"
	    "# Sizes: K, M, G (powers of 1024; a bare number is bytes).\n"
	    "\n"
	    "[daemon]\n");
	config_print_section(OPT_DAEMON);
	printf("\n"
	    "# One section per smart socket; applications attach by NAME.\n"
	    "# A socket needs at least one bind or connect.\n"
	    ";[socket example]\n");
	config_print_section(OPT_SOCKET);
}
