"""Process lifecycle: acknowledged writes survive ``kill -9``; SIGTERM exits 0.

These tests start their own servers (fresh home, and a fresh database with postgres), so they
never disturb the session server.
"""

from __future__ import annotations

import signal
import threading
import time

import mlflow
import mlflow.artifacts
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric

from e2e_util import API, now_ms, unique

pytestmark = pytest.mark.atelier_only


def use_server(monkeypatch, srv) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", srv.token)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    mlflow.set_tracking_uri(srv.url)
    return MlflowClient(tracking_uri=srv.url)


def test_acknowledged_writes_survive_kill_9(make_server, monkeypatch):
    srv = make_server()
    srv.start()
    token = srv.token
    client = use_server(monkeypatch, srv)

    name = unique("durable")
    experiment_id = client.create_experiment(name, tags={"kept": "yes"})
    run_id = client.create_run(experiment_id, run_name="durable-run").info.run_id
    base = now_ms()
    client.log_metric(run_id, "loss", 0.125, timestamp=base, step=7)  # acknowledged: returned
    client.log_param(run_id, "lr", "0.3")
    client.set_tag(run_id, "phase", "train")
    client.log_batch(run_id, metrics=[Metric("curve", float(i), base + i, i) for i in range(1500)])
    client.log_text(run_id, "written before the crash", "crash/note.txt")

    code = srv.kill()
    assert code == -signal.SIGKILL, f"expected death by SIGKILL, got exit code {code}"

    srv.start()  # same home (and database), new process
    assert srv.read_secret("token") == token, "the admin token must survive a restart"
    client = use_server(monkeypatch, srv)

    run = client.get_run(run_id)
    assert run.info.run_name == "durable-run"
    assert run.data.metrics["loss"] == 0.125
    assert run.data.params == {"lr": "0.3"}
    assert run.data.tags["phase"] == "train"
    (point,) = client.get_metric_history(run_id, "loss")
    assert (point.value, point.step, point.timestamp) == (0.125, 7, base)
    assert len(client.get_metric_history(run_id, "curve")) == 1500
    assert client.get_experiment_by_name(name).tags["kept"] == "yes"
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/crash/note.txt") == "written before the crash"

    # The restarted server takes new writes, then shuts down cleanly.
    client.log_metric(run_id, "loss", 0.1, step=8)
    assert client.get_run(run_id).data.metrics["loss"] == 0.1
    assert srv.stop() == 0


def test_sigterm_exits_0_with_open_connections(make_server, monkeypatch):
    srv = make_server()
    srv.start()
    client = use_server(monkeypatch, srv)
    experiment_id = client.create_experiment(unique("sigterm"))
    client.create_run(experiment_id)

    # A kept-alive connection (as the mlflow client keeps) must not hold up the shutdown.
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {srv.token}"
    response = session.post(f"{srv.url}{API}/experiments/search", json={"max_results": 1})
    assert response.status_code == 200

    started = time.monotonic()
    assert srv.stop(timeout=20) == 0
    assert time.monotonic() - started < 20
    session.close()


def test_sigterm_finishes_in_flight_requests(make_server, monkeypatch):
    srv = make_server()
    srv.start()
    client = use_server(monkeypatch, srv)
    experiment_id = client.create_experiment(unique("sigterm-busy"))
    run_id = client.create_run(experiment_id).info.run_id
    base = now_ms()

    errors: list[BaseException] = []
    acknowledged: list[int] = []

    def writer():
        # Batches until the server goes away; every acknowledged batch must be durable.
        try:
            for batch in range(200):
                client.log_batch(run_id, metrics=[
                    Metric("busy", float(batch), base + batch, batch * 1000 + i) for i in range(1000)
                ])
                acknowledged.append(batch)
        except Exception as error:  # the connection is refused once the server has stopped
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 2 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acknowledged) >= 2, f"writes did not get going: {errors}"
    assert srv.stop(timeout=30) == 0
    thread.join(timeout=60)
    assert not thread.is_alive()

    srv.start()
    client = use_server(monkeypatch, srv)
    points = client.get_metric_history(run_id, "busy")
    # Every acknowledged batch is there in full; an unacknowledged one is all or nothing.
    assert len(points) % 1000 == 0
    assert len(points) >= len(acknowledged) * 1000
    assert srv.stop() == 0
