/* No-code scoring of an ONNX model: JSON in, engine run, JSON out.
 *
 * Request bodies are {"data": <nested array>} for a single-input model, or one
 * member per input name; a bare nested array is also accepted for a single
 * input. A single output is answered as a nested array, several as an object
 * keyed by output name. The scorer owns its loaded model. */
#ifndef AMLSERVE_SCORER_ONNX_H
#define AMLSERVE_SCORER_ONNX_H

#include "runtime/scorer.h"

/* Finds the one .onnx file under model_dir (searched recursively), or uses
 * model_dir itself when it is a file, and loads it. */
int scorer_onnx_new(struct scorer **out, const char *model_dir);
/* The model file the scorer loaded (borrowed). */
const char *scorer_onnx_model_path(const struct scorer *s);

#endif
