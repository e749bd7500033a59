#!/usr/bin/env bash
# What Headwater costs a customer's page, in headless Chromium: script time, heap
# and the longest main-thread task, with and without the script tag (median of 5
# fresh-profile runs). Needs the bundle (cargo xtask build-web) and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo xtask build-web
cargo bench -p headwater-tests --bench page_cost
