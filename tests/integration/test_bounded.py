"""Bounded by bytes, lossless where at-least-once promises it: what an
attacker or a bad day does, each against a real daemon on loopback.

Remote, unauthenticated:
- 100 DATA frames of 16 MiB to a socket with no application: the daemon
  stops reading at recv_buffer_size (64M by default) and RSS stays bounded
  (it grew by 1.6 GB before); an application then takes them.
- 60 connections that send a 16 MiB length prefix before any HELLO: each
  is closed at its prefix (a HELLO is 22 bytes), nothing is buffered.
- 3000 HELLOs with new identities: at most 100 peer lines per socket per
  10 s (6004 before), and the next one says how many were left out.
- A peer that sends DATA_REQs and never reads: the daemon stops reading it
  once its output is full (peer_buffer), so the ACKs queued for it stay
  within peer_buffer and one per message of it still held (it grew by 60
  MB for 3M before); when it reads again every DATA_REQ has its ACK.
- (A publish subscriber that heartbeats but never reads, with the default
  overflow = block: test_backpressure.py, which proves the others get
  everything and it is disconnected after subscriber_timeout.)

At-least-once, "duplicates, never losses":
- The receiving application SIGSTOPped far longer than the resends take to
  give up under a max_retries of 3, then its daemon restarted (SIGKILL, and
  SIGTERM), then SIGCONT: every message arrives, duplicates are counted,
  nothing is given up; resends on the live connection back off.  The same
  stall without the restart too.

Local:
- A user that allow_users refuses opens thousands of connections to
  NAME.sock and never sends a HELLO: it keeps at most its share, each
  closed after the HELLO deadline, logged with its uid and pid; allowed
  applications, TCP peers and smartsockctl go on.
- A status-only user holding 70 control connections: root's reload works.
- With SMARTSOCK_DAEMON_USER the library refuses a NAME.sock that another
  user listens on (SO_PEERCRED).
- A runtime_dir that others can write to is refused at start; a NAME.sock
  replaced by a symbolic link is never followed by chmod at reload.
"""
import os
import signal
import socket
import stat
import struct
import subprocess
import threading
import time

import procstat
from harness import (ACK, BUILD, CAT, DATA, DATA_REQ, HELLO, Daemon, RawPeer,
                     cat_timeout, check, fail, frame, free_port, hello,
                     passed, patience, settle, sock, spawn, step, tmpdir,
                     tools_for_any_user, wait_for, wait_peers)

MiB = 1 << 20
APP = os.path.join(BUILD, "tests", "integration", "restart-app")
NOBODY = 65534


def quiet_env():
    """The environment for a daemon whose RSS is measured: ASan keeps freed
    memory in a quarantine, which RSS would show."""
    env = dict(os.environ)
    prev = env.get("ASAN_OPTIONS")
    env["ASAN_OPTIONS"] = (prev + ":" if prev else "") + \
        "quarantine_size_mb=0"
    return env


def background(target):
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


# --- 1. 100 DATA frames of 16 MiB, no application ----------------------------
step("100 DATA frames of 16 MiB to a socket with no application")
port = free_port()
d = Daemon({"in": sock(bind="127.0.0.1:%d" % port)}, env=quiet_env())
pid = d.proc.pid
rss0 = procstat.rss_kb(pid)
peer = RawPeer(port)
peer.send(hello(b"\x51" * 16))
check(peer.read_until(HELLO) is not None, "no HELLO from the daemon")
big = frame(bytes((DATA,)) + b"m" * (16 * MiB - 64))


def flood_big():
    try:
        for _ in range(100):
            peer.s.sendall(big)
    except OSError:
        pass                    # closed by the test


peer.s.settimeout(None)
sender = background(flood_big)
d.wait_log("not reading from peers", timeout=60)
held = settle(lambda: d.status_of("in")["waiting_for_app_bytes"],
              "waiting_for_app_bytes", timeout=60)
rss = procstat.rss_kb(pid)
print("held %d messages, %.1f MiB waiting; RSS %d -> %d KiB" %
      (d.status_of("in")["waiting_for_app"], held / MiB, rss0, rss))
check(held <= 64 * MiB + 16 * MiB, "waiting_for_app_bytes %d over "
      "recv_buffer_size (64M) and one message" % held)
