/* Unit tests for config.c: loading, defaults, validation and messages. */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "config.h"
#include "parse.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#define SOCK "[socket a]\nbind = *:1\n"     /* two lines */
#define A10 "aaaaaaaaaa"
#define A95 A10 A10 A10 A10 A10 A10 A10 A10 A10 "aaaaa"
#define A100 A95 "aaaaa"

static const char *
test_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && *t != '\0' ? t : "/tmp";
}

/* Write len bytes to a new temp file whose name goes to path. */
static void
write_temp(const char *text, size_t len, char *path, size_t pathlen)
{
	int fd;

	snprintf(path, pathlen, "%s/check_config.XXXXXX", test_tmpdir());
	fd = mkstemp(path);
	ck_assert_msg(fd != -1, "mkstemp %s: %s", path, strerror(errno));
	ck_assert(write(fd, text, len) == (ssize_t)len);
	close(fd);
}

/* Load text from a temp file (removed again before any assertion). */
static int
load_text(const char *text, size_t len, struct config *cfg, char *err,
    size_t errlen, char *path, size_t pathlen)
{
	int rc;

	write_temp(text, len, path, pathlen);
	rc = config_load(path, cfg, err, errlen);
	unlink(path);
	return rc;
}

static void
load_ok(const char *text, struct config *cfg)
{
	char path[PATH_MAX], err[512];

	ck_assert_msg(load_text(text, strlen(text), cfg, err, sizeof err,
	    path, sizeof path) == 0, "refused: %s", err);
	ck_assert_str_eq(cfg->path, path);
}

static void
assert_zeroed(const struct config *cfg)
{
	ck_assert_ptr_null(cfg->path);
	ck_assert_ptr_null(cfg->sockets);
	ck_assert_uint_eq(cfg->nsockets, 0);
	ck_assert_ptr_null(cfg->daemon.runtime_dir);
}

/* Expect refusal with "path:line: " and word somewhere in the message. */
static void
load_fails(const char *text, size_t len, int line, const char *word)
{
	char path[PATH_MAX], err[512], prefix[PATH_MAX + 32];
	struct config cfg;

	ck_assert_msg(load_text(text, len, &cfg, err, sizeof err, path,
	    sizeof path) == -1, "accepted:\n%s", text);
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "expected '%s...', got '%s' for:\n%s", prefix, err, text);
	ck_assert_msg(strstr(err, word) != NULL,
	    "expected '%s' in '%s' for:\n%s", word, err, text);
	assert_zeroed(&cfg);
}

static void
check_socket_defaults(const struct socket_conf *sc)
{
	ck_assert_int_eq(sc->send_mode, SEND_ROUNDROBIN);
	ck_assert_int_eq(sc->delivery, DELIVERY_AT_MOST_ONCE);
	ck_assert_int_eq(sc->overflow, OVERFLOW_BLOCK);
	ck_assert_int_eq(sc->has_identity, 0);
	ck_assert_uint_eq(sc->heartbeat_interval_ms, 5000);
	ck_assert_uint_eq(sc->heartbeat_timeout_ms, 15000);
	ck_assert_uint_eq(sc->reconnect_delay_ms, 100);
	ck_assert_uint_eq(sc->reconnect_max_delay_ms, 10000);
	ck_assert_uint_eq(sc->connect_timeout_ms, 2000);
	ck_assert_uint_eq(sc->resend_timeout_ms, 5000);
	ck_assert_uint_eq(sc->max_retries, 10);
	ck_assert_uint_eq(sc->send_buffer, 100000);
	ck_assert_uint_eq(sc->recv_buffer, 100000);
	ck_assert_uint_eq(sc->peer_buffer, 4 * 1024 * 1024);
	ck_assert_uint_eq(sc->max_peers, CONFIG_UNLIMITED);
	ck_assert_uint_eq(sc->max_clients, CONFIG_UNLIMITED);
}

static void
check_endpoint(const struct endpoint_conf *ep, const char *host,
    const char *port, int line)
{
	ck_assert_str_eq(ep->host, host);
	ck_assert_str_eq(ep->port, port);
	ck_assert_int_eq(ep->line, line);
}

START_TEST(test_full)
{
	static const char text[] =
	    "; every key\n"                                     /* 1 */
	    "[daemon]\n"
	    "runtime_dir = /var/tmp//ss/./state/ ; absolute\n"
	    "max_message_size = 1M\n"
	    "\n"                                                /* 5 */
	    "[socket full]\n"
	    "bind = 127.0.0.1:25000\n"
	    "bind = [::1]:25000, *:25001\n"
	    "connect = example.org:80 ; first\n"
	    "connect = [2001:db8::2]:81\n"                      /* 10 */
	    "send_mode = roundrobin\n"
	    "delivery = at-least-once\n"
	    "identity = 00112233445566778899AABBCCDDEEFF\n"
	    "heartbeat_interval = 1s\n"
	    "heartbeat_timeout = 3s\n"                          /* 15 */
	    "reconnect_delay = 50ms\n"
	    "reconnect_max_delay = 1m\n"
	    "connect_timeout = 500ms\n"
	    "resend_timeout = 2h\n"
	    "max_retries = 0\n"                                 /* 20 */
	    "send_buffer = unlimited\n"
	    "recv_buffer = 1\n"
	    "peer_buffer = 64KiB\n"
	    "overflow = drop-old\n"
	    "\n"                                                /* 25 */
	    "[socket second]\n"
	    "connect = 127.0.0.1:25000\n"
	    "send_mode = publish\n"
	    "overflow = drop-new\n"
	    "max_retries = unlimited\n";                        /* 30 */
	struct config cfg;
	const struct socket_conf *sc;
	char id[33];

	load_ok(text, &cfg);
	ck_assert_str_eq(cfg.daemon.runtime_dir, "/var/tmp/ss/state");
	ck_assert_uint_eq(cfg.daemon.max_message_size, 1024 * 1024);
	ck_assert_uint_eq(cfg.nsockets, 2);

	sc = &cfg.sockets[0];
	ck_assert_ptr_eq(config_find_socket(&cfg, "full"), sc);
	ck_assert_str_eq(sc->name, "full");
	ck_assert_int_eq(sc->line, 6);
	ck_assert_uint_eq(sc->nbinds, 3);
	check_endpoint(&sc->binds[0], "127.0.0.1", "25000", 7);
	check_endpoint(&sc->binds[1], "::1", "25000", 8);
	check_endpoint(&sc->binds[2], "*", "25001", 8);
	ck_assert_uint_eq(sc->nconnects, 2);
	check_endpoint(&sc->connects[0], "example.org", "80", 9);
	check_endpoint(&sc->connects[1], "2001:db8::2", "81", 10);
	ck_assert_int_eq(sc->send_mode, SEND_ROUNDROBIN);
	ck_assert_int_eq(sc->delivery, DELIVERY_AT_LEAST_ONCE);
	ck_assert_int_eq(sc->has_identity, 1);
	format_identity(sc->identity, id);
	ck_assert_str_eq(id, "00112233445566778899aabbccddeeff");
	ck_assert_uint_eq(sc->heartbeat_interval_ms, 1000);
	ck_assert_uint_eq(sc->heartbeat_timeout_ms, 3000);
	ck_assert_uint_eq(sc->reconnect_delay_ms, 50);
	ck_assert_uint_eq(sc->reconnect_max_delay_ms, 60000);
	ck_assert_uint_eq(sc->connect_timeout_ms, 500);
	ck_assert_uint_eq(sc->resend_timeout_ms, 2 * 3600 * 1000);
	ck_assert_uint_eq(sc->max_retries, 0);
	ck_assert_uint_eq(sc->send_buffer, CONFIG_UNLIMITED);
	ck_assert_uint_eq(sc->recv_buffer, 1);
	ck_assert_uint_eq(sc->peer_buffer, 65536);
	ck_assert_int_eq(sc->overflow, OVERFLOW_DROP_OLD);

	sc = &cfg.sockets[1];
	ck_assert_ptr_eq(config_find_socket(&cfg, "second"), sc);
	ck_assert_int_eq(sc->line, 26);
	ck_assert_uint_eq(sc->nbinds, 0);
	ck_assert_ptr_null(sc->binds);
	ck_assert_uint_eq(sc->nconnects, 1);
	check_endpoint(&sc->connects[0], "127.0.0.1", "25000", 27);
	ck_assert_int_eq(sc->send_mode, SEND_PUBLISH);
	ck_assert_int_eq(sc->overflow, OVERFLOW_DROP_NEW);
	ck_assert_uint_eq(sc->max_retries, CONFIG_UNLIMITED);

	ck_assert_ptr_null(config_find_socket(&cfg, "nope"));
	ck_assert_ptr_null(config_find_socket(&cfg, "ful"));
	config_free(&cfg);
	assert_zeroed(&cfg);
}
END_TEST

