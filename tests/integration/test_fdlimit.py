"""Descriptor exhaustion: smartsockd started with RLIMIT_NOFILE = 64 is
flooded with TCP connections until accept() fails with EMFILE.  While it
cannot accept, it must not spin (its CPU time grows by less than 10 % of
the wall time) whether the waiting connection is a peer on the TCP port,
an application on the Unix socket or smartsockctl on the control socket;
connections it already has keep working; and once descriptors are free
again it accepts again: a new peer and a new application exchange
messages, the waiting application gets its WELCOME."""
import os
import resource
import socket
import struct
import subprocess
import time

import procstat
from harness import (CTL, DATA, HELLO, Daemon, RawPeer, cat_timeout, check,
                     collect, fail, frame, free_port, hello, passed, patience,
                     sock, spawn, step, wait_apps)

LIMIT = 64
WINDOW = 2.5            # seconds of exhaustion measured each time
# Of the wall time.  Not a speed: a daemon that waits uses next to none
# (measured 0.00 s in 2.5 s, ASan too: a few heartbeats), one that spins
# on accept() all the CPU it gets, more than a third of one even beside two
# busy loops on 2 cores.
MAX_CPU = 0.10
HOGS_MAX = LIMIT        # connections opened to reach the limit, at most
EXTRA = 8               # and then opened to wait in the listen queue
LP_HELLO_FRAME = struct.pack(">IBH", 3, 1, 1)
LP_WELCOME = 64
NAME = "fd"

port = free_port()
d = Daemon({NAME: sock(bind="127.0.0.1:%d" % port, heartbeat_timeout="30s",
                       heartbeat_interval="1s")}, start=False)
# The daemon inherits the limit from this process, lowered around the
# start only (the harness spawns it; the hard limit stays, so this
# process can raise its own again).
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, hard))
try:
    d.start()
finally:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
pid = d.proc.pid
check(procstat.nofile_limit(pid)[0] == LIMIT,
      "the daemon's limit is %r" % (procstat.nofile_limit(pid),))
base = procstat.fd_count(pid)
step("daemon with %d descriptors open out of %d" % (base, LIMIT))


def exhaust():
    """Open connections, each with a HELLO of its own identity, until the
    daemon has LIMIT descriptors open; then EXTRA more, which wait in the
    listen queue: accept() fails for them.  Returns them all."""
    hogs = []
    end = time.monotonic() + patience(20)
    while procstat.fd_count(pid) < LIMIT:
        if time.monotonic() > end:
            fail("the daemon did not run out of descriptors: %d open, %d "
                 "connections made" % (procstat.fd_count(pid), len(hogs)))
        if len(hogs) < HOGS_MAX:
            hogs.append(hog())
        else:
            time.sleep(0.02)
    for _ in range(EXTRA):
        hogs.append(hog())
    # A descriptor the daemon closes meanwhile (a connection of an earlier
    # step ending) is taken again by a hog once its accept pause is over.
    n = procstat.wait_fds(pid, LIMIT, timeout=patience(10))
    check(n == LIMIT, "%d descriptors open, limit %d" % (n, LIMIT))
    return hogs


def hog():
    s = socket.create_connection(("127.0.0.1", port), timeout=patience(10))
    s.sendall(hello(os.urandom(16)))
    return s


def cpu_over(seconds):
    """(CPU seconds the daemon used, wall seconds) over a pause of
    `seconds`, cut short once the daemon has used more than the whole
    window allows (a spinning daemon may log at tens of MB/s)."""
    c0, t0 = procstat.cpu_seconds(pid), time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(0.25)
        if procstat.cpu_seconds(pid) - c0 > MAX_CPU * seconds:
            break
    return procstat.cpu_seconds(pid) - c0, time.monotonic() - t0


def accept_errors():
    """How many lines about accept errors the daemon logged, and the last
    one."""
    lines = [l for l in d.log_text().splitlines() if "accept" in l and
             ("failed" in l or "Too many open files" in l)]
    return len(lines), lines[-1] if lines else None


def release(hogs):
    for s in hogs:
        s.close()


def wait_base(extra, what):
    n = procstat.wait_fds(pid, base + extra, timeout=patience(10))
    check(n == base + extra, "%s: %d descriptors open, want %d: %r" %
          (what, n, base + extra, procstat.fd_targets(pid)))


# --- before: an application and a peer that must survive it all ----------
app_a = d.cat_bg("recv", NAME, "-n", "2", "--timeout", cat_timeout(30))
wait_apps(d, NAME, 1)
good = RawPeer(port)
good.send(hello(b"\x0a" * 16))
f = good.read_frame()
check(f is not None and f[0] == HELLO, "no HELLO for the first peer: %r" %
      (f,))
