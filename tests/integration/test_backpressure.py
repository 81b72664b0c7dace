"""Back-pressure and overflow with real daemons and raw aiomsg peers.

A stalled subscriber on a publish socket (it keeps its TCP connection and
its heartbeats but stops reading): with overflow = drop-new its queue stops
at about peer_buffer, its copies are dropped and counted, and the other
subscribers get every message meanwhile (how fast is printed, for
comparison: speed is bench/'s to judge).  With overflow = block (the
default) nothing is dropped: messages wait while it is full, and once it
has taken nothing for subscriber_timeout while the others waited, the
daemon disconnects it (logged, counted) and the others get everything.
When no subscriber reads, the sending application simply waits, and loses
nothing when one reads again.

A long outage of a connect socket's only peer while an application sends
far more than send_buffer: with drop-new and drop-old the queue stays at
send_buffer, drops.overflow counts the rest, the daemon's RSS stays flat,
and the peer gets the first (drop-new) or last (drop-old) send_buffer
messages, in order, when it comes back; with block the sender waits, and
everything arrives in order afterwards.
"""
import os
import socket
import subprocess
import threading
import time

import procstat
from harness import (DATA, HEARTBEAT, Daemon, RawPeer, cat_timeout, check,
                     collect, fail, finish, frame, free_port, hello, passed,
                     patience, settle, sock, step, wait_for, wait_peers)

SIZE = 1000             # payload bytes: an 8-digit id, then padding
PEER_BUFFER = 128 * 1024
STALL_SLACK = SIZE + 64  # one frame and some heartbeats past peer_buffer
SUBSCRIBER_TIMEOUT = "2s"


def line(i):
    return b"%08d%s\n" % (i, b"x" * (SIZE - 8))


def lines(first, end):
    return b"".join(line(i) for i in range(first, end))


class Sub:
    """A raw subscriber: HELLO, then a thread that reads as fast as it can
    and records the id of each DATA payload, and a HEARTBEAT every 0.5 s.
    A stalled one reads nothing until resume(); its TCP stays open."""

    def __init__(self, port, ident, stalled=False):
        self.peer = RawPeer(port)
        self.peer.s.settimeout(0.2)
        self.ident = ident.hex()
        self.addr = "%s:%d" % self.peer.s.getsockname()
        self.ids = []
        self.reading = threading.Event()
        self.stop = threading.Event()
        if not stalled:
            self.reading.set()
        self.peer.send(hello(ident))
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._read, self._beat)]
        for t in self.threads:
            t.start()

    def _read(self):
        buf = bytearray()
        while not self.stop.is_set():
            if not self.reading.wait(0.05):
                continue
            try:
                chunk = self.peer.s.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            off, have, got = 0, len(buf), []
            while have - off >= 4:
                n = int.from_bytes(buf[off:off + 4], "big")
                if have - off - 4 < n:
                    break
                if n > 0 and buf[off + 4] == DATA:
                    got.append(int(buf[off + 5:off + 13]))
                off += 4 + n
            del buf[:off]
            self.ids.extend(got)

    def _beat(self):
        while not self.stop.wait(0.5):
            try:
                self.peer.send(frame(bytes((HEARTBEAT,))))
            except OSError:
                return

    def resume(self):
        self.reading.set()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(5)
        self.peer.close()


def end_feed(p, what, timeout=30):
    """Close a feeder's stdin (if its thread did not) and wait for exit 0."""
    if not p.stdin.closed:
        p.stdin.close()
    p.stdin = None              # communicate() would flush it
    return finish(p, what, timeout)


def feed_in_background(d, name, n):
    """smartsock-cat send on socket `name` fed lines 0..n-1 in windows of
    50 from a thread, which blocks when the sender does.  Returns the
    process, [lines fed so far] and the thread."""
    feeder = d.cat_bg("send", name, stdin=subprocess.PIPE)
    fed = [0]

    def feed():
        try:
            for start in range(0, n, 50):
                feeder.stdin.write(lines(start, start + 50))
                feeder.stdin.flush()
                fed[0] = start + 50
            feeder.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    feeding = threading.Thread(target=feed, daemon=True)
    feeding.start()
    return feeder, fed, feeding


def peer_entry(d, name, sub):
    for p in d.ctl_json("peers", name)["peers"]:
        if p["address"] == sub.addr:
            return p
    fail("no peer %s on socket %s" % (sub.addr, name))


