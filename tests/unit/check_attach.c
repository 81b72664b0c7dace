/*
 * check_attach: what libsmartsock's connection does on CLOSING, seen from
 * inside (libclient/client.h).  The confirms an at-least-once application
 * owes for messages it is done with must go out with CLOSING, even while
 * more messages wait to be handed out (a CONFIRM is held back then); a
 * frame with the bytes a lost CONFIRM would have carried never reaches
 * the daemon otherwise, and the daemon resends what was taken.  The
 * daemon here is a thread that speaks the script below.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "client.h"
#include "lproto.h"

static char dir[64], path[96];
static int lsock = -1;

static void
read_exactly(int fd, void *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			abort();
		got += (size_t)r;
	}
}

/* HELLO in, WELCOME out; the first recv's CREDIT in, then three
 * DELIVER_REQs in one write; then whatever comes, until the end. */
static void *
daemon_thread(void *arg)
{
	uint8_t buf[256], out[3 * 40], *o = out;
	int fd, i;

	(void)arg;
	if ((fd = accept(lsock, NULL, NULL)) == -1)
		abort();
	read_exactly(fd, buf, LPROTO_HDR_LEN + 2);              /* HELLO */
	lproto_put_header(buf, LPROTO_WELCOME, 2 + 4 + 16);
	lproto_put_u16(buf + LPROTO_HDR_LEN, LPROTO_VERSION);
	lproto_put_u32(buf + LPROTO_HDR_LEN + 2, 65536);
	memset(buf + LPROTO_HDR_LEN + 6, 0xbb, 16);
	if (write(fd, buf, LPROTO_HDR_LEN + 22) != LPROTO_HDR_LEN + 22)
		abort();
	read_exactly(fd, buf, LPROTO_HDR_LEN + 4);              /* CREDIT */
	for (i = 1; i <= 3; i++) {
		lproto_put_header(o, LPROTO_DELIVER_REQ, 8 + 16 + 2);
		lproto_put_u64(o + LPROTO_HDR_LEN, (uint64_t)i);
		memset(o + LPROTO_HDR_LEN + 8, 0xaa, 16);
		o[LPROTO_HDR_LEN + 24] = 'm';
		o[LPROTO_HDR_LEN + 25] = (uint8_t)('0' + i);
		o += LPROTO_HDR_LEN + 26;
	}
	if (write(fd, out, (size_t)(o - out)) != o - out)
		abort();
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

START_TEST(test_closing_sends_held_confirms)
{
	struct sockaddr_un sun;
	struct smartsock *s;
	pthread_t th;
	char msg[16];
	const uint8_t *f;

	snprintf(dir, sizeof(dir), "/tmp/check_attach.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.sock", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_ge((lsock = socket(AF_UNIX, SOCK_STREAM, 0)), 0);
	ck_assert_int_eq(bind(lsock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lsock, 1), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, daemon_thread, NULL), 0);

	ck_assert_ptr_nonnull((s = smartsock_open(path)));
	ck_assert_int_eq(smartsock_recv(s, msg, sizeof(msg)), 2);
	ck_assert_mem_eq(msg, "m1", 2);
	/* Done with m1; m2 and m3 are here already, so its CONFIRM is held
	 * back for the next batch. */
	ck_assert_int_eq(smartsock_recv(s, msg, sizeof(msg)), 2);
	ck_assert_mem_eq(msg, "m2", 2);
	ck_assert_uint_eq(s->untold, 1);
	ck_assert_uint_eq(s->olen - s->ooff, 0);
	/* CLOSING comes now: the held CONFIRM is queued with it. */
	ck_assert_int_eq(s->ev->session_frame(s, LPROTO_CLOSING, NULL), 0);
	ck_assert_int_eq(s->conn, SS_CLOSING);
	ck_assert_uint_eq(s->untold, 0);
	ck_assert_uint_eq(s->olen - s->ooff, LPROTO_HDR_LEN + 8);
	f = s->obuf + s->ooff;
	ck_assert_uint_eq(f[4], LPROTO_CONFIRM);
	ck_assert_uint_eq(lproto_get_u64(f + LPROTO_HDR_LEN), 1);
	smartsock_close(s);
	pthread_join(th, NULL);
	close(lsock);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *
attach_suite(void)
{
	Suite *s = suite_create("attach");
	TCase *tc = tcase_create("closing");

	tcase_add_test(tc, test_closing_sends_held_confirms);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(attach_suite)
