/*
 * confroute: the routes of a configuration (forward = in [socket NAME]
 * sections).  Once the whole file is read, each socket's forward list is
 * resolved to the sockets it names; a name that is no socket, a socket
 * named twice, a socket forwarding to itself and any loop of routes
 * (a -> b -> a) are errors naming the forward line.  Private to the
 * config reader.
 */
#ifndef SMARTSOCK_CONFROUTE_H
#define SMARTSOCK_CONFROUTE_H

#include <stddef.h>

#include "config.h"

/* Fill every socket's forward_to.  0, or -1 with "file:line: reason" in
 * err (what was filled stays for config_free()). */
int confroute_resolve(struct config *cfg, const char *file, char *err,
    size_t errlen);

#endif
