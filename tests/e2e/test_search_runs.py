"""search_runs: the filter language, order_by, paging, and the pandas/list front ends.

One module-scoped experiment holds five runs with known data; every test only reads it.
String orderings avoid mixed case and punctuation so that they do not depend on the
database's collation.
"""

from __future__ import annotations

import dataclasses

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from e2e_util import collect_pages, now_ms, raises_mlflow, unique

# name, status, params, metrics, tags
RUNS = [
    ("alpha-0", "FINISHED", {"model": "resnet", "lr": "0.1", "batch size": "32"},
     {"acc": 0.91, "loss": 0.3}, {"team": "vision"}),
    ("alpha-1", "FINISHED", {"model": "ResNet50", "lr": "0.01"},
     {"acc": 0.75}, {"team": "nlp"}),
    ("beta-2", "RUNNING", {"model": "vit", "lr": "0.1"},
     {"acc": 0.60}, {}),
    ("beta-3", "KILLED", {"model": "resnet", "lr": "0.001"},
     {"loss": 0.9}, {"team": "vision"}),
    ("gamma-4", "FINISHED", {"model": "bert", "lr": "0.01"},
     {"acc": 0.99}, {"team": "nlp"}),
]


@dataclasses.dataclass
class Corpus:
    experiment_id: str
    name: str
    ids: list[str]  # run ids in RUNS order
    base_time: int

    def indexes(self, runs) -> list[int]:
        return [self.ids.index(r.info.run_id) for r in runs]


@pytest.fixture(scope="module")
def corpus(server) -> Corpus:
    client = MlflowClient(tracking_uri=server.url)
    name = unique("search-runs")
    experiment_id = client.create_experiment(name)
    base = now_ms() - 100_000
    ids = []
    for index, (run_name, status, params, metrics, tags) in enumerate(RUNS):
        run = client.create_run(experiment_id, start_time=base + index * 1_000, run_name=run_name)
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, base + index * 1_000, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if status != "RUNNING":
            client.set_terminated(run_id, status=status, end_time=base + index * 1_000 + 500)
        ids.append(run_id)
    return Corpus(experiment_id, name, ids, base)


def search(corpus: Corpus, filter_string: str = "", **kwargs) -> list[int]:
    client = MlflowClient()
    runs = client.search_runs([corpus.experiment_id], filter_string, **kwargs)
    return corpus.indexes(runs)


FILTERS = [
    ("metrics.acc > 0.7", {0, 1, 4}),
    ("metrics.acc >= 0.75", {0, 1, 4}),
    ("metrics.acc < 0.75", {2}),
    ("metrics.acc <= 0.6", {2}),
    ("metrics.acc = 0.99", {4}),
    ("metrics.acc != 0.6", {0, 1, 4}),  # runs without the metric never match
    ("metric.loss > 0.5", {3}),
    ("params.model = 'resnet'", {0, 3}),
    ('params.model = "resnet"', {0, 3}),
    ("params.model != 'resnet'", {1, 2, 4}),
    ("param.lr = '0.1'", {0, 2}),
    ("params.model LIKE 'res%'", {0, 3}),  # LIKE is case-sensitive
    ("params.model LIKE '%e%'", {0, 1, 3, 4}),
    ("params.model ILIKE 'RES%'", {0, 1, 3}),
    ("params.`batch size` = '32'", {0}),
    ("params.`batch size` IS NULL", {1, 2, 3, 4}),
    ("tags.team = 'vision'", {0, 3}),
    ("tag.team != 'vision'", {1, 4}),
    ("tags.team LIKE 'vis%'", {0, 3}),
    ("tags.team ILIKE 'NLP'", {1, 4}),
    ("tags.team IS NULL", {2}),
    ("tags.team IS NOT NULL", {0, 1, 3, 4}),
    ("attributes.status = 'FINISHED'", {0, 1, 4}),
    ("attributes.status != 'FINISHED'", {2, 3}),
    ("attribute.run_name = 'beta-2'", {2}),
    ("attributes.run_name LIKE 'alpha%'", {0, 1}),
    ("attributes.run_name ILIKE 'GAMMA%'", {4}),
    ("metrics.acc > 0.7 AND tags.team = 'nlp'", {1, 4}),
    ("metrics.acc > 0.5 AND params.lr = '0.1' AND attributes.status = 'FINISHED'", {0}),
    ("params.lr = '0.1' and tags.team = 'vision'", {0}),
    ("", {0, 1, 2, 3, 4}),
]


