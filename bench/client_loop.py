"""client_loop.py - the real `mlflow` client's per-call loop against one server (issue 17, target 4).

Run by bench/client_loop.sh with the benchmark venv's Python (mlflow installed):

    python client_loop.py URL FLOOR_PATH OUT.json [--calls N] [--rounds R]

MLFLOW_TRACKING_TOKEN (if set) is the bearer token. In one process, alternating R rounds of N
calls each, it times:

- floor: the same HTTP client the mlflow client uses (`mlflow.utils.rest_utils.http_request`,
  one pooled `requests` session, the same auth headers) sending `GET FLOOR_PATH`, a request the
  server answers without work (`/healthz` on Atelier, `/health` on MLflow);
- client: `MlflowClient().log_metric(run_id, key, value, step=i)`, one synchronous call;
- fluent: `mlflow.log_metric(key, value, step=i)` inside `mlflow.start_run`.

It reports per-call medians and p99 (nearest rank over every call), the client process's own CPU
per call (so that what the server adds can be told from what Python spends), and checks that every
acknowledged metric is stored.
"""

import argparse
import json
import os
import sys
import time


def percentile(samples, q):
    ordered = sorted(samples)
    rank = max(1, int(round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("floor_path")
    parser.add_argument("out")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    os.environ["MLFLOW_TRACKING_URI"] = args.url
    import mlflow
    from mlflow.tracking import MlflowClient
    from mlflow.utils.rest_utils import http_request

    client = MlflowClient()
    experiment_id = client.create_experiment(f"client-loop-{int(time.time() * 1000)}")
    run_id = client.create_run(experiment_id).info.run_id
    creds = client._tracking_client.store.get_host_creds()

    def floor(i):
        response = http_request(creds, args.floor_path, "GET")
        if response.status_code != 200:
            raise SystemExit(f"floor: HTTP {response.status_code} from {args.floor_path}")

    def through_client(i):
        client.log_metric(run_id, "client", float(i), step=i)

    mlflow.set_experiment(experiment_id=experiment_id)
    fluent_run = mlflow.start_run()

    def fluent(i):
        mlflow.log_metric("fluent", float(i), step=i)

    kinds = {"floor": floor, "client": through_client, "fluent": fluent}
    steps = {name: 0 for name in kinds}
    samples = {name: [] for name in kinds}
    cpu = {name: 0.0 for name in kinds}
    wall = {name: 0.0 for name in kinds}

    # Warm-up: connections open, code paths loaded.
    for name, call in kinds.items():
        for _ in range(50):
            call(steps[name])
            steps[name] += 1

    for _ in range(args.rounds):
        for name, call in kinds.items():
            times = samples[name]
            cpu_start = time.process_time()
            wall_start = time.perf_counter()
            for _ in range(args.calls):
                start = time.perf_counter_ns()
                call(steps[name])
                times.append(time.perf_counter_ns() - start)
                steps[name] += 1
            wall[name] += time.perf_counter() - wall_start
            cpu[name] += time.process_time() - cpu_start

    mlflow.end_run()
    stored = {
        "client": len(client.get_metric_history(run_id, "client")),
        "fluent": len(client.get_metric_history(fluent_run.info.run_id, "fluent")),
    }
    report = {"url": args.url, "calls_per_kind": args.calls * args.rounds, "mlflow": mlflow.__version__}
    for name in kinds:
        calls = len(samples[name])
        report[name] = {
            "p50_ms": percentile(samples[name], 50) / 1e6,
            "p99_ms": percentile(samples[name], 99) / 1e6,
            "mean_ms": wall[name] / calls * 1e3,
            "client_cpu_ms": cpu[name] / calls * 1e3,
        }
    for name in ("client", "fluent"):
        report[name]["ratio_to_floor_p50"] = report[name]["p50_ms"] / report["floor"]["p50_ms"]
        report[name]["acknowledged"] = steps[name]
        report[name]["stored"] = stored[name]
    json.dump(report, open(args.out, "w"), indent=2)
    lost = [name for name in stored if stored[name] != steps[name]]
    if lost:
        raise SystemExit(f"acknowledged metrics missing for {lost}: {stored} of {steps}")
    print(json.dumps(report), file=sys.stderr)


if __name__ == "__main__":
    main()
