//! [`AccessStore`] for [`SqlStore`]: workspaces (each created with its `Default` experiment),
//! users and their password hashes, API tokens (only their hashes are stored), and studio
//! sessions.

use crate::dialect::{db_error, found};
use crate::rows::{bool_to_int, row_to_token, row_to_user, row_to_user_columns, row_to_workspace, tags_to_json};
use crate::sql::SqlStore;
use crate::{AccessStore, Session, SignInRequest, UserRecord};
use async_trait::async_trait;
use atelier_core::model::*;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, Result};
use sqlx::Row;
use std::collections::BTreeMap;

#[async_trait]
impl AccessStore for SqlStore {
    async fn create_workspace(&self, workspace: &Workspace, artifact_root: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO workspaces (name, description, tags, next_experiment_id, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(workspace.name.as_str())
        .bind(workspace.description.as_str())
        .bind(tags_to_json(&workspace.tags))
        .bind(workspace.created_at)
        .bind(workspace.updated_at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        if inserted.rows_affected() == 0 {
            return Err(Error::already_exists(format!("workspace '{}' already exists", workspace.name)));
        }
        sqlx::query(
            "INSERT INTO experiments (workspace, experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ($1, $2, $3, $4, 'active', $5, $5)",
        )
        .bind(workspace.name.as_str())
        .bind(DEFAULT_EXPERIMENT_ID)
        .bind(DEFAULT_EXPERIMENT_NAME)
        .bind(format!("{artifact_root}/{DEFAULT_EXPERIMENT_ID}"))
        .bind(workspace.created_at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn get_workspace(&self, name: &WorkspaceName) -> Result<Workspace> {
        let row = sqlx::query("SELECT * FROM workspaces WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("workspace '{name}' does not exist")))?;
        row_to_workspace(&row)
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows =
            sqlx::query("SELECT * FROM workspaces ORDER BY name").fetch_all(&self.read).await.map_err(db_error)?;
        rows.iter().map(row_to_workspace).collect()
    }

    async fn update_workspace(
        &self,
        name: &WorkspaceName,
        description: Option<&str>,
        tags: Option<&BTreeMap<String, String>>,
        now: Millis,
    ) -> Result<Workspace> {
        let result = self.execute_write(sqlx::query(
            "UPDATE workspaces SET description = COALESCE($2, description), tags = COALESCE($3, tags), updated_at = $4 WHERE name = $1",
        )
        .bind(name.as_str())
        .bind(description)
        .bind(tags.map(tags_to_json))
        .bind(now)
        ).await?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("workspace '{name}' does not exist")));
        }
        let row = sqlx::query("SELECT * FROM workspaces WHERE name = $1")
            .bind(name.as_str())
            .fetch_one(&self.write)
            .await
            .map_err(db_error)?;
        row_to_workspace(&row)
    }

    async fn delete_workspace(&self, name: &WorkspaceName) -> Result<()> {
        let result =
            self.execute_write(sqlx::query("DELETE FROM workspaces WHERE name = $1").bind(name.as_str())).await?;
        found(result.rows_affected(), || format!("workspace '{name}' does not exist"))
    }

    async fn create_user(&self, user: &User, password_hash: Option<&str>) -> Result<()> {
        let result = self.execute_write(sqlx::query(
            "INSERT INTO users (name, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(user.name.as_str())
        .bind(password_hash)
        .bind(bool_to_int(user.is_admin))
        .bind(user.created_at)
        ).await?;
        if result.rows_affected() == 0 {
            return Err(Error::already_exists(format!("user '{}' already exists", user.name)));
        }
        Ok(())
    }

    async fn get_user(&self, name: &UserName) -> Result<UserRecord> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("user '{name}' does not exist")))?;
        Ok(UserRecord { user: row_to_user(&row)?, password_hash: row.try_get("password_hash").map_err(db_error)? })
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name").fetch_all(&self.read).await.map_err(db_error)?;
        rows.iter().map(row_to_user).collect()
    }

