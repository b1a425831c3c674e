#!/usr/bin/env bash
# Runs a throwaway Confluent-compatible schema registry (Apicurio Registry 2.4.2, in-memory
# storage) for tests and CI, built from its artifacts on Maven Central (no Docker).
#   bash scripts/schema-registry/registry.sh build|start [port]|stop [port]|status [port]
# `start` prints the Confluent API base URL (…/apis/ccompat/v7) on stdout once it answers.
# See scripts/schema-registry/README.md for the environment variables.
set -euo pipefail

REGISTRY_VERSION=2.4.2 # keep in step with pom.xml
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/pom.xml"
CACHE="${TILECAST_SCHEMA_REGISTRY_CACHE:-$HOME/.cache/tilecast-schema-registry/$REGISTRY_VERSION}"
PORT="${2:-${SCHEMA_REGISTRY_PORT:-18081}}"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "registry.sh: port must be a number, got '$PORT'" >&2; exit 2; }
DATA="${TILECAST_SCHEMA_REGISTRY_DATA:-/tmp/tilecast-schema-registry-$PORT}"
START_TIMEOUT="${SCHEMA_REGISTRY_START_TIMEOUT:-90}" # seconds until the API answers
STOP_TIMEOUT="${SCHEMA_REGISTRY_STOP_TIMEOUT:-20}"   # seconds of SIGTERM grace before SIGKILL

RUNNER="$CACHE/build/target/tilecast-schema-registry-$REGISTRY_VERSION-runner.jar"
PID_FILE="$DATA/registry.pid"
LOG_FILE="$DATA/registry.log"
API="http://127.0.0.1:$PORT/apis/ccompat/v7"

log() { echo "registry.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Marker content = hash of pom.xml, so editing the pom (e.g. a version bump) rebuilds.
pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

build() {
  local marker="$CACHE/.complete"
  if [[ -f "$marker" && "$(cat "$marker")" == "$(pom_hash)" && -f "$RUNNER" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (needed once to build the registry)"
  command -v java >/dev/null || die "java not found (Java 17+ runs the registry)"
  log "building Apicurio Registry $REGISTRY_VERSION into $CACHE/build (a few minutes on a cold Maven repository)"
  # Start from an empty dir: a half-finished or older build would leave stray jars in lib/.
  rm -rf "$CACHE/build" "$marker"
  mkdir -p "$CACHE/build"
  cp "$POM" "$CACHE/build/pom.xml"
  if ! mvn -B -Dstyle.color=never -f "$CACHE/build/pom.xml" package >"$CACHE/build.log" 2>&1; then
    grep -E '\[ERROR\]' "$CACHE/build.log" | head -n 15 >&2 || tail -n 30 "$CACHE/build.log" >&2
    die "maven build failed (full log: $CACHE/build.log)"
  fi
  [[ -f "$RUNNER" ]] || die "build finished but $RUNNER is missing (log: $CACHE/build.log)"
  pom_hash >"$marker"
  log "built $RUNNER"
}

running_pid() { # prints the pid if the pid file names a live registry of this cache
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  is_registry "$pid" || return 1
  echo "$pid"
}

# The cmdline check guards against pid reuse and is false for an exited (zombie) process.
is_registry() { [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")" == *"tilecast-schema-registry-"*"-runner.jar"* ]]; }

wait_exit() { # pid, seconds
  local deadline=$((SECONDS + $2))
  while is_registry "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

answers() { curl -fsS -m 2 -o /dev/null "$API/subjects" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_errors() {
  grep -hE 'ERROR|Caused by|Exception' "$LOG_FILE" 2>/dev/null | tail -n 12 >&2 || true
}

start() {
  local pid
  if pid="$(running_pid)"; then
    if answers; then
      log "already running (pid $pid)"
      echo "$API"
      return 0
    fi
    log "registry pid $pid is running but does not answer; restarting it"
    stop
  fi
  port_open "$PORT" && die "port $PORT is already in use by another process (give another port: registry.sh start <port>)"
  command -v curl >/dev/null || die "curl not found (used to wait until the registry answers)"

  build
  mkdir -p "$DATA"
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  local t0=$SECONDS
  # setsid: own session, so the caller's Ctrl-C or process-group cleanup does not hit it.
  # The inner shell records its own pid and then becomes java (exec), so the pid is exact.
  # All std streams go to a file: an inherited pipe would keep `$(registry.sh start)` waiting.
  # Storage is in-memory H2 (the default): schemas and ids are gone after a restart.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" \
    java -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
    -Dquarkus.datasource.jdbc.initial-size=2 -Dquarkus.datasource.jdbc.min-size=2 -Dquarkus.datasource.jdbc.max-size=10 \
    -jar "$RUNNER" </dev/null >"$LOG_FILE" 2>&1 &

  local deadline=$((SECONDS + START_TIMEOUT))
  until answers; do
    if ((SECONDS >= deadline)); then
      show_errors
      stop || true
      die "registry did not answer $API/subjects within ${START_TIMEOUT}s (log: $LOG_FILE)"
    fi
    if [[ -f "$PID_FILE" ]] && ! running_pid >/dev/null; then
      show_errors
      die "registry exited during startup (log: $LOG_FILE)"
    fi
    sleep 0.2
  done
  log "ready after $((SECONDS - t0))s (pid $(cat "$PID_FILE")) at $API"
  echo "$API"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running on port $PORT"
    return 0
  fi
  kill -TERM "$pid"
  if ! wait_exit "$pid" "$STOP_TIMEOUT"; then
    log "no exit ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 5 || die "pid $pid survived SIGKILL"
  fi
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    if answers; then
      echo "running (pid $pid) at $API, log in $LOG_FILE"
    else
      echo "starting or unhealthy (pid $pid): $API/subjects does not answer"
      return 1
    fi
  else
    echo "not running on port $PORT"
    return 3
  fi
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 build|start [port]|stop [port]|status [port]" >&2; exit 2 ;;
esac
