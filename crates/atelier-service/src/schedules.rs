//! Schedules: Azure ML's `schedule` files, which submit a job at each fire time of a trigger.
//!
//! A schedule keeps its file and what each fire submits: the job file's text and what the
//! client uploaded for it (or, for `create_job: azureml:<job>`, what an earlier job was
//! submitted with). Each fire submits an ordinary job, as the schedule's creator with the rights
//! they have then, named `<schedule>_<fire time>` and tagged with the schedule and the fire
//! time. References (`azureml:iris@latest`) are resolved at each fire, so a retraining pipeline
//! takes the newest data.
//!
//! Exactly once: a server takes a fire by a lease in the store before it submits, and the
//! fire's job name is unique, so two servers on one database never submit one fire twice, and a
//! server that stopped between submitting and recording finds the job and records the fire.
//! A server that was down over fire times submits only the latest of them when it is back, as
//! Azure does, not one per missed time.

use crate::jobs::{JobSubmission, schedule_reference};
use crate::{Principal, Service, now_millis};
use atelier_core::authz::Action;
use atelier_core::job::Job;
use atelier_core::model::Millis;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::schedule::Schedule;
use atelier_core::time::format_rfc3339;
use atelier_core::{Error, ErrorCode, Result};
use atelier_spec::schedule::{JobSource, ScheduleSpec, parse_schedule};
use atelier_store::audit::AuditContext;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The tag a fire's job carries: the schedule that submitted it.
pub const SCHEDULE_TAG: &str = "atelier.schedule";
/// The tag a fire's job carries: the fire time it was submitted for (RFC 3339, UTC).
pub const FIRE_TIME_TAG: &str = "atelier.schedule.fire_time";

/// How long a server holds a fire it took before another may take it over.
const LEASE_MILLIS: Millis = 60_000;
/// How often the server looks for schedules that are due (milliseconds).
const TICK_MILLIS: Millis = 250;
/// The most jobs a schedule's page lists.
const JOBS_SHOWN: i64 = 50;

/// A schedule to create or update: its file, and the job its `create_job` file makes (what
/// the client read and uploaded; `None` for `azureml:<job>`).
#[derive(Debug, Clone)]
pub struct ScheduleSubmission {
    pub yaml: String,
    pub job: Option<JobSubmission>,
}

/// A schedule with its trigger in words and the jobs its fires made (newest first).
#[derive(Debug, Clone)]
pub struct ScheduleView {
    pub schedule: Schedule,
    pub trigger: String,
    pub time_zone: String,
    pub jobs: Vec<Job>,
}

/// The job a fire at `fire` submits: `<schedule>_<yyyymmddThhmmssZ>`.
fn fire_job_name(schedule: &str, fire: Millis) -> String {
    let stamp: String = format_rfc3339(fire).chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    // "2026-12-04T03:00:00.000Z" → "20261204T030000000Z": the milliseconds go.
    let stamp = match stamp.len() {
        19 => format!("{}{}", &stamp[..15], &stamp[18..]),
        _ => stamp,
    };
    format!("{schedule}_{stamp}")
}

/// The trigger in words, as the studio and `show` print it.
fn describe(spec: &ScheduleSpec, yaml: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Raw {
        trigger: Value,
    }
    let raw = serde_saphyr::from_str::<Raw>(yaml).map(|raw| raw.trigger).unwrap_or(Value::Null);
    match &spec.trigger.rule {
        atelier_core::schedule::Rule::Cron(expression) => format!("cron {expression}"),
        atelier_core::schedule::Rule::Recurrence { .. } => {
            let frequency = raw["frequency"].as_str().unwrap_or_default();
            let interval = raw["interval"].as_i64().unwrap_or(1);
            let mut text = format!("every {interval} {frequency}");
            if interval != 1 {
                text.push('s');
            }
            if let Some(at) = raw.get("schedule").filter(|at| !at.is_null()) {
                text.push_str(&format!(" at {}", serde_json::to_string(at).unwrap_or_default()));
            }
            text
        }
    }
}

/// The stored form of what a fire submits: the job file's text and the saved uploads.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredJob {
    yaml: String,
    saved: String,
}

