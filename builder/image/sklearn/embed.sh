#!/usr/bin/env bash
# embed.sh FILE...: prints a C file with the converter's Python modules as
# sklearn_modules[] (name, text), so amlpkg carries its converter inside.
set -euo pipefail
printf '/* Generated from the modules in builder/image/sklearn/ by builder/image/sklearn/embed.sh; do not edit. */\n'
printf '#include "builder/image/sklearn_convert.h"\n\n'
printf 'const struct sklearn_module sklearn_modules[] = {\n'
for f in "$@"; do
  printf '    {"%s",\n' "$(basename "$f")"
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/     "/' -e 's/$/\\n"/' "$f"
  printf '    },\n'
done
printf '};\nconst size_t sklearn_n_modules = %d;\n' "$#"
