#!/usr/bin/env bash
# assets.sh - issue 4's transfer benchmark: a large file (2 GiB by default) uploaded with
# `atelier data create` and downloaded with `atelier data download`, against `cp` of the same
# file on the same disk in the same run, with the server's memory sampled throughout.
#
# Usage: bash bench/assets.sh        (builds nothing: uses target/release/atelier)
# Environment: ATELIER_BIN (default target/release/atelier), BENCH_SIZE_MB (default 2048),
#              BENCH_DIR (default a fresh folder under /var/tmp, the same disk as the server's).
#
# Before each timed step the page cache is dropped (when this runs as root), so that neither
# cp nor Atelier reads the file from memory; each step ends with sync, so that both have
# written their bytes to disk. Prints a table; the figures go to bench/results/assets-*.json.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${ATELIER_BIN:-$ROOT/target/release/atelier}
SIZE_MB=${BENCH_SIZE_MB:-2048}
[ -x "$BIN" ] || { echo "assets.sh: $BIN not found; cargo build --release --bin atelier" >&2; exit 2; }
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/atelier-assets-bench.XXXXXX)}
mkdir -p "$WORK"
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "assets.sh: $*" >&2; }
now() { date +%s.%N; }
drop_caches() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
rate() { python3 -c "import sys; print(round($SIZE_MB / (float(sys.argv[2]) - float(sys.argv[1])), 1))" "$1" "$2"; }

log "writing a ${SIZE_MB} MiB file of random bytes"
head -c "${SIZE_MB}M" /dev/urandom > "$WORK/big.bin"

drop_caches
started=$(now); cp "$WORK/big.bin" "$WORK/copy.bin"; sync; finished=$(now)
CP_MBS=$(rate "$started" "$finished")
rm -f "$WORK/copy.bin"
log "cp: ${CP_MBS} MiB/s"
# A second baseline with large blocks, in case cp's own strategy (copy_file_range, sparse
# detection) is what is slow here: the ratios below are against the faster of the two.
drop_caches
started=$(now); dd if="$WORK/big.bin" of="$WORK/copy.bin" bs=4M status=none; sync; finished=$(now)
DD_MBS=$(rate "$started" "$finished")
rm -f "$WORK/copy.bin"
log "dd bs=4M: ${DD_MBS} MiB/s"
BASE_MBS=$(python3 -c "print(max($CP_MBS, $DD_MBS))")

PORT=$((17500 + RANDOM % 1000))
"$BIN" server --addr "127.0.0.1:$PORT" --home "$WORK/home" --gc-interval-minutes 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/home/token" ] && (exec 9<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
export ATELIER_URL="http://127.0.0.1:$PORT" ATELIER_TOKEN
ATELIER_TOKEN=$(cat "$WORK/home/token")
python3 "$ROOT/bench/procstat.py" sample "$SERVER_PID" "$WORK/rss.json" &
SAMPLER_PID=$!
IDLE_KB=$(python3 "$ROOT/bench/procstat.py" once "$SERVER_PID" | python3 -c "import json,sys; print(json.load(sys.stdin)['rss_kb'])")

drop_caches
started=$(now); "$BIN" data create -n big -t uri_file -p "$WORK/big.bin" >/dev/null 2>"$WORK/upload.err"; sync; finished=$(now)
UP_MBS=$(rate "$started" "$finished")
log "upload: ${UP_MBS} MiB/s"

drop_caches
started=$(now); "$BIN" data download -n big -v 1 -p "$WORK/down" >/dev/null; sync; finished=$(now)
DOWN_MBS=$(rate "$started" "$finished")
log "download: ${DOWN_MBS} MiB/s"
cmp -s "$WORK/big.bin" "$WORK/down/big/big.bin" || { echo "assets.sh: the downloaded file differs" >&2; exit 1; }

kill -TERM "$SAMPLER_PID"; wait "$SAMPLER_PID" || true; SAMPLER_PID=""
MAX_KB=$(python3 -c "import json; print(json.load(open('$WORK/rss.json'))['max_rss_kb'])")
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/assets-$(date +%Y%m%d-%H%M%S).json"
python3 - "$OUT" <<PY
import json, sys
figures = {"size_mib": $SIZE_MB, "cp_mib_s": $CP_MBS, "dd_mib_s": $DD_MBS, "baseline_mib_s": $BASE_MBS,
           "upload_mib_s": $UP_MBS, "download_mib_s": $DOWN_MBS,
           "upload_vs_cp": round($UP_MBS / $BASE_MBS, 3), "download_vs_cp": round($DOWN_MBS / $BASE_MBS, 3),
           "server_idle_rss_mb": round($IDLE_KB / 1024, 1), "server_max_rss_mb": round($MAX_KB / 1024, 1)}
json.dump(figures, open(sys.argv[1], "w"), indent=2)
print(f"{'':28} {'MiB/s':>8} {'vs copy':>8}")
print(f"{'cp (same disk)':28} {figures['cp_mib_s']:8.1f}")
print(f"{'dd bs=4M (same disk)':28} {figures['dd_mib_s']:8.1f}")
print(f"{'atelier data create (up)':28} {figures['upload_mib_s']:8.1f} {figures['upload_vs_cp']:8.2f}")
print(f"{'atelier data download':28} {figures['download_mib_s']:8.1f} {figures['download_vs_cp']:8.2f}")
print(f"server RSS: {figures['server_idle_rss_mb']} MB idle, {figures['server_max_rss_mb']} MB at most during the transfers")
PY
