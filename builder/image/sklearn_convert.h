/* No-code scikit-learn: a pickled or joblib model (framework: scikit-learn)
 * becomes an ONNX-ML model amlserve scores natively, at build time.
 *
 * The conversion runs amlpkg's own converter (the Python modules in builder/image/sklearn/,
 * embedded in amlpkg) in a subprocess of the build machine's Python:
 * unpickling runs the pickle's code, so it never happens inside amlpkg or
 * amlserve. The converted model must then reproduce scikit-learn's outputs on
 * a sample (sklearn_check.h) or the package is refused. On success each
 * converted model's path points at its ONNX file in spec->generated_dir
 * (removed by spec_free), and when the spec has no samples the converter's
 * become the swagger samples. Models of packages with an entry script are left
 * alone (the script loads the pickle itself), and so is a scikit-learn model
 * given as an .onnx file (converted already). */
#ifndef AMLPKG_SKLEARN_CONVERT_H
#define AMLPKG_SKLEARN_CONVERT_H

#include "builder/spec/spec.h"

#include <stddef.h>

#define SKLEARN_DEFAULT_PYTHON "/usr/bin/python3"
#define SKLEARN_DEFAULT_CHECK_ROWS 100

struct sklearn_options {
    const char *python; /* NULL: SKLEARN_DEFAULT_PYTHON */
    int check_rows;     /* rows synthesised when the spec has no input sample; 0: the default */
    int quiet;          /* no progress lines on stderr */
};

/* The embedded converter modules (generated from builder/image/sklearn/). */
struct sklearn_module {
    const char *name;
    const char *text;
};
extern const struct sklearn_module sklearn_modules[];
extern const size_t sklearn_n_modules;

/* Converts every scikit-learn model of spec (see above). Errors name the spec
 * file, line and model, and the converter's reason (an estimator that does not
 * convert, a pickle from another scikit-learn version, a mismatch). */
int sklearn_convert_spec(struct spec *spec, const struct sklearn_options *o);

#endif
