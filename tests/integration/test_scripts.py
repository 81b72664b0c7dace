"""The tree's own scripts, as a new user meets them: scripts/demo (the
try-it command) installs what building and running need and nothing of
the test tools, no browser above all; scripts/check (the test command)
adds them; .ci/run is exactly README's test command; what the documented
pip install leaves in python/ is ignored by git."""
import os
import re
import shutil
import subprocess

from harness import SRC, check, passed, skip, step

DEPS = os.path.join(SRC, "scripts", "install-deps")
if not os.path.exists(DEPS):
    skip("no scripts/install-deps in %s" % SRC)


def listed(*args):
    r = subprocess.run(["sh", DEPS, "--list"] + list(args),
                       capture_output=True, timeout=30)
    check(r.returncode == 0, "install-deps --list %s: %r" % (args, r))
    return set(r.stdout.decode().split())


step("install-deps: what running needs, and the test tools with --test")
run_pkgs, test_pkgs = listed(), listed("--test")
for p in ("build-essential", "libevent-dev", "libinih-dev", "libssl-dev",
          "libsystemd-dev", "pkg-config", "autoconf", "automake", "libtool"):
    check(p in run_pkgs, "install-deps lacks %s: %r" % (p, run_pkgs))
for p in ("chromium", "nodejs", "npm", "valgrind", "clang", "check",
          "python3-pytest", "nftables"):
    check(p not in run_pkgs, "the try-it command installs %s" % p)
    check(p in test_pkgs, "install-deps --test lacks %s" % p)
check(run_pkgs <= test_pkgs, "--test drops %r" % (run_pkgs - test_pkgs))

step("demo installs without --test, check with it; .ci/run is README's")


def calls(script):
    with open(os.path.join(SRC, "scripts", script)) as f:
        return re.findall(r'"\$top/scripts/install-deps"([^\n|]*)', f.read())


check([c.strip() for c in calls("demo")] == [""],
      "scripts/demo's install-deps: %r" % calls("demo"))
check([c.strip() for c in calls("check")] == ["--test"],
      "scripts/check's install-deps: %r" % calls("check"))
with open(os.path.join(SRC, "README.md")) as f:
    readme = f.read()
with open(os.path.join(SRC, ".ci", "run")) as f:
    ci = [l for l in f.read().splitlines() if l and not l.startswith("#")]
block = re.search(r"## Run the whole test suite\n+```sh\n([^\n]+)\n```",
                  readme)
check(block is not None and ci[-1] == block.group(1),
      ".ci/run %r is not README's test command %r" %
      (ci[-1:], block and block.group(1)))

step("git ignores what pip install ./python leaves behind")
if shutil.which("git") is None or not os.path.isdir(os.path.join(SRC,
                                                                  ".git")):
    print("note: not a git checkout; .gitignore not checked")
else:
    left = ["python/build/lib/smartsock/__init__.py",
            "python/smartsock.egg-info/PKG-INFO"]
    r = subprocess.run(["git", "-C", SRC, "check-ignore", "--no-index"] +
                       left, capture_output=True, timeout=30)
    got = r.stdout.decode().split()
    check(sorted(got) == sorted(left), "not ignored: %r" %
          sorted(set(left) - set(got)))
passed("test_scripts")
