/* libFuzzer target: the check.json the scikit-learn converter writes (it comes
 * from a process that ran a user's pickle, so it is untrusted input), parsed by
 * sklearn_check_parse and, when it parses, compared against a tiny Identity
 * model so the comparison's shape and value handling runs too. */
#include "builder/image/sklearn_check.h"
#include "common/err.h"

#include <stdint.h>

/* data [N, 2] double -> Identity -> predict, written by builder/image/sklearn/onnx_writer.py */
static const unsigned char identity_model[] = {
    8,   8,   18,  1,  116, 26,  1,  49,  58, 94, 10,  29, 10,  4,   100, 97,  116, 97,  18,  7,   112, 114,
    101, 100, 105, 99, 116, 26,  2,  110, 48, 34, 8,   73, 100, 101, 110, 116, 105, 116, 121, 18,  7,   115,
    107, 108, 101, 97, 114, 110, 90, 23,  10, 4,  100, 97, 116, 97,  18,  15,  10,  13,  8,   11,  18,  9,
    10,  3,   18,  1,  78,  10,  2,  8,   2,  98, 27,  10, 7,   112, 114, 101, 100, 105, 99,  116, 18,  16,
    10,  14,  8,   11, 18,  10,  10, 3,   18, 1,  78,  10, 3,   18,  1,   75,  66,  2,   16,  13};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct engine_model *model;
    if (!model && engine_model_load_buffer(&model, identity_model, sizeof identity_model, "identity"))
        return 0;
    struct arena arena;
    arena_init(&arena, 4096, 1 << 26);
    struct sklearn_check check;
    if (!sklearn_check_parse(&check, &arena, (const char *)data, size, "fuzz") && check.rows <= 4096)
        sklearn_check_compare(&check, model, &arena);
    err_clear();
    arena_release(&arena);
    return 0;
}
