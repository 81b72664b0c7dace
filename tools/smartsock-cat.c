/*
 * smartsock-cat: send, receive and echo messages through a smart socket
 * from the shell, with libsmartsock.  See smartsock-cat(1).
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "monotime.h"
#include "parse.h"
#include "smartsock.h"

#define CAT_PATH_MAX 4096
/* Longest wait between looks at the attachment while not attached. */
#define CAT_WATCH_MS 250

/* What a command accepts after SOCKET. */
#define CAT_OPT_TO 0x01         /* --to HEX32 */
#define CAT_OPT_COUNT 0x02      /* -n COUNT */
#define CAT_OPT_IDENTITY 0x04   /* --identity */
#define CAT_OPT_TIMEOUT 0x08    /* --timeout SECONDS */
#define CAT_OPT_MSGS 0x10       /* MSG... */

struct cat_args {
	const char *socket;
	int has_to;
	uint8_t to[SMARTSOCK_IDENTITY_LEN];
	uint64_t count;                 /* 0: no limit */
	int identity;
	int timeout_ms;                 /* -1: none */
	char **msgs;
	int nmsgs;
	int exit_on_detach;             /* -x: no re-attaching */
};

struct cat_cmd {
	const char *name;
	int opts;
	int (*run)(smartsock *, const struct cat_args *);
	const char *usage;
};

static int cat_send(smartsock *, const struct cat_args *);
static int cat_recv(smartsock *, const struct cat_args *);
static int cat_echo(smartsock *, const struct cat_args *);

static const struct cat_cmd cat_cmds[] = {
	{ "send", CAT_OPT_TO | CAT_OPT_MSGS, cat_send,
	    "send SOCKET [--to HEX32] [MSG ...]" },
	{ "recv", CAT_OPT_COUNT | CAT_OPT_IDENTITY | CAT_OPT_TIMEOUT, cat_recv,
	    "recv SOCKET [-n COUNT] [--identity] [--timeout SECONDS]" },
	{ "echo", CAT_OPT_COUNT, cat_echo,
	    "echo SOCKET [-n COUNT]" },
};

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static void __attribute__((noreturn))
cat_usage(FILE *f, int status)
{
	size_t i;

	fprintf(f, "usage: smartsock-cat [-c FILE | -S RUNTIME_DIR] [-x] COMMAND "
	    "SOCKET ...\n");
	for (i = 0; i < nitems(cat_cmds); i++)
		fprintf(f, "       smartsock-cat [-c FILE | -S DIR] [-x] %s\n",
		    cat_cmds[i].usage);
	exit(status);
}

/* "smartsock-cat: what: reason", the reason from errno. */
static void __attribute__((format(printf, 1, 2)))
cat_warn(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fputs("smartsock-cat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", smartsock_strerror(err));
}

/*
 * --timeout: a duration as in smartsockd.conf ("5", "5s", "250ms") or
 * seconds with a fraction ("0.5"), to the millisecond.
 */
