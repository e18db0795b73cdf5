/* libFuzzer target: reading a docker-archive (a push source or a base image):
 * the tar, manifest.json, links inside it, layer sniffing and hashing. */
#include "builder/image/docker_archive.h"
#include "builder/sys/fsutil.h"
#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/amlpkg-fuzz-docker-%d.tar", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char *dir = NULL;
    if (fs_make_temp_dir(&dir, "/tmp", "amlpkg-fuzz-docker-") == 0) {
        struct docker_archive d = {.context = "fuzz", .dir = dir};
        (void)docker_archive_load(&d, path);
        docker_archive_release(&d);
        fs_remove_tree(dir);
    }
    free(dir);
    err_clear();
    unlink(path);
    return 0;
}
