/* libFuzzer target: re-writing an engine-built layer (tar, plain or
 * compressed): sorting, hard-link groups, duplicate paths, xattrs. */
#include "builder/image/layer_normalise.h"
#include "common/err.h"
#include "fuzz_files.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    const char *dir = fuzz_dir();
    if (!fuzz_write(path, "in.tar", data, size))
        return 0;
    err_clear();
    struct oci_blob out;
    if (layer_normalise(&out, path, dir, 0, 1, "layer", NULL) == 0) {
        unlink(out.path);
        oci_blob_release(&out);
    }
    err_clear();
    unlink(path);
    return 0;
}