static int
cat_parse_timeout(const char *s, int *ms)
{
	uint64_t sec, v = 0;
	const char *dot, *p;
	char ipart[32];
	int digits = 0;

	if ((dot = strchr(s, '.')) == NULL) {
		if (!parse_duration_ms(s, &v) || v > INT32_MAX)
			return 0;
		*ms = (int)v;
		return 1;
	}
	if (dot == s || (size_t)(dot - s) >= sizeof ipart || dot[1] == '\0')
		return 0;
	memcpy(ipart, s, (size_t)(dot - s));
	ipart[dot - s] = '\0';
	if (!parse_u64(ipart, &sec) || sec > INT32_MAX / 1000)
		return 0;
	for (p = dot + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		if (digits++ < 3)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	for (; digits < 3; digits++)
		v *= 10;
	if (sec * 1000 + v > INT32_MAX)
		return 0;
	*ms = (int)(sec * 1000 + v);
	return 1;
}

/*
 * An option's value: "--opt=V", "-nV" or the next argument.  Returns NULL
 * when `arg` is not option `name`.
 */
static const char *
cat_optval(const char *name, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	size_t len = strlen(name);

	if (strncmp(arg, name, len) != 0)
		return NULL;
	if (arg[len] == '=' && name[1] == '-')
		return arg + len + 1;
	if (arg[len] != '\0' && name[1] != '-')
		return arg + len;
	if (arg[len] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		warnx("%s needs a value", name);
		cat_usage(stderr, 2);
	}
	return argv[++*i];
}

/* The arguments after COMMAND; usage errors exit 2. */
static void
cat_parse(const struct cat_cmd *cmd, int argc, char **argv,
    struct cat_args *a)
{
	const char *v;
	int i;

	memset(a, 0, sizeof *a);
	a->timeout_ms = -1;
	if (argc < 1 || strcmp(argv[0], "--help") == 0)
		cat_usage(argc < 1 ? stderr : stdout, argc < 1 ? 2 : 0);
	a->socket = argv[0];
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0)
			cat_usage(stdout, 0);
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if ((cmd->opts & CAT_OPT_TO) &&
		    (v = cat_optval("--to", argc, argv, &i)) != NULL) {
			if (!parse_identity(v, a->to)) {
				warnx("--to: not 32 hex digits: %s", v);
				cat_usage(stderr, 2);
			}
			a->has_to = 1;
		} else if ((cmd->opts & CAT_OPT_COUNT) &&
		    (v = cat_optval("-n", argc, argv, &i)) != NULL) {
			if (!parse_u64(v, &a->count) || a->count == 0) {
				warnx("-n: not a positive count: %s", v);
				cat_usage(stderr, 2);
			}
		} else if ((cmd->opts & CAT_OPT_IDENTITY) &&
		    strcmp(argv[i], "--identity") == 0)
			a->identity = 1;
		else if ((cmd->opts & CAT_OPT_TIMEOUT) &&
		    (v = cat_optval("--timeout", argc, argv, &i)) != NULL) {
			if (!cat_parse_timeout(v, &a->timeout_ms)) {
				warnx("--timeout: not a duration: %s", v);
				cat_usage(stderr, 2);
			}
		} else {
			warnx("%s: unknown option for %s", argv[i],
			    cmd->name);
			cat_usage(stderr, 2);
		}
	}
	if (i < argc && !(cmd->opts & CAT_OPT_MSGS)) {
		warnx("%s: unexpected argument", argv[i]);
		cat_usage(stderr, 2);
	}
	a->msgs = argv + i;
	a->nmsgs = argc - i;
}

/*
 * The library re-attaches by itself; say so on stderr, one line when the
 * daemon goes and one when it is back.  Returns smartsock_events()'s mask
 * (-1 for a broken handle: the next call reports it).
 */
static int
cat_watch(smartsock *s, const struct cat_args *a)
{
	static int detached;
	int ev, err;

	if (a->exit_on_detach)
		return SMARTSOCK_EVENT_ATTACHED;
	ev = smartsock_events(s);
	err = errno;
	if (ev == -1)
		return -1;
	if ((ev & SMARTSOCK_EVENT_LOST) && !detached) {
		detached = 1;
		if (ev & SMARTSOCK_EVENT_ATTACHED)
			warnx("%s: detached from smartsockd; reconnecting",
			    a->socket);
		else
			warnx("%s: detached from smartsockd (%s); reconnecting",
			    a->socket, smartsock_strerror(err));
	}
	if ((ev & SMARTSOCK_EVENT_ATTACHED) && detached) {
		detached = 0;
		warnx("%s: attached again", a->socket);
	}
	return ev;
}

/* Until the handle is attached, report what happens (see cat_watch). */
static void
cat_wait_attached(smartsock *s, const struct cat_args *a)
{
	struct pollfd pfd;
	int ev;

	while ((ev = cat_watch(s, a)) != -1 &&
	    !(ev & SMARTSOCK_EVENT_ATTACHED)) {
		pfd.fd = smartsock_fd(s);
		pfd.events = POLLIN;
		poll(&pfd, 1, CAT_WATCH_MS);
	}
}

