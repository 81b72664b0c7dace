/* accept: pause a listener that cannot accept (see accept.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "accept.h"

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct accept_pause *ap = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(ap->lev);
}

int
accept_pause_init(struct accept_pause *ap, struct event_base *base,
    struct evconnlistener *lev, const char *what)
{
	memset(ap, 0, sizeof(*ap));
	ap->lev = lev;
	snprintf(ap->what, sizeof(ap->what), "%s", what);
	if ((ap->resume_ev = evtimer_new(base, accept_resume, ap)) == NULL)
		return -1;
	return 0;
}

void
accept_pause_error(struct accept_pause *ap)
{
	struct timeval tv = { ACCEPT_PAUSE_MS / 1000,
	    (ACCEPT_PAUSE_MS % 1000) * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	int64_t k;

	evconnlistener_disable(ap->lev);
	evtimer_add(ap->resume_ev, &tv);
	ap->pauses++;
	if ((k = log_ratelimit_pass(&ap->rl, now_ms())) < 0)
		return;
	errno = err;
	if (k > 0)
		log_warn("%s: accept failed (and %" PRId64 " times more); "
		    "not accepting for %d ms", ap->what, k, ACCEPT_PAUSE_MS);
	else
		log_warn("%s: accept failed; not accepting for %d ms",
		    ap->what, ACCEPT_PAUSE_MS);
}

void
accept_pause_clear(struct accept_pause *ap)
{
	if (ap->resume_ev != NULL)
		event_free(ap->resume_ev);
	ap->resume_ev = NULL;
}
