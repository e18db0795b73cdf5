/* libFuzzer target: a channel's repodata.json (builder/env/conda_repodata.c) and, when it reads, a
 * solve for its first package against it (builder/env/conda_solve.c on libsolv). */
#include "builder/env/conda_solve.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conda_repodata repo = {0};
    err_clear();
    if (conda_repodata_parse(&repo, (const char *)data, size, "fuzz", "ch", 0, "linux-64") == 0 && repo.n_records &&
        conda_repodata_add_virtual(&repo, "__glibc", "2.35") == 0) {
        const char *specs[] = {repo.records[0].name};
        size_t *picked = NULL, n = 0;
        if (conda_solve(&picked, &n, &repo, specs, 1, "fuzz") == 0 && n > repo.n_records)
            abort();
        free(picked);
    }
    err_clear();
    conda_repodata_release(&repo);
    return 0;
}
