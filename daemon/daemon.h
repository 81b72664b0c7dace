/*
 * daemon: the state of one smartsockd process.  There is one; main starts
 * it (the command line, the config, the order things are set up in),
 * daemon.c owns its life (sockets started and found, signals, the stop
 * with its grace period, the end), reload.c applies a new config to it,
 * control answers smartsockctl about it.
 */
#ifndef SMARTSOCK_DAEMON_H
#define SMARTSOCK_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "ssock.h"

struct event_base;
struct evdns_base;
struct event;
struct control;
struct tls;

#define DAEMON_ERR_MAX 1024

struct daemon {
	struct event_base *base;
	struct evdns_base *dns;
	char *config_path;              /* owned; -c's file, made absolute
	                                   at start (reload reads it again) */
	int verbose;                    /* -v: debug lines whatever
	                                   log_level says */
	struct config cfg;              /* the config in force */
	struct tls **tls;               /* its sockets' TLS state, one per
	                                   cfg.sockets[i] (tls.h) */
	unsigned generation;            /* 1 at start, +1 per applied reload */
	char reload_error[DAEMON_ERR_MAX];      /* last refused reload, or "" */
	uint64_t started_ms;            /* now_ms() at start */
	uint64_t started_wall;          /* time(NULL) at start */
	pid_t pid;
	struct ssock_list sockets;
	struct control *control;        /* <runtime_dir>/control.sock: made
	                                   and freed by main.c */
	struct event *sig_term, *sig_int, *sig_hup, *grace_ev;
	uint64_t grace_deadline_ms;
};

/*
 * Reload: parse and validate `d->config_path` completely; on any error keep
 * everything as it runs, record the error (status shows it) and return -1.
 * Otherwise apply only the difference: start added sockets, close removed
 * ones, update changed ones in place (restarting only a socket whose
 * identity changed), leave unchanged ones untouched.  `summary` receives a
 * human-readable account of what changed or why it was refused.
 */
int daemon_reload(struct daemon *d, char *summary, size_t len);

/* The log level of the config in force (log_level, or debug with -v). */
void daemon_set_log_level(struct daemon *d);

/* The socket named `name`, or NULL. */
struct ssock *daemon_find_socket(struct daemon *d, const char *name);
/* Make the routes those of the configuration (route.h), between the
 * sockets running now. */
void daemon_apply_routes(struct daemon *d);

/*
 * Start socket i of cfg (the config in force, or the one a reload is
 * applying) with its TLS state, and add it to the daemon's sockets.
 * NULL after logging why.
 */
struct ssock *daemon_start_socket(struct daemon *d, const struct config *cfg,
    size_t i, struct tls *tls);

/* SIGTERM and SIGINT stop (closing every socket, then a grace period for
 * applications to finish and queued bytes to go).  0, or -1 without
 * memory. */
int daemon_signals_init(struct daemon *d);
/* SIGHUP reloads (reload.c).  0, or -1 without memory. */
int daemon_reload_on_sighup(struct daemon *d);

/* budget.h's relief callback: every socket may go on (arg: the daemon). */
void daemon_budget_relief(void *arg);

/* Free everything the daemon holds, whatever was set up so far, but its
 * control socket (main.c frees that first). */
void daemon_free(struct daemon *d);

#endif
