/*
 * check_lproto_vectors: the C side of the local-protocol vectors in
 * tests/lproto-vectors/ (its README.md defines the format; the Python
 * client's tests read the same files).
 *
 * frames.txt: every `ok` frame is accepted by lproto_frame_check()
 * (max_payload 1048576) with its TYPE and a body of the rest of its bytes,
 * the getters of lproto.h read its FIELDs at the offsets lproto.h's header
 * comment gives, and lproto_put_header() and the putters build exactly its
 * bytes from the FIELDs; every `bad` header is refused with its MAX; every
 * `more` is too short to judge.
 *
 * *.session: each script is played by a fake daemon (a child process
 * listening on a Unix socket in a temp dir, walking the `c` and `d` lines)
 * against the real libsmartsock (this process, walking `open` and `call`):
 * the library writes exactly the script's bytes, and every call returns
 * what the script says, errno included.
 *
 * Failures name the vector as file:line.  The vectors are found under
 * $SMARTSOCK_SRCDIR (make check sets it), else $srcdir, else ".".
 * vecfile.h reads the files, fake_daemon.h plays the daemon's side; this
 * file holds the checks, the client's side and the test cases.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "fake_daemon.h"
#include "lproto.h"
#include "smartsock.h"
#include "vecfile.h"

#define FRAME_MAX_PAYLOAD 1048576       /* README: for `ok` lines */
#define MIN_SESSIONS 14         /* the *.session files committed so far */
#define CHILD_WAIT_MS 10000     /* then the fake daemon is killed */
#define CLIENT_TIMEOUT_MS 5000  /* README: `open` sets it */
#define RECV_CAP 65536
#define MAX_FIELDS 3

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* --- frames.txt -------------------------------------------------------- */

/*
 * Each type's FIELDs in wire order, from lproto.h: '2', '4', '8' a
 * big-endian integer of that many bytes, 'i' an identity, 'p' the payload
 * or text (the rest of the frame).
 */
static const struct {
	const char *name;
	uint8_t type;
	const char *fields;
} frame_types[] = {
	{ "HELLO", LPROTO_HELLO, "2" },
	{ "SEND", LPROTO_SEND, "p" },
	{ "SEND_TO", LPROTO_SEND_TO, "ip" },
	{ "CONFIRM", LPROTO_CONFIRM, "8" },
	{ "CREDIT", LPROTO_CREDIT, "4" },
	{ "WELCOME", LPROTO_WELCOME, "24i" },
	{ "REFUSE", LPROTO_REFUSE, "24p" },
	{ "DELIVER", LPROTO_DELIVER, "ip" },
	{ "DELIVER_REQ", LPROTO_DELIVER_REQ, "8ip" },
	{ "SEND_RESULT", LPROTO_SEND_RESULT, "4" },
	{ "CLOSING", LPROTO_CLOSING, "" },
};

/* One FIELD: a number, or bytes (identity, payload). */
struct field {
	char kind;
	uint64_t num;
	uint8_t *bytes;         /* owned */
	size_t len;             /* bytes on the wire */
};

static int
field_parse(char kind, const char *tok, struct field *f)
{
	f->kind = kind;
	f->bytes = NULL;
	switch (kind) {
	case '2':
		f->len = 2;
		return parse_uint(tok, UINT16_MAX, &f->num);
	case '4':
		f->len = 4;
		return parse_uint(tok, UINT32_MAX, &f->num);
	case '8':
		f->len = 8;
		return parse_uint(tok, UINT64_MAX, &f->num);
	case 'i':
		f->len = LPROTO_ID_LEN;
		if ((f->bytes = malloc(LPROTO_ID_LEN)) == NULL)
			return -1;
		return identity_parse(tok, f->bytes);
	default:
		return hex_decode(tok, &f->bytes, &f->len);
	}
}

