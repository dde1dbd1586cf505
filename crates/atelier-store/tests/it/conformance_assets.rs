//! The conformance suite, continued: environments, datastores, computes and the purge of
//! deleted runs, each expanded for SQLite and PostgreSQL by `conformance!`.
//!
//! These tests call the store through `&dyn Store` with only `Store` in scope, as the service
//! does, so they also hold the contract's parts together: every part's methods must stay
//! reachable through `dyn Store`.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_core::data::Datastore;
use atelier_core::environment::{Environment, EnvironmentSpec};
use atelier_core::instance::{ComputeInstance, InstanceState};
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_core::registry::{ModelVersion, RegisteredModel};
use atelier_store::{Batch, Compute, SqlStore, Store};
use std::collections::BTreeMap;

conformance!(
    environments_version_list_archive_and_round_trip,
    datastores_keep_sealed_credentials_and_unique_names,
    computes_create_list_get_and_delete,
    compute_instances_keep_their_state_process_and_sharing,
    purge_run_removes_a_deleted_run_and_what_was_logged_to_it,
);

fn environment(workspace: &WorkspaceName, name: &str, version: &str, at: i64) -> Environment {
    Environment {
        workspace: workspace.clone(),
        name: name.to_owned(),
        version: version.to_owned(),
        spec: EnvironmentSpec {
            image: None,
            python: Some("3.11".to_owned()),
            requirements: vec!["scikit-learn==1.5.0".to_owned(), "pandas".to_owned()],
            channels: vec!["conda-forge".to_owned()],
        },
        description: format!("{name} at {at}"),
        tags: BTreeMap::from([("team".to_owned(), "vision".to_owned())]),
        archived: false,
        created_by: "alice".to_owned(),
        creation_time: at,
    }
}

fn versions(environments: Vec<Environment>) -> Vec<(String, String)> {
    environments.into_iter().map(|environment| (environment.name, environment.version)).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(name, version)| ((*name).to_owned(), (*version).to_owned())).collect()
}

async fn environments_version_list_archive_and_round_trip(sql: &SqlStore) {
    let workspace = with_workspace(sql, "envs").await;
    let other = with_workspace(sql, "envs-other").await;
    let store: &dyn Store = sql;

    // Versions: the next numeric one when none is given, text ones as given.
    assert_eq!(store.create_environment(&environment(&workspace, "sklearn", "", 10)).await.unwrap().version, "1");
    assert_eq!(store.create_environment(&environment(&workspace, "sklearn", "", 11)).await.unwrap().version, "2");
    let dated = environment(&workspace, "sklearn", "2024.06", 12);
    assert_eq!(store.create_environment(&dated).await.unwrap(), dated);
    assert_eq!(store.create_environment(&environment(&workspace, "sklearn", "", 13)).await.unwrap().version, "3");
    let taken = store.create_environment(&environment(&workspace, "sklearn", "2", 14)).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists, "a version is never replaced");
    assert!(taken.message.contains("sklearn"), "{}", taken.message);
    assert_eq!(
        store.get_environment(&workspace, "sklearn", "2").await.unwrap(),
        environment(&workspace, "sklearn", "2", 11),
        "a refused version leaves the stored one as it was"
    );

    // The spec round-trips whole: an image without a Python, no requirements.
    let mut image_only = environment(&workspace, "torch", "", 15);
    image_only.spec = EnvironmentSpec {
        image: Some("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04".to_owned()),
        python: None,
        requirements: Vec::new(),
        channels: Vec::new(),
    };
    image_only.tags = BTreeMap::new();
    let stored = store.create_environment(&image_only).await.unwrap();
    assert_eq!(stored, Environment { version: "1".to_owned(), ..image_only.clone() });
    assert_eq!(store.get_environment(&workspace, "torch", "1").await.unwrap(), stored);
    assert_eq!(store.get_environment(&workspace, "sklearn", "2024.06").await.unwrap(), dated);

    // Versions are numbered per workspace, and workspaces never mix.
    assert_eq!(store.create_environment(&environment(&other, "sklearn", "", 16)).await.unwrap().version, "1");
    assert_eq!(versions(store.list_environments(&other, None, false).await.unwrap()), pairs(&[("sklearn", "1")]));

    // Listing: one name's versions newest first, or the newest of every name, by name.
    assert_eq!(
        versions(store.list_environments(&workspace, Some("sklearn"), false).await.unwrap()),
        pairs(&[("sklearn", "3"), ("sklearn", "2024.06"), ("sklearn", "2"), ("sklearn", "1")])
    );
    assert_eq!(
        versions(store.list_environments(&workspace, None, false).await.unwrap()),
        pairs(&[("sklearn", "3"), ("torch", "1")])
    );

    // Archiving hides a version from lists unless asked; it can still be read and restored.
    store.set_environment_archived(&workspace, "sklearn", "3", true).await.unwrap();
    assert_eq!(
        versions(store.list_environments(&workspace, None, false).await.unwrap()),
        pairs(&[("sklearn", "2024.06"), ("torch", "1")])
    );
    assert_eq!(store.list_environments(&workspace, Some("sklearn"), false).await.unwrap().len(), 3);
    let with_archived = store.list_environments(&workspace, Some("sklearn"), true).await.unwrap();
    assert_eq!((with_archived.len(), with_archived[0].version.as_str(), with_archived[0].archived), (4, "3", true));
    assert!(store.get_environment(&workspace, "sklearn", "3").await.unwrap().archived);
    store.set_environment_archived(&workspace, "sklearn", "3", false).await.unwrap();
    assert_eq!(store.list_environments(&workspace, None, false).await.unwrap()[0].version, "3");

    let missing = store.get_environment(&workspace, "sklearn", "9").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    let missing = store.set_environment_archived(&workspace, "nope", "1", true).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert!(store.list_environments(&workspace, Some("nope"), true).await.unwrap().is_empty());
}

