#!/usr/bin/python3
"""cold_start.py PORT CMD...: starts CMD and prints the seconds from exec to the
first 200 on GET http://127.0.0.1:PORT/ (polled every millisecond from this
already-running process, so no client start-up time is counted). CMD keeps
running; its pid goes to stderr as "pid N" for the caller to stop it."""
import socket
import subprocess
import sys
import time

port, cmd = int(sys.argv[1]), sys.argv[2:]
request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
t0 = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"pid {proc.pid}", file=sys.stderr, flush=True)
deadline = t0 + 120
while time.perf_counter() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(request)
            if s.recv(64).startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                print(f"{time.perf_counter() - t0:.4f}")
                sys.exit(0)
    except OSError:
        pass
    if proc.poll() is not None:
        sys.exit(f"cold_start: {cmd[0]} exited with {proc.returncode}")
    time.sleep(0.001)
sys.exit("cold_start: never answered")
