//! Jobs' tables: jobs, their status events, their logs, what they hold on to, and computes.

use crate::dialect::{Dialect, db_error, found, placeholder_list};
use crate::sql::SqlStore;
use crate::tracking::insert_run;
use crate::{Compute, JobQuery, JobStore, JobTransition, LogPiece};
use async_trait::async_trait;
use atelier_core::job::{Job, JobEvent, JobKind, JobStatus, ResourceRequest};
use atelier_core::model::{Millis, Param, RunInfo, Tag};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

const JOB_COLUMNS: &str = "j.name, j.workspace, j.seq, j.experiment_id, e.name AS experiment_name, j.display_name, \
     j.description, j.compute, j.status, j.priority, j.cpus, j.memory_mb, j.gpus, j.tags, j.spec_yaml, j.plan, \
     j.snapshot, j.created_by, j.created_at, j.exit_code, j.error, j.warnings, j.archived, j.runtime_pid, \
     j.runtime_start, j.assigned_gpus, j.heartbeat_at, j.kind, j.parent_job, j.trial_index, j.step, j.reused_from, \
     j.reuse_key, j.submission, j.cluster_state";

const JOB_FROM: &str =
    "FROM jobs j JOIN experiments e ON e.workspace = j.workspace AND e.experiment_id = j.experiment_id";

fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::internal(format!("encoding a job failed: {error}")))
}

fn from_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column).map_err(db_error)?;
    serde_json::from_str(&text).map_err(|error| Error::internal(format!("job column {column} is not JSON: {error}")))
}

fn status_from(text: &str) -> Result<JobStatus> {
    JobStatus::parse(text).map_err(|_| Error::internal(format!("stored job status '{text}' is invalid")))
}

fn row_to_job(row: &AnyRow) -> Result<Job> {
    let workspace: String = row.try_get("workspace").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    Ok(Job {
        workspace: WorkspaceName::parse(&workspace)?,
        name: row.try_get("name").map_err(db_error)?,
        display_name: row.try_get("display_name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        kind: JobKind::parse(&row.try_get::<String, _>("kind").map_err(db_error)?)
            .map_err(|_| Error::internal("a stored job kind is invalid"))?,
        parent: row.try_get("parent_job").map_err(db_error)?,
        trial: row.try_get("trial_index").map_err(db_error)?,
        step: row.try_get("step").map_err(db_error)?,
        reused_from: row.try_get("reused_from").map_err(db_error)?,
        reuse_key: row.try_get("reuse_key").map_err(db_error)?,
        submission: row.try_get("submission").map_err(db_error)?,
        experiment_id: row.try_get("experiment_id").map_err(db_error)?,
        experiment_name: row.try_get("experiment_name").map_err(db_error)?,
        compute: row.try_get("compute").map_err(db_error)?,
        status: status_from(&status)?,
        priority: row.try_get("priority").map_err(db_error)?,
        resources: ResourceRequest {
            cpus: row.try_get("cpus").map_err(db_error)?,
            memory_mb: row.try_get::<i64, _>("memory_mb").map_err(db_error)?.max(0) as u64,
            gpus: row.try_get::<i64, _>("gpus").map_err(db_error)?.clamp(0, i64::from(u32::MAX)) as u32,
        },
        tags: from_json(row, "tags")?,
        spec_yaml: row.try_get("spec_yaml").map_err(db_error)?,
        plan: row.try_get("plan").map_err(db_error)?,
        snapshot: row.try_get("snapshot").map_err(db_error)?,
        created_by: row.try_get("created_by").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        exit_code: row.try_get("exit_code").map_err(db_error)?,
        error: row.try_get("error").map_err(db_error)?,
        warnings: from_json(row, "warnings")?,
        archived: row.try_get::<i64, _>("archived").map_err(db_error)? != 0,
        runtime_pid: row.try_get("runtime_pid").map_err(db_error)?,
        runtime_start: row.try_get("runtime_start").map_err(db_error)?,
        assigned_gpus: match row.try_get::<Option<String>, _>("assigned_gpus").map_err(db_error)? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|error| Error::internal(format!("job column assigned_gpus is not JSON: {error}")))?,
            None => Vec::new(),
        },
        heartbeat_at: row.try_get("heartbeat_at").map_err(db_error)?,
        cluster_state: row.try_get("cluster_state").map_err(db_error)?,
        events: Vec::new(),
    })
}

