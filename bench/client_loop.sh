#!/usr/bin/env bash
# client_loop.sh - the real `mlflow` client's loop (issue 17, target 4): per call, `log_metric`
# through MlflowClient and through the fluent API, against the same client's floor (its own HTTP
# session sending a request that does nothing), on Atelier and on `mlflow server`, one after the
# other in one run. Usage: bash bench/client_loop.sh   (see bench/README.md)
#
# Knobs: BENCH_CALLS (calls a round and kind, 500), BENCH_ROUNDS (6), BENCH_VENV,
# BENCH_SKIP_BUILD=1.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CALLS=${BENCH_CALLS:-500}
ROUNDS=${BENCH_ROUNDS:-6}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

mlflow_venv
build_release
begin_run client-loop

measure() { # NAME FLOOR_PATH
    log "$1: $ROUNDS rounds of $CALLS calls of each kind"
    MLFLOW_TRACKING_TOKEN=$LOADGEN_TOKEN "$VENV/bin/python" "$BENCH/client_loop.py" "$URL" "$2" \
        "$RUN_DIR/$1.json" --calls "$CALLS" --rounds "$ROUNDS"
}

start_atelier
measure atelier /healthz
stop_server
start_mlflow
measure mlflow /health
stop_server

"$VENV/bin/python" - "$RUN_DIR" <<'PY'
import json, sys
run = sys.argv[1]
print(f"| per call, p50 (ms) | Atelier | MLflow |\n|---|---:|---:|")
results = {name: json.load(open(f"{run}/{name}.json")) for name in ("atelier", "mlflow")}
for kind, label in (("floor", "floor: GET that does nothing"), ("client", "MlflowClient().log_metric"),
                    ("fluent", "mlflow.log_metric")):
    a, m = results["atelier"][kind], results["mlflow"][kind]
    print(f"| {label} | {a['p50_ms']:.3f} | {m['p50_ms']:.3f} |")
for kind in ("client", "fluent"):
    a, m = results["atelier"][kind], results["mlflow"][kind]
    print(f"| {kind} ÷ floor | {a['ratio_to_floor_p50']:.2f}× | {m['ratio_to_floor_p50']:.2f}× |")
for kind in ("floor", "client", "fluent"):
    a, m = results["atelier"][kind], results["mlflow"][kind]
    print(f"| {kind}: client CPU per call (ms) | {a['client_cpu_ms']:.3f} | {m['client_cpu_ms']:.3f} |")
print(f"\nresults in {run}")
PY
