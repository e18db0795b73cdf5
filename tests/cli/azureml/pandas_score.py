# The data-drift sample's shape: pandas input through inference-schema, ModelDataCollector
# for inputs and predictions (Azure collects only on AKS: here it logs that and stores nothing).
import os

import numpy as np
import pandas as pd
from azureml.monitoring import ModelDataCollector
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global inputs_dc, prediction_dc, model_dir
    model_dir = os.getenv("AZUREML_MODEL_DIR")
    inputs_dc = ModelDataCollector("sklearn_regression_model.pkl", designation="inputs",
                                   feature_names=["age", "income", "name"])
    prediction_dc = ModelDataCollector("sklearn_regression_model.pkl", designation="predictions",
                                       feature_names=["predictedValue"])


sample = pd.DataFrame({"age": [25, 32], "income": [1000.5, 2000.0], "name": ["Sarah", "John"]})


@input_schema("data", PandasParameterType(sample))
@output_schema(StandardPythonParameterType({"predictions": [1.0]}))
def run(data):
    assert isinstance(data, pd.DataFrame), type(data)
    assert data["age"].dtype == np.int64 and data["income"].dtype == np.float64
    inputs_dc.collect(data)
    result = (data["age"] * 2 + data["income"]).tolist()
    prediction_dc.collect(result)
    return {"predictions": result, "columns": list(data.columns)}
