"""The runnable jobs in examples/, as the README's quickstart runs them."""

from __future__ import annotations

import shutil

import pytest

from e2e_util import REPO_ROOT, mlflow_major
from test_jobs import full_log, job_of, own  # noqa: F401  (own is a fixture)

pytestmark = pytest.mark.atelier_only

EXAMPLES = REPO_ROOT / "examples"


def run_name(streamed) -> str:
    return streamed.stdout.split("RunId: ")[1].split()[0]


def test_hello_world(own):
    srv, cli, http = own
    streamed = cli("job", "create", "-f", str(EXAMPLES / "hello" / "job.yml"), "--stream", timeout=120)
    assert "Hello, Atelier!" in streamed.stdout and "Status: Completed" in streamed.stdout
    import mlflow

    run = mlflow.MlflowClient().get_run(run_name(streamed))
    assert run.data.params["name"] == "Atelier" and run.data.metrics["letters"] == 7


def test_an_optional_input_with_and_without_a_value(own, tmp_path):
    srv, cli, http = own
    job = str(EXAMPLES / "optional-input" / "job.yml")
    without = cli("job", "create", "-f", job, "--stream", timeout=120)
    assert "no notes given" in without.stdout and "line 3" in without.stdout
    notes = tmp_path / "notes.txt"
    notes.write_text("bring an umbrella\n")
    given = cli("job", "create", "-f", job, "--set", f"inputs.notes.path={notes}", "--set", "inputs.lines=1",
                "--stream", timeout=120)
    assert "notes: bring an umbrella" in given.stdout and "line 2" not in given.stdout


def test_two_processes_with_pytorch_distribution(own):
    srv, cli, http = own
    streamed = cli("job", "create", "-f", str(EXAMPLES / "distributed" / "job.yml"), "--stream", timeout=120)
    assert "Status: Completed" in streamed.stdout
    name = run_name(streamed)
    assert "rank 0 of 2" in streamed.stdout, "std_log.txt is the first process's output"
    first = full_log(http, srv, name, "user_logs/std_log_process_0.txt")
    second = full_log(http, srv, name, "user_logs/std_log_process_1.txt")
    assert "rank 0 of 2 (local rank 0)" in first
    assert "rank 1 of 2 (local rank 1)" in second
    assert "all ranks joined: [1]" in first or "all-reduce gives 3" in first


def test_scikit_learn_training_registers_its_model(own, tmp_path):
    srv, cli, http = own
    # The example as a user has it: its own folder, with the data next to the files.
    folder = tmp_path / "sklearn"
    shutil.copytree(EXAMPLES / "sklearn", folder)
    cli("data", "create", "-f", str(folder / "data.yml"))
    cli("environment", "create", "-f", str(folder / "environment.yml"))
    streamed = cli("job", "create", "-f", str(folder / "job.yml"), "--stream", timeout=600)
    assert "Status: Completed" in streamed.stdout, streamed.stdout
    name = run_name(streamed)
    job = job_of(http, srv, name)
    assert job["experiment_name"] == "iris"

    import mlflow

    client = mlflow.MlflowClient()
    run = client.get_run(name)
    assert run.data.params["C"] == "1.0" and run.data.params["rows"] == "150"
    assert run.data.metrics["accuracy"] > 0.8

    version = cli.json("model", "show", "-n", "iris-model", "--label", "latest", "-o", "json")
    assert version["model_type"] == "mlflow_model" and version["run_id"] == name, "the model's lineage is the job"
    if mlflow_major() >= 3:
        # The job's environment saved the model with mlflow 3; MLflow's client loads it.
        import pandas as pd

        model = mlflow.pyfunc.load_model("models:/iris-model/1")
        rows = pd.read_csv(folder / "data" / "iris.csv")
        predicted = model.predict(rows.drop(columns=["species"]).head(5))
        assert list(predicted) == list(rows["species"].head(5))


