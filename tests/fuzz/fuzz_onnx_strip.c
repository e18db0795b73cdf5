/* libFuzzer target: onnx_strip, the protobuf walker that takes initializers'
 * raw_data out of a model before it is decoded. Whatever it accepts must
 * decode like protobuf, and every reference it leaves must lie inside the
 * input and hold the bytes of a raw_data field. */
#include "common/buf.h"
#include "onnx.pb-c.h"
#include "runtime/engine/onnx_strip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_graph(const Onnx__GraphProto *g, size_t size, int depth)
{
    if (!g || depth > 32)
        return;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        for (unsigned u = 0; u < t->base.n_unknown_fields; u++) {
            const ProtobufCMessageUnknownField *f = &t->base.unknown_fields[u];
            uint64_t offset, length;
            if (f->tag != ONNX_STRIP_FIELD || onnx_strip_ref(f->data, f->len, &offset, &length))
                continue;
            if (offset > size || length > size - offset || length < ONNX_STRIP_MIN)
                abort();
        }
    }
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t a = 0; a < g->node[i]->n_attribute; a++) {
            const Onnx__AttributeProto *at = g->node[i]->attribute[a];
            check_graph(at->g, size, depth + 1);
            for (size_t k = 0; k < at->n_graphs; k++)
                check_graph(at->graphs[k], size, depth + 1);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf out;
    buf_init(&out, (size_t)1 << 26);
    long n = onnx_strip(&out, data, size);
    if (n < 0 && out.len != 0)
        abort();
    if (n > 0) {
        Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, out.len, (const uint8_t *)out.data);
        if (m) {
            check_graph(m->graph, size, 0);
            onnx__model_proto__free_unpacked(m, NULL);
        }
    }
    buf_release(&out);
    return 0;
}
