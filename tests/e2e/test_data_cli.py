"""`atelier data`: data assets (uri_file, uri_folder, mltable) from Azure ML's data YAML through the
CLI: uploads to the default datastore, azureml://datastores/ paths, versions and latest, archive,
updates, downloads, and what a bad file gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_util import unique, unique_ident

pytestmark = pytest.mark.atelier_only


def read_tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_a_local_file_uploads_and_downloads_as_a_uri_file(cli, tmp_path):
    name = unique("titanic")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "titanic.csv").write_text("name,survived\nrose,1\njack,0\n")
    (tmp_path / "data.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        f"name: {name}\n"
        "version: \"1\"\n"
        "type: uri_file\n"
        "path: data/titanic.csv\n"
        "description: passengers\n"
        "tags: {source: kaggle}\n"
    )
    created = cli.json("data", "create", "-f", str(tmp_path / "data.yml"), "-o", "json")
    assert created["version"] == "1" and created["type"] == "uri_file"
    assert created["path"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert created["path"].endswith("/titanic.csv")
    assert created["tags"] == {"source": "kaggle"}
    cli("data", "download", "-n", name, "--label", "latest", "-p", str(tmp_path / "out"))
    assert (tmp_path / "out" / name / "titanic.csv").read_text() == "name,survived\nrose,1\njack,0\n"

    # The uploaded file can be registered again by its datastore path: a pointer, no copy.
    again = cli.json("data", "create", "-n", unique("pointer"), "-t", "uri_file", "-p", created["path"], "-o", "json")
    assert again["path"] == created["path"] and again["version"] == "1"


def test_folders_version_archive_restore_and_update(cli, tmp_path):
    name = unique("images")
    files = {"images/a.txt": b"a", "images/nested/b.txt": b"bb"}
    for relative, content in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(content)
    for _ in range(2):
        cli("data", "create", "-n", name, "-p", str(tmp_path / "images"))
    assert [a["version"] for a in cli.json("data", "list", "-n", name, "-o", "json")] == ["2", "1"]
    assert cli.json("data", "show", "-n", name, "--label", "latest", "-o", "json")["type"] == "uri_folder"
    cli("data", "download", "-n", name, "-v", "2", "-p", str(tmp_path / "out"))
    assert read_tree(tmp_path / "out" / name) == files, "files keep their folder's name"

    cli("data", "archive", "-n", name, "-v", "2")
    assert cli.json("data", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == "1"
    assert [a["version"] for a in cli.json("data", "list", "-n", name, "-o", "json")] == ["1"]
    listed = [a for a in cli.json("data", "list", "-o", "json") if a["name"] == name]
    assert [a["version"] for a in listed] == ["1"]
    cli("data", "restore", "-n", name, "-v", "2")
    assert cli.json("data", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == "2"

    updated = cli.json("data", "update", "-n", name, "-v", "1", "--set", "description=first batch",
                       "--set", "tags.owner=ana", "-o", "json")
    assert updated["description"] == "first batch" and updated["tags"] == {"owner": "ana"}
    refused = cli("data", "update", "-n", name, "-v", "1", "--set", "path=elsewhere", check=False)
    assert refused.returncode != 0 and "cannot be changed" in refused.stderr


def test_an_mltable_keeps_its_paths(cli, tmp_path):
    name = unique("table")
    folder = tmp_path / "table"
    (folder / "raw").mkdir(parents=True)
    (folder / "raw" / "part-1.csv").write_text("x,y\n1,2\n")
    (folder / "MLTable").write_text(
        "type: mltable\npaths:\n  - pattern: ./raw/*.csv\ntransformations:\n"
        "  - read_delimited: {delimiter: ',', header: all_files_same_headers}\n"
    )
    created = cli.json("data", "create", "-n", name, "-t", "mltable", "-p", str(folder), "-o", "json")
    assert created["mltable_paths"] == [{"pattern": "./raw/*.csv"}]
    cli("data", "download", "-n", name, "-v", "1", "-p", str(tmp_path / "out"))
    assert (tmp_path / "out" / name / "table" / "MLTable").exists()

    no_table = tmp_path / "plain"
    no_table.mkdir()
    (no_table / "a.csv").write_text("x\n1\n")
    refused = cli("data", "create", "-n", unique("nomltable"), "-t", "mltable", "-p", str(no_table), check=False)
    assert refused.returncode != 0 and "no MLTable file" in refused.stderr


def test_bad_input_is_named_and_registers_nothing(cli, tmp_path):
    name = unique("bad")
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "bad.yml").write_text(f"name: {name}\ntype: uri_file\npath: a.csv\nformat: csv\n")
    result = cli("data", "create", "-f", str(tmp_path / "bad.yml"), check=False)
    assert result.returncode != 0 and "format" in result.stderr and "line 4" in result.stderr, result.stderr
    for args, expected in [
        (["-t", "uri_file", "-p", str(tmp_path / "missing.csv")], "does not exist"),
        (["-t", "uri_file", "-p", str(tmp_path)], "uri_file names one file"),
        (["-t", "uri_file", "-p", "azureml://datastores/elsewhere/paths/a.csv"], "datastore 'elsewhere' not found"),
        (["-t", "uri_file", "-p", "azureml://datastores/workspaceblobstore/paths/no/such.csv"], "no file"),
        (["-t", "table", "-p", str(tmp_path)], "uri_folder"),
    ]:
        refused = cli("data", "create", "-n", name, *args, check=False)
        assert refused.returncode != 0 and expected in refused.stderr, (args, refused.stderr)
    assert all(asset["name"] != name for asset in cli.json("data", "list", "-o", "json")), "nothing was registered"

    cli("data", "create", "-n", name, "-v", "7", "-t", "uri_file", "-p", str(tmp_path / "a.csv"))
    conflict = cli("data", "create", "-n", name, "-v", "7", "-t", "uri_file", "-p", str(tmp_path / "a.csv"), check=False)
    assert conflict.returncode != 0 and "RESOURCE_ALREADY_EXISTS" in conflict.stderr
    external = cli.json("data", "create", "-n", name, "-t", "uri_file", "-p", "https://example.com/data.csv", "-o", "json")
    assert external["version"] == "8" and external["path"] == "https://example.com/data.csv"


def test_readers_cannot_register_data(cli, tmp_path):
    reader = unique_ident("reader")
    cli("user", "create", reader, "--password", "reader-password")
    token = cli.json("token", "create", "--user", reader, "-o", "json")["token"]
    cli("role", "assign", "--user", reader, "--role", "Reader", "--workspace", "default")
    (tmp_path / "a.csv").write_text("x\n1\n")
    refused = cli("data", "create", "-n", unique("nope"), "-t", "uri_file", "-p", str(tmp_path / "a.csv"),
                  token=token, check=False)
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr
