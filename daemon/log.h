/*
 * log: smartsockd's logging, in the OpenSMTPD manner.  Lines go to stderr
 * in the foreground and to syslog otherwise.  log_warn() appends
 * strerror(errno); the x variants do not.  fatal*() log and exit(1).
 */
#ifndef SMARTSOCK_LOG_H
#define SMARTSOCK_LOG_H

#include <stdint.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* facility: a LOG_* facility of syslog(3), used without foreground. */
void log_init(int foreground, int verbose, int facility);
int log_verbose(void);
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

/* Monotonic milliseconds, coarse (a few ms) and cheap. */
uint64_t now_ms(void);

#endif
