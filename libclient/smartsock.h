/*
 * smartsock.h: the client library of smartsockd.
 *
 * An application attaches by name to a smart socket that smartsockd owns
 * (configured in smartsockd.conf as [socket NAME]) and sends and receives
 * whole messages through it.  The daemon does all networking (aiomsg v1,
 * reconnection, heartbeats, buffering, at-least-once delivery); the library
 * only speaks the local protocol over a Unix-domain socket.
 *
 * The library has no threads, never logs, prints, exits or aborts.  Every
 * call that can fail returns -1 (or NULL) and sets errno; smartsock_strerror()
 * turns an errno value into text, including the library's own meanings.
 * A handle is not thread-safe: use one per thread.
 *
 * A handle outlives the daemon: when smartsockd stops or dies, the handle
 * detaches and re-attaches to the same socket name by itself (connect and
 * HELLO again, 10 ms after the loss, the delay doubling up to 1 s between
 * failed attempts, without end).  Meanwhile sends wait up to the handle's
 * timeout (ENOTCONN after it, at once with a zero timeout), receives wait
 * as usual and return the messages already read first.  A daemon stopped
 * with SIGTERM loses nothing an application wrote; one that is killed may
 * lose what it had not read yet.  smartsock_set_reconnect() turns this off.
 */
#ifndef SMARTSOCK_H
#define SMARTSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smartsock smartsock;

#define SMARTSOCK_IDENTITY_LEN 16

/*
 * Attach to a smart socket.
 * name: a configured socket name, found as $SMARTSOCK_RUNTIME_DIR/NAME.sock
 *   (or, without that variable, in the runtime directory compiled into the
 *   library, normally /run/smartsock), or a path containing '/' to the
 *   socket's Unix socket file.
 * Returns a handle, or NULL with errno: ENOENT (no such socket), ECONNREFUSED
 * (no daemon behind it), EPROTO (the daemon speaks another local protocol
 * version), EACCES (the file's permissions, or allow_users / allow_groups),
 * EUSERS (max_clients applications are attached), EPERM (with
 * $SMARTSOCK_DAEMON_USER set, the socket's listener runs as another user),
 * ENAMETOOLONG, ENOMEM, ETIMEDOUT (no answer within 5 s).
 * See also: smartsock_close().
 */
smartsock *smartsock_open(const char *name);

/*
 * Send one message with the socket's send mode (round-robin or publish).
 * Returns 0 once the message is written to the daemon's Unix socket; the
 * daemon then owns its buffering and delivery (a daemon killed before it
 * read the message loses it: sending is not acknowledged to the
 * application).  When the socket's send buffer is full and its
 * overflow policy is "block", this blocks up to the handle's timeout; so
 * it does while the handle is not attached (the daemon restarts).
 * Errors: EMSGSIZE (over the daemon's max_message_size), EAGAIN (timeout,
 * nothing was sent), ENOTCONN (not attached within the timeout, nothing
 * was sent), ENOBUFS (send_to only: buffer full, overflow = drop-new),
 * EPIPE/ECONNRESET (the daemon went away; only with re-attaching off).
 */
int smartsock_send(smartsock *s, const void *data, size_t len);

/*
 * Send `count` messages, msgs[i] being one whole message, in as few system
 * calls as the socket buffer allows: the way to send bursts fast (small
 * messages are copied into one buffer and written together).  Returns how
 * many messages were handed to the daemon: `count`, or fewer when the
 * timeout expired, a later message is over max_message_size or the
 * connection failed after some went out (the next call then reports the
 * error); -1 with errno as smartsock_send() when none was.
 */
int smartsock_sendv(smartsock *s, const struct iovec *msgs, int count);

/*
 * Send one message to the peer whose socket identity is `identity`.
 * Waits for the daemon's verdict: EHOSTUNREACH when no peer with that
 * identity is connected (the message is not sent); otherwise as
 * smartsock_send().  The write and the wait for the verdict together are
 * bounded by the handle's timeout: ETIMEDOUT when the verdict is late (the
 * message was handed over; its verdict is discarded when it comes).
 * ECONNRESET when the daemon went away before its verdict: the message may
 * or may not have been sent.
 */
int smartsock_send_to(smartsock *s, const uint8_t identity[16],
    const void *data, size_t len);

