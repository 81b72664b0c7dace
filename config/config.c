/*
 * config: the configuration file reader (see config.h).
 *
 * inih splits lines into sections and key = value pairs; config_read(), the
 * line reader handed to it, first normalizes each line (comments, blanks,
 * indentation) and tracks sections and line numbers itself, so that every
 * message carries the right line whatever inih was built with, and empty
 * sections are seen too.  What a key means is all in config_options[].
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "confroute.h"
#include "conftab.h"
#include "ctlproto.h"
#include "parse.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#define CONFIG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* An OPTF_INHERIT number not given in its section (no key takes it). */
static const uint64_t config_unset = UINT64_MAX;


struct config_ctx {
	struct config *cfg;
	const char *file;               /* as the caller named it */
	FILE *f;
	char *dir;                      /* real directory of file, lazily */
	char *buf;                      /* getline() buffer */
	size_t bufsize;
	int line;
	char *err;
	size_t errlen;
	int failed;
	int in_section;                 /* 0 before the first header */
	enum opt_section section;
	int section_line;
	int daemon_line;                /* 0: no [daemon] yet */
	size_t sockcap;
	int seen[CONFIG_NOPTIONS];      /* line of each key in this section */
	int daemon_seen[CONFIG_NOPTIONS];       /* ... and in [daemon] */
};

static void config_error(struct config_ctx *, int, const char *, ...)
    CONFIG_PRINTF(3, 4);

