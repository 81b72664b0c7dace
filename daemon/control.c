/* control: the control socket (see control.h and ctlproto.h). */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "accept.h"
#include "bev.h"
#include "control.h"
#include "ctlcmd.h"
#include "ctlproto.h"
#include "daemon.h"
#include "json.h"
#include "log.h"
#include "parse.h"
#include "share.h"
#include "unixsock.h"

#define CONTROL_BACKLOG 16
/*
 * Unprivileged clients (status and peers only) beyond this many at once
 * are refused at once, and beyond twice as many not even answered.  Root
 * and the daemon's user have CONTROL_RESERVED of their own, the same way,
 * so that no other user can keep them from reloading.  Each user's
 * connections count in its share (share.h) too.
 */
#define CONTROL_MAX_CLIENTS 32
#define CONTROL_RESERVED 32
#define CONTROL_WORDS_MAX 8
#define CONTROL_ERR_MAX 1024
#define CTL_STR(x) #x
#define CTL_XSTR(x) CTL_STR(x)
#define CTL_LINE_MAX_TEXT CTL_XSTR(CTL_LINE_MAX)

struct ctl_client {
	TAILQ_ENTRY(ctl_client) entry;
	struct control *ctl;
	struct bufferevent *bev;
	struct event *deadline;         /* for the request, then the answer */
	pid_t pid;                      /* of the peer, for log lines */
	uid_t uid;
	int privileged;                 /* root or the daemon's user */
	int answered;                   /* the answer is queued */
	int eof;                        /* the client sent all it will */
};

struct control {
	struct daemon *d;
	char *path;
	struct evconnlistener *lev;
	struct accept_pause pause;      /* out of descriptors: wait */
	TAILQ_HEAD(, ctl_client) clients;
	size_t nclients[2];             /* unprivileged, privileged */
	struct log_ratelimit rl_refused;        /* over a limit */
	struct log_ratelimit rl_denied; /* privileged commands refused */
};

