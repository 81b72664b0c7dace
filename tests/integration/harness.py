"""Shared helpers for smartsock's integration tests.

Each test file is a script run by `make check` (exit 0 pass, 1 fail,
77 skip).  It starts real smartsockd processes on loopback with a temporary
runtime directory, talks to them through smartsock-cat (the real client
library) and through raw TCP sockets, and cleans up on every path: every
process started here is killed at exit, and every wait is bounded.

A deadline only ends a test that is stuck; it never measures speed (that
is bench/'s job).  The timeouts tests give the functions here are meant
for a normal build on a busy 2-core machine, and the functions stretch
them by SLOWDOWN (patience()) for a sanitizer build; a test that keeps a
deadline of its own asks patience() for it too.
"""
import atexit
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("SMARTSOCK_BUILDDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SRC = os.environ.get("SMARTSOCK_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SMARTSOCKD = os.path.join(BUILD, "smartsockd")
CAT = os.path.join(BUILD, "smartsock-cat")
CTL = os.path.join(BUILD, "smartsockctl")
SHARED = os.path.abspath(os.path.join(SRC, "..", "shared"))
AIOMSG_PEER = os.path.join(SHARED, "tools", "aiomsg-peer")

HELLO, HEARTBEAT, DATA, DATA_REQ, ACK = 1, 2, 3, 4, 5
DEADLINE = 60.0         # no single wait in a test is longer than this
                        # (times SLOWDOWN)

# Socket settings that make failures and recoveries quick to observe.
FAST = {"heartbeat_interval": "500ms", "heartbeat_timeout": "3s",
        "reconnect_delay": "50ms", "reconnect_max_delay": "500ms",
        "resend_timeout": "500ms"}
T0 = time.monotonic()


def _sanitized_build():
    """Whether the build's smartsockd (or libtool's real one) carries a
    sanitizer runtime: then everything it and the build's tools do is
    several times slower."""
    d, b = os.path.split(SMARTSOCKD)
    for path in (SMARTSOCKD, os.path.join(d, ".libs", b)):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if data[:4] == b"\x7fELF":
            return any(m in data for m in (b"__asan_init", b"__ubsan_handle",
                                           b"__tsan_init"))
    return False


# How much longer than on a normal build any wait may take: 3 on a
# sanitizer build; SMARTSOCK_TEST_SLOWDOWN overrides (e.g. under emulation).
SLOWDOWN = float(os.environ.get("SMARTSOCK_TEST_SLOWDOWN") or
                 (3 if _sanitized_build() else 1))


def patience(seconds):
    """A deadline of `seconds` (generous on a normal build, for a busy
    2-core machine) stretched for this build: how long a test waits before
    it calls something stuck."""
    return seconds * SLOWDOWN


def cat_timeout(seconds):
    """patience(seconds) as a --timeout argument of smartsock-cat."""
    return "%gs" % patience(seconds)

_procs = []
_dirs = []
_daemons = []
_ok = False


def passed(name):
    """Report success; without it, exit shows every daemon's log tail."""
    global _ok
    _ok = True
    print("PASS:", name)


def _cleanup():
    if not _ok:
        for d in _daemons:
            print("----- smartsockd log %s (last 40 lines)" % d.logpath)
            try:
                print("\n".join(d.log_text().splitlines()[-40:]))
            except OSError:
                pass
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


def need_shared():
    if not os.path.exists(AIOMSG_PEER):
        skip("../shared/tools/aiomsg-peer is absent")


def sock(**keys):
    """A [socket] section: FAST, overridden by keys."""
    d = dict(FAST)
    d.update(keys)
    return d


def step(what):
    print("[%5.1fs] %s" % (time.monotonic() - T0, what), flush=True)


def wait_apps(d, name, n, timeout=10.0):
    """Wait until exactly n applications are attached to socket name."""
    pat = r"socket %s: application \d+ " % re.escape(name)

    def attached():
        log = d.log_text()
        return (len(re.findall(pat + "attached", log)) -
                len(re.findall(pat + "(detached|dropped)", log)))
    end = time.monotonic() + patience(timeout)
    while attached() != n:
        if time.monotonic() > end:
            fail("socket %s: %d apps attached, not %d:\n%s" %
                 (name, attached(), n, d.log_text()))
        time.sleep(0.02)


def peers_up(d, name):
    """Identities (hex) of every 'peer ... up' line of socket name."""
    return re.findall(r"socket %s: peer ([0-9a-f]{32}) \([^)]*\) up" %
                      re.escape(name), d.log_text())


def wait_peers(d, name, ids, timeout=10.0):
    """Wait until every identity in ids has been up on socket name."""
    end = time.monotonic() + patience(timeout)
    while time.monotonic() < end:
        if all(i in peers_up(d, name) for i in ids):
            return
        time.sleep(0.02)
    fail("socket %s never saw peers %r up:\n%s" % (name, ids, d.log_text()))


def settle(probe, what, quiet=1.0, timeout=20.0):
    """Wait until probe() returns the same value for `quiet` seconds (both
    stretched by patience()); returns that value."""
    quiet = patience(quiet)
    end = time.monotonic() + patience(timeout)
    last, since = probe(), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > end:
            fail("timed out waiting for %s to settle: still moving, %r" %
                 (what, last))
        time.sleep(0.05)
        now = probe()
        if now != last:
            last, since = now, time.monotonic()
    return last


def tmpdir():
    d = tempfile.mkdtemp(prefix="smartsock-test-")
    _dirs.append(d)
    return d


_ports_given = set()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's
    pick), and not one this test was given before (the kernel may hand a
    closed port out again, and a test picks several before binding)."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def free_port6():
    """A TCP port on ::1 that was free a moment ago; None without ::1."""
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
    except OSError:
        return None
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + patience(timeout)
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    fail("timed out waiting for " + what)


