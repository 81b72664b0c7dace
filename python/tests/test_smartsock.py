"""Tests of the smartsock Python package against a real smartsockd.

Run from the source tree:
  SMARTSOCK_BUILDDIR=build SMARTSOCK_SRCDIR=. \
      python3 -m unittest discover -s python/tests -v
"""
import asyncio
import errno
import os
import select
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMARTSOCK_SRCDIR") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(os.path.abspath(SRC), "tests", "integration"))

import harness  # noqa: E402
import smartsock  # noqa: E402
from smartsock import lproto  # noqa: E402

ID_A = bytes.fromhex("aa" * 16)
ID_B = bytes.fromhex("bb" * 16)
ID_NONE = bytes.fromhex("cc" * 16)


def pair(**keys):
    """One daemon: socket a binds, socket b connects to it."""
    port = harness.free_port()
    d = harness.Daemon({
        "a": harness.sock(bind="127.0.0.1:%d" % port, identity=ID_A.hex(),
                          **keys),
        "b": harness.sock(connect="127.0.0.1:%d" % port,
                          identity=ID_B.hex(), **keys),
    })
    harness.wait_peers(d, "a", [ID_B.hex()])
    harness.wait_peers(d, "b", [ID_A.hex()])
    return d


def prime(s, timeout):
    """A first receive that finds nothing grants the window: from then on
    the daemon delivers to s.  Then s waits up to timeout."""
    s.settimeout(0)
    try:
        s.recv()
    except TimeoutError:
        pass
    else:
        raise AssertionError("a message before any was sent")
    s.settimeout(timeout)


def setUpModule():
    if not os.path.exists(harness.SMARTSOCKD):
        raise unittest.SkipTest("no smartsockd in " + harness.BUILD)


class OnePair:
    """A test class's daemon: pair() with the class's `keys`, started once
    for the class; cls.d and cls.rt (its runtime directory)."""
    keys = {}

    @classmethod
    def setUpClass(cls):
        cls.d = pair(**cls.keys)
        cls.rt = cls.d.runtime

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()


class SyncTest(OnePair, unittest.TestCase):
    def open(self, name, **kw):
        s = smartsock.Socket(name, runtime_dir=self.rt, **kw)
        self.addCleanup(s.close)
        return s

    def test_resolve(self):
        os.environ["SMARTSOCK_RUNTIME_DIR"] = self.rt
        try:
            with smartsock.Socket("a") as s:
                self.assertEqual(s.identity, ID_A)
                self.assertGreater(s.max_message_size, 0)
        finally:
            del os.environ["SMARTSOCK_RUNTIME_DIR"]
        with smartsock.Socket(self.d.sock_path("b")) as s:
            self.assertEqual(s.identity, ID_B)
        # The error says where it looked, as open(2)'s would.
        where = os.path.join(self.rt, "nosuch.sock")
        with self.assertRaises(FileNotFoundError) as cm:
            smartsock.Socket("nosuch", runtime_dir=self.rt)
        self.assertEqual(cm.exception.filename, where)
        self.assertIn(where, str(cm.exception))
        with self.assertRaises(FileNotFoundError) as cm:
            asyncio.run(smartsock.AsyncSocket.open("nosuch",
                                                   runtime_dir=self.rt))
        self.assertEqual(cm.exception.filename, where)

    def test_send_recv(self):
        a, b = self.open("a", timeout=10), self.open("b", timeout=10)
        prime(b, 10)
        for i in range(20):
            a.send(b"m%d" % i)
        got = [b.recv() for _ in range(20)]
        self.assertEqual(got, [b"m%d" % i for i in range(20)])
        a.send(b"who")
        self.assertEqual(b.recv_identity(), (ID_A, b"who"))
        a.send(bytearray(b"big" * 20000))
        self.assertEqual(b.recv(), b"big" * 20000)

    def test_fileno_poll(self):
        a, b = self.open("a", timeout=10), self.open("b", timeout=10)
        prime(b, 0)
        fd = b.fileno()
        self.assertEqual(select.select([fd], [], [], 0.2)[0], [])
        a.send(b"p1")
        a.send(b"p2")
        self.assertEqual(select.select([fd], [], [], 10)[0], [fd])
        got = []
        end = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < end:
            try:                    # drain before each wait
                got.append(b.recv())
                continue
            except TimeoutError:
                pass
            select.select([fd], [], [], 1)
        self.assertEqual(got, [b"p1", b"p2"])
        self.assertEqual(b.fileno(), fd)

    def test_sendv(self):
        a, b = self.open("a", timeout=10), self.open("b", timeout=10)
        prime(b, 10)
        msgs = [b"v%d" % i for i in range(500)] + [b"", b"x" * 70000]
        self.assertEqual(a.sendv(msgs), len(msgs))
        self.assertEqual([b.recv() for _ in msgs], msgs)
        self.assertEqual(a.sendv([]), 0)
        with self.assertRaises(smartsock.MessageTooBig):
            a.sendv([b"x" * (a.max_message_size + 1)])
        self.assertEqual(a.sendv([b"ok", b"x" * (a.max_message_size + 1)]),
                         1)
        self.assertEqual(b.recv(), b"ok")

    def test_send_to(self):
        a, b = self.open("a", timeout=10), self.open("b", timeout=10)
        prime(a, 10)
        b.send(b"to-a", identity=ID_A)
        self.assertEqual(a.recv_identity(), (ID_B, b"to-a"))
        with self.assertRaises(smartsock.UnreachableError):
            b.send(b"lost", identity=ID_NONE)
        b.send_to(ID_A, b"again")
        self.assertEqual(a.recv(), b"again")

    def test_timeout(self):
        b = self.open("b", timeout=0.3)
        t = time.monotonic()
        with self.assertRaises(TimeoutError):
            b.recv()
        self.assertGreater(time.monotonic() - t, 0.25)
        self.assertEqual(b.gettimeout(), 0.3)

    def test_iteration(self):
        a, b = self.open("a", timeout=10), self.open("b", timeout=10)
        prime(b, 10)
        for i in range(5):
            a.send(b"it%d" % i)
        got = []
        for m in b:
            got.append(m)
            if len(got) == 5:
                break
        self.assertEqual(got, [b"it%d" % i for i in range(5)])

    def test_too_big(self):
        a = self.open("a", timeout=10)
        with self.assertRaises(smartsock.MessageTooBig):
            a.send(b"x" * (a.max_message_size + 1))

    def test_cat_interop(self):
        a = self.open("a", timeout=10)
        r = self.d.cat_bg("recv", "b", "-n", "2", "--timeout", "10")
        harness.wait_apps(self.d, "b", 1)
        a.send(b"py-to-cat-1")
        a.send(b"py-to-cat-2")
        out, _ = r.communicate(timeout=20)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(out.split(), [b"py-to-cat-1", b"py-to-cat-2"])
        # and back: smartsock-cat sends on b, Python receives on a
        prime(a, 10)
        r = self.d.cat("send", "b", "cat-to-py")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(a.recv_identity(), (ID_B, b"cat-to-py"))
        r = self.d.cat("send", "b", "--to", ID_A.hex(), "cat-to-py-id")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(a.recv(), b"cat-to-py-id")


