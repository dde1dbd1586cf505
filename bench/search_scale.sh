#!/usr/bin/env bash
# Run search at the size of a team's history: Atelier with BENCH_SCALE_RUNS runs (100,000) in
# one experiment, `mlflow server` with as many as it takes in on this machine in a few minutes
# (BENCH_SCALE_MLFLOW_RUNS, 5,000: it creates about 35 runs a second here, so 100,000 would take
# most of an hour). The same three searches against both, one server after the other, in one
# run. Usage: bash bench/search_scale.sh   (see bench/README.md)
#
# Knobs: BENCH_SCALE_SERVERS (which are measured, see below), BENCH_SCALE_RUNS (100000),
# BENCH_SCALE_MLFLOW_RUNS (5000), BENCH_SHORT_DURATION (10 s a search), BENCH_VENV (the MLflow
# venv of run.sh), BENCH_SKIP_BUILD=1, and BENCH_PG_URL (a PostgreSQL server, e.g. the one
# scripts/postgres-up.sh starts: Atelier is then measured on it too, in a database
# atelier_search_scale made afresh).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
RUNS=${BENCH_SCALE_RUNS:-100000}
MLFLOW_RUNS=${BENCH_SCALE_MLFLOW_RUNS:-5000}
SHORT=${BENCH_SHORT_DURATION:-10}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
LOADGEN_CLK_TCK=$(getconf CLK_TCK)
export LOADGEN_CLK_TCK

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

mlflow_venv
build_release

begin_run search-scale

scale_server() { # NAME RUNS
    local name=$1 runs=$2 out=$RUN_DIR/$1
    mkdir -p "$out"
    log "$name: creating $runs runs (2 metrics, 3 params and a tag each; 8 clients)"
    lg setup-search --experiment scale --runs "$runs" --clients 8 >"$out/setup.json"
    log "$name: setup took $(jfield "$out/setup.json" setup_s) s"
    local experiment
    experiment=$(jfield "$out/setup.json" experiment_id)
    sleep 2
    if [[ $name == atelier-postgres ]]; then
        # What autovacuum does within a minute or so of such a load on a live server: searched
        # 2 s after the last insert, PostgreSQL would plan on statistics of nearly empty tables
        # and set the new rows' hint bits during the first searches (measured: 4.0 -> 6.3 ms for
        # the unfiltered page, whose statement did not change).
        log "$name: VACUUM ANALYZE"
        psql "$SCALE_PG_URL" -qc "VACUUM ANALYZE"
    fi
    log "$name: filtered, ordered by a metric, page of 100"
    lg search --experiment-id "$experiment" --filter "metrics.acc > 0.5 and params.lr = '0.01'" \
        --order-by "metrics.acc DESC" --max-results 100 --clients 1 --duration "$SHORT" --warmup 1 \
        >"$out/by_metric.json"
    log "$name: filtered, newest first, page of 100"
    lg search --experiment-id "$experiment" --filter "metrics.acc > 0.5 and params.lr = '0.01'" \
        --order-by "attributes.start_time DESC" --max-results 100 --clients 1 --duration "$SHORT" --warmup 1 \
        >"$out/newest.json"
    log "$name: no filter, ordered by a metric, page of 100"
    lg search --experiment-id "$experiment" --filter "" \
        --order-by "metrics.loss ASC" --max-results 100 --clients 1 --duration "$SHORT" --warmup 1 \
        >"$out/by_metric_unfiltered.json"
    kill -0 "$SERVER_PID" 2>/dev/null || die "$name died during the searches"
}

log "results in $RUN_DIR"
# BENCH_SCALE_SERVERS chooses which are measured (default all three: atelier, atelier-postgres
# when BENCH_PG_URL is set, mlflow), e.g. "atelier-postgres" alone for a million runs on
# PostgreSQL, whose population takes most of the run; figures from separate runs are then
# compared across runs, which the note beside them must say.
SERVERS=${BENCH_SCALE_SERVERS:-atelier atelier-postgres mlflow}
wanted() { [[ " $SERVERS " == *" $1 "* ]]; }
if wanted atelier; then
    start_atelier
    scale_server atelier "$RUNS"
    stop_server
fi
if [[ -n "${BENCH_PG_URL:-}" ]] && wanted atelier-postgres; then
    psql "$BENCH_PG_URL" -qc "DROP DATABASE IF EXISTS atelier_search_scale" -c "CREATE DATABASE atelier_search_scale"
    rm -rf "$WORK/atelier-home"
    SCALE_PG_URL=${BENCH_PG_URL%/*}/atelier_search_scale
    start_atelier --store "$SCALE_PG_URL"
    scale_server atelier-postgres "$RUNS"
    stop_server
fi
if wanted mlflow; then
    start_mlflow
    scale_server mlflow "$MLFLOW_RUNS"
    stop_server
fi

python3 - "$RUN_DIR" "$BENCH/results/search-scale-latest.json" <<'PY'
import json, os, sys
run_dir, out = sys.argv[1], sys.argv[2]
servers = [s for s in ("atelier", "atelier-postgres", "mlflow") if os.path.isdir(os.path.join(run_dir, s))]
read = lambda server, name: json.load(open(os.path.join(run_dir, server, name + ".json")))
setup = {s: read(s, "setup") for s in servers}
print()
print(f"{'search, page of 100 (p50 / p99, ms)':<40}" + "".join(f"{s + ' ' + str(setup[s]['runs'] // 1000) + 'k':>26}" for s in servers))
rows = []
for name, label in [("by_metric", "filtered, by metrics.acc DESC"), ("newest", "filtered, newest first"),
                    ("by_metric_unfiltered", "no filter, by metrics.loss ASC")]:
    figures = {s: read(s, name) for s in servers}
    print(f"{label:<40}" + "".join(f"{figures[s]['p50_ms']:>14.2f} / {figures[s]['p99_ms']:>8.2f}" for s in servers))
    rows.append({"search": label, **{s: {"runs": setup[s]["runs"], "p50_ms": figures[s]["p50_ms"],
                 "p99_ms": figures[s]["p99_ms"], "failures": figures[s]["failures"], "samples": figures[s]["requests"],
                 "loadgen_cpu_pct": figures[s]["loadgen_cpu_pct"]} for s in servers}})
for server, data in setup.items():
    print(f"{server}: {data['runs']} runs created in {data['setup_s']} s ({data['runs'] / data['setup_s']:.0f} runs/s)")
json.dump({"run_dir": run_dir, "rows": rows, "setup": setup}, open(out, "w"), indent=2)
print(f"written: {out}")
PY
