"""A private network path for fault tests: the root namespace, a bridge
in a "wire" namespace, and a peer namespace.

    root namespace            wire namespace             peer namespace
    <tag>a  10.x.y.1/30 ---- <tag>r  [br0]  <tag>s ---- <tag>b  10.x.y.2/30

Both addresses are in one /30, so the host gets no route but the one its
own new interface brings, and the host's firewall is left alone: every
fault is an nftables rule in the wire namespace's bridge (family bridge,
hook forward), which sees each frame in both directions and drops it on
the wire, as a lost packet, without either end noticing (no RST, no
ICMP, no local error).

Names carry the pid, and the /30 is derived from it, so parallel runs do
not collide.  Everything is removed on every exit path (atexit, SIGTERM,
SIGINT, SIGHUP), and by a later run that finds leftovers under its own
names (a run SIGKILLed with the same pid is dead).

Wire.create() skips the test (exit 77) with the reason when it is not
root, or when ip netns, veth, bridges or nft are unavailable or the path
does not carry TCP.

DelayRelay adds latency and jitter where netem is missing.
"""
import asyncio
import atexit
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

from harness import skip

TABLE = "smartsock_faults"
CHAIN = "wire"


def _run(args, timeout=10):
    return subprocess.run(args, capture_output=True, timeout=timeout)


def _text(r):
    return (r.stderr or r.stdout).decode(errors="replace").strip()


def _taken():
    """Every IPv4 network the root namespace routes, in any table."""
    r = _run(["ip", "-4", "-j", "route", "show", "table", "all"])
    nets = []
    try:
        for rt in json.loads(r.stdout.decode() or "[]"):
            dst = rt.get("dst", "default")
            if dst != "default":
                nets.append(ipaddress.ip_network(dst, strict=False))
    except ValueError:
        pass
    return nets


def _pick_net(pid):
    """A /30 from the pid in 10/8, else 172.16/12, else 198.18/15, that
    overlaps nothing the host routes; None if all three do."""
    taken = _taken()
    for base, bits in (("10.0.0.0", 24), ("172.16.0.0", 20),
                       ("198.18.0.0", 17)):
        blocks = 1 << (bits - 2)
        first = int(ipaddress.IPv4Address(base)) + (pid % blocks) * 4
        net = ipaddress.ip_network("%s/30" % ipaddress.IPv4Address(first))
        if not any(net.overlaps(t) for t in taken):
            return net
    return None


