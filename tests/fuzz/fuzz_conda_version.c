/* libFuzzer target: conda versions and version specs (builder/spec/conda_version.c). The input is
 * "VERSION_A\nVERSION_B\nSPEC"; the order must be antisymmetric and reflexive, and a version must
 * start with itself. */
#include "builder/spec/conda_version.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *parts[3] = {s, "", ""};
    for (int i = 1; i < 3; i++) {
        char *nl = strchr(parts[i - 1], '\n');
        if (!nl)
            break;
        *nl = '\0';
        parts[i] = nl + 1;
    }
    struct conda_version *a = NULL, *b = NULL;
    struct conda_vspec *spec = NULL;
    err_clear();
    conda_version_parse(&a, parts[0], "fuzz");
    err_clear();
    conda_version_parse(&b, parts[1], "fuzz");
    err_clear();
    conda_vspec_parse(&spec, parts[2], "fuzz");
    if (a && (conda_version_compare(a, a) != 0 || !conda_version_startswith(a, a)))
        abort();
    if (a && b && sign(conda_version_compare(a, b)) != -sign(conda_version_compare(b, a)))
        abort();
    if (spec && a)
        (void)conda_vspec_match(spec, a);
    if (spec) { /* the canonical text parses to the same text */
        struct conda_vspec *again = NULL;
        if (conda_vspec_parse(&again, conda_vspec_text(spec), "fuzz") || strcmp(conda_vspec_text(again), conda_vspec_text(spec)))
            abort();
        conda_vspec_free(again);
    }
    conda_version_free(a);
    conda_version_free(b);
    conda_vspec_free(spec);
    free(s);
    return 0;
}
