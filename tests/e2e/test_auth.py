"""Users, tokens and roles made with the CLI, enforced on the MLflow API."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import mlflow
import pytest
import requests
from mlflow import MlflowClient

from e2e_util import API, ARTIFACTS_API, raises_mlflow, unique, unique_ident

pytestmark = pytest.mark.atelier_only

PASSWORD = "secret123"


@pytest.fixture
def alice(cli):
    """A fresh user with a password and an API token, and no role yet."""
    name = unique_ident("alice")
    cli("user", "create", name, "--password", PASSWORD)
    created = cli.json("token", "create", "--user", name, "-o", "json")
    assert isinstance(created, dict), created
    assert isinstance(created.get("token"), str) and created["token"], created
    assert created.get("id") not in (None, ""), created
    return SimpleNamespace(name=name, password=PASSWORD, token=created["token"],
                           token_id=str(created["id"]))


@pytest.fixture
def admin_run(client, new_experiment):
    """An experiment and a run with a metric and an artifact, made by the admin."""
    experiment_id, name = new_experiment("auth")
    run_id = client.create_run(experiment_id, run_name="admin-run").info.run_id
    client.log_metric(run_id, "acc", 0.5)
    client.log_text(run_id, "secret notes", "notes.txt")
    return SimpleNamespace(experiment_id=experiment_id, name=name, run_id=run_id)


def as_token(monkeypatch, token: str) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    return MlflowClient()


def as_password(monkeypatch, user: str, password: str) -> MlflowClient:
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    return MlflowClient()


def test_secret_files_are_private(server):
    for name in ("token", "admin-password"):
        path = server.home / name
        assert path.exists(), f"{path} missing"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} mode {oct(path.stat().st_mode)}"
        assert path.read_text().strip()


def test_admin_password_works_with_basic_auth(server, monkeypatch, admin_run):
    client = as_password(monkeypatch, "admin", server.read_secret("admin-password"))
    assert client.get_run(admin_run.run_id).data.metrics == {"acc": 0.5}
    client.log_metric(admin_run.run_id, "by_password", 1.0)


def test_no_role_means_no_access(monkeypatch, alice, admin_run):
    client = as_token(monkeypatch, alice.token)
    with raises_mlflow("PERMISSION_DENIED"):
        client.get_run(admin_run.run_id)
    with raises_mlflow("PERMISSION_DENIED"):
        client.search_runs([admin_run.experiment_id])


def test_reader_can_read_but_not_write(server, cli, monkeypatch, alice, admin_run, tmp_path):
    cli("role", "assign", "--user", alice.name, "--role", "Reader", "--workspace", "default")
    client = as_token(monkeypatch, alice.token)

    # Reads.
    runs = client.search_runs([admin_run.experiment_id])
    assert [r.info.run_id for r in runs] == [admin_run.run_id]
    assert client.get_run(admin_run.run_id).data.metrics == {"acc": 0.5}
    assert client.get_experiment_by_name(admin_run.name).experiment_id == admin_run.experiment_id
    assert [m.value for m in client.get_metric_history(admin_run.run_id, "acc")] == [0.5]
    assert [f.path for f in client.list_artifacts(admin_run.run_id)] == ["notes.txt"]
    assert mlflow.artifacts.load_text(f"runs:/{admin_run.run_id}/notes.txt") == "secret notes"
    frame = mlflow.search_runs(experiment_ids=[admin_run.experiment_id])
    assert frame["run_id"].tolist() == [admin_run.run_id]

    # Writes: 403 PERMISSION_DENIED.
    with raises_mlflow("PERMISSION_DENIED"):
        client.create_run(admin_run.experiment_id)
    with raises_mlflow("PERMISSION_DENIED"):
        client.log_metric(admin_run.run_id, "acc", 0.9)
    with raises_mlflow("PERMISSION_DENIED"):
        client.set_tag(admin_run.run_id, "by", "alice")
    with raises_mlflow("PERMISSION_DENIED"):
        client.create_experiment(unique("auth-reader"))
    with raises_mlflow("PERMISSION_DENIED"):
        client.delete_run(admin_run.run_id)
    with raises_mlflow("PERMISSION_DENIED"):
        mlflow.start_run(experiment_id=admin_run.experiment_id)

    headers = {"Authorization": f"Bearer {alice.token}"}
    response = requests.post(f"{server.url}{API}/runs/create",
                             json={"experiment_id": admin_run.experiment_id}, headers=headers,
                             timeout=30)
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    artifact_uri = client.get_run(admin_run.run_id).info.artifact_uri
    relative = artifact_uri[len("mlflow-artifacts:/"):].lstrip("/")
    response = requests.put(f"{server.url}{ARTIFACTS_API}/{relative}/evil.txt", data=b"x",
                            headers=headers, timeout=30)
    assert response.status_code == 403, response.text

    # Nothing changed.
    admin = as_token(monkeypatch, server.token)
    run = admin.get_run(admin_run.run_id)
    assert run.data.metrics == {"acc": 0.5}
    assert "by" not in run.data.tags
    assert [f.path for f in admin.list_artifacts(admin_run.run_id)] == ["notes.txt"]


def test_basic_auth_with_user_password(cli, monkeypatch, alice, admin_run):
    cli("role", "assign", "--user", alice.name, "--role", "Reader", "--workspace", "default")
    client = as_password(monkeypatch, alice.name, alice.password)
    assert [r.info.run_id for r in client.search_runs([admin_run.experiment_id])] == [
        admin_run.run_id
    ]
    with raises_mlflow("PERMISSION_DENIED"):
        client.create_run(admin_run.experiment_id)

    client = as_password(monkeypatch, alice.name, "wrong-password")
    with raises_mlflow("UNAUTHENTICATED"):
        client.search_runs([admin_run.experiment_id])


def test_contributor_can_write(cli, monkeypatch, alice, admin_run):
    cli("role", "assign", "--user", alice.name, "--role", "Contributor", "--workspace", "default")
    client = as_token(monkeypatch, alice.token)
    run_id = client.create_run(admin_run.experiment_id, run_name="by-alice").info.run_id
    client.log_metric(run_id, "acc", 0.7)
    client.log_text(run_id, "alice was here", "alice.txt")
    assert client.get_run(run_id).data.metrics == {"acc": 0.7}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/alice.txt") == "alice was here"


def test_role_is_per_workspace(server, cli, monkeypatch, alice):
    workspace = unique_ident("wsauth")
    cli("workspace", "create", workspace)
    cli("role", "assign", "--user", alice.name, "--role", "Reader", "--workspace", "default")
    client = MlflowClient(tracking_uri=f"{server.url}/ws/{workspace}")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", alice.token)
    with raises_mlflow("PERMISSION_DENIED"):
        client.search_experiments()
    cli("role", "assign", "--user", alice.name, "--role", "Reader", "--workspace", workspace)
    client.search_experiments()


def test_revoked_token_is_401(server, cli, monkeypatch, alice, admin_run):
    cli("role", "assign", "--user", alice.name, "--role", "Reader", "--workspace", "default")
    url = f"{server.url}{API}/experiments/get?experiment_id={admin_run.experiment_id}"
    headers = {"Authorization": f"Bearer {alice.token}"}
    assert requests.get(url, headers=headers, timeout=30).status_code == 200

    cli("token", "revoke", alice.token_id)
    assert requests.get(url, headers=headers, timeout=30).status_code == 401
    client = as_token(monkeypatch, alice.token)
    with raises_mlflow("UNAUTHENTICATED"):
        client.get_experiment(admin_run.experiment_id)
    # Other credentials of the same user are unaffected.
    client = as_password(monkeypatch, alice.name, alice.password)
    assert client.get_experiment(admin_run.experiment_id).name == admin_run.name


def test_disabled_user_is_refused_until_enabled(server, cli, monkeypatch, alice, admin_run):
    """`atelier user disable`: the user's token and password are refused by the real MLflow
    client, the listing says so, the token keeps its last use; `user enable` undoes it."""
    cli("role", "assign", "--user", alice.name, "--role", "Reader", "--workspace", "default")
    client = as_token(monkeypatch, alice.token)
    assert client.get_experiment(admin_run.experiment_id).name == admin_run.name

    disabled = cli.json("user", "disable", alice.name, "-o", "json")
    assert disabled[0]["name"] == alice.name and disabled[0]["disabled"] is True, disabled
    with raises_mlflow("UNAUTHENTICATED"):
        as_token(monkeypatch, alice.token).get_experiment(admin_run.experiment_id)
    with raises_mlflow("UNAUTHENTICATED"):
        as_password(monkeypatch, alice.name, alice.password).get_experiment(admin_run.experiment_id)
    listed = {user["name"]: user for user in cli.json("user", "list", "-o", "json")}
    assert listed[alice.name]["disabled"] is True and listed["admin"]["disabled"] is False
    assert alice.name in cli("user", "list").stdout
    tokens = cli.json("token", "list", "--user", alice.name, "-o", "json")
    assert [token["last_used_at"] is not None for token in tokens] == [True], tokens
    # A user who is refused cannot enable themselves, and an administrator cannot disable themselves.
    result = cli("user", "enable", alice.name, token=alice.token, check=False)
    assert result.returncode != 0 and result.stderr.strip()
    result = cli("user", "disable", "admin", check=False)
    assert result.returncode != 0 and "cannot disable yourself" in result.stderr

    cli("user", "enable", alice.name)
    assert as_token(monkeypatch, alice.token).get_experiment(admin_run.experiment_id).name == admin_run.name
    client = as_password(monkeypatch, alice.name, alice.password)
    assert client.get_experiment(admin_run.experiment_id).name == admin_run.name


def test_non_admin_cannot_manage_users(cli, alice):
    cli("role", "assign", "--user", alice.name, "--role", "Contributor", "--workspace", "default")
    result = cli("user", "create", unique_ident("mallory"), "--password", "whatever1",
                 token=alice.token, check=False)
    assert result.returncode != 0
    assert result.stderr.strip()
    result = cli("token", "create", "--user", "admin", "-o", "json", token=alice.token, check=False)
    assert result.returncode != 0


def test_cli_without_credentials_fails(cli):
    result = cli("experiment", "list", "-o", "json", token=None, check=False)
    assert result.returncode != 0
    assert result.stderr.strip()


def test_failed_sign_ins_make_the_name_wait_and_unknown_names_take_as_long(server, cli):
    """Five wrong passwords in a row make the name wait: the right one is then refused too
    (429, on the API and in the studio) until the wait is over. A name that does not exist is
    refused as slowly as a wrong password, so that the time tells nothing about which exist."""
    import time

    name = unique_ident("guessed")
    cli("user", "create", name, "--password", PASSWORD)
    url = f"{server.url}/api/v1/whoami"
    for _ in range(5):
        assert requests.get(url, auth=(name, "not-the-password"), timeout=30).status_code == 401
    waiting = requests.get(url, auth=(name, PASSWORD), timeout=30)
    assert waiting.status_code == 429, waiting.text
    assert "too many failed sign-ins" in waiting.json()["message"] and "try again in" in waiting.json()["message"]
    studio = requests.post(f"{server.url}/login", data={"user": name, "password": PASSWORD, "next": "/"},
                           allow_redirects=False, timeout=30)
    assert studio.status_code == 429 and "too many failed sign-ins" in studio.text
    other = unique_ident("other")
    cli("user", "create", other, "--password", PASSWORD)
    assert requests.get(url, auth=(other, PASSWORD), timeout=30).status_code == 200, "other names do not wait"

    # The fastest of four refusals each (the least disturbed by a busy machine): an unknown name
    # is checked against a stand-in hash, as slow as the real check (it was ~1 ms against ~45).
    def fastest(pairs) -> float:
        times = []
        for user, password in pairs:
            started = time.perf_counter()
            assert requests.get(url, auth=(user, password), timeout=30).status_code == 401
            times.append(time.perf_counter() - started)
        return min(times)

    known = unique_ident("known")
    cli("user", "create", known, "--password", PASSWORD)
    wrong_password = fastest([(known, f"wrong-{index}") for index in range(4)])
    unknown_name = fastest([(unique_ident("nobody"), "whatever") for _ in range(4)])
    assert unknown_name >= 0.5 * wrong_password, (unknown_name, wrong_password)
