/* libFuzzer target: reading a docker-archive (a push source or a base image):
 * the tar, manifest.json, links inside it, layer sniffing and hashing. */
#include "builder/image/docker_archive.h"
#include "builder/sys/fsutil.h"
#include "common/err.h"
#include "fuzz_files.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (!fuzz_write(path, "docker.tar", data, size))
        return 0;
    char *dir = NULL;
    if (fs_make_temp_dir(&dir, fuzz_dir(), "docker-") == 0) {
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
