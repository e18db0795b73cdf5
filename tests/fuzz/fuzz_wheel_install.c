/* libFuzzer target: installing a wheel (builder/image/wheel_install.c): the zip, its RECORD (CSV) and
 * entry_points.txt. The input is written as a wheel file and installed into a fresh staging prefix,
 * which must stay inside it; the prefix is removed after each run. */
#define _XOPEN_SOURCE 700
#include "builder/image/wheel_install.h"
#include "common/err.h"
#include "fuzz_files.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/wheel.XXXXXX", fuzz_dir());
    if (!mkdtemp(dir))
        return 0;
    char wheel[700], prefix[700];
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
    nftw(dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
