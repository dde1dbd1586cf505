"""Job scheduling figures (issue 5): submit → Running latency, and jobs completed per minute.

Usage: python3 bench/jobs.py [--server target/release/atelier] [--samples 30] [--jobs 200]

Starts a fresh release `atelier server` (its local compute: this machine's CPUs), then:

  latency    submits one trivial job at a time and reads, from the job's own timeline, the time
             from submission to `Running` (the server's clock on both ends). Twice: with the
             built-in environment, and with a named environment whose build is cached (built
             once before the samples: the "warm environment cache" case).
  throughput submits N trivial jobs at once and times until the last has completed: jobs per
             minute, on this machine's CPUs (one CPU per job).

A script, not a timed test: figures vary with the machine. MLflow has no job execution, so
there is no peer to run side by side; the figures stand alone.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def wait_until_ended(session: requests.Session, url: str, name: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = session.get(f"{url}/api/v1/workspaces/default/jobs/{name}").json()
        if job["status"] in ("Completed", "Failed", "Canceled"):
            return job
        time.sleep(0.05)
    raise RuntimeError(f"job {name} did not end in {timeout}s")


def submit(session: requests.Session, url: str, yaml: str) -> str:
    response = session.post(f"{url}/api/v1/workspaces/default/jobs", json={"yaml": yaml, "folder_name": "bench"})
    response.raise_for_status()
    return response.json()["name"]


def latency(session: requests.Session, url: str, yaml: str, samples: int) -> list[float]:
    found = []
    for _ in range(samples):
        job = wait_until_ended(session, url, submit(session, url, yaml))
        if job["status"] != "Completed":
            raise RuntimeError(f"a bench job did not complete: {job}")
        running = next(event["time"] for event in job["events"] if event["status"] == "Running")
        found.append(float(running - job["created_at"]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=str(ROOT / "target" / "release" / "atelier"))
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="atelier-jobs-bench."))
    port = 19_000 + random.randint(0, 2_000)
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([args.server, "server", "--addr", f"127.0.0.1:{port}", "--home", str(home)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + (home / "token").read_text().strip()
        cpus = session.get(f"{url}/api/v1/workspaces/default/computes/local").json()["capacity"]["cpus"]

        builtin = latency(session, url, "command: echo hi\n", args.samples)

        environment = {"name": "bench-env", "version": "1", "python": None, "requirements": ["six==1.16.0"]}
        session.post(f"{url}/api/v1/workspaces/default/environments", json=environment).raise_for_status()
        named = "command: echo hi\nenvironment: azureml:bench-env:1\n"
        latency(session, url, named, 1)  # builds it once
        warm = latency(session, url, named, args.samples)

        yaml = "command: echo hi\n"
        started = time.monotonic()
        names = [submit(session, url, yaml) for _ in range(args.jobs)]
        for name in names:
            if wait_until_ended(session, url, name)["status"] != "Completed":
                raise RuntimeError(f"job {name} did not complete")
        elapsed = time.monotonic() - started

        print(f"local compute: {cpus:g} CPUs")
        for label, samples in (("built-in environment", builtin), ("named environment, cache warm", warm)):
            print(f"submit → Running, {label}: p50 {statistics.median(samples):.0f} ms, "
                  f"p90 {percentile(samples, 0.9):.0f} ms, max {max(samples):.0f} ms ({len(samples)} jobs)")
        print(f"{args.jobs} trivial jobs submitted at once: all completed in {elapsed:.1f} s, "
              f"{args.jobs / elapsed * 60:.0f} jobs per minute")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
