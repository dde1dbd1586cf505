//! [`TrackingStore`] for [`SqlStore`]: experiments (numbered per workspace) and runs with their
//! metrics, params, tags, dataset inputs and model outputs. `log_batch` goes through the batch
//! writer (`writer.rs`); the children of a page of runs are loaded by `rows.rs`.

use crate::dialect::{Bind, Dialect, bound, db_error, found};
use crate::rows::{RUN_COLUMNS, row_to_experiment, row_to_run_info};
use crate::sql::SqlStore;
use crate::{
    Batch, ExperimentQuery, ExperimentStats, RunQuery, RunUpdate, SeriesCursor, SeriesRead, TrackingStore, search,
};
use async_trait::async_trait;
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_core::series::{Sample, SeriesSummary};
use atelier_core::{Error, Result};
use sqlx::{AssertSqlSafe, Row};

fn new_uuid_like(parts: &[&str]) -> String {
    // Dataset and input ids only need to be unique and stable for the same content; a hash of
    // the identifying parts gives both without a random source in the store.
    use std::hash::{Hash, Hasher};
    let mut first = std::collections::hash_map::DefaultHasher::new();
    let mut second = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        part.hash(&mut first);
        0xa5u8.hash(&mut second);
        part.hash(&mut second);
    }
    format!("{:016x}{:016x}", first.finish(), second.finish())
}

