"""Several servers on one PostgreSQL: every server answers, one of them (the leader) starts
jobs, and when it stops or dies another takes over."""

from __future__ import annotations

import base64
import os
import time

import pytest
import requests

from conftest import CONFIG, Cli
from test_endpoints import ECHO, endpoint, key_of, score, wait_until, worker_pids, write_deployment
from test_jobs import job_of, wait_for, write_job

pytestmark = [
    pytest.mark.atelier_only,
    pytest.mark.one_client,
    pytest.mark.skipif(CONFIG.store != "postgres", reason="replicas share a PostgreSQL database"),
]


def replica_pair(make_server):
    """Two servers on one database, one blob store and one master key."""
    key = base64.b64encode(os.urandom(32)).decode()
    first = make_server()
    second = make_server()
    second.store_url = first.store_url
    blobs = first.home.parent / "shared-blobs"
    blobs.mkdir()
    for srv in (first, second):
        srv.extra_env = {"ATELIER_MASTER_KEY": key}
        srv.extra_args = ["--local-cpus", "2", "--blobs", str(blobs)]
    first.start()
    second.start()
    return first, second


def submit(http, srv, folder, command: str) -> str:
    job_file = write_job(folder, f"command: {command}\n")
    response = http.post(f"{srv.url}/api/v1/workspaces/default/jobs",
                         json={"yaml": job_file.read_text(), "folder_name": "replicas"})
    assert response.status_code == 200, response.text
    return response.json()["name"]


def test_replicas_share_one_database_and_one_leader_starts_jobs(make_server, tmp_path):
    first, second = replica_pair(make_server)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {first.token}"
    # The admin the first server created signs in on the second: one database.
    assert http.get(f"{second.url}/api/v1/whoami").status_code == 200

    # A job submitted to the second server is started by the leader, the first.
    name = submit(http, second, tmp_path / "one", "echo from-one")
    assert wait_for(http, second, name, {"Completed", "Failed"}, timeout=90)["status"] == "Completed"
    assert (first.home / "jobs" / name).exists(), "the leader launched it"
    assert not (second.home / "jobs" / name).exists()

    # The leader stops: it gives the lead up, and the second server starts the next job.
    assert first.stop() == 0
    name = submit(http, second, tmp_path / "two", "echo from-two")
    assert wait_for(http, second, name, {"Completed", "Failed"}, timeout=90)["status"] == "Completed"
    assert (second.home / "jobs" / name).exists(), "the second server leads now"

    # It dies without a word: the first, started again, leads once the lease has run out.
    first.start()
    second.kill()
    started = time.monotonic()
    name = submit(http, first, tmp_path / "three", "echo from-three")
    job = wait_for(http, first, name, {"Completed", "Failed"}, timeout=90)
    assert job["status"] == "Completed"
    assert (first.home / "jobs" / name).exists()
    assert time.monotonic() - started < 60
    assert job_of(http, first, name)["events"][-1]["status"] == "Completed"

    # The leader is killed mid-run: its job's runtime outlives it and reports again once it is
    # back; the job completes once, with one run of its command.
    second.start()
    name = submit(http, second, tmp_path / "four", "echo begun; sleep 6; echo finished")
    wait_for(http, second, name, {"Running"}, timeout=60)
    first.keep_port = True
    first.kill()
    assert job_of(http, second, name)["status"] == "Running", "the other replica still answers"
    first.start()
    job = wait_for(http, second, name, {"Completed", "Failed", "Canceled"}, timeout=90)
    assert job["status"] == "Completed", job
    statuses = [event["status"] for event in job["events"]]
    assert statuses.count("Running") == 1 and statuses.count("Preparing") == 1, statuses


