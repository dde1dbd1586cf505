"""`atelier environment`: environments from Azure ML's environment YAML, built with uv on the
host: cached builds, concurrent builds made once, failures that name the package, an image
without a container runtime (a warning, or a refusal when the server says so)."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid

import pytest
import requests

from e2e_util import unique

pytestmark = pytest.mark.atelier_only


def env_yaml(tmp_path, name: str, pip: list[str], python: str = "3.11", image: str | None = None,
             extra: str = "") -> str:
    lines = [f"name: {name}", 'version: "1"']
    if image:
        lines.append(f"image: {image}")
    lines += ["conda_file:", "  channels: [conda-forge]", "  dependencies:", f"    - python={python}", "    - pip"]
    if pip:
        lines.append("    - pip:")
        lines += [f"      - {requirement}" for requirement in pip]
    path = tmp_path / f"{name}.yml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return str(path)


def test_an_environment_builds_once_and_runs_its_packages(cli, tmp_path):
    name = unique("small")
    image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
    created = cli.json("environment", "create", "-f", env_yaml(tmp_path, name, ["six==1.16.0"], image=image), "-o", "json")
    assert created["python"] == "3.11" and created["requirements"] == ["six==1.16.0"] and created["image"] == image
    assert cli.json("environment", "show", "-n", name, "-v", "1", "-o", "json")["build"] == "not built"

    first = cli("environment", "build", "-n", name, "-v", "1", "-o", "json", timeout=300)
    build = json.loads(first.stdout)
    assert build["state"] == "ready" and build["cached"] is False
    assert "no container runtime" in first.stderr, "the image is not used, and the CLI says so"
    version = subprocess.run([build["python"], "-c", "import six, sys; print(six.__version__, sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout
    assert version.startswith("1.16.0 (3, 11)")
    again = cli.json("environment", "build", "-n", name, "--label", "latest", "-o", "json")
    assert again["cached"] is True and again["python"] == build["python"]
    assert cli.json("environment", "show", "-n", name, "-v", "1", "-o", "json")["build"] == "ready"


def test_concurrent_builds_of_one_environment_build_it_once(cli, server, tmp_path):
    name = unique("concurrent")
    # A requirement no other test uses, so that this spec's build is new.
    cli("environment", "create", "-f", env_yaml(tmp_path, name, [f"six==1.16.0 ; python_version >= '3.{uuid.uuid4().int % 5 + 1}'"]))
    url = f"{server.url}/api/v1/workspaces/default/environments/{name}/versions/1/build"
    results: list[dict] = []

    def build():
        response = requests.post(url, headers={"Authorization": f"Bearer {server.token}"}, timeout=300)
        results.append(response.json())

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result["state"] == "ready" for result in results), results
    assert sorted(result["cached"] for result in results) == [False, True, True], "built once; the others waited"
    assert len({result["python"] for result in results}) == 1


def test_failed_builds_name_what_failed_and_keep_their_log(cli, tmp_path):
    name = unique("broken")
    cli("environment", "create", "-f", env_yaml(tmp_path, name, ["nosuchpkg-atelier-e2e==9.9"]))
    failed = cli("environment", "build", "-n", name, "-v", "1", check=False, timeout=300)
    assert failed.returncode != 0 and "nosuchpkg-atelier-e2e" in failed.stderr, failed.stderr
    assert cli.json("environment", "show", "-n", name, "-v", "1", "-o", "json")["build"] == "failed"

    future = unique("future")
    cli("environment", "create", "-f", env_yaml(tmp_path, future, ["six"], python="3.99"))
    missing = cli("environment", "build", "-n", future, "-v", "1", check=False, timeout=300)
    assert missing.returncode != 0 and "3.99" in missing.stderr, missing.stderr


def test_files_requirements_versions_and_archive(cli, tmp_path):
    name = unique("files")
    (tmp_path / "conda.yml").write_text("channels: [defaults]\ndependencies:\n  - python=3.11\n  - numpy=1.26\n")
    (tmp_path / "requirements.txt").write_text("# extras\nsix==1.16.0\n")
    (tmp_path / "env.yml").write_text(
        f"name: {name}\nconda_file: conda.yml\nrequirements_file: requirements.txt\ndescription: numbers\n"
    )
    first = cli.json("environment", "create", "-f", str(tmp_path / "env.yml"), "-o", "json")
    assert first["version"] == "1" and first["requirements"] == ["numpy==1.26.*", "six==1.16.0"]
    assert cli.json("environment", "create", "-f", str(tmp_path / "env.yml"), "-o", "json")["version"] == "2"
    conflict = cli("environment", "create", "-f", str(tmp_path / "env.yml"), "-v", "2", check=False)
    assert conflict.returncode != 0 and "RESOURCE_ALREADY_EXISTS" in conflict.stderr
    cli("environment", "archive", "-n", name, "-v", "2")
    assert cli.json("environment", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == "1"
    cli("environment", "restore", "-n", name, "-v", "2")
    assert [e["version"] for e in cli.json("environment", "list", "-n", name, "-o", "json")] == ["2", "1"]

    (tmp_path / "typo.yml").write_text(f"name: {name}\nimage: x\nconda_files: conda.yml\n")
    typo = cli("environment", "create", "-f", str(tmp_path / "typo.yml"), check=False)
    assert typo.returncode != 0 and "conda_files" in typo.stderr and "line 3" in typo.stderr
    (tmp_path / "docker.yml").write_text(f"name: {name}\nbuild:\n  path: ./docker\n")
    docker = cli("environment", "create", "-f", str(tmp_path / "docker.yml"), check=False)
    assert docker.returncode != 0 and "Dockerfile" in docker.stderr
    (tmp_path / "option.txt").write_text("--index-url http://elsewhere/simple\n")
    (tmp_path / "option.yml").write_text(f"name: {name}\nrequirements_file: option.txt\n")
    option = cli("environment", "create", "-f", str(tmp_path / "option.yml"), check=False)
    assert option.returncode != 0 and "pip options" in option.stderr


def test_a_server_that_refuses_images(make_server, tmp_path):
    srv = make_server()
    srv.extra_args = ["--refuse-images"]
    srv.start()
    headers = {"Authorization": f"Bearer {srv.token}"}
    base = f"{srv.url}/api/v1/workspaces/default/environments"
    body = {"name": "imaged", "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
            "python": "3.11", "requirements": ["six==1.16.0"]}
    assert requests.post(base, json=body, headers=headers, timeout=60).status_code == 201
    refused = requests.post(f"{base}/imaged/versions/1/build", headers=headers, timeout=300)
    assert refused.status_code == 400 and "refuses" in refused.json()["message"]
    assert srv.stop() == 0
