"""TLS between smartsockd daemons and against plain peers, with certificates
made at test time (tlscerts.py): both directions over IPv4, IPv6 and a
server name; mutual TLS in every send mode and delivery guarantee; clients
refused (no certificate, another CA) while a good one on the same port
carries on; the server verified (wrong name, unknown CA, expired); TLS and
plain peers on each other's ports; minimum version and ciphers; broken
certificates refused by -t, at start and at reload; a certificate reload
seen by new connections while an old one keeps flowing; what status and
peers report."""
import re
import shutil
import signal
import ssl
import subprocess

import tlscerts
from harness import (CTL, HELLO, DATA, SMARTSOCKD, Daemon, RawPeer, cat_timeout,
                     check, check_conf, collect, fail, frame, free_port,
                     free_port6, hello, passed, patience, peers_up, send_lines,
                     sock, spawn, step, stream_lines, wait_apps, wait_for,
                     wait_peers)

tlscerts.need_openssl()
C = tlscerts.make()
ID_A = "a1" * 16
ID_B1, ID_B2, ID_B3 = "b1" * 16, "b2" * 16, "b3" * 16
ID_W1, ID_W2 = "c1" * 16, "c2" * 16
STAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
FAILED = ("tls.failed.not_tls", "tls.failed.verify",
          "tls.failed.no_certificate", "tls.failed.refused_by_peer",
          "tls.failed.other")


def server_tls(**k):
    return dict({"tls": "on", "tls_cert": C.server, "tls_key": C.server_key},
                **k)


def client_tls(**k):
    return dict({"tls": "on", "tls_ca": C.ca_a}, **k)


def with_client_cert(**k):
    return client_tls(tls_cert=C.client, tls_key=C.client_key, **k)


def addr(port):
    return "127.0.0.1:%d" % port


def endpoint(d, name):
    return d.status_of(name)["endpoints"][0]


def failures(d, name):
    return sum(d.counter(name, k) for k in FAILED)


def nothing_more(d, name, wait="500ms"):
    r = d.cat("recv", name, "-n", "1", "--timeout", wait)
    check(r.returncode == 1 and r.stdout == b"",
          "extra message on %s: %r" % (name, r.stdout))


def probe(port, maxv=None, ciphers=None):
    return tlscerts.probe(port, C.ca_a, maxv, ciphers)


def cert_entry(d, name, use):
    certs = (d.status_of(name)["tls"] or {}).get("certificates") or []
    found = [c for c in certs if c["use"] == use]
    check(len(found) == 1, "%s: one %r certificate: %r" % (name, use, certs))
    c = found[0]
    check(re.match(STAMP, c["not_before"]) and re.match(STAMP, c["not_after"])
          and c["file"] and c["issuer"], "%s: certificate %r" % (name, c))
    return c


def conf_line(d, key):
    """`CONF:LINE:` of the first `key = ...` line of a daemon's config."""
    with open(d.conf) as f:
        for i, line in enumerate(f, 1):
            if line.startswith(key + " ="):
                return "%s:%d:" % (d.conf, i)
    fail("no %s in %s" % (key, d.conf))


# --- both directions, every kind of endpoint ---------------------------------
step("TLS both ways: IPv4, a server name, IPv6")
p, pplain, p6 = free_port(), free_port(), free_port6()
a = Daemon({"link": sock(bind=[addr(p)] + (["[::1]:%d" % p6] if p6 else []),
                         identity=ID_A, **server_tls()),
            "plain": sock(bind=addr(pplain))})
outs = {"ip": (ID_B1, sock(connect=addr(p), identity=ID_B1, **client_tls())),
        "name": (ID_B2, sock(connect=addr(p), identity=ID_B2,
                             **client_tls(tls_server_name="localhost")))}
if p6:
    outs["ip6"] = (ID_B3, sock(connect="[::1]:%d" % p6, identity=ID_B3,
                               **client_tls()))
else:
    print("note: no ::1 here, IPv6 part not run")
b = Daemon(dict({k: v[1] for k, v in outs.items()},
                toplain=sock(connect=addr(pplain), **client_tls())))
wait_peers(a, "link", [v[0] for v in outs.values()])
N = 20
recv = a.cat_bg("recv", "link", "-n", str(N * len(outs)), "--timeout", "15")
for name in outs:
    send_lines(b, name, ["%s-%d" % (name, i) for i in range(N)])
got = collect(recv)
check(sorted(got) == sorted("%s-%d" % (n, i) for n in outs for i in range(N)),
      "B -> A over TLS: %r" % got)
