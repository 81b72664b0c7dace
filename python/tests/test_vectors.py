"""The shared local-protocol vectors (tests/lproto-vectors, format in its
README.md) against the smartsock package: single frames against
smartsock.lproto, conversations against Socket with a fake daemon on a
Unix socket.  tests/unit/check_lproto_vectors.c plays the same files
against the C library, so the two clients cannot drift.
"""
import errno
import glob
import os
import random
import socket
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.environ.get("SMARTSOCK_SRCDIR") or
                      os.path.join(HERE, "..", ".."))
VECTORS = os.path.join(SRC, "tests", "lproto-vectors")
sys.path.insert(0, os.path.join(HERE, ".."))

import smartsock  # noqa: E402
from smartsock import lproto  # noqa: E402

WAIT = 5.0


def unhex(tok):
    return b"" if tok == "-" else bytes.fromhex(tok.replace(".", ""))


def lines(path):
    """(line number, tokens) of every line that says something."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            toks = line.split("#", 1)[0].split()
            if toks:
                yield n, toks


# FIELDs of frames.txt per type: how each is written and read.
_INT, _ID, _BYTES = int, unhex, unhex
FIELDS = {
    "HELLO": (lproto.HELLO, (_INT,), lproto.hello),
    "SEND": (lproto.SEND, (_BYTES,), lproto.send),
    "SEND_TO": (lproto.SEND_TO, (_ID, _BYTES), lproto.send_to),
    "CONFIRM": (lproto.CONFIRM, (_INT,), lproto.confirm),
    "CREDIT": (lproto.CREDIT, (_INT,), lproto.credit),
    "WELCOME": (lproto.WELCOME, (_INT, _INT, _ID),
                lambda v, m, i: lproto.welcome(m, i, v)),
    "REFUSE": (lproto.REFUSE, (_INT, _INT, _BYTES),
               lambda v, s, t: lproto.refuse(s, t, v)),
    "DELIVER": (lproto.DELIVER, (_ID, _BYTES), lproto.deliver),
    "DELIVER_REQ": (lproto.DELIVER_REQ, (_INT, _ID, _BYTES),
                    lproto.deliver_req),
    "SEND_RESULT": (lproto.SEND_RESULT, (_INT,), lproto.send_result),
    "CLOSING": (lproto.CLOSING, (), lproto.closing),
}


class FramesTest(unittest.TestCase):
    def test_frames(self):
        path = os.path.join(VECTORS, "frames.txt")
        seen = {"ok": 0, "bad": 0, "more": 0}
        for n, toks in lines(path):
            where = "frames.txt:%d" % n
            raw = unhex(toks[1])
            seen[toks[0]] += 1
            if toks[0] == "ok":
                ftype, kinds, build = FIELDS[toks[2]]
                fields = tuple(k(t) for k, t in zip(kinds, toks[3:]))
                self.assertEqual(len(fields), len(toks) - 3, where)
                self.assertEqual(lproto.check_header(raw, 0, 1 << 20),
                                 (ftype, len(raw) - 5), where)
                self.assertEqual(lproto.decode(raw, 1 << 20),
                                 (ftype, fields, len(raw)), where)
                # Followed by more bytes, it is decoded alone; cut short,
                # it is not complete yet.
                self.assertEqual(lproto.decode(raw + b"junk", 1 << 20),
                                 (ftype, fields, len(raw)), where)
                self.assertIsNone(lproto.decode(raw[:-1] if len(raw) > 5
                                                else raw[:4]), where)
                self.assertEqual(build(*fields), raw, where)
            elif toks[0] == "bad":
                with self.assertRaises(lproto.FrameError, msg=where):
                    lproto.check_header(raw, 0, int(toks[2]))
            elif toks[0] == "more":
                self.assertIsNone(lproto.check_header(raw), where)
            else:
                self.fail("%s: unknown line %r" % (where, toks[0]))
        self.assertGreater(seen["ok"], 20)
        self.assertGreater(seen["bad"], 20)
        self.assertGreater(seen["more"], 0)


class DamagedFramesTest(unittest.TestCase):
    """The vectors' daemon frames, shuffled, cut and damaged at random
    (seeded): whatever a daemon sends, the client fails with an OSError
    (ProtocolError, Disconnected...), never another exception."""

    def test_damaged(self):
        from smartsock import _core
        rng = random.Random(20261125)
        ident = bytes(range(16))
        seeds = [lproto.welcome(65536, ident), lproto.deliver(ident, b"hi"),
                 lproto.deliver_req(3, ident, b"x"), lproto.send_result(0),
                 lproto.closing(), lproto.refuse(5, b"no"), lproto.credit(3)]
        for it in range(3000):
            a, b = socket.socketpair()
            b.setblocking(False)
            core = _core.Core("/nonexistent")
            core.reconnect = False
            core.attach_sock(b)
            if it % 2:              # as if attached already
                core.opened = core.welcomed = True
                core.max_msg = 65536
            data = bytearray(b"".join(rng.choice(seeds)
                                      for _ in range(rng.randint(0, 5))))
            for _ in range(rng.randint(0, 4)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
            if rng.random() < 0.3:
                data += bytes(rng.randrange(256)
                              for _ in range(rng.randint(0, 40)))
            try:
                a.sendall(bytes(data))
                a.shutdown(socket.SHUT_WR)
                core.read_nb()
                while core.ready:
                    core.take()
                if core.opened:
                    core.take_events()
            except OSError:
                pass
            finally:
                a.close()
                core.close()


class ReadAheadTest(unittest.TestCase):
    """Messages read and not taken count against the read-ahead cap (as
    rlen - roff in libclient/stream.c): a client that does not take them
    stops reading, and the rest waits in the socket."""

    def test_cap(self):
        from smartsock import _core
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        b.setblocking(False)
        a.setblocking(False)
        core = _core.Core("/nonexistent")
        core.attach_sock(b)
        self.addCleanup(core.close)
        core.opened = core.welcomed = True
        core.max_msg = 65536
        frame = lproto.deliver(bytes(16), b"x" * 65000)
        out = bytearray()
        sent = 0
        for _ in range(2000):   # the daemon writes, the client reads
            if len(out) < len(frame):
                out += frame * 16
            try:
                n = a.send(out)
                del out[:n]
                sent += n
            except BlockingIOError:
                pass
            core.read_nb()
            if sent > 2 * _core.READAHEAD_MAX:
                break           # nothing held it back
        cap = _core.READAHEAD_MAX + core.max_msg + _core.READ_CHUNK
        self.assertLessEqual(core.read_ahead(), cap)
        self.assertGreater(core.read_ahead(), _core.READAHEAD_MAX)
        self.assertLess(sent, 2 * _core.READAHEAD_MAX)
        core.take()
        self.assertEqual(core.read_ahead(), core.ready_bytes +
                         len(core.rbuf))


class FakeDaemon(threading.Thread):
    """Plays the `c` and `d` lines of a session on one connection."""

    def __init__(self, listener, script, name):
        super().__init__(daemon=True)
        self.listener = listener
        self.script = [(n, t) for n, t in script if t[0] in ("c", "d")]
        self.name_ = name
        self.error = None

    def run(self):
        conn = None
        try:
            self.listener.settimeout(WAIT)
            for i, (n, toks) in enumerate(self.script):
                if conn is None or toks == ["d", "accept"]:
                    # The client's first connection, or its next one.
                    if conn is not None:
                        conn.close()
                    conn, _ = self.listener.accept()
                    conn.settimeout(WAIT)
                    if toks == ["d", "accept"]:
                        continue
                self.step(conn, "%s:%d" % (self.name_, n), toks)
        except Exception as e:      # reported by the test
            self.error = "%s: %s" % (self.name_, e)
        finally:
            if conn is not None:
                conn.close()

    def step(self, conn, where, toks):
        if toks == ["c", "eof"]:
            extra = conn.recv(64)
            if extra:
                raise AssertionError("%s: end of stream expected, got %s"
                                     % (where, extra.hex()))
        elif toks[0] == "c":
            want = unhex(toks[1])
            got = b""
            while len(got) < len(want):
                part = conn.recv(len(want) - len(got))
                if not part:
                    break
                got += part
            if got != want:
                raise AssertionError("%s: expected %s, got %s" %
                                     (where, want.hex(), got.hex()))
        elif toks == ["d", "close"]:
            conn.shutdown(socket.SHUT_RDWR)
        else:
            conn.sendall(unhex(toks[1]))


ERRNO = {name: getattr(errno, name) for name in dir(errno)
         if name.startswith("E")}


def play_client(path, script, where_of):
    """Walk the `open` and `call` lines; returns nothing, raises
    AssertionError on the first difference."""
    s = None
    for n, toks in script:
        if toks[0] not in ("open", "call"):
            continue
        where = where_of(n)
        want_err = None
        if "=>" in toks:
            i = toks.index("=>")
            toks, result = toks[:i], toks[i + 1:]
            if len(result) == 1 and result[0] in ERRNO:
                want_err = ERRNO[result[0]]
        else:
            result = None
        try:
            got = call(s, path, toks)
        except OSError as e:
            if want_err is None or e.errno != want_err:
                raise AssertionError("%s: %s failed: %r" % (where, toks, e))
            continue
        if want_err is not None:
            raise AssertionError("%s: %s succeeded, %s expected" %
                                 (where, toks, result[0]))
        if toks[0] == "open":
            s = got
        elif result is not None:
            if toks[1] == "recv":
                want = tuple(unhex(t) for t in result)
            elif toks[1] in ("max_message_size", "events", "sendv"):
                want = int(result[0])
            else:
                want = unhex(result[0])
            if got != want:
                raise AssertionError("%s: %s gave %r, not %r" %
                                     (where, toks, got, want))
    if s is not None:
        s.close()


def call(s, path, toks):
    if toks[0] == "open":
        return smartsock.Socket(path, timeout=WAIT, reconnect=False)
    op, args = toks[1], toks[2:]
    if op == "send":
        return s.send(unhex(args[0]))
    if op == "sendv":
        return s.sendv([unhex(a) for a in args])
    if op == "send_to":
        return s.send(unhex(args[1]), identity=unhex(args[0]))
    if op == "recv":
        return s.recv_identity()
    if op == "identity":
        return s.identity
    if op == "max_message_size":
        return s.max_message_size
    if op == "close":
        return s.close()
    if op == "reconnect":
        return s.set_reconnect({"on": True, "off": False}[args[0]])
    if op == "events":
        return s.events()
    raise AssertionError("unknown call %r" % op)


class SessionsTest(unittest.TestCase):
    def test_sessions(self):
        files = sorted(glob.glob(os.path.join(VECTORS, "*.session")))
        self.assertGreaterEqual(len(files), 14)
        for path in files:
            with self.subTest(session=os.path.basename(path)):
                self.play(path)

    def play(self, file):
        name = os.path.basename(file)
        script = list(lines(file))
        with tempfile.TemporaryDirectory(prefix="ssvec") as tmp:
            path = os.path.join(tmp, "s.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(1)
            daemon = FakeDaemon(listener, script, name)
            daemon.start()
            try:
                play_client(path, script, lambda n: "%s:%d" % (name, n))
            finally:
                daemon.join(WAIT * 2)
                listener.close()
            self.assertFalse(daemon.is_alive(), name + ": daemon side hung")
            self.assertIsNone(daemon.error)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    import testmain
    testmain.main(__name__)