class Tools:
    """Copies of the build's programs that any user may run."""


def tools_for_any_user():
    """smartsockd, smartsockctl and smartsock-cat copied, with the client
    library beside them, into a temporary directory that any user may
    read and run: tests that run them as another user must not depend on
    where the tree lives (root's home is 0700).  Returns a Tools with
    .daemon, .ctl, .cat and .env (the environment to run them in)."""
    d = tmpdir()
    os.chmod(d, 0o755)
    libs = os.path.join(BUILD, ".libs")
    t = Tools()
    for attr, name in (("daemon", "smartsockd"), ("ctl", "smartsockctl"),
                       ("cat", "smartsock-cat")):
        src = os.path.join(BUILD, name)
        with open(src, "rb") as f:
            if f.read(4) != b"\x7fELF":        # a libtool wrapper script
                src = os.path.join(libs, name)
        dst = os.path.join(d, name)
        shutil.copy(src, dst)
        os.chmod(dst, 0o755)
        setattr(t, attr, dst)
    for name in os.listdir(libs) if os.path.isdir(libs) else []:
        if name.startswith("libsmartsock.so"):
            shutil.copy(os.path.join(libs, name), os.path.join(d, name))
            os.chmod(os.path.join(d, name), 0o755)
    t.env = dict(os.environ, LD_LIBRARY_PATH=d)
    return t


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    _procs.append(p)
    return p


