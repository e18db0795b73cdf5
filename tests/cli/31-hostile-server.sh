#!/usr/bin/env bash
# amlserve under hostile clients (issue 18, the server half), each finding of
# the hostile test made a check with a bounded number of loopback connections:
# trickling clients cannot lock out a legitimate one (absolute header deadline,
# per-address cap, eviction at the global cap), the key is checked on the
# headers before any body byte or 100 Continue, bodies buffered across
# connections have a budget, a 99 MB JSON body is refused with 413 without the
# server's peak memory reaching a gigabyte (VmHWM from /proc), and /metrics is
# behind auth when auth is on.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
KEY=hostile-test-key-0123456789

# start_server NAME ARGS...: sets ${NAME}_pid and ${NAME}_port.
start_server() {
  local name=$1 port
  shift
  port=$(free_port)
  AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$port" --quiet "$@" \
    > "$WORK/$name.log" 2> "$WORK/$name.err" &
  local pid=$!
  on_exit "kill $pid; wait $pid"
  printf -v "${name}_pid" %s "$pid"
  printf -v "${name}_port" %s "$port"
  wait_http "http://127.0.0.1:$port/"
}

# The hostile clients: one Python process per scenario, plain sockets.
cat > "$WORK/hostile.py" <<'PY'
import json, os, re, socket, sys, time

PORT = int(sys.argv[2])
KEY = os.environ.get("KEY", "")
SAMPLE = open(os.environ["SAMPLE"], "rb").read()

def connect(src, timeout=10):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", PORT))
    return s

