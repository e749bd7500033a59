#!/usr/bin/env bash
# Soak: the collector under steady overload-level traffic for a while (10 minutes
# by default), its resident memory sampled every 10 s. Memory must stay flat:
# when the database falls behind, the server sheds load (503) instead of queueing.
#
#   bench/soak.sh [minutes, default 10] [connections, default 256]
#
# HEADWATER_BIN runs a prebuilt server instead of building this tree; SOAK_PORT
# (default 18282) lets two soaks run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
connections="${2:-256}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

server_bin="${HEADWATER_BIN:-./target/release/headwater}"
port="${SOAK_PORT:-18282}"
[ -n "${HEADWATER_BIN:-}" ] || cargo build --quiet --release --package headwater-server
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e 's/^demo_site = .*//' \
    -e 's/^\[server\]$/[server]\nrate_limit_per_ip = 10000000\nrate_limit_per_site = 10000000/' \
    headwater.example.toml > "$work/config.toml"
RUST_LOG=error "$server_bin" serve --config "$work/config.toml" \
  --listen 127.0.0.1:$port --database "sqlite://$work/soak.db" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 0.1; done

EVENTS_PER_REQUEST=10 ORIGIN=http://127.0.0.1:8080 \
  wrk -t2 -c"$connections" -d"${minutes}m" --latency -s bench/events.lua http://127.0.0.1:$port/ \
  >"$work/wrk.txt" &
load=$!
echo "minute  rss_mb"
start=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server/status")
  printf '%6.1f  %s\n' "$(echo "($(date +%s) - $start) / 60" | bc -l)" "$rss"
  sleep 10
done
wait "$load" || true
grep -E 'Requests/sec|Non-2xx|99%' "$work/wrk.txt" || true
awk '/VmHWM/ {printf "peak RSS: %.1f MB\n", $2 / 1024}' "/proc/$server/status"
