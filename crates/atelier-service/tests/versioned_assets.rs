//! One path for versioned assets: models, data assets and environments resolve `latest`, aliases
//! and versions, list the newest of each, and archive and restore through the same operations,
//! each kind keeping its own "newest".

use atelier_blob::BlobStore;
use atelier_core::ErrorCode;
use atelier_core::asset::{AssetKind, AssetRef};
use atelier_core::data::DataAsset;
use atelier_core::environment::{Environment, EnvironmentSpec};
use atelier_core::names::WorkspaceName;
use atelier_core::registry::ModelVersion;
use atelier_service::{NewDataAsset, NewEnvironment, NewModelVersion, Principal, Service};
use atelier_store::SqlStore;
use std::sync::Arc;

struct Fixture {
    service: Service,
    admin: Principal,
    workspace: WorkspaceName,
    _folder: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let folder = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", folder.path().join("db").display())).await.unwrap();
    let blobs = BlobStore::open(folder.path().join("blobs").to_str().unwrap()).unwrap();
    let service = Service::new(Arc::new(store), blobs);
    let secrets = service.bootstrap().await.unwrap().expect("a first start");
    let admin = service.authenticate_token(&secrets.admin_token).await.unwrap();
    Fixture { service, admin, workspace: WorkspaceName::default_workspace(), _folder: folder }
}

/// Lets the clock move on, so that versions created one after the other have different times.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

fn reference(kind: AssetKind, name: &str, version: &str) -> AssetRef {
    AssetRef::new(kind, name, version).unwrap()
}

impl Fixture {
    async fn model(&self, name: &str, version: i64) {
        let new_version = NewModelVersion {
            name: name.to_owned(),
            source: format!("s3://bucket/{name}/{version}"),
            version: Some(version),
            model_type: Some("custom_model".to_owned()),
            ..NewModelVersion::default()
        };
        self.service.create_model_asset(&self.admin, &self.workspace, None, new_version).await.unwrap();
    }

    async fn data(&self, name: &str, version: &str) {
        let new_asset = NewDataAsset {
            name: name.to_owned(),
            version: Some(version.to_owned()),
            data_type: Some("uri_file".to_owned()),
            path: format!("https://example.com/{name}/{version}.csv"),
            ..NewDataAsset::default()
        };
        self.service.create_data_asset(&self.admin, &self.workspace, new_asset).await.unwrap();
        tick().await;
    }

    async fn environment(&self, name: &str, version: &str) {
        let spec = EnvironmentSpec { requirements: vec!["six".to_owned()], ..EnvironmentSpec::default() };
        let new_environment = NewEnvironment {
            name: name.to_owned(),
            version: Some(version.to_owned()),
            description: None,
            tags: Default::default(),
            spec,
        };
        self.service.create_environment(&self.admin, &self.workspace, new_environment).await.unwrap();
        tick().await;
    }
}

#[tokio::test]
async fn a_models_latest_is_its_highest_number_not_its_last_registered() {
    let f = fixture().await;
    f.model("credit", 10).await;
    f.model("credit", 9).await;
    let latest: ModelVersion = f
        .service
        .resolve_label(&f.admin, &f.workspace, &reference(AssetKind::Model, "credit", "latest"))
        .await
        .unwrap();
    assert_eq!(latest.version, 10);
    f.service.set_model_alias(&f.admin, &f.workspace, "credit", "champion", "9").await.unwrap();
    let aliased: ModelVersion = f
        .service
        .resolve_label(&f.admin, &f.workspace, &reference(AssetKind::Model, "credit", "@champion"))
        .await
        .unwrap();
    assert_eq!(aliased.version, 9);
    // The old entry point with text still works and means the same.
    let by_text = f.service.resolve_model_version(&f.admin, &f.workspace, "credit", "@champion").await.unwrap();
    assert_eq!(by_text.version, 9);

    let archived: ModelVersion = f
        .service
        .set_asset_archived(&f.admin, &f.workspace, &reference(AssetKind::Model, "credit", "latest"), true)
        .await
        .unwrap();
    assert!(archived.archived && archived.version == 10);
    let latest = f.service.resolve_model_version(&f.admin, &f.workspace, "credit", "latest").await.unwrap();
    assert_eq!(latest.version, 9, "latest skips archived versions");
    let versions = f.service.list_model_versions(&f.admin, &f.workspace, "credit", true).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [10, 9]);
    assert_eq!(f.service.list_model_versions(&f.admin, &f.workspace, "credit", false).await.unwrap().len(), 1);
}

