/* Validates a spec's models before anything is written: every ONNX file must
 * pass amlserve's own servable-model rule (engine_check_servable_file, which
 * reads the graph and never the weights), and a no-code package must hold
 * exactly one ONNX file per model. With an entry script the script loads the
 * models (any format), so the script is checked instead (entry_script_check.h).
 * Errors name the spec file, line and field, or the script's file and line. */
#ifndef AMLPKG_MODEL_CHECK_H
#define AMLPKG_MODEL_CHECK_H

#include "builder/spec/spec.h"

int model_check_spec(const struct spec *spec);

#endif
