#!/usr/bin/env bash
# audit.sh - what the audit log costs: bench/run.sh's ingest and log-metric scenarios against
# Atelier with `--audit on` and `--audit off`, alternated round by round (on first in odd rounds,
# off first in even ones) in one run on this machine, so that drift in the machine's speed falls
# on both. Each round starts a fresh server with a fresh home. Usage: bash bench/audit.sh
#
# Knobs (environment): BENCH_ROUNDS (default 3), BENCH_DURATION (log-batch seconds, default 15),
# BENCH_SHORT_DURATION (log-metric seconds, default 10), BENCH_WARMUP (2), BENCH_SKIP_BUILD=1.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-15}
SHORT=${BENCH_SHORT_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
LOADGEN_CLK_TCK=$(getconf CLK_TCK)
export LOADGEN_CLK_TCK

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

build_release

begin_run audit

one() { # MODE ROUND
    local mode=$1 out=$RUN_DIR/$1-$2
    mkdir -p "$out"
    rm -rf "$WORK/atelier-home"
    start_atelier --audit "$mode"
    lg create-runs --experiment bench-ingest --count 4 >"$out/runs_ingest.json"
    lg create-runs --experiment bench-metric-1 --count 1 >"$out/runs_metric_1.json"
    lg create-runs --experiment bench-metric-8 --count 4 >"$out/runs_metric_8.json"
    log "audit $mode, round $2: log-batch, 8 clients, ${DURATION} s"
    lg log-batch --runs "$(jfield "$out/runs_ingest.json" run_ids)" --clients 8 --batch 1000 --keys 10 \
        --duration "$DURATION" --warmup "$WARMUP" >"$out/log_batch.json"
    for clients in 1 8; do
        log "audit $mode, round $2: log-metric, $clients client(s), ${SHORT} s"
        lg log-metric --runs "$(jfield "$out/runs_metric_$clients.json" run_ids)" --clients "$clients" \
            --duration "$SHORT" --warmup "$WARMUP" >"$out/log_metric_$clients.json"
    done
    # The records are there: one per logging request.
    curl -fsS -H "Authorization: Bearer $LOADGEN_TOKEN" "$URL/api/v1/audit?limit=1" >"$out/audit_latest.json"
    stop_server
}

for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 == 1 )); then one on "$round"; one off "$round"; else one off "$round"; one on "$round"; fi
done

python3 - "$RUN_DIR" <<'PY'
import json, statistics, sys
from pathlib import Path

run = Path(sys.argv[1])
rows = [("log-batch, 8 clients (metrics/s)", "log_batch", "items_per_s"),
        ("log-metric, 1 client (req/s)", "log_metric_1", "requests_per_s"),
        ("log-metric, 8 clients (req/s)", "log_metric_8", "requests_per_s")]
summary = {}
print(f"{'scenario':36} {'audit on':>12} {'audit off':>12} {'on/off':>8}   (medians of {len(list(run.glob('on-*')))} rounds)")
for label, scenario, field in rows:
    values = {mode: [json.loads((folder / f"{scenario}.json").read_text())[field] for folder in sorted(run.glob(f"{mode}-*"))]
              for mode in ("on", "off")}
    on, off = statistics.median(values["on"]), statistics.median(values["off"])
    summary[scenario] = {"on": values["on"], "off": values["off"], "ratio": on / off}
    print(f"{label:36} {on:12,.0f} {off:12,.0f} {on / off:8.3f}")
for folder in sorted(run.glob("on-*")):
    latest = json.loads((folder / "audit_latest.json").read_text())["records"]
    assert latest and "log-" in latest[0]["target"], f"{folder.name}: the last request was not recorded: {latest}"
(run / "summary.json").write_text(json.dumps(summary, indent=2))
PY