@pytest.mark.parametrize(("filter_string", "expected"), FILTERS, ids=[f[0] or "<empty>" for f in FILTERS])
def test_filter(corpus, filter_string, expected):
    assert set(search(corpus, filter_string)) == expected


def test_filter_on_run_ids_and_times(corpus):
    ids = corpus.ids
    assert set(search(corpus, f"attributes.run_id IN ('{ids[0]}', '{ids[4]}')")) == {0, 4}
    assert set(search(corpus, f"attributes.run_id NOT IN ('{ids[0]}', '{ids[1]}')")) == {2, 3, 4}
    assert set(search(corpus, f"attributes.run_id = '{ids[3]}'")) == {3}
    assert set(search(corpus, f"attributes.start_time > {corpus.base_time + 2_500}")) == {3, 4}
    assert set(search(corpus, f"attributes.start_time <= {corpus.base_time + 1_000}")) == {0, 1}
    # end_time is unset on the running run, so it never matches a comparison.
    assert set(search(corpus, f"attributes.end_time > {corpus.base_time}")) == {0, 1, 3, 4}


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, [4, 3, 2, 1, 0]),  # default: newest start_time first
        (["attributes.start_time ASC"], [0, 1, 2, 3, 4]),
        (["start_time DESC"], [4, 3, 2, 1, 0]),
        (["metrics.acc DESC"], [4, 0, 1, 2, 3]),  # runs without the metric come last...
        (["metrics.acc ASC"], [2, 1, 0, 4, 3]),  # ...in both directions
        (["metrics.acc"], [2, 1, 0, 4, 3]),  # ASC is the default direction
        (["tags.team ASC", "attributes.start_time ASC"], [1, 4, 0, 3, 2]),
        (["tags.team DESC", "attributes.start_time DESC"], [3, 0, 4, 1, 2]),
        (["attributes.run_name DESC"], [4, 3, 2, 1, 0]),
        (["params.lr ASC", "attributes.start_time DESC"], [3, 4, 1, 2, 0]),
    ],
)
def test_order_by(corpus, order_by, expected):
    assert search(corpus, order_by=order_by) == expected


def test_paging(corpus):
    client = MlflowClient()

    def fetch(max_results, page_token):
        return client.search_runs(
            [corpus.experiment_id],
            order_by=["attributes.start_time ASC"],
            max_results=max_results,
            page_token=page_token,
        )

    pages = collect_pages(fetch, page_size=2)
    assert [corpus.indexes(page) for page in pages] == [[0, 1], [2, 3], [4]]
    pages = collect_pages(fetch, page_size=1)
    assert [i for page in pages for i in corpus.indexes(page)] == [0, 1, 2, 3, 4]

    filtered = collect_pages(
        lambda n, token: client.search_runs(
            [corpus.experiment_id], "metrics.acc > 0", order_by=["metrics.acc DESC"],
            max_results=n, page_token=token,
        ),
        page_size=3,
    )
    assert [corpus.indexes(page) for page in filtered][:2] == [[4, 0, 1], [2]]


def test_max_results_limits(corpus):
    client = MlflowClient()
    assert len(client.search_runs([corpus.experiment_id], max_results=50_000)) == 5
    assert len(client.search_runs([corpus.experiment_id], max_results=3)) == 3
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_runs([corpus.experiment_id], max_results=50_001)


