/*
 * smartsock-cat: send, receive and echo messages through a smart socket
 * from the shell, with libsmartsock.  See smartsock-cat(1).
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "monotime.h"
#include "parse.h"
#include "smartsock.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

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
	    "SOCKET ...\n"
	    "       (options may come anywhere; -- ends them, before a "
	    "MSG that starts with -)\n");
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

/* The options, in any order and anywhere among the words (getopt_long
 * permutes them); which command takes which is checked afterwards. */
static const struct option cat_longopts[] = {
	{ "to", required_argument, NULL, 'T' },
	{ "identity", no_argument, NULL, 'I' },
	{ "timeout", required_argument, NULL, 'W' },
	{ "exit-on-detach", no_argument, NULL, 'x' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Which command option each option letter is, 0 for global ones. */
static int
cat_opt_bit(int ch)
{
	switch (ch) {
	case 'T':
		return CAT_OPT_TO;
	case 'n':
		return CAT_OPT_COUNT;
	case 'I':
		return CAT_OPT_IDENTITY;
	case 'W':
		return CAT_OPT_TIMEOUT;
	default:
		return 0;
	}
}

static const char *
cat_opt_name(int bit)
{
	switch (bit) {
	case CAT_OPT_TO:
		return "--to";
	case CAT_OPT_COUNT:
		return "-n";
	case CAT_OPT_IDENTITY:
		return "--identity";
	default:
		return "--timeout";
	}
}

/*
 * The whole command line: [-c FILE | -S DIR] [-x] COMMAND SOCKET [MSG...]
 * with the command's options anywhere; usage errors exit 2.
 */
static const struct cat_cmd *
cat_parse(int argc, char **argv, const char **conf, const char **dirarg,
    struct cat_args *a)
{
	const struct cat_cmd *cmd = NULL;
	int ch, given = 0, bit;
	size_t i;

	memset(a, 0, sizeof *a);
	a->timeout_ms = -1;
	while ((ch = getopt_long(argc, argv, "c:S:n:xh", cat_longopts,
	    NULL)) != -1) {
		given |= bit = cat_opt_bit(ch);
		switch (ch) {
		case 'c':
			*conf = optarg;
			break;
		case 'S':
			*dirarg = optarg;
			break;
		case 'x':
			a->exit_on_detach = 1;
			break;
		case 'h':
			cat_usage(stdout, 0);
		case 'T':
			if (!parse_identity(optarg, a->to)) {
				warnx("--to: not 32 hex digits: %s", optarg);
				cat_usage(stderr, 2);
			}
			a->has_to = 1;
			break;
		case 'n':
			if (!parse_u64(optarg, &a->count) || a->count == 0) {
				warnx("-n: not a positive count: %s", optarg);
				cat_usage(stderr, 2);
			}
			break;
		case 'I':
			a->identity = 1;
			break;
		case 'W':
			if (!cat_parse_timeout(optarg, &a->timeout_ms)) {
				warnx("--timeout: not a duration: %s", optarg);
				cat_usage(stderr, 2);
			}
			break;
		default:
			cat_usage(stderr, 2);
		}
	}
	if (optind >= argc)
		cat_usage(stderr, 2);
	for (i = 0; i < nitems(cat_cmds); i++)
		if (strcmp(argv[optind], cat_cmds[i].name) == 0)
			cmd = &cat_cmds[i];
	if (cmd == NULL) {
		warnx("%s: unknown command", argv[optind]);
		cat_usage(stderr, 2);
	}
	for (bit = CAT_OPT_TO; bit <= CAT_OPT_TIMEOUT; bit <<= 1) {
		if ((given & bit) && !(cmd->opts & bit)) {
			warnx("%s is not an option of %s", cat_opt_name(bit),
			    cmd->name);
			cat_usage(stderr, 2);
		}
	}
	if (++optind >= argc) {
		warnx("%s: which socket?", cmd->name);
		cat_usage(stderr, 2);
	}
	a->socket = argv[optind++];
	if (optind < argc && !(cmd->opts & CAT_OPT_MSGS)) {
		warnx("%s: unexpected argument", argv[optind]);
		cat_usage(stderr, 2);
	}
	a->msgs = argv + optind;
	a->nmsgs = argc - optind;
	return cmd;
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

/* Standard input, read in chunks and cut into lines. */
struct cat_lines {
	char *buf;
	size_t len, cap;        /* bytes held, allocated */
	size_t off;             /* the next line starts here */
	int eof;
};

/*
 * The next line of standard input, without its newline (the last one may
 * have none), in *line with its length; 0 at the end, -1 on an error.
 * While it waits for input it lets the library look at the attachment
 * every CAT_WATCH_MS: a daemon that is stopping must see this sender end
 * its stream, not wait for the next line.
 */
static int
cat_next_line(struct cat_lines *l, smartsock *s, const struct cat_args *a,
    char **line, size_t *n)
{
	struct pollfd pfd;
	char *nl, *grown;
	ssize_t r;

	for (;;) {
		nl = NULL;
		if (l->off < l->len)
			nl = memchr(l->buf + l->off, '\n', l->len - l->off);
		if (nl != NULL || (l->eof && l->off < l->len)) {
			*line = l->buf + l->off;
			*n = (nl != NULL ? (size_t)(nl - *line) : l->len - l->off);
			l->off += *n + (nl != NULL);
			return 1;
		}
		if (l->eof)
			return 0;
		/* Keep the line begun, drop what was used. */
		if (l->off > 0)
			memmove(l->buf, l->buf + l->off, l->len - l->off);
		l->len -= l->off;
		l->off = 0;
		if (l->cap - l->len < 65536) {
			if ((grown = realloc(l->buf, l->cap + 65536)) == NULL)
				return -1;
			l->buf = grown;
			l->cap += 65536;
		}
		pfd.fd = STDIN_FILENO;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, CAT_WATCH_MS) == 0) {
			if (a->exit_on_detach)
				smartsock_events(s);
			else
				cat_watch(s, a);
			continue;
		}
		if ((r = read(STDIN_FILENO, l->buf + l->len,
		    l->cap - l->len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (r == 0)
			l->eof = 1;
		l->len += (size_t)r;
	}
}

static int
cat_send(smartsock *s, const struct cat_args *a)
{
	struct cat_lines l = { NULL, 0, 0, 0, 0 };
	char *line;
	size_t len;
	int i, r, status = 0;

	for (i = 0; i < a->nmsgs; i++)
		if (cat_send_one(s, a, a->msgs[i], strlen(a->msgs[i])) == -1)
			return 1;
	if (a->nmsgs > 0)
		return 0;
	while ((r = cat_next_line(&l, s, a, &line, &len)) == 1) {
		if (cat_send_one(s, a, line, len) == -1) {
			status = 1;
			break;
		}
	}
	if (r == -1) {
		warnx("stdin: %s", strerror(errno));
		status = 1;
	}
	free(l.buf);
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
	const struct cat_cmd *cmd;
	const char *conf = NULL, *dirarg = NULL, *target, *from = NULL;
	char *dir = NULL, path[CAT_PATH_MAX];
	struct cat_args a;
	smartsock *s;
	int status, n, err;

	cmd = cat_parse(argc, argv, &conf, &dirarg, &a);
	if (conf != NULL && dirarg != NULL) {
		warnx("-c and -S exclude each other");
		cat_usage(stderr, 2);
	}
	if (conf != NULL && (dir = cat_config_dir(conf)) == NULL)
		return 1;
	/* Without -c or -S, where the library would look (smartsock(3)). */
	if (conf == NULL && dirarg == NULL) {
		dirarg = getenv("SMARTSOCK_RUNTIME_DIR");
		from = "$SMARTSOCK_RUNTIME_DIR";
		if (dirarg == NULL || *dirarg == '\0') {
			dirarg = RUNSTATEDIR "/smartsock";
			from = "the default runtime directory";
		}
	}
	if (dir == NULL && (dir = strdup(dirarg)) == NULL) {
		cat_warn("%s", dirarg);
		return 1;
	}
	target = a.socket;
	if (strchr(a.socket, '/') == NULL) {
		n = snprintf(path, sizeof path, "%s/%s.sock", dir, a.socket);
		if (n < 0 || (size_t)n >= sizeof path) {
			errno = ENAMETOOLONG;
			cat_warn("%s/%s.sock", dir, a.socket);
			free(dir);
			return 1;
		}
		target = path;
	}
	if ((s = smartsock_open(target)) == NULL) {
		err = errno;
		cat_warn("%s", target);
		if (err == ENOENT && target == path && from != NULL)
			fprintf(stderr, "smartsock-cat: no socket %s in %s "
			    "(%s); name the daemon's runtime directory with -S "
			    "DIR or its configuration with -c FILE\n",
			    a.socket, dir, from);
		free(dir);
		return 1;
	}
	free(dir);
	if (a.exit_on_detach)
		smartsock_set_reconnect(s, 0);
	status = cmd->run(s, &a);
	smartsock_close(s);
	return status;
}
