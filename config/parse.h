/*
 * parse: strict parsers for config values.  Each returns 1 and writes
 * through its out-parameter on success, 0 on any malformed, negative,
 * or overflowing input (leaving *out untouched).  No leading/trailing
 * junk is accepted; surrounding whitespace is the caller's business.
 */
#ifndef SMARTSOCK_PARSE_H
#define SMARTSOCK_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal unsigned integer; "unlimited" is NOT accepted here. */
int parse_u64(const char *s, uint64_t *out);

/* Duration: number with unit ms, s, m, h (bare number = seconds),
 * e.g. "100ms", "5s", "1.5s" is refused (integers only). Result in ms. */
int parse_duration_ms(const char *s, uint64_t *out);

/* Size: number with optional K, M, G (powers of 1024, optional "B"/"iB"),
 * e.g. "16M", "4096", "64KiB". Result in bytes. */
int parse_size(const char *s, uint64_t *out);

/* A file mode in octal, 1 to 4 digits as chmod(1) takes them ("660",
 * "0660"), at most 07777. */
int parse_mode(const char *s, uint64_t *out);

/* on/off, yes/no, true/false, 1/0. */
int parse_bool(const char *s, int *out);

/* 32 hex digits into 16 bytes. */
int parse_identity(const char *s, uint8_t out[16]);

/* "host:port", "[v6addr]:port", "*:port"; host and port are malloc'd.
 * The port must be 1..65535. */
int parse_endpoint(const char *s, char **host, char **port);

/* Format 16 bytes as 32 lowercase hex digits + NUL into out[33]. */
void format_identity(const uint8_t id[16], char out[33]);

#endif
