#!/usr/bin/env bash
# No-code scikit-learn in a real container: examples/sklearn-nocode is trained,
# pickled and packaged; podman loads and runs the FROM-scratch image (no
# Python in it) and the container answers /score as scikit-learn predicts.
source "$(dirname "$0")/../lib.sh"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
command -v podman >/dev/null || { skip "podman is not installed (make deps installs it)"; exit 0; }
if ! "$PY" -c 'import sklearn, joblib' 2>/dev/null; then
  skip "python3-sklearn is not installed (bash .ci/install-deps)"
  exit 0
fi
mkdir -p "$WORK/ex" && cp "$ROOT/examples/sklearn-nocode/"{train.py,spec.yaml,sample-request.json} "$WORK/ex/"
"$PY" "$WORK/ex/train.py" >/dev/null
check "the example packages its pickle" "$AMLPKG" build "$WORK/ex/spec.yaml" -o "$WORK/iris.tar" --tag amlpkg-test/iris:sk
"$PY" -c '
import joblib, json, sys
m = joblib.load(sys.argv[1]); x = json.load(open(sys.argv[2]))["data"]
json.dump({"predict": m.predict(x).tolist(), "predict_proba": m.predict_proba(x).tolist()}, open(sys.argv[3], "w"))
' "$WORK/ex/model.pkl" "$WORK/ex/sample-request.json" "$WORK/expected.json"

# Its own storage so the test never touches the machine's images.
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
check "podman loads the archive" "${P[@]}" load -i "$WORK/iris.tar"
port=$(free_port)
cid=$("${P[@]}" run -d -p "127.0.0.1:$port:5001" localhost/amlpkg-test/iris:sk 2>"$WORK/run.err")
check "podman runs the image" test -n "$cid"
on_exit "${P[*]} rm -f -t 0 $cid"
if ! wait_http "http://127.0.0.1:$port/" 30; then
  fail "the container answers on port 5001"; "${P[@]}" logs "$cid" 2>&1 | tail -5; cat "$WORK/run.err"; exit 1
fi
pass "the container answers on port 5001"
check "the image holds no Python" bash -c "! ${P[*]} run --rm --entrypoint /usr/bin/python3 localhost/amlpkg-test/iris:sk -c 1 2>/dev/null"
curl -sS -o "$WORK/response.json" -H 'Content-Type: application/json' --data @"$WORK/ex/sample-request.json" \
  "http://127.0.0.1:$port/score"
mkdir -p "$WORK/cmp" && cp "$WORK/expected.json" "$WORK/cmp/expected.json"
check "POST /score in the container answers as scikit-learn predicts" \
  "$PY" "$ROOT/tests/cli/sklearn_nocode.py" compare "$WORK/cmp/expected.json" "$WORK/response.json"
check "the container stops on SIGTERM with status 0" bash -c "${P[*]} stop -t 10 $cid >/dev/null && test \"\$(${P[*]} inspect -f '{{.State.ExitCode}}' $cid)\" = 0"
