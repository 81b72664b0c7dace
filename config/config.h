/*
 * config: smartsockd's configuration file (INI, parsed with inih).
 *
 * config_load() parses a whole file into a fresh struct config and validates
 * it; on any error it returns -1 with "file:line: reason" in err and leaves
 * nothing allocated.  Keys are described once, in the option table of
 * conftab.c (section, key, type, range, default, reloadable, help), which
 * also drives the defaults, the reload's difference (confdiff.c) and the
 * man page.  A loaded config is immutable: reload parses
 * a new one and swaps only on success.
 */
#ifndef SMARTSOCK_CONFIG_H
#define SMARTSOCK_CONFIG_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_NAME_MAX 64      /* socket names: [A-Za-z0-9_.-], 1..63 chars */
#define CONFIG_UNLIMITED UINT64_MAX

enum send_mode { SEND_ROUNDROBIN, SEND_PUBLISH };
enum delivery { DELIVERY_AT_MOST_ONCE, DELIVERY_AT_LEAST_ONCE };
enum overflow { OVERFLOW_BLOCK, OVERFLOW_DROP_NEW, OVERFLOW_DROP_OLD };
enum tls_version { TLS_VERSION_1_2, TLS_VERSION_1_3 };
/* syslog facilities, in the order of conftab.c's choices */
enum log_facility { LOG_FACILITY_DAEMON, LOG_FACILITY_USER,
	LOG_FACILITY_LOCAL0, LOG_FACILITY_LOCAL1, LOG_FACILITY_LOCAL2,
	LOG_FACILITY_LOCAL3, LOG_FACILITY_LOCAL4, LOG_FACILITY_LOCAL5,
	LOG_FACILITY_LOCAL6, LOG_FACILITY_LOCAL7 };
/* log_level: the least severe lines logged, in the order of conftab.c's
 * choices */
enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG };

/* One bind or connect endpoint, "host:port" or "[v6]:port". */
struct endpoint_conf {
	char *host;             /* owned; "*" binds every address */
	char *port;             /* owned; decimal 1..65535 */
	int line;               /* where it was written */
};

/*
 * A socket's TLS settings (smartsockd.conf(5)).  File names are absolute;
 * NULL means unset.  Each *_line is where that key was given (0: not
 * given), for errors found when the files are read (daemon/tls.c).
 */
struct tls_conf {
	int on;                         /* off */
	char *cert, *key;               /* presented: bind side always,
	                                   connect side for mutual TLS */
	char *ca;                       /* verifies servers; NULL: system */
	char *client_ca;                /* verifies clients; NULL: ca */
	char *server_name;              /* NULL: the connect host */
	int verify_client;              /* off */
	enum tls_version min_version;   /* 1.2 */
	char *ciphers;                  /* TLS 1.2 cipher list; NULL: system */
	int cert_line, key_line, ca_line, client_ca_line, server_name_line;
	int ciphers_line;
};

/*
 * allow_users / allow_groups as ids, resolved when the file is loaded
 * (start and each reload), so that an attach needs no user database.
 */
struct config_ids {
	id_t *ids;                      /* owned; uids or gids */
	size_t n;                       /* 0: the key is unset */
};

