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
#define DURATION(k_, def_, rl_, f_, help_) \
	{ .section = OPT_SOCKET, .key = k_, .type = OPT_DURATION, .min = 1, \
	  .max = 24 * HOUR_MS, .def = def_, .reloadable = rl_, .off = S(f_), \
	  .help = help_ }
#define COUNT(k_, min_, def_, rl_, f_, help_) \
	{ .section = OPT_SOCKET, .key = k_, .type = OPT_COUNT, .min = min_, \
	  .max = CONFIG_UNLIMITED - 1, .def = def_, .reloadable = rl_, \
	  .off = S(f_), .help = help_ }
#define TLSFILE(k_, f_, example_, help_) \
	{ .section = OPT_SOCKET, .key = k_, .type = OPT_FILE, \
	  .reloadable = 1, .off = S(tls.f_), .aux = S(tls.f_##_line), \
	  .example = example_, .help = help_ }
#define ENUM(k_, choices_, def_, rl_, f_, help_) \
	{ .section = OPT_SOCKET, .key = k_, .type = OPT_ENUM, .def = def_, \
	  .reloadable = rl_, .off = S(f_), .choices = choices_, \
	  .help = help_ }

const struct opt config_options[] = {
	{ .section = OPT_DAEMON, .key = "runtime_dir", .type = OPT_PATH,
	  .def = RUNSTATEDIR "/smartsock", .off = D(runtime_dir),
	  .help =
	  "Directory for the daemon's Unix sockets (control and applications). "
	  "A relative path is taken from the directory of this file." },
	{ .section = OPT_DAEMON, .key = "max_message_size", .type = OPT_SIZE,
	  .min = 1, .max = 2 * GIB, .def = "16M", .off = D(max_message_size),
	  .help =
	  "Largest message accepted from a peer or an application, in bytes." },
	{ .section = OPT_DAEMON, .key = "max_memory", .type = OPT_SIZE,
	  .min = 1, .max = 1ULL << 40, .def = "1G", .reloadable = 1,
	  .off = D(max_memory),
	  .help =
	  "Ceiling on the memory all messages take in the daemon, every "
	  "queue of every socket together; reached, every socket acts as if "
	  "its own buffers were full until use is back to 7/8 of it." },
	{ .section = OPT_DAEMON, .key = "control_mode", .type = OPT_MODE,
	  .max = 0777, .def = "0660", .off = D(control_mode),
	  .help =
	  "Permissions of runtime_dir/control.sock, through which "
	  "smartsockctl sees and reloads the daemon: whoever may write to "
	  "it may ask for status and peers; reload is for root and the "
	  "daemon's own user only." },
	{ .section = OPT_DAEMON, .key = "control_owner", .type = OPT_USER,
	  .off = D(control_owner), .example = "root",
	  .help =
	  "Owner of control.sock, a user name or uid; unset, the daemon's "
	  "own user." },
	{ .section = OPT_DAEMON, .key = "control_group", .type = OPT_GROUP,
	  .off = D(control_group), .example = "root",
	  .help =
	  "Group of control.sock, a group name or gid; unset, the daemon's "
	  "own group." },
	{ .section = OPT_DAEMON, .key = "socket_mode", .type = OPT_MODE,
	  .max = 0777, .def = "0660", .reloadable = 1, .off = D(socket_mode),
	  .help =
	  "Permissions of each socket's runtime_dir/NAME.sock, through which "
	  "applications attach, unless the socket sets its own: whoever may "
	  "write to it may attach (see allow_users)." },
	{ .section = OPT_DAEMON, .key = "socket_group", .type = OPT_GROUP,
	  .reloadable = 1, .off = D(socket_group), .example = "root",
	  .help =
	  "Group of each NAME.sock, a group name or gid, unless the socket "
	  "sets its own; unset, the daemon's own group." },
	{ .section = OPT_DAEMON, .key = "log_facility", .type = OPT_ENUM,
	  .def = "daemon", .off = D(log_facility),
	  .choices = config_log_facilities,
	  .help =
	  "syslog facility of the daemon's log when it runs without -f "
	  "(with -f, as under systemd, it logs to standard error)." },
	{ .section = OPT_DAEMON, .key = "log_level", .type = OPT_ENUM,
	  .def = "info", .reloadable = 1, .off = D(log_level),
	  .choices = config_log_levels,
	  .help =
	  "The least severe lines logged: error, warning, info (connections "
	  "and reloads as well) or debug (everything; -v sets it)." },

	{ .section = OPT_SOCKET, .key = "bind", .type = OPT_ENDPOINTS,
	  .reloadable = 1,
	  .flags = OPTF_MULTI | OPTF_EXCLUSIVE | OPTF_WILDCARD,
	  .off = S(binds), .aux = S(nbinds), .example = "127.0.0.1:25000",
	  .help =
	  "Listen for peers on HOST:PORT, [IPV6]:PORT or *:PORT. May be "
	  "repeated and may hold a comma-separated list." },
	{ .section = OPT_SOCKET, .key = "connect", .type = OPT_ENDPOINTS,
	  .reloadable = 1, .flags = OPTF_MULTI, .off = S(connects),
	  .aux = S(nconnects), .example = "[::1]:25001",
	  .help =
	  "Connect to a peer at HOST:PORT or [IPV6]:PORT, reconnecting when "
	  "the connection is lost. May be repeated and may hold a "
	  "comma-separated list." },
	ENUM("send_mode", config_send_modes, "roundrobin", 1, send_mode,
	    "roundrobin sends each message to one peer in turn; publish sends "
	    "it to every connected peer."),
	ENUM("delivery", config_deliveries, "at-most-once", 1, delivery,
	    "at-least-once keeps each message until the peer acknowledges it "
	    "and resends it otherwise; not possible with publish."),
	{ .section = OPT_SOCKET, .key = "identity", .type = OPT_IDENTITY,
	  .def = "random", .off = S(identity), .aux = S(has_identity),
	  .help =
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
	{ .section = OPT_SOCKET, .key = "send_buffer_size", .type = OPT_SIZE,
	  .min = 1, .max = 1ULL << 40, .def = "64M", .reloadable = 1,
	  .off = S(send_buffer_size),
	  .help =
	  "Bytes of the messages send_buffer counts (each with about 120 "
	  "bytes of bookkeeping); either limit full applies overflow." },
	COUNT("recv_buffer", 1, "100000", 1, recv_buffer,
	    "Messages from peers waiting for an application."),
	{ .section = OPT_SOCKET, .key = "recv_buffer_size", .type = OPT_SIZE,
	  .min = 1, .max = 1ULL << 40, .def = "64M", .reloadable = 1,
	  .off = S(recv_buffer_size),
	  .help =
	  "Bytes of the messages recv_buffer counts; either limit full, the "
	  "socket stops reading from its peers until applications take "
	  "some." },
	{ .section = OPT_SOCKET, .key = "peer_buffer", .type = OPT_SIZE,
	  .min = 1, .max = 2 * GIB, .def = "4M", .reloadable = 1,
	  .off = S(peer_buffer),
	  .help =
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
	{ .section = OPT_SOCKET, .key = "socket_mode", .type = OPT_MODE,
	  .max = 0777, .reloadable = 1, .flags = OPTF_INHERIT,
	  .off = S(socket_mode), .example = "0660",
	  .help =
	  "Permissions of runtime_dir/NAME.sock; unset, [daemon] "
	  "socket_mode." },
	{ .section = OPT_SOCKET, .key = "socket_group", .type = OPT_GROUP,
	  .reloadable = 1, .flags = OPTF_INHERIT, .off = S(socket_group),
	  .example = "root",
	  .help =
	  "Group of runtime_dir/NAME.sock, a group name or gid; unset, "
	  "[daemon] socket_group." },
	{ .section = OPT_SOCKET, .key = "allow_users", .type = OPT_USER,
	  .reloadable = 1, .flags = OPTF_LIST, .off = S(allow_users),
	  .aux = S(allow_uids), .example = "root, 1000",
	  .help =
	  "Only these users, and members of allow_groups, may attach, besides "
	  "root and the daemon's own user; unset (and allow_groups unset), "
	  "whoever may open NAME.sock. Names are looked up at each load." },
	{ .section = OPT_SOCKET, .key = "allow_groups", .type = OPT_GROUP,
	  .reloadable = 1, .flags = OPTF_LIST, .off = S(allow_groups),
	  .aux = S(allow_gids), .example = "root, 1000",
	  .help =
	  "Only members of these groups (the attaching process's own group "
	  "or supplementary groups), and allow_users, may attach." },
	{ .section = OPT_SOCKET, .key = "forward", .type = OPT_STRING,
	  .reloadable = 1, .off = S(forward), .aux = S(forward_line),
	  .example = "workers, audit",
	  .help =
	  "Route: every message received from this socket's peers is sent "
	  "out through these other sockets (a comma-separated list of "
	  "names), with their send modes, instead of going to "
	  "applications. Routes may not form a loop." },
	{ .section = OPT_SOCKET, .key = "forward_replies", .type = OPT_BOOL,
	  .def = "off", .reloadable = 1, .off = S(forward_replies),
	  .help =
	  "With forward: what a peer of the other socket sends back on the "
	  "connection a forwarded message went out on is a reply, routed "
	  "back to the peer it came from here (the Nth message back "
	  "answers the Nth written)." },
	{ .section = OPT_SOCKET, .key = "websocket", .type = OPT_BOOL,
	  .def = "off", .reloadable = 1, .off = S(websocket),
	  .help =
	  "Bind endpoints also take browsers: a connection whose first byte "
	  "(after TLS) is an HTTP GET is upgraded to WebSocket (RFC 6455) "
	  "and carries the aiomsg stream in binary messages." },
	{ .section = OPT_SOCKET, .key = "websocket_origins",
	  .type = OPT_STRING, .reloadable = 1, .off = S(websocket_origins),
	  .aux = S(websocket_origins_line),
	  .example = "https://app.example, http://localhost:8080",
	  .help =
	  "Origins a WebSocket upgrade may come from (comma-separated); "
	  "another, or none, is refused with 403. Unset, any." },

	{ .section = OPT_SOCKET, .key = "tls", .type = OPT_BOOL, .def = "off",
	  .reloadable = 1, .off = S(tls.on),
	  .help =
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
	{ .section = OPT_SOCKET, .key = "tls_server_name", .type = OPT_STRING,
	  .reloadable = 1, .off = S(tls.server_name),
	  .aux = S(tls.server_name_line), .example = "broker.example",
	  .help =
	  "Name a server's certificate must carry; unset, the host of the "
	  "connect endpoint (an IP address must be in the certificate's IP "
	  "addresses)." },
	{ .section = OPT_SOCKET, .key = "tls_verify_client", .type = OPT_BOOL,
	  .def = "off", .reloadable = 1, .off = S(tls.verify_client),
	  .help =
	  "Mutual TLS: bind endpoints accept only clients presenting a "
	  "certificate signed by tls_client_ca." },
	TLSFILE("tls_client_ca", client_ca, "/etc/smartsock/tls/clients.pem",
	    "CA certificates (PEM) client certificates must be signed by; "
	    "unset, tls_ca."),
	ENUM("tls_min_version", config_tls_versions, "1.2", 1,
	    tls.min_version,
	    "Oldest TLS version accepted, 1.2 or 1.3."),
	{ .section = OPT_SOCKET, .key = "tls_ciphers", .type = OPT_STRING,
	  .reloadable = 1, .off = S(tls.ciphers), .aux = S(tls.ciphers_line),
	  .example = "ECDHE+AESGCM:ECDHE+CHACHA20",
	  .help =
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
