"""Routes (forward =, forward_replies =): the example configurations of
conf/examples/ run as their comments document, a fan-out to five
subscribers, a work queue with buffering and at-least-once, a
request/reply broker pairing every reply with its requester, the reply
rule's edges (unanswered, lost, not a reply), back-pressure through a
route, and routes changed by reload."""

import os
import re
import subprocess
import threading
import time

from harness import (passed, DATA, HELLO, SRC, Daemon, RawPeer, cat_timeout,
                     check, collect, fail, frame, free_port, hello, patience,
                     send_lines, sock, step, wait_for)

EXAMPLES = os.path.join(SRC, "conf", "examples")
EXAMPLE_PORTS = range(25100, 25106)


def example(name, ports):
    """A daemon running conf/examples/NAME.conf unchanged but for its
    ports (example port -> free port) and runtime_dir (a temp dir)."""
    with open(os.path.join(EXAMPLES, name + ".conf")) as f:
        text = f.read()
    d = Daemon({}, start=False)
    text, n = re.subn(r"(?m)^runtime_dir = .*$", "runtime_dir = " + d.runtime,
                      text)
    check(n == 1, "%s.conf: no runtime_dir line" % name)
    for old, new in ports.items():
        text = text.replace("127.0.0.1:%d" % old, "127.0.0.1:%d" % new)
    with open(d.conf, "w") as f:
        f.write(text)
    return d.start()


def npeers(d, name):
    return d.status_of(name)["peers"]


def wait_npeers(d, name, n):
    wait_for(lambda: npeers(d, name) == n, 10,
             "%d peers on socket %s" % (n, name))


def route(d, name, to):
    for r in d.status_of(name)["routes"]:
        if r["to"] == to:
            return r
    fail("socket %s has no route to %s: %r" % (name, to,
                                                d.status_of(name)))


class Taker:
    """smartsock-cat recv on a socket, taking what comes (its lines read
    by a thread) until stop(), which returns them."""

    def __init__(self, d, name):
        self.p = d.cat_bg("recv", name)
        self.lines = []
        self.t = threading.Thread(target=lambda: self.lines.extend(
            l.decode().rstrip("\n") for l in self.p.stdout), daemon=True)
        self.t.start()

    def stop(self):
        self.p.terminate()
        self.p.wait(patience(10))
        self.t.join(patience(10))
        return self.lines


def take_all(takers, n, d, name, what):
    """Wait until the takers got n messages in all and socket name of d has
    every one acknowledged (each taker confirmed what it took: no resend
    can follow); stop them; their lines."""
    wait_for(lambda: sum(len(t.lines) for t in takers) >= n, 20,
             "%d %s to arrive" % (n, what))
    wait_for(lambda: d.status_of(name)["awaiting_ack"] == 0, 20,
             "the %s to be acknowledged" % what)
    return [t.stop() for t in takers]


def recv_lines(proc, what):
    lines = collect(proc, 60)
    check(proc.returncode in (0, 1), "%s: recv exit %d" %
          (what, proc.returncode))
    return lines


ports = {p: free_port() for p in EXAMPLE_PORTS}
P = {name: ports[25100 + i] for i, name in enumerate(
    ("ingest", "fanout", "jobs", "workers", "frontend", "backend"))}

# --- fan-out ------------------------------------------------------------------
step("fanout.conf as documented")
fan = example("fanout", ports)
clients = example("clients", ports)
wait_npeers(fan, "ingest", 1)
wait_npeers(fan, "fanout", 1)
r = clients.cat_bg("recv", "subscriber", "-n", "1", "--timeout", "10")
send_lines(clients, "publisher", ["hello"])
check(recv_lines(r, "subscriber") == ["hello"], "the subscriber missed hello")

step("fan-out: one publisher, five subscribers")
subs = Daemon({"s%d" % i: sock(connect="127.0.0.1:%d" % P["fanout"])
               for i in range(5)})
wait_npeers(fan, "fanout", 6)
recvs = [subs.cat_bg("recv", "s%d" % i, "-n", "200", "--timeout", "20")
         for i in range(5)]
recvs.append(clients.cat_bg("recv", "subscriber", "-n", "200", "--timeout",
                            "20"))
msgs = ["f%d" % i for i in range(200)]
send_lines(clients, "publisher", msgs)
for i, p in enumerate(recvs):
    got = recv_lines(p, "subscriber %d" % i)
    check(got == msgs, "subscriber %d: %d of 200, ends %r" %
          (i, len(got), got[-3:]))
