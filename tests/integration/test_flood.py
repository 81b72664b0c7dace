"""A hostile crowd on a bind port while two legitimate aiomsg peers stream
messages to an application.  The crowd (a child process, so it does not
share this one's interpreter with the measurement) runs at once: a port
scan (connect and close, connect and send random bytes), HTTP requests,
frames of length 0xFFFFFFFF before and after HELLO, slowloris connections
that send one byte every 0.2 s (of a HELLO, or after a HELLO of a frame
that never ends), one peer sending a million tiny frames (HEARTBEATs and
empty unknown frames), and a HELLO flood of 300 new identities a second.

The daemon must stay alive and answer `smartsockctl status` during the
attack, keep its resident memory within RSS_BOUND_KB of what it used
after the baseline, tear every hostile connection down in time (HTTP and
bad lengths at once, slowloris within the hello or heartbeat timeout),
count the tiny frames, and deliver every legitimate message, in order per
peer, at no less than MIN_FACTOR of the throughput measured without the
crowd in the same run."""
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time

import procstat
from harness import (CAT, DATA, HEARTBEAT, HELLO, Daemon, RawPeer, check, fail,
                     frame, free_port, hello, passed, sock, spawn, step,
                     tmpdir, wait_apps)

HB_INTERVAL_MS, HB_TIMEOUT_MS = 300, 1500   # the hello timeout too
SLOW_BYTE_S = 0.2               # slowloris: one byte this often
SLOW_CONNS = 10                 # of each slowloris kind at once
FLOOD_WAVE = 300                # new identities per HELLO-flood wave
TINY_FRAMES = 1000000           # half HEARTBEATs, half empty frames
STREAM_N = 300000               # messages per legitimate peer per phase
ATTACK_MIN_S = 5.0              # the crowd runs at least this long
# Legitimate throughput under attack, as a fraction of the baseline.  The
# two CPUs of a small machine are shared by the daemon, the receiving
# smartsock-cat, the senders and the crowd's process; the crowd is paced
# (about 400 connections/s plus the HELLO waves and the tiny frames).
# Measured: 0.65..0.86 alone, 0.45 with other tests running beside it; a
# daemon that let the crowd starve established peers would fall below.
MIN_FACTOR = 0.25
# Resident memory during the attack over what the daemon held after the
# baseline stream.  At most ~2 x 300 flood peers (one wave closing, one
# opening), 20 slowloris and a few dozen scan connections are open at
# once, a few KiB each in the daemon (the README measures 1.7 KiB per
# idle peer; libevent's 4 KiB read chunks come on top): about 2 MiB.  The
# legitimate streams' queues are in the baseline already (recv_buffer
# bounds them).  Measured: +0.8..1.1 MiB.
RSS_BOUND_KB = 4096
# AddressSanitizer: allocations carry redzones, and freed memory waits in a
# quarantine (16 MiB here) before reuse, so the attack's garbage adds up
# to that much on top.  Measured: +10 MiB.
ASAN_QUARANTINE_MB = 16
ASAN_RSS_BOUND_KB = 2 * RSS_BOUND_KB + ASAN_QUARANTINE_MB * 1024

# --- the crowd (run as a child: python3 test_flood.py --attack PORT) ---------

