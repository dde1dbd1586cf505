//! One path for versioned assets: model versions, data assets, environments and components are
//! resolved, listed, archived and restored by the same operations, generic over
//! [`VersionedAsset`]. Which version a reference means is read once, at the edge, into an
//! [`AssetRef`]; `latest` is the newest version that is not archived by the kind's own rule
//! ([`atelier_core::asset::latest`]). What differs between kinds (where the store keeps them,
//! whether aliases exist) is the private [`sealed::Lookup`].

use crate::{Principal, Service, Target, now_millis};
use atelier_core::asset::{self, AssetRef, VersionSelector, Versioned};
use atelier_core::component::Component;
use atelier_core::data::DataAsset;
use atelier_core::environment::Environment;
use atelier_core::filter;
use atelier_core::model::Millis;
use atelier_core::names::WorkspaceName;
use atelier_core::registry::{self, ModelVersion};
use atelier_core::{Error, Result};
use atelier_store::RegistryQuery;

/// A kind of versioned asset the service keeps: [`ModelVersion`], [`DataAsset`],
/// [`Environment`], [`Component`]. Sealed: the reads behind it decide no access, so only this crate may
/// implement or call them.
pub trait VersionedAsset: Versioned + sealed::Lookup + Clone + Send + Sync + 'static {}

impl VersionedAsset for ModelVersion {}
impl VersionedAsset for DataAsset {}
impl VersionedAsset for Environment {}
impl VersionedAsset for Component {}

/// A kind of versioned asset whose versions hold files: [`ModelVersion`], [`DataAsset`],
/// [`Component`] (its code).
pub trait AssetWithFiles: VersionedAsset + sealed::Files {}

impl AssetWithFiles for ModelVersion {}
impl AssetWithFiles for DataAsset {}
impl AssetWithFiles for Component {}

pub(crate) mod sealed {
    use super::*;
    use std::future::Future;

    /// Where the store keeps one kind of versioned asset. Nothing here authorizes: the
    /// operations of [`Service`] that call it do.
    pub trait Lookup: Versioned + Sized {
        /// One version by its version text.
        fn one(
            service: &Service,
            workspace: &WorkspaceName,
            name: &str,
            version: &str,
        ) -> impl Future<Output = Result<Self>> + Send;
        /// The versions of one asset, newest first; archived ones only when asked.
        fn versions(
            service: &Service,
            workspace: &WorkspaceName,
            name: &str,
            include_archived: bool,
        ) -> impl Future<Output = Result<Vec<Self>>> + Send;
        /// The newest version of every asset of the kind, by name.
        fn newest_of_each(
            service: &Service,
            workspace: &WorkspaceName,
            include_archived: bool,
        ) -> impl Future<Output = Result<Vec<Self>>> + Send;
        /// The version an alias points at; only kinds that take aliases have any.
        fn aliased(
            _service: &Service,
            _workspace: &WorkspaceName,
            name: &str,
            alias: &str,
        ) -> impl Future<Output = Result<Self>> + Send {
            let message = format!("'{name}@{alias}': a {} has no aliases", Self::KIND.noun());
            async move { Err(Error::invalid(message)) }
        }
        fn write_archived(
            service: &Service,
            version: &Self,
            archived: bool,
            now: Millis,
        ) -> impl Future<Output = Result<()>> + Send;
    }

    /// Where a kind's files are read. Each operation authorizes the caller itself.
    pub trait Files: Sized {
        /// Every file of a version, with its size.
        fn files(
            service: &Service,
            principal: &Principal,
            workspace: &WorkspaceName,
            asset: &Self,
        ) -> impl Future<Output = Result<Vec<(String, u64)>>> + Send;
        /// One file of a version, by a path from its list.
        fn open(
            service: &Service,
            principal: &Principal,
            workspace: &WorkspaceName,
            asset: &Self,
            relative: &str,
        ) -> impl Future<Output = Result<atelier_blob::Download>> + Send;
    }
}

use sealed::{Files, Lookup};

impl Files for ModelVersion {
    async fn files(
        service: &Service,
        principal: &Principal,
        workspace: &WorkspaceName,
        version: &Self,
    ) -> Result<Vec<(String, u64)>> {
        service.model_version_files(principal, workspace, version).await
    }

    async fn open(
        service: &Service,
        principal: &Principal,
        workspace: &WorkspaceName,
        version: &Self,
        relative: &str,
    ) -> Result<atelier_blob::Download> {
        service.download_model_file(principal, workspace, version, relative).await
    }
}

