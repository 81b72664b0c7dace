/*
 * budget: the daemon-wide ceiling on the memory that messages hold
 * (max_memory).  msg.c counts every message it allocates, wherever it then
 * waits (a send queue, awaiting an ACK, a receive queue, an application's
 * in-flight list, a peer's output buffer by reference); each socket bounds
 * its own queues further (send_buffer_size, recv_buffer_size).
 *
 * Over the ceiling every socket behaves as if its own buffers were full:
 * applications meet the overflow policy, peers are not read for delivery;
 * nothing is refused by the allocator.  Once use falls to 7/8 of the
 * ceiling the relief callback runs, from the event loop (never from inside
 * the msg_unref() that freed the memory), so the sockets resume.
 */
#ifndef SMARTSOCK_BUDGET_H
#define SMARTSOCK_BUDGET_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Set the loop and the relief callback; 0, or -1 without memory. */
int budget_init(struct event_base *, void (*relief)(void *), void *arg);
void budget_free(void);
/* max_memory in bytes; UINT64_MAX (or 0 before any call) is no ceiling. */
void budget_set_max(uint64_t max);

void budget_add(size_t n);
void budget_sub(size_t n);
uint64_t budget_used(void);
uint64_t budget_max(void);
/* Has use reached the ceiling (and not yet fallen back to 7/8 of it)? */
int budget_over(void);

#endif