class Wire:
    """The path described above; `ns` is the peer namespace's name,
    `host_addr` / `peer_addr` the two addresses (strings)."""

    def __init__(self):
        pid = os.getpid()
        self.tag = "ssnf%d" % pid               # at most 11 characters
        self.ns = self.tag + "-peer"
        self.wire_ns = self.tag + "-wire"
        self.host_if = self.tag + "a"
        self.peer_if = self.tag + "b"
        self.net = None
        self.host_addr = self.peer_addr = None

    @classmethod
    def create(cls):
        if os.geteuid() != 0:
            skip("network namespaces need root")
        for tool in ("ip", "nft"):
            if shutil.which(tool) is None:
                skip("%s is not installed (Debian: %s)" %
                     (tool, "iproute2" if tool == "ip" else "nftables"))
        w = cls()
        w.net = _pick_net(os.getpid())
        if w.net is None:
            skip("no free private /30 for pid %d (host routes overlap "
                 "10/8, 172.16/12 and 198.18/15)" % os.getpid())
        hosts = list(w.net.hosts())
        w.host_addr, w.peer_addr = str(hosts[0]), str(hosts[1])
        w._teardown()                   # leftovers of a dead run, same pid
        atexit.register(w._teardown)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *a: sys.exit(1))
        w._setup()
        return w

    # --- set-up --------------------------------------------------------------

    def _step(self, what, args):
        """One set-up command; if it fails, undo everything and skip."""
        r = _run(args)
        if r.returncode != 0:
            self._teardown()
            skip("%s failed (%s): %s" % (what, " ".join(args), _text(r)))

    def _setup(self):
        w, p = self.wire_ns, self.ns
        self._step("ip netns add", ["ip", "netns", "add", w])
        self._step("ip netns add", ["ip", "netns", "add", p])
        self._step("a veth pair", ["ip", "link", "add", self.host_if, "type",
                                   "veth", "peer", "name", self.tag + "r",
                                   "netns", w])
        self._step("a veth pair", ["ip", "-n", w, "link", "add",
                                   self.tag + "s", "type", "veth", "peer",
                                   "name", self.peer_if, "netns", p])
        self._step("a bridge", ["ip", "-n", w, "link", "add", "br0", "type",
                                "bridge"])
        for port in (self.tag + "r", self.tag + "s"):
            self._step("a bridge port", ["ip", "-n", w, "link", "set", port,
                                         "master", "br0"])
        # IPv6 link-local chatter (DAD, router solicitations) stays off
        # the path; the host side is only this one interface's setting.
        for ns in (w, p):
            _run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                  "net.ipv6.conf.all.disable_ipv6=1"])
        try:
            with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" %
                      self.host_if, "w") as f:
                f.write("1")
        except OSError:
            pass
        for ns, link in ((w, self.tag + "r"), (w, self.tag + "s"), (w, "br0"),
                         (p, self.peer_if), (p, "lo"), (w, "lo")):
            self._step("link up", ["ip", "-n", ns, "link", "set", link, "up"])
        self._step("an address", ["ip", "addr", "add",
                                  "%s/30" % self.host_addr, "dev",
                                  self.host_if])
        self._step("link up", ["ip", "link", "set", self.host_if, "up"])
        self._step("an address", ["ip", "-n", p, "addr", "add",
                                  "%s/30" % self.peer_addr, "dev",
                                  self.peer_if])
        self._nft_load("table bridge %s {\n chain %s {\n  type filter hook "
                       "forward priority 0; policy accept;\n }\n}\n" %
                       (TABLE, CHAIN), skip_on_error=True)
        self._probe()

    def _probe(self):
        """A TCP connection from the peer namespace to the host address."""
        ls = socket.socket()
        try:
            ls.bind((self.host_addr, 0))
            ls.listen(1)
            ls.settimeout(8)
            code = ("import socket, sys\n"
                    "socket.create_connection((sys.argv[1], int(sys.argv[2])),"
                    " 6).close()\n")
            p = subprocess.Popen(self.exec_prefix() + [
                sys.executable, "-c", code, self.host_addr,
                str(ls.getsockname()[1])], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
            try:
                c, _ = ls.accept()
                c.close()
                ok = True
            except OSError:
                ok = False
            try:
                _, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            if not ok or p.returncode != 0:
                self._teardown()
                skip("no TCP connection over the veth path %s -> %s (a host "
                     "firewall?): %s" % (self.peer_addr, self.host_addr,
                                         err.decode(errors="replace").strip()))
        finally:
            ls.close()

    # --- use -----------------------------------------------------------------

    def exec_prefix(self):
        """Prefix of a command line that runs in the peer namespace."""
        return ["ip", "netns", "exec", self.ns]

    def _nft_load(self, script, skip_on_error=False):
        r = subprocess.run(["ip", "netns", "exec", self.wire_ns, "nft", "-f",
                            "-"], input=script.encode(), capture_output=True,
                           timeout=10)
        if r.returncode != 0:
            msg = "nft in a namespace: %s\n%s" % (_text(r), script)
            if skip_on_error:
                self._teardown()
                skip(msg)
            raise RuntimeError(msg)

    def _rule(self, rule):
        self._nft_load("add rule bridge %s %s %s\n" % (TABLE, CHAIN, rule))

    def blackhole(self):
        """Drop every frame on the wire, both ways, silently."""
        self._rule("counter drop")

    def lossy(self, percent):
        """Drop `percent` % of TCP frames at random, each way."""
        self._rule("meta l4proto tcp numgen random mod 100 < %d counter drop"
                   % percent)

    def dropped(self):
        """Frames dropped by the rules in place (their counters)."""
        r = _run(["ip", "netns", "exec", self.wire_ns, "nft", "list", "chain",
                  "bridge", TABLE, CHAIN])
        return sum(int(n) for n in re.findall(r"counter packets (\d+)",
                                              r.stdout.decode()))

    def heal(self):
        """Remove every fault."""
        self._nft_load("flush chain bridge %s %s\n" % (TABLE, CHAIN))

    # --- tear-down -----------------------------------------------------------

    def _teardown(self):
        """Kill what runs in the two namespaces (only this run's processes
        can be there), delete the host's end of the veth pair and both
        namespaces.  Idempotent; errors are ignored."""
        for ns in (self.ns, self.wire_ns):
            if not os.path.exists(os.path.join("/run/netns", ns)):
                continue
            r = _run(["ip", "netns", "pids", ns])
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        _run(["ip", "link", "del", self.host_if])
        for ns in (self.ns, self.wire_ns):
            _run(["ip", "netns", "del", ns])


class DelayRelay:
    """Latency and jitter without netem: a TCP relay, on its own asyncio
    loop in a thread, that forwards each chunk it reads after a random
    delay in [lo, hi] seconds, never before the chunk ahead of it (a TCP
    stream cannot reorder).  add() starts one listener; each connection to
    it gets its own connection to the target.  close() (also at exit)
    stops everything.  stats: connections, chunks, bytes, delay (sum)."""

    def __init__(self, lo=0.020, hi=0.060):
        self.lo, self.hi = lo, hi
        self.stats = {"connections": 0, "chunks": 0, "bytes": 0, "delay": 0.0}
        self._servers = []
        self._writers = set()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever,
                                        daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def add(self, host, target):
        """Listen on host:(a free port), relay to target (host, port);
        returns the port."""
        return asyncio.run_coroutine_threadsafe(
            self._listen(host, target), self.loop).result(10)

    async def _listen(self, host, target):
        srv = await asyncio.start_server(
            lambda r, w: self._conn(r, w, target), host, 0)
        self._servers.append(srv)
        return srv.sockets[0].getsockname()[1]

    async def _conn(self, r1, w1, target):
        self.stats["connections"] += 1
        try:
            r2, w2 = await asyncio.wait_for(asyncio.open_connection(*target),
                                            5)
        except (OSError, asyncio.TimeoutError):
            w1.close()
            return
        self._writers |= {w1, w2}
        try:
            await asyncio.gather(self._pipe(r1, w2), self._pipe(r2, w1),
                                 return_exceptions=True)
        finally:
            for w in (w1, w2):
                w.close()
                self._writers.discard(w)

    async def _pipe(self, r, w):
        q = asyncio.Queue()

        async def out():
            while True:
                due, data = await q.get()
                if data is None:
                    return
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                w.write(data)
                await w.drain()
        sender = asyncio.ensure_future(out())
        last = 0.0
        try:
            while True:
                data = await r.read(65536)
                delay = random.uniform(self.lo, self.hi)
                due = max(last, self.loop.time() + delay)
                last = due
                if data:
                    self.stats["chunks"] += 1
                    self.stats["bytes"] += len(data)
                    self.stats["delay"] += delay
                q.put_nowait((due, data or None))
                if not data:
                    break
            await sender
        except Exception:       # a reset or a close from the other pipe
            pass
        finally:
            sender.cancel()
            w.close()           # one direction ends: the connection ends

    async def _close_all(self):
        for s in self._servers:
            s.close()
        for w in list(self._writers):
            w.close()
        tasks = [t for t in asyncio.all_tasks()
                 if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self):
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close_all(),
                                             self.loop).result(5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()
