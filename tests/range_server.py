#!/usr/bin/python3
"""range_server.py DIR PORT [--cut-once NAME] (RANGE_SERVER_LOG=FILE logs each GET): serves DIR on 127.0.0.1:PORT over HTTP/1.1 with byte ranges
(Range: bytes=N- answered 206), as package servers and CDNs do. With --cut-once, the first GET of a file
named NAME announces its full length, sends half of it and closes the connection: a download cut short,
which the next request resumes with a Range."""
import http.server
import os
import re
import sys

root, port = sys.argv[1], int(sys.argv[2])
cut = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--cut-once" else None
log = os.environ.get("RANGE_SERVER_LOG")  # one line per GET: "PATH RANGE-HEADER"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        global cut
        path = os.path.join(root, self.path.split("?")[0].lstrip("/"))
        if log:
            with open(log, "a") as f:
                f.write("%s %s\n" % (self.path, self.headers.get("Range", "-")))
        if ".." in self.path or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        start = 0
        m = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
        if m:
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut and os.path.basename(path) == cut:
            cut = None
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
