"""Who may attach and who may reload, as root with a test group and users
this test creates (and removes on every exit path): socket_mode and
socket_group on NAME.sock, from the socket and from [daemon]; allow_users
and allow_groups checked with SO_PEERCRED / SO_PEERGROUPS (the primary and
the supplementary groups of the attaching process), refusals with a clear
error, logged with pid and uid and counted; a reload that adds a user and
changes mode and group on the existing file; control.sock's status for
anyone who may open it, reload only for root and for the daemon's own user
(a second daemon runs as a test user).  Skipped (77) when not root or
without useradd, groupadd or setpriv."""
import atexit
import grp
import os
import pwd
import re
import shutil
import stat
import subprocess

from harness import (Daemon, check, collect, fail, free_port, passed, skip,
                     sock, spawn, step, tools_for_any_user, wait_apps,
                     wait_peers)

if os.geteuid() != 0:
    skip("needs root: it creates a test user and group")
for tool in ("useradd", "userdel", "groupadd", "groupdel", "setpriv"):
    if shutil.which(tool) is None:
        skip("%s is not installed" % tool)

TAG = "%x" % (os.getpid() & 0xffffff)
G_SOCK = "sstsock" + TAG        # the users' primary group, socket_group
G_ALLOW = "sstallow" + TAG      # allow_groups
U_OK = "sstok" + TAG            # in allow_users
U_GRP = "sstgrp" + TAG          # supplementary member of G_ALLOW
U_NO = "sstno" + TAG            # in no list
_made_users, _made_groups = [], []


def _remove_accounts():
    for u in _made_users:
        subprocess.run(["userdel", "-f", u], capture_output=True)
    for g in _made_groups:
        subprocess.run(["groupdel", g], capture_output=True)


# harness turns SIGTERM into exit(1), so this runs then too
atexit.register(_remove_accounts)


def run(args):
    r = subprocess.run(args, capture_output=True, timeout=30)
    if r.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(args), r.returncode,
                                  r.stderr.decode(errors="replace")))


def add_group(name):
    _made_groups.append(name)
    run(["groupadd", name])
    return grp.getgrnam(name).gr_gid


def add_user(name, group, extra=None):
    _made_users.append(name)
    run(["useradd", "-M", "-N", "-g", group, "-s", "/usr/sbin/nologin",
         "-c", "smartsock test", "-d", "/nonexistent"] +
        (["-G", extra] if extra else []) + [name])
    return pwd.getpwnam(name).pw_uid


def as_user(uid, gid, groups=None, init=False):
    """setpriv arguments: run as uid/gid with exactly these supplementary
    groups (none by default), or those of the group database (init)."""
    args = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid]
    if init:
        args.append("--init-groups")
    elif groups:
        args.append("--groups=" + ",".join(str(g) for g in groups))
    else:
        args.append("--clear-groups")
    return args


# The test users run copies of the programs: the build tree may be where
# they cannot reach it (a clone in root's home).
TOOLS = tools_for_any_user()


def cat_as(d, who, *args, **kw):
    timeout = kw.pop("timeout", 30)
    return subprocess.run(who + [TOOLS.cat, "-S", d.runtime] + list(args),
                          capture_output=True, timeout=timeout,
                          env=TOOLS.env, **kw)


def ctl_as(d, who, *args):
    return subprocess.run(who + [TOOLS.ctl, "-S", d.runtime] + list(args),
                          capture_output=True, timeout=30, env=TOOLS.env)


def mode_group(path):
    st = os.stat(path)
    check(stat.S_ISSOCK(st.st_mode), "%s is not a socket" % path)
    return stat.S_IMODE(st.st_mode), st.st_gid


def refused(r, what):
    """smartsock-cat was refused attaching: exit 1 and the library's
    message for EACCES."""
    err = r.stderr.decode(errors="replace")
    check(r.returncode != 0 and "access to the smart socket denied" in err,
          "%s: expected a refusal, got exit %d: %r %r" %
          (what, r.returncode, r.stdout, err))


def open_dir(d):
    """Test users must reach runtime_dir: the temp dir is 0700."""
    os.chmod(d.dir, 0o755)
    os.makedirs(d.runtime, exist_ok=True)
    os.chmod(d.runtime, 0o755)


step("test accounts: groups %s %s, users %s %s %s" %
     (G_SOCK, G_ALLOW, U_OK, U_GRP, U_NO))