r = route(fan, "ingest", "fanout")
check(r["forwarded"] == 201 and r["dropped"] == 0 and
      not r["forward_replies"], "fan-out route counters: %r" % r)
check(fan.status_of("ingest")["counters"]["apps.attached"] == 0,
      "nothing attaches to the fan-out daemon")
subs.stop()
fan.stop()

# --- work queue -----------------------------------------------------------------
step("workqueue.conf as documented")
wq = example("workqueue", ports)
wait_npeers(wq, "jobs", 1)
wait_npeers(wq, "workers", 1)
r = clients.cat_bg("recv", "worker", "-n", "2", "--timeout", "10")
send_lines(clients, "producer", ["job1", "job2"])
check(recv_lines(r, "worker") == ["job1", "job2"], "the worker missed jobs")

step("work queue: jobs wait for workers, then each goes to one worker")
prod = Daemon({"p%d" % i: sock(connect="127.0.0.1:%d" % P["jobs"],
                               delivery="at-least-once") for i in range(2)})
wait_npeers(wq, "jobs", 3)
clients.stop()                  # its worker leaves: no worker at all
wait_npeers(wq, "workers", 0)
jobs = {i: ["p%d-j%d" % (i, k) for k in range(150)] for i in range(2)}
for i in range(2):
    send_lines(prod, "p%d" % i, jobs[i])
wait_for(lambda: wq.status_of("workers")["queued_to_send"] == 300, 10,
         "300 jobs queued for workers")
workers = Daemon({"w%d" % i: sock(connect="127.0.0.1:%d" % P["workers"])
                  for i in range(3)})
takers = [Taker(workers, "w%d" % i) for i in range(3)]
got = take_all(takers, 300, wq, "workers", "queued jobs")
everything = sorted(sum(got, []))
check(everything == sorted(jobs[0] + jobs[1]),
      "queued jobs: %d received, %d distinct, of 300" %
      (len(everything), len(set(everything))))
for i in range(2):
    mine = [j for g in got for j in g if j.startswith("p%d-" % i)]
    per_worker = [[j for j in g if j.startswith("p%d-" % i)] for g in got]
    for w in per_worker:
        check(w == sorted(w, key=lambda j: int(j.split("j")[1])),
              "producer %d's jobs out of order at a worker" % i)
    check(len(mine) == 150, "producer %d: %d jobs" % (i, len(mine)))

step("work queue: with three workers up, round-robin shares the jobs")
wait_npeers(wq, "workers", 3)
takers = [Taker(workers, "w%d" % i) for i in range(3)]
more = ["m%d" % k for k in range(300)]
send_lines(prod, "p0", more)
got = take_all(takers, 300, wq, "workers", "more jobs")
check(sorted(sum(got, [])) == sorted(more), "300 more jobs: %d arrived" %
      len(sum(got, [])))
check(all(len(g) > 0 for g in got), "a worker got no job: %r" %
      [len(g) for g in got])
r = route(wq, "jobs", "workers")
check(r["forwarded"] == 602 and r["dropped"] == 0,
      "work queue route counters: %r" % r)
check(wq.counter("jobs", "alo.acks_out") >= 600,
      "the producers' jobs were not acknowledged: %r" %
      wq.status_of("jobs")["counters"])
check(wq.status_of("workers")["awaiting_ack"] == 0,
      "jobs still awaiting a worker's ACK")
workers.stop()
prod.stop()
wq.stop()

# --- request/reply broker ---------------------------------------------------------
step("broker.conf as documented")
br = example("broker", ports)
clients = example("clients", ports)
wait_npeers(br, "frontend", 1)
wait_npeers(br, "backend", 1)
echo = clients.cat_bg("echo", "server")
send_lines(clients, "client", ["ping"])
r = clients.cat("recv", "client", "-n", "1", "--timeout", "10")
check(r.returncode == 0 and r.stdout == b"ping\n",
      "the documented round trip: %r %r" % (r.stdout, r.stderr))

step("broker: four requesters, four workers, each reply to its requester")
reqs = Daemon({"c%d" % i: sock(connect="127.0.0.1:%d" % P["frontend"])
               for i in range(4)})
wks = Daemon({"w%d" % i: sock(connect="127.0.0.1:%d" % P["backend"])
              for i in range(3)})
