/* libFuzzer target: the package lines of a conda explicit lock (builder/spec/conda_lockfile.c); every entry
 * parsed has a name, version, build, a 64-hex sha256 and a URL that ends with its file name. */
#include "builder/spec/conda_lockfile.h"
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
    struct conda_lock_entry *e = NULL;
    size_t n = 0;
    err_clear();
    if (conda_lockfile_entries(&e, &n, s, "fuzz") == 0)
        for (size_t i = 0; i < n; i++) {
            size_t ul = strlen(e[i].url), fl = strlen(e[i].filename);
            if (!e[i].name[0] || !e[i].version[0] || !e[i].build[0] || strlen(e[i].sha256) != 64 || fl > ul ||
                strcmp(e[i].url + ul - fl, e[i].filename))
                abort();
        }
    err_clear();
    conda_lockfile_entries_free(e, n);
    free(s);
    return 0;
}
