"""Connection churn: 10,000 aiomsg peers and 10,000 applications connect
and leave one smartsockd, several at a time, in every way a connection can
end (after the handshake, with a reset, before HELLO, in the middle of
HELLO, without reading the answer).  The daemon's descriptors must come
back to the baseline exactly and its resident memory must stay flat: what
one connection costs is returned when it goes.  Meanwhile and afterwards
the socket still carries messages from a peer to an application."""
import os
import socket
import struct
import threading
import time

import procstat
from harness import (DATA, HELLO, Daemon, RawPeer, cat_timeout, check,
                     collect, fail, frame, free_port, hello, passed, patience,
                     sock, step)

PEER_CYCLES = 10000
APP_CYCLES = 10000
PARALLEL = 4            # workers of each kind at once
WARMUP = 1000           # cycles of each kind before the reference RSS
# Resident memory may grow by this much from the end of the warm-up to the
# end (KiB).  Workers wait for the daemon (see peer_cycle), so at most a
# few dozen connections are open at once, each a few KiB in the daemon
# (libevent's buffers, the peer or client), the same in the warm-up as
# later: what is left is glibc's free lists and the idmap, which keeps its
# largest size.  Measured: +16..20 KiB.  A leak of 16 bytes per cycle over
# the 18,000 cycles after the warm-up (288 KiB) is over the bound.
RSS_SLACK_KB = 256
# Under AddressSanitizer freed blocks sit in its quarantine (256 MiB by
# default) before they are reused, so RSS grows with every allocation until
# the quarantine is full.  The daemon is run with a 16 MiB quarantine,
# which the warm-up fills (about 20 MiB of RSS), so from then on RSS is
# flat there too; the bound leaves room for ASan's per-size caches
# (measured: +320..440 KiB).  LeakSanitizer checks for leaks at exit.
ASAN_QUARANTINE_MB = 16
ASAN_RSS_SLACK_KB = 4096

LP_HELLO, LP_CONFIRM, LP_CREDIT, LP_WELCOME = 1, 4, 5, 64
LP_HELLO_FRAME = struct.pack(">IBH", 3, LP_HELLO, 1)
# A CONFIRM and a CREDIT of nothing: the frames go through the daemon's
# bookkeeping, but no message is ever handed to these applications (a
# credit of 1 would take the messages the test sends through).
LP_MORE_FRAMES = struct.pack(">IBQ", 9, LP_CONFIRM, 0) + \
    struct.pack(">IBI", 5, LP_CREDIT, 0)
WELCOME_LEN = 4 + 1 + 2 + 4 + 16

# Read only by a sanitizer build of the daemon; see ASAN_RSS_SLACK_KB.
_opts = os.environ.get("ASAN_OPTIONS", "")
if "quarantine_size_mb" not in _opts:
    os.environ["ASAN_OPTIONS"] = (_opts + ":" if _opts else "") + \
        "quarantine_size_mb=%d" % ASAN_QUARANTINE_MB

port = free_port()
d = Daemon({"churn": sock(bind="127.0.0.1:%d" % port,
                          heartbeat_timeout="5s")})
pid = d.proc.pid
asan = procstat.sanitized(pid)
slack = ASAN_RSS_SLACK_KB if asan else RSS_SLACK_KB
path = d.sock_path("churn")
errors = []
cycles_done = [0]       # by every worker: progress, whatever the speed
STUCK_S = 30            # no cycle finished for this long (x SLOWDOWN): stuck


def read_n(s, n):
    """Up to n bytes; fewer only at EOF."""
    got = b""
    while len(got) < n:
        c = s.recv(n - len(got))
        if not c:
            break
        got += c
    return got


