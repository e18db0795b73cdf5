#!/usr/bin/env bash
# skopeo's transports wherever amlpkg reads an image (push, copy, pull,
# inspect), inspect of a registry image (manifest, index, config; never a
# layer), and the one last-line format of push and build.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test

want=$("$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" --no-sbom | tail -1)
mkdir -p "$WORK/x" && tar xf "$WORK/ridge.tar" -C "$WORK/x"
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/own.tar" --format docker-archive --no-sbom >/dev/null

# push: every local transport, and a registry source.
check "push oci-archive:PATH docker://REF" "$AMLPKG" push "oci-archive:$WORK/ridge.tar" "docker://$R/t/ridge:1" --json
check "... gives the archive's digest" jq -e --arg d "$want" '.digest == $d' "$WORK/last.out"
check "push oci:DIR gives the same digest" bash -c \
  "'$AMLPKG' push 'oci:$WORK/x' '$R/t/layout:1' --json | jq -e --arg d '$want' '.digest == \$d'"
check "push oci:DIR:NAME picks the image by name" bash -c \
  "'$AMLPKG' push 'oci:$WORK/x:ridge:1' '$R/t/named:1' --json | jq -e --arg d '$want' '.digest == \$d'"
check "push docker-archive:PATH" "$AMLPKG" push "docker-archive:$WORK/own.tar" "$R/t/docker:1"
check_fails "push oci:FILE is refused" "not a directory" "$AMLPKG" push "oci:$WORK/ridge.tar" "$R/t/bad:1"
check "push docker://SRC copies from the registry" bash -c \
  "'$AMLPKG' push 'docker://$R/t/ridge:1' '$R/t/fromreg:1' --json | jq -e --arg d '$want' '.digest == \$d and .mounted == 3'"
check "push's last line is the bare digest" bash -c \
  "test \"\$('$AMLPKG' push '$WORK/ridge.tar' '$R/t/ridge:1' | tail -1)\" = '$want'"
check "build --push's last line is the same digest" bash -c \
  "test \"\$('$AMLPKG' build '$EX/spec.yaml' -o '$WORK/bp.tar' --push 'docker://$R/t/built:1' 2>/dev/null | tail -1)\" = '$want'"

# copy: a local source is a push, an oci-archive: destination a pull.
check "copy oci-archive:PATH REF" bash -c \
  "'$AMLPKG' copy 'oci-archive:$WORK/ridge.tar' 'docker://$R/t/copied:1' --json | jq -e --arg d '$want' '.digest == \$d'"
check "copy docker://REF oci-archive:PATH" "$AMLPKG" copy "docker://$R/t/copied:1" "oci-archive:$WORK/copied.tar"
check "... writes an archive skopeo reads with the same digest" bash -c \
  "skopeo inspect 'oci-archive:$WORK/copied.tar' | jq -e --arg d '$want' '.Digest == \$d'"
check_fails "copy REF oci:DIR is refused (copy writes an oci-archive)" "writes an oci-archive" \
  "$AMLPKG" copy "docker://$R/t/copied:1" "oci:$WORK/copied-layout"

# pull: docker:// source, oci-archive: output.
check "pull docker://REF -o oci-archive:PATH" bash -c \
  "'$AMLPKG' pull 'docker://$R/t/ridge:1' -o 'oci-archive:$WORK/pulled.tar' | tail -1 | grep -qx '$want' && test -s '$WORK/pulled.tar'"

# inspect REF: the same report as for the archive, from the manifest and the config.
"$AMLPKG" inspect "$WORK/ridge.tar" | grep -v '^source' > "$WORK/local.txt"
check "inspect REF prints what inspect ARCHIVE prints" bash -c \
  "'$AMLPKG' inspect '$R/t/ridge:1' | grep -v '^source' | sed 's|^image       .*|image       ridge:1|' | diff - '$WORK/local.txt'"
check "... naming the reference and the digest" bash -c \
  "'$AMLPKG' inspect 'docker://$R/t/ridge:1' > '$WORK/i.txt' && grep -qx 'image       $R/t/ridge:1' '$WORK/i.txt' && grep -qx 'digest      $want' '$WORK/i.txt'"
check "inspect --json REF" bash -c \
  "'$AMLPKG' inspect --json '$R/t/ridge:1' | jq -e --arg d '$want' '.digest == \$d and (.manifest.layers | length) == 2 and .config.config.Entrypoint == [\"/usr/local/bin/amlserve\"]'"
check "inspect --raw REF prints the manifest bytes" bash -c \
  "'$AMLPKG' inspect --raw '$R/t/ridge:1' | cmp - '$WORK/x/blobs/sha256/${want#sha256:}'"
check "inspect REF@digest" bash -c "'$AMLPKG' inspect '$R/t/ridge@$want' | grep -qx 'digest      $want'"

# Never a layer: with the layers gone from a repository, inspect still works (and pull does not).
"$AMLPKG" push "$WORK/ridge.tar" "$R/t/nolayers:1" >/dev/null
for l in $(jq -r '.layers[].digest' "$WORK/x/blobs/sha256/${want#sha256:}"); do
  curl -fsS -X DELETE "http://$R/v2/t/nolayers/blobs/$l" >/dev/null
done
check "inspect reads no layer (they are deleted and it still works)" bash -c \
  "'$AMLPKG' inspect '$R/t/nolayers:1' | grep -qx 'digest      $want'"
check_fails "... while pull needs them" "404" "$AMLPKG" pull "$R/t/nolayers:1" -o "$WORK/nolayers.tar"

# An index: resolved to --platform (default linux/amd64), --raw gives the index itself.
size=$(stat -c %s "$WORK/x/blobs/sha256/${want#sha256:}")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"arm64"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"amd64"}}]}' \
  "$want" "$size" "$want" "$size" > "$WORK/index.json"
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary "@$WORK/index.json" \
  "http://$R/v2/t/ridge/manifests/multi" >/dev/null
index=sha256:$(sha256sum "$WORK/index.json" | cut -d' ' -f1)
check "inspect of an index shows the platform's image and the index digest" bash -c \
  "'$AMLPKG' inspect '$R/t/ridge:multi' > '$WORK/m.txt' && grep -qx 'digest      $want' '$WORK/m.txt' && grep -qx 'index       $index' '$WORK/m.txt'"
check "--platform linux/arm64 picks that entry" bash -c \
  "'$AMLPKG' inspect --json --platform linux/arm64 '$R/t/ridge:multi' | jq -e --arg d '$want' --arg i '$index' '.digest == \$d and .index_digest == \$i'"
check_fails "a platform the index lacks is named with the ones it has" \
  "no image for linux/s390x \(it has: linux/arm64, linux/amd64\)" "$AMLPKG" inspect --platform linux/s390x "$R/t/ridge:multi"
check "inspect --raw of an index prints the index" bash -c "'$AMLPKG' inspect --raw '$R/t/ridge:multi' | cmp - '$WORK/index.json'"
check_fails "inspect of a missing tag says so" "HTTP 404" "$AMLPKG" inspect "$R/t/ridge:missing"
