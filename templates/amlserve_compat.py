"""Stand-ins for the Azure ML packages entry scripts import, for amlserve's Python worker.

amlserve runs this file, then templates/amlserve_worker.py, in one namespace.
_install_stand_ins() appends one finder to the END of sys.meta_path: Python's
own finders look first, so a real package always wins, module by module. A
real `azureml` namespace (azureml-core, azureml-telemetry, ...) keeps working:
only the submodules it lacks come from here. Covered:
  azureml.contrib.services.aml_request   AMLRequest, rawhttp
  azureml.contrib.services.aml_response  AMLResponse
  azureml.core.model (and azureml.core)   Model.get_model_path
  azureml.monitoring                      ModelDataCollector (collects nothing)
  inference_schema                        input_schema/output_schema decorators,
      schema_util, and the standard-Python, NumPy and pandas parameter types
Written for amlserve from the packages' public documentation; not their code.
"""
import base64
import datetime
import functools
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import sys
import urllib.parse

_SWAGGER_VERSIONS = ["2.0", "3.0", "3.1"]


def _log_event(event, **fields):
    """One JSON line on the worker's log (stderr), as amlserve logs everything."""
    fields = dict({"event": event}, **fields)
    sys.stderr.write(json.dumps(fields, default=str) + "\n")
    sys.stderr.flush()


# --- azureml.contrib.services ---

class AMLRequest:
    """The request object a @rawhttp run() receives (a subset of Flask's)."""

    def __init__(self, meta, body):
        self.method = meta["method"]
        self.path = meta["path"]
        self.query_string = meta["query"].encode()
        self.full_path = self.path + "?" + meta["query"]
        self.headers = _Headers(meta["headers"])
        self.args = _Args(urllib.parse.parse_qsl(meta["query"], keep_blank_values=True))
        self._body = body

    def get_data(self, cache=True, as_text=False, parse_form_data=False):
        return self._body.decode("utf-8") if as_text else self._body

    @property
    def data(self):
        return self._body

    @property
    def mimetype(self):
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    @property
    def is_json(self):
        m = self.mimetype
        return m == "application/json" or (m.startswith("application/") and m.endswith("+json"))

    def get_json(self, force=False, silent=False, cache=True):
        try:
            return json.loads(self._body)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self):
        return self.get_json(silent=True)


class _Headers(dict):
    def __init__(self, pairs):
        super().__init__()
        for name, value in pairs:
            super().__setitem__(name.lower(), value)
        self._pairs = pairs

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)

    def __contains__(self, name):
        return super().__contains__(name.lower())

    def items(self):
        return list(self._pairs)


class _Args(dict):
    def __init__(self, pairs):
        super().__init__()
        self._lists = {}
        for k, v in pairs:
            self._lists.setdefault(k, []).append(v)
            self.setdefault(k, v)

    def getlist(self, key):
        return list(self._lists.get(key, []))


class AMLResponse:
    def __init__(self, message, status_code, response_headers=None, json_str=False):
        self.message = message
        self.status_code = status_code
        self.headers = dict(response_headers or {})
        self.json_str = json_str


def rawhttp(func):
    func.__amlserve_rawhttp__ = True
    return func


def _fill_aml_request(m):
    m.AMLRequest, m.rawhttp, m._rawHttpRequested = AMLRequest, rawhttp, False


def _fill_aml_response(m):
    m.AMLResponse = AMLResponse


# --- azureml.core.model ---

class ModelNotFoundException(Exception):
    pass


