/* Unit tests for parse.c: strict config value parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "parse.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#define UNTOUCHED 0x5a5a5a5a5a5a5a5aULL

struct numcase {
	const char *in;
	int ok;
	uint64_t out;
};

static const struct numcase u64_cases[] = {
	{ "0", 1, 0 },
	{ "1", 1, 1 },
	{ "007", 1, 7 },
	{ "4096", 1, 4096 },
	{ "18446744073709551615", 1, UINT64_MAX },
	{ "18446744073709551616", 0, 0 },
	{ "99999999999999999999", 0, 0 },
	{ "", 0, 0 },
	{ "-1", 0, 0 },
	{ "+1", 0, 0 },
	{ " 1", 0, 0 },
	{ "1 ", 0, 0 },
	{ "1x", 0, 0 },
	{ "0x10", 0, 0 },
	{ "1.0", 0, 0 },
	{ "unlimited", 0, 0 },
};

static const struct numcase duration_cases[] = {
	{ "100ms", 1, 100 },
	{ "5s", 1, 5000 },
	{ "5", 1, 5000 },
	{ "2m", 1, 120000 },
	{ "1h", 1, 3600000 },
	{ "0", 1, 0 },
	{ "0ms", 1, 0 },
	{ "1ms", 1, 1 },
	{ "18446744073709551615ms", 1, UINT64_MAX },
	{ "18446744073709551s", 1, 18446744073709551000ULL },
	{ "18446744073709552s", 0, 0 },
	{ "99999999999999999999s", 0, 0 },
	{ "5124095576030h", 1, 5124095576030ULL * 3600000 },
	{ "5124095576031h", 0, 0 },
	{ "1.5s", 0, 0 },
	{ "-1s", 0, 0 },
	{ "-1", 0, 0 },
	{ "s", 0, 0 },
	{ "ms", 0, 0 },
	{ "", 0, 0 },
	{ "5 s", 0, 0 },
	{ "5s ", 0, 0 },
	{ "5S", 0, 0 },
	{ "5d", 0, 0 },
	{ "5sec", 0, 0 },
	{ "5ss", 0, 0 },
	{ "1h30m", 0, 0 },
};

static const struct numcase size_cases[] = {
	{ "4096", 1, 4096 },
	{ "0", 1, 0 },
	{ "4096B", 1, 4096 },
	{ "64K", 1, 65536 },
	{ "64k", 1, 65536 },
	{ "64KB", 1, 65536 },
	{ "64KiB", 1, 65536 },
	{ "64kib", 1, 65536 },
	{ "16M", 1, 16777216 },
	{ "16MB", 1, 16777216 },
	{ "16MiB", 1, 16777216 },
	{ "16mb", 1, 16777216 },
	{ "2G", 1, 2147483648ULL },
	{ "2GiB", 1, 2147483648ULL },
	{ "17179869183G", 1, 17179869183ULL << 30 },
	{ "17179869184G", 0, 0 },
	{ "18446744073709551615", 1, UINT64_MAX },
	{ "18446744073709551616", 0, 0 },
	{ "-1", 0, 0 },
	{ "-1M", 0, 0 },
	{ "1.5M", 0, 0 },
	{ "16 M", 0, 0 },
	{ "M", 0, 0 },
	{ "", 0, 0 },
	{ "16T", 0, 0 },
	{ "16MBB", 0, 0 },
	{ "16iB", 0, 0 },
	{ "16Mi", 0, 0 },
};

static const struct numcase mode_cases[] = {
	{ "0660", 1, 0660 },
	{ "660", 1, 0660 },
	{ "0", 1, 0 },
	{ "7777", 1, 07777 },
	{ "0600", 1, 0600 },
	{ "00660", 0, 0 },
	{ "0680", 0, 0 },
	{ "9", 0, 0 },
	{ "", 0, 0 },
	{ "-660", 0, 0 },
	{ "0x1b0", 0, 0 },
	{ "0660 ", 0, 0 },
	{ "rw-rw----", 0, 0 },
};

static void
check_numcases(int (*fn)(const char *, uint64_t *),
    const struct numcase *c, size_t n)
{
	uint64_t out;
	size_t i;

	for (i = 0; i < n; i++) {
		out = UNTOUCHED;
		ck_assert_msg(fn(c[i].in, &out) == c[i].ok,
		    "'%s': expected %s", c[i].in, c[i].ok ? "ok" : "refusal");
		if (c[i].ok)
			ck_assert_msg(out == c[i].out, "'%s': got %llu",
			    c[i].in, (unsigned long long)out);
		else
			ck_assert_msg(out == UNTOUCHED, "'%s': out written",
			    c[i].in);
	}
}

START_TEST(test_u64)
{
	check_numcases(parse_u64, u64_cases, nitems(u64_cases));
}
END_TEST

START_TEST(test_duration)
{
	check_numcases(parse_duration_ms, duration_cases,
	    nitems(duration_cases));
}
END_TEST

START_TEST(test_size)
{
	check_numcases(parse_size, size_cases, nitems(size_cases));
}
END_TEST

START_TEST(test_mode)
{
	check_numcases(parse_mode, mode_cases, nitems(mode_cases));
}
END_TEST

START_TEST(test_bool)
{
	static const struct {
		const char *in;
		int ok, out;
	} c[] = {
		{ "on", 1, 1 }, { "off", 1, 0 }, { "yes", 1, 1 },
		{ "no", 1, 0 }, { "true", 1, 1 }, { "false", 1, 0 },
		{ "1", 1, 1 }, { "0", 1, 0 }, { "YES", 1, 1 },
		{ "", 0, 0 }, { "2", 0, 0 }, { "onn", 0, 0 }, { " on", 0, 0 },
		{ "y", 0, 0 },
	};
	size_t i;
	int out;

	for (i = 0; i < nitems(c); i++) {
		out = 42;
		ck_assert_msg(parse_bool(c[i].in, &out) == c[i].ok, "'%s'",
		    c[i].in);
		ck_assert_int_eq(out, c[i].ok ? c[i].out : 42);
	}
}
END_TEST

START_TEST(test_identity)
{
	uint8_t id[16], want[16];
	char text[33];
	size_t i;

	for (i = 0; i < 16; i++)
		want[i] = (uint8_t)(i * 17);
	ck_assert_int_eq(parse_identity("00112233445566778899aabbccddeeff",
	    id), 1);
	ck_assert_mem_eq(id, want, 16);
	ck_assert_int_eq(parse_identity("00112233445566778899AABBCCDDEEFF",
	    id), 1);
	ck_assert_mem_eq(id, want, 16);
	format_identity(id, text);
	ck_assert_str_eq(text, "00112233445566778899aabbccddeeff");

	memset(id, 0x77, sizeof id);
	ck_assert_int_eq(parse_identity("", id), 0);
	ck_assert_int_eq(parse_identity("00112233445566778899aabbccddeef",
	    id), 0);
	ck_assert_int_eq(parse_identity("00112233445566778899aabbccddeeff0",
	    id), 0);
	ck_assert_int_eq(parse_identity("00112233445566778899aabbccddeefg",
	    id), 0);
	ck_assert_int_eq(parse_identity("0x112233445566778899aabbccddeeff",
	    id), 0);
	ck_assert_int_eq(parse_identity(" 0112233445566778899aabbccddeeff",
	    id), 0);
	for (i = 0; i < 16; i++)
		ck_assert_int_eq(id[i], 0x77);
}
END_TEST

START_TEST(test_endpoint_good)
{
	static const struct {
		const char *in, *host, *port;
	} c[] = {
		{ "127.0.0.1:25000", "127.0.0.1", "25000" },
		{ "0.0.0.0:1", "0.0.0.0", "1" },
		{ "*:65535", "*", "65535" },
		{ "localhost:80", "localhost", "80" },
		{ "host-1.example.org:8080", "host-1.example.org", "8080" },
		{ "[::1]:25000", "::1", "25000" },
		{ "[::]:25000", "::", "25000" },
		{ "[2001:db8::1]:443", "2001:db8::1", "443" },
		{ "[fe80::1%eth0]:9", "fe80::1%eth0", "9" },
		{ "[::ffff:127.0.0.1]:7", "::ffff:127.0.0.1", "7" },
	};
	char *host, *port;
	size_t i;

	for (i = 0; i < nitems(c); i++) {
		host = port = NULL;
		ck_assert_msg(parse_endpoint(c[i].in, &host, &port) == 1,
		    "'%s' refused", c[i].in);
		ck_assert_str_eq(host, c[i].host);
		ck_assert_str_eq(port, c[i].port);
		free(host);
		free(port);
	}
}
END_TEST

START_TEST(test_endpoint_bad)
{
	static const char *const bad[] = {
		"", ":", ":80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:99999999999999999999",
		"127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:080",
		"127.0.0.1:80x", "127.0.0.1: 80", " 127.0.0.1:80",
		"127.0.0.1:80 ", "::1:80", "[::1]", "[::1]80", "[::1]:",
		"[]:80", "[::1:80", "::1]:80", "[127.0.0.1]:80", "[*]:80",
		"[host]:80", "[::1%]:80", "[::1%e th0]:80", "256.0.0.1:80",
		"127.1:80", "1.2.3:80", "ho st:80", "host/x:80", "-host:80",
		".host:80", "**:80", "*x:80", "a:b:80", "[::1]:80:80",
	};
	char *host = (char *)"untouched", *port = (char *)"untouched";
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		ck_assert_msg(parse_endpoint(bad[i], &host, &port) == 0,
		    "'%s' accepted", bad[i]);
		ck_assert_str_eq(host, "untouched");
		ck_assert_str_eq(port, "untouched");
	}
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_u64);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_mode);
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_identity);
	tcase_add_test(tc, test_endpoint_good);
	tcase_add_test(tc, test_endpoint_bad);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(parse_suite)