def publisher(overflow, send_buffer):
    port = free_port()
    d = Daemon({"pub": sock(bind="127.0.0.1:%d" % port, send_mode="publish",
                            overflow=overflow, send_buffer=send_buffer,
                            peer_buffer=PEER_BUFFER,
                            subscriber_timeout=SUBSCRIBER_TIMEOUT)})
    return d, port


def connect_subs(d, port, n, first_byte, stalled=False):
    subs = [Sub(port, bytes((first_byte + i,)) * 16, stalled)
            for i in range(n)]
    wait_peers(d, "pub", [s.ident for s in subs])
    return subs


def windowed(feeder, first, n, subs, window=50, on_window=None):
    """Feed ids first..first+n-1, `window` at a time, the next window once
    every sub in subs has received all before it.  Returns the seconds."""
    t0 = time.monotonic()
    for k, start in enumerate(range(first, first + n, window)):
        end = min(start + window, first + n)
        feeder.stdin.write(lines(start, end))
        feeder.stdin.flush()
        limit = time.monotonic() + patience(20)
        while not all(s.ids and s.ids[-1] == end - 1 for s in subs):
            if time.monotonic() > limit:
                fail("window %d..%d: subscribers got %r" %
                     (start, end, [s.ids[-3:] for s in subs]))
            time.sleep(0.001)
        if on_window is not None:
            on_window(k)
    return time.monotonic() - t0


# --- 4a. a stalled subscriber, overflow = drop-new ---------------------------
step("publish, drop-new: 3 subscribers, then a 4th that stops reading")
d, port = publisher("drop-new", 1000)
fast = connect_subs(d, port, 3, 0x10)
feeder = d.cat_bg("send", "pub", stdin=subprocess.PIPE)
N = 8000                # 8 MB to each: more than the kernel buffers hold
t_base = windowed(feeder, 0, N, fast)
for s in fast:
    check(s.ids == list(range(N)), "baseline: a subscriber got %d of %d, "
          "ends %r" % (len(s.ids), N, s.ids[-3:]))

stalled = connect_subs(d, port, 1, 0x20, stalled=True)[0]
queued = []


def sample_stalled(k):
    if k % 10 == 9:
        queued.append(peer_entry(d, "pub", stalled)["queued_bytes"])


t_stall = windowed(feeder, N, N, fast, on_window=sample_stalled)
print("fast subscribers: %.0f msg/s alone, %.0f msg/s beside a stalled one"
      % (N / t_base, N / t_stall))
for s in fast:
    check(s.ids == list(range(2 * N)), "beside the stalled one: a "
          "subscriber got %d of %d" % (len(s.ids), 2 * N))
p = peer_entry(d, "pub", stalled)
queued.append(p["queued_bytes"])
print("stalled subscriber: queued_bytes samples %r, %d sent to it, %d dropped"
      % (queued, p["messages_out"], p["drops"]))
check(p["drops"] > 0 and p["messages_out"] + p["drops"] == N,
      "stalled subscriber: %d sent + %d dropped, of %d" %
      (p["messages_out"], p["drops"], N))
check(max(queued) <= PEER_BUFFER + STALL_SLACK,
      "stalled queue over peer_buffer: %r" % queued)
check(max(queued) >= PEER_BUFFER - STALL_SLACK,
      "stalled queue %r, never about peer_buffer %d" % (queued, PEER_BUFFER))
check(d.counter("pub", "drops.slow_peer") == p["drops"],
      "drops.slow_peer %d, the stalled peer's drops %d" %
      (d.counter("pub", "drops.slow_peer"), p["drops"]))
check(all(peer_entry(d, "pub", s)["drops"] == 0 for s in fast),
      "copies dropped for a subscriber that reads")
check(d.counter("pub", "heartbeat.timeouts") == 0, "a subscriber timed out")

step("the stalled subscriber reads again")
stalled.resume()
sent = p["messages_out"]
wait_for(lambda: len(stalled.ids) >= sent, 20, "the stalled subscriber's "
         "%d queued messages" % sent)
ids = stalled.ids
check(len(ids) == sent and
      all(N <= a < b < 2 * N for a, b in zip(ids, ids[1:])),
      "the stalled subscriber got %d ids (want %d increasing): %r..." %
      (len(ids), sent, ids[:5]))
end_feed(feeder, "smartsock-cat send (drop-new)")
for s in fast + [stalled]:
    s.close()
check(d.stop() == 0, "publish daemon (drop-new) did not stop cleanly")

# --- 4b. a stalled subscriber, overflow = block ------------------------------
step("publish, block: a stalled subscriber holds the others back for "
     "subscriber_timeout, then is disconnected")
