/*
 * json: a small JSON writer for the control socket's answers.  Values are
 * appended to an evbuffer in order; commas, nesting and string escaping are
 * its business.  Strings may hold any bytes: quotes, backslashes and
 * control characters are escaped, valid UTF-8 passes through, and each
 * byte that is not part of valid UTF-8 becomes U+FFFD, so the output is
 * always valid JSON in UTF-8.
 *
 * `key` names the member inside an object and must be NULL inside an array
 * and for the top-level value; misuse (or running out of memory) is
 * remembered and reported by json_end().
 */
#ifndef SMARTSOCK_JSON_H
#define SMARTSOCK_JSON_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define JSON_DEPTH_MAX 16

struct json {
	struct evbuffer *out;           /* borrowed */
	int depth;                      /* open containers */
	char kind[JSON_DEPTH_MAX];      /* '{' or '[' per open container */
	int count[JSON_DEPTH_MAX + 1];  /* values written at each level */
	int error;
};

void json_init(struct json *, struct evbuffer *out);
void json_open_object(struct json *, const char *key);
void json_close_object(struct json *);
void json_open_array(struct json *, const char *key);
void json_close_array(struct json *);
/* s NULL writes null. */
void json_string(struct json *, const char *key, const char *s);
void json_string_n(struct json *, const char *key, const char *s, size_t n);
void json_uint(struct json *, const char *key, uint64_t v);
void json_bool(struct json *, const char *key, int v);
/* Milliseconds as seconds with three decimals, e.g. 1234 -> 1.234. */
void json_ms_as_s(struct json *, const char *key, uint64_t ms);
/* 0 when exactly one complete value was written, else -1. */
int json_end(const struct json *);

#endif
