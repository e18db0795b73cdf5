#!/usr/bin/env bash
# One digest on every machine: a developer with umask 002 and CI with 022 (or
# files checked out group-writable, or without their owner's bits) get the same
# image, because layers record 0644/0755 by the execute bit and owner 0:0.
source "$(dirname "$0")/../lib.sh"
build_under() { # UMASK OUT: copies the onnx-ridge example under UMASK and builds it
  local u=$1 out=$2 d="$WORK/src-$1"
  ( umask "$u"
    mkdir -p "$d"
    cp "$ROOT/examples/onnx-ridge/model.onnx" "$d/model.onnx"
    printf 'models: [{name: ridge, version: 1, path: model.onnx}]\n' > "$d/spec.yaml"
    cd "$d" && SOURCE_DATE_EPOCH=0 "$AMLPKG" build spec.yaml -o "$out" --no-sbom --no-cache | tail -1 )
}
a=$(build_under 022 "$WORK/a.tar")
b=$(build_under 002 "$WORK/b.tar")
c=$(build_under 077 "$WORK/c.tar")
check "the same digest under umask 022 and 002" test -n "$a" -a "$a" = "$b"
check "... and 077" test "$a" = "$c"
chmod 0600 "$WORK/src-022/model.onnx"
d=$(cd "$WORK/src-022" && SOURCE_DATE_EPOCH=0 "$AMLPKG" build spec.yaml -o "$WORK/d.tar" --no-sbom --no-cache | tail -1)
check "a model only its owner can read packages the same" test "$a" = "$d"
check "the model layer records 0644, owner 0:0" bash -c "
  '$PY' - '$WORK/a.tar' <<'PY'
import io, json, sys, tarfile
t = tarfile.open(sys.argv[1]); b = lambda d: t.extractfile('blobs/sha256/' + d[7:]).read()
m = json.loads(b(json.loads(t.extractfile('index.json').read())['manifests'][0]['digest']))
l = tarfile.open(fileobj=io.BytesIO(b(m['layers'][-1]['digest'])))
f = [e for e in l.getmembers() if e.isfile()]
assert f and all(e.mode == 0o644 and e.uid == 0 and e.gid == 0 for e in f), [(e.name, oct(e.mode)) for e in f]
assert all(e.mode == 0o755 for e in l.getmembers() if e.isdir())
PY"
