/* libFuzzer target: Azure ML's inferenceconfig.json and deploymentconfig.json
 * (JSON or YAML through libyaml, then our key checks). The first byte picks
 * which file the rest is; each is written to a file because the loader reads
 * paths, as the CLI does. */
#include "fuzz_azure.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *rest = (const char *)data + 1;
    struct spec *spec = NULL;
    int loaded = data[0] & 1 ? fuzz_load_azure(&spec, NULL, 0, rest, size - 1) == 0
                             : fuzz_load_azure(&spec, rest, size - 1, NULL, 0) == 0;
    if (loaded)
        spec_free(spec);
    err_clear();
    return 0;
}
