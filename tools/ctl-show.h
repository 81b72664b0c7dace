/*
 * ctl-show: smartsockctl's human format of the daemon's answers, aligned
 * columns in 80 columns (smartsockctl(8) describes it).  Each takes the
 * parsed answer of its command, known to be "ok": true.
 */
#ifndef SMARTSOCK_CTL_SHOW_H
#define SMARTSOCK_CTL_SHOW_H

#include <stdio.h>

struct jsonp;

void ctl_show_status(FILE *, const struct jsonp *answer);
void ctl_show_peers(FILE *, const struct jsonp *answer);
void ctl_show_reload(FILE *, const struct jsonp *answer);
/* "smartsockctl: COMMAND refused: reason" for an answer "ok": false. */
void ctl_show_refusal(FILE *, const char *command, const struct jsonp *answer);

#endif
