"""The stand-in modules' rules, one by one, in the real /usr/bin/python3.

Run: python3 check_stand_ins.py COMPAT_PY WORK_DIR. Loads templates/amlserve_compat.py as amlserve's
worker does (into the main namespace), installs its finder, and checks what scripts rely on.
Prints one "ok NAME" per passed check; the first failure raises (exit 1).
"""
import importlib
import json
import os
import sys

compat_path, work = sys.argv[1], sys.argv[2]
exec(compile(open(compat_path).read(), compat_path, "exec"))
_install_stand_ins()  # noqa: F821 (defined by the exec above)


def ok(name):
    print("ok", name)


# --- a real package wins: an installed inference_schema shadows the stand-in, module by module
real = os.path.join(work, "realpkgs")
os.makedirs(os.path.join(real, "inference_schema"), exist_ok=True)
with open(os.path.join(real, "inference_schema", "__init__.py"), "w") as f:
    f.write("REAL = True\n")
with open(os.path.join(real, "inference_schema", "schema_util.py"), "w") as f:
    f.write("def is_schema_decorated(func):\n    return 'real'\n")
sys.path.insert(0, real)
import inference_schema  # noqa: E402
import inference_schema.schema_util as util  # noqa: E402
assert util.is_schema_decorated(None) == "real" and inference_schema.REAL
import inference_schema.schema_decorators as deco  # noqa: E402  (absent from the real one: the stand-in)
assert getattr(deco, "__amlserve_stand_in__", False)
ok("an installed inference_schema wins; only its missing modules come from the stand-ins")
for name in [m for m in sys.modules if m.startswith("inference_schema")]:
    del sys.modules[name]
sys.path.remove(real)
importlib.invalidate_caches()

import numpy as np  # noqa: E402
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType  # noqa: E402
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType  # noqa: E402
from inference_schema.schema_decorators import input_schema, output_schema  # noqa: E402
from inference_schema.schema_util import (get_input_schema, get_output_schema, get_supported_versions,  # noqa: E402
                                          is_schema_decorated)


# --- structured NumPy dtypes: objects per row, converted from JSON objects
sample = np.array([("Sarah", (8.0, 7.0)), ("John", (6.0, 7.0))], dtype=[("name", "U16"), ("grades", "f8", (2,))])


@input_schema("param", NumpyParameterType(sample))
@output_schema(NumpyParameterType(np.array([(8.0, 7.0)], dtype="float64, float64")))
def numpy_func(param):
    assert type(param) is np.ndarray
    return param["grades"]


schema = get_input_schema(numpy_func)
assert schema["properties"]["param"] == {"type": "array", "items": {"type": "object", "properties": {
    "name": {"type": "string"}, "grades": {"type": "array", "items": {"type": "number", "format": "double"}}}}}, schema
assert schema["example"] == {"param": [{"name": "Sarah", "grades": [8.0, 7.0]}, {"name": "John", "grades": [6.0, 7.0]}]}
out = numpy_func(param=[{"name": "Bill", "grades": [1, 2]}])
assert out.tolist() == [[1.0, 2.0]]
ok("NumPy structured dtypes: schema, example and conversion from JSON objects")

# --- mixed-type lists are swagger 3 only; undecorated functions are not decorated


@input_schema("param", StandardPythonParameterType(["foo", 1]))
def mixed(param):
    return param[1]


assert get_supported_versions(mixed) == ["3.0", "3.1"]
assert mixed(["a", 2]) == 2
assert "oneOf" in get_input_schema(mixed)["properties"]["param"]["items"]
ok("a list of mixed item types: oneOf items, swagger 3.0 and 3.1 only")


def passthrough(f):
    def inner(*a, **k):
        return f(*a, **k)
    return inner


@passthrough
def plain(data):
    return data


assert not is_schema_decorated(plain) and is_schema_decorated(mixed) and get_output_schema(mixed) == {}
ok("is_schema_decorated: only functions with schema decorators")


@output_schema(StandardPythonParameterType({"a": 1}))
def output_only(data):
    return data


