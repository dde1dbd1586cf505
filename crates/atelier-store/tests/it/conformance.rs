//! One suite, two backends. `conformance!` expands every test once per backend.
//!
//! This file: workspaces, experiments, runs, batches, metrics and search, and the check that
//! both dialects migrate to one schema. The rest of the suite is in `conformance_registry.rs`,
//! `conformance_access.rs` and `conformance_assets.rs`.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_core::filter::{Comparison, OrderBy, parse_experiment_filter, parse_run_filter, parse_run_order_by};
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_core::series::Sample;
use atelier_store::{
    AccessStore, Batch, ExperimentQuery, ExperimentStats, GcStore, RunQuery, RunUpdate, SeriesRead, SqlStore,
    TrackingStore,
};
use std::collections::BTreeMap;

conformance!(
    workspaces_round_trip,
    experiment_ids_are_per_workspace,
    experiment_lifecycle_cascades_to_runs,
    run_update_and_rename,
    log_batch_is_all_or_nothing,
    latest_metric_is_highest_step_and_nan_round_trips,
    metric_history_pages_in_step_order,
    points_of_one_step_and_time_keep_the_order_they_were_logged_in,
    series_points_are_counted_and_read_after_a_mark,
    series_summaries_are_kept_newest_and_go_with_their_run,
    search_runs_filters_orders_and_pages,
    search_runs_by_a_metric_pages_through_values_missing_and_nan,
    search_runs_by_an_attribute_puts_runs_without_it_last,
    search_runs_never_mixes_workspaces,
    search_experiments_filters_and_orders,
    concurrent_writers_never_fail,
    dataset_inputs_are_deduplicated,
    regression_integer_then_fractional_bounds_on_one_connection,
    concurrent_requests_fail_alone,
    requests_one_at_a_time_are_checked_and_kept_as_grouped_ones,
    experiment_stats_count_active_runs,
);

