#!/usr/bin/env bash
# Crash safety and concurrency of the environment cache: builds killed with
# SIGKILL at random moments while they store their environment leave nothing
# corrupt (cache verify finds nothing), and four builds sharing one cache all
# succeed with the same image.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cd "$WORK" || exit 1
cp "$EX/model.onnx" .
# A base big enough that storing it takes a while: a 40 MiB incompressible model layer.
mkdir -p big && cp model.onnx big/ && head -c $((40 << 20)) /dev/urandom > big/weights.bin
printf 'models: [{name: ridge, version: 1, path: model.onnx}, {name: big, version: 1, path: big}]\n' > base.yaml
check "the 40 MiB base image builds" bash -c "'$AMLPKG' build base.yaml -o base.tar --no-sbom >/dev/null && [ -s base.tar ]"
spec() { printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  base_image: oci-archive:base.tar\n  env: {RUN_ID: "%s"}\n' "$1" > "$2"; }
export AMLPKG_CACHE_DIR="$WORK/cache"
killed=0
for i in $(seq 1 50); do
  spec "run-$((i % 5))" "s$i.yaml"   # five keys, each hit by ten interrupted builds
  "$AMLPKG" build "s$i.yaml" -o "out$i.tar" --no-sbom >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 100)))" # builds that hit the cache finish in ~0.1 s (base layers linked from the cache)
  kill -9 $pid 2>/dev/null && killed=$((killed + 1))
  wait $pid 2>/dev/null
done
echo "killed $killed of 50 builds mid-run"
check "most builds were killed while they ran (the test means something)" test "$killed" -ge 25
check "after 50 builds killed at random moments, cache verify finds nothing corrupt" "$AMLPKG" cache verify --json
check "... and gc collects what they left" bash -c "'$AMLPKG' cache gc --grace 0 >/dev/null && '$AMLPKG' cache verify >/dev/null"
spec "run-1" final.yaml
check "a build with a key the killed builds were storing succeeds" bash -c "'$AMLPKG' build final.yaml -o final.tar --no-sbom > final.out"
check "... and makes the same image as a build with a clean cache" bash -c "
  [ \"\$(tail -1 final.out)\" = \"\$(AMLPKG_CACHE_DIR='$WORK/clean' '$AMLPKG' build final.yaml -o clean.tar --no-sbom | tail -1)\" ]"
spec "shared" shared.yaml
for j in 1 2 3 4; do "$AMLPKG" build shared.yaml -o "par$j.tar" --no-sbom > "par$j.out" 2> "par$j.err" & done
wait
check "four concurrent builds sharing one cache all succeed" bash -c "for j in 1 2 3 4; do tail -1 par\$j.out | grep -q '^sha256:' || exit 1; done"
check "... with the same digest" test "$(for j in 1 2 3 4; do tail -1 "par$j.out"; done | sort -u | wc -l)" = 1
check "... and the cache verifies" "$AMLPKG" cache verify
