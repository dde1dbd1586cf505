"""`atelier component`: Azure ML's command component files, registered as immutable versioned
assets: the typed interface kept, the environment pinned when registered, the code snapshot
hashed by content (the same content is the same version; one changed byte is a new one)."""

from __future__ import annotations

import textwrap
import uuid

import pytest

pytestmark = pytest.mark.atelier_only

COMPONENT = """\
    $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
    type: command
    name: {name}
    display_name: Train
    description: trains a model
    inputs:
      training_data: {{type: uri_folder}}
      max_epochs: {{type: integer, optional: true, min: 1}}
      learning_rate: {{type: number, default: 0.01, optional: true}}
      schedule: {{type: string, default: time-based, enum: [time-based, step-based]}}
    outputs:
      model_output: {{type: uri_folder}}
    code: ./src
    environment: {environment}
    command: >-
      python train.py --training_data ${{{{inputs.training_data}}}}
      $[[--max_epochs ${{{{inputs.max_epochs}}}}]]
      $[[--learning_rate ${{{{inputs.learning_rate}}}}]]
      --schedule ${{{{inputs.schedule}}}}
      --model_output ${{{{outputs.model_output}}}}
    """


def component_name() -> str:
    return f"train_{uuid.uuid4().hex[:10]}"


def write_component(folder, name, environment="azureml:atelier-python@latest", train="print('v1')\n",
                    extra=""):
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "train.py").write_text(train)
    path = folder / "component.yml"
    path.write_text(textwrap.dedent(COMPONENT).format(name=name, environment=environment) + extra)
    return path


def register_environment(cli, tmp_path, name, requirement):
    path = tmp_path / f"{name}.yml"
    path.write_text(f"name: {name}\nconda_file:\n  dependencies:\n    - python=3.11\n    - pip:\n      - {requirement}\n")
    return cli.json("environment", "create", "-f", str(path), "-o", "json")


