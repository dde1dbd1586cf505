"""Workspaces: ``/`` serves workspace ``default``; ``/ws/<name>`` is another workspace's MLflow base URI."""

from __future__ import annotations

import mlflow
import mlflow.artifacts
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from e2e_util import API, ARTIFACTS_API, raises_mlflow, unique, unique_ident

pytestmark = pytest.mark.atelier_only


@pytest.fixture(scope="module")
def teamb(server, cli) -> str:
    """Workspace ``teamb``, created once per server with the CLI; returns its tracking URI."""
    cli("workspace", "create", "teamb")
    return f"{server.url}/ws/teamb"


def use(uri: str) -> MlflowClient:
    """Make ``uri`` the fluent API's tracking URI (artifact URIs resolve against it too)."""
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


def assert_not_visible(client: MlflowClient, experiment_id: str, owner: str) -> None:
    """``client`` must not show the experiment ``experiment_id`` of workspace ``owner``."""
    try:
        experiment = client.get_experiment(experiment_id)
    except MlflowException as error:
        assert error.error_code == "RESOURCE_DOES_NOT_EXIST", error
        return
    assert experiment.tags.get("workspace") != owner, (
        f"experiment {experiment_id} of workspace {owner} is visible from another workspace"
    )


def test_runs_do_not_cross_workspaces(server, teamb):
    name = unique("ws-isolation")  # the same experiment name in both workspaces

    root = use(server.url)
    root_experiment = root.create_experiment(name, tags={"workspace": "default"})
    with mlflow.start_run(experiment_id=root_experiment, run_name="root-run") as active:
        mlflow.log_metric("where", 0.0)
        mlflow.log_param("workspace", "default")
    root_run = active.info.run_id

    ws = use(teamb)
    ws_experiment = ws.create_experiment(name, tags={"workspace": "teamb"})  # no clash
    with mlflow.start_run(experiment_id=ws_experiment, run_name="teamb-run") as active:
        mlflow.log_metric("where", 1.0)
        mlflow.log_param("workspace", "teamb")
    ws_run = active.info.run_id

    # Each side sees its own experiment under the shared name...
    assert ws.get_experiment_by_name(name).experiment_id == ws_experiment
    assert root.get_experiment_by_name(name).experiment_id == root_experiment
    assert [e.experiment_id for e in ws.search_experiments(filter_string=f"name = '{name}'")] == [
        ws_experiment
    ]
    assert [e.experiment_id for e in root.search_experiments(
        filter_string=f"name = '{name}'")] == [root_experiment]

    # ...and its own runs only.
    assert [r.info.run_id for r in ws.search_runs([ws_experiment])] == [ws_run]
    assert [r.info.run_id for r in root.search_runs([root_experiment])] == [root_run]
    assert ws.get_run(ws_run).data.params == {"workspace": "teamb"}
    assert root.get_run(root_run).data.params == {"workspace": "default"}
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        root.get_run(ws_run)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        ws.get_run(root_run)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        root.log_metric(ws_run, "sneaky", 1.0)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        ws.set_tag(root_run, "sneaky", "1")
    # Experiment ids may be global or per workspace: asking one side for the other side's id
    # finds nothing, or finds an unrelated experiment of its own, never the other's.
    assert_not_visible(root, ws_experiment, "teamb")
    assert_not_visible(ws, root_experiment, "default")

    # Searching the other side's experiment id from here never returns the other's runs.
    leaked = root.search_runs([ws_experiment, root_experiment], "params.workspace = 'teamb'")
    assert leaked == []
    leaked = ws.search_runs([ws_experiment, root_experiment], "params.workspace = 'default'")
    assert leaked == []
    frame = mlflow.search_runs(experiment_names=[name])  # fluent URI is teamb now
    assert frame["run_id"].tolist() == [ws_run]


def test_workspace_experiment_ids_and_artifacts(server, teamb, tmp_path):
    ws = use(teamb)
    experiment_id = ws.create_experiment(unique("ws-artifacts"))
    experiment = ws.get_experiment(experiment_id)
    assert experiment.lifecycle_stage == "active"
    assert experiment.artifact_location.startswith("mlflow-artifacts:/")

    folder = tmp_path / "folder"
    (folder / "nested").mkdir(parents=True)
    (folder / "top.txt").write_text("top")
    (folder / "nested" / "inner.bin").write_bytes(bytes(range(200)))
    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_text("teamb text", "notes/t.txt")
        mlflow.log_artifacts(str(folder), artifact_path="folder")
        mlflow.log_dict({"ws": "teamb"}, "d.json")
    run_id = active.info.run_id
    run = ws.get_run(run_id)
    assert run.info.experiment_id == experiment_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")

    assert {f.path for f in ws.list_artifacts(run_id)} == {"notes", "folder", "d.json"}
    assert {f.path for f in ws.list_artifacts(run_id, "folder")} == {"folder/top.txt",
                                                                       "folder/nested"}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/t.txt") == "teamb text"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/d.json") == {"ws": "teamb"}
    destination = tmp_path / "download"
    destination.mkdir()
    local = ws.download_artifacts(run_id, "folder", str(destination))
    assert (destination / "folder" / "top.txt").read_text() == "top"
    assert (destination / "folder" / "nested" / "inner.bin").read_bytes() == bytes(range(200))
    assert local.rstrip("/").endswith("folder")

    # The same artifact path asked of the root workspace does not leak teamb's file.
    relative = run.info.artifact_uri[len("mlflow-artifacts:/"):].lstrip("/")
    token = {"Authorization": f"Bearer {server.token}"}
    leaked = requests.get(f"{server.url}{ARTIFACTS_API}/{relative}/notes/t.txt", headers=token,
                          timeout=30)
    assert leaked.status_code >= 400 and b"teamb text" not in leaked.content
    inside = requests.get(f"{teamb}{ARTIFACTS_API}/{relative}/notes/t.txt", headers=token,
                          timeout=30)
    assert inside.status_code == 200 and inside.content == b"teamb text"


def test_workspace_metrics_and_search(teamb):
    ws = use(teamb)
    experiment_id = ws.create_experiment(unique("ws-search"))
    ids = []
    for index in range(3):
        run = ws.create_run(experiment_id, run_name=f"r{index}")
        ws.log_metric(run.info.run_id, "acc", index / 10, step=index)
        ids.append(run.info.run_id)
    found = ws.search_runs([experiment_id], "metrics.acc > 0.05", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [ids[2], ids[1]]
    assert [m.value for m in ws.get_metric_history(ids[2], "acc")] == [0.2]


def test_unknown_workspace_is_404(server):
    response = requests.post(
        f"{server.url}/ws/{unique_ident('nosuchws')}{API}/experiments/search",
        json={"max_results": 1},
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    assert response.status_code == 404, response.text
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_creating_an_existing_workspace_fails(cli, teamb):
    result = cli("workspace", "create", "teamb", check=False)
    assert result.returncode != 0
    assert result.stderr.strip()
