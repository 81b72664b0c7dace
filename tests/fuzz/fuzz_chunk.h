/*
 * fuzz_chunk: how the stream decoders' fuzz targets (fuzz_wire, fuzz_ws)
 * cut their input into reads, from one control byte.
 */
#ifndef SMARTSOCK_FUZZ_CHUNK_H
#define SMARTSOCK_FUZZ_CHUNK_H

#include <stddef.h>
#include <stdint.h>

/* The next read's length, at most `left`: mode 0 all at once, 1..127
 * that many bytes each, 128..255 varying lengths in 1..(mode - 127) from
 * a small generator kept in *state. */
static inline size_t
fuzz_next_chunk(uint8_t mode, uint32_t *state, size_t left)
{
	size_t n;

	if (mode == 0)
		n = left;
	else if (mode < 128)
		n = mode;
	else {
		*state = *state * 1103515245u + 12345u;
		n = 1 + (*state >> 16) % (size_t)(mode - 127);
	}
	return n < left ? n : left;
}

#endif
