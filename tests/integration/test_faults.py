"""Faults under at-least-once traffic between real daemons.

- The receiving daemon is SIGKILLed and restarted 100 times while a
  sender streams: every id sent arrives at least once.  A DATA_REQ is ACKed
  only after an application took it (smartsockd(8)), so a kill loses
  nothing that was ACKed; what was not is sent again, which makes
  duplicates, counted and printed.
- An application SIGKILLed while it holds a message it received (the
  library confirms a message only when the application asks for the next
  one or closes, smartsock(3)): the sender has no ACK, and the message is
  delivered again to the next application.
- TCP resets: a relay between the two daemons resets both of its
  connections (SO_LINGER 0) mid-stream, again and again; a raw peer resets
  its connection in the middle of a frame.  Each is logged and counted,
  the connect side reconnects, the bind side accepts again, and the stream
  is complete.
- A peer restarts with the same identity while its old connection still
  looks alive: the new one is refused as a duplicate until heartbeat_timeout
  tears the silent old one down, then accepted, and its messages arrive.
"""
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import (BUILD, DATA, HELLO, Daemon, RawPeer, check, fail, finish,
                     frame, free_port, hello, passed, patience, send_lines,
                     sock, spawn, step, wait_apps, wait_for, wait_peers)

ID_B = "b1" * 16        # the sending daemon's socket
ID_RAW = "03" * 16      # a raw peer that resets
ID_GHOST = "6a" * 16    # the old and the new connection of one peer
CYCLES = 100
# Where a test counts on resets and closes being seen as such: a heartbeat
# timeout far longer than any wait of the test, so that only a daemon that
# missed the close would ever use it (and the test would end first).
NO_HB_TIMEOUT = {"heartbeat_timeout": "10m"}


def count(d, pattern):
    return len(re.findall(pattern, d.log_text()))


def up(name, ident):
    return r"socket %s: peer %s \([^)]*\) up" % (re.escape(name), ident)


class Receiver:
    """smartsock-cat recv on a socket; a thread adds its lines to `into`
    (shared by successive receivers) and to self.lines."""

    def __init__(self, d, name, into):
        self.proc = d.cat_bg("-x", "recv", name)
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(into,),
                                       daemon=True)
        self.thread.start()

    def _read(self, into):
        for raw in self.proc.stdout:
            s = raw.decode().rstrip("\n")
            self.lines.append(s)
            into.append(s)

    def ended(self, timeout=10.0):
        """Wait until it exited (its daemon died, or it was killed) and its
        output is all read."""
        try:
            self.proc.wait(patience(timeout))
        except subprocess.TimeoutExpired:
            fail("smartsock-cat recv did not end with its daemon")
        self.thread.join(patience(timeout))


class Feeder:
    """smartsock-cat send on a socket, fed prefix0, prefix1, ... one every
    `interval` seconds by a thread until stop()."""

    def __init__(self, d, name, prefix, interval=0.002):
        self.proc = d.cat_bg("send", name, stdin=subprocess.PIPE)
        self.prefix = prefix
        self.interval = interval
        self.n = 0
        self.error = None
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.halt.is_set():
                self.proc.stdin.write(b"%s%d\n" % (self.prefix, self.n))
                self.proc.stdin.flush()
                self.n += 1
                time.sleep(self.interval)
        except OSError as e:
            self.error = e

    def stop(self):
        """Stop, wait for smartsock-cat to send everything and exit 0;
        returns every line fed."""
        self.halt.set()
        self.thread.join(10)
        check(self.error is None, "feeding smartsock-cat: %r" % self.error)
        self.proc.stdin.close()
        self.proc.stdin = None
        finish(self.proc, "smartsock-cat send")
        return ["%s%d" % (self.prefix.decode(), i) for i in range(self.n)]


def all_arrived(sent, seen, what, timeout=30.0):
    """Every id of sent is in seen (waiting for resends); no stranger.
    Returns the number of duplicates."""
    want = set(sent)
    end = time.monotonic() + patience(timeout)
    while not want <= set(seen):
        if time.monotonic() > end:
            missing = sorted(want - set(seen))
            fail("%s: %d of %d sent never arrived: %r" %
                 (what, len(missing), len(want), missing[:20]))
        time.sleep(0.05)
    check(set(seen) <= want, "%s: unexpected payloads %r" %
          (what, sorted(set(seen) - want)[:10]))
    dups = len(seen) - len(set(seen))
    print("%s: %d sent, all arrived, %d duplicates" % (what, len(want), dups))
    return dups


