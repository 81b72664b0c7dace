/*
 * check_shm: sealed shared memory and descriptor passing (common/shm.h):
 * what one side writes the other reads, neither can resize it, a
 * descriptor that is not a sealed memfd of the agreed size is refused,
 * and descriptors travel over a socketpair only in the number agreed
 * (others are closed, not leaked).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "shm.h"

static int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* Descriptors open in this process. */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

START_TEST(test_create_map_share)
{
	struct shm a, b;
	int fd;

	ck_assert_int_eq(shm_create(&a, "test", 65536), 0);
	ck_assert_int_ge((fd = dup(a.fd)), 0);
	ck_assert_int_eq(shm_map(&b, fd, 65536), 0);
	memcpy(a.mem, "hello", 5);
	ck_assert_mem_eq(b.mem, "hello", 5);
	memcpy((char *)b.mem + 65530, "back", 4);
	ck_assert_mem_eq((char *)a.mem + 65530, "back", 4);
	/* Sealed: neither side can shrink or grow it. */
	ck_assert_int_eq(ftruncate(b.fd, 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(a.fd, 1 << 20), -1);
	ck_assert_int_eq(fcntl(b.fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	shm_free(&a);
	shm_free(&b);
	shm_free(&b);                   /* twice: a no-op */
}
END_TEST

START_TEST(test_map_refuses)
{
	struct shm a, b;
	char path[] = "/tmp/check_shm.XXXXXX";
	int fd;

	ck_assert_int_eq(shm_create(&a, "test", 8192), 0);
	/* Not the agreed size. */
	ck_assert_int_eq(shm_map(&b, dup(a.fd), 4096), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(shm_map(&b, dup(a.fd), 16384), -1);
	/* A memfd without the seals (the other side could truncate it). */
	fd = memfd_create("unsealed", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	ck_assert_int_eq(shm_map(&b, fd, 8192), -1);
	ck_assert(!fd_open(fd));        /* the refused descriptor is closed */
	/* A plain file, a socket. */
	ck_assert_int_ge((fd = mkstemp(path)), 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	ck_assert_int_eq(shm_map(&b, fd, 8192), -1);
	ck_assert_int_eq(shm_map(&b, socket(AF_UNIX, SOCK_STREAM, 0), 8192),
	    -1);
	ck_assert_int_eq(shm_create(&b, "zero", 0), -1);
	shm_free(&a);
}
END_TEST

START_TEST(test_pass_fds)
{
	struct shm a, b;
	int sv[2], fds[3], got[3], before;
	unsigned char tag = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(shm_create(&a, "test", 4096), 0);
	fds[0] = a.fd;
	ck_assert_int_ge((fds[1] = dup(a.fd)), 0);
	ck_assert_int_ge((fds[2] = dup(a.fd)), 0);
	ck_assert_int_eq(shm_send_fds(sv[0], 'M', fds, 3), 0);
	ck_assert_int_eq(shm_recv_fds(sv[1], &tag, got, 3), 0);
	ck_assert_int_eq(tag, 'M');
	ck_assert_int_eq(shm_map(&b, got[0], 4096), 0);
	memcpy(a.mem, "x", 1);
	ck_assert_mem_eq(b.mem, "x", 1);
	close(got[1]);
	close(got[2]);
	shm_free(&b);
	/* More than agreed: refused, and what came is closed. */
	before = count_fds();
	ck_assert_int_eq(shm_send_fds(sv[0], 'M', fds, 3), 0);
	ck_assert_int_eq(shm_recv_fds(sv[1], &tag, got, 2), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(count_fds(), before);
	/* A byte with no descriptor. */
	ck_assert_int_eq(write(sv[0], "M", 1), 1);
	ck_assert_int_eq(shm_recv_fds(sv[1], &tag, got, 1), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* Bad counts are refused before anything is sent. */
	ck_assert_int_eq(shm_send_fds(sv[0], 'M', fds, 0), -1);
	ck_assert_int_eq(shm_send_fds(sv[0], 'M', fds, SHM_MAX_FDS + 1), -1);
	close(fds[1]);
	close(fds[2]);
	shm_free(&a);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *
shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("shm");

	tcase_add_test(tc, test_create_map_share);
	tcase_add_test(tc, test_map_refuses);
	tcase_add_test(tc, test_pass_fds);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(shm_suite)
