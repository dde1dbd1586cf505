"""`atelier model`: model assets from Azure ML's model YAML through the CLI, with local uploads,
runs:/ paths, downloads, archive/restore, updates, and what a bad file gets."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from e2e_util import unique, unique_ident

pytestmark = pytest.mark.atelier_only


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def read_tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_create_from_yaml_uploads_the_folder_and_downloads_it_back(cli, tmp_path):
    name = unique("weights")
    files = {"model/weights.bin": bytes(range(256)) * 64, "model/config/params.json": b'{"depth": 3}'}
    write_tree(tmp_path / "project", files)
    (tmp_path / "project" / "model.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        f"name: {name}\n"
        "version: 3\n"
        "type: custom_model\n"
        "path: model\n"
        "description: GBM trained on 2024 data\n"
        "tags: {framework: lightgbm, rows: 1000}\n"
        "properties:\n  auc: 0.91\n"
    )
    created = cli.json("model", "create", "-f", str(tmp_path / "project" / "model.yml"), "-o", "json")
    assert created["version"] == 3 and created["model_type"] == "custom_model"
    assert created["tags"] == {"framework": "lightgbm", "rows": "1000"}
    assert created["properties"] == {"auc": "0.91"}
    assert created["path"].startswith("mlflow-artifacts:/") and created["path"].endswith("/model")

    downloaded = tmp_path / "out"
    cli("model", "download", "-n", name, "-v", "3", "-p", str(downloaded))
    assert read_tree(downloaded / name) == files, "files keep the folder name they were registered from"

    # Without a version the next number is taken.
    again = cli.json("model", "create", "-n", name, "-p", str(tmp_path / "project" / "model" / "weights.bin"),
                     "-o", "json")
    assert again["version"] == 4
    single = tmp_path / "single"
    cli("model", "download", "-n", name, "--label", "latest", "-p", str(single))
    assert read_tree(single / name) == {"weights.bin": files["model/weights.bin"]}


def test_archive_restore_update_and_list(cli, tmp_path):
    name = unique("lifecycle")
    (tmp_path / "m.txt").write_text("model")
    for _ in range(2):
        cli("model", "create", "-n", name, "-p", str(tmp_path / "m.txt"))
    assert [v["version"] for v in cli.json("model", "list", "-n", name, "-o", "json")] == [2, 1]
    cli("model", "archive", "-n", name, "-v", "2")
    assert [v["version"] for v in cli.json("model", "list", "-n", name, "-o", "json")] == [1]
    assert cli.json("model", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == 1
    listed = [v for v in cli.json("model", "list", "-o", "json") if v["name"] == name]
    assert [v["version"] for v in listed] == [1], "the list shows each model's newest version that is not archived"
    everything = cli.json("model", "list", "-n", name, "--include-archived", "-o", "json")
    assert [(v["version"], v["archived"]) for v in everything] == [(2, True), (1, False)]
    cli("model", "restore", "-n", name, "-v", "2")
    assert cli.json("model", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == 2

    updated = cli.json("model", "update", "-n", name, "-v", "2", "--set", "description=retrained",
                       "--set", "tags.team=risk", "--set", "properties.auc=0.93", "--set", "stage=production",
                       "-o", "json")
    assert updated["description"] == "retrained" and updated["stage"] == "Production"
    assert updated["tags"] == {"team": "risk"} and updated["properties"] == {"auc": "0.93"}
    refused = cli("model", "update", "-n", name, "-v", "2", "--set", "path=elsewhere", check=False)
    assert refused.returncode != 0 and "cannot be changed" in refused.stderr


def test_an_mlflow_model_folder_registers_and_loads_with_the_mlflow_client(cli, tmp_path):
    name = unique("sk")
    features = np.array([[0.0], [1.0], [2.0]])
    mlflow.sklearn.save_model(LinearRegression().fit(features, 3.0 * features[:, 0]), str(tmp_path / "model"))
    created = cli.json("model", "create", "-n", name, "-t", "mlflow_model", "-p", str(tmp_path / "model"), "-o", "json")
    assert created["model_type"] == "mlflow_model"
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{created['version']}")
    assert loaded.predict(np.array([[2.0]]))[0] == pytest.approx(6.0)


def test_a_run_path_registers_the_runs_files(cli, client, new_experiment, tmp_path):
    experiment_id, _ = new_experiment("model-cli")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_text(run_id, "learned", "model/weights.txt")
    name = unique("from-run")
    created = cli.json("model", "create", "-n", name, "-p", f"runs:/{run_id}/model", "-o", "json")
    assert created["run_id"] == run_id, "the version's lineage reaches the run"
    cli("model", "download", "-n", name, "-v", "1", "-p", str(tmp_path))
    assert (tmp_path / name / "model" / "weights.txt").read_text() == "learned"


def test_bad_files_name_the_field_and_line_and_register_nothing(cli, tmp_path):
    name = unique("bad")
    (tmp_path / "m.txt").write_text("model")
    (tmp_path / "bad.yml").write_text(f"name: {name}\npath: m.txt\ncolour: red\n")
    result = cli("model", "create", "-f", str(tmp_path / "bad.yml"), check=False)
    assert result.returncode != 0
    assert "colour" in result.stderr and "line 3" in result.stderr, result.stderr
    missing = cli("model", "create", "-n", name, "-p", str(tmp_path / "nothing-here"), check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    wrong_type = cli("model", "create", "-n", name, "-p", str(tmp_path / "m.txt"), "-t", "onnx", check=False)
    assert wrong_type.returncode != 0 and "custom_model" in wrong_type.stderr
    listed = cli.json("model", "list", "-o", "json")
    assert all(version["name"] != name for version in listed), "nothing was registered"

    cli("model", "create", "-n", name, "-v", "1", "-p", str(tmp_path / "m.txt"))
    conflict = cli("model", "create", "-n", name, "-v", "1", "-p", str(tmp_path / "m.txt"), check=False)
    assert conflict.returncode != 0 and "RESOURCE_ALREADY_EXISTS" in conflict.stderr
    missing_version = cli("model", "show", "-n", name, "-v", "9", check=False)
    assert missing_version.returncode != 0 and "RESOURCE_DOES_NOT_EXIST" in missing_version.stderr


def test_readers_cannot_register_models(cli, tmp_path):
    reader = unique_ident("reader")
    cli("user", "create", reader, "--password", "reader-password")
    token = cli.json("token", "create", "--user", reader, "-o", "json")["token"]
    cli("role", "assign", "--user", reader, "--role", "Reader", "--workspace", "default")
    (tmp_path / "m.txt").write_text("model")
    refused = cli("model", "create", "-n", unique("nope"), "-p", str(tmp_path / "m.txt"), token=token, check=False)
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr
    assert isinstance(json.loads(cli("model", "list", "-o", "json", token=token).stdout), list)


def test_a_datastore_path_registers_a_model_and_job_paths_are_refused(cli, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"datastore weights")
    data = cli.json("data", "create", "-n", unique("staged"), "-p", str(folder), "-o", "json")
    assert data["path"].startswith("azureml://datastores/workspaceblobstore/paths/")
    name = unique("from-datastore")
    created = cli.json("model", "create", "-n", name, "-p", data["path"], "-o", "json")
    assert created["path"] == data["path"]
    cli("model", "download", "-n", name, "-v", "1", "-p", str(tmp_path / "out"))
    assert (tmp_path / "out" / name / "model" / "weights.bin").read_bytes() == b"datastore weights"
    missing = cli("model", "create", "-n", name, "-p", "azureml://datastores/workspaceblobstore/paths/none/", check=False)
    assert missing.returncode != 0 and "no files" in missing.stderr
    jobs = cli("model", "create", "-n", name, "-p", "azureml://jobs/j1/outputs/artifacts/paths/model/", check=False)
    assert jobs.returncode != 0 and "job 'j1' not found" in jobs.stderr
