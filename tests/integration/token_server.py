#!/usr/bin/python3
"""A Docker/OCI token service for tests, in front of the CNCF registry's
`auth: token:` configuration.

Usage: token_server.py PORT SIGNING_KEY SIGNING_CERT ISSUER SERVICE

GET /token?service=...&scope=...[&scope=...] with Basic alice:s3cret answers
{"token": JWT, "expires_in": 300}. The JWT is RS256, signed with the openssl
CLI (no third-party Python), and carries the signing certificate in its x5c
header so the registry can check it against its rootcertbundle. Scopes may
be repeated or space-separated. Policy, to exercise clients:
  - wrong or missing credentials: 401
  - a repository under "denied/": 403 (the token service refuses the scope)
  - a repository under "readonly/": the token grants pull only
  - anything else: the actions asked for
Every request is appended to $TOKEN_LOG (one line: the scopes) when set, so
tests can count token fetches."""
import base64, json, os, subprocess, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

port, key_path, cert_path, issuer, service = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
GOOD = "Basic " + base64.b64encode(b"alice:s3cret").decode()
log_path = os.environ.get("TOKEN_LOG")
log_lock = threading.Lock()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der():
    pem = open(cert_path).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return "".join(body.split())  # x5c holds standard base64 DER, which is the PEM body


X5C = cert_der()


def sign(data):
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=data, capture_output=True, check=True)
    return r.stdout


def make_jwt(subject, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": issuer, "sub": subject, "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
              "jti": uuid.uuid4().hex, "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing_input + "." + b64url(sign(signing_input.encode()))


def parse_scopes(values):
    out = []
    for v in values:
        for s in v.split():
            parts = s.split(":")
            if len(parts) < 3:
                continue
            out.append((parts[0], ":".join(parts[1:-1]), [a for a in parts[-1].split(",") if a]))
    return out


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path != "/token":
            return self.reply(404, {"details": "not found"})
        q = parse_qs(u.query)
        scopes = parse_scopes(q.get("scope", []))
        if log_path:
            with log_lock, open(log_path, "a") as f:
                f.write(" ".join(q.get("scope", ["-"])) + "\n")
        if self.headers.get("Authorization") != GOOD:
            return self.reply(401, {"details": "incorrect username or password"})
        if q.get("service", [""])[0] != service:
            return self.reply(400, {"details": "unknown service"})
        access = []
        for typ, name, actions in scopes:
            if typ == "repository" and name.startswith("denied/"):
                return self.reply(403, {"details": f"access to repository '{name}' is denied"})
            if typ == "repository" and name.startswith("readonly/"):
                actions = [a for a in actions if a == "pull"]
            access.append({"type": typ, "name": name, "actions": actions})
        token = make_jwt("alice", access)
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that drop kept-alive connections are not news


Server(("127.0.0.1", port), H).serve_forever()