class Model:
    """Only what a scoring script uses inside a deployment: get_model_path."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("azureml-core is not installed: amlserve's stand-in offers only "
                           "Model.get_model_path(model_name, version=None)")

    @staticmethod
    def get_model_path(model_name, version=None, _workspace=None):
        """azureml-core's local rules: <models>/<name>/<version or the highest>/ holding exactly
        one file or folder, which is returned; else `model_name` relative to the working folder.
        <models> is AZUREML_MODEL_DIR for several models, its grandparent for one (Azure sets
        AZUREML_MODEL_DIR to <models>/<name>/<version> then), else ./azureml-models."""
        if version is not None and not isinstance(version, int):
            raise ValueError("version should be an int")
        if model_name is None:
            raise ValueError("model_name is None")
        root = _models_root(model_name)
        named = os.path.join(root, model_name)
        if os.path.isdir(named):
            if version is None:
                numbers = [int(v) for v in os.listdir(named) if v.isdigit()]
                version = max(numbers) if numbers else None
            candidate = os.path.join(named, str(version))
            if version is not None and os.path.isdir(candidate):
                entries = sorted(os.listdir(candidate))
                if len(entries) != 1:
                    raise ValueError("Dir {} can contain only 1 file or folder. Found {}".format(candidate, entries))
                return os.path.join(candidate, entries[0])
        if os.path.exists(model_name):
            return model_name
        raise ModelNotFoundException("Model {} not found in cache at {} or in current working directory {}."
                                     .format(model_name, root, os.getcwd()))


def _models_root(model_name):
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if model_dir:
        model_dir = os.path.normpath(model_dir)
        root = os.path.dirname(os.path.dirname(model_dir))
        if os.path.basename(model_dir).isdigit() and os.path.isdir(os.path.join(root, model_name)):
            return root  # one model: AZUREML_MODEL_DIR is <models>/<name>/<version>
        return model_dir
    return "azureml-models"


def _fill_core(m):
    m.Model = Model


def _fill_core_model(m):
    m.Model, m.ModelNotFoundException = Model, ModelNotFoundException


# --- azureml.monitoring ---

_collection_logged = [False]


class ModelDataCollector:
    """Azure collects model data only on AKS with collect_model_data on; elsewhere
    collect() does nothing. So here: nothing is stored, and that is logged once."""

    def __init__(self, model_name, designation="default", feature_names=None, workspace="default/default/default",
                 webservice_name="default", model_version="default", **kwargs):
        self.model_name, self.designation, self.feature_names = model_name, designation, feature_names
        if not _collection_logged[0]:
            _collection_logged[0] = True
            _log_event("model_data_collection", enabled=False,
                       message="ModelDataCollector: model data collection is off here (Azure collects only on AKS "
                               "with collect_model_data); collect() stores nothing")

    def collect(self, input_data, user_correlation_id=""):
        return None

    def add_correlations(self, input_data, correlations):
        return input_data


def _fill_monitoring(m):
    m.ModelDataCollector = ModelDataCollector


# --- inference_schema ---

class AbstractParameterType:
    """Base of the parameter types: deserialize_input() turns parsed JSON into the
    sample's type, input_to_swagger() describes the sample as a swagger schema with
    an "example"."""

    def __init__(self, sample_input):
        self.sample_input = sample_input
        self.sample_data_type = type(sample_input)

    def deserialize_input(self, input_data):
        raise NotImplementedError

    def input_to_swagger(self):
        raise NotImplementedError

    def supported_versions(self):
        return list(_SWAGGER_VERSIONS)

    def _needs_conversion(self, value):
        return not isinstance(value, self.sample_data_type)


def _schema_of_value(value):
    """Swagger for one standard Python value (with its "example"); nested parameter types describe themselves."""
    if isinstance(value, AbstractParameterType):
        return value.input_to_swagger()
    t = type(value)
    if t is bool:
        return {"type": "boolean", "example": value}
    if t is int:
        return {"type": "integer", "format": "int64", "example": value}
    if t is float:
        return {"type": "number", "format": "double", "example": value}
    if t is str:
        return {"type": "string", "example": value}
    if t in (bytes, bytearray):
        return {"type": "string", "format": "byte", "example": base64.b64encode(value).decode()}
    if t is datetime.datetime:
        v = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return {"type": "string", "format": "date-time", "example": v.isoformat()}
    if t is datetime.date:
        return {"type": "string", "format": "date", "example": value.strftime("%Y-%m-%d")}
    if t is datetime.time:
        v = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return {"type": "string", "format": "time", "example": v.isoformat()}
    if t in (list, tuple, range):
        items, example = [], []
        for item in value:
            s = _schema_of_value(item)
            example.append(s.pop("example", None))
            if s not in items:
                items.append(s)
        item_schema = items[0] if len(items) == 1 else ({"oneOf": items} if items else {"type": "object"})
        return {"type": "array", "items": item_schema, "example": example}
    if t is dict:
        props, example = {}, {}
        for k, v in value.items():
            s = _schema_of_value(v)
            example[k] = s.pop("example", None)
            props[k] = s
        return {"type": "object", "required": list(value.keys()), "properties": props, "example": example}
    return {"type": "object", "example": value}


def _has_mixed_list(schema):
    if isinstance(schema, dict):
        return "oneOf" in schema or any(_has_mixed_list(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_mixed_list(v) for v in schema)
    return False


class StandardPythonParameterType(AbstractParameterType):
    """A standard Python sample (str, int, float, bool, bytes, date/time, list, dict), which may
    nest other parameter types as dict values or list items."""

    def __init__(self, sample_input):
        super().__init__(sample_input)
        self.sample_data_type_map = {}
        self.sample_data_type_list = []
        if isinstance(sample_input, dict):
            self.sample_data_type_map = {k: v for k, v in sample_input.items() if isinstance(v, AbstractParameterType)}
        elif isinstance(sample_input, (list, tuple)):
            self.sample_data_type_list = [v for v in sample_input if isinstance(v, AbstractParameterType)]

    def _needs_conversion(self, value):
        return bool(self.sample_data_type_map or self.sample_data_type_list) or super()._needs_conversion(value)

    def deserialize_input(self, input_data):
        t = self.sample_data_type
        if t is datetime.date and isinstance(input_data, str):
            input_data = datetime.datetime.strptime(input_data, "%Y-%m-%d").date()
        elif t is datetime.datetime and isinstance(input_data, str):
            input_data = datetime.datetime.fromisoformat(input_data.replace("Z", "+00:00"))
        elif t is datetime.time and isinstance(input_data, str):
            input_data = datetime.time.fromisoformat(input_data.replace("Z", "+00:00"))
        elif t in (bytes, bytearray) and isinstance(input_data, str):
            input_data = t(base64.b64decode(input_data.encode("utf-8")))
        elif t is tuple and isinstance(input_data, list):
            input_data = tuple(input_data)
        if isinstance(input_data, dict) and self.sample_data_type_map:
            input_data = dict(input_data)
            for k, nested in self.sample_data_type_map.items():
                if k in input_data and nested._needs_conversion(input_data[k]):
                    input_data[k] = nested.deserialize_input(input_data[k])
        elif isinstance(input_data, (list, tuple)) and self.sample_data_type_list:
            kinds = self.sample_data_type_list
            converted = [kinds[min(i, len(kinds) - 1)].deserialize_input(v)
                         if kinds[min(i, len(kinds) - 1)]._needs_conversion(v) else v
                         for i, v in enumerate(input_data)]
            input_data = type(input_data)(converted)
        if t is float and type(input_data) is int:
            pass  # ints are accepted where floats are expected
        elif not isinstance(input_data, t):
            raise ValueError("Invalid input data type to parse. Expected: {0} but got {1}".format(t, type(input_data)))
        return input_data

    def input_to_swagger(self):
        if self.sample_input is None:
            raise ValueError("Sample input cannot be None")
        schema = _schema_of_value(self.sample_input)
        json.dumps(schema)  # the sample must be JSON serialisable
        return schema

    def supported_versions(self):
        # OpenAPI 2 has no arrays of mixed item types.
        return ["3.0", "3.1"] if _has_mixed_list(self.input_to_swagger()) else list(_SWAGGER_VERSIONS)


def _swagger_of_dtype(dtype):
    """Swagger for one NumPy dtype; structured dtypes become objects, sub-arrays arrays."""
    if dtype.names:
        return {"type": "object", "properties": {n: _swagger_of_dtype(dtype.fields[n][0]) for n in dtype.names}}
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        schema = _swagger_of_dtype(base)
        for _ in shape:
            schema = {"type": "array", "items": schema}
        return schema
    kind = dtype.kind
    if kind == "b":
        return {"type": "boolean"}
    if kind in "iu":
        return {"type": "integer", "format": "int64" if dtype.itemsize >= 8 else "int32"}
    if kind == "f":
        return {"type": "number", "format": "double" if dtype.itemsize >= 8 else "float"}
    if kind in "US":
        return {"type": "string"}
    if kind == "M":
        return {"type": "string", "format": "date-time"}
    if kind == "m":
        return {"type": "string", "format": "duration"}
    return {"type": "object"}


def _jsonable(value):
    """NumPy and pandas scalars, dates and bytes as JSON values, for examples."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # a NumPy scalar
        return _jsonable(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class NumpyParameterType(AbstractParameterType):
    """A numpy.ndarray sample: JSON arrays (structured dtypes: arrays of objects) become arrays of its dtype;
    with enforce_shape every dimension but the first must match the sample's."""

    def __init__(self, sample_input, enforce_column_type=True, enforce_shape=True):
        import numpy
        if not isinstance(sample_input, numpy.ndarray):
            raise Exception("Invalid sample input provided, must provide a sample Numpy array.")
        super().__init__(sample_input)
        self.enforce_column_type, self.enforce_shape = enforce_column_type, enforce_shape

    def deserialize_input(self, input_data):
        import numpy
        if not isinstance(input_data, list):
            raise ValueError("Invalid input format: expected an array of items.")
        dtype = self.sample_input.dtype
        if dtype.names:
            rows = [tuple(item[n] for n in dtype.names) if isinstance(item, dict) else tuple(item)
                    for item in input_data]
            array = numpy.array(rows, dtype=dtype)
        else:
            array = numpy.array(input_data, dtype=dtype if self.enforce_column_type else None)
        if self.enforce_shape and array.shape[1:] != self.sample_input.shape[1:]:
            raise ValueError("Invalid input array: an array of shape {} is expected, got {}".format(
                ("n",) + tuple(self.sample_input.shape[1:]), array.shape))
        return array

    def input_to_swagger(self):
        a = self.sample_input
        schema = _swagger_of_dtype(a.dtype)
        for _ in range(max(a.ndim, 1)):
            schema = {"type": "array", "items": schema}
        if a.dtype.names:
            example = [{n: _jsonable(row[n].tolist() if hasattr(row[n], "tolist") else row[n])
                        for n in a.dtype.names} for row in a.reshape(-1)]
        else:
            example = _jsonable(a.tolist())
        schema["example"] = example
        return schema


def _column_schema(column):
    """A column's swagger: from its dtype, or for object columns (strings) from its first value."""
    if column.dtype.kind == "O":
        values = column.dropna()
        if len(values):
            schema = _schema_of_value(_jsonable(values.iloc[0]))
            schema.pop("example", None)
            return schema
    return _swagger_of_dtype(column.dtype)


class PandasParameterType(AbstractParameterType):
    """A pandas.DataFrame sample, in JSON as `orient` says (records by default: a list of row objects).
    enforce_column_type casts columns to the sample's dtypes; enforce_shape requires its column count;
    apply_column_names names the columns of a list-of-lists input after the sample's."""

    def __init__(self, sample_input, enforce_column_type=True, enforce_shape=True, apply_column_names=False,
                 orient="records"):
        import pandas
        if not isinstance(sample_input, pandas.DataFrame):
            raise Exception("Invalid sample input provided, must provide a sample Pandas Dataframe.")
        if orient not in ("split", "records", "index", "columns", "values", "table"):
            raise Exception("Invalid orient value: {}".format(orient))
        super().__init__(sample_input)
        self.enforce_column_type, self.enforce_shape = enforce_column_type, enforce_shape
        self.apply_column_names, self.orient = apply_column_names, orient

    def deserialize_input(self, input_data):
        import pandas
        sample = self.sample_input
        if self.orient == "records" or self.orient == "values":
            if not isinstance(input_data, list):
                raise ValueError("Invalid input format: expected an array of items.")
            names = list(sample.columns) if self.apply_column_names or self.orient == "values" else None
            if names and input_data and not isinstance(input_data[0], dict):
                frame = pandas.DataFrame(input_data, columns=names)
            else:
                frame = pandas.DataFrame(input_data)
        elif self.orient == "split":
            frame = pandas.DataFrame(input_data["data"], columns=input_data.get("columns"),
                                     index=input_data.get("index"))
        elif self.orient == "table":
            frame = pandas.DataFrame(input_data["data"])
        else:
            frame = pandas.DataFrame.from_dict(input_data, orient="index" if self.orient == "index" else "columns")
        if self.enforce_shape and frame.shape[1] != sample.shape[1]:
            raise ValueError("Invalid input data frame: a data frame with {} columns is expected, got {}".format(
                sample.shape[1], frame.shape[1]))
        if all(c in frame.columns for c in sample.columns):
            frame = frame[list(sample.columns)]
        if self.enforce_column_type:
            for c in sample.columns:
                if c in frame.columns and frame[c].dtype != sample[c].dtype:
                    frame[c] = frame[c].astype(sample[c].dtype)
        return frame

    def input_to_swagger(self):
        sample = self.sample_input
        row = {"type": "object", "properties": {str(c): _column_schema(sample[c]) for c in sample.columns}}
        records = [{str(c): _jsonable(v) for c, v in r.items()} for r in sample.to_dict(orient="records")]
        if self.orient == "split":
            return {"type": "object", "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "index": {"type": "array", "items": {"type": "integer", "format": "int64"}},
                "data": {"type": "array", "items": {"type": "array", "items": {"type": "object"}}}},
                "example": _jsonable(sample.to_dict(orient="split"))}
        if self.orient == "values":
            return {"type": "array", "items": {"type": "array", "items": {"type": "object"}},
                    "example": _jsonable(sample.values.tolist())}
        if self.orient in ("index", "columns"):
            return {"type": "object", "additionalProperties": {"type": "object"},
                    "example": _jsonable(sample.to_dict(orient=self.orient))}
        return {"type": "array", "items": row, "example": records}


