"""The state of one handle, shared by Socket and AsyncSocket.

Every operation is a generator over non-blocking Unix sockets: it does
what it can without waiting and yields a Want when it must wait.  A
driver (poll() in Socket, the event loop in AsyncSocket) resumes it on
readiness or at Want.wake_at, or throws Deadline into it when the
caller's timeout expires.  The rules are libsmartsock's (libclient/
stream.c, smartsock.c, attach.c), so that both clients say the same bytes
(tests/lproto-vectors):

- a window of RECV_WINDOW deliveries is granted by the first receive and
  given back in batches; a DELIVER_REQ is confirmed once the application
  comes back for the next message or closes, and a pending CONFIRM goes
  out with the next send;
- CLOSING makes the client shut its write side once its buffered bytes
  are out;
- a handle whose daemon goes away detaches and attaches again by itself
  (RETRY_MIN after the loss, the delay doubling up to RETRY_MAX), unless
  re-attaching is off; messages already read are still handed out, but
  belong to no connection (nothing to confirm, no credit earned).
"""
import collections
import errno
import os
import socket
import time

from . import lproto
from .errors import (DaemonStopping, Disconnected, MessageTooBig,
                     NotAttached, ProtocolError, status_error)

OPEN_TIMEOUT = 5.0
CLOSE_WAIT = 5.0
RETRY_MIN = 0.010
RETRY_MAX = 1.0
READ_CHUNK = 256 * 1024
READAHEAD_MAX = 16 * 1024 * 1024
RECV_WINDOW = 1024
CREDIT_BATCH = RECV_WINDOW // 4
CONFIRM_BATCH = 64
SENDV_COPY_MAX = 8 * 1024       # sendv copies messages up to this size...
SENDV_BATCH = 64 * 1024         # ...into batches of about this many bytes
DEFAULT_RUNTIME_DIR = "/run/smartsock"
OLD = 0     # ready-queue kind of a message read on a connection since lost

EVENT_ATTACHED = 0x1
EVENT_LOST = 0x2
EVENT_BACK = 0x4

Want = collections.namedtuple("Want", "read write wake_at")


class Deadline(Exception):
    """Thrown into an operation when its timeout expires."""


def wait_until(want, deadline):
    """When a wait for `want` ends at the latest: the caller's deadline
    or the want's wake time, the earlier (None: no limit)."""
    if want.wake_at is not None and (deadline is None or
                                     want.wake_at < deadline):
        return want.wake_at
    return deadline


def resume(op, woke, deadline, now):
    """Go on with an operation after a wait: woken, or before its
    deadline, it goes on; at the deadline Deadline is thrown into it.
    Returns its next Want (StopIteration when it is done)."""
    if woke or deadline is None or now < deadline:
        return op.send(None)
    return op.throw(Deadline())


def resolve(name, runtime_dir=None):
    """The Unix socket path of a socket NAME (or a path with '/')."""
    name = os.fsdecode(name)
    if "/" in name:
        return name
    if not name:
        raise FileNotFoundError(errno.ENOENT, "no such smart socket", name)
    rd = runtime_dir or os.environ.get("SMARTSOCK_RUNTIME_DIR") or \
        DEFAULT_RUNTIME_DIR
    return os.path.join(os.fsdecode(rd), name + ".sock")


def connect_unix(path):
    """A connected, non-blocking Unix stream socket, without waiting
    (errors as OSError: FileNotFoundError, ConnectionRefusedError,
    PermissionError...; BlockingIOError while the daemon's listen queue
    is full)."""
    if len(os.fsencode(path)) >= 108:
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG),
                      path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        s.connect(path)
    except BlockingIOError:
        s.close()
        raise
    except OSError as e:
        s.close()
        if e.filename is not None:
            raise
        # Say where it looked: socket.connect() names no file.
        raise OSError(e.errno, e.strerror, path) from None
    except BaseException:
        s.close()
        raise
    return s


