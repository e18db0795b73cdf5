#!/usr/bin/env bash
# Soak: one amlserve (examples/onnx-ridge, key auth on) under mixed legitimate
# and hostile traffic for SOAK_MINUTES (default 30), one report line a minute:
# the server's RSS and peak RSS, legitimate requests answered and failed, and
# what each kind of hostile client got. Exits non-zero when a legitimate
# request failed or the server died. Run with `make soak`.
#
# The hostile clients, from one Python process over loopback: 100 connections
# trickling request headers a byte at a time (from 50 addresses), 50 idle
# keep-alive connections, 90 MB declared bodies with a wrong key, 20 MB JSON
# bodies of one-digit numbers with the right key (past the per-request memory
# limit), and garbage bytes.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
MINUTES=${SOAK_MINUTES:-30}
EX="$ROOT/examples/onnx-ridge"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/amlpkg-soak.XXXXXX")
KEY=soak-key-0123456789
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AMLSERVE_AUTH_KEYS=$KEY AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$port" --quiet \
  --max-connections 256 --max-connections-per-client 64 > "$WORK/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done

KEY=$KEY SAMPLE="$EX/sample-request.json" "$PY" - "$port" "$pid" "$MINUTES" <<'PY'
import http.client, json, os, socket, sys, threading, time
from collections import Counter

PORT, PID, MINUTES = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
KEY, SAMPLE = os.environ["KEY"], open(os.environ["SAMPLE"], "rb").read()
stop = threading.Event()
lock = threading.Lock()
counts = Counter()

def bump(name, n=1):
    with lock:
        counts[name] += n

def connect(src, timeout=10):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", PORT))
    return s

def status_of(s):
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return "closed"
        data += chunk
    return data.split()[1].decode()

def legit(n):
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30,
                                                  source_address=("127.0.0.%d" % (2 + n), 0))
            conn.request("POST", "/score", SAMPLE, {"Authorization": "Bearer " + KEY,
                                                    "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            bump("legit-ok" if r.status == 200 else "legit-%d" % r.status)
        except Exception as e:
            bump("legit-error-" + type(e).__name__)
            conn = None
            time.sleep(0.1)

def tricklers():
    socks = []
    while not stop.is_set():
        while len(socks) < 100:
            try:
                socks.append(connect("127.0.1.%d" % (1 + len(socks) % 50)))
                socks[-1].send(b"POST /score HTTP/1.1\r\nX-Slow: ")
            except OSError:
                bump("trickle-refused")
                break
        alive = []
        for s in socks:
            try:
                s.send(b"a")
                alive.append(s)
            except OSError:
                bump("trickle-cut")
                s.close()
        socks = alive
        time.sleep(1)
    for s in socks:
        s.close()

def idlers():
    socks = []
    while not stop.is_set():
        while len(socks) < 50:
            try:
                s = connect("127.0.2.%d" % (1 + len(socks)))
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(4096)
                socks.append(s)
            except OSError:
                bump("idle-refused")
                break
        alive = []
        for s in socks:
            s.setblocking(False)
            try:
                gone = s.recv(4096) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            s.setblocking(True)
            if gone:
                bump("idle-evicted-or-timed-out")
                s.close()
            else:
                alive.append(s)
        socks = alive
        time.sleep(2)
    for s in socks:
        s.close()

def wrong_key_bodies():
    while not stop.is_set():
        try:
            s = connect("127.0.3.1")
            s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                      b"Content-Length: 90000000\r\nExpect: 100-continue\r\n\r\n")
            bump("wrong-key-" + status_of(s))
            s.close()
        except OSError as e:
            bump("wrong-key-error-" + type(e).__name__)
        time.sleep(0.5)

BIG = b'{"data": [[' + b"1," * (10 << 20) + b'1]]}'
def big_json():
    while not stop.is_set():
        try:
            s = connect("127.0.4.1", timeout=120)
            s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
                      % (KEY.encode(), len(BIG)))
            s.sendall(BIG)
            bump("big-json-" + status_of(s))
            s.close()
        except OSError as e:
            bump("big-json-error-" + type(e).__name__)
        time.sleep(5)

def garbage():
    while not stop.is_set():
        try:
            s = connect("127.0.5.1")
            s.sendall(os.urandom(512) + b"\r\n\r\n")
            bump("garbage-" + status_of(s))
            s.close()
        except OSError as e:
            bump("garbage-error-" + type(e).__name__)
        time.sleep(0.2)

def mem():
    out = {}
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])
    return out

threads = [threading.Thread(target=legit, args=(i,)) for i in range(2)]
threads += [threading.Thread(target=f) for f in (tricklers, idlers, wrong_key_bodies, big_json, garbage)]
for t in threads:
    t.daemon = True
    t.start()
start, minute, dead, failed = time.monotonic(), 0, False, 0
while time.monotonic() - start < MINUTES * 60:
    time.sleep(min(60, MINUTES * 60 - (time.monotonic() - start)))
    minute += 1
    try:
        m = mem()
    except OSError:
        dead = True
        print(json.dumps({"minute": minute, "error": "amlserve is gone"}), flush=True)
        break
    with lock:
        snap = dict(counts)
        counts.clear()
    print(json.dumps({"minute": minute, "rss_kb": m["VmRSS"], "peak_rss_kb": m["VmHWM"], **snap}), flush=True)
    failed += sum(v for k, v in snap.items() if k.startswith("legit-") and k != "legit-ok")
stop.set()
print("soak: %s minute(s), legitimate requests failed: %d, server %s" % (minute, failed, "died" if dead else "alive"))
sys.exit(1 if failed or dead else 0)
PY
