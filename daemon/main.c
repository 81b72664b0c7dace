/*
 * smartsockd: owns the smart sockets configured in smartsockd.conf.
 * main parses the command line, loads the config, sets the daemon up in
 * its order (runtime_dir, the loop, the control socket, every socket,
 * signals, detaching, readiness) and runs the event loop; the daemon
 * object's life is daemon.c's.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "advice.h"
#include "budget.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "route.h"
#include "share.h"
#include "ssock.h"
#include "tls.h"
#include "unixsock.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/smartsock/smartsockd.conf"


static void
usage(FILE *f)
{
	fprintf(f, "usage: smartsockd [-c FILE] [-f] [-t] [-v] [-h] [--version]\n"
	    "  -c FILE    configuration (default %s)\n"
	    "  -f         stay in the foreground, log to stderr\n"
	    "  -t         check the configuration and exit\n"
	    "  -v         more logging (debug)\n"
	    "  -h         this help\n", DEFAULT_CONFIG);
}

/* The syslog(3) facility a log_facility setting names. */
static int
log_facility_value(enum log_facility f)
{
	static const int value[] = {
		[LOG_FACILITY_DAEMON] = LOG_DAEMON,
		[LOG_FACILITY_USER] = LOG_USER,
		[LOG_FACILITY_LOCAL0] = LOG_LOCAL0,
		[LOG_FACILITY_LOCAL1] = LOG_LOCAL1,
		[LOG_FACILITY_LOCAL2] = LOG_LOCAL2,
		[LOG_FACILITY_LOCAL3] = LOG_LOCAL3,
		[LOG_FACILITY_LOCAL4] = LOG_LOCAL4,
		[LOG_FACILITY_LOCAL5] = LOG_LOCAL5,
		[LOG_FACILITY_LOCAL6] = LOG_LOCAL6,
		[LOG_FACILITY_LOCAL7] = LOG_LOCAL7,
	};

	return value[f];
}

/* mkdir -p for the runtime directory, which gets `mode` exactly when it is
 * made here; 0 or -1 with errno. */
static int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == 0)
		return chmod(buf, mode);        /* whatever the umask said */
	return errno == EEXIST ? 0 : -1;
}

/*
 * The config file's path from the working directory of the start: a
 * daemon without -f moves to / and reads the file again at each reload.
 * Malloc'd; NULL with errno.
 */
static char *
absolute_path(const char *path)
{
	char cwd[PATH_MAX], *abs;
	size_t len;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	len = strlen(cwd) + 1 + strlen(path) + 1;
	if ((abs = malloc(len)) != NULL)
		snprintf(abs, len, "%s/%s", cwd, path);
	return abs;
}

/* libevent's own warnings (the DNS resolver's, for one) go to our log. */
static void
daemon_libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* The control socket (made here, above the daemon it reports on), then
 * the daemon. */
