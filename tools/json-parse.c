/* json-parse: a small, strict JSON reader (see json-parse.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-parse.h"
#include "utf8.h"

struct jsonp_ctx {
	const unsigned char *start, *p, *end;
	int depth;
	char *err;
	size_t errlen;
	int failed;
};

static struct jsonp *jsonp_value(struct jsonp_ctx *);

static void __attribute__((format(printf, 2, 3)))
jsonp_error(struct jsonp_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed)
		return;
	c->failed = 1;
	if (c->errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < c->errlen)
		snprintf(c->err + n, c->errlen - (size_t)n, " at byte %zu",
		    (size_t)(c->p - c->start));
}

static void
jsonp_blanks(struct jsonp_ctx *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	    *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static struct jsonp *
jsonp_new(struct jsonp_ctx *c, enum jsonp_type type)
{
	struct jsonp *v = calloc(1, sizeof(*v));

	if (v == NULL)
		jsonp_error(c, "out of memory");
	else
		v->type = type;
	return v;
}

void
jsonp_free(struct jsonp *v)
{
	struct jsonp *next;

	for (; v != NULL; v = next) {
		next = v->next;
		jsonp_free(v->child);
		free(v->key);
		free(v->text);
		free(v);
	}
}

static int
jsonp_hex4(struct jsonp_ctx *c, unsigned long *out)
{
	unsigned long v = 0;
	int i, d;

	if (c->end - c->p < 4) {
		jsonp_error(c, "short \\u escape");
		return -1;
	}
	for (i = 0; i < 4; i++) {
		d = c->p[i];
		if (d >= '0' && d <= '9')
			d -= '0';
		else if (d >= 'a' && d <= 'f')
			d -= 'a' - 10;
		else if (d >= 'A' && d <= 'F')
			d -= 'A' - 10;
		else {
			jsonp_error(c, "bad \\u escape");
			return -1;
		}
		v = v * 16 + (unsigned long)d;
	}
	c->p += 4;
	*out = v;
	return 0;
}

/* After "\u": one code point, a surrogate pair taken whole. */
static int
jsonp_unicode(struct jsonp_ctx *c, unsigned long *cp)
{
	unsigned long lo;

	if (jsonp_hex4(c, cp) == -1)
		return -1;
	if (*cp >= 0xdc00 && *cp <= 0xdfff) {
		jsonp_error(c, "lone low surrogate");
		return -1;
	}
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u') {
		jsonp_error(c, "lone high surrogate");
		return -1;
	}
	c->p += 2;
	if (jsonp_hex4(c, &lo) == -1)
		return -1;
	if (lo < 0xdc00 || lo > 0xdfff) {
		jsonp_error(c, "bad surrogate pair");
		return -1;
	}
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

static int
jsonp_escape(struct jsonp_ctx *c, unsigned char *out, size_t *len)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned long cp;

	if (c->p == c->end) {
		jsonp_error(c, "unterminated string");
		return -1;
	}
	if (*c->p != 'u') {
		if (*c->p == '\0' || (e = strchr(from, *c->p)) == NULL) {
			jsonp_error(c, "bad escape");
			return -1;
		}
		c->p++;
		out[(*len)++] = (unsigned char)to[e - from];
		return 0;
	}
	c->p++;
	if (jsonp_unicode(c, &cp) == -1)
		return -1;
	if (cp == 0) {
		jsonp_error(c, "\\u0000 in a string");
		return -1;
	}
	*len += utf8_encode(cp, out + *len);
	return 0;
}

/*
 * A string, the opening quote already seen: decoded into a new buffer.
 * Escapes never decode longer than they are written, so the rest of the
 * input bounds the buffer.
 */
static char *
jsonp_string(struct jsonp_ctx *c)
{
	unsigned char *out;
	size_t len = 0, n;

	if ((out = malloc((size_t)(c->end - c->p) + 1)) == NULL) {
		jsonp_error(c, "out of memory");
		return NULL;
	}
	for (;;) {
		if (c->p == c->end) {
			jsonp_error(c, "unterminated string");
			break;
		}
		if (*c->p == '"') {
			c->p++;
			out[len] = '\0';
			return (char *)out;
		}
		if (*c->p == '\\') {
			c->p++;
			if (jsonp_escape(c, out, &len) == -1)
				break;
		} else if (*c->p < 0x20) {
			jsonp_error(c, "control character in a string");
			break;
		} else if (*c->p < 0x80)
			out[len++] = *c->p++;
		else if ((n = utf8_seq_len(c->p, (size_t)(c->end - c->p))) > 0) {
			memcpy(out + len, c->p, n);
			len += n;
			c->p += n;
		} else {
			jsonp_error(c, "invalid UTF-8 in a string");
			break;
		}
	}
	free(out);
	return NULL;
}

static size_t
jsonp_digits(struct jsonp_ctx *c)
{
	const unsigned char *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return (size_t)(c->p - s);
}

static struct jsonp *
jsonp_number(struct jsonp_ctx *c)
{
	const unsigned char *s = c->p;
	struct jsonp *v;
	size_t n;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (jsonp_digits(c) == 0)
		goto bad;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (jsonp_digits(c) == 0)
			goto bad;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (jsonp_digits(c) == 0)
			goto bad;
	}
	n = (size_t)(c->p - s);
	if ((v = jsonp_new(c, JSONP_NUMBER)) == NULL)
		return NULL;
	if ((v->text = malloc(n + 1)) == NULL) {
		jsonp_error(c, "out of memory");
		free(v);
		return NULL;
	}
	memcpy(v->text, s, n);
	v->text[n] = '\0';
	return v;
