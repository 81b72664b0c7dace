"""systemd's notify protocol (sd_notify), against a fake NOTIFY_SOCKET: an
AF_UNIX datagram socket bound by this test.  READY=1 comes only once every
bind endpoint accepts and every NAME.sock and control.sock exist (checked
the moment it arrives), not waiting for a connect endpoint that cannot
connect; a reload through smartsockctl, a SIGHUP and a refused reload each
give RELOADING=1 then READY=1 with a STATUS= saying what happened; with
WATCHDOG_USEC=400000 for its pid, its keep-alive timer is set to 200 ms
(its log says so), WATCHDOG=1 keeps coming, never more often than that
(how late it may come on a loaded machine is not this test's to say), and
not at all when WATCHDOG_PID is another process;
SIGTERM gives STOPPING=1.  Skipped when smartsockd is built without
libsystemd."""
import os
import signal
import socket
import subprocess
import time

from harness import (SMARTSOCKD, Daemon, check, fail, free_port, passed,
                     patience, skip, sock, spawn, step, tmpdir)

WATCHDOG_USEC = 400000


def links_libsystemd(path):
    """Is the smartsockd binary (or libtool's real one) linked with
    libsystemd?  None when that cannot be told."""
    d, b = os.path.split(path)
    for p in (path, os.path.join(d, ".libs", b),
              os.path.join(d, ".libs", "lt-" + b)):
        try:
            with open(p, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            r = subprocess.run(["readelf", "-d", p], capture_output=True,
                               timeout=30)
        except OSError:
            continue
        if r.returncode == 0:
            return b"[libsystemd.so" in r.stdout
    return None


have = links_libsystemd(SMARTSOCKD)
if have is None:
    skip("cannot tell whether smartsockd is linked with libsystemd "
         "(readelf -d)")
if not have:
    skip("smartsockd is built without libsystemd (configure --with-systemd)")


class Notify:
    """The fake service manager's end: NOTIFY_SOCKET."""

    def __init__(self):
        self.path = os.path.join(tmpdir(), "notify.sock")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        self.watchdogs = []     # arrival times of WATCHDOG=1

    def recv(self, timeout):
        """The next message as {key: value}, None after timeout."""
        self.s.settimeout(max(timeout, 0.001))
        try:
            dg = self.s.recv(65536)
        except socket.timeout:
            return None
        msg = {}
        for line in dg.decode().split("\n"):
            if line:
                k, _, v = line.partition("=")
                msg[k] = v
        return msg

    def next(self, timeout=10.0):
        """The next message that is not only WATCHDOG=1 (those are timed
        and kept in self.watchdogs); fails the test after timeout (x
        SLOWDOWN)."""
        timeout = patience(timeout)
        end = time.monotonic() + timeout
        while True:
            msg = self.recv(end - time.monotonic())
            if msg is None:
                fail("no notify message within %.0f s" % timeout)
            if msg == {"WATCHDOG": "1"}:
                self.watchdogs.append(time.monotonic())
                continue
            return msg


def start(d, n, env):
    """Start Daemon d (made with start=False) with NOTIFY_SOCKET n.path and
    env; its own pid goes in WATCHDOG_PID when env asks for "self"."""
    e = dict(os.environ, NOTIFY_SOCKET=n.path)
    e.pop("WATCHDOG_USEC", None)
    e.pop("WATCHDOG_PID", None)
    e.update(env)
    args = [SMARTSOCKD, "-f", "-v", "-c", d.conf]
    if e.get("WATCHDOG_PID") == "self":
        del e["WATCHDOG_PID"]
        # exec keeps the shell's pid: the daemon's.
        args = ["sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; '
                'exec "$@"', "sh"] + args
    d.log = open(d.logpath, "ab")
    d.proc = spawn(args, stdout=d.log, stderr=d.log, env=e)


def can_connect(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(patience(2))
    try:
        s.connect(addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


# --- READY=1 only once everything listens ---------------------------------
step("start: READY=1 once every socket is up")
pa, pb, dead = free_port(), free_port(), free_port()
d = Daemon({"a": sock(bind="127.0.0.1:%d" % pa),
            "b": sock(bind="127.0.0.1:%d" % pb,
                      connect="127.0.0.1:%d" % dead)}, start=False)
n = Notify()
start(d, n, {"WATCHDOG_USEC": str(WATCHDOG_USEC), "WATCHDOG_PID": "self"})
msg = n.next(timeout=30)
# Frozen at once (the kernel still completes connections to a stopped
# process's listening sockets) and checked, what is set up last first:
# READY=1 must not come early.
d.proc.send_signal(signal.SIGSTOP)
ok = {
    "tcp b": can_connect(socket.AF_INET, ("127.0.0.1", pb)),
    "b.sock": can_connect(socket.AF_UNIX, d.sock_path("b")),
    "tcp a": can_connect(socket.AF_INET, ("127.0.0.1", pa)),
    "a.sock": can_connect(socket.AF_UNIX, d.sock_path("a")),
    "control.sock": can_connect(socket.AF_UNIX,
                                os.path.join(d.runtime, "control.sock")),
}
d.proc.send_signal(signal.SIGCONT)
check(msg.get("READY") == "1", "first notify message is not READY=1: %r"
      % msg)
check(all(ok.values()), "READY=1 came before everything listened: %r" % ok)
check("STATUS" in msg and "2 sockets" in msg["STATUS"],
      "READY=1 without a useful STATUS=: %r" % msg)
check(" running with " in d.log_text(), "READY=1 before 'running with':\n" +
      d.log_text())
check(d.proc.poll() is None, "smartsockd exited:\n" + d.log_text())

# --- the watchdog ---------------------------------------------------------
step("WATCHDOG=1 every half of WATCHDOG_USEC")
KEEPALIVE_S = WATCHDOG_USEC / 2e6
check("systemd watchdog: a keep-alive every %d ms" % (KEEPALIVE_S * 1000)
      in d.log_text(), "the keep-alive timer is not half of WATCHDOG_USEC:\n"
      + d.log_text())
while n.recv(0) is not None:            # what was queued before
    pass
n.watchdogs = []
t0 = time.monotonic()
end = t0 + patience(30)
while len(n.watchdogs) < 8 and time.monotonic() < end:
    msg = n.recv(end - time.monotonic())
    if msg is None:
        break
    check(msg == {"WATCHDOG": "1"}, "unexpected notify message %r" % msg)
    n.watchdogs.append(time.monotonic())
w = n.watchdogs
span = time.monotonic() - t0
check(len(w) >= 8, "%d WATCHDOG=1 in %.1f s" % (len(w), span))
# A late timer does not catch up: never more than one per KEEPALIVE_S (one
# may have been on its way as the count began).
check(len(w) <= span / KEEPALIVE_S + 2,
      "%d WATCHDOG=1 in %.2f s: more often than every %d ms" %
      (len(w), span, KEEPALIVE_S * 1000))
gaps = [b - a for a, b in zip(w, w[1:])]
print("watchdog: %d keep-alives in %.2f s, mean %.0f ms, max %.0f ms apart" %
      (len(w), span, sum(gaps) / len(gaps) * 1000, max(gaps) * 1000))

# --- reloads ---------------------------------------------------------------
step("smartsockctl reload: RELOADING=1 then READY=1")
d.sockets["c"] = sock(bind="127.0.0.1:%d" % free_port())
d.write_conf(d.sockets)
r = d.ctl("reload")
check(r.returncode == 0, "smartsockctl reload: %r" % (r,))
msg = n.next()
check(msg.get("RELOADING") == "1" and msg.get("MONOTONIC_USEC", "").isdigit()
      and "STATUS" in msg, "not RELOADING=1 first: %r" % msg)
msg = n.next()
check(msg.get("READY") == "1" and "reloaded" in msg.get("STATUS", "") and
      "added c" in msg["STATUS"] and "3 sockets" in msg["STATUS"],
      "not READY=1 with the reload's STATUS= after it: %r" % msg)

step("SIGHUP: RELOADING=1 then READY=1")
d.proc.send_signal(signal.SIGHUP)
msg = n.next()
check(msg.get("RELOADING") == "1", "SIGHUP: not RELOADING=1: %r" % msg)
msg = n.next()
check(msg.get("READY") == "1" and "no change" in msg.get("STATUS", ""),
      "SIGHUP: not READY=1 after RELOADING=1: %r" % msg)

step("a refused reload: RELOADING=1 then READY=1, STATUS= says why")
with open(d.conf, "a") as f:
    f.write("\n[socket a]\nnot a key line\n")
r = d.ctl("reload")
check(r.returncode != 0, "a broken file reloaded: %r" % (r,))
msg = n.next()
check(msg.get("RELOADING") == "1", "refused: not RELOADING=1: %r" % msg)
msg = n.next()
check(msg.get("READY") == "1" and "refused" in msg.get("STATUS", "") and
      d.conf in msg["STATUS"],
      "refused reload: not READY=1 with the reason: %r" % msg)
d.write_conf(d.sockets)

# --- stop ----------------------------------------------------------------
step("SIGTERM: STOPPING=1")
d.stop()
msg = n.next()
check(msg.get("STOPPING") == "1" and "SIGTERM" in msg.get("STATUS", ""),
      "SIGTERM: not STOPPING=1: %r" % msg)
while True:
    msg = n.recv(0.2)
    if msg is None:
        break
    check(msg == {"WATCHDOG": "1"}, "a notify message after STOPPING=1: %r"
          % msg)

# --- a watchdog meant for another process ----------------------------------
step("WATCHDOG_PID of another process: no WATCHDOG=1")
d2 = Daemon({"x": sock(bind="127.0.0.1:%d" % free_port())}, start=False)
n2 = Notify()
start(d2, n2, {"WATCHDOG_USEC": str(WATCHDOG_USEC),
               "WATCHDOG_PID": str(os.getpid())})
msg = n2.next(timeout=30)
check(msg.get("READY") == "1", "second daemon: not READY=1: %r" % msg)
time.sleep(1.0)
while True:
    msg = n2.recv(0.05)
    if msg is None:
        break
    check(msg != {"WATCHDOG": "1"},
          "WATCHDOG=1 sent though WATCHDOG_PID is another process")
check(not n2.watchdogs,
      "WATCHDOG=1 sent though WATCHDOG_PID is another process")
d2.stop()

passed("test_notify")
