"""Several servers on one PostgreSQL: every server answers, one of them (the leader) starts
jobs, and when it stops or dies another takes over."""

from __future__ import annotations

import base64
import os
import time

import pytest
import requests

from conftest import CONFIG
from test_jobs import job_of, wait_for, write_job

pytestmark = [
    pytest.mark.atelier_only,
    pytest.mark.one_client,
    pytest.mark.skipif(CONFIG.store != "postgres", reason="replicas share a PostgreSQL database"),
]


def replica_pair(make_server):
    key = base64.b64encode(os.urandom(32)).decode()
    first = make_server()
    second = make_server()
    second.store_url = first.store_url
    for srv in (first, second):
        srv.extra_env = {"ATELIER_MASTER_KEY": key}
        srv.extra_args = ["--local-cpus", "2"]
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
