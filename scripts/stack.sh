#!/usr/bin/env bash
# stack.sh brings up what Windflow needs on a laptop or CI machine, starting
# only what is missing: a Docker engine, PostgreSQL, the Temporal dev server
# with its Web UI, and Chromium for the browser tests. It is idempotent. It
# writes the addresses to .data/stack.env (source it) and the components it
# started in this run to .data/started.
#
#   scripts/stack.sh        bring up what is missing
#   scripts/stack.sh down   stop what an earlier run of this script started
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA="$ROOT/.data"
BIN="$ROOT/bin"
TEMPORAL_CLI_VERSION=v1.5.1
PG_PORT=${WINDFLOW_PG_PORT:-55432}
TEMPORAL_PORT=${WINDFLOW_TEMPORAL_PORT:-7233}
TEMPORAL_UI_PORT=${WINDFLOW_TEMPORAL_UI_PORT:-8233}
mkdir -p "$DATA" "$BIN"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # wait_for <seconds> <description> <command...>
  local n=$1 what=$2; shift 2
  for _ in $(seq "$n"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  die "$what did not come up within ${n}s"
}

# stop_pidfile <file> [seconds]: SIGTERM the process and wait until it has
# exited (SIGKILL after 30 s, or the given seconds). Without the wait, the next run's health check could
# be answered by a server still shutting down, while its replacement waits
# for the port or the database file, and the tests of the next run would
# find nothing listening for their first seconds.
stop_pidfile() {
  local file=$1 wait=${2:-30} pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file"); rm -f "$file"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq $((wait * 10))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid still running ${wait} s after SIGTERM: SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# ---------------------------------------------------------------- down
if [ "${1:-}" = down ]; then
  for part in $(cat "$DATA/started" 2>/dev/null); do
    case $part in
      temporal) stop_pidfile "$DATA/temporal.pid"; log "stopped temporal" ;;
      postgres) pgdir=$(cat "$DATA/pgdir")
                if [ "$(id -u)" = 0 ]; then runuser -u postgres -- pg_ctl -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
                else pg_ctl -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true; fi
                log "stopped postgres" ;;
      docker)   stop_pidfile "$DATA/dockerd.pid" 60; log "stopped dockerd" ;;
    esac
  done
  rm -f "$DATA/started"
  exit 0
fi

: > "$DATA/started.new"