gid_sock = add_group(G_SOCK)
gid_allow = add_group(G_ALLOW)
uid_ok = add_user(U_OK, G_SOCK)
uid_grp = add_user(U_GRP, G_SOCK, extra=G_ALLOW)
uid_no = add_user(U_NO, G_SOCK)
OK = as_user(uid_ok, gid_sock)
NO = as_user(uid_no, gid_sock)

port = free_port()
gport = free_port()
while gport == port:
    gport = free_port()


def sockets(users, groups_keys):
    return {
        # users: allow_users; mode and group from [daemon]
        "users": sock(bind="127.0.0.1:%d" % port, allow_users=users),
        # back: no list, the other end of users (root takes and sends)
        "back": sock(connect="127.0.0.1:%d" % port),
        # groups: allow_groups, its own mode and group
        "groups": sock(bind="127.0.0.1:%d" % gport, allow_groups=G_ALLOW,
                       **groups_keys),
    }


d = Daemon(sockets(U_OK, {"socket_mode": "0666", "socket_group": "0"}),
           daemon={"socket_group": G_SOCK, "control_mode": "0666"},
           start=False)
open_dir(d)
d.start()
wait_peers(d, "users", [d.status_of("back")["identity"]])

step("socket_mode and socket_group on NAME.sock")
m, g = mode_group(d.sock_path("users"))
check((m, g) == (0o660, gid_sock), "users.sock: [daemon] socket_group, "
      "default mode: %04o gid %d" % (m, g))
m, g = mode_group(d.sock_path("back"))
check((m, g) == (0o660, gid_sock), "back.sock: %04o gid %d" % (m, g))
m, g = mode_group(d.sock_path("groups"))
check((m, g) == (0o666, 0), "groups.sock: its own socket_mode 0666 and "
      "socket_group 0: %04o gid %d" % (m, g))

step("%s (in allow_users) attaches and exchanges messages" % U_OK)
r = cat_as(d, OK, "send", "users", input=b"from-ok\n")
check(r.returncode == 0, "send as %s: %r" % (U_OK, r))
r = d.cat("recv", "back", "-n", "1", "--timeout", "10")
check(r.returncode == 0 and r.stdout == b"from-ok\n", "root's recv: %r" % r)
recv = spawn(OK + [TOOLS.cat, "-S", d.runtime, "recv", "users", "-n", "1",
                   "--timeout", "20"],
             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=TOOLS.env)
wait_apps(d, "users", 1)
r = d.cat("send", "back", input=b"to-ok\n")
check(r.returncode == 0, "root's send: %r" % r)
check(collect(recv) == ["to-ok"], "%s did not receive" % U_OK)
check(recv.returncode == 0, "recv as %s: exit %d" % (U_OK, recv.returncode))
check("attached (pid %d, uid %d)" % (recv.pid, uid_ok) in d.log_text(),
      "the attach is not logged with its pid and uid:\n" + d.log_text())

step("%s (in no list) is refused, logged with pid and uid, counted" % U_NO)
r = cat_as(d, NO, "send", "users", input=b"intruder\n")
refused(r, "send as %s" % U_NO)
d.wait_log("refused: access denied: uid %d is not in allow_users of "
           "socket users" % uid_no)
check(re.search(r"socket users: application \d+ \(pid \d+, uid %d\) "
                r"refused: access denied" % uid_no, d.log_text()),
      "the refusal is not logged with pid and uid:\n" + d.log_text())
check(d.counter("users", "apps.refused") == 1, "apps.refused on users")
check(d.counter("users", "apps.attached") == 2, "apps.attached on users")
r = d.cat("recv", "back", "-n", "1", "--timeout", "1")
check(r.stdout == b"", "a refused sender's message went through: %r" % r)

step("allow_groups: a supplementary group, the primary group, neither")
r = cat_as(d, as_user(uid_grp, gid_sock, init=True), "send", "groups",
           input=b"g1\n")
check(r.returncode == 0, "%s with %s as a supplementary group (from "
      "the group database): %r" % (U_GRP, G_ALLOW, r))
r = cat_as(d, as_user(uid_no, gid_sock, groups=[gid_sock, gid_allow]),
           "send", "groups", input=b"g2\n")
check(r.returncode == 0, "%s with %s among its groups: %r" %
      (U_NO, G_ALLOW, r))
r = cat_as(d, as_user(uid_no, gid_allow), "send", "groups", input=b"g3\n")
check(r.returncode == 0, "%s with %s as its primary group: %r" %
      (U_NO, G_ALLOW, r))
