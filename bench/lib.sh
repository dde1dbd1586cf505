#!/usr/bin/env bash
# lib.sh - what the benchmark scripts share: the release build, a run's folders, logging, free
# ports, starting and stopping a server in its own session, and reading the load generator's JSON.
# Sourced; it expects ROOT (the checkout) and BIN (the release binaries' folder); begin_run sets
# WORK (a scratch folder), RUN_DIR and SERVER_PID/SAMPLER_PID.

# Builds the server and the load generator in release mode (unless BENCH_SKIP_BUILD=1) and checks
# that both are there.
build_release() {
    if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
        log "cargo build --release -p atelier-cli -p atelier-loadgen"
        (cd "$ROOT" && cargo build --release -p atelier-cli -p atelier-loadgen)
    fi
    [[ -x "$BIN/atelier" && -x "$BIN/loadgen" ]] || die "missing $BIN/atelier or $BIN/loadgen"
}

# A run's folders: a scratch WORK removed on exit (with the server stopped), and
# RUN_DIR=bench/results/NAME-<time> for its results.
begin_run() { # NAME
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/atelier-$1.XXXXXX")
    RUN_DIR=$BENCH/results/$1-$(date +%Y%m%dT%H%M%S)
    mkdir -p "$RUN_DIR"
    SERVER_PID=""
    SAMPLER_PID=""
    trap cleanup EXIT
}

# MLflow, pinned, in its own venv VENV (default bench/.venv, or BENCH_VENV), installed with uv
# unless it is there already (3.18.0 does not install from the registry here).
MLFLOW_VERSION=3.17.2
VENV=${BENCH_VENV:-$BENCH/.venv}
mlflow_venv() {
    if "$VENV/bin/python" -c "import mlflow, sys; sys.exit(mlflow.__version__ != '$MLFLOW_VERSION')" 2>/dev/null; then
        log "MLflow $MLFLOW_VERSION already in $VENV"
    else
        log "installing mlflow==$MLFLOW_VERSION into $VENV with uv"
        local uv
        if command -v uv >/dev/null 2>&1; then uv=(uv); else
            python3 -m pip install --quiet uv
            uv=(python3 -m uv)
        fi
        UV_PYTHON_DOWNLOADS=never "${uv[@]}" venv --quiet --allow-existing --python python3 "$VENV"
        "${uv[@]}" pip install --quiet --python "$VENV/bin/python" "mlflow==$MLFLOW_VERSION"
    fi
    "$VENV/bin/python" -c "import mlflow; print('mlflow', mlflow.__version__)" >&2
}

# The load generator against the server started last.
lg() { "$BIN/loadgen" --url "$URL" "$@"; }

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    # The server runs in its own session (setsid): signal its whole process group, which holds
    # MLflow's uvicorn workers too, and nothing else.
    local pgid
    pgid=$(ps -o pgid= -p "$SERVER_PID" 2>/dev/null | tr -d ' ' || true)
    if [[ "$pgid" == "$SERVER_PID" ]]; then kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    else kill -TERM "$SERVER_PID" 2>/dev/null || true; fi
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        if [[ "$pgid" == "$SERVER_PID" ]]; then kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
        else kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

cleanup() {
    [[ -n "$SAMPLER_PID" ]] && kill -TERM "$SAMPLER_PID" 2>/dev/null || true
    stop_server
    rm -rf "$WORK"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_healthy() { # URL LOGFILE
    for _ in $(seq 1 600); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$2" >&2; die "server exited during start"; }
        sleep 0.2
    done
    tail -n 30 "$2" >&2
    die "server not healthy after 120 s"
}

# Reads a field of a JSON file: jfield FILE KEY  (run_ids lists come out comma-separated).
jfield() {
    python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))[sys.argv[2]]
print(",".join(value) if isinstance(value, list) else value)' "$1" "$2"
}

# Drops a file's pages from the page cache (written back first), so that the next start reads it
# as a machine does that did not just write it: a server started from a binary the build has
# just written mapped about 7 MB more of it at start (37 MB against 30 MB of RSS here).
evict_from_cache() { # FILE
    python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1"
}

start_atelier() {
    local port
    evict_from_cache "$BIN/atelier"
    port=$(free_port)
    URL=http://127.0.0.1:$port
    # Extra flags (the audit benchmark's --audit on|off) follow the defaults.
    setsid "$BIN/atelier" server --addr "127.0.0.1:$port" --home "$WORK/atelier-home" "$@" >"$WORK/atelier.log" 2>&1 &
    SERVER_PID=$!
    wait_healthy "$URL/healthz" "$WORK/atelier.log"
    for _ in $(seq 1 50); do [[ -s "$WORK/atelier-home/token" ]] && break; sleep 0.1; done
    LOADGEN_TOKEN=$(tr -d '[:space:]' <"$WORK/atelier-home/token")
    export LOADGEN_TOKEN
}

start_mlflow() { # needs VENV (a venv with mlflow) and WORK
    local port
    port=$(free_port)
    URL=http://127.0.0.1:$port
    mkdir -p "$WORK/mlflow"
    # Default workers (4 uvicorn processes), SQLite backend, proxied artifacts.
    (cd "$WORK/mlflow" && exec setsid "$VENV/bin/mlflow" server \
        --backend-store-uri "sqlite:///$WORK/mlflow/mlflow.db" \
        --serve-artifacts --artifacts-destination "$WORK/mlflow/artifacts" \
        --host 127.0.0.1 --port "$port") >"$WORK/mlflow.log" 2>&1 &
    SERVER_PID=$!
    wait_healthy "$URL/health" "$WORK/mlflow.log"
    # /health answers as soon as the first worker is up; wait for all of them (default 4).
    for _ in $(seq 1 600); do
        (( $(grep -c "Application startup complete" "$WORK/mlflow.log" || true) >= 4 )) && break
        sleep 0.2
    done
    LOADGEN_TOKEN=""
    export LOADGEN_TOKEN
}