assert is_schema_decorated(output_only) and get_input_schema(output_only) == {}
assert get_output_schema(output_only) == {"type": "object", "required": ["a"],
                                          "properties": {"a": {"type": "integer", "format": "int64"}},
                                          "example": {"a": 1}}
ok("an output-only decorated function counts as decorated")

try:
    StandardPythonParameterType(1.5).deserialize_input("x")
    raise AssertionError("no error")
except ValueError as e:
    assert "Invalid input data type to parse" in str(e)
assert StandardPythonParameterType(1.5).deserialize_input(3) == 3
ok("standard types: ints pass for floats, other types are refused")

# --- pandas orients
try:
    import pandas as pd
except ImportError:
    pd = None
if pd is not None:
    from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    split = PandasParameterType(frame, orient="split")
    got = split.deserialize_input({"columns": ["a", "b"], "index": [0], "data": [[5, "z"]]})
    assert got.to_dict(orient="records") == [{"a": 5, "b": "z"}] and got["a"].dtype == np.int64
    assert split.input_to_swagger()["example"]["data"] == [[1, "x"], [2, "y"]]
    named = PandasParameterType(frame, apply_column_names=True)
    got = named.deserialize_input([[7, "q"]])
    assert list(got.columns) == ["a", "b"] and got["a"].tolist() == [7]
    ok("pandas: split orient and apply_column_names")

# --- Model.get_model_path: exactly one entry per version folder; versions are ints
from azureml.core.model import Model  # noqa: E402
root = os.path.join(work, "models", "azureml-models")
os.makedirs(os.path.join(root, "two", "1"), exist_ok=True)
for n in ("a.bin", "b.bin"):
    open(os.path.join(root, "two", "1", n), "w").close()
os.makedirs(os.path.join(root, "dir", "4", "saved_model"), exist_ok=True)
os.environ["AZUREML_MODEL_DIR"] = root
try:
    Model.get_model_path("two")
    raise AssertionError("no error")
except ValueError as e:
    assert "can contain only 1 file or folder" in str(e)
assert Model.get_model_path("dir") == os.path.join(root, "dir", "4", "saved_model")
try:
    Model.get_model_path("dir", version="4")
    raise AssertionError("no error")
except ValueError as e:
    assert "version should be an int" in str(e)
os.environ["AZUREML_MODEL_DIR"] = os.path.join(root, "dir", "4")
assert Model.get_model_path("dir") == os.path.join(root, "dir", "4", "saved_model")
os.makedirs(os.path.join(root, "same", "2", "same"), exist_ok=True)  # a folder model named as the model
os.environ["AZUREML_MODEL_DIR"] = os.path.join(root, "same", "2")
assert Model.get_model_path("same") == os.path.join(root, "same", "2", "same")
ok("Model.get_model_path: one entry per version folder, a folder model, int versions, single-model layout")

# --- a stand-in package stays a namespace: a real azureml module put on sys.path later is found
import azureml.contrib.services  # noqa: E402  (azureml is the stand-in here: nothing real installed yet)
assert getattr(sys.modules["azureml"], "__amlserve_stand_in__", False)
late = os.path.join(work, "late")
os.makedirs(os.path.join(late, "azureml", "late_module"), exist_ok=True)
with open(os.path.join(late, "azureml", "late_module", "__init__.py"), "w") as f:
    f.write("WHERE = 'late'\n")
sys.path.append(late)
import azureml.late_module  # noqa: E402
assert azureml.late_module.WHERE == "late"
ok("a stand-in azureml package still finds real azureml modules added to sys.path later")

# --- contrib and monitoring
from azureml.contrib.services.aml_request import rawhttp, AMLRequest  # noqa: E402,F401
from azureml.contrib.services.aml_response import AMLResponse  # noqa: E402
from azureml.monitoring import ModelDataCollector  # noqa: E402
dc = ModelDataCollector("m", designation="inputs", feature_names=["f"])
assert dc.collect([1]) is None and dc.add_correlations([1], {"x": 1}) == [1]
assert AMLResponse("x", 201).status_code == 201
print(json.dumps({"done": True}))
