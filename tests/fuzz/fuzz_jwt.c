/* libFuzzer target: HS256 token verification (base64url, the header and
 * payload JSON, claims) on arbitrary Authorization values. */
#include "common/arena.h"
#include "runtime/jwt.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char secret[] = "fuzzing-secret-0123456789";
    struct arena arena;
    arena_init(&arena, 4096, 1 << 22);
    jwt_verify_hs256((const char *)data, size, secret, sizeof secret - 1, 1700000000, &arena);
    arena_release(&arena);
    return 0;
}