/* The reader's side: the field at *off of the frame is f. */
static int
field_read(struct report *r, const struct vline *l, int idx,
    const uint8_t *frame, size_t flen, size_t *off, const struct field *f)
{
	size_t len = f->kind == 'p' ? flen - *off : f->len;
	uint64_t got;

	if (flen - *off < len) {
		report_add(r, l, "FIELD %d: frame ends at byte %zu, before it",
		    idx + 1, flen);
		return -1;
	}
	switch (f->kind) {
	case '2':
		got = lproto_get_u16(frame + *off);
		break;
	case '4':
		got = lproto_get_u32(frame + *off);
		break;
	case '8':
		got = lproto_get_u64(frame + *off);
		break;
	default:
		*off += len;
		return bytes_compare(r, l, f->kind == 'i' ? "identities" :
		    "payloads", f->bytes, f->len, frame + *off - len, len);
	}
	*off += len;
	if (got != f->num) {
		report_add(r, l, "FIELD %d: read %llu at byte %zu, expected "
		    "%llu", idx + 1, (unsigned long long)got, *off - len,
		    (unsigned long long)f->num);
		return -1;
	}
	return 0;
}

/* The writer's side: f at *off. */
static void
field_put(uint8_t *dst, size_t *off, const struct field *f)
{
	switch (f->kind) {
	case '2':
		lproto_put_u16(dst + *off, (uint16_t)f->num);
		break;
	case '4':
		lproto_put_u32(dst + *off, (uint32_t)f->num);
		break;
	case '8':
		lproto_put_u64(dst + *off, f->num);
		break;
	default:
		if (f->len > 0)
			memcpy(dst + *off, f->bytes, f->len);
		break;
	}
	*off += f->len;
}

static const char *
check_name(enum lproto_check c)
{
	if (c == LPROTO_FRAME_OK)
		return "FRAME_OK";
	return c == LPROTO_FRAME_BAD ? "FRAME_BAD" : "NEED_MORE";
}

/* ok HEX TYPE FIELD... */
static void
frame_ok(const struct vline *l, struct report *r)
{
	struct field fields[MAX_FIELDS];
	uint8_t *frame = NULL, *built = NULL, type;
	size_t flen, body = 0, off, i, nf = 0;
	enum lproto_check c;
	const char *kinds;
	uint32_t blen;
	int t, before = r->count;

	for (t = 0; t < (int)nitems(frame_types); t++)
		if (l->ntok >= 3 && strcmp(l->tok[2], frame_types[t].name) == 0)
			break;
	if (t == (int)nitems(frame_types)) {
		report_add(r, l, "ok: no known TYPE");
		return;
	}
	kinds = frame_types[t].fields;
	if ((size_t)l->ntok != 3 + strlen(kinds)) {
		report_add(r, l, "%s takes %zu FIELDs", frame_types[t].name,
		    strlen(kinds));
		return;
	}
	if (hex_decode(l->tok[1], &frame, &flen) == -1) {
		report_add(r, l, "bad HEX");
		return;
	}
	for (nf = 0; nf < strlen(kinds); nf++) {
		if (field_parse(kinds[nf], l->tok[3 + nf], &fields[nf]) == -1) {
			free(fields[nf].bytes);
			report_add(r, l, "bad FIELD %zu: %s", nf + 1,
			    l->tok[3 + nf]);
			goto out;
		}
		body += fields[nf].len;
	}

	/* Reading. */
	c = lproto_frame_check(frame, flen, FRAME_MAX_PAYLOAD, &type, &blen);
	if (c != LPROTO_FRAME_OK)
		report_add(r, l, "lproto_frame_check: %s", check_name(c));
	else if (type != frame_types[t].type)
		report_add(r, l, "type %u, expected %s (%u)", type,
		    frame_types[t].name, frame_types[t].type);
	else if (blen != flen - LPROTO_HDR_LEN)
		report_add(r, l, "body of %u bytes, but %zu follow the header",
		    blen, flen - LPROTO_HDR_LEN);
	off = LPROTO_HDR_LEN;
	for (i = 0; r->count == before && i < nf; i++)
		field_read(r, l, (int)i, frame, flen, &off, &fields[i]);
	if (r->count == before && off != flen)
		report_add(r, l, "%zu bytes after the last FIELD", flen - off);

	/* Writing. */
	if ((built = malloc(LPROTO_HDR_LEN + body)) == NULL) {
		report_add(r, l, "out of memory");
		goto out;
	}
	off = lproto_put_header(built, frame_types[t].type, body);
	for (i = 0; i < nf; i++)
		field_put(built, &off, &fields[i]);
	bytes_compare(r, l, "built and given frames", frame, flen, built, off);
out:
	for (i = 0; i < nf; i++)
		free(fields[i].bytes);
	free(built);
	free(frame);
}

