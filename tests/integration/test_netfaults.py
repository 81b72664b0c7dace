"""Network faults between two daemons on a real wire (netns.Wire: the
root namespace, a bridge in a namespace, a peer namespace), daemon A
(bind) in the root namespace, daemon B (connect) in the peer namespace.

1. The peer silently gone: every frame dropped on the wire, both ways, no
   RST.  Both sides tear the connection down by heartbeat_timeout (their
   logs say so) and count it; what B sends meanwhile waits in B; once the wire heals B
   reconnects with backoff under the same identity and every at-least-once
   message sent before, during and after the outage arrives.
2. Latency, jitter and 5 % loss (netem is not assumed: loss is an nft
   rule on the wire, latency and jitter a relay that holds each chunk
   20-60 ms): thousands of at-least-once messages all arrive, at-most-once
   ones too, in order, and heartbeats never flap.

Skipped (77) without root, ip netns, veth, bridges or nft."""
import re
import socket
import subprocess
import threading
import time

from harness import (CAT, CTL, SMARTSOCKD, Daemon, cat_timeout, check, fail,
                     passed, patience, sock, spawn, step, wait_for,
                     wait_peers)
from netns import DelayRelay, Wire

HB_INTERVAL, HB_TIMEOUT = 0.5, 3.0      # FAST in harness.py
CONNECT_TIMEOUT = 2.0                   # the default
ID_A = "a7" * 16
ID_B = "b7" * 16