class AtLeastOnceTest(OnePair, unittest.TestCase):
    keys = {"delivery": "at-least-once"}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        log = cls.d.log_text()
        assert "not acknowledged yet at shutdown" not in log, log

    def test_many_confirmed(self):
        with smartsock.Socket("a", self.rt, timeout=10) as a, \
                smartsock.Socket("b", self.rt, timeout=10) as b:
            prime(b, 10)
            n = 3000            # more than the credit window
            for i in range(n):
                a.send(b"%d" % i)
            got = [b.recv() for _ in range(n)]
            self.assertEqual(got, [b"%d" % i for i in range(n)])
        # Everything was confirmed: nothing comes again.
        with smartsock.Socket("b", self.rt, timeout=0.7) as b:
            with self.assertRaises(TimeoutError):
                b.recv()

    def test_unconfirmed_redelivered(self):
        a = smartsock.Socket("a", self.rt, timeout=10)
        b = smartsock.Socket("b", self.rt, timeout=10)
        prime(b, 10)
        a.send(b"held")
        self.assertEqual(b.recv(), b"held")
        # The application dies before coming back: no CONFIRM.
        b._core.close()
        b._core = None
        with smartsock.Socket("b", self.rt, timeout=10) as b2:
            self.assertEqual(b2.recv(), b"held")
        # That one was confirmed by its close.
        with smartsock.Socket("b", self.rt, timeout=0.7) as b3:
            with self.assertRaises(TimeoutError):
                b3.recv()
        a.close()


