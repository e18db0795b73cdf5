/* libFuzzer target: WWW-Authenticate challenges, which come from the network. */
#include "builder/registry/registry_auth.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_challenge ch;
    err_clear();
    if (registry_auth_parse_challenge(&ch, (const char *)data, size) == 0) {
        if (strlen(ch.realm) >= sizeof ch.realm || strlen(ch.service) >= sizeof ch.service ||
            strlen(ch.scope) >= sizeof ch.scope || strlen(ch.error) >= sizeof ch.error)
            __builtin_trap();
    }
    char *token = NULL;
    long expires;
    err_clear();
    if (registry_auth_parse_token(&token, &expires, (const char *)data, size) == 0)
        free(token);
    return 0;
}