/* bad HEX MAX, more HEX: the header is refused, or too short to judge. */
static void
frame_refused(const struct vline *l, struct report *r)
{
	int more = strcmp(l->tok[0], "more") == 0;
	uint64_t max = FRAME_MAX_PAYLOAD;
	uint8_t *frame, type;
	enum lproto_check c, want;
	uint32_t blen;
	size_t flen;

	if (l->ntok != (more ? 2 : 3) ||
	    (!more && parse_uint(l->tok[2], SIZE_MAX, &max) == -1)) {
		report_add(r, l, more ? "more takes HEX" : "bad takes HEX MAX");
		return;
	}
	if (hex_decode(l->tok[1], &frame, &flen) == -1) {
		report_add(r, l, "bad HEX");
		return;
	}
	want = more ? LPROTO_NEED_MORE : LPROTO_FRAME_BAD;
	c = lproto_frame_check(frame, flen, (size_t)max, &type, &blen);
	if (c != want)
		report_add(r, l, "lproto_frame_check: %s, expected %s",
		    check_name(c), check_name(want));
	free(frame);
}

START_TEST(test_frames)
{
	static const struct {
		const char *kind;
		void (*check)(const struct vline *, struct report *);
	} kinds[] = {
		{ "ok", frame_ok },
		{ "bad", frame_refused },
		{ "more", frame_refused },
	};
	char path[PATH_MAX];
	struct report r;
	struct vline *lines;
	size_t n, i, k, seen[3] = { 0, 0, 0 };

	memset(&r, 0, sizeof r);
	snprintf(path, sizeof path, "%s/" VECTOR_DIR "/frames.txt",
	    vector_srcdir());
	lines = vecfile_load(path, &n, &r);
	ck_assert_msg(lines != NULL, "%s", r.buf);
	for (i = 0; i < n; i++) {
		for (k = 0; k < nitems(kinds); k++)
			if (strcmp(lines[i].tok[0], kinds[k].kind) == 0)
				break;
		if (k == nitems(kinds)) {
			report_add(&r, &lines[i], "unknown kind %s",
			    lines[i].tok[0]);
			continue;
		}
		seen[k]++;
		kinds[k].check(&lines[i], &r);
	}
	vecfile_free(lines, n);
	ck_assert_msg(r.count == 0, "%d failure(s) in %zu vectors:\n%s",
	    r.count, n, r.buf);
	ck_assert_msg(seen[0] > 0 && seen[1] > 0 && seen[2] > 0,
	    "%s: %zu ok, %zu bad, %zu more", path, seen[0], seen[1], seen[2]);
}
END_TEST

/* --- *.session: the client --------------------------------------------- */

static const struct {
	const char *name;
	int err;
} errno_names[] = {
	{ "EACCES", EACCES },
	{ "EUSERS", EUSERS },
	{ "EPROTO", EPROTO },
	{ "EMSGSIZE", EMSGSIZE },
	{ "EHOSTUNREACH", EHOSTUNREACH },
	{ "ENOBUFS", ENOBUFS },
	{ "EPIPE", EPIPE },
	{ "ECONNRESET", ECONNRESET },
	{ "ENOTCONN", ENOTCONN },
	{ "ESHUTDOWN", ESHUTDOWN },
	{ "ETIMEDOUT", ETIMEDOUT },
	{ "EAGAIN", EAGAIN },
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "ENOENT", ENOENT },
	{ "ENAMETOOLONG", ENAMETOOLONG },
	{ "ENOMEM", ENOMEM },
	{ "EINVAL", EINVAL },
};

