"""Pipeline figures (issue 15): how fast a release server moves through a pipeline's steps.

Usage: python3 bench/pipelines.py [--server PATH] [--steps 50] [--fires 3]

Build first: cargo build --release -p atelier-cli (the binary defaults to
$CARGO_TARGET_DIR/release/atelier or target/release/atelier). Needs `requests` (re-runs itself
under `uv run --with requests` without it).

  chain      `--steps` trivial steps (`python3 -c` that writes one file into its output), each
             taking the previous step's output: the gap from the moment a step could start (its
             upstream steps ended and a job slot is free) to its launch (p50, p90; the server's
             own clock, from the steps' timelines), and the
             pipeline's wall time against the sum of its steps' run times (the ideal: nothing
             runs side by side in a chain).
  fan        one step, `--steps - 2` steps that each read its output, and one that reads all of
             theirs: the same gap, and the wall time against the ideal for the machine's job
             slots (the first step, the middle ones spread over the slots, the last one).
  rerun      the chain submitted again, every step reused: the time from the submission's
             request to the pipeline's completion as the client sees it (polling every 20 ms).
  schedule   a cron schedule firing every minute (`--fires` of them, waiting for real minute
             boundaries): the delay from each fire time to its job's creation, on the server's
             clock (the job's `created_at` against the fire time it is tagged with).

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
    if os.environ.get("ATELIER_PIPELINES_BENCH_REEXEC"):
        raise
    os.environ["ATELIER_PIPELINES_BENCH_REEXEC"] = "1"
    os.execvp("uv", ["uv", "run", "--no-project", "--quiet", "--with", "requests==2.34.2",
                     "python", __file__, *sys.argv[1:]])

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
ENDED = ("Completed", "Failed", "Canceled")
# Each step writes its own name, so that no step's command or output equals another's (equal
# ones would be reused within the run).
WRITE = ("python3 -c \"import os, sys; os.makedirs(sys.argv[1], exist_ok=True); "
         "open(os.path.join(sys.argv[1], 'x'), 'w').write(sys.argv[2])\"")


def chain_yaml(steps: int) -> str:
    lines = ["type: pipeline", "experiment_name: bench-chain", "jobs:"]
    for index in range(steps):
        lines.append(f"  s{index}:")
        if index == 0:
            lines.append(f"    command: {WRITE} ${{{{outputs.out}}}} s{index}")
        else:
            lines.append(f"    command: {WRITE} ${{{{outputs.out}}}} s{index} ${{{{inputs.previous}}}}")
            lines.append(f"    inputs:\n      previous: ${{{{parent.jobs.s{index - 1}.outputs.out}}}}")
        lines.append("    outputs:\n      out:")
    return "\n".join(lines) + "\n"


def fan_yaml(steps: int) -> str:
    middle = steps - 2
    lines = ["type: pipeline", "experiment_name: bench-fan", "jobs:", "  root:",
             f"    command: {WRITE} ${{{{outputs.out}}}} root", "    outputs:\n      out:"]
    for index in range(middle):
        lines += [f"  m{index}:", f"    command: {WRITE} ${{{{outputs.out}}}} m{index} ${{{{inputs.data}}}}",
                  "    inputs:\n      data: ${{parent.jobs.root.outputs.out}}", "    outputs:\n      out:"]
    placeholders = " ".join(f"${{{{inputs.in{index}}}}}" for index in range(middle))
    lines += ["  sink:", f"    command: ls {placeholders}", "    inputs:"]
    lines += [f"      in{index}: ${{{{parent.jobs.m{index}.outputs.out}}}}" for index in range(middle)]
    return "\n".join(lines) + "\n"


class Server:
    def __init__(self, binary: str):
        self.home = Path(tempfile.mkdtemp(prefix="atelier-pipelines-bench."))
        port = 21_000 + random.randint(0, 2_000)
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([binary, "server", "--addr", f"127.0.0.1:{port}", "--home", str(self.home)],
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

    def submit(self, yaml: str) -> str:
        created = self.session.post(self.api("jobs"), json={"yaml": yaml, "folder_name": "bench"})
        created.raise_for_status()
        return created.json()["name"]

    def wait(self, name: str, poll: float = 0.25) -> dict:
        deadline = time.monotonic() + 3600
        while True:
            job = self.session.get(self.api(f"jobs/{name}")).json()
            if job["status"] in ENDED:
                if job["status"] != "Completed":
                    raise RuntimeError(f"pipeline {name} ended {job['status']}: {job.get('error')}")
                return job
            if time.monotonic() > deadline:
                raise RuntimeError(f"pipeline {name} did not end in an hour")
            time.sleep(poll)

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


def at(job: dict, status: str):
    return next((event["time"] for event in job["events"] if event["status"] == status), None)


def figures(server: Server, pipeline: dict) -> dict:
    steps = {info["job"]: step for step, info in pipeline["pipeline"]["steps"].items()}
    jobs = {steps[job["name"]]: job for job in server.session.get(
        server.api("jobs"), params={"parent_job_name": pipeline["name"], "max_results": 10000}).json()}
    upstream: dict[str, list[str]] = {}
    for edge in pipeline["pipeline"]["edges"]:
        upstream.setdefault(edge["to"], []).append(edge["from"])
    ends = sorted(at(job, "Completed") for job in jobs.values())
    gaps, runs = [], []
    for step, job in jobs.items():
        launch, running, end = at(job, "Preparing"), at(job, "Running"), at(job, "Completed")
        runs.append(end - (running or launch))
        if step in upstream:
            # From the moment it could start: its inputs exist and a job slot is free (the last
            # step's end before its launch).
            ready = max(at(jobs[before], "Completed") for before in upstream[step])
            freed = max((other for other in ends if other <= launch), default=ready)
            gaps.append(launch - max(ready, freed))
    wall = (at(pipeline, "Completed") - at(pipeline, "Running")) / 1000
    return {
        "steps": len(jobs),
        "gap_ms": {"p50": statistics.median(gaps), "p90": statistics.quantiles(gaps, n=10)[8], "count": len(gaps)},
        "wall_s": wall,
        "step_run_s": {"sum": sum(runs) / 1000, "median": statistics.median(runs) / 1000},
    }


def fire_delays(server: Server, fires: int) -> dict:
    """Creates a schedule firing every minute and waits for `fires` fires; the delay of each."""
    schedule = ('name: bench-tick\ntrigger:\n  type: cron\n  expression: "* * * * *"\n'
                "create_job: ./job.yml\n")
    job = "type: command\nexperiment_name: bench-schedule\ncommand: echo tick\n"
    created = server.session.post(server.api("schedules"), json={"yaml": schedule, "job": {"yaml": job}})
    created.raise_for_status()
    deadline = time.monotonic() + 60 * (fires + 1) + 30
    while True:
        made = server.session.get(server.api("schedules/bench-tick")).json()["jobs"]
        if len(made) >= fires:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the schedule fired {len(made)} times, not {fires}")
        time.sleep(1)
    server.session.post(server.api("schedules/bench-tick/disable")).raise_for_status()
    delays = sorted(job["created_at"] - job["fire_time"] for job in made[:fires])
    return {"fires": fires, "delay_ms": {"median": statistics.median(delays), "max": max(delays)}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=str(TARGET / "release" / "atelier"))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--fires", type=int, default=3, help="schedule fires to wait for (0: none)")
    args = parser.parse_args()
    slots = os.cpu_count() or 1

    server = Server(args.server)
    report: dict = {"steps": args.steps, "job_slots": slots}
    try:
        chain = server.wait(server.submit(chain_yaml(args.steps)))
        report["chain"] = figures(server, chain)
        report["chain"]["ideal_wall_s"] = report["chain"]["step_run_s"]["sum"]

        fan = server.wait(server.submit(fan_yaml(args.steps)))
        report["fan"] = figures(server, fan)
        median = report["fan"]["step_run_s"]["median"]
        report["fan"]["ideal_wall_s"] = median * (2 + -(-(args.steps - 2) // slots))

        reruns = []
        for _ in range(5):
            started = time.monotonic()
            rerun = server.wait(server.submit(chain_yaml(args.steps)), poll=0.02)
            reruns.append(time.monotonic() - started)
            if not all(info["reused_from"] for info in rerun["pipeline"]["steps"].values()):
                raise RuntimeError("a rerun of the chain ran a step")
        report["rerun_s"] = {"median": statistics.median(reruns), "max": max(reruns), "runs": len(reruns)}
        if args.fires:
            report["schedule"] = fire_delays(server, args.fires)
    finally:
        server.close()

    for kind in ("chain", "fan"):
        r = report[kind]
        print(f"{args.steps}-step {kind}: from a step's inputs and a free slot to its launch p50 {r['gap_ms']['p50']:.0f} ms, "
              f"p90 {r['gap_ms']['p90']:.0f} ms; wall {r['wall_s']:.1f} s against {r['ideal_wall_s']:.1f} s ideal "
              f"(step median {r['step_run_s']['median']:.2f} s, {slots} job slots)")
    rerun = report["rerun_s"]
    print(f"the {args.steps}-step chain again, every step reused: {rerun['median']:.2f} s submission to completion "
          f"(median of {rerun['runs']}, max {rerun['max']:.2f} s)")
    if "schedule" in report:
        delay = report["schedule"]["delay_ms"]
        print(f"a cron schedule's fire to its job's creation: median {delay['median']:.0f} ms, "
              f"max {delay['max']:.0f} ms ({report['schedule']['fires']} fires)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipelines-latest.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
