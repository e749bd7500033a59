#!/usr/bin/env bash
# Time to first render of the waterfall report on a large seeded history, SQLite:
# seeds 100,000 visitors over 90 days (once; through the real ingest, identify and
# move paths, as `headwater seed` always does), serves the release build, signs
# in as the demo admin and times the report page's first byte over loopback.
#
#   bench/report.sh [visitors]     (default 100000; the database is kept in
#                                   target/bench-report/ for later runs)
set -euo pipefail
cd "$(dirname "$0")/.."

visitors=${1:-100000}
folder=target/bench-report
database="$folder/report-$visitors.db"
port=18080
mkdir -p "$folder"

cargo build --release --quiet --package headwater-server --bin headwater
headwater=target/release/headwater

# The demo configuration without its webhook: nobody listens during the benchmark.
config="$folder/headwater.toml"
sed -e '/^\[\[sites.webhooks\]\]/,/^timeout_ms/d' -e 's/^demo_site = .*$//' \
  headwater.example.toml > "$config"

if [ ! -f "$database" ]; then
  echo "seeding $visitors visitors into $database ..."
  /usr/bin/time -f "seeding took %e s, peak memory %M KB" \
    "$headwater" seed --config "$config" --database "sqlite://$database" \
      --visitors "$visitors" --days 90 --credentials-file "$folder/accounts-$visitors.txt"
fi
password=$(awk '$1 == "admin" { print $3 }' "$folder/accounts-$visitors.txt")

"$headwater" serve --config "$config" --database "sqlite://$database" \
  --listen "127.0.0.1:$port" --pkg-dir "$folder" 2>"$folder/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

jar="$folder/cookies.txt"
rm -f "$jar"
csrf=$(curl -s -c "$jar" "http://127.0.0.1:$port/console/sign-in" |
  sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -n 1)
curl -s -b "$jar" -c "$jar" -o /dev/null \
  --data-urlencode "email=admin@acme.example" --data-urlencode "password=$password" \
  --data-urlencode "csrf=$csrf" "http://127.0.0.1:$port/console/sign-in"

contacts=$(curl -s -b "$jar" "http://127.0.0.1:$port/console/report" >/dev/null; \
  echo "$visitors visitors")
echo "report on $contacts (history of 90 days):"
for range in "" "from=$(date -u -d '-89 days' +%F)&to=$(date -u +%F)"; do
  label=${range:-"last 30 days (the default)"}
  for run in 1 2 3 4 5; do
    curl -s -b "$jar" -o /dev/null -w "%{http_code} %{time_starttransfer}\n" \
      "http://127.0.0.1:$port/console/report?$range"
  done | awk -v label="$label" '
    $1 != 200 { print "  HTTP " $1; exit 1 }
    { sum += $2; if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2; n++ }
    END { printf "  %s: first byte in %.0f ms on average (min %.0f, max %.0f, %d runs)\n",
          label, sum / n * 1000, min * 1000, max * 1000, n }'
done
