/* libFuzzer target: telling which environment step reaches the network (the
 * words of a Docker step, any text). */
#include "builder/env/env_network.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *step = malloc(size + 1);
    if (!step)
        return 0;
    memcpy(step, data, size);
    step[size] = '\0';
    (void)env_network_reason(step);
    free(step);
    return 0;
}
