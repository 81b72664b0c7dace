"""`pip install` of python/ into a virtual environment of Debian's
python3, offline (--no-build-isolation: setuptools and wheel come from
Debian's python3-setuptools and python3-wheel), then a program run with
the installed package, away from the source tree, talks to a daemon."""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMARTSOCK_SRCDIR") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(os.path.abspath(SRC), "tests", "integration"))

import harness  # noqa: E402

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable
PROGRAM = textwrap.dedent("""\
    import os, sys, smartsock
    assert "site-packages" in smartsock.__file__, smartsock.__file__
    assert os.path.exists(os.path.join(os.path.dirname(smartsock.__file__),
                                       "py.typed"))
    rt = sys.argv[1]
    with smartsock.Socket("b", rt, timeout=10) as b, \\
            smartsock.Socket("a", rt, timeout=10) as a:
        b.settimeout(0)
        try:
            b.recv()
        except TimeoutError:
            pass
        b.settimeout(10)
        a.send(b"installed")
        print(b.recv().decode(), smartsock.__version__)
    """)


class InstallTest(unittest.TestCase):
    def test_pip_install(self):
        if not os.path.exists(harness.SMARTSOCKD):
            self.skipTest("no smartsockd in " + harness.BUILD)
        for mod in ("venv", "ensurepip", "setuptools", "wheel"):
            r = subprocess.run([PYTHON, "-c", "import " + mod],
                               capture_output=True)
            if r.returncode != 0:
                self.skipTest("%s has no %s (python3-venv, "
                              "python3-setuptools, python3-wheel)"
                              % (PYTHON, mod))
        tmp = tempfile.mkdtemp(prefix="sspip")
        self.addCleanup(shutil.rmtree, tmp, True)
        # A copy: building writes into the tree, which distcheck keeps
        # read-only.
        src = os.path.join(tmp, "src")
        shutil.copytree(os.path.join(SRC, "python"), src,
                        ignore=shutil.ignore_patterns(
                            "__pycache__", "*.egg-info", "build"))
        venv = os.path.join(tmp, "venv")
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env["PIP_NO_INDEX"] = "1"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        r = subprocess.run([PYTHON, "-m", "venv", "--system-site-packages",
                            venv], capture_output=True, timeout=120,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        vpy = os.path.join(venv, "bin", "python")
        r = subprocess.run([vpy, "-m", "pip", "install", "--no-deps",
                            "--no-build-isolation", src],
                           capture_output=True, timeout=300, env=env,
                           cwd=tmp)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        port = harness.free_port()
        d = harness.Daemon({
            "a": harness.sock(bind="127.0.0.1:%d" % port),
            "b": harness.sock(connect="127.0.0.1:%d" % port),
        })
        self.addCleanup(d.stop)
        harness.wait_for(lambda: harness.peers_up(d, "b"), 10, "b up")
        prog = os.path.join(tmp, "prog.py")
        with open(prog, "w") as f:
            f.write(PROGRAM)
        r = subprocess.run([vpy, prog, d.runtime], capture_output=True,
                           timeout=60, env=env, cwd=tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), [b"installed", b"0.1.0"])


def tearDownModule():
    harness._ok = True      # failures are unittest's to report


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    import testmain
    testmain.main(__name__)
