"""The peer for the scoring benchmarks: the Azure ML pattern, a Flask app
under gunicorn that imports an entry script (ENTRY_SCRIPT), calls init() once
per worker and run() per request, and answers json.dumps of the result."""
import importlib.util
import json
import os

from flask import Flask, request

app = Flask(__name__)
_spec = importlib.util.spec_from_file_location("score", os.environ["ENTRY_SCRIPT"])
_score = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_score)
_score.init()


@app.route("/", methods=["GET"])
def health():
    return "Healthy"


@app.route("/score", methods=["POST"])
def score():
    result = _score.run(request.get_data(as_text=True))
    return app.response_class(json.dumps(result), mimetype="application/json")
