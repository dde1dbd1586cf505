"""Runs: lifecycle, params, metrics, tags, batches, history paging, nesting and datasets."""

from __future__ import annotations

import math

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunTag, ViewType

from e2e_util import FLOAT_MAX, now_ms, raises_mlflow


def test_create_with_name_tags_and_start_time(client, new_experiment):
    experiment_id, _ = new_experiment("run-create")
    start = now_ms() - 60_000
    run = client.create_run(
        experiment_id, start_time=start, tags={"team": "vision", "seed": "7"}, run_name="alpha-1"
    )
    info = run.info
    assert info.experiment_id == experiment_id
    assert info.run_name == "alpha-1"
    assert info.status == "RUNNING"
    assert info.lifecycle_stage == "active"
    assert info.start_time == start
    assert info.end_time is None
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info.run_id}/artifacts"
    assert len(info.run_id) == 32 and all(c in "0123456789abcdef" for c in info.run_id)

    fetched = client.get_run(info.run_id)
    assert fetched.info.run_id == info.run_id
    assert fetched.info.run_name == "alpha-1"
    assert fetched.info.start_time == start
    assert fetched.data.tags["team"] == "vision"
    assert fetched.data.tags["seed"] == "7"
    # MLflow mirrors the run name into the mlflow.runName tag.
    assert fetched.data.tags["mlflow.runName"] == "alpha-1"


def test_create_without_name_gets_one(client, new_experiment):
    experiment_id, _ = new_experiment("run-noname")
    run = client.create_run(experiment_id)
    assert run.info.run_name, "the server must name runs that were created without a name"
    assert client.get_run(run.info.run_id).info.run_name == run.info.run_name


def test_update_status_end_time_and_name(client, new_experiment):
    experiment_id, _ = new_experiment("run-update")
    run_id = client.create_run(experiment_id, run_name="before").info.run_id

    client.update_run(run_id, status="KILLED", name="after")
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.info.run_name == "after"
    assert run.data.tags["mlflow.runName"] == "after"

    end = now_ms()
    client.set_terminated(run_id, status="FINISHED", end_time=end)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time == end
    assert run.info.run_name == "after"


def test_fluent_run_finishes(client, new_experiment):
    experiment_id, _ = new_experiment("run-fluent")
    with mlflow.start_run(experiment_id=experiment_id, run_name="fluent") as active:
        run_id = active.info.run_id
        mlflow.log_param("lr", 0.01)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None and run.info.end_time >= run.info.start_time

    with_error = None
    try:
        with mlflow.start_run(experiment_id=experiment_id) as active:
            with_error = active.info.run_id
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert client.get_run(with_error).info.status == "FAILED"


def test_delete_and_restore(client, new_experiment):
    experiment_id, _ = new_experiment("run-delete")
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]

    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]


def test_params(client, new_experiment):
    experiment_id, _ = new_experiment("run-params")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", 0.001)
    client.log_param(run_id, "optimizer", "adam")
    client.log_param(run_id, "layers", [64, 32])
    client.log_param(run_id, "lr", 0.001)  # the same value again is accepted
    params = client.get_run(run_id).data.params
    assert params == {"lr": "0.001", "optimizer": "adam", "layers": "[64, 32]"}


def test_changing_a_param_is_rejected(client, new_experiment):
    experiment_id, _ = new_experiment("run-param-change")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", "0.1")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, "lr", "0.2")
    assert client.get_run(run_id).data.params["lr"] == "0.1"


def test_long_param_value_is_truncated(client, new_experiment):
    experiment_id, _ = new_experiment("run-long-param")
    run_id = client.create_run(experiment_id).info.run_id
    value = "".join(chr(ord("a") + i % 26) for i in range(7_000))
    client.log_param(run_id, "long", value)
    stored = client.get_run(run_id).data.params["long"]
    assert stored == value[:6_000]


def test_long_tag_value_is_truncated(client, new_experiment):
    experiment_id, _ = new_experiment("run-long-tag")
    run_id = client.create_run(experiment_id).info.run_id
    value = "t" * 9_000
    client.set_tag(run_id, "long", value)
    assert client.get_run(run_id).data.tags["long"] == "t" * 8_000


