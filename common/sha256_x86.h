/* The x86 SHA extensions (SHA-NI) path of common/sha256.c, kept apart because
 * it is compiled for instructions the baseline target lacks: call it only after
 * sha256_x86_available() said yes. Private to sha256.c and its tests. */
#ifndef AMLCOMMON_SHA256_X86_H
#define AMLCOMMON_SHA256_X86_H

#include <stddef.h>
#include <stdint.h>

/* K, the 64 round constants, defined in sha256.c. */
extern const uint32_t sha256_round_constants[64];

/* 1 when this CPU has the SHA extensions (and the SSSE3/SSE4.1 they are used
 * with); always 0 when not built for x86. */
int sha256_x86_available(void);
/* Hashes n whole 64-byte blocks read straight from blocks (any alignment). */
void sha256_x86_compress(uint32_t state[8], const unsigned char *blocks, size_t n);

#endif