SEND_BUFFER = 100
d, port = publisher("block", SEND_BUFFER)
fast = connect_subs(d, port, 3, 0x30)
stalled = connect_subs(d, port, 1, 0x40, stalled=True)[0]
N2 = 10000
feeder, fed, feeding = feed_in_background(d, "pub", N2)
wait_for(lambda: d.counter("pub", "drops.slow_peer_disconnects") == 1, 30,
         "the stalled subscriber to be disconnected")
d.wait_log("a subscriber that does not read")
feeding.join(patience(60))
check(not feeding.is_alive(), "the sender is still held back after the "
      "stalled subscriber left: fed %d of %d" % (fed[0], N2))
end_feed(feeder, "smartsock-cat send (block, one stalled)")
for s in fast:
    wait_for(lambda: len(s.ids) >= N2, 30, "all %d at every reading "
             "subscriber" % N2)
    check(s.ids == list(range(N2)), "block: a subscriber got %d, ends %r" %
          (len(s.ids), s.ids[-3:]))
wait_for(lambda: len(d.ctl_json("peers", "pub")["peers"]) == 3, 20,
         "the stalled subscriber gone from the peers")
c = d.status_of("pub")["counters"]
print("block, one stalled: drops.slow_peer_disconnects %d, the fast ones "
      "got all %d" % (c["drops.slow_peer_disconnects"], N2))
check(c["drops.slow_peer"] == 0 and c["drops.overflow"] == 0 and
      c["heartbeat.timeouts"] == 0 and
      c["drops.slow_peer_disconnects"] == 1, "block, one stalled: %r" % c)
for s in fast + [stalled]:
    s.close()
check(d.stop() == 0, "publish daemon (block) did not stop cleanly")

# --- 4c. every subscriber stalled, overflow = block --------------------------
step("publish, block: with no subscriber reading, the sender waits and "
     "nothing is lost")
d, port = publisher("block", SEND_BUFFER)
stalled = connect_subs(d, port, 1, 0x50, stalled=True)[0]
feeder, fed, feeding = feed_in_background(d, "pub", N2)
wait_for(lambda: d.status_of("pub")["queued_to_send"] >= SEND_BUFFER, 20,
         "the send buffer to fill behind the stalled subscriber")


def progress():
    return (fed[0], d.counter("pub", "messages.out"))


# The kernel may still take some bytes for the stalled connection while
# its send buffer grows; the stall is what follows.
before = settle(progress, "the publish socket to stall")
time.sleep(patience(1.0))       # a stall is seen only by waiting
st = d.status_of("pub")
after = (fed[0], st["counters"]["messages.out"])
print("blocked: fed %d of %d, queued_to_send %d, stalled queue %d bytes" %
      (fed[0], N2, st["queued_to_send"],
       peer_entry(d, "pub", stalled)["queued_bytes"]))
check(before == after and fed[0] < N2,
      "the sender was not held back: %r then %r" % (before, after))
check(feeder.poll() is None, "smartsock-cat send exited while blocked")
check(st["queued_to_send"] == SEND_BUFFER, "queued_to_send %d, not %d" %
      (st["queued_to_send"], SEND_BUFFER))
check(peer_entry(d, "pub", stalled)["queued_bytes"] <=
      PEER_BUFFER + STALL_SLACK, "stalled queue over peer_buffer")
stalled.resume()
feeding.join(patience(30))
check(not feeding.is_alive(), "the feeder is still blocked after the "
      "subscriber read again (fed %d of %d)" % (fed[0], N2))
end_feed(feeder, "smartsock-cat send (block)")
wait_for(lambda: len(stalled.ids) >= N2, 30, "all %d at the subscriber" % N2)
check(stalled.ids == list(range(N2)), "block: the subscriber got %d, ends %r"
      % (len(stalled.ids), stalled.ids[-3:]))
c = d.status_of("pub")["counters"]
check(c["drops.slow_peer"] == 0 and c["drops.overflow"] == 0 and
      c["drops.slow_peer_disconnects"] == 0, "block dropped: %r" % c)
stalled.close()
check(d.stop() == 0, "publish daemon (block) did not stop cleanly")


# --- 5. a long outage of the only peer ---------------------------------------
def outage(overflow):
    """Daemon B connects to a port nobody serves; returns (b, port)."""
    port = free_port()
    env = os.environ.get("ASAN_OPTIONS")
    # ASan keeps freed memory in a quarantine, which RSS would show.
    os.environ["ASAN_OPTIONS"] = (env + ":" if env else "") + \
        "quarantine_size_mb=0"
    try:
        b = Daemon({"out": sock(connect="127.0.0.1:%d" % port,
                                send_buffer=OUT_BUFFER, overflow=overflow)})
    finally:
        if env is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = env
    return b, port


