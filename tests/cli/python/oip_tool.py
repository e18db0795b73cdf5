"""Helpers for tests/cli/21-oip.sh and tests/bench/oip.sh (Open Inference Protocol).

Run with Debian's /usr/bin/python3 (numpy, onnx, yaml, jsonschema):
  oip_tool.py models DIR                  test models in the Azure ML layout DIR/NAME/VERSION/model.onnx
  oip_tool.py examples DOCDIR OUTDIR      the example bodies of required_api.md and rest_predict_v2.yaml, as files
  oip_tool.py validate SCHEMA FILE [N]    validate FILE (its first N bytes: a binary response's JSON header)
                                          against components/schemas/SCHEMA of rest_predict_v2.yaml
  oip_tool.py binreq REQ.json OUT [NAMES] the request with its inputs (or only NAMES, comma-separated) moved to the
                                          binary tensor data extension; prints the JSON header's length
  oip_tool.py binresp FILE N              a binary response decoded back to JSON (binary outputs get "data")
  oip_tool.py same A.json B.json [TOL]    the outputs of two responses (JSON or /score arrays) are equal within TOL
  oip_tool.py roundtrip REQ RESP          every out_T in RESP equals in_T of REQ, compared in its datatype
  oip_tool.py bigreq N JSON_OUT BIN_OUT   a [1, N] FP32 request for model sum as JSON and binary (prints the header length)
"""
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "oip", "rest_predict_v2.yaml")

DTYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
    "FP32": np.float32, "FP64": np.float64, "BF16": None,
}


def to_bytes(datatype, values):
    if datatype == "BF16":  # the top half of each float32
        return (np.asarray(values, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    return np.asarray(values, dtype=DTYPES[datatype]).newbyteorder("<").tobytes()


def from_bytes(datatype, raw):
    if datatype == "BF16":
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).tolist()
    return np.frombuffer(raw, dtype=np.dtype(DTYPES[datatype]).newbyteorder("<")).tolist()


def cmd_models(out):
    from onnx import TensorProto as T, helper, save
    import shutil

    def save_model(graph, name, version):
        d = os.path.join(out, name, version)
        os.makedirs(d, exist_ok=True)
        save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(d, "model.onnx"))

    # The protocol document's "mymodel": input0 UINT32 [2,2], input1 BOOL [3] -> output0 FP32 [3,2]
    # (input0 as floats over the first two flags of input1), output1 INT64 [3] (input1 as 0/1).
    i64 = lambda name, vals: helper.make_tensor(name, T.INT64, [len(vals)], vals)
    nodes = [
        helper.make_node("Cast", ["input0"], ["f0"], to=T.FLOAT),
        helper.make_node("Slice", ["input1", "s0", "s2"], ["b2"]),
        helper.make_node("Cast", ["b2"], ["f2"], to=T.FLOAT),
        helper.make_node("Unsqueeze", ["f2", "ax0"], ["row"]),
        helper.make_node("Concat", ["f0", "row"], ["output0"], axis=0),
        helper.make_node("Cast", ["input1"], ["output1"], to=T.INT64),
    ]
    g = helper.make_graph(nodes, "mymodel",
                          [helper.make_tensor_value_info("input0", T.UINT32, [2, 2]),
                           helper.make_tensor_value_info("input1", T.BOOL, [3])],
                          [helper.make_tensor_value_info("output0", T.FLOAT, [3, 2]),
                           helper.make_tensor_value_info("output1", T.INT64, [3])],
                          [i64("s0", [0]), i64("s2", [2]), i64("ax0", [0])])
    save_model(g, "mymodel", "1")
    # Every datatype the engine has: out_<T> = Identity(in_<T>), dynamic shapes.
    onnx_types = {"BOOL": T.BOOL, "UINT8": T.UINT8, "UINT16": T.UINT16, "UINT32": T.UINT32, "UINT64": T.UINT64,
                  "INT8": T.INT8, "INT16": T.INT16, "INT32": T.INT32, "INT64": T.INT64, "FP16": T.FLOAT16,
                  "FP32": T.FLOAT, "FP64": T.DOUBLE, "BF16": T.BFLOAT16}
    g = helper.make_graph([helper.make_node("Identity", ["in_" + k], ["out_" + k]) for k in onnx_types], "dtypes",
                          [helper.make_tensor_value_info("in_" + k, v, [None]) for k, v in onnx_types.items()],
                          [helper.make_tensor_value_info("out_" + k, v, [None]) for k, v in onnx_types.items()])
    save_model(g, "dtypes", "1")
    # The Tensor Data section's 2x2 matrix: y = transpose(x), INT32.
    g = helper.make_graph([helper.make_node("Transpose", ["x"], ["y"])], "matrix",
                          [helper.make_tensor_value_info("x", T.INT32, [2, 2])],
                          [helper.make_tensor_value_info("y", T.INT32, [2, 2])])
    save_model(g, "matrix", "1")
    # For the benchmark's large tensors: y = sum of x, so the answer stays small.
    g = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1)], "sum",
                          [helper.make_tensor_value_info("x", T.FLOAT, [1, None])],
                          [helper.make_tensor_value_info("y", T.FLOAT, [1, 1])])
    save_model(g, "sum", "1")
    # The ridge example twice: versions 1 and 2 of "ridge".
    ridge = os.path.join(HERE, "..", "..", "..", "examples", "onnx-ridge", "model.onnx")
    for v in ("1", "2"):
        os.makedirs(os.path.join(out, "ridge", v), exist_ok=True)
        shutil.copy(ridge, os.path.join(out, "ridge", v, "model.onnx"))