START_TEST(test_control_keys)
{
	struct config cfg;

	load_ok("[daemon]\ncontrol_mode = 600\ncontrol_owner = root\n"
	    "control_group = 0\n", &cfg);
	ck_assert_uint_eq(cfg.daemon.control_mode, 0600);
	ck_assert_str_eq(cfg.daemon.control_owner, "root");
	ck_assert_str_eq(cfg.daemon.control_group, "0");
	config_free(&cfg);
	ck_assert_ptr_null(cfg.daemon.control_owner);

	load_ok("[daemon]\ncontrol_mode = 0\ncontrol_owner = 0\n"
	    "control_group = root\n", &cfg);
	ck_assert_uint_eq(cfg.daemon.control_mode, 0);
	ck_assert_str_eq(cfg.daemon.control_owner, "0");
	ck_assert_str_eq(cfg.daemon.control_group, "root");
	config_free(&cfg);

	load_ok("[daemon]\ncontrol_mode = 0777\n", &cfg);
	ck_assert_uint_eq(cfg.daemon.control_mode, 0777);
	config_free(&cfg);
}
END_TEST

static void
check_ids(const struct config_ids *list, size_t n, const id_t *want)
{
	size_t i;

	ck_assert_uint_eq(list->n, n);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(list->ids[i], want[i]);
}

START_TEST(test_access_keys)
{
	static const id_t users[] = { 0, 1234, 0 }, groups[] = { 0 };
	static const char text[] =
	    "[socket a]\n"                                      /* 1 */
	    "bind = *:1\n"
	    "allow_users = root, 1234 ,0\n"
	    "allow_groups = root\n"
	    "max_peers = 1\n"                                   /* 5 */
	    "max_clients = 100\n"
	    "[daemon]\n"
	    "socket_mode = 0640\n"
	    "socket_group = root\n"
	    "[socket b]\n"                                      /* 10 */
	    "bind = *:2\n"
	    "socket_mode = 0\n"
	    "socket_group = 0\n"
	    "max_peers = unlimited\n"
	    "[socket c]\n"                                      /* 15 */
	    "bind = *:3\n"
	    "socket_mode = 600\n";
	const struct socket_conf *sc;
	struct config cfg;

	/* defaults: 0660, the daemon's group, anyone, no limits */
	load_ok(SOCK, &cfg);
	ck_assert_uint_eq(cfg.daemon.socket_mode, 0660);
	ck_assert_ptr_null(cfg.daemon.socket_group);
	sc = &cfg.sockets[0];
	ck_assert_uint_eq(sc->socket_mode, 0660);
	ck_assert_ptr_null(sc->socket_group);
	ck_assert_ptr_null(sc->allow_users);
	ck_assert_ptr_null(sc->allow_groups);
	check_ids(&sc->allow_uids, 0, NULL);
	check_ids(&sc->allow_gids, 0, NULL);
	ck_assert_uint_eq(sc->max_peers, CONFIG_UNLIMITED);
	ck_assert_uint_eq(sc->max_clients, CONFIG_UNLIMITED);
	config_free(&cfg);

	/* [daemon] gives the default even after a socket; a socket's own
	 * value (0000 too) overrides it */
	load_ok(text, &cfg);
	ck_assert_uint_eq(cfg.daemon.socket_mode, 0640);
	ck_assert_str_eq(cfg.daemon.socket_group, "root");
	sc = &cfg.sockets[0];
	ck_assert_uint_eq(sc->socket_mode, 0640);
	ck_assert_str_eq(sc->socket_group, "root");
	ck_assert_str_eq(sc->allow_users, "root,1234,0");
	check_ids(&sc->allow_uids, 3, users);
	ck_assert_str_eq(sc->allow_groups, "root");
	check_ids(&sc->allow_gids, 1, groups);
	ck_assert_uint_eq(sc->max_peers, 1);
	ck_assert_uint_eq(sc->max_clients, 100);
	sc = &cfg.sockets[1];
	ck_assert_uint_eq(sc->socket_mode, 0);
	ck_assert_str_eq(sc->socket_group, "0");
	ck_assert_ptr_null(sc->allow_users);
	check_ids(&sc->allow_uids, 0, NULL);
	ck_assert_uint_eq(sc->max_peers, CONFIG_UNLIMITED);
	ck_assert_uint_eq(cfg.sockets[2].socket_mode, 0600);
	ck_assert_str_eq(cfg.sockets[2].socket_group, "root");
	config_free(&cfg);
	ck_assert_ptr_null(cfg.sockets);
}
END_TEST

START_TEST(test_tls_keys)
{
	static const char text[] =
	    "[socket a]\n"                                     /* 1 */
	    "bind = *:1\nconnect = h:2\ntls = On\n"
	    "tls_cert = certs/../server.pem\n"                 /* 5 */
	    "tls_key = /etc/k.pem\n"
	    "tls_ca = ca.pem\n"
	    "tls_client_ca = clients.pem\n"
	    "tls_server_name = broker.example\n"
	    "tls_verify_client = yes\n"                        /* 10 */
	    "tls_min_version = 1.3\n"
	    "tls_ciphers = ECDHE+AESGCM\n";
	char path[PATH_MAX], err[512], dir[PATH_MAX], want[PATH_MAX + 16];
	const struct tls_conf *t;
	struct config cfg;

	/* defaults: off, and nothing set */
	load_ok(SOCK, &cfg);
	t = &cfg.sockets[0].tls;
	ck_assert_int_eq(t->on, 0);
	ck_assert_int_eq(t->verify_client, 0);
	ck_assert_int_eq(t->min_version, TLS_VERSION_1_2);
	ck_assert_ptr_null(t->cert);
	ck_assert_ptr_null(t->key);
	ck_assert_ptr_null(t->ca);
	ck_assert_ptr_null(t->client_ca);
	ck_assert_ptr_null(t->server_name);
	ck_assert_ptr_null(t->ciphers);
	ck_assert_int_eq(t->cert_line, 0);
	config_free(&cfg);

	/* every key; relative files are taken from the file's directory */
	ck_assert_msg(load_text(text, strlen(text), &cfg, err, sizeof err,
	    path, sizeof path) == 0, "refused: %s", err);
	ck_assert_ptr_nonnull(realpath(test_tmpdir(), dir));
	t = &cfg.sockets[0].tls;
	ck_assert_int_eq(t->on, 1);
	snprintf(want, sizeof want, "%s/server.pem", dir);
	ck_assert_str_eq(t->cert, want);
	ck_assert_int_eq(t->cert_line, 5);
	ck_assert_str_eq(t->key, "/etc/k.pem");
	ck_assert_int_eq(t->key_line, 6);
	snprintf(want, sizeof want, "%s/ca.pem", dir);
	ck_assert_str_eq(t->ca, want);
	ck_assert_int_eq(t->ca_line, 7);
	snprintf(want, sizeof want, "%s/clients.pem", dir);
	ck_assert_str_eq(t->client_ca, want);
	ck_assert_int_eq(t->client_ca_line, 8);
	ck_assert_str_eq(t->server_name, "broker.example");
	ck_assert_int_eq(t->server_name_line, 9);
	ck_assert_int_eq(t->verify_client, 1);
	ck_assert_int_eq(t->min_version, TLS_VERSION_1_3);
	ck_assert_str_eq(t->ciphers, "ECDHE+AESGCM");
	ck_assert_int_eq(t->ciphers_line, 12);
	ck_assert_str_eq(config_choice("tls_min_version", TLS_VERSION_1_3),
	    "1.3");
	config_free(&cfg);
	ck_assert_ptr_null(cfg.sockets);

	/* tls off: the keys may stay, unused; a connect needs no cert */
	load_ok(SOCK "tls = off\ntls_cert = c\ntls_key = k\n", &cfg);
	ck_assert_int_eq(cfg.sockets[0].tls.on, 0);
	config_free(&cfg);
	load_ok("[socket a]\nconnect = h:1\ntls = true\n", &cfg);
	ck_assert_int_eq(cfg.sockets[0].tls.on, 1);
	config_free(&cfg);
	/* mutual TLS may verify clients against tls_ca */
	load_ok(SOCK "tls = 1\ntls_cert = c\ntls_key = k\ntls_ca = ca\n"
	    "tls_verify_client = on\n", &cfg);
	ck_assert_ptr_null(cfg.sockets[0].tls.client_ca);
	config_free(&cfg);
}
END_TEST

