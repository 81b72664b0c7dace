"""The example programs of python/examples/, each run as its docstring
says against one real smartsockd on examples.conf (its ports and
runtime_dir replaced by free ones), their output checked exactly.

Run from the source tree:
  SMARTSOCK_BUILDDIR=build SMARTSOCK_SRCDIR=. \
      python3 python/tests/test_examples.py -v
"""
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.environ.get("SMARTSOCK_SRCDIR") or
                      os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import harness  # noqa: E402

EXAMPLES = os.path.join(SRC, "python", "examples")
EXAMPLE_PORTS = range(25300, 25304)     # the ports examples.conf uses
TIMEOUT = harness.patience(30)          # for any one program to finish

daemon = None


def setUpModule():
    global daemon
    if not os.path.exists(harness.SMARTSOCKD):
        raise unittest.SkipTest("no smartsockd in " + harness.BUILD)
    with open(os.path.join(EXAMPLES, "examples.conf")) as f:
        text = f.read()
    d = harness.Daemon({}, start=False)
    text, n = re.subn(r"(?m)^runtime_dir = .*$", "runtime_dir = " + d.runtime,
                      text)
    if n != 1:
        raise RuntimeError("examples.conf: not one runtime_dir line")
    for port in EXAMPLE_PORTS:
        text, n = re.subn(r"\b127\.0\.0\.1:%d\b" % port,
                          "127.0.0.1:%d" % harness.free_port(), text)
        if n == 0:
            raise RuntimeError("examples.conf: port %d unused" % port)
    if re.search(r"(?m)^\s*(bind|connect)\s*=.*:253\d\d\b", text):
        raise RuntimeError("examples.conf: an example port left over")
    with open(d.conf, "w") as f:
        f.write(text)
    daemon = d.start()


def tearDownModule():
    if daemon is not None:
        daemon.stop()
    harness._ok = True      # failures are unittest's to report


def start(program, *args):
    """Run python/examples/PROGRAM ARGS as its docstring says."""
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "python"),
               SMARTSOCK_RUNTIME_DIR=daemon.runtime, PYTHONUNBUFFERED="1")
    return harness.spawn([sys.executable, os.path.join(EXAMPLES, program)] +
                         list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)


class ExamplesTest(unittest.TestCase):
    def finish(self, p, what):
        """The stdout lines of a program that must exit 0 by itself."""
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("%s did not finish in %ds; stdout %r, stderr %r" %
                      (what, TIMEOUT, out, err))
        self.assertEqual(p.returncode, 0, "%s: %s" % (what, err.decode()))
        return out.decode().splitlines()

    def wait_status(self, name, key, n):
        """Wait until smartsockctl status shows socket name with key
        ("peers", "applications") at n."""
        end = time.monotonic() + harness.patience(10)
        while daemon.status_of(name)[key] != n:
            if time.monotonic() > end:
                self.fail("socket %s: %s %r, not %d" %
                          (name, key, daemon.status_of(name)[key], n))
            time.sleep(0.02)

    def test_echo(self):
        self.wait_status("echo-server", "peers", 1)
        server = start("echo_server.py", "--count", "6")
        client = start("echo_client.py", "--count", "6", "--interval",
                       "0.05")
        self.assertEqual(self.finish(client, "echo_client.py"),
                         ["echo: hello %d" % i for i in range(6)])
        client_id = daemon.status_of("echo-client")["identity"]
        self.assertEqual(self.finish(server, "echo_server.py"),
                         ["echoed 'hello %d' to %s" % (i, client_id)
                          for i in range(6)])

    def test_publish_ten_subscribers(self):
        n = 20
        self.wait_status("pub", "peers", 10)
        subs = {"sub%d" % i: start("subscriber.py", "sub%d" % i, "--count",
                                   str(n)) for i in range(10)}
        for name in subs:
            self.wait_status(name, "applications", 1)
        pub = start("publisher.py", "--count", str(n), "--interval", "0.05")
        self.assertEqual(self.finish(pub, "publisher.py"),
                         ["published %d messages" % n])
        for name, p in subs.items():
            self.assertEqual(self.finish(p, "subscriber.py " + name),
                             ["%s: news %d" % (name, i) for i in range(n)])

    def test_round_robin_jobs(self):
        n = 12
        names = ["worker%d" % i for i in range(3)]
        self.wait_status("jobs", "peers", 3)
        # A worker leaves after --idle seconds without a job: longer than
        # the producer may take to start on a loaded machine.
        workers = {w: start("worker.py", w, "--idle",
                            str(harness.patience(5))) for w in names}
        for w in names:
            self.wait_status(w, "applications", 1)
        out = self.finish(start("producer.py", "--count", str(n)),
                          "producer.py")
        done_by = {}
        for line in out:
            m = re.fullmatch(r"job (\d+) -> (\d+) by (worker\d)", line)
            self.assertIsNotNone(m, "producer.py printed %r" % line)
            job, result = int(m.group(1)), int(m.group(2))
            self.assertNotIn(job, done_by, "job %d done twice" % job)
            self.assertEqual(result, job * job)
            done_by[job] = m.group(3)
        self.assertEqual(sorted(done_by), list(range(n)))
        self.assertGreater(len(set(done_by.values())), 1,
                           "all jobs went to one worker: %r" % done_by)
        # Each worker printed exactly the jobs the producer credits it with.
        for w, p in workers.items():
            mine = sorted(j for j, by in done_by.items() if by == w)
            self.assertEqual(self.finish(p, "worker.py " + w),
                             ["%s: square %d = %d" % (w, j, j * j)
                              for j in mine])

    def test_ready_for_work(self):
        n = 9
        names = ["boss-worker%d" % i for i in range(3)]
        self.wait_status("boss", "peers", 3)
        workers = {w: start("ready_worker.py", w) for w in names}
        out = self.finish(start("boss.py", "--count", str(n), "--workers",
                                "3"), "boss.py")
        sent_to, result_from = {}, {}
        for line in out:
            m = re.fullmatch(r"job (\d+) -> ([0-9a-f]{32})", line)
            if m:
                self.assertNotIn(int(m.group(1)), sent_to)
                sent_to[int(m.group(1))] = m.group(2)
                continue
            m = re.fullmatch(r"job (\d+) = (\d+) from ([0-9a-f]{32})", line)
            self.assertIsNotNone(m, "boss.py printed %r" % line)
            job = int(m.group(1))
            self.assertNotIn(job, result_from)
            self.assertEqual(int(m.group(2)), job * job)
            result_from[job] = m.group(3)
        self.assertEqual(sorted(sent_to), list(range(n)))
        self.assertEqual(result_from, sent_to,
                         "a result came from another worker than the job "
                         "was sent to")
        # Each job reached the worker whose identity asked for it.
        got = {}
        for w, p in workers.items():
            ident = daemon.status_of(w)["identity"]
            for line in self.finish(p, "ready_worker.py " + w):
                m = re.fullmatch(re.escape("%s %s: job " % (w, ident)) +
                                 r"(\d+)", line)
                self.assertIsNotNone(m, "%s printed %r" % (w, line))
                self.assertNotIn(int(m.group(1)), got)
                got[int(m.group(1))] = ident
        self.assertEqual(got, sent_to)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    import testmain
    testmain.main(__name__)