_schemas = {}  # base function name -> {"input": schema, "output": schema, "types": [parameter types]}


def _base_function(func):
    while hasattr(func, "__wrapped__"):
        func = func.__wrapped__
    return func


def _function_key(func):
    base = _base_function(func)
    return "{}.{}".format(getattr(base, "__module__", ""), getattr(base, "__qualname__", repr(base)))


def _mark(wrapper, func):
    functools.update_wrapper(wrapper, func)
    wrapper.__amlserve_schema__ = True
    return wrapper


def input_schema(param_name, param_type, convert_to_provided_type=True):
    """Registers the schema of one parameter and converts its JSON value to the sample's type."""
    if not isinstance(param_type, AbstractParameterType):
        raise Exception("Error, provided param_type must be a subclass of the AbstractParameterType.")
    swagger = param_type.input_to_swagger()

    def decorate(func):
        base = _base_function(func)
        arg_names = list(inspect.signature(base).parameters)
        entry = _schemas.setdefault(_function_key(func), {"types": []})
        if "input" not in entry:
            entry["input"] = {"type": "object", "properties": {n: {} for n in arg_names},
                              "example": {n: "" for n in arg_names}}
        item = json.loads(json.dumps(swagger, default=str))
        entry["input"]["example"][param_name] = item.pop("example", None)
        entry["input"]["properties"][param_name] = item
        entry["types"].append(param_type)

        def wrapper(*args, **kwargs):
            if convert_to_provided_type:
                if param_name in kwargs:
                    if param_type._needs_conversion(kwargs[param_name]):
                        kwargs[param_name] = param_type.deserialize_input(kwargs[param_name])
                else:
                    if param_name not in arg_names:
                        raise Exception('Error, provided param_name "{}" is not in the decorated function.'
                                        .format(param_name))
                    i = arg_names.index(param_name)
                    if i < len(args) and param_type._needs_conversion(args[i]):
                        args = args[:i] + (param_type.deserialize_input(args[i]),) + args[i + 1:]
            return func(*args, **kwargs)
        return _mark(wrapper, func)
    return decorate