def peer_returns(port, want, what):
    a = Daemon({"in": sock(bind="127.0.0.1:%d" % port)})
    r = a.cat_bg("recv", "in", "-n", str(len(want)), "--timeout",
                 cat_timeout(20))
    got = collect(r, 40)
    check(r.returncode == 0 and got == ["%08d%s" % (i, "x" * (SIZE - 8))
                                        for i in want],
          "%s: %d arrived, want %d in order; first %r" %
          (what, len(got), len(want), [g[:8] for g in got[:3]]))
    r = a.cat("recv", "in", "-n", "1", "--timeout", "700ms")
    check(r.returncode == 1 and r.stdout == b"",
          "%s: more than the queue arrived: %r" % (what, r.stdout[:20]))
    return a


OUT_BUFFER = 1000
CHUNK = 5000
for overflow in ("drop-new", "drop-old"):
    step("outage, %s: %d messages into a send_buffer of %d" %
         (overflow, 8 * CHUNK, OUT_BUFFER))
    b, port = outage(overflow)
    feeder = b.cat_bg("send", "out", stdin=subprocess.PIPE)
    rss, fds = [], []
    for k in range(8):
        feeder.stdin.write(lines(k * CHUNK, (k + 1) * CHUNK))
        feeder.stdin.flush()
        want = (k + 1) * CHUNK - OUT_BUFFER
        wait_for(lambda: b.counter("out", "drops.overflow") >= want, 20,
                 "drops.overflow to reach %d" % want)
        check(b.status_of("out")["queued_to_send"] == OUT_BUFFER,
              "queued_to_send is not send_buffer")
        rss.append(procstat.rss_kb(b.proc.pid))
        fds.append(procstat.fd_count(b.proc.pid))
    end_feed(feeder, "smartsock-cat send (%s)" % overflow)
    st = b.status_of("out")
    print("%s: RSS %r KiB, %d fds, drops.overflow %d" %
          (overflow, rss, fds[-1], st["counters"]["drops.overflow"]))
    check(st["counters"]["drops.overflow"] == 8 * CHUNK - OUT_BUFFER and
          st["queued_to_send"] == OUT_BUFFER, "%s: %r" % (overflow, st))
    # 39 MB went through the full queue; from the second sample on (the
    # allocator warmed up) RSS may wobble but not grow with it.
    # An ASan build's allocator wobbles more (seen: +1.0 MiB once).
    bound = 4096 if procstat.sanitized(b.proc.pid) else 1024
    check(max(rss[2:]) - rss[1] <= bound, "%s: RSS grew from %d to %d KiB "
          "while the queue stayed full (bound %d)" %
          (overflow, rss[1], max(rss[2:]), bound))
    # A sample may catch a control connection or a connect attempt open.
    check(max(fds) - min(fds) <= 2, "%s: descriptors %r" % (overflow, fds))
    want = range(OUT_BUFFER) if overflow == "drop-new" else \
        range(8 * CHUNK - OUT_BUFFER, 8 * CHUNK)
    a = peer_returns(port, list(want), overflow)
    check(b.stop() == 0 and a.stop() == 0, "daemons did not stop cleanly")

step("outage, block: the sender waits until the peer returns")
b, port = outage("block")
N3 = 4000
feeder, fed, feeding = feed_in_background(b, "out", N3)
wait_for(lambda: b.status_of("out")["queued_to_send"] >= OUT_BUFFER, 20,
         "the send buffer to fill")
rss0, fed0 = procstat.rss_kb(b.proc.pid), fed[0]
time.sleep(1.0)         # a stall is seen only by waiting
st = b.status_of("out")
print("block: fed %d of %d, queued_to_send %d, RSS %d -> %d KiB" %
      (fed[0], N3, st["queued_to_send"], rss0, procstat.rss_kb(b.proc.pid)))
check(fed[0] == fed0 and fed[0] < N3 and feeder.poll() is None,
      "the sender was not held back (fed %d then %d)" % (fed0, fed[0]))
check(st["queued_to_send"] == OUT_BUFFER and
      st["counters"]["drops.overflow"] == 0, "block: %r" % st)
a = peer_returns(port, list(range(N3)), "block")
feeding.join(patience(30))
end_feed(feeder, "smartsock-cat send (outage, block)")
check(b.stop() == 0 and a.stop() == 0, "daemons did not stop cleanly")
step("done")
passed("back-pressure and overflow")
