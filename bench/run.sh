#!/usr/bin/env bash
# Atelier vs `mlflow server`: the same scenarios against both servers, one after the other, on this
# machine, in one run. Usage: bash bench/run.sh   (see bench/README.md)
#
# Knobs (environment): BENCH_DURATION (measured seconds of log-batch, default 15),
# BENCH_SHORT_DURATION (log-metric, search, history; default 10), BENCH_WARMUP (default 2),
# BENCH_SEARCH_RUNS (2000), BENCH_HISTORY_POINTS (100000), BENCH_VENV (MLflow venv, default
# bench/.venv), BENCH_SKIP_BUILD=1 (use the release binaries already built), BENCH_PG_URL (a
# PostgreSQL URL whose user may create databases: Atelier is then also measured on PostgreSQL,
# in a database atelier_bench_run made fresh on that server).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
DURATION=${BENCH_DURATION:-15}
SHORT=${BENCH_SHORT_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
SEARCH_RUNS=${BENCH_SEARCH_RUNS:-2000}
HISTORY_POINTS=${BENCH_HISTORY_POINTS:-100000}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
LOADGEN_CLK_TCK=$(getconf CLK_TCK)
export LOADGEN_CLK_TCK

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

# 1. MLflow, pinned, in its own venv.
mlflow_venv

# 2. Release builds of the server and the load generator.
build_release
BENCH_GIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || true)
export BENCH_GIT

begin_run run

rss_once() { python3 "$BENCH/procstat.py" once "$SERVER_PID"; }

check_alive() { # NAME SCENARIO
    kill -0 "$SERVER_PID" 2>/dev/null && return 0
    tail -n 40 "$WORK/$1.log" >&2
    die "$1 died during $2 (the last lines of its log are above)"
}

