"""A minimal ONNX ModelProto writer (protobuf wire format by hand).

No ONNX package is needed on the build machine: the converter only needs
scikit-learn and numpy. Field numbers are those of onnx.proto. Output is
deterministic: the same graph always gives the same bytes, so images built
from the same pickle are identical."""
import struct

import numpy as np

# TensorProto.DataType
FLOAT, INT64, BOOL, DOUBLE = 1, 7, 9, 11
NUMPY_TYPES = {FLOAT: np.float32, INT64: np.int64, BOOL: np.bool_, DOUBLE: np.float64}
# AttributeProto.AttributeType
A_FLOAT, A_INT, A_STRING, A_TENSOR, A_FLOATS, A_INTS, A_STRINGS = 1, 2, 3, 4, 6, 7, 8


def _varint(n):
    n &= (1 << 64) - 1  # negative int64 values are ten-byte varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def _int(field, n):
    return _key(field, 0) + _varint(int(n))


def _bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return _key(field, 2) + _varint(len(data)) + data


def _packed_ints(field, values):
    return _bytes(field, b"".join(_varint(int(v)) for v in values))


def _packed_floats(field, values):
    return _bytes(field, struct.pack(f"<{len(values)}f", *values))


def tensor(name, array):
    """A TensorProto with raw little-endian data."""
    array = np.ascontiguousarray(array)
    code = {np.dtype(v): k for k, v in NUMPY_TYPES.items()}.get(array.dtype)
    if code is None:
        raise TypeError(f"initializer '{name}': dtype {array.dtype} has no ONNX type here")
    out = b"".join(_int(1, d) for d in array.shape) + _int(2, code) + _bytes(8, name)
    return out + _bytes(9, array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


def attribute(name, value):
    out = _bytes(1, name)
    if isinstance(value, np.ndarray):
        return out + _bytes(5, tensor(name, value)) + _int(20, A_TENSOR)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return out + _int(3, value) + _int(20, A_INT)
    if isinstance(value, float):
        return out + _key(2, 5) + struct.pack("<f", value) + _int(20, A_FLOAT)
    if isinstance(value, str):
        return out + _bytes(4, value) + _int(20, A_STRING)
    if isinstance(value, (list, tuple)) and value:
        if all(isinstance(v, str) for v in value):
            return out + b"".join(_bytes(9, v) for v in value) + _int(20, A_STRINGS)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return out + _packed_ints(8, value) + _int(20, A_INTS)
        return out + _packed_floats(7, [float(v) for v in value]) + _int(20, A_FLOATS)
    raise TypeError(f"attribute '{name}': cannot encode {type(value).__name__} {value!r}")


def node(op_type, inputs, outputs, name, domain="", attrs=None):
    out = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    out += _bytes(3, name) + _bytes(4, op_type)
    for key in sorted(attrs or {}):
        out += _bytes(5, attribute(key, attrs[key]))
    return out + (_bytes(7, domain) if domain else b"")


def value_info(name, elem_type, dims):
    """dims: ints, or strings for symbolic dimensions (dim_param)."""
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(nodes, initializers, inputs, outputs, opsets, producer, doc=""):
    """nodes, initializers: encoded; inputs/outputs: (name, elem_type, dims); opsets: {domain: version}."""
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "sklearn")
    graph += b"".join(_bytes(5, t) for t in initializers)
    if doc:
        graph += _bytes(10, doc)
    graph += b"".join(_bytes(11, value_info(*i)) for i in inputs)
    graph += b"".join(_bytes(12, value_info(*o)) for o in outputs)
    out = _int(1, 8)  # ir_version 8 (ONNX 1.10+)
    out += _bytes(2, producer[0]) + _bytes(3, producer[1])
    out += _bytes(7, graph)
    for domain in sorted(opsets):
        out += _bytes(8, (_bytes(1, domain) if domain else b"") + _int(2, opsets[domain]))
    return out