START_TEST(test_routes)
{
	struct config cfg;
	const struct socket_conf *a, *b, *c;

	load_ok(SOCK, &cfg);
	ck_assert_ptr_null(cfg.sockets[0].forward);
	ck_assert_uint_eq(cfg.sockets[0].nforward, 0);
	ck_assert_int_eq(cfg.sockets[0].forward_replies, 0);
	config_free(&cfg);

	/* names resolve to indices, later sections included; a diamond
	 * (a -> b, a -> c, b -> c) is no loop */
	load_ok(SOCK "forward = c ,b\nforward_replies = yes\n"
	    "[socket b]\nbind = *:2\nforward = c\n"
	    "[socket c]\nbind = *:3\n", &cfg);
	a = &cfg.sockets[0];
	b = &cfg.sockets[1];
	c = &cfg.sockets[2];
	ck_assert_str_eq(a->forward, "c ,b");
	ck_assert_int_eq(a->forward_line, 3);
	ck_assert_uint_eq(a->nforward, 2);
	ck_assert_uint_eq(a->forward_to[0], 2);
	ck_assert_uint_eq(a->forward_to[1], 1);
	ck_assert_int_eq(a->forward_replies, 1);
	ck_assert_uint_eq(b->nforward, 1);
	ck_assert_uint_eq(b->forward_to[0], 2);
	ck_assert_uint_eq(c->nforward, 0);
	ck_assert_ptr_null(c->forward_to);
	config_free(&cfg);

	/* websocket keys */
	load_ok(SOCK "websocket = on\nwebsocket_origins = https://a.example, "
	    "http://localhost:8080\n", &cfg);
	ck_assert_int_eq(cfg.sockets[0].websocket, 1);
	ck_assert_str_eq(cfg.sockets[0].websocket_origins,
	    "https://a.example, http://localhost:8080");
	ck_assert_int_eq(cfg.sockets[0].websocket_origins_line, 4);
	config_free(&cfg);
}
END_TEST

START_TEST(test_choice)
{
	ck_assert_str_eq(config_choice("send_mode", SEND_PUBLISH), "publish");
	ck_assert_str_eq(config_choice("send_mode", SEND_ROUNDROBIN),
	    "roundrobin");
	ck_assert_str_eq(config_choice("delivery", DELIVERY_AT_LEAST_ONCE),
	    "at-least-once");
	ck_assert_str_eq(config_choice("overflow", OVERFLOW_DROP_OLD),
	    "drop-old");
	ck_assert_str_eq(config_choice("overflow", 3), "?");
	ck_assert_str_eq(config_choice("overflow", -1), "?");
	ck_assert_str_eq(config_choice("bind", 0), "?");
	ck_assert_str_eq(config_choice("nope", 0), "?");
}
END_TEST

START_TEST(test_defaults)
{
	struct config cfg;

	load_ok("[socket only]\nbind = *:7\n", &cfg);
	ck_assert_str_eq(cfg.daemon.runtime_dir, RUNSTATEDIR "/smartsock");
	ck_assert_uint_eq(cfg.daemon.max_message_size, 16 * 1024 * 1024);
	ck_assert_uint_eq(cfg.daemon.control_mode, 0660);
	ck_assert_ptr_null(cfg.daemon.control_owner);
	ck_assert_ptr_null(cfg.daemon.control_group);
	ck_assert_uint_eq(cfg.nsockets, 1);
	check_socket_defaults(&cfg.sockets[0]);
	config_free(&cfg);

	/* an empty [daemon] and an empty file are fine too */
	load_ok("[daemon]\n", &cfg);
	ck_assert_str_eq(cfg.daemon.runtime_dir, RUNSTATEDIR "/smartsock");
	ck_assert_uint_eq(cfg.nsockets, 0);
	config_free(&cfg);
	load_ok("", &cfg);
	ck_assert_uint_eq(cfg.daemon.max_message_size, 16 * 1024 * 1024);
	ck_assert_uint_eq(cfg.nsockets, 0);
	config_free(&cfg);

	/* "random" is the identity default, spelled out */
	load_ok(SOCK "identity = random\n", &cfg);
	ck_assert_int_eq(cfg.sockets[0].has_identity, 0);
	config_free(&cfg);
}
END_TEST

START_TEST(test_lists_and_ipv6)
{
	struct config cfg;
	const struct socket_conf *sc;

	load_ok("[socket l]\n"
	    "connect = [::1]:25000,127.0.0.1:25001 ,\t[fe80::1%eth0]:3\n"
	    "connect=h.example:4\n"
	    "bind = [::]:25000\n"
	    "bind = 0.0.0.0:25000\n", &cfg);
	sc = &cfg.sockets[0];
	ck_assert_uint_eq(sc->nconnects, 4);
	check_endpoint(&sc->connects[0], "::1", "25000", 2);
	check_endpoint(&sc->connects[1], "127.0.0.1", "25001", 2);
	check_endpoint(&sc->connects[2], "fe80::1%eth0", "3", 2);
	check_endpoint(&sc->connects[3], "h.example", "4", 3);
	ck_assert_uint_eq(sc->nbinds, 2);
	check_endpoint(&sc->binds[0], "::", "25000", 4);
	check_endpoint(&sc->binds[1], "0.0.0.0", "25000", 5);
	config_free(&cfg);

	/* the same connect endpoint in two sockets is fine */
	load_ok("[socket a]\nconnect = 127.0.0.1:1\n"
	    "[socket b]\nconnect = 127.0.0.1:1\n", &cfg);
	ck_assert_uint_eq(cfg.nsockets, 2);
	config_free(&cfg);
}
END_TEST

START_TEST(test_comments_and_layout)
{
	static const char text[] =
	    "\xef\xbb\xbf; BOM, then a comment\n"               /* 1 */
	    "# another comment\n"
	    "  [socket c]   \r\n"
	    "\tbind = 0.0.0.0:25000 ; comment\r\n"
	    "    bind = 0.0.0.0:25001\t;comment ; more\n"       /* 5 */
	    "send_mode = publish ;roundrobin\n"
	    "   ; indented comment\n"
	    "overflow = drop-new# not a comment: no space\n";
	static const char good[] =
	    "[socket c]\n"
	    "bind = 0.0.0.0:25000 ; comment\n"
	    "  heartbeat_interval = 1s\n"
	    "  heartbeat_timeout = 2s ; indented keys are not continuations\n"
	    "overflow=drop-new\n";
	struct config cfg;
	const struct socket_conf *sc;

	load_fails(text, strlen(text), 8, "overflow: expected block, "
	    "drop-new or drop-old, got 'drop-new# not a comment: no space'");

	load_ok(good, &cfg);
	sc = &cfg.sockets[0];
	check_endpoint(&sc->binds[0], "0.0.0.0", "25000", 2);
	ck_assert_uint_eq(sc->heartbeat_interval_ms, 1000);
	ck_assert_uint_eq(sc->heartbeat_timeout_ms, 2000);
	config_free(&cfg);

	load_ok("\xef\xbb\xbf[socket c]\r\n"
	    "\tbind = 0.0.0.0:25000 ; comment\r\n"
	    "    bind = 0.0.0.0:25001\t;comment ; more\n"
	    "send_mode = publish ;roundrobin\n", &cfg);
	sc = &cfg.sockets[0];
	ck_assert_str_eq(sc->name, "c");
	ck_assert_uint_eq(sc->nbinds, 2);
	check_endpoint(&sc->binds[0], "0.0.0.0", "25000", 2);
	check_endpoint(&sc->binds[1], "0.0.0.0", "25001", 3);
	ck_assert_int_eq(sc->send_mode, SEND_PUBLISH);
	config_free(&cfg);
}
END_TEST

