/* tls: OpenSSL contexts and handshakes of TLS endpoints (see tls.h). */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "bev.h"
#include "config.h"
#include "log.h"
#include "tls.h"

#define TLS_SESSION_ID_CONTEXT "smartsockd"
#define TLS_EXPIRY_WARN_DAYS 30

struct tls {
	SSL_CTX *server;                /* NULL: the socket has no bind */
	SSL_CTX *client;                /* NULL: the socket has no connect */
	char *server_name;              /* owned; NULL: the connect host */
	struct tls_cert_info *certs;    /* owned, strings too */
	size_t ncerts;
};

/* Where a problem is reported: the config file and the key's line. */
struct tls_where {
	const char *file;               /* the config file */
	char *err;
	size_t errlen;
};

static void tls_error(const struct tls_where *, int line, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
tls_error(const struct tls_where *w, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(w->err, w->errlen, "%s:%d: ", w->file, line);
	if (n < 0 || (size_t)n >= w->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(w->err + n, w->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* OpenSSL's reason for the oldest error in the queue; the queue is
 * emptied. */
static const char *
tls_openssl_reason(void)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r != NULL ? r : "unknown OpenSSL error";
}

static int64_t
tls_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void
tls_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static char *
tls_name(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *data;
	long n;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0 &&
	    (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
}

static void
tls_free_certs(struct tls *t)
{
	size_t i;

	for (i = 0; i < t->ncerts; i++) {
		free((char *)t->certs[i].file);
		free((char *)t->certs[i].subject);
		free((char *)t->certs[i].issuer);
	}
	free(t->certs);
	t->certs = NULL;
	t->ncerts = 0;
}

/* Remember a certificate for status; -1 when out of memory. */
static int
tls_add_cert(struct tls *t, const char *use, const char *file, X509 *x)
{
	struct tls_cert_info *ci, *grown;

	grown = reallocarray(t->certs, t->ncerts + 1, sizeof(*grown));
	if (grown == NULL)
		return -1;
	t->certs = grown;
	ci = &t->certs[t->ncerts];
	memset(ci, 0, sizeof(*ci));
	ci->use = use;
	ci->file = strdup(file);
	ci->subject = tls_name(X509_get_subject_name(x));
	ci->issuer = tls_name(X509_get_issuer_name(x));
	ci->not_before = tls_time(X509_get0_notBefore(x));
	ci->not_after = tls_time(X509_get0_notAfter(x));
	t->ncerts++;
	return ci->file != NULL && ci->subject != NULL && ci->issuer != NULL ?
	    0 : -1;
}

/* A file must be readable before OpenSSL reads it: its message for a
 * missing file is a chain of library names. */
static int
tls_readable(const struct tls_where *w, const char *key, const char *path,
    int line)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		tls_error(w, line, "%s %s: cannot open: %s", key, path,
		    strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

/* Is x valid now?  If not, say so at line. */
static int
tls_check_validity(const struct tls_where *w, const char *key,
    const char *path, int line, X509 *x)
{
	char when[64], *subject;
	int expired;

	if (X509_cmp_current_time(X509_get0_notAfter(x)) > 0 &&
	    X509_cmp_current_time(X509_get0_notBefore(x)) < 0)
		return 0;
	expired = X509_cmp_current_time(X509_get0_notAfter(x)) <= 0;
	tls_format_time(tls_time(expired ? X509_get0_notAfter(x) :
	    X509_get0_notBefore(x)), when, sizeof(when));
	subject = tls_name(X509_get_subject_name(x));
	tls_error(w, line, "%s %s: certificate '%s' %s %s", key, path,
	    subject != NULL ? subject : "?", expired ? "expired on" :
	    "is not valid before", when);
	free(subject);
	return -1;
}

/* The certificate and key a context presents. */
static int
tls_use_cert(struct tls *t, SSL_CTX *ctx, const struct tls_conf *c,
    const struct tls_where *w, int record)
{
	X509 *x;

	if (tls_readable(w, "tls_cert", c->cert, c->cert_line) == -1 ||
	    tls_readable(w, "tls_key", c->key, c->key_line) == -1)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1) {
		tls_error(w, c->cert_line, "tls_cert %s: not a PEM "
		    "certificate chain (%s)", c->cert, tls_openssl_reason());
		return -1;
	}
	x = SSL_CTX_get0_certificate(ctx);
	if (tls_check_validity(w, "tls_cert", c->cert, c->cert_line, x) == -1)
		return -1;
	if (SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1) {
		tls_error(w, c->key_line, "tls_key %s: cannot be used with "
		    "the certificate in %s (%s)", c->key, c->cert,
		    tls_openssl_reason());
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(w, c->key_line, "tls_key %s: does not match the "
		    "certificate in %s (%s)", c->key, c->cert,
		    tls_openssl_reason());
		return -1;
	}
	if (record && tls_add_cert(t, "cert", c->cert, x) == -1) {
		tls_error(w, c->cert_line, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Trust the CA certificates in path for verifying the other side, and
 * remember them for status.  At least one must be valid now.
 */
static int
tls_use_ca(struct tls *t, SSL_CTX *ctx, const char *use, const char *key,
    const char *path, int line, const struct tls_where *w)
{
	FILE *f;
	X509 *x;
	int n = 0, valid = 0, rc = 0;

	if (tls_readable(w, key, path, line) == -1)
		return -1;
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
		tls_error(w, line, "%s %s: no CA certificate could be read "
		    "(%s)", key, path, tls_openssl_reason());
		return -1;
	}
	if ((f = fopen(path, "r")) == NULL) {
		tls_error(w, line, "%s %s: cannot open: %s", key, path,
		    strerror(errno));
		return -1;
	}
	while (rc == 0 && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		n++;
		if (X509_cmp_current_time(X509_get0_notAfter(x)) > 0 &&
		    X509_cmp_current_time(X509_get0_notBefore(x)) < 0)
			valid++;
		if (tls_add_cert(t, use, path, x) == -1) {
			tls_error(w, line, "out of memory");
			rc = -1;
		}
		X509_free(x);
	}
	fclose(f);
	ERR_clear_error();      /* the end of the file reads as an error */
	if (rc == 0 && valid == 0) {
		tls_error(w, line, "%s %s: none of its %d certificates is "
		    "valid now", key, path, n);
		rc = -1;
	}
	return rc;
}

/* What every context of the socket shares. */
static SSL_CTX *
tls_context_new(const SSL_METHOD *method, const struct tls_conf *c,
    const struct tls_where *w)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL) {
		tls_error(w, 0, "cannot create a TLS context (%s)",
		    tls_openssl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, c->min_version == TLS_VERSION_1_3 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	/* Peers that just close are closed, not failed; no renegotiation
	 * for a peer to drive; idle connections hold no buffers. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (c->ciphers != NULL && SSL_CTX_set_cipher_list(ctx,
	    c->ciphers) != 1) {
		tls_error(w, c->ciphers_line, "tls_ciphers '%s': no cipher "
		    "OpenSSL knows (%s)", c->ciphers, tls_openssl_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static SSL_CTX *
tls_server_new(struct tls *t, const struct tls_conf *c,
    const struct tls_where *w)
{
	SSL_CTX *ctx = tls_context_new(TLS_server_method(), c, w);
	const char *ca = c->client_ca != NULL ? c->client_ca : c->ca;
	int line = c->client_ca != NULL ? c->client_ca_line : c->ca_line;
	const char *key = c->client_ca != NULL ? "tls_client_ca" : "tls_ca";
	STACK_OF(X509_NAME) *names;

	if (ctx == NULL)
		return NULL;
	if (tls_use_cert(t, ctx, c, w, 1) == -1)
		goto fail;
	SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_SESSION_ID_CONTEXT,
	    sizeof(TLS_SESSION_ID_CONTEXT) - 1);
	if (!c->verify_client)
		return ctx;
	if (tls_use_ca(t, ctx, "client_ca", key, ca, line, w) == -1)
		goto fail;
	/* Tell clients which CAs we take, so they pick the right cert. */
	if ((names = SSL_load_client_CA_file(ca)) != NULL)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static SSL_CTX *
tls_client_new(struct tls *t, const struct tls_conf *c, int record_cert,
    const struct tls_where *w)
{
	SSL_CTX *ctx = tls_context_new(TLS_client_method(), c, w);

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (c->ca != NULL) {
		if (tls_use_ca(t, ctx, "ca", "tls_ca", c->ca, c->ca_line,
		    w) == -1)
			goto fail;
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_error(w, 0, "cannot load the system's CA certificates "
		    "(%s)", tls_openssl_reason());
		goto fail;
	}
	if (c->cert != NULL && tls_use_cert(t, ctx, c, w, record_cert) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->server);
	SSL_CTX_free(t->client);
	free(t->server_name);
	tls_free_certs(t);
	free(t);
}

static struct tls *
tls_load(const struct socket_conf *sc, const struct tls_where *w)
{
	const struct tls_conf *c = &sc->tls;
	struct tls *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		tls_error(w, sc->line, "out of memory");
		return NULL;
	}
	if (c->server_name != NULL &&
	    (t->server_name = strdup(c->server_name)) == NULL) {
		tls_error(w, sc->line, "out of memory");
		goto fail;
	}
	if (sc->nbinds > 0 && (t->server = tls_server_new(t, c, w)) == NULL)
		goto fail;
	/* The certificate is listed once even when both sides present it. */
	if (sc->nconnects > 0 &&
	    (t->client = tls_client_new(t, c, sc->nbinds == 0, w)) == NULL)
		goto fail;
	return t;
fail:
	tls_free(t);
	return NULL;
}

int
tls_load_config(const struct config *cfg, struct tls ***out, char *err,
    size_t errlen)
{
	struct tls_where w = { cfg->path, err, errlen };
	struct tls **all;
	size_t i;

	*out = NULL;
	if (cfg->nsockets == 0)
		return 0;
	if ((all = calloc(cfg->nsockets, sizeof(*all))) == NULL) {
		tls_error(&w, 0, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nsockets; i++) {
		if (!cfg->sockets[i].tls.on)
			continue;
		if ((all[i] = tls_load(&cfg->sockets[i], &w)) == NULL) {
			ERR_clear_error();
			tls_free_config(all, cfg->nsockets);
			return -1;
		}
	}
	*out = all;
	return 0;
}

void
tls_free_config(struct tls **all, size_t n)
{
	size_t i;

	if (all == NULL)
		return;
	for (i = 0; i < n; i++)
		tls_free(all[i]);
	free(all);
}

static struct bufferevent *
tls_bev(struct event_base *base, int fd, SSL *ssl,
    enum bufferevent_ssl_state state)
{
	struct bufferevent *bev;

	bev = bufferevent_openssl_socket_new(base, fd, ssl, state,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* A peer that closes without close_notify has just closed. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bev_set_io_sizes(bev);
	return bev;
}

struct bufferevent *
tls_accept_bev(struct tls *t, struct event_base *base, int fd)
{
	SSL *ssl;

	if (t->server == NULL || (ssl = SSL_new(t->server)) == NULL)
		return NULL;
	return tls_bev(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING);
}

static int
tls_is_ip(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1;
}

struct bufferevent *
tls_connect_bev(struct tls *t, struct event_base *base, const char *host)
{
	const char *name = t->server_name != NULL ? t->server_name : host;
	SSL *ssl;
	int ok;

	if (t->client == NULL || (ssl = SSL_new(t->client)) == NULL)
		return NULL;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (tls_is_ip(name))
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    name) == 1;
	else
		ok = SSL_set_tlsext_host_name(ssl, name) == 1 &&
		    SSL_set1_host(ssl, name) == 1;
	if (!ok) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return tls_bev(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING);
}

int
tls_is_tls(struct bufferevent *bev)
{
	return bufferevent_openssl_get_ssl(bev) != NULL;
}

static enum tls_failure
tls_classify(unsigned long e)
{
	int reason = ERR_GET_REASON(e);

	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return TLS_FAIL_OTHER;
	switch (reason) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		return TLS_FAIL_VERIFY;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		return TLS_FAIL_NO_CERT;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
	case SSL_R_UNEXPECTED_RECORD:
		return TLS_FAIL_NOT_TLS;
	}
	/* Alerts received read as SSL_AD_REASON_OFFSET + the alert. */
	if (reason >= SSL_AD_REASON_OFFSET)
		return TLS_FAIL_REFUSED;
	return TLS_FAIL_OTHER;
}

enum tls_failure
tls_failure(struct bufferevent *bev, char *why, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e, first = 0;
	const char *reason;
	long verify;

	why[0] = '\0';
	/*
	 * libevent hands the errors back newest first; the oldest is its own
	 * note of SSL_get_error()'s verdict (no library), the next oldest
	 * OpenSSL's first reason.
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			first = e;
	if (first == 0)
		return TLS_FAIL_OTHER;
	reason = ERR_reason_error_string(first);
	snprintf(why, len, "%s", reason != NULL ? reason : "unknown error");
	if (ssl != NULL && ERR_GET_LIB(first) == ERR_LIB_SSL &&
	    ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    (verify = SSL_get_verify_result(ssl)) != X509_V_OK)
		snprintf(why + strlen(why), len - strlen(why), " (%s)",
		    X509_verify_cert_error_string(verify));
	return tls_classify(first);
}

void
tls_session(struct bufferevent *bev, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	buf[0] = '\0';
	if (ssl != NULL && SSL_is_init_finished(ssl))
		snprintf(buf, len, "%s %s", SSL_get_version(ssl),
		    SSL_get_cipher_name(ssl));
}

void
tls_peer_subject(struct bufferevent *bev, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	X509 *x;
	char *s;

	buf[0] = '\0';
	if (ssl == NULL || (x = SSL_get1_peer_certificate(ssl)) == NULL)
		return;
	if ((s = tls_name(X509_get_subject_name(x))) != NULL)
		snprintf(buf, len, "%s", s);
	free(s);
	X509_free(x);
}

void
tls_close_notify(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return;
	/* One try, without waiting: the connection is going away. */
	SSL_shutdown(ssl);
	ERR_clear_error();
}

void
tls_certificates(const struct tls *t,
    void (*fn)(const struct tls_cert_info *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < t->ncerts; i++)
		fn(&t->certs[i], arg);
}

void
tls_log_certificates(const struct tls *t, const char *socket)
{
	char until[64];
	int64_t left;
	size_t i;

	for (i = 0; i < t->ncerts; i++) {
		if (strcmp(t->certs[i].use, "cert") != 0)
			continue;
		tls_format_time(t->certs[i].not_after, until, sizeof(until));
		left = (t->certs[i].not_after - (int64_t)time(NULL)) / 86400;
		if (left < TLS_EXPIRY_WARN_DAYS)
			log_warnx("socket %s: TLS certificate %s (%s) expires "
			    "in %lld days, on %s", socket, t->certs[i].subject,
			    t->certs[i].file, (long long)left, until);
		else
			log_info("socket %s: TLS certificate %s (%s), valid "
			    "until %s", socket, t->certs[i].subject,
			    t->certs[i].file, until);
	}
}
