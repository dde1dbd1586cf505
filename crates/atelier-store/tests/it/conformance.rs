//! One suite, two backends. `conformance!` expands every test once per backend.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_core::authz::Role;
use atelier_core::data::DataAsset;
use atelier_core::endpoint::{AuthMode, Deployment, Endpoint, ProvisioningState};
use atelier_core::filter::{Comparison, OrderBy, parse_experiment_filter, parse_run_filter, parse_run_order_by};
use atelier_core::job::{Job, JobEvent, JobStatus, ResourceRequest};
use atelier_core::model::*;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::registry::{ModelVersion, RegisteredModel};
use atelier_core::series::Sample;
use atelier_store::{
    AccessStore, AssetStore, Batch, EndpointStore, ExperimentQuery, ExperimentStats, GcStore, JobQuery, JobStore,
    JobTransition, LoggedModelQuery, LoggedModelStore, RegistryQuery, RegistryStore, RunQuery, RunUpdate, SeriesRead,
    Session, SqlStore, TrackingStore, UploadStore,
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
    series_points_are_counted_and_read_after_a_mark,
    registry_models_versions_stages_and_aliases,
    registry_rename_search_and_delete,
    data_assets_version_list_archive_and_update,
    upload_files_are_indexed_by_path_prefix,
    search_runs_filters_orders_and_pages,
    search_runs_never_mixes_workspaces,
    search_experiments_filters_and_orders,
    users_tokens_and_roles,
    concurrent_writers_never_fail,
    dataset_inputs_are_deduplicated,
    logged_models_and_run_outputs,
    regression_integer_then_fractional_bounds_on_one_connection,
    concurrent_requests_fail_alone,
    sessions_expire_and_end,
    experiment_stats_count_active_runs,
    jobs_move_forward_keep_their_logs_and_queue_in_order,
    endpoints_and_deployments_round_trip,
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

async fn series_points_are_counted_and_read_after_a_mark(store: &SqlStore) {
    let workspace = with_workspace(store, "series").await;
    let info = run_info(&workspace, 0, 7, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    assert_eq!(store.metric_points(&info.run_id, "loss").await.unwrap(), None);
    assert_eq!(store.metric_points_after(&info.run_id, "loss", 0).await.unwrap(), SeriesRead::default());

    // Steps 100..200 in reverse, then a second batch that adds a late point at step 5 (not the
    // latest) and later points: the count moves with every point, the latest only forward.
    let first: Vec<Metric> = (100..200).rev().map(|step| metric("loss", step as f64, step, 1_000 + step)).collect();
    store.log_batch(&workspace, &info.run_id, Batch { metrics: first, ..Batch::default() }).await.unwrap();
    let read = store.metric_points_after(&info.run_id, "loss", 0).await.unwrap();
    assert_eq!(read.total, 100);
    assert_eq!(read.samples.len(), 100);
    assert_eq!(read.samples.iter().map(|sample| sample.step).collect::<Vec<_>>(), (100..200).collect::<Vec<_>>());
    assert!(read.last_mark > 0);

    let mut second = vec![metric("loss", -1.0, 5, 1), metric("loss", f64::NAN, 250, 3_000)];
    second.extend((200..210).map(|step| metric("loss", step as f64, step, 2_000 + step)));
    store.log_batch(&workspace, &info.run_id, Batch { metrics: second, ..Batch::default() }).await.unwrap();
    assert_eq!(store.metric_points(&info.run_id, "loss").await.unwrap(), Some(112));
    let since = store.metric_points_after(&info.run_id, "loss", read.last_mark).await.unwrap();
    assert_eq!(since.total, 112);
    assert_eq!(since.samples.len(), 12, "only the points written after the mark");
    assert_eq!(since.samples[0], Sample { step: 5, timestamp: 1, value: -1.0 });
    assert!(since.samples[11].value.is_nan());
    let latest = store.get_run(&info.run_id).await.unwrap().metrics;
    assert_eq!(latest.iter().find(|metric| metric.key == "loss").map(|metric| metric.step), Some(250));
    let nothing = store.metric_points_after(&info.run_id, "loss", since.last_mark).await.unwrap();
    assert_eq!((nothing.total, nothing.samples.len(), nothing.last_mark), (112, 0, 0));

    let window = store.metric_points_between(&info.run_id, "loss", 150, 204).await.unwrap();
    assert_eq!(window.iter().map(|sample| sample.step).collect::<Vec<_>>(), (150..205).collect::<Vec<_>>());
    assert_eq!(window[0].timestamp, 1_150);
    assert!(store.metric_points_between(&info.run_id, "loss", 300, 400).await.unwrap().is_empty());
}

fn registered(workspace: &WorkspaceName, name: &str, tags: &[(&str, &str)]) -> RegisteredModel {
    RegisteredModel {
        workspace: workspace.clone(),
        name: name.to_owned(),
        description: String::new(),
        creation_time: 10,
        last_updated_time: 10,
        tags: tags.iter().map(|(key, value)| Tag::new(*key, *value)).collect(),
        aliases: Vec::new(),
        latest_versions: Vec::new(),
    }
}

fn new_version(workspace: &WorkspaceName, name: &str, run_id: &str, tags: &[(&str, &str)]) -> ModelVersion {
    ModelVersion {
        workspace: workspace.clone(),
        name: name.to_owned(),
        version: 0,
        creation_time: 20,
        last_updated_time: 20,
        description: String::new(),
        user_id: "alice".to_owned(),
        current_stage: "None".to_owned(),
        source: format!("runs:/{run_id}/model"),
        run_id: Some(run_id.to_owned()),
        run_link: String::new(),
        status: "READY".to_owned(),
        status_message: String::new(),
        model_id: None,
        tags: tags.iter().map(|(key, value)| Tag::new(*key, *value)).collect(),
        aliases: Vec::new(),
        model_type: "custom_model".to_owned(),
        properties: BTreeMap::new(),
        archived: false,
    }
}

async fn registry_models_versions_stages_and_aliases(store: &SqlStore) {
    let workspace = with_workspace(store, "registry").await;
    store.create_registered_model(&registered(&workspace, "fraud", &[("team", "risk")])).await.unwrap();
    let duplicate = store.create_registered_model(&registered(&workspace, "fraud", &[])).await.unwrap_err();
    assert_eq!(duplicate.code, ErrorCode::ResourceAlreadyExists);
    assert!(duplicate.message.contains("fraud"), "{}", duplicate.message);

    let first = store.create_model_version(&new_version(&workspace, "fraud", "r1", &[("k", "v")])).await.unwrap();
    let second = store.create_model_version(&new_version(&workspace, "fraud", "r2", &[])).await.unwrap();
    let third = store.create_model_version(&new_version(&workspace, "fraud", "r3", &[])).await.unwrap();
    assert_eq!((first.version, second.version, third.version), (1, 2, 3));
    let missing = store.create_model_version(&new_version(&workspace, "nope", "r1", &[])).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);

    store.set_model_version_stage(&workspace, "fraud", 1, "Production", false, 30).await.unwrap();
    store.set_model_version_stage(&workspace, "fraud", 2, "Production", true, 31).await.unwrap();
    assert_eq!(store.get_model_version(&workspace, "fraud", 1).await.unwrap().current_stage, "Archived");
    store.set_model_alias(&workspace, "fraud", "champion", 2).await.unwrap();
    store.set_model_alias(&workspace, "fraud", "challenger", 3).await.unwrap();
    store.set_model_alias(&workspace, "fraud", "challenger", 1).await.unwrap();
    let no_version = store.set_model_alias(&workspace, "fraud", "x", 9).await.unwrap_err();
    assert_eq!(no_version.code, ErrorCode::ResourceDoesNotExist);

    let model = store.get_registered_model(&workspace, "fraud").await.unwrap();
    assert_eq!(model.tags, vec![Tag::new("team", "risk")]);
    let aliases: Vec<(&str, i64)> = model.aliases.iter().map(|alias| (alias.alias.as_str(), alias.version)).collect();
    assert_eq!(aliases, vec![("challenger", 1), ("champion", 2)]);
    let latest: Vec<(i64, &str)> =
        model.latest_versions.iter().map(|version| (version.version, version.current_stage.as_str())).collect();
    assert_eq!(latest, vec![(1, "Archived"), (2, "Production"), (3, "None")]);
    let version = store.get_model_version(&workspace, "fraud", 1).await.unwrap();
    assert_eq!(version.tags, vec![Tag::new("k", "v")]);
    assert_eq!(version.aliases, vec!["challenger".to_owned()]);
    assert_eq!(version.source, "runs:/r1/model");

    // Deleting a version takes its aliases; its number is never given again.
    store.delete_model_version(&workspace, "fraud", 1).await.unwrap();
    assert_eq!(
        store.get_model_version(&workspace, "fraud", 1).await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
    let model = store.get_registered_model(&workspace, "fraud").await.unwrap();
    assert_eq!(model.aliases.len(), 1);
    assert_eq!(store.create_model_version(&new_version(&workspace, "fraud", "r4", &[])).await.unwrap().version, 4);
    // An explicit number must be free; the counter moves past it.
    let mut explicit = new_version(&workspace, "fraud", "r5", &[]);
    explicit.version = 9;
    explicit.model_type = "mlflow_model".to_owned();
    explicit.properties = BTreeMap::from([("framework".to_owned(), "sklearn".to_owned())]);
    assert_eq!(store.create_model_version(&explicit).await.unwrap().version, 9);
    let taken = store.create_model_version(&explicit).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists);
    assert!(taken.message.contains("version=9"), "{}", taken.message);
    assert_eq!(store.create_model_version(&new_version(&workspace, "fraud", "r6", &[])).await.unwrap().version, 10);
    let nine = store.get_model_version(&workspace, "fraud", 9).await.unwrap();
    assert_eq!(
        (nine.model_type.as_str(), nine.properties.get("framework").map(String::as_str)),
        ("mlflow_model", Some("sklearn"))
    );
    let properties = BTreeMap::from([("owner".to_owned(), "ana".to_owned())]);
    store.set_model_version_properties(&workspace, "fraud", 9, &properties, 41).await.unwrap();
    store.set_model_version_archived(&workspace, "fraud", 9, true, 42).await.unwrap();
    let nine = store.get_model_version(&workspace, "fraud", 9).await.unwrap();
    assert!(nine.archived);
    assert_eq!(nine.properties, properties);
    store.update_model_version(&workspace, "fraud", 4, "better", 40).await.unwrap();
    assert_eq!(store.get_model_version(&workspace, "fraud", 4).await.unwrap().description, "better");
    store.set_model_version_tag(&workspace, "fraud", 4, &Tag::new("a", "1")).await.unwrap();
    store.delete_model_version_tag(&workspace, "fraud", 4, "a").await.unwrap();
    assert_eq!(
        store.delete_model_version_tag(&workspace, "fraud", 4, "a").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
}

async fn registry_rename_search_and_delete(store: &SqlStore) {
    let workspace = with_workspace(store, "reg-search").await;
    let other = with_workspace(store, "reg-other").await;
    for (name, tags) in
        [("alpha", vec![("team", "a")]), ("beta", vec![("mlflow.prompt.is_prompt", "true")]), ("gamma", vec![])]
    {
        store.create_registered_model(&registered(&workspace, name, &tags)).await.unwrap();
    }
    store.create_registered_model(&registered(&other, "alpha", &[])).await.unwrap();
    store.create_model_version(&new_version(&workspace, "alpha", "run-a", &[("stage", "qa")])).await.unwrap();
    store.create_model_version(&new_version(&workspace, "alpha", "run-b", &[])).await.unwrap();
    store.create_model_version(&new_version(&workspace, "gamma", "run-a", &[])).await.unwrap();
    store.set_model_alias(&workspace, "alpha", "champion", 2).await.unwrap();

    let names = |models: Vec<RegisteredModel>| models.into_iter().map(|model| model.name).collect::<Vec<_>>();
    let search = |filter: &str, order: &str| {
        let filter = atelier_core::filter::parse_registered_model_filter(filter).unwrap();
        let order_by: Vec<OrderBy> = if order.is_empty() {
            Vec::new()
        } else {
            vec![atelier_core::filter::parse_registered_model_order_by(order).unwrap()]
        };
        (filter, order_by)
    };
    let (filter, order_by) = search("tag.`mlflow.prompt.is_prompt` != 'true'", "name DESC");
    let query = RegistryQuery { workspace: &workspace, filter: &filter, order_by: &order_by, limit: 10, offset: 0 };
    assert_eq!(names(store.search_registered_models(&query).await.unwrap()), vec!["gamma", "alpha"]);
    let (filter, order_by) = search("name LIKE '%a' AND tags.team = 'a'", "");
    let query = RegistryQuery { workspace: &workspace, filter: &filter, order_by: &order_by, limit: 10, offset: 0 };
    let found = store.search_registered_models(&query).await.unwrap();
    assert_eq!(names(found.clone()), vec!["alpha"]);
    assert_eq!(found[0].latest_versions.len(), 1, "one stage: None, newest version 2");
    let (filter, order_by) = search("", "");
    let query = RegistryQuery { workspace: &workspace, filter: &filter, order_by: &order_by, limit: 2, offset: 2 };
    assert_eq!(names(store.search_registered_models(&query).await.unwrap()), vec!["gamma"]);

    let filter = atelier_core::filter::parse_model_version_filter("run_id IN ('run-a', 'run-z')").unwrap();
    let query = RegistryQuery { workspace: &workspace, filter: &filter, order_by: &[], limit: 100, offset: 0 };
    let found: Vec<(String, i64)> = store
        .search_model_versions(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|version| (version.name, version.version))
        .collect();
    assert_eq!(found, vec![("alpha".to_owned(), 1), ("gamma".to_owned(), 1)]);
    let filter = atelier_core::filter::parse_model_version_filter(
        "name = 'alpha' AND version_number >= 2 AND tags.stage IS NULL",
    )
    .unwrap();
    let query = RegistryQuery { workspace: &workspace, filter: &filter, order_by: &[], limit: 100, offset: 0 };
    assert_eq!(store.search_model_versions(&query).await.unwrap().len(), 1);

    // A rename carries the versions, their tags and the aliases along.
    store.rename_registered_model(&workspace, "alpha", "delta", 50).await.unwrap();
    let taken = store.rename_registered_model(&workspace, "delta", "gamma", 51).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(
        store.get_registered_model(&workspace, "alpha").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
    let renamed = store.get_registered_model(&workspace, "delta").await.unwrap();
    assert_eq!(renamed.aliases.len(), 1);
    assert_eq!(store.get_model_version(&workspace, "delta", 1).await.unwrap().tags, vec![Tag::new("stage", "qa")]);
    assert_eq!(store.get_registered_model(&other, "alpha").await.unwrap().latest_versions.len(), 0);

    store.delete_registered_model(&workspace, "delta").await.unwrap();
    assert_eq!(
        store.get_model_version(&workspace, "delta", 1).await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
    assert!(store.get_registered_model(&other, "alpha").await.is_ok(), "the other workspace keeps its model");
    store.create_registered_model(&registered(&workspace, "delta", &[])).await.unwrap();
    assert_eq!(store.create_model_version(&new_version(&workspace, "delta", "r", &[])).await.unwrap().version, 1);
}

fn data_asset(workspace: &WorkspaceName, name: &str, version: &str, at: i64) -> DataAsset {
    DataAsset {
        workspace: workspace.clone(),
        name: name.to_owned(),
        version: version.to_owned(),
        data_type: "uri_folder".to_owned(),
        path: format!("azureml://datastores/workspaceblobstore/paths/{name}/{at}/"),
        description: String::new(),
        tags: BTreeMap::from([("source".to_owned(), "test".to_owned())]),
        properties: BTreeMap::new(),
        mltable_paths: vec![("pattern".to_owned(), "./*.csv".to_owned())],
        archived: false,
        created_by: "alice".to_owned(),
        creation_time: at,
        last_updated_time: at,
    }
}

async fn data_assets_version_list_archive_and_update(store: &SqlStore) {
    let workspace = with_workspace(store, "data").await;
    let other = with_workspace(store, "data-other").await;
    assert_eq!(store.create_data_asset(&data_asset(&workspace, "iris", "", 10)).await.unwrap().version, "1");
    assert_eq!(store.create_data_asset(&data_asset(&workspace, "iris", "", 11)).await.unwrap().version, "2");
    assert_eq!(
        store.create_data_asset(&data_asset(&workspace, "iris", "2024.01", 12)).await.unwrap().version,
        "2024.01"
    );
    assert_eq!(store.create_data_asset(&data_asset(&workspace, "iris", "", 13)).await.unwrap().version, "3");
    let taken = store.create_data_asset(&data_asset(&workspace, "iris", "2", 14)).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists);
    store.create_data_asset(&data_asset(&workspace, "titanic", "", 15)).await.unwrap();
    store.create_data_asset(&data_asset(&other, "iris", "", 16)).await.unwrap();

    let stored = store.get_data_asset(&workspace, "iris", "2024.01").await.unwrap();
    assert_eq!(stored, data_asset(&workspace, "iris", "2024.01", 12));
    let versions: Vec<String> =
        store.list_data_assets(&workspace, Some("iris"), false).await.unwrap().into_iter().map(|a| a.version).collect();
    assert_eq!(versions, vec!["3", "2024.01", "2", "1"], "newest first");
    let newest: Vec<(String, String)> = store
        .list_data_assets(&workspace, None, false)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.version))
        .collect();
    assert_eq!(newest, vec![("iris".to_owned(), "3".to_owned()), ("titanic".to_owned(), "1".to_owned())]);

    store.set_data_asset_archived(&workspace, "iris", "3", true, 20).await.unwrap();
    assert_eq!(store.list_data_assets(&workspace, None, false).await.unwrap()[0].version, "2024.01");
    assert_eq!(store.list_data_assets(&workspace, Some("iris"), true).await.unwrap().len(), 4);
    let mut changed = store.get_data_asset(&workspace, "iris", "1").await.unwrap();
    changed.description = "first cut".to_owned();
    changed.tags.insert("team".to_owned(), "vision".to_owned());
    store.update_data_asset(&changed, 21).await.unwrap();
    let reread = store.get_data_asset(&workspace, "iris", "1").await.unwrap();
    assert_eq!((reread.description.as_str(), reread.tags.len(), reread.last_updated_time), ("first cut", 2, 21));
    assert_eq!(store.get_data_asset(&workspace, "iris", "9").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.list_data_assets(&other, None, false).await.unwrap().len(), 1, "workspaces never mix");
}

async fn upload_files_are_indexed_by_path_prefix(store: &SqlStore) {
    let workspace = with_workspace(store, "uploads").await;
    for (path, hash) in [
        ("models/a_b/u1/model/w.bin", "h1"),
        ("models/a_b/u1/model/c.json", "h2"),
        ("models/a%b/u2/w.bin", "h1"),
        ("models/a_b/u10/x", "h3"),
    ] {
        store.record_upload_file(&workspace, "models", path, hash, 5, 100).await.unwrap();
    }
    store.record_upload_file(&workspace, "data", "LocalUpload/u1/t.csv", "h1", 5, 100).await.unwrap();
    let under = |prefix: &'static str| {
        let workspace = workspace.clone();
        async move {
            store
                .upload_files_under(&workspace, "models", prefix)
                .await
                .unwrap()
                .into_iter()
                .map(|file| file.path)
                .collect::<Vec<_>>()
        }
    };
    // A prefix is a folder: u1 is not u10, and _ and % in names are not wildcards.
    assert_eq!(under("models/a_b/u1").await, vec!["models/a_b/u1/model/c.json", "models/a_b/u1/model/w.bin"]);
    assert_eq!(under("models/a%b/u2/w.bin").await, vec!["models/a%b/u2/w.bin"]);
    assert!(under("models/aXb").await.is_empty());
    assert_eq!(store.all_upload_files(&workspace).await.unwrap().len(), 5);
    assert_eq!(store.delete_upload_files_under(&workspace, "models", "models/a_b/u1").await.unwrap(), 2);
    let left: Vec<String> =
        store.all_upload_files(&workspace).await.unwrap().into_iter().map(|file| file.path).collect();
    assert_eq!(left, vec!["LocalUpload/u1/t.csv", "models/a%b/u2/w.bin", "models/a_b/u10/x"]);
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

async fn users_tokens_and_roles(store: &SqlStore) {
    let workspace = with_workspace(store, "people").await;
    let alice = UserName::parse("alice").unwrap();
    store.create_user(&User { name: alice.clone(), is_admin: false, created_at: 1 }, Some("hash")).await.unwrap();
    let error =
        store.create_user(&User { name: alice.clone(), is_admin: false, created_at: 1 }, None).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(store.get_user(&alice).await.unwrap().password_hash.as_deref(), Some("hash"));
    let token = TokenInfo {
        id: "t1".into(),
        user: alice.clone(),
        description: "ci".into(),
        created_at: 1,
        expires_at: Some(100),
        scope: TokenScope::Metrics,
    };
    store.create_token(&token, "abc").await.unwrap();
    let (found, user) = store.find_token("abc", 50).await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), user.name.as_str()), ("t1", "alice"));
    assert_eq!(found.scope, TokenScope::Metrics, "a token's scope is kept");
    assert_eq!(store.get_token("t1").await.unwrap(), token);
    assert!(store.find_token("abc", 100).await.unwrap().is_none(), "an expired token must not be found");
    assert!(store.find_token("nope", 50).await.unwrap().is_none());
    assert_eq!(store.list_tokens(Some(&alice)).await.unwrap().len(), 1);
    store.delete_token("t1").await.unwrap();
    assert!(store.find_token("abc", 50).await.unwrap().is_none());
    assert_eq!(store.get_role(&workspace, &alice).await.unwrap(), None);
    store.assign_role(&workspace, &alice, Role::Reader).await.unwrap();
    store.assign_role(&workspace, &alice, Role::Contributor).await.unwrap();
    assert_eq!(store.get_role(&workspace, &alice).await.unwrap(), Some(Role::Contributor));
    assert_eq!(store.list_roles(&workspace).await.unwrap(), vec![(alice.clone(), Role::Contributor)]);
    store.remove_role(&workspace, &alice).await.unwrap();
    assert_eq!(store.remove_role(&workspace, &alice).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
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
    for task in tasks {
        task.await.unwrap().unwrap();
    }
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

async fn logged_models_and_run_outputs(store: &SqlStore) {
    let workspace = with_workspace(store, "models").await;
    let info = run_info(&workspace, 0, 60, "r", 1);
    store.create_run(&info, &[]).await.unwrap();
    let model = LoggedModel {
        model_id: "m-1".into(),
        workspace: workspace.clone(),
        experiment_id: 0,
        name: "clf".into(),
        artifact_location: "mlflow-artifacts:/0/models/m-1/artifacts".into(),
        creation_time: 5,
        last_updated_time: 5,
        status: "LOGGED_MODEL_PENDING".into(),
        status_message: String::new(),
        lifecycle_stage: LifecycleStage::Active,
        model_type: "sklearn".into(),
        source_run_id: Some(info.run_id.to_string()),
        creator: "tester".into(),
        tags: vec![Tag::new("flavor", "sklearn")],
        params: vec![Param { key: "C".into(), value: "1.0".into() }],
    };
    store.create_logged_model(&model).await.unwrap();
    store.set_logged_model_status("m-1", "LOGGED_MODEL_READY", 6).await.unwrap();
    store.log_outputs(&info.run_id, &[ModelOutput { model_id: "m-1".into(), step: 3 }]).await.unwrap();
    let loaded = store.get_logged_model("m-1").await.unwrap();
    assert_eq!((loaded.status.as_str(), loaded.tags.len(), loaded.params.len()), ("LOGGED_MODEL_READY", 1, 1));
    let run = store.get_run(&info.run_id).await.unwrap();
    assert_eq!(run.outputs, vec![ModelOutput { model_id: "m-1".into(), step: 3 }]);
    let by_name = atelier_core::filter::parse_logged_model_filter("name = 'clf'").unwrap();
    let query = LoggedModelQuery {
        workspace: &workspace,
        experiment_ids: &[0],
        filter: &by_name,
        order_by: &[],
        limit: 10,
        offset: 0,
    };
    assert_eq!(store.search_logged_models(&query).await.unwrap().len(), 1);
    store.delete_logged_model("m-1", 7).await.unwrap();
    assert!(store.search_logged_models(&query).await.unwrap().is_empty());
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

async fn sessions_expire_and_end(store: &SqlStore) {
    let bob = UserName::parse("bob").unwrap();
    store.create_user(&User { name: bob.clone(), is_admin: false, created_at: 1 }, Some("hash")).await.unwrap();
    let session =
        Session { id_hash: "h1".into(), user: bob.clone(), csrf_token: "c1".into(), created_at: 10, expires_at: 100 };
    store.create_session(&session).await.unwrap();
    let (found, user) = store.find_session("h1", 50).await.unwrap().unwrap();
    assert_eq!((found.csrf_token.as_str(), user.name.as_str()), ("c1", "bob"));
    assert!(store.find_session("h1", 100).await.unwrap().is_none(), "an expired session is not found");
    assert!(store.find_session("other", 50).await.unwrap().is_none());
    // Making a session later sweeps the expired one.
    let later = Session { id_hash: "h2".into(), user: bob, csrf_token: "c2".into(), created_at: 200, expires_at: 300 };
    store.create_session(&later).await.unwrap();
    assert!(store.find_session("h1", 50).await.unwrap().is_none());
    store.delete_session("h2").await.unwrap();
    assert!(store.find_session("h2", 250).await.unwrap().is_none());
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

fn new_job(workspace: &WorkspaceName, name: &str, priority: i64) -> (Job, RunInfo) {
    let job = Job {
        workspace: workspace.clone(),
        name: name.to_owned(),
        display_name: None,
        description: None,
        experiment_id: 0,
        experiment_name: "Default".to_owned(),
        compute: "local".to_owned(),
        status: JobStatus::Queued,
        priority,
        resources: ResourceRequest::default(),
        tags: BTreeMap::new(),
        spec_yaml: "command: echo\n".to_owned(),
        plan: "{}".to_owned(),
        snapshot: Some("0123".to_owned()),
        created_by: "tester".to_owned(),
        created_at: 10,
        exit_code: None,
        error: None,
        warnings: vec!["a warning".to_owned()],
        archived: false,
        runtime_pid: None,
        runtime_start: None,
        assigned_gpus: Vec::new(),
        heartbeat_at: None,
        events: vec![
            JobEvent { status: JobStatus::NotStarted, time: 10, message: None },
            JobEvent { status: JobStatus::Queued, time: 10, message: None },
        ],
    };
    let mut run = run_info(workspace, 0, 0, name, 10);
    run.run_id = RunId::parse(name).unwrap();
    run.status = RunStatus::Scheduled;
    (job, run)
}

async fn jobs_move_forward_keep_their_logs_and_queue_in_order(store: &SqlStore) {
    let workspace = with_workspace(store, "jobs").await;
    for (name, priority) in [("first_job", 2), ("second_job", 2), ("urgent_job", 3)] {
        let (job, run) = new_job(&workspace, name, priority);
        let created =
            store.create_job(&job, &run, &[], &format!("hash-{name}"), &["code:0123/".to_owned()]).await.unwrap();
        assert_eq!(created.events.len(), 2);
        assert_eq!(created.warnings, vec!["a warning"]);
    }
    let (duplicate, run) = new_job(&workspace, "first_job", 2);
    let taken = store.create_job(&duplicate, &run, &[], "hash-other", &[]).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists, "a job name is taken once, with its run");

    // The queue: priority first, then submission order.
    let queued: Vec<String> =
        store.jobs_in_status(&[JobStatus::Queued]).await.unwrap().into_iter().map(|job| job.name).collect();
    assert_eq!(queued, vec!["urgent_job", "first_job", "second_job"]);

    // Statuses move forward only, and the run follows.
    let to = |status, at| JobTransition { status, at, message: None, exit_code: None, error: None };
    assert!(store.transition_job("first_job", &to(JobStatus::Running, 20)).await.unwrap().is_some());
    assert!(store.transition_job("first_job", &to(JobStatus::Queued, 21)).await.unwrap().is_none());
    assert_eq!(store.get_run_info(&RunId::parse("first_job").unwrap()).await.unwrap().status, RunStatus::Running);
    let failed = JobTransition {
        status: JobStatus::Failed,
        at: 30,
        message: Some("why"),
        exit_code: Some(3),
        error: Some("boom"),
    };
    let ended = store.transition_job("first_job", &failed).await.unwrap().unwrap();
    assert_eq!((ended.status, ended.exit_code, ended.error.as_deref()), (JobStatus::Failed, Some(3), Some("boom")));
    assert_eq!(ended.time_of(JobStatus::Failed), Some(30));
    let run = store.get_run_info(&RunId::parse("first_job").unwrap()).await.unwrap();
    assert_eq!((run.status, run.end_time), (RunStatus::Failed, Some(30)));
    assert!(store.transition_job("first_job", &to(JobStatus::Completed, 40)).await.unwrap().is_none());

    // The runtime's token, GPUs and process.
    store.set_job_runtime("second_job", "runtime-hash", &[1, 3], 50).await.unwrap();
    store.set_job_launched("second_job", 4242, 99).await.unwrap();
    let found = store.find_job_by_token("runtime-hash").await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), found.assigned_gpus.as_slice(), found.runtime_pid),
        ("second_job", &[1, 3][..], Some(4242))
    );
    assert!(store.snapshot_in_use(&workspace, "0123").await.unwrap());
    assert!(!store.snapshot_in_use(&workspace, "9999").await.unwrap());

    // Logs: pieces at offsets; a piece sent again is stored once, a longer resend adds its end.
    let log = "user_logs/std_log.txt";
    assert_eq!(store.append_job_log("second_job", log, 0, "héllo ").await.unwrap(), 7);
    assert_eq!(store.append_job_log("second_job", log, 0, "héllo ").await.unwrap(), 7);
    assert_eq!(store.append_job_log("second_job", log, 0, "héllo world").await.unwrap(), 12);
    assert_eq!(
        store.append_job_log("second_job", log, 20, "gap").await.unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );
    let whole = store.read_job_log("second_job", log, 0, 1 << 20).await.unwrap();
    assert_eq!((whole.text.as_str(), whole.next_offset), ("héllo world", 12));
    let rest = store.read_job_log("second_job", log, 7, 1 << 20).await.unwrap();
    assert_eq!(rest.text, "world");
    assert_eq!(store.job_log_files("second_job").await.unwrap(), vec![(log.to_owned(), 12)]);

    // Listing: newest first, filters, archive.
    store.set_job_archived("first_job", true).await.unwrap();
    let query = |status, archived| JobQuery {
        workspace: &workspace,
        status,
        experiment_name: None,
        compute: Some("local"),
        archived,
        limit: 10,
    };
    let names = |jobs: Vec<Job>| jobs.into_iter().map(|job| job.name).collect::<Vec<_>>();
    assert_eq!(names(store.list_jobs(&query(None, Some(false))).await.unwrap()), vec!["urgent_job", "second_job"]);
    assert_eq!(names(store.list_jobs(&query(None, Some(true))).await.unwrap()), vec!["first_job"]);
    assert_eq!(names(store.list_jobs(&query(Some(JobStatus::Failed), None)).await.unwrap()), vec!["first_job"]);
    assert!(store.referenced_locations(&workspace).await.unwrap().contains(&"code:0123/".to_owned()));
}