/* Keep the first error only: later ones are usually its consequences. */
static void
config_error(struct config_ctx *ctx, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ctx->failed)
		return;
	ctx->failed = 1;
	if (ctx->errlen == 0)
		return;
	n = snprintf(ctx->err, ctx->errlen, "%s:%d: ", ctx->file, line);
	if (n < 0 || (size_t)n >= ctx->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static struct socket_conf *
config_cursock(struct config_ctx *ctx)
{
	return &ctx->cfg->sockets[ctx->cfg->nsockets - 1];
}

static void *
config_base(struct config_ctx *ctx, enum opt_section section)
{
	if (section == OPT_DAEMON)
		return &ctx->cfg->daemon;
	return config_cursock(ctx);
}

static const struct opt *
config_find_option(enum opt_section section, const char *key)
{
	size_t i;

	for (i = 0; i < CONFIG_NOPTIONS; i++) {
		if (config_options[i].section == section &&
		    strcmp(config_options[i].key, key) == 0)
			return &config_options[i];
	}
	return NULL;
}

/* The line a key was given on in the current section, 0 if it was not. */
static int
config_seen(struct config_ctx *ctx, const char *key)
{
	const struct opt *o;

	if ((o = config_find_option(ctx->section, key)) == NULL)
		return 0;
	return ctx->seen[o - config_options];
}

/*
 * A number that failed to parse although "1" with the same unit parses
 * was too large.
 */
static int
config_too_large(const struct opt *o, const char *value)
{
	char probe[16];
	size_t n;
	uint64_t v;

	if (o->type == OPT_MODE)
		return 0;       /* "0680" is not too large, just not octal */
	n = strspn(value, "0123456789");
	if (n == 0 || strlen(value + n) + 2 > sizeof probe)
		return 0;
	snprintf(probe, sizeof probe, "1%s", value + n);
	return config_types[o->type].number(probe, &v);
}

static int
config_set_number(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	uint64_t v;
	char range[64];

	if (o->type == OPT_COUNT && strcmp(value, "unlimited") == 0)
		v = CONFIG_UNLIMITED;
	else if (!config_types[o->type].number(value, &v)) {
		if (value[0] == '-') {
			config_error(ctx, ctx->line, "%s: '%s' is out of "
			    "range: negative values are not allowed", o->key,
			    value);
		} else if (config_too_large(o, value)) {
			config_error(ctx, ctx->line, "%s: '%s' is out of "
			    "range: too large", o->key, value);
		} else {
			config_error(ctx, ctx->line, "%s: expected %s, got "
			    "'%s'", o->key, config_types[o->type].expect,
			    value);
		}
		return -1;
	} else if (v < o->min || v > o->max) {
		config_format_range(o, range, sizeof range);
		config_error(ctx, ctx->line, "%s: '%s' is out of range: "
		    "expected %s", o->key, value, range);
		return -1;
	}
	memcpy((char *)base + o->off, &v, sizeof v);
	return 0;
}

static int
config_set_enum(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	char choices[128];
	int i;

	for (i = 0; o->choices[i] != NULL; i++) {
		if (strcmp(value, o->choices[i]) == 0) {
			memcpy((char *)base + o->off, &i, sizeof i);
			return 0;
		}
	}
	config_format_choices(o->choices, choices, sizeof choices);
	config_error(ctx, ctx->line, "%s: expected %s, got '%s'", o->key,
	    choices, value);
	return -1;
}

static int
config_set_identity(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	uint8_t *id = (uint8_t *)base + o->off;
	int has = 1;

	if (strcmp(value, "random") == 0) {
		memset(id, 0, 16);
		has = 0;
	} else if (!parse_identity(value, id)) {
		config_error(ctx, ctx->line, "%s: expected %s, got '%s'",
		    o->key, config_types[o->type].expect, value);
		return -1;
	}
	memcpy((char *)base + o->aux, &has, sizeof has);
	return 0;
}

/* Two binds collide on the same port if a host matches or either is "*". */
static int
config_endpoints_collide(const struct endpoint_conf *a,
    const struct endpoint_conf *b)
{
	if (strcmp(a->port, b->port) != 0)
		return 0;
	return strcasecmp(a->host, b->host) == 0 ||
	    strcmp(a->host, "*") == 0 || strcmp(b->host, "*") == 0;
}

static int
config_check_exclusive(struct config_ctx *ctx, const struct opt *o,
    const struct endpoint_conf *ep)
{
	const struct socket_conf *sc;
	const struct endpoint_conf *list, *other;
	size_t i, j, n;

	for (i = 0; i < ctx->cfg->nsockets; i++) {
		sc = &ctx->cfg->sockets[i];
		memcpy(&list, (const char *)sc + o->off, sizeof list);
		memcpy(&n, (const char *)sc + o->aux, sizeof n);
		for (j = 0; j < n; j++) {
			other = &list[j];
			if (!config_endpoints_collide(ep, other))
				continue;
			config_error(ctx, ctx->line, "%s: %s%s%s:%s conflicts "
			    "with %s of socket '%s' at line %d", o->key,
			    strchr(ep->host, ':') ? "[" : "", ep->host,
			    strchr(ep->host, ':') ? "]" : "", ep->port,
			    o->key, sc->name, other->line);
			return -1;
		}
	}
	return 0;
}

static int
config_add_endpoint(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *text)
{
	struct endpoint_conf ep, *list;
	size_t n;
	void *grown;

	memset(&ep, 0, sizeof ep);
	ep.line = ctx->line;
	errno = 0;
	if (!parse_endpoint(text, &ep.host, &ep.port)) {
		if (errno == ENOMEM)
			config_error(ctx, ctx->line, "out of memory");
		else {
			config_error(ctx, ctx->line, "%s: expected %s, got "
			    "'%s'", o->key, config_types[o->type].expect,
			    text);
		}
		return -1;
	}
	if (!(o->flags & OPTF_WILDCARD) && strcmp(ep.host, "*") == 0) {
		config_error(ctx, ctx->line, "%s: '*' is for bind only, "
		    "expected a host in '%s'", o->key, text);
		goto fail;
	}
	if ((o->flags & OPTF_EXCLUSIVE) &&
	    config_check_exclusive(ctx, o, &ep) != 0)
		goto fail;

	memcpy(&list, (char *)base + o->off, sizeof list);
	memcpy(&n, (char *)base + o->aux, sizeof n);
	if ((grown = reallocarray(list, n + 1, sizeof *list)) == NULL) {
		config_error(ctx, ctx->line, "out of memory");
		goto fail;
	}
	list = grown;
	list[n++] = ep;
	memcpy((char *)base + o->off, &list, sizeof list);
	memcpy((char *)base + o->aux, &n, sizeof n);
	return 0;

fail:
	free(ep.host);
	free(ep.port);
	return -1;
}

/* Strip blanks around s in place. */
static char *
config_trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int
config_set_endpoints(struct config_ctx *ctx, const struct opt *o,
    void *base, const char *value)
{
	char *copy, *item, *next;
	int rc = 0;

	if ((copy = strdup(value)) == NULL) {
		config_error(ctx, ctx->line, "out of memory");
		return -1;
	}
	for (item = copy; item != NULL && rc == 0; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (*(item = config_trim(item)) == '\0') {
			config_error(ctx, ctx->line, "%s: empty endpoint in "
			    "'%s'", o->key, value);
			rc = -1;
		} else
			rc = config_add_endpoint(ctx, o, base, item);
	}
	free(copy);
	return rc;
}

/* Remove ".", ".." and repeated slashes from an absolute path in place. */
static void
config_clean_path(char *p)
{
	char *r = p, *w = p;
	size_t len;

	while (*r != '\0') {
		while (*r == '/')
			r++;
		if (*r == '\0')
			break;
		len = strcspn(r, "/");
		if (len == 1 && r[0] == '.') {
			r += len;
			continue;
		}
		if (len == 2 && r[0] == '.' && r[1] == '.') {
			while (w > p && *--w != '/')
				;
			r += len;
			continue;
		}
		*w++ = '/';
		memmove(w, r, len);
		w += len;
		r += len;
	}
	if (w == p)
		*w++ = '/';
	*w = '\0';
}

/* The real directory of the config file, for relative paths in it. */
static const char *
config_dir(struct config_ctx *ctx)
{
	char *copy, *slash;

	if (ctx->dir != NULL)
		return ctx->dir;
	if ((copy = strdup(ctx->file)) == NULL) {
		config_error(ctx, ctx->line, "out of memory");
		return NULL;
	}
	if ((slash = strrchr(copy, '/')) == NULL)
		strcpy(copy, ".");
	else if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((ctx->dir = realpath(copy, NULL)) == NULL) {
		config_error(ctx, ctx->line, "cannot resolve directory '%s': "
		    "%s", copy, strerror(errno));
	}
	free(copy);
	return ctx->dir;
}

static int
config_set_path(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	const char *dir = "";
	char *path, *old;
	size_t len;

	if (*value == '\0') {
		config_error(ctx, ctx->line, "%s: expected %s", o->key,
		    config_types[o->type].expect);
		return -1;
	}
	if (*value != '/' && (dir = config_dir(ctx)) == NULL)
		return -1;
	len = strlen(dir) + 1 + strlen(value) + 1;
	if (len > PATH_MAX) {
		config_error(ctx, ctx->line, "%s: path too long", o->key);
		return -1;
	}
	if ((path = malloc(len)) == NULL) {
		config_error(ctx, ctx->line, "out of memory");
		return -1;
	}
	if (*value == '/')
		snprintf(path, len, "%s", value);
	else
		snprintf(path, len, "%s/%s", dir, value);
	config_clean_path(path);

	memcpy(&old, (char *)base + o->off, sizeof old);
	free(old);
	memcpy((char *)base + o->off, &path, sizeof path);
	if (o->type == OPT_FILE)
		memcpy((char *)base + o->aux, &ctx->line, sizeof ctx->line);
	return 0;
}

static int
config_set_bool(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	static const char *const yes[] = { "on", "yes", "true", "1", NULL };
	static const char *const no[] = { "off", "no", "false", "0", NULL };
	int i, v = -1;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(value, yes[i]) == 0)
			v = 1;
		if (strcasecmp(value, no[i]) == 0)
			v = 0;
	}
	if (v == -1) {
		config_error(ctx, ctx->line, "%s: expected %s, got '%s'",
		    o->key, config_types[o->type].expect, value);
		return -1;
	}
	memcpy((char *)base + o->off, &v, sizeof v);
	return 0;
}

