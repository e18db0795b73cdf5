# Written the way Azure ML's scikit-learn samples write score.py: the model's path from
# Model.get_model_path, NumPy input through inference-schema's decorators, an optional
# standard-Python parameter with a default.
import json

import numpy as np
from azureml.core.model import Model
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global weights
    model_path = Model.get_model_path("ridge")
    with open(model_path) as f:
        weights = np.array(json.load(f)["weights"])
    print("loaded", model_path)


input_sample = np.array([[1.0, 2.0, 3.0]])
output_sample = np.array([6.0])


@input_schema("data", NumpyParameterType(input_sample))
@input_schema("scale", StandardPythonParameterType(1.0))
@output_schema(NumpyParameterType(output_sample))
def run(data, scale=2.0):
    assert isinstance(data, np.ndarray), type(data)
    assert data.dtype == np.float64
    result = data @ weights * scale
    return {"result": result.tolist(), "scale": scale, "shape": list(data.shape)}