fn new_deployment(workspace: &WorkspaceName, endpoint: &str, name: &str, generation: i64) -> Deployment {
    Deployment {
        workspace: workspace.clone(),
        endpoint: endpoint.to_owned(),
        name: name.to_owned(),
        description: None,
        tags: BTreeMap::from([("team".to_owned(), "risk".to_owned())]),
        state: ProvisioningState::Creating,
        error: None,
        spec_yaml: format!("name: {name}\n"),
        plan: "{}".to_owned(),
        model_name: Some("credit".to_owned()),
        model_version: Some(generation.to_string()),
        instance_count: 1,
        generation,
        snapshot: Some("0123abcd".to_owned()),
        created_by: "admin".to_owned(),
        created_at: 10 * generation,
        updated_at: 10 * generation,
    }
}

async fn endpoints_and_deployments_round_trip(store: &SqlStore) {
    let workspace = with_workspace(store, "serving").await;
    let endpoint = Endpoint {
        workspace: workspace.clone(),
        name: "credit-ep".to_owned(),
        description: Some("scores".to_owned()),
        tags: BTreeMap::new(),
        auth_mode: AuthMode::Key,
        traffic: BTreeMap::new(),
        mirror_traffic: BTreeMap::new(),
        created_by: "admin".to_owned(),
        created_at: 1,
        updated_at: 1,
    };
    store.create_endpoint(&endpoint, "sealed-1").await.unwrap();
    let other = with_workspace(store, "elsewhere").await;
    let taken =
        store.create_endpoint(&Endpoint { workspace: other.clone(), ..endpoint.clone() }, "x").await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists, "endpoint names are unique on the server");
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap(), (endpoint.clone(), "sealed-1".to_owned()));

    // Deployments: created, replaced in place (a new generation keeps the creation time).
    let missing = store.put_deployment(&new_deployment(&workspace, "nowhere-ep", "blue", 1)).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    store.put_deployment(&new_deployment(&workspace, "credit-ep", "blue", 1)).await.unwrap();
    store.put_deployment(&new_deployment(&workspace, "credit-ep", "green", 1)).await.unwrap();
    let second = Deployment { created_at: 10, ..new_deployment(&workspace, "credit-ep", "blue", 2) };
    let stored = store.put_deployment(&second).await.unwrap();
    assert_eq!((stored.generation, stored.created_at, stored.updated_at), (2, 10, 20));

    // A rollout's outcome lands only on the generation it was for.
    store.set_deployment_state("credit-ep", "blue", 1, ProvisioningState::Failed, Some("late"), 30).await.unwrap();
    assert_eq!(store.get_deployment("credit-ep", "blue").await.unwrap().state, ProvisioningState::Creating);
    store.set_deployment_state("credit-ep", "blue", 2, ProvisioningState::Succeeded, None, 31).await.unwrap();
    assert_eq!(store.get_deployment("credit-ep", "blue").await.unwrap().state, ProvisioningState::Succeeded);

    // Traffic and keys change; keys only when given.
    let traffic = BTreeMap::from([("blue".to_owned(), 90), ("green".to_owned(), 10)]);
    let updated = Endpoint { traffic: traffic.clone(), updated_at: 40, ..endpoint.clone() };
    store.update_endpoint(&updated, None).await.unwrap();
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap(), (updated.clone(), "sealed-1".to_owned()));
    store.update_endpoint(&updated, Some("sealed-2")).await.unwrap();
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap().1, "sealed-2");

    let names = |deployments: Vec<Deployment>| deployments.into_iter().map(|d| d.name).collect::<Vec<_>>();
    assert_eq!(names(store.list_deployments(Some("credit-ep")).await.unwrap()), ["blue", "green"]);
    assert_eq!(names(store.deployments_of_model(&workspace, "credit").await.unwrap()), ["blue", "green"]);
    assert!(store.deployments_of_model(&other, "credit").await.unwrap().is_empty());

    // A deployment's code snapshot is in use and kept by garbage collection.
    assert!(store.snapshot_in_use(&workspace, "0123abcd").await.unwrap());
    assert!(store.referenced_locations(&workspace).await.unwrap().contains(&"code:0123abcd/".to_owned()));

    store.delete_deployment("credit-ep", "green").await.unwrap();
    assert_eq!(store.delete_deployment("credit-ep", "green").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    store.delete_endpoint("credit-ep").await.unwrap();
    assert!(store.list_deployments(None).await.unwrap().is_empty(), "deleting an endpoint deletes its deployments");
    assert!(!store.snapshot_in_use(&workspace, "0123abcd").await.unwrap());
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}