class Daemon:
    """One smartsockd with its own config file and runtime dir.

    sockets: {name: {key: value}}; values may be lists for bind/connect.
    """

    def __init__(self, sockets, daemon=None, start=True, wrapper=None,
                 program=None, env=None, verbose=True):
        """wrapper: a command the daemon runs under, e.g. valgrind;
        program: the smartsockd to run (default the build's); env: its
        environment (default this one's); verbose: run it with -v (debug
        lines, whatever log_level says)."""
        self.wrapper = list(wrapper or [])
        self.verbose = verbose
        self.program = program or SMARTSOCKD
        self.env = env
        self.dir = tmpdir()
        self.runtime = os.path.join(self.dir, "run")
        self.conf = os.path.join(self.dir, "smartsockd.conf")
        self.logpath = os.path.join(self.dir, "smartsockd.log")
        self.write_conf(sockets, daemon)
        self.proc = None
        _daemons.append(self)
        if start:
            self.start()

    def write_conf(self, sockets, daemon=None):
        """(Re)write the config file, keeping this daemon's runtime_dir;
        a reload then reads it."""
        self.sockets = sockets
        lines = ["[daemon]", "runtime_dir = " + self.runtime]
        for k, v in (daemon or {}).items():
            lines.append("%s = %s" % (k, v))
        for name, keys in sockets.items():
            lines.append("")
            lines.append("[socket %s]" % name)
            for k, v in keys.items():
                for one in (v if isinstance(v, list) else [v]):
                    lines.append("%s = %s" % (k, one))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        """Start and wait until it runs: its "running with" line is logged
        once every socket is set up (socket files left by a SIGKILLed
        predecessor prove nothing)."""
        started = self.log_text().count(" running with ") \
            if os.path.exists(self.logpath) else 0
        self.log = open(self.logpath, "ab")
        flags = ["-f", "-v"] if self.verbose else ["-f"]
        self.proc = spawn(self.wrapper + [self.program] + flags +
                          ["-c", self.conf],
                          stdout=self.log, stderr=self.log, env=self.env)
        end = time.monotonic() + patience(60 if self.wrapper else 10)
        while self.log_text().count(" running with ") <= started:
            if self.proc.poll() is not None:
                fail("smartsockd exited %s at start:\n%s" %
                     (self.proc.returncode, self.log_text()))
            if time.monotonic() > end:
                fail("smartsockd did not create its sockets:\n" + self.log_text())
            time.sleep(0.02)
        return self

    def sock_path(self, name):
        return os.path.join(self.runtime, name + ".sock")

    def log_text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, text, timeout=10.0, count=1):
        """Wait until `text` occurs `count` times in the daemon's log."""
        wait_for(lambda: self.log_text().count(text) >= count, timeout,
                 "log line %r (x%d)" % (text, count))

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(patience(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("smartsockd did not stop on signal %d:\n%s" % (sig, self.log_text()))
        self.log.close()
        if rc != 0 and sig != signal.SIGKILL:
            fail("smartsockd exited %d:\n%s" % (rc, self.log_text()))
        # An ASan build reports leaks and errors on stderr at exit.
        if "ERROR: AddressSanitizer" in self.log_text() or \
                "ERROR: LeakSanitizer" in self.log_text() or \
                "runtime error:" in self.log_text():
            fail("sanitizer report from smartsockd:\n" + self.log_text())
        return rc

    def start_second(self, socket_name):
        """Run another smartsockd on this daemon's runtime dir with one
        socket `socket_name` on a fresh port; it must refuse to start.
        Returns its CompletedProcess."""
        other = os.path.join(self.dir, "second.conf")
        with open(other, "w") as f:
            f.write("[daemon]\nruntime_dir = %s\n\n[socket %s]\n"
                    "bind = 127.0.0.1:%d\n" % (self.runtime, socket_name,
                                               free_port()))
        try:
            return subprocess.run([SMARTSOCKD, "-f", "-c", other],
                                  capture_output=True, timeout=patience(10))
        except subprocess.TimeoutExpired:
            fail("a second smartsockd on a live runtime dir kept running")

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cat(self, *args, **kw):
        """Run smartsock-cat -S RUNTIME ARGS; returns CompletedProcess."""
        timeout = patience(kw.pop("timeout", 30))
        return subprocess.run([CAT, "-S", self.runtime] + list(args),
                              capture_output=True, timeout=timeout, **kw)

    def ctl(self, *args, **kw):
        """Run smartsockctl -S RUNTIME ARGS; returns CompletedProcess."""
        timeout = patience(kw.pop("timeout", 30))
        return subprocess.run([CTL, "-S", self.runtime] + list(args),
                              capture_output=True, timeout=timeout, **kw)

    def ctl_json(self, *args):
        """smartsockctl --json ARGS, parsed; fails the test unless it
        printed one JSON document (whatever its "ok")."""
        r = self.ctl("--json", *args)
        try:
            return json.loads(r.stdout.decode())
        except ValueError:
            fail("smartsockctl --json %s: rc %d, %r %r" %
                 (" ".join(args), r.returncode, r.stdout, r.stderr))

    def cat_bg(self, *args, **kw):
        return spawn([CAT, "-S", self.runtime] + list(args),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def status_of(self, name):
        """Socket `name`'s object in `smartsockctl --json status`."""
        st = self.ctl_json("status")
        for s in st.get("sockets", []):
            if s["name"] == name:
                return s
        fail("no socket %s in status: %r" % (name, st))

    def counter(self, name, key):
        """One counter of socket `name`; fails the test if there is none."""
        counters = self.status_of(name)["counters"]
        if key not in counters:
            fail("socket %s has no counter %s: %r" % (name, key, counters))
        return counters[key]


def check_conf(path):
    """`smartsockd -t -c path`: its CompletedProcess."""
    return subprocess.run([SMARTSOCKD, "-t", "-c", path], capture_output=True,
                          timeout=patience(30))


def send_lines(d, sock, lines, *extra):
    r = d.cat("send", sock, *extra, input=("".join(l + "\n" for l in lines)).encode())
    check(r.returncode == 0, "smartsock-cat send failed: %s" % r.stderr.decode())


def collect(proc, timeout=30):
    """Wait for a background smartsock-cat; return its stdout lines."""
    try:
        out, err = proc.communicate(timeout=patience(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        fail("smartsock-cat timed out; got %r, stderr %r" % (out, err))
    return out.decode().splitlines()


def stream_lines(src, src_sock, dst, dst_sock, n, interval=0.005):
    """Send n lines s0..s{n-1} from socket src_sock of daemon src, one
    every interval seconds in the background, while dst_sock of daemon dst
    receives them.  Returns a function that waits for the end and fails
    the test unless all came, in order."""
    recv = dst.cat_bg("recv", dst_sock, "-n", str(n), "--timeout",
                      cat_timeout(30))
    feeder = src.cat_bg("send", src_sock, stdin=subprocess.PIPE)

    def feed():
        for i in range(n):
            feeder.stdin.write(b"s%d\n" % i)
            feeder.stdin.flush()
            time.sleep(interval)
        feeder.stdin.close()
    t = threading.Thread(target=feed)
    t.start()

    def done():
        t.join(patience(DEADLINE))
        check(feeder.wait(patience(DEADLINE)) == 0,
              "the sender on %s failed" % src_sock)
        got = collect(recv, DEADLINE)
        check(got == ["s%d" % i for i in range(n)], "stream %s -> %s: %d of "
              "%d, ends %r" % (src_sock, dst_sock, len(got), n, got[-3:]))
    return done


def finish(p, what, timeout=20):
    """Wait for a process to exit 0 by itself: (stdout lines, stderr)."""
    try:
        out, err = p.communicate(timeout=patience(timeout))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        fail("%s did not finish; stdout %r, stderr %r" % (what, out, err))
    check(p.returncode == 0, "%s exit %d: %s" % (what, p.returncode,
                                                 err.decode()))
    return out.decode().splitlines(), err.decode()


def head_lines(p, n, timeout=20.0):
    """Up to the first n lines a running process prints on its stdout pipe
    within timeout; then it is killed and reaped.  For processes that do
    not exit by themselves (a connect-role aiomsg-peer).  Returns (lines,
    stderr text)."""
    fd = p.stdout.fileno()
    buf = b""
    end = time.monotonic() + patience(timeout)
    while buf.count(b"\n") < n:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    if p.poll() is None:
        p.kill()
    out, err = p.communicate(timeout=patience(10))
    return (buf + out).decode().splitlines()[:n], err.decode(errors="replace")


# --- raw aiomsg v1 peers ----------------------------------------------------

def frame(envelope):
    return struct.pack(">I", len(envelope)) + envelope


def hello(identity, version=1):
    return frame(bytes((HELLO, version)) + identity)


def split_frame(buf):
    """The first whole aiomsg frame of buf as ((type, body), rest), or
    (None, buf) while it is not all there; type -1 for an empty one."""
    if len(buf) >= 4:
        n = struct.unpack(">I", buf[:4])[0]
        if len(buf) >= 4 + n:
            env = buf[4:4 + n]
            return (env[0] if env else -1, env[1:]), buf[4 + n:]
    return None, buf


class RawPeer:
    """A hand-driven aiomsg connection for hostile-input tests."""

    def __init__(self, port, host="127.0.0.1"):
        self.s = socket.create_connection((host, port),
                                          timeout=patience(10))
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def read_frame(self, timeout=10.0):
        """(type, body) of the next frame; None on EOF."""
        return self._frame(patience(timeout))

    def _frame(self, seconds):
        self.s.settimeout(seconds)
        while True:
            f, self.buf = split_frame(self.buf)
            if f is not None:
                return f
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def read_until(self, ftype, timeout=10.0):
        end = time.monotonic() + patience(timeout)
        while time.monotonic() < end:
            f = self._frame(max(0.01, end - time.monotonic()))
            if f is None:
                return None
            if f[0] == ftype:
                return f
        return None

    def closed(self, timeout=10.0):
        """True when the daemon closes this connection within timeout."""
        end = time.monotonic() + patience(timeout)
        try:
            while time.monotonic() < end:
                if self._frame(max(0.01, end - time.monotonic())) is None:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        self.s.close()
