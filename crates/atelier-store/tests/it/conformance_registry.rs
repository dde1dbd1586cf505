//! The conformance suite, continued: the model registry, data assets, upload files and logged
//! models, each expanded for SQLite and PostgreSQL by `conformance!`.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_core::data::DataAsset;
use atelier_core::filter::OrderBy;
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_core::registry::{ModelVersion, RegisteredModel};
use atelier_store::{
    AssetStore, LoggedModelQuery, LoggedModelStore, RegistryQuery, RegistryStore, SqlStore, TrackingStore, UploadStore,
};
use std::collections::BTreeMap;

conformance!(
    registry_models_versions_stages_and_aliases,
    registry_rename_search_and_delete,
    data_assets_version_list_archive_and_update,
    upload_files_are_indexed_by_path_prefix,
    logged_models_and_run_outputs,
);

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
