"""Server time to render the studio's heaviest pages (issue 3's performance figures).

Usage: python3 bench/studio.py [--server target/release/atelier] [--samples 10]

Starts a fresh release `atelier server`, loads data through the MLflow REST API (the bench's
load generator for the big histories), signs in, and times each page over keep-alive HTTP,
reporting p50 and p99 of the whole request (the page is rendered on the server; the client
only reads it). A script, not a timed test: figures vary with the machine.

Pages:
  runs table   an experiment with 10,000 runs and 20 metrics each, first page (100 rows)
  run page     a run whose metric has 1,000,000 points
  compare      10 runs with 100,000 points each

"first" is the first view after the data was loaded and the server's background summariser has
had its quiet period (--settle seconds); "after restart" is the first view once the server was
stopped and started again on the same home (nothing in its memory, summaries read from the
store); p50 and p99 are over the views after that.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=str(ROOT / "target" / "release" / "atelier"))
    parser.add_argument("--loadgen", default=str(ROOT / "target" / "release" / "loadgen"))
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="atelier-studio-bench."))
    port = 17_000 + random.randint(0, 2_000)
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen:
        started = subprocess.Popen([args.server, "server", "--addr", f"127.0.0.1:{port}", "--home", str(home)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    return started
            except requests.ConnectionError:
                time.sleep(0.1)
        raise SystemExit("the server did not start")

    server = start()
    try:
        token = (home / "token").read_text().strip()
        api = requests.Session()
        api.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

        def post(path: str, body: dict) -> dict:
            response = api.post(url + "/api/2.0/mlflow" + path, data=json.dumps(body), timeout=60)
            response.raise_for_status()
            return response.json()

        started = time.time()
        experiment = post("/experiments/create", {"name": "wide"})["experiment_id"]
        now = int(time.time() * 1000)
        for index in range(args.runs):
            run_id = post("/runs/create", {"experiment_id": experiment, "start_time": now + index})["run"]["info"]["run_id"]
            metrics = [{"key": f"m{k:02d}", "value": random.random(), "timestamp": now, "step": 0} for k in range(20)]
            params = [{"key": "lr", "value": str(random.choice([0.1, 0.01, 0.001]))}]
            post("/runs/log-batch", {"run_id": run_id, "metrics": metrics, "params": params})
        print(f"setup: {args.runs} runs x 20 metrics in {time.time() - started:.1f} s", file=sys.stderr)

        env = dict(os.environ, LOADGEN_TOKEN=token)

        def history(experiment_name: str, points: int) -> str:
            output = subprocess.run([args.loadgen, "--url", url, "setup-history", "--experiment", experiment_name,
                                     "--points", str(points)], env=env, check=True, capture_output=True, text=True)
            return json.loads(output.stdout)["run_id"]

        big_run = history("million", 1_000_000)
        compared = [history(f"compare-{index}", 100_000) for index in range(10)]
        print(f"setup: histories loaded ({time.time() - started:.1f} s in all)", file=sys.stderr)

        def signed_in() -> requests.Session:
            browser = requests.Session()
            password = (home / "admin-password").read_text().strip()
            answer = browser.post(url + "/login", data={"user": "admin", "password": password, "next": "/"}, timeout=30)
            answer.raise_for_status()
            return browser

        def view(browser: requests.Session, path: str) -> tuple[float, int]:
            began = time.perf_counter()
            response = browser.get(url + path, timeout=120)
            elapsed = (time.perf_counter() - began) * 1000
            response.raise_for_status()
            return elapsed, len(response.content)

        pages = {
            "runs table (10,000 runs x 20 metrics)": f"/w/default/experiments/{experiment}",
            "run page (1,000,000 points)": f"/w/default/runs/{big_run}",
            "compare (10 runs x 100,000 points)": "/w/default/compare?" + "&".join(f"runs={run}" for run in compared),
        }
        # The server summarises long series in the background once they have been quiet a few
        # seconds; then a first view reads the kept summary.
        time.sleep(args.settle)
        browser = signed_in()
        first = {name: view(browser, path)[0] for name, path in pages.items()}
        server.terminate()
        server.wait(timeout=30)
        server = start()
        browser = signed_in()
        print(f"{'page':42} {'first ms':>9} {'restart ms':>10} {'p50 ms':>9} {'p99 ms':>9} {'bytes':>9}")
        for name, path in pages.items():
            after_restart, size = view(browser, path)
            samples = [view(browser, path)[0] for _ in range(args.samples)]
            print(f"{name:42} {first[name]:9.1f} {after_restart:10.1f} {statistics.median(samples):9.1f} "
                  f"{percentile(samples, 0.99):9.1f} {size:9d}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