async fn workspaces_round_trip(store: &SqlStore) {
    let name = with_workspace(store, "team-a").await;
    let workspace = store.get_workspace(&name).await.unwrap();
    assert_eq!(workspace.description, "");
    let duplicate = Workspace {
        name: name.clone(),
        description: String::new(),
        tags: BTreeMap::new(),
        created_at: 2,
        updated_at: 2,
    };
    assert_eq!(
        store.create_workspace(&duplicate, ARTIFACT_ROOT).await.unwrap_err().code,
        ErrorCode::ResourceAlreadyExists
    );
    let default_experiment = store.get_experiment(&name, DEFAULT_EXPERIMENT_ID).await.unwrap();
    assert_eq!(default_experiment.name, DEFAULT_EXPERIMENT_NAME);
    assert_eq!(default_experiment.artifact_location, "mlflow-artifacts:/0");
    let tags = BTreeMap::from([("team".to_owned(), "vision".to_owned())]);
    let updated = store.update_workspace(&name, Some("new"), Some(&tags), 5).await.unwrap();
    assert_eq!((updated.description.as_str(), updated.tags.clone(), updated.updated_at), ("new", tags, 5));
    assert_eq!(store.list_workspaces().await.unwrap().len(), 1);
    store.delete_workspace(&name).await.unwrap();
    assert_eq!(store.get_workspace(&name).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_experiment(&name, 0).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

async fn experiment_ids_are_per_workspace(store: &SqlStore) {
    let first = with_workspace(store, "first").await;
    let second = with_workspace(store, "second").await;
    let a = store.create_experiment(&first, "exp", ARTIFACT_ROOT, &[], 10).await.unwrap();
    let b = store.create_experiment(&second, "exp", ARTIFACT_ROOT, &[], 10).await.unwrap();
    assert_eq!((a, b), (1, 1));
    let c = store.create_experiment(&first, "other", ARTIFACT_ROOT, &[Tag::new("k", "v")], 11).await.unwrap();
    assert_eq!(c, 2);
    let error = store.create_experiment(&first, "exp", ARTIFACT_ROOT, &[], 12).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceAlreadyExists);
    let other = store.get_experiment_by_name(&first, "other").await.unwrap();
    assert_eq!(other.tags, vec![Tag::new("k", "v")]);
    assert_eq!(other.artifact_location, "mlflow-artifacts:/2");
    let error = store.rename_experiment(&first, 2, "exp", 13).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceAlreadyExists);
    store.rename_experiment(&first, 2, "renamed", 13).await.unwrap();
    assert_eq!(store.get_experiment(&first, 2).await.unwrap().name, "renamed");
    assert_eq!(
        store.get_experiment_by_name(&second, "renamed").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
}

async fn experiment_lifecycle_cascades_to_runs(store: &SqlStore) {
    let workspace = with_workspace(store, "life").await;
    let id = store.create_experiment(&workspace, "e", ARTIFACT_ROOT, &[], 1).await.unwrap();
    let info = run_info(&workspace, id, 1, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    store.set_experiment_stage(&workspace, id, LifecycleStage::Deleted, 2).await.unwrap();
    assert_eq!(store.get_run_info(&info.run_id).await.unwrap().lifecycle_stage, LifecycleStage::Deleted);
    let error = store.create_run(&run_info(&workspace, id, 2, "r2", 100), &[]).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
    let error = store.create_experiment(&workspace, "e", ARTIFACT_ROOT, &[], 3).await.unwrap_err();
    assert!(error.message.contains("deleted"), "{}", error.message);
    store.set_experiment_stage(&workspace, id, LifecycleStage::Active, 4).await.unwrap();
    assert_eq!(store.get_run_info(&info.run_id).await.unwrap().lifecycle_stage, LifecycleStage::Active);
}

async fn run_update_and_rename(store: &SqlStore) {
    let workspace = with_workspace(store, "runs").await;
    let info = run_info(&workspace, 0, 3, "first", 100);
    store.create_run(&info, &[Tag::new(RUN_NAME_TAG, "first")]).await.unwrap();
    let update = RunUpdate { status: Some(RunStatus::Finished), end_time: Some(200), run_name: Some("second".into()) };
    let updated = store.update_run(&info.run_id, &update).await.unwrap();
    assert_eq!(
        (updated.status, updated.end_time, updated.run_name.as_str()),
        (RunStatus::Finished, Some(200), "second")
    );
    let run = store.get_run(&info.run_id).await.unwrap();
    assert!(run.tags.contains(&Tag::new(RUN_NAME_TAG, "second")));
    store.set_run_stage(&info.run_id, LifecycleStage::Deleted, 300).await.unwrap();
    let batch = Batch { tags: vec![Tag::new("a", "b")], ..Batch::default() };
    let error = store.log_batch(&workspace, &info.run_id, batch.clone()).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
    assert!(error.message.contains("active"), "{}", error.message);
    let missing = RunId::from_random([0xee; 16]);
    assert_eq!(store.get_run(&missing).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

async fn log_batch_is_all_or_nothing(store: &SqlStore) {
    let workspace = with_workspace(store, "atomic").await;
    let info = run_info(&workspace, 0, 4, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    let other = with_workspace(store, "elsewhere").await;
    let error = store.log_batch(&other, &info.run_id, Batch::default()).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceDoesNotExist, "a run is not found through another workspace");
    let first = Batch { params: vec![Param { key: "lr".into(), value: "0.1".into() }], ..Batch::default() };
    store.log_batch(&workspace, &info.run_id, first.clone()).await.unwrap();
    // Logging the same value again is accepted.
    store.log_batch(&workspace, &info.run_id, first.clone()).await.unwrap();
    let conflicting = Batch {
        metrics: vec![metric("loss", 1.0, 0, 1)],
        params: vec![Param { key: "lr".into(), value: "0.2".into() }],
        tags: vec![Tag::new("t", "v")],
        new_run_name: Some("renamed".into()),
    };
    let error = store.log_batch(&workspace, &info.run_id, conflicting.clone()).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
    let run = store.get_run(&info.run_id).await.unwrap();
    assert!(run.metrics.is_empty(), "the batch's metric must not be written");
    assert!(run.tags.is_empty(), "the batch's tag must not be written");
    assert_eq!(run.info.run_name, "r");
    assert_eq!(run.params, vec![Param { key: "lr".into(), value: "0.1".into() }]);
}

async fn latest_metric_is_highest_step_and_nan_round_trips(store: &SqlStore) {
    let workspace = with_workspace(store, "latest").await;
    let info = run_info(&workspace, 0, 5, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    let batch = Batch {
        metrics: vec![
            metric("acc", 0.5, 5, 1000),
            metric("acc", 0.9, 10, 10),
            metric("acc", 0.1, 2, 5000),
            metric("n", f64::NAN, 0, 1),
        ],
        ..Batch::default()
    };
    store.log_batch(&workspace, &info.run_id, batch.clone()).await.unwrap();
    // A later batch with a lower step does not replace the latest value.
    store
        .log_batch(&workspace, &info.run_id, Batch { metrics: vec![metric("acc", 0.3, 3, 9000)], ..Batch::default() })
        .await
        .unwrap();
    let run = store.get_run(&info.run_id).await.unwrap();
    let acc = run.metrics.iter().find(|m| m.key == "acc").unwrap();
    assert_eq!((acc.value, acc.step), (0.9, 10));
    let nan = run.metrics.iter().find(|m| m.key == "n").unwrap();
    assert!(nan.value.is_nan());
    let history = store.get_metric_history(&info.run_id, "n", None, 0).await.unwrap();
    assert!(history[0].value.is_nan());
    let big =
        Batch { metrics: vec![metric("big", f64::MAX, 0, 1), metric("big", -f64::MAX, 1, 1)], ..Batch::default() };
    store.log_batch(&workspace, &info.run_id, big.clone()).await.unwrap();
    let values: Vec<f64> =
        store.get_metric_history(&info.run_id, "big", None, 0).await.unwrap().iter().map(|m| m.value).collect();
    assert_eq!(values, vec![f64::MAX, -f64::MAX]);
    // Values survive exactly, to the last bit.
    let exact = [0.1 + 0.2, 1e-300, -123456.78901234568, 2.0f64.powi(60) + 1.0];
    let points = exact.iter().enumerate().map(|(step, value)| metric("exact", *value, step as i64, 1)).collect();
    store.log_batch(&workspace, &info.run_id, Batch { metrics: points, ..Batch::default() }).await.unwrap();
    let stored: Vec<f64> =
        store.get_metric_history(&info.run_id, "exact", None, 0).await.unwrap().iter().map(|m| m.value).collect();
    assert_eq!(stored, exact);
    let latest = store.get_run(&info.run_id).await.unwrap().metrics.into_iter().find(|m| m.key == "exact").unwrap();
    assert_eq!(latest.value.to_bits(), exact[3].to_bits());
}

async fn metric_history_pages_in_step_order(store: &SqlStore) {
    let workspace = with_workspace(store, "history").await;
    let info = run_info(&workspace, 0, 6, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    let metrics: Vec<Metric> = (0..1000).rev().map(|step| metric("loss", step as f64, step, 1000 - step)).collect();
    store.log_batch(&workspace, &info.run_id, Batch { metrics, ..Batch::default() }).await.unwrap();
    let all = store.get_metric_history(&info.run_id, "loss", None, 0).await.unwrap();
    assert_eq!(all.len(), 1000);
    assert!(all.windows(2).all(|pair| pair[0].step < pair[1].step));
    let page = store.get_metric_history(&info.run_id, "loss", Some(300), 900).await.unwrap();
    assert_eq!(page.iter().map(|m| m.step).collect::<Vec<_>>(), (900..1000).collect::<Vec<_>>());
    assert!(store.get_metric_history(&info.run_id, "missing", None, 0).await.unwrap().is_empty());
}

/// Points that share a step and a timestamp read back in the order they were logged, whether
/// they created their series (the first batch) or joined it, and whichever run or key they
/// were logged with in the same batch.
async fn points_of_one_step_and_time_keep_the_order_they_were_logged_in(store: &SqlStore) {
    let workspace = with_workspace(store, "ties").await;
    let (a, b) = (run_info(&workspace, 0, 61, "a", 100), run_info(&workspace, 0, 62, "b", 100));
    store.create_run(&a, &[]).await.unwrap();
    store.create_run(&b, &[]).await.unwrap();
    let first = [3.0, 1.0, f64::NAN, 2.0];
    let batch = |values: &[f64]| Batch {
        metrics: values.iter().flat_map(|value| [metric("x", *value, 7, 9), metric("y", -*value, 7, 9)]).collect(),
        ..Batch::default()
    };
    store.log_batch(&workspace, &a.run_id, batch(&first)).await.unwrap();
    store.log_batch(&workspace, &b.run_id, batch(&[5.0])).await.unwrap();
    // The same series again, now known, concurrently with a new one: one group or several.
    let (again, other) = tokio::join!(
        store.log_batch(&workspace, &a.run_id, batch(&[0.5, 4.0])),
        store.log_batch(&workspace, &b.run_id, batch(&[6.0])),
    );
    again.unwrap();
    other.unwrap();
    let values = |history: Vec<Metric>| history.iter().map(|point| point.value.to_bits()).collect::<Vec<_>>();
    let expected: Vec<u64> = [3.0, 1.0, f64::NAN, 2.0, 0.5, 4.0].iter().map(|value| value.to_bits()).collect();
    assert_eq!(values(store.get_metric_history(&a.run_id, "x", None, 0).await.unwrap()), expected);
    let negated: Vec<u64> = [3.0, 1.0, f64::NAN, 2.0, 0.5, 4.0].iter().map(|value| (-value).to_bits()).collect();
    assert_eq!(values(store.get_metric_history(&a.run_id, "y", None, 0).await.unwrap()), negated);
    let b_values: Vec<u64> = [5.0, 6.0].iter().map(|value: &f64| value.to_bits()).collect();
    assert_eq!(values(store.get_metric_history(&b.run_id, "x", None, 0).await.unwrap()), b_values);
    // A new series longer than one insert (4,000 rows a statement) keeps its order too. On
    // PostgreSQL the inserts go to the database as one statement, whose parts must run in the
    // order they were given.
    let long: Vec<f64> = (0..9_000).map(f64::from).collect();
    let metrics = long.iter().map(|value| metric("z", *value, 1, 1)).collect();
    store.log_batch(&workspace, &b.run_id, Batch { metrics, ..Batch::default() }).await.unwrap();
    let long_values: Vec<u64> = long.iter().map(|value| value.to_bits()).collect();
    assert_eq!(values(store.get_metric_history(&b.run_id, "z", None, 0).await.unwrap()), long_values);
    // And as many again to the series, now known (on PostgreSQL, by the statement that checks
    // and writes at once), then a point of a new series alone (which that statement leaves to
    // the usual way).
    let metrics = long.iter().map(|value| metric("z", -*value, 1, 1)).collect();
    store.log_batch(&workspace, &b.run_id, Batch { metrics, ..Batch::default() }).await.unwrap();
    store
        .log_batch(&workspace, &b.run_id, Batch { metrics: vec![metric("w", 1.0, 1, 1)], ..Batch::default() })
        .await
        .unwrap();
    store.log_batch(&workspace, &b.run_id, batch(&[8.0])).await.unwrap();
    let both: Vec<u64> = long
        .iter()
        .chain(long.iter())
        .enumerate()
        .map(|(index, value)| if index < long.len() { value.to_bits() } else { (-value).to_bits() })
        .collect();
    assert_eq!(values(store.get_metric_history(&b.run_id, "z", None, 0).await.unwrap()), both);
    let run = store.get_run(&b.run_id).await.unwrap();
    let latest = |key: &str| run.metrics.iter().find(|metric| metric.key == key).map(|metric| metric.value);
    assert_eq!((latest("z"), latest("w"), latest("x")), (Some(8_999.0), Some(1.0), Some(8.0)));
}

async fn series_points_are_counted_and_read_after_a_mark(store: &SqlStore) {
    let workspace = with_workspace(store, "series").await;
    let info = run_info(&workspace, 0, 7, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    assert_eq!(store.metric_points(&info.run_id, "loss").await.unwrap(), None);
    assert_eq!(store.series_extent(&info.run_id, "loss").await.unwrap(), None);
    assert_eq!(store.metric_points_after(&info.run_id, "loss", 0, None, 1_000).await.unwrap(), SeriesRead::default());

    // Steps 100..200 in reverse, then a second batch that adds a late point at step 5 (not the
    // latest) and later points: the count moves with every point, the latest only forward.
    let first: Vec<Metric> = (100..200).rev().map(|step| metric("loss", step as f64, step, 1_000 + step)).collect();
    store.log_batch(&workspace, &info.run_id, Batch { metrics: first, ..Batch::default() }).await.unwrap();
    let read = store.metric_points_after(&info.run_id, "loss", 0, None, 1_000).await.unwrap();
    assert_eq!(read.total, 100);
    assert_eq!(read.samples.len(), 100);
    assert_eq!(read.samples.iter().map(|sample| sample.step).collect::<Vec<_>>(), (100..200).collect::<Vec<_>>());
    assert!(read.last_mark > 0);
    // The extent's mark is at least every point's: nothing is read after it, and a summary kept
    // with it is extended by exactly the points written later.
    let (points, mark) = store.series_extent(&info.run_id, "loss").await.unwrap().unwrap();
    assert_eq!(points, 100);
    assert!(mark >= read.last_mark, "mark {mark} below the last point's {}", read.last_mark);
    let after_mark = store.metric_points_after(&info.run_id, "loss", mark, None, 1_000).await.unwrap();
    assert_eq!((after_mark.total, after_mark.samples.len()), (100, 0));

    let mut second = vec![metric("loss", -1.0, 5, 1), metric("loss", f64::NAN, 250, 3_000)];
    second.extend((200..210).map(|step| metric("loss", step as f64, step, 2_000 + step)));
    store.log_batch(&workspace, &info.run_id, Batch { metrics: second, ..Batch::default() }).await.unwrap();
    assert_eq!(store.metric_points(&info.run_id, "loss").await.unwrap(), Some(112));
    assert_eq!(store.metric_points_after(&info.run_id, "loss", mark, None, 1_000).await.unwrap().samples.len(), 12);
    let since = store.metric_points_after(&info.run_id, "loss", read.last_mark, None, 1_000).await.unwrap();
    assert_eq!(since.total, 112);
    assert_eq!(since.samples.len(), 12, "only the points written after the mark");
    assert_eq!(since.samples[0], Sample { step: 5, timestamp: 1, value: -1.0 });
    assert!(since.samples[11].value.is_nan());
    let latest = store.get_run(&info.run_id).await.unwrap().metrics;
    assert_eq!(latest.iter().find(|metric| metric.key == "loss").map(|metric| metric.step), Some(250));
    let nothing = store.metric_points_after(&info.run_id, "loss", since.last_mark, None, 1_000).await.unwrap();
    assert_eq!((nothing.total, nothing.samples.len(), nothing.last_mark), (112, 0, 0));
    // Page by page, in series order: pages of 50 meet every point once, the last page not full.
    let mut steps = Vec::new();
    let mut from = None;
    let mut pages = 0;
    loop {
        let page = store.metric_points_after(&info.run_id, "loss", 0, from, 50).await.unwrap();
        pages += 1;
        steps.extend(page.samples.iter().map(|sample| sample.step));
        match page.next {
            Some(next) => from = Some(next),
            None => {
                assert_eq!(page.total, 112);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<i64> = vec![5];
    expected.extend(100..210);
    expected.push(250);
    assert_eq!(steps, expected);

    let window = store.metric_points_between(&info.run_id, "loss", 150, 204).await.unwrap();
    assert_eq!(window.iter().map(|sample| sample.step).collect::<Vec<_>>(), (150..205).collect::<Vec<_>>());
    assert_eq!(window[0].timestamp, 1_150);
    assert!(store.metric_points_between(&info.run_id, "loss", 300, 400).await.unwrap().is_empty());

    // Counted together: only the series past the bound come back, keys of any spelling.
    let odd = "it's \"odd\" ünïcode \\ and\ta tab";
    let short = vec![metric(odd, 1.0, 0, 1), metric(odd, 2.0, 1, 1)];
    store.log_batch(&workspace, &info.run_id, Batch { metrics: short, ..Batch::default() }).await.unwrap();
    let other = run_info(&workspace, 0, 8, "other", 100).run_id;
    let asked: Vec<(RunId, String)> =
        [(&info.run_id, "loss"), (&info.run_id, odd), (&info.run_id, "none"), (&other, "loss")]
            .map(|(run_id, key)| (run_id.clone(), key.to_owned()))
            .into();
    assert_eq!(store.long_series(&asked, 111).await.unwrap(), [(info.run_id.clone(), "loss".to_owned())]);
    let mut both = store.long_series(&asked, 1).await.unwrap();
    both.sort();
    assert_eq!(both, [(info.run_id.clone(), odd.to_owned()), (info.run_id.clone(), "loss".to_owned())]);
    assert!(store.long_series(&asked, 112).await.unwrap().is_empty());
    assert!(store.long_series(&[], 0).await.unwrap().is_empty());
}

fn filter(text: &str) -> Vec<Comparison> {
    parse_run_filter(text).unwrap()
}

async fn search(
    store: &SqlStore,
    workspace: &WorkspaceName,
    filter: &[Comparison],
    order: &[OrderBy],
    limit: i64,
    offset: i64,
) -> Vec<String> {
    let query = RunQuery {
        workspace,
        experiment_ids: &[0],
        filter,
        view: ViewType::ActiveOnly,
        order_by: order,
        limit,
        offset,
    };
    store.search_runs(&query).await.unwrap().into_iter().map(|run| run.info.run_name).collect()
}

async fn search_runs_filters_orders_and_pages(store: &SqlStore) {
    let workspace = with_workspace(store, "search").await;
    for (index, (name, acc, lr, team)) in [
        ("a", Some(0.9), "0.01", "Vision"),
        ("b", Some(0.5), "0.1", "nlp"),
        ("c", None, "0.01", "vision"),
        ("d", Some(0.7), "1", ""),
    ]
    .into_iter()
    .enumerate()
    {
        let info = run_info(&workspace, 0, 10 + index as u8, name, 1000 + index as i64);
        store.create_run(&info, &[]).await.unwrap();
        let mut batch = Batch { params: vec![Param { key: "lr".into(), value: lr.into() }], ..Batch::default() };
        if let Some(acc) = acc {
            batch.metrics.push(metric("acc", acc, 0, 1));
        }
        if !team.is_empty() {
            batch.tags.push(Tag::new("team", team));
        }
        store.log_batch(&workspace, &info.run_id, batch.clone()).await.unwrap();
    }
    // Default order: newest start first.
    assert_eq!(search(store, &workspace, &[], &[], 100, 0).await, ["d", "c", "b", "a"]);
    assert_eq!(search(store, &workspace, &filter("metrics.acc > 0.6"), &[], 100, 0).await, ["d", "a"]);
    assert_eq!(search(store, &workspace, &filter("params.lr = '0.01'"), &[], 100, 0).await, ["c", "a"]);
    assert_eq!(search(store, &workspace, &filter("tags.team LIKE 'v%'"), &[], 100, 0).await, ["c"]);
    assert_eq!(search(store, &workspace, &filter("tags.team ILIKE 'v%'"), &[], 100, 0).await, ["c", "a"]);
    assert_eq!(search(store, &workspace, &filter("tags.team IS NULL"), &[], 100, 0).await, ["d"]);
    assert_eq!(
        search(store, &workspace, &filter("params.lr = '0.01' and metrics.acc >= 0.9"), &[], 100, 0).await,
        ["a"]
    );
    assert_eq!(search(store, &workspace, &filter("attributes.start_time >= 1002"), &[], 100, 0).await, ["d", "c"]);
    assert_eq!(search(store, &workspace, &filter("attributes.status = 'RUNNING'"), &[], 100, 0).await.len(), 4);
    let by_acc = [parse_run_order_by("metrics.acc DESC").unwrap()];
    assert_eq!(search(store, &workspace, &[], &by_acc, 100, 0).await, ["a", "d", "b", "c"]);
    let by_acc_ascending = [parse_run_order_by("metrics.acc").unwrap()];
    assert_eq!(search(store, &workspace, &[], &by_acc_ascending, 100, 0).await, ["b", "d", "a", "c"]);
    let by_name = [parse_run_order_by("attributes.run_name ASC").unwrap()];
    assert_eq!(search(store, &workspace, &[], &by_name, 2, 0).await, ["a", "b"]);
    assert_eq!(search(store, &workspace, &[], &by_name, 2, 2).await, ["c", "d"]);
    assert!(search(store, &workspace, &[], &by_name, 2, 4).await.is_empty());
}

/// A search of one experiment ordered by one metric runs in phases (the runs with a value, by
/// value; those without the metric; those whose latest value is NaN), and its pages must cut
/// through them exactly as one sorted list would, wherever a page starts.
async fn search_runs_by_a_metric_pages_through_values_missing_and_nan(store: &SqlStore) {
    let workspace = with_workspace(store, "by-metric").await;
    let runs: [(&str, Option<f64>, &str); 8] = [
        ("v3", Some(0.3), "a"),
        ("n1", Some(f64::NAN), "a"),
        ("m1", None, "a"),
        ("v8", Some(0.8), "b"),
        ("m2", None, "b"),
        ("n2", Some(f64::NAN), "b"),
        ("v5", Some(0.5), "a"),
        ("v5b", Some(0.5), "b"),
    ];
    for (index, (name, value, group)) in runs.into_iter().enumerate() {
        let info = run_info(&workspace, 0, 40 + index as u8, name, 2000 + index as i64);
        store.create_run(&info, &[]).await.unwrap();
        let mut batch = Batch { params: vec![Param { key: "group".into(), value: group.into() }], ..Batch::default() };
        if let Some(value) = value {
            // An older, larger point first: the latest point is the one that counts.
            batch.metrics.push(metric("score", 99.0, 0, 1));
            batch.metrics.push(metric("score", value, 1, 1));
        }
        store.log_batch(&workspace, &info.run_id, batch).await.unwrap();
    }
    // Ties on value go newest first; runs without the metric come next, NaN last, each newest first.
    let descending = [parse_run_order_by("metrics.score DESC").unwrap()];
    let expected = ["v8", "v5b", "v5", "v3", "m2", "m1", "n2", "n1"];
    assert_eq!(search(store, &workspace, &[], &descending, 100, 0).await, expected);
    for size in 1..=3 {
        let mut pages = Vec::new();
        for offset in (0..10).step_by(size) {
            pages.extend(search(store, &workspace, &[], &descending, size as i64, offset as i64).await);
        }
        assert_eq!(pages, expected, "pages of {size}");
    }
    assert_eq!(search(store, &workspace, &[], &descending, 2, 5).await, ["m1", "n2"]);
    assert!(search(store, &workspace, &[], &descending, 5, 8).await.is_empty());
    let ascending = [parse_run_order_by("metrics.score ASC").unwrap()];
    assert_eq!(
        search(store, &workspace, &[], &ascending, 100, 0).await,
        ["v3", "v5b", "v5", "v8", "m2", "m1", "n2", "n1"]
    );
    let group_b = filter("params.group = 'b'");
    assert_eq!(search(store, &workspace, &group_b, &descending, 100, 0).await, ["v8", "v5b", "m2", "n2"]);
    assert_eq!(search(store, &workspace, &group_b, &descending, 1, 3).await, ["n2"]);
    let above = filter("metrics.score > 0.4");
    assert_eq!(search(store, &workspace, &above, &ascending, 100, 0).await, ["v5b", "v5", "v8"]);
    assert_eq!(search(store, &workspace, &above, &ascending, 2, 1).await, ["v5", "v8"]);
    let mixed = filter("metrics.score < 0.6 and params.group = 'a'");
    assert_eq!(search(store, &workspace, &mixed, &descending, 100, 0).await, ["v5", "v3"]);
    // A comparison of the ordering metric bounds the walk itself: the same runs as a check of
    // each run's latest value, never a run without the metric or with NaN.
    let not_half = filter("metrics.score != 0.5");
    assert_eq!(search(store, &workspace, &not_half, &descending, 100, 0).await, ["v8", "v3"]);
    let half_in_b = filter("metrics.score = 0.5 and params.group = 'b'");
    assert_eq!(search(store, &workspace, &half_in_b, &ascending, 100, 0).await, ["v5b"]);
    let at_most_half = filter("metrics.score <= 0.5");
    assert_eq!(search(store, &workspace, &at_most_half, &descending, 2, 1).await, ["v5", "v3"]);
}

/// A search ordered by one attribute runs in two phases (runs with the attribute, by it; then
/// runs without it), and its pages cut through them as one sorted list would.
async fn search_runs_by_an_attribute_puts_runs_without_it_last(store: &SqlStore) {
    let workspace = with_workspace(store, "by-attribute").await;
    for (index, (name, start)) in
        [("t10", Some(10)), ("none", None), ("t30", Some(30)), ("t20", Some(20))].into_iter().enumerate()
    {
        let mut info = run_info(&workspace, 0, 60 + index as u8, name, 0);
        info.start_time = start;
        store.create_run(&info, &[]).await.unwrap();
    }
    let newest = [parse_run_order_by("attributes.start_time DESC").unwrap()];
    let oldest = [parse_run_order_by("attributes.start_time ASC").unwrap()];
    assert_eq!(search(store, &workspace, &[], &newest, 100, 0).await, ["t30", "t20", "t10", "none"]);
    assert_eq!(search(store, &workspace, &[], &oldest, 100, 0).await, ["t10", "t20", "t30", "none"]);
    let mut pages = Vec::new();
    for offset in 0..5 {
        pages.extend(search(store, &workspace, &[], &oldest, 1, offset).await);
    }
    assert_eq!(pages, ["t10", "t20", "t30", "none"]);
    assert_eq!(search(store, &workspace, &[], &newest, 3, 2).await, ["t10", "none"]);
    let by_name = [parse_run_order_by("attributes.run_name DESC").unwrap()];
    assert_eq!(search(store, &workspace, &[], &by_name, 2, 1).await, ["t20", "t10"]);
}

async fn search_runs_never_mixes_workspaces(store: &SqlStore) {
    let first = with_workspace(store, "one").await;
    let second = with_workspace(store, "two").await;
    store.create_run(&run_info(&first, 0, 20, "mine", 1), &[]).await.unwrap();
    store.create_run(&run_info(&second, 0, 21, "theirs", 1), &[]).await.unwrap();
    assert_eq!(search(store, &first, &[], &[], 100, 0).await, ["mine"]);
    assert_eq!(search(store, &second, &[], &[], 100, 0).await, ["theirs"]);
}

async fn experiments(
    store: &SqlStore,
    workspace: &WorkspaceName,
    filter_text: &str,
    view: ViewType,
    order: Vec<OrderBy>,
) -> Vec<String> {
    let filter = parse_experiment_filter(filter_text).unwrap();
    let query = ExperimentQuery { workspace, filter: &filter, view, order_by: &order, limit: 100, offset: 0 };
    store.search_experiments(&query).await.unwrap().into_iter().map(|e| e.name).collect()
}

async fn search_experiments_filters_and_orders(store: &SqlStore) {
    let workspace = with_workspace(store, "experiments").await;
    store.create_experiment(&workspace, "alpha", ARTIFACT_ROOT, &[Tag::new("owner", "ann")], 10).await.unwrap();
    store.create_experiment(&workspace, "beta", ARTIFACT_ROOT, &[], 20).await.unwrap();
    let id = store.create_experiment(&workspace, "gamma", ARTIFACT_ROOT, &[], 30).await.unwrap();
    store.set_experiment_stage(&workspace, id, LifecycleStage::Deleted, 40).await.unwrap();
    assert_eq!(experiments(store, &workspace, "", ViewType::ActiveOnly, vec![]).await, ["beta", "alpha", "Default"]);
    assert_eq!(experiments(store, &workspace, "", ViewType::DeletedOnly, vec![]).await, ["gamma"]);
    assert_eq!(experiments(store, &workspace, "", ViewType::All, vec![]).await.len(), 4);
    assert_eq!(
        experiments(store, &workspace, "name LIKE '%a'", ViewType::All, vec![]).await,
        ["gamma", "beta", "alpha"]
    );
    assert_eq!(experiments(store, &workspace, "tags.owner = 'ann'", ViewType::ActiveOnly, vec![]).await, ["alpha"]);
    let by_name = vec![atelier_core::filter::parse_experiment_order_by("name ASC").unwrap()];
    assert_eq!(experiments(store, &workspace, "", ViewType::ActiveOnly, by_name).await, ["Default", "alpha", "beta"]);
}

async fn concurrent_writers_never_fail(store: &SqlStore) {
    let workspace = with_workspace(store, "busy").await;
    let mut run_ids = Vec::new();
    for index in 0..4u8 {
        let info = run_info(&workspace, 0, 40 + index, "r", 1);
        store.create_run(&info, &[]).await.unwrap();
        run_ids.push(info.run_id);
    }
    let mut tasks = Vec::new();
    for writer in 0..16usize {
        let store = store.clone();
        let run_id = run_ids[writer % run_ids.len()].clone();
        let workspace = workspace.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..25i64 {
                let metrics =
                    (0..20).map(|i| metric(&format!("m{}", i % 3), i as f64, round * 100 + i, round)).collect();
                let tags = vec![Tag::new(format!("writer{writer}"), round.to_string())];
                store.log_batch(&workspace, &run_id, Batch { metrics, tags, ..Batch::default() }).await?;
            }
            Ok::<_, atelier_core::Error>(())
        }));
    }
    // Other writes (on SQLite, another connection than the batch writer's) go on meanwhile, and
    // neither kind waits the other out.
    for creator in 0..4u8 {
        let store = store.clone();
        let workspace = workspace.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10u8 {
                let info = run_info(&workspace, 0, 100 + creator * 10 + round, "created", 2);
                store.create_run(&info, &[]).await?;
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let created = search(store, &workspace, &filter("attributes.run_name = 'created'"), &[], 1000, 0).await;
    assert_eq!(created.len(), 40, "every run created meanwhile is stored");
    let mut total = 0;
    for run_id in &run_ids {
        for key in ["m0", "m1", "m2"] {
            total += store.get_metric_history(run_id, key, None, 0).await.unwrap().len();
        }
    }
    assert_eq!(total, 16 * 25 * 20, "every acknowledged metric is stored");
}

async fn dataset_inputs_are_deduplicated(store: &SqlStore) {
    let workspace = with_workspace(store, "data").await;
    let info = run_info(&workspace, 0, 50, "r", 1);
    store.create_run(&info, &[]).await.unwrap();
    let input = DatasetInput {
        tags: vec![Tag::new("mlflow.data.context", "training")],
        dataset: Dataset {
            name: "iris".into(),
            digest: "abc123".into(),
            source_type: "local".into(),
            source: "{}".into(),
            schema: Some("{\"cols\": 4}".into()),
            profile: None,
        },
    };
    store.log_inputs(&info.run_id, std::slice::from_ref(&input)).await.unwrap();
    store.log_inputs(&info.run_id, std::slice::from_ref(&input)).await.unwrap();
    let run = store.get_run(&info.run_id).await.unwrap();
    assert_eq!(run.inputs, vec![input]);
    assert_eq!(search(store, &workspace, &filter("datasets.name = 'iris'"), &[], 10, 0).await, ["r"]);
    assert_eq!(search(store, &workspace, &filter("datasets.context = 'training'"), &[], 10, 0).await, ["r"]);
    assert!(search(store, &workspace, &filter("datasets.digest = 'other'"), &[], 10, 0).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_dialects_migrate_to_the_same_logical_schema() {
    let Some(postgres) = crate::common::postgres().await else { return };
    let sqlite = crate::common::sqlite().await.unwrap();
    let sqlite_columns = sqlite.table_columns().await.unwrap();
    assert!(sqlite_columns.len() > 50, "{sqlite_columns:?}");
    assert_eq!(sqlite_columns, postgres.table_columns().await.unwrap());
}

/// PostgreSQL fixes a prepared statement's parameter types when it first runs; a filter bound as
/// an integer (`> 0`) once and as a float (`> 0.7`) later used to return nothing on a reused
/// connection.
async fn regression_integer_then_fractional_bounds_on_one_connection(store: &SqlStore) {
    let workspace = with_workspace(store, "bounds").await;
    for (index, acc) in [0.5, 0.9].into_iter().enumerate() {
        let info = run_info(&workspace, 0, 70 + index as u8, &format!("r{index}"), 10 + index as i64);
        store.create_run(&info, &[]).await.unwrap();
        store
            .log_batch(&workspace, &info.run_id, Batch { metrics: vec![metric("acc", acc, 0, 1)], ..Batch::default() })
            .await
            .unwrap();
    }
    for _ in 0..20 {
        assert_eq!(search(store, &workspace, &filter("metrics.acc > 0"), &[], 10, 0).await.len(), 2);
        assert_eq!(search(store, &workspace, &filter("metrics.acc > 0.7"), &[], 10, 0).await, ["r1"]);
        assert_eq!(search(store, &workspace, &filter("attributes.start_time > 10"), &[], 10, 0).await, ["r1"]);
        assert_eq!(search(store, &workspace, &filter("attributes.start_time > 9.5"), &[], 10, 0).await, ["r1", "r0"]);
        assert_eq!(search(store, &workspace, &filter("attributes.start_time >= 10.5"), &[], 10, 0).await, ["r1"]);
        assert!(search(store, &workspace, &filter("attributes.start_time = 10.5"), &[], 10, 0).await.is_empty());
    }
}

/// Concurrent `log_batch` requests are written in shared transactions; a request that fails its
/// checks fails alone and writes nothing, and two requests that set one param to different
/// values cannot both succeed.
async fn concurrent_requests_fail_alone(store: &SqlStore) {
    let workspace = with_workspace(store, "groups").await;
    let other = with_workspace(store, "group-other").await;
    let live = run_info(&workspace, 0, 80, "live", 1);
    let deleted = run_info(&workspace, 0, 81, "deleted", 1);
    let foreign = run_info(&other, 0, 82, "foreign", 1);
    for info in [&live, &deleted, &foreign] {
        store.create_run(info, &[]).await.unwrap();
    }
    store.set_run_stage(&deleted.run_id, LifecycleStage::Deleted, 2).await.unwrap();
    let mut tasks = Vec::new();
    for request in 0..30i64 {
        let store = store.clone();
        let workspace = workspace.clone();
        let (run_id, batch, kind) = match request % 5 {
            0 => (
                deleted.run_id.clone(),
                Batch { metrics: vec![metric("m", 1.0, request, 1)], ..Batch::default() },
                "deleted",
            ),
            1 => (
                foreign.run_id.clone(),
                Batch { metrics: vec![metric("m", 1.0, request, 1)], ..Batch::default() },
                "foreign",
            ),
            2 => (
                live.run_id.clone(),
                Batch {
                    metrics: vec![metric("m", 1.0, request, 1)],
                    params: vec![Param { key: "p".into(), value: request.to_string() }],
                    ..Batch::default()
                },
                "param",
            ),
            _ => {
                (live.run_id.clone(), Batch { metrics: vec![metric("m", 1.0, request, 1)], ..Batch::default() }, "good")
            }
        };
        tasks.push(tokio::spawn(async move { (kind, store.log_batch(&workspace, &run_id, batch.clone()).await) }));
    }
    let mut param_successes = 0;
    let mut good_successes = 0;
    for task in tasks {
        let (kind, outcome) = task.await.unwrap();
        match kind {
            "deleted" => assert_eq!(outcome.unwrap_err().code, ErrorCode::InvalidParameterValue),
            "foreign" => assert_eq!(outcome.unwrap_err().code, ErrorCode::ResourceDoesNotExist),
            "param" => match outcome {
                Ok(()) => param_successes += 1,
                Err(error) => assert_eq!(error.code, ErrorCode::InvalidParameterValue),
            },
            _ => {
                outcome.unwrap();
                good_successes += 1;
            }
        }
    }
    assert_eq!((param_successes, good_successes), (1, 12));
    let stored = store.get_metric_history(&live.run_id, "m", None, 0).await.unwrap().len();
    assert_eq!(stored, 13, "the good requests and the one accepted param request wrote their metric");
    assert!(store.get_metric_history(&deleted.run_id, "m", None, 0).await.unwrap().is_empty());
    assert!(store.get_metric_history(&foreign.run_id, "m", None, 0).await.unwrap().is_empty());
}

/// One client's loop: requests that come one at a time (which, on SQLite, write themselves on
/// their own task once a run of them has come alone) are checked, refused and kept exactly as
/// grouped ones, and a group of concurrent ones in between changes nothing.
async fn requests_one_at_a_time_are_checked_and_kept_as_grouped_ones(store: &SqlStore) {
    let workspace = with_workspace(store, "lone").await;
    let live = run_info(&workspace, 0, 83, "live", 1);
    let deleted = run_info(&workspace, 0, 84, "deleted", 1);
    for info in [&live, &deleted] {
        store.create_run(info, &[]).await.unwrap();
    }
    store.set_run_stage(&deleted.run_id, LifecycleStage::Deleted, 2).await.unwrap();
    let one = |step: i64| Batch { metrics: vec![metric("m", step as f64, step, 1)], ..Batch::default() };
    for step in 0..40 {
        store.log_batch(&workspace, &live.run_id, one(step)).await.unwrap();
    }
    let param =
        |value: &str| Batch { params: vec![Param { key: "p".into(), value: value.into() }], ..Batch::default() };
    store.log_batch(&workspace, &live.run_id, param("a")).await.unwrap();
    let changed = store.log_batch(&workspace, &live.run_id, param("b")).await.unwrap_err();
    assert_eq!(changed.code, ErrorCode::InvalidParameterValue);
    let refused = store.log_batch(&workspace, &deleted.run_id, one(0)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    let together: Vec<_> = (40..48)
        .map(|step| {
            let (store, workspace, run_id) = (store.clone(), workspace.clone(), live.run_id.clone());
            tokio::spawn(async move { store.log_batch(&workspace, &run_id, one(step)).await })
        })
        .collect();
    for task in together {
        task.await.unwrap().unwrap();
    }
    for step in 48..60 {
        store.log_batch(&workspace, &live.run_id, one(step)).await.unwrap();
    }
    let history = store.get_metric_history(&live.run_id, "m", None, 0).await.unwrap();
    let steps: Vec<i64> = history.iter().map(|point| point.step).collect();
    assert_eq!(steps, (0..60).collect::<Vec<_>>(), "every acknowledged point is stored, once");
    assert!(store.get_metric_history(&deleted.run_id, "m", None, 0).await.unwrap().is_empty());
    // A run whose series exists is still checked: named from another workspace, then deleted.
    let other = with_workspace(store, "lone-other").await;
    let foreign = store.log_batch(&other, &live.run_id, one(60)).await.unwrap_err();
    assert_eq!(foreign.code, ErrorCode::ResourceDoesNotExist);
    store.set_run_stage(&live.run_id, LifecycleStage::Deleted, 3).await.unwrap();
    let refused = store.log_batch(&workspace, &live.run_id, one(61)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    assert_eq!(
        store.get_metric_history(&live.run_id, "m", None, 0).await.unwrap().len(),
        60,
        "nothing refused was written"
    );
}

async fn experiment_stats_count_active_runs(store: &SqlStore) {
    let workspace = with_workspace(store, "stats").await;
    let id = store.create_experiment(&workspace, "e", ARTIFACT_ROOT, &[], 1).await.unwrap();
    store.create_run(&run_info(&workspace, id, 90, "a", 100), &[]).await.unwrap();
    store.create_run(&run_info(&workspace, id, 91, "b", 300), &[]).await.unwrap();
    let deleted = run_info(&workspace, id, 92, "c", 500);
    store.create_run(&deleted, &[]).await.unwrap();
    store.set_run_stage(&deleted.run_id, LifecycleStage::Deleted, 600).await.unwrap();
    let stats = store.experiment_stats(&workspace).await.unwrap();
    assert_eq!(stats, vec![ExperimentStats { experiment_id: id, runs: 2, last_run_start: Some(300) }]);
}

/// A group of requests that the database refuses mid-write (here a trigger refuses one metric
/// key) leaves nothing behind: the group is rolled back, each request is retried alone, so only
/// the refused one fails, and the writer's connection comes back with no transaction open.
async fn a_write_the_database_refuses_is_rolled_back_and_the_rest_retried_alone(test: Option<TestStore>) {
    let Some(test) = test else { return };
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let triggers: &[&str] = if test.url.starts_with("postgres") {
        &[
            "CREATE FUNCTION refuse_metric() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse_metric BEFORE INSERT ON metric_series FOR EACH ROW \
             WHEN (NEW.key = 'refused') EXECUTE FUNCTION refuse_metric()",
        ]
    } else {
        &["CREATE TRIGGER refuse_metric BEFORE INSERT ON metric_series WHEN NEW.key = 'refused' \
           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"]
    };
    for sql in triggers {
        sqlx::query(*sql).execute(&mut connection).await.unwrap();
    }
    let store = &test.store;
    let workspace = with_workspace(store, "refused").await;
    let info = run_info(&workspace, 0, 11, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    let accepted = Batch {
        metrics: vec![metric("ok", 1.0, 0, 1)],
        params: vec![Param { key: "p".into(), value: "1".into() }],
        tags: vec![Tag::new("a", "1")],
        new_run_name: Some("renamed".into()),
    };
    let refused = Batch {
        metrics: vec![metric("refused", 2.0, 0, 1)],
        params: vec![Param { key: "q".into(), value: "2".into() }],
        tags: vec![Tag::new("b", "2")],
        new_run_name: None,
    };
    // Sent together, so that the writer may take them as one group.
    let (first, second) = tokio::join!(
        store.log_batch(&workspace, &info.run_id, accepted),
        store.log_batch(&workspace, &info.run_id, refused)
    );
    first.unwrap();
    let error = second.unwrap_err();
    assert!(error.message.contains("refused by the test"), "{}", error.message);
    let run = store.get_run(&info.run_id).await.unwrap();
    assert_eq!(run.params, vec![Param { key: "p".into(), value: "1".into() }]);
    assert_eq!(run.tags.iter().map(|tag| tag.key.as_str()).collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(run.metrics.iter().map(|metric| metric.key.as_str()).collect::<Vec<_>>(), vec!["ok"]);
    assert_eq!(run.info.run_name, "renamed");
    // The refused request alone, and then a good one: the writer's connection is usable and no
    // transaction stayed open on it (another connection sees what was committed, and only that).
    store
        .log_batch(&workspace, &info.run_id, Batch { metrics: vec![metric("refused", 3.0, 1, 2)], ..Batch::default() })
        .await
        .unwrap_err();
    store
        .log_batch(&workspace, &info.run_id, Batch { metrics: vec![metric("ok", 4.0, 1, 2)], ..Batch::default() })
        .await
        .unwrap();
    let (points,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM metric_points").fetch_one(&mut connection).await.unwrap();
    assert_eq!(points, 2);
}

#[tokio::test]
async fn sqlite_rolls_back_a_refused_write() {
    a_write_the_database_refuses_is_rolled_back_and_the_rest_retried_alone(sqlite().await).await;
}

#[tokio::test]
async fn postgres_rolls_back_a_refused_write() {
    a_write_the_database_refuses_is_rolled_back_and_the_rest_retried_alone(postgres().await).await;
}

async fn series_summaries_are_kept_newest_and_go_with_their_run(store: &SqlStore) {
    use atelier_core::series::SeriesSummary;
    let workspace = with_workspace(store, "summaries").await;
    let info = run_info(&workspace, 0, 12, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    assert!(store.series_summary(&info.run_id, "loss").await.unwrap().is_none());
    let samples = |count: i64| -> Vec<Sample> {
        (0..count)
            .map(|step| Sample { step, timestamp: step, value: if step == 7 { f64::NAN } else { step as f64 } })
            .collect()
    };
    let older = SeriesSummary::build(&samples(1_000));
    let newer = SeriesSummary::build(&samples(2_000));
    store.put_series_summary(&info.run_id, "loss", &older, 1_000).await.unwrap();
    store.put_series_summary(&info.run_id, "loss", &newer, 2_000).await.unwrap();
    // A summary that has seen fewer points (a slower view) does not replace a newer one.
    store.put_series_summary(&info.run_id, "loss", &older, 1_000).await.unwrap();
    let (kept, mark) = store.series_summary(&info.run_id, "loss").await.unwrap().unwrap();
    assert_eq!((kept.to_bytes(), mark), (newer.to_bytes(), 2_000), "kept bit for bit, NaN included");
    // Points, not marks, tell which is newer: a summary of more points with a lower mark (ids
    // reused after a purge, a sequence drawn out of commit order) replaces the kept one.
    let newest = SeriesSummary::build(&samples(2_500));
    store.put_series_summary(&info.run_id, "loss", &newest, 1_500).await.unwrap();
    let (kept, mark) = store.series_summary(&info.run_id, "loss").await.unwrap().unwrap();
    assert_eq!((kept.points(), mark), (2_500, 1_500));
    store.put_series_summary(&info.run_id, "loss", &newer, 3_000).await.unwrap();
    assert_eq!(store.series_summary(&info.run_id, "loss").await.unwrap().unwrap().0.points(), 2_500);
    assert!(store.series_summary(&info.run_id, "acc").await.unwrap().is_none(), "kept per key");
    // Purging the run takes its summaries with it.
    store.set_run_stage(&info.run_id, LifecycleStage::Deleted, 200).await.unwrap();
    store.purge_run(&info.run_id).await.unwrap();
    assert!(store.series_summary(&info.run_id, "loss").await.unwrap().is_none());
}
