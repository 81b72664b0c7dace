"""The connection state shared by Socket and AsyncSocket (sans-IO-ish).

Every operation is a generator over a non-blocking Unix socket: it does
what it can without waiting and yields (want_read, want_write) when it
must wait.  A driver (blocking poll() in Socket, the event loop in
AsyncSocket) resumes it on readiness, or throws Deadline into it when the
caller's timeout expires.  The rules follow libclient (stream.c,
smartsock.c): a window of RECV_WINDOW deliveries is granted by the first
receive, given back in batches; a DELIVER_REQ is confirmed once the
application comes back for the next message or closes; CLOSING makes
the client shut its write side once its buffered bytes are out.
"""
import collections
import errno
import os
import socket

from . import lproto
from .errors import (Disconnected, DaemonStopping, MessageTooBig,
                     ProtocolError, status_error)

OPEN_TIMEOUT = 5.0
CLOSE_WAIT = 5.0
READ_CHUNK = 256 * 1024
READAHEAD_MAX = 16 * 1024 * 1024
RECV_WINDOW = 1024
CREDIT_BATCH = RECV_WINDOW // 4
CONFIRM_BATCH = 64
DEFAULT_RUNTIME_DIR = "/run/smartsock"


class Deadline(Exception):
    """Thrown into an operation when its timeout expires."""


def resolve(name, runtime_dir=None):
    """The Unix socket path of a socket NAME (or a path with '/')."""
    name = os.fsdecode(name)
    if "/" in name:
        return name
    rd = runtime_dir or os.environ.get("SMARTSOCK_RUNTIME_DIR") or \
        DEFAULT_RUNTIME_DIR
    return os.path.join(os.fsdecode(rd), name + ".sock")


def connect_unix(path):
    """A connected, non-blocking Unix stream socket (errors as OSError:
    FileNotFoundError, ConnectionRefusedError, PermissionError...)."""
    if len(os.fsencode(path)) >= 108:
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG),
                      path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except BaseException:
        s.close()
        raise
    s.setblocking(False)
    return s


class Ticket:
    """One SEND_TO waiting for its SEND_RESULT (they come in order)."""
    __slots__ = ("status", "abandoned")

    def __init__(self):
        self.status = None
        self.abandoned = False


