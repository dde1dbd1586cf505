"""Roles as Azure ML defines them: the built-in ones, custom roles from Azure's JSON role
definitions (defined by server administrators, assigned by a workspace's Owners), several roles
per user adding up, and NotActions taking away, enforced on the MLflow API and the native API."""

from __future__ import annotations

import json

import pytest
import requests
from mlflow import MlflowClient

from e2e_util import raises_mlflow, unique_ident

pytestmark = pytest.mark.atelier_only

MLS = "Microsoft.MachineLearningServices/workspaces"


def new_user(cli) -> tuple[str, str]:
    name = unique_ident("roleuser")
    cli("user", "create", name, "--password", "role-user-password")
    return name, cli.json("token", "create", "--user", name, "-o", "json")["token"]


def role_file(tmp_path, definition: dict) -> str:
    path = tmp_path / f"{unique_ident('role')}.json"
    path.write_text(json.dumps(definition, indent=2))
    return str(path)


def test_a_custom_role_grants_its_actions_minus_its_not_actions(cli, server, tmp_path, monkeypatch):
    role = f"Model Curator {unique_ident('r')}"
    shown = cli.json("role", "create", "-f", role_file(tmp_path, {
        "Name": role,
        "IsCustom": True,
        "Description": "Registers models; deletes none; tracks nothing.",
        "Actions": [f"{MLS}/*/read", f"{MLS}/models/*"],
        "NotActions": [f"{MLS}/models/delete"],
        "AssignableScopes": ["/"],
    }), "-o", "json")
    assert shown["Name"] == role and shown["IsCustom"] is True and shown["CreatedBy"] == "admin"
    listed = [entry["Name"] for entry in cli.json("role", "list", "-o", "json")]
    assert listed[:5] == ["Owner", "Contributor", "Reader", "AzureML Data Scientist", "AzureML Compute Operator"]
    assert role in listed

    workspace = unique_ident("curated")
    cli("workspace", "create", workspace)
    user, token = new_user(cli)
    cli("role", "assignment", "create", "--user", user, "--role", role.upper(), "--workspace", workspace)
    assignments = cli.json("role", "assignment", "list", "--workspace", workspace, "-o", "json")
    assert {"user": user, "role": role} in assignments, "the role's own name is kept, whatever case assigned it"

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = MlflowClient(tracking_uri=f"{server.url}/ws/{workspace}")
    name = unique_ident("curated-model")
    client.create_registered_model(name)
    client.update_registered_model(name, description="checked by the curator")
    assert client.get_registered_model(name).description == "checked by the curator"
    assert client.search_experiments(), "*/read lets the curator read experiments"
    with raises_mlflow("PERMISSION_DENIED") as denied:
        client.delete_registered_model(name)
    assert f"{MLS}/models/delete" in str(denied.value), "the refusal names the action"
    with raises_mlflow("PERMISSION_DENIED"):
        client.create_experiment(unique_ident("not-curated"))


def test_roles_add_up_and_compute_operator_covers_computes_only(cli, tmp_path):
    workspace = unique_ident("science")
    cli("workspace", "create", workspace)
    user, token = new_user(cli)
    cli("role", "assign", "--user", user, "--role", "AzureML Data Scientist", "--workspace", workspace)
    compute = tmp_path / "compute.yml"
    compute.write_text(f"name: {unique_ident('c')[:20]}\ntype: amlcompute\nmax_instances: 1\n")
    refused = cli("compute", "create", "-f", str(compute), "-w", workspace, token=token, check=False)
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr, refused.stderr
    assert "computes/write" in refused.stderr and "AzureML Data Scientist" in refused.stderr
    # A Data Scientist registers datastores, models and data: everything inside the workspace.
    experiments = cli.json("experiment", "list", "-w", workspace, "-o", "json", token=token)
    assert isinstance(experiments, list)
    denied = cli("role", "assign", "--user", user, "--role", "Owner", "--workspace", workspace, token=token, check=False)
    assert denied.returncode != 0 and "roleAssignments/write" in denied.stderr, "a Data Scientist grants no access"

    cli("role", "assignment", "create", "--user", user, "--role", "AzureML Compute Operator", "--workspace", workspace)
    created = cli.json("compute", "create", "-f", str(compute), "-w", workspace, "-o", "json", token=token)
    assert created["type"] == "amlcompute"
    cli("role", "assignment", "delete", "--user", user, "--role", "AzureML Data Scientist", "--workspace", workspace)
    alone = cli("experiment", "list", "-w", workspace, "-o", "json", token=token, check=False)
    assert alone.returncode != 0 and "experiments/read" in alone.stderr, "Compute Operator alone reads no experiments"
    assert cli.json("compute", "list", "-w", workspace, "-o", "json", token=token)