static void
ctl_client_free(struct ctl_client *c)
{
	struct control *ctl = c->ctl;

	TAILQ_REMOVE(&ctl->clients, c, entry);
	ctl->nclients[c->privileged]--;
	share_release(c->uid, c->answered);
	if (c->deadline != NULL)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* {"version":1,"ok":false,"error":why} and a newline into out. */
static void
ctl_format_refusal(struct evbuffer *out, const char *why)
{
	struct json j;

	json_init(&j, out);
	json_open_object(&j, NULL);
	json_uint(&j, "version", CTL_VERSION);
	json_bool(&j, "ok", 0);
	json_string(&j, "error", why);
	json_close_object(&j);
	evbuffer_add(out, "\n", 1);
}

/* Each of the request and the close after the answer gets this long. */
static void
ctl_arm_deadline(struct ctl_client *c)
{
	struct timeval tv = { CTL_TIMEOUT_MS / 1000,
	    (CTL_TIMEOUT_MS % 1000) * 1000 };

	evtimer_add(c->deadline, &tv);
}

/*
 * The answer goes out, then our side of the connection is shut down (in
 * ctl_writecb) and what the client still sends is read and dropped until
 * it closes: closing first, with its bytes unread, would reset the
 * connection and could destroy the answer before it is read.  A client
 * that takes longer than the deadline is closed anyway.
 */
static void
ctl_send(struct ctl_client *c, struct evbuffer *answer)
{
	if (!c->answered)
		share_greeted(c->uid);
	c->answered = 1;
	bufferevent_write_buffer(c->bev, answer);
	ctl_arm_deadline(c);
}

static void
ctl_refuse(struct ctl_client *c, const char *why)
{
	struct evbuffer *out;

	log_debug("control: refused a request (pid %ld, uid %ld): %s",
	    (long)c->pid, (long)c->uid, why);
	if ((out = evbuffer_new()) == NULL) {
		ctl_client_free(c);
		return;
	}
	ctl_format_refusal(out, why);
	ctl_send(c, out);
	evbuffer_free(out);
}

/*
 * Whoever may open control.sock may ask for status and peers; a
 * privileged command (reload) is for root and the daemon's own user, as
 * SO_PEERCRED says at connect.  1 allowed, else 0 and the client is
 * refused with the reason (logged, rate-limited).
 */
static int
ctl_permitted(struct ctl_client *c, const struct ctlcmd *cmd)
{
	char why[256], more[LOG_MORE_LEN];
	uid_t self = geteuid();
	int64_t k;

	if (!cmd->privileged || c->privileged)
		return 1;
	if (c->uid == (uid_t)-1)
		snprintf(why, sizeof(why), "permission denied: %s is for root "
		    "and smartsockd's user (uid %ld) only, and yours is "
		    "unknown", cmd->name, (long)self);
	else
		snprintf(why, sizeof(why), "permission denied: %s is for root "
		    "and smartsockd's user (uid %ld) only, not uid %ld",
		    cmd->name, (long)self, (long)c->uid);
	if ((k = log_ratelimit_pass(&c->ctl->rl_denied, now_ms())) >= 0)
		log_warnx("control: %s refused to pid %ld, uid %ld: not root "
		    "or the daemon's user%s", cmd->name, (long)c->pid,
		    (long)c->uid, log_more(more, k));
	ctl_refuse(c, why);
	return 0;
}

static void
ctl_run(struct ctl_client *c, const struct ctlcmd *cmd, const char *arg)
{
	char err[CONTROL_ERR_MAX];
	struct evbuffer *out;
	struct json j;
	int rc;

	if (!ctl_permitted(c, cmd))
		return;
	if (cmd->logged)
		log_info("control: %s requested by pid %ld, uid %ld", cmd->name,
		    (long)c->pid, (long)c->uid);
	if ((out = evbuffer_new()) == NULL) {
		ctl_client_free(c);
		return;
	}
	err[0] = '\0';
	json_init(&j, out);
	json_open_object(&j, NULL);
	json_uint(&j, "version", CTL_VERSION);
	json_bool(&j, "ok", 1);
	rc = cmd->run(c->ctl->d, arg, &j, err, sizeof(err));
	if (rc == 0) {
		json_close_object(&j);
		if (json_end(&j) == -1) {
			log_warnx("control: %s: the answer is not valid JSON "
			    "(out of memory?)", cmd->name);
			snprintf(err, sizeof(err), "internal error");
			rc = -1;
		}
	}
	if (rc == 0)
		evbuffer_add(out, "\n", 1);
	else {
		evbuffer_drain(out, evbuffer_get_length(out));
		ctl_format_refusal(out, err[0] != '\0' ? err : "failed");
	}
	ctl_send(c, out);
	evbuffer_free(out);
}

/* Split line into blank-separated words; -1 when there are too many. */
static int
ctl_split(char *line, char **word, int max)
{
	char *p = line;
	int n = 0;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return n;
		if (n == max)
			return -1;
		word[n++] = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* One request line, without its newline and NUL-terminated. */
static void
ctl_request(struct ctl_client *c, char *line, size_t len)
{
	char *word[CONTROL_WORDS_MAX], why[256];
	const struct ctlcmd *cmd;
	uint64_t version;
	size_t i;
	int n;

	for (i = 0; i < len; i++) {
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    (unsigned char)line[i] >= 0x7f) {
			ctl_refuse(c, "the request is not a line of printable "
			    "ASCII");
			return;
		}
	}
	if ((n = ctl_split(line, word, CONTROL_WORDS_MAX)) == -1) {
		ctl_refuse(c, "too many words in the request");
		return;
	}
	if (n < 1 || strcmp(word[0], CTL_MAGIC) != 0) {
		snprintf(why, sizeof(why), "not a control request: expected "
		    "'%s %d COMMAND'", CTL_MAGIC, CTL_VERSION);
		ctl_refuse(c, why);
		return;
	}
	if (n < 2 || !parse_u64(word[1], &version)) {
		ctl_refuse(c, "no protocol version after " CTL_MAGIC);
		return;
	}
	if (version != CTL_VERSION) {
		snprintf(why, sizeof(why), "protocol version %.20s is not "
		    "supported: this daemon speaks version %d", word[1],
		    CTL_VERSION);
		ctl_refuse(c, why);
		return;
	}
	if (n < 3) {
		snprintf(why, sizeof(why), "no command: expected %s",
		    ctlcmd_names());
		ctl_refuse(c, why);
		return;
	}
	if ((cmd = ctlcmd_find(word[2])) == NULL) {
		snprintf(why, sizeof(why), "unknown command '%.64s': expected "
		    "%s", word[2], ctlcmd_names());
		ctl_refuse(c, why);
		return;
	}
	if (n - 3 != cmd->nargs) {
		snprintf(why, sizeof(why), "usage: %s", cmd->usage);
		ctl_refuse(c, why);
		return;
	}
	ctl_run(c, cmd, cmd->nargs > 0 ? word[3] : NULL);
}

static void
ctl_readcb(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[CTL_LINE_MAX];
	struct evbuffer_ptr eol;
	size_t len;

	if (c->answered) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (eol.pos < 0 || (size_t)eol.pos >= sizeof(line)) {
		if (eol.pos >= 0 || evbuffer_get_length(in) >= sizeof(line))
			ctl_refuse(c, "request longer than " CTL_LINE_MAX_TEXT
			    " bytes");
		return;
	}
	len = (size_t)eol.pos;
	evbuffer_remove(in, line, len + 1);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	ctl_request(c, line, len);
}

static void
ctl_writecb(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;

	if (!c->answered ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->eof)
		ctl_client_free(c);
	else
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
ctl_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client *c = arg;

	if ((what & BEV_EVENT_EOF) && !c->answered &&
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		/* It stopped sending mid-line: say so, in case it reads. */
		c->eof = 1;
		ctl_refuse(c, "incomplete request: no newline");
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->answered &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		c->eof = 1;             /* free once the answer is out */
		return;
	}
	ctl_client_free(c);
}

static void
ctl_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_client *c = arg;
	char why[64];

	(void)fd;
	(void)what;
	if (c->answered) {
		log_debug("control: a client did not close after its answer "
		    "in time");
		ctl_client_free(c);
		return;
	}
	snprintf(why, sizeof(why), "no complete request within %d ms",
	    CTL_TIMEOUT_MS);
	ctl_refuse(c, why);
}

