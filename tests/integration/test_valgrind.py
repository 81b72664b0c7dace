"""One smartsockd under valgrind memcheck through most of what it does:
plain and mutual-TLS peers in both directions, at-least-once and publish,
applications attaching, receiving and leaving, hostile bytes from a raw
peer, status and peers over the control socket, a reload that changes,
adds and removes sockets, a peer daemon killed and restarted, and a
SIGTERM stop.  Zero errors and zero definite or indirect leaks allowed.
Skipped without valgrind, and on a sanitizer build (the two exclude each
other; the ASan run of the suite covers that build)."""
import os
import shutil
import signal
import subprocess

import tlscerts
from harness import (SMARTSOCKD, Daemon, RawPeer, check, collect, fail,
                     frame, free_port, hello, passed, send_lines, skip, sock,
                     step, wait_apps, wait_for, wait_peers)

VALGRIND = shutil.which("valgrind")
if VALGRIND is None:
    skip("valgrind is not installed")
ldd = subprocess.run(["ldd", SMARTSOCKD], capture_output=True, text=True)
if "libasan" in ldd.stdout or "libubsan" in ldd.stdout:
    skip("a sanitizer build: valgrind cannot run it")
tlscerts.need_openssl()
C = tlscerts.make()

ID_V, ID_N = "5a" * 16, "6b" * 16
SLOW = {"heartbeat_timeout": "10s", "resend_timeout": "3s"}
p_alo, p_tls, p_pub, p_back, p_new = (free_port() for _ in range(5))
TLS_BIND = {"tls": "on", "tls_cert": C.server, "tls_key": C.server_key,
            "tls_verify_client": "on", "tls_client_ca": C.ca_a}
TLS_CONNECT = {"tls": "on", "tls_ca": C.ca_a, "tls_cert": C.client,
               "tls_key": C.client_key}


def v_sockets(reloaded):
    s = {"alo": sock(bind="127.0.0.1:%d" % p_alo, identity=ID_V,
                     delivery="at-least-once", **SLOW),
         "tls": sock(bind="127.0.0.1:%d" % p_tls, identity=ID_V,
                     **dict(TLS_BIND, **SLOW)),
         "pub": sock(bind="127.0.0.1:%d" % p_pub, identity=ID_V,
                     send_mode="publish", **SLOW),
         "back": sock(connect="127.0.0.1:%d" % p_back, identity=ID_V,
                      **SLOW)}
    if reloaded:
        del s["pub"]
        s["alo"]["heartbeat_interval"] = "700ms"
        s["new"] = sock(bind="127.0.0.1:%d" % p_new, **SLOW)
    return s


def n_sockets():
    return {"alo": sock(connect="127.0.0.1:%d" % p_alo, identity=ID_N,
                        delivery="at-least-once"),
            "tls": sock(connect="127.0.0.1:%d" % p_tls, identity=ID_N,
                        **TLS_CONNECT),
            "pub": sock(connect="127.0.0.1:%d" % p_pub, identity=ID_N),
            "back": sock(bind="127.0.0.1:%d" % p_back, identity=ID_N)}


def exchange(src, src_sock, dst, dst_sock, n, tag):
    recv = dst.cat_bg("recv", dst_sock, "-n", str(n), "--timeout", "60")
    wait_apps(dst, dst_sock, 1, 60)
    want = ["%s-%d" % (tag, i) for i in range(n)]
    send_lines(src, src_sock, want)
    got = collect(recv, 90)
    check(sorted(got) == sorted(want), "%s: got %d of %d, not as sent: %r"
          % (tag, len(got), n, sorted(set(got) ^ set(want))[:10]))
    wait_apps(dst, dst_sock, 0, 60)


step("smartsockd under valgrind memcheck")
vlog = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                    "smartsock-valgrind-%d.log" % os.getpid())
v = Daemon(v_sockets(False), wrapper=[
    VALGRIND, "--quiet", "--error-exitcode=97", "--leak-check=full",
    "--show-leak-kinds=definite,indirect",
    "--errors-for-leak-kinds=definite,indirect", "--log-file=" + vlog])
n = Daemon(n_sockets())
wait_peers(v, "alo", [ID_N], 60)
wait_peers(v, "tls", [ID_N], 60)
wait_peers(v, "back", [ID_N], 60)

step("traffic both ways: at-least-once, mutual TLS, publish, connect side")
exchange(n, "alo", v, "alo", 200, "alo")
exchange(n, "tls", v, "tls", 200, "tls")
exchange(v, "tls", n, "tls", 100, "tls-back")
exchange(v, "back", n, "back", 100, "back")
sub = n.cat_bg("recv", "pub", "-n", "50", "--timeout", "60")
wait_apps(n, "pub", 1, 30)
send_lines(v, "pub", ["pub-%d" % i for i in range(50)])
check(len(collect(sub, 90)) == 50, "publish: not 50")

step("hostile bytes, a refused TLS client, the control socket")
raw = RawPeer(p_alo)
raw.send(hello(bytes.fromhex("99" * 16)) + frame(b"\x02") + frame(b"") +
         frame(b"\x05short") + frame(b"\x42junk") + b"\xff\xff\xff\xff")
check(raw.closed(60), "an oversized frame did not close the raw peer")
junk = RawPeer(p_tls)
junk.send(b"GET / HTTP/1.1\r\n\r\n")
check(junk.closed(60), "the TLS port kept a plain HTTP client")
for cmd in (["status"], ["peers", "alo"], ["peers", "tls"]):
    r = v.ctl(*cmd, timeout=60)
    check(r.returncode == 0, "smartsockctl %s: %r" % (cmd, r))

step("reload: one socket removed, one added, one changed")
v.write_conf(v_sockets(True))
r = v.ctl("reload", timeout=60)
check(r.returncode == 0, "reload: %r" % (r,))
exchange(n, "alo", v, "alo", 50, "after-reload")

step("the peer daemon killed and restarted")
n.kill()
n.start()
wait_for(lambda: v.status_of("alo")["peers"] == 1 and
         v.status_of("tls")["peers"] == 1, 60, "peers back on V")
exchange(n, "alo", v, "alo", 50, "after-restart")
n.stop()

step("stop with SIGTERM: no memcheck error, no leak")
v.proc.send_signal(signal.SIGTERM)
try:
    rc = v.proc.wait(120)
except subprocess.TimeoutExpired:
    fail("smartsockd under valgrind did not stop")
with open(vlog) as f:
    report = f.read()
os.unlink(vlog)
check(rc == 0 and report.strip() == "",
      "smartsockd under valgrind exited %d:\n%s" % (rc, report))
passed("valgrind")
