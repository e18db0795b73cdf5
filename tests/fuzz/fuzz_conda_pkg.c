/* libFuzzer target: what an unpacked conda package says about itself (builder/env/conda_pkg.c: index.json,
 * paths.json, files, has_prefix, link.json; the input is the five texts separated by NUL bytes) and prefix
 * replacement (builder/env/conda_prefix.c) on every file text: binary mode never changes the length. */
#include "builder/env/conda_pkg.h"
#include "builder/env/conda_prefix.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *part[5] = {0};
    size_t n = 0;
    for (const char *p = s; n < 5 && p <= s + size; p += strlen(p) + 1)
        part[n++] = p;
    struct conda_pkg_info info;
    err_clear();
    /* An empty part stands for an absent file, so the fallbacks (info/files, has_prefix) are reached. */
    for (size_t i = 1; i < 5; i++)
        if (part[i] && !part[i][0])
            part[i] = NULL;
    if (conda_pkg_info_parse(&info, part[0], part[1], part[2], part[3], part[4], "fuzz") == 0)
        for (size_t i = 0; i < info.n_paths; i++)
            if (!info.paths[i].path[0] || info.paths[i].path[0] == '/')
                abort();
    conda_pkg_info_release(&info);
    err_clear();
    const char *placeholder = part[1] && strlen(part[1]) < 40 && part[1][0] ? part[1] : "/opt/ph_placehold";
    for (int binary = 0; binary < 2; binary++) {
        struct buf out;
        buf_init(&out, 1u << 24);
        size_t count = 0;
        if (conda_prefix_replace_buffer(&out, &count, s, size, placeholder, "/env", binary, "fuzz") == 0 && binary &&
            strlen("/env") <= strlen(placeholder) && out.len != size)
            abort();
        buf_release(&out);
        err_clear();
    }
    free(s);
    return 0;
}
