# Standard-Python parameters of several kinds, one optional without conversion, as inference-schema's
# documentation shows them.
import datetime

from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("input_param", StandardPythonParameterType("input sequence."))
@input_schema("beam_size", StandardPythonParameterType(3), convert_to_provided_type=False)
@input_schema("when", StandardPythonParameterType(datetime.date(2024, 1, 31)))
@input_schema("blob", StandardPythonParameterType(b"abc"))
@output_schema(StandardPythonParameterType([[98.3, "Output sequence."]]))
def run(input_param, beam_size=5, when=datetime.date(2000, 1, 1), blob=b""):
    return {"input_param": input_param.upper(), "beam_size": beam_size,
            "when": when.isoformat() if isinstance(when, datetime.date) else repr(when),
            "blob": blob.decode() if isinstance(blob, bytes) else repr(blob)}
