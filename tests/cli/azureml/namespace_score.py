# A real `azureml` namespace package (here: azureml.telemetry and azureml.core) installed in the
# environment: its modules load from it, the stand-ins fill only what it lacks.
import azureml.core.model
import azureml.telemetry
from azureml.contrib.services.aml_response import AMLResponse
from azureml.monitoring import ModelDataCollector
from inference_schema.schema_decorators import input_schema
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType


def init():
    pass


@input_schema("text", StandardPythonParameterType("hello"))
def run(text):
    return AMLResponse({"telemetry": azureml.telemetry.WHERE,
                        "model_path": azureml.core.model.Model.get_model_path("anything"),
                        "core_is_real": not getattr(azureml.core.model, "__amlserve_stand_in__", False),
                        "contrib_is_stand_in": getattr(__import__("azureml.contrib.services.aml_response",
                                                                  fromlist=["x"]), "__amlserve_stand_in__", False),
                        "collector": ModelDataCollector("m").collect(text),
                        "text": text}, 200, json_str=True)
