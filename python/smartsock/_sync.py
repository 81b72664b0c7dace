"""Socket: the blocking client (one poll() per wait, no threads)."""
import select
import time

from . import _core
from ._core import Core, Deadline


def _drive(gen, timeout, sock):
    """Run an operation generator with poll(); timeout None = forever."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        want = next(gen)
        while True:
            ev = 0
            if want[0]:
                ev |= select.POLLIN
            if want[1]:
                ev |= select.POLLOUT
            p = select.poll()
            p.register(sock, ev)
            if deadline is None:
                ms = None
            else:
                ms = max(0, int((deadline - time.monotonic()) * 1000 + 0.999))
            if ev == 0 and ms is None:
                ms = 10
            if p.poll(ms) or deadline is None or time.monotonic() < deadline:
                want = gen.send(None)
            else:
                want = gen.throw(Deadline())
    except StopIteration as e:
        return e.value
    except Deadline:
        raise TimeoutError("timed out") from None


class Socket:
    """A blocking handle on a smart socket of smartsockd.

    name_or_path: a configured socket name (found as RUNTIME/NAME.sock,
    RUNTIME being runtime_dir, else $SMARTSOCK_RUNTIME_DIR, else
    /run/smartsock) or a path containing '/'.  timeout (seconds, None
    waits forever, 0 never waits) bounds send, recv and their kin.
    """

    def __init__(self, name_or_path, runtime_dir=None, timeout=None):
        self.path = _core.resolve(name_or_path, runtime_dir)
        self._timeout = None
        self.settimeout(timeout)
        self._sock = _core.connect_unix(self.path)
        self._core = Core(self._sock)
        try:
            t = _core.OPEN_TIMEOUT
            try:
                _drive(self._core.op_hello(), t, self._sock)
            except TimeoutError:
                raise TimeoutError(110, "smartsockd did not answer in time")
        except BaseException:
            self._sock.close()
            raise

    # -- settings ------------------------------------------------------
    def settimeout(self, timeout):
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be None or >= 0")
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def fileno(self):
        """The Unix socket's descriptor (poll it for reading; messages
        may already be buffered: recv with timeout 0 until TimeoutError
        before each wait)."""
        return self._sock.fileno()

    @property
    def identity(self):
        """The identity (16 bytes) the smart socket presents to peers."""
        return self._core.identity

    @property
    def max_message_size(self):
        return self._core.max_msg

    @property
    def closed(self):
        return self._sock is None

    def _check(self):
        if self._sock is None:
            raise ValueError("I/O on a closed smartsock.Socket")

    # -- calls ---------------------------------------------------------
    def send(self, data, identity=None):
        """Send one message (to the peer `identity`, 16 bytes, if given:
        then wait for the daemon's verdict; UnreachableError when no such
        peer is connected)."""
        self._check()
        if identity is None:
            op = self._core.op_send(data)
        else:
            op = self._core.op_send_to(identity, data)
        _drive(op, self._timeout, self._sock)

    def send_to(self, identity, data):
        self.send(data, identity)

    def recv_identity(self):
        """(sender identity, message) of the next message."""
        self._check()
        ident, payload = _drive(self._core.op_recv(), self._timeout,
                                self._sock)
        return ident, payload

    def recv(self):
        """The next message, as bytes."""
        return self.recv_identity()[1]

    def __iter__(self):
        """Messages until the daemon closes the connection."""
        from .errors import Disconnected
        while True:
            try:
                yield self.recv()
            except Disconnected:
                return

    def close(self):
        """Confirm what was taken, flush (up to 5 s) and detach."""
        if self._sock is None:
            return
        try:
            t = self._timeout
            if t is None or t > _core.CLOSE_WAIT:
                t = _core.CLOSE_WAIT
            try:
                _drive(self._core.op_close(), t, self._sock)
            except OSError:
                pass
        finally:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        s = getattr(self, "_sock", None)
        if s is not None:
            s.close()

    def __repr__(self):
        return "<smartsock.Socket %s%s>" % (
            self.path, " closed" if self._sock is None else "")
