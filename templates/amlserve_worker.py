"""amlserve's Python worker: hosts an Azure ML entry script (score.py).

amlserve starts one of these per worker with a socket on fd AMLSERVE_WORKER_FD.
It imports the entry script, calls init() once, then answers one request at a
time, calling run() exactly as Azure ML's inference server does. Messages in
both directions are frames: 4-byte big-endian meta length, 4-byte body length,
the meta as JSON, then the raw body. No HTTP is parsed here.

amlserve runs templates/amlserve_compat.py first, in the same namespace: AMLRequest,
AMLResponse, _log_event and _install_stand_ins come from there.
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
_WORKER_FILE = "amlserve_worker.py"  # the name amlserve compiles this program under (its bootstrap)
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

class _BadInput(Exception):
    """400: the request cannot be turned into run()'s arguments."""


class _UnsupportedInput(Exception):
    """415: a decorated run() needs a JSON body."""


class _ScriptError(Exception):
    """run() is declared in a way Azure's inference server refuses."""


def _load_entry_script(path):
    spec = importlib.util.spec_from_file_location("main", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main"] = module
    spec.loader.exec_module(module)
    return module


def _parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _query_parameters(query):
    """GET /score?a=1&b=[1,2]&c=x&c=y -> {"a": 1, "b": [1, 2], "c": ["x", "y"]}, as Azure parses them."""
    lists = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        lists.setdefault(k, []).append(_parse_value(v))
    return {k: v[0] if len(v) == 1 else v for k, v in lists.items()}


def _header(meta, name):
    return next((v for k, v in meta["headers"] if k.lower() == name), "")


def _is_raw(run):
    if getattr(run, "__amlserve_rawhttp__", False) or getattr(run, "_is_raw_http", False) \
            or type(run).__name__ == "RawHttp" or getattr(run, "__name__", "") == "rawhttp_wrapper":
        return True
    real = sys.modules.get("azureml.contrib.services.aml_request")  # azureml-inference-server-http's flag
    return bool(real is not None and getattr(real, "_rawHttpRequested", False))


def _schema_util():
    """inference_schema.schema_util: the real package when installed, else the stand-in."""
    try:
        import inference_schema.schema_util as util
        return util
    except Exception:
        return None


class _Entry:
    """How run() is called, decided once after init() with the rules of Azure's inference server."""

    def __init__(self, module):
        driver = getattr(module, "driver_module", None)
        self.run = driver.run if isinstance(driver, types.ModuleType) and hasattr(driver, "run") else module.run
        params = list(inspect.signature(self.run).parameters.values())
        if any(p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
            raise _ScriptError("run() cannot accept positional-only arguments, *args, or **kwargs.")
        self.wants_headers = any(p.name == "request_headers" for p in params)
        self.params = [p for p in params if p.name != "request_headers"]
        if not self.params:
            raise _ScriptError('run() needs to accept an argument other than "request_headers".'
                               if self.wants_headers else "run() needs to accept an argument for input data.")
        util = _schema_util()
        self.decorated = bool(util and util.is_schema_decorated(self.run))
        self.raw = _is_raw(self.run)
        if self.raw and self.decorated:
            raise _ScriptError("run() cannot be decorated with both @rawhttp and @input_schema")
        self.swagger = None
        if self.decorated:
            try:
                self.swagger = {"input": util.get_input_schema(self.run), "output": util.get_output_schema(self.run),
                                "versions": list(util.get_supported_versions(self.run))}
                json.dumps(self.swagger)
            except Exception:
                _log_event("swagger_failed", traceback=traceback.format_exc())
                self.swagger = None

    def arguments(self, meta, body):
        """run()'s keyword arguments for one request."""
        first = self.params[0].name
        if self.raw:
            return {first: AMLRequest(meta, body)}
        if meta["method"] not in ("GET", "POST"):
            raise _BadInput("Unsupported HTTP method: " + meta["method"])
        if not self.decorated:  # the body as text, GET parameters as a JSON object
            if meta["method"] == "GET":
                return {first: json.dumps(_query_parameters(meta["query"]))}
            try:
                return {first: body.decode("utf-8")}
            except UnicodeDecodeError as e:
                raise _BadInput("Input cannot be decoded as UTF-8: {}".format(e)) from None
        if meta["method"] == "GET":
            values = _query_parameters(meta["query"])
        else:
            mimetype = _header(meta, "content-type").split(";")[0].strip().lower()
            if mimetype != "application/json" and not (mimetype.startswith("application/")
                                                       and mimetype.endswith("+json")):
                raise _UnsupportedInput("Expects Content-Type to be application/json")
            try:
                values = json.loads(body)
            except ValueError as e:
                if body:
                    raise _BadInput("POST body could not be decoded as JSON: {}".format(e)) from None
                raise _BadInput("POST body is empty. Expecting a JSON dictionary.") from None
            if not isinstance(values, dict):
                raise _BadInput("POST body should be a JSON dictionary.")
        args = {}
        for p in self.params:  # keys run() does not name are ignored; a missing one takes its default
            value = values.get(p.name, p.default)
            if value is inspect.Parameter.empty:
                raise _BadInput("A value is not provided for the {!r} parameter.".format(p.name))
            args[p.name] = value
        return args

    def call(self, meta, body):
        args = self.arguments(meta, body)
        if self.wants_headers:  # as Flask gives them: Title-Case names, repeats joined
            headers = {}
            for k, v in meta["headers"]:
                k = k.title()
                headers[k] = headers[k] + ", " + v if k in headers else v
            args["request_headers"] = headers
        return self.run(**args)


def _response_of(value):
    """Maps run()'s return value to (status, headers, body, content type)."""
    if isinstance(value, AMLResponse) or (type(value).__name__ == "AMLResponse" and hasattr(value, "message")):
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
    if hasattr(value, "get_data") and hasattr(value, "status_code") and hasattr(value, "headers"):
        # A Flask Response (the real azureml-inference-server-http's AMLResponse is one).
        headers = {k: str(v) for k, v in value.headers.items() if k.lower() not in ("content-type", "content-length")}
        return int(value.status_code), headers, value.get_data(), value.headers.get("Content-Type", "text/html")
    return 200, {}, json.dumps(value).encode(), "application/json"


_DISPATCH = ("main", "call", "_load_entry_script")  # the worker's frames above the script's


def _format_traceback():
    """The current exception as Python prints it, without the frames that only dispatch to the script
    (the worker's own, importlib's): the script's frames and the stand-ins' it called remain."""
    te = traceback.TracebackException(*sys.exc_info())
    kept = [f for f in te.stack if not (f.filename == _WORKER_FILE and f.name in _DISPATCH)
            and not f.filename.startswith("<frozen importlib")]
    if kept or not te.stack:
        te.stack = traceback.StackSummary.from_list(kept)
    return "".join(te.format())


def _log_failure(event, text_tracebacks):
    tb = _format_traceback()
    if text_tracebacks:  # amlpkg serve's terminal: the event on one line, then the traceback as Python prints it
        _log_event(event, request_id=_request_id)
        sys.stderr.write(tb if tb.endswith("\n") else tb + "\n")
    else:
        _log_event(event, request_id=_request_id, traceback=tb)


def main():
    global _request_id
    source_fd = os.environ.pop("AMLSERVE_WORKER_SOURCE_FD", "")
    if source_fd.isdigit():  # where amlserve handed us this program: the script's children need not see it
        os.close(int(source_fd))
    sock = socket.socket(fileno=int(os.environ.pop("AMLSERVE_WORKER_FD")))
    text_tracebacks = os.environ.get("AMLSERVE_TRACEBACKS") == "text"
    sys.stdout = _RequestLog(sys.stderr)
    _install_stand_ins()
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
        entry = _Entry(module)
    except BaseException:
        _send(sock, {"ready": False, "error": _format_traceback()})
        return 3
    ready = {"ready": True, "init_ms": (time.monotonic() - started) * 1e3}
    if entry.swagger:
        ready["swagger"] = entry.swagger
    _send(sock, ready)

    while True:
        try:
            meta_len, body_len = _HEADER.unpack(_read_exact(sock, _HEADER.size))
            meta = json.loads(_read_exact(sock, meta_len))
            body = _read_exact(sock, body_len)
        except EOFError:
            return 0
        _request_id = meta.get("request_id", "-")
        try:
            try:
                result = entry.call(meta, body)
            except _BadInput as e:
                _send(sock, {"status": 400, "message": str(e)})
                continue
            except _UnsupportedInput as e:
                _send(sock, {"status": 415, "message": str(e)})
                continue
            status, headers, out, ctype = _response_of(result)
            _send(sock, {"status": status, "headers": headers, "content_type": ctype}, out)
        except BaseException:
            _log_failure("run_failed", text_tracebacks)
            _send(sock, {"status": 500, "failed": True})
        finally:
            sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
