#!/usr/bin/env bash
# What a locked conda environment installed without an engine does with links and package scripts: a file
# with two names in a package (a tar hard link, made by cph) stays one file with two names in the layer (a
# tar hard-link entry, the first name in sorted order carrying the bytes); a path through a folder an
# earlier package made a symbolic link (lib64 -> lib) lands where the link points, as conda does; a post-link
# script is refused by default naming the package, the script and --allow-scripts, and with --allow-scripts
# but no engine the build says an executor is needed — caching nothing either way. The scripts themselves
# run in podman: tests/integration/58-conda-post-link-podman.sh.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/conda_lib.sh"
command -v cph >/dev/null || { skip "cph is not installed (conda-package-handling; make deps installs it)"; exit 0; }
cd "$WORK" || exit 1
serve_conda_channel \
  "linux-64:twonames=1.0=h_0;;;;hardlinks!tar.bz2" \
  "linux-64:twonamesz=1.0=h_0;;;;hardlinks!conda" \
  "linux-64:glibcish=1.0=h_0;;;;dirlink" \
  "linux-64:usesl64=1.0=h_0;glibcish;;;via-dirlink" \
  "linux-64:scripted=1.0=h_2;;;;post-link"
plain_base
cp "$ROOT/examples/python-ridge/model.onnx" m.onnx
# The conda layer of an image archive, as layer.tar.gz.
conda_layer() {
  "$PY" - "$1" <<'PYEOF'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
read = lambda d: t.extractfile("blobs/sha256/" + d.split(":")[1]).read()
manifest = json.loads(read(json.loads(t.extractfile("index.json").read())["manifests"][0]["digest"]))
config = json.loads(read(manifest["config"]["digest"]))
i = [h.get("created_by", "").startswith("amlpkg: conda environment") for h in config["history"]].index(True)
open("layer.tar.gz", "wb").write(read(manifest["layers"][i]["digest"]))
PYEOF
}

conda_spec links twonames twonamesz usesl64
KEY=$("$AMLPKG" hash links.yaml)
P=azureml-envs/azureml_$KEY
check "the lock installs without an engine" bash -c "AMLPKG_PODMAN=/nonexistent '$AMLPKG' build links.yaml -o links.tar --executor none 2> links.err"
conda_layer links.tar
check "a package's hard link is a tar hard-link entry in the layer, to the name that sorts first" bash -c "
  tar -tvzf layer.tar.gz | grep -E '^hrw-r--r-- .* $P/share/twonames/b.txt link to $P/share/twonames/a.txt\$' &&
  tar -tvzf layer.tar.gz | grep -E '^hrw-r--r-- .* $P/share/twonamesz/b.txt link to $P/share/twonamesz/a.txt\$'"
check "... the first name carries the bytes" "$PY" -c "
import tarfile
t = tarfile.open('layer.tar.gz')
a = t.getmember('$P/share/twonames/a.txt')
assert a.isfile() and a.size == 20 and t.extractfile(a).read() == b'one file, two names\n', a
assert t.getmember('$P/share/twonames/b.txt').islnk()
"
mkdir L && tar -C L -xzf layer.tar.gz
check "... and unpacked, the two names are one file" bash -c "
  [ \$(stat -c %i L/$P/share/twonames/a.txt) = \$(stat -c %i L/$P/share/twonames/b.txt) ] && [ \$(stat -c %h L/$P/share/twonames/a.txt) = 2 ]"
check "a path through an earlier package's lib64 -> lib lands in lib, the link kept" bash -c "
  [ \"\$(readlink L/$P/lib64)\" = lib ] && [ \"\$(cat L/$P/lib/usesl64.txt)\" = 'through lib64' ] &&
  [ \"\$(cat L/$P/lib/glibcish.txt)\" = 'in lib' ] && ! tar -tzf layer.tar.gz | grep -q '$P/lib64/'"
check "... and conda-meta records it under the package's own path, as conda does" "$PY" -c "
import json
r = json.load(open('L/$P/conda-meta/usesl64-1.0-h_0.json'))
assert r['files'] == ['lib64/usesl64.txt'], r['files']
"
check "the same lock gives the same layer again (the hard links in a fixed order)" bash -c "
  '$AMLPKG' cache rm $KEY >/dev/null && '$AMLPKG' build links.yaml -o links2.tar --executor none 2>/dev/null &&
  cmp <(tar -xOf links.tar index.json) <(tar -xOf links2.tar index.json)"

conda_spec scripted scripted
check_fails "a post-link script is refused by default, naming the package, the script and --allow-scripts" \
  "package scripted-1\.0-h_2 has a post-link script \(bin/\.scripted-post-link\.sh\).*--allow-scripts" \
  "$AMLPKG" build scripted.yaml -o scripted.tar --executor none
check_fails "with --allow-scripts and no engine, the build names the package and asks for an executor" \
  "package scripted-1\.0-h_2 has a post-link script and no executor is available" \
  "$AMLPKG" build scripted.yaml -o scripted.tar --executor none --allow-scripts
check "... nothing is cached and nothing written" bash -c "
  ! '$AMLPKG' cache ls | grep -q \$('$AMLPKG' hash scripted.yaml) && [ ! -e scripted.tar ]"
sed -i 's/^environment:/environment:\n  allow_scripts: yes-please/' scripted.yaml
check_fails "environment.allow_scripts must be a boolean, named with its line" \
  "scripted\.yaml:[0-9]+: environment\.allow_scripts" "$AMLPKG" build scripted.yaml -o scripted.tar --executor none
sed -i 's/allow_scripts: yes-please/allow_scripts: true/' scripted.yaml
check_fails "environment.allow_scripts: true is the spec's --allow-scripts" \
  "package scripted-1\.0-h_2 has a post-link script and no executor is available" \
  "$AMLPKG" build scripted.yaml -o scripted.tar --executor none
