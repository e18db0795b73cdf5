/* libFuzzer target: conda environment files (libyaml document, our reader and
 * the canonical forms of match specs and pip requirements). */
#include "builder/conda.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conda_env *env = NULL;
    err_clear();
    if (conda_load_buffer(&env, "fuzz.yml", (const char *)data, size) == 0)
        conda_free(env);
    return 0;
}