def test_metrics_steps_timestamps_and_latest_value(client, new_experiment):
    experiment_id, _ = new_experiment("run-metrics")
    run_id = client.create_run(experiment_id).info.run_id
    base = now_ms()
    client.log_metric(run_id, "acc", 0.5, timestamp=base, step=0)
    client.log_metric(run_id, "acc", 0.9, timestamp=base + 2_000, step=5)
    client.log_metric(run_id, "acc", 0.7, timestamp=base + 3_000, step=3)  # logged last
    client.log_metric(run_id, "loss", 1.5)  # default step 0, timestamp now

    # The latest value is the one with the highest step, not the last one logged.
    metrics = client.get_run(run_id).data.metrics
    assert metrics["acc"] == 0.9
    assert metrics["loss"] == 1.5

    history = client.get_metric_history(run_id, "acc")
    triples = sorted((m.step, m.timestamp, m.value) for m in history)
    assert triples == [(0, base, 0.5), (3, base + 3_000, 0.7), (5, base + 2_000, 0.9)]
    assert all(m.key == "acc" for m in history)

    # Equal steps: the newer timestamp wins.
    client.log_metric(run_id, "acc", 0.1, timestamp=base + 1_000, step=5)
    assert client.get_run(run_id).data.metrics["acc"] == 0.9
    client.log_metric(run_id, "acc", 0.95, timestamp=base + 9_000, step=5)
    assert client.get_run(run_id).data.metrics["acc"] == 0.95

    loss = client.get_metric_history(run_id, "loss")
    assert len(loss) == 1 and loss[0].step == 0 and loss[0].timestamp > 0
    assert client.get_metric_history(run_id, "never-logged") == []


def test_nan_and_infinity(client, new_experiment):
    experiment_id, _ = new_experiment("run-nan")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "nan", float("nan"), step=1)
    client.log_metric(run_id, "pos_inf", float("inf"), step=1)
    client.log_metric(run_id, "neg_inf", float("-inf"), step=1)
    client.log_batch(
        run_id,
        metrics=[
            Metric("batch_nan", float("nan"), now_ms(), 0),
            Metric("batch_inf", float("inf"), now_ms(), 0),
        ],
    )
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pos_inf"] == FLOAT_MAX
    assert metrics["neg_inf"] == -FLOAT_MAX
    assert math.isnan(metrics["batch_nan"])
    assert metrics["batch_inf"] == FLOAT_MAX

    (nan_point,) = client.get_metric_history(run_id, "nan")
    assert math.isnan(nan_point.value) and nan_point.step == 1
    (inf_point,) = client.get_metric_history(run_id, "neg_inf")
    assert inf_point.value == -FLOAT_MAX


def test_tags_set_overwrite_delete(client, new_experiment):
    experiment_id, _ = new_experiment("run-tags")
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "stage", "train")
    client.set_tag(run_id, "note", "hello world")
    client.set_tag(run_id, "stage", "eval")
    tags = client.get_run(run_id).data.tags
    assert tags["stage"] == "eval"
    assert tags["note"] == "hello world"
    client.delete_tag(run_id, "note")
    tags = client.get_run(run_id).data.tags
    assert "note" not in tags
    assert tags["stage"] == "eval"
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.delete_tag(run_id, "note")


