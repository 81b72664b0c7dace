/* notify: sd_notify(3) for smartsockd (see notify.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

#ifdef HAVE_LIBSYSTEMD

static struct event *notify_watchdog_ev;

/* `state` ("READY=1", ...) or NULL, then STATUS= from fmt. */
static void notify_send(const char *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
notify_send(const char *state, const char *fmt, va_list ap)
{
	char status[512], *p;
	int rc;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	vsnprintf(status, sizeof(status), fmt, ap);
	/* One STATUS= line: a newline would start another assignment. */
	for (p = status; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (state != NULL)
		rc = sd_notifyf(0, "%s\nSTATUS=%s", state, status);
	else
		rc = sd_notifyf(0, "STATUS=%s", status);
	if (rc < 0)
		log_debug("sd_notify: %s", strerror(-rc));
}

static void
notify_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

int
notify_init(struct event_base *base)
{
	uint64_t usec;
	struct timeval tv;
	int rc;

	if (notify_watchdog_ev != NULL)
		return 0;
	rc = sd_watchdog_enabled(0, &usec);
	if (rc < 0) {
		log_warnx("systemd watchdog not kept: WATCHDOG_USEC or "
		    "WATCHDOG_PID is invalid: %s", strerror(-rc));
		return 0;
	}
	if (rc == 0)
		return 0;
	/* Half the interval: one late pass of the loop is not a failure. */
	usec /= 2;
	if (usec == 0)
		usec = 1;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	notify_watchdog_ev = event_new(base, -1, EV_PERSIST, notify_watchdog,
	    NULL);
	if (notify_watchdog_ev == NULL ||
	    event_add(notify_watchdog_ev, &tv) == -1) {
		log_warnx("cannot set up the systemd watchdog timer");
		notify_free();
		return -1;
	}
	log_info("systemd watchdog: a keep-alive every %llu ms",
	    (unsigned long long)(usec / 1000));
	return 0;
}

void
notify_free(void)
{
	if (notify_watchdog_ev != NULL)
		event_free(notify_watchdog_ev);
	notify_watchdog_ev = NULL;
}

void
notify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send("READY=1", fmt, ap);
	va_end(ap);
}

void
notify_reloading(const char *fmt, ...)
{
	struct timespec ts;
	char state[64];
	va_list ap;

	/* MONOTONIC_USEC= dates the reload (required by Type=notify-reload,
	 * harmless with Type=notify). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	va_start(ap, fmt);
	notify_send(state, fmt, ap);
	va_end(ap);
}

void
notify_stopping(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send("STOPPING=1", fmt, ap);
	va_end(ap);
}

void
notify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send(NULL, fmt, ap);
	va_end(ap);
}

#else /* !HAVE_LIBSYSTEMD */

int
notify_init(struct event_base *base)
{
	(void)base;
	/* A Type=notify unit would wait for a READY=1 that never comes. */
	if (getenv("NOTIFY_SOCKET") != NULL)
		log_warnx("NOTIFY_SOCKET is set, but this smartsockd was built "
		    "without libsystemd (configure --with-systemd): the "
		    "service manager is not told when it is ready");
	return 0;
}

void
notify_free(void)
{
}

void
notify_ready(const char *fmt, ...)
{
	(void)fmt;
}

void
notify_reloading(const char *fmt, ...)
{
	(void)fmt;
}

void
notify_stopping(const char *fmt, ...)
{
	(void)fmt;
}

void
notify_status(const char *fmt, ...)
{
	(void)fmt;
}

#endif /* HAVE_LIBSYSTEMD */
