/* The exactness check of a converted scikit-learn model: the converter writes
 * check.json (rows, and scikit-learn's own outputs for them); this module
 * scores the same rows with amlserve's engine and refuses any difference
 * beyond tolerance: class labels (integer outputs) exactly, floats within
 * rtol 1e-5 of the larger of the value and the output's largest magnitude.
 *
 * check.json: {"input": [[row], ...], "outputs": {"NAME": {"shape": [..],
 * "values": [flat numbers]}, ...}}. The text is untrusted (it comes from a
 * process that ran the user's pickle): every field is checked, sizes capped. */
#ifndef AMLPKG_SKLEARN_CHECK_H
#define AMLPKG_SKLEARN_CHECK_H

#include "common/arena.h"
#include "runtime/engine/engine.h"

#include <stddef.h>

#define SKLEARN_CHECK_RTOL 1e-5
#define SKLEARN_CHECK_MAX_VALUES (16 * 1024 * 1024)

struct sklearn_check_output {
    const char *name;
    int rank;
    int64_t dims[2];
    const double *values; /* dims[0] * dims[1] (rank 2) or dims[0] values */
};

/* Parsed check data; everything lives in the arena given to sklearn_check_parse. */
struct sklearn_check {
    int64_t rows, cols;
    const double *input; /* rows * cols */
    struct sklearn_check_output *outputs;
    size_t n_outputs;
};

/* Parses check.json text (source names it in errors). */
int sklearn_check_parse(struct sklearn_check *out, struct arena *arena, const char *text, size_t len,
                        const char *source);
/* Scores check->input with model and compares every model output with the
 * expected one of the same name. ERR_MISMATCH names the output, row, column
 * and both values. */
int sklearn_check_compare(const struct sklearn_check *check, const struct engine_model *model, struct arena *arena);
/* Both, on a check file and a model file; *rows_out gets the number of rows compared. */
int sklearn_check_files(const char *model_path, const char *check_path, int64_t *rows_out);

#endif