# 64M waiting, a frame being read, read buffers: far from the 1.6 GB that
# an unbounded queue takes.
check(rss - rss0 <= 160 * 1024, "RSS grew by %d KiB" % (rss - rss0))
check(sender.is_alive(), "the peer could send all 1.6 GB: not held back")
take = spawn([CAT, "-S", d.runtime, "recv", "in", "-n", "6", "--timeout",
              cat_timeout(30)], stdout=subprocess.DEVNULL,
             stderr=subprocess.PIPE)
_, err = take.communicate(timeout=patience(60))
check(take.returncode == 0, "an application could not take 6: %r" % err)
wait_for(lambda: d.counter("in", "messages.in") >= 6 + 1, 30,
         "the daemon to read from the peer again")
peer.close()
sender.join(patience(10))
check(d.stop() == 0, "daemon (big frames) did not stop cleanly")

# --- 2. 60 connections with a 16 MiB prefix before any HELLO ----------------
step("60 connections sending a 16 MiB length prefix before any HELLO")
port = free_port()
d = Daemon({"in": sock(bind="127.0.0.1:%d" % port)}, env=quiet_env())
rss0 = procstat.rss_kb(d.proc.pid)
conns = []
for _ in range(60):
    p = RawPeer(port)
    try:
        p.send(struct.pack(">I", 16 * MiB) + bytes((DATA,)) + b"p" * 65536)
    except OSError:
        pass                    # closed already
    conns.append(p)
open_ones = [p for p in conns if not p.closed(20)]
check(not open_ones, "%d connections not closed at their prefix" %
      len(open_ones))
rss = procstat.rss_kb(d.proc.pid)
print("pre-HELLO 16 MiB prefixes: 60 closed, RSS %d -> %d KiB" % (rss0, rss))
check(rss - rss0 <= 16 * 1024, "RSS grew by %d KiB" % (rss - rss0))
check(d.counter("in", "rejected.bad_hello") == 60,
      "rejected.bad_hello %d, not 60" % d.counter("in", "rejected.bad_hello"))
d.wait_log("not a HELLO")
for p in conns:
    p.close()
check(d.stop() == 0, "daemon (prefixes) did not stop cleanly")

# --- 2b. 3000 HELLOs with new identities --------------------------------------
step("3000 HELLOs with new identities: the peer lines are rate-limited")
port = free_port()
d = Daemon({"in": sock(bind="127.0.0.1:%d" % port)}, verbose=False)
for i in range(3000):
    p = RawPeer(port)
    p.send(hello(i.to_bytes(16, "big")))
    p.close()
wait_for(lambda: d.counter("in", "connections.closed") >= 3000, 60,
         "3000 connections to come and go")
ups = d.log_text().count(") up")
downs = d.log_text().count(") down")
print("3000 HELLOs: %d up lines, %d down lines logged" % (ups, downs))
# 100 lines per socket per 10 s; the test may straddle a window or two.
check(ups + downs <= 300, "%d peer lines for 3000 HELLOs" % (ups + downs))
time.sleep(10.5)        # LOG_RATELIMIT_MS: the next line may pass
p = RawPeer(port)
p.send(hello(b"\xee" * 16))
d.wait_log("ee" * 16)
line = [l for l in d.log_text().splitlines() if "ee" * 16 in l][0]
check("more not logged)" in line, "the first line after the storm does not "
      "say how many were left out: %r" % line)
p.close()
check(d.stop() == 0, "daemon (HELLO storm) did not stop cleanly")

# --- 3. DATA_REQs from a peer that never reads its ACKs ---------------------
N_REQ = 300000
PEER_BUFFER = 64 * 1024
RECV_BUFFER = 1000
APP_INFLIGHT = 4096     # unconfirmed messages one application may hold
ACK_LEN = 21
step("%d DATA_REQs from a peer that never reads its ACKs" % N_REQ)
port = free_port()
d = Daemon({"alo": sock(bind="127.0.0.1:%d" % port,
                        peer_buffer=PEER_BUFFER, recv_buffer=RECV_BUFFER)},
           env=quiet_env())
