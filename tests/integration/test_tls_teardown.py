"""Every way a TLS connection ends frees it, hundreds of times over: a
handshake refused by a plain port, a handshake that never completes (a
server that accepts and stays silent), and a daemon stopped while its TLS
peers are writing (libevent holds a TLS bufferevent until a callback it
queued for the next pass of the loop has run; a daemon that freed its
event loop without that pass leaked each such connection with its SSL).
Fails on any descriptor left behind while the connections churn, and, in
a sanitizer build, on any leak LeakSanitizer reports at exit (the harness
fails a daemon whose log has a sanitizer report)."""
import select
import socket
import threading
import time

import procstat
import tlscerts
from harness import (Daemon, check, fail, free_port, passed, skip, sock,
                     step, wait_for, wait_peers)

tlscerts.need_openssl()
C = tlscerts.make()
EXIT_ROUNDS = 40         # daemons stopped with TLS peers writing
PEERS = 10               # TLS peers of each of those daemons
FAILED_HANDSHAKES = 300  # TLS handshakes refused by a plain port
STALLED = 100            # TLS handshakes given up (nothing answered)

# Heartbeats every millisecond: each TLS peer writes on every pass.
BUSY = {"heartbeat_interval": "1ms", "heartbeat_timeout": "10s"}
# Retry at once, and give a stalled handshake up quickly.
CHURN = {"reconnect_delay": "1ms", "reconnect_max_delay": "5ms",
         "connect_timeout": "100ms"}


class SilentServer:
    """Accepts TCP connections, reads and never answers; closes each one
    when the other side does."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        conns = []
        while not self._stop:
            r, _, _ = select.select([self.ls] + conns, [], [], 0.05)
            for s in r:
                if s is self.ls:
                    c, _ = self.ls.accept()
                    conns.append(c)
                    self.accepted += 1
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    conns.remove(s)
                    s.close()
        for s in conns:
            s.close()

    def close(self):
        self._stop = True
        self._t.join(5)
        self.ls.close()


def tls_server(**k):
    return sock(tls="on", tls_cert=C.server, tls_key=C.server_key, **k)


def tls_client(**k):
    return sock(tls="on", tls_ca=C.ca_a, **k)


def endpoint(d, name):
    return d.status_of(name)["endpoints"][0]


silent = SilentServer()
plink, pplain = free_port(), free_port()
a = Daemon({"link": tls_server(bind="127.0.0.1:%d" % plink, **BUSY),
            "plain": sock(bind="127.0.0.1:%d" % pplain)})
if not procstat.available(a.proc.pid):
    skip("no /proc to count descriptors")

step("a connector whose TLS handshakes a plain port refuses, %d times, "
     "and one whose handshakes nobody answers, %d times"
     % (FAILED_HANDSHAKES, STALLED))
b = Daemon({"toplain": tls_client(connect="127.0.0.1:%d" % pplain, **CHURN),
            "stall": tls_client(connect="127.0.0.1:%d" % silent.port,
                                **CHURN)})
# Each connector holds at most one connection (one descriptor) at a time,
# the status queries of this loop one control connection each, and A a few
# connections it is closing: a few descriptors come and go, while a leak
# of each failed handshake would add hundreds.
fds_b, fds_a = [], []
end = time.monotonic() + 240
while (endpoint(b, "toplain")["failures"] < FAILED_HANDSHAKES or
       endpoint(b, "stall")["failures"] < STALLED):
    if time.monotonic() > end:
        fail("the connectors did not fail often enough: %r %r" %
             (endpoint(b, "toplain"), endpoint(b, "stall")))
    fds_b.append(procstat.fd_count(b.proc.pid))
    fds_a.append(procstat.fd_count(a.proc.pid))
    time.sleep(0.05)
toplain, stall = endpoint(b, "toplain"), endpoint(b, "stall")
check("TLS handshake" in toplain["last_error"],
      "toplain failed for another reason: %r" % toplain)
check("not complete in time" in stall["last_error"],
      "stall failed for another reason: %r" % stall)
check(max(fds_b) - min(fds_b) <= 8, "B's descriptors grew while its "
      "handshakes failed: %d .. %d (%d samples)" %
      (min(fds_b), max(fds_b), len(fds_b)))
check(max(fds_a) - min(fds_a) <= 8, "A's descriptors grew while it closed "
      "TLS handshakes: %d .. %d" % (min(fds_a), max(fds_a)))
b.stop()
silent_accepted = silent.accepted
check(silent_accepted >= STALLED, "the silent server accepted only %d" %
      silent_accepted)
wait_for(lambda: procstat.fd_count(a.proc.pid) <= min(fds_a), 20,
         "A's descriptors back to %d" % min(fds_a))

step("%d daemons stopped while %d TLS peers each write, with a refused and "
     "a stalled handshake in flight" % (EXIT_ROUNDS, PEERS))
ids = ["%02x" % (0x10 + i) * 16 for i in range(PEERS)]
id_a = a.status_of("link")["identity"]
for rnd in range(EXIT_ROUNDS):
    sockets = {"p%d" % i: tls_client(connect="127.0.0.1:%d" % plink,
                                     identity=ids[i], **BUSY)
               for i in range(PEERS)}
    sockets["toplain"] = tls_client(connect="127.0.0.1:%d" % pplain, **CHURN)
    sockets["stall"] = tls_client(connect="127.0.0.1:%d" % silent.port,
                                  **CHURN)
    d = Daemon(sockets)
    for i in range(PEERS):
        wait_peers(d, "p%d" % i, [id_a], 30)
    # stop() fails the test on an exit code other than 0 and on a
    # sanitizer report in the log.
    d.stop()
    open(d.logpath, "w").close()        # a passed round's log says nothing
check(a.proc.poll() is None, "A did not survive its peers' exits")
a.stop()
silent.close()
passed("test_tls_teardown")