static int
errno_parse(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(errno_names); i++)
		if (strcmp(errno_names[i].name, name) == 0)
			return errno_names[i].err;
	return 0;
}

static const char *
errno_name(int err)
{
	size_t i;

	for (i = 0; i < nitems(errno_names); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	return strerror(err);
}

/* One open or call line: its arguments and what follows "=>". */
struct call {
	const struct vline *l;
	char *const *arg;
	int narg;
	char *const *exp;
	int nexp;               /* 0 without "=>" */
};

/*
 * The outcome of a call that succeeded (failed == 0) or failed with err,
 * against the line's `=> ERRNO` or its absence.  0 when as expected.
 */
static int
call_outcome(const struct call *c, int failed, int err, struct report *r)
{
	int want = 0;

	if (c->nexp > 0 && (c->nexp != 1 || (want = errno_parse(c->exp[0]))
	    == 0)) {
		report_add(r, c->l, "bad expectation after =>");
		return -1;
	}
	if (failed && want == 0)
		report_add(r, c->l, "failed with %s, expected success",
		    errno_name(err));
	else if (failed && err != want)
		report_add(r, c->l, "failed with %s, expected %s",
		    errno_name(err), c->exp[0]);
	else if (!failed && want != 0)
		report_add(r, c->l, "succeeded, expected %s", c->exp[0]);
	else
		return 0;
	return -1;
}

static int
call_open(smartsock **sp, const struct call *c, const char *sockpath,
    struct report *r)
{
	smartsock *s;
	int err;

	if (*sp != NULL) {
		report_add(r, c->l, "a handle is open already");
		return -1;
	}
	errno = 0;
	s = smartsock_open(sockpath);
	err = errno;
	if (call_outcome(c, s == NULL, err, r) == -1) {
		smartsock_close(s);
		return -1;
	}
	if (s != NULL && (smartsock_set_timeout(s, CLIENT_TIMEOUT_MS) == -1 ||
	    smartsock_set_reconnect(s, 0) == -1)) {
		report_add(r, c->l, "set_timeout/set_reconnect: %s",
		    strerror(errno));
		smartsock_close(s);
		return -1;
	}
	*sp = s;
	return 0;
}

static int
call_send(smartsock *s, const struct call *c, struct report *r)
{
	uint8_t id[LPROTO_ID_LEN], *p;
	size_t plen;
	int rc, ret;

	if ((c->narg == 2 && identity_parse(c->arg[0], id) == -1) ||
	    hex_decode(c->arg[c->narg - 1], &p, &plen) == -1) {
		report_add(r, c->l, "bad IDENTITY or PAYLOAD");
		return -1;
	}
	if (c->narg == 1)
		ret = smartsock_send(s, p, plen);
	else
		ret = smartsock_send_to(s, id, p, plen);
	rc = call_outcome(c, ret == -1, errno, r);
	if (ret != 0 && ret != -1) {
		report_add(r, c->l, "returned %d", ret);
		rc = -1;
	}
	free(p);
	return rc;
}

static int
call_recv(smartsock *s, const struct call *c, struct report *r)
{
	static uint8_t buf[RECV_CAP];
	uint8_t id[LPROTO_ID_LEN], want_id[LPROTO_ID_LEN], *want = NULL;
	size_t wlen;
	ssize_t n;
	int rc = -1;

	if (c->nexp == 1) {
		n = smartsock_recv_identity(s, id, buf, sizeof buf);
		return call_outcome(c, n == -1, errno, r);
	}
	if (c->nexp != 2 || identity_parse(c->exp[0], want_id) == -1 ||
	    hex_decode(c->exp[1], &want, &wlen) == -1 || wlen > sizeof buf) {
		report_add(r, c->l, "recv takes => IDENTITY PAYLOAD or "
		    "=> ERRNO");
		goto out;
	}
	n = smartsock_recv_identity(s, id, buf, sizeof buf);
	if (n == -1)
		report_add(r, c->l, "failed with %s, expected a message",
		    errno_name(errno));
	else if ((size_t)n > sizeof buf)
		report_add(r, c->l, "a message of %zd bytes, expected %zu", n,
		    wlen);
	else if (bytes_compare(r, c->l, "sender identities", want_id,
	    sizeof want_id, id, sizeof id) == 0 &&
	    bytes_compare(r, c->l, "payloads", want, wlen, buf, (size_t)n) == 0)
		rc = 0;
out:
	free(want);
	return rc;
}

static int
call_identity(smartsock *s, const struct call *c, struct report *r)
{
	uint8_t id[LPROTO_ID_LEN], want[LPROTO_ID_LEN];

	if (c->nexp != 1 || identity_parse(c->exp[0], want) == -1) {
		report_add(r, c->l, "identity takes => IDENTITY");
		return -1;
	}
	if (smartsock_identity(s, id) == -1) {
		report_add(r, c->l, "failed with %s", errno_name(errno));
		return -1;
	}
	return bytes_compare(r, c->l, "identities", want, sizeof want, id,
	    sizeof id);
}

/* A number a call gave against the line's => N.  0 when they agree. */
static int
number_compare(const struct call *c, const char *what, uint64_t got,
    uint64_t want, struct report *r)
{
	if (got == want)
		return 0;
	report_add(r, c->l, "%s %llu, expected %llu", what,
	    (unsigned long long)got, (unsigned long long)want);
	return -1;
}

static int
call_max_message_size(smartsock *s, const struct call *c, struct report *r)
{
	uint64_t want;
	size_t got;

	if (c->nexp != 1 || parse_uint(c->exp[0], SIZE_MAX, &want) == -1) {
		report_add(r, c->l, "max_message_size takes => N");
		return -1;
	}
	got = smartsock_max_message_size(s);
	return number_compare(c, "max_message_size", (uint64_t)got, want, r);
}

static int
call_reconnect(smartsock *s, const struct call *c, struct report *r)
{
	int on = strcmp(c->arg[0], "on") == 0;

	if ((!on && strcmp(c->arg[0], "off") != 0) || c->nexp != 0) {
		report_add(r, c->l, "reconnect takes on or off");
		return -1;
	}
	if (smartsock_set_reconnect(s, on) == -1) {
		report_add(r, c->l, "failed with %s", errno_name(errno));
		return -1;
	}
	return 0;
}

static int
call_events(smartsock *s, const struct call *c, struct report *r)
{
	uint64_t want;
	int got;

	if (c->nexp != 1 || parse_uint(c->exp[0], 7, &want) == -1) {
		report_add(r, c->l, "events takes => N (0 to 7)");
		return -1;
	}
	if ((got = smartsock_events(s)) == -1) {
		report_add(r, c->l, "failed with %s", errno_name(errno));
		return -1;
	}
	return number_compare(c, "events", (uint64_t)got, want, r);
}

static int
call_sendv(smartsock *s, const struct call *c, struct report *r)
{
	struct iovec iov[MAX_TOKENS];
	uint8_t *p[MAX_TOKENS];
	uint64_t want = 0;
	int i, n = 0, rc = -1;
	int errs = c->nexp == 1 && errno_parse(c->exp[0]) != 0;

	memset(iov, 0, sizeof iov);
	if (c->nexp != 1 || (!errs && parse_uint(c->exp[0], (uint64_t)c->narg,
	    &want) == -1)) {
		report_add(r, c->l, "sendv takes PAYLOAD... => N or => ERRNO");
		return -1;
	}
	for (i = 0; i < c->narg; i++) {
		if (hex_decode(c->arg[i], &p[i], &iov[i].iov_len) == -1) {
			report_add(r, c->l, "bad PAYLOAD %d", i + 1);
			goto out;
		}
		iov[i].iov_base = p[i];
	}
	n = smartsock_sendv(s, iov, c->narg);
	if (errs)
		rc = call_outcome(c, n == -1, errno, r);
	else if (n == -1)
		report_add(r, c->l, "failed with %s, expected %llu sent",
		    errno_name(errno), (unsigned long long)want);
	else if ((uint64_t)n != want)
		report_add(r, c->l, "%d sent, expected %llu", n,
		    (unsigned long long)want);
	else
		rc = 0;
out:
	while (i-- > 0)
		free(p[i]);
	return rc;
}

/* Which calls there are and how many arguments each takes (-1: one or
 * more). */
static const struct {
	const char *name;
	int narg;
	int (*run)(smartsock *, const struct call *, struct report *);
} client_calls[] = {
	{ "send", 1, call_send },
	{ "send_to", 2, call_send },
	{ "sendv", -1, call_sendv },
	{ "recv", 0, call_recv },
	{ "identity", 0, call_identity },
	{ "max_message_size", 0, call_max_message_size },
	{ "reconnect", 1, call_reconnect },
	{ "events", 0, call_events },
};

/* One open or call line.  0, or -1 when it failed (reported). */
static int
client_line(smartsock **sp, const struct vline *l, const char *sockpath,
    struct report *r)
{
	struct call c;
	const char *name;
	int i, first;

	first = strcmp(l->tok[0], "call") == 0 ? 2 : 1;
	if (l->ntok < first) {
		report_add(r, l, "call what?");
		return -1;
	}
	name = l->tok[first - 1];
	c.l = l;
	c.arg = l->tok + first;
	for (i = first; i < l->ntok && strcmp(l->tok[i], "=>") != 0; i++)
		continue;
	c.narg = i - first;
	c.exp = l->tok + i + 1;
	c.nexp = i < l->ntok ? l->ntok - i - 1 : 0;
	if (i < l->ntok && c.nexp == 0) {
		report_add(r, l, "nothing after =>");
		return -1;
	}

	if (strcmp(name, "open") == 0 && first == 1) {
		if (c.narg == 0)
			return call_open(sp, &c, sockpath, r);
		report_add(r, l, "open takes no arguments");
		return -1;
	}
	if (*sp == NULL) {
		report_add(r, l, "no handle is open");
		return -1;
	}
	if (strcmp(name, "close") == 0 && c.narg == 0 && c.nexp == 0) {
		smartsock_close(*sp);
		*sp = NULL;
		return 0;
	}
	for (i = 0; i < (int)nitems(client_calls); i++)
		if (strcmp(name, client_calls[i].name) == 0) {
			if (client_calls[i].narg == -1 ? c.narg < 1 :
			    c.narg != client_calls[i].narg)
				break;
			return client_calls[i].run(*sp, &c, r);
		}
	report_add(r, l, "unknown call or wrong arguments");
	return -1;
}

/* The `open` and `call` lines, in order, until one fails. */
static void
client_play(const struct vline *lines, size_t n, const char *sockpath,
    struct report *r)
{
	smartsock *s = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(lines[i].tok[0], "open") != 0 &&
		    strcmp(lines[i].tok[0], "call") != 0)
			continue;
		if (client_line(&s, &lines[i], sockpath, r) == -1)
			break;
	}
	smartsock_close(s);
}