static int
cat_send_one(smartsock *s, const struct cat_args *a, const void *p,
    size_t len)
{
	int r;

	cat_wait_attached(s, a);
	if (a->has_to)
		r = smartsock_send_to(s, a->to, p, len);
	else
		r = smartsock_send(s, p, len);
	if (r == -1) {
		cat_warn("%s: send", a->socket);
		return -1;
	}
	return 0;
}

static int
cat_send(smartsock *s, const struct cat_args *a)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int i, status = 0;

	for (i = 0; i < a->nmsgs; i++)
		if (cat_send_one(s, a, a->msgs[i], strlen(a->msgs[i])) == -1)
			return 1;
	if (a->nmsgs > 0)
		return 0;
	while ((len = getline(&line, &cap, stdin)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (cat_send_one(s, a, line, (size_t)len) == -1) {
			status = 1;
			break;
		}
	}
	if (status == 0 && ferror(stdin)) {
		warnx("stdin: %s", strerror(errno));
		status = 1;
	}
	free(line);
	return status;
}

/*
 * Receive up to a->count messages, handing each to `fn`: receives that do
 * not wait, and poll() on the handle's descriptor between them, so that
 * what happens to the attachment is seen as it happens.
 */
static int
cat_loop(smartsock *s, const struct cat_args *a,
    int (*fn)(smartsock *, const struct cat_args *, const uint8_t *,
    const char *, size_t))
{
	uint8_t id[SMARTSOCK_IDENTITY_LEN];
	struct pollfd pfd;
	uint64_t n = 0;
	size_t cap;
	ssize_t len;
	char *buf;
	int64_t last, left;
	int status = 0, watched = 0;

	if (smartsock_set_timeout(s, 0) == -1) {
		cat_warn("%s: timeout", a->socket);
		return 1;
	}
	/* Nothing is ever truncated; pages are touched only as used. */
	cap = smartsock_max_message_size(s);
	if ((buf = malloc(cap > 0 ? cap : 1)) == NULL) {
		cat_warn("%s: buffer of %zu bytes", a->socket, cap);
		return 1;
	}
	pfd.fd = smartsock_fd(s);
	pfd.events = POLLIN;
	last = mono_ms();
	while (a->count == 0 || n < a->count) {
		len = smartsock_recv_identity(s, id, buf, cap);
		if (len >= 0) {
			if (fn(s, a, id, buf, (size_t)len) == -1) {
				status = 1;
				break;
			}
			n++;
			last = mono_ms();
			watched = 0;
			continue;
		}
		if (errno != EAGAIN) {
			cat_warn("%s: recv", a->socket);
			status = 1;
			break;
		}
		/* Nothing buffered: look at the attachment (which may read
		 * more), then, with nothing still, wait. */
		if (!watched) {
			cat_watch(s, a);
			watched = 1;
			continue;
		}
		watched = 0;
		left = -1;
		if (a->timeout_ms >= 0) {
			left = a->timeout_ms - (mono_ms() - last);
			if (left <= 0) {
				warnx("%s: no message within %d.%03d s",
				    a->socket, a->timeout_ms / 1000,
				    a->timeout_ms % 1000);
				status = 1;
				break;
			}
		}
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR) {
			cat_warn("%s: poll", a->socket);
			status = 1;
			break;
		}
	}
	free(buf);
	return status;
}

