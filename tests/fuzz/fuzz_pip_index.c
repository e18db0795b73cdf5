/* libFuzzer target: a simple repository's project page as PEP 503 HTML and as PEP 691 JSON
 * (builder/env/pip_index.c), and a wheel's METADATA (builder/env/wheel_metadata.c). Every file read
 * must have a name and an absolute URL without a fragment. */
#include "builder/env/pip_index.h"
#include "builder/env/wheel_metadata.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const struct pip_project *p)
{
    for (size_t i = 0; i < p->n_files; i++)
        if (!p->files[i].filename[0] || !strstr(p->files[i].url, "://") || strchr(p->files[i].url, '#'))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pip_project p = {0};
    err_clear();
    pip_index_parse_html(&p, (const char *)data, size, "https://pypi.example/simple/x/", "fuzz");
    check(&p);
    pip_project_release(&p);
    err_clear();
    pip_index_parse_json(&p, (const char *)data, size, "https://pypi.example/simple/x/", "fuzz");
    check(&p);
    pip_project_release(&p);
    struct wheel_metadata m = {0};
    err_clear();
    if (!wheel_metadata_parse(&m, (const char *)data, size, "fuzz"))
        for (size_t i = 0; i < m.n_requires_dist; i++)
            if (!m.requires_dist[i])
                abort();
    wheel_metadata_release(&m);
    err_clear();
    return 0;
}
