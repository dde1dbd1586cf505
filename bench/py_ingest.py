#!/usr/bin/env python3
"""Ingest from Python clients, the way a training script's `mlflow` client sends it: N processes,
each with one `requests.Session` (keep-alive), posting `runs/log-batch` requests of 1,000 metrics
(10 keys x 100 steps; MLflow's client sends at most 1,000 metrics a request) back to back for a
fixed time. Reports the metrics acknowledged and the server's CPU time over the load (its whole
process tree, from /proc), as CPU per 1,000 metrics: the figure issue 17's ingest target is stated
in.

    py_ingest.py --url URL --runs ID,ID,... --server-pid PID [--clients 4] [--duration 10]

The bearer token, if any, comes from LOADGEN_TOKEN (as for the load generator). Prints JSON.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402

BATCH_STEPS = 100
KEYS = 10


def client(index, args, runs, token, start, results):
    session = requests.Session()
    session.headers["Content-Type"] = "application/json"
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    run_id = runs[index % len(runs)]
    # Each client logs its own steps, so that every acknowledged point is a distinct point.
    step = index * 100_000_000
    acked = failures = 0
    start.wait()
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        metrics = [
            {"key": f"m{k}", "value": (step + s) * 0.001, "timestamp": 1_700_000_000_000 + step + s, "step": step + s}
            for s in range(BATCH_STEPS)
            for k in range(KEYS)
        ]
        step += BATCH_STEPS
        response = session.post(f"{args.url}/api/2.0/mlflow/runs/log-batch",
                                data=json.dumps({"run_id": run_id, "metrics": metrics}))
        if response.ok:
            acked += len(metrics)
        else:
            failures += 1
    results.put((acked, failures))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--runs", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10)
    args = parser.parse_args()
    runs = args.runs.split(",")
    token = os.environ.get("LOADGEN_TOKEN", "")

    start, results = multiprocessing.Event(), multiprocessing.Queue()
    workers = [multiprocessing.Process(target=client, args=(i, args, runs, token, start, results))
               for i in range(args.clients)]
    for worker in workers:
        worker.start()
    time.sleep(1)  # every client imported and connected before the clock starts
    cpu_before = procstat.reading(args.server_pid)["cpu_s"]
    began = time.monotonic()
    start.set()
    totals = [results.get() for _ in workers]
    wall = time.monotonic() - began
    cpu_after = procstat.reading(args.server_pid)["cpu_s"]
    for worker in workers:
        worker.join()
    acked = sum(a for a, _ in totals)
    server_cpu = cpu_after - cpu_before
    print(json.dumps({
        "scenario": "log-batch from Python requests clients",
        "clients": args.clients,
        "acked_items_total": acked,
        "failures": sum(f for _, f in totals),
        "wall_s": round(wall, 3),
        "items_per_s": round(acked / wall, 1),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_1000": round(server_cpu * 1e6 / acked, 3) if acked else None,
    }))


if __name__ == "__main__":
    main()
