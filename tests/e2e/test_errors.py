"""The errors the mlflow client raises, with the error codes MLflow uses."""

from __future__ import annotations

import uuid

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from e2e_util import now_ms, raises_mlflow


def unknown_run_id() -> str:
    return uuid.uuid4().hex


def test_unknown_run(client):
    run_id = unknown_run_id()
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_run(run_id)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.log_metric(run_id, "m", 1.0)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.log_param(run_id, "p", "v")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.set_tag(run_id, "t", "v")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, now_ms(), 0)])
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.delete_run(run_id)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.update_run(run_id, status="FINISHED")


def test_unknown_experiment(client):
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_experiment("424242424242")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.create_run("424242424242")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment("424242424242")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.set_experiment_tag("424242424242", "k", "v")


def test_create_run_in_deleted_experiment(client, new_experiment):
    experiment_id, _ = new_experiment("err-deleted-exp")
    client.delete_experiment(experiment_id)
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.create_run(experiment_id)


def test_duplicate_experiment_name(server, client, new_experiment):
    _, name = new_experiment("err-dup")
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)
    # Renaming onto an existing name is refused too. MLflow 3.17.2 leaks the SQL error here
    # (BAD_REQUEST "UNIQUE constraint failed"); Atelier answers RESOURCE_ALREADY_EXISTS.
    other_id, _ = new_experiment("err-dup-other")
    with pytest.raises(MlflowException) as excinfo:
        client.rename_experiment(other_id, name)
    allowed = {"RESOURCE_ALREADY_EXISTS"} | ({"BAD_REQUEST"} if server.reference_mlflow else set())
    assert excinfo.value.error_code in allowed, excinfo.value
    assert client.get_experiment(other_id).name != name


@pytest.mark.parametrize("kind", ["param", "metric", "tag", "batch-param", "batch-metric"])
def test_key_longer_than_250_characters(client, new_experiment, kind):
    experiment_id, _ = new_experiment("err-long-key")
    run_id = client.create_run(experiment_id).info.run_id
    ok_key = "k" * 250
    long_key = "k" * 251
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        if kind == "param":
            client.log_param(run_id, long_key, "v")
        elif kind == "metric":
            client.log_metric(run_id, long_key, 1.0)
        elif kind == "tag":
            client.set_tag(run_id, long_key, "v")
        elif kind == "batch-param":
            client.log_batch(run_id, params=[Param(long_key, "v")])
        else:
            client.log_batch(run_id, metrics=[Metric(long_key, 1.0, now_ms(), 0)])
    # Exactly 250 characters is fine.
    client.log_param(run_id, ok_key, "v")
    client.log_metric(run_id, ok_key, 1.0)
    client.set_tag(run_id, ok_key, "v")
    data = client.get_run(run_id).data
    assert data.params[ok_key] == "v" and data.metrics[ok_key] == 1.0 and data.tags[ok_key] == "v"
    assert long_key not in data.params and long_key not in data.metrics


def test_metric_without_value(client, new_experiment):
    experiment_id, _ = new_experiment("err-no-value")
    run_id = client.create_run(experiment_id).info.run_id
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, "m", None)


def test_a_failed_batch_changes_nothing(client, new_experiment):
    experiment_id, _ = new_experiment("err-batch-atomic")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "fixed", "1")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_batch(
            run_id,
            metrics=[Metric("should_not_exist", 1.0, now_ms(), 0)],
            params=[Param("fixed", "2")],
            tags=[RunTag("also_not", "x")],
        )
    data = client.get_run(run_id).data
    assert data.params == {"fixed": "1"}
    assert "should_not_exist" not in data.metrics
    assert "also_not" not in data.tags
