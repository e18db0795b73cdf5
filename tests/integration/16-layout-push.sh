#!/usr/bin/env bash
# What build writes, push reads: one image of an OCI layout holding several
# (DIR:NAME:TAG), and layers stored as plain tar or zstd.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test
L="$WORK/layout"

d1=$("$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$L" --tag ridge:1 | tail -1)
d2=$("$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$L" --tag ridge:plain --compression none | tail -1)
check_fails "push of a layout with two images asks which" "name one as .*:NAME:TAG" \
  "$AMLPKG" push "$L" "$R/team/ridge:1"
check_fails "push of a name the layout does not hold says so" "no image named 'ridge:9'" \
  "$AMLPKG" push "$L:ridge:9" "$R/team/ridge:9"
check "push DIR:NAME:TAG uploads that image" "$AMLPKG" push "$L:ridge:plain" "$R/team/ridge:plain" --json
check "... with the digest build printed" jq -e --arg d "$d2" '.digest == $d' "$WORK/last.out"
check "skopeo sees its plain tar layers" bash -c "skopeo inspect --raw --tls-verify=false docker://$R/team/ridge:plain |
  jq -e '[.layers[].mediaType] | all(. == \"application/vnd.oci.image.layer.v1.tar\")'"
check "push DIR:NAME:TAG picks the other one too" bash -c \
  "'$AMLPKG' push '$L:ridge:1' '$R/team/ridge:1' --json | jq -e --arg d '$d1' '.digest == \$d'"

dz=$("$AMLPKG" build "$EX/spec.yaml" -o "$WORK/z.tar" --compression zstd | tail -1)
check "a zstd oci-archive pushes with its digest" bash -c \
  "'$AMLPKG' push '$WORK/z.tar' '$R/team/ridge:zstd' --json | jq -e --arg d '$dz' '.digest == \$d'"
check "skopeo copies the zstd image back out" \
  skopeo copy -q --src-tls-verify=false "docker://$R/team/ridge:zstd" "oci:$WORK/back:zstd"