static int
cat_print(smartsock *s, const struct cat_args *a, const uint8_t *id,
    const char *p, size_t len)
{
	char hex[2 * SMARTSOCK_IDENTITY_LEN + 1];

	(void)s;
	if (a->identity) {
		format_identity(id, hex);
		printf("%s\t", hex);
	}
	fwrite(p, 1, len, stdout);
	putchar('\n');
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warnx("stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
cat_recv(smartsock *s, const struct cat_args *a)
{
	return cat_loop(s, a, cat_print);
}

static int
cat_reply(smartsock *s, const struct cat_args *a, const uint8_t *id,
    const char *p, size_t len)
{
	char hex[2 * SMARTSOCK_IDENTITY_LEN + 1];
	int r;

	/* The loop receives without waiting; the verdict needs a wait. */
	smartsock_set_timeout(s, -1);
	cat_wait_attached(s, a);
	r = smartsock_send_to(s, id, p, len);
	smartsock_set_timeout(s, 0);
	if (r == 0)
		return 0;
	format_identity(id, hex);
	cat_warn("%s: echo to %s", a->socket, hex);
	/* The sender left or its buffer is full, or the daemon went before
	 * its verdict: serve the others. */
	if (errno == EHOSTUNREACH || errno == ENOBUFS ||
	    (errno == ECONNRESET && !a->exit_on_detach))
		return 0;
	return -1;
}

static int
cat_echo(smartsock *s, const struct cat_args *a)
{
	return cat_loop(s, a, cat_reply);
}

/* runtime_dir from a smartsockd config file, or NULL (reported). */
static char *
cat_config_dir(const char *file)
{
	char err[512], *dir;

	if ((dir = config_runtime_dir(file, err, sizeof(err))) == NULL)
		warnx("%s", err);
	return dir;
}

int
main(int argc, char **argv)
{
	const struct cat_cmd *cmd = NULL;
	const char *conf = NULL, *dirarg = NULL, *target;
	char *dir = NULL, path[CAT_PATH_MAX];
	struct cat_args a;
	smartsock *s;
	size_t i;
	int c, status, n, exit_on_detach = 0;

	for (c = 1; c < argc && argv[c][0] == '-'; c++) {
		if (strcmp(argv[c], "--") == 0) {
			c++;
			break;
		}
		if (strcmp(argv[c], "--help") == 0 ||
		    strcmp(argv[c], "-h") == 0)
			cat_usage(stdout, 0);
		if (strncmp(argv[c], "-c", 2) == 0 && conf == NULL) {
			conf = argv[c][2] != '\0' ? argv[c] + 2 : argv[++c];
			if (conf == NULL)
				cat_usage(stderr, 2);
		} else if (strncmp(argv[c], "-S", 2) == 0 && dirarg == NULL) {
			dirarg = argv[c][2] != '\0' ? argv[c] + 2 : argv[++c];
			if (dirarg == NULL)
				cat_usage(stderr, 2);
		} else if (strcmp(argv[c], "-x") == 0 ||
		    strcmp(argv[c], "--exit-on-detach") == 0)
			exit_on_detach = 1;
		else
			cat_usage(stderr, 2);
	}
	if (conf != NULL && dirarg != NULL) {
		warnx("-c and -S exclude each other");
		cat_usage(stderr, 2);
	}
	if (c >= argc)
		cat_usage(stderr, 2);
	for (i = 0; i < nitems(cat_cmds); i++)
		if (strcmp(argv[c], cat_cmds[i].name) == 0)
			cmd = &cat_cmds[i];
	if (cmd == NULL) {
		warnx("%s: unknown command", argv[c]);
		cat_usage(stderr, 2);
	}
	cat_parse(cmd, argc - c - 1, argv + c + 1, &a);
	a.exit_on_detach = exit_on_detach;

	if (conf != NULL && (dir = cat_config_dir(conf)) == NULL)
		return 1;
	if (dirarg != NULL && (dir = strdup(dirarg)) == NULL) {
		cat_warn("%s", dirarg);
		return 1;
	}
	target = a.socket;
	if (dir != NULL && strchr(a.socket, '/') == NULL) {
		n = snprintf(path, sizeof path, "%s/%s.sock", dir, a.socket);
		if (n < 0 || (size_t)n >= sizeof path) {
			errno = ENAMETOOLONG;
			cat_warn("%s/%s.sock", dir, a.socket);
			free(dir);
			return 1;
		}
		target = path;
	}
	free(dir);
	if ((s = smartsock_open(target)) == NULL) {
		cat_warn("%s", target);
		return 1;
	}
	if (a.exit_on_detach)
		smartsock_set_reconnect(s, 0);
	status = cmd->run(s, &a);
	smartsock_close(s);
	return status;
}
