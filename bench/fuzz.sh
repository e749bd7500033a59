#!/usr/bin/env bash
# Throws generated input at every decoder of the HTTP edge for longer than the test
# suite does: the property tests of crates/server/tests/decoders.rs with many more
# cases, from a fresh seed each run (printed, so a finding can be replayed).
#
#   bench/fuzz.sh [cases per decoder, default 20000] [seed, default random]
#
# A failure prints the smallest input proptest found; add it to the regression
# tests in crates/server/tests/api.rs before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
seed="${2:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
echo "fuzzing the decoders: $cases cases each, seed $seed"
HEADWATER_FUZZ_CASES="$cases" HEADWATER_FUZZ_SEED="$seed" \
  cargo test --release --package headwater-server --test decoders -- --nocapture
