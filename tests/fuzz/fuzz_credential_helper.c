/* libFuzzer target: a credential helper's reply (another program's stdout). */
#include "builder/registry/credential_helper.h"
#include "common/err.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_creds c;
    err_clear();
    if (credential_helper_parse(&c, (const char *)data, size, "fuzz") == 0) {
        if (!c.user || !c.pass || !c.pass[0])
            __builtin_trap();
        registry_auth_creds_release(&c);
    }
    return 0;
}