def output_schema(output_type):
    """Registers the schema of the function's result (no conversion)."""
    if not isinstance(output_type, AbstractParameterType):
        raise Exception("Error, provided param_type must be a subclass of the AbstractParameterType.")
    swagger = json.loads(json.dumps(output_type.input_to_swagger(), default=str))

    def decorate(func):
        entry = _schemas.setdefault(_function_key(func), {"types": []})
        if "output" in entry:
            raise Exception("Error, output schema already defined for function: {}.".format(_function_key(func)))
        entry["output"] = swagger
        entry["types"].append(output_type)

        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        return _mark(wrapper, func)
    return decorate


def is_schema_decorated(func):
    return _function_key(func) in _schemas


def get_input_schema(func, version=None):
    return json.loads(json.dumps(_schemas.get(_function_key(func), {}).get("input", {})))


def get_output_schema(func, version=None):
    return json.loads(json.dumps(_schemas.get(_function_key(func), {}).get("output", {})))


def get_supported_versions(func):
    versions = list(_SWAGGER_VERSIONS)
    for t in _schemas.get(_function_key(func), {}).get("types", []):
        versions = [v for v in versions if v in t.supported_versions()]
    return versions


def get_schemas_dict():
    return {k: {n: v for n, v in e.items() if n != "types"} for k, e in _schemas.items()}


