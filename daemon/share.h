/*
 * share: each user's share of the daemon's local connections (application
 * attachments on every NAME.sock and control.sock together), so that one
 * local user cannot take every descriptor of the daemon and lock out the
 * others, TCP peers included.
 *
 * A user other than root and the daemon's own may hold at most a quarter
 * of the descriptor limit (RLIMIT_NOFILE, read by share_init()), and of
 * those at most SHARE_MAX_UNGREETED that have not finished their hello
 * yet; root and the daemon's user are counted but never refused.  Each
 * accepted connection is admitted (share_admit()), greeted once its hello
 * is answered (share_greeted()) and released when it is freed
 * (share_release()); the caller keeps whether it was greeted.
 *
 * The table is the daemon's one instance, used from the event loop only.
 */
#ifndef SMARTSOCK_SHARE_H
#define SMARTSOCK_SHARE_H

#include <sys/types.h>
#include <stddef.h>

/* Connections of one user that may be waiting for their hello at once. */
#define SHARE_MAX_UNGREETED 64

/* Read the descriptor limit. */
void share_init(void);
void share_free(void);

/*
 * A new connection of uid ((uid_t)-1: unknown, treated as one more user).
 * 0 when it may stay (it now counts), or -1 with the reason in why.
 */
int share_admit(uid_t uid, char *why, size_t len);
/* Its hello was answered: it no longer counts as waiting for one. */
void share_greeted(uid_t uid);
/* The connection is gone; greeted says whether share_greeted() ran. */
void share_release(uid_t uid, int greeted);

/* What uid holds now (for tests and status). */
size_t share_held(uid_t uid);
/* The most one unprivileged user may hold. */
size_t share_limit(void);

#endif