/// Inserts a run and its tags, in the caller's transaction; its experiment must be active.
pub(crate) async fn insert_run(connection: &mut sqlx::AnyConnection, info: &RunInfo, tags: &[Tag]) -> Result<()> {
    require_active_experiment(&mut *connection, &info.workspace, info.experiment_id).await?;
    let sql = format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    sqlx::query(AssertSqlSafe(sql))
        .bind(info.run_id.as_str())
        .bind(info.workspace.as_str())
        .bind(info.experiment_id)
        .bind(info.run_name.as_str())
        .bind(info.user_id.as_str())
        .bind(info.status.as_str())
        .bind(info.start_time)
        .bind(info.end_time)
        .bind(info.lifecycle_stage.as_str())
        .bind(info.artifact_uri.as_str())
        .execute(&mut *connection)
        .await
        .map_err(db_error)?;
    for tag in tags {
        sqlx::query("INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value")
            .bind(info.run_id.as_str())
            .bind(tag.key.as_str())
            .bind(tag.value.as_str())
            .execute(&mut *connection)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Fails unless the experiment exists and is active; used inside write transactions.
pub(crate) async fn require_active_experiment(
    connection: &mut sqlx::AnyConnection,
    workspace: &WorkspaceName,
    id: ExperimentId,
) -> Result<()> {
    let row = sqlx::query("SELECT lifecycle_stage FROM experiments WHERE workspace = $1 AND experiment_id = $2")
        .bind(workspace.as_str())
        .bind(id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(format!("no experiment with id={id} exists")))?;
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    if stage != LifecycleStage::Active.as_str() {
        return Err(Error::invalid(format!(
            "the experiment {id} must be in the 'active' state; current state is {stage}"
        )));
    }
    Ok(())
}

/// Fails unless the run exists and is active; used inside write transactions.
async fn require_active_run(connection: &mut sqlx::AnyConnection, run_id: &RunId) -> Result<String> {
    let row = sqlx::query("SELECT lifecycle_stage, workspace FROM runs WHERE run_uuid = $1")
        .bind(run_id.as_str())
        .fetch_optional(&mut *connection)
        .await
        .map_err(db_error)?;
    let Some(row) = row else {
        return Err(Error::not_found(format!("run with id={run_id} not found")));
    };
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    if stage != LifecycleStage::Active.as_str() {
        return Err(Error::invalid(format!(
            "the run {run_id} must be in the 'active' state; current state is {stage}"
        )));
    }
    row.try_get("workspace").map_err(db_error)
}

#[async_trait]
impl TrackingStore for SqlStore {
    async fn create_experiment(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        artifact_root: &str,
        tags: &[Tag],
        now: Millis,
    ) -> Result<ExperimentId> {
        let mut transaction = self.begin_write().await?;
        let existing = sqlx::query("SELECT lifecycle_stage FROM experiments WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?;
        if let Some(row) = existing {
            let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
            let hint = if stage == "deleted" { " in the deleted state; restore it or use another name" } else { "" };
            return Err(Error::already_exists(format!("experiment '{name}' already exists{hint}")));
        }
        // The row lock on the workspace serializes id allocation on PostgreSQL.
        let row = sqlx::query(
            "UPDATE workspaces SET next_experiment_id = next_experiment_id + 1 WHERE name = $1 RETURNING next_experiment_id",
        )
        .bind(workspace.as_str())
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(format!("workspace '{workspace}' does not exist")))?;
        let experiment_id: i64 = row.try_get::<i64, _>("next_experiment_id").map_err(db_error)? - 1;
        sqlx::query(
            "INSERT INTO experiments (workspace, experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ($1, $2, $3, $4, 'active', $5, $5)",
        )
        .bind(workspace.as_str())
        .bind(experiment_id)
        .bind(name)
        .bind(format!("{artifact_root}/{experiment_id}"))
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        for tag in tags {
            sqlx::query(
                "INSERT INTO experiment_tags (workspace, experiment_id, key, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (workspace, experiment_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(workspace.as_str())
            .bind(experiment_id)
            .bind(tag.key.as_str())
            .bind(tag.value.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        }
        transaction.commit().await?;
        Ok(experiment_id)
    }

    async fn get_experiment(&self, workspace: &WorkspaceName, id: ExperimentId) -> Result<Experiment> {
        let row = sqlx::query("SELECT * FROM experiments WHERE workspace = $1 AND experiment_id = $2")
            .bind(workspace.as_str())
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("no experiment with id={id} exists")))?;
        let mut experiment = row_to_experiment(&row)?;
        experiment.tags = self.experiment_tags(workspace, &[id]).await?.remove(&id).unwrap_or_default();
        Ok(experiment)
    }

    async fn get_experiment_by_name(&self, workspace: &WorkspaceName, name: &str) -> Result<Experiment> {
        let row = sqlx::query("SELECT * FROM experiments WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("could not find experiment with name '{name}'")))?;
        let mut experiment = row_to_experiment(&row)?;
        let id = experiment.experiment_id;
        experiment.tags = self.experiment_tags(workspace, &[id]).await?.remove(&id).unwrap_or_default();
        Ok(experiment)
    }

    async fn search_experiments(&self, query: &ExperimentQuery<'_>) -> Result<Vec<Experiment>> {
        let (sql, binds) = search::experiment_search_sql(query)?;
        let rows = bound(sql, &binds).fetch_all(&self.read).await.map_err(db_error)?;
        let mut experiments: Vec<Experiment> = rows.iter().map(row_to_experiment).collect::<Result<_>>()?;
        let ids: Vec<i64> = experiments.iter().map(|experiment| experiment.experiment_id).collect();
        let mut tags = self.experiment_tags(query.workspace, &ids).await?;
        for experiment in &mut experiments {
            experiment.tags = tags.remove(&experiment.experiment_id).unwrap_or_default();
        }
        Ok(experiments)
    }

    async fn experiment_stats(&self, workspace: &WorkspaceName) -> Result<Vec<ExperimentStats>> {
        let rows = sqlx::query(
            "SELECT experiment_id, COUNT(*) AS runs, MAX(start_time) AS last_start FROM runs \
             WHERE workspace = $1 AND lifecycle_stage = 'active' GROUP BY experiment_id",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(ExperimentStats {
                    experiment_id: row.try_get("experiment_id").map_err(db_error)?,
                    runs: row.try_get("runs").map_err(db_error)?,
                    last_run_start: row.try_get("last_start").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn rename_experiment(
        &self,
        workspace: &WorkspaceName,
        id: ExperimentId,
        name: &str,
        now: Millis,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let taken = sqlx::query(
            "SELECT experiment_id FROM experiments WHERE workspace = $1 AND name = $2 AND experiment_id <> $3",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?;
        if taken.is_some() {
            return Err(Error::already_exists(format!("experiment '{name}' already exists")));
        }
        let row = sqlx::query("SELECT lifecycle_stage FROM experiments WHERE workspace = $1 AND experiment_id = $2")
            .bind(workspace.as_str())
            .bind(id)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("no experiment with id={id} exists")))?;
        let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
        if stage != "active" {
            return Err(Error::invalid(format!("cannot rename a non-active experiment (id={id} is {stage})")));
        }
        sqlx::query(
            "UPDATE experiments SET name = $3, last_update_time = $4 WHERE workspace = $1 AND experiment_id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn set_experiment_stage(
        &self,
        workspace: &WorkspaceName,
        id: ExperimentId,
        stage: LifecycleStage,
        now: Millis,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE experiments SET lifecycle_stage = $3, last_update_time = $4 WHERE workspace = $1 AND experiment_id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(stage.as_str())
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("no experiment with id={id} exists")));
        }
        let deleted_time = if stage == LifecycleStage::Deleted { Some(now) } else { None };
        sqlx::query(
            "UPDATE runs SET lifecycle_stage = $3, deleted_time = $4 WHERE workspace = $1 AND experiment_id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(stage.as_str())
        .bind(deleted_time)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn set_experiment_tag(&self, workspace: &WorkspaceName, id: ExperimentId, tag: &Tag) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_active_experiment(&mut transaction, workspace, id).await?;
        sqlx::query(
            "INSERT INTO experiment_tags (workspace, experiment_id, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace, experiment_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(tag.key.as_str())
        .bind(tag.value.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn delete_experiment_tag(&self, workspace: &WorkspaceName, id: ExperimentId, key: &str) -> Result<()> {
        self.get_experiment(workspace, id).await?;
        let result = self
            .execute_write(
                sqlx::query("DELETE FROM experiment_tags WHERE workspace = $1 AND experiment_id = $2 AND key = $3")
                    .bind(workspace.as_str())
                    .bind(id)
                    .bind(key),
            )
            .await?;
        found(result.rows_affected(), || format!("no tag with name: {key} in experiment with id {id}"))
    }

    async fn create_run(&self, info: &RunInfo, tags: &[Tag]) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        insert_run(&mut transaction, info, tags).await?;
        transaction.commit().await
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Run> {
        let page = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1");
        let mut runs = self.load_runs(&page, &[Bind::text(run_id.as_str())]).await?;
        runs.pop().ok_or_else(|| Error::not_found(format!("run with id={run_id} not found")))
    }

    async fn get_run_info(&self, run_id: &RunId) -> Result<RunInfo> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("run with id={run_id} not found")))?;
        row_to_run_info(&row)
    }

    async fn update_run(&self, run_id: &RunId, update: &RunUpdate) -> Result<RunInfo> {
        let mut transaction = self.begin_write().await?;
        require_active_run(&mut transaction, run_id).await?;
        sqlx::query(
            "UPDATE runs SET status = COALESCE($2, status), end_time = COALESCE($3, end_time), name = COALESCE($4, name) WHERE run_uuid = $1",
        )
        .bind(run_id.as_str())
        .bind(update.status.map(RunStatus::as_str))
        .bind(update.end_time)
        .bind(update.run_name.as_deref())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        if let Some(name) = &update.run_name {
            sqlx::query("INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value")
                .bind(run_id.as_str())
                .bind(RUN_NAME_TAG)
                .bind(name.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(db_error)?;
        let info = row_to_run_info(&row)?;
        transaction.commit().await?;
        Ok(info)
    }

    async fn set_run_stage(&self, run_id: &RunId, stage: LifecycleStage, now: Millis) -> Result<()> {
        let deleted_time = if stage == LifecycleStage::Deleted { Some(now) } else { None };
        let result = self
            .execute_write(
                sqlx::query("UPDATE runs SET lifecycle_stage = $2, deleted_time = $3 WHERE run_uuid = $1")
                    .bind(run_id.as_str())
                    .bind(stage.as_str())
                    .bind(deleted_time),
            )
            .await?;
        found(result.rows_affected(), || format!("run with id={run_id} not found"))
    }

    async fn log_batch(&self, workspace: &WorkspaceName, run_id: &RunId, batch: Batch) -> Result<()> {
        self.writer.submit(workspace, run_id, batch).await
    }

    async fn delete_run_tag(&self, run_id: &RunId, key: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_active_run(&mut transaction, run_id).await?;
        let result = sqlx::query("DELETE FROM tags WHERE run_uuid = $1 AND key = $2")
            .bind(run_id.as_str())
            .bind(key)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("no tag with name: {key} in run with id {run_id}")));
        }
        transaction.commit().await
    }

    async fn log_inputs(&self, run_id: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_active_run(&mut transaction, run_id).await?;
        let row = sqlx::query("SELECT workspace, experiment_id FROM runs WHERE run_uuid = $1")
            .bind(run_id.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(db_error)?;
        let workspace: String = row.try_get("workspace").map_err(db_error)?;
        let experiment_id: i64 = row.try_get("experiment_id").map_err(db_error)?;
        for input in inputs {
            let dataset = &input.dataset;
            let experiment_text = experiment_id.to_string();
            let dataset_uuid = new_uuid_like(&[&workspace, &experiment_text, &dataset.name, &dataset.digest]);
            sqlx::query(
                "INSERT INTO datasets (dataset_uuid, workspace, experiment_id, name, digest, source_type, source, dataset_schema, profile) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (workspace, experiment_id, name, digest) DO NOTHING",
            )
            .bind(dataset_uuid.as_str())
            .bind(workspace.as_str())
            .bind(experiment_id)
            .bind(dataset.name.as_str())
            .bind(dataset.digest.as_str())
            .bind(dataset.source_type.as_str())
            .bind(dataset.source.as_str())
            .bind(dataset.schema.as_deref())
            .bind(dataset.profile.as_deref())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
            // The dataset may have existed already, under the id it was first stored with.
            let dataset_uuid: String = sqlx::query(
                "SELECT dataset_uuid FROM datasets WHERE workspace = $1 AND experiment_id = $2 AND name = $3 AND digest = $4",
            )
            .bind(workspace.as_str())
            .bind(experiment_id)
            .bind(dataset.name.as_str())
            .bind(dataset.digest.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(db_error)?
            .try_get("dataset_uuid")
            .map_err(db_error)?;
            let input_uuid = new_uuid_like(&[&dataset_uuid, run_id.as_str()]);
            sqlx::query(
                "INSERT INTO run_inputs (input_uuid, dataset_uuid, run_uuid) VALUES ($1, $2, $3) ON CONFLICT (dataset_uuid, run_uuid) DO NOTHING",
            )
            .bind(input_uuid.as_str())
            .bind(dataset_uuid.as_str())
            .bind(run_id.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
            let input_uuid: String =
                sqlx::query("SELECT input_uuid FROM run_inputs WHERE dataset_uuid = $1 AND run_uuid = $2")
                    .bind(dataset_uuid.as_str())
                    .bind(run_id.as_str())
                    .fetch_one(&mut *transaction)
                    .await
                    .map_err(db_error)?
                    .try_get("input_uuid")
                    .map_err(db_error)?;
            for tag in &input.tags {
                sqlx::query(
                    "INSERT INTO input_tags (input_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (input_uuid, key) DO UPDATE SET value = excluded.value",
                )
                .bind(input_uuid.as_str())
                .bind(tag.key.as_str())
                .bind(tag.value.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
            }
        }
        transaction.commit().await
    }

    async fn get_metric_history(
        &self,
        run_id: &RunId,
        key: &str,
        limit: Option<i64>,
        offset: i64,
    ) -> Result<Vec<Metric>> {
        // Values are read as their exact bits; the key is not selected, as it is the one asked
        // for. On SQLite the points come from a connection of their own (`points.rs`); on
        // PostgreSQL, packed into one value (see `packed.rs`).
        let points: Vec<(i64, i64, i64)> = match &self.points {
            Some(reader) => {
                reader.history(run_id.as_str().to_owned(), key.to_owned(), limit.unwrap_or(i64::MAX), offset).await?
            }
            None => {
                let inner = "SELECT id, step, timestamp, value_bits FROM metric_points WHERE series_id = (SELECT \
                             series_id FROM metric_series WHERE run_uuid = $1 AND key = $2) \
                             ORDER BY step, timestamp, id LIMIT $3 OFFSET $4";
                let binds = [
                    Bind::text(run_id.as_str().to_owned()),
                    Bind::text(key.to_owned()),
                    Bind::Int(limit.unwrap_or(i64::MAX)),
                    Bind::Int(offset),
                ];
                let points = self.fetch_points(inner, &binds).await?;
                points.into_iter().map(|(_, step, timestamp, bits)| (step, timestamp, bits)).collect()
            }
        };
        Ok(points
            .into_iter()
            .map(|(step, timestamp, value_bits)| Metric {
                key: key.to_owned(),
                value: f64::from_bits(value_bits as u64),
                timestamp,
                step,
            })
            .collect())
    }

    async fn metric_points(&self, run_id: &RunId, key: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT points FROM latest_metrics WHERE run_uuid = $1 AND key = $2")
            .bind(run_id.as_str())
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.map(|row| row.try_get::<i64, _>("points").map_err(db_error)).transpose()
    }

    async fn long_series(&self, series: &[(RunId, String)], longer_than: i64) -> Result<Vec<(RunId, String)>> {
        if series.is_empty() {
            return Ok(Vec::new());
        }
        // The series as one JSON array of [run, key] pairs: one statement text whatever their
        // number, each looked up by primary key.
        let pairs: Vec<[&str; 2]> = series.iter().map(|(run_id, key)| [run_id.as_str(), key.as_str()]).collect();
        let pairs = serde_json::to_string(&pairs).map_err(|error| Error::internal(error.to_string()))?;
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT l.run_uuid, l.key FROM json_each($1) s CROSS JOIN latest_metrics l \
                 WHERE l.run_uuid = json_extract(s.value, '$[0]') AND l.key = json_extract(s.value, '$[1]') \
                 AND l.points > $2"
            }
            Dialect::Postgres => {
                "SELECT l.run_uuid, l.key FROM json_array_elements(CAST($1 AS json)) AS s (pair) \
                 JOIN latest_metrics l ON l.run_uuid = s.pair->>0 AND l.key = s.pair->>1 WHERE l.points > $2"
            }
        };
        let rows = sqlx::query(sql).bind(pairs).bind(longer_than).fetch_all(&self.read).await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let run_uuid: String = row.try_get("run_uuid").map_err(db_error)?;
                Ok((RunId::parse(&run_uuid)?, row.try_get("key").map_err(db_error)?))
            })
            .collect()
    }

    async fn series_extent(&self, run_id: &RunId, key: &str) -> Result<Option<(i64, i64)>> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT points, (SELECT COALESCE(max(id), 0) FROM metric_points) AS mark \
                 FROM latest_metrics WHERE run_uuid = $1 AND key = $2"
            }
            Dialect::Postgres => {
                "SELECT points, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM metric_points_id_seq) \
                 AS mark FROM latest_metrics WHERE run_uuid = $1 AND key = $2"
            }
        };
        let row =
            sqlx::query(sql).bind(run_id.as_str()).bind(key).fetch_optional(&self.read).await.map_err(db_error)?;
        row.map(|row| -> Result<(i64, i64)> {
            Ok((row.try_get("points").map_err(db_error)?, row.try_get("mark").map_err(db_error)?))
        })
        .transpose()
    }

    async fn metric_points_after(
        &self,
        run_id: &RunId,
        key: &str,
        after: i64,
        from: Option<SeriesCursor>,
        limit: i64,
    ) -> Result<SeriesRead> {
        if let Some(reader) = &self.points {
            return reader.points_after(run_id.as_str().to_owned(), key.to_owned(), after, from, limit).await;
        }
        // One statement, so that the count and the points come from one snapshot; the points
        // cross from the database packed into one value (`packed.rs`). The page starts after
        // `from` in the index's own order, so each page is one range of it.
        let (step, timestamp, id) = from.unwrap_or((i64::MIN, i64::MIN, i64::MIN));
        let inner = "SELECT id, step, timestamp, value_bits FROM metric_points \
                     WHERE series_id = (SELECT series_id FROM metric_series WHERE run_uuid = $1 AND key = $2) \
                     AND id > $3 AND (step, timestamp, id) > ($4, $5, $6) \
                     ORDER BY step, timestamp, id LIMIT $7";
        let dialect = self.dialect();
        let packed = crate::packed::packed_points(dialect, inner);
        let sql = format!(
            "SELECT (SELECT points FROM latest_metrics WHERE run_uuid = $1 AND key = $2) AS total, ({packed}) AS packed"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .bind(key)
            .bind(after)
            .bind(step)
            .bind(timestamp)
            .bind(id)
            .bind(limit)
            .fetch_one(&self.read)
            .await
            .map_err(db_error)?;
        let total: Option<i64> = row.try_get("total").map_err(db_error)?;
        let rows = crate::packed::unpack_points(dialect, &row, "packed")?;
        Ok(crate::points::series_read(total.unwrap_or(0), rows, limit))
    }

    async fn series_summary(&self, run_id: &RunId, key: &str) -> Result<Option<(SeriesSummary, i64)>> {
        let row = sqlx::query("SELECT last_mark, summary FROM series_summaries WHERE run_uuid = $1 AND key = $2")
            .bind(run_id.as_str())
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let last_mark: i64 = row.try_get("last_mark").map_err(db_error)?;
        let bytes: Vec<u8> = row.try_get("summary").map_err(db_error)?;
        Ok(SeriesSummary::from_bytes(&bytes).map(|summary| (summary, last_mark)))
    }

    async fn put_series_summary(
        &self,
        run_id: &RunId,
        key: &str,
        summary: &SeriesSummary,
        last_mark: i64,
    ) -> Result<()> {
        self.execute_write(
            sqlx::query(
                "INSERT INTO series_summaries (run_uuid, key, last_mark, summary, points) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (run_uuid, key) DO UPDATE SET last_mark = excluded.last_mark, summary = excluded.summary, \
                 points = excluded.points WHERE excluded.points >= series_summaries.points",
            )
            .bind(run_id.as_str())
            .bind(key)
            .bind(last_mark)
            .bind(summary.to_bytes())
            .bind(i64::try_from(summary.points()).unwrap_or(i64::MAX)),
        )
        .await?;
        Ok(())
    }

    async fn metric_points_between(&self, run_id: &RunId, key: &str, first: i64, last: i64) -> Result<Vec<Sample>> {
        let inner = "SELECT id, step, timestamp, value_bits FROM metric_points \
                     WHERE series_id = (SELECT series_id FROM metric_series WHERE run_uuid = $1 AND key = $2) \
                     AND step >= $3 AND step <= $4";
        let binds =
            [Bind::text(run_id.as_str().to_owned()), Bind::text(key.to_owned()), Bind::Int(first), Bind::Int(last)];
        let points = self.fetch_points(inner, &binds).await?;
        Ok(points
            .into_iter()
            .map(|(_, step, timestamp, bits)| Sample { step, timestamp, value: f64::from_bits(bits as u64) })
            .collect())
    }

    async fn search_runs(&self, query: &RunQuery<'_>) -> Result<Vec<Run>> {
        // Each phase's runs follow the previous phase's. The page's offset counts through them:
        // a phase that ends before the page starts is counted and skipped.
        let mut runs = Vec::new();
        let mut offset = query.offset;
        for phase in search::run_search_plan(query, self.dialect())? {
            let wanted = query.limit - runs.len() as i64;
            if wanted <= 0 {
                break;
            }
            let (page, binds) = phase.page(wanted, offset);
            let found = self.load_runs(&page, &binds).await?;
            if found.is_empty() && offset > 0 {
                let (count, binds) = phase.count();
                let row = bound(count, &binds).fetch_one(&self.read).await.map_err(db_error)?;
                offset = (offset - row.try_get::<i64, _>("runs").map_err(db_error)?).max(0);
            } else {
                offset = 0;
            }
            runs.extend(found);
        }
        Ok(runs)
    }

    async fn log_outputs(&self, run_id: &RunId, outputs: &[ModelOutput]) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_active_run(&mut transaction, run_id).await?;
        for output in outputs {
            let exists = sqlx::query("SELECT 1 FROM logged_models WHERE model_id = $1")
                .bind(output.model_id.as_str())
                .fetch_optional(&mut *transaction)
                .await
                .map_err(db_error)?;
            if exists.is_none() {
                return Err(Error::not_found(format!("logged model with id '{}' not found", output.model_id)));
            }
            sqlx::query(
                "INSERT INTO run_model_outputs (run_uuid, model_id, step) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_uuid, model_id) DO UPDATE SET step = excluded.step",
            )
            .bind(run_id.as_str())
            .bind(output.model_id.as_str())
            .bind(output.step)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        }
        transaction.commit().await
    }
}