@pytest.mark.parametrize(
    "bad_filter",
    [
        "metrics.acc >>> 1",
        "nonsense.key = 'x'",
        "params.lr = 0.1",  # param values must be quoted strings
        "metrics.acc = 'high'",  # metric values must be numbers
        "tags.team IN ('a', 'b')",  # IN is only for run ids (and dataset fields)
        "metrics.acc > 0.5 OR tags.team = 'nlp'",  # OR is not in the language
        "params.model = 'unterminated",
    ],
)
def test_bad_filter_is_rejected(corpus, bad_filter):
    client = MlflowClient()
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_runs([corpus.experiment_id], bad_filter)


def test_bad_order_by_is_rejected(corpus):
    client = MlflowClient()
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_runs([corpus.experiment_id], order_by=["metrics.acc SIDEWAYS"])
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_runs([corpus.experiment_id], order_by=["nonsense.key ASC"])


def test_several_experiments(corpus, client, new_experiment):
    other_id, _ = new_experiment("search-runs-other")
    other_run = client.create_run(other_id, run_name="other")
    client.log_metric(other_run.info.run_id, "acc", 0.8)
    runs = client.search_runs([corpus.experiment_id, other_id], "metrics.acc > 0.7")
    assert {r.info.run_id for r in runs} == {
        corpus.ids[0], corpus.ids[1], corpus.ids[4], other_run.info.run_id
    }


def test_pandas_front_end(corpus):
    frame = mlflow.search_runs(
        experiment_ids=[corpus.experiment_id],
        filter_string="metrics.acc > 0.7",
        order_by=["metrics.acc DESC"],
    )
    assert isinstance(frame, pd.DataFrame)
    assert frame["run_id"].tolist() == [corpus.ids[4], corpus.ids[0], corpus.ids[1]]
    assert frame["metrics.acc"].tolist() == [0.99, 0.91, 0.75]
    assert frame["params.model"].tolist() == ["bert", "resnet", "ResNet50"]
    assert frame["tags.team"].tolist() == ["nlp", "vision", "nlp"]
    assert frame["tags.mlflow.runName"].tolist() == ["gamma-4", "alpha-0", "alpha-1"]
    assert frame["status"].tolist() == ["FINISHED"] * 3
    assert frame["experiment_id"].tolist() == [corpus.experiment_id] * 3
    for column in ("start_time", "end_time", "artifact_uri"):
        assert column in frame.columns

    by_name = mlflow.search_runs(experiment_names=[corpus.name])
    assert len(by_name) == 5
    assert by_name["run_id"].tolist() == corpus.ids[::-1]  # newest first

    limited = mlflow.search_runs(experiment_ids=[corpus.experiment_id], max_results=2,
                                 order_by=["attributes.start_time ASC"])
    assert limited["run_id"].tolist() == corpus.ids[:2]

    as_list = mlflow.search_runs(
        experiment_ids=[corpus.experiment_id], filter_string="tags.team = 'vision'",
        output_format="list", order_by=["attributes.start_time ASC"],
    )
    assert [r.info.run_id for r in as_list] == [corpus.ids[0], corpus.ids[3]]
    assert as_list[0].data.params["batch size"] == "32"
    assert as_list[0].data.metrics == {"acc": 0.91, "loss": 0.3}


def test_search_returns_full_runs(corpus):
    (run,) = MlflowClient().search_runs([corpus.experiment_id], "attributes.run_name = 'alpha-0'")
    assert run.info.status == "FINISHED"
    assert run.info.start_time == corpus.base_time
    assert run.info.end_time == corpus.base_time + 500
    assert run.data.params == {"model": "resnet", "lr": "0.1", "batch size": "32"}
    assert run.data.metrics == {"acc": 0.91, "loss": 0.3}
    assert run.data.tags["team"] == "vision"
    assert run.data.tags["mlflow.runName"] == "alpha-0"


def test_unknown_experiment_ids_match_nothing(corpus):
    # As in MLflow: an experiment id that does not exist is not an error in search_runs.
    client = MlflowClient()
    assert client.search_runs(["424242424242"]) == []
    runs = client.search_runs([corpus.experiment_id, "424242424242"])
    assert len(runs) == 5