START_TEST(test_boundaries)
{
	struct config cfg;
	const struct socket_conf *sc;

	load_ok("[daemon]\nmax_message_size = 2G\n"
	    SOCK
	    "heartbeat_interval = 1ms\n"
	    "heartbeat_timeout = 2ms\n"
	    "reconnect_delay = 24h\n"
	    "reconnect_max_delay = 86400s\n"
	    "connect_timeout = 1440m\n"
	    "resend_timeout = 1\n"
	    "max_retries = 18446744073709551614\n"
	    "send_buffer = 1\n"
	    "recv_buffer = unlimited\n"
	    "peer_buffer = 2G\n", &cfg);
	ck_assert_uint_eq(cfg.daemon.max_message_size, 2147483648ULL);
	sc = &cfg.sockets[0];
	ck_assert_uint_eq(sc->heartbeat_interval_ms, 1);
	ck_assert_uint_eq(sc->heartbeat_timeout_ms, 2);
	ck_assert_uint_eq(sc->reconnect_delay_ms, 86400000);
	ck_assert_uint_eq(sc->reconnect_max_delay_ms, 86400000);
	ck_assert_uint_eq(sc->connect_timeout_ms, 86400000);
	ck_assert_uint_eq(sc->resend_timeout_ms, 1000);
	ck_assert_uint_eq(sc->max_retries, CONFIG_UNLIMITED - 1);
	ck_assert_uint_eq(sc->send_buffer, 1);
	ck_assert_uint_eq(sc->recv_buffer, CONFIG_UNLIMITED);
	ck_assert_uint_eq(sc->peer_buffer, 2ULL << 30);
	config_free(&cfg);

	load_ok("[daemon]\nmax_message_size = 1\n", &cfg);
	ck_assert_uint_eq(cfg.daemon.max_message_size, 1);
	config_free(&cfg);
}
END_TEST

struct errcase {
	const char *text;
	int line;
	const char *word;
};

static const struct errcase error_cases[] = {
	/* sections */
	{ "[daemon]\n\n[sockets a]\nbind = *:1\n", 3,
	  "unknown section [sockets a]" },
	{ "[Daemon]\n", 1, "unknown section [Daemon]" },
	{ "; c\n[socket a]\nbind = *:1\n[foo]\n", 4, "unknown section [foo]" },
	{ "[socket]\n", 1, "needs a name" },
	{ "[socket a b]\n", 1, "invalid socket name 'a b'" },
	{ "[socket a/b]\n", 1, "invalid socket name" },
	{ "[socket "
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "]\n", 1, "invalid socket name" },
	{ "[daemon x]\n", 1, "[daemon] takes no name" },
	{ "[socket a]\nbind = *:1\n[socket b]\nbind = *:2\n"
	  "[socket a]\nbind = *:3\n", 5,
	  "duplicate socket name 'a' (first at line 1)" },
	{ "[daemon]\nmax_message_size = 1M\n[socket a]\nbind = *:1\n"
	  "[daemon]\n", 5, "duplicate [daemon] section (first at line 1)" },

	/* syntax */
	{ "bind = *:1\n", 1, "key 'bind' outside of any section" },
	{ "\n\n[socket a]\nbind *:1\n", 4, "expected 'key = value'" },
	{ SOCK "bind: *:2\n", 3, "expected 'key = value'" },
	{ "[socket a\nbind = *:1\n", 1, "must end with ']'" },
	{ "[socket a] junk\n", 1, "must end with ']'" },
	{ SOCK " = *:2\n", 3, "invalid key ''" },
	{ SOCK "bi nd = *:2\n", 3, "invalid key 'bi nd'" },
	{ "[socket a]\r\nbind = *:1\r\n; c\r\n\r\nfoo = 1\r\n", 5,
	  "unknown key 'foo'" },
	{ "  [socket a]\n\tbind = *:1\n   foo = 1\n", 3, "unknown key 'foo'" },

	/* keys */
	{ "[daemon]\nruntime_dir = /x\nbind = *:1\n", 3,
	  "unknown key 'bind' in [daemon]" },
	{ "[socket a]\nbind = *:1\n\nheartbeat = 5s\n", 4,
	  "unknown key 'heartbeat' in [socket a]" },
	{ SOCK "max_message_size = 1M\n", 3, "unknown key" },
	{ SOCK "Bind = *:2\n", 3, "unknown key 'Bind'" },
	{ SOCK "heartbeat_interval = 1s\nheartbeat_interval = 2s\n", 4,
	  "heartbeat_interval given twice (first at line 3)" },
	{ "[daemon]\nruntime_dir = /a\nruntime_dir = /a\n", 3,
	  "runtime_dir given twice (first at line 2)" },
	{ SOCK "identity = random\n\nidentity = random\n", 5, "given twice" },
	{ SOCK "send_mode = publish\n[socket b]\nbind = *:2\n"
	  "send_mode = publish\nsend_mode = roundrobin\n", 7,
	  "send_mode given twice (first at line 6)" },

	/* malformed values */
	{ SOCK "heartbeat_interval = fast\n", 3,
	  "heartbeat_interval: expected a whole number with unit ms, s, m or h"
	  " (e.g. 100ms, 5s), got 'fast'" },
	{ SOCK "heartbeat_interval = 1.5s\n", 3, "expected a whole number" },
	{ SOCK "heartbeat_interval = 5 s\n", 3, "expected a whole number" },
	{ SOCK "heartbeat_interval = 5sec\n", 3, "expected a whole number" },
	{ SOCK "heartbeat_interval =\n", 3, "got ''" },
	{ SOCK "send_mode = broadcast\n", 3,
	  "send_mode: expected roundrobin or publish, got 'broadcast'" },
	{ SOCK "send_mode = publish;x\n", 3, "got 'publish;x'" },
	{ SOCK "delivery = exactly-once\n", 3,
	  "delivery: expected at-most-once or at-least-once" },
	{ SOCK "overflow = drop\n", 3,
	  "overflow: expected block, drop-new or drop-old, got 'drop'" },
	{ SOCK "identity = 0011\n", 3,
	  "identity: expected 32 hex digits or random" },
	{ SOCK "identity = 00112233445566778899aabbccddeefg\n", 3,
	  "identity: expected" },
	{ SOCK "send_buffer = lots\n", 3,
	  "send_buffer: expected a whole number or unlimited" },
	{ SOCK "max_retries = 1K\n", 3, "max_retries: expected" },
	{ SOCK "peer_buffer = unlimited\n", 3, "peer_buffer: expected a size" },
	{ SOCK "peer_buffer = 4X\n", 3, "expected a size" },
	{ SOCK "peer_buffer = 4.5M\n", 3, "expected a size" },
	{ SOCK "bind = 127.0.0.1\n", 3, "bind: expected HOST:PORT" },
	{ SOCK "bind = 127.0.0.1:0\n", 3, "bind: expected" },
	{ SOCK "connect = 127.0.0.1:65536\n", 3, "connect: expected" },
	{ SOCK "connect = ::1:25000\n", 3, "got '::1:25000'" },
	{ SOCK "connect = h:1,,h:2\n", 3, "connect: empty endpoint" },
	{ SOCK "connect = h:1, *:2\n", 3, "connect: '*' is for bind only" },
	{ SOCK "connect = h:1,\n", 3, "empty endpoint" },
	{ SOCK "connect =\n", 3, "empty endpoint" },
	{ "[daemon]\nruntime_dir =\n", 2, "runtime_dir: expected" },
	{ "[daemon]\nmax_message_size = 16 M\n", 2, "expected a size" },

	/* out of range */
	{ SOCK "heartbeat_interval = 0\n", 3,
	  "heartbeat_interval: '0' is out of range: expected 1ms .. 24h" },
	{ SOCK "connect_timeout = 0ms\n", 3, "out of range" },
	{ SOCK "reconnect_delay = 25h\n", 3, "out of range" },
	{ SOCK "reconnect_max_delay = 86400001ms\n", 3, "out of range" },
	{ SOCK "resend_timeout = -1\n", 3,
	  "resend_timeout: '-1' is out of range: negative" },
	{ SOCK "resend_timeout = -5s\n", 3, "negative" },
	{ SOCK "resend_timeout = 99999999999999999999s\n", 3,
	  "resend_timeout: '99999999999999999999s' is out of range: "
	  "too large" },
	{ SOCK "resend_timeout = 18446744073709552s\n", 3, "too large" },
	{ SOCK "send_buffer = 0\n", 3, "send_buffer: '0' is out of range" },
	{ SOCK "recv_buffer = 0\n", 3, "recv_buffer: '0' is out of range" },
	{ SOCK "recv_buffer = -1\n", 3, "negative" },
	{ SOCK "max_retries = -1\n", 3, "negative" },
	{ SOCK "max_retries = 18446744073709551616\n", 3, "too large" },
	{ SOCK "max_retries = 18446744073709551615\n", 3, "out of range" },
	{ SOCK "peer_buffer = 0\n", 3, "peer_buffer: '0' is out of range" },
	{ SOCK "peer_buffer = 17179869184G\n", 3, "too large" },
	{ SOCK "peer_buffer = 2049M\n", 3, "expected 1 .. 2G" },
	{ "[daemon]\nmax_message_size = 0\n", 2,
	  "max_message_size: '0' is out of range: expected 1 .. 2G" },
	{ "[daemon]\nmax_message_size = 2147483649\n", 2, "out of range" },
	{ "[daemon]\nmax_message_size = 17179869184G\n", 2, "too large" },
	{ "[daemon]\nmax_message_size = -1M\n", 2, "negative" },
	{ "[daemon]\ncontrol_mode = 0680\n", 2,
	  "control_mode: expected an octal file mode (e.g. 0660), got '0680'" },
	{ "[daemon]\ncontrol_mode = 9\n", 2, "expected an octal file mode" },
	{ "[daemon]\ncontrol_mode = rw-rw----\n", 2, "expected an octal" },
	{ "[daemon]\ncontrol_mode = -660\n", 2, "negative" },
	{ "[daemon]\ncontrol_mode = 1777\n", 2,
	  "control_mode: '1777' is out of range: expected 0000 .. 0777" },
	{ "[daemon]\ncontrol_mode = 00660\n", 2, "expected an octal" },
	{ "[daemon]\ncontrol_mode =\n", 2, "expected an octal" },
	{ "[daemon]\ncontrol_owner = no-such-user-smartsock\n", 2,
	  "control_owner: expected a user name or uid, got "
	  "'no-such-user-smartsock': no such user" },
	{ "[daemon]\ncontrol_group = no-such-group-smartsock\n", 2,
	  "control_group: expected a group name or gid, got "
	  "'no-such-group-smartsock': no such group" },
	{ "[daemon]\ncontrol_owner =\n", 2, "no such user" },
	{ "[daemon]\ncontrol_group = 4294967295\n", 2, "no such group" },
	{ "[daemon]\ncontrol_group = root\ncontrol_group = root\n", 3,
	  "control_group given twice (first at line 2)" },
	{ SOCK "control_mode = 0600\n", 3, "unknown key 'control_mode' in "
	  "[socket a]" },

	/* access control and limits */
	{ SOCK "socket_mode = 0680\n", 3,
	  "socket_mode: expected an octal file mode (e.g. 0660), got '0680'" },
	{ SOCK "socket_mode = 1777\n", 3,
	  "socket_mode: '1777' is out of range: expected 0000 .. 0777" },
	{ SOCK "socket_mode =\n", 3, "expected an octal" },
	{ "[daemon]\nsocket_mode = 2660\n", 2, "out of range" },
	{ "[daemon]\nsocket_mode = -1\n", 2, "negative" },
	{ SOCK "socket_group = no-such-group-smartsock\n", 3,
	  "socket_group: expected a group name or gid, got "
	  "'no-such-group-smartsock': no such group" },
	{ "[daemon]\nsocket_group = no-such-group-smartsock\n", 2,
	  "no such group" },
	{ "[daemon]\nsocket_group = 4294967295\n", 2, "no such group" },
	{ SOCK "socket_group =\n", 3, "no such group" },
	{ SOCK "allow_users = no-such-user-smartsock\n", 3,
	  "allow_users: no such user 'no-such-user-smartsock'" },
	{ SOCK "allow_users = root, 0,no-such-user-smartsock\n", 3,
	  "allow_users: no such user 'no-such-user-smartsock'" },
	{ SOCK "allow_users = 4294967295\n", 3, "no such user '4294967295'" },
	{ SOCK "allow_users = -1\n", 3, "no such user '-1'" },
	{ SOCK "allow_users =\n", 3, "allow_users: expected user names or "
	  "uids, separated by commas, got '': an empty user" },
	{ SOCK "allow_users = root,\n", 3, "an empty user" },
	{ SOCK "allow_users = ,root\n", 3, "an empty user" },
	{ SOCK "allow_groups = root,,0\n", 3, "allow_groups: expected group "
	  "names or gids, separated by commas, got 'root,,0': an empty group" },
	{ SOCK "allow_groups = no-such-group-smartsock\n", 3,
	  "allow_groups: no such group 'no-such-group-smartsock'" },
	{ SOCK "allow_groups = root\nallow_groups = root\n", 4,
	  "allow_groups given twice (first at line 3)" },
	{ "[daemon]\nallow_users = root\n", 2,
	  "unknown key 'allow_users' in [daemon]" },
	{ SOCK "max_peers = 0\n", 3,
	  "max_peers: '0' is out of range: expected 1 or more, or unlimited" },
	{ SOCK "max_peers = -1\n", 3, "negative" },
	{ SOCK "max_peers = 18446744073709551616\n", 3, "too large" },
	{ SOCK "max_clients = 0\n", 3, "max_clients: '0' is out of range" },
	{ SOCK "max_clients = lots\n", 3,
	  "max_clients: expected a whole number or unlimited, got 'lots'" },
	{ "[daemon]\nmax_clients = 1\n", 2,
	  "unknown key 'max_clients' in [daemon]" },

	/* edge values of every numeric type: empty, negative, past u64,
	 * past u64 only through the unit, in u64 but out of range */
	{ SOCK "resend_timeout = 99999999999h\n", 3,
	  "resend_timeout: '99999999999h' is out of range: expected 1ms .. "
	  "24h" },
	{ SOCK "connect_timeout = 18446744073709551616\n", 3,
	  "connect_timeout: '18446744073709551616' is out of range: too "
	  "large" },
	{ SOCK "connect_timeout = 18446744073709551615\n", 3, "too large" },
	{ SOCK "reconnect_delay = 18446744073709551616ms\n", 3, "too large" },
	{ SOCK "reconnect_delay = 18446744073709551615ms\n", 3,
	  "'18446744073709551615ms' is out of range: expected 1ms .. 24h" },
	{ SOCK "heartbeat_timeout = 5124095576031h\n", 3, "too large" },
	{ SOCK "heartbeat_timeout = 5124095576030h\n", 3,
	  "expected 1ms .. 24h" },
	{ SOCK "resend_timeout = 307445734561826m\n", 3, "too large" },
	{ SOCK "resend_timeout = 0h\n", 3, "out of range: expected 1ms" },
	{ SOCK "resend_timeout = -0\n", 3, "negative" },
	{ SOCK "connect_timeout =\n", 3,
	  "connect_timeout: expected a whole number with unit" },
	{ SOCK "resend_timeout = 5G\n", 3, "expected a whole number" },
	{ SOCK "send_buffer =\n", 3,
	  "send_buffer: expected a whole number or unlimited, got ''" },
	{ SOCK "max_retries =\n", 3, "max_retries: expected a whole number" },
	{ SOCK "send_buffer = -1\n", 3, "send_buffer: '-1' is out of range: "
	  "negative" },
	{ SOCK "send_buffer = 18446744073709551615\n", 3,
	  "send_buffer: '18446744073709551615' is out of range: expected 1 "
	  "or more, or unlimited" },
	{ SOCK "recv_buffer = 18446744073709551615\n", 3, "out of range" },
	{ SOCK "recv_buffer = 18446744073709551616\n", 3, "too large" },
	{ SOCK "recv_buffer = 99999999999h\n", 3,
	  "recv_buffer: expected a whole number or unlimited" },
	{ SOCK "send_buffer = 10K\n", 3, "expected a whole number" },
	{ SOCK "send_buffer = UNLIMITED\n", 3, "got 'UNLIMITED'" },
	{ SOCK "max_retries = 0x10\n", 3, "expected a whole number" },
	{ SOCK "max_retries = +5\n", 3, "expected a whole number" },
	{ SOCK "peer_buffer =\n", 3, "peer_buffer: expected a size" },
	{ "[daemon]\nmax_message_size =\n", 2,
	  "max_message_size: expected a size in bytes" },
	{ SOCK "peer_buffer = -1\n", 3, "negative" },
	{ SOCK "peer_buffer = 0G\n", 3, "peer_buffer: '0G' is out of range: "
	  "expected 1 .. 2G" },
	{ SOCK "peer_buffer = 18446744073709551616\n", 3, "too large" },
	{ SOCK "peer_buffer = 18446744073709551615\n", 3,
	  "expected 1 .. 2G" },
	{ SOCK "peer_buffer = 18446744073709551615K\n", 3, "too large" },
	{ "[daemon]\nmax_message_size = 17179869183G\n", 2,
	  "'17179869183G' is out of range: expected 1 .. 2G" },
	{ "[daemon]\nmax_message_size = 2097153K\n", 2, "expected 1 .. 2G" },
	{ "[daemon]\nmax_message_size = 99999999999h\n", 2,
	  "expected a size" },
	{ "[daemon]\nmax_message_size = 1e3\n", 2, "expected a size" },
	{ "[daemon]\ncontrol_mode = -1\n", 2, "negative" },
	{ "[daemon]\ncontrol_mode = 18446744073709551616\n", 2,
	  "control_mode: expected an octal file mode" },
	{ "[daemon]\ncontrol_mode = 0x1ff\n", 2, "expected an octal" },
	{ "[daemon]\ncontrol_owner = 4294967295\n", 2, "no such user" },
	{ "[daemon]\ncontrol_owner = 4294967296\n", 2, "no such user" },
	{ "[daemon]\ncontrol_owner = 18446744073709551616\n", 2,
	  "no such user" },
	{ "[daemon]\ncontrol_owner = -1\n", 2, "no such user" },
	{ "[daemon]\ncontrol_group = 4294967296\n", 2, "no such group" },
	{ "[daemon]\ncontrol_group = -1\n", 2, "no such group" },
	{ "[daemon]\ncontrol_group =\n", 2, "no such group" },

	/* whole-socket checks, at the line that made them fail */
	{ "[socket a]\nbind = *:1\nsend_mode = publish\n\n"
	  "delivery = at-least-once\n", 5,
	  "delivery = at-least-once is not possible with send_mode = "
	  "publish" },
	{ "[socket a]\nbind = *:1\ndelivery = at-least-once\n"
	  "send_mode = publish\n[socket b]\nbind = *:2\n", 4, "not possible" },
	{ SOCK "heartbeat_interval = 15s\n", 3,
	  "heartbeat_timeout (15s) must be greater than heartbeat_interval "
	  "(15s)" },
	{ SOCK "heartbeat_timeout = 2s\nconnect_timeout = 1s\n", 3,
	  "heartbeat_timeout (2s) must be greater than heartbeat_interval "
	  "(5s)" },
	{ SOCK "heartbeat_timeout = 20s\nheartbeat_interval = 30s\n\n", 4,
	  "must be greater" },
	{ SOCK "reconnect_delay = 11s\n", 3,
	  "reconnect_max_delay (10s) must be at least reconnect_delay (11s)" },
	{ SOCK "reconnect_max_delay = 50ms\n[socket b]\nbind = *:2\n", 3,
	  "reconnect_max_delay (50ms)" },
	{ "[daemon]\n[socket a]\n; nothing\nsend_mode = publish\n"
	  "[socket b]\nbind = *:1\n", 2, "socket 'a' has no bind or connect" },
	{ "[socket a]\nbind = *:1\n\n[socket b]\n", 4,
	  "socket 'b' has no bind or connect" },
	{ "[daemon]\nruntime_dir = /" A95 "\n[socket a]\nbind = *:1\n"
	  "[socket abcdef]\nbind = *:2\n", 5,
	  "socket 'abcdef': /" A95 "/abcdef.sock is too long for a Unix "
	  "socket (108 bytes, at most 107)" },
	{ SOCK "[daemon]\nruntime_dir = /" A100 A10 "\n", 1,
	  "too long for a Unix socket" },
	/* control.sock is the longest name when sockets are short */
	{ "[socket a]\nbind = *:1\n[daemon]\n\nruntime_dir = /" A95 "\n", 5,
	  "/" A95 "/control.sock is too long for a Unix socket (109 bytes, "
	  "at most 107)" },
	{ "[daemon]\nruntime_dir = /" A95 "\n", 2, "control.sock is too long" },
	/* ... and its name is taken */
	{ "[daemon]\n[socket control]\nbind = *:1\n", 2,
	  "socket name 'control' is reserved: runtime_dir/control.sock is "
	  "the control socket" },

	{ "[daemon]\nlog_facility = kern\n", 2,
	  "log_facility: expected daemon, user, local0" },
	{ SOCK "log_facility = user\n", 3, "unknown key 'log_facility' in "
	  "[socket a]" },

	/* TLS: the keys' values, and what tls = on needs */
	{ SOCK "tls = maybe\n", 3, "tls: expected on or off, got 'maybe'" },
	{ SOCK "tls_verify_client = 2\n", 3, "expected on or off" },
	{ SOCK "tls_min_version = 1.1\n", 3,
	  "tls_min_version: expected 1.2 or 1.3, got '1.1'" },
	{ SOCK "tls_cert =\n", 3, "tls_cert: expected a file path" },
	{ SOCK "tls_ciphers =\n", 3, "tls_ciphers: expected a non-empty "
	  "string" },
	{ SOCK "tls = on\n", 3, "socket 'a': tls = on with a bind endpoint "
	  "needs tls_cert and tls_key" },
	{ SOCK "tls_cert = c.pem\n\n", 3, "tls_cert is set without tls_key" },
	{ SOCK "tls_key = k.pem\n", 3, "tls_key is set without tls_cert" },
	{ SOCK "tls = on\ntls_cert = c\ntls_key = k\ntls_verify_client = on\n",
	  6, "tls_verify_client = on needs tls_client_ca (or tls_ca)" },
	{ SOCK "tls = yes\ntls = no\n", 4, "tls given twice" },

	/* one bind endpoint, one socket */
	{ "[socket a]\nbind = 127.0.0.1:25000\n[socket b]\n"
	  "connect = 127.0.0.1:25000\n"
	  "bind = 127.0.0.1:25001, 127.0.0.1:25000\n", 5,
	  "bind: 127.0.0.1:25000 conflicts with bind of socket 'a' at line 2" },
	{ "[socket a]\nbind = *:25000\n[socket b]\nbind = 10.0.0.1:25000\n",
	  4, "conflicts with bind of socket 'a'" },
	{ "[socket a]\nbind = 10.0.0.1:25000\n[socket b]\nbind = *:25000\n",
	  4, "conflicts" },
	{ "[socket a]\nbind = [::1]:25000\n[socket b]\nbind = [::1]:25000\n",
	  4, "bind: [::1]:25000 conflicts" },
	{ "[socket a]\nbind = h:1\nbind = H:1\n", 3,
	  "conflicts with bind of socket 'a' at line 2" },

	/* routes */
	{ SOCK "forward = b\n", 3, "forward: no socket named 'b'" },
	{ SOCK "forward = a\n", 3, "forward: socket 'a' cannot forward to "
	  "itself" },
	{ SOCK "forward =  \n", 3, "forward: expected a non-empty string" },
	{ SOCK "forward = b,\n[socket b]\nbind = *:2\n", 3,
	  "forward: empty socket name in 'b,'" },
	{ SOCK "forward = b, b\n[socket b]\nbind = *:2\n", 3,
	  "forward: 'b' is named twice" },
	{ SOCK "forward_replies = on\n", 3,
	  "forward_replies = on needs forward" },
	{ SOCK "forward = b\n[socket b]\nbind = *:2\nforward = a\n", 3,
	  "forward: routes form a loop: a -> b -> a" },
	{ SOCK "forward = b\n[socket b]\nbind = *:2\nforward = c\n"
	  "[socket c]\nbind = *:3\nforward = d, b\n[socket d]\nbind = *:4\n",
	  6, "forward: routes form a loop: b -> c -> b" },
	{ SOCK "forward = b\nforward = c\n", 4, "forward given twice" },

	/* websocket */
	{ "[socket a]\nconnect = h:1\nwebsocket = on\n", 3,
	  "websocket = on needs a bind endpoint" },
	{ SOCK "websocket = maybe\n", 3, "websocket: expected" },
};