def cmd_examples(docdir, out):
    os.makedirs(out, exist_ok=True)
    text = open(os.path.join(docdir, "required_api.md"), encoding="utf-8").read()
    # The request example: the indented block after "POST /v2/models/mymodel/infer", from its first "{".
    m = re.search(r"\n    POST /v2/models/mymodel/infer HTTP/1.1\n((?:    .*\n)+)", text)
    block = "".join(line[4:] + "\n" for line in m.group(1).splitlines())
    body = block[block.index("{"):]
    open(os.path.join(out, "doc-request.json"), "w").write(body)
    # The Tensor Data examples: the same 2x2 matrix nested and flat, each sent in a request as written.
    for name, pattern in (("nested", r'"data" : \[ \[ 1, 2 \], \[ 4, 5 \] \]'), ("flat", r'"data" : \[ 1, 2, 4, 5 \]')):
        snippet = re.search(pattern, text).group(0)
        open(os.path.join(out, "tensor-data-%s.json" % name), "w").write(
            '{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT32", %s}]}' % snippet)
    # The OpenAPI document's x-examples of inference_request.
    import yaml
    spec = yaml.safe_load(open(os.path.join(docdir, "rest_predict_v2.yaml"), encoding="utf-8"))
    for i, (name, ex) in enumerate(spec["components"]["schemas"]["inference_request"]["x-examples"].items(), 1):
        json.dump(ex, open(os.path.join(out, "yaml-example-%d.json" % i), "w"))