bad:
	jsonp_error(c, "bad number");
	return NULL;
}

static struct jsonp *
jsonp_literal(struct jsonp_ctx *c)
{
	static const struct {
		const char *word;
		enum jsonp_type type;
	} lit[] = {
		{ "null", JSONP_NULL },
		{ "false", JSONP_FALSE },
		{ "true", JSONP_TRUE },
	};
	size_t i, n;

	for (i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
		n = strlen(lit[i].word);
		if ((size_t)(c->end - c->p) >= n &&
		    memcmp(c->p, lit[i].word, n) == 0) {
			c->p += n;
			return jsonp_new(c, lit[i].type);
		}
	}
	jsonp_error(c, "unexpected character");
	return NULL;
}

/* Elements or members up to `close`, the opening bracket already seen. */
static struct jsonp *
jsonp_container(struct jsonp_ctx *c, enum jsonp_type type)
{
	unsigned char close = type == JSONP_OBJECT ? '}' : ']';
	struct jsonp *v, *item, **tail;
	char *key = NULL;

	if (++c->depth > JSONP_DEPTH_MAX) {
		jsonp_error(c, "nested more than %d deep", JSONP_DEPTH_MAX);
		return NULL;
	}
	if ((v = jsonp_new(c, type)) == NULL)
		return NULL;
	tail = &v->child;
	jsonp_blanks(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->depth--;
		return v;
	}
	for (;;) {
		jsonp_blanks(c);
		if (type == JSONP_OBJECT) {
			if (c->p == c->end || *c->p != '"') {
				jsonp_error(c, "expected a member name");
				break;
			}
			c->p++;
			if ((key = jsonp_string(c)) == NULL)
				break;
			jsonp_blanks(c);
			if (c->p == c->end || *c->p != ':') {
				jsonp_error(c, "expected ':'");
				break;
			}
			c->p++;
		}
		if ((item = jsonp_value(c)) == NULL)
			break;
		item->key = key;
		key = NULL;
		*tail = item;
		tail = &item->next;
		jsonp_blanks(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == close) {
			c->p++;
			c->depth--;
			return v;
		}
		jsonp_error(c, "expected ',' or '%c'", close);
		break;
	}
	free(key);
	jsonp_free(v);
	return NULL;
}

static struct jsonp *
jsonp_value(struct jsonp_ctx *c)
{
	struct jsonp *v;

	jsonp_blanks(c);
	if (c->p == c->end) {
		jsonp_error(c, "unexpected end");
		return NULL;
	}
	switch (*c->p) {
	case '{':
		c->p++;
		return jsonp_container(c, JSONP_OBJECT);
	case '[':
		c->p++;
		return jsonp_container(c, JSONP_ARRAY);
	case '"':
		c->p++;
		if ((v = jsonp_new(c, JSONP_STRING)) == NULL)
			return NULL;
		if ((v->text = jsonp_string(c)) == NULL) {
			free(v);
			return NULL;
		}
		return v;
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return jsonp_number(c);
	default:
		return jsonp_literal(c);
	}
}

struct jsonp *
jsonp_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct jsonp_ctx c;
	struct jsonp *v;

	memset(&c, 0, sizeof(c));
	c.start = c.p = (const unsigned char *)text;
	c.end = c.p + len;
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if ((v = jsonp_value(&c)) == NULL)
		return NULL;
	jsonp_blanks(&c);
	if (c.p != c.end) {
		jsonp_error(&c, "text after the value");
		jsonp_free(v);
		return NULL;
	}
	return v;
}

const struct jsonp *
jsonp_get(const struct jsonp *v, const char *key)
{
	const struct jsonp *m;

	if (v == NULL || v->type != JSONP_OBJECT)
		return NULL;
	for (m = v->child; m != NULL; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

const char *
jsonp_str(const struct jsonp *v, const char *key)
{
	const struct jsonp *m = jsonp_get(v, key);

	return m != NULL && m->type == JSONP_STRING ? m->text : NULL;
}

int
jsonp_u64(const struct jsonp *v, const char *key, uint64_t *out)
{
	const struct jsonp *m = jsonp_get(v, key);
	uint64_t n = 0;
	const char *p;

	if (m == NULL || m->type != JSONP_NUMBER)
		return 0;
	for (p = m->text; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return 0;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (*p != '\0' || p == m->text)
		return 0;
	*out = n;
	return 1;
}

int
jsonp_double(const struct jsonp *v, const char *key, double *out)
{
	const struct jsonp *m = jsonp_get(v, key);

	if (m == NULL || m->type != JSONP_NUMBER)
		return 0;
	*out = strtod(m->text, NULL);
	return 1;
}

int
jsonp_bool(const struct jsonp *v, const char *key, int *out)
{
	const struct jsonp *m = jsonp_get(v, key);

	if (m == NULL || (m->type != JSONP_TRUE && m->type != JSONP_FALSE))
		return 0;
	*out = m->type == JSONP_TRUE;
	return 1;
}
