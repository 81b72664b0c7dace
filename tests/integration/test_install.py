"""make install into a DESTDIR, then the installed files at work: the file
list under the configured directories (daemon, tools, library with its
soname, header, pkg-config file, configuration, man pages, the systemd
unit and sysusers.d file), smartsockd -t on the installed configuration
(every key commented out at its default), the tools' --help, a program
compiled with `pkg-config --cflags --libs smartsock` against the DESTDIR
sending through the installed daemon to the installed smartsock-cat, the
library exporting only smartsock_*, `systemd-analyze verify` of the unit
and systemd-sysusers on the sysusers.d file (each in a scratch root).  A
second make install keeps an edited configuration, and make uninstall
removes everything else."""
import glob
import os
import shutil
import subprocess
import time

from harness import (BUILD, SRC, check, fail, free_port, passed, skip, spawn,
                     step, tmpdir)

if not os.path.exists(os.path.join(BUILD, "Makefile")):
    skip("no Makefile in %s (SMARTSOCK_BUILDDIR)" % BUILD)

# The sub-makes must not join make check's jobserver (its descriptors are
# not passed on) nor inherit its variables.
MAKE_ENV = {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                         "DESTDIR")}
MAKE = os.environ.get("MAKE", "make")
VARS = ("prefix bindir sbindir libdir includedir sysconfdir mandir "
        "pkgconfigdir runstatedir systemdsystemunitdir sysusersdir "
        "systemdsystemunit_DATA sysusers_DATA dist_man_MANS confexamplesdir dist_confexamples_DATA CC CFLAGS "
        "CPPFLAGS LDFLAGS").split()


def make(*args, timeout=300, stdin=None):
    r = subprocess.run([MAKE, "-C", BUILD, "--no-print-directory"] +
                       list(args), env=MAKE_ENV, capture_output=True,
                       input=stdin, timeout=timeout)
    return r


def make_vars():
    """The build's directories and compiler, as make expands them."""
    rule = "smartsock-test-print-vars:\n" + "".join(
        "\t@printf '%%s\\n' '%s=$(%s)'\n" % (v, v) for v in VARS)
    r = make("-s", "-f", "Makefile", "-f", "-", "smartsock-test-print-vars",
             stdin=rule.encode())
    check(r.returncode == 0, "reading the build's variables: %r" % (r,))
    out = {}
    for line in r.stdout.decode().splitlines():
        k, _, v = line.partition("=")
        out[k] = v.strip()
    check(all(v in out for v in VARS), "make variables: %r" % out)
    return out