/*
 * Receive the next message.  Returns its full length and copies at most
 * `cap` bytes into buf (a longer message is truncated, as with recv(2)).
 * Waits up to the handle's timeout (re-attaching meanwhile if the daemon
 * went away): -1 with EAGAIN when it expires.  Other errors: EPROTO
 * (malformed data), EPIPE/ECONNRESET (daemon gone, re-attaching off).
 */
ssize_t smartsock_recv(smartsock *s, void *buf, size_t cap);

/* As smartsock_recv(), and also stores the sender's socket identity. */
ssize_t smartsock_recv_identity(smartsock *s, uint8_t identity[16],
    void *buf, size_t cap);

/*
 * Timeout for send, send_to and recv in milliseconds: -1 waits forever
 * (the default), 0 never waits.  Returns 0, or -1/EINVAL for < -1.
 */
int smartsock_set_timeout(smartsock *s, int timeout_ms);

/*
 * Re-attach when the daemon goes away (on: the default), or not (off: the
 * handle fails from then on with EPIPE or ECONNRESET, once the messages
 * already read are returned).  Returns 0, or -1/EINVAL for a NULL handle.
 * See also: smartsock_events().
 */
int smartsock_set_reconnect(smartsock *s, int on);

/*
 * A descriptor to poll() for POLLIN (or to add to epoll, select, libevent),
 * the same for the handle's whole life, across re-attaches: when it is
 * readable, smartsock_recv() will not block, and something may have
 * happened that smartsock_events() reports (data, the daemon gone, an
 * attempt to re-attach due).  The library reads ahead, so several messages
 * may be buffered while the descriptor is not readable (any call may read
 * ahead, send and send_to included): before every wait on the descriptor,
 * call smartsock_recv() with a zero timeout until it fails with EAGAIN.
 * It is an epoll descriptor that holds the handle's Unix socket (or, while
 * detached, a timer for the next attempt).  It belongs to the handle: do
 * not read, write or close it.
 * See also: smartsock_events().
 */
int smartsock_fd(const smartsock *s);

/* smartsock_events() bits. */
#define SMARTSOCK_EVENT_ATTACHED 0x1    /* state: attached now */
#define SMARTSOCK_EVENT_LOST 0x2        /* the daemon went away (or is
                                           stopping) since the last call */
#define SMARTSOCK_EVENT_BACK 0x4        /* re-attached since the last call */

/*
 * What happened to the handle's attachment, for an event-driven
 * application: call it when smartsock_fd() is readable (with the drain
 * rule of smartsock_fd()).  It does only what needs no waiting: an attempt
 * to re-attach that is due, reading what arrived.  Returns a mask of
 * SMARTSOCK_EVENT_ATTACHED (the state now), SMARTSOCK_EVENT_LOST and
 * SMARTSOCK_EVENT_BACK (each once per occurrence: they are cleared by the
 * call; both may come together when the handle came back in between).
 * Without SMARTSOCK_EVENT_ATTACHED, errno says why: ESHUTDOWN (the daemon
 * is stopping), EPIPE or ECONNRESET (how it went), then what the last
 * attempt to re-attach met (ENOENT: no socket file, as when the daemon is
 * not up yet or the socket is no longer configured; ECONNREFUSED, EACCES,
 * EUSERS, EPROTO, ETIMEDOUT: as smartsock_open()), or ENOTCONN.  -1 with
 * errno for a handle made unusable (EPROTO, ENOMEM) or NULL (EINVAL).
 * See also: smartsock_fd(), smartsock_set_reconnect().
 */
int smartsock_events(smartsock *s);

/*
 * The identity that the attached smart socket presents to its peers, as
 * the last WELCOME announced it: it may change at a re-attach unless the
 * socket's identity is configured.
 */
int smartsock_identity(const smartsock *s, uint8_t identity[16]);

/*
 * The daemon's max_message_size as announced at attach (and at each
 * re-attach): the largest message smartsock_send() accepts and
 * smartsock_recv() can return, so a buffer of this size never truncates.
 * 0 with EINVAL for a NULL handle.
 */
size_t smartsock_max_message_size(const smartsock *s);

/* Detach and free the handle.  NULL is a no-op. */
void smartsock_close(smartsock *s);

/* Text for an errno value as this library uses it; never NULL. */
const char *smartsock_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
