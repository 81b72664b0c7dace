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
 * EUSERS (max_clients applications are attached), ENAMETOOLONG, ENOMEM,
 * ETIMEDOUT (no answer within 5 s).
 * See also: smartsock_close().
 */
smartsock *smartsock_open(const char *name);

/*
 * Send one message with the socket's send mode (round-robin or publish).
 * Returns 0 once the message is written to the daemon's Unix socket; the
 * daemon then owns its buffering and delivery (a daemon killed before it
 * read the message loses it: sending is not acknowledged to the
 * application).  When the socket's send buffer is full and its
 * overflow policy is "block", this blocks up to the handle's timeout.
 * Errors: EMSGSIZE (over the daemon's max_message_size), EAGAIN (timeout,
 * nothing was sent), ENOBUFS (send_to only: buffer full, overflow = drop-new),
 * EPIPE/ECONNRESET (the daemon went away).
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
 */
int smartsock_send_to(smartsock *s, const uint8_t identity[16],
    const void *data, size_t len);

/*
 * Receive the next message.  Returns its full length and copies at most
 * `cap` bytes into buf (a longer message is truncated, as with recv(2)).
 * Waits up to the handle's timeout: -1 with EAGAIN when it expires.
 * Other errors: EPIPE/ECONNRESET (daemon gone), EPROTO (malformed data).
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
 * A descriptor to poll() for POLLIN: when it is readable, smartsock_recv()
 * will not block.  The library reads ahead, so several messages may be
 * buffered while the descriptor is not readable (any call may read ahead,
 * send and send_to included): before every wait on the descriptor, call
 * smartsock_recv() with a zero timeout until it fails with EAGAIN.
 * The descriptor belongs to the handle: do not read, write or close it.
 */
int smartsock_fd(const smartsock *s);

/* The identity that the attached smart socket presents to its peers. */
int smartsock_identity(const smartsock *s, uint8_t identity[16]);

/*
 * The daemon's max_message_size as announced at attach: the largest message
 * smartsock_send() accepts and smartsock_recv() can return, so a buffer of
 * this size never truncates.  0 with EINVAL for a NULL handle.
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
