/* unixsock: take over a Unix socket path safely (see unixsock.h). */
#define _GNU_SOURCE             /* struct ucred */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
