/*
 * notify: tells a service manager how smartsockd is doing, with the
 * sd_notify(3) protocol (systemd's Type=notify).
 *
 * What it promises:
 * - Every function is a no-op returning at once when smartsockd is built
 *   without libsystemd (./configure --with-systemd=no) or when the
 *   environment has no NOTIFY_SOCKET; nothing here ever fails the daemon
 *   except notify_init() when a watchdog is asked for and cannot be kept.
 * - notify_ready() is called only once everything the configuration asks
 *   to listen on is listening: the control socket, every socket's
 *   Unix socket and bind endpoints (connect endpoints keep trying on their
 *   own and are not waited for).  main calls it where it logs
 *   "running with", and again after each reload (applied or refused).
 * - A STATUS= line goes with every state change; its text is one line
 *   (newlines become spaces).
 * - With a watchdog (WATCHDOG_USEC set, and WATCHDOG_PID unset or this
 *   process), WATCHDOG=1 is sent from a timer of the event loop every
 *   half interval, so a loop that stops turning stops the keep-alives.
 */
#ifndef SMARTSOCK_NOTIFY_H
#define SMARTSOCK_NOTIFY_H

#include "log.h"

struct event_base;

/*
 * Once the event loop exists and after any fork (the watchdog belongs to
 * one pid): starts the watchdog timer on `base` when one is asked for.
 * Returns 0, or -1 (logged) when the timer cannot be set up.
 */
int notify_init(struct event_base *base);

/* Stops the watchdog timer; before the event base is freed.  Safe to call
 * without notify_init(), and twice. */
void notify_free(void);

/* READY=1 with STATUS=<fmt>: every socket is up (see above). */
void notify_ready(const char *fmt, ...) LOG_PRINTF(1, 2);

/* RELOADING=1 (with MONOTONIC_USEC=) and STATUS=<fmt>: a reload begins;
 * notify_ready() follows when it is over. */
void notify_reloading(const char *fmt, ...) LOG_PRINTF(1, 2);

/* STOPPING=1 with STATUS=<fmt>: shutting down. */
void notify_stopping(const char *fmt, ...) LOG_PRINTF(1, 2);

/* STATUS=<fmt> alone. */
void notify_status(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
