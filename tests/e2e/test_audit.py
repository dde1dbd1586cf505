"""The audit log with real clients: the mlflow client's and the CLI's changes, refusals and
sign-ins are recorded once per request, read back with ``atelier audit list``, and a record
commits with its change, so a server killed with -9 loses neither."""

from __future__ import annotations


import pytest
import requests
from mlflow import MlflowClient

from conftest import CONFIG, Cli
from e2e_util import raises_mlflow, unique_ident

pytestmark = pytest.mark.atelier_only


def test_tracking_and_refusals_are_recorded_once_per_request(cli, server, monkeypatch):
    workspace = unique_ident("audited")
    cli("workspace", "create", workspace)
    reader = unique_ident("auditreader")
    cli("user", "create", reader, "--password", "reader-password-1")
    cli("role", "assign", "--user", reader, "--role", "Reader", "--workspace", workspace)

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server.token)
    client = MlflowClient(tracking_uri=f"{server.url}/ws/{workspace}")
    experiment = client.create_experiment(unique_ident("exp"))
    run = client.create_run(experiment)
    from mlflow.entities import Metric

    client.log_batch(run.info.run_id, metrics=[Metric("loss", 1.0 / step, 0, step) for step in range(1, 501)])
    client.delete_run(run.info.run_id)

    records = cli.json("audit", "list", "--workspace", workspace, "--since", "1h", "-o", "json")
    batches = [record for record in records if record["target"].startswith("POST /ws/") and "log-batch" in record["target"]]
    assert len(batches) == 1, "500 metrics in one request are one record"
    assert batches[0]["target"].endswith(f"run {run.info.run_id}")
    assert batches[0]["user"] == "admin" and batches[0]["outcome"] == "succeeded"
    deletes = cli.json("audit", "list", "--workspace", workspace, "--action", "*/DELETE", "-o", "json")
    assert [record["target"] for record in deletes] == [f"POST /ws/{workspace}/api/2.0/mlflow/runs/delete run {run.info.run_id}"]

    # A Reader's attempt to write, through the real client with basic credentials.
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", reader)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "reader-password-1")
    with raises_mlflow("PERMISSION_DENIED"):
        MlflowClient(tracking_uri=f"{server.url}/ws/{workspace}").create_experiment("not-allowed")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "a-wrong-password")
    with raises_mlflow("UNAUTHENTICATED"):
        MlflowClient(tracking_uri=f"{server.url}/ws/{workspace}").search_experiments()

    denied = cli.json("audit", "list", "--user", reader, "--outcome", "denied", "-o", "json")
    assert [(record["action"], record["error"]) for record in denied] == [
        ("Atelier/users/signIn/action", "UNAUTHENTICATED"),
        ("Microsoft.MachineLearningServices/workspaces/experiments/write", "PERMISSION_DENIED"),
    ]
    assert all(record["address"] == "127.0.0.1" for record in denied)
    assert "a-wrong-password" not in str(records + denied), "never a secret"

    table = cli("audit", "list", "--user", reader).stdout
    assert table.count("denied") == 2 and reader[:8] in table, table

    # The workspace's log is its Owners'; the whole log the administrators'.
    reader_token = cli.json("token", "create", "--user", reader, "-o", "json")["token"]
    refused = cli("audit", "list", "--workspace", workspace, token=reader_token, check=False)
    assert refused.returncode != 0 and "does not permit" in refused.stderr
    bad = cli("audit", "list", "--since", "last tuesday", check=False)
    assert bad.returncode != 0 and "'since'" in bad.stderr


def test_a_record_commits_with_its_change_and_survives_kill_9(make_server, tmp_path):
    srv = make_server()
    srv.start()
    headers = {"Authorization": f"Bearer {srv.token}"}
    created = requests.post(
        f"{srv.url}/api/2.0/mlflow/experiments/create", json={"name": "kept"}, headers=headers, timeout=30
    )
    assert created.status_code == 200
    request_id = created.headers["x-request-id"]
    srv.kill()
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    records = cli.json("audit", "list", "-o", "json")
    matching = [record for record in records if record["request_id"] == request_id]
    assert len(matching) == 1 and matching[0]["outcome"] == "succeeded", records
    experiment = requests.get(
        f"{srv.url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "kept"}, headers=headers,
        timeout=30,
    )
    assert experiment.status_code == 200
    assert srv.stop() == 0
