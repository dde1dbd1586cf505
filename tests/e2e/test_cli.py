"""The ``atelier`` CLI reading back what the mlflow client logged."""

from __future__ import annotations

import uuid

import mlflow
import pytest

from e2e_util import now_ms

pytestmark = pytest.mark.atelier_only


@pytest.fixture
def logged(client, new_experiment):
    """An experiment with two runs logged through the mlflow client."""
    experiment_id, name = new_experiment("cli")
    base = now_ms()
    with mlflow.start_run(experiment_id=experiment_id, run_name="cli-first") as first:
        mlflow.log_params({"lr": "0.01", "optimizer": "adam"})
        mlflow.log_metric("acc", 0.5, step=0, timestamp=base)
        mlflow.log_metric("acc", 0.8, step=2, timestamp=base + 1)
        mlflow.log_metric("acc", 0.7, step=1, timestamp=base + 2)  # logged last, lower step
        mlflow.log_metric("loss", 0.25)
        mlflow.set_tag("team", "cli-team")
    second = client.create_run(experiment_id, run_name="cli-second")
    client.log_param(second.info.run_id, "lr", "0.1")
    return {
        "experiment_id": experiment_id,
        "name": name,
        "first": first.info.run_id,
        "second": second.info.run_id,
    }


def test_experiment_list_json(cli, logged):
    experiments = cli.json("experiment", "list", "-o", "json")
    assert isinstance(experiments, list)
    by_id = {str(e["experiment_id"]): e for e in experiments}
    assert by_id[logged["experiment_id"]]["name"] == logged["name"]
    assert "0" in by_id and by_id["0"]["name"] == "Default"


def test_run_list_json(cli, logged):
    runs = cli.json("run", "list", "--experiment", logged["name"], "-o", "json")
    assert isinstance(runs, list)
    by_id = {r["run_id"]: r for r in runs}
    assert set(by_id) == {logged["first"], logged["second"]}

    first = by_id[logged["first"]]
    assert first["run_name"] == "cli-first"
    assert first["status"] == "FINISHED"
    # The latest value per key: the highest step wins.
    assert first["metrics"] == {"acc": 0.8, "loss": 0.25}
    assert first["params"] == {"lr": "0.01", "optimizer": "adam"}

    second = by_id[logged["second"]]
    assert second["run_name"] == "cli-second"
    assert second["status"] == "RUNNING"
    assert second["metrics"] == {}
    assert second["params"] == {"lr": "0.1"}


def test_run_show_json(cli, logged):
    run = cli.json("run", "show", logged["first"], "-o", "json")
    assert isinstance(run, dict)
    assert run["run_id"] == logged["first"]
    assert run["run_name"] == "cli-first"
    assert run["status"] == "FINISHED"
    assert run["metrics"] == {"acc": 0.8, "loss": 0.25}
    assert run["params"] == {"lr": "0.01", "optimizer": "adam"}
    assert run["tags"]["team"] == "cli-team"
    assert run["tags"]["mlflow.runName"] == "cli-first"


def test_table_output_mentions_the_runs(cli, logged):
    result = cli("run", "list", "--experiment", logged["name"])
    assert "cli-first" in result.stdout
    assert "cli-second" in result.stdout
    result = cli("run", "show", logged["first"])
    assert "cli-first" in result.stdout


def test_unknown_run_is_a_one_line_error(cli):
    result = cli("run", "show", uuid.uuid4().hex, check=False)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert message, "expected an error message on stderr"
    assert "\n" not in message, f"expected one line, got:\n{message}"
    assert result.stdout.strip() == ""


def test_unknown_experiment_name_fails(cli):
    result = cli("run", "list", "--experiment", f"no-such-{uuid.uuid4().hex}", "-o", "json",
                 check=False)
    assert result.returncode != 0
    assert result.stderr.strip()
