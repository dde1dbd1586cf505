"""Artifacts through the proxy (mlflow-artifacts:/...): upload, list, download, load."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import mlflow
import mlflow.artifacts
import pytest

from e2e_util import ARTIFACTS_API, mlflow_major


def make_tree(root: Path) -> dict[str, bytes]:
    """A folder with nested files, an empty file, a binary file and a name with a space."""
    files = {
        "a.txt": b"alpha\n",
        "with space.txt": b"spaced out\n",
        "empty.txt": b"",
        "sub/b.json": json.dumps({"b": [1, 2, 3]}).encode(),
        "sub/deeper/c.bin": bytes(range(256)) * 4,
        "sub/deeper/big.bin": hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32),
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    result = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath) / filename
            result[path.relative_to(root).as_posix()] = path.read_bytes()
    return result


@pytest.fixture
def artifact_run(client, new_experiment, tmp_path):
    """A finished run with a known set of artifacts."""
    experiment_id, _ = new_experiment("artifacts")
    report = tmp_path / "report.txt"
    report.write_text("final report\n")
    single = tmp_path / "single.csv"
    single.write_text("a,b\n1,2\n")
    tree_root = tmp_path / "tree"
    tree = make_tree(tree_root)
    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_artifact(str(report))
        mlflow.log_artifact(str(single), artifact_path="tables")
        mlflow.log_artifacts(str(tree_root), artifact_path="tree")
        mlflow.log_text("hello, artifacts\n", "notes/hello.txt")
        mlflow.log_dict({"lr": 0.1, "layers": [64, 32]}, "config/params.json")
    return active.info.run_id, experiment_id, tree


def test_list_root_and_subfolders(client, artifact_run):
    run_id, _, tree = artifact_run
    root = {f.path: f for f in client.list_artifacts(run_id)}
    assert set(root) == {"report.txt", "tables", "tree", "notes", "config"}
    assert root["report.txt"].is_dir is False
    assert root["report.txt"].file_size == len("final report\n")
    for folder in ("tables", "tree", "notes", "config"):
        assert root[folder].is_dir is True

    tree_level = {f.path: f for f in client.list_artifacts(run_id, "tree")}
    assert set(tree_level) == {"tree/a.txt", "tree/with space.txt", "tree/empty.txt", "tree/sub"}
    assert tree_level["tree/sub"].is_dir
    assert tree_level["tree/a.txt"].file_size == len(tree["a.txt"])
    # MLflow omits file_size 0 (proto3 default), so the client may see None.
    assert tree_level["tree/empty.txt"].file_size in (0, None)

    deeper = {f.path: f for f in client.list_artifacts(run_id, "tree/sub/deeper")}
    assert set(deeper) == {"tree/sub/deeper/c.bin", "tree/sub/deeper/big.bin"}
    assert deeper["tree/sub/deeper/big.bin"].file_size == len(tree["sub/deeper/big.bin"])

    # A path that does not exist lists as empty (as in MLflow).
    assert client.list_artifacts(run_id, "no-such-folder") == []


def test_fluent_list_artifacts(artifact_run):
    run_id, _, _ = artifact_run
    # mlflow.artifacts.list_artifacts(run_id=..., artifact_path=...) goes through runs:/ and,
    # on mlflow 3, also asks logged-models/search for model artifacts of the run.
    listed = mlflow.artifacts.list_artifacts(run_id=run_id, artifact_path="notes")
    assert [(f.path, f.is_dir) for f in listed] == [("notes/hello.txt", False)]
    root = mlflow.artifacts.list_artifacts(run_id=run_id)
    assert {f.path for f in root} == {"report.txt", "tables", "tree", "notes", "config"}


def test_download_folder_and_compare(client, artifact_run, tmp_path):
    run_id, _, tree = artifact_run
    destination = tmp_path / "download"
    destination.mkdir()
    local = client.download_artifacts(run_id, "tree", str(destination))
    assert read_tree(Path(local)) == tree


def test_download_single_files(client, artifact_run, tmp_path):
    run_id, _, tree = artifact_run
    local = client.download_artifacts(run_id, "report.txt", str(tmp_path))
    assert Path(local).read_text() == "final report\n"
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="tree/sub/deeper/c.bin", dst_path=str(tmp_path / "c")
    )
    assert Path(local).read_bytes() == tree["sub/deeper/c.bin"]
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"runs:/{run_id}/tables/single.csv", dst_path=str(tmp_path / "csv")
    )
    assert Path(local).read_text() == "a,b\n1,2\n"
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"runs:/{run_id}/tree/with space.txt", dst_path=str(tmp_path / "space")
    )
    assert Path(local).read_bytes() == tree["with space.txt"]


def test_download_everything(client, artifact_run, tmp_path):
    run_id, _, tree = artifact_run
    local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "all"))
    everything = read_tree(Path(local))
    assert everything["report.txt"] == b"final report\n"
    assert everything["notes/hello.txt"] == b"hello, artifacts\n"
    assert json.loads(everything["config/params.json"]) == {"lr": 0.1, "layers": [64, 32]}
    for relative, content in tree.items():
        assert everything[f"tree/{relative}"] == content


def test_load_text_and_dict(artifact_run):
    run_id, _, _ = artifact_run
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello, artifacts\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json") == {
        "lr": 0.1,
        "layers": [64, 32],
    }


def test_artifact_uri_is_proxied(client, artifact_run):
    run_id, experiment_id, _ = artifact_run
    run = client.get_run(run_id)
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    text = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/notes/hello.txt")
    assert text == "hello, artifacts\n"


def test_client_log_text_then_list_on_both_versions(client, new_experiment):
    """mlflow 3's list_artifacts also calls logged-models/search; plain text must still list."""
    experiment_id, _ = new_experiment("artifacts-v3")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_text(run_id, "v3 text", "out/v3.txt")
    client.log_dict(run_id, {"k": "v"}, "out/v3.json")
    assert {f.path for f in client.list_artifacts(run_id)} == {"out"}
    assert {f.path for f in client.list_artifacts(run_id, "out")} == {"out/v3.txt", "out/v3.json"}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/out/v3.txt") == "v3 text"
    if mlflow_major() >= 3:
        # The logged-models API answers even when there are no models.
        models = client.search_logged_models(experiment_ids=[experiment_id])
        assert list(models) == []


def test_raw_proxy_round_trip(api, client, new_experiment):
    """The proxy endpoints themselves: PUT a raw body, list it, GET it back byte for byte."""
    experiment_id, _ = new_experiment("artifacts-raw")
    run_id = client.create_run(experiment_id).info.run_id
    base = f"{experiment_id}/{run_id}/artifacts"
    body = bytes(range(256)) * 100
    response = api.put(f"{ARTIFACTS_API}/{base}/raw/blob.bin", data=body,
                       headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text

    response = api.get(ARTIFACTS_API, params={"path": f"{base}/raw"})
    assert response.status_code == 200, response.text
    files = response.json()["files"]
    assert [(f["path"], f["is_dir"], int(f["file_size"])) for f in files] == [
        ("blob.bin", False, len(body))
    ]

    response = api.get(f"{ARTIFACTS_API}/{base}/raw/blob.bin")
    assert response.status_code == 200
    assert response.content == body

    response = api.get(f"{ARTIFACTS_API}/{base}/raw/missing.bin")
    assert response.status_code == 404, response.text

    assert [f.path for f in client.list_artifacts(run_id, "raw")] == ["raw/blob.bin"]
