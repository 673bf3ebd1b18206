#!/usr/bin/env bash
# Run the API benchmark: gunicorn on the bench data set, wrk against floor, quote, purchase and
# purchase_retry (one request in ten a client's retry of the previous one) at 4 and 16 concurrent
# clients. Prints one line per run (with the CPU time gunicorn and PostgreSQL
# spent per request); raw wrk output goes to bench/api/out/. BENCH_CLIENTS="4 16" (default) picks the
# concurrencies.
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench bench/api/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-bench.api.settings}
: "${DATABASE_URL:?set DATABASE_URL to the bench database}"
PORT=${BENCH_PORT:-8765}
WORKERS=${BENCH_WORKERS:-2}  # as the Procfile: one per core on the 2-core machines
DURATION=${BENCH_DURATION:-20s}
OUT=bench/api/out
mkdir -p "$OUT"
STATE=bench/api/state.json
export BENCH_KEY=$(python3 -c "import json;print(json.load(open('$STATE'))['api_key'])")
export BENCH_MEMBER_FIRST=$(python3 -c "import json;print(json.load(open('$STATE'))['member_first'])")
export BENCH_MEMBER_COUNT=$(python3 -c "import json;print(json.load(open('$STATE'))['member_count'])")

# planner statistics for the data the set-up loaded (autovacuum may be off, as on our machines:
# without them PostgreSQL picks the program-wide index for a member's entries)
psql "$DATABASE_URL" -qc "ANALYZE" >/dev/null

.venv/bin/gunicorn loyalty_site.wsgi:application --bind 127.0.0.1:$PORT --workers "$WORKERS" \
  --worker-class sync --access-logfile /dev/null --error-logfile "$OUT/gunicorn.log" --pid "$OUT/gunicorn.pid" &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null; wait $GUNICORN 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz/" >/dev/null && break; sleep 0.2; done

# CPU time (user + system, in clock ticks) of gunicorn (master and workers) and of the bench
# database's backends; the bench settings keep connections open, so no backend ends mid-line
DB_NAME=${DATABASE_URL##*/}; DB_NAME=${DB_NAME%%\?*}
cpu_ticks() {
  local web=0 db=0 pid
  for pid in $GUNICORN $(pgrep -P $GUNICORN); do web=$(( web + $(awk '{print $14 + $15}' /proc/$pid/stat 2>/dev/null || echo 0) )); done
  for pid in $(pgrep -f "postgres: .* $DB_NAME "); do db=$(( db + $(awk '{print $14 + $15}' /proc/$pid/stat 2>/dev/null || echo 0) )); done
  echo "$web $db"
}
TICK_MS=$(( 1000 / $(getconf CLK_TCK) ))

for clients in ${BENCH_CLIENTS:-4 16}; do
  threads=$(( clients < 4 ? clients : 4 ))
  for name in floor quote purchase purchase_retry; do
    # warm every worker (imports, connections) before measuring; every wrk run gets its own
    # receipt-id prefix (a reused receipt id with another body is, correctly, a 409)
    export BENCH_RUN="w$name$clients$(date +%s%N)"
    wrk -t "$threads" -c "$clients" -d 3s -s "bench/api/$name.lua" "http://127.0.0.1:$PORT" >/dev/null
    export BENCH_RUN="m$name$clients$(date +%s%N)"
    read -r web0 db0 < <(cpu_ticks)
    wrk -t "$threads" -c "$clients" -d "$DURATION" --latency -s "bench/api/$name.lua" \
      "http://127.0.0.1:$PORT" > "$OUT/$name-c$clients.txt"
    read -r web1 db1 < <(cpu_ticks)
    requests=$(awk '/requests in/ {print $1}' "$OUT/$name-c$clients.txt")
    rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/$name-c$clients.txt")
    p50=$(awk '$1=="50%" {print $2}' "$OUT/$name-c$clients.txt")
    p99=$(awk '$1=="99%" {print $2}' "$OUT/$name-c$clients.txt")
    errors=$(awk '/Non-2xx/ {print $NF}' "$OUT/$name-c$clients.txt")
    cpu=$(awk -v w=$(( (web1 - web0) * TICK_MS )) -v d=$(( (db1 - db0) * TICK_MS )) -v n="$requests" \
      'BEGIN {if (n > 0) printf "web=%.2fms db=%.2fms", w / n, d / n; else printf "-"}')
    printf "%-9s clients=%-3s req/s=%-9s p50=%-9s p99=%-9s non-2xx=%-3s cpu/request: %s\n" \
      "$name" "$clients" "$rps" "$p50" "$p99" "${errors:-0}" "$cpu"
  done
done