def test_a_component_registers_its_interface_and_code_once_per_content(cli, api, tmp_path):
    name = component_name()
    environment = f"env_{uuid.uuid4().hex[:8]}"
    register_environment(cli, tmp_path, environment, "six==1.16.0")
    path = write_component(tmp_path, name, environment=f"azureml:{environment}@latest")
    created = cli.json("component", "create", "-f", str(path), "-o", "json")
    assert created["version"] == "1" and created["type"] == "command"
    assert created["display_name"] == "Train" and created["is_deterministic"] is True
    inputs = created["inputs"]
    assert inputs["training_data"] == {"type": "uri_folder", "description": None, "default": None,
                                       "optional": False, "min": None, "max": None}
    assert inputs["max_epochs"]["min"] == 1 and inputs["max_epochs"]["optional"] is True
    assert inputs["learning_rate"]["default"] == "0.01"
    assert inputs["schedule"]["enum"] == ["time-based", "step-based"]
    assert created["outputs"] == {"model_output": {"type": "uri_folder", "description": None, "mode": "rw_mount"}}
    # The environment is pinned to the version `@latest` named when the component was registered.
    assert created["environment"] == f"{environment}:1"
    assert created["requirements"] == ["six==1.16.0"] and created["code_hash"]

    # The same file again is the same version: nothing new is registered.
    again = cli.json("component", "create", "-f", str(path), "-o", "json")
    assert again["version"] == "1" and again["code_hash"] == created["code_hash"]
    # A newer environment version does not change what version 1 runs in, but a new
    # registration picks it up.
    register_environment(cli, tmp_path, environment, "six==1.17.0")
    assert cli.json("component", "show", "-n", name, "-v", "1", "-o", "json")["environment"] == f"{environment}:1"
    # One changed byte of code is a new version.
    write_component(tmp_path, name, environment=f"azureml:{environment}@latest", train="print('v2')\n")
    second = cli.json("component", "create", "-f", str(path), "-o", "json")
    assert second["version"] == "2" and second["code_hash"] != created["code_hash"]
    assert second["environment"] == f"{environment}:2"

    # A version taken by other content is refused, and the stored one is unchanged.
    taken = cli("component", "create", "-f", str(path), "--version", "1", check=False)
    assert taken.returncode != 0 and "already exists with other content" in taken.stderr, taken.stderr

    # Each version's code is kept as registered.
    files = api.get(f"/api/v1/workspaces/default/components/{name}/versions/1/files").json()
    assert [file["path"] for file in files] == ["train.py"]
    first_code = api.get(f"/api/v1/workspaces/default/components/{name}/versions/1/files/train.py")
    assert first_code.status_code == 200 and first_code.text == "print('v1')\n"
    latest_code = api.get(f"/api/v1/workspaces/default/components/{name}/versions/latest/files/train.py")
    assert latest_code.text == "print('v2')\n"

    # Listing, latest, archive and restore, as every versioned asset.
    versions = cli.json("component", "list", "-n", name, "-o", "json")
    assert [version["version"] for version in versions] == ["2", "1"]
    assert cli.json("component", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == "2"
    cli("component", "archive", "-n", name, "-v", "2")
    assert cli.json("component", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == "1"
    assert name in {item["name"] for item in cli.json("component", "list", "-o", "json")}
    cli("component", "restore", "-n", name, "-v", "2")
    assert cli.json("component", "show", "-n", name, "--label", "latest", "-o", "json")["version"] == "2"


def test_a_registered_components_code_cannot_change(cli, api, tmp_path):
    name = component_name()
    path = write_component(tmp_path, name, environment="azureml:nothing@latest")
    path.write_text(path.read_text().replace("environment: azureml:nothing@latest\n", ""))
    created = cli.json("component", "create", "-f", str(path), "-o", "json")
    assert created["environment"] == "atelier-python", "no environment is the built-in one"
    # The snapshot the component keeps refuses new files.
    snapshot = uuid.uuid4().hex
    assert api.put(f"/api/v1/workspaces/default/code-uploads/{snapshot}/train.py", data=b"x").status_code == 200
    yaml = path.read_text().replace(f"name: {name}", f"name: {name}_b")
    made = api.post("/api/v1/workspaces/default/components", json={"yaml": yaml, "snapshot": snapshot})
    assert made.status_code == 201, made.text
    again = api.put(f"/api/v1/workspaces/default/code-uploads/{snapshot}/train.py", data=b"changed")
    assert again.status_code == 400 and "cannot change" in again.json()["message"]


def test_mistakes_name_the_field_and_line_before_anything_is_uploaded(cli, api, tmp_path):
    name = component_name()
    path = write_component(tmp_path, name, extra="compute: azureml:local\n")
    refused = cli("component", "create", "-f", str(path), check=False)
    assert refused.returncode != 0
    assert "line 21" in refused.stderr and "unknown field" in refused.stderr, refused.stderr
    assert "Uploaded" not in refused.stderr, "nothing is uploaded for a file with a mistake"

    path = write_component(tmp_path, name)
    path.write_text(path.read_text().replace("min: 1", "min: 1, default: 0"))
    refused = cli("component", "create", "-f", str(path), check=False)
    assert "line 8: inputs.max_epochs: default: 0 is below the minimum 1" in refused.stderr, refused.stderr

    # The server reads the file again and says the same.
    bad = "name: Prep\ncommand: echo\n"
    answer = api.post("/api/v1/workspaces/default/components", json={"yaml": bad})
    assert answer.status_code == 400 and "line 1: name: invalid component name 'Prep'" in answer.json()["message"]
    # A reference that resolves to nothing names its field and line.
    missing = f"name: {name}\ncommand: echo\nenvironment: azureml:no-such-env@latest\n"
    answer = api.post("/api/v1/workspaces/default/components", json={"yaml": missing})
    assert answer.status_code == 404 or answer.status_code == 400, answer.text
    assert "line 3: environment:" in answer.json()["message"] and "no-such-env" in answer.json()["message"]
    # Code named by the file must come with it.
    with_code = f"name: {name}\ncommand: echo\ncode: ./src\n"
    answer = api.post("/api/v1/workspaces/default/components", json={"yaml": with_code})
    assert answer.status_code == 400 and "line 3: code:" in answer.json()["message"]