START_TEST(test_errors)
{
	const struct errcase *c = &error_cases[_i];

	load_fails(c->text, strlen(c->text), c->line, c->word);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "[socket a]\nbind = *:1\nsend_\0mode = x\n";

	load_fails(text, sizeof text - 1, 3, "NUL byte");
}
END_TEST

START_TEST(test_long_line)
{
	char text[4096];
	struct config cfg;
	size_t n;
	int i;

	/* a long comment is fine */
	n = (size_t)snprintf(text, sizeof text, "[socket a]\nbind = *:1 ;");
	memset(text + n, 'x', 1000);
	snprintf(text + n + 1000, sizeof text - n - 1000, "\n");
	load_ok(text, &cfg);
	config_free(&cfg);

	n = (size_t)snprintf(text, sizeof text, "[socket a]\nbind = *:1\n"
	    "connect = 127.0.0.1:9999");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
		    ",127.0.0.1:%d", 10000 + i);
	snprintf(text + n, sizeof text - n, "\n");
	load_fails(text, strlen(text), 3, "line too long");
}
END_TEST

START_TEST(test_cannot_open)
{
	char err[512], want[512];
	struct config cfg;
	const char *path = "/nonexistent/smartsock/x.conf";

	ck_assert_int_eq(config_load(path, &cfg, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:0: cannot open: %s", path,
	    strerror(ENOENT));
	ck_assert_str_eq(err, want);
	assert_zeroed(&cfg);

	ck_assert_int_eq(config_load(test_tmpdir(), &cfg, err, sizeof err),
	    -1);
	snprintf(want, sizeof want, "%s:0: cannot read: ", test_tmpdir());
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s'", err);
	assert_zeroed(&cfg);
}
END_TEST

START_TEST(test_error_buffer)
{
	char path[PATH_MAX], err[12];
	struct config cfg;
	const char *text = "[socket a]\n";

	/* truncated, still terminated */
	memset(err, 'x', sizeof err);
	ck_assert_int_eq(load_text(text, strlen(text), &cfg, err, sizeof err,
	    path, sizeof path), -1);
	ck_assert_uint_eq(strlen(err), sizeof err - 1);
	ck_assert_int_eq(load_text(text, strlen(text), &cfg, NULL, 0, path,
	    sizeof path), -1);
	assert_zeroed(&cfg);
}
END_TEST

START_TEST(test_free)
{
	struct config cfg;

	memset(&cfg, 0, sizeof cfg);
	config_free(&cfg);
	config_free(&cfg);
	load_ok(SOCK "connect = h:2\n", &cfg);
	config_free(&cfg);
	assert_zeroed(&cfg);
	config_free(&cfg);
}
END_TEST

/* Lay out base/conf/x.conf; returns the real path of base in real. */
static void
make_tree(char *base, size_t baselen, char *real, const char *conf)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(base, baselen, "%s/check_config.XXXXXX", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_ptr_nonnull(realpath(base, real));
	snprintf(path, sizeof path, "%s/conf", base);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/conf/x.conf", base);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(conf, f);
	fclose(f);
}

static void
remove_tree(const char *base)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/conf/x.conf", base);
	unlink(path);
	snprintf(path, sizeof path, "%s/conf", base);
	rmdir(path);
	rmdir(base);
}