bench_server() { # NAME
    local name=$1 out=$RUN_DIR/$1
    mkdir -p "$out"
    sleep 3
    rss_once >"$out/rss_idle_start.json"
    log "$name: idle RSS at start $(jfield "$out/rss_idle_start.json" rss_kb) kB"

    log "$name: setup: $SEARCH_RUNS runs for search, $HISTORY_POINTS points for history"
    lg setup-search --experiment bench-search --runs "$SEARCH_RUNS" --clients 8 >"$out/setup_search.json"
    lg setup-history --experiment bench-history --points "$HISTORY_POINTS" --clients 4 >"$out/setup_history.json"
    lg create-runs --experiment bench-ingest --count 4 >"$out/runs_ingest.json"
    lg create-runs --experiment bench-ingest-python --count 4 >"$out/runs_ingest_python.json"
    lg create-runs --experiment bench-metric-1 --count 1 >"$out/runs_metric_1.json"
    lg create-runs --experiment bench-metric-8 --count 4 >"$out/runs_metric_8.json"
    log "$name: setup took $(jfield "$out/setup_search.json" setup_s) s + $(jfield "$out/setup_history.json" setup_s) s"
    sleep 3
    rss_once >"$out/rss_idle_setup.json"

    log "$name: (a) log-batch, 8 clients, 1,000 metrics a batch, ${DURATION} s"
    python3 "$BENCH/procstat.py" sample "$SERVER_PID" "$out/rss_ingest.json" &
    SAMPLER_PID=$!
    rss_once >"$out/cpu_before_ingest.json"
    lg log-batch --runs "$(jfield "$out/runs_ingest.json" run_ids)" --clients 8 --batch 1000 --keys 10 \
        --duration "$DURATION" --warmup "$WARMUP" >"$out/log_batch.json"
    rss_once >"$out/cpu_after_ingest.json"
    kill -TERM "$SAMPLER_PID"; wait "$SAMPLER_PID" || true; SAMPLER_PID=""
    check_alive "$name" log-batch
    # What the load leaves behind (Atelier summarises each long series once it is quiet),
    # measured before anything else runs, and so that the next scenario starts on a quiet server.
    python3 "$BENCH/procstat.py" quiet "$SERVER_PID" >"$out/after_ingest.json"
    log "$name: background CPU after (a): $(jfield "$out/after_ingest.json" cpu_s) s"
    lg count --runs "$(jfield "$out/runs_ingest.json" run_ids)" --keys m0,m1,m2,m3,m4,m5,m6,m7,m8,m9 \
        >"$out/log_batch_count.json"

    log "$name: (a) log-batch from 4 Python requests clients, 1,000 metrics a batch, ${SHORT} s"
    "$VENV/bin/python" "$BENCH/py_ingest.py" --url "$URL" --runs "$(jfield "$out/runs_ingest_python.json" run_ids)" \
        --server-pid "$SERVER_PID" --clients 4 --duration "$SHORT" >"$out/log_batch_python.json"
    check_alive "$name" log-batch-python
    python3 "$BENCH/procstat.py" quiet "$SERVER_PID" >"$out/after_ingest_python.json"
    lg count --runs "$(jfield "$out/runs_ingest_python.json" run_ids)" --keys m0,m1,m2,m3,m4,m5,m6,m7,m8,m9 \
        >"$out/log_batch_python_count.json"

    for clients in 1 8; do
        log "$name: (b) log-metric, $clients client(s), ${SHORT} s"
        lg log-metric --runs "$(jfield "$out/runs_metric_$clients.json" run_ids)" --clients "$clients" \
            --duration "$SHORT" --warmup "$WARMUP" >"$out/log_metric_$clients.json"
        check_alive "$name" log-metric
        lg count --runs "$(jfield "$out/runs_metric_$clients.json" run_ids)" --keys single \
            >"$out/log_metric_${clients}_count.json"
    done

    log "$name: (c) search-runs over $SEARCH_RUNS runs, filter + order_by, ${SHORT} s"
    lg search --experiment-id "$(jfield "$out/setup_search.json" experiment_id)" \
        --filter "metrics.acc > 0.5 and params.lr = '0.01'" --order-by "metrics.acc DESC" \
        --clients 1 --duration "$SHORT" --warmup 1 >"$out/search.json"
    check_alive "$name" search
    log "$name: (c) search-runs, the same filter and order, a page of 100, ${SHORT} s"
    lg search --experiment-id "$(jfield "$out/setup_search.json" experiment_id)" \
        --filter "metrics.acc > 0.5 and params.lr = '0.01'" --order-by "metrics.acc DESC" --max-results 100 \
        --clients 1 --duration "$SHORT" --warmup 1 >"$out/search_100.json"
    check_alive "$name" search
    log "$name: (c) search-runs, no filter, newest first, a page of 1,000, ${SHORT} s"
    lg search --experiment-id "$(jfield "$out/setup_search.json" experiment_id)" \
        --filter "" --order-by "attributes.start_time DESC" --max-results 1000 \
        --clients 1 --duration "$SHORT" --warmup 1 >"$out/search_1000.json"
    check_alive "$name" search

    log "$name: (d) get-history of $HISTORY_POINTS points (pages of 25,000), ${SHORT} s"
    rss_once >"$out/cpu_before_history.json"
    lg history --run-id "$(jfield "$out/setup_history.json" run_id)" --key hist \
        --clients 1 --duration "$SHORT" --warmup 1 --max-requests 5000 >"$out/history.json"
    rss_once >"$out/cpu_after_history.json"
    check_alive "$name" history

    rss_once >"$out/rss_end.json"
}

log "results in $RUN_DIR"
log "starting Atelier"
start_atelier
bench_server atelier
cp "$WORK/atelier.log" "$RUN_DIR/atelier/server.log"
stop_server

if [[ -n "${BENCH_PG_URL:-}" ]]; then
    # The same scenarios against Atelier on PostgreSQL, in a database made fresh for the run.
    log "starting Atelier on PostgreSQL"
    psql "$BENCH_PG_URL" -qc "DROP DATABASE IF EXISTS atelier_bench_run" -c "CREATE DATABASE atelier_bench_run"
    rm -rf "$WORK/atelier-home"
    start_atelier --store "${BENCH_PG_URL%/*}/atelier_bench_run"
    bench_server atelier-pg
    cp "$WORK/atelier.log" "$RUN_DIR/atelier-pg/server.log"
    stop_server
fi

log "starting mlflow server $MLFLOW_VERSION"
start_mlflow
bench_server mlflow
cp "$WORK/mlflow.log" "$RUN_DIR/mlflow/server.log"
stop_server

python3 "$BENCH/report.py" "$RUN_DIR" "$BENCH/results/latest.json"
