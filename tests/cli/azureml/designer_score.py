# The shape Azure ML documents for swagger that tools consume: one nested "Inputs"
# parameter and optional "GlobalParameters", with request_headers.
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


numpy_sample = NumpyParameterType(np.array([[0.5, 1.5]]))
inputs_sample = StandardPythonParameterType({"input1": numpy_sample, "note": "text"})
global_sample = StandardPythonParameterType({"method": "predict"})
output_sample = StandardPythonParameterType({"Results": [1.0]})


@input_schema("Inputs", inputs_sample)
@input_schema("GlobalParameters", global_sample)
@output_schema(output_sample)
def run(Inputs, GlobalParameters={"method": "predict"}, request_headers=None):
    x = Inputs["input1"]
    assert isinstance(x, np.ndarray), type(x)
    return {"Results": x.sum(axis=1).tolist(), "method": GlobalParameters["method"],
            "note": Inputs["note"], "client": request_headers.get("X-Client")}
