/*
 * smartsockctl: ask smartsockd, through its control socket, what it is
 * doing, or make it reload its configuration.  See smartsockctl(8); the
 * protocol is in common/ctlproto.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl-show.h"
#include "ctlproto.h"
#include "json-parse.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

/* Exit codes, as smartsockctl(8) documents them. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_REFUSED 1
#define CTL_EXIT_UNREACHABLE 2
#define CTL_EXIT_USAGE 3

/* The whole exchange, connect to last byte. */
#define CTL_CLIENT_TIMEOUT_MS (2 * CTL_TIMEOUT_MS)

struct ctl_cmd {
	const char *name;
	int nargs;
	const char *usage;
	void (*show)(FILE *, const struct jsonp *);
	const char *help;
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", 0, "status", ctl_show_status,
	    "the daemon, and every socket with its endpoints and counters" },
	{ "peers", 1, "peers SOCKET", ctl_show_peers,
	    "every connection of SOCKET" },
	{ "reload", 0, "reload", ctl_show_reload,
	    "reload the configuration, as SIGHUP does" },
};

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static const struct option ctl_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void __attribute__((noreturn))
ctl_usage(FILE *f, int status)
{
	size_t i;

	fprintf(f, "usage: smartsockctl [-c FILE | -S RUNTIME_DIR] [--json] "
	    "[COMMAND [ARG]]\n"
	    "  (options may come anywhere; -- ends them)\n"
	    "  -c FILE         read runtime_dir from this smartsockd.conf\n"
	    "  -S RUNTIME_DIR  talk to RUNTIME_DIR/%s\n"
	    "  --json          print the daemon's answer as JSON\n"
	    "commands (default status):\n", CTL_SOCKET_FILE);
	for (i = 0; i < nitems(ctl_cmds); i++)
		fprintf(f, "  %-15s %s\n", ctl_cmds[i].usage, ctl_cmds[i].help);
	exit(status);
}

