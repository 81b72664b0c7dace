/* share: each user's share of the local connections (see share.h). */
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>

#include "share.h"
#include "unixsock.h"

/* Never less than this for one user, however low the limit. */
#define SHARE_MIN_HELD 16

struct share_user {
	uid_t uid;
	size_t held;                    /* connections, greeted or not */
	size_t ungreeted;
};

static struct share_user *users;        /* owned; nusers in use */
static size_t nusers, cap;
static size_t held_limit = SHARE_MIN_HELD;

void
share_init(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		held_limit = (size_t)rl.rlim_cur / 4;
	else
		held_limit = 1024 * 1024;
	if (held_limit < SHARE_MIN_HELD)
		held_limit = SHARE_MIN_HELD;
}

void
share_free(void)
{
	free(users);
	users = NULL;
	nusers = cap = 0;
}

static struct share_user *
share_find(uid_t uid)
{
	size_t i;

	for (i = 0; i < nusers; i++)
		if (users[i].uid == uid)
			return &users[i];
	return NULL;
}

int
share_admit(uid_t uid, char *why, size_t len)
{
	struct share_user *u, *grown;

	if ((u = share_find(uid)) == NULL) {
		if (nusers == cap) {
			grown = reallocarray(users, cap ? 2 * cap : 8,
			    sizeof(*users));
			if (grown == NULL) {
				snprintf(why, len, "out of memory");
				return -1;
			}
			users = grown;
			cap = cap ? 2 * cap : 8;
		}
		u = &users[nusers++];
		u->uid = uid;
		u->held = u->ungreeted = 0;
	}
	if (!unixsock_uid_privileged(uid)) {
		if (u->held >= held_limit) {
			snprintf(why, len, "it holds %zu local connections, "
			    "its share of the daemon's descriptors", u->held);
			return -1;
		}
		if (u->ungreeted >= SHARE_MAX_UNGREETED) {
			snprintf(why, len, "%zu of its connections have not "
			    "finished their hello", u->ungreeted);
			return -1;
		}
	}
	u->held++;
	u->ungreeted++;
	return 0;
}

void
share_greeted(uid_t uid)
{
	struct share_user *u = share_find(uid);

	if (u != NULL && u->ungreeted > 0)
		u->ungreeted--;
}

void
share_release(uid_t uid, int greeted)
{
	struct share_user *u = share_find(uid);

	if (u == NULL)
		return;
	if (!greeted && u->ungreeted > 0)
		u->ungreeted--;
	if (u->held > 0)
		u->held--;
	if (u->held == 0)
		*u = users[--nusers];
}

size_t
share_held(uid_t uid)
{
	struct share_user *u = share_find(uid);

	return u != NULL ? u->held : 0;
}

size_t
share_limit(void)
{
	return held_limit;
}
