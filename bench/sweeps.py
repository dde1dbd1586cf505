"""Sweep figures (issue 14): the Bayesian sampler against Optuna's TPE and random search, the
scheduling of a 200-trial sweep on a real server, and the sampler's own time.

Usage: python3 bench/sweeps.py [--server PATH] [--sampler PATH] [--seeds 20] [--trials 50]
                               [--sweep-trials 200]

Build first: cargo build --release -p atelier-cli -p atelier-loadgen (the binaries default to
$CARGO_TARGET_DIR/release or target/release). Optuna is installed from PyPI for this script only:
without it, the script runs itself again under `uv run --with optuna==5.1.0`.

  quality    Branin (2-D), Hartmann-6 and a noisy 1-D quadratic, each minimised in `--trials`
             trials from `--seeds` seeds, by Atelier's sampler (its own suggestion code, the
             `sampler` binary, fed the same values a server reads back from the trials' params),
             Atelier's random sampling, and Optuna's TPESampler with its defaults. Reported: the
             median and interquartile range of the best value found. For the noisy quadratic the
             observed value carries N(0, 0.1^2) noise (the same draws for every sampler) and the
             figure is the true value of the trial whose observed value was best.
  schedule   a sweep of `--sweep-trials` trivial trials (`python3 -c` that logs one metric),
             max_concurrent_trials 2, built-in environment, on a fresh release server: the gap
             from a trial's end to the next trial's launch (p50, p90; the server's own clock, from
             the trials' timelines), trials per minute, and the sweep's wall time against the
             sum of its trials' run times divided by the concurrency (the ideal).
  sampler    one TPE suggestion with 1,000 ended trials over six mixed expressions (median, p90).

A script, not a timed test: figures vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import math
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
    import optuna
    import requests
except ImportError:
    if os.environ.get("ATELIER_SWEEPS_BENCH_REEXEC"):
        raise
    os.environ["ATELIER_SWEEPS_BENCH_REEXEC"] = "1"
    os.execvp("uv", ["uv", "run", "--no-project", "--quiet", "--with", "optuna==5.1.0", "--with", "requests==2.34.2",
                     "python", __file__, *sys.argv[1:]])

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))

# --- the problems -----------------------------------------------------------------------------


def branin(p: dict) -> float:
    x1, x2 = p["x1"], p["x2"]
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
              [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(p: dict) -> float:
    x = [p[f"x{i}"] for i in range(1, 7)]
    total = 0.0
    for i in range(4):
        inner = sum(HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j] * 1e-4) ** 2 for j in range(6))
        total -= HARTMANN_ALPHA[i] * math.exp(-inner)
    return total


def quadratic(p: dict) -> float:
    return (p["x"] - 2.0) ** 2


PROBLEMS = {
    "branin": (branin, {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, 0.397887, False),
    "hartmann6": (hartmann6, {f"x{i}": (0.0, 1.0) for i in range(1, 7)}, -3.32237, False),
    "noisy-quadratic": (quadratic, {"x": (-10.0, 10.0)}, 0.0, True),
}
NOISE = 0.1


def sweep_yaml(bounds: dict, sampling: str) -> str:
    space = "".join(f"  {name}: {{type: uniform, min_value: {low}, max_value: {high}}}\n"
                    for name, (low, high) in bounds.items())
    return (f"type: sweep\ntrial: {{command: echo}}\nsampling_algorithm: {sampling}\n"
            f"objective: {{primary_metric: y, goal: minimize}}\nsearch_space:\n{space}")


class AtelierSampler:
    """Atelier's suggestion code, in the `sampler ask` process."""

    def __init__(self, binary: str):
        self.process = subprocess.Popen([binary, "ask"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, yaml: str, seed: int, index: int, history: list) -> dict:
        request = {"yaml": yaml, "seed": seed, "index": index, "history": history}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


def run_atelier(sampler: AtelierSampler, problem: str, sampling: str, seed: int, trials: int) -> float:
    function, bounds, _, noisy = PROBLEMS[problem]
    yaml = sweep_yaml(bounds, sampling)
    noise = random.Random(seed)
    history, best = [], (math.inf, math.inf)
    for index in range(trials):
        texts = sampler.ask(yaml, seed, index, history)
        point = {name: float(text) for name, text in texts.items()}
        true = function(point)
        observed = true + (noise.gauss(0.0, NOISE) if noisy else 0.0)
        history.append([texts, observed])
        best = min(best, (observed, true))
    return best[1]


def run_optuna(problem: str, seed: int, trials: int) -> float:
    function, bounds, _, noisy = PROBLEMS[problem]
    noise = random.Random(seed)
    best = (math.inf, math.inf)

    def objective(trial):
        nonlocal best
        point = {name: trial.suggest_float(name, low, high) for name, (low, high) in bounds.items()}
        true = function(point)
        observed = true + (noise.gauss(0.0, NOISE) if noisy else 0.0)
        best = min(best, (observed, true))
        return observed

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return best[1]


def summary(values: list[float]) -> dict:
    quartiles = statistics.quantiles(values, n=4)
    return {"median": statistics.median(values), "q1": quartiles[0], "q3": quartiles[2]}


def quality(sampler_binary: str, seeds: int, trials: int) -> dict:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = AtelierSampler(sampler_binary)
    results = {}
    try:
        for problem in PROBLEMS:
            runs = {"atelier-tpe": [], "random": [], "optuna-tpe": []}
            for seed in range(seeds):
                runs["atelier-tpe"].append(run_atelier(sampler, problem, "bayesian", seed, trials))
                runs["random"].append(run_atelier(sampler, problem, f"{{type: random, seed: {seed}}}", seed, trials))
                runs["optuna-tpe"].append(run_optuna(problem, seed, trials))
            results[problem] = {name: summary(values) for name, values in runs.items()}
    finally:
        sampler.close()
    return results


# --- scheduling on a real server --------------------------------------------------------------


def schedule(server_binary: str, trials: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="atelier-sweeps-bench."))
    port = 19_000 + random.randint(0, 2_000)
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([server_binary, "server", "--addr", f"127.0.0.1:{port}", "--home", str(home)],
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
        yaml = (
            "type: sweep\ntrial:\n  command: >-\n    python3 -c \"import atelier_log;"
            " atelier_log.log_metric('m', ${{search_space.x}})\"\n"
            "sampling_algorithm: {type: random, seed: 1}\n"
            "search_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n"
            "objective: {primary_metric: m, goal: maximize}\n"
            f"limits: {{max_total_trials: {trials}, max_concurrent_trials: 2}}\n"
        )
        created = session.post(f"{url}/api/v1/workspaces/default/jobs", json={"yaml": yaml, "folder_name": "bench"})
        created.raise_for_status()
        name = created.json()["name"]
        deadline = time.monotonic() + 3600
        while True:
            sweep = session.get(f"{url}/api/v1/workspaces/default/jobs/{name}").json()
            if sweep["status"] in ("Completed", "Failed", "Canceled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the sweep did not end in an hour")
            time.sleep(0.5)
        if sweep["status"] != "Completed":
            raise RuntimeError(f"the sweep did not complete: {sweep['status']} {sweep.get('error')}")
        listed = session.get(f"{url}/api/v1/workspaces/default/jobs",
                             params={"parent_job_name": name, "max_results": 10000}).json()

        def at(job, status):
            return next((event["time"] for event in job["events"] if event["status"] == status), None)

        launches, ends, runs = [], [], []
        for trial in listed:
            if trial["status"] != "Completed":
                raise RuntimeError(f"trial {trial['name']} did not complete: {trial['status']}")
            launch, running = at(trial, "Preparing"), at(trial, "Running")
            end = at(trial, "Completed")
            launches.append(launch)
            ends.append(end)
            runs.append(end - (running or launch))
        ends.sort()
        gaps = []
        for launch in sorted(launches):
            before = [end for end in ends if end <= launch]
            if before:
                gaps.append(launch - before[-1])
        sweep_start, sweep_end = at(sweep, "Running"), at(sweep, "Completed")
        wall = (sweep_end - sweep_start) / 1000
        return {
            "trials": len(listed),
            "gap_ms": {"p50": statistics.median(gaps), "p90": statistics.quantiles(gaps, n=10)[8], "count": len(gaps)},
            "trials_per_minute": len(listed) / wall * 60,
            "wall_s": wall,
            "trial_run_s": {"sum": sum(runs) / 1000, "median": statistics.median(runs) / 1000},
            "ideal_wall_s": sum(runs) / 1000 / 2,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=str(TARGET / "release" / "atelier"))
    parser.add_argument("--sampler", default=str(TARGET / "release" / "sampler"))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--sweep-trials", type=int, default=200)
    parser.add_argument("--skip-schedule", action="store_true")
    args = parser.parse_args()

    report: dict = {"optuna": optuna.__version__}
    report["quality"] = quality(args.sampler, args.seeds, args.trials)
    timing = subprocess.run([args.sampler, "time", "--trials", "1000"], capture_output=True, text=True, check=True)
    report["sampler"] = json.loads(timing.stdout)
    if not args.skip_schedule:
        report["schedule"] = schedule(args.server, args.sweep_trials)

    print(f"best value found in {args.trials} trials, {args.seeds} seeds: median [q1, q3] (lower is better)")
    print(f"{'problem':<16} {'Atelier TPE':>28} {'Optuna ' + report['optuna'] + ' TPE':>28} {'random':>28}")
    for problem, samplers in report["quality"].items():
        cells = [f"{s['median']:.4f} [{s['q1']:.4f}, {s['q3']:.4f}]"
                 for s in (samplers["atelier-tpe"], samplers["optuna-tpe"], samplers["random"])]
        print(f"{problem:<16} {cells[0]:>28} {cells[1]:>28} {cells[2]:>28}")
    sampler = report["sampler"]
    print(f"TPE suggestion with {sampler['trials']} ended trials, {sampler['dimensions']} dimensions: "
          f"median {sampler['median_ms']:.2f} ms, p90 {sampler['p90_ms']:.2f} ms")
    if "schedule" in report:
        s = report["schedule"]
        print(f"{s['trials']}-trial sweep, 2 at once: gap from a trial's end to the next launch p50 "
              f"{s['gap_ms']['p50']:.0f} ms, p90 {s['gap_ms']['p90']:.0f} ms; {s['trials_per_minute']:.0f} trials/min; "
              f"wall {s['wall_s']:.1f} s against {s['ideal_wall_s']:.1f} s of trial run time / 2 "
              f"(trial median {s['trial_run_s']['median']:.2f} s)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweeps-latest.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