def settled(d, name):
    """The socket's queues are empty: all it sent was acknowledged."""
    wait_for(lambda: (lambda s: s["queued_to_send"] == 0 and
                      s["awaiting_ack"] == 0)(d.status_of(name)), 15,
             "socket %s to have everything acknowledged" % name)


def clean_sender(b, name):
    c = b.status_of(name)["counters"]
    check(c["alo.giveups"] == 0, "the sender gave up on messages: %r" % c)
    check("gave up on a message" not in b.log_text(), "give-ups logged")
    return c


# --- 2. the receiving daemon killed and restarted, 100 times -----------------
step("SIGKILL + restart of the receiving daemon, %d times" % CYCLES)
port = free_port()
a = Daemon({"alo": sock(bind="127.0.0.1:%d" % port, send_mode="roundrobin",
                        delivery="at-least-once", **NO_HB_TIMEOUT)})
# A connection that lived less than reconnect_max_delay keeps the backoff
# where it was (daemon/endpoint.c): keep it short, as the cycles are.
b = Daemon({"alo": sock(connect="127.0.0.1:%d" % port, identity=ID_B,
                        delivery="at-least-once", max_retries="unlimited",
                        reconnect_delay="20ms", reconnect_max_delay="100ms",
                        **NO_HB_TIMEOUT)})
wait_peers(a, "alo", [ID_B])
seen = []
app = Receiver(a, "alo", seen)
feeder = Feeder(b, "alo", b"k")
t0 = time.monotonic()
for k in range(CYCLES):
    # Some messages flowed into this incarnation before it dies.
    wait_for(lambda: len(app.lines) > 0, 15,
             "messages on restarted daemon A (cycle %d)" % k)
    a.kill()
    app.ended()
    a.start()
    app = Receiver(a, "alo", seen)
elapsed = time.monotonic() - t0
sent = feeder.stop()
all_arrived(sent, seen, "%d kills of the receiving daemon" % CYCLES)
settled(b, "alo")
c = clean_sender(b, "alo")
print("%d cycles in %.1fs; sender: %d connections, %d resends" %
      (CYCLES, elapsed, c["connections.connected"], c["alo.resends"]))
check(c["connections.connected"] >= CYCLES + 1 and
      count(a, up("alo", ID_B)) >= CYCLES + 1,
      "fewer connections than restarts: %r" % c)
check(c["heartbeat.timeouts"] == 0,
      "a SIGKILLed peer was noticed by heartbeat, not by its closed socket")
check(a.stop() == 0, "daemon A did not stop cleanly")
app.ended()
check(b.stop() == 0, "daemon B did not stop cleanly")


# --- 3a. TCP resets mid-stream -----------------------------------------------
class Relay:
    """A TCP relay from a port of its own to 127.0.0.1:target.  reset()
    closes both sockets of every relayed connection with SO_LINGER 0: each
    side gets a TCP RST, whatever was in flight."""

    def __init__(self, target):
        self.target = target
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.other = {}
        self.resets = 0
        self.want_reset = threading.Event()
        self.reset_done = threading.Event()
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _drop(self, s, rst):
        if s not in self.other:
            return              # closed with its pair
        o = self.other.pop(s)
        for x in (s, o):
            if x is None:
                continue
            self.other.pop(x, None)
            if rst:
                x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            x.close()

    def _run(self):
        while not self.halt.is_set():
            if self.want_reset.is_set():
                for s in list(self.other):
                    self._drop(s, True)
                self.resets += 1
                self.want_reset.clear()
                self.reset_done.set()
            r, _, _ = select.select([self.ls] + list(self.other), [], [], 0.02)
            for s in r:
                if s is self.ls:
                    c, _ = self.ls.accept()
                    try:
                        t = socket.create_connection(("127.0.0.1",
                                                      self.target), 5)
                    except OSError:
                        c.close()
                        continue
                    self.other[c], self.other[t] = t, c
                    continue
                if s not in self.other:
                    continue
                try:
                    data = s.recv(65536)
                    if data:
                        self.other[s].sendall(data)
                        continue
                except OSError:
                    pass
                self._drop(s, False)

    def reset(self):
        self.reset_done.clear()
        self.want_reset.set()
        if not self.reset_done.wait(patience(10)):
            fail("the relay did not reset")

    def close(self):
        self.halt.set()
        self.thread.join(5)
        for s in list(self.other):
            self._drop(s, False)
        self.ls.close()


