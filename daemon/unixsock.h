/*
 * unixsock: the listening Unix sockets of runtime_dir (each smart socket's
 * NAME.sock and control.sock) are taken over the same way: a file left by
 * a daemon that died (nothing answers on it) is replaced, but a live
 * daemon is never evicted.
 */
#ifndef SMARTSOCK_UNIXSOCK_H
#define SMARTSOCK_UNIXSOCK_H

#include <sys/types.h>

/*
 * A non-blocking, close-on-exec socket bound to `path` with permissions
 * `mode` (through the umask around bind, so it is never wider), not yet
 * listening; the caller owns it.  -1 after logging why, each line starting
 * with `who` ("socket jobs", "control"): the path is too long, it exists
 * and is not a socket, another daemon answers on it, or bind failed.
 */
int unixsock_bind(const char *path, mode_t mode, const char *who);

/*
 * Who is at the other end of an accepted Unix socket, as the kernel
 * recorded it at connect(2) (SO_PEERCRED): its pid, effective uid and
 * gid, each -1 when the kernel does not say.
 */
void unixsock_peer_cred(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/* Is uid root or the daemon's own user (who may reload, attach anywhere,
 * own runtime_dir)? */
int unixsock_uid_privileged(uid_t uid);

/*
 * chmod and chown of a socket file this daemon bound, never through a
 * link: if `path` is no longer a socket (a symbolic link or another file
 * was put there), nothing is changed.  0, or -1
 * after logging why (lines starting with `who`).  uid or gid (uid_t)-1 /
 * (gid_t)-1 leaves that one as it is.
 */
int unixsock_chmod(const char *path, mode_t mode, const char *who);
int unixsock_chown(const char *path, uid_t uid, gid_t gid, const char *who);

/*
 * runtime_dir is safe to put sockets in when only root or the daemon's
 * user can change what is in it: owned by one of them, not writable by
 * group or others (as sshd's StrictModes asks of a home directory).
 * 1 when it is; 0 with the reason in why.
 */
int unixsock_dir_safe(const char *dir, char *why, size_t len);

#endif
