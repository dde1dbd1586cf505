"""A job's token (MLFLOW_TRACKING_TOKEN inside the job) manages no accounts: tried from inside a
real job, every account route answers 403, so the job cannot mint a token that outlives it.
And a token scoped to metrics reads /metrics and nothing else."""

from __future__ import annotations

import textwrap
import time
import uuid

import pytest
import requests

from conftest import CONFIG, Cli

pytestmark = pytest.mark.atelier_only

ESCAPE_JOB = """\
    $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
    type: command
    display_name: token escape
    code: src
    command: python3 escape.py
    """

# Every account operation a job's code might try with its own token. The MLflow call first
# shows that the token works (a dead token would get 401, not 403).
ESCAPE_PY = """\
    import json, os, sys, urllib.error, urllib.request

    url = os.environ["ATELIER_URL"].rstrip("/")
    token = os.environ["MLFLOW_TRACKING_TOKEN"]

    def call(method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + token)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    status, text = call("POST", "/api/2.0/mlflow/experiments/search", {})
    print("mlflow experiments/search", status)
    if status != 200:
        print("the job's token does not work for MLflow:", text)
        sys.exit(2)

    attempts = [
        ("POST", "/api/v1/tokens", {"description": "outlives the job"}),
        ("POST", "/api/v1/tokens", {"user": "admin"}),
        ("POST", "/api/v1/tokens", {"scope": "metrics"}),
        ("GET", "/api/v1/tokens", None),
        ("GET", "/api/v1/tokens?user=admin", None),
        ("DELETE", "/api/v1/tokens/000000000000", None),
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"name": "mallory", "password": "password123", "is_admin": True}),
        ("GET", "/api/v1/workspaces/default/roles", None),
        ("PUT", "/api/v1/workspaces/default/roles", {"user": "admin", "role": "Reader"}),
        ("DELETE", "/api/v1/workspaces/default/roles/admin", None),
        ("POST", "/api/v1/workspaces", {"name": "escaped"}),
        ("GET", "/api/v1/workspaces", None),
        ("GET", "/api/v1/workspaces/default", None),
        ("PATCH", "/api/v1/workspaces/default", {"description": "taken over"}),
        ("DELETE", "/api/v1/workspaces/default", None),
        ("GET", "/metrics", None),
    ]
    wrong = []
    for method, path, body in attempts:
        status, text = call(method, path, body)
        print(method, path, status)
        if status != 403:
            wrong.append(f"{method} {path}: {status} {text[:300]}")
    if wrong:
        print("NOT REFUSED:", *wrong, sep="\\n  ")
        sys.exit(1)
    print("every account operation was refused")
    """


def test_job_token_cannot_mint_user_token(make_server, tmp_path):
    srv = make_server()
    srv.extra_args = ["--local-cpus", "2"]
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {srv.token}"
    def tokens() -> list[dict]:
        # When each was last used moves on; which tokens exist must not.
        return [{k: v for k, v in token.items() if k != "last_used_at"}
                for token in http.get(f"{srv.url}/api/v1/tokens").json()]

    tokens_before = tokens()

    folder = tmp_path / "escape"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "escape.py").write_text(textwrap.dedent(ESCAPE_PY))
    job_file = folder / "job.yml"
    job_file.write_text(textwrap.dedent(ESCAPE_JOB))
    name = f"escape-{uuid.uuid4().hex[:8]}"
    cli("job", "create", "-f", str(job_file), "--name", name, "--stream", check=False, timeout=180)

    deadline = time.monotonic() + 120
    job = http.get(f"{srv.url}/api/v1/workspaces/default/jobs/{name}").json()
    while job.get("status") not in ("Completed", "Failed", "Canceled") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = http.get(f"{srv.url}/api/v1/workspaces/default/jobs/{name}").json()
    log = http.get(f"{srv.url}/api/v1/workspaces/default/jobs/{name}/logs",
                   params={"file": "user_logs/std_log.txt"}).json().get("text", "")
    assert job["status"] == "Completed", f"{job}\n{log}\n{srv.log_tail()}"
    assert "every account operation was refused" in log, log

    # Nothing changed: no new token, the admin keeps its role, the workspace is there.
    assert tokens() == tokens_before
    roles = http.get(f"{srv.url}/api/v1/workspaces/default/roles").json()
    assert any(role["user"] == "admin" and role["role"] == "Owner" for role in roles), roles
    workspaces = [ws["name"] for ws in http.get(f"{srv.url}/api/v1/workspaces").json()]
    assert workspaces == ["default"], workspaces


def test_metrics_token_reads_only_metrics(server, cli):
    created = cli.json("token", "create", "--scope", "metrics", "--description", "prometheus", "-o", "json")
    token = created["token"]
    headers = {"Authorization": f"Bearer {token}"}
    metrics = requests.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert metrics.status_code == 200, metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
    for method, path in [("GET", "/api/v1/workspaces"), ("GET", "/api/v1/tokens"),
                         ("POST", "/api/2.0/mlflow/experiments/search")]:
        response = requests.request(method, f"{server.url}{path}", headers=headers, json={}, timeout=10)
        assert response.status_code == 403, (path, response.text)
        assert "scoped to metrics" in response.json()["message"]
    listed = cli.json("token", "list", "-o", "json")
    assert any(entry["id"] == created["id"] and entry["scope"] == "metrics" for entry in listed), listed
    cli("token", "revoke", created["id"])
