#!/usr/bin/env bash
# SHA-256 throughput on 1 GiB: amlpkg's own (SHA-NI and portable paths) against
# OpenSSL's EVP sha256, which amlpkg linked before. Goal: SHA-NI >= OpenSSL.
source "$(dirname "$0")/lib.sh"
BENCH="$BUILD/tests/bench/sha256_bench"
if [ ! -x "$BENCH" ]; then
  echo "SKIP sha256 bench: $BENCH is not built (make bench)"
  exit 0
fi
"$BENCH" "${SHA256_BENCH_MIB:-1024}"
