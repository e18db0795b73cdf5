#!/usr/bin/env bash
# inference.source_directory from git (libgit2): a local repository, a tag, a
# branch and a commit; the commit decides the app layer and its labels.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples"
command -v git >/dev/null || { skip "git is not installed (only the test uses the git CLI to make a repository)"; exit 0; }
export TMPDIR="$WORK/tmp"; mkdir -p "$TMPDIR"
repo="$WORK/repo"
git init -q -b main "$repo"
g() { git -C "$repo" -c user.name=t -c user.email=t@example.com "$@"; }
mkdir -p "$repo/app"
cat > "$repo/app/score.py" <<'PY'
def init():
    pass
def run(raw):
    return {"version": "v1"}
PY
g add -A && g commit -qm v1 && g tag v1
v1=$(g rev-parse HEAD)
sed -i 's/"v1"/"v2"/' "$repo/app/score.py" && g commit -qam v2
v2=$(g rev-parse HEAD)
mkdir -p "$WORK/pkg" && cp "$EX/onnx-ridge/model.onnx" "$WORK/pkg/"
spec() { # spec REF: a spec whose source directory is the repository at REF
  cat > "$WORK/pkg/spec.yaml" <<YAML
models: [{name: ridge, version: 1, path: model.onnx}]
inference:
  source_directory: {git: {url: ../repo, ref: $1}}
  entry_script: app/score.py
environment: {base_image: "localhost/python:3.11"}
YAML
}
spec v1
check "a tag of a local repository becomes the app layer" "$AMLPKG" build "$WORK/pkg/spec.yaml" --dockerfile "$WORK/ctx-v1"
check "... with the tagged file's content" grep -q '"v1"' "$WORK/ctx-v1/layer-2/var/azureml-app/app/score.py"
check "... and the commit and URL as labels" bash -c "grep -qx 'LABEL \"org.opencontainers.image.revision\"=\"$v1\"' '$WORK/ctx-v1/Dockerfile' &&
  grep -q 'LABEL \"org.opencontainers.image.source\"=\".*repo\"' '$WORK/ctx-v1/Dockerfile'"
check "... and .git is not in it" test ! -e "$WORK/ctx-v1/layer-2/var/azureml-app/.git"
spec main
check "a branch gives its head" bash -c "'$AMLPKG' build '$WORK/pkg/spec.yaml' --dockerfile '$WORK/ctx-main' >/dev/null &&
  grep -q '\"v2\"' '$WORK/ctx-main/layer-2/var/azureml-app/app/score.py' && grep -q '$v2' '$WORK/ctx-main/Dockerfile'"
spec "$v1"
check "a commit id works too" bash -c "'$AMLPKG' build '$WORK/pkg/spec.yaml' --dockerfile '$WORK/ctx-sha' >/dev/null && grep -q '\"v1\"' '$WORK/ctx-sha/layer-2/var/azureml-app/app/score.py'"
check "the checkouts are removed afterwards" bash -c "! ls '$TMPDIR' | grep -q amlpkg-git-"
spec v1
"$AMLPKG" serve "$WORK/pkg/spec.yaml" --port 0 --python /usr/bin/python3 > "$WORK/serve.out" 2>&1 &
spid=$!
on_exit "kill $spid; wait $spid"
up() { local d=$((SECONDS + 20)); while [ $SECONDS -lt $d ]; do grep -q 'Press Ctrl-C' "$WORK/serve.out" && return 0; sleep 0.1; done; return 1; }
check "serve runs the entry script from the git source" up
port=$(grep -o 'Scoring URI: http://127.0.0.1:[0-9]*' "$WORK/serve.out" | grep -o '[0-9]*$')
check "... at the tagged version" bash -c "curl -sf --data '{}' http://127.0.0.1:$port/score | jq -e '.version == \"v1\"'"
kill -INT $spid; wait $spid
check "serve removes its checkout when it stops" bash -c "! ls '$TMPDIR' | grep -q amlpkg-git-"
spec no-such-ref
check_fails "an unknown ref names the line, the repository and the ref" "spec.yaml:3: inference.source_directory.git: git source '.*repo': no branch, tag or commit 'no-such-ref'" \
  "$AMLPKG" build "$WORK/pkg/spec.yaml" --dockerfile "$WORK/never"
sed -i 's#url: ../repo#url: ../nowhere#' "$WORK/pkg/spec.yaml"
check_fails "a missing repository is reported" "inference.source_directory.git: git source '.*nowhere': cannot clone" \
  "$AMLPKG" build "$WORK/pkg/spec.yaml" --dockerfile "$WORK/never"
check "... and nothing is left behind" bash -c "[ ! -e '$WORK/never' ] && ! ls '$TMPDIR' | grep -q amlpkg-git-"
