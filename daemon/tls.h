/*
 * tls: OpenSSL for a smart socket's endpoints (tls = on).
 *
 * tls_load() reads a socket's certificate, key and CA files once and
 * builds the server context its listeners give accepted connections and
 * the client context its connectors use.  It checks now what would
 * otherwise fail at the first handshake: unreadable files, a key that does
 * not match its certificate, a certificate outside its validity period,
 * a cipher list OpenSSL does not know; errors read "file:line: reason"
 * with the line of the key at fault.  Contexts are built for every
 * configuration a daemon loads (start, -t, each reload), so a reload
 * re-reads the files; connections made earlier keep the context they
 * were made with (OpenSSL counts references).
 *
 * Handshakes run inside libevent's OpenSSL bufferevents; the aiomsg bytes
 * above them are the same as on plain TCP.
 */
#ifndef SMARTSOCK_TLS_H
#define SMARTSOCK_TLS_H

#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct config;
struct event_base;
struct socket_conf;
struct tls;

/*
 * The TLS state of every socket of cfg: (*out)[i] belongs to
 * cfg->sockets[i] and is NULL where tls is off.  0, or -1 with
 * "file:line: reason" in err and nothing allocated.
 */
int tls_load_config(const struct config *cfg, struct tls ***out, char *err,
    size_t errlen);
void tls_free_config(struct tls **, size_t n);   /* NULL is a no-op */

/*
 * A bufferevent that runs the server (accepted fd) or client (fd -1, to
 * be connected with bufferevent_socket_connect()) side of a handshake.
 * A client checks the server's certificate against the server name (the
 * configured tls_server_name, else `host`).  NULL on failure; the fd is
 * not closed then.
 */
struct bufferevent *tls_accept_bev(struct tls *, struct event_base *,
    int fd);
struct bufferevent *tls_connect_bev(struct tls *, struct event_base *,
    const char *host);

/* Is this a bufferevent made here? */
int tls_is_tls(struct bufferevent *);

/* Why a TLS connection failed, as the status counters sort it. */
enum tls_failure {
	TLS_FAIL_NOT_TLS,               /* the other side spoke something else */
	TLS_FAIL_VERIFY,                /* its certificate did not verify */
	TLS_FAIL_NO_CERT,               /* mutual TLS: it sent none */
	TLS_FAIL_REFUSED,               /* it sent an alert: it refused us */
	TLS_FAIL_OTHER,
};
/*
 * After BEV_EVENT_ERROR on a TLS bufferevent: OpenSSL's reason (with the
 * certificate check's verdict when that failed) in why, and the cause.
 * TLS_FAIL_OTHER with why empty when OpenSSL reported nothing (a socket
 * error or EOF).
 */
enum tls_failure tls_failure(struct bufferevent *, char *why, size_t len);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" before the handshake. */
void tls_session(struct bufferevent *, char *buf, size_t len);
/* The subject of the other side's certificate, or "" when it sent none. */
void tls_peer_subject(struct bufferevent *, char *buf, size_t len);
/* Send close_notify if the handshake completed (before freeing). */
void tls_close_notify(struct bufferevent *);

/* What status shows of one certificate read from a file. */
struct tls_cert_info {
	const char *use;                /* "cert", "ca" or "client_ca" */
	const char *file;
	const char *subject;
	const char *issuer;
	int64_t not_before, not_after;  /* seconds since the epoch */
};
void tls_certificates(const struct tls *,
    void (*fn)(const struct tls_cert_info *, void *), void *arg);
/* Log the certificate a socket presents and its expiry (a warning when
 * under 30 days are left); at start and after each reload. */
void tls_log_certificates(const struct tls *, const char *socket);

#endif