/* --- *.session: the two together ------------------------------------------ */

static glob_t sessions;

static void
sessions_free(void)
{
	globfree(&sessions);
}

/* The sorted *.session files; none when the pattern matches nothing. */
static void
sessions_find(void)
{
	char pattern[PATH_MAX];

	snprintf(pattern, sizeof pattern, "%s/" VECTOR_DIR "/*.session",
	    vector_srcdir());
	if (glob(pattern, GLOB_ERR, NULL, &sessions) != 0) {
		globfree(&sessions);
		memset(&sessions, 0, sizeof sessions);
	}
	atexit(sessions_free);
}

/* A listening Unix socket at dir/d.sock (path gets the name), or -1. */
static int
listen_unix(const char *dir, char *path, size_t pathlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(path, pathlen, "%s/d.sock", dir) >= pathlen ||
	    strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(fd, 1) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for the child up to CHILD_WAIT_MS, then kill it.  Its wait status;
 * *killed says whether it had to be killed. */
static int
child_reap(pid_t pid, int *killed)
{
	int status, waited;

	*killed = 0;
	for (waited = 0; waited < CHILD_WAIT_MS; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		poll(NULL, 0, 10);
	}
	*killed = 1;
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	return status;
}

/* The fake daemon's messages from the pipe, and how it ended. */
static void
daemon_verdict(int fd, int status, int killed, struct report *rd)
{
	ssize_t n;

	while (rd->len < sizeof rd->buf - 1 && (n = read(fd,
	    rd->buf + rd->len, sizeof rd->buf - 1 - rd->len)) > 0)
		rd->len += (size_t)n;
	rd->buf[rd->len] = '\0';
	if (killed)
		report_add(rd, NULL, "killed after %d ms", CHILD_WAIT_MS);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && rd->len > 0)
		rd->count++;
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		report_add(rd, NULL, "ended with wait status %#x", status);
}