class AsyncTest(OnePair, unittest.IsolatedAsyncioTestCase):
    async def prime(self, s):
        s.settimeout(0)
        with self.assertRaises(TimeoutError):
            await s.recv()
        s.settimeout(10)

    async def test_send_recv(self):
        async with smartsock.AsyncSocket("a", self.rt, timeout=10) as a:
            b = await smartsock.AsyncSocket.open("b", self.rt, timeout=10)
            await self.prime(b)
            for i in range(50):
                await a.send(b"as%d" % i)
            got = [await b.recv() for _ in range(50)]
            self.assertEqual(got, [b"as%d" % i for i in range(50)])
            await a.send(b"id")
            self.assertEqual(await b.recv_identity(), (ID_A, b"id"))
            self.assertEqual(await a.sendv([b"av1", b"av2"]), 2)
            self.assertEqual([await b.recv(), await b.recv()],
                             [b"av1", b"av2"])
            await b.close()

    async def test_send_to_and_iteration(self):
        async with smartsock.AsyncSocket("a", self.rt, timeout=10) as a, \
                smartsock.AsyncSocket("b", self.rt, timeout=10) as b:
            await self.prime(a)
            await b.send(b"x1", identity=ID_A)
            await b.send_to(ID_A, b"x2")
            with self.assertRaises(smartsock.UnreachableError):
                await b.send(b"no", identity=ID_NONE)
            got = []
            async for ident, m in a.identity_messages():
                got.append((ident, m))
                if len(got) == 2:
                    break
            self.assertEqual(got, [(ID_B, b"x1"), (ID_B, b"x2")])
            await b.send(b"x3", identity=ID_A)
            async for m in a.messages():
                self.assertEqual(m, b"x3")
                break

    async def test_timeout_and_concurrency(self):
        async with smartsock.AsyncSocket("a", self.rt, timeout=10) as a, \
                smartsock.AsyncSocket("b", self.rt, timeout=0.3) as b:
            t = time.monotonic()
            with self.assertRaises(TimeoutError):
                await b.recv()
            self.assertGreater(time.monotonic() - t, 0.25)
            b.settimeout(10)
            # One task receives while another sends, on one event loop.
            recv = asyncio.ensure_future(
                asyncio.gather(*[b.recv() for _ in range(1)]))
            await asyncio.sleep(0.05)
            await a.send(b"c1")
            self.assertEqual(await recv, [b"c1"])

    async def test_close_while_waiting(self):
        b = await smartsock.AsyncSocket.open("b", self.rt, timeout=10)
        waiting = asyncio.ensure_future(b.recv())
        await asyncio.sleep(0.05)
        await b.close()
        with self.assertRaises(OSError) as cm:
            await asyncio.wait_for(waiting, harness.patience(5))
        self.assertEqual(cm.exception.errno, errno.EBADF)
        with self.assertRaises(ValueError):
            await b.recv()
        self.assertFalse(b.attached)

    async def test_cat_interop(self):
        async with smartsock.AsyncSocket("a", self.rt, timeout=10) as a:
            await self.prime(a)
            r = await asyncio.create_subprocess_exec(
                harness.CAT, "-S", self.rt, "send", "b", "cat-async")
            self.assertEqual(await r.wait(), 0)
            self.assertEqual(await a.recv(), b"cat-async")


class ListenQueueTest(unittest.TestCase):
    """A daemon whose listen queue is full: attaching waits for room
    without blocking (the event loop keeps running), as libsmartsock."""

    def test_queue_full(self):
        tmp = harness.tmpdir()
        path = os.path.join(tmp, "full.sock")
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(lst.close)
        lst.bind(path)
        lst.listen(0)
        fillers = []
        while len(fillers) < 16:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close()
                break
            fillers.append(c)
        self.assertLess(len(fillers), 16, "the listen queue never filled")
        self.addCleanup(lambda: [c.close() for c in fillers])
        room = threading.Event()

        def daemon():
            """Once the test says so, make room; answer whoever says
            HELLO (a filler says nothing)."""
            if not room.wait(harness.patience(30)):
                return
            lst.settimeout(harness.patience(5))
            end = time.monotonic() + harness.patience(10)
            while time.monotonic() < end:
                conn, _ = lst.accept()
                conn.settimeout(harness.patience(1))
                try:
                    hello = conn.recv(7)
                except socket.timeout:
                    conn.close()        # a filler: says nothing
                    continue
                if hello == lproto.hello():
                    conn.sendall(lproto.welcome(1000, ID_B))
                    conn.settimeout(harness.patience(5))
                    conn.recv(64)       # until the client closes
                conn.close()
                return

        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            t = asyncio.ensure_future(ticker())
            opening = asyncio.ensure_future(
                smartsock.AsyncSocket.open(path,
                                           timeout=harness.patience(20)))
            # While the attach waits for room, the loop runs on: the
            # ticker ticks (an open that blocked the loop would tick
            # only once it gave up).
            end = time.monotonic() + harness.patience(10)
            while ticks <= 5 and not opening.done() and \
                    time.monotonic() < end:
                await asyncio.sleep(0.01)
            self.assertFalse(opening.done())    # no room was made yet
            self.assertGreater(ticks, 5)        # the loop was not blocked
            room.set()
            s = await asyncio.wait_for(opening, harness.patience(20))
            self.assertEqual(s.identity, ID_B)
            await s.close()
            t.cancel()

        th = threading.Thread(target=daemon, daemon=True)
        th.start()
        try:
            asyncio.run(main())
        finally:
            room.set()
        th.join(harness.patience(10))