static void
check_runtime_dir(const char *conf, const char *cwd, const char *file,
    const char *want_rel)
{
	char base[PATH_MAX], real[PATH_MAX], old[PATH_MAX], err[512];
	char want[PATH_MAX * 2], dir[PATH_MAX + 16];
	struct config cfg;
	int rc;

	make_tree(base, sizeof base, real, conf);
	ck_assert_ptr_nonnull(getcwd(old, sizeof old));
	snprintf(dir, sizeof dir, "%s%s", base, cwd);
	ck_assert_int_eq(chdir(dir), 0);
	rc = config_load(file, &cfg, err, sizeof err);
	ck_assert_int_eq(chdir(old), 0);
	remove_tree(base);

	ck_assert_msg(rc == 0, "refused: %s", err);
	if (want_rel[0] == '=')         /* absolute */
		snprintf(want, sizeof want, "%s", want_rel + 1);
	else
		snprintf(want, sizeof want, "%s%s", real, want_rel);
	ck_assert_str_eq(cfg.daemon.runtime_dir, want);
	ck_assert_str_eq(cfg.path, file);
	config_free(&cfg);
}

START_TEST(test_relative_runtime_dir)
{
	check_runtime_dir("[daemon]\nruntime_dir = ../run\n", "",
	    "conf/x.conf", "/run");
	check_runtime_dir("[daemon]\nruntime_dir = ../run\n", "/conf",
	    "x.conf", "/run");
	check_runtime_dir("[daemon]\nruntime_dir = ../run\n", "/conf",
	    "./../conf/x.conf", "/run");
	check_runtime_dir("[daemon]\nruntime_dir = state\n", "",
	    "conf/x.conf", "/conf/state");
	check_runtime_dir("[daemon]\nruntime_dir = ./a//b/../c/\n", "",
	    "conf/x.conf", "/conf/a/c");
	check_runtime_dir("[daemon]\nruntime_dir = ../../../../../../../..\n",
	    "", "conf/x.conf", "=/");
}
END_TEST

START_TEST(test_relative_runtime_dir_absolute_file)
{
	char base[PATH_MAX], real[PATH_MAX], path[PATH_MAX + 16], err[512];
	char want[PATH_MAX + 16];
	struct config cfg;
	int rc;

	make_tree(base, sizeof base, real, "[daemon]\nruntime_dir = run\n");
	snprintf(path, sizeof path, "%s/conf/x.conf", real);
	rc = config_load(path, &cfg, err, sizeof err);
	remove_tree(base);
	ck_assert_msg(rc == 0, "refused: %s", err);
	snprintf(want, sizeof want, "%s/conf/run", real);
	ck_assert_str_eq(cfg.daemon.runtime_dir, want);
	config_free(&cfg);
}
END_TEST

/*
 * config_runtime_dir() reads only [daemon] runtime_dir: smartsockctl -c
 * and smartsock-cat -c find the daemon while the rest of the file has an
 * error (one an operator is in the middle of editing, say).
 */
static const struct {
	const char *text;
	const char *dir;                /* NULL: an error at err_at */
	const char *err_at;
} runtime_dir_cases[] = {
	{ "[daemon]\nruntime_dir = /srv/ss\n", "/srv/ss", NULL },
	{ "[daemon]\nruntime_dir = /srv/ss ; here\nbogus = 1\n", "/srv/ss",
	  NULL },
	{ "[daemon]\nruntime_dir=/srv/ss\n[socket a]\nbind = nowhere\n"
	  "this is not ini\n", "/srv/ss", NULL },
	{ "garbage first\n[socket a]\nruntime_dir = /elsewhere\n[daemon]\n"
	  "max_message_size = huge\n  runtime_dir = /srv/x/../ss/\n",
	  "/srv/ss", NULL },
	{ "[daemon]\nlog_level = loud\n", RUNSTATEDIR "/smartsock", NULL },
	{ "", RUNSTATEDIR "/smartsock", NULL },
	{ "[daemon]\nruntime_dir =\n", NULL, ":2: " },
};

START_TEST(test_config_runtime_dir)
{
	char path[PATH_MAX], err[512], *dir;
	const char *text = runtime_dir_cases[_i].text;
	const char *want = runtime_dir_cases[_i].dir;

	write_temp(text, strlen(text), path, sizeof path);
	dir = config_runtime_dir(path, err, sizeof err);
	unlink(path);
	if (want == NULL) {
		ck_assert_ptr_null(dir);
		ck_assert_msg(strstr(err, runtime_dir_cases[_i].err_at) != NULL
		    && strncmp(err, path, strlen(path)) == 0, "err: %s", err);
		return;
	}
	ck_assert_msg(dir != NULL, "%s", err);
	ck_assert_str_eq(dir, want);
	free(dir);
}
END_TEST

/* A relative runtime_dir is taken from the file's directory; a file that
 * is not there says so, with its name. */
START_TEST(test_config_runtime_dir_paths)
{
	char path[PATH_MAX], err[512], want[PATH_MAX], *dir, *real;
	const char *text = "[daemon]\nruntime_dir = run\n";

	write_temp(text, strlen(text), path, sizeof path);
	dir = config_runtime_dir(path, err, sizeof err);
	unlink(path);
	ck_assert_ptr_nonnull(real = realpath(test_tmpdir(), NULL));
	snprintf(want, sizeof want, "%s/run", real);
	free(real);
	ck_assert_msg(dir != NULL, "%s", err);
	ck_assert_str_eq(dir, want);
	free(dir);
	ck_assert_ptr_null(config_runtime_dir("/nonexistent/smartsockd.conf",
	    err, sizeof err));
	ck_assert_str_eq(err, "/nonexistent/smartsockd.conf:0: cannot open: "
	    "No such file or directory");
}
END_TEST

/* config_print_defaults() into a file, optionally with ';' removed. */
static void
print_defaults(char *path, size_t pathlen, int uncomment)
{
	char line[1024], tmp[PATH_MAX];
	FILE *in, *out;
	int fd, saved;

	snprintf(tmp, sizeof tmp, "%s/check_config.XXXXXX", test_tmpdir());
	ck_assert_int_ne(fd = mkstemp(tmp), -1);
	fflush(stdout);
	ck_assert_int_ne(saved = dup(STDOUT_FILENO), -1);
	ck_assert_int_ne(dup2(fd, STDOUT_FILENO), -1);
	config_print_defaults();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);

	snprintf(path, pathlen, "%s", tmp);
	if (!uncomment)
		return;
	snprintf(path, pathlen, "%s/check_config.XXXXXX", test_tmpdir());
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(out = fdopen(fd, "w"));
	ck_assert_ptr_nonnull(in = fopen(tmp, "r"));
	/* forward's example names sockets this file does not have */
	while (fgets(line, sizeof line, in) != NULL)
		if (strncmp(line, ";forward = ", 11) != 0)
			fputs(line[0] == ';' ? line + 1 : line, out);
	fclose(in);
	fclose(out);
	unlink(tmp);
}

