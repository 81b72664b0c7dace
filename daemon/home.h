/*
 * home: what a smart socket shares with what is attached to it, its
 * links (link.h) and its applications (local.h): its name, settings and
 * identity, its counters and a few log rate limits, and where a link's
 * events go.
 *
 * The socket's core (core.c) owns it and sets every field; the others
 * read it, and write only the counters (STATS_INC) and the rate limits.
 */
#ifndef SMARTSOCK_HOME_H
#define SMARTSOCK_HOME_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "stats.h"

struct event_base;
struct link_events;

struct home {
	const struct link_events *events;       /* the core's (link.h) */
	const char *name;                       /* conf->name */
	const struct socket_conf *conf;         /* borrowed from the config */
	struct event_base *base;
	uint8_t identity[16];                   /* the socket's own */
	char identity_hex[33];
	size_t max_message_size;
	struct stats stats;
	struct log_ratelimit rl_malformed;      /* bad frames */
	struct log_ratelimit rl_tls;            /* handshakes, upgrades */
	struct log_ratelimit rl_peers;          /* up and down lines */
};

#endif
