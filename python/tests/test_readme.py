"""The quick start of python/README.md runs as written: its two Python
blocks, from a directory holding `run/`, against a daemon on
conf/demo.conf (its port replaced by a free one, its runtime directory
that `run/`)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.environ.get("SMARTSOCK_SRCDIR") or
                      os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import harness  # noqa: E402


def python_blocks(path):
    with open(path) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


class QuickStartTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(harness.SMARTSOCKD):
            self.skipTest("no smartsockd in " + harness.BUILD)
        self.blocks = python_blocks(os.path.join(SRC, "python", "README.md"))
        self.assertGreaterEqual(len(self.blocks), 2)
        self.top = tempfile.mkdtemp(prefix="ssreadme")
        self.addCleanup(shutil.rmtree, self.top, True)
        run = os.path.join(self.top, "run")
        with open(os.path.join(SRC, "conf", "demo.conf")) as f:
            conf = f.read()
        conf, n = re.subn(r"(?m)^runtime_dir = .*$", "runtime_dir = " + run,
                          conf)
        self.assertEqual(n, 1)
        conf, n = re.subn(r"127\.0\.0\.1:25000", "127.0.0.1:%d" %
                          harness.free_port(), conf)
        self.assertGreaterEqual(n, 2)     # bind, connect (and comments)
        self.d = harness.Daemon({}, start=False)
        with open(self.d.conf, "w") as f:
            f.write(conf)
        self.d.runtime = run
        self.d.start()
        self.addCleanup(self.d.stop)
        harness.wait_for(lambda: harness.peers_up(self.d, "demo-out"), 10,
                         "demo-out connected")
        self.env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "python"),
                        PYTHONUNBUFFERED="1")
        self.env.pop("SMARTSOCK_RUNTIME_DIR", None)

    def run_block(self, i, **kw):
        return harness.spawn([sys.executable, "-c", self.blocks[i]],
                             cwd=self.top, env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             **kw)

    def test_blocking(self):
        p = self.run_block(0)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, b"b'HELLO'\n")

    def test_asyncio_echo(self):
        p = self.run_block(1)
        self.addCleanup(p.kill)
        harness.wait_apps(self.d, "demo-in", 1)
        r = self.d.cat("send", "demo-out", "hi")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.d.cat("recv", "demo-out", "-n", "1", "--timeout", "10")
        self.assertEqual((r.returncode, r.stdout), (0, b"echo: hi\n"),
                         r.stderr)
        self.assertIsNone(p.poll(), "the echo service ended")


def tearDownModule():
    harness._ok = True      # failures are unittest's to report


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    import testmain
    testmain.main(__name__)
