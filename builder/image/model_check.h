/* Validates a spec's models before anything is written: every ONNX file must
 * load in the engine amlserve uses, and a no-code package must hold exactly
 * one ONNX model to serve. With an entry script the script loads the models
 * (any format), so the script is checked instead (entry_script_check.h).
 * Errors name the spec file, line and field, or the script's file and line. */
#ifndef AMLPKG_MODEL_CHECK_H
#define AMLPKG_MODEL_CHECK_H

#include "builder/spec/spec.h"

int model_check_spec(const struct spec *spec);

#endif
