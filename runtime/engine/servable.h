/* The one rule for what amlserve can serve from an ONNX model, shared by
 * amlserve (when it loads its models) and amlpkg (when it builds a no-code
 * package), so a package that builds is a package that starts.
 *
 * A servable model loads in the engine (every operator known, the graph well
 * formed, every initializer sound), has at least one input to feed, and every
 * input and output is a plain numeric or bool tensor: requests and responses
 * are JSON arrays of numbers. Nothing here takes ownership of the model. */
#ifndef AMLSERVE_SERVABLE_H
#define AMLSERVE_SERVABLE_H

#include "runtime/engine/engine.h"

/* 0, or ERR_UNSUPPORTED naming the model file and the first input or output
 * that cannot be served. model is a loaded model (engine_model_load_file or
 * engine_model_load_graph). */
int engine_check_servable(const struct engine_model *model);

/* Reads path's graph only (engine_model_load_graph: no weights copied) and
 * applies engine_check_servable: the load error or the rule's. */
int engine_check_servable_file(const char *path);

#endif
