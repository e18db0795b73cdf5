#!/usr/bin/python3
"""pip_index.py build WORK PROJECT...: writes tiny pure-Python projects and builds their wheels with
`pip wheel --no-deps --no-build-isolation` (one pip run), offline.
PROJECT is "name=version[|requirement&requirement...][|extra:requirement&...]".

pip_index.py index ROOT WHEEL_DIR [--requires-python FILE=SPEC]... [--yank FILE]... [--metadata FILE]...
    [--json] [--bad-hash FILE]: writes a simple repository under ROOT/simple (PEP 503 HTML, or PEP 691
JSON index.json files with --json) whose links point at ROOT/files/, each with #sha256=; --metadata
serves FILE's METADATA beside it as FILE.metadata (PEP 658, data-core-metadata="sha256=...").

pip_index.py serve DIR PORT: http.server with content negotiation: a directory whose index.json exists
answers JSON (application/vnd.pypi.simple.v1+json) when the client accepts it, index.html otherwise."""
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile


def build(work, projects):
    rounds = []  # pip builds one version of a name per run: a run per round
    for spec in projects:
        fields = spec.split("|")
        name, version = fields[0].split("=")
        deps = [d for d in fields[1].split("&") if d] if len(fields) > 1 else []
        extras = {}
        for item in (fields[2].split("&") if len(fields) > 2 and fields[2] else []):
            extra, req = item.split(":", 1)
            extras.setdefault(extra, []).append(req)
        d = os.path.join(work, "src", f"{name}-{version}")
        pkg = os.path.join(d, name.replace("-", "_"))
        os.makedirs(pkg, exist_ok=True)
        with open(os.path.join(pkg, "__init__.py"), "w") as f:
            f.write(f"VERSION = {version!r}\n")
        with open(os.path.join(d, "pyproject.toml"), "w") as f:
            f.write('[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n')
            f.write(f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = {json.dumps(deps)}\n')
            if extras:
                f.write("[project.optional-dependencies]\n")
                for extra, reqs in extras.items():
                    f.write(f"{extra} = {json.dumps(reqs)}\n")
        for r in rounds:
            if name not in r:
                r[name] = d
                break
        else:
            rounds.append({name: d})
    out = os.path.join(work, "built")
    runs = [subprocess.Popen([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                              "-q", "--disable-pip-version-check", "-w", out] + list(r.values()),
                             stdout=subprocess.DEVNULL) for r in rounds]
    if any(run.wait() for run in runs):
        sys.exit("pip wheel failed")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def metadata_of(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        return z.read(name)


def index(root, wheel_dir, opts):
    files = os.path.join(root, "files")
    os.makedirs(files, exist_ok=True)
    projects = {}
    for fn in sorted(os.listdir(wheel_dir)):
        shutil.copy(os.path.join(wheel_dir, fn), files)
        name = re.sub(r"[-_.]+", "-", re.split(r"-\d", fn, maxsplit=1)[0]).lower()
        projects.setdefault(name, []).append(fn)
    for name, fns in projects.items():
        d = os.path.join(root, "simple", name)
        os.makedirs(d, exist_ok=True)
        links, entries = [], []
        for fn in fns:
            digest = "0" * 64 if fn in opts["bad-hash"] else sha256(os.path.join(files, fn))
            attrs = ""
            entry = {"filename": fn, "url": f"../../files/{fn}", "hashes": {"sha256": digest}}
            if fn in opts["requires-python"]:
                attrs += f' data-requires-python="{html.escape(opts["requires-python"][fn])}"'
                entry["requires-python"] = opts["requires-python"][fn]
            if fn in opts["yank"]:
                attrs += ' data-yanked=""'
                entry["yanked"] = True
            if fn in opts["metadata"]:
                meta = metadata_of(os.path.join(files, fn))
                with open(os.path.join(files, fn + ".metadata"), "wb") as f:
                    f.write(meta)
                mdigest = hashlib.sha256(meta).hexdigest()
                attrs += f' data-core-metadata="sha256={mdigest}"'
                entry["core-metadata"] = {"sha256": mdigest}
            links.append(f'    <a href="../../files/{html.escape(fn)}#sha256={digest}"{attrs}>{html.escape(fn)}</a><br/>')
            entries.append(entry)
        if opts["json"]:
            with open(os.path.join(d, "index.json"), "w") as f:
                json.dump({"meta": {"api-version": "1.0"}, "name": name, "files": entries}, f)
        with open(os.path.join(d, "index.html"), "w") as f:
            f.write("<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n")


def serve(directory, port):
    import functools
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        def send_head(self):
            path = self.translate_path(self.path)
            accept = self.headers.get("Accept", "")
            if os.path.isdir(path) and self.path.endswith("/") and os.path.exists(os.path.join(path, "index.json")) \
                    and "application/vnd.pypi.simple.v1+json" in accept:
                with open(os.path.join(path, "index.json"), "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                import io
                return io.BytesIO(body)
            return super().send_head()

        def log_message(self, fmt, *args):
            sys.stderr.write("%s\n" % (fmt % args))
            sys.stderr.flush()

    http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=directory)).serve_forever()


if sys.argv[1] == "build":
    build(sys.argv[2], sys.argv[3:])
elif sys.argv[1] == "index":
    opts = {"requires-python": {}, "yank": set(), "metadata": set(), "bad-hash": set(), "json": False}
    args = sys.argv[4:]
    while args:
        a = args.pop(0)
        if a == "--json":
            opts["json"] = True
        elif a == "--requires-python":
            fn, spec = args.pop(0).split("=", 1)
            opts["requires-python"][fn] = spec
        else:
            opts[a[2:]].add(args.pop(0))
    index(sys.argv[2], sys.argv[3], opts)
elif sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]))
