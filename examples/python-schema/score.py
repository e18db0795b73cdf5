"""An Azure ML entry script in the style of Azure's own samples, unchanged: the model's path from
Model.get_model_path, the input and output described with inference-schema's decorators. amlserve
calls run(data=...) with the request's JSON member converted to a float32 ndarray, and serves
/swagger.json from the decorators. Neither azureml-core nor inference-schema needs to be installed:
amlserve's stand-ins answer those imports when the real packages are absent."""
import numpy as np
import onnx
from azureml.core.model import Model
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema
from onnx import numpy_helper

w = b = None


def init():
    global w, b
    model = onnx.load(Model.get_model_path("ridge"))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    w, b = weights["w"], weights["b"]
    print("ridge weights loaded")


input_sample = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], dtype=np.float32)
output_sample = np.array([[0.5]], dtype=np.float32)


@input_schema("data", NumpyParameterType(input_sample))
@output_schema(NumpyParameterType(output_sample))
def run(data):
    return (data @ w + b).tolist()