fn row_to_compute(row: &AnyRow) -> Result<Compute> {
    let workspace: String = row.try_get("workspace").map_err(db_error)?;
    Ok(Compute {
        workspace: WorkspaceName::parse(&workspace)?,
        name: row.try_get("name").map_err(db_error)?,
        kind: row.try_get("kind").map_err(db_error)?,
        size: row.try_get("size").map_err(db_error)?,
        min_instances: row.try_get("min_instances").map_err(db_error)?,
        max_instances: row.try_get("max_instances").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        settings: row.try_get("settings").map_err(db_error)?,
        created_by: row.try_get("created_by").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

fn missing_job(name: &str) -> String {
    format!("job '{name}' not found")
}

impl SqlStore {
    /// Fills in the events of jobs, in one query.
    async fn with_events(&self, mut jobs: Vec<Job>) -> Result<Vec<Job>> {
        if jobs.is_empty() {
            return Ok(jobs);
        }
        let mut by_job: HashMap<String, Vec<JobEvent>> = HashMap::new();
        for chunk in jobs.chunks(500) {
            let sql = format!(
                "SELECT job, status, at, message FROM job_events WHERE job IN ({}) ORDER BY at, status",
                placeholder_list(self.dialect(), 1, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for job in chunk {
                query = query.bind(job.name.as_str());
            }
            for row in query.fetch_all(&self.read).await.map_err(db_error)? {
                let status: String = row.try_get("status").map_err(db_error)?;
                by_job.entry(row.try_get("job").map_err(db_error)?).or_default().push(JobEvent {
                    status: status_from(&status)?,
                    time: row.try_get("at").map_err(db_error)?,
                    message: row.try_get("message").map_err(db_error)?,
                });
            }
        }
        for job in &mut jobs {
            let mut events = by_job.remove(&job.name).unwrap_or_default();
            events.sort_by_key(|event| (event.time, event.status));
            job.events = events;
        }
        Ok(jobs)
    }
}

async fn insert_event(
    connection: &mut sqlx::AnyConnection,
    job: &str,
    status: JobStatus,
    at: Millis,
    message: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO job_events (job, status, at, message) VALUES ($1, $2, $3, $4) ON CONFLICT (job, status) DO NOTHING")
        .bind(job)
        .bind(status.as_str())
        .bind(at)
        .bind(message)
        .execute(&mut *connection)
        .await
        .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl JobStore for SqlStore {
    async fn create_job(
        &self,
        job: &Job,
        run: &RunInfo,
        run_tags: &[Tag],
        params: &[Param],
        token_hash: &str,
        references: &[String],
    ) -> Result<Job> {
        let mut transaction = self.begin_write().await?;
        insert_run(&mut transaction, run, run_tags).await.map_err(|error| match error.code {
            ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "a job or run named '{}' already exists; job names are unique on the server",
                job.name
            )),
            _ => error,
        })?;
        for param in params {
            sqlx::query("INSERT INTO params (run_uuid, key, value) VALUES ($1, $2, $3)")
                .bind(run.run_id.as_str())
                .bind(param.key.as_str())
                .bind(param.value.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
        }
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM jobs")
            .fetch_one(&mut *transaction)
            .await
            .map_err(db_error)?
            .try_get("next")
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO jobs (name, workspace, seq, experiment_id, display_name, description, compute, status, \
             priority, cpus, memory_mb, gpus, tags, spec_yaml, plan, snapshot, created_by, created_at, token_hash, \
             exit_code, error, warnings, archived, kind, parent_job, trial_index, step, reused_from, reuse_key, \
             submission) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, NULL, NULL, $20, 0, \
             $21, $22, $23, $24, $25, $26, $27)",
        )
        .bind(job.name.as_str())
        .bind(job.workspace.as_str())
        .bind(seq)
        .bind(job.experiment_id)
        .bind(job.display_name.as_deref())
        .bind(job.description.as_deref())
        .bind(job.compute.as_str())
        .bind(job.status.as_str())
        .bind(job.priority)
        .bind(job.resources.cpus)
        .bind(job.resources.memory_mb as i64)
        .bind(i64::from(job.resources.gpus))
        .bind(json_text(&job.tags)?)
        .bind(job.spec_yaml.as_str())
        .bind(job.plan.as_str())
        .bind(job.snapshot.as_deref())
        .bind(job.created_by.as_str())
        .bind(job.created_at)
        .bind(token_hash)
        .bind(json_text(&job.warnings)?)
        .bind(job.kind.as_str())
        .bind(job.parent.as_deref())
        .bind(job.trial)
        .bind(job.step.as_deref())
        .bind(job.reused_from.as_deref())
        .bind(job.reuse_key.as_deref())
        .bind(job.submission.as_deref())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        for event in &job.events {
            insert_event(&mut transaction, &job.name, event.status, event.time, event.message.as_deref()).await?;
        }
        for location in references {
            sqlx::query(
                "INSERT INTO job_references (job, workspace, location) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(job.name.as_str())
            .bind(job.workspace.as_str())
            .bind(location.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        }
        transaction.commit().await?;
        self.get_job(&job.name).await
    }

    async fn get_job(&self, name: &str) -> Result<Job> {
        let sql = format!("SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.name = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(missing_job(name)))?;
        let mut jobs = self.with_events(vec![row_to_job(&row)?]).await?;
        jobs.pop().ok_or_else(|| Error::internal("a job disappeared while loading"))
    }

    async fn list_jobs(&self, query: &JobQuery<'_>) -> Result<Vec<Job>> {
        let mut sql = format!("SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.workspace = $1");
        let mut next = 2;
        if query.status.is_some() {
            sql.push_str(&format!(" AND j.status = ${next}"));
            next += 1;
        }
        if query.experiment_name.is_some() {
            sql.push_str(&format!(" AND e.name = ${next}"));
            next += 1;
        }
        if query.compute.is_some() {
            sql.push_str(&format!(" AND j.compute = ${next}"));
            next += 1;
        }
        if query.parent.is_some() {
            sql.push_str(&format!(" AND j.parent_job = ${next}"));
            next += 1;
        }
        match query.archived {
            Some(true) => sql.push_str(" AND j.archived = 1"),
            Some(false) => sql.push_str(" AND j.archived = 0"),
            None => {}
        }
        sql.push_str(&format!(" ORDER BY j.seq DESC LIMIT ${next}"));
        let mut statement = sqlx::query(AssertSqlSafe(sql)).bind(query.workspace.as_str());
        if let Some(status) = query.status {
            statement = statement.bind(status.as_str());
        }
        if let Some(experiment) = query.experiment_name {
            statement = statement.bind(experiment);
        }
        if let Some(compute) = query.compute {
            statement = statement.bind(compute);
        }
        if let Some(parent) = query.parent {
            statement = statement.bind(parent);
        }
        let rows = statement.bind(query.limit).fetch_all(&self.read).await.map_err(db_error)?;
        let jobs = rows.iter().map(row_to_job).collect::<Result<Vec<_>>>()?;
        self.with_events(jobs).await
    }

    async fn sweep_trials(&self, sweep: &str) -> Result<Vec<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.parent_job = $1 ORDER BY j.trial_index");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(sweep).fetch_all(&self.read).await.map_err(db_error)?;
        let jobs = rows.iter().map(row_to_job).collect::<Result<Vec<_>>>()?;
        self.with_events(jobs).await
    }

    async fn jobs_referencing(&self, workspace: &WorkspaceName, location: &str, limit: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT j.name FROM job_references r JOIN jobs j ON j.name = r.job \
             WHERE r.workspace = $1 AND r.location = $2 ORDER BY j.seq DESC LIMIT $3",
        )
        .bind(workspace.as_str())
        .bind(location)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(|row| row.try_get::<String, _>("name").map_err(db_error)).collect()
    }

    async fn reusable_job(&self, workspace: &WorkspaceName, reuse_key: &str) -> Result<Option<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.workspace = $1 AND j.reuse_key = $2 AND j.status = 'Completed' \
             AND j.reused_from IS NULL ORDER BY j.seq DESC LIMIT 1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(workspace.as_str())
            .bind(reuse_key)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_events(vec![row_to_job(&row)?]).await?.pop())
    }

    async fn jobs_in_status(&self, statuses: &[JobStatus]) -> Result<Vec<Job>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.status IN ({}) ORDER BY j.priority DESC, j.seq",
            placeholder_list(self.dialect(), 1, statuses.len())
        );
        let mut statement = sqlx::query(AssertSqlSafe(sql));
        for status in statuses {
            statement = statement.bind(status.as_str());
        }
        let rows = statement.fetch_all(&self.read).await.map_err(db_error)?;
        let jobs = rows.iter().map(row_to_job).collect::<Result<Vec<_>>>()?;
        self.with_events(jobs).await
    }

    async fn transition_job(&self, name: &str, transition: &JobTransition<'_>) -> Result<Option<Job>> {
        let mut transaction = self.begin_write().await?;
        // The status is read under the row's lock: two transitions from one status (a cancel
        // and the scheduler's start of a queued job) take turns, and the second sees the first's
        // end. SQLite's write transactions already take turns as a whole.
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let row = sqlx::query(AssertSqlSafe(format!("SELECT status FROM jobs WHERE name = $1{lock}")))
            .bind(name)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(missing_job(name)))?;
        let current = status_from(&row.try_get::<String, _>("status").map_err(db_error)?)?;
        if !current.may_become(transition.status) {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE jobs SET status = $1, exit_code = COALESCE($2, exit_code), error = COALESCE($3, error), \
             heartbeat_at = $4 WHERE name = $5",
        )
        .bind(transition.status.as_str())
        .bind(transition.exit_code)
        .bind(transition.error)
        .bind(transition.at)
        .bind(name)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        insert_event(&mut transaction, name, transition.status, transition.at, transition.message).await?;
        let run_status = transition.status.run_status();
        let end_time = transition.status.is_terminal().then_some(transition.at);
        sqlx::query("UPDATE runs SET status = $1, end_time = COALESCE(end_time, $2) WHERE run_uuid = $3")
            .bind(run_status.as_str())
            .bind(end_time)
            .bind(name)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        transaction.commit().await?;
        self.get_job(name).await.map(Some)
    }

    async fn set_job_runtime(&self, name: &str, token_hash: &str, gpus: &[u32], at: Millis) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("UPDATE jobs SET token_hash = $1, assigned_gpus = $2, heartbeat_at = $3 WHERE name = $4")
                    .bind(token_hash)
                    .bind(json_text(&gpus)?)
                    .bind(at)
                    .bind(name),
            )
            .await?;
        found(result.rows_affected(), || missing_job(name))
    }

    async fn set_job_launched(&self, name: &str, pid: i64, start: i64) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("UPDATE jobs SET runtime_pid = $1, runtime_start = $2 WHERE name = $3")
                    .bind(pid)
                    .bind(start)
                    .bind(name),
            )
            .await?;
        found(result.rows_affected(), || missing_job(name))
    }

    async fn set_job_cluster_state(&self, name: &str, state: &str) -> Result<()> {
        let result = self
            .execute_write(sqlx::query("UPDATE jobs SET cluster_state = $1 WHERE name = $2").bind(state).bind(name))
            .await?;
        found(result.rows_affected(), || missing_job(name))
    }

    async fn snapshot_in_use(&self, workspace: &WorkspaceName, snapshot: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS used FROM jobs WHERE workspace = $1 AND snapshot = $2 \
             UNION ALL SELECT 1 AS used FROM deployments WHERE workspace = $1 AND snapshot = $2 \
             UNION ALL SELECT 1 AS used FROM components WHERE workspace = $1 AND snapshot = $2",
        )
        .bind(workspace.as_str())
        .bind(snapshot)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn touch_job(&self, name: &str, at: Millis) -> Result<()> {
        self.execute_write(sqlx::query("UPDATE jobs SET heartbeat_at = $1 WHERE name = $2").bind(at).bind(name))
            .await?;
        Ok(())
    }

    async fn set_job_archived(&self, name: &str, archived: bool) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("UPDATE jobs SET archived = $1 WHERE name = $2").bind(i64::from(archived)).bind(name),
            )
            .await?;
        found(result.rows_affected(), || missing_job(name))
    }

    async fn find_job_by_token(&self, token_hash: &str) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} {JOB_FROM} WHERE j.token_hash = $1");
        let row =
            sqlx::query(AssertSqlSafe(sql)).bind(token_hash).fetch_optional(&self.read).await.map_err(db_error)?;
        row.as_ref().map(row_to_job).transpose()
    }

    async fn append_job_log(&self, name: &str, file: &str, offset: i64, text: &str) -> Result<i64> {
        let mut transaction = self.begin_write().await?;
        let size: i64 = sqlx::query(
            "SELECT COALESCE(MAX(start_offset + size), 0) AS size FROM job_logs WHERE job = $1 AND file = $2",
        )
        .bind(name)
        .bind(file)
        .fetch_one(&mut *transaction)
        .await
        .map_err(db_error)?
        .try_get("size")
        .map_err(db_error)?;
        if offset > size {
            return Err(Error::invalid(format!(
                "log {file} of job '{name}' has {size} bytes; a piece at offset {offset} would leave a gap"
            )));
        }
        // A piece sent again (the runtime did not hear the answer) is stored already, up to the
        // file's size; only what lies beyond is new.
        let already = (size - offset) as usize;
        if already >= text.len() {
            return Ok(size);
        }
        if !text.is_char_boundary(already) {
            return Err(Error::invalid(format!(
                "a piece of log {file} of job '{name}' at offset {offset} does not line up with the {size} bytes stored"
            )));
        }
        let new = &text[already..];
        sqlx::query("INSERT INTO job_logs (job, file, start_offset, size, text) VALUES ($1, $2, $3, $4, $5)")
            .bind(name)
            .bind(file)
            .bind(size)
            .bind(new.len() as i64)
            .bind(new)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        transaction.commit().await?;
        Ok(size + new.len() as i64)
    }

    async fn read_job_log(&self, name: &str, file: &str, from: i64, max_bytes: i64) -> Result<LogPiece> {
        let rows = sqlx::query(
            "SELECT start_offset, size, text FROM job_logs WHERE job = $1 AND file = $2 AND start_offset + size > $3 \
             ORDER BY start_offset",
        )
        .bind(name)
        .bind(file)
        .bind(from)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        let mut piece = LogPiece { text: String::new(), next_offset: from };
        for row in rows {
            let start: i64 = row.try_get("start_offset").map_err(db_error)?;
            let size: i64 = row.try_get("size").map_err(db_error)?;
            let text: String = row.try_get("text").map_err(db_error)?;
            if !piece.text.is_empty() && piece.text.len() as i64 + size > max_bytes {
                break;
            }
            // A reader that starts inside a piece gets the rest of it, from a character boundary.
            let skip = (piece.next_offset - start).clamp(0, size) as usize;
            let skip = (skip..=text.len()).find(|index| text.is_char_boundary(*index)).unwrap_or(text.len());
            piece.text.push_str(&text[skip..]);
            piece.next_offset = start + size;
        }
        Ok(piece)
    }

    async fn job_log_files(&self, name: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT file, MAX(start_offset + size) AS size FROM job_logs WHERE job = $1 GROUP BY file ORDER BY file",
        )
        .bind(name)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| Ok((row.try_get("file").map_err(db_error)?, row.try_get("size").map_err(db_error)?)))
            .collect()
    }

    async fn add_job_reference(&self, name: &str, workspace: &WorkspaceName, location: &str) -> Result<()> {
        self.execute_write(
            sqlx::query(
                "INSERT INTO job_references (job, workspace, location) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(workspace.as_str())
            .bind(location),
        )
        .await?;
        Ok(())
    }

    async fn create_compute(&self, compute: &Compute) -> Result<()> {
        let taken = || Error::already_exists(format!("compute '{}' already exists", compute.name));
        let mut transaction = self.begin_write().await?;
        // Computes and compute instances share their names, as in Azure.
        let instance = sqlx::query("SELECT 1 FROM compute_instances WHERE workspace = $1 AND name = $2")
            .bind(compute.workspace.as_str())
            .bind(compute.name.as_str())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?;
        if instance.is_some() {
            return Err(taken());
        }
        sqlx::query(
            "INSERT INTO computes (workspace, name, kind, size, min_instances, max_instances, description, tags, \
             created_by, created_at, settings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(compute.workspace.as_str())
        .bind(compute.name.as_str())
        .bind(compute.kind.as_str())
        .bind(compute.size.as_str())
        .bind(compute.min_instances)
        .bind(compute.max_instances)
        .bind(compute.description.as_str())
        .bind(json_text(&compute.tags)?)
        .bind(compute.created_by.as_str())
        .bind(compute.created_at)
        .bind(compute.settings.as_deref())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)
        .map_err(|error| match error {
            error if error.code == ErrorCode::ResourceAlreadyExists => taken(),
            error => error,
        })?;
        transaction.commit().await
    }

    async fn get_compute(&self, workspace: &WorkspaceName, name: &str) -> Result<Compute> {
        let row = sqlx::query("SELECT * FROM computes WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("compute '{name}' not found")))?;
        row_to_compute(&row)
    }

    async fn list_computes(&self, workspace: Option<&WorkspaceName>) -> Result<Vec<Compute>> {
        let rows = match workspace {
            Some(workspace) => {
                sqlx::query("SELECT * FROM computes WHERE workspace = $1 ORDER BY name")
                    .bind(workspace.as_str())
                    .fetch_all(&self.read)
                    .await
            }
            None => sqlx::query("SELECT * FROM computes ORDER BY workspace, name").fetch_all(&self.read).await,
        }
        .map_err(db_error)?;
        rows.iter().map(row_to_compute).collect()
    }

    async fn delete_compute(&self, workspace: &WorkspaceName, name: &str) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("DELETE FROM computes WHERE workspace = $1 AND name = $2")
                    .bind(workspace.as_str())
                    .bind(name),
            )
            .await?;
        found(result.rows_affected(), || format!("compute '{name}' not found"))
    }
}
