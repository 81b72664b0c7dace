/*
 * client: what the modules of libsmartsock share (never installed).
 *
 *   smartsock.c  the calls of smartsock.h
 *   stream.c     the byte stream to the daemon: the out-buffer, reading
 *                ahead and checking frames, waiting, writing one frame;
 *                what it cannot decide it reports (ss_stream_events)
 *   attach.c     the connection's life: attaching, WELCOME, REFUSE and
 *                CLOSING, losing the daemon, re-attaching, and the
 *                descriptor of smartsock_fd(); it hears the stream's
 *                events
 *
 * Internal functions are ss_* (the library exports only smartsock_*).
 */
#ifndef SMARTSOCK_CLIENT_H
#define SMARTSOCK_CLIENT_H

#include <sys/types.h>
#include <sys/un.h>
#include <limits.h>
#include <stdint.h>

#include "lproto.h"
#include "monotime.h"
#include "smartsock.h"

#define SS_OPEN_TIMEOUT_MS 5000 /* connect + HELLO/WELCOME */
#define SS_CLOSE_WAIT_MS 5000   /* longest close() waits to flush */
#define SS_RETRY_MIN_MS 10      /* first attempt to re-attach after a loss */
#define SS_RETRY_MAX_MS 1000    /* the delay doubles up to this */
/*
 * A sender whose writes never block never reads either: it looks for a
 * CLOSING this often, so that a stopping daemon sees its end of stream
 * soon.  The clock read is the coarse one, a few nanoseconds.
 */
#define SS_PEEK_MS 10
#define SS_READ_CHUNK (256 * 1024)
#define SS_RBUF_KEEP (1024 * 1024)  /* larger idle buffers are freed */
/*
 * Unread data the library takes in while it waits for something else
 * (room to send).  It reads then only so that a daemon busy writing to us
 * is not stalled; past this the daemon's own buffers hold the rest.
 */
#define SS_READAHEAD_MAX (16 * 1024 * 1024)
#define SS_CONFIRM_BATCH 64     /* taken DELIVER_REQs per CONFIRM at most */
/*
 * Messages the daemon may send ahead of recv calls.  The first recv grants
 * the window (an application that never receives gets nothing); taking
 * messages earns credit back, returned in batches.
 */
#define SS_RECV_WINDOW 1024
#define SS_CREDIT_BATCH (SS_RECV_WINDOW / 4)
/* Largest max_message_size accepted: the config's bound, or what a
 * return value of recv can hold. */
#if SSIZE_MAX > 0x80000000LL + 64
#define SS_MAX_MESSAGE 0x80000000U
#else
#define SS_MAX_MESSAGE ((uint32_t)(SSIZE_MAX - 64))
#endif
/* Type bytes the library writes over frames it keeps (never on the wire
 * from the daemon, whose types are >= 64). */
#define SS_SKIP 0               /* a frame already handled */
#define SS_OLD_DELIVER 1        /* a DELIVER of a lost connection */
#define SS_OLD_REQ 2            /* a DELIVER_REQ of a lost connection */

/* ss_wait() flags */
#define SS_WAIT_OUT 0x1         /* wake when writable */
#define SS_WAIT_IN 0x2          /* read ahead, within racap */
#define SS_WAIT_IN_ANY 0x4      /* read ahead, unbounded */

/* ss_write_frame(): the connection went before the frame was whole. */
#define SS_LOST (-2)

/*
 * What the byte stream (stream.c) reports to the owner of the
 * connection's life (attach.c), which sets them when it attaches: the
 * stream reads, checks and writes frames and decides nothing else.
 */
struct ss_stream_events {
	/* The connection ended (EOF, a reset, a timeout): err says how. */
	void (*lost)(struct smartsock *, int err);
	/* A write failed with err. */
	void (*write_failed)(struct smartsock *, int err);
	/* What the daemon sent breaks the protocol (err: EPROTO). */
	void (*bad_frame)(struct smartsock *, int err);
	/* WELCOME, REFUSE or CLOSING with its body: -1 when the connection
	 * is no longer usable. */
	int (*session_frame)(struct smartsock *, uint8_t type,
	    const uint8_t *body);
	/* Detached, and the time for the next attempt has come. */
	void (*retry_due)(struct smartsock *);
};

/*
 * The connection's state; ss_conn_enter() (attach.c) alone changes it:
 *
 *   DETACHED --connected, HELLO out--> GREETING --WELCOME--> ATTACHED
 *       ^                                                      |
 *       +------------- lost (any state but DETACHED) ---   CLOSING came
 *                                                              v
 *                                                           CLOSING
 *
 * DETACHED: no connection (fd -1), waiting for the next attempt or
 * broken.  GREETING: our HELLO is out, WELCOME or REFUSE awaited (until
 * hello_deadline).  ATTACHED: messages flow.  CLOSING: the daemon stops;
 * nothing new is written, our end of the stream follows the out-buffer.
 * Beside it: err and dead (the handle is broken), eof and wr_shut (each
 * side of this stream's end), writing, drop.
 */