def until_eof(s, timeout):
    """Seconds until the other side closes s (EOF or reset), reading and
    dropping what it sends; None if it is still open after timeout."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < timeout:
        try:
            if not s.recv(65536):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:         # reset
            return time.monotonic() - t0
    return None


def drained_closed(s):
    """Read what a non-blocking socket holds; True at EOF or reset."""
    try:
        while True:
            if not s.recv(65536):
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack(port):
    global T_START
    T_START = time.monotonic()
    stop = threading.Event()
    report = {}
    errors = []

    def connect():
        return socket.create_connection(("127.0.0.1", port), timeout=5)

    def guarded(fn):
        def run():
            try:
                fn()
            except Exception as e:      # noqa: BLE001 - reported to the test
                errors.append("%s: %r" % (fn.__name__, e))
        return threading.Thread(target=run, daemon=True)

    def scan():
        n = failures = 0
        while not stop.is_set():
            try:
                s = connect()
                if n % 2:
                    s.sendall(os.urandom(random.randint(1, 64)))
                s.close()
            except OSError:
                failures += 1
            n += 1
            time.sleep(0.004)
        report["scan"] = {"connections": n, "failures": failures}

    def http():
        reqs = [b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
                b"POST /x HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
                b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]
        n, slowest, open_ = 0, 0.0, 0
        while not stop.is_set():
            s = connect()
            s.sendall(reqs[n % len(reqs)])
            t = until_eof(s, 5)
            s.close()
            if t is None:
                open_ += 1
            else:
                slowest = max(slowest, t)
            n += 1
            time.sleep(0.02)
        report["http"] = {"requests": n, "slowest_close_s": slowest,
                          "not_closed": open_}

    def huge_length():
        n, slowest, open_, slow = 0, 0.0, 0, []
        while not stop.is_set():
            s = connect()
            t0 = time.monotonic()
            if n % 2:           # after a HELLO: a frame over any limit
                s.sendall(hello(os.urandom(16)) + b"\xff\xff\xff\xff\x03")
            else:               # instead of a HELLO
                s.sendall(b"\xff\xff\xff\xff" + b"\x03" * 16)
            t = until_eof(s, 5)
            s.close()
            if t is None:
                open_ += 1
            else:
                slowest = max(slowest, t)
                if t > 0.1:
                    slow.append((round(t0 - T_START, 2), n % 2, round(t, 2)))
            n += 1
            time.sleep(0.02)
        report["huge_length"] = {"connections": n, "slowest_close_s": slowest,
                                 "not_closed": open_, "slow": slow[:10]}

    def slowloris():
        life = {"hello": [], "frame": []}
        completed = 0

        def new(kind):
            s = connect()
            if kind == "hello":         # a HELLO, byte by byte: 4.4 s
                data = hello(os.urandom(16))
            else:                       # a HELLO, then a frame byte by byte
                s.sendall(hello(os.urandom(16)))
                data = struct.pack(">I", 1000) + bytes((DATA,)) + b"x" * 999
            s.setblocking(False)
            return {"s": s, "kind": kind, "t0": time.monotonic(),
                    "data": data, "pos": 0}
        conns = [new(k) for k in ("hello", "frame") for _ in range(SLOW_CONNS)]
        while not stop.is_set():
            for i, c in enumerate(conns):
                if drained_closed(c["s"]):
                    life[c["kind"]].append(time.monotonic() - c["t0"])
                    c["s"].close()
                    conns[i] = new(c["kind"])
                    continue
                if c["pos"] < len(c["data"]):
                    try:
                        c["s"].send(c["data"][c["pos"]:c["pos"] + 1])
                        c["pos"] += 1
                    except OSError:
                        pass            # closed: seen on the next pass
                    if c["pos"] == len(c["data"]):
                        completed += 1
            stop.wait(SLOW_BYTE_S)
        now = time.monotonic()
        report["slowloris"] = {
            "closed_after_s": life,
            "open_at_end_s": {k: [now - c["t0"] for c in conns
                                  if c["kind"] == k] for k in life},
            "completed": completed}
        for c in conns:
            c["s"].close()

    def tiny():
        s = connect()
        s.sendall(hello(b"\x7e" * 16))
        chunk = (frame(b"") + frame(bytes((HEARTBEAT,)))) * 10000
        sent, closed = 0, False
        t0 = time.monotonic()
        while sent < TINY_FRAMES and not stop.is_set():
            s.sendall(chunk)
            sent += 20000
            time.sleep(0.04)
        elapsed = time.monotonic() - t0
        s.setblocking(False)
        while not stop.wait(HB_INTERVAL_MS / 1000):
            if drained_closed(s):
                closed = True
                break
            s.send(frame(bytes((HEARTBEAT,))))
        report["tiny"] = {"frames": sent, "seconds": elapsed,
                          "closed_by_daemon": closed}
        s.close()

    def hello_flood():
        waves = identities = no_hello = 0
        while not stop.is_set():
            socks = []
            for _ in range(FLOOD_WAVE):
                s = connect()
                s.sendall(hello(os.urandom(16)))
                socks.append(s)
            for s in socks:
                got = b""
                s.settimeout(5)
                try:
                    while len(got) < 22:
                        c = s.recv(22 - len(got))
                        if not c:
                            break
                        got += c
                except OSError:
                    pass
                if len(got) < 22 or got[4] != HELLO:
                    no_hello += 1
            identities += len(socks)
            waves += 1
            if waves == 1:
                print("ready", flush=True)
            stop.wait(1.0)
            for s in socks:
                s.close()
        report["hello_flood"] = {"waves": waves, "identities": identities,
                                 "no_hello": no_hello}

    threads = [guarded(f) for f in (scan, http, huge_length, slowloris, tiny,
                                    hello_flood)]
    for t in threads:
        t.start()
    # Until the test closes our stdin (or a minute, whatever happens).
    r, _, _ = select.select([sys.stdin], [], [], 60)
    if r:
        sys.stdin.read()
    stop.set()
    for t in threads:
        t.join(20)
    report["errors"] = errors + ["%s still running" % t.name
                                 for t in threads if t.is_alive()]
    print(json.dumps(report), flush=True)


if len(sys.argv) == 3 and sys.argv[1] == "--attack":
    attack(int(sys.argv[2]))
    sys.exit(0)


# --- the test ----------------------------------------------------------------

_opts = os.environ.get("ASAN_OPTIONS", "")
if "quarantine_size_mb" not in _opts:       # read by an ASan build only
    os.environ["ASAN_OPTIONS"] = (_opts + ":" if _opts else "") + \
        "quarantine_size_mb=%d" % ASAN_QUARANTINE_MB

port = free_port()
d = Daemon({"in": sock(bind="127.0.0.1:%d" % port,
                       heartbeat_interval="%dms" % HB_INTERVAL_MS,
                       heartbeat_timeout="%dms" % HB_TIMEOUT_MS,
                       recv_buffer="10000")})
pid = d.proc.pid
asan = procstat.sanitized(pid)
rss_bound = ASAN_RSS_BOUND_KB if asan else RSS_BOUND_KB
out_dir = tmpdir()
bugs = []       # known daemon misbehaviour: checked last, after the rest


def stream(phase):
    """Two legitimate peers send STREAM_N messages each, as fast as the
    daemon takes them, to one smartsock-cat; returns messages/s.  Fails
    unless every message arrived, in order per peer."""
    path = os.path.join(out_dir, "%s.out" % phase)
    # Its output goes to a file: reading a pipe here must not slow it.
    with open(path, "wb") as out:
        recv = spawn([CAT, "-S", d.runtime, "recv", "in", "-n",
                      str(2 * STREAM_N), "--timeout", "30"], stdout=out,
                     stderr=subprocess.PIPE)
    wait_apps(d, "in", 1)
    peers = []
    for tag in (b"A", b"B"):
        p = RawPeer(port)
        p.send(hello(os.urandom(16)))
        f = p.read_frame()
        check(f is not None and f[0] == HELLO, "%s: legitimate peer %s got "
              "%r" % (phase, tag, f))
        peers.append((p, STREAM_DATA[tag]))
    errs = []

    def send(p, data):
        try:
            p.send(data)
        except OSError as e:
            errs.append(repr(e))
    ts = [threading.Thread(target=send, args=pd, daemon=True) for pd in peers]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    try:
        recv.wait(60)
    except subprocess.TimeoutExpired:
        recv.kill()
        fail("%s: the application did not get all messages" % phase)
    elapsed = time.monotonic() - t0
    for t in ts:
        t.join(10)
    for p, _ in peers:
        p.close()
    wait_apps(d, "in", 0)
    check(not errs, "%s: legitimate senders failed: %s" % (phase, errs))
    err = recv.stderr.read().decode(errors="replace")
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    check(recv.returncode == 0 and len(lines) == 2 * STREAM_N,
          "%s: the application got %d of %d messages (exit %d): %s" %
          (phase, len(lines), 2 * STREAM_N, recv.returncode, err))
    for tag in (b"A", b"B"):
        mine = [l for l in lines if l[:1] == tag]
        want = [tag + b"%07d" % i for i in range(STREAM_N)]
        if mine != want:
            bad = next((i for i, (x, y) in enumerate(zip(mine, want))
                        if x != y), min(len(mine), len(want)))
            fail("%s: peer %s's messages: %d of %d, first difference at %d"
                 % (phase, tag.decode(), len(mine), STREAM_N, bad))
    os.unlink(path)
    return 2 * STREAM_N / elapsed


# What each legitimate peer sends, in both phases.
STREAM_DATA = {tag: b"".join(frame(bytes((DATA,)) + tag + b"%07d" % i)
                             for i in range(STREAM_N)) for tag in (b"A", b"B")}
step("baseline: two peers, %d messages each" % STREAM_N)
base_rate = stream("baseline")
time.sleep(HB_TIMEOUT_MS / 1000)
rss_base = procstat.rss_kb(pid)
fds_base = procstat.fd_count(pid)
step("baseline: %.0f msg/s; RSS %d KiB, %d descriptors%s" %
     (base_rate, rss_base, fds_base, " (AddressSanitizer)" if asan else ""))
c0 = d.status_of("in")["counters"]

step("the crowd arrives")
crowd = spawn([sys.executable, os.path.abspath(__file__), "--attack",
               str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE)
sampler = procstat.Sampler(pid, interval=0.05)
t_attack = time.monotonic()
r, _, _ = select.select([crowd.stdout], [], [], 20)
check(r and crowd.stdout.readline() == b"ready\n",
      "the crowd did not start: %r" % (crowd.stderr.read()
                                       if crowd.poll() is not None else ""))
time.sleep(0.5)
t_ctl = time.monotonic()
st = d.ctl_json("status")
ctl_s = time.monotonic() - t_ctl
check(st.get("ok") is True and ctl_s < 5,
      "status under attack (%.1f s): %r" % (ctl_s, st))
sock_st = [s for s in st["sockets"] if s["name"] == "in"][0]
step("under attack: status answered in %.2f s, %d peers" %
     (ctl_s, sock_st["peers"]))

step("under attack: two peers, %d messages each" % STREAM_N)
t_stream = time.monotonic() - t_attack
attack_rate = stream("under attack")
stream_s = time.monotonic() - t_attack - t_stream
step("under attack: %.0f msg/s (%.2f of the baseline), from %.1f to %.1f s "
     "into the attack" % (attack_rate, attack_rate / base_rate, t_stream,
                          time.monotonic() - t_attack))
left = ATTACK_MIN_S - (time.monotonic() - t_attack)
if left > 0:
    time.sleep(left)
st = d.ctl_json("status")
check(st.get("ok") is True, "status at the end of the attack: %r" % st)
try:
    out, err = crowd.communicate(b"", timeout=40)   # EOF: the crowd stops
except subprocess.TimeoutExpired:
    crowd.kill()
    fail("the crowd did not stop")
sampler.stop()
check(crowd.returncode == 0, "the crowd failed (exit %d): %s" %
      (crowd.returncode, err.decode(errors="replace")[-2000:]))
rep = json.loads(out.decode().splitlines()[-1])
sl = rep["slowloris"]


def lives(kind):
    closed, still = sl["closed_after_s"][kind], sl["open_at_end_s"][kind]
    return "%d closed (after %s s), %d open (for up to %.1f s)" % (
        len(closed), "%.1f-%.1f" % (min(closed), max(closed)) if closed
        else "-", len(still), max(still) if still else 0)


step("the crowd left after %.1f s:\n  scan %r\n  http %r\n  0xffffffff %r"
     "\n  HELLO flood %r\n  tiny frames %r\n  slowloris in HELLO: %s\n"
     "  slowloris in a frame: %s" %
     (time.monotonic() - t_attack, rep["scan"], rep["http"],
      rep["huge_length"], rep["hello_flood"], rep["tiny"], lives("hello"),
      lives("frame")))
check(d.proc.poll() is None, "smartsockd died")
check(not rep["errors"], "the crowd's own errors: %r" % rep["errors"])

# --- what the daemon must have done --------------------------------------
step("RSS: %d KiB after the baseline, at most %d during the attack "
     "(bound +%d), descriptors at most %d" %
     (rss_base, sampler.max_rss, rss_bound, sampler.max_fds))
check(sampler.max_rss - rss_base <= rss_bound,
      "RSS rose by %d KiB under attack (%d -> %d), over %d" %
      (sampler.max_rss - rss_base, rss_base, sampler.max_rss, rss_bound))
check(attack_rate >= MIN_FACTOR * base_rate,
      "legitimate throughput under attack %.0f msg/s, %.2f of the "
      "baseline %.0f (want >= %.2f)" % (attack_rate, attack_rate / base_rate,
                                        base_rate, MIN_FACTOR))
c1 = d.status_of("in")["counters"]
check(rep["scan"]["failures"] == 0 and rep["scan"]["connections"] > 100,
      "port scan: %r" % rep["scan"])
# Closed for what they sent, not by a timeout (those take 1.5 s).
for kind in ("http", "huge_length"):
    check(rep[kind]["not_closed"] == 0 and
          rep[kind]["slowest_close_s"] < HB_TIMEOUT_MS / 1000 - 0.1,
          "%s connections not closed at once: %r" % (kind, rep[kind]))
check(c1["rejected.bad_hello"] - c0["rejected.bad_hello"] >=
      rep["http"]["requests"] + (rep["huge_length"]["connections"] + 1) // 2,
      "rejected.bad_hello grew by %d only" %
      (c1["rejected.bad_hello"] - c0["rejected.bad_hello"]))
fl = rep["hello_flood"]
check(fl["waves"] >= 2 and fl["no_hello"] == 0,
      "HELLO flood: %r" % fl)
tiny = rep["tiny"]
check(tiny["frames"] == TINY_FRAMES and not tiny["closed_by_daemon"],
      "tiny frames: %r" % tiny)
unknown = c1["frames.unknown"] - c0["frames.unknown"]
check(unknown == TINY_FRAMES // 2,
      "frames.unknown grew by %d, want %d" % (unknown, TINY_FRAMES // 2))
check(c1["rejected.oversize"] - c0["rejected.oversize"] ==
      rep["huge_length"]["connections"] // 2,
      "rejected.oversize grew by %d for %d oversized frames" %
      (c1["rejected.oversize"] - c0["rejected.oversize"],
       rep["huge_length"]["connections"] // 2))
hello_limit = HB_TIMEOUT_MS / 1000 + 1.0
check(sl["completed"] == 0 and sl["closed_after_s"]["hello"] and
      max(sl["closed_after_s"]["hello"]) < hello_limit and
      max(sl["open_at_end_s"]["hello"]) < hello_limit,
      "slowloris before HELLO not torn down by the hello timeout (%.1f s): "
      "%r" % (HB_TIMEOUT_MS / 1000, sl))

# Spec (wire-v1.md, Heartbeats): a connection that receives no frame for
# heartbeat_timeout is dead.  One byte every 0.2 s never makes a frame.
# Time the socket spent not reading (its receive queue full while the
# legitimate streams outran their application) does not count as silence
# (smartsockd.conf(5), heartbeat_timeout): when the daemon paused, the
# connections alive during the streams may live that much longer.
frame_open = sl["open_at_end_s"]["frame"] + sl["closed_after_s"]["frame"]
frame_limit = hello_limit
if "not reading from peers" in d.log_text():
    frame_limit += stream_s
    step("the socket paused reading during the streams: slowloris after "
         "HELLO may live up to %.1f s" % frame_limit)
if max(frame_open) > frame_limit:
    bugs.append("slowloris after HELLO (one byte of a 1000-byte frame "
                "every %.1f s) kept up for %.1f s, heartbeat_timeout %.1f s;"
                " closed after %r, open at the end for %r" %
                (SLOW_BYTE_S, max(frame_open), HB_TIMEOUT_MS / 1000,
                 [round(x, 1) for x in sl["closed_after_s"]["frame"]],
                 [round(x, 1) for x in sl["open_at_end_s"]["frame"]]))

# Everyone gone: the daemon comes back to what it had after the baseline.
n = procstat.wait_fds(pid, fds_base, timeout=HB_TIMEOUT_MS / 1000 + 5)
check(n == fds_base, "%d descriptors after the attack, %d before: %r" %
      (n, fds_base, procstat.fd_targets(pid)))
st = d.status_of("in")
check(st["peers"] == 0, "%d peers left after the attack" % st["peers"])
check(d.stop() == 0, "smartsockd did not stop cleanly")
check(not bugs, "daemon bugs:\n  " + "\n  ".join(bugs))
passed("flood")