#[tokio::test]
async fn data_and_environments_take_the_version_created_last() {
    let f = fixture().await;
    f.data("titanic", "10").await;
    f.data("titanic", "9").await;
    let latest: DataAsset = f
        .service
        .resolve_label(&f.admin, &f.workspace, &reference(AssetKind::Data, "titanic", "latest"))
        .await
        .unwrap();
    assert_eq!(latest.version, "9");
    f.environment("sklearn", "2").await;
    f.environment("sklearn", "1").await;
    let latest = f.service.get_environment(&f.admin, &f.workspace, "sklearn", "latest").await.unwrap();
    assert_eq!(latest.version, "1");

    for version in ["1", "2"] {
        let archived: Environment = f
            .service
            .set_asset_archived(&f.admin, &f.workspace, &reference(AssetKind::Environment, "sklearn", version), true)
            .await
            .unwrap();
        assert!(archived.archived);
    }
    let error = f.service.get_environment(&f.admin, &f.workspace, "sklearn", "latest").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(
        error.message,
        "environment 'sklearn' has no version that is not archived: restore one, or name a version"
    );
    // A name that was never registered is said not to exist, with the names it is near.
    let missing = f.service.get_environment(&f.admin, &f.workspace, "sklaern", "latest").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert!(
        missing.message.starts_with("environment 'sklaern' does not exist in workspace")
            && missing.message.ends_with("did you mean 'sklearn'?"),
        "{}",
        missing.message
    );
    let missing = f.service.get_environment(&f.admin, &f.workspace, "sklaern", "3").await.unwrap_err();
    assert!(missing.message.ends_with("did you mean 'sklearn'?"), "a named version too: {}", missing.message);
    let restored = f.service.set_environment_archived(&f.admin, &f.workspace, "sklearn", "2", false).await.unwrap();
    assert!(!restored.archived);
    assert_eq!(f.service.get_environment(&f.admin, &f.workspace, "sklearn", "latest").await.unwrap().version, "2");
}

#[tokio::test]
async fn the_newest_of_each_and_what_a_reference_may_be() {
    let f = fixture().await;
    f.model("b-model", 1).await;
    f.model("a-model", 1).await;
    f.model("a-model", 2).await;
    f.data("d", "1").await;
    f.data("d", "2").await;
    let models: Vec<ModelVersion> = f.service.list_latest_assets(&f.admin, &f.workspace, false).await.unwrap();
    let shown: Vec<(String, i64)> = models.into_iter().map(|v| (v.name, v.version)).collect();
    assert_eq!(shown, [("a-model".to_owned(), 2), ("b-model".to_owned(), 1)]);
    let data = f.service.list_data_assets(&f.admin, &f.workspace, None, false).await.unwrap();
    assert_eq!(data.iter().map(|a| a.version.as_str()).collect::<Vec<_>>(), ["2"]);

    // Data assets have no aliases: said at once, as an invalid reference.
    let error = f.service.get_data_asset(&f.admin, &f.workspace, "d", "@prod").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
    assert!(error.message.contains("has no aliases"), "{}", error.message);
    // A reference of one kind is not resolved as another.
    let model_reference = reference(AssetKind::Model, "d", "1");
    let mixed = f.service.resolve_label::<DataAsset>(&f.admin, &f.workspace, &model_reference).await;
    assert_eq!(mixed.unwrap_err().code, ErrorCode::InternalError);
    let missing = f.service.resolve_model_version(&f.admin, &f.workspace, "a-model", "@nobody").await.unwrap_err();
    assert_eq!(missing.message, "Registered model alias nobody not found.");
}
