/*
 * local: the applications attached to one smart socket through its Unix
 * socket <runtime_dir>/<name>.sock, speaking common/lproto.h.
 *
 * Every client is untrusted: the first frame must be a HELLO of our version
 * (else REFUSE and close), every frame is bounds-checked, and a malformed
 * or oversized one disconnects that client with a log line, nothing else.
 * Received messages are shared round-robin among the clients that asked for
 * them (CREDIT: only receiving applications get any); at-least-once
 * messages stay "in flight" per client until it CONFIRMs them, and go back
 * to the socket's receive queue if it leaves first.  When the socket's send
 * buffer is full (overflow = block) clients are simply not read.
 *
 * Who may attach: whoever may open the file (socket_mode, socket_group),
 * then, at the HELLO, allow_users / allow_groups against the credentials
 * of the connecting process (SO_PEERCRED, SO_PEERGROUPS), and at most
 * max_clients at once; a refused client gets a REFUSE with the reason.
 * Before that, at the accept, each user's share of the daemon's local
 * connections (share.h); a connection without its HELLO after
 * LOCAL_HELLO_MS is closed.  Every refusal and close is logged with the
 * pid and uid (rate-limited, with the count of lines left out).
 *
 * When the daemon stops, local_closing() sends every attached application
 * CLOSING (lproto.h).  Each one is still read up to the end of its stream,
 * so nothing it wrote is lost; after that it is kept only to take what the
 * socket still holds for it (credit no longer limits an application that
 * receives) until the daemon exits.  New attaches are refused meanwhile.
 */
#ifndef SMARTSOCK_LOCAL_H
#define SMARTSOCK_LOCAL_H

#include <stddef.h>

struct core;
struct local;
struct core_sink;
struct msg;

/* Listen on `path`, with the socket's socket_group and socket_mode.  A
 * stale file (nothing answers) is replaced; a live daemon on it makes this
 * fail.  NULL after logging why. */
struct local *local_new(struct core *, const char *path);
/* The socket's conf changed: apply socket_group and socket_mode to the
 * file (logged when they change or cannot be applied); allow lists and
 * max_clients apply to the next attaches by themselves. */
void local_reconfigure(struct local *);
/* Stop accepting and remove the socket file. */
void local_stop_accepting(struct local *);
void local_free(struct local *);                /* NULL is a no-op */

/* The socket's sink while it has no routes (core.h): each message to
 * the next application that has room. */
const struct core_sink *local_sink(const struct local *);
/* The send buffer has room again: read blocked clients. */
void local_resume_reading(struct local *);
size_t local_count(const struct local *);

/* The daemon is stopping: CLOSING to every attached application, REFUSE to
 * new ones.  NULL is a no-op. */
void local_closing(struct local *);
/* While stopping: the applications the daemon still waits for, those that
 * have not ended their stream (and one more while received messages wait
 * for an application that can take them).  0 when nothing is left; 0 for
 * NULL.  local_free() writes what is already queued for each application
 * if its socket takes it without a wait. */
size_t local_unfinished(const struct local *);

#endif
