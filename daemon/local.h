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
 */
#ifndef SMARTSOCK_LOCAL_H
#define SMARTSOCK_LOCAL_H

#include <stddef.h>

struct ssock;
struct local;
struct msg;

/* Listen on `path`.  A stale file (nothing answers) is replaced; a live
 * daemon on it makes this fail.  NULL after logging why. */
struct local *local_new(struct ssock *, const char *path);
/* Stop accepting and remove the socket file. */
void local_stop_accepting(struct local *);
void local_free(struct local *);                /* NULL is a no-op */

/* Hand a message to the next application that has room: 1 taken (with the
 * reference), 0 none can take it now. */
int local_deliver(struct local *, struct msg *);
/* The send buffer has room again: read blocked clients. */
void local_resume_reading(struct local *);
size_t local_count(const struct local *);

#endif
