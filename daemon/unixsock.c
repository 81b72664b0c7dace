/* unixsock: take over a Unix socket path safely (see unixsock.h). */
#define _GNU_SOURCE             /* struct ucred */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unixsock.h"

void
unixsock_peer_cred(int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	*pid = -1;
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
		*pid = uc.pid;
		*uid = uc.uid;
		*gid = uc.gid;
	}
}

int
unixsock_uid_privileged(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The file is still a socket, not a link to something else; 0, or -1
 * after logging. */
static int
unixsock_still_ours(const char *path, const char *what, const char *who)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		log_warn("%s: %s %s", who, what, path);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("%s: %s %s refused: it is %s now, not the socket "
		    "smartsockd made; left as it is", who, what, path,
		    S_ISLNK(st.st_mode) ? "a symbolic link" : "not a socket");
		return -1;
	}
	return 0;
}

int
unixsock_chmod(const char *path, mode_t mode, const char *who)
{
	char what[32];

	snprintf(what, sizeof(what), "chmod %04o", (unsigned)mode);
	if (unixsock_still_ours(path, what, who) == -1)
		return -1;
	/* Should a link be put there meanwhile, this fails (EOPNOTSUPP)
	 * instead of following it. */
	if (fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("%s: %s %s", who, what, path);
		return -1;
	}
	return 0;
}

int
unixsock_chown(const char *path, uid_t uid, gid_t gid, const char *who)
{
	char what[64];

	snprintf(what, sizeof(what), "chown %ld:%ld", (long)uid, (long)gid);
	if (unixsock_still_ours(path, what, who) == -1)
		return -1;
	if (fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("%s: %s %s", who, what, path);
		return -1;
	}
	return 0;
}

int
unixsock_dir_safe(const char *dir, char *why, size_t len)
{
	struct stat st;

	if (stat(dir, &st) == -1) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", dir);
		return 0;
	}
	if (!unixsock_uid_privileged(st.st_uid)) {
		snprintf(why, len, "%s belongs to uid %ld, not to root or "
		    "smartsockd's user (uid %ld): that user could replace "
		    "its sockets", dir, (long)st.st_uid, (long)geteuid());
		return 0;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, len, "%s is writable by %s (mode %04o): they "
		    "could replace its sockets; chmod go-w %s", dir,
		    (st.st_mode & S_IWOTH) ? "every user" : "its group",
		    (unsigned)(st.st_mode & 07777), dir);
		return 0;
	}
	return 1;
}

/* 1: a daemon answers on the address; 0: nothing does (stale or absent). */
static int
unixsock_is_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

	if (fd == -1)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

int
unixsock_bind(const char *path, mode_t mode, const char *who)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("%s: Unix socket path too long: %s", who, path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("%s: %s exists and is not a socket", who,
			    path);
			return -1;
		}
		if (unixsock_is_live(&sun)) {
			log_warnx("%s: another daemon is serving %s", who,
			    path);
			return -1;
		}
		log_info("%s: replacing stale %s", who, path);
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("%s: socket", who);
		return -1;
	}
	old = umask(~mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("%s: bind %s", who, path);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}
