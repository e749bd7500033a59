#!/usr/bin/env bash
# Load benchmark of the collector: drives the real server (release build) over
# loopback with wrk, one and ten events per request, on SQLite and on PostgreSQL,
# with GET /healthz on the same server as the ceiling. Prints requests and events
# per second, p50/p99 latency, events stored and the server's peak memory.
#
#   bench/load.sh [seconds per run, default 20] [connections, default 32]
#
# HEADWATER_BIN runs a prebuilt server instead of building this tree (to compare
# two builds in alternating runs); BENCH_BACKENDS ("sqlite", "postgres" or both,
# the default) and BENCH_EVENTS ("1 10" by default) pick the runs.
#
# Needs wrk (apt-get install wrk) and, for the PostgreSQL runs, the local server
# on 127.0.0.1:5432 (HEADWATER_BENCH_POSTGRES to use another).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-20}"
connections="${2:-32}"
postgres_admin="${HEADWATER_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

server_bin="${HEADWATER_BIN:-./target/release/headwater}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
per_request_runs="${BENCH_EVENTS:-1 10}"
[ -n "${HEADWATER_BIN:-}" ] || cargo build --quiet --release --package headwater-server
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
# The demo configuration, with limits lifted: one load generator is one address.
sed -e 's/^demo_site = .*//' headwater.example.toml > "$work/config.toml"
python3 - "$work/config.toml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace("[server]\n", "[server]\nrate_limit_per_ip = 10000000\nrate_limit_per_site = 10000000\n", 1)
open(path, "w").write(text)
PY

run() { # backend database-url events-per-request
  local backend="$1" database="$2" per_request="$3"
  RUST_LOG=warn "$server_bin" serve --config "$work/config.toml" \
    --listen 127.0.0.1:18080 --database "$database" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.1; done

  local ceiling
  ceiling=$(wrk -t2 -c"$connections" -d5s http://127.0.0.1:18080/healthz | awk '/Requests\/sec/ {print $2}')
  local out
  out=$(EVENTS_PER_REQUEST="$per_request" ORIGIN=http://127.0.0.1:8080 \
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/events.lua http://127.0.0.1:18080/)
  local rps p50 p99 non2xx peak
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  peak=$(awk '/VmHWM/ {print $2 / 1024 " MB"}' "/proc/$server/status")
  kill -TERM "$server"; wait "$server" || true
  local stored
  if [ "$backend" = sqlite ]; then
    stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "${database#sqlite://}")
  else
    stored=$(psql -Atq "$database" -c 'select count(*) from events')
  fi
  printf '%-8s %2s ev/req %9s req/s %9.0f ev/s stored %8s/%ss  p50 %-8s p99 %-8s peak %-8s non-2xx %s (ceiling %s req/s)\n' \
    "$backend" "$per_request" "$rps" "$(echo "$rps * $per_request" | bc)" "$stored" "$duration" "$p50" "$p99" "$peak" "${non2xx:-0}" "$ceiling"
}

if [[ " $backends " == *" sqlite "* ]]; then
  for per_request in $per_request_runs; do
    run sqlite "sqlite://$work/bench-$per_request.db" "$per_request"
  done
fi
if [[ " $backends " == *" postgres "* ]] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  for per_request in $per_request_runs; do
    name="headwater_bench_$$_$per_request"
    psql -q "$postgres_admin" -c "CREATE DATABASE $name"
    run postgres "${postgres_admin%/*}/$name" "$per_request"
    psql -q "$postgres_admin" -c "DROP DATABASE $name WITH (FORCE)"
  done
fi