static int
config_set_string(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	char *copy, *old;

	if (*value == '\0') {
		config_error(ctx, ctx->line, "%s: expected %s", o->key,
		    config_types[o->type].expect);
		return -1;
	}
	if ((copy = strdup(value)) == NULL) {
		config_error(ctx, ctx->line, "out of memory");
		return -1;
	}
	memcpy(&old, (char *)base + o->off, sizeof old);
	free(old);
	memcpy((char *)base + o->off, &copy, sizeof copy);
	memcpy((char *)base + o->aux, &ctx->line, sizeof ctx->line);
	return 0;
}

int
config_user_id(const char *s, uid_t *out)
{
	const struct passwd *pw;
	uint64_t v;

	if (parse_u64(s, &v)) {
		if (v >= (uid_t)-1)
			return 0;
		*out = (uid_t)v;
		return 1;
	}
	if ((pw = getpwnam(s)) == NULL)
		return 0;
	*out = pw->pw_uid;
	return 1;
}

int
config_group_id(const char *s, gid_t *out)
{
	const struct group *gr;
	uint64_t v;

	if (parse_u64(s, &v)) {
		if (v >= (gid_t)-1)
			return 0;
		*out = (gid_t)v;
		return 1;
	}
	if ((gr = getgrnam(s)) == NULL)
		return 0;
	*out = gr->gr_gid;
	return 1;
}

/* One user or group that must exist now, so that -t catches a typo. */
static int
config_account_id(const struct opt *o, const char *value, id_t *id)
{
	uid_t uid;
	gid_t gid;

	if (o->type == OPT_USER) {
		if (!config_user_id(value, &uid))
			return 0;
		*id = (id_t)uid;
	} else {
		if (!config_group_id(value, &gid))
			return 0;
		*id = (id_t)gid;
	}
	return 1;
}

/*
 * A comma-separated list of users or groups: each must exist; the list is
 * kept as "a,b" (so that a reload sees "a, b" as no change) and as ids.
 */