# ---------------------------------------------------------------- Docker
docker_answers() {
  local host=$1
  case $host in
    unix://*) curl -sf --max-time 3 --unix-socket "${host#unix://}" http://localhost/_ping ;;
    tcp://*)  curl -sf --max-time 3 "http://${host#tcp://}/_ping" ;;
    *) return 1 ;;
  esac
}
DOCKER_HOST_OUT=${DOCKER_HOST:-unix:///var/run/docker.sock}
if ! docker_answers "$DOCKER_HOST_OUT" >/dev/null 2>&1; then
  if [ -n "${DOCKER_HOST:-}" ]; then die "DOCKER_HOST=$DOCKER_HOST does not answer"; fi
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  log "starting dockerd (no bridge, no iptables: only loopback traffic is allowed here)"
  dockerd_args=(dockerd --bridge=none --iptables=false --ip6tables=false --host=unix:///var/run/docker.sock)
  # Started directly (not through a function, which would fork a subshell)
  # so that dockerd.pid is dockerd's own pid and `down` stops it.
  if [ "$(id -u)" = 0 ]; then nohup "${dockerd_args[@]}" >"$DATA/dockerd.log" 2>&1 &
  else sudo nohup "${dockerd_args[@]}" >"$DATA/dockerd.log" 2>&1 &
  fi
  echo $! > "$DATA/dockerd.pid"
  echo docker >> "$DATA/started.new"
  wait_for 60 "dockerd (see .data/dockerd.log)" docker_answers "$DOCKER_HOST_OUT"
fi
# The tests build their image from Debian's static busybox (no registry is reachable).
if [ ! -x /bin/busybox ] || ! /bin/busybox --list 2>/dev/null | grep -qx sh; then
  apt_install busybox-static
fi

# ---------------------------------------------------------------- Chromium
# The browser tests (internal/browsertest) drive a headless Chromium.
if [ -n "${WINDFLOW_CHROMIUM:-}" ]; then
  [ -x "$WINDFLOW_CHROMIUM" ] || die "WINDFLOW_CHROMIUM=$WINDFLOW_CHROMIUM is not executable"
  CHROMIUM_OUT=$WINDFLOW_CHROMIUM
else
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
    apt_install chromium
  CHROMIUM_OUT=$(command -v chromium || command -v chromium-browser) ||
    die "chromium is not on PATH after installing it"
fi

# ---------------------------------------------------------------- PostgreSQL
pg_answers() { pg_isready -q -d "$1"; }
if [ -n "${DATABASE_URL:-}" ]; then
  pg_answers "$DATABASE_URL" || die "DATABASE_URL does not answer"
  DATABASE_URL_OUT=$DATABASE_URL
else
  DATABASE_URL_OUT="postgres://postgres@127.0.0.1:$PG_PORT/windflow?sslmode=disable"
  if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
    PGBIN=/usr/lib/postgresql/15/bin
    [ -x "$PGBIN/initdb" ] || apt_install postgresql-15
    # PostgreSQL refuses to run as root: run it as the postgres user, in a
    # directory that user can reach (.data when its parents are traversable).
    pgdir="$DATA/pg"
    run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    mkdir -p "$pgdir"
    [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
    if ! run_pg test -w "$pgdir"; then
      pgdir="/tmp/windflow-pg-$(echo "$ROOT" | md5sum | cut -c1-8)"
      mkdir -p "$pgdir"; [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
    fi
    echo "$pgdir" > "$DATA/pgdir"
    if [ ! -f "$pgdir/data/PG_VERSION" ]; then
      log "initdb in $pgdir/data"
      run_pg "$PGBIN/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
    fi
    log "starting postgres on 127.0.0.1:$PG_PORT"
    run_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w \
      -o "-p $PG_PORT -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
    echo postgres >> "$DATA/started.new"
  fi
  if ! psql -qtA "postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable" \
       -c "select 1 from pg_database where datname='windflow'" | grep -q 1; then
    psql -q "postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable" -c "create database windflow"
  fi
fi

# ---------------------------------------------------------------- Temporal
TEMPORAL="$BIN/temporal"
if [ ! -x "$TEMPORAL" ]; then
  log "building the Temporal CLI $TEMPORAL_CLI_VERSION into bin/ (about 3 minutes, once)"
  GOBIN="$BIN" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
fi
TEMPORAL_ADDRESS_OUT=${TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}
temporal_answers() { "$TEMPORAL" operator cluster health --address "$1" 2>/dev/null | grep -q SERVING; }
if ! temporal_answers "$TEMPORAL_ADDRESS_OUT"; then
  if [ -n "${TEMPORAL_ADDRESS:-}" ]; then die "TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS does not answer"; fi
  log "starting the Temporal dev server on $TEMPORAL_ADDRESS_OUT (Web UI :$TEMPORAL_UI_PORT)"
  nohup setsid "$TEMPORAL" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" \
    --ui-port "$TEMPORAL_UI_PORT" --db-filename "$DATA/temporal.db" --log-level warn \
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
    --search-attribute WindflowEnvironment=Keyword \
    >"$DATA/temporal.log" 2>&1 < /dev/null &
  echo $! > "$DATA/temporal.pid"
  echo temporal >> "$DATA/started.new"
  wait_for 90 "temporal dev server (see .data/temporal.log)" temporal_answers "$TEMPORAL_ADDRESS_OUT"
fi
TEMPORAL_UI_URL_OUT=${TEMPORAL_UI_URL:-http://127.0.0.1:$TEMPORAL_UI_PORT}

cat "$DATA/started.new" >> "$DATA/started"; rm -f "$DATA/started.new"
cat > "$DATA/stack.env" <<ENV
export DOCKER_HOST='$DOCKER_HOST_OUT'
export DATABASE_URL='$DATABASE_URL_OUT'
export TEMPORAL_ADDRESS='$TEMPORAL_ADDRESS_OUT'
export TEMPORAL_UI_URL='$TEMPORAL_UI_URL_OUT'
export WINDFLOW_CHROMIUM='$CHROMIUM_OUT'
ENV
log "docker engine: $DOCKER_HOST_OUT"
log "postgres:      $DATABASE_URL_OUT"
log "temporal:      $TEMPORAL_ADDRESS_OUT (Web UI $TEMPORAL_UI_URL_OUT)"
log "chromium:      $CHROMIUM_OUT"
