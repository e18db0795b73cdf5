/* libFuzzer target: scanning a base image's layer tar (plain or compressed)
 * for entries that leave the image root, with its diff_id check. */
#include "builder/env/base_image.h"
#include "common/err.h"
#include "fuzz_files.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (!fuzz_write(path, "layer", data, size))
        return 0;
    err_clear();
    (void)base_image_scan_layer(
        path, "layer", size & 1 ? NULL : "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    err_clear();
    unlink(path);
    return 0;
}
