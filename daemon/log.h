/*
 * log: smartsockd's logging, in the OpenSMTPD manner.  log_warn() appends
 * strerror(errno); the x variants do not.  fatal*() log and exit(1).
 *
 * Every line has a severity, a syslog(3) priority: fatal LOG_CRIT,
 * log_err* LOG_ERR, log_warn* LOG_WARNING, log_info LOG_INFO, log_debug
 * LOG_DEBUG.  Lines go to one of:
 * - standard error (the foreground): when it is systemd's journal
 *   ($JOURNAL_STREAM names it), each line starts with the priority as
 *   sd-daemon(3) "<N>" prefixes, so journalctl -p filters them; anywhere
 *   else (a terminal, a file, a pipe) with a timestamp, the program and
 *   pid, and the severity in words;
 * - syslog, once the daemon detached.
 * Lines less severe than the level (log_set_level) are not written.
 */
#ifndef SMARTSOCK_LOG_H
#define SMARTSOCK_LOG_H

#include <stddef.h>
#include <stdint.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Standard error from now on (the default before any call). */
void log_to_stderr(void);
/* syslog with this facility (a LOG_* of syslog(3)) from now on. */
void log_to_syslog(int facility);
/* Is standard error systemd's journal stream? */
int log_stderr_is_journal(void);
/*
 * Can syslog be reached (its socket, /dev/log, accepts a connection)?
 * 0, or -1 with the reason in why: syslog(3) drops lines silently.
 */
int log_syslog_check(char *why, size_t len);

/* The least severe priority written: LOG_ERR .. LOG_DEBUG (default
 * LOG_INFO). */
void log_set_level(int priority);
int log_level(void);
int log_verbose(void);                  /* debug lines are written */

void log_err(const char *, ...) LOG_PRINTF(1, 2);
void log_errx(const char *, ...) LOG_PRINTF(1, 2);
void log_warn(const char *, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void log_info(const char *, ...) LOG_PRINTF(1, 2);
void log_debug(const char *, ...) LOG_PRINTF(1, 2);
void fatal(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/*
 * A rate limit for lines that repeat under load (drops, malformed frames):
 * at most `burst` lines (0 counts as 1) per LOG_RATELIMIT_MS; the next line
 * that passes says how many were suppressed.  Returns the number
 * suppressed since the last line (>= 0) when the caller may log now, -1
 * when it must stay quiet.
 */
#define LOG_RATELIMIT_MS 10000
struct log_ratelimit {
	uint64_t last_ms;               /* start of the current window */
	uint64_t suppressed;
	unsigned burst;
	unsigned lines;                 /* logged in the current window */
};
int64_t log_ratelimit_pass(struct log_ratelimit *rl, uint64_t now_ms);
/* The tail of a line that passed: " (N more not logged)" when N > 0, ""
 * for 0.  buf has room for LOG_MORE_LEN bytes. */
#define LOG_MORE_LEN 48
const char *log_more(char *buf, int64_t suppressed);

/* Monotonic milliseconds, coarse (a few ms) and cheap. */
uint64_t now_ms(void);

#endif
