//! [`EnvironmentStore`] for [`SqlStore`]: environments, named and versioned build specs (a
//! container image, a Python version, pip requirements, conda channels) kept as JSON text;
//! archived rather than deleted.

use crate::EnvironmentStore;
use crate::dialect::{db_error, found};
use crate::rows::{from_json, json_text};
use crate::sql::SqlStore;
use crate::versioned::next_numeric_version;
use async_trait::async_trait;
use atelier_core::environment::{Environment, EnvironmentSpec};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An environment spec as stored (JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSpec {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    python: Option<String>,
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
}

fn row_to_environment(row: &AnyRow, workspace: &WorkspaceName) -> Result<Environment> {
    let spec: StoredSpec = from_json(row, "spec")?;
    Ok(Environment {
        workspace: workspace.clone(),
        name: row.try_get("name").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        spec: EnvironmentSpec {
            image: spec.image,
            python: spec.python,
            requirements: spec.requirements,
            channels: spec.channels,
        },
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        archived: row.try_get::<i64, _>("archived").map_err(db_error)? != 0,
        created_by: row.try_get("created_by").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
    })
}

#[async_trait]
impl EnvironmentStore for SqlStore {
    async fn create_environment(&self, environment: &Environment) -> Result<Environment> {
        let mut transaction = self.begin_write().await?;
        let mut version = environment.version.clone();
        if version.is_empty() {
            let rows = sqlx::query("SELECT version FROM environments WHERE workspace = $1 AND name = $2")
                .bind(environment.workspace.as_str())
                .bind(environment.name.as_str())
                .fetch_all(&mut *transaction)
                .await
                .map_err(db_error)?;
            let taken =
                rows.iter().map(|row| row.try_get::<String, _>("version")).collect::<std::result::Result<Vec<_>, _>>();
            version = next_numeric_version(taken.map_err(db_error)?);
        }
        let spec = StoredSpec {
            image: environment.spec.image.clone(),
            python: environment.spec.python.clone(),
            requirements: environment.spec.requirements.clone(),
            channels: environment.spec.channels.clone(),
        };
        sqlx::query(
            "INSERT INTO environments (workspace, name, version, spec, description, tags, archived, created_by, creation_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(environment.workspace.as_str())
        .bind(environment.name.as_str())
        .bind(version.as_str())
        .bind(json_text(&spec)?)
        .bind(environment.description.as_str())
        .bind(json_text(&environment.tags)?)
        .bind(i64::from(environment.archived))
        .bind(environment.created_by.as_str())
        .bind(environment.creation_time)
        .execute(&mut *transaction)
        .await
        .map_err(|error| match db_error(error) {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "environment {} version {version} already exists; versions cannot be changed, register a new one",
                environment.name
            )),
            error => error,
        })?;
        transaction.commit().await?;
        Ok(Environment { version, ..environment.clone() })
    }

    async fn get_environment(&self, workspace: &WorkspaceName, name: &str, version: &str) -> Result<Environment> {
        let row = sqlx::query("SELECT * FROM environments WHERE workspace = $1 AND name = $2 AND version = $3")
            .bind(workspace.as_str())
            .bind(name)
            .bind(version)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("environment '{name}' version '{version}' not found")))?;
        row_to_environment(&row, workspace)
    }

    async fn list_environments(
        &self,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<Environment>> {
        self.list_versions("environments", workspace, name, include_archived, row_to_environment, |environment| {
            &environment.name
        })
        .await
    }

    async fn set_environment_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query(
                    "UPDATE environments SET archived = $4 WHERE workspace = $1 AND name = $2 AND version = $3",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(version)
                .bind(i64::from(archived)),
            )
            .await?;
        found(done.rows_affected(), || format!("environment '{name}' version '{version}' not found"))
    }
}