def _fill_schema_decorators(m):
    m.input_schema, m.output_schema = input_schema, output_schema


def _fill_schema_util(m):
    m.is_schema_decorated, m.get_input_schema, m.get_output_schema = \
        is_schema_decorated, get_input_schema, get_output_schema
    m.get_supported_versions, m.get_schemas_dict = get_supported_versions, get_schemas_dict


def _fill_abstract(m):
    m.AbstractParameterType = AbstractParameterType


def _fill_standard(m):
    m.StandardPythonParameterType = StandardPythonParameterType


def _fill_numpy(m):
    import numpy  # noqa: F401  (as the real module: importing it needs NumPy)
    m.NumpyParameterType = NumpyParameterType


def _fill_pandas(m):
    import pandas  # noqa: F401  (as the real module: importing it needs pandas)
    m.PandasParameterType = PandasParameterType


def _fill_nothing(m):
    pass


# module name -> (is a package, what fills it)
_STAND_INS = {
    "azureml": (True, _fill_nothing),
    "azureml.contrib": (True, _fill_nothing),
    "azureml.contrib.services": (True, _fill_nothing),
    "azureml.contrib.services.aml_request": (False, _fill_aml_request),
    "azureml.contrib.services.aml_response": (False, _fill_aml_response),
    "azureml.core": (True, _fill_core),
    "azureml.core.model": (False, _fill_core_model),
    "azureml.monitoring": (False, _fill_monitoring),
    "inference_schema": (True, _fill_nothing),
    "inference_schema.schema_decorators": (False, _fill_schema_decorators),
    "inference_schema.schema_util": (False, _fill_schema_util),
    "inference_schema.parameter_types": (True, _fill_nothing),
    "inference_schema.parameter_types.abstract_parameter_type": (False, _fill_abstract),
    "inference_schema.parameter_types.standard_py_parameter_type": (False, _fill_standard),
    "inference_schema.parameter_types.numpy_parameter_type": (False, _fill_numpy),
    "inference_schema.parameter_types.pandas_parameter_type": (False, _fill_pandas),
}