def test_only_administrators_define_roles_and_owners_assign_them_where_their_scope_allows(cli, server, tmp_path):
    scoped_to = unique_ident("scoped")
    other = unique_ident("elsewhere")
    for name in (scoped_to, other):
        cli("workspace", "create", name)
    definition = {
        "Name": f"Scoped {unique_ident('r')}",
        "Actions": ["*/read"],
        "AssignableScopes": [f"/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/{scoped_to}"],
    }
    owner, owner_token = new_user(cli)
    cli("role", "assign", "--user", owner, "--role", "Owner", "--workspace", scoped_to)
    cli("role", "assign", "--user", owner, "--role", "Owner", "--workspace", other)
    path = role_file(tmp_path, definition)
    refused = cli("role", "create", "-f", path, token=owner_token, check=False)
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr, "an Owner defines no roles"
    cli("role", "create", "-f", path)
    member, _ = new_user(cli)
    cli("role", "assign", "--user", member, "--role", definition["Name"], "--workspace", scoped_to, token=owner_token)
    outside = cli("role", "assign", "--user", member, "--role", definition["Name"], "--workspace", other,
                  token=owner_token, check=False)
    assert outside.returncode != 0 and f"/workspaces/{scoped_to}" in outside.stderr, outside.stderr

    # Shown as JSON, edited, sent back; deleting it is refused while it is assigned.
    shown = cli.json("role", "show", "-n", definition["Name"], "-o", "json")
    assert shown["AssignableScopes"] == [f"/workspaces/{scoped_to}"]
    shown["Description"] = "readers of one workspace"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(shown))
    assert cli.json("role", "update", "-f", str(edited), "-o", "json")["Description"] == "readers of one workspace"
    narrowed = dict(shown, AssignableScopes=[f"/workspaces/{other}"])
    edited.write_text(json.dumps(narrowed))
    kept = cli("role", "update", "-f", str(edited), check=False)
    assert kept.returncode != 0 and scoped_to in kept.stderr, "a role is not narrowed away from where it is assigned"
    in_use = cli("role", "delete", "-n", definition["Name"], check=False)
    assert in_use.returncode != 0 and "assigned" in in_use.stderr and scoped_to in in_use.stderr
    cli("role", "assignment", "delete", "--user", member, "--workspace", scoped_to, token=owner_token)
    cli("role", "delete", "-n", definition["Name"])
    gone = requests.get(f"{server.url}/api/v1/role-definitions/{definition['Name']}",
                        headers={"Authorization": f"Bearer {server.token}"}, timeout=30)
    assert gone.status_code == 404
    builtin = cli("role", "delete", "-n", "reader", check=False)
    assert builtin.returncode != 0 and "built in" in builtin.stderr


def test_a_mistake_in_a_role_file_is_named_with_its_line_and_the_nearest_action(cli, server, tmp_path):
    path = tmp_path / "typo.json"
    path.write_text('{\n  "Name": "Typo",\n  "Actions": [\n    "*/read",\n'
                    f'    "{MLS}/onlineEndpoint/*"\n  ],\n  "AssignableScopes": ["/"]\n}}\n')
    result = cli("role", "create", "-f", str(path), check=False)
    assert result.returncode != 0
    assert "line 5" in result.stderr and "Actions[1]" in result.stderr, result.stderr
    assert f"did you mean '{MLS}/onlineEndpoints/" in result.stderr, result.stderr
    # The server reads the file with the same parser, and says the same, by line.
    answer = requests.post(f"{server.url}/api/v1/role-definitions", data=path.read_text(),
                           headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
                           timeout=30)
    assert answer.status_code == 400, answer.text
    assert "line 5" in answer.json()["message"] and "onlineEndpoints" in answer.json()["message"]
    unknown = cli("role", "assign", "--user", "admin", "--role", "Contributer", "--workspace", "default", check=False)
    assert unknown.returncode != 0 and "did you mean 'Contributor'" in unknown.stderr, unknown.stderr
