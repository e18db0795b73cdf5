/* HS256 JSON Web Tokens (RFC 7519), as amlserve's optional token auth:
 * header.payload.signature in base64url, the header saying alg HS256 (any
 * other alg, "none" included, is refused), the signature an HMAC-SHA-256 of
 * the first two parts under the shared secret, compared in constant time,
 * and an "exp" claim that must lie in the future ("nbf", if present, in the
 * past). The payload is parsed into the caller's arena. */
#ifndef AMLSERVE_JWT_H
#define AMLSERVE_JWT_H

#include "common/arena.h"

#include <stddef.h>

enum jwt_result {
    JWT_OK = 0,
    JWT_MALFORMED,
    JWT_BAD_ALG,
    JWT_BAD_SIGNATURE,
    JWT_EXPIRED,
    JWT_NOT_YET_VALID,
    JWT_NO_EXP
};

#define JWT_MAX_LEN 8192

enum jwt_result jwt_verify_hs256(const char *token, size_t len, const unsigned char *secret, size_t secret_len,
                                 long long now, struct arena *arena);
const char *jwt_result_text(enum jwt_result r);

#endif