static int
ctl_elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int)((t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Wait for fd to be ready for `events` within the exchange's time. */
static int
ctl_wait(int fd, short events, const struct timespec *t0)
{
	struct pollfd pfd = { fd, events, 0 };
	int left, n;

	for (;;) {
		if ((left = CTL_CLIENT_TIMEOUT_MS - ctl_elapsed_ms(t0)) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((n = poll(&pfd, 1, left)) > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
ctl_write_all(int fd, const char *p, size_t len, const struct timespec *t0)
{
	ssize_t n;

	while (len > 0) {
		if (ctl_wait(fd, POLLOUT, t0) == -1)
			return -1;
		if ((n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Everything up to EOF into *buf (malloc'd, NUL-terminated). */
static int
ctl_read_all(int fd, char **buf, size_t *len, const struct timespec *t0)
{
	size_t cap = 0, used = 0;
	char *p = NULL, *grown;
	ssize_t n;

	for (;;) {
		if (cap - used < 2) {
			cap = cap == 0 ? 16384 : cap * 2;
			if (cap > CTL_ANSWER_MAX + 2) {
				free(p);
				errno = EMSGSIZE;
				return -1;
			}
			if ((grown = realloc(p, cap)) == NULL) {
				free(p);
				return -1;
			}
			p = grown;
		}
		if (ctl_wait(fd, POLLIN, t0) == -1) {
			free(p);
			return -1;
		}
		n = recv(fd, p + used, cap - used - 1, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			free(p);
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	p[used] = '\0';
	*buf = p;
	*len = used;
	return 0;
}

/*
 * One request, its answer into *answer (the raw text too, for --json).
 * CTL_EXIT_OK with both set, or CTL_EXIT_UNREACHABLE after a message.
 */
static int
ctl_exchange(const char *path, const char *request, char **raw,
    struct jsonp **answer)
{
	struct timespec t0;
	char err[256];
	size_t len;
	int fd, saved;
	uint64_t version;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((fd = ctl_connect(path)) == -1) {
		warnx("cannot reach smartsockd at %s: %s", path,
		    strerror(errno));
		return CTL_EXIT_UNREACHABLE;
	}
	/* A daemon that refuses at once may close before it reads all. */
	if (ctl_write_all(fd, request, strlen(request), &t0) == -1 &&
	    errno != EPIPE && errno != ECONNRESET) {
		saved = errno;
		close(fd);
		warnx("cannot send to smartsockd at %s: %s", path,
		    strerror(saved));
		return CTL_EXIT_UNREACHABLE;
	}
	if (ctl_read_all(fd, raw, &len, &t0) == -1) {
		saved = errno;
		close(fd);
		warnx("no answer from smartsockd at %s: %s", path,
		    strerror(saved));
		return CTL_EXIT_UNREACHABLE;
	}
	close(fd);
	if (len == 0) {
		warnx("smartsockd at %s closed the connection without an "
		    "answer", path);
		free(*raw);
		return CTL_EXIT_UNREACHABLE;
	}
	if ((*answer = jsonp_parse(*raw, len, err, sizeof(err))) == NULL ||
	    !jsonp_u64(*answer, "version", &version)) {
		warnx("smartsockd at %s gave an answer that is not "
		    "control protocol JSON: %s", path, *answer == NULL ? err :
		    "no version");
	} else if (version != CTL_VERSION) {
		warnx("smartsockd at %s speaks control protocol version "
		    "%llu, not %d", path, (unsigned long long)version,
		    CTL_VERSION);
	} else
		return CTL_EXIT_OK;
	jsonp_free(*answer);
	*answer = NULL;
	free(*raw);
	*raw = NULL;
	return CTL_EXIT_UNREACHABLE;
}

/* runtime_dir from a smartsockd config file, or NULL (reported). */
static char *
ctl_config_dir(const char *file)
{
	char err[512], *dir;

	if ((dir = config_runtime_dir(file, err, sizeof(err))) == NULL)
		warnx("%s", err);
	return dir;
}

/* The request line; an argument must be one printable word. */
static int
ctl_request(const struct ctl_cmd *cmd, const char *arg, char *buf,
    size_t len)
{
	const char *p;
	int n;

	for (p = arg; p != NULL && *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f) {
			warnx("%s: the argument must be one word of "
			    "printable ASCII", cmd->name);
			return -1;
		}
	}
	n = snprintf(buf, len, "%s %d %s%s%s\n", CTL_MAGIC, CTL_VERSION,
	    cmd->name, arg != NULL ? " " : "", arg != NULL ? arg : "");
	if (n < 0 || (size_t)n >= len) {
		warnx("%s: the argument is too long", cmd->name);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *dirarg = NULL, *arg = NULL, *base;
	const struct ctl_cmd *cmd = NULL;
	char *dir = NULL, *raw = NULL, path[4096], request[CTL_LINE_MAX];
	struct jsonp *answer = NULL;
	size_t i;
	int c, json = 0, ok = 0, status, n;

	/* Options anywhere: smartsockctl status --json is smartsockctl
	 * --json status. */
	while ((c = getopt_long(argc, argv, "c:S:h", ctl_longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'S':
			dirarg = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			ctl_usage(stdout, CTL_EXIT_OK);
		default:
			ctl_usage(stderr, CTL_EXIT_USAGE);
		}
	}
	c = optind;
	if (conf != NULL && dirarg != NULL) {
		warnx("-c and -S exclude each other");
		ctl_usage(stderr, CTL_EXIT_USAGE);
	}
	if (c == argc)
		cmd = &ctl_cmds[0];
	for (i = 0; cmd == NULL && i < nitems(ctl_cmds); i++)
		if (strcmp(argv[c], ctl_cmds[i].name) == 0)
			cmd = &ctl_cmds[i];
	if (cmd == NULL) {
		warnx("%s: unknown command", argv[c]);
		ctl_usage(stderr, CTL_EXIT_USAGE);
	}
	if (c < argc)
		c++;
	if (argc - c != cmd->nargs) {
		warnx("usage: smartsockctl %s", cmd->usage);
		return CTL_EXIT_USAGE;
	}
	if (cmd->nargs > 0)
		arg = argv[c];
	if (ctl_request(cmd, arg, request, sizeof(request)) == -1)
		return CTL_EXIT_USAGE;

	if (conf != NULL && (dir = ctl_config_dir(conf)) == NULL)
		return CTL_EXIT_UNREACHABLE;
	if (dir == NULL && dirarg == NULL &&
	    ((dirarg = getenv("SMARTSOCK_RUNTIME_DIR")) == NULL ||
	    *dirarg == '\0'))
		dirarg = RUNSTATEDIR "/smartsock";
	base = dir != NULL ? dir : dirarg;
	n = snprintf(path, sizeof(path), "%s/%s", base, CTL_SOCKET_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		warnx("cannot reach smartsockd at %s/%s: %s", base,
		    CTL_SOCKET_FILE, strerror(ENAMETOOLONG));
		free(dir);
		return CTL_EXIT_UNREACHABLE;
	}
	free(dir);

	signal(SIGPIPE, SIG_IGN);
	if ((status = ctl_exchange(path, request, &raw, &answer)) != CTL_EXIT_OK)
		return status;
	jsonp_bool(answer, "ok", &ok);
	if (json)
		fputs(raw, stdout);
	if (ok) {
		if (!json)
			cmd->show(stdout, answer);
	} else {
		ctl_show_refusal(stderr, cmd->name, answer);
		status = CTL_EXIT_REFUSED;
	}
	jsonp_free(answer);
	free(raw);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warnx("stdout: %s", strerror(errno));
		return CTL_EXIT_REFUSED;
	}
	return status;
}