RESETS = 10
step("an application killed while it holds a message gets it again")
HOLDER = r'''
import ctypes, os, sys, time
lib = ctypes.CDLL(sys.argv[1])
lib.smartsock_open.restype = ctypes.c_void_p
lib.smartsock_recv.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                               ctypes.c_size_t]
h = lib.smartsock_open(sys.argv[2].encode())
buf = ctypes.create_string_buffer(256)
n = lib.smartsock_recv(h, buf, 256)
print(buf.raw[:n].decode(), flush=True)
time.sleep(60)
'''
LIB = os.path.join(BUILD, ".libs", "libsmartsock.so")
port = free_port()
a = Daemon({"hold": sock(bind="127.0.0.1:%d" % port,
                         delivery="at-least-once", resend_timeout="60s")})
b = Daemon({"hold": sock(connect="127.0.0.1:%d" % port, identity=ID_B,
                         delivery="at-least-once", resend_timeout="60s")})
wait_peers(a, "hold", [ID_B])
# A sanitizer build's library needs its runtime loaded first in python.
env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
runtimes = re.findall(r"=> (\S*lib(?:asan|ubsan)\.so\S*)",
                      subprocess.run(["ldd", LIB], capture_output=True,
                                     text=True).stdout)
if runtimes:
    env["LD_PRELOAD"] = " ".join(runtimes)
