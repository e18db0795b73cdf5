/* libFuzzer target: re-writing an engine-built layer (tar, plain or
 * compressed): sorting, hard-link groups, duplicate paths, xattrs. */
#include "builder/image/layer_normalise.h"
#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64], path[96];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/amlpkg-fuzz-normalise-%d", (int)getpid());
        mkdir(dir, 0700);
        snprintf(path, sizeof path, "%s/in.tar", dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
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
