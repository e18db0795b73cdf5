/* The servable-model rule: see servable.h. */
#include "runtime/engine/servable.h"

#include "common/err.h"

int engine_check_servable(const struct engine_model *model)
{
    const char *src = engine_model_source(model);
    size_t n_in = engine_input_count(model), n_out = engine_output_count(model);
    if (n_in == 0)
        return err_set(ERR_UNSUPPORTED, "%s: the model has no inputs to feed", src);
    /* The engine also runs sequences, optionals and strings; requests carry numeric tensors only. */
    for (size_t k = 0; k < n_in + n_out; k++) {
        const struct engine_io *io = k < n_in ? engine_input(model, k) : engine_output(model, k - n_in);
        if (io->optional || !tensor_type_size(io->shape.type) || io->shape.type == TENSOR_STRING)
            return err_set(ERR_UNSUPPORTED, "%s: %s '%s' is %s%s; only numeric and bool tensors can be served", src,
                           k < n_in ? "input" : "output", io->name, io->optional ? "an optional " : "a ",
                           tensor_type_name(io->shape.type));
    }
    return 0;
}

int engine_check_servable_file(const char *path)
{
    struct engine_model *model = NULL;
    int rc = engine_model_load_graph(&model, path);
    if (!rc)
        rc = engine_check_servable(model);
    engine_model_free(model);
    return rc;
}
