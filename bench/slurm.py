"""Slurm compute figures (issue 16), side by side with Slurm's own tools in the same run.

Usage: python3 bench/slurm.py [--server PATH] [--latency-jobs 10] [--jobs 500]

Needs a running Slurm (scripts/slurm-up.sh; SLURM_NODES=2 as the tests run it) and a release
build (cargo build --release -p atelier-cli; the binary defaults to
$CARGO_TARGET_DIR/release/atelier or target/release/atelier). Needs `requests` (re-runs itself
under `uv run --with requests` without it).

  latency     `--latency-jobs` jobs one after another, each a command that prints the time it
              starts: submission (the job's creation, on the server's clock) to the command's
              first line, through a Slurm compute; against `sbatch --wrap` of the same command
              (the sbatch call to the command's first line). The difference is Atelier's own
              overhead: the runtime's start, its fetches of the plan and its reports.
  throughput  `--jobs` trivial jobs (`true`) through a Slurm compute with `max_instances: 2`,
              submitted at once: jobs per minute from the first submission to the last end;
              against a Slurm job array of as many `true` tasks throttled to 2 at a time
              (`sbatch --array=0-N%2`), from the sbatch call to the last task's end.
  reconcile   what one look at the cluster costs the scheduler with `--jobs` jobs held by
              Slurm: one `squeue -j <every id>` (what the scheduler runs per pass) against one
              `squeue -j <id>` per job (what a per-job look would cost), on held jobs
              (`sbatch --hold`), timed here.

A script, not a timed test: figures vary with the machine.
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

try:
    import requests
except ImportError:
    if os.environ.get("ATELIER_SLURM_BENCH_REEXEC"):
        raise
    os.environ["ATELIER_SLURM_BENCH_REEXEC"] = "1"
    os.execvp("uv", ["uv", "run", "--no-project", "--quiet", "--with", "requests==2.34.2",
                     "python", __file__, *sys.argv[1:]])

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
ENDED = ("Completed", "Failed", "Canceled")
STAMP = "python3 -c \"import time; print('started', time.time())\""


class Server:
    def __init__(self, binary: str):
        self.home = Path(tempfile.mkdtemp(prefix="atelier-slurm-bench."))
        port = 23_000 + random.randint(0, 2_000)
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [binary, "server", "--addr", f"127.0.0.1:{port}", "--home", str(self.home), "--public-url", self.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + (self.home / "token").read_text().strip()

    def api(self, path: str) -> str:
        return f"{self.url}/api/v1/workspaces/default/{path}"

    def compute(self, name: str, partition: str, max_instances: int):
        yaml = f"name: {name}\ntype: slurm\npartition: {partition}\nmax_instances: {max_instances}\n"
        self.session.post(self.api("computes"), json={"yaml": yaml}).raise_for_status()

    def submit(self, command: str, compute: str) -> str:
        yaml = f"command: {command}\ncompute: azureml:{compute}\n"
        created = self.session.post(self.api("jobs"), json={"yaml": yaml, "folder_name": "bench"})
        created.raise_for_status()
        return created.json()["name"]

    def wait(self, name: str, poll: float = 0.05) -> dict:
        deadline = time.monotonic() + 3600
        while True:
            job = self.session.get(self.api(f"jobs/{name}")).json()
            if job["status"] in ENDED:
                if job["status"] != "Completed":
                    raise RuntimeError(f"job {name} ended {job['status']}: {job.get('error')}")
                return job
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {name} did not end in an hour")
            time.sleep(poll)

    def log(self, name: str) -> str:
        return self.session.get(self.api(f"jobs/{name}/logs"), params={"file": "user_logs/std_log.txt"}).json()["text"]

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


def started_at(text: str) -> float:
    return float(text.split("started ", 1)[1].split()[0])


def sbatch(*args: str, cwd: Path) -> str:
    return subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, check=True,
                          cwd=cwd).stdout.strip().split(";")[0]


def slurm_state(job_id: str) -> str:
    return subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"],
                          capture_output=True, text=True).stdout.strip()


def wait_slurm(job_id: str, done=("COMPLETED",)):
    while True:
        states = slurm_state(job_id).split()
        if states and all(state in done or state in ("FAILED", "CANCELLED", "TIMEOUT") for state in states):
            return
        time.sleep(0.05)


def latency(server: Server, count: int, scratch: Path) -> dict:
    atelier, slurm = [], []
    for _ in range(count):
        name = server.submit(STAMP, "hpc")
        job = server.wait(name)
        atelier.append(started_at(server.log(name)) - job["created_at"] / 1000)
        before = time.time()
        job_id = sbatch(f"--output={scratch}/slurm-%j.out", "--wrap", STAMP, cwd=scratch)
        wait_slurm(job_id)
        slurm.append(started_at((scratch / f"slurm-{job_id}.out").read_text()) - before)
    return {"atelier_s": statistics.median(atelier), "sbatch_s": statistics.median(slurm), "jobs": count}


def throughput(server: Server, count: int, scratch: Path) -> dict:
    started = time.monotonic()
    names = [server.submit("true", "pair") for _ in range(count)]
    for name in names:
        server.wait(name, poll=0.2)
    atelier = time.monotonic() - started
    started = time.monotonic()
    array = sbatch(f"--array=0-{count - 1}%2", f"--output={scratch}/array-%A_%a.out", "--wrap", "true", cwd=scratch)
    wait_slurm(array)
    slurm = time.monotonic() - started
    return {"jobs": count, "atelier_per_min": count / atelier * 60, "sbatch_array_per_min": count / slurm * 60}


def reconcile(count: int, scratch: Path) -> dict:
    ids = [sbatch("--hold", f"--output={scratch}/held-%j.out", "--wrap", "true", cwd=scratch) for _ in range(count)]
    try:
        timings = []
        for _ in range(5):
            started = time.monotonic()
            subprocess.run(["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T|%r|%N"],
                           capture_output=True, check=True)
            timings.append(time.monotonic() - started)
        started = time.monotonic()
        for job_id in ids:
            subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%i|%T|%r|%N"], capture_output=True)
        per_job = time.monotonic() - started
    finally:
        subprocess.run(["scancel", *ids], capture_output=True)
    return {"jobs": count, "one_squeue_ms": statistics.median(timings) * 1000, "squeue_per_job_ms": per_job * 1000}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=str(TARGET / "release" / "atelier"))
    parser.add_argument("--latency-jobs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    if shutil.which("sbatch") is None:
        print("Slurm's tools are missing: run scripts/slurm-up.sh first", file=sys.stderr)
        return 1
    partition = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True).stdout.split()[0]
    scratch = Path(tempfile.mkdtemp(prefix="atelier-slurm-bench-sbatch."))
    server = Server(args.server)
    report: dict = {}
    try:
        server.compute("hpc", partition, 4)
        server.compute("pair", partition, 2)
        report["latency"] = latency(server, args.latency_jobs, scratch)
        report["throughput"] = throughput(server, args.jobs, scratch)
        report["reconcile"] = reconcile(args.jobs, scratch)
    finally:
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)

    lat = report["latency"]
    print(f"submission to the command's first line (median of {lat['jobs']}): Atelier {lat['atelier_s']:.2f} s, "
          f"sbatch alone {lat['sbatch_s']:.2f} s: Atelier's own overhead {lat['atelier_s'] - lat['sbatch_s']:.2f} s")
    put = report["throughput"]
    print(f"{put['jobs']} trivial jobs, 2 at a time: Atelier {put['atelier_per_min']:.0f} jobs/min, "
          f"a Slurm array throttled to 2 {put['sbatch_array_per_min']:.0f} jobs/min "
          f"(ratio {put['atelier_per_min'] / put['sbatch_array_per_min']:.2f})")
    rec = report["reconcile"]
    print(f"a look at {rec['jobs']} held jobs: one squeue {rec['one_squeue_ms']:.0f} ms, "
          f"one squeue per job {rec['squeue_per_job_ms']:.0f} ms")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "slurm-latest.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
