/* log: stderr or syslog, with levels and a rate limit (see log.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int log_foreground = 1;
static int log_level_verbose;

void
log_init(int foreground, int verbose, int facility)
{
	log_foreground = foreground;
	log_level_verbose = verbose;
	if (!foreground)
		openlog("smartsockd", LOG_PID | LOG_NDELAY, facility);
}

int
log_verbose(void)
{
	return log_level_verbose;
}

static void log_vwrite(int, const char *, va_list, const char *)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_foreground) {
		fprintf(stderr, "smartsockd: %s%s%s\n", line,
		    suffix ? ": " : "", suffix ? suffix : "");
		fflush(stderr);
	} else if (suffix)
		syslog(pri, "%s: %s", line, suffix);
	else
		syslog(pri, "%s", line);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_level_verbose)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

int64_t
log_ratelimit_pass(struct log_ratelimit *rl, uint64_t now)
{
	int64_t n;

	if (rl->last_ms == 0 || now - rl->last_ms >= LOG_RATELIMIT_MS) {
		rl->last_ms = now;
		rl->lines = 0;
	}
	if (rl->lines >= (rl->burst > 0 ? rl->burst : 1)) {
		rl->suppressed++;
		return -1;
	}
	rl->lines++;
	n = (int64_t)rl->suppressed;
	rl->suppressed = 0;
	return n;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	/* Coarse: a few ms of resolution is plenty for heartbeats and
	 * resends, and it never costs a system call (it is read per message). */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
