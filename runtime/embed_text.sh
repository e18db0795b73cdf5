#!/usr/bin/env bash
# embed-text.sh FILE SYMBOL: prints a C file defining `const char SYMBOL[]`
# with FILE's text, so amlserve carries its Python worker inside the binary.
set -euo pipefail
printf '/* Generated from %s by runtime/embed_text.sh; do not edit. */\n' "$1"
printf 'const char %s[] =\n' "$2"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$1"
printf '    ;\n'