for name, (ident, _) in outs.items():
    r = a.cat("send", "link", "--to", ident, "back-" + name)
    check(r.returncode == 0, "send --to %s: %r" % (name, r))
    r = b.cat("recv", name, "-n", "1", "--timeout", "10")
    check(r.stdout.decode() == "back-%s\n" % name, "A -> B %s: %r" % (name, r))

step("status and peers of TLS and plain sockets")
st = a.status_of("link")
check("tls" in st, "no tls in status: %r" % st)
tls = st["tls"] or {}
check(tls.get("min_version") == "1.2" and tls.get("verify_client") is False,
      "A's tls: %r" % tls)
c = cert_entry(a, "link", "cert")
check("CN=" + tlscerts.SERVER_CN in c["subject"] and tlscerts.CA_A_CN in
      c["issuer"] and c["not_after"] == tlscerts.not_after(C.server) and
      c["file"] == C.server, "A's certificate: %r" % c)
check(a.status_of("plain")["tls"] is None, "a plain socket's tls is not null")
check(a.counter("link", "tls.handshakes") == len(outs) and
      failures(a, "link") == 0, "A's counters: %r" % st["counters"])
for pe in a.ctl_json("peers", "link")["peers"]:
    check(re.match(r"^TLSv1\.[23] \S+$", pe.get("tls") or "") and
          pe.get("peer_certificate", "x") is None, "A's peer: %r" % pe)
for name in outs:
    c = cert_entry(b, name, "ca")
    check(tlscerts.CA_A_CN in c["subject"] and c["file"] == C.ca_a,
          "B's CA on %s: %r" % (name, c))
    check(b.counter(name, "tls.handshakes") == 1, "B %s handshakes" % name)
    pe = b.ctl_json("peers", name)["peers"]
    check(len(pe) == 1 and pe[0]["tls"].startswith("TLSv1.") and
          tlscerts.SERVER_CN in (pe[0]["peer_certificate"] or ""),
          "B's peer on %s: %r" % (name, pe))

step("a plain peer on a TLS port is closed; TLS on the port carries on")
raw = RawPeer(p)
raw.send(hello(bytes.fromhex("99" * 16)))
check(raw.closed(10), "a plain HELLO on a TLS port was not closed")
raw.close()
wait_for(lambda: a.counter("link", "tls.failed.not_tls") == 1, 10,
         "tls.failed.not_tls on A")
check("TLS handshake" in a.log_text(), "no TLS handshake failure logged")
send_lines(b, "ip", ["after-plain"])
r = a.cat("recv", "link", "-n", "1", "--timeout", "10")
check(r.stdout == b"after-plain\n", "TLS after a plain peer: %r" % (r,))

step("TLS to a plain port: refused, retried; the plain side serves on")
wait_for(lambda: endpoint(b, "toplain")["failures"] >= 2, 15,
         "B's retries on a plain port")
check(endpoint(b, "toplain")["state"] != "connected" and
      failures(b, "toplain") >= 1 and not peers_up(b, "toplain"),
      "B on a plain port: %r" % b.status_of("toplain"))
check("TLS" in "\n".join(l for l in a.log_text().splitlines()
                         if "socket plain" in l), "A did not log the TLS")
raw = RawPeer(pplain)
raw.send(hello(bytes.fromhex("98" * 16)) + frame(bytes((DATA,)) + b"plain"))
check(raw.read_until(HELLO) is not None, "no HELLO on the plain port")
r = a.cat("recv", "plain", "-n", "1", "--timeout", "10")
check(r.stdout == b"plain\n" and a.proc.poll() is None,
      "plain peer after TLS attempts: %r" % (r,))
raw.close()
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")


# --- mutual TLS in every mode ------------------------------------------------
def mutual_pair(a_keys, w1_keys=None):
    """A binds `work` requiring client certificates from CA A; B's w1 and
    w2 connect with them."""
    port = free_port()
    a = Daemon({"work": sock(bind=addr(port), identity=ID_A,
                             **server_tls(tls_verify_client="on", **a_keys))})
    b = Daemon({"w1": sock(connect=addr(port), identity=ID_W1,
                           **with_client_cert(**(w1_keys or {}))),
                "w2": sock(connect=addr(port), identity=ID_W2,
                           **with_client_cert())})
    wait_peers(a, "work", [ID_W1, ID_W2])
    wait_peers(b, "w1", [ID_A])
    wait_peers(b, "w2", [ID_A])
    for pe in a.ctl_json("peers", "work")["peers"]:
        check(tlscerts.CLIENT_CN in (pe["peer_certificate"] or ""),
              "A does not show the client certificate: %r" % pe)
    check(a.status_of("work")["tls"]["verify_client"] is True,
          "verify_client in status")
    return a, b