class NsDaemon(Daemon):
    """A harness Daemon whose smartsockd, smartsock-cat and smartsockctl
    run in the peer namespace (`ip netns exec` execs them: the Popen is
    the daemon itself)."""

    def __init__(self, wire, sockets, daemon=None):
        self.prefix = wire.exec_prefix()
        Daemon.__init__(self, sockets, daemon)

    def start(self):
        started = self.log_text().count(" running with ") \
            if self.proc is not None else 0
        self.log = open(self.logpath, "ab")
        self.proc = spawn(self.prefix + [SMARTSOCKD, "-f", "-v", "-c",
                                         self.conf],
                          stdout=self.log, stderr=self.log)
        end = time.monotonic() + patience(10)
        while self.log_text().count(" running with ") <= started:
            if self.proc.poll() is not None:
                fail("smartsockd (namespace) exited %s at start:\n%s" %
                     (self.proc.returncode, self.log_text()))
            if time.monotonic() > end:
                fail("smartsockd (namespace) did not start:\n" +
                     self.log_text())
            time.sleep(0.02)
        return self

    def cat(self, *args, **kw):
        timeout = patience(kw.pop("timeout", 30))
        return subprocess.run(self.prefix + [CAT, "-S", self.runtime] +
                              list(args), capture_output=True,
                              timeout=timeout, **kw)

    def ctl(self, *args, **kw):
        timeout = patience(kw.pop("timeout", 30))
        return subprocess.run(self.prefix + [CTL, "-S", self.runtime] +
                              list(args), capture_output=True,
                              timeout=timeout, **kw)

    def cat_bg(self, *args, **kw):
        return spawn(self.prefix + [CAT, "-S", self.runtime] + list(args),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


class Feeder:
    """Writes PREFIXi lines to a `smartsock-cat send` process, `batch`
    every `every` seconds, from a thread, up to `total` (None: until
    stop()); pause()/resume() hold it.  sent_at[i]: when line i was
    written."""

    def __init__(self, proc, prefix, every, batch=1, total=None):
        self.proc, self.prefix = proc, prefix
        self.every, self.batch, self.total = every, batch, total
        self.sent_at = []
        self.error = None
        self._run = threading.Event()
        self._run.set()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    @property
    def count(self):
        return len(self.sent_at)

    def _feed(self):
        try:
            while not self._stop.is_set():
                if not self._run.wait(0.05):
                    continue
                n = self.batch
                if self.total is not None:
                    n = min(n, self.total - self.count)
                    if n <= 0:
                        break
                first = self.count
                self.proc.stdin.write(b"".join(
                    b"%s%d\n" % (self.prefix, i)
                    for i in range(first, first + n)))
                self.proc.stdin.flush()
                now = time.monotonic()
                self.sent_at.extend([now] * n)
                time.sleep(self.every)
        except OSError as e:
            self.error = e
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def pause(self):
        self._run.clear()
        time.sleep(self.every + 0.05)   # a write in progress completes

    def resume(self):
        self._run.set()

    def finish(self, what, timeout=20):
        """Stop (or wait for `total`), then the sender must exit 0."""
        if self.total is None:
            self._stop.set()
        self.thread.join(patience(timeout))
        check(not self.thread.is_alive(), "%s: the feeder is stuck" % what)
        check(self.error is None, "%s: writing to smartsock-cat send: %r" %
              (what, self.error))
        try:
            rc = self.proc.wait(patience(timeout))
        except subprocess.TimeoutExpired:
            fail("%s: smartsock-cat send did not finish" % what)
        check(rc == 0, "%s: smartsock-cat send exit %d: %r" %
              (what, rc, self.proc.stderr.read()))

    def ids(self):
        return ["%s%d" % (self.prefix.decode(), i) for i in range(self.count)]


class Collector:
    """Reads a `smartsock-cat recv` process's lines from a thread, with
    the time each arrived."""

    def __init__(self, proc):
        self.proc = proc
        self.lines, self.times = [], []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.times.append(time.monotonic())

    def got(self):
        with self.lock:
            return set(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(patience(10))
        self.thread.join(patience(10))
        with self.lock:
            return list(self.lines), list(self.times)


def duplicates(lines):
    seen, dups = set(), {}
    for l in lines:
        if l in seen:
            dups[l] = dups.get(l, 1) + 1
        seen.add(l)
    return dups


def show_dups(what, dups):
    """Print every duplicated id, runs of consecutive ids as ranges."""
    if not dups:
        print("%s: no duplicates" % what)
        return
    num = lambda s: int(re.sub(r"\D", "", s))
    items = sorted(dups.items(), key=lambda kv: num(kv[0]))
    runs = []
    for ident, n in items:
        if runs and num(ident) == num(runs[-1][1]) + 1 and n == runs[-1][2]:
            runs[-1][1] = ident
        else:
            runs.append([ident, ident, n])
    print("%s: %d ids duplicated, %d extra copies: %s" % (
        what, len(dups), sum(n - 1 for n in dups.values()), ", ".join(
            ("%s x%d" % (lo, n)) if lo == hi else ("%s..%s x%d" % (lo, hi, n))
            for lo, hi, n in runs)))


def held(d, name):
    """Messages a socket still holds for a peer: queued or unacknowledged."""
    s = d.status_of(name)
    return s["queued_to_send"] + s["awaiting_ack"]


def downs(d, name):
    return re.findall(r"socket %s: peer [0-9a-f]{32} \([^)]*\) down: (.*)" %
                      re.escape(name), d.log_text())


def ups(d, name, ident):
    return len(re.findall(r"socket %s: peer %s \([^)]*\) up" %
                          (re.escape(name), ident), d.log_text()))


def free_port_on(host):
    """A TCP port on host that was free a moment ago."""
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def no_losses(d, what):
    log = d.log_text()
    check("gave up on a message" not in log,
          "%s gave up on messages:\n%s" % (what, log))
    check("not delivered to any peer at shutdown" not in log and
          "not acknowledged yet at shutdown" not in log,
          "%s still held messages at shutdown:\n%s" % (what, log))


wire = Wire.create()
step("wire: %s (root) <-> bridge <-> %s (namespace %s)" %
     (wire.host_addr, wire.peer_addr, wire.ns))

# --- 1. the peer silently gone ----------------------------------------------
step("1: at-least-once stream B -> A, then the wire drops everything")
port = free_port_on(wire.host_addr)
a = Daemon({"alo": sock(bind="%s:%d" % (wire.host_addr, port), identity=ID_A)})
b = NsDaemon(wire, {"alo": sock(connect="%s:%d" % (wire.host_addr, port),
                                identity=ID_B, delivery="at-least-once",
                                max_retries="unlimited")})
wait_peers(a, "alo", [ID_B])
wait_peers(b, "alo", [ID_A])
recv = Collector(a.cat_bg("recv", "alo", "--timeout", cat_timeout(40)))
feed = Feeder(b.cat_bg("send", "alo", stdin=subprocess.PIPE), b"m", 0.01)
wait_for(lambda: len(recv.got()) >= 100, 10, "100 messages before the outage")

wire.blackhole()
t_drop = time.monotonic()
n_drop = feed.count
step("wire cut after %d messages fed, %d received" %
     (n_drop, len(recv.got())))
seen = {}
end = t_drop + patience(HB_TIMEOUT + 20)
while len(seen) < 2 and time.monotonic() < end:
    for name, d in (("A", a), ("B", b)):
        if name not in seen and downs(d, "alo"):
            seen[name] = time.monotonic() - t_drop
    time.sleep(0.02)
for name, d in (("A", a), ("B", b)):
    check(name in seen, "%s never tore the connection down after the wire "
          "was cut (heartbeat_timeout %.1fs):\n%s" %
          (name, HB_TIMEOUT, d.log_text()))
    why = downs(d, "alo")
    check(len(why) == 1 and "heartbeat_timeout" in why[0],
          "%s's teardown was not the heartbeat timeout: %r" % (name, why))
    print("%s down %.2fs after the cut: %s" % (name, seen[name], why[0]))
    check(d.counter("alo", "heartbeat.timeouts") == 1,
          "%s: heartbeat.timeouts %r, want 1" %
          (name, d.counter("alo", "heartbeat.timeouts")))
    check(d.status_of("alo")["peers"] == 0, "%s still lists a peer" % name)

step("1: B keeps sending into the outage; it must queue and retry")


def endpoint_of_b():
    return b.status_of("alo")["endpoints"][0]


wait_for(lambda: endpoint_of_b()["failures"] >= 1, CONNECT_TIMEOUT + 10,
         "B's first failed reconnect during the outage")
feed.pause()
fed_out = feed.count - n_drop
# Nothing fed since the cut can have been acknowledged.
wait_for(lambda: held(b, "alo") >= fed_out, 10,
         "B to hold the %d messages fed since the cut" % fed_out)
st, ep = b.status_of("alo"), endpoint_of_b()
got = len(recv.got())
print("during the outage: B queued_to_send %d, awaiting_ack %d (fed %d "
      "since the cut); endpoint %s, %d failures, last error %r" %
      (st["queued_to_send"], st["awaiting_ack"], fed_out, ep["state"],
       ep["failures"], ep["last_error"]))
check(st["queued_to_send"] + st["awaiting_ack"] + got >= feed.count,
      "messages vanished: A's app got %d distinct, B holds %d, %d were fed"
      % (got, st["queued_to_send"] + st["awaiting_ack"], feed.count))
check(ep["state"] in ("connecting", "backing off"),
      "B's endpoint during the outage: %r" % ep)
check(re.search(r"socket alo: connect to \S+ failed: .*; retrying with "
                r"backoff", b.log_text()),
      "B logged no failed reconnect:\n" + b.log_text())
feed.resume()
time.sleep(0.5)

n_heal = feed.count
dropped = wire.dropped()
wire.heal()
t_heal = time.monotonic()
step("1: wire healed (%d frames dropped while cut)" % dropped)
check(dropped > 0, "the blackhole rule dropped nothing")
wait_for(lambda: ups(a, "alo", ID_B) == 2, 15,
         "B's identity up again on A after the heal")
t_up = time.monotonic() - t_heal
RECONNECTED = r"socket alo: connected to \S+ after (\d+) failed attempts?"
wait_for(lambda: re.search(RECONNECTED, b.log_text()), 10,
         "B to log its reconnection after failed attempts")
m = re.search(RECONNECTED, b.log_text())
print("B up again on A %.2fs after the heal, after %s failed attempts" %
      (t_up, m.group(1)))
wait_for(lambda: endpoint_of_b()["state"] == "connected", 10,
         "B's endpoint connected")
time.sleep(1.0)
feed.finish("outage stream")
want = feed.ids()
wait_for(lambda: recv.got() >= set(want), 20,
         "every message to reach A's application")
wait_for(lambda: held(b, "alo") == 0, 10, "B's messages all acknowledged")
time.sleep(HB_INTERVAL + 0.3)               # late resends show up as dups
lines, _ = recv.stop()
check(set(lines) == set(want), "unexpected payloads at A: %r" %
      sorted(set(lines) - set(want))[:20])
phases = (("before", 0, n_drop), ("during", n_drop, n_heal),
          ("after", n_heal, len(want)))
print("at-least-once: %d sent (%s), %d received" % (
    len(want), ", ".join("%s %d" % (p, hi - lo) for p, lo, hi in phases),
    len(lines)))
show_dups("outage", duplicates(lines))
for name, d, conn in (("A", a, "connections.accepted"),
                      ("B", b, "connections.connected")):
    c = d.status_of("alo")["counters"]
    print("%s counters: %s" % (name, ", ".join(
        "%s %d" % (k, c[k]) for k in (conn, "connections.closed",
                                      "heartbeat.timeouts", "alo.resends",
                                      "alo.duplicates", "alo.giveups",
                                      "rejected.bad_hello"))))
    if name == "B":
        check(c[conn] == 2, "B: %s %d, want 2" % (conn, c[conn]))
    check(c["heartbeat.timeouts"] == 1, "%s: heartbeat.timeouts %d" %
          (name, c["heartbeat.timeouts"]))
    # A connect that never completed is not a bad HELLO.
    check(c["rejected.bad_hello"] == 0, "%s: rejected.bad_hello %d" %
          (name, c["rejected.bad_hello"]))
check("TCP connection not established within connect_timeout" in
      b.log_text(), "B did not log its reconnect timing out in TCP")
check(b.counter("alo", "alo.giveups") == 0, "B gave up on messages")
for name, d in (("A", a), ("B", b)):
    print("%s's log:" % name)
    for line in d.log_text().splitlines():
        if re.search(r"socket alo: (peer|connect|connected)", line):
            print("  " + line)
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")
no_losses(b, "B")

# --- 2. latency, jitter, 5 % loss -------------------------------------------
N_ALO, N_AMO, LOSS = 3000, 500, 5
step("2: %d %% loss on the wire, 20-60 ms relay; %d at-least-once + %d "
     "at-most-once" % (LOSS, N_ALO, N_AMO))
wire.lossy(LOSS)
relay = DelayRelay(0.020, 0.060)
p_alo, p_amo = free_port_on("127.0.0.1"), free_port_on("127.0.0.1")
check(p_alo != p_amo, "port picker returned one port twice")
r_alo = relay.add(wire.host_addr, ("127.0.0.1", p_alo))
r_amo = relay.add(wire.host_addr, ("127.0.0.1", p_amo))
ID_B1, ID_B2 = "c1" * 16, "c0" * 16
a = Daemon({"alo": sock(bind="127.0.0.1:%d" % p_alo, identity=ID_A),
            "amo": sock(bind="127.0.0.1:%d" % p_amo, identity=ID_A)})
b = NsDaemon(wire, {
    "alo": sock(connect="%s:%d" % (wire.host_addr, r_alo), identity=ID_B1,
                delivery="at-least-once"),
    "amo": sock(connect="%s:%d" % (wire.host_addr, r_amo), identity=ID_B2)})
wait_peers(a, "alo", [ID_B1], 20)
wait_peers(a, "amo", [ID_B2], 20)
wait_peers(b, "alo", [ID_A], 20)
wait_peers(b, "amo", [ID_A], 20)
base = {(n, s): d.status_of(s)["counters"] for n, d in (("A", a), ("B", b))
        for s in ("alo", "amo")}
r1 = Collector(a.cat_bg("recv", "alo", "--timeout", cat_timeout(40)))
r2 = Collector(a.cat_bg("recv", "amo", "--timeout", cat_timeout(40)))
t0 = time.monotonic()
f1 = Feeder(b.cat_bg("send", "alo", stdin=subprocess.PIPE), b"alo", 0.025,
            batch=25, total=N_ALO)
f2 = Feeder(b.cat_bg("send", "amo", stdin=subprocess.PIPE), b"amo", 0.025,
            batch=5, total=N_AMO)
f1.finish("at-least-once stream")
f2.finish("at-most-once stream")
want1, want2 = f1.ids(), f2.ids()
wait_for(lambda: r1.got() >= set(want1), 20,
         "every at-least-once message through the lossy path")
t_all = time.monotonic() - t0
wait_for(lambda: len(r2.got()) >= N_AMO, 20,
         "every at-most-once message through the lossy path")
wait_for(lambda: held(b, "alo") == 0, 10, "every at-least-once ACK back")
# Stay connected past a whole heartbeat_timeout with only heartbeats
# crossing the lossy wire.
time.sleep(HB_TIMEOUT + 1.0)
l1, t1 = r1.stop()
l2, _ = r2.stop()
check(set(l1) == set(want1), "unexpected at-least-once payloads: %r" %
      sorted(set(l1) - set(want1))[:20])
check(l2 == want2, "at-most-once over a connection that never dropped: %d "
      "of %d, first difference at %r" % (
          len(l2), N_AMO, next((i for i, (x, y) in enumerate(zip(l2, want2))
                                if x != y), min(len(l2), N_AMO))))
lat = {}
for line, t in zip(l1, t1):
    i = int(line[3:])
    lat.setdefault(i, t - f1.sent_at[i])
lats = sorted(lat.values())
pct = lambda q: lats[min(len(lats) - 1, int(q * len(lats)))] * 1000
print("at-least-once: %d sent, %d received, all %d delivered %.2fs after "
      "the first send; latency ms p50 %.0f p99 %.0f max %.0f min %.0f" % (
          N_ALO, len(l1), N_ALO, t_all, pct(0.5), pct(0.99), lats[-1] * 1000,
          lats[0] * 1000))
show_dups("lossy", duplicates(l1))
st = relay.stats
print("relay: %d connections, %d chunks, %d bytes, mean delay %.0f ms; wire "
      "dropped %d frames" % (st["connections"], st["chunks"], st["bytes"],
                             st["delay"] / max(1, st["chunks"]) * 1000,
                             wire.dropped()))
check(lats[0] >= 0.020, "a message crossed the relay in %.1f ms: no "
      "latency applied" % (lats[0] * 1000))
check(wire.dropped() > 0, "the loss rule dropped nothing")
for (name, s), b0 in sorted(base.items()):
    d = a if name == "A" else b
    c = d.status_of(s)["counters"]
    diff = {k: c[k] - b0.get(k, 0) for k in c}
    print("%s %s during the run: %s" % (name, s, ", ".join(
        "%s +%d" % (k, diff[k]) for k in (
            "messages.in", "messages.out", "alo.resends", "alo.duplicates",
            "alo.acks_in", "alo.acks_out", "heartbeat.timeouts",
            "connections.closed"))))
    check(c["heartbeat.timeouts"] == 0, "%s %s: heartbeat.timeouts %d under "
          "%d %% loss and 20-60 ms delay" % (name, s, c["heartbeat.timeouts"],
                                             LOSS))
    check(diff["connections.closed"] == 0, "%s %s: a connection closed "
          "during the run" % (name, s))
    check(c["alo.giveups"] == 0, "%s %s gave up on messages" % (name, s))
    if name == "B":
        check(c["connections.connected"] == 1, "B %s: connections.connected "
              "%d, want 1 (it reconnected)" % (s, c["connections.connected"]))
    check(not downs(d, s), "%s %s: a peer went down: %r" %
          (name, s, downs(d, s)))
for s, ident in (("alo", ID_B1), ("amo", ID_B2)):
    check(ups(a, s, ident) == 1, "A %s: B up %d times" % (s, ups(a, s, ident)))
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")
relay.close()
no_losses(b, "B")
step("done")
passed("network faults")
