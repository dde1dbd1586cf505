#!/usr/bin/env python3
"""Reads one run's results (bench/results/run-*/{atelier,mlflow}/*.json), prints the comparison
table and writes the combined JSON.   Usage: report.py RUN_DIR OUT_JSON"""

import json
import os
import platform
import subprocess
import sys
import time


def load(run_dir, server):
    folder = os.path.join(run_dir, server)
    data = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as handle:
                data[name[:-5]] = json.load(handle)
    return data


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as handle:
            mem_kb = int(handle.readline().split()[1])
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gb": round(mem_kb / 1e6, 1), "kernel": platform.release()}


def git_revision():
    """The checkout the server was built from (run.sh records it right after the build)."""
    if os.environ.get("BENCH_GIT"):
        return os.environ["BENCH_GIT"]
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        return subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def run_date(run_dir):
    """When the run started: run.sh names its folder run-YYYYmmddTHHMMSS."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.strptime(os.path.basename(run_dir.rstrip("/")), "run-%Y%m%dT%H%M%S"))
    except ValueError:
        return time.strftime("%Y-%m-%dT%H:%M:%S")


def mb(kb):
    return kb * 1024 / 1e6


def pg_columns(sqlite, pg, better):
    """Atelier on PostgreSQL beside Atelier on SQLite: the value, and how many times worse it is."""
    if pg is None:
        return {}
    if better == "higher":
        worse = sqlite / pg if pg else float("inf")
    else:
        worse = pg / sqlite if sqlite else float("inf")
    return {"pg": pg, "pg_vs_sqlite": worse}


def ingest_cpu(data):
    """The server's CPU time over (a), read from /proc before and after the load, per 1,000
    metrics acknowledged (warm-up included on both sides)."""
    cpu = data["cpu_after_ingest"]["cpu_s"] - data["cpu_before_ingest"]["cpu_s"]
    return cpu * 1e6 / max(data["log_batch"]["acked_items_total"], 1)


def main():
    run_dir, out_path = sys.argv[1], sys.argv[2]
    a, m = load(run_dir, "atelier"), load(run_dir, "mlflow")
    # Atelier on PostgreSQL, when the run measured it (BENCH_PG_URL).
    p = load(run_dir, "atelier-pg") if os.path.isdir(os.path.join(run_dir, "atelier-pg")) else None

    rows = []  # (label, atelier, mlflow, ratio, unit, better)

    def row(label, key, field, unit, better, fmt="{:,.1f}"):
        va, vm = a[key][field], m[key][field]
        if better == "higher":
            ratio = va / vm if vm else float("inf")
        else:
            ratio = vm / va if va else float("inf")
        rows.append({"metric": label, "unit": unit, "atelier": va, "mlflow": vm, "ratio": ratio, "better": better, "fmt": fmt,
                     **pg_columns(va, p[key][field] if p else None, better)})
        return ratio

    ratios = {}
    ratios["a"] = row("(a) log-batch 8 clients: metrics/s", "log_batch", "items_per_s", "metrics/s", "higher", "{:,.0f}")
    row("(a) log-batch: p50", "log_batch", "p50_ms", "ms", "lower", "{:,.2f}")
    row("(a) log-batch: p99", "log_batch", "p99_ms", "ms", "lower", "{:,.2f}")
    for data in (a, m, p):
        if data:
            data["log_batch"]["server_cpu_ms_per_1000"] = ingest_cpu(data)
    row("(a) server CPU per 1,000 metrics", "log_batch", "server_cpu_ms_per_1000", "ms", "lower", "{:,.2f}")
    for data in (a, m, p):
        if data:
            data["log_batch"]["after_cpu_ms_per_1000"] = (
                data["after_ingest"]["cpu_s"] * 1e6 / max(data["log_batch"]["acked_items_total"], 1))
    row("(a) then, in the background: server CPU per 1,000 metrics", "log_batch", "after_cpu_ms_per_1000", "ms",
        "lower", "{:,.2f}")
    ratios["py"] = row("(a) log-batch, 4 Python clients: metrics/s", "log_batch_python", "items_per_s", "metrics/s",
                       "higher", "{:,.0f}")
    ratios["py_cpu"] = row("(a) Python clients: server CPU per 1,000 metrics", "log_batch_python",
                           "server_cpu_ms_per_1000", "ms", "lower", "{:,.2f}")
    ratios["b1"] = row("(b) log-metric 1 client: req/s", "log_metric_1", "requests_per_s", "req/s", "higher", "{:,.0f}")
    row("(b) log-metric 1 client: p50", "log_metric_1", "p50_ms", "ms", "lower", "{:,.3f}")
    row("(b) log-metric 1 client: p99", "log_metric_1", "p99_ms", "ms", "lower", "{:,.3f}")
    ratios["b8"] = row("(b) log-metric 8 clients: req/s", "log_metric_8", "requests_per_s", "req/s", "higher", "{:,.0f}")
    row("(b) log-metric 8 clients: p50", "log_metric_8", "p50_ms", "ms", "lower", "{:,.3f}")
    row("(b) log-metric 8 clients: p99", "log_metric_8", "p99_ms", "ms", "lower", "{:,.3f}")
    ratios["c"] = row("(c) search 2,000 runs: p50", "search", "p50_ms", "ms", "lower", "{:,.2f}")
    ratios["c99"] = row("(c) search: p99", "search", "p99_ms", "ms", "lower", "{:,.2f}")
    ratios["c100"] = row("(c) search, filtered page of 100: p50", "search_100", "p50_ms", "ms", "lower", "{:,.2f}")
    ratios["c1000"] = row("(c) search, newest 1,000: p50", "search_1000", "p50_ms", "ms", "lower", "{:,.2f}")
    ratios["d"] = row("(d) get-history 100k points: p50", "history", "p50_ms", "ms", "lower", "{:,.1f}")
    for data in (a, m, p):
        if data:
            # The server's own time for one whole history: its CPU over (d), warm-up included,
            # per history read (the client's parsing, which the p50 includes, is not in it).
            cpu = data["cpu_after_history"]["cpu_s"] - data["cpu_before_history"]["cpu_s"]
            data["history"]["server_cpu_ms"] = cpu * 1e3 / max(data["history"]["acked_requests_total"], 1)
    row("(d) get-history 100k points: server CPU each", "history", "server_cpu_ms", "ms", "lower", "{:,.1f}")
    ratios["d99"] = row("(d) get-history: p99", "history", "p99_ms", "ms", "lower", "{:,.1f}")

    def rss_row(label, key, field):
        va, vm = mb(a[key][field]), mb(m[key][field])
        rows.append({"metric": label, "unit": "MB", "atelier": va, "mlflow": vm, "ratio": vm / va if va else float("inf"),
                     "better": "lower", "fmt": "{:,.1f}", **pg_columns(va, mb(p[key][field]) if p else None, "lower")})

    rss_row("(e) RSS idle, fresh start (sum over processes)", "rss_idle_start", "rss_kb")
    rss_row("(e) RSS idle after setup", "rss_idle_setup", "rss_kb")
    rss_row("(e) RSS max under (a)", "rss_ingest", "max_rss_kb")
    rss_row("(e) PSS idle, fresh start", "rss_idle_start", "pss_kb")
    rss_row("(e) PSS max under (a)", "rss_ingest", "max_pss_kb")

    scenarios = ["log_batch", "log_metric_1", "log_metric_8", "search", "search_100", "search_1000", "history"]
    checks = {}
    for server, data in (("atelier", a), ("mlflow", m)) + ((("atelier-pg", p),) if p else ()):
        failures = {s: data[s]["failures"] for s in scenarios + ["log_batch_python"]}
        stored = {
            "log_batch": (data["log_batch_count"]["points"], data["log_batch"]["acked_items_total"]),
            "log_batch_python": (data["log_batch_python_count"]["points"],
                                 data["log_batch_python"]["acked_items_total"]),
            "log_metric_1": (data["log_metric_1_count"]["points"], data["log_metric_1"]["acked_items_total"]),
            "log_metric_8": (data["log_metric_8_count"]["points"], data["log_metric_8"]["acked_items_total"]),
        }
        checks[server] = {
            "failures": failures,
            "stored_vs_acked": {k: {"stored": v[0], "acked": v[1]} for k, v in stored.items()},
            "zero_failures": all(v == 0 for v in failures.values()),
            "all_acked_stored": all(s >= ack for s, ack in stored.values()),
            "search_rows": data["search"]["items"] // max(data["search"]["requests"], 1),
            "history_points": data["history"]["items"] // max(data["history"]["requests"], 1),
            "samples": {s: data[s]["requests"] for s in scenarios},
        }

    targets = [
        ("(a) log-batch metrics/s >= 30x MLflow", ratios["a"] >= 30, f"{ratios['a']:.1f}x"),
        # Issue 17: server CPU per 1,000 metrics, measured with Python clients, halved from the
        # 8.7 ms it was when the issue was filed.
        ("(a) server CPU per 1,000 metrics from Python clients <= 4.35 ms",
         a["log_batch_python"]["server_cpu_ms_per_1000"] <= 4.35,
         f"{a['log_batch_python']['server_cpu_ms_per_1000']:.2f} ms (loadgen: {a['log_batch']['server_cpu_ms_per_1000']:.2f} ms)"),
        ("(b) log-metric req/s, 1 client >= 50x", ratios["b1"] >= 50, f"{ratios['b1']:.1f}x"),
        ("(b) log-metric req/s, 8 clients >= 30x", ratios["b8"] >= 30, f"{ratios['b8']:.1f}x"),
        ("(c) search >= 20x faster (p50)", ratios["c"] >= 20, f"{ratios['c']:.1f}x (p99 {ratios['c99']:.1f}x)"),
        ("(c) filtered, ordered page of 100 <= 3 ms (p50, at the client)", a["search_100"]["p50_ms"] <= 3,
         f"{a['search_100']['p50_ms']:.2f} ms"),
        ("(c) newest 1,000 runs <= 15 ms (p50, at the client)", a["search_1000"]["p50_ms"] <= 15,
         f"{a['search_1000']['p50_ms']:.2f} ms"),
        ("(d) get-history >= 20x faster (p50)", ratios["d"] >= 20, f"{ratios['d']:.1f}x (p99 {ratios['d99']:.1f}x)"),
        # Issue 17: a 100,000-point history in at most 30 ms of the server's time.
        ("(d) get-history 100k points: server CPU <= 30 ms", a["history"]["server_cpu_ms"] <= 30,
         f"{a['history']['server_cpu_ms']:.1f} ms"),
        ("(e) Atelier idle RSS <= 50 MB", mb(a["rss_idle_start"]["rss_kb"]) <= 50,
         f"{mb(a['rss_idle_start']['rss_kb']):.1f} MB at start, {mb(a['rss_idle_setup']['rss_kb']):.1f} MB after setup"),
        ("Atelier: zero failed requests under load", checks["atelier"]["zero_failures"],
         str(sum(checks["atelier"]["failures"].values())) + " failed"),
        ("Atelier: every acknowledged metric stored", checks["atelier"]["all_acked_stored"],
         ", ".join(f"{k} {v['stored']}/{v['acked']}" for k, v in checks["atelier"]["stored_vs_acked"].items())),
    ]

    if p:
        targets.append(("Atelier on PostgreSQL: zero failed requests, every acknowledged metric stored",
                        checks["atelier-pg"]["zero_failures"] and checks["atelier-pg"]["all_acked_stored"],
                        ", ".join(f"{k} {v['stored']}/{v['acked']}"
                                  for k, v in checks["atelier-pg"]["stored_vs_acked"].items())))
        # Issue 17: every figure on PostgreSQL within 2x of SQLite's, on one machine (memory is
        # Atelier's own process; PostgreSQL's are not counted).
        slower = [r for r in rows if r["unit"] != "MB" and r["pg_vs_sqlite"] > 2]
        targets.append(("PostgreSQL within 2x of SQLite on every throughput and latency figure", not slower,
                        "worst: " + max((f"{r['metric']} {r['pg_vs_sqlite']:.2f}x" for r in rows if r["unit"] != "MB"),
                                        key=lambda text: float(text.rsplit(" ", 1)[1][:-1]))))

    # The table.
    label = lambda r: f"{r['metric']} [{r['unit']}]"
    width = max(len(label(r)) for r in rows) + 2
    print()
    print(f"{'metric':<{width}}{'Atelier':>14}{'MLflow':>14}{'ratio':>10}" + (f"{'Atelier PG':>14}{'PG/SQLite':>11}" if p else ""))
    print("-" * (width + 38 + (25 if p else 0)))
    for r in rows:
        ratio = f"{r['ratio']:,.1f}x"
        print(f"{label(r):<{width}}"
              + f"{r['fmt'].format(r['atelier']):>14}{r['fmt'].format(r['mlflow']):>14}{ratio:>10}"
              + (f"{r['fmt'].format(r['pg']):>14}{r['pg_vs_sqlite']:>10.2f}x" if p else ""))
    print("ratio: Atelier/MLflow for throughput, MLflow/Atelier for latency and memory (higher is better for Atelier)")
    if p:
        print("PG/SQLite: how many times worse Atelier on PostgreSQL is than on SQLite (below 1: better)")
    print()
    print("load generator (same binary for both servers; % of one core over the scenario's wall time):")
    print(f"  {'scenario':<16}{'Atelier cpu%':>14}{'us/req':>10}{'MLflow cpu%':>14}{'us/req':>10}{'samples A/M':>16}")
    for s in scenarios:
        print(f"  {s:<16}{a[s]['loadgen_cpu_pct']:>14.1f}{a[s]['loadgen_cpu_us_per_request']:>10,.0f}"
              f"{m[s]['loadgen_cpu_pct']:>14.1f}{m[s]['loadgen_cpu_us_per_request']:>10,.0f}"
              f"{str(a[s]['requests']) + '/' + str(m[s]['requests']):>16}")
    print()
    for server in ("atelier", "mlflow"):
        c = checks[server]
        print(f"{server}: failures {c['failures']}; stored/acked "
              + ", ".join(f"{k} {v['stored']}/{v['acked']}" for k, v in c["stored_vs_acked"].items())
              + f"; search rows {c['search_rows']}; history points {c['history_points']}")
    print()
    print("targets:")
    for label, met, detail in targets:
        print(f"  [{'met' if met else 'NOT MET'}] {label}: {detail}")

    result = {
        "date": run_date(run_dir),
        "machine": machine(),
        "git": git_revision(),
        "run_dir": run_dir,
        "table": [{k: v for k, v in r.items() if k != "fmt"} for r in rows],
        "targets": [{"target": t, "met": met, "detail": d} for t, met, d in targets],
        "checks": checks,
        "raw": {"atelier": a, "mlflow": m, **({"atelier-pg": p} if p else {})},
    }
    with open(out_path, "w") as handle:
        json.dump(result, handle, indent=2)
    with open(os.path.join(run_dir, "summary.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"\nwritten: {out_path}")


if __name__ == "__main__":
    main()