wait_npeers(br, "frontend", 5)
wait_npeers(br, "backend", 4)
echoes = [wks.cat_bg("echo", "w%d" % i) for i in range(3)]
recvs = [reqs.cat_bg("recv", "c%d" % i, "-n", "100", "--timeout", "20")
         for i in range(4)]
asked = {i: ["c%d-r%d" % (i, k) for k in range(100)] for i in range(4)}
senders = [reqs.cat_bg("send", "c%d" % i, stdin=subprocess.PIPE)
           for i in range(4)]
for i, s in enumerate(senders):
    s.stdin.write("".join(m + "\n" for m in asked[i]).encode())
    s.stdin.close()
for s in senders:
    check(s.wait(30) == 0, "a requester's send failed")
for i, p in enumerate(recvs):
    got = recv_lines(p, "requester %d" % i)
    check(sorted(got) == sorted(asked[i]),
          "requester %d got %d replies, %d of them its own" %
          (i, len(got), len(set(got) & set(asked[i]))))
r = route(br, "frontend", "backend")
check(r["forward_replies"] and r["forwarded"] == 401 and
      r["replies"] == 401 and r["replies_lost"] == 0 and
      r["awaiting_reply"] == 0 and r["unanswered"] == 0,
      "broker route counters: %r" % r)
show = br.ctl("status").stdout.decode()
check("-> backend: 401 forwarded, 0 dropped" in show and
      "401 replies back, 0 lost, 0 awaited, 0 unanswered" in show,
      "smartsockctl status shows no route:\n" + show)
for p in echoes + [echo]:
    p.kill()
    p.wait(10)
wks.stop()
reqs.stop()
clients.stop()
br.stop()

# --- the reply rule at its edges ----------------------------------------------------
step("replies: not a reply, unanswered, lost")
pf, pb = free_port(), free_port()
br = Daemon({"front": sock(bind="127.0.0.1:%d" % pf, forward="back",
                           forward_replies="on"),
             "back": sock(bind="127.0.0.1:%d" % pb)})
rq = Daemon({"c": sock(connect="127.0.0.1:%d" % pf)})
wait_npeers(br, "front", 1)
wk = RawPeer(pb)
wk.send(hello(b"\x07" * 16))
check(wk.read_frame()[0] == HELLO, "no HELLO from the broker")
wait_npeers(br, "back", 1)
# Nothing recorded on the worker's connection: not a reply, it goes to
# the back socket's application.
app = br.cat_bg("recv", "back", "-n", "1", "--timeout", "10")
wk.send(frame(bytes((DATA,)) + b"unsolicited"))
check(recv_lines(app, "back's application") == ["unsolicited"],
      "a message with no request outstanding did not reach the application")
send_lines(rq, "c", ["q1", "q2", "q3"])
seen = []
while len(seen) < 3:
    f = wk.read_frame()
    check(f is not None, "the worker's connection closed")
    if f[0] == DATA:
        seen.append(f[1])
check(seen == [b"q1", b"q2", b"q3"], "the worker got %r" % seen)
r = rq.cat_bg("recv", "c", "-n", "1", "--timeout", "10")
wk.send(frame(bytes((DATA,)) + b"a1"))
check(recv_lines(r, "requester") == ["a1"], "the reply to q1 did not come back")
wait_for(lambda: route(br, "front", "back")["awaiting_reply"] == 2, 10,
         "two replies awaited")
pw = br.ctl_json("peers", "back")["peers"]
check(len(pw) == 1 and pw[0]["awaiting_replies"] == 2,
      "the worker's connection in peers: %r" % pw)
# The requester leaves; its second reply has nowhere to go.
rq.stop()
wait_npeers(br, "front", 0)
wk.send(frame(bytes((DATA,)) + b"a2"))
wait_for(lambda: route(br, "front", "back")["replies_lost"] == 1, 10,
         "a lost reply counted")
# The worker leaves with q3 unanswered.
wk.close()
wait_for(lambda: route(br, "front", "back")["unanswered"] == 1, 10,
         "an unanswered request counted")
r = route(br, "front", "back")
check(r["forwarded"] == 3 and r["replies"] == 1 and
      r["awaiting_reply"] == 0, "edge counters: %r" % r)
br.wait_log("could not go back")
br.stop()