struct socket_conf {
	char name[CONFIG_NAME_MAX];
	int line;                       /* line of the [socket NAME] header */
	struct endpoint_conf *binds;    /* owned array */
	size_t nbinds;
	struct endpoint_conf *connects; /* owned array */
	size_t nconnects;
	enum send_mode send_mode;       /* roundrobin */
	enum delivery delivery;         /* at-most-once */
	enum overflow overflow;         /* block */
	int has_identity;               /* 0: random per start */
	uint8_t identity[16];
	uint64_t heartbeat_interval_ms; /* 5s */
	uint64_t heartbeat_timeout_ms;  /* 15s, must be > interval */
	uint64_t reconnect_delay_ms;    /* 100ms */
	uint64_t reconnect_max_delay_ms;/* 10s, >= reconnect_delay */
	uint64_t connect_timeout_ms;    /* 2s */
	uint64_t resend_timeout_ms;     /* 5s */
	uint64_t max_retries;           /* 10; CONFIG_UNLIMITED allowed */
	uint64_t send_buffer;           /* 100000 messages; CONFIG_UNLIMITED ok */
	uint64_t send_buffer_size;      /* 64M bytes: sendq + awaiting ACK */
	uint64_t recv_buffer;           /* 100000 messages awaiting an app */
	uint64_t recv_buffer_size;      /* 64M bytes of those */
	uint64_t peer_buffer;           /* 4M bytes queued per peer connection */
	uint64_t subscriber_timeout_ms; /* 2s: publish, full and taking
	                                   nothing this long: disconnected */
	uint64_t max_peers;             /* connections, both directions;
	                                   CONFIG_UNLIMITED (the default) */
	uint64_t max_clients;           /* attached applications; unlimited */
	uint64_t socket_mode;           /* of NAME.sock; unset in the
	                                   section: [daemon] socket_mode */
	char *socket_group;             /* owned; group name or gid of
	                                   NAME.sock; NULL: the daemon's */
	char *allow_users;              /* owned, "a,b"; NULL: anyone */
	struct config_ids allow_uids;   /* ... resolved */
	char *allow_groups;             /* owned, "a,b"; NULL: anyone */
	struct config_ids allow_gids;   /* ... resolved */
	struct tls_conf tls;
	char *forward;                  /* owned, "B, C" as written; NULL:
	                                   no route (route.h) */
	int forward_line;
	size_t *forward_to;             /* owned; indices in the config's
	                                   sockets, resolved by confroute.c */
	size_t nforward;
	int forward_replies;            /* off */
	int websocket;                  /* off: bind endpoints also take
	                                   WebSocket clients (ws.h) */
	char *websocket_origins;        /* owned, "a, b"; NULL: any */
	int websocket_origins_line;
};

struct daemon_conf {
	char *runtime_dir;              /* owned, absolute (relative paths in
	                                   the file are taken from the file's
	                                   directory); default RUNSTATEDIR
	                                   "/smartsock" */
	uint64_t max_message_size;      /* 16M bytes, 1 .. 2^31 */
	uint64_t max_memory;            /* 1G bytes: every message held */
	uint64_t control_mode;          /* 0660: permissions of control.sock */
	char *control_owner;            /* owned; user name or uid, or NULL */
	char *control_group;            /* owned; group name or gid, or NULL */
	uint64_t socket_mode;           /* 0660: default of every NAME.sock */
	char *socket_group;             /* owned; default group of NAME.sock,
	                                   NULL: the daemon's */
	enum log_facility log_facility; /* daemon: syslog, without -f */
	enum log_level log_level;       /* info; -v makes it debug */
};

struct config {
	char *path;                     /* owned copy of the file name */
	struct daemon_conf daemon;
	struct socket_conf *sockets;    /* owned array, in file order */
	size_t nsockets;
};

/* Parse and validate `path` into *cfg. 0 on success; -1 with a message
 * "path:line: reason" (line 0 for whole-file problems) in err. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);

/* Release what config_load() allocated; safe on a zeroed struct. */
void config_free(struct config *cfg);

/* The runtime_dir of the config file at `path` (what smartsock-cat -c
 * and smartsockctl -c need), malloc'd: its [daemon] runtime_dir line,
 * whatever else the file holds, or the default; NULL with "path:line:
 * reason" in err when the file cannot be read or that line is bad. */
char *config_runtime_dir(const char *path, char *err, size_t errlen);

/* The socket named `name`, or NULL. */
const struct socket_conf *config_find_socket(const struct config *cfg,
    const char *name);

/* The word an enum key's value stands for, e.g. ("send_mode",
 * SEND_PUBLISH) -> "publish"; "?" for an unknown key or value. */
const char *config_choice(const char *key, int value);

/* A user or group as control_owner / control_group / socket_group take
 * it: a name, or a decimal id.  1 and *out set, or 0 when there is no
 * such user / group. */
int config_user_id(const char *s, uid_t *out);
int config_group_id(const char *s, gid_t *out);

/* Print the option table as a commented config file (every key at its
 * default) to stdout: the source of conf/smartsockd.conf's comments. */
void config_print_defaults(void);

/*
 * What a reload would change: the keys of the [daemon] section, or of one
 * [socket NAME] section, whose values differ between a and b, as "a, b"
 * in buf.  Returns how many differ; *restart is set when one of them
 * cannot be applied in place (the option table's reloadable column).
 * Two random identities count as the same setting.
 */
int config_daemon_changes(const struct daemon_conf *a,
    const struct daemon_conf *b, char *buf, size_t len, int *restart);
int config_socket_changes(const struct socket_conf *a,
    const struct socket_conf *b, char *buf, size_t len, int *restart);

#endif
