/*
 * vecfile.h: reading the local-protocol vector files of tests/lproto-vectors/
 * (its README.md defines the format), the part shared by the frames.txt
 * checks and both sides of a session.
 *
 * A file loads as the lines that hold tokens, in order, each knowing its
 * file:line.  The parsers take HEX, decimal integers and IDENTITYs exactly
 * as the README defines them and refuse anything else.  Nothing here
 * asserts, prints or exits: each problem becomes one "file:line: text"
 * entry of a struct report, which the test turns into a Check failure.
 */
#ifndef SMARTSOCK_VECFILE_H
#define SMARTSOCK_VECFILE_H

#include <stddef.h>
#include <stdint.h>

#include "lproto.h"

/* The vectors, below vector_srcdir(). */
#define VECTOR_DIR "tests/lproto-vectors"
#define MAX_TOKENS 8            /* the longest line has 7 */
#define SHOW_BYTES 64           /* bytes quoted in a message */
#define HEXBUF (2 * SHOW_BYTES + 4)     /* room for hex_show() */

/* One line of a vector file, comment and blanks dropped. */
struct vline {
	char *text;             /* owns what tok[] points into */
	const char *file;       /* borrowed */
	int lineno;
	int ntok;
	char *tok[MAX_TOKENS];
};

/* Failure messages, "file:line: text" each, truncated when full. */
struct report {
	char buf[3000];
	size_t len;
	int count;
};

/*
 * Count one failure and add its message, prefixed with l's file:line
 * (nothing when l is NULL).  r starts zeroed.
 */
void report_add(struct report *r, const struct vline *l, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* The source tree: $SMARTSOCK_SRCDIR, else $srcdir, else ".".  Borrowed. */
const char *vector_srcdir(void);

/*
 * The lines of a vector file that hold tokens, in order, *np of them (file:
 * borrowed, must outlive them).  NULL with the reason in r.  The caller
 * frees them with vecfile_free().
 */
struct vline *vecfile_load(const char *file, size_t *np, struct report *r);

/* Free what vecfile_load() returned; NULL is a no-op. */
void vecfile_free(struct vline *lines, size_t n);

/*
 * HEX as the README defines it: '.' is ignored, "-" alone is no bytes.
 * *out is the caller's to free (allocated even when empty).  0, or -1 for
 * a stray character or an odd number of digits.
 */
int hex_decode(const char *tok, uint8_t **out, size_t *len);

/*
 * The first SHOW_BYTES of b as hex, "..." after when there are more, for a
 * message: out (HEXBUF bytes will do), or "-" when n is 0.
 */
const char *hex_show(const uint8_t *b, size_t n, char *out, size_t cap);

/* A decimal integer no larger than max into *v: 0, or -1. */
int parse_uint(const char *tok, uint64_t max, uint64_t *v);

/* An IDENTITY, HEX of exactly LPROTO_ID_LEN bytes, into id: 0, or -1. */
int identity_parse(const char *tok, uint8_t id[LPROTO_ID_LEN]);

/*
 * 0 when want and got hold the same bytes; else -1, with where they first
 * differ and both quoted in r (what names them, e.g. "payloads").
 */
int bytes_compare(struct report *r, const struct vline *l, const char *what,
    const uint8_t *want, size_t wlen, const uint8_t *got, size_t glen);

#endif
