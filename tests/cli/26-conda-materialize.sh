#!/usr/bin/env bash
# A locked conda environment installed by amlpkg itself, without a container engine: the lock's packages
# (real .conda and .tar.bz2 files made by cph: an interpreter from Debian's Python, a C extension built with
# gcc, a noarch: python package with an entry point, text and binary prefix placeholders in paths.json and
# in the older has_prefix form) fetched over loopback HTTP into the cache, unpacked, linked into
# /azureml-envs/azureml_<key> and written as one deterministic layer on the base. Bad input — a download
# cut short (then resumed), a SHA-256 mismatch, an unknown package, a post-link script, a binary
# placeholder too short — fails with a clear message and caches nothing.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/conda_lib.sh"
command -v cph >/dev/null || { skip "cph is not installed (conda-package-handling; make deps installs it)"; exit 0; }
[ -x /usr/bin/python3.11 ] && [ -f /usr/include/python3.11/Python.h ] && command -v gcc >/dev/null ||
  { skip "Debian's python3.11, its headers and gcc are needed for the test packages"; exit 0; }
cd "$WORK" || exit 1
PKGS=(
  "linux-64:python=3.11.7=h_0;;;;python-min!conda"
  "linux-64:fastext=1.0=py311_0;python 3.11.*;;;extension"
  "noarch:greet=2.0=pyh_0;python >=3.8&fastext;;;noarch-python!tar.bz2"
  "linux-64:prefixdemo=1.0=h_0;;;;prefix!conda"
  "linux-64:legacyprefix=1.0=h_0;;;;prefix-legacy!tar.bz2"
  "linux-64:scripted=1.0=h_0;;;;post-link"
  "linux-64:shorty=1.0=h_0;;;;prefix-short"
)
export RANGE_SERVER_LOG="$WORK/requests.log"
RANGE_SERVER_OPTS=(--cut-once fastext-1.0-py311_0.conda)
serve_conda_channel "${PKGS[@]}"
unset RANGE_SERVER_LOG

# A base image without an engine: one layer with a file.
plain_base
cp "$ROOT/examples/python-ridge/model.onnx" m.onnx
conda_spec env "python 3.11.*" greet prefixdemo legacyprefix
KEY=$("$AMLPKG" hash env.yaml)
PREFIX=/azureml-envs/azureml_$KEY
sha_of() { grep "/$1-" env.lock | sed 's/.*#//'; }

check_fails "a download cut short is an error naming the URL, and says it resumes" \
  "fastext-1\.0-py311_0\.conda: the download was cut short.*resumes" "$AMLPKG" build env.yaml -o cut.tar
check "... nothing of it is cached: no blob, no environment entry, no output" bash -c "
  ! ls '$AMLPKG_CACHE_DIR/blobs/sha256' 2>/dev/null | grep -q $(sha_of fastext) &&
  ! '$AMLPKG' cache ls | grep -q $KEY && [ ! -e cut.tar ]"
check "... its part is kept beside the cache" test -s "$AMLPKG_CACHE_DIR/downloads/$(sha_of fastext).part"
check "... and the packages that arrived whole are cache blobs already" test -s "$AMLPKG_CACHE_DIR/blobs/sha256/$(sha_of greet)"

check "the next build resumes it and installs the environment without an engine" bash -c "
  '$AMLPKG' build env.yaml -o one.tar 2> one.err && grep -q 'conda environment installed without an engine: 5 packages' one.err"
check "... with a Range request for the rest" grep -Eq '^/main/linux-64/fastext-1.0-py311_0.conda bytes=[1-9][0-9]*-$' requests.log
check "... and the package is now a cache blob, its part gone" bash -c "
  [ -s '$AMLPKG_CACHE_DIR/blobs/sha256/$(sha_of fastext)' ] && [ ! -e '$AMLPKG_CACHE_DIR/downloads/$(sha_of fastext).part' ]"

