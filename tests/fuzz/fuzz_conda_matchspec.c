/* libFuzzer target: conda MatchSpec lines (builder/spec/conda_matchspec.c); a parsed spec's canonical
 * text parses again to the same text, and matching never crashes. */
#include "builder/spec/conda_matchspec.h"
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
    struct conda_matchspec *m = NULL;
    err_clear();
    if (conda_matchspec_parse(&m, s, "fuzz") == 0) {
        struct conda_matchspec *again = NULL;
        if (conda_matchspec_parse(&again, m->text, "fuzz") || strcmp(again->text, m->text))
            abort();
        struct conda_version *v = NULL;
        if (conda_version_parse(&v, "1.2.3", "fuzz") == 0)
            (void)conda_matchspec_match(m, m->name, v, "py311_0", 0);
        conda_version_free(v);
        conda_matchspec_free(again);
    }
    err_clear();
    conda_matchspec_free(m);
    free(s);
    return 0;
}
