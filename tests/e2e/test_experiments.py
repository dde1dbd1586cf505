"""Experiments through MlflowClient: create, get, get-by-name, search, rename, delete, restore, tags."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.entities import ViewType

from e2e_util import API, collect_pages, mlflow_major, now_ms, raises_mlflow, unique


def test_create_and_get(client):
    name = unique("exp-create")
    before = now_ms()
    experiment_id = client.create_experiment(name, tags={"team": "vision", "priority": "1"})
    assert isinstance(experiment_id, str) and experiment_id

    experiment = client.get_experiment(experiment_id)
    assert experiment.experiment_id == experiment_id
    assert experiment.name == name
    assert experiment.lifecycle_stage == "active"
    assert experiment.tags["team"] == "vision"
    assert experiment.tags["priority"] == "1"
    # Proxied artifacts: the experiment's location is mlflow-artifacts:/<id>.
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    assert experiment.creation_time is not None and experiment.creation_time >= before - 5_000
    assert experiment.last_update_time is not None

    by_name = client.get_experiment_by_name(name)
    assert by_name is not None and by_name.experiment_id == experiment_id


def test_get_by_name_unknown_returns_none(client):
    # The server answers RESOURCE_DOES_NOT_EXIST; the client turns that into None.
    assert client.get_experiment_by_name(unique("no-such-experiment")) is None


def test_default_experiment_exists(client):
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"


def test_fluent_set_experiment_creates_it(client):
    name = unique("exp-fluent")
    try:
        experiment = mlflow.set_experiment(name)
        assert experiment.name == name
        assert client.get_experiment_by_name(name).experiment_id == experiment.experiment_id
        # A second call finds the same experiment instead of creating another.
        assert mlflow.set_experiment(name).experiment_id == experiment.experiment_id
        with mlflow.start_run() as active:
            pass
        assert client.get_run(active.info.run_id).info.experiment_id == experiment.experiment_id
    finally:
        # The active experiment is process-global; give the other tests the default back.
        mlflow.set_experiment(experiment_id="0")


def test_rename(client, new_experiment):
    experiment_id, old_name = new_experiment("exp-rename")
    new_name = unique("exp-renamed")
    client.rename_experiment(experiment_id, new_name)
    assert client.get_experiment(experiment_id).name == new_name
    assert client.get_experiment_by_name(new_name).experiment_id == experiment_id
    assert client.get_experiment_by_name(old_name) is None


def test_delete_and_restore(client, new_experiment):
    experiment_id, name = new_experiment("exp-delete")
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"

    active = client.search_experiments(filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in active] == []
    deleted = client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name = '{name}'"
    )
    assert [e.experiment_id for e in deleted] == [experiment_id]
    every = client.search_experiments(view_type=ViewType.ALL, filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in every] == [experiment_id]

    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    active = client.search_experiments(filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in active] == [experiment_id]


def test_set_and_delete_tag(client, new_experiment, api):
    experiment_id, _ = new_experiment("exp-tags")
    client.set_experiment_tag(experiment_id, "stage", "draft")
    client.set_experiment_tag(experiment_id, "owner", "ml-team")
    client.set_experiment_tag(experiment_id, "stage", "final")  # overwrite
    tags = client.get_experiment(experiment_id).tags
    assert tags["stage"] == "final"
    assert tags["owner"] == "ml-team"

    if mlflow_major() >= 3:
        client.delete_experiment_tag(experiment_id, "owner")
    else:
        # mlflow 2.22's MlflowClient has no delete_experiment_tag; the endpoint is the same.
        response = api.post(
            f"{API}/experiments/delete-experiment-tag",
            json={"experiment_id": experiment_id, "key": "owner"},
        )
        assert response.status_code == 200, response.text
    tags = client.get_experiment(experiment_id).tags
    assert "owner" not in tags
    assert tags["stage"] == "final"


def test_search_filter_and_order(client):
    prefix = unique("exp-search")
    ids = {}
    for suffix, team in [("b", "nlp"), ("a", "vision"), ("c", "vision")]:
        ids[suffix] = client.create_experiment(f"{prefix}-{suffix}", tags={"team": team})

    by_name = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"]
    )
    assert [e.experiment_id for e in by_name] == [ids["a"], ids["b"], ids["c"]]

    by_name_desc = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"]
    )
    assert [e.experiment_id for e in by_name_desc] == [ids["c"], ids["b"], ids["a"]]

    vision = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%' AND tags.team = 'vision'", order_by=["name ASC"]
    )
    assert [e.experiment_id for e in vision] == [ids["a"], ids["c"]]

    exact = client.search_experiments(filter_string=f"name = '{prefix}-b'")
    assert [e.experiment_id for e in exact] == [ids["b"]]

    case_insensitive = client.search_experiments(
        filter_string=f"name ILIKE '{prefix.upper()}-%'", order_by=["name ASC"]
    )
    assert [e.experiment_id for e in case_insensitive] == [ids["a"], ids["b"], ids["c"]]

    # Newest first by creation time (they were created in the order b, a, c).
    newest_first = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["creation_time DESC", "name ASC"]
    )
    created = [e.creation_time for e in newest_first]
    assert created == sorted(created, reverse=True)
    assert {e.experiment_id for e in newest_first} == set(ids.values())


def test_search_paging(client):
    prefix = unique("exp-paging")
    created = [client.create_experiment(f"{prefix}-{index:02d}") for index in range(5)]

    def fetch(max_results, page_token):
        return client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name ASC"],
            max_results=max_results,
            page_token=page_token,
        )

    pages = collect_pages(fetch, page_size=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [e.experiment_id for page in pages for e in page] == created

    # An exactly full page carries a token; the page after it may be empty.
    pages = collect_pages(fetch, page_size=5)
    assert [e.experiment_id for page in pages for e in page] == created
    assert len(pages) in (1, 2)


def test_search_view_types(client):
    prefix = unique("exp-views")
    keep = client.create_experiment(f"{prefix}-keep")
    gone = client.create_experiment(f"{prefix}-gone")
    client.delete_experiment(gone)
    flt = f"name LIKE '{prefix}-%'"

    def ids(view_type):
        return {e.experiment_id for e in client.search_experiments(view_type=view_type,
                                                                    filter_string=flt)}

    assert ids(ViewType.ACTIVE_ONLY) == {keep}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {keep, gone}


def test_duplicate_name_is_rejected(client, new_experiment):
    _, name = new_experiment("exp-dup")
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)


def test_unknown_experiment_id(client):
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_experiment("987654321987")


@pytest.mark.parametrize("bad_max_results", [50_001, 1_000_000])
def test_search_experiments_max_results_limit(client, bad_max_results):
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_experiments(max_results=bad_max_results)