START_TEST(test_session)
{
	const char *file = sessions.gl_pathv[_i];
	const char *t = getenv("TMPDIR");
	char dir[PATH_MAX], sockpath[PATH_MAX] = "";
	struct report rc, rd;
	struct vline *lines;
	int lfd = -1, ep[2], status, killed;
	size_t n;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	memset(&rc, 0, sizeof rc);
	memset(&rd, 0, sizeof rd);
	lines = vecfile_load(file, &n, &rc);
	ck_assert_msg(lines != NULL, "%s", rc.buf);

	snprintf(dir, sizeof dir, "%s/check_lproto_vectors.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		report_add(&rc, NULL, "mkdtemp %s: %s", dir, strerror(errno));
		dir[0] = '\0';
		goto cleanup;
	}
	if ((lfd = listen_unix(dir, sockpath, sizeof sockpath)) == -1) {
		report_add(&rc, NULL, "listening at %s: %s", sockpath,
		    strerror(errno));
		goto cleanup;
	}
	if (pipe(ep) == -1) {
		report_add(&rc, NULL, "pipe: %s", strerror(errno));
		goto cleanup;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		report_add(&rc, NULL, "fork: %s", strerror(errno));
		close(ep[0]);
		close(ep[1]);
		goto cleanup;
	}
	if (pid == 0) {
		/* The fake daemon: its messages go up the pipe. */
		close(ep[0]);
		daemon_play(lines, n, lfd, &rd);
		if (rd.len > 0 && write(ep[1], rd.buf, rd.len) == -1)
			rd.count++;
		vecfile_free(lines, n);
		_exit(rd.count == 0 ? 0 : 1);
	}
	close(lfd);
	lfd = -1;
	close(ep[1]);
	client_play(lines, n, sockpath, &rc);
	status = child_reap(pid, &killed);
	daemon_verdict(ep[0], status, killed, &rd);
	close(ep[0]);

cleanup:
	if (lfd != -1)
		close(lfd);
	if (sockpath[0] != '\0')
		unlink(sockpath);
	if (dir[0] != '\0')
		rmdir(dir);
	vecfile_free(lines, n);
	ck_assert_msg(rc.count == 0 && rd.count == 0,
	    "%s\n-- fake daemon:\n%s-- client:\n%s", file,
	    rd.count == 0 ? "ok\n" : rd.buf, rc.count == 0 ? "ok\n" : rc.buf);
}
END_TEST

START_TEST(test_sessions_found)
{
	ck_assert_msg(sessions.gl_pathc >= MIN_SESSIONS,
	    "%zu *.session files under %s/" VECTOR_DIR ", expected at least %d",
	    (size_t)sessions.gl_pathc, vector_srcdir(), MIN_SESSIONS);
}
END_TEST

static Suite *
lproto_vectors_suite(void)
{
	Suite *s = suite_create("lproto_vectors");
	TCase *tc;

	tc = tcase_create("frames");
	tcase_add_test(tc, test_frames);
	suite_add_tcase(s, tc);

	sessions_find();
	tc = tcase_create("sessions");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sessions_found);
	tcase_add_loop_test(tc, test_session, 0, (int)sessions.gl_pathc);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(lproto_vectors_suite)
