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

/// [`RUN_COLUMNS`], each qualified by `alias` (where a join makes the bare names ambiguous).
pub(crate) fn run_columns_of(alias: &str) -> String {
    RUN_COLUMNS.split(", ").map(|column| format!("{alias}.{column}")).collect::<Vec<_>>().join(", ")
}

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

pub(crate) fn status_from(text: &str) -> Result<RunStatus> {
    RunStatus::parse(text).ok_or_else(|| Error::internal(format!("stored run status '{text}' is invalid")))
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
        status: status_from(&status)?,
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

/// One packed column of [`SqlStore::load_runs`]'s row, decoded.
fn unpack<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<Vec<T>> {
    let text: String = row.try_get(column).map_err(db_error)?;
    serde_json::from_str(&text).map_err(|error| Error::internal(format!("unpacking {column} failed: {error}")))
}

impl SqlStore {
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

    /// The runs that `page` selects (a `SELECT` of [`RUN_COLUMNS`] from `runs r`, ordered and
    /// limited), in its order, each with its params, tags, latest metrics, inputs and outputs.
    ///
    /// One statement does it all: the page is materialized once, numbered, and every child
    /// table is joined to it and packed into one JSON array (as `packed.rs` packs metric
    /// points), so the database thread hands back one row instead of one message per row of six
    /// queries. Children carry their run's number rather than its id, so grouping them is an
    /// index, not a lookup; each run's children are sorted here (by key; inputs by name and
    /// digest; outputs by step), which is cheaper than sorting them in SQL.
    pub(crate) async fn load_runs(&self, page: &str, binds: &[Bind<'_>]) -> Result<Vec<Run>> {
        let dialect = self.dialect();
        // `page CROSS JOIN child WHERE …`: SQLite takes the left side of a CROSS JOIN as the
        // outer loop. It cannot size a materialized page, and with a plain JOIN it scanned the
        // whole child table and built a temporary index on the page instead (5 ms, not 0.5).
        let pack = |columns: &str, from: &str, order: &str| -> String {
            match dialect {
                Dialect::Sqlite => {
                    format!("SELECT COALESCE(json_group_array(json_array({columns}){order}), '[]') FROM {from}")
                }
                Dialect::Postgres => format!(
                    "SELECT COALESCE(CAST(json_agg(json_build_array({columns}){order}) AS TEXT), '[]') FROM {from}"
                ),
            }
        };
        let runs = pack(&run_columns_of("page"), "page", " ORDER BY page.pos");
        let child = |columns: &str, table: &str| {
            pack(columns, &format!("page CROSS JOIN {table} x WHERE x.run_uuid = page.run_uuid"), "")
        };
        let params = child("page.pos, x.key, x.value", "params");
        let tags = child("page.pos, x.key, x.value", "tags");
        let metrics = child("page.pos, x.key, x.value_bits, x.timestamp, x.step", "latest_metrics");
        let outputs = child("page.pos, x.model_id, x.step", "run_model_outputs");
        let inputs = pack(
            "page.pos, x.input_uuid, d.name, d.digest, d.source_type, d.source, d.dataset_schema, d.profile",
            "page CROSS JOIN run_inputs x JOIN datasets d ON d.dataset_uuid = x.dataset_uuid WHERE x.run_uuid = page.run_uuid",
            "",
        );
        let input_tags = pack(
            "it.input_uuid, it.key, it.value",
            "page CROSS JOIN run_inputs x JOIN input_tags it ON it.input_uuid = x.input_uuid WHERE x.run_uuid = page.run_uuid",
            "",
        );
        let sql = format!(
            "WITH page AS MATERIALIZED (SELECT p.*, ROW_NUMBER() OVER () AS pos FROM ({page}) AS p) \
             SELECT ({runs}) AS runs, ({params}) AS params, ({tags}) AS tags, ({metrics}) AS metrics, \
                    ({outputs}) AS outputs, ({inputs}) AS inputs, ({input_tags}) AS input_tags"
        );
        let row = bound(sql, binds).fetch_one(&self.read).await.map_err(db_error)?;

        type RunRow = (String, String, i64, String, String, String, Option<i64>, Option<i64>, String, String);
        let mut runs = unpack::<RunRow>(&row, "runs")?
            .into_iter()
            .map(
                |(
                    run_uuid,
                    workspace,
                    experiment_id,
                    run_name,
                    user_id,
                    status,
                    start_time,
                    end_time,
                    stage,
                    artifact_uri,
                )| {
                    Ok(Run {
                        info: RunInfo {
                            run_id: RunId::parse(&run_uuid)?,
                            workspace: workspace_name(workspace)?,
                            experiment_id,
                            run_name,
                            user_id,
                            status: status_from(&status)?,
                            start_time,
                            end_time,
                            artifact_uri,
                            lifecycle_stage: stage_from(&stage)?,
                        },
                        metrics: Vec::new(),
                        params: Vec::new(),
                        tags: Vec::new(),
                        inputs: Vec::new(),
                        outputs: Vec::new(),
                    })
                },
            )
            .collect::<Result<Vec<Run>>>()?;
        let count = runs.len();
        // A child's run, from the 1-based number the page gave it.
        let run_at = |position: i64| -> Result<usize> {
            usize::try_from(position - 1)
                .ok()
                .filter(|index| *index < count)
                .ok_or_else(|| Error::internal(format!("a child row names run {position} of a page of {count}")))
        };
        for (position, key, value) in unpack::<(i64, String, String)>(&row, "params")? {
            runs[run_at(position)?].params.push(Param { key, value });
        }
        for (position, key, value) in unpack::<(i64, String, String)>(&row, "tags")? {
            runs[run_at(position)?].tags.push(Tag { key, value });
        }
        for (position, key, value_bits, timestamp, step) in unpack::<(i64, String, i64, i64, i64)>(&row, "metrics")? {
            let value = f64::from_bits(value_bits as u64);
            runs[run_at(position)?].metrics.push(Metric { key, value, timestamp, step });
        }
        for (position, model_id, step) in unpack::<(i64, String, i64)>(&row, "outputs")? {
            runs[run_at(position)?].outputs.push(ModelOutput { model_id, step });
        }
        type InputRow = (i64, String, String, String, String, String, Option<String>, Option<String>);
        let input_rows = unpack::<InputRow>(&row, "inputs")?;
        if !input_rows.is_empty() {
            let mut input_tags: HashMap<String, Vec<Tag>> = HashMap::new();
            for (input_uuid, key, value) in unpack::<(String, String, String)>(&row, "input_tags")? {
                input_tags.entry(input_uuid).or_default().push(Tag { key, value });
            }
            for (position, input_uuid, name, digest, source_type, source, schema, profile) in input_rows {
                let mut tags = input_tags.remove(&input_uuid).unwrap_or_default();
                tags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
                runs[run_at(position)?].inputs.push(DatasetInput {
                    tags,
                    dataset: Dataset { name, digest, source_type, source, schema, profile },
                });
            }
        }
        for run in &mut runs {
            run.params.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            run.tags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            run.metrics.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            run.outputs.sort_unstable_by(|a, b| (a.step, &a.model_id).cmp(&(b.step, &b.model_id)));
            run.inputs.sort_by(|a, b| (&a.dataset.name, &a.dataset.digest).cmp(&(&b.dataset.name, &b.dataset.digest)));
        }
        Ok(runs)
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
