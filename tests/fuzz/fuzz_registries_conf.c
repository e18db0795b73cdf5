/* libFuzzer target: registries.conf (the TOML subset builder/registry/registries_conf.c reads), and the
 * endpoints a parsed file gives for a fixed set of references. */
#include "builder/registry/registries_conf.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const refs[] = {"mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", "ubuntu",
                                       "127.0.0.1:5000/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    struct registries_conf conf = {0};
    err_clear();
    if (registries_conf_parse(&conf, (const char *)data, size, "fuzz.conf") == 0) {
        for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
            struct reference ref;
            struct registries_endpoint *eps = NULL;
            size_t n = 0;
            if (reference_parse(&ref, refs[i]))
                abort();
            if (registries_conf_endpoints(&eps, &n, &conf, &ref) == 0 && (n == 0 || eps[n - 1].mirror))
                abort(); /* the registry itself is always the last place tried */
            free(eps);
            err_clear();
        }
    }
    registries_conf_release(&conf);
    return 0;
}
