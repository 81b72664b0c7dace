"""AsyncSocket: the asyncio client (loop.add_reader/add_writer, no
threads).  Several tasks may use one AsyncSocket at once (e.g. one
receiving while others send): the handle's state is shared, and every
waiting operation is woken when the connection becomes ready or
changes (the daemon went away, or the handle attached again)."""
import asyncio
import os
from typing import AsyncIterator, Iterable, Optional, Tuple, Union

from . import _core
from ._core import Deadline
from ._handle import Handle
from ._sync import Buffer
from .errors import Disconnected


class AsyncSocket(Handle):
    """The asyncio counterpart of Socket: the same methods as coroutines.

    Create it with `await AsyncSocket.open(name)`, or `async with
    AsyncSocket(name) as s`, or AsyncSocket(name) and `await s.attach()`
    (any first call attaches too).  Like Socket it attaches again by
    itself when the daemon goes away, unless reconnect=False.  One event
    loop only.
    """

    def __init__(self, name_or_path: Union[str, bytes, os.PathLike],
                 runtime_dir: Optional[str] = None,
                 timeout: Optional[float] = None,
                 reconnect: bool = True) -> None:
        super().__init__(name_or_path, runtime_dir, timeout, reconnect)
        self._loop = None
        self._attaching = None
        self._closed = False
        self._rwait = set()         # futures of operations waiting to read
        self._wwait = set()         # ... to write
        self._rfd = None            # descriptor registered for reading
        self._wfd = None            # ... for writing

    @classmethod
    async def open(cls, name_or_path: Union[str, bytes, os.PathLike],
                   runtime_dir: Optional[str] = None,
                   timeout: Optional[float] = None,
                   reconnect: bool = True) -> "AsyncSocket":
        s = cls(name_or_path, runtime_dir, timeout, reconnect)
        await s.attach()
        return s

    async def attach(self) -> None:
        if self._closed:
            raise ValueError("I/O on a closed smartsock.AsyncSocket")
        if self._attaching is None:
            self._attaching = asyncio.ensure_future(self._attach())
        await asyncio.shield(self._attaching)

    async def _attach(self):
        self._loop = loop = asyncio.get_running_loop()
        deadline = loop.time() + _core.OPEN_TIMEOUT
        sock = self._connect_once()
        while sock is None:         # the listen queue is full: wait
            if loop.time() >= deadline:
                raise self._open_timed_out()
            await asyncio.sleep(0.01)
            sock = self._connect_once()
        core = self._new_core(sock)
        core.watch = self._watch
        self._core = core
        try:
            await self._drive(core.op_hello(),
                              max(0.0, deadline - loop.time()))
        except TimeoutError:
            core.close()
            raise self._open_timed_out() from None
        except BaseException:
            core.close()
            raise

    # -- readiness -----------------------------------------------------
    def _register(self):
        """Watch the current connection for what waiting operations
        want, and nothing else."""
        sock = self._core.sock if self._core is not None else None
        fd = sock.fileno() if sock is not None else None
        rfd = fd if self._rwait else None
        wfd = fd if self._wwait else None
        if self._rfd != rfd:
            if self._rfd is not None:
                self._loop.remove_reader(self._rfd)
            if rfd is not None:
                self._loop.add_reader(rfd, self._wake, self._rwait)
            self._rfd = rfd
        if self._wfd != wfd:
            if self._wfd is not None:
                self._loop.remove_writer(self._wfd)
            if wfd is not None:
                self._loop.add_writer(wfd, self._wake, self._wwait)
            self._wfd = wfd

    def _wake(self, waiters):
        for f in list(waiters):
            if not f.done():
                f.set_result(None)
        waiters.clear()
        self._register()

    def _watch(self, sock):
        """The connection changes (closed, or a new one): forget the old
        descriptor before it is closed, and let every waiter look again."""
        if sock is None:
            if self._rfd is not None:
                self._loop.remove_reader(self._rfd)
            if self._wfd is not None:
                self._loop.remove_writer(self._wfd)
            self._rfd = self._wfd = None
        if self._loop is not None:
            self._wake(self._rwait | self._wwait)
            self._rwait.clear()
            self._wwait.clear()

    async def _wait(self, want, until):
        """Wait for `want` (a _core.Want) until loop time `until` (None:
        no limit but want.wake_at).  True when woken by readiness."""
        loop = self._loop
        until = _core.wait_until(want, until)
        fut = loop.create_future()
        if want.read:
            self._rwait.add(fut)
        if want.write:
            self._wwait.add(fut)
        if not want.read and not want.write and until is None:
            until = loop.time() + 0.01
        self._register()
        timeout = None if until is None else max(0.0, until - loop.time())
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._rwait.discard(fut)
            self._wwait.discard(fut)
            if self._core is not None:
                self._register()

    async def _drive(self, gen, timeout):
        loop = self._loop
        deadline = None if timeout is None else loop.time() + timeout
        try:
            want = next(gen)
            while True:
                ready = await self._wait(want, deadline)
                want = _core.resume(gen, ready, deadline, loop.time())
        except StopIteration as e:
            return e.value
        except Deadline:
            raise TimeoutError("timed out") from None
        finally:
            gen.close()

    def fileno(self) -> int:
        """The current connection's descriptor (-1 while detached); the
        handle watches it itself: there is no need to."""
        sock = self._core.sock if self._core is not None else None
        return sock.fileno() if sock is not None else -1

    async def _ready(self):
        if self._closed:
            raise ValueError("I/O on a closed smartsock.AsyncSocket")
        await self.attach()

    # -- calls ---------------------------------------------------------
    async def send(self, data: Buffer,
                   identity: Optional[bytes] = None) -> None:
        await self._ready()
        if identity is None:
            op = self._core.op_send(data)
        else:
            op = self._core.op_send_to(identity, data)
        await self._drive(op, self._timeout)

    async def send_to(self, identity: bytes, data: Buffer) -> None:
        await self.send(data, identity)

    async def sendv(self, messages: Iterable[Buffer]) -> int:
        """As Socket.sendv()."""
        await self._ready()
        return await self._drive(self._core.op_sendv(messages),
                                 self._timeout)

    async def recv_identity(self) -> Tuple[bytes, bytes]:
        await self._ready()
        return await self._drive(self._core.op_recv(), self._timeout)

    async def recv(self) -> bytes:
        return (await self.recv_identity())[1]

    async def identity_messages(
            self) -> AsyncIterator[Tuple[bytes, bytes]]:
        """(identity, message) pairs until the handle is closed or fails
        for good (with re-attaching off: until the daemon closes)."""
        while not self._closed:
            try:
                yield await self.recv_identity()
            except Disconnected:
                return

    async def messages(self) -> AsyncIterator[bytes]:
        """Messages, as identity_messages()."""
        async for _, m in self.identity_messages():
            yield m

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.messages()

    async def close(self) -> None:
        """Confirm what was taken, flush (up to 5 s) and detach; calls
        still waiting fail."""
        if self._closed:
            return
        self._closed = True
        core = self._core
        if core is None:
            return
        try:
            await self._drive(core.op_close(), self._close_wait())
        except OSError:
            pass
        finally:
            core.close()

    async def __aenter__(self):
        await self.attach()
        return self

    async def __aexit__(self, *exc):
        await self.close()