app = spawn([CAT, "-S", d.runtime, "recv", "alo", "-n", str(N_REQ),
             "--timeout", cat_timeout(60)], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(hello(b"\x52" * 16))
reqs = b"".join(frame(bytes((DATA_REQ,)) + i.to_bytes(16, "big") + b"r")
                for i in range(N_REQ))


def send_reqs():
    try:
        s.sendall(reqs)
    except OSError:
        pass


sender = background(send_reqs)
wait_peers(d, "alo", ["52" * 16])


def ack_debt():
    for p in d.ctl_json("peers", "alo")["peers"]:
        if p["identity"] == "52" * 16:
            return p["queued_bytes"]
    fail("the peer is gone")


settle(lambda: d.counter("alo", "messages.in"), "messages.in", quiet=1.5,
       timeout=60)
queued = ack_debt()
taken = d.counter("alo", "messages.in")
print("never reading: %d of %d DATA_REQs taken, %d bytes of ACKs queued "
      "(peer_buffer %d)" % (taken, N_REQ, queued, PEER_BUFFER))
check(taken < N_REQ, "the daemon took every DATA_REQ of a peer that does "
      "not read its ACKs")
# Not read while its output is full; what it sent before that still gets
# its ACKs as the application confirms it: one each for what waits for the
# application and what the application holds.
bound = PEER_BUFFER + ACK_LEN * (RECV_BUFFER + APP_INFLIGHT) + 4096
check(queued <= bound, "ACKs queued %d, over %d (peer_buffer %d and one "
      "ACK per message held)" % (queued, bound, PEER_BUFFER))
# Now it reads: an ACK for every DATA_REQ.
acked = set()
buf = b""
s.settimeout(patience(30))
while len(acked) < N_REQ:
    try:
        chunk = s.recv(1 << 20)
    except socket.timeout:
        fail("ACKs stopped at %d of %d" % (len(acked), N_REQ))
    if not chunk:
        fail("closed after %d ACKs" % len(acked))
    buf += chunk
    off = 0
    while len(buf) - off >= 4:
        n = struct.unpack_from(">I", buf, off)[0]
        if len(buf) - off - 4 < n:
            break
        if n == 17 and buf[off + 4] == ACK:
            acked.add(int.from_bytes(buf[off + 5:off + 21], "big"))
        off += 4 + n
    buf = buf[off:]
check(acked == set(range(N_REQ)), "ACKs: %d distinct of %d" %
      (len(acked), N_REQ))
out, err = app.communicate(timeout=patience(60))
check(app.returncode == 0, "the application did not get all %d: %r" %
      (N_REQ, err))
sender.join(patience(10))
s.close()
check(d.stop() == 0, "daemon (ACK debt) did not stop cleanly")

# --- 4. at-least-once: a stalled application, its daemon restarted ----------
if not os.access(APP, os.X_OK):
    fail("%s is not built (check_PROGRAMS in Makefile.am)" % APP)
N_ALO = 20000
STALL = 5.0             # far past resend_timeout x 2^max_retries


class Receiver:
    """restart-app recv: prints each message, re-attaches across daemon
    restarts; its output read by a thread."""

    def __init__(self, d, name):
        self.p = spawn([APP, "recv", d.sock_path(name)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self.t = background(self._read)

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.decode().rstrip("\n"))

    def ids(self):
        return [int(x) for x in self.lines[:] if x and not x.startswith("#")]

    def end(self):
        self.p.send_signal(signal.SIGUSR1)
        self.p.wait(patience(20))
        self.t.join(patience(10))
        check(self.p.returncode == 0, "restart-app recv exit %r: %r" %
              (self.p.returncode, self.p.stderr.read()))


for restart in (signal.SIGKILL, signal.SIGTERM, None):
    what = {signal.SIGKILL: "SIGKILL", signal.SIGTERM: "SIGTERM",
            None: "no restart"}[restart]
    step("at-least-once: the application stopped %.0f s, %s of its daemon, "
         "then SIGCONT" % (STALL, what))
    port = free_port()
    r = Daemon({"in": sock(bind="127.0.0.1:%d" % port,
                           delivery="at-least-once")})
    snd = Daemon({"out": sock(connect="127.0.0.1:%d" % port,
                             delivery="at-least-once",
                             resend_timeout="200ms", max_retries="3")})
    wait_for(lambda: snd.status_of("out")["peers"] == 1, 20, "S connected")
    rcv = Receiver(r, "in")
    wait_for(lambda: r.status_of("in")["applications"] == 1, 20,
             "the receiver attached")
    feeder = snd.cat_bg("send", "out", stdin=subprocess.PIPE)
    feeder.stdin.write(b"".join(b"%d\n" % i for i in range(N_ALO)))
    feeder.stdin.close()
    wait_for(lambda: len(rcv.lines) >= 1000, 30, "the first 1000 to arrive")
    rcv.p.send_signal(signal.SIGSTOP)
    check(feeder.wait(patience(60)) == 0, "smartsock-cat send failed: %r" %
          feeder.stderr.read())
    time.sleep(STALL)           # the stall itself: nothing to wait for
    st = snd.status_of("out")
    stalled = st["counters"]["alo.resends"]
    print("%s: during the stall %d awaiting ACK, %d resends, %d given up" %
          (what, st["awaiting_ack"], stalled, st["counters"]["alo.giveups"]))
    check(st["counters"]["alo.giveups"] == 0, "given up during a stall on a "
          "live connection: %r" % st["counters"])
    if restart is not None:
        r.stop(restart)
        r.start()
    rcv.p.send_signal(signal.SIGCONT)
    wait_for(lambda: set(rcv.ids()) >= set(range(N_ALO)), 90,
             "every message at the receiver")
    wait_for(lambda: snd.status_of("out")["awaiting_ack"] == 0, 60,
             "every message acknowledged")
    rcv.end()
    ids = rcv.ids()
    c = snd.status_of("out")["counters"]
    dups = len(ids) - len(set(ids))
    print("%s: %d received, %d distinct, %d duplicates; sender: %d resends, "
          "%d given up" % (what, len(ids), len(set(ids)), dups,
                           c["alo.resends"], c["alo.giveups"]))
    check(set(ids) == set(range(N_ALO)), "%s: lost %d" %
          (what, N_ALO - len(set(ids))))
    check(c["alo.giveups"] == 0, "%s: %d given up" % (what, c["alo.giveups"]))
    # Backing off: each unacknowledged message resent after 200, 400,
    # 800, 1600 ms...: a handful of times in a 5 s stall, not every 200 ms.
    check(stalled <= 8 * st["awaiting_ack"], "%s: %d resends for %d "
          "awaiting ACK in a %.0f s stall: no backoff" %
          (what, stalled, st["awaiting_ack"], STALL))
    check(snd.stop() == 0 and r.stop() == 0, "daemons did not stop cleanly")


# --- 5. local: a refused user floods NAME.sock without HELLOs ---------------
PY = "/usr/bin/python3"
HOLD = r'''
import socket, sys, time
path, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        s.close()
        continue
    conns.append(s)
time.sleep(1.0)
alive = 0
for s in conns:
    try:
        alive += s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(alive, flush=True)
time.sleep(hold)
'''

if not os.access(PY, os.X_OK):
    fail("%s is missing: scripts/install-deps --test installs python3" % PY)
tools = tools_for_any_user()
hold_py = os.path.join(os.path.dirname(tools.cat), "hold.py")
with open(hold_py, "w") as f:
    f.write(HOLD)
os.chmod(hold_py, 0o644)


def as_nobody(*args):
    return spawn(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                  "--clear-groups", PY, hold_py] + list(args),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)


step("a refused user opens 3000 connections to NAME.sock, no HELLO")
port = free_port()
d = Daemon({"app": sock(bind="127.0.0.1:%d" % port, allow_users="root",
                        socket_mode="0666")},
           daemon={"control_mode": "0666"}, start=False)
os.chmod(d.dir, 0o755)
d.start()
flood = as_nobody(d.sock_path("app"), "3000", "30")
line = flood.stdout.readline().decode().strip()
check(line.isdigit(), "the flooder printed %r: %r" %
      (line, flood.stderr.read() if flood.poll() is not None else b""))
alive = int(line)
print("refused user: %d of 3000 connections still open after 1 s" % alive)
check(alive <= 64, "a user without HELLOs holds %d connections" % alive)
# The others are served meanwhile: an application, a TCP peer, status.
rcv = d.cat_bg("recv", "app", "-n", "1", "--timeout", cat_timeout(20))
wait_for(lambda: d.status_of("app")["applications"] == 1, 20,
         "an allowed application to attach beside the flood")
tcp = Daemon({"out": sock(connect="127.0.0.1:%d" % port)})
r = tcp.cat("send", "out", "beside the flood")
check(r.returncode == 0, "send: %r" % (r,))
out, _ = rcv.communicate(timeout=patience(30))
check(rcv.returncode == 0 and out == b"beside the flood\n",
      "the allowed application got %r" % out)
check(d.ctl("status").returncode == 0, "status beside the flood")
log = d.log_text()
check("uid %d" % NOBODY in log and "pid %d" % flood.pid in log,
      "no log line names the flooder's uid and pid")
d.wait_log("no HELLO within", timeout=30)
flood.kill()
flood.wait(patience(10))
tcp.stop()

step("a status-only user holds 70 control connections; root reloads")
hog = as_nobody(os.path.join(d.runtime, "control.sock"), "70", "30")
line = hog.stdout.readline().decode().strip()
check(line.isdigit(), "the control hog printed %r" % line)
print("control hog: %s of 70 connections open" % line)
r = d.ctl("reload")
check(r.returncode == 0, "root's reload beside 70 control connections of "
      "another user: %r" % (r,))
hog.kill()
hog.wait(patience(10))

step("SMARTSOCK_DAEMON_USER: the library refuses a socket another user "
     "listens on")
LISTEN = r'''
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
print("listening", flush=True)
time.sleep(30)
'''
fake_dir = tmpdir()
os.chown(fake_dir, NOBODY, NOBODY)
os.chmod(fake_dir, 0o755)
listen_py = os.path.join(os.path.dirname(tools.cat), "listen.py")
with open(listen_py, "w") as f:
    f.write(LISTEN)
os.chmod(listen_py, 0o644)
fake = spawn(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
              "--clear-groups", PY, listen_py,
              os.path.join(fake_dir, "app.sock")],
             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
check(fake.stdout.readline() == b"listening\n", "the fake daemon: %r" %
      (fake.stderr.read() if fake.poll() is not None else b""))
env = dict(os.environ, SMARTSOCK_DAEMON_USER="root")
r = subprocess.run([CAT, "-S", fake_dir, "send", "app", "x"], env=env,
                   capture_output=True, timeout=patience(20))
check(r.returncode != 0 and b"not permitted" in r.stderr,
      "a socket of uid %d with SMARTSOCK_DAEMON_USER=root: %r" % (NOBODY, r))
fake.kill()
fake.wait(patience(10))
r = subprocess.run([CAT, "-S", d.runtime, "send", "app", "to root"],
                   env=env, capture_output=True, timeout=patience(20))
check(r.returncode == 0, "the real daemon with SMARTSOCK_DAEMON_USER=root: "
      "%r" % (r,))
check(d.stop() == 0, "daemon (local floods) did not stop cleanly")

# --- 6. runtime_dir writable by others; a socket file made a link -----------
step("a runtime_dir that every user can write to is refused")
d = Daemon({"app": sock(bind="127.0.0.1:%d" % free_port())}, start=False)
os.mkdir(d.runtime)
os.chmod(d.runtime, 0o777)
r = subprocess.run([d.program, "-f", "-c", d.conf], capture_output=True,
                   timeout=patience(20))
err = r.stderr.decode()
check(r.returncode == 1 and "runtime_dir" in err and d.runtime in err and
      "writable by every user" in err, "a 0777 runtime_dir: %r" % (r,))
check(not os.path.exists(d.sock_path("app")), "a socket was made in it")
os.chmod(d.runtime, 0o755)
d.start()

step("NAME.sock replaced by a symbolic link: reload never follows it")
secret = os.path.join(tmpdir(), "root-only")
with open(secret, "w") as f:
    f.write("secret\n")
os.chmod(secret, 0o600)
os.unlink(d.sock_path("app"))
os.symlink(secret, d.sock_path("app"))
d.write_conf({"app": dict(d.sockets["app"], socket_mode="0666")})
d.ctl("reload")
d.wait_log("is a symbolic link now")
check(stat.S_IMODE(os.stat(secret).st_mode) == 0o600,
      "the link's target became %04o" % stat.S_IMODE(os.stat(secret).st_mode))
check(d.stop() == 0, "daemon (runtime_dir) did not stop cleanly")

step("done")
passed("bounded by bytes, lossless where promised")
