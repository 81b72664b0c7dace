/*
 * stats: the counters of one smart socket.  Every counter is listed once
 * here, with its dotted name and meaning; code changes them only through
 * STATS_INC / STATS_ADD.
 */
#ifndef SMARTSOCK_STATS_H
#define SMARTSOCK_STATS_H

#include <stdint.h>

#define STATS_COUNTERS(X)						\
	X(msgs_in, "messages.in", "payloads received from peers")	\
	X(bytes_in, "bytes.in", "payload bytes received from peers")	\
	X(msgs_out, "messages.out", "payloads written to peers")	\
	X(bytes_out, "bytes.out", "payload bytes written to peers")	\
	X(drops_overflow, "drops.overflow",				\
	    "messages dropped by the send buffer's drop-new/drop-old policy") \
	X(drops_slow_peer, "drops.slow_peer",				\
	    "publish copies dropped because one peer's queue was full")	\
	X(slow_peers_closed, "drops.slow_peer_disconnects",		\
	    "publish subscribers disconnected: they took nothing of a full " \
	    "queue for subscriber_timeout while others waited")		\
	X(drops_unroutable, "drops.unroutable",				\
	    "targeted messages whose peer left before they could go out") \
	X(drops_shutdown, "drops.shutdown",				\
	    "messages still queued when the daemon stopped")		\
	X(duplicates, "alo.duplicates",					\
	    "DATA_REQ resends of a msg_id that was still queued here")	\
	X(resends, "alo.resends", "at-least-once messages sent again")	\
	X(giveups, "alo.giveups",					\
	    "at-least-once messages abandoned after max_retries")	\
	X(acks_in, "alo.acks_in", "ACKs received for our messages")	\
	X(acks_out, "alo.acks_out", "ACKs sent after an application took a message") \
	X(frames_unknown, "frames.unknown", "frames of unknown type skipped") \
	X(frames_malformed, "frames.malformed",				\
	    "frames of a known type with a bad length, skipped")	\
	X(conns_accepted, "connections.accepted", "TCP connections accepted") \
	X(conns_connected, "connections.connected", "outgoing TCP connections made") \
	X(conns_closed, "connections.closed", "connections closed, any cause") \
	X(rejected_bad_hello, "rejected.bad_hello",			\
	    "connections closed because the first frame was not a valid HELLO") \
	X(rejected_version, "rejected.version", "HELLOs with another protocol version") \
	X(rejected_duplicate, "rejected.duplicate_identity",		\
	    "connections from an identity that already had one")	\
	X(rejected_oversize, "rejected.oversize",			\
	    "connections closed for a frame over max_message_size")	\
	X(rejected_max_peers, "rejected.max_peers",			\
	    "accepted connections closed at once: max_peers were open")	\
	X(tls_handshakes, "tls.handshakes", "TLS handshakes completed")	\
	X(tls_failed_not_tls, "tls.failed.not_tls",			\
	    "TLS connections failed: the other side did not speak TLS")	\
	X(tls_failed_verify, "tls.failed.verify",			\
	    "TLS connections failed: the other side's certificate did not verify") \
	X(tls_failed_no_cert, "tls.failed.no_certificate",		\
	    "TLS connections failed: a client sent no certificate (mutual TLS)") \
	X(tls_failed_refused, "tls.failed.refused_by_peer",		\
	    "TLS connections failed: the other side refused us with an alert") \
	X(tls_failed_other, "tls.failed.other",				\
	    "TLS connections failed otherwise (closed, timed out, protocol)") \
	X(ws_upgrades, "websocket.upgrades",				\
	    "connections upgraded to WebSocket (websocket = on)")	\
	X(ws_refused, "websocket.refused",				\
	    "WebSocket upgrades refused: malformed, wrong version, Origin, "	\
	    "not finished in time")					\
	X(ws_errors, "websocket.errors",				\
	    "WebSocket connections closed for a protocol error (text, "	\
	    "unmasked or oversized frames, ...)")				\
	X(heartbeat_timeouts, "heartbeat.timeouts",			\
	    "connections torn down after heartbeat_timeout of silence")	\
	X(apps_attached, "apps.attached", "applications attached")	\
	X(apps_dropped, "apps.dropped",					\
	    "applications disconnected for a protocol error")		\
	X(apps_refused, "apps.refused",					\
	    "attaches refused: the user is not in allow_users or allow_groups") \
	X(apps_refused_max_clients, "apps.refused_max_clients",		\
	    "attaches refused: max_clients applications were attached")

struct stats {
#define STATS_FIELD(field, name, help) uint64_t field;
	STATS_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
};

#define STATS_INC(st, field) ((st)->field++)
#define STATS_ADD(st, field, n) ((st)->field += (n))

#endif