step("mutual TLS, round-robin at-most-once (tls_client_ca)")
a, b = mutual_pair({"tls_client_ca": C.ca_a})
check(cert_entry(a, "work", "client_ca")["file"] == C.ca_a, "client_ca")
r1 = b.cat_bg("recv", "w1", "-n", "5", "--timeout", "10")
r2 = b.cat_bg("recv", "w2", "-n", "5", "--timeout", "10")
msgs = ["rr%d" % i for i in range(10)]
send_lines(a, "work", msgs)
l1, l2 = collect(r1), collect(r2)
check(len(l1) == 5 and len(l2) == 5 and sorted(l1 + l2) == sorted(msgs),
      "round-robin over mutual TLS: %r / %r" % (l1, l2))
nothing_more(b, "w1")
nothing_more(b, "w2")
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")

step("mutual TLS, publish at-most-once (client CA from tls_ca), TLS 1.3")
a, b = mutual_pair({"tls_ca": C.ca_a, "send_mode": "publish",
                    "tls_min_version": "1.3"})
check(a.status_of("work")["tls"]["min_version"] == "1.3", "min_version 1.3")
r1 = b.cat_bg("recv", "w1", "-n", "10", "--timeout", "10")
r2 = b.cat_bg("recv", "w2", "-n", "10", "--timeout", "10")
msgs = ["pub%d" % i for i in range(10)]
send_lines(a, "work", msgs)
check(collect(r1) == msgs and collect(r2) == msgs, "publish over mutual TLS")
check(all(pe["tls"].startswith("TLSv1.3 ")
          for pe in a.ctl_json("peers", "work")["peers"]), "not TLS 1.3")
nothing_more(b, "w1")
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")

step("mutual TLS, round-robin at-least-once both ways")
a, b = mutual_pair({"tls_client_ca": C.ca_a, "delivery": "at-least-once"},
                   {"delivery": "at-least-once"})
