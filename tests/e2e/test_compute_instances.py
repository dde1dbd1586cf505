"""Compute instances: a JupyterLab for one person, created from Azure's YAML, reached only
through the server's proxy (HTTP and the kernels' WebSockets), whose notebooks track into the
owner's workspace with the SDK and mlflow ready; stopped, started, restarted, shared, stopped
for idleness and by schedule, kept running across a server restart, and deleted."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import requests
import websocket

import conftest
from conftest import CONFIG, Cli
from e2e_util import remove_instances, unique_ident

pytestmark = [pytest.mark.atelier_only, pytest.mark.one_client]

# The first instance on a fresh machine installs JupyterLab into its environment.
FIRST_START = 600


@pytest.fixture(scope="module")
def srv(tmp_path_factory, databases):
    server = conftest._new_server(tmp_path_factory.mktemp("instances-server"), databases)
    server.start()
    yield server
    remove_instances(server)
    server.kill()


@pytest.fixture
def cli(srv, tmp_path):
    (tmp_path / "cli-home").mkdir()
    return Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")


def api(srv, token=None):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token or srv.token}"
    return session


def instance(srv, name, token=None):
    answer = api(srv, token).get(f"{srv.url}/api/v1/workspaces/default/compute-instances/{name}", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_state(srv, name, states, timeout):
    deadline = time.monotonic() + timeout
    while True:
        shown = instance(srv, name)
        if shown["state"] in states:
            return shown
        assert time.monotonic() < deadline, f"{name} stayed {shown['state']} ({shown.get('reason')})"
        assert shown["state"] != "Failed", shown
        time.sleep(0.5)


def create(cli, tmp_path, body: str, files: dict[str, str] | None = None) -> str:
    name = unique_ident("ci")[:20]
    folder = tmp_path / name
    folder.mkdir()
    for file, text in (files or {}).items():
        (folder / file).write_text(textwrap.dedent(text))
    (folder / "ci.yml").write_text(f"name: {name}\ntype: computeinstance\n" + textwrap.dedent(body))
    created = cli.json("compute", "create", "-f", str(folder / "ci.yml"), "-o", "json")
    assert created["state"] == "Creating" and created["type"] == "computeinstance", created
    return name


def run_cell(srv, name, code, token=None):
    """Runs `code` in a new kernel of the instance through the proxy; its output and error."""
    base = f"{srv.url}/ci/default/{name}"
    headers = {"Authorization": f"Bearer {token or srv.token}"}
    kernel = requests.post(f"{base}/api/kernels", headers=headers, json={"name": "python3"}, timeout=60)
    assert kernel.status_code in (200, 201), kernel.text
    kernel_id = kernel.json()["id"]
    socket = websocket.create_connection(
        base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels",
        header=[f"Authorization: Bearer {token or srv.token}"], timeout=120)
    message_id = uuid.uuid4().hex
    socket.send(json.dumps({
        "header": {"msg_id": message_id, "username": "e2e", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out, error = [], None
    while True:
        message = json.loads(socket.recv())
        if message.get("parent_header", {}).get("msg_id") != message_id:
            continue
        if message["msg_type"] == "stream":
            out.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            error = f"{message['content']['ename']}: {message['content']['evalue']}"
        elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    socket.close()
    requests.delete(f"{base}/api/kernels/{kernel_id}", headers=headers, timeout=30)
    return "".join(out), error


def test_an_instances_notebooks_track_into_its_owners_workspace_with_mlflow_and_the_sdk(srv, cli, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", srv.token)

    cli("data", "create", "--name", "notes", "--type", "uri_file", "--path", str(_notes(tmp_path)))
    name = create(cli, tmp_path, """\
        size: Standard_DS3_v2
        setup_scripts:
          creation_script:
            path: setup.sh
          startup_script:
            command: echo started >> starts.txt
        """, files={"setup.sh": "echo created > created.txt\n"})
    running = wait_state(srv, name, {"Running"}, FIRST_START)
    assert running["owner"] == "admin" and running["jupyterlab_url"] == f"/ci/default/{name}/lab"
    status = api(srv).get(f"{srv.url}/ci/default/{name}/api/status", timeout=30)
    assert status.status_code == 200 and "started" in status.json(), status.text

    out, error = run_cell(srv, name, textwrap.dedent("""\
        import mlflow
        mlflow.set_experiment("from-a-notebook")
        with mlflow.start_run() as run:
            mlflow.log_metric("accuracy", 0.93)
        print("RUN_ID=" + run.info.run_id)
        """))
    assert error is None, error
    run_id = out.split("RUN_ID=")[1].split()[0]
    logged = mlflow.MlflowClient(tracking_uri=srv.url).get_run(run_id)
    assert logged.data.metrics["accuracy"] == 0.93, "the metric landed in the owner's workspace"
    assert logged.info.user_id == "admin" and logged.data.tags["mlflow.user"] == "admin", \
        "a notebook's run is its owner's, not the confined process's user's"

    out, error = run_cell(srv, name, textwrap.dedent("""\
        import os, requests
        from atelier import MLClient
        ml_client = MLClient()
        ml_client.data.download("notes", label="latest", download_path="got")
        print("read:", open("got/notes.txt").read().strip())
        print("workspace:", ml_client.workspaces.get().name)
        minted = requests.post(os.environ["ATELIER_URL"] + "/api/v1/tokens",
                               headers={"Authorization": "Bearer " + os.environ["ATELIER_TOKEN"]}, json={})
        print("mint:", minted.status_code)
        print("created:", open("created.txt").read().strip(), "starts:", open("starts.txt").read().count("started"))
        print("home:", os.path.expanduser("~"))
        """))
    assert error is None, error
    assert "read: a note for the notebook" in out and "workspace: default" in out, out
    assert "mint: 403" in out, "an instance's token mints no tokens"
    assert "created: created starts: 1" in out, out
    assert f"home: {srv.home}/instances/default/{name}/home" in out, "notebooks' home is the instance's, which lasts"

    # The notebook's code cannot read the server's secrets.
    out, error = run_cell(srv, name, f"print(open({str(srv.home / 'token')!r}).read())")
    assert error is not None and srv.token not in out, (out, error)


def _notes(tmp_path: Path) -> Path:
    notes = tmp_path / "notes.txt"
    notes.write_text("a note for the notebook\n")
    return notes


def test_only_its_owner_and_those_they_share_it_with_open_an_instance(srv, cli, tmp_path):
    name = create(cli, tmp_path, "idle_time_before_shutdown_minutes: 60\n")
    wait_state(srv, name, {"Running"}, FIRST_START)
    users = {}
    for user, role in (("bob", "Owner"), ("carol", "AzureML Data Scientist")):
        login = unique_ident(user)
        cli("user", "create", login, "--password", f"{user}-password-123")
        cli("role", "assign", "--user", login, "--role", role, "--workspace", "default")
        users[user] = (login, cli.json("token", "create", "--user", login, "-o", "json")["token"])
    status = f"{srv.url}/ci/default/{name}/api/status"
    assert api(srv).get(status, timeout=30).status_code == 200
    # A workspace Owner who is not the instance's owner is refused, as is anyone else.
    refused = api(srv, users["bob"][1]).get(status, timeout=30)
    assert refused.status_code == 403 and "only its owner" in refused.json()["message"], refused.text
    assert api(srv, users["carol"][1]).get(status, timeout=30).status_code == 403
    assert requests.get(status, timeout=30).status_code == 401
    page = requests.get(f"{srv.url}/ci/default/{name}/lab", headers={"Accept": "text/html"}, allow_redirects=False,
                        timeout=30)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next="), page.headers

    shared = cli.json("compute", "share", "-n", name, "--users", users["bob"][0], "-o", "json")
    assert shared["shared_with"] == [users["bob"][0]]
    assert api(srv, users["bob"][1]).get(status, timeout=30).status_code == 200
    assert api(srv, users["carol"][1]).get(status, timeout=30).status_code == 403
    # Only its owner shares it; acting on another's instance takes the right to change computes.
    not_owner = api(srv, users["bob"][1]).put(
        f"{srv.url}/api/v1/workspaces/default/compute-instances/{name}/sharing", json={"users": []}, timeout=30)
    assert not_owner.status_code == 403, not_owner.text
    stop = f"{srv.url}/api/v1/workspaces/default/compute-instances/{name}/stop"
    assert api(srv, users["carol"][1]).post(stop, timeout=30).status_code == 403
    assert api(srv, users["bob"][1]).post(stop, timeout=30).status_code == 200, "an Owner may change computes"
    wait_state(srv, name, {"Stopped"}, 60)


def test_an_instance_stops_starts_restarts_keeps_its_home_and_outlives_a_server_restart(srv, cli, tmp_path):
    name = create(cli, tmp_path, "")
    wait_state(srv, name, {"Running"}, FIRST_START)
    out, error = run_cell(srv, name, "open('kept.txt', 'w').write('still here')\nprint('written')")
    assert error is None and "written" in out

    stopping = cli.json("compute", "stop", "-n", name, "-o", "json")
    assert stopping["state"] == "Stopping"
    wait_state(srv, name, {"Stopped"}, 60)
    closed = api(srv).get(f"{srv.url}/ci/default/{name}/api/status", timeout=30)
    assert closed.status_code == 400 and "is Stopped" in closed.json()["message"], closed.text
    cli("compute", "start", "-n", name)
    wait_state(srv, name, {"Running"}, 120)
    out, error = run_cell(srv, name, "print(open('kept.txt').read())")
    assert error is None and "still here" in out, "the home lasts from one start to the next"

    before = api(srv).get(f"{srv.url}/ci/default/{name}/api/status", timeout=30).json()["started"]
    restarted = cli.json("compute", "restart", "-n", name, "-o", "json")
    assert restarted["state"] == "Starting"
    wait_state(srv, name, {"Running"}, 120)
    after = api(srv).get(f"{srv.url}/ci/default/{name}/api/status", timeout=30).json()["started"]
    assert after != before, "a restart starts a new JupyterLab"

    # The server's restart leaves it running; the new server reaches it.
    assert srv.stop() == 0
    srv.keep_port = True  # as a server restarted in place
    srv.start()
    assert instance(srv, name)["state"] == "Running"
    again = api(srv).get(f"{srv.url}/ci/default/{name}/api/status", timeout=30)
    assert again.status_code == 200 and again.json()["started"] == after, again.text

    # Deleting asks first; with --yes it goes, home and all.
    folder = srv.home / "instances" / "default" / name
    assert (folder / "home" / "kept.txt").exists()
    refused = cli("compute", "delete", "-n", name, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    cli("compute", "delete", "-n", name, "--yes")
    gone = api(srv).get(f"{srv.url}/api/v1/workspaces/default/compute-instances/{name}", timeout=30)
    assert gone.status_code == 404
    assert not folder.exists()


def test_instances_stop_when_idle_and_by_their_schedule(srv, cli, tmp_path):
    idle = create(cli, tmp_path, "idle_time_before_shutdown_minutes: 1\n")
    scheduled = create(cli, tmp_path, """\
        schedules:
          compute_start_stop:
            - action: stop
              trigger: {type: cron, expression: "* * * * *"}
        """)
    # The schedule fires at the next minute's start, which may come before the instance runs.
    stopped = wait_state(srv, scheduled, {"Stopped"}, FIRST_START + 90)
    assert stopped["reason"] == "stopped by its schedule", stopped
    wait_state(srv, idle, {"Running", "Stopped"}, FIRST_START)
    stopped = wait_state(srv, idle, {"Stopped"}, 150)
    assert "without kernel activity" in stopped["reason"], stopped
    listed = {row["name"]: row for row in cli.json("compute", "list", "-o", "json")}
    assert listed[idle]["state"] == "Stopped" and listed[scheduled]["type"] == "computeinstance"


def test_compute_instance_files_are_checked_before_anything_starts(cli, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: ci-bad\ntype: computeinstance\nidle_time_before_shutdown_minutes: 0\n")
    refused = cli("compute", "create", "-f", str(bad), check=False)
    assert refused.returncode != 0 and "line 3" in refused.stderr and "idle_time_before_shutdown_minutes" in refused.stderr
    missing = tmp_path / "missing.yml"
    missing.write_text("name: ci-missing\ntype: computeinstance\nsetup_scripts:\n  creation_script:\n    path: nope.sh\n")
    refused = cli("compute", "create", "-f", str(missing), check=False)
    assert refused.returncode != 0 and "nope.sh" in refused.stderr
