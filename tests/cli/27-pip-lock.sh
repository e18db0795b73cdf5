#!/usr/bin/env bash
# amlpkg lock's pip section: real wheels built offline by `pip wheel` from tiny projects (dependencies,
# extras, markers, several versions, a pre-release), Debian's own wheels (/usr/share/python-wheels), a
# PEP 503 HTML index and a PEP 691 JSON index served over loopback HTTP, --find-links folders, PEP 658
# metadata files, yanked files and Requires-Python; an sdist-only project refused; a conflict explained;
# the lock's "# pip NAME @ URL#sha256=" lines checked against the files and against pip itself.
source "$(dirname "$0")/../lib.sh"
command -v cph >/dev/null || { skip "cph is not installed (conda-package-handling; make deps installs it)"; exit 0; }
"$PY" -c 'import setuptools' 2>/dev/null || { skip "python3-setuptools is not installed (make deps installs it)"; exit 0; }
cd "$WORK" || exit 1

# The conda part: python 3.11 (its version decides the wheels) and six, which pip then sees installed.
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" main "linux-64:python=3.11.4=h_0" "linux-64:python=3.12.1=h_0" \
  "noarch:six=1.16.0=pyh_0" || { fail "the conda channel is built"; exit 1; }
"$PY" "$ROOT/tests/pip_index.py" build "$WORK" \
  "alpha=1.0" "alpha=2.0|beta (>=1.1)&delta; python_version < '3.8'&six>=1.10|fast:gamma" "alpha=3.0a1" \
  "beta=1.0" "beta=1.1" "beta=1.2" "beta=1.3" "gamma=1.0" "delta=1.0" \
  "back=1.0" "back=2.0|beta<1.0" "con-a=1.0|beta<1.1" "con-b=1.0|beta>=1.1" "oldsix=1.0|six<1" \
  "badhash=1.0" "tagged=1.0" "tagged=2.0" "sdistonly=0.9" "six=1.16.0" || { fail "wheels are built with pip wheel"; exit 1; }
check "pip wheel made real wheels" bash -c "ls built/*.whl | wc -l | grep -qx 19 && unzip -p built/alpha-2.0-py3-none-any.whl 'alpha-2.0.dist-info/METADATA' | grep -q '^Requires-Dist: beta'"

# The HTML index: beta 1.2 needs Python 3.12, beta 1.3 is yanked, alpha 2.0 has a PEP 658 metadata file.
mkdir -p html-wheels json-wheels fl sixdir
for w in built/*.whl; do
  case "$w" in *gamma*) cp "$w" json-wheels/ ;; *six-1.16.0*) cp "$w" sixdir/ ;; *tagged*|*sdistonly*) ;; *) cp "$w" html-wheels/ ;; esac
done
"$PY" "$ROOT/tests/pip_index.py" index "$WORK/srv/html" html-wheels --requires-python "beta-1.2-py3-none-any.whl=>=3.12" \
  --yank beta-1.3-py3-none-any.whl --metadata alpha-2.0-py3-none-any.whl --bad-hash badhash-1.0-py3-none-any.whl
"$PY" "$ROOT/tests/pip_index.py" index "$WORK/srv/json" json-wheels --json
# The --find-links folder: Debian's wheels, tagged wheels (a pure wheel renamed: resolution reads the name's
# tags), an sdist.
cp /usr/share/python-wheels/setuptools-*.whl fl/ 2>/dev/null
cp built/tagged-1.0-py3-none-any.whl fl/tagged-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
cp built/tagged-2.0-py3-none-any.whl fl/tagged-2.0-cp311-cp311-manylinux_2_38_x86_64.whl
cp built/tagged-2.0-py3-none-any.whl fl/tagged-2.0-cp311-cp311-linux_x86_64.whl
cp -r src/sdistonly-0.9 src/sdistonly-1.0 && sed -i 's/0\.9/1.0/' src/sdistonly-1.0/pyproject.toml
(cd src && tar czf ../fl/sdistonly-1.0.tar.gz sdistonly-1.0) && cp built/sdistonly-0.9-py3-none-any.whl fl/

port=$(free_port)
"$PY" "$ROOT/tests/pip_index.py" serve "$WORK/srv" "$port" 2> server.log &
srv=$!
on_exit "kill $srv; wait $srv 2>/dev/null"
cport=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$WORK/channels" "$cport" >/dev/null 2>&1 &
csrv=$!
on_exit "kill $csrv; wait $csrv 2>/dev/null"
wait_http "http://127.0.0.1:$port/html/simple/alpha/" 20 && wait_http "http://127.0.0.1:$cport/main/noarch/repodata.json" 20 ||
  { fail "the indexes are served"; exit 1; }
IDX=http://127.0.0.1:$port/html/simple
JSON=http://127.0.0.1:$port/json/simple
CH=http://127.0.0.1:$cport/main

env_file() { # env_file FILE CONDA_DEPS PIP_LINES...
  local file=$1 deps=$2; shift 2
  { printf 'channels: [%s]\ndependencies:\n' "$CH"; for d in $deps; do printf '  - %s\n' "$d"; done
    printf '  - pip:\n'; for l in "$@"; do printf '      - "%s"\n' "$l"; done; } > "$file"
}

env_file env.yml "python=3.11 six" "--index-url $IDX" "--extra-index-url $JSON" "alpha[fast]" "back"
# --no-cache: the lock keeps no wheel, so it fetches none it can resolve from PEP 658 metadata alone
# (tests/cli/42-lock-target-wheels.sh: with the cache, every pinned wheel is kept).
check "lock resolves the pip section to wheels: newest versions, extras, markers, backtracking" bash -c "
  '$AMLPKG' lock env.yml --no-cache -o env.lock 2> lock.err &&
  [ \"\$(pip_lines() { sed -n 's/^# pip //p' \"\$1\" | sed 's/ @ .*\/\([^/#]*\)#.*/ \1/'; }; pip_lines env.lock | tr '\n' ' ')\" = \\
    'alpha alpha-2.0-py3-none-any.whl back back-1.0-py3-none-any.whl beta beta-1.1-py3-none-any.whl gamma gamma-1.0-py3-none-any.whl ' ]"
