/*
 * control: smartsockd's control socket, <runtime_dir>/control.sock, where
 * smartsockctl asks for status, peers and reloads (common/ctlproto.h has
 * the protocol, ctlcmd.h the commands).  Clients are untrusted: a request
 * is bounded in size and time, checked word by word, and answered or
 * refused with a reason; one connection carries one request.
 */
#ifndef SMARTSOCK_CONTROL_H
#define SMARTSOCK_CONTROL_H

struct daemon;
struct control;

/*
 * Listen on the control socket with the [daemon] control_mode,
 * control_owner and control_group of d->cfg.  A stale file is replaced; a
 * live daemon answering on it makes this fail.  NULL after logging why.
 */
struct control *control_new(struct daemon *d);
/* Close every client and remove the socket file; NULL is a no-op. */
void control_free(struct control *);

#endif