def test_clients_alternating_between_replicas_see_one_workspace(make_server):
    first, second = replica_pair(make_server)
    replicas = [first, second]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {first.token}"

    # Tracking writes land whichever replica takes them.
    created = http.post(f"{first.url}/api/2.0/mlflow/experiments/create", json={"name": "alternating"})
    assert created.status_code == 200, created.text
    experiment = created.json()["experiment_id"]
    run = http.post(f"{second.url}/api/2.0/mlflow/runs/create",
                    json={"experiment_id": experiment, "start_time": 1}).json()["run"]["info"]["run_id"]
    for step in range(20):
        srv = replicas[step % 2]
        logged = http.post(f"{srv.url}/api/2.0/mlflow/runs/log-metric",
                           json={"run_id": run, "key": "loss", "value": 1.0 / (step + 1), "timestamp": step, "step": step})
        assert logged.status_code == 200, logged.text
    for srv in replicas:
        history = http.get(f"{srv.url}/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": run, "metric_key": "loss"}).json()["metrics"]
        assert sorted(point["step"] for point in history) == list(range(20))

    # A token revoked on one replica stops working on the other within the cache's 5 s.
    made = http.post(f"{first.url}/api/v1/tokens", json={"description": "short-lived"})
    assert made.status_code == 201, made.text
    secret, token_id = made.json()["token"], made.json()["id"]
    other = {"Authorization": f"Bearer {secret}"}
    assert requests.get(f"{second.url}/api/v1/whoami", headers=other).status_code == 200
    assert http.delete(f"{first.url}/api/v1/tokens/{token_id}").status_code == 204
    assert requests.get(f"{first.url}/api/v1/whoami", headers=other).status_code == 401, "at once where revoked"
    revoked = time.monotonic()
    while requests.get(f"{second.url}/api/v1/whoami", headers=other).status_code == 200:
        assert time.monotonic() - revoked < 10, "the other replica still accepts a revoked token"
        time.sleep(0.2)


def test_each_replica_serves_every_deployment_with_its_own_instances(make_server, tmp_path):
    first, second = replica_pair(make_server)
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, first.url, first.token, tmp_path / "cli-home")
    made = endpoint(cli, tmp_path, "replicated-ep")
    cli("online-deployment", "create", "-f", str(write_deployment(tmp_path, "blue", "replicated-ep", ECHO)),
        "--all-traffic")
    key = key_of(cli, "replicated-ep")
    path = made["scoring_uri"].split("/endpoints/", 1)[1]
    # The other replica learns of the deployment from the database and starts its own instance.
    for srv in (first, second):
        answer = wait_until(lambda: (r := score(f"{srv.url}/endpoints/{path}", key, {"x": 7})).status_code == 200 and r,
                            timeout=90, what=f"scoring on {srv.url}")
        assert answer.json() == {"tag": "none", "echo": 7}
    assert len(worker_pids(first)) == 1 and len(worker_pids(second)) == 1, "instance_count is per replica"

    # A key regenerated through one replica stops working on the other at its next look.
    cli("online-endpoint", "regenerate-keys", "-n", "replicated-ep", "--key-type", "primary")
    assert score(f"{first.url}/endpoints/{path}", key, {"x": 1}).status_code == 401
    wait_until(lambda: score(f"{second.url}/endpoints/{path}", key, {"x": 1}).status_code == 401,
               timeout=15, what="the other replica to refuse the old key")


def test_a_schedule_fires_once_whichever_replica_it_was_made_on(make_server, tmp_path):
    first, second = replica_pair(make_server)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {first.token}"
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, second.url, first.token, tmp_path / "cli-home")
    (tmp_path / "hello.yml").write_text("type: command\ncommand: echo tick\n")
    (tmp_path / "tick.yml").write_text(
        "name: tick\ntrigger:\n  type: cron\n  expression: '* * * * *'\ncreate_job:\n  type: command\n  job: ./hello.yml\n"
    )
    if 60 - time.time() % 60 < 10:
        time.sleep(60 - time.time() % 60 + 1)
    cli("schedule", "create", "-f", str(tmp_path / "tick.yml"), timeout=60)
    boundary = time.time() - time.time() % 60 + 60

    def fired(srv):
        shown = http.get(f"{srv.url}/api/v1/workspaces/default/schedules/tick")
        assert shown.status_code == 200, shown.text
        return shown.json()["jobs"]

    deadline = boundary + 30
    while not fired(first) and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(5)  # a second firing, were there one, has had its time
    cli("schedule", "disable", "-n", "tick")
    jobs = fired(second)
    assert len(jobs) == 1, f"one fire, one job, whichever replica answers: {jobs}"
    assert fired(first) == jobs
    ran = wait_for(http, first, jobs[0]["name"], {"Completed", "Failed", "Canceled"}, timeout=60)
    assert ran["status"] == "Completed", ran
