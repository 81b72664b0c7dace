"""Limits per socket: max_peers (a raw peer over the limit is closed at
once, not by a timeout, logged and counted, the first ones keep working, a freed place is
taken again; a connect endpoint's connection counts too), max_clients (an
attach over it is refused with a clear message, counted; a freed place is
taken again), a reload that raises a limit, and the descriptor limit
logged at start with a warning when the limits obviously exceed it."""
from harness import (DATA, HELLO, Daemon, RawPeer, check, collect,
                     finish, frame, free_port, hello, passed, sock, spawn,
                     step, wait_apps, wait_for, wait_peers, CAT)

ID = [bytes([0x10 + i]) * 16 for i in range(4)]
# On the sockets whose peers are closed "at once": a hello and heartbeat
# timeout far longer than the test waits for a close, so a close it sees
# is the limit's doing (and silent raw peers are not dropped meanwhile).
LONG = {"heartbeat_timeout": "10m"}


def ports(n):
    got = []
    while len(got) < n:
        p = free_port()
        if p not in got:
            got.append(p)
    return got


def raw_peer(port, ident):
    """A raw aiomsg peer through its handshake."""
    p = RawPeer(port)
    f = p.read_frame()
    check(f is not None and f[0] == HELLO, "no HELLO from the daemon: %r" %
          (f,))
    p.send(hello(ident))
    return p


def data(payload):
    return frame(bytes((DATA,)) + payload)


lim_port, srv_port, both_port = ports(3)
d = Daemon({
    "lim": sock(bind="127.0.0.1:%d" % lim_port, max_peers=2, max_clients=2,
                **LONG),
    # both: its one connection is the one its connect endpoint makes
    "srv": sock(bind="127.0.0.1:%d" % srv_port),
    "both": sock(bind="127.0.0.1:%d" % both_port,
                 connect="127.0.0.1:%d" % srv_port, max_peers=1, **LONG),
})

step("the descriptor limit is logged at start")
check("descriptor limit (RLIMIT_NOFILE): soft " in d.log_text(),
      "no descriptor limit at start:\n" + d.log_text())
check("more than the soft limit" not in d.log_text(),
      "a warning for small limits:\n" + d.log_text())

step("max_peers = 2: two raw peers up, a third closed at once")
p1 = raw_peer(lim_port, ID[0])
p2 = raw_peer(lim_port, ID[1])
wait_peers(d, "lim", [ID[0].hex(), ID[1].hex()])
p3 = RawPeer(lim_port)
check(p3.closed(20), "a third peer over max_peers = 2 stays open")
p3.close()
d.wait_log("socket lim: closed connection from 127.0.0.1:")
check("max_peers (2) connections are open" in d.log_text(),
      "the rejection is not logged:\n" + d.log_text())
check(d.counter("lim", "rejected.max_peers") == 1, "rejected.max_peers")
check(d.counter("lim", "connections.accepted") == 2,
      "a rejected connection counted as accepted")

step("the first two keep working")
recv = d.cat_bg("recv", "lim", "-n", "2", "--timeout", "20")
wait_apps(d, "lim", 1)
p1.send(data(b"one"))
p2.send(data(b"two"))
check(sorted(collect(recv)) == ["one", "two"], "messages of the two peers")
r = d.cat("send", "lim", input=b"a\nb\n")
check(r.returncode == 0, "send: %r" % r)
got = []
for p in (p1, p2):
    f = p.read_until(DATA, 10)
    check(f is not None, "a peer under the limit got nothing")
    got.append(f[1][-1:])
check(sorted(got) == [b"a", b"b"], "round-robin to the two peers: %r" % got)

step("a closed peer frees its place")
p1.close()
wait_for(lambda: d.status_of("lim")["peers"] == 1, 10, "peer 1 to go")
p4 = raw_peer(lim_port, ID[2])
wait_peers(d, "lim", [ID[2].hex()])
check(d.counter("lim", "rejected.max_peers") == 1, "p4 was rejected")
p5 = RawPeer(lim_port)
check(p5.closed(20), "over the limit again, a peer stays open")
p5.close()
wait_for(lambda: d.counter("lim", "rejected.max_peers") == 2, 10,
         "rejected.max_peers to be 2")

step("max_peers = 1 with a connect endpoint up: an accepted peer is "
     "closed")
wait_for(lambda: d.status_of("both")["endpoints"][1]["state"] ==
         "connected", 10, "both's connect endpoint to be up")
p6 = RawPeer(both_port)
check(p6.closed(20), "an accepted peer next to the connect endpoint's "
      "connection stays open")
p6.close()
wait_for(lambda: d.counter("both", "rejected.max_peers") == 1, 10,
         "rejected.max_peers on both")
check(d.status_of("both")["endpoints"][1]["state"] == "connected",
      "the connect endpoint's connection suffered")

step("max_clients = 2: a third application is refused with a clear "
     "message")
# recv (above) has ended; two fresh ones wait
apps = [d.cat_bg("recv", "lim", "-n", "1", "--timeout", "30")
        for _ in range(2)]
wait_apps(d, "lim", 2)
r = d.cat("send", "lim", input=b"third\n")
err = r.stderr.decode()
check(r.returncode != 0 and
      "too many applications attached to the smart socket" in err,
      "a third application: exit %d, %r" % (r.returncode, err))
d.wait_log("refused: too many applications: socket lim has its "
           "max_clients of 2 attached")
check(d.counter("lim", "apps.refused_max_clients") == 1,
      "apps.refused_max_clients")
check(d.counter("lim", "apps.refused") == 0, "counted as an access refusal")

step("a detached application frees its place")
p2.send(data(b"for-one"))
p4.send(data(b"for-other"))
outs = [collect(a) for a in apps]
check(sorted(sum(outs, [])) == ["for-one", "for-other"], "apps: %r" % outs)
wait_apps(d, "lim", 0)
r = d.cat("send", "lim", input=b"fits\n")
check(r.returncode == 0, "an attach under the limit again: %r" % r)

step("a reload raises max_peers: the next peer stays")
d.write_conf({
    "lim": sock(bind="127.0.0.1:%d" % lim_port, max_peers=3, max_clients=2,
                **LONG),
    "srv": sock(bind="127.0.0.1:%d" % srv_port),
    "both": sock(bind="127.0.0.1:%d" % both_port,
                 connect="127.0.0.1:%d" % srv_port, max_peers=1, **LONG),
})
r = d.ctl("reload")
check(r.returncode == 0 and b"max_peers" in r.stdout, "reload: %r" % r)
p7 = raw_peer(lim_port, ID[3])
wait_peers(d, "lim", [ID[3].hex()])
check(d.counter("lim", "rejected.max_peers") == 2, "p7 was rejected")
for p in (p2, p4, p7):
    p.close()
d.stop()

step("limits beyond the descriptor limit: a warning at start")
big = Daemon({"big": sock(bind="127.0.0.1:%d" % free_port(),
                          max_peers=2000000000, max_clients=5)})
check("descriptor limit (RLIMIT_NOFILE)" in big.log_text() and
      "max_peers and max_clients allow about 2000000" in big.log_text() and
      "more than the soft limit" in big.log_text(),
      "no warning for max_peers = 2000000000:\n" + big.log_text())
big.stop()

passed("test_limits")
