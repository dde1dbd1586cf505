//! Row mapping: from the database's rows to the core's values, for workspaces, users, tokens,
//! experiments, runs and logged models, and the loaders that fill in the children of a page of
//! runs or logged models (params, tags, metrics, inputs, outputs) in a few queries.
//!
//! Also the small conversions every table shares: flags as integers, names and stages read
//! back with a check, JSON kept as TEXT.

use crate::dialect::{Bind, Dialect, bound, db_error, placeholder, placeholder_list};
use crate::sql::SqlStore;
use atelier_core::model::*;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::{BTreeMap, HashMap};

/// The columns of `runs` that make a [`RunInfo`], in [`row_to_run_info`]'s names.
pub(crate) const RUN_COLUMNS: &str =
    "run_uuid, workspace, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri";

pub(crate) fn bool_to_int(flag: bool) -> i64 {
    i64::from(flag)
}

pub(crate) fn tags_to_json(tags: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".to_owned())
}

/// A value for a JSON TEXT column.
pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::internal(format!("encoding a stored value failed: {error}")))
}

/// A JSON TEXT column, decoded.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column).map_err(db_error)?;
    serde_json::from_str(&text).map_err(|error| Error::internal(format!("stored column {column} is not JSON: {error}")))
}

pub(crate) fn workspace_name(text: String) -> Result<WorkspaceName> {
    WorkspaceName::parse(&text).map_err(|_| Error::internal(format!("stored workspace name '{text}' is invalid")))
}

pub(crate) fn stage_from(text: &str) -> Result<LifecycleStage> {
    LifecycleStage::parse(text).ok_or_else(|| Error::internal(format!("stored lifecycle stage '{text}' is invalid")))
}

