/*
 * advice: warnings about settings that the configuration accepts but that
 * are almost certainly not what the operator meant (1 ms heartbeats, a
 * buffer bigger than the daemon's whole max_memory), each saying what it
 * will do.  Logged at start and after every reload; nothing is changed.
 */
#ifndef SMARTSOCK_ADVICE_H
#define SMARTSOCK_ADVICE_H

struct config;

/* Log a warning for each doubtful setting of cfg; returns how many. */
int config_advise(const struct config *cfg);

#endif
