/* json: a small JSON writer (see json.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "json.h"
#include "utf8.h"

void
json_init(struct json *j, struct evbuffer *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

static void
json_add(struct json *j, const void *p, size_t n)
{
	if (evbuffer_add(j->out, p, n) == -1)
		j->error = 1;
}

static void
json_quote(struct json *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run, len;
	char esc[8];

	json_add(j, "\"", 1);
	while (i < n) {
		for (run = i; run < n && p[run] >= 0x20 && p[run] < 0x7f &&
		    p[run] != '"' && p[run] != '\\'; run++)
			;
		json_add(j, p + i, run - i);
		if ((i = run) == n)
			break;
		if (p[i] >= 0x80) {
			if ((len = utf8_seq_len(p + i, n - i)) > 0)
				json_add(j, p + i, len);
			else {
				json_add(j, "\\ufffd", 6);
				len = 1;
			}
			i += len;
			continue;
		}
		switch (p[i]) {
		case '"':
			json_add(j, "\\\"", 2);
			break;
		case '\\':
			json_add(j, "\\\\", 2);
			break;
		case '\n':
			json_add(j, "\\n", 2);
			break;
		case '\r':
			json_add(j, "\\r", 2);
			break;
		case '\t':
			json_add(j, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			json_add(j, esc, 6);
			break;
		}
		i++;
	}
	json_add(j, "\"", 1);
}

/* The comma and key before a value; 0, or -1 when it cannot go here. */
static int
json_member(struct json *j, const char *key)
{
	int in_object = j->depth > 0 && j->kind[j->depth - 1] == '{';

	if (j->error || (key != NULL) != in_object ||
	    (j->depth == 0 && j->count[0] > 0)) {
		j->error = 1;
		return -1;
	}
	if (j->count[j->depth]++ > 0)
		json_add(j, ",", 1);
	if (key != NULL) {
		json_quote(j, key, strlen(key));
		json_add(j, ":", 1);
	}
	return 0;
}

static void
json_open(struct json *j, const char *key, char kind)
{
	if (json_member(j, key) == -1)
		return;
	if (j->depth == JSON_DEPTH_MAX) {
		j->error = 1;
		return;
	}
	j->kind[j->depth++] = kind;
	j->count[j->depth] = 0;
	json_add(j, &kind, 1);
}

static void
json_close(struct json *j, char kind)
{
	char end = kind == '{' ? '}' : ']';

	if (j->error || j->depth == 0 || j->kind[j->depth - 1] != kind) {
		j->error = 1;
		return;
	}
	j->depth--;
	json_add(j, &end, 1);
}

void
json_open_object(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void
json_close_object(struct json *j)
{
	json_close(j, '{');
}

void
json_open_array(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

void
json_close_array(struct json *j)
{
	json_close(j, '[');
}

void
json_string_n(struct json *j, const char *key, const char *s, size_t n)
{
	if (json_member(j, key) == 0)
		json_quote(j, s, n);
}

void
json_string(struct json *j, const char *key, const char *s)
{
	if (s == NULL) {
		if (json_member(j, key) == 0)
			json_add(j, "null", 4);
		return;
	}
	json_string_n(j, key, s, strlen(s));
}

void
json_uint(struct json *j, const char *key, uint64_t v)
{
	char buf[24];
	int n;

	if (json_member(j, key) == 0) {
		n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
		json_add(j, buf, (size_t)n);
	}
}

void
json_bool(struct json *j, const char *key, int v)
{
	if (json_member(j, key) == 0)
		json_add(j, v ? "true" : "false", v ? 4 : 5);
}

void
json_ms_as_s(struct json *j, const char *key, uint64_t ms)
{
	char buf[32];
	int n;

	if (json_member(j, key) == 0) {
		n = snprintf(buf, sizeof(buf), "%" PRIu64 ".%03" PRIu64,
		    ms / 1000, ms % 1000);
		json_add(j, buf, (size_t)n);
	}
}

int
json_end(const struct json *j)
{
	return j->error || j->depth != 0 || j->count[0] != 1 ? -1 : 0;
}
