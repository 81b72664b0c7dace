"""smartsock-perf end to end through two daemons, at sizes that take every
path: small frames batched by smartsock_sendv and routed in place, frames
over 8 KiB written from the caller's memory, and frames over 64 KiB moved
into messages of their own by both daemons.  Checks counts, sizes (the
receiver verifies each) and the output formats the bench parses."""
import os
import re
import subprocess

from harness import (BUILD, Daemon, check, free_port, passed, patience,
                     spawn)

PERF = os.path.join(BUILD, "smartsock-perf")
port = free_port()
b = Daemon({"dst": {"bind": "127.0.0.1:%d" % port}})
a = Daemon({"src": {"connect": "127.0.0.1:%d" % port,
                    "reconnect_delay": "50ms"}})
a.wait_log("socket src: peer")

THR = re.compile(r"^thr-recv: (\d+) x (\d+) B in [\d.]+ s: [\d.]+ msg/s, "
                 r"[\d.]+ MB/s$")
for size, count in ((0, 1000), (16, 50000), (300, 20000), (9000, 2000),
                    (70000, 200), (1 << 20, 20)):
    recv = spawn([PERF, "-S", b.runtime, "thr-recv", "dst", str(size),
                  str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    b.wait_log("socket dst: application", count=b.log_text().count(
        "socket dst: application") + 1)
    r = subprocess.run([PERF, "-S", a.runtime, "thr-send", "src", str(size),
                        str(count)], capture_output=True,
                       timeout=patience(60))
    check(r.returncode == 0, "thr-send %d: %r" % (size, r.stderr))
    out, err = recv.communicate(timeout=patience(60))
    m = THR.match(out.decode().strip())
    check(recv.returncode == 0 and m is not None and
          int(m.group(1)) == count and int(m.group(2)) == size,
          "thr-recv %d: %r %r" % (size, out, err))

echo = spawn([PERF, "-S", b.runtime, "lat-echo", "dst", "1100"],
             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
r = subprocess.run([PERF, "-S", a.runtime, "lat-ping", "src", "16", "1000"],
                   capture_output=True, timeout=patience(60))
check(r.returncode == 0 and re.match(
    r"^lat-ping: 1000 x 16 B round trips: p50 [\d.]+ us, p99 [\d.]+ us, "
    r"max [\d.]+ us$", r.stdout.decode().strip()) is not None,
    "lat-ping: %r" % (r,))
check(echo.wait(patience(30)) == 0, "lat-echo did not finish")

r = subprocess.run([PERF, "thr-send"], capture_output=True, timeout=10)
check(r.returncode == 2 and b"usage" in r.stderr, "usage error: %r" % (r,))

check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")
passed("smartsock-perf")
