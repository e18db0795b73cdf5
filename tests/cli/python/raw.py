"""Test entry script in the @rawhttp style Azure ML documents."""
from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request):
    if request.method == "GET":
        return AMLResponse({"args": dict(request.args), "path": request.full_path}, 200, json_str=True)
    body = request.get_data(as_text=True)
    return AMLResponse("got " + body, 201, {"X-Custom": "yes"})