def read_response(s):
    """One response: (status, body) or (None, reason) when the connection ended first."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return None, "closed"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        m = re.search(rb"(?i)content-length: *(\d+)", head)
        want = int(m.group(1)) if m else 0
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, body.decode(errors="replace")
    except (ConnectionError, socket.timeout) as e:
        return None, type(e).__name__

def request(src, method, path, body=b"", key=KEY):
    try:
        s = connect(src)
    except OSError as e:
        return None, type(e).__name__
    auth = b"Authorization: Bearer %s\r\n" % key.encode() if key else b""
    s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (method.encode(), path.encode(), auth, len(body), body))
    r = read_response(s)
    s.close()
    return r

def legit(src):
    """What a legitimate client gets: GET / and POST /score."""
    a = request(src, "GET", "/")
    b = request(src, "POST", "/score", SAMPLE)
    return "%s %s" % (a[0], b[0])

def trickle(sources, per_source, seconds):
    """per_source connections from each source, each sending a never-ending
    request head a byte every 0.25 s, while a legitimate client from
    127.0.0.2 is served in the middle. Prints what both saw."""
    socks, refused = [], 0
    for src in sources:
        for _ in range(per_source):
            try:
                socks.append(connect(src))
            except OSError:
                refused += 1
    line = b"POST /score HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
    outcome = {s: None for s in socks}
    legit_seen = None
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        for s in socks:
            if outcome[s] is not None:
                continue
            try:
                s.send(line[i % len(line):i % len(line) + 1])
            except OSError:
                outcome[s] = "reset"
        i += 1
        if legit_seen is None and time.monotonic() - start > seconds / 2:
            legit_seen = legit("127.0.0.2")
        time.sleep(0.25)
    counts = {"503-per-client": 0, "503-busy": 0, "408-headers": 0, "closed": 0, "open": 0, "other": 0}
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(65536)
        except BlockingIOError:
            data = None
        except OSError:
            data = b""
        if data is None:
            counts["open"] += 1
        elif b" 503 " in data and b"--max-connections-per-client" in data:
            counts["503-per-client"] += 1
        elif b" 503 " in data:
            counts["503-busy"] += 1
        elif b" 408 " in data and b"--header-timeout-ms" in data:
            counts["408-headers"] += 1
        elif not data:
            counts["closed"] += 1
        else:
            counts["other"] += 1
        s.close()
    counts["connect-refused"] = refused
    print(json.dumps({"legit": legit_seen, "tricklers": counts}))

def idle_eviction(n):
    """n keep-alive connections from n addresses, each served once and then
    idle; one more client from another address. Prints whether it was served
    and which of the idle ones were closed to make room."""
    conns = []
    for k in range(n):
        s = connect("127.0.3.%d" % (k + 1))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        conns.append(s)
        time.sleep(0.01)  # distinct idle ages, oldest first
    newcomer = legit("127.0.0.4")
    closed = []
    for k, s in enumerate(conns):
        s.settimeout(5)
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            if read_response(s)[0] != 200:
                closed.append(k)
        except OSError:
            closed.append(k)
        s.close()
    print(json.dumps({"newcomer": newcomer, "closed": closed}))

def early_auth():
    """A wrong key on a huge declared body: answered before the body is sent."""
    out = {}
    for name, expect in (("expect", b"Expect: 100-continue\r\n"), ("plain", b"")):
        s = connect("127.0.0.5")
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 90000000\r\n%s\r\n" % expect)
        status, body = read_response(s)
        rest = s.recv(100)  # then the connection ends, the body never read
        out[name] = [status, "Unauthorized" in body, rest == b""]
        s.close()
    s = connect("127.0.0.5")
    s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              b"Content-Type: application/json\r\nContent-Length: 90000000\r\nExpect: 100-continue\r\n\r\n" % KEY.encode())
    out["right-key"] = s.recv(100).split(b"\r\n")[0].decode()
    s.close()
    print(json.dumps(out))

def body_budget(mb):
    """Three connections each declaring an mb-MB body (the budget fits two):
    the third is refused at once; once the first two go, it fits again."""
    heads = []
    for k in range(3):
        s = connect("127.0.0.6")
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (mb << 20))
        heads.append((s, s.recv(300).split(b"\r\n")[0].decode()))
    third_body = heads[2][0].recv(65536).decode(errors="replace")
    for s, _ in heads:
        s.close()
    for _ in range(40):  # until the server has seen the two closes
        s = connect("127.0.0.6")
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (mb << 20))
        again = s.recv(300).split(b"\r\n")[0].decode()
        s.close()
        if "100" in again:
            break
        time.sleep(0.25)
    print(json.dumps({"first": heads[0][1], "second": heads[1][1], "third": heads[2][1],
                      "third_says_budget": "--max-buffered-body-mb" in third_body, "again": again}))

def big_json(mb):
    """A body of mb MB of one-digit numbers: {"data": [[1,1,...]]}."""
    n = (mb << 20) // 2 - 8
    body = b'{"data": [[' + b"1," * n + b'1]]}'
    s = connect("127.0.0.7", timeout=120)
    s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (KEY.encode(), len(body)))
    s.sendall(body)
    status, text = read_response(s)
    s.close()
    print(json.dumps({"bytes": len(body), "status": status, "message": text[:300]}))

def metrics(key):
    print(request("127.0.0.8", "GET", "/metrics", key=key)[0])

cmd = sys.argv[1]
if cmd == "trickle":
    trickle(sys.argv[3].split(","), int(sys.argv[4]), float(sys.argv[5]))
elif cmd == "idle":
    idle_eviction(int(sys.argv[3]))
elif cmd == "early-auth":
    early_auth()
elif cmd == "budget":
    body_budget(int(sys.argv[3]))
elif cmd == "big-json":
    big_json(int(sys.argv[3]))
elif cmd == "metrics":
    metrics(sys.argv[3] if len(sys.argv) > 3 else "")
PY
hostile() { KEY=$KEY SAMPLE="$EX/sample-request.json" "$PY" "$WORK/hostile.py" "$@"; }

# Server A: auth on, small caps so 200 connections exceed them.
export AMLSERVE_AUTH_KEYS=$KEY
check "amlserve starts with a key and small connection caps" \
  start_server a --max-connections 32 --max-connections-per-client 8 --header-timeout-ms 2000 --timeout-ms 60000
unset AMLSERVE_AUTH_KEYS

# 1. 200 trickling connections from one address: past 8 each newcomer from it
# takes the place of its oldest (the address competes with itself), the last
# 8 are cut off by the header deadline (idle timeout 60 s: a byte every
# 0.25 s never trips it), and a client from another address is served meanwhile.
hostile trickle "$a_port" 127.0.0.1 200 6 > "$WORK/trickle1.json" 2>&1
cat "$WORK/trickle1.json" | sed 's/^/    /'
check "200 trickling clients from one address: a client from another is served (GET / and POST /score: 200 200)" \
  jq -e '.legit == "200 200"' "$WORK/trickle1.json"
check "all but 8 of them were closed to make room for the next from the same address" \
  jq -e '.tricklers.closed == 192' "$WORK/trickle1.json"
check "the last 8 are answered 408 naming --header-timeout-ms, though they never went quiet" \
  jq -e '.tricklers["408-headers"] == 8' "$WORK/trickle1.json"

# 2. 200 trickling connections from 100 addresses (2 each, under the per-address
# cap): the global cap of 32 is reached, the oldest still sending headers make
# room, and the legitimate client is served.
srcs=$(seq -s, -f '127.0.1.%g' 1 100)
hostile trickle "$a_port" "$srcs" 2 6 > "$WORK/trickle2.json" 2>&1
sed 's/^/    /' "$WORK/trickle2.json"
check "200 trickling clients from 100 addresses fill --max-connections 32: the legitimate client is served" \
  jq -e '.legit == "200 200"' "$WORK/trickle2.json"
check "none of the 200 is left open past the header deadline" jq -e '.tricklers.open == 0' "$WORK/trickle2.json"

# 3. At the global cap with every connection an idle keep-alive one, a newcomer
# is served and the connection idle the longest is the one closed.
hostile idle "$a_port" 32 > "$WORK/idle.json" 2>&1
sed 's/^/    /' "$WORK/idle.json"
check "32 idle keep-alive connections at --max-connections 32: a newcomer is served" \
  jq -e '.newcomer == "200 200"' "$WORK/idle.json"
check "the connection idle the longest (the first) made room, the others still serve" \
  jq -e '.closed == [0]' "$WORK/idle.json"

# 4. The key is checked on the headers: a wrong key on a 90 MB declared body
# gets 401 without 100 Continue and without the body being read.
hostile early-auth "$a_port" > "$WORK/early.json" 2>&1
sed 's/^/    /' "$WORK/early.json"
check "wrong key with Expect: 100-continue: 401 first (no 100 Continue), then the connection closes" \
  jq -e '.expect == [401, true, true]' "$WORK/early.json"
check "wrong key without Expect, body not sent: 401 at once, then the connection closes" \
  jq -e '.plain == [401, true, true]' "$WORK/early.json"
check "the right key with Expect: 100-continue gets 100 Continue" \
  jq -e '.["right-key"] == "HTTP/1.1 100 Continue"' "$WORK/early.json"

# 5. /metrics is behind auth when auth is on.
check "GET /metrics without the key: 401" test "$(hostile metrics "$a_port")" = 401
check "GET /metrics with the key: 200" test "$(hostile metrics "$a_port" "$KEY")" = 200

# 6. A 99 MB JSON body of small numbers (the hostile test saw 4.3 GB) is refused
# with 413 by the per-request memory limit, and the server's peak RSS stays
# under 1 GiB; the next request is served.
hwm_before=$(awk '/VmHWM/ {print $2}' "/proc/$a_pid/status")
hostile big-json "$a_port" 99 > "$WORK/big.json" 2>&1
hwm_after=$(awk '/VmHWM/ {print $2}' "/proc/$a_pid/status")
sed 's/^/    /' "$WORK/big.json"
echo "    peak RSS (VmHWM) before ${hwm_before} kB, after ${hwm_after} kB"
check "a 99 MB JSON body: 413 naming --max-request-memory-mb" \
  jq -e '.status == 413 and (.message | test("--max-request-memory-mb"))' "$WORK/big.json"
check "the server's peak RSS stayed under 1 GiB (VmHWM ${hwm_after} kB)" test "${hwm_after:-9999999}" -lt 1048576
check "after it, POST /score is served" \
  test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" --data @"$EX/sample-request.json" "http://127.0.0.1:$a_port/score")" = 200

# 7. Server B: no auth, --public-metrics, a 20 MB body limit and a 40 MB budget
# for bodies buffered at once.
check "amlserve starts with --max-buffered-body-mb 40 and --public-metrics" \
  start_server b --max-body-mb 20 --max-buffered-body-mb 40 --public-metrics
hostile budget "$b_port" 18 > "$WORK/budget.json" 2>&1
sed 's/^/    /' "$WORK/budget.json"
check "two 18 MB bodies fit the 40 MB budget: both get 100 Continue" \
  jq -e '.first == "HTTP/1.1 100 Continue" and .second == "HTTP/1.1 100 Continue"' "$WORK/budget.json"
check "a third is refused at once: 503 naming --max-buffered-body-mb" \
  jq -e '.third == "HTTP/1.1 503 Service Unavailable" and .third_says_budget' "$WORK/budget.json"
check "once the first two are gone the budget is back: 100 Continue" \
  jq -e '.again == "HTTP/1.1 100 Continue"' "$WORK/budget.json"
check "with --public-metrics, GET /metrics answers without a key" test "$(hostile metrics "$b_port")" = 200
check_exit "--max-buffered-body-mb below --max-body-mb is refused at start" 2 \
  "$AMLSERVE" --max-body-mb 100 --max-buffered-body-mb 50 --model-dir "$EX"

# 8. A Python worker that dies while idle is replaced before the next request
# reaches it: that request is answered 200, not 500.
port=$(free_port)
AZUREML_MODEL_DIR="$ROOT/examples/python-ridge" "$AMLSERVE" --host 127.0.0.1 --port "$port" --quiet --threads 1 \
  --entry-script "$ROOT/examples/python-ridge/score.py" --python /usr/bin/python3 > "$WORK/py.log" 2>&1 &
py_pid=$!
on_exit "kill $py_pid; wait $py_pid"
check "amlserve starts with one Python worker" wait_http "http://127.0.0.1:$port/"
pyscore() { curl -s -o "$WORK/py.out" -w '%{http_code}' --data @"$ROOT/examples/python-ridge/sample-request.json" "http://127.0.0.1:$port/score"; }
check "it scores" test "$(pyscore)" = 200
worker=$(pgrep -P "$py_pid" | head -1)
kill -KILL "$worker"
# Until the kernel has taken it down (a zombie or gone): the death happens while idle.
for _ in $(seq 100); do s=$(awk '{print $3}' "/proc/$worker/stat" 2>/dev/null); [ "${s:-Z}" = Z ] && break; sleep 0.05; done
check "the worker killed while idle: the next request is still 200" test "$(pyscore)" = 200
check "... because it was replaced first (logged)" grep -q 'idle Python worker 0 had exited; replacing it first' "$WORK/py.log"
check "... by a new worker process" bash -c "p=\$(pgrep -P $py_pid | head -1); [ -n \"\$p\" ] && [ \"\$p\" != $worker ]"

# 9. Temporary folders of processes that died (SIGKILL) are swept by the next
# amlpkg that makes one there; a live owner's folder is left alone.
T2="$WORK/sweep" && mkdir -p "$T2/amlpkg-src-deadXX/blobs" "$T2/amlpkg-src-liveXX/blobs"
# hold_lock FILE: a process holding FILE's flock, as amlpkg does for each temporary folder (run it
# in the background: it execs, so $! is the process holding the lock).
hold_lock() { exec "$PY" -c 'import fcntl, sys, time; f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(120)' "$1"; }
hold_lock "$T2/amlpkg-src-deadXX.lock" > "$WORK/dead.out" &
dead_pid=$!
hold_lock "$T2/amlpkg-src-liveXX.lock" > "$WORK/live.out" &
live_pid=$!
on_exit "kill $live_pid; wait $live_pid"
for _ in $(seq 100); do grep -q locked "$WORK/dead.out" && grep -q locked "$WORK/live.out" && break; sleep 0.05; done
kill -KILL "$dead_pid"; wait "$dead_pid" 2>/dev/null
check "an image archive to read" "$AMLPKG" build "$ROOT/examples/onnx-ridge/spec.yaml" -o "$WORK/ridge.tar" --no-sbom
check "amlpkg inspect (it unpacks the archive into TMPDIR) runs" env TMPDIR="$T2" "$AMLPKG" inspect "$WORK/ridge.tar"
check "... and removed the folder whose owner was SIGKILLed, with its lock file" \
  test ! -e "$T2/amlpkg-src-deadXX" -a ! -e "$T2/amlpkg-src-deadXX.lock"
check "... kept the folder whose owner lives" test -d "$T2/amlpkg-src-liveXX/blobs" -a -e "$T2/amlpkg-src-liveXX.lock"
check "... and left nothing of its own" test "$(ls "$T2" | tr '\n' ' ')" = "amlpkg-src-liveXX amlpkg-src-liveXX.lock "

# 10. Model folders that try to escape or hang (runtime/engine/beneath.h).
if ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
  skip "model folder checks: python3-onnx and python3-numpy are needed to write the models"
  exit 0
fi
# make_ext DIR: y = x @ W with W in DIR/weights.bin (external data).
make_ext() {
  mkdir -p "$1" && "$PY" - "$1" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
W = np.arange(12, dtype=np.float32).reshape(4, 3)
g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "ext",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [numpy_helper.from_array(W, "W")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.save_model(m, sys.argv[1] + "/model.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
PY
}
M="$WORK/models"
# The layout amlpkg serve makes: NAME/VERSION/<file> a link to the user's model, its data beside it there.
make_ext "$WORK/user"
mkdir -p "$M/linked/1" && ln -s "$WORK/user/model.onnx" "$M/linked/1/model.onnx"
lport=$(free_port)
AZUREML_MODEL_DIR="$M" "$AMLSERVE" --host 127.0.0.1 --port "$lport" --quiet > "$WORK/linked.log" 2>&1 &
lpid=$!
on_exit "kill $lpid; wait $lpid"
check "a model linked into the model folder reads its external data from beside its real file" \
  wait_http "http://127.0.0.1:$lport/"
check "... and scores" bash -c "curl -sf --data '{\"data\": [[1,0,0,0]]}' http://127.0.0.1:$lport/score | jq -e '. == [[0,1,2]]'"

# External data that is a link out of the model's folder: the hostile test read /etc/passwd this way.
make_ext "$WORK/escape"
rm "$WORK/escape/weights.bin" && ln -s /etc/passwd "$WORK/escape/weights.bin"
check_fails "external data linked to /etc/passwd: amlserve refuses to start, naming the escape" \
  "external data 'weights.bin' (leads outside the model's folder|goes through a symbolic link)" \
  env AZUREML_MODEL_DIR="$WORK/escape" "$AMLSERVE" --host 127.0.0.1 --port 0
check "... and never printed the file's content" bash -c "! grep -q 'root:' '$WORK/last.out'"

# External data that is a FIFO: refused at once instead of hanging start-up.
make_ext "$WORK/fifo"
rm "$WORK/fifo/weights.bin" && mkfifo "$WORK/fifo/weights.bin"
check_fails "external data that is a FIFO: refused as not a regular file (no hang)" \
  "external data 'weights.bin': not a regular file" \
  timeout 20 env AZUREML_MODEL_DIR="$WORK/fifo" "$AMLSERVE" --host 127.0.0.1 --port 0

# A FIFO put in place before SIGHUP: the reload (on its own thread) refuses it,
# the old model keeps serving and the server never stops answering.
make_ext "$WORK/hup"
hport=$(free_port)
AZUREML_MODEL_DIR="$WORK/hup" "$AMLSERVE" --host 127.0.0.1 --port "$hport" --quiet > "$WORK/hup.log" 2>&1 &
hpid=$!
on_exit "kill $hpid; wait $hpid"
check "a model with external data serves" wait_http "http://127.0.0.1:$hport/"
rm "$WORK/hup/weights.bin" && mkfifo "$WORK/hup/weights.bin"
kill -HUP "$hpid"
for _ in $(seq 100); do grep -q 'SIGHUP: keeping the old models' "$WORK/hup.log" && break; sleep 0.1; done
check "SIGHUP with a FIFO as external data: the reload refuses it and keeps the old model" \
  grep -q "SIGHUP: keeping the old models: .*external data 'weights.bin': not a regular file" "$WORK/hup.log"
check "... and the server still scores with the old one" \
  bash -c "curl -sf --data '{\"data\": [[1,0,0,0]]}' http://127.0.0.1:$hport/score | jq -e '. == [[0,1,2]]'"