def kind(i, n):
    """Each worker goes through the n kinds of cycle in turn."""
    return (i // PARALLEL) % n


def peek_n(s, n):
    """Wait until n bytes are there, without reading them: closing then
    leaves them unread (a TCP reset)."""
    end = time.monotonic() + patience(10)
    while len(s.recv(n, socket.MSG_PEEK)) < n:
        if time.monotonic() > end:
            raise AssertionError("no %d bytes from the daemon" % n)
        time.sleep(0.001)


# Every kind but "say nothing" waits for the daemon to have accepted the
# connection (its HELLO or WELCOME), and "say nothing" is followed by one
# that waits: workers cannot run ahead of the daemon by more than a
# connection or two, so how many connections are open at once, and what
# they hold in memory, is the same in the warm-up and afterwards.
def peer_cycle(i):
    s = socket.create_connection(("127.0.0.1", port), timeout=patience(10))
    try:
        k = kind(i, 5)
        if k == 0:              # handshake, then an orderly close
            s.sendall(hello(os.urandom(16)))
            h = read_n(s, 22)
            if len(h) != 22 or h[4] != HELLO:
                raise AssertionError("peer %d: daemon HELLO %r" % (i, h))
        elif k == 1:            # handshake, then a reset
            s.sendall(hello(os.urandom(16)))
            read_n(s, 22)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        elif k == 2:            # a port scan: nothing sent
            pass
        elif k == 3:            # half a HELLO
            read_n(s, 22)
            s.sendall(hello(os.urandom(16))[:9])
        else:                   # HELLO, the daemon's never read: a reset
            s.sendall(hello(os.urandom(16)))
            peek_n(s, 22)
    finally:
        s.close()


def connect_unix(s):
    """As libsmartsock does: a full listen queue (EAGAIN) is retried."""
    end = time.monotonic() + patience(10)
    while True:
        try:
            return s.connect(path)
        except BlockingIOError:
            if time.monotonic() > end:
                raise
            time.sleep(0.005)


def app_cycle(i):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(patience(10))
    try:
        connect_unix(s)
        k = kind(i, 4)
        if k in (0, 1):         # attach, read WELCOME, detach
            s.sendall(LP_HELLO_FRAME + (LP_MORE_FRAMES if k else b""))
            w = read_n(s, WELCOME_LEN)
            if len(w) != WELCOME_LEN or w[4] != LP_WELCOME:
                raise AssertionError("app %d: WELCOME %r" % (i, w))
        elif k == 2:            # connects, says nothing
            pass
        else:                   # HELLO, gone without reading WELCOME
            s.sendall(LP_HELLO_FRAME)
            peek_n(s, WELCOME_LEN)
    finally:
        s.close()


def run(cycle, first, last):
    """Cycles first..last-1 split over PARALLEL threads."""
    def worker(k):
        try:
            for i in range(first + k, last, PARALLEL):
                cycle(i)
                cycles_done[0] += 1
        except Exception as e:          # reported by the main thread
            errors.append("%s: %r" % (cycle.__name__, e))
    return [threading.Thread(target=worker, args=(k,), daemon=True)
            for k in range(PARALLEL)]


def churn(first_peer, last_peer, first_app, last_app):
    ts = run(peer_cycle, first_peer, last_peer) + \
        run(app_cycle, first_app, last_app)
    for t in ts:
        t.start()
    # However long the churn takes, it must keep moving: stuck is no cycle
    # finished for STUCK_S.
    seen, since = cycles_done[0], time.monotonic()
    while any(t.is_alive() for t in ts):
        if cycles_done[0] != seen:
            seen, since = cycles_done[0], time.monotonic()
        elif time.monotonic() - since > patience(STUCK_S):
            fail("churn workers stuck: no cycle finished for %.0f s (%d "
                 "done in all)" % (patience(STUCK_S), seen))
        ts[0].join(0.1)
    check(not errors, "churn: %s" % errors[:5])
    check(d.proc.poll() is None, "smartsockd died during the churn")


def quiet_fds(base, what):
    n = procstat.wait_fds(pid, base, timeout=patience(10))
    if n != base:
        fail("%s: the daemon has %d descriptors, not %d:\nbefore %r\nnow %r"
             % (what, n, base, fds0, procstat.fd_targets(pid)))


def counters():
    return d.status_of("churn")["counters"]


# Before: one status query first, so the control socket's first use is
# not counted as growth.
d.status_of("churn")
time.sleep(0.2)
fds0 = procstat.fd_targets(pid)
base_fds = len(fds0)
rss0 = procstat.rss_kb(pid)
step("baseline: %d descriptors, RSS %d KiB%s" %
     (base_fds, rss0, " (AddressSanitizer)" if asan else ""))

t0 = time.monotonic()
churn(0, WARMUP, 0, WARMUP)
quiet_fds(base_fds, "after the warm-up")
rss_warm = procstat.rss_kb(pid)
step("warm-up: %d peers and %d applications, RSS %d KiB" %
     (WARMUP, WARMUP, rss_warm))

# The rest in two halves, with a message through the socket in between
# and a sampler watching the whole time.
sampler = procstat.Sampler(pid, interval=0.02)
mid_p = (WARMUP + PEER_CYCLES) // 2
mid_a = (WARMUP + APP_CYCLES) // 2
churn(WARMUP, mid_p, WARMUP, mid_a)
rss_mid = procstat.rss_kb(pid)
recv = d.cat_bg("recv", "churn", "-n", "1", "--timeout", cat_timeout(30))
sender = RawPeer(port)
sender.send(hello(b"\xc1" * 16) + frame(bytes((DATA,)) + b"mid-churn"))
churn(mid_p, PEER_CYCLES, mid_a, APP_CYCLES)
sampler.stop()
got = collect(recv, 20)
check(recv.returncode == 0 and got == ["mid-churn"],
      "message during the churn: rc %d, %r" % (recv.returncode, got))
sender.close()
elapsed = time.monotonic() - t0
step("%d peer and %d application cycles in %.1f s; during: up to %d "
     "descriptors, RSS %d-%d KiB (mid %d)" %
     (PEER_CYCLES, APP_CYCLES, elapsed, sampler.max_fds, sampler.min_rss,
      sampler.max_rss, rss_mid))

# After: every descriptor given back, memory flat.
quiet_fds(base_fds, "after the churn")
rss1 = procstat.rss_kb(pid)
step("after: %d descriptors, RSS %d KiB (+%d since the warm-up, bound %d)"
     % (procstat.fd_count(pid), rss1, rss1 - rss_warm, slack))
check(rss1 - rss_warm <= slack,
      "RSS grew by %d KiB from the warm-up (%d KiB) to the end (%d KiB), "
      "over %d KiB" % (rss1 - rss_warm, rss_warm, rss1, slack))
check(sampler.max_rss - rss_warm <= slack,
      "RSS reached %d KiB during the churn, %d over the warm-up's %d" %
      (sampler.max_rss, sampler.max_rss - rss_warm, rss_warm))
# While busy: never more open than the connections in flight (each
# worker holds at most one, the daemon may lag a little behind), plus the
# message's peer, recv and a status query.
check(sampler.max_fds <= base_fds + 4 * 2 * PARALLEL + 3,
      "the daemon held %d descriptors during the churn (baseline %d)" %
      (sampler.max_fds, base_fds))

c = counters()
st = d.status_of("churn")
check(st["peers"] == 0 and st["applications"] == 0,
      "left over: %d peers, %d applications" % (st["peers"],
                                                st["applications"]))
check(c["connections.accepted"] == PEER_CYCLES + 1 and
      c["connections.closed"] == PEER_CYCLES + 1,
      "connections accepted %d, closed %d, want %d each" %
      (c["connections.accepted"], c["connections.closed"], PEER_CYCLES + 1))
hellos = sum(kind(i, 4) != 2 for i in range(APP_CYCLES)) + 1   # + recv
check(c["apps.attached"] == hellos,
      "apps.attached %d, want %d" % (c["apps.attached"], hellos))
check(c["messages.in"] == 1, "messages.in %d" % c["messages.in"])
# Leaving with our bytes unread (a reset) is leaving, not a protocol error.
check(c["apps.dropped"] == 0, "apps.dropped %d" % c["apps.dropped"])
step("counters: %s" % ", ".join("%s %d" % kv for kv in sorted(c.items())
                                if kv[1]))

# And the socket still works after it all.
recv = d.cat_bg("recv", "churn", "-n", "1", "--timeout", cat_timeout(30))
sender = RawPeer(port)
sender.send(hello(b"\xc2" * 16) + frame(bytes((DATA,)) + b"after-churn"))
got = collect(recv, 20)
check(recv.returncode == 0 and got == ["after-churn"],
      "message after the churn: rc %d, %r" % (recv.returncode, got))
sender.close()
quiet_fds(base_fds, "at the end")
check(d.stop() == 0, "smartsockd did not stop cleanly")
step("done")
passed("churn")