impl Service {
    /// Reads a schedule file and the job it submits, and checks that job as its first fire
    /// will be checked (as `principal`, who will be its creator).
    async fn prepare_schedule(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: &ScheduleSubmission,
        now: Millis,
    ) -> Result<(ScheduleSpec, JobSubmission)> {
        let spec = parse_schedule(&submission.yaml, now).map_err(|error| Error::invalid(error.to_string()))?;
        let job = match (&spec.create_job.source, &submission.job) {
            (JobSource::File(_), Some(job)) => job.clone(),
            (JobSource::File(path), None) => {
                return Err(Error::invalid(format!(
                    "create_job: the job file '{path}' was not sent: submit schedules with `atelier schedule create -f`"
                )));
            }
            (JobSource::Existing(name), _) => {
                self.authorize(principal, workspace, Action::JobsRead).await?;
                let earlier = match self.store.get_job(name).await {
                    Ok(job) if &job.workspace == workspace => job,
                    Ok(_) => return Err(Error::not_found(format!("create_job: job '{name}' not found"))),
                    Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {
                        return Err(Error::not_found(format!("create_job: job '{name}' not found")));
                    }
                    Err(error) => return Err(error),
                };
                let Some(saved) = &earlier.submission else {
                    return Err(Error::invalid(format!(
                        "create_job: job '{name}' was made by a server (a sweep's trial or a pipeline's step) or \
                         before schedules existed: name the job file instead"
                    )));
                };
                JobSubmission::from_saved(earlier.spec_yaml.clone(), saved)?
            }
        };
        let fire = self.fire_submission(&spec, &job, now)?;
        self.check_job(principal, workspace, fire)
            .await
            .map_err(|error| Error::new(error.code, format!("create_job: {}", error.message)))?;
        Ok((spec, job))
    }

    /// The submission of one fire: the job with the schedule's overrides and the fire's tags.
    fn fire_submission(&self, spec: &ScheduleSpec, job: &JobSubmission, fire: Millis) -> Result<JobSubmission> {
        let mut document: Value = serde_saphyr::from_str(&job.yaml)
            .map_err(|error| Error::invalid(format!("create_job: the job file is not YAML: {error}")))?;
        for (field, value) in &spec.create_job.overrides {
            atelier_spec::set_field(&mut document, field, value.clone())
                .map_err(|error| Error::invalid(format!("create_job.{error}")))?;
        }
        let fire_time = format_rfc3339(fire);
        for (key, value) in [(SCHEDULE_TAG, spec.name.clone()), (FIRE_TIME_TAG, fire_time)] {
            atelier_spec::set_field(&mut document, &format!("tags.{key}"), Value::String(value))
                .map_err(|error| Error::invalid(format!("create_job.{error}")))?;
        }
        // The file's own name would collide with the second fire; each fire names its job.
        if let Some(map) = document.as_object_mut() {
            map.remove("name");
        }
        let mut submission = job.clone();
        // JSON is YAML: the server reads the changed document as it reads a file.
        submission.yaml = serde_json::to_string_pretty(&document)
            .map_err(|error| Error::internal(format!("encoding a job file failed: {error}")))?;
        submission.name = None;
        submission.schedule = Some(spec.name.clone());
        Ok(submission)
    }

    fn stored_job(job: &JobSubmission) -> Result<String> {
        let stored = StoredJob { yaml: job.yaml.clone(), saved: job.saved()? };
        serde_json::to_string(&stored).map_err(|error| Error::internal(format!("encoding a schedule failed: {error}")))
    }

    /// Creates a schedule, enabled: it fires from the next time its trigger names.
    pub async fn create_schedule(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: ScheduleSubmission,
    ) -> Result<ScheduleView> {
        self.authorize(principal, workspace, Action::SchedulesWrite).await?;
        self.authorize(principal, workspace, Action::JobsWrite).await?;
        let now = now_millis();
        let (spec, job) = self.prepare_schedule(principal, workspace, &submission, now).await?;
        let schedule = Schedule {
            workspace: workspace.clone(),
            name: spec.name.clone(),
            display_name: spec.display_name.clone(),
            description: spec.description.clone(),
            tags: spec.tags.clone(),
            yaml: submission.yaml.clone(),
            submission: Self::stored_job(&job)?,
            enabled: true,
            last_fire: None,
            next_fire: spec.trigger.next_after(now),
            last_error: None,
            created_by: principal.user.to_string(),
            creation_time: now,
        };
        self.store.create_schedule(&schedule, &job.held_locations()).await?;
        self.schedule_view(workspace, &spec.name).await
    }

    /// Replaces a schedule's file (and the job it submits); it keeps its fires, whether it is
    /// enabled, and its creator.
    pub async fn update_schedule(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        submission: ScheduleSubmission,
    ) -> Result<ScheduleView> {
        self.authorize(principal, workspace, Action::SchedulesWrite).await?;
        self.authorize(principal, workspace, Action::JobsWrite).await?;
        let existing = self.store.get_schedule(workspace, name).await?;
        let now = now_millis();
        let (spec, job) = self.prepare_schedule(principal, workspace, &submission, existing.creation_time).await?;
        if spec.name != name {
            return Err(Error::invalid(format!(
                "name: the file names schedule '{}', but '{name}' is being updated",
                spec.name
            )));
        }
        let schedule = Schedule {
            display_name: spec.display_name.clone(),
            description: spec.description.clone(),
            tags: spec.tags.clone(),
            yaml: submission.yaml.clone(),
            submission: Self::stored_job(&job)?,
            next_fire: if existing.enabled { spec.trigger.next_after(now) } else { None },
            ..existing
        };
        self.store.update_schedule(&schedule, &job.held_locations()).await?;
        self.schedule_view(workspace, name).await
    }