def cmd_validate(schema, path, header_len=None):
    import jsonschema
    import yaml
    spec = yaml.safe_load(open(SPEC, encoding="utf-8"))
    raw = open(path, "rb").read()
    doc = json.loads(raw[:int(header_len)] if header_len else raw)
    if header_len:
        # The binary tensor data extension leaves "data" out of a binary output (its bytes follow the JSON)
        # and says so with the binary_data_size parameter: only such outputs may lack it.
        spec["components"]["schemas"]["response_output"]["required"].remove("data")
        for o in doc.get("outputs", []):
            if "data" not in o and "binary_data_size" not in o.get("parameters", {}):
                sys.exit("output %s has neither data nor binary_data_size" % o.get("name"))
    validator = jsonschema.Draft4Validator({"$ref": "#/components/schemas/" + schema, "components": spec["components"]})
    errors = list(validator.iter_errors(doc))
    for e in errors:
        print("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message))
    sys.exit(1 if errors else 0)


def cmd_binreq(req_path, out, names=None):
    req = json.load(open(req_path))
    chosen = set(names.split(",")) if names else None
    raw = b""
    for inp in req["inputs"]:
        if chosen is not None and inp["name"] not in chosen:
            continue
        data = inp.pop("data")
        b = to_bytes(inp["datatype"], np.asarray(data).reshape(-1).tolist())
        inp.setdefault("parameters", {})["binary_data_size"] = len(b)
        raw += b
    header = json.dumps(req).encode()
    open(out, "wb").write(header + raw)
    print(len(header))


def decode_binary(raw, n):
    doc = json.loads(raw[:n])
    pos = n
    for o in doc["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is not None:
            o["data"] = from_bytes(o["datatype"], raw[pos:pos + size])
            pos += size
    if pos != len(raw):
        sys.exit("%d bytes after the JSON header, the outputs account for %d" % (len(raw) - n, pos - n))
    return doc


def cmd_binresp(path, n):
    print(json.dumps(decode_binary(open(path, "rb").read(), int(n))))


def values_of(doc):
    if isinstance(doc, dict) and "outputs" in doc:
        return [np.asarray(o["data"], dtype=np.float64).reshape(-1) for o in doc["outputs"]]
    return [np.asarray(doc, dtype=np.float64).reshape(-1)]


def cmd_same(a, b, tol="0"):
    va, vb = values_of(json.load(open(a))), values_of(json.load(open(b)))
    if tol == "f32":  # equal as float32: JSON's shortest text and raw bytes name the same float
        va, vb, tol = [x.astype(np.float32) for x in va], [y.astype(np.float32) for y in vb], "0"
    if len(va) != len(vb) or any(x.shape != y.shape or not np.allclose(x, y, rtol=0, atol=float(tol))
                                 for x, y in zip(va, vb)):
        sys.exit("differ: %s vs %s" % ([x.tolist()[:8] for x in va], [y.tolist()[:8] for y in vb]))


def cmd_roundtrip(req_path, resp_path):
    """Each output out_T carries input in_T back: same datatype, shape, and bytes in that datatype."""
    req, resp = json.load(open(req_path)), json.load(open(resp_path))
    outs = {o["name"]: o for o in resp["outputs"]}
    for i in req["inputs"]:
        o = outs.get("out_" + i["name"][3:])
        if not o or o["datatype"] != i["datatype"] or o["shape"] != i["shape"]:
            sys.exit("%s: came back as %s" % (i["name"], o and (o["datatype"], o["shape"])))
        if to_bytes(i["datatype"], i["data"]) != to_bytes(o["datatype"], o["data"]):
            sys.exit("%s: sent %s, got %s" % (i["name"], i["data"], o["data"]))


def cmd_bigreq(n, json_out, bin_out):
    n = int(n)
    values = (np.arange(n, dtype=np.float32) % 1000) / 7
    req = {"inputs": [{"name": "x", "shape": [1, n], "datatype": "FP32", "data": values.tolist()}]}
    json.dump(req, open(json_out, "w"))
    del req["inputs"][0]["data"]
    raw = values.astype("<f4").tobytes()
    req["inputs"][0]["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps(req).encode()
    open(bin_out, "wb").write(header + raw)
    print(len(header))


if __name__ == "__main__":
    commands = {"models": cmd_models, "examples": cmd_examples, "validate": cmd_validate, "binreq": cmd_binreq,
                "binresp": cmd_binresp, "same": cmd_same, "roundtrip": cmd_roundtrip, "bigreq": cmd_bigreq}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
