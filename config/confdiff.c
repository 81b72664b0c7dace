/* confdiff: which keys differ between two configurations (see config.h). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "conftab.h"

static int
endpoints_equal(const struct endpoint_conf *a, size_t na,
    const struct endpoint_conf *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].host, b[i].host) != 0 ||
		    strcmp(a[i].port, b[i].port) != 0)
			return 0;
	return 1;
}

/* Does option o differ between the structs at a and b? */
static int
option_differs(const struct opt *o, const void *a, const void *b)
{
	const char *pa = (const char *)a + o->off, *pb = (const char *)b + o->off;
	const char *sa, *sb;

	/* Every type is listed: -Wswitch flags a new one left out. */
	switch (o->type) {
	case OPT_DURATION:
	case OPT_SIZE:
	case OPT_COUNT:
	case OPT_MODE:
		return *(const uint64_t *)pa != *(const uint64_t *)pb;
	case OPT_ENUM:
	case OPT_BOOL:
		return *(const int *)pa != *(const int *)pb;
	case OPT_IDENTITY:
		/* Two random identities are the same setting. */
		return *(const int *)((const char *)a + o->aux) !=
		    *(const int *)((const char *)b + o->aux) ||
		    memcmp(pa, pb, 16) != 0;
	case OPT_ENDPOINTS:
		return !endpoints_equal(*(struct endpoint_conf *const *)pa,
		    *(const size_t *)((const char *)a + o->aux),
		    *(struct endpoint_conf *const *)pb,
		    *(const size_t *)((const char *)b + o->aux));
	case OPT_PATH:
	case OPT_FILE:
	case OPT_STRING:
	case OPT_USER:
	case OPT_GROUP:
		sa = *(char *const *)pa;
		sb = *(char *const *)pb;
		if (sa == NULL || sb == NULL)
			return sa != sb;
		return strcmp(sa, sb) != 0;
	}
	return 1;
}

static int
changed_keys(enum opt_section section, const void *a, const void *b,
    char *buf, size_t len, int *restart)
{
	const struct opt *o;
	size_t used = 0;
	int n = 0;

	buf[0] = '\0';
	*restart = 0;
	for (o = config_options; o < config_options + CONFIG_NOPTIONS; o++) {
		if (o->section != section || !option_differs(o, a, b))
			continue;
		if (!o->reloadable)
			*restart = 1;
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			    n > 0 ? ", " : "", o->key);
		n++;
	}
	return n;
}

int
config_daemon_changes(const struct daemon_conf *a, const struct daemon_conf *b,
    char *buf, size_t len, int *restart)
{
	return changed_keys(OPT_DAEMON, a, b, buf, len, restart);
}

int
config_socket_changes(const struct socket_conf *a, const struct socket_conf *b,
    char *buf, size_t len, int *restart)
{
	return changed_keys(OPT_SOCKET, a, b, buf, len, restart);
}