static void
main_free(struct daemon *d)
{
	control_free(d->control);
	d->control = NULL;
	daemon_free(d);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = DEFAULT_CONFIG;
	int ch, foreground = 0, check_only = 0, verbose = 0;
	struct daemon d;
	char err[1024], *abs_path;
	size_t i;

	while ((ch = getopt_long(argc, argv, "c:ftvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("smartsockd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	memset(&d, 0, sizeof(d));
	TAILQ_INIT(&d.sockets);
	if ((abs_path = absolute_path(path)) == NULL) {
		fprintf(stderr, "smartsockd: %s: %s\n", path, strerror(errno));
		return 1;
	}
	d.config_path = abs_path;
	d.generation = 1;
	d.verbose = verbose;
	if (config_load(path, &d.cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "smartsockd: %s\n", err);
		free(abs_path);
		return 1;
	}
	if (tls_load_config(&d.cfg, &d.tls, err, sizeof(err)) == -1) {
		fprintf(stderr, "smartsockd: %s\n", err);
		config_free(&d.cfg);
		free(abs_path);
		return 1;
	}
	if (check_only) {
		printf("smartsockd: %s: configuration OK (%zu socket%s)\n",
		    path, d.cfg.nsockets, d.cfg.nsockets == 1 ? "" : "s");
		main_free(&d);
		return 0;
	}

	log_to_stderr();
	daemon_set_log_level(&d);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Socket reads allocate buffers of up to BEV_MAX_SINGLE_IO and free
	 * them soon after: served from the heap and kept there, they are
	 * reused instead of being mapped, faulted in and zeroed each time.
	 */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
	if (mkdir_p(d.cfg.daemon.runtime_dir, 0755) == -1) {
		log_err("cannot create runtime_dir %s",
		    d.cfg.daemon.runtime_dir);
		main_free(&d);
		return 1;
	}
	if (!unixsock_dir_safe(d.cfg.daemon.runtime_dir, err, sizeof(err))) {
		log_errx("runtime_dir (of %s) refused: %s", d.config_path, err);
		main_free(&d);
		return 1;
	}
	event_set_log_callback(daemon_libevent_log);
	if ((d.base = event_base_new()) == NULL) {
		log_errx("cannot create the event loop");
		main_free(&d);
		return 1;
	}
	if (budget_init(d.base, daemon_budget_relief, &d) == -1) {
		log_errx("cannot set up the memory budget");
		main_free(&d);
		return 1;
	}
	budget_set_max(d.cfg.daemon.max_memory);
	share_init();
	/* Connect endpoints are resolved without blocking the loop. */
	if ((d.dns = evdns_base_new(d.base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		log_errx("cannot set up the DNS resolver");
		main_free(&d);
		return 1;
	}
	/*
	 * The control socket first: a live daemon answering on it owns this
	 * runtime_dir, and must be found before any TCP port is taken.
	 */
	if ((d.control = control_new(&d)) == NULL) {
		log_errx("not starting: no control socket in %s",
		    d.cfg.daemon.runtime_dir);
		main_free(&d);
		return 1;
	}
	for (i = 0; i < d.cfg.nsockets; i++)
		if (daemon_start_socket(&d, &d.cfg, i, d.tls[i]) == NULL) {
			log_errx("not starting: socket %s could not be set up",
			    d.cfg.sockets[i].name);
			main_free(&d);
			return 1;
		}
	daemon_apply_routes(&d);
	if (daemon_signals_init(&d) == -1 ||
	    daemon_reload_on_sighup(&d) == -1) {
		log_errx("cannot set up signal handling");
		main_free(&d);
		return 1;
	}

	if (!foreground) {
		/* Every socket is up and any error was on the terminal; the
		 * log goes to syslog from now on, which may not be there. */
		if (log_syslog_check(err, sizeof(err)) == -1)
			log_warnx("syslog cannot be reached (%s): the log is lost "
			    "once smartsockd detaches; run it with -f to log to "
			    "standard error", err);
		if (daemon(0, 0) == -1) {
			log_err("daemon");
			main_free(&d);
			return 1;
		}
		log_to_syslog(log_facility_value(d.cfg.daemon.log_facility));
		if (event_reinit(d.base) == -1)
			fatalx("cannot reinitialise the event loop");
	}
	if (notify_init(d.base) == -1) {
		main_free(&d);
		return 1;
	}
	ssock_check_fd_limit(&d.cfg);
	config_advise(&d.cfg);
	d.pid = getpid();
	d.started_ms = now_ms();
	d.started_wall = (uint64_t)time(NULL);
	/*
	 * The control socket, every Unix socket and every bind endpoint are
	 * listening (set up above, synchronously): ready.
	 */
	log_info("smartsockd %s running with %s (%zu socket%s, runtime_dir "
	    "%s)", PACKAGE_VERSION, d.config_path, d.cfg.nsockets,
	    d.cfg.nsockets == 1 ? "" : "s", d.cfg.daemon.runtime_dir);
	notify_ready("running with %s: %zu socket%s, runtime_dir %s",
	    d.config_path, d.cfg.nsockets, d.cfg.nsockets == 1 ? "" : "s",
	    d.cfg.daemon.runtime_dir);
	event_base_dispatch(d.base);
	log_info("stopped");
	main_free(&d);
	return 0;
}
