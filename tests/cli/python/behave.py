"""Test entry script: what run() does is chosen by the request."""
import json
import os
import time

state = None


def init():
    global state
    state = {"model_dir": os.environ.get("AZUREML_MODEL_DIR"), "cwd": os.getcwd()}


def run(data, request_headers):
    d = json.loads(data)
    if "raise" in d:
        raise ValueError(d["raise"])
    if "sleep" in d:
        time.sleep(d["sleep"])
    if "exit" in d:
        os._exit(d["exit"])
    if "print" in d:
        print(d["print"])
    return {"echo": d, "pid": os.getpid(), "state": state,
            "client": request_headers.get("X-Client")}