holder = spawn([sys.executable, "-c", HOLDER, LIB, a.sock_path("hold")],
               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
wait_apps(a, "hold", 1)
send_lines(b, "hold", ["held-once"])
check(holder.stdout.readline().strip() == b"held-once",
      "the holding application did not get the message")
time.sleep(0.3)         # would a confirm go out? it must not
check(b.status_of("hold")["awaiting_ack"] == 1 and
      b.counter("hold", "alo.acks_in") == 0,
      "the sender got an ACK for a message still being handled: %r" %
      b.status_of("hold"))
holder.kill()
holder.wait(10)
again = a.cat("recv", "hold", "-n", "1", "--timeout", "10")
check(again.stdout == b"held-once\n",
      "not delivered again after the holder died: %r" % (again,))
wait_for(lambda: b.status_of("hold")["awaiting_ack"] == 0, 10,
         "the ACK after the second application took it")
a.stop()
b.stop()

step("a relay between the daemons resets both connections, %d times" % RESETS)
port = free_port()
a = Daemon({"in": sock(bind="127.0.0.1:%d" % port, **NO_HB_TIMEOUT)})
relay = Relay(port)
b = Daemon({"out": sock(connect="127.0.0.1:%d" % relay.port, identity=ID_B,
                        delivery="at-least-once", max_retries="unlimited",
                        **NO_HB_TIMEOUT)})
wait_peers(a, "in", [ID_B])
seen = []
app = Receiver(a, "in", seen)
feeder = Feeder(b, "out", b"r", interval=0.001)
for k in range(RESETS):
    ups = count(b, up("out", "[0-9a-f]{32}"))
    n = len(seen)
    wait_for(lambda: len(seen) >= n + 20, 15, "traffic before reset %d" % k)
    relay.reset()
    wait_for(lambda: count(b, up("out", "[0-9a-f]{32}")) > ups, 15,
             "B to reconnect through the relay after reset %d" % k)
sent = feeder.stop()
all_arrived(sent, seen, "%d resets" % RESETS)
settled(b, "out")
cb, ca = clean_sender(b, "out"), a.status_of("in")["counters"]
downs_a = re.findall(r"socket in: peer %s \([^)]*\) down: (.*)" % ID_B,
                     a.log_text())
downs_b = re.findall(r"socket out: peer [0-9a-f]{32} \([^)]*\) down: (.*)",
                     b.log_text())
print("relay resets: bind side saw %r; connect side saw %r" %
      (sorted(set(downs_a)), sorted(set(downs_b))))
check(len(downs_a) == RESETS and len(downs_b) == RESETS,
      "%d resets, but A logged %d peers down and B %d" %
      (RESETS, len(downs_a), len(downs_b)))
check(all("reset" in w.lower() or "broken pipe" in w.lower()
          for w in downs_a + downs_b), "a reset logged as something else: %r"
      % (downs_a + downs_b))
check(ca["connections.accepted"] == RESETS + 1 and
      ca["connections.closed"] == RESETS, "bind side counters: %r" % ca)
check(cb["connections.connected"] == RESETS + 1 and
      cb["connections.closed"] == RESETS, "connect side counters: %r" % cb)
check(ca["heartbeat.timeouts"] == 0 and cb["heartbeat.timeouts"] == 0,
      "a reset was noticed only by heartbeat")
check(b.stop() == 0, "daemon B did not stop cleanly")
relay.close()

step("a raw peer resets its connection in the middle of a frame")
closed = ca["connections.closed"] + 1       # B's last connection
raw = RawPeer(port)
raw.send(hello(bytes.fromhex(ID_RAW)) + frame(bytes((DATA,)) + b"whole") +
         frame(bytes((DATA,)) + b"cut in half")[:9])
wait_for(lambda: "whole" in seen, 10, "the whole frame before the reset")
raw.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
raw.close()
wait_for(lambda: re.search(r"peer %s \([^)]*\) down: (.*reset.*)" % ID_RAW,
                           a.log_text()), 10, "the reset logged")
check(a.counter("in", "connections.closed") == closed + 1,
      "the reset was not counted")
again = RawPeer(port)                       # the same identity, at once
again.send(hello(bytes.fromhex(ID_RAW)) + frame(bytes((DATA,)) + b"again"))
wait_for(lambda: "again" in seen, 10, "the same identity accepted again")
check(all(not s.startswith("cut") for s in seen), "half a frame delivered")
check(a.counter("in", "rejected.duplicate_identity") == 0,
      "a reset connection still held its identity")
again.close()
check(a.stop() == 0, "daemon A did not stop cleanly")
app.ended()

# --- 3b. the same identity while the old connection still looks alive --------
step("a peer restarts with the same identity; its old connection is silent")
HB_TIMEOUT = 2.0
port = free_port()
a = Daemon({"in": sock(bind="127.0.0.1:%d" % port, heartbeat_interval="300ms",
                       heartbeat_timeout="2s")})
ghost = RawPeer(port)
ghost.send(hello(bytes.fromhex(ID_GHOST)))
t_hello = time.monotonic()
f = ghost.read_frame()
check(f is not None and f[0] == HELLO, "no HELLO for the old connection")
wait_peers(a, "in", [ID_GHOST])
b = Daemon({"out": sock(connect="127.0.0.1:%d" % port, identity=ID_GHOST,
                        delivery="at-least-once", max_retries="unlimited",
                        reconnect_max_delay="500ms")})
msgs = ["g%d" % i for i in range(50)]
r = b.cat("send", "out", *msgs)
check(r.returncode == 0, "send while refused: %r" % r.stderr)
wait_for(lambda: count(a, up("in", ID_GHOST)) >= 2, 10,
         "the new connection of %s accepted" % ID_GHOST)
accepted_after = time.monotonic() - t_hello
seen = []
app = Receiver(a, "in", seen)
all_arrived(msgs, seen, "messages sent while the old connection lived")
settled(b, "out")
log = a.log_text()
refused = len(re.findall(r"closed before handshake: identity %s already "
                         r"has a live connection" % ID_GHOST, log))
c = a.status_of("in")["counters"]
print("new connection accepted %.2fs after the old one's HELLO "
      "(heartbeat_timeout %.1fs), after %d refusals" %
      (accepted_after, HB_TIMEOUT, refused))
check(c["rejected.duplicate_identity"] == refused and refused >= 1,
      "rejected.duplicate_identity %d, %d refusals logged" %
      (c["rejected.duplicate_identity"], refused))
check(c["heartbeat.timeouts"] == 1, "heartbeat.timeouts %d, not 1" %
      c["heartbeat.timeouts"])
ups = [m.start() for m in re.finditer(up("in", ID_GHOST), log)]
check(0 <= log.find("(heartbeat_timeout)") < ups[1],
      "the new connection was accepted before the old one timed out")
check(ghost.closed(5), "the old connection was not closed")
check(b.stop() == 0 and a.stop() == 0, "daemons did not stop cleanly")
app.ended()
step("done")
passed("faults")