/* A client over a limit: counted in the log line (a few a period). */
static void
ctl_log_refused(struct control *ctl, pid_t pid, uid_t uid, const char *why)
{
	char more[LOG_MORE_LEN];
	int64_t k;

	if ((k = log_ratelimit_pass(&ctl->rl_refused, now_ms())) >= 0)
		log_warnx("control: refused a client, pid %ld, uid %ld: %s%s",
		    (long)pid, (long)uid, why, log_more(more, k));
}

static void
ctl_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	struct ctl_client *c;
	size_t max;
	char why[128];
	pid_t pid;
	uid_t uid;
	gid_t gid;                      /* not needed here */
	int priv;

	(void)lev;
	(void)sa;
	(void)salen;
	/* Peer credentials: for privileged commands and log lines. */
	unixsock_peer_cred(fd, &pid, &uid, &gid);
	priv = unixsock_uid_privileged(uid);
	max = priv ? CONTROL_RESERVED : CONTROL_MAX_CLIENTS;
	if (ctl->nclients[priv] >= 2 * max) {
		ctl_log_refused(ctl, pid, uid, "too many control clients at "
		    "once; closed unanswered");
		evutil_closesocket(fd);
		return;
	}
	if (share_admit(uid, why, sizeof(why)) == -1) {
		ctl_log_refused(ctl, pid, uid, why);
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->deadline = evtimer_new(ctl->d->base, ctl_deadline, c)) == NULL ||
	    (c->bev = bev_new(ctl->d->base, fd)) == NULL) {
		log_warnx("control: refused a client: out of memory");
		share_release(uid, 0);
		if (c != NULL && c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->ctl = ctl;
	c->pid = pid;
	c->uid = uid;
	c->privileged = priv;
	TAILQ_INSERT_TAIL(&ctl->clients, c, entry);
	ctl->nclients[priv]++;
	/* Never buffer more than one request line. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CTL_LINE_MAX);
	bufferevent_setcb(c->bev, ctl_readcb, ctl_writecb, ctl_eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	ctl_arm_deadline(c);
	if (ctl->nclients[priv] > max) {
		ctl_log_refused(ctl, pid, uid, priv ? "too many privileged "
		    "control clients at once" : "too many control clients at "
		    "once");
		ctl_refuse(c, "too many control clients at once, try again");
	}
}

static void
ctl_accept_error(struct evconnlistener *lev, void *arg)
{
	struct control *ctl = arg;

	(void)lev;
	accept_pause_error(&ctl->pause);
}

/* control_owner, control_group and control_mode on the socket file. */
static int
ctl_set_access(const char *path, const struct daemon_conf *dc)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (dc->control_owner != NULL &&
	    !config_user_id(dc->control_owner, &uid)) {
		log_warnx("control: control_owner: no such user '%s'",
		    dc->control_owner);
		return -1;
	}
	if (dc->control_group != NULL &&
	    !config_group_id(dc->control_group, &gid)) {
		log_warnx("control: control_group: no such group '%s'",
		    dc->control_group);
		return -1;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    unixsock_chown(path, uid, gid, "control") == -1)
		return -1;
	if (unixsock_chmod(path, (mode_t)dc->control_mode, "control") == -1)
		return -1;
	return 0;
}

struct control *
control_new(struct daemon *d)
{
	const struct daemon_conf *dc = &d->cfg.daemon;
	struct control *ctl;
	size_t len = strlen(dc->runtime_dir) + 1 + strlen(CTL_SOCKET_FILE) + 1;
	char what[96];
	int fd = -1;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->path = malloc(len)) == NULL) {
		log_warnx("control: out of memory");
		free(ctl);
		return NULL;
	}
	ctl->d = d;
	ctl->rl_denied.burst = 5;
	ctl->rl_refused.burst = 5;
	TAILQ_INIT(&ctl->clients);
	snprintf(ctl->path, len, "%s/%s", dc->runtime_dir, CTL_SOCKET_FILE);
	/* Owner only until owner, group and mode are all in place. */
	if ((fd = unixsock_bind(ctl->path, 0600, "control")) == -1) {
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	if (ctl_set_access(ctl->path, dc) == -1)
		goto fail;
	ctl->lev = evconnlistener_new(d->base, ctl_accept, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, CONTROL_BACKLOG, fd);
	if (ctl->lev == NULL) {
		log_warn("control: listen %s", ctl->path);
		goto fail;
	}
	snprintf(what, sizeof(what), "control: %s", ctl->path);
	if (accept_pause_init(&ctl->pause, d->base, ctl->lev, what) == -1) {
		log_warnx("control: out of memory");
		evconnlistener_free(ctl->lev);
		fd = -1;        /* closed with the listener */
		goto fail;
	}
	evconnlistener_set_error_cb(ctl->lev, ctl_accept_error);
	return ctl;

fail:
	if (fd != -1)
		close(fd);
	unlink(ctl->path);
	accept_pause_clear(&ctl->pause);
	free(ctl->path);
	free(ctl);
	return NULL;
}

void
control_free(struct control *ctl)
{
	struct ctl_client *c;

	if (ctl == NULL)
		return;
	while ((c = TAILQ_FIRST(&ctl->clients)) != NULL)
		ctl_client_free(c);
	evconnlistener_free(ctl->lev);
	unlink(ctl->path);
	accept_pause_clear(&ctl->pause);
	free(ctl->path);
	free(ctl);
}
