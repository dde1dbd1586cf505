"""The model registry with the real mlflow client: log_model(registered_model_name=...), loading
by version and by alias, stages, tags, search, rename, delete, and MLflow's error codes."""

from __future__ import annotations


import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from e2e_util import API, assert_error_response, mlflow_major, raises_mlflow, unique, unique_ident


def fitted() -> LinearRegression:
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    return LinearRegression().fit(features, 2.0 * features[:, 0] + 1.0)


def log_registered(name: str, experiment: str):
    """Logs a fitted model in a new run, registering it under ``name``; returns the run id."""
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        if mlflow_major() >= 3:
            mlflow.sklearn.log_model(fitted(), name="model", registered_model_name=name)
        else:
            mlflow.sklearn.log_model(fitted(), artifact_path="model", registered_model_name=name)
    return run.info.run_id


def test_log_model_registers_a_version_that_loads_by_number_and_alias(client):
    name = unique("regressor")
    run_id = log_registered(name, unique("registry"))
    version = client.get_model_version(name, "1")
    assert version.run_id == run_id
    assert version.status == "READY"
    assert version.current_stage == "None"

    client.set_registered_model_alias(name, "champion", "1")
    for uri in (f"models:/{name}/1", f"models:/{name}@champion"):
        model = mlflow.pyfunc.load_model(uri)
        prediction = model.predict(np.array([[4.0]]))
        assert prediction[0] == pytest.approx(9.0), uri
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_registered_model(name).aliases == {"champion": "1"}

    # A second run registers version 2 under the same name; the alias stays on version 1.
    second_run = log_registered(name, unique("registry"))
    assert client.get_model_version(name, "2").run_id == second_run
    assert client.get_model_version_by_alias(name, "champion").version == "1"


def test_registered_models_versions_stages_and_tags(client, new_experiment):
    experiment_id, _ = new_experiment("registry-crud")
    run_id = client.create_run(experiment_id).info.run_id
    name = unique("crud")
    created = client.create_registered_model(name, tags={"team": "risk"}, description="fraud scores")
    assert created.name == name and created.description == "fraud scores"
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        client.create_registered_model(name)

    for _ in range(3):
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags={"kind": "sklearn"})
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["3", "2", "1"]

    client.transition_model_version_stage(name, "1", "Production")
    moved = client.transition_model_version_stage(name, "2", "production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Production": "2", "None": "3"}
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["2"]

    client.update_registered_model(name, description="better scores")
    client.update_model_version(name, "3", description="candidate")
    client.set_registered_model_tag(name, "owner", "ana")
    client.set_model_version_tag(name, "3", "validated", "yes")
    client.delete_model_version_tag(name, "3", "kind")
    model = client.get_registered_model(name)
    assert model.description == "better scores"
    assert model.tags == {"team": "risk", "owner": "ana"}
    third = client.get_model_version(name, "3")
    assert third.description == "candidate" and third.tags == {"validated": "yes"}
    client.delete_registered_model_tag(name, "owner")
    assert client.get_registered_model(name).tags == {"team": "risk"}

    assert client.get_model_version_download_uri(name, "3") == f"runs:/{run_id}/model"

    client.delete_model_version(name, "3")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "3")
    again = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    assert again.version == "4", "version numbers are never reused"

    renamed = unique("renamed")
    client.rename_registered_model(name, renamed)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(name)
    assert client.get_model_version(renamed, "2").current_stage == "Production"
    client.delete_registered_model(renamed)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(renamed)


def test_search_registered_models_filters_orders_and_pages(client):
    prefix = unique("search")
    for suffix in ("a", "b", "c"):
        client.create_registered_model(f"{prefix}-{suffix}", tags={"letter": suffix})
    found = client.search_registered_models(f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [model.name for model in found] == [f"{prefix}-c", f"{prefix}-b", f"{prefix}-a"]
    page = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2, page_token=page.token)
    assert [model.name for model in rest] == [f"{prefix}-c"]
    tagged = client.search_registered_models(f"name LIKE '{prefix}-%' AND tags.letter = 'b'")
    assert [model.name for model in tagged] == [f"{prefix}-b"]
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_registered_models("params.x = '1'")


def test_registry_errors_follow_mlflow(api, client, new_experiment):
    experiment_id, _ = new_experiment("registry-errors")
    run_id = client.create_run(experiment_id).info.run_id
    name = unique("errors")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)

    # A missing alias is an invalid parameter, not a missing resource (as MLflow answers).
    response = api.get(f"{API}/registered-models/alias", params={"name": name, "alias": "nobody"})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")
    response = api.get(f"{API}/registered-models/get", params={"name": unique("missing")})
    assert_error_response(response, 404, "RESOURCE_DOES_NOT_EXIST")
    response = api.post(f"{API}/model-versions/transition-stage",
                        json={"name": name, "version": "1", "stage": "Prod"})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")
    response = api.post(f"{API}/registered-models/alias", json={"name": name, "alias": "latest", "version": "1"})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")
    response = api.post(f"{API}/registered-models/alias", json={"name": name, "alias": "champion", "version": "7"})
    assert_error_response(response, 404, "RESOURCE_DOES_NOT_EXIST")
    response = api.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": "1"})
    assert response.status_code == 200
    assert response.json() == {"artifact_uri": f"runs:/{run_id}/model"}, "the source, exactly as registered"
    # Deleting an alias that is not set succeeds, as in MLflow.
    response = api.request("DELETE", f"{API}/registered-models/alias", json={"name": name, "alias": "nobody"})
    assert response.status_code == 200, response.text


@pytest.mark.atelier_only
def test_model_version_sources_cannot_be_local_paths(api):
    name = unique("sources")
    assert api.post(f"{API}/registered-models/create", json={"name": name}).status_code == 200
    for source in ("/etc/passwd", "file:///etc/passwd", "runs:/abc/../../../etc"):
        response = api.post(f"{API}/model-versions/create", json={"name": name, "source": source})
        body = assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")
        assert "source" in body["message"], body


@pytest.mark.atelier_only
def test_readers_see_the_registry_but_cannot_change_it(server, cli, monkeypatch):
    name = unique("guarded")
    MlflowClient().create_registered_model(name)
    reader = unique_ident("reader")
    cli("user", "create", reader, "--password", "reader-password")
    token = cli.json("token", "create", "--user", reader, "-o", "json")["token"]
    cli("role", "assign", "--user", reader, "--role", "Reader", "--workspace", "default")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    as_reader = MlflowClient()
    assert as_reader.get_registered_model(name).name == name
    with raises_mlflow("PERMISSION_DENIED"):
        as_reader.create_registered_model(unique("not-allowed"))
    with raises_mlflow("PERMISSION_DENIED"):
        as_reader.delete_registered_model(name)
