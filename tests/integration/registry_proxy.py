#!/usr/bin/python3
"""A faulty front for a registry, for tests: Bearer token auth (token server
built in), transient 503s with Retry-After, dropped connections, and a blob
whose bytes are corrupted. Usage: registry_proxy.py PORT UPSTREAM_HOSTPORT
with env FAIL_503=N (first N blob requests answer 503 + Retry-After: 1),
DROP=N (first N uploads have their connection closed), CORRUPT=sha256:...,
BEARER=1 (demand a token from /token, Basic alice:s3cret), TAG_PAGE=N (serve
tags/list in sorted pages of at most N with Link: <...>; rel="next", as the
distribution spec describes and registry 2.8 does not do), REFERRERS=1 (serve
the referrers API registry 2.8 lacks: a manifest PUT with a subject is
answered with OCI-Subject and listed at GET /v2/NAME/referrers/DIGEST)."""
import base64, http.client, json, os, sys, threading
from urllib.parse import parse_qs, quote, urlsplit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream = int(sys.argv[1]), sys.argv[2]
state = {"503": int(os.environ.get("FAIL_503", "0")), "drop": int(os.environ.get("DROP", "0"))}
lock = threading.Lock()
corrupt = os.environ.get("CORRUPT", "")
bearer = os.environ.get("BEARER") == "1"
tag_page = int(os.environ.get("TAG_PAGE", "0"))
referrers_api = os.environ.get("REFERRERS") == "1"
referrers = {}  # (name, subject digest) -> {digest: descriptor}
GOOD = "Basic " + base64.b64encode(b"alice:s3cret").decode()

def take(key):
    with lock:
        if state[key] > 0:
            state[key] -= 1
            return True
    return False

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/token"):
            if self.headers.get("Authorization") == GOOD and "scope=" in self.path:
                return self.reply(200, b'{"token":"good-token","expires_in":300}')
            return self.reply(401, b'{"details":"bad credentials"}')
        if bearer and self.headers.get("Authorization") != "Bearer good-token":
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                              [("WWW-Authenticate", f'Bearer realm="http://127.0.0.1:{port}/token",service="test"')])
        if referrers_api and self.command == "GET" and "/referrers/" in self.path:
            name, subject = self.path[4:].split("?")[0].split("/referrers/")
            with lock:
                found = list(referrers.get((name, subject), {}).values())
            doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": found}
            return self.reply(200, json.dumps(doc).encode(), [("Content-Type", "application/vnd.oci.image.index.v1+json")])
        if "/blobs/" in self.path and take("503"):
            return self.reply(503, b"busy", [("Retry-After", "1")])
        if self.command in ("PUT", "PATCH") and "/blobs/uploads/" in self.path and n > 0 and take("drop"):
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        c = http.client.HTTPConnection(upstream, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization", "connection")}
        c.request(self.command, self.path, body=body if n else None, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        if corrupt and self.command == "GET" and self.path.endswith("/blobs/" + corrupt) and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        out = []
        u = urlsplit(self.path)
        if tag_page and self.command == "GET" and u.path.endswith("/tags/list") and r.status == 200:
            doc = json.loads(data)
            q = parse_qs(u.query)
            n = min(int(q.get("n", [tag_page])[0]), tag_page)
            tags = sorted(t for t in (doc.get("tags") or []) if t > q.get("last", [""])[0])
            doc["tags"], rest = tags[:n], tags[n:]
            data = json.dumps(doc).encode()
            if rest:
                out.append(("Link", f'<{u.path}?n={n}&last={quote(doc["tags"][-1])}>; rel="next"'))
        if referrers_api and self.command == "PUT" and "/manifests/" in self.path and r.status == 201:
            doc = json.loads(body)
            if "subject" in doc:
                name = self.path[4:].split("/manifests/")[0]
                d = {"mediaType": doc["mediaType"], "digest": r.getheader("Docker-Content-Digest"), "size": len(body),
                     "artifactType": doc.get("artifactType") or doc["config"]["mediaType"]}
                if doc.get("annotations"):  # the distribution spec: the referrer's annotations are listed too
                    d["annotations"] = doc["annotations"]
                with lock:
                    referrers.setdefault((name, doc["subject"]["digest"]), {})[d["digest"]] = d
                out.append(("OCI-Subject", doc["subject"]["digest"]))
        for k, v in r.getheaders():
            if k.lower() in ("content-length", "connection", "transfer-encoding"): continue
            if k.lower() == "location": v = v.replace(upstream, f"127.0.0.1:{port}")
            out.append((k, v))
        self.reply(r.status, data, out)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