    async fn set_password(&self, name: &UserName, password_hash: &str) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("UPDATE users SET password_hash = $2 WHERE name = $1")
                    .bind(name.as_str())
                    .bind(password_hash),
            )
            .await?;
        found(result.rows_affected(), || format!("user '{name}' does not exist"))
    }

    async fn set_user_disabled(&self, name: &UserName, disabled_at: Option<Millis>) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let result = sqlx::query("UPDATE users SET disabled_at = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(disabled_at)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("user '{name}' does not exist"))?;
        if disabled_at.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_name = $1")
                .bind(name.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
        }
        transaction.commit().await
    }

    async fn create_token(&self, token: &TokenInfo, token_hash: &str) -> Result<()> {
        self.execute_write(sqlx::query(
            "INSERT INTO api_tokens (id, user_name, token_hash, description, created_at, expires_at, scope) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token.id.as_str())
        .bind(token.user.as_str())
        .bind(token_hash)
        .bind(token.description.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.scope.as_str())
        ).await?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str, now: Millis) -> Result<Option<(TokenInfo, User)>> {
        let row = sqlx::query(
            "SELECT t.id, t.user_name, t.description, t.created_at, t.expires_at, t.scope, t.last_used_at, \
                    u.name, u.is_admin, u.created_at AS user_created_at, u.disabled_at \
             FROM api_tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let token = row_to_token(&row)?;
        let user = row_to_user_columns(&row, "user_created_at")?;
        Ok(Some((token, user)))
    }

    async fn list_tokens(&self, user: Option<&UserName>) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, user_name, description, created_at, expires_at, scope, last_used_at FROM api_tokens \
             WHERE $1 IS NULL OR user_name = $1 ORDER BY created_at, id",
        )
        .bind(user.map(|name| name.as_str()))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(row_to_token).collect()
    }

    async fn get_token(&self, id: &str) -> Result<TokenInfo> {
        let row = sqlx::query(
            "SELECT id, user_name, description, created_at, expires_at, scope, last_used_at FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(format!("token '{id}' does not exist")))?;
        row_to_token(&row)
    }

    async fn delete_token(&self, id: &str) -> Result<()> {
        let result = self.execute_write(sqlx::query("DELETE FROM api_tokens WHERE id = $1").bind(id)).await?;
        found(result.rows_affected(), || format!("token '{id}' does not exist"))
    }

    async fn touch_token(&self, id: &str, at: Millis) -> Result<()> {
        self.execute_write(
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            )
            .bind(id)
            .bind(at),
        )
        .await?;
        Ok(())
    }

    async fn create_session(&self, session: &Session) -> Result<()> {
        // Expired sessions are swept as new ones are made.
        self.execute_write(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(session.created_at)).await?;
        self.execute_write(sqlx::query(
            "INSERT INTO sessions (id_hash, user_name, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.id_hash.as_str())
        .bind(session.user.as_str())
        .bind(session.csrf_token.as_str())
        .bind(session.created_at)
        .bind(session.expires_at)
        ).await?;
        Ok(())
    }

    async fn find_session(&self, id_hash: &str, now: Millis) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT s.id_hash, s.user_name, s.csrf_token, s.created_at, s.expires_at, u.name, u.is_admin, \
                    u.created_at AS user_created_at, u.disabled_at \
             FROM sessions s JOIN users u ON u.name = s.user_name \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let user = row_to_user_columns(&row, "user_created_at")?;
        let session = Session {
            id_hash: row.try_get("id_hash").map_err(db_error)?,
            user: user.name.clone(),
            csrf_token: row.try_get("csrf_token").map_err(db_error)?,
            created_at: row.try_get("created_at").map_err(db_error)?,
            expires_at: row.try_get("expires_at").map_err(db_error)?,
        };
        Ok(Some((session, user)))
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.execute_write(sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash)).await?;
        Ok(())
    }

    async fn create_sign_in_request(&self, request: &SignInRequest, now: Millis) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("DELETE FROM sign_in_requests WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO sign_in_requests (state_hash, browser_hash, nonce, verifier, next_path, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(request.state_hash.as_str())
        .bind(request.browser_hash.as_str())
        .bind(request.nonce.as_str())
        .bind(request.verifier.as_str())
        .bind(request.next_path.as_str())
        .bind(request.expires_at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn take_sign_in_request(&self, state_hash: &str, now: Millis) -> Result<Option<SignInRequest>> {
        let mut transaction = self.begin_write().await?;
        let row = sqlx::query(
            "DELETE FROM sign_in_requests WHERE state_hash = $1 \
             RETURNING state_hash, browser_hash, nonce, verifier, next_path, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        transaction.commit().await?;
        let request = SignInRequest {
            state_hash: row.try_get("state_hash").map_err(db_error)?,
            browser_hash: row.try_get("browser_hash").map_err(db_error)?,
            nonce: row.try_get("nonce").map_err(db_error)?,
            verifier: row.try_get("verifier").map_err(db_error)?,
            next_path: row.try_get("next_path").map_err(db_error)?,
            expires_at: row.try_get("expires_at").map_err(db_error)?,
        };
        Ok(Some(request).filter(|request| request.expires_at > now))
    }
}