def test_a_scikit_learn_sweep_tunes_with_unchanged_mlflow_code_and_registers_the_best_model(own, tmp_path):
    srv, cli, http = own
    folder = tmp_path / "sklearn"
    shutil.copytree(EXAMPLES / "sklearn", folder)
    cli("data", "create", "-f", str(folder / "data.yml"))
    cli("environment", "create", "-f", str(folder / "environment.yml"))
    streamed = cli("job", "create", "-f", str(folder / "sweep.yml"), "--stream", timeout=900)
    assert "Status: Completed" in streamed.stdout, streamed.stdout
    assert "best so far" in streamed.stdout, "the sweep's own log is what --stream follows"
    name = run_name(streamed)
    sweep = job_of(http, srv, name)
    assert sweep["type"] == "sweep" and sweep["sweep"]["trials"] == {"Completed": 6}, sweep
    best = sweep["sweep"]["best_trial"]

    import mlflow

    client = mlflow.MlflowClient()
    trials = [client.get_run(f"{name}_{index}") for index in range(6)]
    for trial in trials:
        # The sweep's value is the trial's param `c`; train.py logs it again as `C`, unchanged.
        assert float(trial.data.params["c"]) == float(trial.data.params["C"]), trial.data.params
        assert trial.data.tags["mlflow.parentRunId"] == name
        assert 0.0 <= trial.data.metrics["accuracy"] <= 1.0
    assert len({trial.data.params["c"] for trial in trials}) == 6, "six different values"
    assert best["value"] == max(trial.data.metrics["accuracy"] for trial in trials)
    version = cli.json("model", "show", "-n", "iris-model-tuned", "--label", "latest", "-o", "json")
    assert version["run_id"] == best["name"], "the sweep registers its best trial's model"



def test_the_iris_pipeline_prepares_trains_evaluates_and_registers_then_reuses(own, tmp_path):
    srv, cli, http = own
    # The examples as a user has them: the pipeline beside the scikit-learn example's data.
    shutil.copytree(EXAMPLES / "sklearn", tmp_path / "sklearn")
    shutil.copytree(EXAMPLES / "pipeline", tmp_path / "pipeline")
    cli("data", "create", "-f", str(tmp_path / "sklearn" / "data.yml"))
    cli("environment", "create", "-f", str(tmp_path / "sklearn" / "environment.yml"))
    registered = cli.json("component", "create", "-f", str(tmp_path / "pipeline" / "evaluate.yml"), "-o", "json")
    assert registered["name"] == "evaluate_iris" and registered["version"] == "1"
    streamed = cli("job", "create", "-f", str(tmp_path / "pipeline" / "pipeline.yml"), "--stream", timeout=900)
    assert "Status: Completed" in streamed.stdout, streamed.stdout + streamed.stderr
    name = run_name(streamed)
    pipeline = job_of(http, srv, name)
    steps = pipeline["pipeline"]["steps"]
    assert {step: info["status"] for step, info in steps.items()} == {
        "prep": "Completed", "train": "Completed", "evaluate": "Completed"}, pipeline
    assert steps["evaluate"]["component"] == "evaluate_iris:1"

    import mlflow

    client = mlflow.MlflowClient()
    train_run = client.get_run(steps["train"]["job"])
    assert train_run.data.tags["mlflow.parentRunId"] == name, "each step is a child run of the pipeline's"
    assert train_run.data.params["rows"] == "105"
    assert client.get_run(steps["evaluate"]["job"]).data.metrics["accuracy"] > 0.8
    # The pipeline's output is registered, with the training step as its lineage.
    version = cli.json("model", "show", "-n", "iris-pipeline-model", "--label", "latest", "-o", "json")
    assert version["model_type"] == "mlflow_model" and version["run_id"] == steps["train"]["job"]

    # Nothing changed: a rerun reuses every step.
    again = cli("job", "create", "-f", str(tmp_path / "pipeline" / "pipeline.yml"), "--stream", timeout=300)
    assert "Status: Completed" in again.stdout, again.stdout
    rerun = job_of(http, srv, run_name(again))["pipeline"]["steps"]
    assert {step: info["reused_from"] for step, info in rerun.items()} == {
        step: info["job"] for step, info in steps.items()}

    # The same pipeline with a sweep step tuning c: the best trial's model is evaluated.
    tuned = cli("job", "create", "-f", str(tmp_path / "pipeline" / "tuned-pipeline.yml"), "--stream", timeout=900)
    assert "Status: Completed" in tuned.stdout, tuned.stdout + tuned.stderr
    tuned_steps = job_of(http, srv, run_name(tuned))["pipeline"]["steps"]
    assert tuned_steps["prep"]["reused_from"] == steps["prep"]["job"], "the prep step did not change"
    sweep = job_of(http, srv, tuned_steps["tune"]["job"])
    assert sweep["type"] == "sweep" and sweep["sweep"]["trials"] == {"Completed": 4}, sweep["sweep"]
    best = sweep["sweep"]["best_trial"]
    trial_runs = [client.get_run(trial["name"]) for trial in
                  cli.json("job", "list", "--parent-job-name", sweep["name"], "-o", "json")]
    assert best["value"] == max(run.data.metrics["cv_accuracy"] for run in trial_runs)
    assert sorted(float(run.data.params["c"]) for run in trial_runs) == [0.01, 0.1, 1.0, 10.0]
    assert client.get_run(tuned_steps["evaluate"]["job"]).data.metrics["accuracy"] > 0.8