# The environment layer, unpacked.
"$PY" - one.tar layer <<'PYEOF'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
read = lambda d: t.extractfile("blobs/sha256/" + d.split(":")[1]).read()
index = json.loads(t.extractfile("index.json").read())
manifest = json.loads(read(index["manifests"][0]["digest"]))
config = json.loads(read(manifest["config"]["digest"]))
i = [h.get("created_by", "").startswith("amlpkg: conda environment") for h in config["history"]].index(True)
open(sys.argv[2] + ".tar.gz", "wb").write(read(manifest["layers"][i]["digest"]))
open(sys.argv[2] + ".env", "w").write("\n".join(config["config"]["Env"]) + "\n")
PYEOF
mkdir L && tar -C L -xzf layer.tar.gz
E="L$PREFIX"
check "the layer holds the environment at /azureml-envs/azureml_<key>, and nothing else" bash -c "
  [ \"\$(tar -tzf layer.tar.gz | cut -d/ -f1-2 | sort -u | tr '\n' ' ')\" = 'azureml-envs/ azureml-envs/azureml_$KEY ' ]"
check "... entries sorted, owned by 0:0, dated 1970, modes 0755/0644" bash -c "
  tar -tzf layer.tar.gz > names && sort -c names &&
  ! tar --numeric-owner -tvzf layer.tar.gz | grep -v ' 0/0 ' | grep -q . &&
  ! tar -tvzf layer.tar.gz | grep -v '1970-01-01 00:00' | grep -q . &&
  ! tar -tvzf layer.tar.gz | grep -Ev '^(drwxr-xr-x|-rwxr-xr-x|-rw-r--r--|lrwxrwxrwx) ' | grep -q ."
check "the image sets AZUREML_CONDA_ENVIRONMENT_PATH and puts its bin first on PATH" bash -c "
  grep -qx 'AZUREML_CONDA_ENVIRONMENT_PATH=$PREFIX' layer.env && grep -q '^PATH=$PREFIX/bin:' layer.env"
check "text prefix placeholders are replaced everywhere in the file (paths.json and has_prefix)" bash -c "
  for p in prefixdemo legacyprefix; do
    [ \"\$(cat $E/etc/\$p.conf)\" = \"\$(printf 'home=%s/share/%s\nagain=%s' $PREFIX \$p $PREFIX)\" ] || exit 1; done"
check "binary placeholders are replaced keeping the file's length, NUL-padded" "$PY" -c "
import sys
for p in ('prefixdemo', 'legacyprefix'):
    b = open('$E/bin/%s-bin' % p, 'rb').read()
    new = b'\x7fBIN\x00$PREFIX/lib/libdemo.so'
    assert len(b) == 5 + 226 + len('/lib/libdemo.so') + 1 + 4 + 256, len(b)
    assert b.startswith(new + b'\x00'), b[:120]
    assert b[len(new):5 + 226 + 15] == b'\x00' * (5 + 226 + 15 - len(new))
    assert b.endswith(b'\x00TAIL' + bytes(range(256)))
"
check "symbolic links stay links" bash -c "[ \"\$(readlink $E/share/prefixdemo/link)\" = plain.txt ]"
check "noarch: python goes to lib/python3.11/site-packages, python-scripts to bin" bash -c "
  [ -f $E/lib/python3.11/site-packages/greet/cli.py ] && [ -x $E/bin/greet-hello ] && [ ! -e $E/site-packages ]"
check "the entry point is a bin script run by the environment's python" bash -c "
  [ \"\$(head -1 $E/bin/greet)\" = '#!$PREFIX/bin/python' ] && [ -x $E/bin/greet ] && grep -q '^from greet.cli import main' $E/bin/greet"
check "the environment's Debian-made python runs the entry point, which imports the compiled extension" bash -c "
  [ \"\$($E/bin/python3.11 $E/bin/greet)\" = 'greet says 5' ]"
check "conda-meta records each package with its files, url and sha256, and the history lists them" "$PY" -c "
import json, os
m = '$E/conda-meta'
recs = sorted(f for f in os.listdir(m) if f.endswith('.json'))
assert recs == ['fastext-1.0-py311_0.json', 'greet-2.0-pyh_0.json', 'legacyprefix-1.0-h_0.json',
                'prefixdemo-1.0-h_0.json', 'python-3.11.7-h_0.json'], recs
g = json.load(open(m + '/greet-2.0-pyh_0.json'))
assert g['name'] == 'greet' and g['version'] == '2.0' and g['noarch'] == 'python', g
assert 'bin/greet' in g['files'] and 'lib/python3.11/site-packages/greet/cli.py' in g['files'], g['files']
assert g['url'] == '$URL/noarch/greet-2.0-pyh_0.tar.bz2' and g['channel'] == '$URL' and len(g['sha256']) == 64
assert g['depends'] == ['python >=3.8', 'fastext']
p = json.load(open(m + '/prefixdemo-1.0-h_0.json'))
modes = {d['_path']: d.get('file_mode') for d in p['paths_data']['paths']}
assert modes['etc/prefixdemo.conf'] == 'text' and modes['bin/prefixdemo-bin'] == 'binary', modes
h = open(m + '/history').read().splitlines()
assert h[0].startswith('==> ') and '+$URL::greet-2.0-pyh_0' in h, h
"

check "the same lock gives the same image: a fresh cache, downloaded again, the spec named from elsewhere" bash -c "
  cd / && AMLPKG_CACHE_DIR='$WORK/cache2' '$AMLPKG' build '$WORK/env.yaml' -o '$WORK/two.tar' > '$WORK/two.out' 2>&1 && cd '$WORK' &&
  grep -q 'conda packages: 0 in the cache, 5 fetched' two.out && cmp <(tar -xOf one.tar index.json) <(tar -xOf two.tar index.json)"
check "... and from the warm package cache (the entry dropped) it fetches nothing" bash -c "
  '$AMLPKG' cache rm $KEY >/dev/null && '$AMLPKG' build env.yaml -o three.tar 2> three.err &&
  grep -q 'conda packages: 5 in the cache, 0 fetched' three.err && cmp <(tar -xOf one.tar index.json) <(tar -xOf three.tar index.json)"
check "a rebuild takes the environment from the cache" bash -c "
  '$AMLPKG' build env.yaml -o four.tar 2> four.err && grep -q 'cache hit (workspace)' four.err && ! grep -q 'conda packages' four.err"

sed "s|$URL|$WORK/channels/main|" env.yml > file.yml
"$AMLPKG" lock file.yml -o file.lock 2>/dev/null
sed 's/conda_file: env.yml/conda_file: file.yml/; s/lock_file: env.lock/lock_file: file.lock/' env.yaml > file.yaml
check "a file:// channel installs the same files" bash -c "
  '$AMLPKG' build file.yaml -o file.tar 2> file.err && grep -q 'conda environment installed without an engine: 5 packages' file.err"

# The lock's pip wheels go on top, without an engine: a wheel built offline by pip (a module, an entry point).
mkdir -p hello/hello_wheel wheels
printf 'def main():\n    print("hello from a wheel")\n' > hello/hello_wheel/__init__.py
printf '[metadata]\nname = hello-wheel\nversion = 1.0\n[options]\npackages = hello_wheel\n[options.entry_points]\nconsole_scripts =\n    hello-wheel = hello_wheel:main\n' > hello/setup.cfg
printf 'from setuptools import setup\nsetup()\n' > hello/setup.py
if "$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w wheels ./hello >/dev/null 2>&1; then
  { echo "channels: [$URL]"; echo "dependencies:"; echo "  - python 3.11.*"; echo "  - greet"
    echo "  - pip:"; echo '      - "--no-index"'; echo '      - "--find-links wheels"'; echo '      - "hello-wheel"'; } > piped.yml
  "$AMLPKG" lock piped.yml -o piped.lock 2>/dev/null
  printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:base.tar\n  conda_file: piped.yml\n  lock_file: piped.lock\noutput: {name: piped, tag: "1"}\n' > piped.yaml
  PKEY=$("$AMLPKG" hash piped.yaml)
  check "a lock with pip wheels is installed without an engine too" bash -c "
    grep -q '^# pip hello-wheel @ file://' piped.lock &&
    '$AMLPKG' build piped.yaml -o piped.tar 2> piped.err && grep -q 'installed without an engine: 3 packages and 1 pip wheel' piped.err"
  mkdir P && tar -xf piped.tar -C P
  player=$(jq -r '.manifests[0].digest' P/index.json | cut -d: -f2)
  player=$(jq -r '.layers[-3].digest' "P/blobs/sha256/$player" | cut -d: -f2)
  mkdir PL && tar -C PL -xzf "P/blobs/sha256/$player"
  SP="PL/azureml-envs/azureml_$PKEY/lib/python3.11/site-packages"
  check "... the wheel's module and dist-info (INSTALLER amlpkg, RECORD) in the environment's site-packages" bash -c "
    [ -f '$SP/hello_wheel/__init__.py' ] && [ \"\$(cat '$SP'/hello_wheel-1.0.dist-info/INSTALLER)\" = amlpkg ] &&
    grep -q '^hello_wheel/__init__.py,sha256=' '$SP'/hello_wheel-1.0.dist-info/RECORD"
  check "... its entry point a bin/ script run by the environment's python" bash -c "
    head -1 'PL/azureml-envs/azureml_$PKEY/bin/hello-wheel' | grep -qx '#!/azureml-envs/azureml_$PKEY/bin/python' &&
    [ -x 'PL/azureml-envs/azureml_$PKEY/bin/hello-wheel' ]"
  check "... beside the conda packages (greet's module is there too), and Python imports the wheel" bash -c "
    [ -d '$SP/greet' ] && PYTHONPATH='$SP' /usr/bin/python3.11 -c 'import hello_wheel; hello_wheel.main()' | grep -qx 'hello from a wheel'"
  check "... the same lock gives the same digest again" bash -c "
    '$AMLPKG' build piped.yaml -o piped2.tar --no-cache 2>/dev/null &&
    [ \"\$('$AMLPKG' inspect piped.tar --json | jq -r .digest)\" = \"\$('$AMLPKG' inspect piped2.tar --json | jq -r .digest)\" ]"
else
  skip "pip wheel cannot build the test wheel here (python3-pip and python3-setuptools; make deps installs them)"
fi

# Bad input: nothing cached, no output.
entries() { "$AMLPKG" cache ls 2>/dev/null | grep -c environment; }
before=$(entries)
conda_spec bad "python 3.11.*" greet
sed -i "s/$(grep /greet- bad.lock | sed 's/.*#//')/$(printf '0%.0s' {1..64})/" bad.lock
check_fails "a SHA-256 mismatch names the URL and both digests" \
  "greet-2\.0-pyh_0\.tar\.bz2: sha256 mismatch: the lock says 0{64}, the file \([0-9]+ bytes\) is [0-9a-f]{64}" \
  "$AMLPKG" build bad.yaml -o bad.tar
check "... nothing is cached or written" test "$(entries)" = "$before" -a ! -e bad.tar -a \
  ! -e "$AMLPKG_CACHE_DIR/downloads/$(grep /greet- bad.lock | sed 's/.*#//').part"
conda_spec unknown "python 3.11.*"
cp unknown.lock other.lock
sed -i "s|^\($URL/linux-64/\)python-3.11.7-h_0.conda#.*|\1nosuch-1.0-h_0.conda#$(printf '1%.0s' {1..64})|" unknown.lock
check_fails "an unknown package is a 404 naming the URL" "nosuch-1\.0-h_0\.conda: HTTP status 404: no such package" \
  "$AMLPKG" build unknown.yaml -o unknown.tar
check "... nothing is cached or written" test "$(entries)" = "$before" -a ! -e unknown.tar
sed -i "s|^\($URL/linux-64/\)python-3.11.7-h_0.conda#|\1other-1.0-h_0.conda#|" other.lock
sed 's/unknown.lock/other.lock/' unknown.yaml > other.yaml
check_fails "a file that is another package than its lock line says is refused, naming the line" \
  "other\.lock:[0-9]+: .*other-1\.0-h_0\.conda: the package says it is python-3\.11\.7-h_0" \
  "$AMLPKG" build other.yaml -o other.tar
conda_spec scripted scripted
check_fails "a post-link script is refused by default, naming the package, the script and --allow-scripts" \
  "package scripted-1\.0-h_0 has a post-link script \(bin/\.scripted-post-link\.sh\).*--allow-scripts" \
  "$AMLPKG" build scripted.yaml -o scripted.tar
conda_spec shorty shorty
check_fails "a binary placeholder shorter than the prefix is refused, naming file and lengths" \
  "lib/short\.bin: binary prefix replacement: the prefix '/azureml-envs/azureml_[0-9a-f]{64}' \(86 bytes\) is longer than the package's placeholder '/opt/x' \(6 bytes\)" \
  "$AMLPKG" build shorty.yaml -o shorty.tar
check "... nothing is cached or written" test "$(entries)" = "$before" -a ! -e scripted.tar -a ! -e shorty.tar -a ! -e other.tar
