/* libFuzzer target: installing a wheel (builder/image/wheel_install.c): the zip, its RECORD (CSV) and
 * entry_points.txt. The input is written as a wheel file and installed into a fresh staging prefix,
 * which must stay inside it; the prefix is removed after each run. */
#define _XOPEN_SOURCE 700
#include "builder/image/wheel_install.h"
#include "common/err.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/fuzz-wheel.XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    char wheel[64], prefix[64];
    snprintf(wheel, sizeof wheel, "%s/demo-1.0-py3-none-any.whl", dir);
    snprintf(prefix, sizeof prefix, "%s/prefix", dir);
    FILE *f = fopen(wheel, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        struct wheel_install_target t = {.prefix_dir = prefix, .site_packages = "lib/python3.11/site-packages",
                                         .python = "/env/bin/python"};
        err_clear();
        wheel_install(wheel, NULL, NULL, &t);
        err_clear();
    }
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
