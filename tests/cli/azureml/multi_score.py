# Several models in one deployment (AZUREML_MODEL_DIR is the models' root then):
# Model.get_model_path by name, with and without a version.
import os

from azureml.core.model import Model


def init():
    global paths
    paths = {
        "first": Model.get_model_path("first"),
        "second_latest": Model.get_model_path("second"),
        "second_v1": Model.get_model_path(model_name="second", version=1),
    }


def run(raw_data):
    out = {}
    for k, p in paths.items():
        with open(p) as f:
            out[k] = f.read().strip()
    try:
        Model.get_model_path("absent")
    except Exception as e:
        out["absent"] = type(e).__name__
    out["model_dir_is_root"] = os.path.basename(os.environ["AZUREML_MODEL_DIR"]) == "azureml-models"
    return out