def test_log_batch_splits_large_batches(client, new_experiment):
    experiment_id, _ = new_experiment("run-batch")
    run_id = client.create_run(experiment_id).info.run_id
    base = now_ms()
    # 2,500 metrics, 150 params and 150 tags: over every per-request limit, so the client
    # sends several log-batch requests.
    metrics = [
        Metric(f"m{key}", float(step * 10 + key), base + step, step)
        for key in range(5)
        for step in range(500)
    ]
    params = [Param(f"p{index:03d}", f"value-{index}") for index in range(150)]
    tags = [RunTag(f"t{index:03d}", f"tag-{index}") for index in range(150)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    data = client.get_run(run_id).data
    assert {key: data.metrics[key] for key in data.metrics} == {
        f"m{key}": float(499 * 10 + key) for key in range(5)
    }
    assert data.params == {f"p{index:03d}": f"value-{index}" for index in range(150)}
    for index in range(150):
        assert data.tags[f"t{index:03d}"] == f"tag-{index}"
    history = client.get_metric_history(run_id, "m3")
    assert sorted((m.step, m.value) for m in history) == [
        (step, float(step * 10 + 3)) for step in range(500)
    ]


def test_log_batch_rejects_changed_param(client, new_experiment):
    experiment_id, _ = new_experiment("run-batch-param")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(run_id, params=[Param("a", "1")])
    client.log_batch(run_id, params=[Param("a", "1")])  # same value: fine
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_batch(run_id, params=[Param("a", "2")])


def test_metric_history_over_25000_points_pages(client, new_experiment):
    experiment_id, _ = new_experiment("run-history")
    run_id = client.create_run(experiment_id).info.run_id
    base = now_ms()
    total = 25_700
    points = [Metric("curve", step * 0.5, base + step, step) for step in range(total)]
    client.log_batch(run_id, metrics=points)  # the client splits this into 1,000-metric requests

    # The client asks for pages of 25,000 and follows next_page_token.
    history = client.get_metric_history(run_id, "curve")
    assert len(history) == total
    assert sorted(m.step for m in history) == list(range(total))
    assert all(m.value == m.step * 0.5 and m.timestamp == base + m.step for m in history)
    assert client.get_run(run_id).data.metrics["curve"] == (total - 1) * 0.5


def test_nested_runs(client, new_experiment):
    experiment_id, _ = new_experiment("run-nested")
    with mlflow.start_run(experiment_id=experiment_id, run_name="parent") as parent:
        with mlflow.start_run(experiment_id=experiment_id, run_name="child-a",
                              nested=True) as child_a:
            mlflow.log_metric("score", 1.0)
        with mlflow.start_run(experiment_id=experiment_id, run_name="child-b",
                              nested=True) as child_b:
            mlflow.log_metric("score", 2.0)
    parent_id = parent.info.run_id

    child = client.get_run(child_a.info.run_id)
    assert child.data.tags["mlflow.parentRunId"] == parent_id
    assert child.info.experiment_id == experiment_id
    assert "mlflow.parentRunId" not in client.get_run(parent_id).data.tags
    assert client.get_parent_run(child_b.info.run_id).info.run_id == parent_id

    for flt in (
        f"tags.mlflow.parentRunId = '{parent_id}'",
        f"tags.`mlflow.parentRunId` = '{parent_id}'",
    ):
        children = client.search_runs([experiment_id], flt, order_by=["attributes.run_name ASC"])
        assert [r.info.run_id for r in children] == [child_a.info.run_id, child_b.info.run_id]

    top_level = client.search_runs([experiment_id], "tags.mlflow.parentRunId IS NULL")
    assert [r.info.run_id for r in top_level] == [parent_id]


def test_dataset_inputs(client, new_experiment):
    experiment_id, _ = new_experiment("run-dataset")
    frame = pd.DataFrame(
        {"x1": [0.1, 0.2, 0.3, 0.4], "x2": [1.0, 2.0, 3.0, 4.0], "y": [0.0, 1.0, 0.0, 1.0]}
    )
    dataset = mlflow.data.from_pandas(frame, targets="y", name="toy-train")
    eval_dataset = mlflow.data.from_pandas(frame.head(2), targets="y", name="toy-eval")
    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(eval_dataset, context="eval", tags={"split": "holdout"})
        mlflow.log_input(dataset, context="training")  # the same input twice is one input
    run = client.get_run(active.info.run_id)

    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"toy-train", "toy-eval"}
    train = inputs["toy-train"]
    expected = dataset.to_dict()
    assert train.dataset.digest == dataset.digest == expected["digest"]
    assert train.dataset.source_type == expected["source_type"]
    assert train.dataset.source == expected["source"]
    assert train.dataset.schema == expected["schema"]
    assert train.dataset.profile == expected["profile"]
    train_tags = {t.key: t.value for t in train.tags}
    assert train_tags["mlflow.data.context"] == "training"
    eval_tags = {t.key: t.value for t in inputs["toy-eval"].tags}
    assert eval_tags == {"mlflow.data.context": "eval", "split": "holdout"}

    # The dataset is readable back into a DatasetSource.
    source = mlflow.data.get_source(train)
    assert source is not None

    found = client.search_runs([experiment_id], "datasets.name = 'toy-eval'")
    assert [r.info.run_id for r in found] == [active.info.run_id]
    found = client.search_runs([experiment_id], "datasets.context = 'training'")
    assert [r.info.run_id for r in found] == [active.info.run_id]
    assert client.search_runs([experiment_id], "datasets.name = 'other'") == []


def test_logging_to_a_deleted_run_is_rejected(client, new_experiment):
    experiment_id, _ = new_experiment("run-deleted-log")
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, "m", 1.0)
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, "p", "1")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.set_tag(run_id, "t", "1")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, now_ms(), 0)])


def test_status_values(client, new_experiment):
    experiment_id, _ = new_experiment("run-status")
    run_id = client.create_run(experiment_id).info.run_id
    for status in ("SCHEDULED", "RUNNING", "FAILED", "KILLED", "FINISHED"):
        client.update_run(run_id, status=status)
        assert client.get_run(run_id).info.status == status
