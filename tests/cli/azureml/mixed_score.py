# A list sample of mixed item types: OpenAPI 2 cannot describe it, so Azure ML serves swagger 3 only.
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema


def init():
    pass


@input_schema("row", StandardPythonParameterType(["name", 1, 2.5]))
def run(row):
    return row[::-1]
