"""smartsockd over TLS with the independent aiomsg peer
(../shared/tools/aiomsg-peer, Python's ssl module): the peer binding with
a certificate and smartsockd verifying it; smartsockd binding and the peer
connecting, verifying smartsockd by IP address and by host name, as a sink,
a source (both delivery guarantees) and an echo responder; the peer
refusing smartsockd's certificate and a plain peer on the TLS port."""
import re
import subprocess
import sys

import harness
import tlscerts
from harness import (AIOMSG_PEER, Daemon, cat_timeout, check, collect, finish,
                     free_port, head_lines, passed, send_lines, sock, step,
                     wait_apps, wait_for, wait_peers)

harness.need_shared()
tlscerts.need_openssl()
C = tlscerts.make()
PEER_HB = ["--heartbeat-interval", "0.5", "--heartbeat-timeout", "3"]
ID_ECHO = "e3" * 16
ID_SINK = "5e" * 16


def peer(role, port, *args, host="127.0.0.1", tls=True):
    """An aiomsg-peer over TLS: bind presents the server certificate,
    connect verifies against CA A (unless args say otherwise)."""
    t = []
    if tls and role == "bind":
        t = ["--tls", "true", "--tls-cert", C.server, "--tls-key",
             C.server_key]
    elif tls and "--tls-ca" not in args:
        t = ["--tls", "true", "--tls-ca", C.ca_a]
    elif tls:
        t = ["--tls", "true"]
    return harness.spawn([sys.executable, AIOMSG_PEER, "--role", role,
                          "--host", host, "--port", str(port)] + PEER_HB + t +
                         [str(a) for a in args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(p):
    """End a connect-role peer (it never exits while connected, see
    test_interop.py's read_lines); its stderr."""
    return head_lines(p, 0, 0)[1]


def tls_peer_of(d, name, cert_cn):
    """The one peer of socket `name` speaks TLS; its certificate's CN."""
    peers = d.ctl_json("peers", name)["peers"]
    check(len(peers) == 1 and re.match(r"^TLSv1\.[23] \S+$",
                                       peers[0].get("tls") or ""),
          "%s: not one TLS peer: %r" % (name, peers))
    check((peers[0]["peer_certificate"] is None) if cert_cn is None else
          cert_cn in (peers[0]["peer_certificate"] or ""),
          "%s: peer certificate %r" % (name, peers[0]))


def failures(d, name):
    return sum(v for k, v in d.status_of(name)["counters"].items()
               if k.startswith("tls.failed."))


ports = set()
while len(ports) < 4:
    ports.add(free_port())
p_src, p_in, p_out, p_echo = sorted(ports)
server_tls = {"tls": "on", "tls_cert": C.server, "tls_key": C.server_key}
d = Daemon({
    "from_peer": sock(connect="127.0.0.1:%d" % p_src, tls="on",
                      tls_ca=C.ca_a, resend_timeout="2s"),
    "in": sock(bind="127.0.0.1:%d" % p_in, resend_timeout="2s",
               **server_tls),
    "out": sock(bind="127.0.0.1:%d" % p_out, **server_tls),
    "echo": sock(bind="127.0.0.1:%d" % p_echo, **server_tls)})

# --- the peer binds with TLS -------------------------------------------------
step("aiomsg source (bind, TLS) -> smartsockd connect verifying it")
N = 30
recv = d.cat_bg("recv", "from_peer", "-n", str(N), "--timeout", "15")
src = peer("bind", p_src, "--behavior", "source", "--count", N,
           "--prefix", "b", "--linger", "3")
lines = collect(recv)
check(lines == ["b%d" % i for i in range(N)],
      "from a TLS aiomsg bind: rc %d, %r" % (recv.returncode, lines))
tls_peer_of(d, "from_peer", tlscerts.SERVER_CN)
check(d.counter("from_peer", "tls.handshakes") == 1,
      "from_peer: not one handshake")
finish(src, "aiomsg TLS source (bind)")

# --- the peer connects with TLS ----------------------------------------------
for host in ("127.0.0.1", "localhost"):
    step("smartsockd bind (TLS) -> aiomsg sink connecting to %s" % host)
    before = d.counter("out", "tls.handshakes")
    sink = peer("connect", p_out, "--behavior", "sink", "--count", N,
                "--identity", ID_SINK, host=host)
    wait_for(lambda: d.status_of("out")["peers"] == 1, 15,
             "the sink to connect over TLS via %s" % host)
    tls_peer_of(d, "out", None)
    send_lines(d, "out", ["%s-%d" % (host, i) for i in range(N)])
    lines, err = head_lines(sink, N)
    check(lines == ["%s-%d" % (host, i) for i in range(N)],
          "sink via %s got %r; stderr %s" % (host, lines, err))
    check(d.counter("out", "tls.handshakes") == before + 1,
          "one handshake for the sink via %s" % host)
    wait_for(lambda: d.status_of("out")["peers"] == 0, 15, "sink to go")

for delivery in ("at-most-once", "at-least-once"):
    step("aiomsg source (connect, TLS, %s) -> smartsockd bind" % delivery)
    # At-least-once: the peer lingers past its 5 s resend timer and the
    # app listens until 6 s (or more: patience) of silence, so a lost ACK
    # shows as a duplicate.
    alo = delivery == "at-least-once"
    recv = d.cat_bg("recv", "in", "--timeout", cat_timeout(6)) if alo else \
        d.cat_bg("recv", "in", "-n", str(N), "--timeout", "15")
    src = peer("connect", p_in, "--behavior", "source", "--count", N,
               "--delivery", delivery, "--prefix", delivery[:3],
               "--linger", "10")
    wait_for(lambda: d.status_of("in")["peers"] == 1, 15,
             "the %s source to connect" % delivery)
    tls_peer_of(d, "in", None)
    lines = collect(recv, 40)
    err = stop(src)
    check(lines == ["%s%d" % (delivery[:3], i) for i in range(N)],
          "%s source over TLS: %r; peer: %s" % (delivery, lines, err))
    wait_for(lambda: d.status_of("in")["peers"] == 0, 15, "source to go")

step("smartsockd bind (TLS) <-> aiomsg echo (connect)")
E = 20
echo = peer("connect", p_echo, "--behavior", "echo", "--count", E,
            "--identity", ID_ECHO, "--linger", "10")
wait_peers(d, "echo", [ID_ECHO])
recv = d.cat_bg("recv", "echo", "-n", str(E), "--identity", "--timeout", "15")
wait_apps(d, "echo", 1)
send_lines(d, "echo", ["e%d" % i for i in range(E)])
lines = collect(recv)
check(sorted(lines) == sorted(ID_ECHO + "\te%d" % i for i in range(E)),
      "echo over TLS: rc %d, %r" % (recv.returncode, lines))
stop(echo)

# --- refusals ----------------------------------------------------------------
# Python's asyncio drops the TLS alert when its handshake fails (a
# blocking ssl client sends it), so smartsockd sees the connection closed:
# any failure counter, not refused_by_peer.
step("an aiomsg peer trusting another CA refuses smartsockd's certificate")
before = failures(d, "out")
shakes = d.counter("out", "tls.handshakes")
bad = peer("connect", p_out, "--behavior", "sink", "--count", 1,
           "--tls-ca", C.ca_b)
wait_for(lambda: failures(d, "out") >= before + 2, 15,
         "smartsockd to count two refusals")
err = stop(bad)
check("certificate verify failed" in err, "the peer's stderr: %s" % err)
check(d.status_of("out")["peers"] == 0 and
      d.counter("out", "tls.handshakes") == shakes, "a refusing peer is up")

step("a plain aiomsg peer on the TLS port")
before = d.counter("out", "tls.failed.not_tls")
plain = peer("connect", p_out, "--behavior", "sink", "--count", 1, tls=False)
wait_for(lambda: d.counter("out", "tls.failed.not_tls") > before, 15,
         "smartsockd to count a plain peer")
stop(plain)
check(d.status_of("out")["peers"] == 0, "a plain peer is up on a TLS port")
check("TLS handshake with" in d.log_text(), "no handshake failure logged")

check(d.stop() == 0, "daemon did not stop cleanly")
passed("TLS interop with aiomsg-peer")
