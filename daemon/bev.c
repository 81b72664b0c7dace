/* bev: socket bufferevents with the daemon's I/O sizes (see bev.h). */
#include <event2/bufferevent.h>

#include "bev.h"

struct bufferevent *
bev_new(struct event_base *base, evutil_socket_t fd)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bufferevent_set_max_single_read(bev, BEV_MAX_SINGLE_IO);
	bufferevent_set_max_single_write(bev, BEV_MAX_SINGLE_IO);
	return bev;
}
