#!/usr/bin/env bash
# PgBouncer in transaction mode in front of the local PostgreSQL: the API benchmark and the
# acceptance scenarios through it (bench/README.md, "Scale-out: PgBouncer").
#
#   bash bench/pgbouncer/run.sh                 # installs pgbouncer and wrk (apt-get) when missing
#   BENCH_MEMBERS=2000 BENCH_DURATION=10s BENCH_CLIENTS="4 16" bash bench/pgbouncer/run.sh
#   BENCH_SKIP_API=1 bash bench/pgbouncer/run.sh    # the acceptance scenarios only
#
# 1. Debian's pgbouncer (1.18 on bookworm) runs as this user from a temporary directory on a free port,
#    pool_mode = transaction, trust authentication, in front of PRIMARY (127.0.0.1:5432).
# 2. A fresh bench database (bench/api/setup_data.py: the seed program, BENCH_MEMBERS members,
#    the floor's tables; no purchase history, to keep the run short) is migrated directly.
# 3. bench/api/run.sh runs three times on it: through PgBouncer with DATABASE_PREPARE=off (what a
#    transaction pooler needs: PgBouncer before 1.21 keeps no prepared statements, and a statement
#    prepared on one server connection is unknown on the next), directly with DATABASE_PREPARE=off
#    (the same client-side settings without the pooler) and directly with the default (prepared).
# 4. tests/api/test_acceptance.py (PRODUCT.md §3's scenarios through HTTP, the jobs included) runs
#    with DATABASE_URL through PgBouncer and DATABASE_PREPARE=off: pytest creates its test database
#    through the pooler too.
# Everything it started is stopped and its directory removed at the end (trap); the bench database
# is dropped unless BENCH_KEEP=1. Output: bench/pgbouncer/out/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PRIMARY_HOST=${PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
BENCH_DB=${BENCH_DB:-loyalty_bench_pgbouncer}
MEMBERS=${BENCH_MEMBERS:-2000}
export BENCH_DURATION=${BENCH_DURATION:-10s}
OUT=bench/pgbouncer/out
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# --- 1. packages ----------------------------------------------------------------------------------
missing=()
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ -z "${BENCH_SKIP_API:-}" ]; then command -v wrk >/dev/null || missing+=(wrk); fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  log "installing ${missing[*]} (apt-get)"
  # the package's own service (port 6432) is not wanted: keep invoke-rc.d from starting it
  POLICY=/usr/sbin/policy-rc.d; ADDED_POLICY=""
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod +x "$POLICY" && ADDED_POLICY=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$ADDED_POLICY" ] && $SUDO rm -f "$POLICY"
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
log "$($PGBOUNCER --version | head -1)"

# --- 2. pgbouncer on a free port ------------------------------------------------------------------
WORK=$(mktemp -d /tmp/loyalty-pgbouncer-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUN_USER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then RUN_USER=postgres; chown postgres "$WORK"; fi  # pgbouncer refuses root
cat > "$WORK/pgbouncer.ini" <<EOF
[databases]
* = host=$PRIMARY_HOST port=$PRIMARY_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir = $WORK
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
max_db_connections = 20
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
admin_users = postgres
EOF
echo '"postgres" ""' > "$WORK/userlist.txt"
[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"/*
BOUNCER_PID=""
cleanup() {
  set +e
  if [ -f "$WORK/pgbouncer.pid" ]; then kill "$(cat "$WORK/pgbouncer.pid")" 2>/dev/null; fi
  [ -n "$BOUNCER_PID" ] && wait "$BOUNCER_PID" 2>/dev/null
  cp "$WORK/pgbouncer.log" "$OUT/pgbouncer.log" 2>/dev/null
  rm -rf "$WORK"
  if [ -z "${BENCH_KEEP:-}" ]; then
    psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null
  fi
  # the scenarios' test database: kept by pytest (--reuse-db: its DROP would meet the pooler's idle
  # server connections), dropped here once the pooler is gone
  psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS test_loyalty_pgbouncer_scenarios WITH (FORCE)" >/dev/null
  log "cleaned up: pgbouncer stopped, $WORK removed"
}
trap cleanup EXIT
if [ "$(id -u)" -eq 0 ]; then
  runuser -u postgres -- "$PGBOUNCER" -q "$WORK/pgbouncer.ini" &
else
  "$PGBOUNCER" -q "$WORK/pgbouncer.ini" &
fi
BOUNCER_PID=$!
for _ in $(seq 1 50); do
  psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atc "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.1
done
log "pgbouncer on 127.0.0.1:$PORT (transaction mode, as $RUN_USER) in front of $PRIMARY_HOST:$PRIMARY_PORT"
DIRECT_URL=postgres://postgres@$PRIMARY_HOST:$PRIMARY_PORT/$BENCH_DB
BOUNCER_URL=postgres://postgres@127.0.0.1:$PORT/$BENCH_DB

# --- 3. the API benchmark -------------------------------------------------------------------------
if [ -z "${BENCH_SKIP_API:-}" ]; then
  psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null
  psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qc "CREATE DATABASE $BENCH_DB" >/dev/null
  export DJANGO_SETTINGS_MODULE=bench.api.settings
  DATABASE_URL=$DIRECT_URL .venv/bin/python manage.py migrate -v 0
  DATABASE_URL=$DIRECT_URL .venv/bin/python -m bench.api.setup_data --members "$MEMBERS" > "$OUT/setup.log"
  log "bench database $BENCH_DB: $MEMBERS members"
  for config in pgbouncer direct_noprepare direct_prepare; do
    case $config in
      pgbouncer) url=$BOUNCER_URL; prepare=off ;;
      direct_noprepare) url=$DIRECT_URL; prepare=off ;;
      direct_prepare) url=$DIRECT_URL; prepare=on ;;
    esac
    log "API benchmark: $config (DATABASE_PREPARE=$prepare)"
    DATABASE_URL=$url DATABASE_PREPARE=$prepare BENCH_PORT=${BENCH_PORT:-8766} bench/api/run.sh | tee "$OUT/api-$config.txt"
  done
  # what the pooler did: client and server connections, transactions, average times
  psql -h 127.0.0.1 -p "$PORT" -U postgres -d pgbouncer -c "SHOW STATS" | tee "$OUT/pgbouncer-stats.txt"
  psql -h 127.0.0.1 -p "$PORT" -U postgres -d pgbouncer -c "SHOW POOLS" | tee -a "$OUT/pgbouncer-stats.txt"
fi

# --- 4. the acceptance scenarios ------------------------------------------------------------------
log "acceptance scenarios through pgbouncer (DATABASE_PREPARE=off)"
unset DJANGO_SETTINGS_MODULE
DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/loyalty_pgbouncer_scenarios DATABASE_PREPARE=off \
  .venv/bin/pytest tests/api/test_acceptance.py -q -p no:cacheprovider -p no:randomly --create-db --reuse-db 2>&1 \
  | tee "$OUT/acceptance.txt" | tail -3
psql -h 127.0.0.1 -p "$PORT" -U postgres -d pgbouncer -c "SHOW STATS" > "$OUT/pgbouncer-stats-after-tests.txt"
grep -q " passed" "$OUT/acceptance.txt" && ! grep -q " failed\| error" "$OUT/acceptance.txt"
