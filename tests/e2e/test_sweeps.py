"""Sweep jobs: Azure ML's `type: sweep` files, run as a parent job whose trials are command jobs
with MLflow child runs. The trials here run on the machine's Python and log with the built-in
helper, so each test takes seconds; the scikit-learn sweep with unchanged MLflow code is in
test_examples.py."""

from __future__ import annotations

import time

import pytest

from test_jobs import full_log, job_of, own, wait_for, write_job  # noqa: F401 (own is a fixture)

pytestmark = pytest.mark.atelier_only

ENDED = {"Completed", "Failed", "Canceled"}

# A trial that logs `score` once per step: x * y + step, so the best trial is the largest x * y.
SCORE_PY = """\
    import argparse, os, sys, time
    import atelier_log
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--y", required=True)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.y == "boom":
        print("this value breaks the trial", file=sys.stderr)
        sys.exit(3)
    y = {"low": 1.0, "high": 2.0, "huge": 100.0}[args.y]
    for step in range(args.steps):
        atelier_log.log_metric("score", args.x * y + step, step=step)
        time.sleep(args.pause)
    if args.out:
        open(os.path.join(args.out, "value.txt"), "w").write(f"{args.x} {args.y}")
    """


def sweep_file(tmp_path, name, body):
    return write_job(tmp_path / name, body, {"score.py": SCORE_PY})


def trials_of(cli, name):
    return cli.json("job", "list", "--parent-job-name", name, "-o", "json")


