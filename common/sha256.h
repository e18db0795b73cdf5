/* SHA-256 and HMAC-SHA-256 (FIPS 180-4, RFC 2104): HS256 tokens in amlserve,
 * which links no crypto library to stay small and static, and every digest
 * amlpkg computes (layers, blobs, environment keys), so that amlpkg does not
 * load libcrypto at start-up. On x86 CPUs with the SHA extensions the blocks
 * are hashed with them (common/sha256_x86.c), elsewhere in portable C.
 * struct sha256 is caller-owned and holds no resources: nothing to release. */
#ifndef AMLCOMMON_SHA256_H
#define AMLCOMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32

struct sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[SHA256_BYTES]);
void hmac_sha256(unsigned char out[SHA256_BYTES], const void *key, size_t key_len, const void *data, size_t len);

/* 1 when the SHA extensions do the work. */
int sha256_accelerated(void);
/* For tests and benchmarks: 1 forces the portable code, 0 goes back to the
 * fastest this CPU has. Affects every thread; not for use while hashing. */
void sha256_force_portable(int on);

#endif
