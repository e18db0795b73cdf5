#include "builder/image/model_check.h"

#include "builder/image/entry_script_check.h"

#include "common/err.h"
#include "runtime/engine/model_files.h"
#include "runtime/engine/servable.h"

#include <stdio.h>
#include <string.h>

int model_check_spec(const struct spec *spec)
{
    /* An entry script loads its models itself (pickles, ONNX with any runtime): the script is what is checked. */
    if (spec->inference.entry_script)
        return entry_script_check_spec(spec);
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < spec->n_models && !rc; i++) {
        const struct spec_model *m = &spec->models[i];
        char **paths = NULL;
        size_t n = 0;
        rc = model_files_find_onnx(&paths, &n, m->path);
        for (size_t j = 0; j < n && !rc; j++) {
            /* amlserve's own rule, on the graph only: the weights are never read here. */
            rc = engine_check_servable_file(paths[j]);
            if (rc) {
                /* Re-prefix the engine's message with where the spec named the model. */
                char detail[900];
                snprintf(detail, sizeof detail, "%s", err_message(rc));
                err_clear();
                err_set(rc, "%s:%d: models[%zu].path: %s", spec->file, m->line, i, detail);
            }
        }
        /* amlserve routes ?model=NAME[:VERSION] to <name>/<version>/<file>.onnx: one file per model. */
        if (!rc && n > 1 && spec->n_models > 1)
            rc = err_set(ERR_UNSUPPORTED,
                         "%s:%d: models[%zu].path: %zu ONNX files; with several models each must hold one", spec->file,
                         m->line, i, n);
        total += n;
        model_files_free(paths, n);
    }
    if (rc)
        return rc;
    /* Without an entry script amlserve serves the one ONNX model natively. */
    if (total == 0)
        return err_set(ERR_INVALID,
                       "%s: models: no ONNX model found; no-code scoring needs one .onnx file (or give an "
                       "inference.entry_script to score other models in Python)",
                       spec->file);
    if (total > 1 && spec->n_models == 1)
        return err_set(ERR_UNSUPPORTED,
                       "%s: models: %zu ONNX files found in one model; no-code scoring serves one file per model "
                       "(or give an inference.entry_script)",
                       spec->file, total);
    return 0;
}
