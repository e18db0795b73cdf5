/* libFuzzer target: spec.yaml loading (libyaml document + our validation),
 * and the environment key of what loads.
 * The input is written to a file because spec_load reads a path, the way the
 * CLI uses it. */
#include "builder/spec/envkey.h"
#include "builder/spec/spec.h"
#include "common/err.h"
#include "fuzz_files.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (!fuzz_write(path, "spec.yaml", data, size))
        return 0;
    struct spec *spec = NULL;
    err_clear();
    if (spec_read(&spec, path, SPEC_READ_ENVIRONMENT) == 0) {
        struct envkey key;
        if (envkey_compute(&key, &spec->environment, "fuzz") == 0)
            envkey_release(&key);
        spec_free(spec);
    }
    return 0;
}