impl Files for DataAsset {
    async fn files(
        service: &Service,
        principal: &Principal,
        workspace: &WorkspaceName,
        asset: &Self,
    ) -> Result<Vec<(String, u64)>> {
        service.data_asset_files(principal, workspace, asset).await
    }

    async fn open(
        service: &Service,
        principal: &Principal,
        workspace: &WorkspaceName,
        asset: &Self,
        relative: &str,
    ) -> Result<atelier_blob::Download> {
        service.download_data_file(principal, workspace, asset, relative).await
    }
}

impl Files for Component {
    async fn files(
        service: &Service,
        principal: &Principal,
        workspace: &WorkspaceName,
        component: &Self,
    ) -> Result<Vec<(String, u64)>> {
        service.component_files(principal, workspace, component).await
    }

    async fn open(
        service: &Service,
        principal: &Principal,
        workspace: &WorkspaceName,
        component: &Self,
        relative: &str,
    ) -> Result<atelier_blob::Download> {
        service.open_component_file(principal, workspace, component, relative).await
    }
}

impl Lookup for ModelVersion {
    async fn one(service: &Service, workspace: &WorkspaceName, name: &str, version: &str) -> Result<Self> {
        let version = registry::parse_version(version)?;
        service.store.get_model_version(workspace, name, version).await
    }

    async fn versions(
        service: &Service,
        workspace: &WorkspaceName,
        name: &str,
        include_archived: bool,
    ) -> Result<Vec<Self>> {
        service.store.get_registered_model(workspace, name).await?;
        let filter = filter::parse_model_version_filter(&format!("name = '{}'", name.replace('\'', "''")))?;
        let mut versions = model_versions(service, workspace, &filter).await?;
        versions.retain(|version| include_archived || !version.archived);
        asset::sort_newest_first(&mut versions);
        Ok(versions)
    }

    async fn newest_of_each(service: &Service, workspace: &WorkspaceName, include_archived: bool) -> Result<Vec<Self>> {
        let versions = model_versions(service, workspace, &[]).await?;
        Ok(asset::newest_of_each(versions, include_archived))
    }

    async fn aliased(service: &Service, workspace: &WorkspaceName, name: &str, alias: &str) -> Result<Self> {
        let model = service.store.get_registered_model(workspace, name).await?;
        let Some(target) = model.aliases.iter().find(|candidate| candidate.alias == alias) else {
            // MLflow's message: its clients read it.
            return Err(Error::invalid(format!("Registered model alias {alias} not found.")));
        };
        service.store.get_model_version(workspace, name, target.version).await
    }

    async fn write_archived(service: &Service, version: &Self, archived: bool, now: Millis) -> Result<()> {
        let store = &service.store;
        store.set_model_version_archived(&version.workspace, &version.name, version.version, archived, now).await
    }
}

/// The model versions a filter selects, by name.
async fn model_versions(
    service: &Service,
    workspace: &WorkspaceName,
    filter: &[filter::Comparison],
) -> Result<Vec<ModelVersion>> {
    let order_by = [filter::parse_model_version_order_by("name ASC")?];
    let query = RegistryQuery {
        workspace,
        filter,
        order_by: &order_by,
        limit: crate::registry::SEARCH_VERSIONS_MAX_RESULTS,
        offset: 0,
    };
    service.store.search_model_versions(&query).await
}

/// `Lookup` for a kind the store keeps by name and version text: its store's get, list (by name,
/// or the newest of each) and archive methods.
macro_rules! stored_by_text {
    ($type:ty, $get:ident, $list:ident, |$store:ident, $version:ident, $archived:ident, $now:ident| $archive:expr) => {
        impl Lookup for $type {
            async fn one(service: &Service, workspace: &WorkspaceName, name: &str, version: &str) -> Result<Self> {
                service.store.$get(workspace, name, version).await
            }

            async fn versions(
                service: &Service,
                workspace: &WorkspaceName,
                name: &str,
                include_archived: bool,
            ) -> Result<Vec<Self>> {
                service.store.$list(workspace, Some(name), include_archived).await
            }

            async fn newest_of_each(
                service: &Service,
                workspace: &WorkspaceName,
                include_archived: bool,
            ) -> Result<Vec<Self>> {
                service.store.$list(workspace, None, include_archived).await
            }

            async fn write_archived(service: &Service, $version: &Self, $archived: bool, $now: Millis) -> Result<()> {
                let $store = &service.store;
                $archive.await
            }
        }
    };
}

stored_by_text!(DataAsset, get_data_asset, list_data_assets, |store, asset, archived, now| store
    .set_data_asset_archived(&asset.workspace, &asset.name, &asset.version, archived, now));