enum ss_conn {
	SS_DETACHED,
	SS_GREETING,
	SS_ATTACHED,
	SS_CLOSING,
};

struct smartsock {
	const struct ss_stream_events *ev;      /* attach.c's */
	enum ss_conn conn;
	int fd;                 /* the connection, -1 while detached */
	int timeout_ms;
	int err;                /* EPROTO etc.: every call fails with it */
	int dead;               /* EPIPE/ECONNRESET, re-attaching off:
	                           buffered messages are still handed out,
	                           then this */
	int eof;                /* nothing more to read */
	uint32_t max_msg;
	uint8_t identity[LPROTO_ID_LEN];

	/*
	 * Receive buffer: [roff, scan) holds validated frames, nready of
	 * them messages (the rest SS_SKIP); [scan, rlen) an incomplete
	 * frame, `need` bytes long once its header is known.
	 */
	uint8_t *rbuf;
	size_t rcap, roff, scan, rlen, need;
	size_t nready;
	size_t racap;

	/* Out-buffer: [ooff, olen) must be written before anything else. */
	uint8_t *obuf;
	size_t ocap, ooff, olen;

	/*
	 * At-least-once: the message last returned stays the application's
	 * (held) until it comes back for another or closes; then it is done.
	 * The highest seq done, and how many since the last CONFIRM.
	 */
	uint64_t held_seq;
	int holding;
	uint64_t taken_seq;
	unsigned int untold;

	/* Receiving: window granted yet?  Taken since the last CREDIT. */
	int receiving;
	unsigned int uncredited;

	/* SEND_TO verdicts: owed by the daemon, owed to callers gone by. */
	unsigned int owed;
	unsigned int abandoned;
	int have_result;
	uint32_t result;

	/* Re-attaching (attach.c). */
	struct sockaddr_un addr;
	int epfd;               /* smartsock_fd(): fd and tfd inside */
	int tfd;                /* armed for next_try or hello_deadline */
	int opened;             /* smartsock_open() has returned it */
	int reconnect;          /* smartsock_set_reconnect() */
	int wr_shut;            /* our write side is shut down */
	int writing;            /* a frame is part-written from the caller:
	                           nothing may be appended to the out-buffer */
	int drop;               /* this attempt failed on what it read */
	int attempt_err;        /* why (REFUSE, malformed) */
	int last_err;           /* why the handle is not attached */
	int lost_err;           /* how the last connection ended */
	int told_lost;          /* LOST already raised for this connection */
	int events;             /* SMARTSOCK_EVENT_LOST/BACK not yet returned */
	unsigned int gen;       /* connections lost so far */
	int64_t next_try;       /* detached: when to connect again */
	int64_t hello_deadline; /* re-attaching: when to give up on HELLO */
	int backoff_ms;         /* delay after the next failure */
	int64_t last_peek;      /* ss_peek() */
};

/* Did this connection get its WELCOME (ATTACHED, or CLOSING since)? */
static inline int
ss_welcomed(const struct smartsock *s)
{
	return s->conn >= SS_ATTACHED;
}

static inline int
ss_closing(const struct smartsock *s)
{
	return s->conn == SS_CLOSING;
}

/* The errno a call fails with on a broken handle, or 0. */
static inline int
ss_broken(const struct smartsock *s)
{
	if (s->err != 0)
		return s->err;
	return s->dead;
}

/* May a new frame start now? */
static inline int
ss_sendable(const struct smartsock *s)
{
	return s->err == 0 && s->dead == 0 && s->conn == SS_ATTACHED &&
	    !s->wr_shut;
}

/* May CONFIRM and CREDIT be queued (between frames, on a connection that
 * takes them)? */
static inline int
ss_can_tell(const struct smartsock *s)
{
	return ss_sendable(s) && !s->writing;
}

/* stream.c */
int64_t ss_deadline(int timeout_ms);
int ss_left(int64_t deadline);
void ss_fail(struct smartsock *, int err);
void ss_dead(struct smartsock *, int err);
int ss_obuf_append(struct smartsock *, const void *, size_t);
void ss_confirm_queue(struct smartsock *);
void ss_credit_queue(struct smartsock *, unsigned int n);
int ss_flush_nb(struct smartsock *);
void ss_fill(struct smartsock *);
int ss_wait(struct smartsock *, int flags, int64_t deadline);
int ss_flush(struct smartsock *, int64_t deadline);
int ss_write_frame(struct smartsock *, const uint8_t *hdr, size_t hlen,
    const uint8_t *data, size_t len, int64_t deadline);

/* attach.c */
int ss_attach_first(struct smartsock *, const char *name);
void ss_free(struct smartsock *);
int ss_why(const struct smartsock *);
void ss_timer_sync(struct smartsock *);
void ss_schedule(struct smartsock *);
void ss_lost(struct smartsock *, int err);
void ss_write_failed(struct smartsock *, int err);
void ss_service(struct smartsock *);
void ss_peek(struct smartsock *);
int ss_attach_wait(struct smartsock *, int64_t deadline);

#endif