class ClosingTest(unittest.TestCase):
    def test_daemon_stop(self):
        """CLOSING while the application waits in recv: it shuts its write
        side at once, so the daemon stops without its grace period (had it
        waited that out, it would have logged the application 'not
        finished')."""
        d = pair()
        a = smartsock.Socket("a", d.runtime, timeout=10, reconnect=False)
        prime(a, 10)
        stopper = threading.Timer(0.2, d.stop)
        stopper.start()
        with self.assertRaises(smartsock.Disconnected):
            a.recv()
        stopper.join()
        self.assertNotIn("not finished after", d.log_text())
        with self.assertRaises(ConnectionError):
            a.send(b"after")
        a.close()


class ReattachTest(unittest.TestCase):
    """Handles outlive the daemon: they attach again by themselves."""

    def test_restart(self):
        d = pair()
        a = smartsock.Socket("a", d.runtime, timeout=10)
        b = smartsock.Socket("b", d.runtime, timeout=0)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        fd = a.fileno()
        with self.assertRaises(TimeoutError):
            b.recv()                # b receives from now on
        self.assertEqual(a.events(), smartsock.EVENT_ATTACHED)
        for how in ("SIGTERM", "SIGKILL"):
            with self.subTest(how=how):
                if how == "SIGTERM":
                    d.stop()
                else:
                    d.kill()
                # The loss is seen at the next call; meanwhile sends fail
                # after their timeout, at once with none.
                harness.wait_for(lambda: not a.events() &
                                 smartsock.EVENT_ATTACHED, 5, "detach")
                a.settimeout(0)
                with self.assertRaises(smartsock.NotAttached) as cm:
                    a.send(b"lost")
                self.assertEqual(cm.exception.errno, errno.ENOTCONN)
                with self.assertRaises(smartsock.NotAttached):
                    a.sendv([b"lost", b"too"])
                a.settimeout(0.3)
                t = time.monotonic()
                with self.assertRaises(smartsock.NotAttached):
                    a.send(b"lost")
                self.assertGreater(time.monotonic() - t, 0.25)
                self.assertIsInstance(a.reason(), OSError)
                self.assertFalse(a.attached)
                d.start()
                harness.wait_peers(d, "a", [ID_B.hex()])
                a.settimeout(10)
                a.send(b"after " + how.encode())     # waits for the attach
                self.assertEqual(a.events(), smartsock.EVENT_ATTACHED |
                                 smartsock.EVENT_BACK)
                self.assertIsNone(a.reason())
                self.assertEqual(a.fileno(), fd)
                self.assertEqual(a.identity, ID_A)
                b.settimeout(10)
                self.assertEqual(b.recv_identity(),
                                 (ID_A, b"after " + how.encode()))
                self.assertEqual(a.sendv([b"v1", b"v2"]), 2)
                self.assertEqual([b.recv(), b.recv()], [b"v1", b"v2"])
                ev = b.events()
                self.assertEqual(ev & smartsock.EVENT_BACK,
                                 smartsock.EVENT_BACK)
        d.stop()

    def test_async_recv_across_restart(self):
        d = pair()

        async def main():
            async with smartsock.AsyncSocket("b", d.runtime,
                                             timeout=20) as b:
                b.settimeout(0)
                with self.assertRaises(TimeoutError):
                    await b.recv()
                b.settimeout(20)
                waiting = asyncio.ensure_future(b.recv_identity())
                await asyncio.sleep(0.1)
                await asyncio.get_running_loop().run_in_executor(
                    None, d.stop)
                end = time.monotonic() + harness.patience(10)
                while b.attached and time.monotonic() < end:
                    await asyncio.sleep(0.02)
                self.assertFalse(b.attached)
                self.assertFalse(waiting.done())
                await asyncio.get_running_loop().run_in_executor(
                    None, d.start)
                await asyncio.get_running_loop().run_in_executor(
                    None, harness.wait_peers, d, "a", [ID_B.hex()])
                async with smartsock.AsyncSocket("a", d.runtime,
                                                 timeout=10) as a:
                    await a.send(b"to the waiting one")
                self.assertEqual(await asyncio.wait_for(waiting, 20),
                                 (ID_A, b"to the waiting one"))
                self.assertTrue(b.attached)

        asyncio.run(main())
        d.stop()

    def test_reconnect_off(self):
        d = pair()
        a = smartsock.Socket("a", d.runtime, timeout=10)
        a.set_reconnect(False)
        d.kill()
        with self.assertRaises(smartsock.Disconnected):
            a.settimeout(5)
            a.recv()
        with self.assertRaises(smartsock.Disconnected):
            a.send(b"x")
        a.close()


def tearDownModule():
    harness._ok = True      # failures are unittest's to report


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    import testmain
    testmain.main(__name__)