    pub async fn get_schedule(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<ScheduleView> {
        self.authorize(principal, workspace, Action::SchedulesRead).await?;
        self.schedule_view(workspace, name).await
    }

    pub async fn list_schedules(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<Vec<Schedule>> {
        self.authorize(principal, workspace, Action::SchedulesRead).await?;
        self.store.list_schedules(workspace).await
    }

    /// Deletes a schedule; the jobs it submitted stay.
    pub async fn delete_schedule(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<()> {
        self.authorize(principal, workspace, Action::SchedulesDelete).await?;
        self.store.delete_schedule(workspace, name).await
    }

    /// Enables a schedule (it fires from its next time after now: what it missed while
    /// disabled is not submitted) or disables it.
    pub async fn set_schedule_enabled(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        enabled: bool,
    ) -> Result<ScheduleView> {
        self.authorize(principal, workspace, Action::SchedulesWrite).await?;
        let schedule = self.store.get_schedule(workspace, name).await?;
        let next_fire = if enabled { self.parsed(&schedule)?.trigger.next_after(now_millis()) } else { None };
        self.store.set_schedule_enabled(workspace, name, enabled, next_fire).await?;
        self.schedule_view(workspace, name).await
    }

    /// Submits a schedule's job now, as a fire at this moment would (`trigger-now`); the
    /// schedule's own fire times do not change.
    pub async fn trigger_schedule(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<Job> {
        self.authorize(principal, workspace, Action::SchedulesWrite).await?;
        self.authorize(principal, workspace, Action::JobsWrite).await?;
        let schedule = self.store.get_schedule(workspace, name).await?;
        let now = now_millis();
        self.submit_fire(&schedule, now - now % 1000).await
    }

    fn parsed(&self, schedule: &Schedule) -> Result<ScheduleSpec> {
        parse_schedule(&schedule.yaml, schedule.creation_time)
            .map_err(|error| Error::internal(format!("stored schedule '{}' is unreadable: {error}", schedule.name)))
    }

    async fn schedule_view(&self, workspace: &WorkspaceName, name: &str) -> Result<ScheduleView> {
        let schedule = self.store.get_schedule(workspace, name).await?;
        let spec = self.parsed(&schedule)?;
        let mut jobs = Vec::new();
        for job in self.store.jobs_referencing(workspace, &schedule_reference(name), JOBS_SHOWN).await? {
            match self.store.get_job(&job).await {
                Ok(job) => jobs.push(job),
                Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {}
                Err(error) => return Err(error),
            }
        }
        Ok(ScheduleView {
            trigger: describe(&spec, &schedule.yaml),
            time_zone: spec.trigger.time_zone.name().to_owned(),
            schedule,
            jobs,
        })
    }

    /// Submits one fire's job as the schedule's creator. A job that this very fire already
    /// made (a server stopped before recording it) is the fire's job.
    async fn submit_fire(&self, schedule: &Schedule, fire: Millis) -> Result<Job> {
        let spec = self.parsed(schedule)?;
        let stored: StoredJob = serde_json::from_str(&schedule.submission)
            .map_err(|error| Error::internal(format!("stored schedule '{}' is unreadable: {error}", schedule.name)))?;
        let job = JobSubmission::from_saved(stored.yaml, &stored.saved)?;
        let creator = UserName::parse(&schedule.created_by)?;
        let user = self.store.get_user(&creator).await?.user;
        if user.disabled_at.is_some() {
            return Err(Error::permission_denied(format!(
                "the schedule's creator '{creator}' is disabled; update the schedule as another user"
            )));
        }
        let principal = Principal::signed_in(creator, user.is_admin).noted();
        let mut submission = self.fire_submission(&spec, &job, fire)?;
        let name = fire_job_name(&schedule.name, fire);
        submission.name = Some(name.clone());
        match self.create_job(&principal, &schedule.workspace, submission.clone()).await {
            Err(error) if error.code == ErrorCode::ResourceAlreadyExists => {
                let taken = self.store.get_job(&name).await?;
                if self.made_by(&taken, schedule, fire) {
                    return Ok(taken);
                }
                // Another workspace's schedule of the same name took it: a name of this
                // workspace's own, the same at every try.
                let hash = blake3::hash(schedule.workspace.as_str().as_bytes()).to_hex();
                let name = format!("{name}_{}", &hash[..8]);
                submission.name = Some(name.clone());
                match self.create_job(&principal, &schedule.workspace, submission).await {
                    Err(error) if error.code == ErrorCode::ResourceAlreadyExists => {
                        let taken = self.store.get_job(&name).await?;
                        if self.made_by(&taken, schedule, fire) { Ok(taken) } else { Err(error) }
                    }
                    made => made,
                }
            }
            made => made,
        }
    }

    fn made_by(&self, job: &Job, schedule: &Schedule, fire: Millis) -> bool {
        job.workspace == schedule.workspace
            && job.tags.get(SCHEDULE_TAG) == Some(&schedule.name)
            && job.tags.get(FIRE_TIME_TAG) == Some(&format_rfc3339(fire))
    }

    /// Fires every schedule that is due, each under a lease `holder` takes in the store.
    /// Returns the soonest fire time within the next tick, for the loop to wake up at.
    pub async fn fire_due_schedules(&self, holder: &str) -> Result<Option<Millis>> {
        let now = now_millis();
        let mut soonest: Option<Millis> = None;
        for schedule in self.store.due_schedules(now + TICK_MILLIS).await? {
            let Some(due) = schedule.next_fire else { continue };
            if due > now {
                soonest = Some(soonest.map_or(due, |soonest| soonest.min(due)));
                continue;
            }
            let claimed = self
                .store
                .claim_schedule_fire(&schedule.workspace, &schedule.name, due, holder, now, now + LEASE_MILLIS)
                .await?;
            if !claimed {
                continue;
            }
            let spec = match self.parsed(&schedule) {
                Ok(spec) => spec,
                Err(error) => {
                    // It cannot say when it fires next: it stops, saying why, until updated.
                    tracing::warn!(workspace = %schedule.workspace, schedule = %schedule.name, error = %error, "schedule unreadable");
                    let message = Some(error.message.as_str());
                    self.store.record_schedule_fire(&schedule.workspace, &schedule.name, due, None, message).await?;
                    continue;
                }
            };
            // Down over several fire times: the latest of them, once.
            let fire = spec.trigger.latest_missed(due - 1, now).unwrap_or(due);
            let error = match self.audited_fire(&schedule, fire).await {
                Ok(job) => {
                    tracing::info!(workspace = %schedule.workspace, schedule = %schedule.name, job = %job.name, "schedule fired");
                    None
                }
                Err(error) => {
                    tracing::warn!(workspace = %schedule.workspace, schedule = %schedule.name, error = %error, "schedule fire failed");
                    Some(error.message)
                }
            };
            let next = spec.trigger.next_after(fire.max(now));
            self.store.record_schedule_fire(&schedule.workspace, &schedule.name, fire, next, error.as_deref()).await?;
        }
        Ok(soonest)
    }

    /// A fire, audited as a call of the schedule's creator would be: the job's creation is
    /// recorded with it in the store's transaction, a refusal or failure after it.
    async fn audited_fire(&self, schedule: &Schedule, fire: Millis) -> Result<Job> {
        if !self.auditing() {
            return self.submit_fire(schedule, fire).await;
        }
        let request_id = uuid::Uuid::new_v4().hyphenated().to_string();
        let target = format!("schedule {} fire {}", schedule.name, format_rfc3339(fire));
        let context = AuditContext::new(request_id, None, "POST", &target, now_millis());
        let made = context.within(self.submit_fire(schedule, fire)).await;
        let (status, code) = match &made {
            Ok(_) => (201, None),
            Err(error) => (error.code.http_status(), Some(error.code.as_str())),
        };
        if let Some(record) = context.finish(status, code, now_millis()) {
            self.append_audit(&record).await;
        }
        made
    }

    /// Fires schedules until the process ends: it looks every quarter second, and wakes at a
    /// fire time that falls between two looks.
    pub async fn run_schedules(self: Arc<Self>) {
        loop {
            let wait = match self.fire_due_schedules(&self.server_id).await {
                Ok(Some(at)) => (at - now_millis()).clamp(0, TICK_MILLIS),
                Ok(None) => TICK_MILLIS,
                Err(error) => {
                    tracing::warn!(error = %error, "firing schedules failed");
                    TICK_MILLIS
                }
            };
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fire_job_name;

    #[test]
    fn a_fire_names_its_job_after_the_schedule_and_the_second() {
        assert_eq!(fire_job_name("nightly", 1_796_353_200_000), "nightly_20261204T030000Z");
    }
}