r = cat_as(d, as_user(uid_grp, gid_sock), "send", "groups", input=b"g4\n")
refused(r, "%s without its supplementary groups" % U_GRP)
d.wait_log("refused: access denied: uid %d has no group in allow_groups "
           "of socket groups" % uid_grp)
check(d.counter("groups", "apps.refused") == 1, "apps.refused on groups")
check(d.counter("groups", "apps.attached") == 3, "apps.attached on groups")

step("control.sock (0666): status for %s, reload refused to it" % U_NO)
r = ctl_as(d, NO, "status")
check(r.returncode == 0 and b"socket users" in r.stdout,
      "status as %s: %r" % (U_NO, r))
r = ctl_as(d, NO, "peers", "users")
check(r.returncode == 0, "peers as %s: %r" % (U_NO, r))
r = ctl_as(d, NO, "reload")
err = r.stderr.decode()
check(r.returncode == 1 and "reload refused: permission denied: reload is "
      "for root and smartsockd's user (uid 0) only, not uid %d" % uid_no
      in err, "reload as %s: %r" % (U_NO, r))
d.wait_log("control: reload refused to pid ")
check("uid %d: not root or the daemon's user" % uid_no in d.log_text(),
      "the refused reload is not logged with its uid:\n" + d.log_text())
check(d.ctl_json("status")["daemon"]["generation"] == 1,
      "a refused reload changed the generation")

step("reload by root: %s added to allow_users, groups.sock 0660 %s" %
     (U_NO, G_ALLOW))
d.write_conf(sockets(U_OK + ", " + U_NO,
                     {"socket_mode": "0660", "socket_group": G_ALLOW}),
             daemon={"socket_group": G_SOCK, "control_mode": "0666"})
r = d.ctl("reload")
check(r.returncode == 0, "reload as root: %r" % r)
check(d.ctl_json("status")["daemon"]["generation"] == 2, "generation 2")
m, g = mode_group(d.sock_path("groups"))
check((m, g) == (0o660, gid_allow), "groups.sock after the reload: %04o "
      "gid %d" % (m, g))
r = cat_as(d, NO, "send", "users", input=b"now-allowed\n")
check(r.returncode == 0, "%s after the reload: %r" % (U_NO, r))
r = d.cat("recv", "back", "-n", "1", "--timeout", "10")
check(r.stdout == b"now-allowed\n", "after the reload: %r" % r)
# a member of G_ALLOW by primary group may open the file, others may not
r = cat_as(d, as_user(uid_ok, gid_sock), "send", "groups", input=b"x\n")
refused(r, "%s on groups.sock, mode 0660 group %s" % (U_OK, G_ALLOW))
check(d.counter("groups", "apps.refused") == 1,
      "a refusal by the file's mode is the kernel's, not counted")
d.stop()

step("a daemon running as %s: its own user may reload, others may not" %
     U_OK)
d2 = Daemon({"own": sock(bind="127.0.0.1:%d" % free_port(),
                         allow_users=U_GRP)},
            daemon={"control_mode": "0666"}, start=False,
            wrapper=as_user(uid_ok, gid_sock), program=TOOLS.daemon,
            env=TOOLS.env)
open_dir(d2)
os.chown(d2.runtime, uid_ok, gid_sock)
d2.start()
m, g = mode_group(d2.sock_path("own"))
check((m, g) == (0o660, gid_sock), "own.sock: the daemon's group by "
      "default: %04o gid %d" % (m, g))
r = ctl_as(d2, OK, "reload")
check(r.returncode == 0, "reload by the daemon's user: %r" % r)
r = d2.ctl("reload")
check(r.returncode == 0, "reload by root: %r" % r)
r = ctl_as(d2, NO, "reload")
check(r.returncode == 1 and ("only, not uid %d" % uid_no).encode() in
      r.stderr and ("(uid %d)" % uid_ok).encode() in r.stderr,
      "reload by another user: %r" % r)
r = cat_as(d2, OK, "send", "own", input=b"self\n")
check(r.returncode == 0, "the daemon's own user attaches whatever "
      "allow_users says: %r" % r)
r = d2.cat("send", "own", input=b"root\n")
check(r.returncode == 0, "root attaches whatever allow_users says: %r" % r)
r = cat_as(d2, NO, "send", "own", input=b"no\n")
refused(r, "%s on a daemon run by %s" % (U_NO, U_OK))
d2.stop()

passed("test_access")