pub(crate) fn row_to_workspace(row: &AnyRow) -> Result<Workspace> {
    let tags_json: String = row.try_get("tags").map_err(db_error)?;
    Ok(Workspace {
        name: workspace_name(row.try_get("name").map_err(db_error)?)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: serde_json::from_str(&tags_json).unwrap_or_default(),
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

/// A user from a row whose creation time is in `created_column` (joins rename it).
pub(crate) fn row_to_user_columns(row: &AnyRow, created_column: &str) -> Result<User> {
    let name: String = row.try_get("name").map_err(db_error)?;
    Ok(User {
        name: UserName::parse(&name).map_err(|_| Error::internal(format!("stored user name '{name}' is invalid")))?,
        is_admin: row.try_get::<i64, _>("is_admin").map_err(db_error)? != 0,
        created_at: row.try_get(created_column).map_err(db_error)?,
        disabled_at: row.try_get("disabled_at").map_err(db_error)?,
    })
}

pub(crate) fn row_to_user(row: &AnyRow) -> Result<User> {
    row_to_user_columns(row, "created_at")
}

pub(crate) fn row_to_token(row: &AnyRow) -> Result<TokenInfo> {
    let user: String = row.try_get("user_name").map_err(db_error)?;
    Ok(TokenInfo {
        id: row.try_get("id").map_err(db_error)?,
        user: UserName::parse(&user).map_err(|_| Error::internal("stored user name is invalid"))?,
        description: row.try_get("description").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
        scope: TokenScope::parse(&row.try_get::<String, _>("scope").map_err(db_error)?)
            .map_err(|_| Error::internal("stored token scope is invalid"))?,
        last_used_at: row.try_get("last_used_at").map_err(db_error)?,
    })
}

/// An experiment without its tags (see [`SqlStore::experiment_tags`]).
pub(crate) fn row_to_experiment(row: &AnyRow) -> Result<Experiment> {
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    Ok(Experiment {
        workspace: workspace_name(row.try_get("workspace").map_err(db_error)?)?,
        experiment_id: row.try_get("experiment_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        artifact_location: row.try_get("artifact_location").map_err(db_error)?,
        lifecycle_stage: stage_from(&stage)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
        last_update_time: row.try_get("last_update_time").map_err(db_error)?,
        tags: Vec::new(),
    })
}

/// A run's info from a row with [`RUN_COLUMNS`].
pub(crate) fn row_to_run_info(row: &AnyRow) -> Result<RunInfo> {
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    let run_uuid: String = row.try_get("run_uuid").map_err(db_error)?;
    Ok(RunInfo {
        run_id: RunId::parse(&run_uuid)?,
        workspace: workspace_name(row.try_get("workspace").map_err(db_error)?)?,
        experiment_id: row.try_get("experiment_id").map_err(db_error)?,
        run_name: row.try_get("name").map_err(db_error)?,
        user_id: row.try_get("user_id").map_err(db_error)?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| Error::internal(format!("stored run status '{status}' is invalid")))?,
        start_time: row.try_get("start_time").map_err(db_error)?,
        end_time: row.try_get("end_time").map_err(db_error)?,
        artifact_uri: row.try_get("artifact_uri").map_err(db_error)?,
        lifecycle_stage: stage_from(&stage)?,
    })
}

/// A logged model without its tags and params (see [`SqlStore::hydrate_logged_models`]).
pub(crate) fn row_to_logged_model(row: &AnyRow) -> Result<LoggedModel> {
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    Ok(LoggedModel {
        model_id: row.try_get("model_id").map_err(db_error)?,
        workspace: workspace_name(row.try_get("workspace").map_err(db_error)?)?,
        experiment_id: row.try_get("experiment_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        artifact_location: row.try_get("artifact_location").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
        last_updated_time: row.try_get("last_updated_time").map_err(db_error)?,
        status: row.try_get("status").map_err(db_error)?,
        status_message: row.try_get("status_message").map_err(db_error)?,
        lifecycle_stage: stage_from(&stage)?,
        model_type: row.try_get("model_type").map_err(db_error)?,
        source_run_id: row.try_get("source_run_id").map_err(db_error)?,
        creator: row.try_get("creator").map_err(db_error)?,
        tags: Vec::new(),
        params: Vec::new(),
    })
}

impl SqlStore {
    /// Runs `inner` (a `SELECT` whose output has the given `columns`, ending in `ORDER BY
    /// <order>`) and returns all its rows packed into one JSON array of arrays, in that order.
    /// sqlx hands every row from the database thread to the async side one message at a time,
    /// which cost more than the query; packing sends one message for thousands of rows.
    pub(crate) async fn fetch_packed<T: serde::de::DeserializeOwned>(
        &self,
        inner: &str,
        columns: &[&str],
        order: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<T>> {
        let array = columns.join(", ");
        let sql = match self.dialect() {
            // SQLite aggregates the rows of an ordered subquery in its order (the ordering test
            // of the conformance suite holds it to that); an ORDER BY inside the aggregate
            // would sort them a second time.
            Dialect::Sqlite => {
                format!(
                    "SELECT COALESCE(json_group_array(json_array({array})), '[]') AS packed FROM ({inner}) AS packed_rows"
                )
            }
            Dialect::Postgres => format!(
                "SELECT COALESCE(CAST(json_agg(json_build_array({array}) ORDER BY {order}) AS TEXT), '[]') AS packed FROM ({inner}) AS packed_rows"
            ),
        };
        let row = bound(sql, binds).fetch_one(&self.read).await.map_err(db_error)?;
        let text: String = row.try_get("packed").map_err(db_error)?;
        serde_json::from_str(&text).map_err(|error| Error::internal(format!("unpacking rows failed: {error}")))
    }

    pub(crate) async fn experiment_tags(
        &self,
        workspace: &WorkspaceName,
        ids: &[ExperimentId],
    ) -> Result<HashMap<i64, Vec<Tag>>> {
        let mut by_experiment: HashMap<i64, Vec<Tag>> = HashMap::new();
        if ids.is_empty() {
            return Ok(by_experiment);
        }
        let sql = format!(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE workspace = {} AND experiment_id IN ({}) ORDER BY key",
            placeholder(self.dialect(), 1),
            placeholder_list(self.dialect(), 2, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(workspace.as_str());
        for id in ids {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&self.read).await.map_err(db_error)? {
            let id: i64 = row.try_get("experiment_id").map_err(db_error)?;
            by_experiment.entry(id).or_default().push(Tag::new(
                row.try_get::<String, _>("key").map_err(db_error)?,
                row.try_get::<String, _>("value").map_err(db_error)?,
            ));
        }
        Ok(by_experiment)
    }

    /// Loads params, tags, latest metrics and inputs for a set of runs in four queries.
    pub(crate) async fn hydrate_runs(&self, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
        if infos.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = infos.iter().map(|info| info.run_id.as_str()).collect();
        let in_list = placeholder_list(self.dialect(), 1, ids.len());
        let mut params: HashMap<String, Vec<Param>> = HashMap::new();
        let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
        let mut metrics: HashMap<String, Vec<Metric>> = HashMap::new();
        let mut inputs: HashMap<String, Vec<DatasetInput>> = HashMap::new();
        let mut outputs: HashMap<String, Vec<ModelOutput>> = HashMap::new();

        let id_binds: Vec<Bind> = ids.iter().map(|id| Bind::text((*id).to_owned())).collect();
        let packed_params: Vec<(String, String, String)> = self
            .fetch_packed(
                &format!("SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({in_list}) ORDER BY key"),
                &["run_uuid", "key", "value"],
                "key",
                &id_binds,
            )
            .await?;
        for (run_uuid, key, value) in packed_params {
            params.entry(run_uuid).or_default().push(Param { key, value });
        }
        let packed_tags: Vec<(String, String, String)> = self
            .fetch_packed(
                &format!("SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({in_list}) ORDER BY key"),
                &["run_uuid", "key", "value"],
                "key",
                &id_binds,
            )
            .await?;
        for (run_uuid, key, value) in packed_tags {
            tags.entry(run_uuid).or_default().push(Tag { key, value });
        }
        let packed_metrics: Vec<(String, String, i64, i64, i64)> = self
            .fetch_packed(
                &format!(
                    "SELECT run_uuid, key, value_bits, timestamp, step FROM latest_metrics WHERE run_uuid IN ({in_list}) ORDER BY key"
                ),
                &["run_uuid", "key", "value_bits", "timestamp", "step"],
                "key",
                &id_binds,
            )
            .await?;
        for (run_uuid, key, value_bits, timestamp, step) in packed_metrics {
            let value = f64::from_bits(value_bits as u64);
            metrics.entry(run_uuid).or_default().push(Metric { key, value, timestamp, step });
        }
        let rows = bound(format!(
            "SELECT run_uuid, model_id, step FROM run_model_outputs WHERE run_uuid IN ({in_list}) ORDER BY step, model_id"
            ),
            &id_binds,
        )
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        for row in rows {
            outputs.entry(row.try_get("run_uuid").map_err(db_error)?).or_default().push(ModelOutput {
                model_id: row.try_get("model_id").map_err(db_error)?,
                step: row.try_get("step").map_err(db_error)?,
            });
        }
        let rows = bound(format!(
            "SELECT ri.run_uuid, ri.input_uuid, d.name, d.digest, d.source_type, d.source, d.dataset_schema, d.profile \
             FROM run_inputs ri JOIN datasets d ON d.dataset_uuid = ri.dataset_uuid \
             WHERE ri.run_uuid IN ({in_list}) ORDER BY d.name, d.digest"
            ),
            &id_binds,
        )
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        let mut input_ids = Vec::new();
        for row in rows {
            let run_uuid: String = row.try_get("run_uuid").map_err(db_error)?;
            let input_uuid: String = row.try_get("input_uuid").map_err(db_error)?;
            input_ids.push((run_uuid.clone(), input_uuid));
            inputs.entry(run_uuid).or_default().push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.try_get("name").map_err(db_error)?,
                    digest: row.try_get("digest").map_err(db_error)?,
                    source_type: row.try_get("source_type").map_err(db_error)?,
                    source: row.try_get("source").map_err(db_error)?,
                    schema: row.try_get("dataset_schema").map_err(db_error)?,
                    profile: row.try_get("profile").map_err(db_error)?,
                },
            });
        }
        if !input_ids.is_empty() {
            let sql = format!(
                "SELECT input_uuid, key, value FROM input_tags WHERE input_uuid IN ({}) ORDER BY key",
                placeholder_list(self.dialect(), 1, input_ids.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (_, input_uuid) in &input_ids {
                query = query.bind(input_uuid.as_str());
            }
            let mut input_tags: HashMap<String, Vec<Tag>> = HashMap::new();
            for row in query.fetch_all(&self.read).await.map_err(db_error)? {
                input_tags.entry(row.try_get("input_uuid").map_err(db_error)?).or_default().push(Tag::new(
                    row.try_get::<String, _>("key").map_err(db_error)?,
                    row.try_get::<String, _>("value").map_err(db_error)?,
                ));
            }
            // Inputs were pushed in the same order as `input_ids` within each run.
            let mut positions: HashMap<String, usize> = HashMap::new();
            for (run_uuid, input_uuid) in &input_ids {
                let position = positions.entry(run_uuid.clone()).or_default();
                if let Some(input) = inputs.get_mut(run_uuid).and_then(|run_inputs| run_inputs.get_mut(*position)) {
                    input.tags = input_tags.remove(input_uuid).unwrap_or_default();
                }
                *position += 1;
            }
        }
        Ok(infos
            .into_iter()
            .map(|info| {
                let key = info.run_id.as_str().to_owned();
                Run {
                    info,
                    metrics: metrics.remove(&key).unwrap_or_default(),
                    params: params.remove(&key).unwrap_or_default(),
                    tags: tags.remove(&key).unwrap_or_default(),
                    inputs: inputs.remove(&key).unwrap_or_default(),
                    outputs: outputs.remove(&key).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Loads tags and params for a set of logged models.
    pub(crate) async fn hydrate_logged_models(&self, mut models: Vec<LoggedModel>) -> Result<Vec<LoggedModel>> {
        if models.is_empty() {
            return Ok(models);
        }
        let in_list = placeholder_list(self.dialect(), 1, models.len());
        for table in ["logged_model_tags", "logged_model_params"] {
            let sql = format!("SELECT model_id, key, value FROM {table} WHERE model_id IN ({in_list}) ORDER BY key");
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for model in &models {
                query = query.bind(model.model_id.clone());
            }
            let mut by_model: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for row in query.fetch_all(&self.read).await.map_err(db_error)? {
                by_model
                    .entry(row.try_get("model_id").map_err(db_error)?)
                    .or_default()
                    .push((row.try_get("key").map_err(db_error)?, row.try_get("value").map_err(db_error)?));
            }
            for model in &mut models {
                let pairs = by_model.remove(&model.model_id).unwrap_or_default();
                if table == "logged_model_tags" {
                    model.tags = pairs.into_iter().map(|(key, value)| Tag { key, value }).collect();
                } else {
                    model.params = pairs.into_iter().map(|(key, value)| Param { key, value }).collect();
                }
            }
        }
        Ok(models)
    }
}
