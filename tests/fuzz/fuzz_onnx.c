/* libFuzzer target: ONNX model loading (protobuf decode, initializers, plan),
 * the servable-model rule and, when a model loads, one run on zero-filled
 * inputs of its declared shape. */
#include "common/arena.h"
#include "common/err.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/servable.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct engine_model *m = NULL;
    err_clear();
    if (engine_model_load_buffer(&m, data, size, "fuzz.onnx") != 0)
        return 0;
    engine_check_servable(m);
    err_clear();
    struct arena arena;
    arena_init(&arena, 4096, 16u << 20);
    size_t n_in = engine_input_count(m), n_out = engine_output_count(m);
    struct tensor inputs[16], outputs[16];
    int ok = n_in <= 16 && n_out <= 16;
    for (size_t i = 0; ok && i < n_in; i++) {
        inputs[i] = engine_input(m, i)->shape;
        size_t elem = tensor_type_size(inputs[i].type);
        if (inputs[i].rank < 0 || !elem) {
            ok = 0;
            break;
        }
        for (int d = 0; d < inputs[i].rank; d++)
            if (inputs[i].dims[d] < 0 || inputs[i].dims[d] > 64)
                inputs[i].dims[d] = 1;
        int64_t count = tensor_element_count(&inputs[i]);
        inputs[i].data = count >= 0 && count < (1 << 20) ? arena_alloc(&arena, (size_t)count * elem + 1) : NULL;
        if (!inputs[i].data)
            ok = 0;
        else
            memset(inputs[i].data, 0, (size_t)count * elem + 1);
    }
    if (ok)
        engine_run(m, &arena, inputs, outputs);
    arena_release(&arena);
    engine_model_free(m);
    return 0;
}