static int
config_set_account_list(struct config_ctx *ctx, const struct opt *o,
    void *base, const char *value, char **text)
{
	struct config_ids ids = { NULL, 0 }, old;
	char *copy, *item, *next, *out = NULL;
	size_t n = 0, used = 0;

	/* k names take at least 2k - 1 characters */
	if ((copy = strdup(value)) == NULL ||
	    (out = malloc(strlen(value) + 1)) == NULL ||
	    (ids.ids = calloc(strlen(value) / 2 + 1, sizeof(id_t))) == NULL) {
		config_error(ctx, ctx->line, "out of memory");
		goto fail;
	}
	for (item = copy; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		item = config_trim(item);
		if (*item == '\0') {
			config_error(ctx, ctx->line, "%s: expected %s, got "
			    "'%s': an empty %s", o->key, config_expect(o),
			    value, config_types[o->type].name);
			goto fail;
		}
		if (!config_account_id(o, item, &ids.ids[n])) {
			config_error(ctx, ctx->line, "%s: no such %s '%s'",
			    o->key, config_types[o->type].name, item);
			goto fail;
		}
		n++;
		used += (size_t)sprintf(out + used, "%s%s", used ? "," : "",
		    item);
	}
	ids.n = n;
	free(copy);
	memcpy(&old, (char *)base + o->aux, sizeof old);
	free(old.ids);
	memcpy((char *)base + o->aux, &ids, sizeof ids);
	*text = out;
	return 0;

fail:
	free(copy);
	free(out);
	free(ids.ids);
	return -1;
}

static int
config_set_account(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	char *copy, *old;
	id_t id;

	if (o->flags & OPTF_LIST) {
		if (config_set_account_list(ctx, o, base, value, &copy) != 0)
			return -1;
	} else if (!config_account_id(o, value, &id)) {
		config_error(ctx, ctx->line, "%s: expected %s, got '%s': no "
		    "such %s", o->key, config_expect(o), value,
		    config_types[o->type].name);
		return -1;
	} else if ((copy = strdup(value)) == NULL) {
		config_error(ctx, ctx->line, "out of memory");
		return -1;
	}
	memcpy(&old, (char *)base + o->off, sizeof old);
	free(old);
	memcpy((char *)base + o->off, &copy, sizeof copy);
	return 0;
}

static int
config_set(struct config_ctx *ctx, const struct opt *o, void *base,
    const char *value)
{
	switch (o->type) {
	case OPT_DURATION:
	case OPT_SIZE:
	case OPT_COUNT:
	case OPT_MODE:
		return config_set_number(ctx, o, base, value);
	case OPT_ENUM:
		return config_set_enum(ctx, o, base, value);
	case OPT_IDENTITY:
		return config_set_identity(ctx, o, base, value);
	case OPT_ENDPOINTS:
		return config_set_endpoints(ctx, o, base, value);
	case OPT_PATH:
	case OPT_FILE:
		return config_set_path(ctx, o, base, value);
	case OPT_USER:
	case OPT_GROUP:
		return config_set_account(ctx, o, base, value);
	case OPT_BOOL:
		return config_set_bool(ctx, o, base, value);
	case OPT_STRING:
		return config_set_string(ctx, o, base, value);
	}
	return -1;
}

static int
config_set_defaults(struct config_ctx *ctx, enum opt_section section)
{
	const struct opt *o;
	void *base = config_base(ctx, section);

	for (o = config_options; o < config_options + CONFIG_NOPTIONS; o++) {
		if (o->section != section)
			continue;
		if ((o->flags & OPTF_INHERIT) && o->type == OPT_MODE)
			memcpy((char *)base + o->off, &config_unset,
			    sizeof config_unset);
		if (o->def != NULL && config_set(ctx, o, base, o->def) != 0)
			return -1;
	}
	return 0;
}

/*
 * A socket key with OPTF_INHERIT left unset (a number still config_unset,
 * a string NULL) takes the value of the [daemon] key of the same name,
 * once the whole file is read: [daemon] may come last.
 */
static int
config_inherit(struct config_ctx *ctx)
{
	const struct opt *o, *d;
	struct socket_conf *sc;
	char *str, *copy;
	uint64_t v;
	size_t i;

	for (o = config_options; o < config_options + CONFIG_NOPTIONS; o++) {
		if (o->section != OPT_SOCKET || !(o->flags & OPTF_INHERIT))
			continue;
		d = config_find_option(OPT_DAEMON, o->key);
		for (i = 0; i < ctx->cfg->nsockets; i++) {
			sc = &ctx->cfg->sockets[i];
			if (o->type == OPT_MODE) {
				memcpy(&v, (char *)sc + o->off, sizeof v);
				if (v == config_unset)
					memcpy((char *)sc + o->off,
					    (char *)&ctx->cfg->daemon + d->off,
					    sizeof v);
				continue;
			}
			memcpy(&str, (char *)sc + o->off, sizeof str);
			memcpy(&copy, (char *)&ctx->cfg->daemon + d->off,
			    sizeof copy);
			if (str != NULL || copy == NULL)
				continue;
			if ((copy = strdup(copy)) == NULL) {
				config_error(ctx, 0, "out of memory");
				return -1;
			}
			memcpy((char *)sc + o->off, &copy, sizeof copy);
		}
	}
	return 0;
}

