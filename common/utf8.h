/*
 * utf8: what is valid UTF-8 (RFC 3629), for the JSON written by the daemon
 * and read by smartsockctl.
 */
#ifndef SMARTSOCK_UTF8_H
#define SMARTSOCK_UTF8_H

#include <stddef.h>

/*
 * Bytes of the valid sequence of one non-ASCII character at p, of which n
 * bytes are available; 0 when p does not start one (a stray continuation
 * byte, an overlong form, a surrogate, more than U+10FFFF, or cut short).
 */
size_t utf8_seq_len(const unsigned char *p, size_t n);

/* Encode code point cp (not a surrogate, at most U+10FFFF) into out[4];
 * returns the number of bytes, 0 for an invalid code point. */
size_t utf8_encode(unsigned long cp, unsigned char out[4]);

#endif