class Core:
    def __init__(self, sock):
        self.sock = sock
        self.rbuf = bytearray()
        self.ready = collections.deque()   # (type, seq, identity, payload)
        self.out = bytearray()
        self.welcomed = False
        self.refused = None
        self.max_msg = 0
        self.identity = None
        self.closing = False
        self.wr_shut = False
        self.eof = False
        self.err = None                    # a fatal error (ProtocolError)
        self.lost = None                   # why the connection ended
        self.receiving = False
        self.uncredited = 0
        self.untold = 0
        self.taken_seq = 0
        self.holding = False
        self.held_seq = 0
        self.tickets = collections.deque()  # SEND_TOs awaiting a verdict
        self.written = 0                   # bytes ever written

    # -- reading -------------------------------------------------------
    def fail(self, exc):
        if self.err is None:
            self.err = exc
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_nb(self):
        """Read what is there (bounded by the read-ahead cap) and handle
        every complete frame."""
        while self.err is None and not self.eof:
            if len(self.rbuf) > READAHEAD_MAX + self.max_msg:
                return
            try:
                data = self.sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.eof = True
                self.lost = e
                return
            if not data:
                self.eof = True
                return
            self.rbuf += data
            self.scan()
            if len(data) < READ_CHUNK:
                return

    def scan(self):
        off = 0
        buf = self.rbuf
        maxp = self.max_msg if self.welcomed else lproto.MAX_MESSAGE
        try:
            while self.err is None:
                h = lproto.check_header(buf, off, maxp)
                if h is None:
                    break
                ftype, blen = h
                if len(buf) - off < lproto.HDR_LEN + blen:
                    break
                start = off + lproto.HDR_LEN
                self.frame(ftype, lproto.parse_body(
                    ftype, buf[start:start + blen]))
                off = start + blen
        except lproto.FrameError as e:
            self.fail(ProtocolError("malformed frame from smartsockd: %s"
                                    % e))
        del buf[:off]

    def frame(self, ftype, f):
        if ftype in (lproto.DELIVER, lproto.DELIVER_REQ):
            if not self.welcomed:
                raise lproto.FrameError("delivery before WELCOME")
            if ftype == lproto.DELIVER:
                self.ready.append((ftype, 0, f[0], f[1]))
            else:
                self.ready.append((ftype, f[0], f[1], f[2]))
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
        elif ftype == lproto.REFUSE:
            if self.welcomed:
                raise lproto.FrameError("REFUSE after WELCOME")
            self.refused = status_error(
                f[1], f[2].decode("utf-8", "replace") or None)
            self.eof = True
        elif ftype == lproto.CLOSING:
            if not self.welcomed or self.closing:
                raise lproto.FrameError("unexpected CLOSING")
            self.confirm_queue()
            self.closing = True
            self.flush_nb()
        else:
            raise lproto.FrameError("client frame type %d from daemon"
                                    % ftype)

    # -- writing -------------------------------------------------------
    def confirm_queue(self):
        if self.untold and not self.wr_shut:
            self.out += lproto.confirm(self.taken_seq)
            self.untold = 0

    def credit_queue(self, n):
        if n and not self.wr_shut and not self.closing:
            self.out += lproto.credit(n)
            if n == self.uncredited:
                self.uncredited = 0

    def flush_nb(self):
        """Write what the out-buffer holds without waiting; after CLOSING,
        once it is empty, shut the write side.  Returns bytes written."""
        sent = 0
        if self.wr_shut:
            self.out.clear()
            return 0
        while self.out:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                return sent
            except OSError as e:
                self.lost = e
                self.eof = True
                return sent
            del self.out[:n]
            sent += n
            self.written += n
        if self.closing and not self.wr_shut and self.err is None:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.wr_shut = True
        return sent

    def broken(self):
        """The exception for a connection that cannot go on, or None."""
        if self.err is not None:
            return self.err
        if self.refused is not None:
            return self.refused
        if self.eof:
            if isinstance(self.lost, ConnectionResetError):
                return Disconnected(errno.ECONNRESET,
                                    "connection to smartsockd reset")
            return Disconnected(errno.EPIPE,
                                "smartsockd closed the connection")
        return None

    # -- operations (generators) ---------------------------------------
    def op_hello(self):
        self.out += lproto.hello()
        self.flush_nb()
        while not self.welcomed:
            e = self.broken()
            if e is not None:
                raise e
            yield True, bool(self.out)
            self.flush_nb()
            self.read_nb()

    def _send_frame(self, frame, ticket=None):
        """Write one whole frame (a SEND_TO's with its ticket).  On
        Deadline before any of it went out, it is withdrawn and
        TimeoutError raised; a frame begun is handed over: its tail stays
        in the out-buffer and goes out before anything else."""
        if self.closing or self.wr_shut:
            raise DaemonStopping(errno.ESHUTDOWN, "smartsockd is stopping")
        e = self.broken()
        if e is not None:
            raise e
        end = self.written + len(self.out) + len(frame)
        start = end - len(frame)
        self.out += frame
        if ticket is not None:
            self.tickets.append(ticket)
        self.flush_nb()
        while self.written < end:
            e = self.broken()
            if e is not None:
                raise e
            try:
                yield len(self.rbuf) < READAHEAD_MAX, True
            except Deadline:
                if self.written > start:
                    return          # begun: the tail goes out later
                pos = start - self.written
                del self.out[pos:pos + len(frame)]
                if ticket is not None:
                    self.tickets.remove(ticket)
                raise TimeoutError(errno.EAGAIN, "timed out, nothing "
                                   "sent") from None
            self.read_nb()
            self.flush_nb()

    def op_send(self, data):
        data = bytes(data)
        if self.welcomed and len(data) > self.max_msg:
            raise MessageTooBig(errno.EMSGSIZE, "message larger than the "
                                "daemon's max_message_size")
        yield from self._send_frame(lproto.send(data))

    def op_send_to(self, identity, data):
        data = bytes(data)
        if self.welcomed and len(data) > self.max_msg:
            raise MessageTooBig(errno.EMSGSIZE, "message larger than the "
                                "daemon's max_message_size")
        ticket = Ticket()
        try:
            yield from self._send_frame(lproto.send_to(identity, data),
                                        ticket)
            while ticket.status is None:
                e = self.broken()
                if e is not None:
                    if isinstance(e, Disconnected):
                        raise Disconnected(errno.ECONNRESET, "smartsockd "
                                           "went away before the verdict")
                    raise e
                yield True, bool(self.out)
                self.flush_nb()
                self.read_nb()
        except Deadline:
            ticket.abandoned = True
            raise TimeoutError(errno.ETIMEDOUT,
                               "send_to verdict late") from None
        except BaseException:
            ticket.abandoned = True
            raise
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
            self.read_nb()
        while not self.ready:
            if self.err is not None:
                raise self.err
            if self.eof:
                raise self.broken()
            # Nothing buffered: confirm and credit what was taken before
            # waiting (an idle application may wait long).
            self.confirm_queue()
            self.credit_queue(self.uncredited)
            self.flush_nb()
            yield True, bool(self.out)
            self.flush_nb()
            self.read_nb()
        return self.take()

    def take(self):
        ftype, seq, ident, payload = self.ready.popleft()
        if ftype == lproto.DELIVER_REQ:
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
        if self.welcomed and self.broken() is None and not self.wr_shut:
            self.release_held()
            self.confirm_queue()
            self.flush_nb()
            while self.out and self.broken() is None:
                try:
                    yield False, True
                except Deadline:
                    return
                self.flush_nb()
