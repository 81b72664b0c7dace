/* confroute: resolve and check forward = (confroute.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confroute.h"

static size_t
confroute_index(const struct config *cfg, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < cfg->nsockets; i++)
		if (strlen(cfg->sockets[i].name) == len &&
		    memcmp(cfg->sockets[i].name, name, len) == 0)
			return i;
	return cfg->nsockets;
}

/* One socket's list: "a, b" -> indices. */
static int
confroute_parse(struct config *cfg, size_t self, const char *file, char *err,
    size_t errlen)
{
	struct socket_conf *sc = &cfg->sockets[self];
	const char *p = sc->forward, *end;
	size_t len, idx, i;

	sc->forward_to = calloc(cfg->nsockets, sizeof(*sc->forward_to));
	if (sc->forward_to == NULL) {
		snprintf(err, errlen, "%s:%d: out of memory", file,
		    sc->forward_line);
		return -1;
	}
	for (;;) {
		p += strspn(p, " \t");
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			snprintf(err, errlen, "%s:%d: forward: empty socket "
			    "name in '%s'", file, sc->forward_line,
			    sc->forward);
			return -1;
		}
		idx = confroute_index(cfg, p, len);
		if (idx == cfg->nsockets) {
			snprintf(err, errlen, "%s:%d: forward: no socket "
			    "named '%.*s'", file, sc->forward_line, (int)len,
			    p);
			return -1;
		}
		if (idx == self) {
			snprintf(err, errlen, "%s:%d: forward: socket '%s' "
			    "cannot forward to itself", file,
			    sc->forward_line, sc->name);
			return -1;
		}
		for (i = 0; i < sc->nforward; i++) {
			if (sc->forward_to[i] != idx)
				continue;
			snprintf(err, errlen, "%s:%d: forward: '%s' is named "
			    "twice", file, sc->forward_line,
			    cfg->sockets[idx].name);
			return -1;
		}
		sc->forward_to[sc->nforward++] = idx;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

enum { WHITE, GREY, BLACK };

/*
 * Depth-first search from socket i; on a loop, path[0..*depth) ends with
 * the socket that closes it.  1 on a loop.
 */
static int
confroute_loop(const struct config *cfg, size_t i, unsigned char *color,
    size_t *path, size_t *depth)
{
	const struct socket_conf *sc = &cfg->sockets[i];
	size_t k, j;

	color[i] = GREY;
	path[(*depth)++] = i;
	for (k = 0; k < sc->nforward; k++) {
		j = sc->forward_to[k];
		if (color[j] == GREY) {
			path[(*depth)++] = j;
			return 1;
		}
		if (color[j] == WHITE &&
		    confroute_loop(cfg, j, color, path, depth))
			return 1;
	}
	color[i] = BLACK;
	(*depth)--;
	return 0;
}

static void
confroute_loop_error(const struct config *cfg, const size_t *path,
    size_t depth, const char *file, char *err, size_t errlen)
{
	size_t start, k, used;
	const struct socket_conf *first;

	/* The loop starts where its last socket first appears. */
	for (start = 0; path[start] != path[depth - 1]; start++)
		;
	first = &cfg->sockets[path[start]];
	used = (size_t)snprintf(err, errlen, "%s:%d: forward: routes form a "
	    "loop: ", file, first->forward_line);
	for (k = start; k < depth && used < errlen; k++)
		used += (size_t)snprintf(err + used, errlen - used, "%s%s",
		    k > start ? " -> " : "", cfg->sockets[path[k]].name);
}

int
confroute_resolve(struct config *cfg, const char *file, char *err,
    size_t errlen)
{
	unsigned char *color;
	size_t *path, depth, i;
	int rc = 0;

	for (i = 0; i < cfg->nsockets; i++)
		if (cfg->sockets[i].forward != NULL &&
		    confroute_parse(cfg, i, file, err, errlen) != 0)
			return -1;
	color = calloc(cfg->nsockets, 1);
	path = calloc(cfg->nsockets + 1, sizeof(*path));
	if (color == NULL || path == NULL) {
		snprintf(err, errlen, "%s:0: out of memory", file);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < cfg->nsockets; i++) {
		depth = 0;
		if (color[i] == WHITE &&
		    confroute_loop(cfg, i, color, path, &depth)) {
			confroute_loop_error(cfg, path, depth, file, err,
			    errlen);
			rc = -1;
		}
	}
	free(color);
	free(path);
	return rc;
}
