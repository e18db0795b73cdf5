/* For the engine's unit tests that build their models in code: the bytes of a model around a graph. */
#ifndef AMLPKG_TEST_ONNX_MODEL_PACK_H
#define AMLPKG_TEST_ONNX_MODEL_PACK_H

#include "onnx.pb-c.h"

#include <stdint.h>
#include <stdlib.h>

/* GRAPH as a model of IR version 8 importing DOMAIN ("" the default one) at VERSION (0: no opset
 * import at all), packed into *OUT (malloc'd, the caller frees it); its length. */
static inline size_t onnx_model_pack(uint8_t **out, Onnx__GraphProto *graph, const char *domain, int64_t version)
{
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[] = {&opset};
    opset.domain = (char *)domain;
    opset.has_version = 1;
    opset.version = version;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1;
    model.ir_version = 8;
    model.n_opset_import = version > 0 ? 1 : 0;
    model.opset_import = opsets;
    model.graph = graph;
    size_t len = onnx__model_proto__get_packed_size(&model);
    *out = malloc(len);
    if (*out)
        onnx__model_proto__pack(&model, *out);
    return len;
}

#endif