good.send(frame(bytes((DATA,)) + b"before"))

# --- a TCP listener out of descriptors ---------------------------------
step("exhausting descriptors with TCP connections")
hogs = exhaust()
step("exhausted with %d connections; %d descriptors open" %
     (len(hogs), procstat.fd_count(pid)))
# A control request waits in control.sock's queue meanwhile.
ctl = spawn([CTL, "-S", d.runtime, "status"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
good.send(frame(bytes((DATA,)) + b"during"))
log_size = os.path.getsize(d.logpath)
cpu, wall = cpu_over(WINDOW)
log_growth = os.path.getsize(d.logpath) - log_size
step("exhausted (TCP, control): %.2f s CPU in %.2f s, log +%d bytes" %
     (cpu, wall, log_growth))
check(cpu < MAX_CPU * wall, "smartsockd spins while it cannot accept: "
      "%.2f s CPU in %.2f s" % (cpu, wall))
check(log_growth < 4096, "%d bytes logged in %.1f s while out of "
      "descriptors" % (log_growth, wall))
check("Too many open files" in d.log_text(), "no EMFILE logged")
# The connections it has keep working: "during" reached the application.
got = collect(app_a, 20)
check(app_a.returncode == 0 and got == ["before", "during"],
      "the attached application got %r (rc %d)" % (got, app_a.returncode))

step("descriptors released")
release(hogs)
try:
    ctl.communicate(timeout=patience(15))   # answered or refused, it ends
except subprocess.TimeoutExpired:
    fail("smartsockctl status did not end after the exhaustion")
wait_base(1, "after the TCP exhaustion")        # + the good peer
st = d.status_of(NAME)
check(st["peers"] == 1 and st["applications"] == 0,
      "after the release: %d peers, %d applications" %
      (st["peers"], st["applications"]))

# It accepts again: a new peer and a new application exchange messages,
# and the old peer still reaches it too.
app_b = d.cat_bg("recv", NAME, "-n", "2", "--timeout", cat_timeout(20))
wait_apps(d, NAME, 1)
new = RawPeer(port)
new.send(hello(b"\x0b" * 16))
f = new.read_frame(timeout=10)
check(f is not None and f[0] == HELLO, "a new peer after the release got "
      "%r" % (f,))
new.send(frame(bytes((DATA,)) + b"after-new"))
good.send(frame(bytes((DATA,)) + b"after-old"))
got = collect(app_b, 20)
check(app_b.returncode == 0 and sorted(got) == ["after-new", "after-old"],
      "after the release the application got %r" % (got,))
new.close()

# --- an application attaching while out of descriptors -----------------
step("exhausting descriptors again, then an application attaches")
hogs = exhaust()
app = socket.socket(socket.AF_UNIX)
app.settimeout(patience(10))
app.connect(d.sock_path(NAME))
app.sendall(LP_HELLO_FRAME)
log_size = os.path.getsize(d.logpath)
cpu_app, wall_app = cpu_over(WINDOW)
log_growth = os.path.getsize(d.logpath) - log_size
step("exhausted (application waiting): %.2f s CPU in %.2f s, log +%d "
     "bytes" % (cpu_app, wall_app, log_growth))
n_errors, last_error = accept_errors()
release(hogs)
# Once there is room the waiting application is attached.
w = b""
try:
    while len(w) < 5:
        c = app.recv(64)
        if not c:
            break
        w += c
except socket.timeout:
    pass
check(len(w) >= 5 and w[4] == LP_WELCOME,
      "the application that waited got %r, not a WELCOME" % w)
app.close()
check(cpu_app < MAX_CPU * wall_app,
      "smartsockd spins while an application waits to attach and it "
      "cannot accept: %.2f s CPU in %.2f s, %d bytes logged, %d lines "
      "like %r" % (cpu_app, wall_app, log_growth, n_errors, last_error))
check(log_growth < 4096, "%d bytes logged in %.1f s while an application "
      "waited to attach" % (log_growth, wall_app))

wait_base(1, "at the end")
good.send(frame(bytes((DATA,)) + b"last"))
r = d.cat("recv", NAME, "-n", "1", "--timeout", "10")
check(r.returncode == 0 and r.stdout == b"last\n", "last message: %r" % (r,))
good.close()
wait_base(0, "after the last peer left")
check(d.stop() == 0, "smartsockd did not stop cleanly")
step("done")
passed("fd limit")
