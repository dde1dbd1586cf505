"""`atelier gc`: deleted runs and unused uploads are freed, registered files are kept, and the disk
usage goes down. Each test runs its own server, so collecting garbage touches no other test."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from conftest import CONFIG, Cli
from e2e_util import API, unique

pytestmark = pytest.mark.atelier_only


def disk_usage(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def own(make_server, tmp_path):
    """A fresh server of its own, with a CLI and an authenticated session for it."""
    srv = make_server()
    srv.start()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    (tmp_path / "cli-home").mkdir()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {srv.token}"
    yield srv, cli, http
    assert srv.stop() == 0


def test_deleting_a_model_version_and_collecting_frees_its_bytes(own, tmp_path):
    srv, cli, http = own
    blobs = srv.home / "blobs"
    (tmp_path / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    (tmp_path / "keep.bin").write_bytes(b"kept")
    cli("model", "create", "-n", "scratch", "-p", str(tmp_path / "big.bin"))
    cli("model", "create", "-n", "kept", "-p", str(tmp_path / "keep.bin"))
    before = disk_usage(blobs)
    assert before >= 4 * 1024 * 1024

    # Nothing is unused yet: a collection frees nothing.
    report = cli.json("gc", "--grace-minutes", "0", "-o", "json")
    assert report["bytes_freed"] == 0 and disk_usage(blobs) == before

    deleted = http.request("DELETE", f"{srv.url}{API}/model-versions/delete", json={"name": "scratch", "version": "1"})
    assert deleted.status_code == 200, deleted.text
    report = cli.json("gc", "--grace-minutes", "0", "-o", "json")
    assert report["uploads_removed"] == 1 and report["bytes_freed"] == 4 * 1024 * 1024, report
    assert disk_usage(blobs) <= before - 4 * 1024 * 1024, "the disk usage went down"
    cli("model", "download", "-n", "kept", "-v", "1", "-p", str(tmp_path / "out"))
    assert (tmp_path / "out" / "kept" / "keep.bin").read_bytes() == b"kept", "registered files are kept"


def test_uploads_that_were_never_registered_are_freed(own, tmp_path):
    srv, cli, http = own
    blobs = srv.home / "blobs"
    baseline = disk_usage(blobs)
    # A file uploaded whose registration never came (the CLI stopped after the upload).
    orphan = uuid.uuid4().hex
    put = http.put(f"{srv.url}/api/v1/workspaces/default/data-uploads/{orphan}/data/part.csv", data=b"x" * 100_000)
    assert put.status_code == 200
    # An upload broken off halfway: the server stores nothing of it.
    broken = uuid.uuid4().hex
    address = urlparse(srv.url)
    with socket.create_connection((address.hostname, address.port)) as connection:
        connection.sendall(
            f"PUT /api/v1/workspaces/default/data-uploads/{broken}/big.bin HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {srv.token}\r\nContent-Length: 2000000\r\n\r\n".encode() + b"y" * 500_000
        )
    assert disk_usage(blobs) >= baseline + 100_000
    report = cli.json("gc", "--grace-minutes", "0", "-o", "json")
    assert report["uploads_removed"] >= 1 and report["bytes_freed"] >= 100_000, report
    assert disk_usage(blobs) == baseline, "no orphan bytes are left"
    assert cli.json("data", "list", "-o", "json") == [], "nothing was registered"
    # A recent upload is kept within the grace period.
    recent = uuid.uuid4().hex
    http.put(f"{srv.url}/api/v1/workspaces/default/data-uploads/{recent}/r.csv", data=b"r")
    assert cli.json("gc", "-o", "json")["uploads_removed"] == 0


def test_deleted_runs_are_purged_unless_a_model_version_names_them(own):
    srv, cli, http = own
    experiment = http.post(f"{srv.url}{API}/experiments/create", json={"name": unique("gc")}).json()["experiment_id"]
    runs = []
    for _ in range(2):
        run = http.post(f"{srv.url}{API}/runs/create", json={"experiment_id": experiment}).json()["run"]["info"]
        runs.append(run["run_id"])
        path = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
        upload = http.put(f"{srv.url}/api/2.0/mlflow-artifacts/artifacts/{path}/weights.bin", data=b"w" * 300_000)
        assert upload.status_code == 200
    plain, registered = runs
    assert http.post(f"{srv.url}{API}/registered-models/create", json={"name": "from-run"}).status_code == 200
    assert http.post(f"{srv.url}{API}/model-versions/create",
                     json={"name": "from-run", "source": f"runs:/{registered}/weights.bin", "run_id": registered}).status_code == 200
    for run_id in runs:
        assert http.post(f"{srv.url}{API}/runs/delete", json={"run_id": run_id}).status_code == 200

    report = cli.json("gc", "--grace-minutes", "0", "-o", "json")
    assert report["runs_purged"] == 1 and report["bytes_freed"] == 300_000, report
    gone = http.get(f"{srv.url}{API}/runs/get", params={"run_id": plain})
    assert gone.status_code == 404
    kept = http.get(f"{srv.url}{API}/runs/get", params={"run_id": registered})
    assert kept.status_code == 200, "a run a model version names keeps its files"


def test_only_server_administrators_collect(own):
    srv, cli, _ = own
    cli("user", "create", "carol", "--password", "carol-password")
    token = cli.json("token", "create", "--user", "carol", "-o", "json")["token"]
    refused = cli("gc", token=token, check=False)
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr


def test_identical_files_are_stored_once_and_freed_with_their_last_user(own, tmp_path):
    srv, cli, http = own
    blobs = srv.home / "blobs"
    content = os.urandom(4 * 1024 * 1024)
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "weights.bin").write_bytes(content)
    baseline = disk_usage(blobs)
    cli("model", "create", "-n", "twin-a", "-p", str(tmp_path / "first" / "weights.bin"))
    cli("model", "create", "-n", "twin-b", "-p", str(tmp_path / "second" / "weights.bin"))
    cli("data", "create", "-n", "twin-data", "-t", "uri_file", "-p", str(tmp_path / "first" / "weights.bin"))
    grown = disk_usage(blobs) - baseline
    assert 4 * 1024 * 1024 <= grown < 5 * 1024 * 1024, f"three uploads of one content take {grown} bytes"

    for name in ("twin-a", "twin-b"):
        assert http.request("DELETE", f"{srv.url}{API}/model-versions/delete",
                            json={"name": name, "version": "1"}).status_code == 200
    report = cli.json("gc", "--grace-minutes", "0", "-o", "json")
    assert report["uploads_removed"] == 2 and report["bytes_freed"] == 0, "the data asset still holds the content"
    cli("data", "download", "-n", "twin-data", "-v", "1", "-p", str(tmp_path / "out"))
    assert (tmp_path / "out" / "twin-data" / "weights.bin").read_bytes() == content