N = 200
# Each takes its half; then 2 s of silence (4 resend_timeouts) must bring
# no duplicate.
r1 = b.cat_bg("recv", "w1", "-n", str(N // 2), "--timeout", cat_timeout(10))
r2 = b.cat_bg("recv", "w2", "-n", str(N // 2), "--timeout", cat_timeout(10))
msgs = ["alo%d" % i for i in range(N)]
send_lines(a, "work", msgs)
l1, l2 = collect(r1), collect(r2)
nothing_more(b, "w1", "2s")
nothing_more(b, "w2", "2s")
check(sorted(l1 + l2) == sorted(msgs) and len(l1) == len(l2) == N // 2,
      "at-least-once A -> B: %d + %d of %d, %d distinct; A resent %d" %
      (len(l1), len(l2), N, len(set(l1 + l2)), a.counter("work",
                                                         "alo.resends")))
ra = a.cat_bg("recv", "work", "-n", str(N), "--timeout", cat_timeout(10))
wait_apps(a, "work", 1)
send_lines(b, "w1", ["back%d" % i for i in range(N)])
got = collect(ra)
nothing_more(a, "work", "2s")
check(got == ["back%d" % i for i in range(N)],
      "at-least-once B -> A: %d lines, %d distinct; B resent %d" %
      (len(got), len(set(got)), b.counter("w1", "alo.resends")))
check(a.counter("work", "messages.in") == N, "A's messages.in")
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")
check("gave up on a message" not in a.log_text() + b.log_text(), "lost ACKs")

# --- refused clients and unverified servers ----------------------------------
step("mutual TLS refuses a client without a certificate and one from CA B")
port = free_port()
a = Daemon({"work": sock(bind=addr(port), **server_tls(
    tls_verify_client="on", tls_client_ca=C.ca_a))})
b = Daemon({"good": sock(connect=addr(port), identity=ID_W1,
                         **with_client_cert())})
wait_peers(a, "work", [ID_W1])
s_port = free_port()
spawn(["openssl", "s_server", "-quiet", "-accept", addr(s_port), "-cert",
       C.expired, "-key", C.expired_key], stdin=subprocess.DEVNULL,
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
bad = Daemon({
    "nocert": sock(connect=addr(port), **client_tls()),
    "wrongca": sock(connect=addr(port), **client_tls(
        tls_cert=C.client_b, tls_key=C.client_b_key)),
    "badname": sock(connect=addr(port), **with_client_cert(
        tls_server_name="wrong.example")),
    "unknownca": sock(connect=addr(port), **with_client_cert(tls_ca=C.ca_b)),
    "expired": sock(connect=addr(s_port), **with_client_cert())})
for name in bad.sockets:
    send_lines(bad, name, ["from-" + name])
send_lines(b, "good", ["good-%d" % i for i in range(10)])
wait_for(lambda: a.counter("work", "tls.failed.no_certificate") >= 2 and
         a.counter("work", "tls.failed.verify") >= 2, 15,
         "A to refuse both bad clients twice")
wait_for(lambda: all(endpoint(bad, n)["failures"] >= 2 for n in bad.sockets),
         15, "every bad connector to fail twice")
# (Refused clients are not asked for a tls.failed count: under TLS 1.3
# the server's alert comes after the client's handshake is done and is
# often lost to the close, leaving "closed by the peer".)
for name in bad.sockets:
    check(endpoint(bad, name)["state"] != "connected" and
          not peers_up(bad, name), "%s: %r" % (name, bad.status_of(name)))
for name in ("badname", "unknownca", "expired"):
    check(bad.counter(name, "tls.failed.verify") >= 1,
          "%s: the server certificate was not refused: %r" %
          (name, bad.status_of(name)["counters"]))
check(a.counter("work", "tls.failed.refused_by_peer") >= 1,
      "A never saw a client refuse its certificate")
log = a.log_text()
check("TLS handshake with" in log and "certificate" in log,
      "A's log of refused clients:\n" + log)
send_lines(b, "good", ["good-%d" % i for i in range(10, 20)])
r = a.cat("recv", "work", "-n", "20", "--timeout", "10")
check(r.stdout.decode().splitlines() == ["good-%d" % i for i in range(20)],
      "the good client meanwhile: %r" % r.stdout)
nothing_more(a, "work")
check(a.counter("work", "messages.in") == 20 and
      a.status_of("work")["peers"] == 1 and
      b.counter("good", "connections.connected") == 1,
      "A accepted a bad client, or the good one reconnected")
check(a.stop() == 0 and b.stop() == 0 and bad.stop() == 0,
      "daemons did not stop cleanly")

# --- versions and ciphers ----------------------------------------------------
step("tls_min_version and tls_ciphers, seen by a Python client")
p13, p12 = free_port(), free_port()
cipher = "ECDHE-ECDSA-AES128-GCM-SHA256"
a = Daemon({"v13": sock(bind=addr(p13), **server_tls(tls_min_version="1.3")),
            "c12": sock(bind=addr(p12), **server_tls(tls_ciphers=cipher))})
got = probe(p13)
check(got[1:2] == ("TLSv1.3",), "tls_min_version = 1.3: %r" % (got,))
got = probe(p13, ssl.TLSVersion.TLSv1_2)
check(got[0] is None, "a TLS 1.2 client got through 1.3 only: %r" % (got,))
got = probe(p12, ssl.TLSVersion.TLSv1_2)
check(got[1:] == ("TLSv1.2", cipher), "tls_ciphers = %s: %r" % (cipher, got))
got = probe(p12, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305")
check(got[0] is None, "a cipher outside tls_ciphers: %r" % (got,))
check(a.stop() == 0, "daemon did not stop cleanly")

# --- broken certificates -----------------------------------------------------
step("smartsockd -t and start refuse broken certificates, naming the key")
for what, keys, key in (
        ("missing cert", {"tls_cert": C.dir + "/none.pem"}, "tls_cert"),
        ("missing key", {"tls_key": C.dir + "/none.key"}, "tls_key"),
        ("key not matching", {"tls_key": C.wrong_key}, "tls_key"),
        ("expired cert", {"tls_cert": C.expired, "tls_key": C.expired_key},
         "tls_cert"),
        ("missing CA", {"tls_verify_client": "on",
                        "tls_client_ca": C.dir + "/none-ca.pem"},
         "tls_client_ca")):
    d = Daemon({"s": sock(bind=addr(free_port()), **server_tls(**keys))},
               start=False)
    r = check_conf(d.conf)
    check(r.returncode != 0 and conf_line(d, key).encode() in r.stderr,
          "-t with %s: want %s in %r" % (what, conf_line(d, key), r))
r = subprocess.run([SMARTSOCKD, "-f", "-c", d.conf], capture_output=True,
                   timeout=patience(10))
check(r.returncode != 0 and conf_line(d, "tls_client_ca").encode() in
      r.stderr, "start with a missing CA: %r" % (r,))
d = Daemon({"s": sock(bind=addr(free_port()), send_mode="publish",
                      delivery="at-least-once", **server_tls())}, start=False)
check(check_conf(d.conf).returncode != 0, "publish + at-least-once accepted")

# --- reloading certificates --------------------------------------------------
step("reload: new connections get the new certificate, the old one flows")
port = free_port()
a = Daemon({"svc": sock(bind=addr(port), identity=ID_A, **server_tls(
    tls_cert="cert.pem", tls_key="key.pem"))}, start=False)


def install(cert, key):
    shutil.copy(key, a.dir + "/key.pem")
    shutil.copy(cert, a.dir + "/cert.pem")


install(C.server, C.server_key)
check(check_conf(a.conf).returncode == 0, "relative certificate paths")
a.start()
b = Daemon({"svc": sock(connect=addr(port), identity=ID_B1, **client_tls())})
wait_peers(a, "svc", [ID_B1])
got = probe(port)
check(got[0] == tlscerts.SERVER_CN, "before reload: %r" % (got,))
check(cert_entry(a, "svc", "cert")["file"] == a.dir + "/cert.pem",
      "relative path not made absolute")
# B's connection as A sees it: its address (B's port) names it.
conn = [x["address"] for x in a.ctl_json("peers", "svc")["peers"]]


def flows(tag, n=10):
    msgs = ["%s-%d" % (tag, i) for i in range(n)]
    send_lines(b, "svc", msgs)
    r = a.cat("recv", "svc", "-n", str(n), "--timeout", "10")
    check(r.stdout.decode().splitlines() == msgs, "%s: %r" % (tag, r))
    peers = [x["address"] for x in a.ctl_json("peers", "svc")["peers"]]
    counters = b.status_of("svc")["counters"]
    check(peers == conn and counters["connections.connected"] == 1 and
          counters["tls.handshakes"] == 1, "%s: B reconnected (was %r): "
          "%r %r" % (tag, conn, peers, counters))


flows("before")
done = stream_lines(b, "svc", a, "svc", 300)
wait_for(lambda: a.counter("svc", "messages.in") >= 20, 10, "the stream")
install(C.server2, C.server2_key)
r = subprocess.run([CTL, "-c", a.conf, "reload"], capture_output=True,
                   timeout=patience(30))
check(r.returncode == 0, "reload with a new certificate: %r" % (r,))
a.wait_log("reload: generation 2")
done()
c = cert_entry(a, "svc", "cert")
check(tlscerts.SERVER2_CN in c["subject"] and
      c["not_after"] == tlscerts.not_after(C.server2), "after reload: %r" % c)
got = probe(port)
check(got[0] == tlscerts.SERVER2_CN, "a new connection after reload: %r" %
      (got,))
flows("after")

step("reload with an expired certificate: refused, the running one stays")
install(C.expired, C.expired_key)
r = a.ctl("reload")
check(r.returncode == 1 and conf_line(a, "tls_cert").encode() in r.stderr
      and b"expired" in r.stderr, "reload, expired certificate: %r" % (r,))
dm = a.ctl_json("status")["daemon"]
check(dm["generation"] == 2 and
      conf_line(a, "tls_cert") in (dm["last_reload_error"] or ""),
      "status after a refused reload: %r" % dm)
got = probe(port)
check(got[0] == tlscerts.SERVER2_CN, "after a refused reload: %r" % (got,))
flows("refused")

step("SIGHUP reads the files again")
install(C.server, C.server_key)
a.proc.send_signal(signal.SIGHUP)
a.wait_log("reload: generation 3")
check(probe(port)[0] == tlscerts.SERVER_CN and tlscerts.SERVER_CN in
      cert_entry(a, "svc", "cert")["subject"], "after SIGHUP")
flows("hup")
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")

step("a TLS connect to a closed port fails in TCP, not in TLS")
d = Daemon({"dead": sock(connect=addr(free_port()), **client_tls())})
wait_for(lambda: endpoint(d, "dead")["failures"] >= 2, 10, "retries")
check("refused" in (endpoint(d, "dead")["last_error"] or "") and
      failures(d, "dead") == 0, "a closed port: %r" % d.status_of("dead"))
check(d.stop() == 0, "daemon did not stop cleanly")
passed("tls")
