"""amlserve's Python worker: hosts an Azure ML entry script (score.py).

amlserve starts one of these per worker with a socket on fd AMLSERVE_WORKER_FD.
It imports the entry script, calls init() once, then answers one request at a
time, calling run() exactly as Azure ML's inference server does. Messages in
both directions are frames: 4-byte big-endian meta length, 4-byte body length,
the meta as JSON, then the raw body. No HTTP is parsed here.
"""
import importlib.util
import inspect
import json
import os
import socket
import struct
import sys
import time
import traceback
import types
import urllib.parse

_HEADER = struct.Struct(">II")
_request_id = "-"


class _RequestLog:
    """print() output goes to the server log, tagged with the request id."""

    def __init__(self, stream):
        self._stream = stream
        self._pending = ""

    def write(self, text):
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._stream.write(json.dumps({"event": "print", "request_id": _request_id, "message": line}) + "\n")
        return len(text)

    def flush(self):
        self._stream.flush()


# --- azureml.contrib.services compatibility, used when the real package is absent ---

class AMLRequest:
    """The request object a @rawhttp run() receives (a subset of Flask's)."""

    def __init__(self, meta, body):
        self.method = meta["method"]
        self.path = meta["path"]
        self.query_string = meta["query"].encode()
        self.full_path = self.path + "?" + meta["query"]
        self.headers = _Headers(meta["headers"])
        self.args = _Args(urllib.parse.parse_qsl(meta["query"], keep_blank_values=True))
        self._body = body

    def get_data(self, cache=True, as_text=False, parse_form_data=False):
        return self._body.decode("utf-8") if as_text else self._body

    @property
    def data(self):
        return self._body

    def get_json(self, force=False, silent=False, cache=True):
        try:
            return json.loads(self._body)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self):
        return self.get_json(silent=True)


class _Headers(dict):
    def __init__(self, pairs):
        super().__init__()
        for name, value in pairs:
            super().__setitem__(name.lower(), value)
        self._pairs = pairs

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)

    def __contains__(self, name):
        return super().__contains__(name.lower())

    def items(self):
        return list(self._pairs)


class _Args(dict):
    def __init__(self, pairs):
        super().__init__()
        self._lists = {}
        for k, v in pairs:
            self._lists.setdefault(k, []).append(v)
            self.setdefault(k, v)

    def getlist(self, key):
        return list(self._lists.get(key, []))


class AMLResponse:
    def __init__(self, message, status_code, response_headers=None, json_str=False):
        self.message = message
        self.status_code = status_code
        self.headers = dict(response_headers or {})
        self.json_str = json_str


def rawhttp(func):
    func.__amlserve_rawhttp__ = True
    return func


def _install_contrib_modules():
    """Lets `from azureml.contrib.services.aml_request import rawhttp` work."""
    try:
        import azureml.contrib.services.aml_request  # noqa: F401
        return
    except ImportError:
        pass
    names = ["azureml", "azureml.contrib", "azureml.contrib.services"]
    for name in names:
        mod = sys.modules.get(name) or types.ModuleType(name)
        mod.__path__ = []
        sys.modules[name] = mod
    req = types.ModuleType("azureml.contrib.services.aml_request")
    req.AMLRequest, req.rawhttp = AMLRequest, rawhttp
    resp = types.ModuleType("azureml.contrib.services.aml_response")
    resp.AMLResponse = AMLResponse
    sys.modules[req.__name__], sys.modules[resp.__name__] = req, resp
    sys.modules["azureml.contrib.services"].aml_request = req
    sys.modules["azureml.contrib.services"].aml_response = resp


# --- framing ---

def _read_exact(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send(sock, meta, body=b""):
    raw = json.dumps(meta).encode()
    sock.sendall(_HEADER.pack(len(raw), len(body)) + raw + body)


# --- calling run() as Azure ML does ---

def _load_entry_script(path):
    spec = importlib.util.spec_from_file_location("main", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main"] = module
    spec.loader.exec_module(module)
    return module


def _response_of(value):
    """Maps run()'s return value to (status, headers, body, content type)."""
    aml_response_types = (AMLResponse,)
    contrib = sys.modules.get("azureml.contrib.services.aml_response")
    if contrib is not None and getattr(contrib, "AMLResponse", AMLResponse) is not AMLResponse:
        aml_response_types += (contrib.AMLResponse,)
    if isinstance(value, aml_response_types):
        message = value.message
        if getattr(value, "json_str", False) and not isinstance(message, (str, bytes)):
            message = json.dumps(message)
        body = message if isinstance(message, bytes) else str(message if message is not None else "").encode()
        headers = dict(getattr(value, "headers", {}) or {})
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        headers = {k: str(v) for k, v in headers.items() if k.lower() != "content-type"}
        if ctype is None:
            ctype = "application/json" if getattr(value, "json_str", False) else "text/html; charset=utf-8"
        return int(value.status_code), headers, body, ctype
    return 200, {}, json.dumps(value).encode(), "application/json"


def main():
    global _request_id
    sock = socket.socket(fileno=int(os.environ["AMLSERVE_WORKER_FD"]))
    sys.stdout = _RequestLog(sys.stderr)
    _install_contrib_modules()
    script = os.path.abspath(os.environ["AZUREML_ENTRY_SCRIPT_PATH"])
    source_dir = os.environ.get("AZUREML_SOURCE_DIRECTORY") or os.path.dirname(os.path.abspath(script))
    if os.environ.get("AZUREML_MODEL_DIR"):  # stays valid after the chdir below
        os.environ["AZUREML_MODEL_DIR"] = os.path.abspath(os.environ["AZUREML_MODEL_DIR"])
    sys.path.insert(0, source_dir)
    os.chdir(source_dir)
    started = time.monotonic()
    try:
        module = _load_entry_script(script)
        if hasattr(module, "init"):
            module.init()
        run = module.run
    except BaseException:
        _send(sock, {"ready": False, "error": traceback.format_exc()})
        return 3
    params = inspect.signature(run).parameters
    raw = getattr(run, "__amlserve_rawhttp__", False) or getattr(run, "_is_raw_http", False) \
        or type(run).__name__ == "RawHttp" or getattr(run, "__name__", "") == "rawhttp_wrapper"
    wants_headers = "request_headers" in params
    _send(sock, {"ready": True, "init_ms": (time.monotonic() - started) * 1e3})

    while True:
        try:
            meta_len, body_len = _HEADER.unpack(_read_exact(sock, _HEADER.size))
            meta = json.loads(_read_exact(sock, meta_len))
            body = _read_exact(sock, body_len)
        except EOFError:
            return 0
        _request_id = meta.get("request_id", "-")
        try:
            if raw:
                result = run(AMLRequest(meta, body))
            else:
                if meta["method"] == "GET":
                    data = json.dumps(dict(urllib.parse.parse_qsl(meta["query"], keep_blank_values=True)))
                else:
                    try:
                        data = body.decode("utf-8")
                    except UnicodeDecodeError:
                        _send(sock, {"status": 400, "message": "The request body is not valid UTF-8"})
                        continue
                if wants_headers:
                    result = run(data, request_headers=dict(meta["headers"]))
                else:
                    result = run(data)
            status, headers, out, ctype = _response_of(result)
            _send(sock, {"status": status, "headers": headers, "content_type": ctype}, out)
        except BaseException:
            sys.stderr.write(json.dumps({"event": "run_failed", "request_id": _request_id,
                                         "traceback": traceback.format_exc()}) + "\n")
            _send(sock, {"status": 500, "failed": True})
        finally:
            sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
