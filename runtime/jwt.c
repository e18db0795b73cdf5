#include "jwt.h"

#include "common/json.h"
#include "common/sha256.h"

#include <math.h>
#include <string.h>

/* base64url without padding (RFC 7515); returns the decoded length or -1. */
static long base64url_decode(unsigned char *out, size_t cap, const char *in, size_t len)
{
    unsigned bits = 0;
    int nbits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0)
            return -1;
        bits = (bits << 6) | (unsigned)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(bits >> nbits);
        }
        bits &= (1u << nbits) - 1;
    }
    return len % 4 == 1 ? -1 : (long)n;
}

static const struct json_value *decode_json(const char *part, size_t len, struct arena *arena)
{
    unsigned char text[JWT_MAX_LEN];
    long n = base64url_decode(text, sizeof text, part, len);
    struct json_value *v = NULL;
    if (n < 0 || json_parse(&v, arena, (const char *)text, (size_t)n, "token") != 0 || v->type != JSON_OBJECT)
        return NULL;
    return v;
}

static int number_claim(const struct json_value *payload, const char *name, double *out)
{
    const struct json_value *v = json_member(payload, name);
    if (!v)
        return 0;
    if (v->type != JSON_NUMBER || !isfinite(v->as.number))
        return -1;
    *out = v->as.number;
    return 1;
}

enum jwt_result jwt_verify_hs256(const char *token, size_t len, const unsigned char *secret, size_t secret_len,
                                 long long now, struct arena *arena)
{
    if (len == 0 || len > JWT_MAX_LEN)
        return JWT_MALFORMED;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)))
        return JWT_MALFORMED;
    const struct json_value *header = decode_json(token, (size_t)(dot1 - token), arena);
    if (!header)
        return JWT_MALFORMED;
    const struct json_value *alg = json_member(header, "alg");
    if (!alg || alg->type != JSON_STRING || strcmp(alg->as.string.ptr, "HS256"))
        return JWT_BAD_ALG;
    unsigned char given[SHA256_BYTES + 4], want[SHA256_BYTES];
    long n = base64url_decode(given, sizeof given, dot2 + 1, (size_t)(token + len - dot2 - 1));
    hmac_sha256(want, secret, secret_len, token, (size_t)(dot2 - token));
    unsigned diff = n == SHA256_BYTES ? 0 : 1;
    for (int i = 0; i < SHA256_BYTES; i++)
        diff |= (unsigned)(given[i] ^ want[i]); /* every byte, whatever differs first */
    if (diff)
        return JWT_BAD_SIGNATURE;
    /* Claims are read only from a token we signed, never from an unverified one. */
    const struct json_value *payload = decode_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), arena);
    if (!payload)
        return JWT_MALFORMED;
    double exp = 0, nbf = 0;
    int has_exp = number_claim(payload, "exp", &exp), has_nbf = number_claim(payload, "nbf", &nbf);
    if (has_exp < 0 || has_nbf < 0)
        return JWT_MALFORMED;
    if (!has_exp)
        return JWT_NO_EXP;
    if ((double)now >= exp)
        return JWT_EXPIRED;
    if (has_nbf && (double)now < nbf)
        return JWT_NOT_YET_VALID;
    return JWT_OK;
}

const char *jwt_result_text(enum jwt_result r)
{
    switch (r) {
    case JWT_OK: return "valid";
    case JWT_MALFORMED: return "the token is not a well-formed JWT";
    case JWT_BAD_ALG: return "the token is not signed with HS256";
    case JWT_BAD_SIGNATURE: return "the token's signature is not valid";
    case JWT_EXPIRED: return "the token has expired";
    case JWT_NOT_YET_VALID: return "the token is not valid yet (nbf)";
    case JWT_NO_EXP: return "the token has no exp claim";
    }
    return "invalid token";
}
