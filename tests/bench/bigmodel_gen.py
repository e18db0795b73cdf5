#!/usr/bin/python3
"""bigmodel_gen.py DIR MIB: writes DIR/raw/model.onnx (weights as raw_data inside
the protobuf) and DIR/external/model.onnx + model.onnx.data (the same weights as
external data) for tests/bench/bigmodel.sh. The model is a chain of MatMuls
x[N, D] · W1 · W2 ... with D×D float32 weights of random normal values (scaled
to keep activations near 1), MIB mebibytes of them in all. The weights are
streamed to the file one at a time: the protobuf around them is written by
hand, so no 1 GiB message is built in memory."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper

out, mib = sys.argv[1], int(sys.argv[2])
D = 4096  # 64 MiB per weight
n_weights = max(1, mib * 1024 * 1024 // (D * D * 4))


def varint(n):
    b = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        b.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(b)


def weight(i):
    w = np.random.default_rng(i).standard_normal((D, D), dtype=np.float32)
    w *= 1 / np.sqrt(D)
    return w


nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i - 1}", f"w{i}"],
                          ["y" if i == n_weights - 1 else f"h{i}"]) for i in range(n_weights)]
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", D])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", D])

# External data: the usual way, the weights in model.onnx.data.
ext = os.path.join(out, "external")
os.makedirs(ext, exist_ok=True)
inits, offset = [], 0
with open(os.path.join(ext, "model.onnx.data"), "wb") as f:
    for i in range(n_weights):
        t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[D, D])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "model.onnx.data"), ("offset", str(offset)), ("length", str(D * D * 4))):
            e = t.external_data.add()
            e.key, e.value = k, v
        inits.append(t)
        weight(i).tofile(f)
        offset += D * D * 4
g = helper.make_graph(nodes, "big", [x], [y], initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
with open(os.path.join(ext, "model.onnx"), "wb") as f:
    f.write(m.SerializeToString())

# raw_data: one protobuf of MIB MiB. GraphProto.initializer is field 5,
# TensorProto.raw_data field 9, ModelProto.graph field 7.
raw = os.path.join(out, "raw")
os.makedirs(raw, exist_ok=True)
heads = []
for i in range(n_weights):
    head = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[D, D]).SerializeToString()
    head += b"\x4a" + varint(D * D * 4)
    heads.append(b"\x2a" + varint(len(head) + D * D * 4) + head)
g = helper.make_graph(nodes, "big", [x], [y])
graph_bytes = g.SerializeToString()
graph_len = len(graph_bytes) + sum(len(h) + D * D * 4 for h in heads)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
m.ClearField("graph")
with open(os.path.join(raw, "model.onnx"), "wb") as f:
    f.write(m.SerializeToString() + b"\x3a" + varint(graph_len) + graph_bytes)
    for i, h in enumerate(heads):
        f.write(h)
        weight(i).tofile(f)
print(f"{n_weights} weights of {D}x{D}: {n_weights * D * D * 4 / 2**20:.0f} MiB")
