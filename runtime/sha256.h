/* SHA-256 and HMAC-SHA-256 (FIPS 180-4, RFC 2104), for verifying HS256
 * tokens inside amlserve, which links no crypto library to stay small and
 * static. Checked against the FIPS and RFC 4231 test vectors. */
#ifndef AMLSERVE_SHA256_H
#define AMLSERVE_SHA256_H

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

#endif
