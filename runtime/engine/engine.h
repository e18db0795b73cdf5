/* The engine's narrow interface: load an ONNX model, describe its inputs and
 * outputs, run it.
 *
 * A loaded model is immutable, so one model can serve several threads as long
 * as each run gets its own arena. engine_run allocates every intermediate and
 * output tensor from that arena; the outputs stay valid until the arena is
 * reset. Models come from engine_model_load_* and are freed with
 * engine_model_free (NULL is a no-op). The engine knows nothing of HTTP. */
#ifndef AMLSERVE_ENGINE_H
#define AMLSERVE_ENGINE_H

#include "common/arena.h"
#include "tensor.h"

#include <stddef.h>

struct engine_model;

/* A graph input or output: declared type and shape (-1 = symbolic dim;
 * rank -1 = unknown rank). */
struct engine_io {
    const char *name;
    struct tensor shape; /* data is NULL; type TENSOR_SEQUENCE for a sequence */
    int optional;        /* an ONNX optional: may be fed, or come back, as TENSOR_NONE */
    /* An ai.onnx.ml ZipMap's result (ONNX: a sequence of maps), which the
     * engine gives as its [N, C] float scores: map_keys names the C columns
     * (its class labels as text). NULL for a plain tensor. */
    char **map_keys;
    size_t n_map_keys;
};

/* A model file; initializers kept as external data are read from files beside
 * it. The files are mapped (model_map.h) and weights used where they lie when
 * aligned for their type; engine_run fails with ERR_IO once a mapped file was
 * truncated or rewritten in place (replacing it by rename is safe). */
int engine_model_load_file(struct engine_model **out, const char *path);
/* A model file's graph, for checking and describing it without its weights
 * (the builder): every check engine_model_load_file makes, initializers
 * included (type, shape, byte count, external data present and long enough),
 * but no initializer value is copied and no external data read. engine_run
 * refuses such a model. */
int engine_model_load_graph(struct engine_model **out, const char *path);
/* A model in memory (source names it in errors); external data is refused. */
int engine_model_load_buffer(struct engine_model **out, const void *data, size_t len, const char *source);
void engine_model_free(struct engine_model *model);

size_t engine_input_count(const struct engine_model *model);
const struct engine_io *engine_input(const struct engine_model *model, size_t index);
size_t engine_output_count(const struct engine_model *model);
const struct engine_io *engine_output(const struct engine_model *model, size_t index);
size_t engine_node_count(const struct engine_model *model);
/* Bytes of initializer values the model holds in memory of its own (copied or
 * converted); the others are borrowed from the mapped model and data files
 * (engine_model_load_file), whose pages stay shared with the page cache. */
/* The static memory plan (mem_plan.h): the slab one run of the planned input
 * shapes takes for its intermediate tensors, and what those tensors would
 * take one after another on the arena; 0, 0 before the first run (or without
 * a plan: control flow in the main graph). */
void engine_memory_plan(const struct engine_model *m, size_t *slab, size_t *unplanned);
size_t engine_model_copied_bytes(const struct engine_model *model);
/* The file (or source) the model was loaded from, as errors name it. */
const char *engine_model_source(const struct engine_model *model);

/* inputs[i] binds engine_input(model, i); outputs must hold engine_output_count
 * tensors. Errors: ERR_INVALID for inputs that do not match the model. */
int engine_run(const struct engine_model *model, struct arena *arena, const struct tensor *inputs,
               struct tensor *outputs);

#endif
