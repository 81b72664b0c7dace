"""AsyncSocket: the asyncio client (loop.add_reader/add_writer, no
threads).  Several tasks may use one AsyncSocket at once (e.g. one
receiving while others send): the connection state is shared and every
waiting operation is woken when the socket becomes ready."""
import asyncio

from . import _core
from ._core import Core, Deadline
from .errors import Disconnected


class AsyncSocket:
    """The asyncio counterpart of Socket: the same methods as coroutines.

    Create it with `await AsyncSocket.open(name)`, or `async with
    AsyncSocket(name) as s`, or AsyncSocket(name) and `await s.attach()`
    (any first call attaches too).
    """

    def __init__(self, name_or_path, runtime_dir=None, timeout=None):
        self.path = _core.resolve(name_or_path, runtime_dir)
        self._timeout = None
        self.settimeout(timeout)
        self._sock = None
        self._core = None
        self._rwait = set()
        self._wwait = set()
        self._loop = None
        self._attaching = None

    @classmethod
    async def open(cls, name_or_path, runtime_dir=None, timeout=None):
        s = cls(name_or_path, runtime_dir, timeout)
        await s.attach()
        return s

    async def attach(self):
        if self._core is not None and self._core.welcomed:
            return
        if self._attaching is None:
            self._attaching = asyncio.ensure_future(self._attach())
        await asyncio.shield(self._attaching)

    async def _attach(self):
        self._loop = asyncio.get_running_loop()
        self._sock = _core.connect_unix(self.path)
        self._core = Core(self._sock)
        try:
            await self._drive(self._core.op_hello(), _core.OPEN_TIMEOUT)
        except TimeoutError:
            self._sock.close()
            raise TimeoutError(110, "smartsockd did not answer in time")
        except BaseException:
            self._sock.close()
            raise

    # -- readiness -----------------------------------------------------
    def _on_read(self):
        self._loop.remove_reader(self._sock.fileno())
        w, self._rwait = self._rwait, set()
        for f in w:
            if not f.done():
                f.set_result(None)

    def _on_write(self):
        self._loop.remove_writer(self._sock.fileno())
        w, self._wwait = self._wwait, set()
        for f in w:
            if not f.done():
                f.set_result(None)

    async def _wait(self, want, timeout):
        fut = self._loop.create_future()
        fd = self._sock.fileno()
        if want[0]:
            if not self._rwait:
                self._loop.add_reader(fd, self._on_read)
            self._rwait.add(fut)
        if want[1]:
            if not self._wwait:
                self._loop.add_writer(fd, self._on_write)
            self._wwait.add(fut)
        if not want[0] and not want[1]:
            self._loop.call_later(0.01, lambda: fut.done() or
                                  fut.set_result(None))
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            self._rwait.discard(fut)
            self._wwait.discard(fut)
            if self._sock is not None:
                if not self._rwait:
                    self._loop.remove_reader(fd)
                if not self._wwait:
                    self._loop.remove_writer(fd)

    async def _drive(self, gen, timeout):
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            want = next(gen)
            while True:
                left = None if deadline is None else \
                    max(0.0, deadline - loop.time())
                try:
                    await self._wait(want, left)
                except asyncio.TimeoutError:
                    want = gen.throw(Deadline())
                else:
                    want = gen.send(None)
        except StopIteration as e:
            return e.value
        except Deadline:
            raise TimeoutError("timed out") from None
        finally:
            gen.close()

    # -- settings ------------------------------------------------------
    def settimeout(self, timeout):
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be None or >= 0")
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def fileno(self):
        return self._sock.fileno() if self._sock is not None else -1

    @property
    def identity(self):
        return self._core.identity if self._core else None

    @property
    def max_message_size(self):
        return self._core.max_msg if self._core else 0

    async def _ready(self):
        if self._attaching is not None and self._sock is None and \
                self._attaching.done():
            raise ValueError("I/O on a closed smartsock.AsyncSocket")
        await self.attach()

    # -- calls ---------------------------------------------------------
    async def send(self, data, identity=None):
        await self._ready()
        if identity is None:
            op = self._core.op_send(data)
        else:
            op = self._core.op_send_to(identity, data)
        await self._drive(op, self._timeout)

    async def send_to(self, identity, data):
        await self.send(data, identity)

    async def recv_identity(self):
        await self._ready()
        return await self._drive(self._core.op_recv(), self._timeout)

    async def recv(self):
        return (await self.recv_identity())[1]

    async def identity_messages(self):
        """(identity, message) pairs until the daemon closes."""
        while True:
            try:
                yield await self.recv_identity()
            except Disconnected:
                return

    async def messages(self):
        """Messages until the daemon closes."""
        async for _, m in self.identity_messages():
            yield m

    def __aiter__(self):
        return self.messages()

    async def close(self):
        if self._sock is None:
            return
        try:
            if self._core is not None and self._loop is not None:
                t = self._timeout
                if t is None or t > _core.CLOSE_WAIT:
                    t = _core.CLOSE_WAIT
                try:
                    await self._drive(self._core.op_close(), t)
                except OSError:
                    pass
        finally:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
                self._loop.remove_writer(self._sock.fileno())
            self._sock.close()
            self._sock = None

    async def __aenter__(self):
        await self.attach()
        return self

    async def __aexit__(self, *exc):
        await self.close()