fn datastore(workspace: &WorkspaceName, name: &str, at: i64) -> Datastore {
    Datastore {
        workspace: workspace.clone(),
        name: name.to_owned(),
        kind: "azure_blob".to_owned(),
        description: format!("{name} blobs"),
        tags: BTreeMap::from([("owner".to_owned(), "data-team".to_owned())]),
        settings: BTreeMap::from([
            ("account_name".to_owned(), "acct".to_owned()),
            ("container_name".to_owned(), "training".to_owned()),
        ]),
        credential_kind: Some("account_key".to_owned()),
        created_by: "alice".to_owned(),
        creation_time: at,
    }
}

fn names(datastores: Vec<Datastore>) -> Vec<String> {
    datastores.into_iter().map(|datastore| datastore.name).collect()
}

async fn datastores_keep_sealed_credentials_and_unique_names(sql: &SqlStore) {
    let workspace = with_workspace(sql, "stores").await;
    let other = with_workspace(sql, "stores-other").await;
    let store: &dyn Store = sql;
    const SEALED: &str = "bm9uY2U=.Y2lwaGVydGV4dA==";

    let blobs = datastore(&workspace, "blobs", 10);
    store.create_datastore(&blobs, Some(SEALED)).await.unwrap();
    let local = Datastore {
        kind: "local".to_owned(),
        settings: BTreeMap::from([("path".to_owned(), "/srv/data".to_owned())]),
        credential_kind: None,
        ..datastore(&workspace, "archive", 11)
    };
    store.create_datastore(&local, None).await.unwrap();

    // The sealed credentials come back as the text that was stored; none stay none.
    assert_eq!(store.get_datastore(&workspace, "blobs").await.unwrap(), (blobs.clone(), Some(SEALED.to_owned())));
    assert_eq!(store.get_datastore(&workspace, "archive").await.unwrap(), (local.clone(), None));
    assert_eq!(names(store.list_datastores(&workspace).await.unwrap()), vec!["archive", "blobs"], "by name");

    // A name is taken once per workspace; the refused one changes nothing.
    let again = Datastore { kind: "s3".to_owned(), ..datastore(&workspace, "blobs", 12) };
    let taken = store.create_datastore(&again, Some("other-secret")).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists);
    assert!(taken.message.contains("blobs"), "{}", taken.message);
    assert_eq!(store.get_datastore(&workspace, "blobs").await.unwrap(), (blobs.clone(), Some(SEALED.to_owned())));

    // The same name in another workspace is another datastore, and lists never mix.
    let elsewhere = datastore(&other, "blobs", 13);
    store.create_datastore(&elsewhere, Some("elsewhere-secret")).await.unwrap();
    assert_eq!(names(store.list_datastores(&other).await.unwrap()), vec!["blobs"]);
    assert_eq!(store.get_datastore(&workspace, "blobs").await.unwrap().1.as_deref(), Some(SEALED));

    // A deleted datastore is gone, and deleting it again is not found.
    store.delete_datastore(&workspace, "blobs").await.unwrap();
    assert_eq!(store.get_datastore(&workspace, "blobs").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.delete_datastore(&workspace, "blobs").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(names(store.list_datastores(&workspace).await.unwrap()), vec!["archive"]);
    assert_eq!(store.get_datastore(&other, "blobs").await.unwrap(), (elsewhere, Some("elsewhere-secret".to_owned())));
    // The name is free again.
    store.create_datastore(&blobs, Some(SEALED)).await.unwrap();

    // Deleting a workspace deletes its datastores.
    store.delete_workspace(&other).await.unwrap();
    assert_eq!(store.get_datastore(&other, "blobs").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert!(store.list_datastores(&other).await.unwrap().is_empty());
    assert_eq!(names(store.list_datastores(&workspace).await.unwrap()), vec!["archive", "blobs"]);
}

fn compute(workspace: &WorkspaceName, name: &str, size: &str, max_instances: i64) -> Compute {
    Compute {
        workspace: workspace.clone(),
        name: name.to_owned(),
        kind: "amlcompute".to_owned(),
        size: size.to_owned(),
        min_instances: 0,
        max_instances,
        description: format!("{name} for training"),
        tags: BTreeMap::from([("cost-center".to_owned(), "42".to_owned())]),
        settings: None,
        created_by: "alice".to_owned(),
        created_at: 10,
    }
}

fn compute_names(computes: Vec<Compute>) -> Vec<(String, String)> {
    computes.into_iter().map(|compute| (compute.workspace.to_string(), compute.name)).collect()
}

async fn computes_create_list_get_and_delete(sql: &SqlStore) {
    let first = with_workspace(sql, "compute-a").await;
    let second = with_workspace(sql, "compute-b").await;
    let store: &dyn Store = sql;

    let gpu = Compute {
        kind: "slurm".to_owned(),
        settings: Some(r#"{"partition":"gpu"}"#.to_owned()),
        ..compute(&first, "gpu-cluster", "Standard_NC6s_v3", 1)
    };
    let cpu = compute(&first, "cpu-cluster", "Standard_DS3_v2", 4);
    store.create_compute(&gpu).await.unwrap();
    store.create_compute(&cpu).await.unwrap();
    store.create_compute(&compute(&second, "cpu-cluster", "Standard_DS1_v2", 2)).await.unwrap();

    assert_eq!(store.get_compute(&first, "gpu-cluster").await.unwrap(), gpu);
    assert_eq!(store.get_compute(&second, "cpu-cluster").await.unwrap().size, "Standard_DS1_v2", "per workspace");
    let taken = store.create_compute(&compute(&first, "cpu-cluster", "Standard_DS1_v2", 1)).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists);
    assert!(taken.message.contains("cpu-cluster"), "{}", taken.message);
    assert_eq!(store.get_compute(&first, "cpu-cluster").await.unwrap(), cpu, "the refused one changes nothing");

    // One workspace's computes by name; all of them by workspace, then name.
    assert_eq!(
        compute_names(store.list_computes(Some(&first)).await.unwrap()),
        pairs(&[("compute-a", "cpu-cluster"), ("compute-a", "gpu-cluster")])
    );
    assert_eq!(
        compute_names(store.list_computes(None).await.unwrap()),
        pairs(&[("compute-a", "cpu-cluster"), ("compute-a", "gpu-cluster"), ("compute-b", "cpu-cluster")])
    );

    store.delete_compute(&first, "gpu-cluster").await.unwrap();
    assert_eq!(store.get_compute(&first, "gpu-cluster").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.delete_compute(&first, "gpu-cluster").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.delete_compute(&first, "nope").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(
        compute_names(store.list_computes(None).await.unwrap()),
        pairs(&[("compute-a", "cpu-cluster"), ("compute-b", "cpu-cluster")])
    );
}

fn logged(name: &str) -> Batch {
    Batch {
        metrics: vec![metric("loss", 0.9, 0, 1), metric("loss", 0.4, 1, 2)],
        params: vec![Param { key: "lr".into(), value: "0.1".into() }],
        tags: vec![Tag::new("owner", name)],
        new_run_name: None,
    }
}

fn input(name: &str) -> DatasetInput {
    DatasetInput {
        tags: vec![Tag::new("mlflow.data.context", "training")],
        dataset: Dataset {
            name: name.to_owned(),
            digest: "d1".to_owned(),
            source_type: "local".to_owned(),
            source: "{}".to_owned(),
            schema: None,
            profile: None,
        },
    }
}

fn model_version(workspace: &WorkspaceName, run_id: &RunId) -> ModelVersion {
    ModelVersion {
        workspace: workspace.clone(),
        name: "kept-model".to_owned(),
        version: 0,
        creation_time: 20,
        last_updated_time: 20,
        description: String::new(),
        user_id: "alice".to_owned(),
        current_stage: "None".to_owned(),
        source: format!("runs:/{run_id}/model"),
        run_id: None,
        run_link: String::new(),
        status: "READY".to_owned(),
        status_message: String::new(),
        model_id: None,
        tags: Vec::new(),
        aliases: Vec::new(),
        model_type: "custom_model".to_owned(),
        properties: BTreeMap::new(),
        archived: false,
    }
}

async fn purge_run_removes_a_deleted_run_and_what_was_logged_to_it(sql: &SqlStore) {
    let workspace = with_workspace(sql, "purge").await;
    let store: &dyn Store = sql;
    let doomed = run_info(&workspace, 0, 71, "doomed", 100);
    let kept = run_info(&workspace, 0, 72, "kept", 101);
    let registered = run_info(&workspace, 0, 73, "registered", 102);
    for info in [&doomed, &kept, &registered] {
        store.create_run(info, &[Tag::new("mlflow.user", "alice")]).await.unwrap();
        store.log_batch(&workspace, &info.run_id, logged(&info.run_name)).await.unwrap();
        store.log_inputs(&info.run_id, &[input("iris")]).await.unwrap();
    }
    let before_kept = store.get_run(&kept.run_id).await.unwrap();
    assert_eq!((before_kept.metrics.len(), before_kept.params.len(), before_kept.tags.len()), (1, 1, 2));

    // Deleted runs are purgeable unless a model version names them (here by its source).
    store.set_run_stage(&doomed.run_id, LifecycleStage::Deleted, 200).await.unwrap();
    store.set_run_stage(&registered.run_id, LifecycleStage::Deleted, 200).await.unwrap();
    store
        .create_registered_model(&RegisteredModel {
            workspace: workspace.clone(),
            name: "kept-model".to_owned(),
            description: String::new(),
            creation_time: 10,
            last_updated_time: 10,
            tags: Vec::new(),
            aliases: Vec::new(),
            latest_versions: Vec::new(),
        })
        .await
        .unwrap();
    store.create_model_version(&model_version(&workspace, &registered.run_id)).await.unwrap();
    let purgeable: Vec<RunId> =
        store.purgeable_runs(&workspace).await.unwrap().into_iter().map(|info| info.run_id).collect();
    assert_eq!(purgeable, vec![doomed.run_id.clone()]);

    // A run that is not deleted is kept, whole.
    store.purge_run(&kept.run_id).await.unwrap();
    assert_eq!(store.get_run(&kept.run_id).await.unwrap(), before_kept);

    let points = sql.count_rows("metric_points").await.unwrap();
    let series = sql.count_rows("metric_series").await.unwrap();
    store.purge_run(&doomed.run_id).await.unwrap();
    // Its series and their points are gone with it (the points by the trigger on series).
    assert_eq!(sql.count_rows("metric_points").await.unwrap(), points - 2);
    assert_eq!(sql.count_rows("metric_series").await.unwrap(), series - 1);
    assert!(sql.count_rows("metric_points; DROP TABLE runs").await.is_err());
    assert_eq!(store.get_run(&doomed.run_id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_run_info(&doomed.run_id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert!(store.get_metric_history(&doomed.run_id, "loss", None, 0).await.unwrap().is_empty());
    assert_eq!(store.metric_points(&doomed.run_id, "loss").await.unwrap(), None);
    assert!(store.purgeable_runs(&workspace).await.unwrap().is_empty());
    // Purging is idempotent: a run that is gone is no error.
    store.purge_run(&doomed.run_id).await.unwrap();

    // Nothing logged to it is left behind: a new run under the same id starts empty.
    store.create_run(&doomed, &[]).await.unwrap();
    let reborn = store.get_run(&doomed.run_id).await.unwrap();
    assert!(reborn.metrics.is_empty(), "{:?}", reborn.metrics);
    assert!(reborn.params.is_empty(), "{:?}", reborn.params);
    assert!(reborn.tags.is_empty(), "{:?}", reborn.tags);
    assert!(reborn.inputs.is_empty(), "{:?}", reborn.inputs);
    assert_eq!(store.metric_points(&doomed.run_id, "loss").await.unwrap(), None);

    // The other runs are untouched.
    assert_eq!(store.get_run(&kept.run_id).await.unwrap(), before_kept);
    assert_eq!(store.get_metric_history(&kept.run_id, "loss", None, 0).await.unwrap().len(), 2);
    assert_eq!(store.metric_points(&kept.run_id, "loss").await.unwrap(), Some(2));
    let still_deleted = store.get_run(&registered.run_id).await.unwrap();
    assert_eq!((still_deleted.info.lifecycle_stage, still_deleted.params.len()), (LifecycleStage::Deleted, 1));
}

fn instance(workspace: &WorkspaceName, name: &str, owner: &str) -> ComputeInstance {
    ComputeInstance {
        workspace: workspace.clone(),
        name: name.to_owned(),
        owner: owner.to_owned(),
        shared_with: Vec::new(),
        size: Some("Standard_DS3_v2".to_owned()),
        description: "a notebook server".to_owned(),
        tags: BTreeMap::from([("team".to_owned(), "vision".to_owned())]),
        yaml: format!("name: {name}\ntype: computeinstance\n"),
        definition: r#"{"idle_minutes":30}"#.to_owned(),
        state: InstanceState::Creating,
        reason: None,
        state_since: 5,
        token_hash: None,
        runtime_pid: None,
        runtime_start: None,
        last_activity: None,
        schedules_checked_at: 5,
        created_by: owner.to_owned(),
        created_at: 5,
    }
}

async fn compute_instances_keep_their_state_process_and_sharing(sql: &SqlStore) {
    let workspace = with_workspace(sql, "instances").await;
    let store: &dyn Store = sql;
    let alice = instance(&workspace, "alice-ci", "alice");
    store.create_instance(&alice).await.unwrap();
    store.create_instance(&instance(&workspace, "bob-ci", "bob")).await.unwrap();
    assert_eq!(store.get_instance(&workspace, "alice-ci").await.unwrap(), alice);

    // Computes and instances share their names.
    store.create_compute(&compute(&workspace, "cluster", "Standard_DS3_v2", 1)).await.unwrap();
    let clash = store.create_instance(&instance(&workspace, "cluster", "alice")).await.unwrap_err();
    assert_eq!(clash.code, ErrorCode::ResourceAlreadyExists, "{}", clash.message);
    let clash = store.create_compute(&compute(&workspace, "bob-ci", "Standard_DS3_v2", 1)).await.unwrap_err();
    assert_eq!(clash.code, ErrorCode::ResourceAlreadyExists, "{}", clash.message);
    let again = store.create_instance(&instance(&workspace, "alice-ci", "bob")).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::ResourceAlreadyExists);

    // A state moves only from the states given.
    let running = store
        .set_instance_state(&workspace, "alice-ci", &[InstanceState::Creating], InstanceState::Running, None, 7)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((running.state, running.state_since), (InstanceState::Running, 7));
    let refused = store
        .set_instance_state(&workspace, "alice-ci", &[InstanceState::Stopped], InstanceState::Starting, None, 8)
        .await
        .unwrap();
    assert!(refused.is_none(), "a running instance is not started again");
    let stopped = store
        .set_instance_state(&workspace, "alice-ci", &[InstanceState::Running], InstanceState::Stopped, Some("idle"), 9)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stopped.reason.as_deref(), Some("idle"));

    // Its server's token and process; activity; schedules; sharing.
    store.set_instance_runtime(&workspace, "alice-ci", Some("hash-a"), Some((4242, 77))).await.unwrap();
    let found = store.find_instance_by_token("hash-a").await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.runtime_pid, found.runtime_start), ("alice-ci", Some(4242), Some(77)));
    assert!(!store.clear_instance_runtime(&workspace, "alice-ci", 4243).await.unwrap(), "another process's");
    assert!(store.find_instance_by_token("hash-a").await.unwrap().is_some(), "is left alone");
    assert!(store.clear_instance_runtime(&workspace, "alice-ci", 4242).await.unwrap());
    assert!(store.find_instance_by_token("hash-a").await.unwrap().is_none(), "a cleared token finds nothing");
    store.set_instance_runtime(&workspace, "alice-ci", None, None).await.unwrap();
    store.set_instance_activity(&workspace, "alice-ci", 11).await.unwrap();
    store.set_instance_schedules_checked(&workspace, "alice-ci", 12).await.unwrap();
    store.set_instance_sharing(&workspace, "alice-ci", &["carol".to_owned()]).await.unwrap();
    let read = store.get_instance(&workspace, "alice-ci").await.unwrap();
    assert_eq!((read.last_activity, read.schedules_checked_at), (Some(11), 12));
    assert_eq!(read.shared_with, vec!["carol"]);

    let names: Vec<String> =
        store.list_instances(Some(&workspace)).await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, vec!["alice-ci", "bob-ci"]);
    assert!(store.list_instances(None).await.unwrap().len() >= 2);
    store.delete_instance(&workspace, "bob-ci").await.unwrap();
    let gone = store.get_instance(&workspace, "bob-ci").await.unwrap_err();
    assert_eq!(gone.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.delete_instance(&workspace, "bob-ci").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}
