/*
 * json-parse: a small, strict JSON reader for smartsockctl (RFC 8259),
 * enough to read smartsockd's answers: a tree of values, each string
 * decoded to UTF-8 and NUL-terminated.  Input is untrusted: every read is
 * bounds-checked, nesting is limited to JSONP_DEPTH_MAX, and a string
 * holding \u0000 is refused (it could not be a C string).
 */
#ifndef SMARTSOCK_JSON_PARSE_H
#define SMARTSOCK_JSON_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define JSONP_DEPTH_MAX 32

enum jsonp_type {
	JSONP_NULL,
	JSONP_FALSE,
	JSONP_TRUE,
	JSONP_NUMBER,
	JSONP_STRING,
	JSONP_ARRAY,
	JSONP_OBJECT,
};

struct jsonp {
	enum jsonp_type type;
	char *key;                      /* member name inside an object */
	char *text;                     /* string (decoded) or number (as
	                                   written); NULL for other types */
	struct jsonp *child;            /* first element or member */
	struct jsonp *next;             /* next sibling */
};

/*
 * Parse exactly one value (blanks around it allowed) from text[0..len).
 * The tree is the caller's, to free with jsonp_free().  NULL on any error,
 * with a reason and byte offset in err.
 */
struct jsonp *jsonp_parse(const char *text, size_t len, char *err,
    size_t errlen);
void jsonp_free(struct jsonp *);                /* NULL is a no-op */

/* The member `key` of an object, or NULL (also when v is not an object). */
const struct jsonp *jsonp_get(const struct jsonp *v, const char *key);
/* The string member `key`, or NULL when absent or not a string. */
const char *jsonp_str(const struct jsonp *v, const char *key);
/* A number member that is a whole number >= 0: 1 and *out, else 0. */
int jsonp_u64(const struct jsonp *v, const char *key, uint64_t *out);
/* A number member as a double: 1 and *out, else 0. */
int jsonp_double(const struct jsonp *v, const char *key, double *out);
/* A true/false member: 1 and *out, else 0. */
int jsonp_bool(const struct jsonp *v, const char *key, int *out);

#endif