def _errno_exc(err, text=None):
    """The exception for a detached handle's errno."""
    if err in (errno.EPIPE, errno.ECONNRESET):
        return Disconnected(err, text or (
            "connection to smartsockd reset" if err == errno.ECONNRESET
            else "smartsockd closed the connection"))
    return OSError(err, text or os.strerror(err))


def _too_big():
    return MessageTooBig(errno.EMSGSIZE, "message larger than the "
                         "daemon's max_message_size")


class Ticket:
    """One SEND_TO waiting for its SEND_RESULT (they come in order; the
    verdict of one whose caller gave up is set and never looked at)."""
    __slots__ = ("status",)

    def __init__(self):
        self.status = None


class Core:
    def __init__(self, path):
        self.path = path
        self.reconnect = True
        self.opened = False         # the first attach has succeeded
        self.sock = None            # the connection, None while detached
        self.watch = None           # called with each new sock (or None)
        self.ready = collections.deque()  # (kind, seq, identity, payload)
        self.ready_bytes = 0        # their payloads, for the read-ahead cap
        self.err = None             # fatal: every call fails with it
        self.dead = None            # lost, re-attaching off (errno)
        self.max_msg = 0
        self.identity = None
        self.receiving = False      # the window was granted once
        self.events = 0
        self.told_lost = False
        self.last_err = None        # errno: why not attached
        self.lost_err = None        # errno: how the last connection ended
        self.backoff = RETRY_MIN
        self.next_try = 0.0
        self.hello_deadline = 0.0
        self.gen = 0                # connections lost so far
        self._new_stream()

    def _new_stream(self):
        """The state of one connection, as a new one starts it."""
        self.rbuf = bytearray()
        self.out = bytearray()
        self.written = 0            # bytes ever written on it
        self.welcomed = False
        self.closing = False
        self.wr_shut = False
        self.eof = False
        self.attempt_err = None
        self.holding = False
        self.held_seq = 0
        self.taken_seq = 0
        self.untold = 0
        self.uncredited = 0
        self.tickets = collections.deque()

    # -- the connection's life -----------------------------------------
    def attach_sock(self, sock):
        """A connected socket becomes the connection, HELLO queued."""
        self._new_stream()
        self.sock = sock
        self.out += lproto.hello()
        self.told_lost = False
        self.hello_deadline = time.monotonic() + OPEN_TIMEOUT
        if self.watch is not None:
            self.watch(sock)

    def fail(self, exc):
        """Malformed data: the handle is unusable from now on."""
        if self.err is None:
            self.err = exc
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def conn_error(self, exc):
        """A refusal or malformed data: while re-attaching this attempt
        ends (another follows); otherwise the handle fails."""
        if self.opened and self.reconnect and not self.welcomed:
            self.attempt_err = exc.errno
            self.lost(errno.ECONNREFUSED)
        else:
            self.fail(exc)

    def lost(self, err=None):
        """The connection ended (err: how).  Before the first attach
        returns, or with re-attaching off, it is kept and calls fail as
        they always did; otherwise it is dropped and the next attempt
        scheduled."""
        if self.sock is None:
            return
        err = err or errno.EPIPE
        if self.opened and self.welcomed and not self.told_lost:
            self.told_lost = True
            self.events |= EVENT_LOST
        if not self.opened or not self.reconnect:
            self.eof = True
            if self.dead is None:
                self.dead = err
            return
        if self.welcomed:
            self.last_err = self.lost_err = err
        elif self.attempt_err is not None:
            self.last_err = self.attempt_err
        else:
            self.last_err = err if err == errno.ETIMEDOUT \
                else errno.ECONNREFUSED
        self._detach()
        self._schedule()

    def set_reconnect(self, on):
        on = bool(on)
        if on == self.reconnect:
            return
        self.reconnect = on
        if not on and self.sock is None and self.err is None:
            # Detached: fail from now on, as a lost connection did.
            self.eof = True
            if self.dead is None:
                self.dead = self.lost_err or errno.EPIPE
        elif on and self.dead is not None and self.err is None:
            # Its connection ended: read what is left, then start again.
            err, self.dead = self.dead, None
            self.eof = False
            if self.sock is not None:
                self._write_failed(err)
            else:
                self._schedule()

    def _detach(self):
        if self.watch is not None:
            self.watch(None)
        self.sock.close()
        self.sock = None
        self.ready = collections.deque((OLD, 0, i, p)
                                       for _, _, i, p in self.ready)
        self._new_stream()
        self.gen += 1

    def _schedule(self):
        self.next_try = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, RETRY_MAX)

    def _retry(self):
        """An attempt to re-attach, without blocking."""
        try:
            sock = connect_unix(self.path)
        except OSError as e:
            self.last_err = {errno.ENOTDIR: errno.ENOENT,
                             errno.EPERM: errno.EACCES,
                             errno.EAGAIN: errno.ECONNREFUSED,
                             errno.ENOTSOCK: errno.ECONNREFUSED}.get(
                                 e.errno, e.errno)
            self._schedule()
            return
        self.attach_sock(sock)
        self.flush_nb()

    def service(self):
        """What may be done without waiting: an attempt to re-attach that
        is due, the end of a HELLO that took too long, writing, reading."""
        if self.err is not None:
            return
        if self.sock is None:
            if self.reconnect and self.opened and self.dead is None and \
                    time.monotonic() >= self.next_try:
                self._retry()
            return
        if self.opened and not self.welcomed and \
                time.monotonic() >= self.hello_deadline:
            self.lost(errno.ETIMEDOUT)
            return
        self.flush_nb()
        self.read_nb()

    def want(self, read=True):
        """What to wait for now: the socket (reading, and writing while
        the out-buffer holds bytes) and the time of a due attempt."""
        wake = None
        if self.sock is None:
            if self.reconnect and self.opened and self.broken() is None:
                wake = self.next_try
        elif self.opened and not self.welcomed:
            wake = self.hello_deadline
        has_sock = self.sock is not None and not self.eof
        return Want(read and has_sock, has_sock and bool(self.out), wake)

    # -- reading -------------------------------------------------------
    def read_ahead(self):
        """Bytes read and not yet taken: messages ready and a frame begun
        (what the read-ahead cap bounds, as rlen - roff in stream.c)."""
        return self.ready_bytes + len(self.rbuf)

    def read_nb(self):
        """Read what is there (bounded by the read-ahead cap once
        attached) and handle every complete frame."""
        while self.sock is not None and self.err is None and not self.eof:
            if self.welcomed and not self.closing and \
                    self.read_ahead() > READAHEAD_MAX + self.max_msg:
                return
            try:
                data = self.sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.lost(e.errno)
                return
            if not data:
                self.lost(errno.EPIPE)
                return
            self.rbuf += data
            self.scan()
            if len(data) < READ_CHUNK:
                return

    def scan(self):
        off = 0
        buf = self.rbuf
        gen = self.gen
        try:
            while self.err is None and self.gen == gen:
                maxp = self.max_msg if self.welcomed else lproto.MAX_MESSAGE
                h = lproto.check_header(buf, off, maxp)
                if h is None:
                    break
                ftype, blen = h
                if len(buf) - off < lproto.HDR_LEN + blen:
                    break
                start = off + lproto.HDR_LEN
                off = start + blen
                self.frame(ftype, lproto.parse_body(ftype,
                                                    buf[start:off]))
        except lproto.FrameError as e:
            self.conn_error(ProtocolError("malformed frame from "
                                          "smartsockd: %s" % e))
        if self.gen == gen:
            del buf[:off]

    def frame(self, ftype, f):
        if ftype in (lproto.DELIVER, lproto.DELIVER_REQ):
            if not self.welcomed:
                raise lproto.FrameError("delivery before WELCOME")
            if ftype == lproto.DELIVER:
                self.ready.append((ftype, 0, f[0], f[1]))
                self.ready_bytes += len(f[1])
            else:
                self.ready.append((ftype, f[0], f[1], f[2]))
                self.ready_bytes += len(f[2])
        elif ftype == lproto.SEND_RESULT:
            if not self.welcomed or not self.tickets:
                raise lproto.FrameError("unexpected SEND_RESULT")
            self.tickets.popleft().status = f[0]
        elif ftype == lproto.WELCOME:
            if self.welcomed or f[0] != lproto.VERSION:
                raise lproto.FrameError("unexpected WELCOME")
            if f[1] == 0 or f[1] > lproto.MAX_MESSAGE:
                raise lproto.FrameError("bad max_message_size %d" % f[1])
            self.max_msg = f[1]
            self.identity = f[2]
            self.welcomed = True
            self.backoff = RETRY_MIN
            if self.opened:
                # Re-attached: as a fresh attach, the window granted
                # again if the application receives.
                self.events |= EVENT_BACK
                self.last_err = None
                if self.receiving:
                    self.credit_queue(RECV_WINDOW)
        elif ftype == lproto.REFUSE:
            if self.welcomed:
                raise lproto.FrameError("REFUSE after WELCOME")
            self.conn_error(status_error(
                f[1], f[2].decode("utf-8", "replace") or None))
        elif ftype == lproto.CLOSING:
            if not self.welcomed or self.closing:
                raise lproto.FrameError("unexpected CLOSING")
            # What was taken is confirmed with the last bytes we send.
            self.confirm_queue()
            self.closing = True
            self.last_err = errno.ESHUTDOWN
            if self.opened and not self.told_lost:
                self.told_lost = True
                self.events |= EVENT_LOST
            self.flush_nb()
        else:
            raise lproto.FrameError("client frame type %d from daemon"
                                    % ftype)

    # -- writing -------------------------------------------------------
    def confirm_queue(self):
        if self.untold and self.sock is not None and not self.wr_shut:
            self.out += lproto.confirm(self.taken_seq)
            self.untold = 0

    def credit_queue(self, n):
        if n and self.sock is not None and not self.wr_shut and \
                not self.closing:
            self.out += lproto.credit(n)
            if n == self.uncredited:
                self.uncredited = 0

    def flush_nb(self):
        """Write what the out-buffer holds without waiting; after CLOSING,
        once it is empty, shut the write side."""
        if self.sock is None or self.err is not None:
            return
        if self.wr_shut:
            self.out.clear()
            return
        while self.out:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._write_failed(e.errno)
                return
            del self.out[:n]
            self.written += n
        if self.closing:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.wr_shut = True

    def _write_failed(self, err):
        """The daemon is gone; what it sent before it went is still
        ours, so read to the end first."""
        self.wr_shut = True
        self.out.clear()
        if not self.opened or not self.reconnect:
            self.eof = True
            if self.dead is None:
                self.dead = err
            return
        self.read_nb()
        self.lost(err)

    # -- state ---------------------------------------------------------
    def broken(self):
        """The exception every call fails with now, or None."""
        if self.err is not None:
            return self.err
        if self.dead is not None:
            return _errno_exc(self.dead)
        return None

    def sendable(self):
        return self.err is None and self.dead is None and \
            self.sock is not None and self.welcomed and \
            not self.closing and not self.wr_shut

    def reason(self):
        """Why the handle cannot send now (an OSError), or None."""
        if self.sendable():
            return None
        if self.broken() is not None:
            return self.broken()
        err = self.last_err or errno.ENOTCONN
        if err == errno.ESHUTDOWN:
            return DaemonStopping(err, "smartsockd is stopping")
        if err == errno.ENOTCONN:
            return NotAttached(err, "not attached to smartsockd; "
                               "reconnecting")
        return _errno_exc(err)

    def take_events(self):
        """EVENT_* bits: ATTACHED now, LOST and BACK since last time."""
        self.service()
        if self.err is not None:
            raise self.err
        ev, self.events = self.events, 0
        if self.sendable():
            ev |= EVENT_ATTACHED
        return ev

    # -- operations (generators) ---------------------------------------
    def op_hello(self):
        """The first attach: HELLO queued by attach_sock()."""
        self.flush_nb()
        self.read_nb()
        while not self.welcomed:
            if self.err is not None:
                raise self.err
            if self.dead is not None:
                raise ConnectionRefusedError(
                    errno.ECONNREFUSED, "smartsockd closed the connection "
                    "without a word")
            yield self.want()
            self.service()
        self.opened = True

    def _attach_wait(self):
        """Wait until a new frame may start: attached and no CLOSING.
        NotAttached at the deadline (after one more look)."""
        last = False
        while True:
            e = self.broken()
            if e is not None:
                raise e
            if self.sendable():
                return
            if not self.reconnect:
                raise Disconnected(errno.EPIPE, "smartsockd is stopping")
            if last:
                raise NotAttached(errno.ENOTCONN, "not attached to "
                                  "smartsockd; reconnecting")
            try:
                yield self.want()
            except Deadline:
                last = True
            self.service()

    def _send_frame(self, payload, identity=None, ticket=None):
        """One SEND or SEND_TO, whole on one connection: waits for one
        and starts again on the next if it was cut short.  On Deadline
        before any of it went out, it is withdrawn (TimeoutError); a
        frame begun is handed over: its tail goes out before anything
        else."""
        while True:
            e = self.broken()
            if e is not None:
                raise e
            if len(payload) > self.max_msg:
                raise _too_big()
            try:
                yield from self._attach_wait()
            except NotAttached:
                raise NotAttached(errno.ENOTCONN, "not attached to "
                                  "smartsockd; reconnecting") from None
            if len(payload) > self.max_msg:
                continue
            self.confirm_queue()
            if identity is None:
                frame = lproto.send(payload)
            else:
                frame = lproto.send_to(identity, payload)
            gen = self.gen
            start = self.written + len(self.out)
            end = start + len(frame)
            self.out += frame
            if ticket is not None:
                ticket.status = None
                self.tickets.append(ticket)
            self.flush_nb()
            while self.gen == gen and self.written < end:
                e = self.broken()
                if e is not None:
                    raise e
                try:
                    yield self.want(self.read_ahead() < READAHEAD_MAX)
                except Deadline:
                    if self.gen != gen:
                        break
                    if self.written > start:
                        return      # begun: the tail goes out later
                    pos = start - self.written
                    del self.out[pos:pos + len(frame)]
                    if ticket is not None:
                        self.tickets.remove(ticket)
                    raise TimeoutError(errno.EAGAIN, "timed out, nothing "
                                       "sent") from None
                self.service()
            if self.gen == gen:
                return gen

    def op_send(self, data):
        yield from self._send_frame(bytes(data))

    def _flush_wait(self):
        """Wait until the out-buffer is written.  TimeoutError (EAGAIN)
        at the deadline: what is left stays queued and goes out before
        anything else; NotAttached when the connection went."""
        while True:
            e = self.broken()
            if e is not None:
                raise e
            if self.sock is None:
                raise NotAttached(errno.ENOTCONN, "not attached to "
                                  "smartsockd; reconnecting")
            self.flush_nb()
            if self.sock is None:
                continue
            if not self.out:
                return
            try:
                yield self.want(False)
            except Deadline:
                raise TimeoutError(errno.EAGAIN, "timed out") from None

    def op_sendv(self, messages):
        """SENDs under one deadline, small ones copied into batches of
        SENDV_BATCH bytes written together (as smartsock_sendv).  Returns
        how many were handed over: all, or fewer when the time ran out,
        a later one is too big or the handle failed after some (the next
        call then reports a lasting error); raises when none was.  A
        batch lost with its connection goes again on the next one."""
        msgs = [bytes(m) for m in messages]
        e = self.broken()
        if e is not None:
            raise e
        count = len(msgs)
        for k, m in enumerate(msgs):
            if len(m) > self.max_msg:
                if k == 0:
                    raise _too_big()
                count = k           # send those before it
                break
        sent = 0
        while sent < count:
            try:
                yield from self._attach_wait()
            except OSError:
                if sent:
                    return sent
                raise
            if not self.sendable():
                continue
            gen = self.gen
            if self.out:
                # What an earlier call left behind goes first.
                try:
                    yield from self._flush_wait()
                except OSError:
                    if self.gen != gen and self.broken() is None:
                        continue
                    if sent:
                        return sent
                    raise
            if len(msgs[sent]) > self.max_msg:
                # The daemon attached to now allows less.
                if sent:
                    return sent
                raise _too_big()
            if len(msgs[sent]) > SENDV_COPY_MAX:
                try:
                    yield from self._send_frame(msgs[sent])
                except OSError:
                    if sent:
                        return sent
                    raise
                sent += 1
                continue
            self.confirm_queue()
            batch = sent
            while sent < count and len(msgs[sent]) <= SENDV_COPY_MAX and \
                    len(msgs[sent]) <= self.max_msg and \
                    len(self.out) < SENDV_BATCH:
                self.out += lproto.send(msgs[sent])
                sent += 1
            # Appended messages are handed over even if this times out:
            # the out-buffer goes out before anything else.
            try:
                yield from self._flush_wait()
            except TimeoutError:
                return sent
            except OSError:
                if self.gen != gen and self.broken() is None:
                    sent = batch    # lost: the batch goes again
                    continue
                if batch:
                    return batch
                raise
        return sent

    def op_send_to(self, identity, data):
        identity = bytes(identity)
        if len(identity) != lproto.ID_LEN:
            raise ValueError("an identity is %d bytes" % lproto.ID_LEN)
        ticket = Ticket()
        try:
            gen = yield from self._send_frame(bytes(data), identity, ticket)
            while ticket.status is None:
                e = self.broken()
                if e is not None:
                    raise e
                if self.gen != gen:
                    raise Disconnected(errno.ECONNRESET, "smartsockd went "
                                       "away before the verdict: the "
                                       "message may or may not have been "
                                       "sent")
                yield self.want()
                self.service()
        except Deadline:
            raise TimeoutError(errno.ETIMEDOUT,
                               "send_to verdict late") from None
        if ticket.status != lproto.OK:
            raise status_error(ticket.status)

    def release_held(self):
        if not self.holding:
            return
        if self.untold == 0 or self.held_seq > self.taken_seq:
            self.taken_seq = self.held_seq
        self.untold += 1
        self.holding = False

    def op_recv(self):
        self.release_held()
        if not self.receiving:
            self.receiving = True
            self.credit_queue(RECV_WINDOW)
        self.flush_nb()
        if not self.ready:
            self.service()
        while not self.ready:
            e = self.broken()
            if e is not None:
                raise e
            # Nothing buffered: confirm and credit what was taken before
            # waiting (an idle application may wait long).
            self.confirm_queue()
            self.credit_queue(self.uncredited)
            self.flush_nb()
            try:
                yield self.want()
            except Deadline:
                raise TimeoutError(errno.EAGAIN, "timed out, nothing "
                                   "received") from None
            self.service()
        return self.take()

    def take(self):
        kind, seq, ident, payload = self.ready.popleft()
        self.ready_bytes -= len(payload)
        if kind == OLD:
            return ident, payload
        if kind == lproto.DELIVER_REQ:
            self.held_seq = seq
            self.holding = True
        self.uncredited += 1
        if (self.untold and (not self.ready or
                             self.untold >= CONFIRM_BATCH)) or \
                self.uncredited >= CREDIT_BATCH:
            self.confirm_queue()
            self.credit_queue(self.uncredited)
            self.flush_nb()
        return ident, payload

    def op_close(self):
        """Confirm what was taken and flush, within the close wait."""
        if self.broken() is None and self.sock is not None and \
                self.welcomed and not self.wr_shut:
            self.release_held()
            self.confirm_queue()
            self.flush_nb()
            while self.out and self.sock is not None and \
                    self.broken() is None:
                try:
                    yield self.want(False)
                except Deadline:
                    return
                self.flush_nb()

    def close(self):
        """The handle is closed: operations still waiting fail."""
        if self.err is None:
            self.err = OSError(errno.EBADF, "the smartsock handle is "
                               "closed")
        if self.sock is not None:
            if self.watch is not None:
                self.watch(None)
            self.sock.close()
            self.sock = None
