#!/usr/bin/env bash
# The dependency rules of docs/architecture.md, checked on the sources and on
# the built libraries (make check-layers; part of make test):
#   includes: each file's #include "..." resolved to a path, then the rule of its
#             layer (and, in builder/, of its room) applied to it;
#   links:    the symbols each library leaves undefined must not be defined by a
#             library it may not use: a call across a forbidden line fails here
#             even where some executable happens to link both sides.
# Prints one PASS/FAIL line per rule.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
GENERATED=" version.h onnx.pb-c.h build_info.h "

# What a layer (or a room of builder/) may include, besides itself and system headers.
allowed() {
  case $1 in
    common) echo "common" ;;
    cache) echo "common cache" ;;
    runtime/engine) echo "common runtime/engine" ;;
    runtime) echo "common runtime/engine runtime" ;;
    builder/sys) echo "common cache runtime/engine builder/sys" ;;
    builder/spec) echo "common cache runtime/engine builder/sys builder/spec" ;;
    builder/image) echo "common cache runtime/engine builder/sys builder/spec builder/image" ;;
    builder/registry) echo "common cache runtime/engine builder/sys builder/spec builder/image builder/registry" ;;
    builder/env) echo "common cache runtime/engine builder/sys builder/spec builder/image builder/registry builder/env" ;;
    builder/trust) echo "common cache runtime/engine builder/sys builder/spec builder/image builder/registry builder/trust" ;;
    builder/service) echo "common cache runtime/engine builder/sys builder/spec builder/image builder/service" ;;
    builder/deploy) echo "common cache runtime/engine builder/sys builder/spec builder/image builder/registry builder/env builder/pipeline builder/deploy" ;;
    builder/pipeline) echo "common cache runtime/engine builder/sys builder/spec builder/image builder/registry builder/env builder/pipeline" ;;
    builder/cli) echo "common cache runtime/engine builder/sys builder/spec builder/image builder/registry builder/env builder/pipeline builder/service builder/deploy builder/trust builder/cli" ;;
    *) echo "" ;;
  esac
}

# The layer (or room) a path belongs to.
layer_of() {
  case $1 in
    common/*) echo common ;;
    cache/*) echo cache ;;
    runtime/engine/*) echo runtime/engine ;;
    runtime/*) echo runtime ;;
    builder/*/*) local r=${1#builder/}; echo "builder/${r%%/*}" ;;
    *) echo "?" ;;
  esac
}

bad=0 checked=0
while IFS= read -r file; do
  from=$(layer_of "$file")
  ok=" $(allowed "$from") "
  if [ "$ok" = "  " ]; then
    echo "FAIL layers: '$file' is in no layer (builder/ files live in a room: builder/<room>/)"
    bad=$((bad + 1)); continue
  fi
  while IFS= read -r inc; do
    [ -n "$inc" ] || continue
    checked=$((checked + 1))
    dir=$(dirname "$file")
    if [ -e "$dir/$inc" ]; then target=$(realpath -m --relative-to=. "$dir/$inc")
    elif [ -e "$inc" ]; then target=$inc
    elif [[ $GENERATED == *" $inc "* ]]; then continue
    else echo "FAIL layers: $file includes \"$inc\", which is no file of ours"; bad=$((bad + 1)); continue
    fi
    to=$(layer_of "$target")
    if [[ $ok != *" $to "* ]]; then
      echo "FAIL layers: $file ($from) includes $target ($to), which $from may not use"
      bad=$((bad + 1))
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(git ls-files -co --exclude-standard common cache runtime builder | grep -E '\.(c|h|cu)$')
[ "$bad" -eq 0 ] && echo "PASS layers: $checked includes in common, cache, runtime and builder follow the rules"

# Link rules: library -> the libraries it may use.
declare -A uses=(
  [libamlcommon]=""
  [libamlcache]="libamlcommon"
  [libamlengine]="libamlcommon"
  [libamlserve]="libamlengine libamlcommon"
  [libamlpkg]="libamlcache libamlengine libamlcommon"
)
libs=(libamlcommon libamlcache libamlengine libamlserve libamlpkg)
for l in "${libs[@]}"; do
  [ -f "$BUILD/lib/$l.a" ] || { echo "FAIL links: $BUILD/lib/$l.a is not built (make build first)"; exit 1; }
done
defined() { nm --defined-only -g "$BUILD/lib/$1.a" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u; }
link_bad=0
for l in "${libs[@]}"; do
  undefined=$(nm -u "$BUILD/lib/$l.a" 2>/dev/null | awk '{print $NF}' | sort -u)
  for other in "${libs[@]}"; do
    [ "$other" = "$l" ] && continue
    [[ " ${uses[$l]} " == *" $other "* ]] && continue
    crossing=$(comm -12 <(echo "$undefined") <(defined "$other") | head -5 | tr '\n' ' ')
    if [ -n "$crossing" ]; then
      echo "FAIL links: $l uses $other, which it may not: $crossing"
      link_bad=$((link_bad + 1))
    fi
  done
done
# amlpkg must not contain the server: none of libamlserve's own symbols may be in it.
if [ -x "$BUILD/bin/amlpkg" ] && nm "$BUILD/bin/amlpkg" 2>/dev/null | grep -qw 'server_run\|tls_server_new'; then
  echo "FAIL links: amlpkg contains server code (server_run or tls_server_new)"
  link_bad=$((link_bad + 1))
fi
[ "$link_bad" -eq 0 ] && echo "PASS links: no library uses one it may not (${libs[*]}); amlpkg holds no server code"
[ "$bad" -eq 0 ] && [ "$link_bad" -eq 0 ]