START_TEST(test_print_defaults)
{
	static const char *const keys[] = {
		"runtime_dir", "max_message_size", "bind", "connect",
		"send_mode", "delivery", "identity", "heartbeat_interval",
		"heartbeat_timeout", "reconnect_delay", "reconnect_max_delay",
		"connect_timeout", "resend_timeout", "max_retries",
		"send_buffer", "recv_buffer", "peer_buffer", "overflow",
		"control_mode", "control_owner", "control_group", "tls",
		"tls_cert", "tls_key", "tls_ca", "tls_server_name",
		"tls_verify_client", "tls_client_ca", "tls_min_version",
		"tls_ciphers", "socket_mode", "socket_group", "max_peers",
		"max_clients", "allow_users", "allow_groups", "forward",
		"forward_replies", "websocket", "websocket_origins",
	};
	char path[PATH_MAX], err[512], text[16384], want[64];
	struct config cfg;
	FILE *f;
	size_t i, n;
	int rc;

	print_defaults(path, sizeof path, 0);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	rc = config_load(path, &cfg, err, sizeof err);
	unlink(path);

	ck_assert_msg(rc == 0, "refused: %s", err);
	ck_assert_uint_eq(cfg.nsockets, 0);
	ck_assert_str_eq(cfg.daemon.runtime_dir, RUNSTATEDIR "/smartsock");
	config_free(&cfg);
	ck_assert_ptr_nonnull(strstr(text, "\n[daemon]\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n;[socket example]\n"));
	for (i = 0; i < nitems(keys); i++) {
		snprintf(want, sizeof want, "\n;%s = ", keys[i]);
		ck_assert_msg(strstr(text, want) != NULL, "no %s", keys[i]);
	}
	ck_assert_ptr_nonnull(strstr(text, "\n;max_message_size = 16M\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n;heartbeat_interval = 5s\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n;control_mode = 0660\n"));

	/* uncommented, every default must load and mean what it says */
	print_defaults(path, sizeof path, 1);
	rc = config_load(path, &cfg, err, sizeof err);
	unlink(path);
	ck_assert_msg(rc == 0, "refused: %s", err);
	ck_assert_uint_eq(cfg.nsockets, 1);
	ck_assert_str_eq(cfg.sockets[0].name, "example");
	ck_assert_uint_eq(cfg.daemon.max_message_size, 16 * 1024 * 1024);
	ck_assert_str_eq(cfg.daemon.runtime_dir, RUNSTATEDIR "/smartsock");
	check_socket_defaults(&cfg.sockets[0]);
	config_free(&cfg);
}
END_TEST

/* The whole of a file, NUL-terminated; the caller frees it. */
static char *
read_whole_file(const char *path)
{
	FILE *f;
	char *text;
	long n;

	ck_assert_msg((f = fopen(path, "r")) != NULL, "%s: %s", path,
	    strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	ck_assert_int_ge(n = ftell(f), 0);
	rewind(f);
	ck_assert_ptr_nonnull(text = malloc((size_t)n + 1));
	ck_assert_uint_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	return text;
}

/*
 * The shipped conf/smartsockd.conf (installed as the configuration) is
 * exactly what config_print_defaults() prints, so it cannot drift from the
 * option table.  Its runtime_dir line says /run/smartsock; make install
 * puts the build's runstatedir there, and so does this comparison.  When
 * they differ, the current defaults are written to smartsockd.conf.defaults
 * in the build directory, ready to be copied over conf/smartsockd.conf.
 */
START_TEST(test_shipped_defaults)
{
	static const char shipped_dir[] = "\n;runtime_dir = /run/smartsock\n";
	static const char built_dir[] =
	    "\n;runtime_dir = " RUNSTATEDIR "/smartsock\n";
	char path[PATH_MAX], printed[PATH_MAX], *want, *got, *p;
	const char *srcdir = getenv("SMARTSOCK_SRCDIR");
	size_t line = 1, i;
	FILE *f;

	if (srcdir == NULL)
		srcdir = getenv("srcdir");
	if (srcdir == NULL)
		srcdir = ".";
	snprintf(path, sizeof path, "%s/conf/smartsockd.conf", srcdir);
	if (access(path, R_OK) != 0)
		return;         /* not run from the source tree */
	got = read_whole_file(path);
	print_defaults(printed, sizeof printed, 0);
	want = read_whole_file(printed);
	unlink(printed);
	/* The build's runtime_dir line as it is shipped. */
	ck_assert_ptr_nonnull(p = strstr(want, built_dir));
	if (strcmp(built_dir, shipped_dir) != 0) {
		size_t head = (size_t)(p - want), tail = strlen(p + strlen(
		    built_dir));
		char *t = malloc(head + sizeof shipped_dir + tail);

		ck_assert_ptr_nonnull(t);
		memcpy(t, want, head);
		memcpy(t + head, shipped_dir, sizeof shipped_dir - 1);
		memcpy(t + head + sizeof shipped_dir - 1, p + strlen(built_dir),
		    tail + 1);
		free(want);
		want = t;
	}
	if (strcmp(got, want) != 0) {
		for (i = 0; got[i] != '\0' && got[i] == want[i]; i++)
			if (got[i] == '\n')
				line++;
		if ((f = fopen("smartsockd.conf.defaults", "w")) != NULL) {
			fputs(want, f);
			fclose(f);
		}
		ck_abort_msg("%s differs from config_print_defaults() from "
		    "line %zu: regenerate it with cp smartsockd.conf.defaults "
		    "(in the build directory) %s", path, line, path);
	}
	free(got);
	free(want);
}
END_TEST

/* The demo configuration conf/demo.conf, when the source tree is at hand. */
START_TEST(test_shipped_conf)
{
	char path[PATH_MAX], err[512], want[PATH_MAX + 8], real[PATH_MAX];
	const char *srcdir = getenv("SMARTSOCK_SRCDIR");
	const struct socket_conf *in, *out;
	struct config cfg;

	if (srcdir == NULL)
		srcdir = getenv("srcdir");
	if (srcdir == NULL)
		srcdir = ".";
	snprintf(path, sizeof path, "%s/conf/demo.conf", srcdir);
	if (access(path, R_OK) != 0)
		return;         /* not run from the source tree */
	ck_assert_msg(config_load(path, &cfg, err, sizeof err) == 0,
	    "refused: %s", err);
	ck_assert_ptr_nonnull(realpath(srcdir, real));
	snprintf(want, sizeof want, "%s/run", real);
	ck_assert_str_eq(cfg.daemon.runtime_dir, want);
	ck_assert_ptr_nonnull(in = config_find_socket(&cfg, "demo-in"));
	ck_assert_ptr_nonnull(out = config_find_socket(&cfg, "demo-out"));
	ck_assert_uint_eq(in->nbinds, 1);
	ck_assert_uint_eq(in->nconnects, 0);
	ck_assert_str_eq(in->binds[0].host, "127.0.0.1");
	ck_assert_str_eq(in->binds[0].port, "25000");
	ck_assert_uint_eq(out->nbinds, 0);
	ck_assert_uint_eq(out->nconnects, 1);
	ck_assert_str_eq(out->connects[0].host, "127.0.0.1");
	ck_assert_str_eq(out->connects[0].port, "25000");
	check_socket_defaults(in);
	check_socket_defaults(out);
	config_free(&cfg);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("load");
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_control_keys);
	tcase_add_test(tc, test_access_keys);
	tcase_add_test(tc, test_tls_keys);
	tcase_add_test(tc, test_choice);
	tcase_add_test(tc, test_lists_and_ipv6);
	tcase_add_test(tc, test_comments_and_layout);
	tcase_add_test(tc, test_boundaries);
	tcase_add_test(tc, test_free);
	tcase_add_test(tc, test_relative_runtime_dir);
	tcase_add_test(tc, test_relative_runtime_dir_absolute_file);
	tcase_add_loop_test(tc, test_config_runtime_dir, 0,
	    (int)nitems(runtime_dir_cases));
	tcase_add_test(tc, test_config_runtime_dir_paths);
	tcase_add_test(tc, test_print_defaults);
	tcase_add_test(tc, test_shipped_conf);
	tcase_add_test(tc, test_shipped_defaults);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors, 0, (int)nitems(error_cases));
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_cannot_open);
	tcase_add_test(tc, test_error_buffer);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(config_suite)