def run(args, what, env=None, timeout=30, **kw):
    r = subprocess.run(args, capture_output=True, timeout=timeout, env=env,
                       **kw)
    check(r.returncode == 0, "%s: exit %d\nstdout %s\nstderr %s" %
          (what, r.returncode, r.stdout.decode(errors="replace"),
           r.stderr.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


v = make_vars()
dest = os.path.join(tmpdir(), "dest")


def inst(path):
    """An installed path (absolute as configured) inside DESTDIR."""
    return dest + path


step("make install DESTDIR=%s" % dest)
r = make("install", "DESTDIR=" + dest)
check(r.returncode == 0, "make install: %s%s" % (r.stdout.decode(),
                                                 r.stderr.decode()))

# --- the file list -------------------------------------------------------
step("the installed files")
sbin, bindir, libdir = inst(v["sbindir"]), inst(v["bindir"]), inst(v["libdir"])
conf = inst(v["sysconfdir"]) + "/smartsock/smartsockd.conf"
want = [sbin + "/smartsockd", bindir + "/smartsockctl",
        bindir + "/smartsock-cat", inst(v["includedir"]) + "/smartsock.h",
        inst(v["pkgconfigdir"]) + "/smartsock.pc", conf]
for ex in v["dist_confexamples_DATA"].split():
    want.append(inst(v["confexamplesdir"]) + "/" + os.path.basename(ex))
for page in v["dist_man_MANS"].split():
    name = os.path.basename(page)
    want.append("%s/man%s/%s" % (inst(v["mandir"]), name.rsplit(".", 1)[1],
                                 name))
unit = sysusers = None
if v["systemdsystemunit_DATA"]:
    unit = inst(v["systemdsystemunitdir"]) + "/smartsockd.service"
    want.append(unit)
else:
    print("note: configured without a systemd unit directory: no unit")
if v["sysusers_DATA"]:
    sysusers = inst(v["sysusersdir"]) + "/smartsock.conf"
    want.append(sysusers)
for f in want:
    check(os.path.isfile(f), "not installed: %s; installed:\n%s" %
          (f, "\n".join(sorted(files_under(dest)))))
for f in (sbin + "/smartsockd", bindir + "/smartsockctl",
          bindir + "/smartsock-cat"):
    check(os.access(f, os.X_OK), "not executable: " + f)
sonames = [p for p in glob.glob(libdir + "/libsmartsock.so.*")
           if p.count(".so.") == 1 and p.rsplit(".so.", 1)[1].isdigit()]
check(len(sonames) == 1, "libsmartsock.so.N: %r" % sonames)
so = sonames[0]
out = run(["readelf", "-d", so], "readelf -d")
check("Library soname: [%s]" % os.path.basename(so) in out,
      "the soname of %s is not its name:\n%s" % (so, out))

# --- the installed man pages name this build's paths -----------------------
step("the installed man pages name sysconfdir and runstatedir")
pages = {}
for page in v["dist_man_MANS"].split():
    name = os.path.basename(page)
    with open("%s/man%s/%s" % (inst(v["mandir"]), name.rsplit(".", 1)[1],
                               name)) as f:
        pages[name] = f.read()
conf_path = v["sysconfdir"] + "/smartsock/smartsockd.conf"
run_path = v["runstatedir"] + "/smartsock"
check(conf_path in pages["smartsockd.8"] and
      run_path + "/control.sock" in pages["smartsockd.8"],
      "smartsockd(8) does not name %s and %s" % (conf_path, run_path))
for name, text in pages.items():
    for debian, ours in (("/etc/smartsock", v["sysconfdir"] + "/smartsock"),
                         ("/run/smartsock", run_path)):
        check(debian == ours or debian not in text.replace(ours, ""),
              "installed %s names %s, not this build's %s" %
              (name, debian, ours))

# --- the installed configuration ------------------------------------------
step("the installed configuration")
with open(os.path.join(SRC, "conf", "smartsockd.conf")) as f:
    shipped = f.read().replace("\n;runtime_dir = /run/smartsock\n",
                               "\n;runtime_dir = %s/smartsock\n" %
                               v["runstatedir"])
with open(conf) as f:
    text = f.read()
check(text == shipped, "installed %s is not conf/smartsockd.conf" % conf)
check(all(line in ("", "[daemon]") or line[0] in "#;"
          for line in text.splitlines()),
      "a key or socket not commented out in the installed configuration")
out = run([sbin + "/smartsockd", "-t", "-c", conf], "installed smartsockd -t")
check("configuration OK (0 sockets)" in out, "smartsockd -t: %r" % out)

lib_env = dict(os.environ, LD_LIBRARY_PATH=libdir)
out = run([sbin + "/smartsockd", "--version"], "smartsockd --version")
check(out.startswith("smartsockd "), "--version: %r" % out)
out = run([bindir + "/smartsockctl", "--help"], "smartsockctl --help",
          env=lib_env)
check("usage" in out.lower(), "smartsockctl --help: %r" % out)
out = run([bindir + "/smartsock-cat", "--help"], "smartsock-cat --help",
          env=lib_env)
check("usage" in out.lower(), "smartsock-cat --help: %r" % out)

# --- the library: exports and a program built with pkg-config -------------
step("the library's exported symbols")
out = run(["nm", "-D", "--defined-only", so], "nm -D")
syms = [line.split()[-1] for line in out.splitlines() if line.strip()]
check(syms and all(s.startswith("smartsock_") for s in syms),
      "exports other than smartsock_*: %r" %
      [s for s in syms if not s.startswith("smartsock_")])
check("smartsock_open" in syms and "smartsock_strerror" in syms,
      "public functions missing: %r" % syms)

step("a program built with pkg-config against the DESTDIR")
work = tmpdir()
prog_c = os.path.join(work, "send.c")
with open(prog_c, "w") as f:
    f.write("""#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <smartsock.h>

int
main(int argc, char **argv)
{
	smartsock *s;

	if (argc != 3)
		return 2;
	if ((s = smartsock_open(argv[1])) == NULL) {
		fprintf(stderr, "open %s: %s\\n", argv[1],
		    smartsock_strerror(errno));
		return 1;
	}
	if (smartsock_send(s, argv[2], strlen(argv[2])) == -1) {
		fprintf(stderr, "send: %s\\n", smartsock_strerror(errno));
		return 1;
	}
	smartsock_close(s);
	return 0;
}
""")
pc_env = dict(os.environ, PKG_CONFIG_PATH=inst(v["pkgconfigdir"]),
              PKG_CONFIG_SYSROOT_DIR=dest)
pc_env.pop("PKG_CONFIG_LIBDIR", None)
flags = run(["pkg-config", "--cflags", "--libs", "smartsock"],
            "pkg-config smartsock", env=pc_env).split()
check(("-I" + inst(v["includedir"])) in flags and
      ("-L" + libdir) in flags and "-lsmartsock" in flags,
      "pkg-config --cflags --libs smartsock: %r" % flags)
prog = os.path.join(work, "send")
# The build's compiler and flags: a sanitizer build's library needs its
# runtime in the program too.
run(["sh", "-c", '%s %s %s -o "$1" "$2" %s %s' %
     (v["CC"], v["CFLAGS"], v["CPPFLAGS"], v["LDFLAGS"], " ".join(flags)),
     "cc", prog, prog_c], "compiling against the installed library")

step("the installed daemon, smartsock-cat and the program")
runtime = os.path.join(work, "run")
dconf = os.path.join(work, "smartsockd.conf")
port = free_port()
with open(dconf, "w") as f:
    f.write("[daemon]\nruntime_dir = %s\n\n[socket in]\nbind = 127.0.0.1:%d\n"
            "\n[socket out]\nconnect = 127.0.0.1:%d\nreconnect_delay = 50ms\n"
            % (runtime, port, port))
logpath = os.path.join(work, "smartsockd.log")
with open(logpath, "wb") as log:
    daemon = spawn([sbin + "/smartsockd", "-f", "-c", dconf], stdout=log,
                   stderr=log)


def log_text():
    with open(logpath, "rb") as f:
        return f.read().decode(errors="replace")


end = time.monotonic() + 20
while " running with " not in log_text():
    check(daemon.poll() is None, "installed smartsockd exited:\n" + log_text())
    check(time.monotonic() < end, "installed smartsockd did not start:\n" +
          log_text())
    time.sleep(0.02)
recv = spawn([bindir + "/smartsock-cat", "-S", runtime, "recv", "in", "-n",
              "1", "--timeout", "20"], stdout=subprocess.PIPE,
             stderr=subprocess.PIPE, env=lib_env)
run([prog, os.path.join(runtime, "out.sock"), "installed and linked"],
    "the program built with pkg-config", env=lib_env)
try:
    got, err = recv.communicate(timeout=30)
except subprocess.TimeoutExpired:
    recv.kill()
    fail("installed smartsock-cat got nothing:\n" + log_text())
check(recv.returncode == 0 and got.decode() == "installed and linked\n",
      "installed smartsock-cat: rc %d, %r %r" % (recv.returncode, got, err))
out = run([bindir + "/smartsockctl", "-S", runtime, "status"],
          "installed smartsockctl status", env=lib_env)
check("in" in out and "out" in out, "smartsockctl status: %r" % out)
daemon.terminate()
check(daemon.wait(20) == 0, "installed smartsockd exit %r:\n%s" %
      (daemon.returncode, log_text()))

# --- systemd: the unit and the sysusers.d file ---------------------------
if unit is not None:
    step("systemd-analyze verify " + unit)
    with open(unit) as f:
        utext = f.read()
    for line in ("Type=", "ExecStart=%s/smartsockd -f" % v["sbindir"],
                 "ExecReload=%s/smartsockctl reload" % v["bindir"],
                 "RuntimeDirectory=smartsock", "User=smartsock",
                 "Group=smartsock", "ProtectSystem=strict",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "NoNewPrivileges=yes", "CapabilityBoundingSet=\n"):
        check(line in utext, "the unit has no %r:\n%s" % (line, utext))
    analyze = shutil.which("systemd-analyze")
    host_units = "/usr/lib/systemd/system"
    if analyze is None:
        print("note: systemd-analyze is absent: the unit is not verified")
    elif not os.path.isfile(os.path.join(host_units, "multi-user.target")):
        print("note: no systemd units in %s to verify against: the unit is "
              "not verified" % host_units)
    else:
        # A scratch root: the DESTDIR (so the unit's commands exist where
        # it names them) plus this host's units (the targets it names).
        vroot = os.path.join(tmpdir(), "root")
        shutil.copytree(dest, vroot, symlinks=True)
        shutil.copytree(host_units, vroot + host_units, symlinks=True,
                        dirs_exist_ok=True)
        venv = dict(os.environ, MANPATH=inst(v["mandir"]),
                    SYSTEMD_LOG_COLOR="0")
        man = [] if shutil.which("man") else ["--man=no"]

        def verify(path):
            return subprocess.run([analyze, "--root=" + vroot] + man +
                                  ["verify", path], capture_output=True,
                                  timeout=60, env=venv)
        # Can systemd-analyze work here at all?  A trivial unit first.
        probe = vroot + "/etc/systemd/system/smartsock-probe.service"
        os.makedirs(os.path.dirname(probe), exist_ok=True)
        with open(probe, "w") as f:
            f.write("[Service]\nExecStart=%s/smartsockd -f\n" % v["sbindir"])
        r = verify(probe)
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            print("note: systemd-analyze verify cannot run here (a trivial "
                  "unit fails: %s): the unit is not verified" %
                  (r.stdout + r.stderr).decode(errors="replace").strip())
        else:
            # The unit as installed, where systemd looks for units (the
            # configured directory may be none of those, as in distcheck).
            shutil.copy(unit, os.path.dirname(probe))
            r = verify(os.path.join(os.path.dirname(probe),
                                    "smartsockd.service"))
            msg = (r.stdout + r.stderr).decode(errors="replace").strip()
            check(r.returncode == 0 and msg == "",
                  "systemd-analyze verify %s: exit %d\n%s" %
                  (unit, r.returncode, msg))
            print("systemd-analyze verify: clean")
if sysusers is not None:
    step("systemd-sysusers " + sysusers)
    sysusers_bin = shutil.which("systemd-sysusers")
    if sysusers_bin is None:
        print("note: systemd-sysusers is absent: the file is not tried")
    else:
        sroot = tmpdir()
        os.makedirs(os.path.join(sroot, "etc"))
        run([sysusers_bin, "--root=" + sroot, sysusers], "systemd-sysusers")
        with open(os.path.join(sroot, "etc", "passwd")) as f:
            users = [line.split(":") for line in f]
        with open(os.path.join(sroot, "etc", "group")) as f:
            groups = [line.split(":") for line in f]
        user = [u for u in users if u[0] == "smartsock"]
        group = [g for g in groups if g[0] == "smartsock"]
        check(user and group and user[0][3] == group[0][2],
              "systemd-sysusers made no smartsock user in its group: %r %r"
              % (users, groups))
        check(int(user[0][2]) < 1000 and "nologin" in user[0][6],
              "smartsock is not a system user: %r" % user)

# --- reinstall keeps an edited configuration; uninstall --------------------
step("make install again over an edited configuration")
with open(conf, "a") as f:
    f.write("\n[socket mine]\nbind = 127.0.0.1:1\n")
with open(conf) as f:
    edited = f.read()
r = make("install", "DESTDIR=" + dest)
check(r.returncode == 0, "second make install: %r" % (r,))
with open(conf) as f:
    check(f.read() == edited, "make install overwrote the edited " + conf)
check(b"keeping" in r.stdout, "make install did not say it kept " + conf)

step("make uninstall")
r = make("uninstall", "DESTDIR=" + dest)
check(r.returncode == 0, "make uninstall: %r" % (r,))
left = files_under(dest)
check(left == {os.path.relpath(conf, dest)},
      "make uninstall left %r (only the edited configuration should stay)"
      % sorted(left))

passed("test_install")