/* The later of two keys' lines, else the section's: where a clash shows. */
static int
config_clash_line(struct config_ctx *ctx, const char *a, const char *b)
{
	int la = config_seen(ctx, a), lb = config_seen(ctx, b);

	if (la == 0 && lb == 0)
		return ctx->section_line;
	return la > lb ? la : lb;
}

/* Durations of a socket that must keep an order. */
static const struct config_order {
	const char *big;
	const char *small;
	int strict;
} config_orders[] = {
	{ "heartbeat_timeout", "heartbeat_interval", 1 },
	{ "reconnect_max_delay", "reconnect_delay", 0 },
};

static int
config_check_order(struct config_ctx *ctx, const struct config_order *co)
{
	const struct opt *ob, *os;
	uint64_t big, small;
	char b[32], s[32];

	ob = config_find_option(OPT_SOCKET, co->big);
	os = config_find_option(OPT_SOCKET, co->small);
	memcpy(&big, (char *)config_cursock(ctx) + ob->off, sizeof big);
	memcpy(&small, (char *)config_cursock(ctx) + os->off, sizeof small);
	if (big > small || (!co->strict && big == small))
		return 0;
	config_format_units(config_ms_units, big, b, sizeof b);
	config_format_units(config_ms_units, small, s, sizeof s);
	config_error(ctx, config_clash_line(ctx, co->big, co->small),
	    "%s (%s) must be %s %s (%s)", co->big, b,
	    co->strict ? "greater than" : "at least", co->small, s);
	return -1;
}

/* What TLS needs besides files that exist (daemon/tls.c reads those). */
static int
config_check_tls(struct config_ctx *ctx)
{
	const struct socket_conf *sc = config_cursock(ctx);
	const struct tls_conf *t = &sc->tls;

	if ((t->cert == NULL) != (t->key == NULL)) {
		config_error(ctx, t->cert != NULL ? t->cert_line : t->key_line,
		    "%s is set without %s", t->cert != NULL ? "tls_cert" :
		    "tls_key", t->cert != NULL ? "tls_key" : "tls_cert");
		return -1;
	}
	if (!t->on)
		return 0;
	if (sc->nbinds > 0 && t->cert == NULL) {
		config_error(ctx, config_clash_line(ctx, "tls", "bind"),
		    "socket '%s': tls = on with a bind endpoint needs "
		    "tls_cert and tls_key", sc->name);
		return -1;
	}
	if (t->verify_client && t->client_ca == NULL && t->ca == NULL) {
		config_error(ctx, config_seen(ctx, "tls_verify_client"),
		    "tls_verify_client = on needs tls_client_ca (or tls_ca)");
		return -1;
	}
	return 0;
}

static int
config_check_socket(struct config_ctx *ctx)
{
	const struct socket_conf *sc = config_cursock(ctx);
	size_t i;

	if (sc->nbinds == 0 && sc->nconnects == 0) {
		config_error(ctx, sc->line, "socket '%s' has no bind or "
		    "connect", sc->name);
		return -1;
	}
	if (sc->delivery == DELIVERY_AT_LEAST_ONCE &&
	    sc->send_mode == SEND_PUBLISH) {
		config_error(ctx, config_clash_line(ctx, "delivery",
		    "send_mode"), "delivery = at-least-once is not possible "
		    "with send_mode = publish");
		return -1;
	}
	for (i = 0; i < nitems(config_orders); i++) {
		if (config_check_order(ctx, &config_orders[i]) != 0)
			return -1;
	}
	if (sc->websocket && sc->nbinds == 0) {
		config_error(ctx, config_seen(ctx, "websocket"),
		    "websocket = on needs a bind endpoint (the connect side "
		    "never speaks WebSocket)");
		return -1;
	}
	if (sc->forward_replies && sc->forward == NULL) {
		config_error(ctx, config_seen(ctx, "forward_replies"),
		    "forward_replies = on needs forward");
		return -1;
	}
	return config_check_tls(ctx);
}

/* Checks that need a whole section, when it ends. */
static int
config_end_section(struct config_ctx *ctx)
{
	if (!ctx->in_section || ctx->section != OPT_SOCKET)
		return 0;
	return config_check_socket(ctx);
}

#define CONFIG_ALNUM "abcdefghijklmnopqrstuvwxyz" \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define CONFIG_NAME_CHARS CONFIG_ALNUM "_.-"
#define CONFIG_KEY_CHARS CONFIG_ALNUM "_-"

