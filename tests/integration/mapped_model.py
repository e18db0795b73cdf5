"""Models for tests/integration/43-onnx-mapped-model.sh: y = MatMul(x, W) with
x float [1, K] and W float [K, N] filled with ((i % 251) * 0.001 + c), so that
for x = ones, y[0] = sum over k of W[k, 0] (printed as the expected answer).

  mapped_model.py matmul OUT.onnx MIB C aligned|misaligned|external
    aligned/misaligned: W's raw_data inside the protobuf at a byte offset that
    is (or is not) a multiple of 4 (protobuf does not align it; the case is
    picked by padding the model's doc_string); external: W in weights.bin
    beside the model (ONNX external data).
  mapped_model.py request K   a /score body with x = ones
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def weights(k, n, c):
    return ((np.arange(k * n, dtype=np.int64) % 251) * 0.001 + c).astype(np.float32).reshape(k, n)


def model(w, name):
    k, n = w.shape
    init = numpy_helper.from_array(w, name)
    node = helper.make_node("MatMul", ["x", name], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])], [init])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def matmul(out, mib, c, layout):
    k = 1024
    n = max(16, mib * (1 << 20) // 4 // k)
    w = weights(k, n, c)
    marker = w.reshape(-1)[:64].tobytes()
    if layout == "external":
        m = model(w, "W")
        onnx.save_model(m, out, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=1024)
    else:
        m = model(w, "W")
        for pad in range(8):
            m.doc_string = "w" * pad  # field 6, before the graph: shifts W's bytes by one per character
            data = m.SerializeToString()
            at = data.find(marker)
            if (at % 4 == 0) == (layout == "aligned"):
                with open(out, "wb") as f:
                    f.write(data)
                break
        else:
            sys.exit("could not place W's bytes as asked")
    print(float(w[:, 0].astype(np.float64).sum()))


if __name__ == "__main__":
    if sys.argv[1] == "matmul":
        matmul(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "request":
        print(json.dumps({"data": [[1.0] * int(sys.argv[2])]}))
    else:
        sys.exit(__doc__)
