/* libFuzzer target: conda environment files (libyaml document, our reader and
 * the canonical forms of match specs and pip requirements).
 *
 * Besides not crashing, a canonical form must be a fixed point: canonicalising
 * it again gives the same text. Otherwise the same environment could hash to
 * two keys depending on how it was written. */
#include "builder/spec/conda.h"
#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_fixed_point(const struct conda_dep *d, int pip)
{
    char *again = NULL;
    const char *why = NULL;
    int rc = pip ? conda_canon_pip(&again, d->canon, &why) : conda_canon_spec(&again, d->canon, &why);
    if (rc || strcmp(again, d->canon)) {
        fprintf(stderr, "canonical form is not stable: '%s' -> '%s' -> '%s' (%s)\n", d->text, d->canon,
                again ? again : "(error)", why ? why : "");
        abort();
    }
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conda_env *env = NULL;
    err_clear();
    if (conda_load_buffer(&env, "fuzz.yml", (const char *)data, size) != 0)
        return 0;
    for (size_t i = 0; i < env->n_deps; i++)
        check_fixed_point(&env->deps[i], 0);
    for (size_t i = 0; i < env->n_pip; i++)
        check_fixed_point(&env->pip[i], 1);
    conda_free(env);
    return 0;
}