# --- back-pressure through a route ---------------------------------------------------
step("back-pressure: a full target stops the source, nothing is lost")
pa, pb = free_port(), free_port()
hub = Daemon({"a": sock(bind="127.0.0.1:%d" % pa, forward="b",
                        delivery="at-least-once", recv_buffer="20"),
              "b": sock(bind="127.0.0.1:%d" % pb, send_buffer="10",
                        overflow="block", delivery="at-least-once")})
edge = Daemon({"x": sock(connect="127.0.0.1:%d" % pa,
                         delivery="at-least-once")})
wait_npeers(hub, "a", 1)
many = ["bp%d" % i for i in range(300)]
send_lines(edge, "x", many)
wait_for(lambda: hub.status_of("b")["queued_to_send"] == 10 and
         hub.status_of("a")["waiting_for_app"] >= 20, 10,
         "b full (10) and a holding its receive buffer")
hub.wait_log("not reading from peers")
sink = Daemon({"y": sock(connect="127.0.0.1:%d" % pb)})
r = sink.cat_bg("recv", "y", "-n", "300", "--timeout", "30")
got = recv_lines(r, "sink")
check(got == many, "through a blocked route: %d of 300, ends %r" %
      (len(got), got[-3:]))
check(route(hub, "a", "b")["dropped"] == 0, "the route dropped messages")
sink.stop()
edge.stop()
hub.stop()

# --- reload ------------------------------------------------------------------------------
step("reload: routes added, kept with their counters, removed; loops refused")
pa, pb = free_port(), free_port()
socks = {"a": sock(bind="127.0.0.1:%d" % pa),
         "b": sock(bind="127.0.0.1:%d" % pb)}
hub = Daemon(dict(socks))
edge = Daemon({"x": sock(connect="127.0.0.1:%d" % pa),
               "y": sock(connect="127.0.0.1:%d" % pb)})
wait_npeers(hub, "a", 1)
wait_npeers(hub, "b", 1)
check(hub.status_of("a")["routes"] == [], "a route before any forward")


def lands(msg):
    """Send msg from x; where does it arrive: 'a' (a's app) or 'y'?  Once
    it arrived at one, the other has a moment more to get a copy."""
    ra = hub.cat_bg("recv", "a", "-n", "1", "--timeout", cat_timeout(20))
    ry = edge.cat_bg("recv", "y", "-n", "1", "--timeout", cat_timeout(20))
    send_lines(edge, "x", [msg])
    wait_for(lambda: ra.poll() is not None or ry.poll() is not None, 30,
             "%s to arrive at a or y" % msg)
    time.sleep(0.5)
    for p in (ra, ry):
        if p.poll() is None:
            p.terminate()
    at_a, at_y = [[l for l in p.communicate(timeout=patience(10))[0].decode()
                   .splitlines()] for p in (ra, ry)]
    check((at_a, at_y) in (([msg], []), ([], [msg])),
          "%s arrived at a %r and y %r" % (msg, at_a, at_y))
    return "a" if at_a else "y"


check(lands("m1") == "a", "without a route, a's application gets it")
socks["a"] = dict(socks["a"], forward="b")
hub.write_conf(socks)
r = hub.ctl("reload")
check(r.returncode == 0, "reload adding a route: %r" % r.stderr)
check(lands("m2") == "y", "with forward = b, y gets it")
socks["b"] = dict(socks["b"], heartbeat_interval="400ms")
hub.write_conf(socks)
check(hub.ctl("reload").returncode == 0, "an unrelated reload")
check(route(hub, "a", "b")["forwarded"] == 1,
      "the kept route lost its counters: %r" % route(hub, "a", "b"))
loop = dict(socks)
loop["b"] = dict(socks["b"], forward="a")
hub.write_conf(loop)
r = hub.ctl("reload")
err = (r.stdout + r.stderr).decode()
check(r.returncode != 0 and "routes form a loop: a -> b -> a" in err,
      "a loop was not refused: rc %d %s" % (r.returncode, err))
check(lands("m3") == "y", "the refused reload changed the routes")
socks["a"] = {k: v for k, v in socks["a"].items() if k != "forward"}
hub.write_conf(socks)
check(hub.ctl("reload").returncode == 0, "reload removing the route")
check(hub.status_of("a")["routes"] == [], "the route stayed")
check(lands("m4") == "a", "without the route, a's application gets it")
hub.wait_log("route a -> b removed")
edge.stop()
hub.stop()

passed("test_routes")