def test_a_grid_sweep_runs_every_point_as_a_child_run_and_names_the_best(own, tmp_path):
    srv, cli, http = own
    job_file = sweep_file(
        tmp_path,
        "grid",
        """\
        $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
        type: sweep
        experiment_name: grid-sweep
        trial:
          code: .
          command: >-
            python3 score.py --x ${{search_space.x}} --y ${{search_space.y}}
            --out ${{outputs.best}}
        outputs:
          best:
            type: uri_folder
            name: best-point
        sampling_algorithm: grid
        search_space:
          x: {type: choice, values: [1, 3]}
          y: {type: choice, values: [low, high]}
        objective: {primary_metric: score, goal: maximize}
        limits: {max_total_trials: 10, max_concurrent_trials: 2}
        """,
    )
    streamed = cli("job", "create", "-f", str(job_file), "--stream", timeout=180)
    assert "Status: Completed" in streamed.stdout, streamed.stdout + streamed.stderr
    name = next(line.split()[1] for line in streamed.stderr.splitlines() if line.startswith("Job "))
    # The sweep's own log: each trial queued with its values, its end, the best so far.
    log = full_log(http, srv, name)
    assert f"{name}_0 queued with x=1, y=low" in log, log
    assert "best so far" in log and f"completed: best trial: {name}_3 (score = 6.0)" in log, log

    trials = trials_of(cli, name)
    assert len(trials) == 4, "the grid's four points, though max_total_trials is 10"
    assert {trial["status"] for trial in trials} == {"Completed"}
    assert sorted(trial["trial_index"] for trial in trials) == [0, 1, 2, 3]

    import mlflow

    client = mlflow.MlflowClient()
    runs = {trial["name"]: client.get_run(trial["name"]) for trial in trials}
    points = sorted((run.data.params["x"], run.data.params["y"]) for run in runs.values())
    assert points == [("1", "high"), ("1", "low"), ("3", "high"), ("3", "low")]
    assert {run.data.tags["mlflow.parentRunId"] for run in runs.values()} == {name}
    assert client.get_run(name).data.tags["best_child_run_id"] == f"{name}_3"
    children = client.search_runs(
        [client.get_run(name).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{name}'"
    )
    assert len(children) == 4, "MLflow sees the trials as the sweep's nested runs"

    shown = cli.json("job", "show", "-n", name, "-o", "json")
    assert shown["type"] == "sweep" and shown["sweep"]["best_trial"]["name"] == f"{name}_3"
    assert shown["sweep"]["best_trial"]["values"] == {"x": "3", "y": "high"}
    table = cli("job", "show", "-n", name).stdout
    assert f"{name}_3 (score = 6.0)" in table, table

    # The sweep's output is its best trial's, downloaded and registered.
    target = tmp_path / "download"
    cli("job", "download", "-n", name, "--output-name", "best", "-p", str(target))
    assert (target / "named-outputs" / "best" / "value.txt").read_text() == "3.0 high"
    registered = cli.json("data", "show", "-n", "best-point", "--label", "latest", "-o", "json")
    assert f"/{name}_3/" in registered["path"], registered


def test_bandit_cancels_a_trial_that_falls_behind_with_the_reason(own, tmp_path):
    srv, cli, http = own
    job_file = sweep_file(
        tmp_path,
        "bandit",
        """\
        type: sweep
        trial:
          code: .
          command: python3 score.py --x 1 --y ${{search_space.y}} --steps 12 --pause ${{search_space.pause}}
        sampling_algorithm: grid
        search_space:
          y: {type: choice, values: [huge, low]}
          pause: {type: choice, values: [0.5]}
        objective: {primary_metric: score, goal: maximize}
        early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1, delay_evaluation: 2}
        limits: {max_concurrent_trials: 2}
        """,
    )
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    sweep = wait_for(http, srv, name, ENDED, timeout=120)
    assert sweep["status"] == "Completed", sweep
    by_name = {trial["name"]: trial for trial in trials_of(cli, name)}
    good, bad = by_name[f"{name}_0"], by_name[f"{name}_1"]
    assert good["status"] == "Completed"
    assert bad["status"] == "Canceled", bad
    reasons = " ".join(event["message"] or "" for event in job_of(http, srv, bad["name"])["events"])
    assert "bandit:" in reasons and "at interval" in reasons, reasons
    assert job_of(http, srv, bad["name"])["error"].startswith("bandit:"), "job show gives the reason"
    assert "early-terminated: bandit:" in full_log(http, srv, name)


def test_a_failing_trial_does_not_stop_the_sweep_but_all_failing_fails_it(own, tmp_path):
    srv, cli, http = own
    body = """\
        type: sweep
        trial:
          code: .
          command: python3 score.py --x 2 --y ${{{{search_space.y}}}}
        sampling_algorithm: grid
        search_space:
          y: {{type: choice, values: [{values}]}}
        objective: {{primary_metric: score, goal: minimize}}
        limits: {{max_concurrent_trials: 1}}
        """
    mixed = cli.json("job", "create", "-f", str(sweep_file(tmp_path, "mixed", body.format(values="boom, low"))), "-o", "json")
    sweep = wait_for(http, srv, mixed["name"], ENDED, timeout=120)
    assert sweep["status"] == "Completed", sweep
    statuses = sorted(trial["status"] for trial in trials_of(cli, mixed["name"]))
    assert statuses == ["Completed", "Failed"]
    assert sweep["sweep"]["best_trial"]["name"] == f"{mixed['name']}_1"

    broken = cli.json("job", "create", "-f", str(sweep_file(tmp_path, "broken", body.format(values="boom"))), "-o", "json")
    sweep = wait_for(http, srv, broken["name"], ENDED, timeout=120)
    assert sweep["status"] == "Failed" and "every trial failed" in sweep["error"], sweep


def test_cancelling_a_sweep_cancels_its_trials_and_samples_no_more(own, tmp_path):
    srv, cli, http = own
    job_file = sweep_file(
        tmp_path,
        "long",
        """\
        type: sweep
        trial:
          code: .
          command: python3 score.py --x ${{search_space.x}} --y low --steps 200 --pause 0.2
        sampling_algorithm: {type: random, seed: 11}
        search_space:
          x: {type: uniform, min_value: 0, max_value: 1}
        objective: {primary_metric: score, goal: maximize}
        limits: {max_total_trials: 20, max_concurrent_trials: 2}
        """,
    )
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    deadline = time.monotonic() + 60
    while sum(trial["status"] == "Running" for trial in trials_of(cli, name)) < 2:
        assert time.monotonic() < deadline, trials_of(cli, name)
        time.sleep(0.3)
    cli("job", "cancel", "-n", name)
    sweep = wait_for(http, srv, name, ENDED, timeout=60)
    assert sweep["status"] == "Canceled", sweep
    trials = trials_of(cli, name)
    assert len(trials) == 2, "no trial is sampled after the cancel"
    assert {trial["status"] for trial in trials} == {"Canceled"}


def test_a_server_restart_mid_sweep_loses_no_trial_and_samples_none_twice(own, tmp_path):
    srv, cli, http = own
    job_file = sweep_file(
        tmp_path,
        "restart",
        """\
        type: sweep
        trial:
          code: .
          command: python3 score.py --x ${{search_space.x}} --y ${{search_space.y}} --steps 3 --pause 0.5
        sampling_algorithm: bayesian
        search_space:
          x: {type: quniform, min_value: 0, max_value: 10, q: 1}
          y: {type: choice, values: [low, high]}
        objective: {primary_metric: score, goal: maximize}
        limits: {max_total_trials: 6, max_concurrent_trials: 2}
        """,
    )
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    deadline = time.monotonic() + 60
    while not any(trial["status"] == "Running" for trial in trials_of(cli, name)):
        assert time.monotonic() < deadline, trials_of(cli, name)
        time.sleep(0.2)
    srv.kill()
    time.sleep(2)
    srv.keep_port = True
    srv.start()
    sweep = wait_for(http, srv, name, ENDED, timeout=180)
    assert sweep["status"] == "Completed", sweep
    trials = trials_of(cli, name)
    assert sorted(trial["trial_index"] for trial in trials) == list(range(6)), "six trials, each index once"
    assert {trial["status"] for trial in trials} == {"Completed"}


def test_sweep_mistakes_are_found_before_anything_is_uploaded(own, tmp_path):
    srv, cli, http = own
    job_file = sweep_file(
        tmp_path,
        "mistaken",
        """\
        type: sweep
        trial:
          code: .
          command: python3 score.py --x ${{search_space.rate}}
        sampling_algorithm: grid
        search_space:
          x: {type: uniform, min_value: 0, max_value: 1}
        objective: {primary_metric: score, goal: maximize}
        """,
    )
    failed = cli("job", "create", "-f", str(job_file), check=False)
    assert failed.returncode != 0
    assert "line 7: search_space.x: grid sampling takes only choice" in failed.stderr, failed.stderr
    fixed = job_file.read_text().replace("grid", "random")
    job_file.write_text(fixed)
    failed = cli("job", "create", "-f", str(job_file), check=False)
    assert "line 4: trial.command:" in failed.stderr and "names no hyperparameter" in failed.stderr, failed.stderr
    assert cli.json("job", "list", "-o", "json") == [], "nothing was submitted"
