#!/usr/bin/env bash
# audit-instructions.sh - what the audit log costs, counted in CPU instructions instead of time.
# On a shared two-core machine, throughput and CPU time swing by a third between identical runs;
# the instructions a request executes do not. Each scenario runs the release server under
# valgrind's callgrind with `--audit on` and with `--audit off`, warms it up, zeroes the counters,
# drives a fixed-length load with the load generator and divides the instructions the server
# executed (every thread, SQLite's included) by the requests it acknowledged.
#
# Scenarios: log-metric from 1 client (every commit holds one request, so on and off compare
# like for like), log-batch from 1 client (1,000 metrics a request), and log-metric from 8
# clients. Under valgrind the server's threads take turns, so at 8 clients the size of the
# groups the batch writer commits differs from a native run and between the two modes: read that
# row as an indication only. Syscalls (the write-ahead log's writes) are counted as the
# instructions that issue them, not as the kernel's time.
#
# Each load is a fixed number of requests (warm-up and measured alike), not a fixed time: what a
# commit costs SQLite depends on where the write-ahead log stands (its index's hash chains grow
# as it fills), so on and off are compared after the same number of commits from a fresh home.
#
# Usage: bash bench/audit-instructions.sh   (needs valgrind; BENCH_SKIP_BUILD=1 skips the build;
# BENCH_REQUESTS sets the measured requests of the log-metric loads, default 6000; log-batch
# sends a fortieth of that)
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
REQUESTS=${BENCH_REQUESTS:-6000}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"
build_release

begin_run audit-instructions

one() { # MODE NAME SCENARIO CLIENTS REQUESTS [LOADGEN ARGS...]
    local mode=$1 name=$2 scenario=$3 clients=$4 requests=$5 out=$RUN_DIR/$1-$2
    shift 5
    mkdir -p "$out"
    rm -rf "$WORK/atelier-home"
    local port
    port=$(free_port)
    URL=http://127.0.0.1:$port
    setsid valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
        "$BIN/atelier" server --addr "127.0.0.1:$port" --home "$WORK/atelier-home" --audit "$mode" \
        >"$WORK/atelier.log" 2>&1 &
    SERVER_PID=$!
    wait_healthy "$URL/healthz" "$WORK/atelier.log"
    for _ in $(seq 1 50); do [[ -s "$WORK/atelier-home/token" ]] && break; sleep 0.1; done
    LOADGEN_TOKEN=$(tr -d '[:space:]' <"$WORK/atelier-home/token")
    export LOADGEN_TOKEN
    "$BIN/loadgen" --url "$URL" create-runs --experiment bench --count 4 >"$out/runs.json"
    local runs
    runs=$(jfield "$out/runs.json" run_ids)
    log "audit $mode: $name (warming up)"
    "$BIN/loadgen" --url "$URL" "$scenario" --runs "$runs" --clients "$clients" "$@" --duration 600 \
        --max-requests $((requests / 10)) --warmup 0 >/dev/null
    callgrind_control --zero "$SERVER_PID" >/dev/null
    log "audit $mode: $name, $requests requests"
    "$BIN/loadgen" --url "$URL" "$scenario" --runs "$runs" --clients "$clients" "$@" \
        --duration 600 --max-requests "$requests" --warmup 0 >"$out/load.json"
    callgrind_control --dump "$SERVER_PID" >/dev/null
    stop_server
}

for mode in on off; do
    one "$mode" log-metric-1 log-metric 1 "$REQUESTS"
    one "$mode" log-batch-1 log-batch 1 $((REQUESTS / 40)) --batch 1000 --keys 10
    one "$mode" log-metric-8 log-metric 8 "$REQUESTS"
done

python3 - "$RUN_DIR" <<'PY'
import json, re, sys
from pathlib import Path

run = Path(sys.argv[1])

def per_request(folder):
    load = json.loads((folder / "load.json").read_text())
    # The dump taken after the load (callgrind.out.1); the file written at exit holds the stop.
    text = (folder / "callgrind.out.1").read_text()
    instructions = int(re.search(r"^totals:\s+(\d+)", text, re.M).group(1))
    return instructions / load["acked_requests_total"], load["acked_requests_total"]

summary = {}
print(f"{'scenario':24} {'on (instr/request)':>20} {'off':>12} {'on/off':>8}")
for name in ("log-metric-1", "log-batch-1", "log-metric-8"):
    (on, on_n), (off, off_n) = per_request(run / f"on-{name}"), per_request(run / f"off-{name}")
    summary[name] = {"on": on, "off": off, "ratio": on / off, "requests": {"on": on_n, "off": off_n}}
    print(f"{name:24} {on:20,.0f} {off:12,.0f} {on / off:8.3f}")
(run / "summary.json").write_text(json.dumps(summary, indent=2))
PY