check "... PEP 658 (checked before anything else reads the files): alpha 2.0's metadata file was read, not its wheel" bash -c "
  grep -q 'GET /html/files/alpha-2.0-py3-none-any.whl.metadata' server.log && ! grep -q 'GET /html/files/alpha-2.0-py3-none-any.whl HTTP' server.log"
check "... after conda's lines, in pip's direct-reference syntax, each with the sha256 of the file served" bash -c "
  grep -q '^@EXPLICIT$' env.lock && grep -q '/main/linux-64/python-3.11.4-h_0' env.lock &&
  sed -n 's/^# pip [a-z-]* @ //p' env.lock | while IFS='#' read -r url hash; do
    [ \"\${hash#sha256=}\" = \"\$(curl -sf \"\$url\" | sha256sum | cut -d' ' -f1)\" ] || exit 1; done &&
  [ \$(grep -c '^# pip ' env.lock) = 4 ]"
check "... six comes from conda: pip sees it installed and it is not locked again" bash -c "! grep -q '^# pip six' env.lock"
check "... a marker false for Python 3.11 (python_version < '3.8') drops delta" bash -c "! grep -q 'delta' env.lock"
check "... pre-releases (alpha 3.0a1) only when asked for" bash -c "! grep -q 'alpha-3.0a1' env.lock"
check "... PEP 691: gamma came from the JSON index" bash -c "grep -q '^# pip gamma @ http://127.0.0.1:$port/json/files/gamma-1.0' env.lock"

# pip itself as the oracle: the same index, only wheels, nothing installed (six is given, as conda has it).
if "$PY" -m pip install --help 2>/dev/null | grep -q -- '--report'; then
  check "pip install --dry-run --report picks the same wheels" bash -c "
    '$PY' -m pip install --dry-run --ignore-installed --quiet --disable-pip-version-check --only-binary :all: \
      --report pip-report.json --index-url '$IDX' --extra-index-url '$JSON' 'alpha[fast]' back 'six==1.16.0' \
      --find-links '$WORK/sixdir' >/dev/null 2>pip.err || { cat pip.err; exit 1; }
    '$PY' -c 'import json; r = json.load(open(\"pip-report.json\")); print(\" \".join(sorted(i[\"metadata\"][\"name\"] + \"==\" + i[\"metadata\"][\"version\"] for i in r[\"install\"] if i[\"metadata\"][\"name\"] != \"six\")))' > pip.txt &&
    sed -n 's/^# pip \([^ ]*\) @ .*\/[^/-]*-\([^-]*\)-.*/\1==\2/p' env.lock | tr '\n' ' ' > ours.txt &&
    [ \"\$(cat pip.txt)\" = \"\$(cat ours.txt | sed 's/ \$//')\" ]"
else
  skip "pip has no --report (pip < 22.2)"
fi

env_file yank.yml "python=3.11" "--index-url $IDX" "beta==1.3"
check "a yanked file is taken when pinned with ==" bash -c "'$AMLPKG' lock yank.yml | grep -q 'beta-1.3-py3-none-any.whl'"
env_file py312.yml "python=3.12" "--index-url $IDX" "beta"
check "Requires-Python (data-requires-python) is judged against the locked python: 3.12 takes beta 1.2" bash -c "
  '$AMLPKG' lock py312.yml | grep -q 'beta-1.2-py3-none-any.whl'"
env_file pre.yml "python=3.11" "--index-url $IDX" "--pre" "alpha"
check "--pre takes the pre-release" bash -c "'$AMLPKG' lock pre.yml | grep -q 'alpha-3.0a1-py3-none-any.whl'"
env_file spec.yml "python=3.11" "--index-url $IDX" "alpha>=1,<2" "beta~=1.0,!=1.1.*"
check "specifiers: <2 keeps alpha 1.0; ~=1.0 with !=1.1.* gives beta 1.0" bash -c "
  '$AMLPKG' lock spec.yml > spec.lock && grep -q 'alpha-1.0-py3' spec.lock && grep -q 'beta-1.0-py3' spec.lock"

# --find-links: Debian's setuptools wheel and manylinux tags against the target's glibc.
env_file fl.yml "python=3.11" "--no-index" "--find-links ../fl" "setuptools" "tagged"
mkdir -p sub && mv fl.yml sub/
check "--find-links (relative to the environment file) with Debian's wheel; manylinux_2_38 is too new for glibc 2.35" bash -c "
  '$AMLPKG' lock sub/fl.yml > fl.lock && grep -Eq '^# pip setuptools @ file://$WORK/fl/setuptools-[0-9.]+-py3-none-any.whl#sha256=[0-9a-f]{64}$' fl.lock &&
  grep -q 'tagged-1.0-cp311-cp311-manylinux_2_17' fl.lock"
check "... with --virtual __glibc=2.39 the manylinux_2_38 wheel is taken (never the linux_x86_64 one)" bash -c "
  '$AMLPKG' lock sub/fl.yml --virtual __glibc=2.39 | grep -q 'tagged-2.0-cp311-cp311-manylinux_2_38_x86_64.whl'"
# pip's oracle for tags: pip download for CPython 3.11 on every manylinux a glibc 2.35 machine takes.
plats=$(for m in $(seq 35 -1 5); do printf -- '--platform manylinux_2_%s_x86_64 ' "$m"; done)
check "pip download picks the same tagged wheel for CPython 3.11 on glibc 2.35" bash -c "
  '$PY' -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: --no-index --find-links fl \
    --python-version 3.11 --implementation cp --abi cp311 $plats -d dl tagged 2>pip.err &&
  ls dl | grep -qx 'tagged-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'"

# The mirror setting: --pip-index-url replaces PyPI for a section that names no index.
env_file mirror.yml "python=3.11" "gamma"
check "--pip-index-url points the default index at a mirror" bash -c "
  '$AMLPKG' lock mirror.yml --pip-index-url '$JSON' | grep -q '^# pip gamma @ http://127.0.0.1:$port/json/files/gamma-1.0'"

# Refusals and conflicts.
env_file sdist0.yml "python=3.11" "--no-index" "--find-links $WORK/fl" "sdistonly"
check "a version with only an sdist is skipped, as pip --only-binary :all: does: 0.9's wheel, not 1.0's sdist" bash -c "
  '$AMLPKG' lock sdist0.yml | grep -q 'sdistonly-0.9-py3-none-any.whl'"
env_file sdist.yml "python=3.11" "--no-index" "--find-links $WORK/fl" "sdistonly>=1"
check_fails "a project with nothing but an sdist left is refused, naming the sdist and the executor route" \
  "sdistonly 1.0 has no wheel, only a source distribution \(sdistonly-1.0.tar.gz\).*build without environment.lock_file \(the executor route runs pip\)" \
  "$AMLPKG" lock sdist.yml -o never.lock
check "... and nothing is written" test ! -e never.lock
env_file conflict.yml "python=3.11" "--index-url $IDX" "con-a" "con-b"
check_fails "a conflict fails" "cannot be satisfied together: no version of beta satisfies every requirement" \
  "$AMLPKG" lock conflict.yml
check "... and names both requirements and who asked for them" bash -c "
  '$AMLPKG' lock conflict.yml > conflict.out 2>&1; grep -q \"^  'beta<1.1' (con-a 1.0)\$\" conflict.out &&
  grep -q \"^  'beta>=1.1' (con-b 1.0)\$\" conflict.out"
env_file oldsix.yml "python=3.11 six" "--index-url $IDX" "oldsix"
check_fails "a requirement the conda-installed version does not satisfy is a conflict" \
  "the conda packages install six 1.16.0, which does not satisfy it" "$AMLPKG" lock oldsix.yml
check "... naming the requirement" bash -c "! '$AMLPKG' lock oldsix.yml > oldsix.out 2>&1 && grep -q \"^  'six<1' (oldsix 1.0)\$\" oldsix.out"
env_file unknown.yml "python=3.11" "--index-url $IDX" "nosuchproject"
check_fails "an unknown project is named" "no source has nosuchproject" "$AMLPKG" lock unknown.yml
env_file badhash.yml "python=3.11" "--index-url $IDX" "badhash"
check_fails "a file whose sha256 is not the index's is refused" "badhash-1.0-py3-none-any.whl: sha256 mismatch: the index says 0{64}" \
  "$AMLPKG" lock badhash.yml -o never.lock
env_file nopython.yml "six" "--index-url $IDX" "beta"
check_fails "a pip section needs python among the conda packages" "needs python among the conda dependencies" "$AMLPKG" lock nopython.yml
env_file url.yml "python=3.11" "beta @ $IDX/../files/beta-1.0-py3-none-any.whl"
check_fails "direct references are refused, pointing at --find-links" "direct references \(name @ URL\) are not locked" "$AMLPKG" lock url.yml
env_file opt.yml "python=3.11" "--no-binary :all:" "beta"
check_fails "an option amlpkg cannot honour is named" "option '--no-binary :all:' is not understood" "$AMLPKG" lock opt.yml
env_file badreq.yml "python=3.11" "--index-url $IDX" "beta ; python_version >="
check_fails "a malformed requirement is named with its line" "badreq.yml:6: dependencies: pip: 'beta ; python_version >=':" "$AMLPKG" lock badreq.yml

# The lock in a spec: part of the environment key, stale when the pip section or its options change.
cp "$ROOT/examples/onnx-ridge/model.onnx" m.onnx
cp env.yml envl.yml && "$AMLPKG" lock envl.yml -o envl.lock 2>/dev/null
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  conda_file: envl.yml\n  lock_file: envl.lock\n' > locked.yaml
check "a lock with pip lines is accepted by a spec and is part of the environment key" bash -c "
  '$AMLPKG' hash locked.yaml > h1 && sed -i 's/^# pip back @ .*/# pip back @ http:\/\/elsewhere\/back-1.0-py3-none-any.whl#sha256=$(printf 1%.0s {1..64})/' envl.lock &&
  '$AMLPKG' hash locked.yaml > h2 && ! diff -q h1 h2"
sed -i 's/      - "back"/      - "back<2"/' envl.yml
check_fails "a changed pip requirement makes the lock stale" "environment.lock_file: '.*envl.lock' is stale" "$AMLPKG" hash locked.yaml
cp env.yml envl.yml && "$AMLPKG" lock envl.yml -o envl.lock 2>/dev/null
sed -i "s|      - \"--extra-index-url $JSON\"|      - \"--extra-index-url $JSON\"\n      - \"--pre\"|" envl.yml
check_fails "... and so does a changed pip option" "environment.lock_file: '.*envl.lock' is stale" "$AMLPKG" hash locked.yaml
cp env.yml envl.yml
check "the Dockerfile installs the lock's wheels with pip after conda, no resolution" bash -c "
  '$AMLPKG' build locked.yaml --dockerfile ctx > /dev/null &&
  grep -q \"^RUN sed -n 's/^# pip //p' /azureml-environment-setup/conda.lock > /azureml-environment-setup/pip.lock\" ctx/Dockerfile &&
  grep -q 'python -m pip install --no-deps --no-cache-dir -r /azureml-environment-setup/pip.lock' ctx/Dockerfile"
