//! Endpoints' tables: endpoints (with their sealed keys) and deployments.

use crate::EndpointStore;
use crate::dialect::{db_error, found};
use crate::sql::SqlStore;
use async_trait::async_trait;
use atelier_core::endpoint::{AuthMode, Deployment, Endpoint, ProvisioningState};
use atelier_core::model::Millis;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::internal(format!("encoding an endpoint failed: {error}")))
}

fn from_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column).map_err(db_error)?;
    serde_json::from_str(&text)
        .map_err(|error| Error::internal(format!("endpoint column {column} is not JSON: {error}")))
}

fn row_to_endpoint(row: &AnyRow) -> Result<(Endpoint, String)> {
    let workspace: String = row.try_get("workspace").map_err(db_error)?;
    let auth_mode: String = row.try_get("auth_mode").map_err(db_error)?;
    let endpoint = Endpoint {
        workspace: WorkspaceName::parse(&workspace)?,
        name: row.try_get("name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        auth_mode: AuthMode::parse(&auth_mode)?,
        traffic: from_json(row, "traffic")?,
        mirror_traffic: from_json(row, "mirror_traffic")?,
        created_by: row.try_get("created_by").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    };
    Ok((endpoint, row.try_get("sealed_keys").map_err(db_error)?))
}

fn row_to_deployment(row: &AnyRow) -> Result<Deployment> {
    let workspace: String = row.try_get("workspace").map_err(db_error)?;
    let state: String = row.try_get("state").map_err(db_error)?;
    Ok(Deployment {
        workspace: WorkspaceName::parse(&workspace)?,
        endpoint: row.try_get("endpoint").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        state: ProvisioningState::parse(&state)?,
        error: row.try_get("error").map_err(db_error)?,
        spec_yaml: row.try_get("spec_yaml").map_err(db_error)?,
        plan: row.try_get("plan").map_err(db_error)?,
        model_name: row.try_get("model_name").map_err(db_error)?,
        model_version: row.try_get("model_version").map_err(db_error)?,
        instance_count: row.try_get("instance_count").map_err(db_error)?,
        generation: row.try_get("generation").map_err(db_error)?,
        snapshot: row.try_get("snapshot").map_err(db_error)?,
        created_by: row.try_get("created_by").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

fn missing_endpoint(name: &str) -> String {
    format!("online endpoint '{name}' not found")
}

fn missing_deployment(endpoint: &str, name: &str) -> String {
    format!("deployment '{name}' not found in online endpoint '{endpoint}'")
}

#[async_trait]
impl EndpointStore for SqlStore {
    async fn create_endpoint(&self, endpoint: &Endpoint, sealed_keys: &str) -> Result<()> {
        self.execute_write(
            sqlx::query(
                "INSERT INTO endpoints (name, workspace, description, tags, auth_mode, traffic, mirror_traffic, \
             sealed_keys, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(endpoint.name.as_str())
            .bind(endpoint.workspace.as_str())
            .bind(endpoint.description.as_deref())
            .bind(json_text(&endpoint.tags)?)
            .bind(endpoint.auth_mode.as_str())
            .bind(json_text(&endpoint.traffic)?)
            .bind(json_text(&endpoint.mirror_traffic)?)
            .bind(sealed_keys)
            .bind(endpoint.created_by.as_str())
            .bind(endpoint.created_at)
            .bind(endpoint.updated_at),
        )
        .await
        .map_err(|error| match error {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "online endpoint '{}' already exists (endpoint names are unique on the server)",
                endpoint.name
            )),
            error => error,
        })?;
        Ok(())
    }

    async fn get_endpoint(&self, name: &str) -> Result<(Endpoint, String)> {
        let row = sqlx::query("SELECT * FROM endpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(missing_endpoint(name)))?;
        row_to_endpoint(&row)
    }

    async fn list_endpoints(&self, workspace: Option<&WorkspaceName>) -> Result<Vec<(Endpoint, String)>> {
        let rows = match workspace {
            Some(workspace) => {
                sqlx::query("SELECT * FROM endpoints WHERE workspace = $1 ORDER BY name")
                    .bind(workspace.as_str())
                    .fetch_all(&self.read)
                    .await
            }
            None => sqlx::query("SELECT * FROM endpoints ORDER BY name").fetch_all(&self.read).await,
        }
        .map_err(db_error)?;
        rows.iter().map(row_to_endpoint).collect()
    }

    async fn update_endpoint(&self, endpoint: &Endpoint, sealed_keys: Option<&str>) -> Result<()> {
        let result = self.execute_write(sqlx::query(
            "UPDATE endpoints SET description = $1, tags = $2, auth_mode = $3, traffic = $4, mirror_traffic = $5, \
             sealed_keys = COALESCE($6, sealed_keys), updated_at = $7 WHERE name = $8",
        )
        .bind(endpoint.description.as_deref())
        .bind(json_text(&endpoint.tags)?)
        .bind(endpoint.auth_mode.as_str())
        .bind(json_text(&endpoint.traffic)?)
        .bind(json_text(&endpoint.mirror_traffic)?)
        .bind(sealed_keys)
        .bind(endpoint.updated_at)
        .bind(endpoint.name.as_str())
        ).await?;
        found(result.rows_affected(), || missing_endpoint(&endpoint.name))
    }

    async fn delete_endpoint(&self, name: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("DELETE FROM deployments WHERE endpoint = $1")
            .bind(name)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        let result = sqlx::query("DELETE FROM endpoints WHERE name = $1")
            .bind(name)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || missing_endpoint(name))?;
        transaction.commit().await
    }

    async fn put_deployment(&self, deployment: &Deployment) -> Result<Deployment> {
        let mut transaction = self.begin_write().await?;
        let endpoint = sqlx::query("SELECT 1 AS present FROM endpoints WHERE name = $1")
            .bind(deployment.endpoint.as_str())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?;
        if endpoint.is_none() {
            return Err(Error::not_found(missing_endpoint(&deployment.endpoint)));
        }
        sqlx::query(
            "INSERT INTO deployments (endpoint, name, workspace, description, tags, state, error, spec_yaml, plan, \
             model_name, model_version, instance_count, generation, snapshot, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (endpoint, name) DO UPDATE SET description = $4, tags = $5, state = $6, error = $7, \
             spec_yaml = $8, plan = $9, model_name = $10, model_version = $11, instance_count = $12, \
             generation = $13, snapshot = $14, updated_at = $17",
        )
        .bind(deployment.endpoint.as_str())
        .bind(deployment.name.as_str())
        .bind(deployment.workspace.as_str())
        .bind(deployment.description.as_deref())
        .bind(json_text(&deployment.tags)?)
        .bind(deployment.state.as_str())
        .bind(deployment.error.as_deref())
        .bind(deployment.spec_yaml.as_str())
        .bind(deployment.plan.as_str())
        .bind(deployment.model_name.as_deref())
        .bind(deployment.model_version.as_deref())
        .bind(deployment.instance_count)
        .bind(deployment.generation)
        .bind(deployment.snapshot.as_deref())
        .bind(deployment.created_by.as_str())
        .bind(deployment.created_at)
        .bind(deployment.updated_at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await?;
        self.get_deployment(&deployment.endpoint, &deployment.name).await
    }

    async fn get_deployment(&self, endpoint: &str, name: &str) -> Result<Deployment> {
        let row = sqlx::query("SELECT * FROM deployments WHERE endpoint = $1 AND name = $2")
            .bind(endpoint)
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(missing_deployment(endpoint, name)))?;
        row_to_deployment(&row)
    }

    async fn list_deployments(&self, endpoint: Option<&str>) -> Result<Vec<Deployment>> {
        let rows = match endpoint {
            Some(endpoint) => {
                sqlx::query("SELECT * FROM deployments WHERE endpoint = $1 ORDER BY name")
                    .bind(endpoint)
                    .fetch_all(&self.read)
                    .await
            }
            None => sqlx::query("SELECT * FROM deployments ORDER BY endpoint, name").fetch_all(&self.read).await,
        }
        .map_err(db_error)?;
        rows.iter().map(row_to_deployment).collect()
    }

    async fn set_deployment_state(
        &self,
        endpoint: &str,
        name: &str,
        generation: i64,
        state: ProvisioningState,
        error: Option<&str>,
        at: Millis,
    ) -> Result<()> {
        self.execute_write(
            sqlx::query(
                "UPDATE deployments SET state = $1, error = $2, updated_at = $3 \
             WHERE endpoint = $4 AND name = $5 AND generation = $6",
            )
            .bind(state.as_str())
            .bind(error)
            .bind(at)
            .bind(endpoint)
            .bind(name)
            .bind(generation),
        )
        .await?;
        Ok(())
    }

    async fn delete_deployment(&self, endpoint: &str, name: &str) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("DELETE FROM deployments WHERE endpoint = $1 AND name = $2").bind(endpoint).bind(name),
            )
            .await?;
        found(result.rows_affected(), || missing_deployment(endpoint, name))
    }

    async fn deployments_of_model(&self, workspace: &WorkspaceName, model: &str) -> Result<Vec<Deployment>> {
        let rows =
            sqlx::query("SELECT * FROM deployments WHERE workspace = $1 AND model_name = $2 ORDER BY endpoint, name")
                .bind(workspace.as_str())
                .bind(model)
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
        rows.iter().map(row_to_deployment).collect()
    }
}
