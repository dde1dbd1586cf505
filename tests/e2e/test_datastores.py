"""Named datastores against real object stores on loopback: s3s-fs (S3, checks SigV4) and Azurite
(Azure Blob, checks the account key), both started by scripts/storage-up.sh. Data assets on
them resolve through azureml://datastores/<name>/paths/<path>; credentials are kept encrypted and
never shown; wrong credentials register nothing."""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest

from e2e_util import unique, unique_ident

pytestmark = pytest.mark.atelier_only

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
S3_SECRET = "testsecret"


def storage_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not set: scripts/storage-up.sh must run before these tests in CI")
        pytest.skip(f"{name} is not set (run scripts/storage-up.sh)")
    return value


@pytest.fixture
def s3_bucket():
    """A fresh bucket on s3s-fs (a folder of its data directory) with a small tree of files."""
    root = Path(storage_env("ATELIER_TEST_S3_DIR"))
    storage_env("ATELIER_TEST_S3_ENDPOINT")
    bucket = f"b{uuid.uuid4().hex[:12]}"
    (root / bucket / "raw" / "part").mkdir(parents=True)
    (root / bucket / "raw" / "a.csv").write_text("x,y\n1,2\n")
    (root / bucket / "raw" / "part" / "b.csv").write_text("x,y\n3,4\n")
    return bucket


@pytest.fixture
def azure_container():
    """A fresh container on Azurite with one blob."""
    from azure.storage.blob import BlobServiceClient

    endpoint = storage_env("ATELIER_TEST_AZURITE_ENDPOINT")
    connection = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
                  f"BlobEndpoint={endpoint};")
    container = f"c{uuid.uuid4().hex[:12]}"
    service = BlobServiceClient.from_connection_string(connection)
    service.create_container(container)
    service.get_blob_client(container, "data/titanic.csv").upload_blob(b"name,survived\nrose,1\n")
    return container


def s3_yaml(path: Path, name: str, bucket: str, secret: str = S3_SECRET) -> Path:
    path.write_text(
        f"name: {name}\ntype: s3\nbucket: {bucket}\nendpoint_url: {os.environ['ATELIER_TEST_S3_ENDPOINT']}\n"
        f"credentials:\n  access_key_id: test\n  secret_access_key: {secret}\n"
    )
    return path


def test_an_s3_datastore_holds_data_assets(cli, server, s3_bucket, tmp_path):
    name = unique_ident("s3store")
    created = cli.json("datastore", "create", "-f", str(s3_yaml(tmp_path / "ds.yml", name, s3_bucket)), "-o", "json")
    assert created["type"] == "s3" and created["credentials"] == "access_key"
    assert S3_SECRET not in cli("datastore", "show", "-n", name, "-o", "json").stdout
    assert S3_SECRET not in cli("datastore", "list", "-o", "json").stdout
    names = [d["name"] for d in cli.json("datastore", "list", "-o", "json")]
    assert names[0] == "workspaceblobstore" and name in names

    data_name = unique("s3data")
    asset = cli.json("data", "create", "-n", data_name, "-t", "uri_folder",
                     "-p", f"azureml://datastores/{name}/paths/raw/", "-o", "json")
    assert asset["path"] == f"azureml://datastores/{name}/paths/raw/"
    cli("data", "download", "-n", data_name, "-v", "1", "-p", str(tmp_path / "out"))
    assert (tmp_path / "out" / data_name / "raw" / "part" / "b.csv").read_text() == "x,y\n3,4\n"
    missing = cli("data", "create", "-n", unique("nothing"), "-t", "uri_file",
                  "-p", f"azureml://datastores/{name}/paths/raw/none.csv", check=False)
    assert missing.returncode != 0 and "no file" in missing.stderr

    # The secret is stored only encrypted, under a master key kept with mode 0600.
    key_file = server.home / "master-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    database = server.home / "atelier.db"
    if database.exists():
        with sqlite3.connect(database) as connection:
            stored = connection.execute("SELECT settings, credentials FROM datastores WHERE name = ?", (name,)).fetchone()
        assert stored is not None and S3_SECRET not in stored[0] and S3_SECRET not in stored[1]


def test_wrong_credentials_register_nothing(cli, s3_bucket, tmp_path):
    name = unique_ident("wrongs3")
    refused = cli("datastore", "create", "-f", str(s3_yaml(tmp_path / "ds.yml", name, s3_bucket, secret="nope")),
                  check=False)
    assert refused.returncode != 0
    assert "did not accept" in refused.stderr and "SignatureDoesNotMatch" in refused.stderr, refused.stderr
    assert name not in [d["name"] for d in cli.json("datastore", "list", "-o", "json")]
    (tmp_path / "odd.yml").write_text(f"name: {name}\ntype: s3\nbucket: x\ncontainer_name: y\n")
    odd = cli("datastore", "create", "-f", str(tmp_path / "odd.yml"), check=False)
    assert odd.returncode != 0 and "container_name" in odd.stderr
    (tmp_path / "typo.yml").write_text(f"name: {name}\ntype: s3\nbuckets: x\n")
    typo = cli("datastore", "create", "-f", str(tmp_path / "typo.yml"), check=False)
    assert typo.returncode != 0 and "buckets" in typo.stderr and "line 3" in typo.stderr


def test_an_azure_blob_datastore_on_azurite(cli, azure_container, tmp_path):
    name = unique_ident("blobstore")
    (tmp_path / "ds.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json\n"
        f"name: {name}\ntype: azure_blob\naccount_name: devstoreaccount1\ncontainer_name: {azure_container}\n"
        f"endpoint: {os.environ['ATELIER_TEST_AZURITE_ENDPOINT']}\n"
        f"credentials:\n  account_key: {AZURITE_KEY}\n"
    )
    created = cli.json("datastore", "create", "-f", str(tmp_path / "ds.yml"), "-o", "json")
    assert created["credentials"] == "account_key"
    assert AZURITE_KEY not in cli("datastore", "show", "-n", name, "-o", "json").stdout
    data_name = unique("titanic")
    cli("data", "create", "-n", data_name, "-t", "uri_file", "-p", f"azureml://datastores/{name}/paths/data/titanic.csv")
    cli("data", "download", "-n", data_name, "--label", "latest", "-p", str(tmp_path / "out"))
    assert (tmp_path / "out" / data_name / "titanic.csv").read_text() == "name,survived\nrose,1\n"

    (tmp_path / "bad.yml").write_text((tmp_path / "ds.yml").read_text().replace(name, name + "x").replace("Eby8", "Xby8"))
    refused = cli("datastore", "create", "-f", str(tmp_path / "bad.yml"), check=False)
    assert refused.returncode != 0 and "did not accept" in refused.stderr

    cli("datastore", "delete", "-n", name)
    gone = cli("data", "download", "-n", data_name, "--label", "latest", "-p", str(tmp_path / "again"), check=False)
    assert gone.returncode != 0 and "not found" in gone.stderr


def test_readers_register_no_datastores_and_only_admins_local_ones(cli, s3_bucket, tmp_path):
    contributor = unique_ident("reader")
    cli("user", "create", contributor, "--password", "contributor-password")
    token = cli.json("token", "create", "--user", contributor, "-o", "json")["token"]
    cli("role", "assign", "--user", contributor, "--role", "Reader", "--workspace", "default")
    name = unique_ident("notmine")
    refused = cli("datastore", "create", "-f", str(s3_yaml(tmp_path / "ds.yml", name, s3_bucket)), token=token,
                  check=False)
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr

    workspace = unique_ident("owned")
    cli("workspace", "create", workspace)
    cli("role", "assign", "--user", contributor, "--role", "Owner", "--workspace", workspace)
    (tmp_path / "local.yml").write_text(f"name: {unique_ident('local')}\ntype: local\npath: /etc\n")
    local = cli("datastore", "create", "-w", workspace, "-f", str(tmp_path / "local.yml"), token=token, check=False)
    assert local.returncode != 0 and "PERMISSION_DENIED" in local.stderr, "a local datastore reads the server's disk"
    # A custom endpoint could point the server at its own network: administrators only, even
    # for the workspace's Owner.
    endpoint = cli("datastore", "create", "-w", workspace, "-f", str(s3_yaml(tmp_path / "own.yml", unique_ident("own"), s3_bucket)),
                   token=token, check=False)
    assert endpoint.returncode != 0 and "custom endpoint" in endpoint.stderr, endpoint.stderr
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "f.txt").write_text("shared")
    (tmp_path / "admin-local.yml").write_text(f"name: {unique_ident('local')}\ntype: local\npath: {tmp_path / 'shared'}\n")
    created = cli.json("datastore", "create", "-w", workspace, "-f", str(tmp_path / "admin-local.yml"), "-o", "json")
    assert created["type"] == "local" and created["credentials"] is None


def test_datastore_fields_cannot_steer_the_servers_connections(cli, tmp_path):
    """A workspace Owner's `region` or `account_name` once became part of the URL the server
    connected to (`x@127.0.0.1:PORT/#` made it connect to PORT). Every such field is now checked
    against its grammar: the registration fails, naming the field, and nothing is contacted."""
    import socket

    owner = unique_ident("dsowner")
    cli("user", "create", owner, "--password", "owner-password")
    token = cli.json("token", "create", "--user", owner, "-o", "json")["token"]
    workspace = unique_ident("steer")
    cli("workspace", "create", workspace)
    cli("role", "assign", "--user", owner, "--role", "Owner", "--workspace", workspace)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    attempts = {
        "region": f"name: {unique_ident('steers3')}\ntype: s3\nbucket: data\nregion: \"x@127.0.0.1:{port}/#\"\n",
        "account_name": f"name: {unique_ident('steerblob')}\ntype: azure_blob\n"
                        f"account_name: \"a@127.0.0.1:{port}#\"\ncontainer_name: data\n",
        "container_name": f"name: {unique_ident('steerct')}\ntype: azure_blob\naccount_name: acct\n"
                          f"container_name: \"c?comp=list#\"\n",
        "bucket": f"name: {unique_ident('steergcs')}\ntype: gcs\nbucket: \"b@127.0.0.1:{port}\"\n",
    }
    try:
        for field, text in attempts.items():
            path = tmp_path / f"{field}.yml"
            path.write_text(text)
            refused = cli("datastore", "create", "-w", workspace, "-f", str(path), token=token, check=False)
            assert refused.returncode != 0, field
            assert f"invalid {field}" in refused.stderr and "expected" in refused.stderr, refused.stderr
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
    assert [d["name"] for d in cli.json("datastore", "list", "-w", workspace, "-o", "json")] == ["workspaceblobstore"]