static int
config_valid_word(const char *s, const char *chars, size_t max)
{
	size_t len = strlen(s);

	return len > 0 && len < max && strspn(s, chars) == len;
}

static int
config_begin_socket(struct config_ctx *ctx, const char *name)
{
	struct config *cfg = ctx->cfg;
	struct socket_conf *sc;
	const struct socket_conf *other;
	size_t cap;

	if (*name == '\0') {
		config_error(ctx, ctx->line, "[socket] needs a name: "
		    "[socket NAME]");
		return -1;
	}
	if (!config_valid_word(name, CONFIG_NAME_CHARS, CONFIG_NAME_MAX)) {
		config_error(ctx, ctx->line, "invalid socket name '%s': "
		    "1 to %d of A-Z a-z 0-9 _ . -", name, CONFIG_NAME_MAX - 1);
		return -1;
	}
	if (strcmp(name, CTL_SOCKET_NAME) == 0) {
		config_error(ctx, ctx->line, "socket name '%s' is reserved: "
		    "runtime_dir/%s is the control socket", name,
		    CTL_SOCKET_FILE);
		return -1;
	}
	if ((other = config_find_socket(cfg, name)) != NULL) {
		config_error(ctx, ctx->line, "duplicate socket name '%s' "
		    "(first at line %d)", name, other->line);
		return -1;
	}
	if (cfg->nsockets == ctx->sockcap) {
		cap = ctx->sockcap == 0 ? 4 : ctx->sockcap * 2;
		sc = reallocarray(cfg->sockets, cap, sizeof *sc);
		if (sc == NULL) {
			config_error(ctx, ctx->line, "out of memory");
			return -1;
		}
		cfg->sockets = sc;
		ctx->sockcap = cap;
	}
	sc = &cfg->sockets[cfg->nsockets++];
	memset(sc, 0, sizeof *sc);
	snprintf(sc->name, sizeof sc->name, "%s", name);
	sc->line = ctx->line;
	ctx->section = OPT_SOCKET;
	return config_set_defaults(ctx, OPT_SOCKET);
}

/* A "[...]" line: close the previous section and open this one. */
static int
config_begin_section(struct config_ctx *ctx, char *text)
{
	char *word, *rest;

	if (config_end_section(ctx) != 0)
		return -1;

	word = config_trim(text);
	rest = word + strcspn(word, " \t");
	if (*rest != '\0')
		*rest++ = '\0';
	rest = config_trim(rest);

	memset(ctx->seen, 0, sizeof ctx->seen);
	ctx->section_line = ctx->line;
	if (strcmp(word, "daemon") == 0) {
		if (*rest != '\0') {
			config_error(ctx, ctx->line, "[daemon] takes no name");
			return -1;
		}
		if (ctx->daemon_line != 0) {
			config_error(ctx, ctx->line, "duplicate [daemon] "
			    "section (first at line %d)", ctx->daemon_line);
			return -1;
		}
		ctx->daemon_line = ctx->line;
		ctx->section = OPT_DAEMON;
	} else if (strcmp(word, "socket") == 0) {
		if (config_begin_socket(ctx, rest) != 0)
			return -1;
	} else {
		config_error(ctx, ctx->line, "unknown section [%s%s%s]", word,
		    *rest != '\0' ? " " : "", rest);
		return -1;
	}
	ctx->in_section = 1;
	return 0;
}

/*
 * Normalize one line in place for inih: no comments, no indentation (so
 * no continuation lines), "key=value" or "[section]" or empty.  Returns
 * the line, or NULL after an error.
 */
/* A line without its comment, indentation and trailing blanks (and the
 * first line without a UTF-8 byte order mark). */
static char *
config_strip(char *s, int line)
{
	char *p;

	if (line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	s += strspn(s, " \t");
	if (*s == ';' || *s == '#')
		*s = '\0';
	for (p = s; *p != '\0'; p++) {
		if (*p == ';' && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	p = s + strlen(s);
	while (p > s && strchr(" \t\r\n", p[-1]) != NULL)
		*--p = '\0';
	return s;
}

static char *
config_lex(struct config_ctx *ctx, char *s)
{
	char *p, *eq, *key, *value;

	s = config_strip(s, ctx->line);
	p = s + strlen(s);
	if (*s == '\0')
		return s;

	if (*s == '[') {
		if (p[-1] != ']') {
			config_error(ctx, ctx->line, "section header must end "
			    "with ']'");
			return NULL;
		}
		p[-1] = '\0';
		if (config_begin_section(ctx, s + 1) != 0)
			return NULL;
		/* inih need not know: keys go to the section tracked here */
		*s = '\0';
		return s;
	}

	if ((eq = strchr(s, '=')) == NULL) {
		config_error(ctx, ctx->line, "expected 'key = value' or "
		    "'[section]', got '%s'", s);
		return NULL;
	}
	key = s;
	value = eq + 1;
	while (eq > key && (eq[-1] == ' ' || eq[-1] == '\t'))
		eq--;
	*eq = '\0';
	value += strspn(value, " \t");
	if (!config_valid_word(key, CONFIG_KEY_CHARS, SIZE_MAX)) {
		config_error(ctx, ctx->line, "invalid key '%s'", key);
		return NULL;
	}
	if (!ctx->in_section) {
		config_error(ctx, ctx->line, "key '%s' outside of any section",
		    key);
		return NULL;
	}
	/* value follows key in the same buffer: close the gap */
	*eq++ = '=';
	memmove(eq, value, strlen(value) + 1);
	return s;
}

/* inih's reader: one line per call, so ctx->line is inih's line too. */
static char *
config_read(char *str, int num, void *stream)
{
	struct config_ctx *ctx = stream;
	ssize_t n;
	char *s;
	size_t len;

	if (ctx->failed)
		return NULL;
	errno = 0;
	if ((n = getline(&ctx->buf, &ctx->bufsize, ctx->f)) == -1) {
		if (ferror(ctx->f))
			config_error(ctx, 0, "cannot read: %s",
			    strerror(errno));
		return NULL;
	}
	ctx->line++;
	if (memchr(ctx->buf, '\0', (size_t)n) != NULL) {
		config_error(ctx, ctx->line, "NUL byte in line");
		return NULL;
	}
	if ((s = config_lex(ctx, ctx->buf)) == NULL)
		return NULL;
	len = strlen(s);
	if (num < 2 || len > (size_t)num - 2) {
		config_error(ctx, ctx->line, "line too long (more than %d "
		    "characters without comments); repeat the key instead",
		    num - 2);
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int
config_handler(void *user, const char *section, const char *key,
    const char *value)
{
	struct config_ctx *ctx = user;
	const struct opt *o;
	size_t i;

	(void)section;          /* config_lex() tracks sections */
	if (ctx->failed)
		return 0;
	if ((o = config_find_option(ctx->section, key)) == NULL) {
		if (ctx->section == OPT_DAEMON)
			config_error(ctx, ctx->line, "unknown key '%s' in "
			    "[daemon]", key);
		else
			config_error(ctx, ctx->line, "unknown key '%s' in "
			    "[socket %s]", key, config_cursock(ctx)->name);
		return 0;
	}
	i = (size_t)(o - config_options);
	if (!(o->flags & OPTF_MULTI) && ctx->seen[i] != 0) {
		config_error(ctx, ctx->line, "%s given twice (first at line "
		    "%d)", key, ctx->seen[i]);
		return 0;
	}
	ctx->seen[i] = ctx->line;
	if (o->section == OPT_DAEMON)
		ctx->daemon_seen[i] = ctx->line;
	return config_set(ctx, o, config_base(ctx, o->section), value) == 0;
}

/*
 * Each socket's application socket is runtime_dir/NAME.sock, and the
 * control socket runtime_dir/control.sock (see smartsockd(8)); refuse now
 * what bind(2) would refuse later.
 */
static int
config_check_sun_paths(struct config_ctx *ctx)
{
	struct sockaddr_un sun;
	const struct socket_conf *sc;
	const struct opt *o;
	size_t i, len;

	for (i = 0; i < ctx->cfg->nsockets; i++) {
		sc = &ctx->cfg->sockets[i];
		len = strlen(ctx->cfg->daemon.runtime_dir) + 1 +
		    strlen(sc->name) + strlen(".sock");
		if (len < sizeof sun.sun_path)
			continue;
		config_error(ctx, sc->line, "socket '%s': %s/%s.sock is too "
		    "long for a Unix socket (%zu bytes, at most %zu)",
		    sc->name, ctx->cfg->daemon.runtime_dir, sc->name, len,
		    sizeof sun.sun_path - 1);
		return -1;
	}
	len = strlen(ctx->cfg->daemon.runtime_dir) + 1 + strlen(CTL_SOCKET_FILE);
	if (len < sizeof sun.sun_path)
		return 0;
	o = config_find_option(OPT_DAEMON, "runtime_dir");
	config_error(ctx, ctx->daemon_seen[o - config_options], "%s/%s is too "
	    "long for a Unix socket (%zu bytes, at most %zu)",
	    ctx->cfg->daemon.runtime_dir, CTL_SOCKET_FILE, len,
	    sizeof sun.sun_path - 1);
	return -1;
}

/* A fresh reading context on the file at path: 0, or -1 with the error
 * in err. */
static int
config_open(struct config_ctx *ctx, const char *path, char *err,
    size_t errlen)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->file = path;
	ctx->err = err;
	ctx->errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if ((ctx->f = fopen(path, "r")) == NULL) {
		config_error(ctx, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
config_close(struct config_ctx *ctx)
{
	fclose(ctx->f);
	free(ctx->buf);
	free(ctx->dir);
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct config_ctx ctx;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	if (config_open(&ctx, path, err, errlen) == -1)
		return -1;
	ctx.cfg = cfg;
	if (config_set_defaults(&ctx, OPT_DAEMON) == 0) {
		rc = ini_parse_stream(config_read, &ctx, config_handler, &ctx);
		if (rc == -2)
			config_error(&ctx, ctx.line, "out of memory");
		else if (rc != 0)
			config_error(&ctx, rc, "syntax error");
		else if (!ctx.failed && config_end_section(&ctx) == 0 &&
		    config_inherit(&ctx) == 0 &&
		    config_check_sun_paths(&ctx) == 0 &&
		    confroute_resolve(cfg, path, err, errlen) != 0)
			ctx.failed = 1;
	}
	if (!ctx.failed && (cfg->path = strdup(path)) == NULL)
		config_error(&ctx, 0, "out of memory");

	config_close(&ctx);
	if (ctx.failed) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

static void
config_free_endpoints(struct endpoint_conf *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].host);
		free(list[i].port);
	}
	free(list);
}

/* Free the strings (and id lists) a section's keys own. */
static void
config_free_strings(enum opt_section section, void *base)
{
	const struct opt *o;
	struct config_ids ids;
	char *str;

	for (o = config_options; o < config_options + CONFIG_NOPTIONS; o++) {
		if (o->section != section)
			continue;
		switch (o->type) {
		case OPT_PATH:
		case OPT_FILE:
		case OPT_STRING:
		case OPT_USER:
		case OPT_GROUP:
			memcpy(&str, (char *)base + o->off, sizeof str);
			free(str);
			if (!(o->flags & OPTF_LIST))
				break;
			memcpy(&ids, (char *)base + o->aux, sizeof ids);
			free(ids.ids);
			break;
		default:
			break;
		}
	}
}

void
config_free(struct config *cfg)
{
	struct socket_conf *sc;
	size_t i;

	for (i = 0; i < cfg->nsockets; i++) {
		sc = &cfg->sockets[i];
		config_free_endpoints(sc->binds, sc->nbinds);
		config_free_endpoints(sc->connects, sc->nconnects);
		config_free_strings(OPT_SOCKET, sc);
		free(sc->forward_to);
	}
	free(cfg->sockets);
	config_free_strings(OPT_DAEMON, &cfg->daemon);
	free(cfg->path);
	memset(cfg, 0, sizeof *cfg);
}

const struct socket_conf *
config_find_socket(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nsockets; i++) {
		if (strcmp(cfg->sockets[i].name, name) == 0)
			return &cfg->sockets[i];
	}
	return NULL;
}

const char *
config_choice(const char *key, int value)
{
	const struct opt *o = config_find_option(OPT_SOCKET, key);
	int i;

	if (o == NULL || o->type != OPT_ENUM || value < 0)
		return "?";
	for (i = 0; o->choices[i] != NULL; i++)
		if (i == value)
			return o->choices[i];
	return "?";
}

/*
 * Only the [daemon] runtime_dir line is read, and the rest of the file is
 * not looked at: a tool must find the daemon that serves the configuration
 * it loaded even while someone edits the file into an error (reload says
 * what is wrong with it).
 */
char *
config_runtime_dir(const char *path, char *err, size_t errlen)
{
	const struct opt *o = config_find_option(OPT_DAEMON, "runtime_dir");
	struct daemon_conf dc;
	struct config_ctx ctx;
	int in_daemon = 0, found = 0;
	char *s, *v;

	memset(&dc, 0, sizeof dc);
	if (config_open(&ctx, path, err, errlen) == -1)
		return NULL;
	while (!found && getline(&ctx.buf, &ctx.bufsize, ctx.f) != -1) {
		s = config_strip(ctx.buf, ++ctx.line);
		if (*s == '[') {
			in_daemon = strcmp(s, "[daemon]") == 0;
			continue;
		}
		if (!in_daemon || strncmp(s, o->key, strlen(o->key)) != 0)
			continue;
		v = s + strlen(o->key);
		v += strspn(v, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		found = 1;
		config_set_path(&ctx, o, &dc, v);
	}
	if (!found && ferror(ctx.f))
		config_error(&ctx, 0, "cannot read: %s", strerror(errno));
	else if (!found && (dc.runtime_dir = strdup(o->def)) == NULL)
		config_error(&ctx, 0, "out of memory");
	config_close(&ctx);
	if (ctx.failed) {
		free(dc.runtime_dir);
		return NULL;
	}
	return dc.runtime_dir;
}
