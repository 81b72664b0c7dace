"""smartsockd basics: -t and --version, one message through a bind and a
connect socket of one daemon, messages kept until an application attaches,
several applications sharing one socket, the library's timeout and size
errors, and a clean SIGTERM that removes the Unix sockets."""
import os
import socket
import subprocess

from harness import (passed, SMARTSOCKD, SRC, Daemon, check, collect, free_port,
                     send_lines, tmpdir)

# --- command line -------------------------------------------------------
r = subprocess.run([SMARTSOCKD, "--version"], capture_output=True, timeout=10)
check(r.returncode == 0 and r.stdout.startswith(b"smartsockd "),
      "--version: %r" % (r,))
r = subprocess.run([SMARTSOCKD, "-t", "-c",
                    os.path.join(SRC, "conf", "smartsockd.conf")],
                   capture_output=True, timeout=10)
check(r.returncode == 0, "-t on the shipped config: %r" % (r,))

bad = os.path.join(tmpdir(), "bad.conf")
with open(bad, "w") as f:
    f.write("[daemon]\nruntime_dir = /tmp\n\n[socket x]\n"
            "bind = 127.0.0.1:1\nsend_mode = publish\n"
            "delivery = at-least-once\n")
r = subprocess.run([SMARTSOCKD, "-t", "-c", bad], capture_output=True,
                   timeout=10)
err = r.stderr.decode()
check(r.returncode == 1 and (bad + ":") in err, "-t on a bad config: %r" % (r,))
r = subprocess.run([SMARTSOCKD, "-t", "-c", bad + ".missing"],
                   capture_output=True, timeout=10)
check(r.returncode == 1 and b"missing" in r.stderr, "-t on a missing file")
r = subprocess.run([SMARTSOCKD, "--bogus"], capture_output=True, timeout=10)
check(r.returncode == 2, "usage error exit code %d" % r.returncode)

# --- one daemon, a bind and a connect socket on loopback -------------------
port = free_port()
d = Daemon({"in": {"bind": "127.0.0.1:%d" % port},
            "out": {"connect": "127.0.0.1:%d" % port,
                    "identity": "0123456789abcdef0123456789abcdef",
                    "reconnect_delay": "50ms"}},
           daemon={"max_message_size": "1K"})

# Sent before anyone listens to "in": kept until an application attaches.
send_lines(d, "out", ["first", "second"])
d.wait_log("peer 0123456789abcdef0123456789abcdef")
r = d.cat("recv", "in", "-n", "2", "--identity", "--timeout", "10")
check(r.returncode == 0, "recv failed: %r" % (r,))
check(r.stdout.decode().splitlines() ==
      ["0123456789abcdef0123456789abcdef\tfirst",
       "0123456789abcdef0123456789abcdef\tsecond"],
      "recv got %r" % r.stdout)

# Two applications on one socket share what arrives, round-robin.
attached = d.log_text().count("socket in: application")
a = d.cat_bg("recv", "in", "-n", "5", "--timeout", "15")
b = d.cat_bg("recv", "in", "-n", "5", "--timeout", "15")
d.wait_log("socket in: application", count=attached + 2)
send_lines(d, "out", ["w%d" % i for i in range(10)])
got_a, got_b = collect(a), collect(b)
check(sorted(got_a + got_b) == sorted("w%d" % i for i in range(10)),
      "shared delivery: %r %r" % (got_a, got_b))
check(len(got_a) == 5 and len(got_b) == 5, "not round-robin: %r %r" % (got_a, got_b))

# An application that only sends is never handed received messages (it
# grants no credit), so none is stranded in it when it detaches.
attached = d.log_text().count("socket in: application")
sender = d.cat_bg("send", "in", stdin=subprocess.PIPE)
d.wait_log("socket in: application", count=attached + 1)
send_lines(d, "out", ["kept-%d" % i for i in range(5)])
sender.stdin.close()
check(sender.wait(10) == 0, "the send-only application failed")
r = d.cat("recv", "in", "-n", "5", "--timeout", "10")
check(r.stdout.decode().split() == ["kept-%d" % i for i in range(5)],
      "messages given to a send-only application: %r" % (r,))

# The library's errors: a receive timeout, and a message over the limit.
r = d.cat("recv", "in", "--timeout", "1")
check(r.returncode == 1, "recv timeout exit %d" % r.returncode)
r = d.cat("send", "out", "x" * 2000)
check(r.returncode == 1 and b"max_message_size" in r.stderr,
      "oversized send: %r" % (r,))
r = d.cat("recv", "nosuchsocket", "--timeout", "1")
check(r.returncode == 1 and b"nosuchsocket" in r.stderr, "missing socket: %r" % (r,))

# A connect endpoint by host name is resolved without blocking the loop: a
# name that cannot resolve (retried with backoff) holds nothing else up.
port_n = free_port()
dn = Daemon({"in": {"bind": "127.0.0.1:%d" % port_n},
             "byname": {"connect": "localhost:%d" % port_n,
                        "reconnect_delay": "50ms",
                        "reconnect_max_delay": "200ms"},
             "nowhere": {"connect": "no-such-host.invalid:%d" % port_n}})
send_lines(dn, "byname", ["by-name"])
r = dn.cat("recv", "in", "-n", "1", "--timeout", "10")
check(r.stdout == b"by-name\n", "connect by host name: %r" % (r,))
check(dn.stop() == 0, "daemon with a name that does not resolve: stop")

# IPv6 loopback endpoints, where the machine has ::1.
try:
    s6 = socket.socket(socket.AF_INET6)
    s6.bind(("::1", 0))
    port6 = s6.getsockname()[1]
    s6.close()
except OSError:
    port6 = None
if port6 is not None:
    d6 = Daemon({"in6": {"bind": "[::1]:%d" % port6},
                 "out6": {"connect": "[::1]:%d" % port6,
                          "reconnect_delay": "50ms"}})
    send_lines(d6, "out6", ["over-ipv6"])
    r = d6.cat("recv", "in6", "-n", "1", "--timeout", "10")
    check(r.stdout == b"over-ipv6\n", "IPv6: %r" % (r,))
    check(d6.stop() == 0, "IPv6 daemon stop")
else:
    print("note: no ::1 here, IPv6 part not run")

# SIGTERM: exit 0, the Unix sockets are gone.
check(d.stop() == 0, "SIGTERM exit")
check(not os.path.exists(d.sock_path("in")) and
      not os.path.exists(d.sock_path("out")), "Unix sockets left behind")
check("stopping on SIGTERM" in d.log_text(), "no stop line in the log")
passed("basic")
