/* log: stderr or syslog, with severities and a rate limit (see log.h). */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Where syslog(3) sends its lines (glibc's _PATH_LOG). */
#define LOG_SYSLOG_SOCKET "/dev/log"

static int log_syslog;                  /* else standard error */
static int log_journal = -1;            /* -1: not looked at yet */
static int log_max = LOG_INFO;

void
log_to_stderr(void)
{
	if (log_syslog)
		closelog();
	log_syslog = 0;
}

void
log_to_syslog(int facility)
{
	openlog("smartsockd", LOG_PID | LOG_NDELAY, facility);
	log_syslog = 1;
}

int
log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char tail;

	if (log_journal != -1)
		return log_journal;
	log_journal = v != NULL &&
	    sscanf(v, "%ju:%ju%c", &dev, &ino, &tail) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
	return log_journal;
}

int
log_syslog_check(char *why, size_t len)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sun;
	int fd, saved = ENOENT;
	size_t i;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, LOG_SYSLOG_SOCKET, sizeof(LOG_SYSLOG_SOCKET));
	/* As syslog(3): a datagram socket, else a stream one. */
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0)) == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			return 0;
		}
		saved = errno;
		close(fd);
		if (saved != EPROTOTYPE)
			break;
	}
	snprintf(why, len, "%s: %s", LOG_SYSLOG_SOCKET, strerror(saved));
	return -1;
}

void
log_set_level(int priority)
{
	if (priority < LOG_ERR)
		priority = LOG_ERR;
	if (priority > LOG_DEBUG)
		priority = LOG_DEBUG;
	log_max = priority;
}

int
log_level(void)
{
	return log_max;
}

int
log_verbose(void)
{
	return log_max >= LOG_DEBUG;
}

static const char *
log_severity(int pri)
{
	switch (pri) {
	case LOG_CRIT:
		return "fatal";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* "2026-12-07T18:04:05.123+0000", local time. */
static void
log_stamp(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char zone[8];
	size_t n;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (strftime(zone, sizeof(zone), "%z", &tm) == 0)
		zone[0] = '\0';
	snprintf(buf + n, len - n, ".%03ld%s", (long)(tv.tv_usec / 1000), zone);
}

static void log_vwrite(int, const char *, va_list, const char *)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024], stamp[40];

	if (pri > log_max)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		if (suffix != NULL)
			syslog(pri, "%s: %s", line, suffix);
		else
			syslog(pri, "%s", line);
		return;
	}
	if (log_stderr_is_journal())
		fprintf(stderr, "<%d>%s%s%s\n", pri, line,
		    suffix ? ": " : "", suffix ? suffix : "");
	else {
		log_stamp(stamp, sizeof(stamp));
		fprintf(stderr, "%s smartsockd[%ld]: %s: %s%s%s\n", stamp,
		    (long)getpid(), log_severity(pri), line,
		    suffix ? ": " : "", suffix ? suffix : "");
	}
	fflush(stderr);
}

#define LOG_FN(name, pri, with_errno)					\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
	int saved = errno;						\
									\
	va_start(ap, fmt);						\
	log_vwrite(pri, fmt, ap, with_errno ? strerror(saved) : NULL);	\
	va_end(ap);							\
	errno = saved;							\
}

LOG_FN(log_err, LOG_ERR, 1)
LOG_FN(log_errx, LOG_ERR, 0)
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

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

const char *
log_more(char *buf, int64_t suppressed)
{
	if (suppressed <= 0)
		return "";
	snprintf(buf, LOG_MORE_LEN, " (%" PRId64 " more not logged)",
	    suppressed);
	return buf;
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
