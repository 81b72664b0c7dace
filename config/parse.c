/* parse: strict parsers for config values (see parse.h). */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hex.h"
#include "parse.h"

#define PARSE_HOST_MAX 253      /* longest DNS name */

struct parse_unit {
	const char *name;
	uint64_t mult;
};

/* Bare numbers are seconds; units are case-sensitive ("m" is minutes). */
static const struct parse_unit parse_duration_units[] = {
	{ "", 1000 },
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
};

/* Powers of 1024 whatever the spelling; matched case-insensitively. */
static const struct parse_unit parse_size_units[] = {
	{ "", 1 },
	{ "b", 1 },
	{ "k", 1ULL << 10 },
	{ "kb", 1ULL << 10 },
	{ "kib", 1ULL << 10 },
	{ "m", 1ULL << 20 },
	{ "mb", 1ULL << 20 },
	{ "mib", 1ULL << 20 },
	{ "g", 1ULL << 30 },
	{ "gb", 1ULL << 30 },
	{ "gib", 1ULL << 30 },
};

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Leading decimal digits of s into *out; returns the number of digits,
 * 0 when there are none or the value does not fit.
 */
static size_t
parse_digits(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	unsigned int d;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		d = (unsigned int)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (i > 0)
		*out = v;
	return i;
}

static int
parse_scaled(const char *s, const struct parse_unit *units, size_t nunits,
    int icase, uint64_t *out)
{
	uint64_t v;
	size_t n, i;
	const char *unit;
	int same;

	if ((n = parse_digits(s, &v)) == 0)
		return 0;
	unit = s + n;
	for (i = 0; i < nunits; i++) {
		if (icase)
			same = strcasecmp(unit, units[i].name) == 0;
		else
			same = strcmp(unit, units[i].name) == 0;
		if (!same)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return 0;
		*out = v * units[i].mult;
		return 1;
	}
	return 0;
}

int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v;
	size_t n;

	if ((n = parse_digits(s, &v)) == 0 || s[n] != '\0')
		return 0;
	*out = v;
	return 1;
}

int
parse_duration_ms(const char *s, uint64_t *out)
{
	return parse_scaled(s, parse_duration_units,
	    nitems(parse_duration_units), 0, out);
}

int
parse_size(const char *s, uint64_t *out)
{
	return parse_scaled(s, parse_size_units, nitems(parse_size_units), 1,
	    out);
}

int
parse_mode(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(s[i] - '0');
	if (i == 0 || i > 4 || s[i] != '\0')
		return 0;
	*out = v;
	return 1;
}

int
parse_bool(const char *s, int *out)
{
	static const struct {
		const char *name;
		int value;
	} words[] = {
		{ "on", 1 }, { "off", 0 },
		{ "yes", 1 }, { "no", 0 },
		{ "true", 1 }, { "false", 0 },
		{ "1", 1 }, { "0", 0 },
	};
	size_t i;

	for (i = 0; i < nitems(words); i++) {
		if (strcasecmp(s, words[i].name) == 0) {
			*out = words[i].value;
			return 1;
		}
	}
	return 0;
}

int
parse_identity(const char *s, uint8_t out[16])
{
	uint8_t id[16];
	int hi, lo;
	size_t i;

	if (strlen(s) != 32)
		return 0;
	for (i = 0; i < 16; i++) {
		hi = hex_digit(s[2 * i]);
		lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, id, sizeof id);
	return 1;
}

void
format_identity(const uint8_t id[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 0xf];
	}
	out[32] = '\0';
}

/* An IPv6 literal, optionally with a "%zone" suffix. */
static int
parse_host_v6(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1 + 16];
	struct in6_addr a;
	const char *zone;
	size_t alen, i;

	if (len == 0 || len >= sizeof buf)
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((zone = strchr(buf, '%')) != NULL) {
		alen = (size_t)(zone - buf);
		if (zone[1] == '\0')
			return 0;
		for (i = 1; zone[i] != '\0'; i++) {
			if (!strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", zone[i]))
				return 0;
		}
		buf[alen] = '\0';
	}
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* "*", a dotted IPv4 address, or a host name. */
static int
parse_host_name(const char *s, size_t len)
{
	char buf[PARSE_HOST_MAX + 1];
	struct in_addr a;
	size_t i;
	int numeric = 1;

	if (len == 1 && s[0] == '*')
		return 1;
	if (len == 0 || len > PARSE_HOST_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", s[i]) != NULL)
			numeric = 0;
		else if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
			return 0;
	}
	if (s[0] == '.' || s[0] == '-')
		return 0;
	if (!numeric)
		return 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, &a) == 1;
}

static int
parse_port(const char *s)
{
	uint64_t v;

	if (s[0] == '0' || !parse_u64(s, &v))
		return 0;
	return v >= 1 && v <= 65535;
}

int
parse_endpoint(const char *s, char **host, char **port)
{
	const char *h, *p, *end;
	size_t hlen;
	char *hcopy, *pcopy;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return 0;
		h = s + 1;
		hlen = (size_t)(end - h);
		p = end + 2;
		if (!parse_host_v6(h, hlen))
			return 0;
	} else {
		if ((end = strchr(s, ':')) == NULL)
			return 0;
		h = s;
		hlen = (size_t)(end - h);
		p = end + 1;
		if (!parse_host_name(h, hlen))
			return 0;
	}
	if (!parse_port(p))
		return 0;

	if ((hcopy = strndup(h, hlen)) == NULL)
		return 0;
	if ((pcopy = strdup(p)) == NULL) {
		free(hcopy);
		return 0;
	}
	*host = hcopy;
	*port = pcopy;
	return 1;
}
