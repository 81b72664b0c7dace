"""Socket: the blocking client (one poll() per wait, no threads)."""
import os
import select
import time
from typing import Iterable, Iterator, Optional, Tuple, Union

from . import _core
from ._core import Deadline
from ._handle import Handle
from .errors import Disconnected

Buffer = Union[bytes, bytearray, memoryview]


def _drive(gen, timeout, core):
    """Run an operation generator with poll(); timeout None = forever."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        want = next(gen)
        while True:
            until = _core.wait_until(want, deadline)
            ms = None if until is None else \
                max(0, int((until - time.monotonic()) * 1000 + 0.999))
            ev = (select.POLLIN if want.read else 0) | \
                (select.POLLOUT if want.write else 0)
            ready = False
            if ev and core.sock is not None:
                p = select.poll()
                p.register(core.sock, ev)
                ready = bool(p.poll(ms))
            else:
                time.sleep(0.01 if ms is None else ms / 1000)
            want = _core.resume(gen, ready, deadline, time.monotonic())
    except StopIteration as e:
        return e.value
    except Deadline:
        raise TimeoutError("timed out") from None
    finally:
        gen.close()


class Socket(Handle):
    """A blocking handle on a smart socket of smartsockd (one per thread).

    name_or_path: a configured socket name (found as RUNTIME/NAME.sock,
    RUNTIME being runtime_dir, else $SMARTSOCK_RUNTIME_DIR, else
    /run/smartsock) or a path containing '/'.  timeout (seconds, None
    waits forever, 0 never waits) bounds send, recv and their kin.

    The handle outlives the daemon: when smartsockd stops or dies it
    attaches again by itself (reconnect=False turns that off: calls then
    fail with Disconnected once the messages already read are taken).
    Meanwhile sends wait up to the timeout (NotAttached after it) and
    receives wait as usual.
    """

    def __init__(self, name_or_path: Union[str, bytes, os.PathLike],
                 runtime_dir: Optional[str] = None,
                 timeout: Optional[float] = None,
                 reconnect: bool = True) -> None:
        super().__init__(name_or_path, runtime_dir, timeout, reconnect)
        self._epoll = None
        self._watched = None
        deadline = time.monotonic() + _core.OPEN_TIMEOUT
        sock = self._connect_once()
        while sock is None:         # the listen queue is full: wait
            if time.monotonic() >= deadline:
                raise self._open_timed_out()
            time.sleep(0.01)
            sock = self._connect_once()
        core = self._new_core(sock)
        try:
            _drive(core.op_hello(), max(0.0, deadline - time.monotonic()),
                   core)
        except TimeoutError:
            core.close()
            raise self._open_timed_out() from None
        except BaseException:
            core.close()
            raise
        self._core = core

    def fileno(self) -> int:
        """A descriptor to poll for reading, the same for the handle's
        whole life: an epoll descriptor holding the current connection.
        Messages may already be buffered: recv with timeout 0 until
        TimeoutError before each wait.  While detached it stays quiet:
        wait on it no longer than RETRY_MAX (1 s) and call events()."""
        self._check()
        if self._epoll is None:
            self._epoll = select.epoll()
            self._core.watch = self._watch
            self._watch(self._core.sock)
        return self._epoll.fileno()

    def _watch(self, sock):
        if self._watched is not None:
            try:
                self._epoll.unregister(self._watched)
            except OSError:
                pass
            self._watched = None
        if sock is not None:
            self._epoll.register(sock.fileno(), select.EPOLLIN)
            self._watched = sock.fileno()

    @property
    def closed(self) -> bool:
        return self._core is None

    def _check(self):
        if self._core is None:
            raise ValueError("I/O on a closed smartsock.Socket")

    # -- calls ---------------------------------------------------------
    def send(self, data: Buffer, identity: Optional[bytes] = None) -> None:
        """Send one message (to the peer `identity`, 16 bytes, if given:
        then wait for the daemon's verdict; UnreachableError when no such
        peer is connected)."""
        self._check()
        if identity is None:
            op = self._core.op_send(data)
        else:
            op = self._core.op_send_to(identity, data)
        _drive(op, self._timeout, self._core)

    def send_to(self, identity: bytes, data: Buffer) -> None:
        self.send(data, identity)

    def sendv(self, messages: Iterable[Buffer]) -> int:
        """Send each of `messages` (with the socket's send mode), all
        within one timeout.  Returns how many were handed over: all, or
        fewer when the time ran out or the handle failed after some
        (TimeoutError etc. when none was)."""
        self._check()
        return _drive(self._core.op_sendv(messages), self._timeout,
                      self._core)

    def recv_identity(self) -> Tuple[bytes, bytes]:
        """(sender identity, message) of the next message."""
        self._check()
        return _drive(self._core.op_recv(), self._timeout, self._core)

    def recv(self) -> bytes:
        """The next message, as bytes."""
        return self.recv_identity()[1]

    def __iter__(self) -> Iterator[bytes]:
        """Messages until the handle is closed or fails for good (with
        re-attaching off: until the daemon closes the connection)."""
        while self._core is not None:
            try:
                yield self.recv()
            except Disconnected:
                return

    def close(self) -> None:
        """Confirm what was taken, flush (up to 5 s) and detach."""
        core, self._core = self._core, None
        if core is None:
            return
        try:
            _drive(core.op_close(), self._close_wait(), core)
        except OSError:
            pass
        finally:
            core.close()
            if self._epoll is not None:
                self._epoll.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        core = getattr(self, "_core", None)
        if core is not None:
            core.close()

    def __repr__(self):
        return "<smartsock.Socket %s%s>" % (
            self.path, " closed" if self._core is None else "")
