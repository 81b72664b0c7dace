/*
 * vecfile.c: reading the vector files; vecfile.h says what it promises.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "vecfile.h"

void
report_add(struct report *r, const struct vline *l, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	r->count++;
	room = sizeof r->buf - r->len;
	if (room < 2)
		return;
	if (l != NULL)
		n = snprintf(r->buf + r->len, room, "%s:%d: ", l->file,
		    l->lineno);
	else
		n = 0;
	if (n >= 0 && (size_t)n < room) {
		va_start(ap, fmt);
		n += vsnprintf(r->buf + r->len + n, room - (size_t)n, fmt, ap);
		va_end(ap);
	}
	if (n < 0 || (size_t)n >= room - 1) {
		r->len = sizeof r->buf - 1;     /* full: keep what fits */
		return;
	}
	r->len += (size_t)n;
	r->buf[r->len++] = '\n';
	r->buf[r->len] = '\0';
}

const char *
vector_srcdir(void)
{
	const char *d = getenv("SMARTSOCK_SRCDIR");

	if (d == NULL || *d == '\0')
		d = getenv("srcdir");
	if (d == NULL || *d == '\0')
		d = ".";
	return d;
}

/* Split at blanks, up to a '#'.  -1 when there are too many tokens. */
static int
tokenize(char *text, struct vline *l)
{
	char *p, *save;

	if ((p = strchr(text, '#')) != NULL)
		*p = '\0';
	l->ntok = 0;
	for (p = strtok_r(text, " \t\r\n", &save); p != NULL;
	    p = strtok_r(NULL, " \t\r\n", &save)) {
		if (l->ntok == MAX_TOKENS)
			return -1;
		l->tok[l->ntok++] = p;
	}
	return 0;
}

void
vecfile_free(struct vline *lines, size_t n)
{
	size_t i;

	if (lines == NULL)
		return;
	for (i = 0; i < n; i++)
		free(lines[i].text);
	free(lines);
}

struct vline *
vecfile_load(const char *file, size_t *np, struct report *r)
{
	struct vline *lines = NULL, *nl, l;
	size_t n = 0, cap = 0, linecap = 0;
	char *line = NULL;
	int lineno = 0;
	FILE *f;

	if ((f = fopen(file, "r")) == NULL) {
		report_add(r, NULL, "%s: %s (set SMARTSOCK_SRCDIR to the "
		    "source tree)", file, strerror(errno));
		return NULL;
	}
	while (getline(&line, &linecap, f) != -1) {
		memset(&l, 0, sizeof l);
		l.file = file;
		l.lineno = ++lineno;
		l.text = line;          /* the next getline() allocates anew */
		line = NULL;
		linecap = 0;
		if (tokenize(l.text, &l) == -1) {
			report_add(r, &l, "more than %d tokens", MAX_TOKENS);
			free(l.text);
			goto fail;
		}
		if (l.ntok == 0) {
			free(l.text);
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nl = realloc(lines, cap * sizeof *lines)) == NULL) {
				report_add(r, &l, "out of memory");
				free(l.text);
				goto fail;
			}
			lines = nl;
		}
		lines[n++] = l;
	}
	if (ferror(f)) {
		report_add(r, NULL, "%s: read error", file);
		goto fail;
	}
	free(line);
	fclose(f);
	*np = n;
	return lines;
fail:
	free(line);
	fclose(f);
	vecfile_free(lines, n);
	return NULL;
}

int
hex_decode(const char *tok, uint8_t **out, size_t *len)
{
	uint8_t *b;
	size_t n = 0;
	int hi = -1, d;

	if ((b = malloc(strlen(tok) / 2 + 1)) == NULL)
		return -1;
	if (strcmp(tok, "-") != 0)
		for (; *tok != '\0'; tok++) {
			if (*tok == '.')
				continue;
			if ((d = hex_digit(*tok)) == -1)
				goto bad;
			if (hi == -1)
				hi = d;
			else {
				b[n++] = (uint8_t)(hi << 4 | d);
				hi = -1;
			}
		}
	if (hi != -1)
		goto bad;
	*out = b;
	*len = n;
	return 0;
bad:
	free(b);
	return -1;
}

const char *
hex_show(const uint8_t *b, size_t n, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	size_t i, o = 0;

	if (n == 0)
		return "-";
	for (i = 0; i < n && i < SHOW_BYTES && o + 3 < cap; i++) {
		out[o++] = digits[b[i] >> 4];
		out[o++] = digits[b[i] & 15];
	}
	if (i < n && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

int
parse_uint(const char *tok, uint64_t max, uint64_t *v)
{
	unsigned long long u;
	char *end;

	if (*tok < '0' || *tok > '9')
		return -1;
	errno = 0;
	u = strtoull(tok, &end, 10);
	if (errno != 0 || *end != '\0' || u > max)
		return -1;
	*v = u;
	return 0;
}

int
identity_parse(const char *tok, uint8_t id[LPROTO_ID_LEN])
{
	uint8_t *b;
	size_t len;

	if (hex_decode(tok, &b, &len) == -1)
		return -1;
	if (len == LPROTO_ID_LEN)
		memcpy(id, b, len);
	free(b);
	return len == LPROTO_ID_LEN ? 0 : -1;
}

int
bytes_compare(struct report *r, const struct vline *l, const char *what,
    const uint8_t *want, size_t wlen, const uint8_t *got, size_t glen)
{
	char hw[HEXBUF], hg[HEXBUF];
	size_t i;

	if (wlen == glen && memcmp(want, got, wlen) == 0)
		return 0;
	for (i = 0; i < wlen && i < glen && want[i] == got[i]; i++)
		continue;
	report_add(r, l, "%s differ at byte %zu (%zu bytes expected, %zu "
	    "got):\n    expected %s\n    got      %s", what, i, wlen, glen,
	    hex_show(want, wlen, hw, sizeof hw),
	    hex_show(got, glen, hg, sizeof hg));
	return -1;
}