stored_by_text!(Environment, get_environment, list_environments, |store, environment, archived, _now| store
    .set_environment_archived(&environment.workspace, &environment.name, &environment.version, archived));
stored_by_text!(Component, get_component, list_components, |store, component, archived, _now| store
    .set_component_archived(&component.workspace, &component.name, &component.version, archived));

/// The operations every versioned asset has.
impl Service {
    /// The version a reference means: a version, `latest` (the newest version that is not
    /// archived, by the kind's rule) or, for models, `@alias`.
    pub async fn resolve_label<T: VersionedAsset>(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        reference: &AssetRef,
    ) -> Result<T> {
        self.authorize_on(principal, workspace, T::KIND.read_action(), Target::Assets).await?;
        if reference.kind != T::KIND {
            return Err(Error::internal(format!(
                "a {} reference was resolved as a {}",
                reference.kind.noun(),
                T::KIND.noun()
            )));
        }
        let name = reference.name.as_str();
        let found = match &reference.version {
            VersionSelector::Version(version) => T::one(self, workspace, name, version).await,
            VersionSelector::Alias(alias) => T::aliased(self, workspace, name, alias).await,
            VersionSelector::Latest => {
                let versions = T::versions(self, workspace, name, false).await?;
                match asset::latest(&versions) {
                    Some(latest) => Ok(latest.clone()),
                    None => Err(Error::not_found(format!(
                        "{} '{name}' has no version that is not archived: restore one, or name a version",
                        T::KIND.noun()
                    ))),
                }
            }
        };
        match found {
            Err(error) if error.code == atelier_core::ErrorCode::ResourceDoesNotExist => {
                Err(self.when_missing::<T>(workspace, name).await.unwrap_or(error))
            }
            other => other,
        }
    }

    /// Where a reference found nothing: `None` if the asset exists (the error at hand says what
    /// is missing), else the error that says it does not exist, with the nearest names.
    async fn when_missing<T: VersionedAsset>(&self, workspace: &WorkspaceName, name: &str) -> Option<Error> {
        let any = T::versions(self, workspace, name, true).await.ok()?;
        if !any.is_empty() {
            return None;
        }
        let known: Vec<String> = T::newest_of_each(self, workspace, true)
            .await
            .ok()?
            .iter()
            .map(|version| version.asset_name().to_owned())
            .collect();
        Some(Error::not_found(format!(
            "{} '{name}' does not exist in workspace '{workspace}'{}",
            T::KIND.noun(),
            atelier_core::names::did_you_mean(name, &known)
        )))
    }

    /// The versions of one asset, newest first; archived ones only when asked.
    pub async fn list_asset_versions<T: VersionedAsset>(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        include_archived: bool,
    ) -> Result<Vec<T>> {
        self.authorize_on(principal, workspace, T::KIND.read_action(), Target::Assets).await?;
        T::versions(self, workspace, name, include_archived).await
    }

    /// The newest version of every asset of a kind (archived versions only when asked).
    pub async fn list_latest_assets<T: VersionedAsset>(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        include_archived: bool,
    ) -> Result<Vec<T>> {
        self.authorize_on(principal, workspace, T::KIND.read_action(), Target::Assets).await?;
        T::newest_of_each(self, workspace, include_archived).await
    }

    /// Archives a version (it leaves lists and `latest`, but still loads) or restores it.
    pub async fn set_asset_archived<T: VersionedAsset>(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        reference: &AssetRef,
        archived: bool,
    ) -> Result<T> {
        self.authorize(principal, workspace, T::KIND.write_action()).await?;
        let version: T = self.resolve_label(principal, workspace, reference).await?;
        T::write_archived(self, &version, archived, now_millis()).await?;
        T::one(self, workspace, version.asset_name(), &version.version_text()).await
    }

    /// Every file of the version `reference` names, with its size, paths starting with the
    /// name of the file or folder it was registered from.
    pub async fn asset_version_files<T: AssetWithFiles>(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        reference: &AssetRef,
    ) -> Result<Vec<(String, u64)>> {
        let version: T = self.resolve_label(principal, workspace, reference).await?;
        T::files(self, principal, workspace, &version).await
    }

    /// One file of the version `reference` names, by a path from its list.
    pub async fn download_asset_version_file<T: AssetWithFiles>(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        reference: &AssetRef,
        relative: &str,
    ) -> Result<atelier_blob::Download> {
        let version: T = self.resolve_label(principal, workspace, reference).await?;
        T::open(self, principal, workspace, &version, relative).await
    }
}