class _DynamicPath:
    """A stand-in package's __path__: the folders of that name under its parent's path, looked up at
    each import as a namespace package's are, so real modules installed (or put on sys.path) later
    are still found first."""

    def __init__(self, name):
        self._name = name

    def _entries(self):
        parent, _, last = self._name.rpartition(".")
        base = sys.path if not parent else getattr(sys.modules.get(parent), "__path__", [])
        return [os.path.join(p or ".", last) for p in list(base) if isinstance(p, str)
                and os.path.isdir(os.path.join(p or ".", last))]

    def __iter__(self):
        return iter(self._entries())

    def __len__(self):
        return len(self._entries())

    def __getitem__(self, i):
        return self._entries()[i]

    def __contains__(self, item):
        return item in self._entries()

    def __repr__(self):
        return "_DynamicPath({!r})".format(self._entries())


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: answers only for the names above that no real package provides."""

    def find_spec(self, fullname, path, target=None):
        entry = _STAND_INS.get(fullname)
        if entry is None:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self, origin="amlserve stand-in", is_package=entry[0])
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__amlserve_stand_in__ = True
        if _STAND_INS[module.__name__][0]:
            module.__path__ = _DynamicPath(module.__name__)
        _STAND_INS[module.__name__][1](module)


def _install_stand_ins():
    if not any(isinstance(f, _StandInFinder) for f in sys.meta_path):
        sys.meta_path.append(_StandInFinder())
