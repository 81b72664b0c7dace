/* advice: warn about accepted but doubtful settings (see advice.h). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "advice.h"
#include "config.h"
#include "log.h"

/* Below these a setting costs more than it can be worth. */
#define ADVICE_HEARTBEAT_MS 100
#define ADVICE_RETRY_MS 10
/* A socket that may hold more than this holds a lot. */
#define ADVICE_BIG (1ULL << 30)

/* 1536 -> "1.5K", 1073741824 -> "1G": as a human reads a size. */
static const char *
advice_size(uint64_t v, char *buf, size_t len)
{
	static const char unit[] = "BKMGT";
	double x = (double)v;
	int i = 0;

	while (x >= 1024 && i < 4) {
		x /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%" PRIu64 "B", v);
	else
		snprintf(buf, len, "%.*f%c", x == (double)(uint64_t)x ? 0 : 1,
		    x, unit[i]);
	return buf;
}

static int
advice_socket(const struct socket_conf *sc, const struct daemon_conf *dc)
{
	static const struct {
		const char *key;
		size_t off;
	} sizes[] = {
		{ "peer_buffer", offsetof(struct socket_conf, peer_buffer) },
		{ "send_buffer_size",
		    offsetof(struct socket_conf, send_buffer_size) },
		{ "recv_buffer_size",
		    offsetof(struct socket_conf, recv_buffer_size) },
	};
	char a[32], b[32];
	uint64_t v;
	size_t i;
	int n = 0;

	if (sc->heartbeat_interval_ms < ADVICE_HEARTBEAT_MS) {
		log_warnx("socket %s: heartbeat_interval %" PRIu64 "ms: %" PRIu64
		    " heartbeats a second on every peer connection, most of "
		    "what the daemon then does (%dms or more is usual)",
		    sc->name, sc->heartbeat_interval_ms,
		    1000 / sc->heartbeat_interval_ms, ADVICE_HEARTBEAT_MS);
		n++;
	}
	if (sc->heartbeat_timeout_ms < 2 * sc->heartbeat_interval_ms) {
		log_warnx("socket %s: heartbeat_timeout %" PRIu64 "ms is less "
		    "than twice heartbeat_interval (%" PRIu64 "ms): one late "
		    "heartbeat disconnects a healthy peer", sc->name,
		    sc->heartbeat_timeout_ms, sc->heartbeat_interval_ms);
		n++;
	}
	if (sc->delivery == DELIVERY_AT_LEAST_ONCE &&
	    sc->resend_timeout_ms < ADVICE_RETRY_MS) {
		log_warnx("socket %s: resend_timeout %" PRIu64 "ms: messages "
		    "are sent again before their ACK can come back, each a "
		    "duplicate for the receiver", sc->name,
		    sc->resend_timeout_ms);
		n++;
	}
	if (sc->reconnect_delay_ms < ADVICE_RETRY_MS) {
		log_warnx("socket %s: reconnect_delay %" PRIu64 "ms: a peer "
		    "that is down is tried up to %" PRIu64 " times a second "
		    "at first", sc->name, sc->reconnect_delay_ms,
		    1000 / sc->reconnect_delay_ms);
		n++;
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		v = *(const uint64_t *)(const void *)((const char *)sc +
		    sizes[i].off);
		if (v > dc->max_memory) {
			log_warnx("socket %s: %s %s can never fill: the "
			    "daemon's max_memory (%s) is reached first, and then "
			    "every socket waits", sc->name, sizes[i].key,
			    advice_size(v, a, sizeof(a)),
			    advice_size(dc->max_memory, b, sizeof(b)));
			n++;
		} else if (v >= ADVICE_BIG) {
			log_warnx("socket %s: %s %s: this one socket may hold "
			    "that much memory before its limit applies",
			    sc->name, sizes[i].key,
			    advice_size(v, a, sizeof(a)));
			n++;
		}
	}
	return n;
}

int
config_advise(const struct config *cfg)
{
	const struct daemon_conf *dc = &cfg->daemon;
	char a[32], b[32];
	size_t i;
	int n = 0;

	if (dc->max_message_size > dc->max_memory) {
		log_warnx("max_message_size %s is more than max_memory %s: "
		    "such a message can never be held",
		    advice_size(dc->max_message_size, a, sizeof(a)),
		    advice_size(dc->max_memory, b, sizeof(b)));
		n++;
	}
	for (i = 0; i < cfg->nsockets; i++)
		n += advice_socket(&cfg->sockets[i], dc);
	return n;
}
