//! Sweep jobs: a parent job that runs no command itself, and trials that are ordinary command
//! jobs (each with its own run, tagged `mlflow.parentRunId`, its sampled values logged as params).
//!
//! The scheduler drives every sweep on each of its passes (on every job's end, and every
//! second), from what the store holds and nothing else: the sweep's file (its settings), its
//! plan (the trials' template), and its trials with their runs. So a restarted server goes on
//! where it stopped: a trial's values depend only on the sweep's seed and the trial's index
//! (random and Sobol sampling, the grid), or on the trials that ended before it (TPE, which
//! reads them back from their params), and an index is stored once per sweep.
//!
//! A pass over a sweep: stop it (a cancel, or its timeout: cancel its trials, then end it);
//! apply its early-termination policy to its running trials; start trials while fewer than
//! `max_concurrent_trials` run and fewer than `max_total_trials` were started; end it when
//! every trial has ended (`Failed` only if every trial failed), naming its best trial.

use super::{STD_LOG, job_run_tags, output_uri, queued_events, spec_error};
use crate::{Service, now_millis};
use atelier_core::job::{Job, JobKind, JobStatus};
use atelier_core::model::{LifecycleStage, Param, Run, RunId, RunInfo, RunStatus, Tag, ViewType};
use atelier_core::sweep::Goal;
use atelier_core::sweep::space::{Assignment, Value, name_seed};
use atelier_core::sweep::termination::{Peer, evaluate};
use atelier_core::sweep::tpe::Observation;
use atelier_core::{Error, Result};
use atelier_spec::sweep::{Sampling, SweepSettings, parse_sweep_settings};
use atelier_spec::{JobPlan, fill_search_space};
use std::collections::{BTreeMap, HashMap};

/// The tag on a sweep's run that names its best trial, as Azure ML's HyperDrive runs name
/// their best child run.
pub const BEST_TRIAL_TAG: &str = "best_child_run_id";

/// The most trials a sweep has (Azure's bound on `max_total_trials`).
const MAX_TRIALS: i64 = 1_000;

/// A trial, as its sweep sees it.
#[derive(Debug, Clone)]
pub struct TrialView {
    pub job: Job,
    /// Its sampled values, as its run's params hold them.
    pub values: BTreeMap<String, String>,
    /// The primary metric's latest value, if the trial logged it.
    pub objective: Option<f64>,
}

/// A sweep's state: its settings, its trials and the best of them.
#[derive(Debug, Clone)]
pub struct SweepView {
    pub settings: SweepSettings,
    pub trials: Vec<TrialView>,
    /// The index (in `trials`) of the best trial that logged the primary metric.
    pub best: Option<usize>,
}

impl SweepView {
    pub fn best_trial(&self) -> Option<&TrialView> {
        self.best.map(|index| &self.trials[index])
    }
}

/// The best of the trials' objectives (a trial that did not log it has none), by the goal.
fn best_of(goal: Goal, objectives: impl Iterator<Item = Option<f64>>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (index, objective) in objectives.enumerate() {
        let Some(value) = objective.filter(|value| !value.is_nan()) else { continue };
        if best.is_none_or(|(_, best_value)| goal.is_better(value, best_value)) {
            best = Some((index, value));
        }
    }
    best.map(|(index, _)| index)
}

impl Service {
    /// A sweep's settings, read again from its file: a sweep job's own, or for a pipeline's
    /// sweep step the pipeline's file (which its step job keeps).
    pub(crate) fn sweep_settings(&self, sweep: &Job) -> Result<SweepSettings> {
        let Some(step) = &sweep.step else { return parse_sweep_settings(&sweep.spec_yaml).map_err(spec_error) };
        let pipeline = atelier_spec::pipeline::parse_pipeline_job(&sweep.spec_yaml, "Default").map_err(spec_error)?;
        pipeline.steps.get(step).and_then(|step| step.sweep.clone()).ok_or_else(|| {
            Error::internal(format!(
                "sweep '{}' is step '{step}' of a pipeline whose file has no such sweep",
                sweep.name
            ))
        })
    }

    /// A sweep's trials with their values and objectives.
    pub(crate) async fn sweep_view(&self, sweep: &Job) -> Result<SweepView> {
        let settings = self.sweep_settings(sweep)?;
        // The trials' runs in one search (their params and latest metrics come in a few queries),
        // joined to the trials by name.
        let filter = atelier_core::filter::parse_run_filter(&format!("tags.mlflow.parentRunId = '{}'", sweep.name))
            .map_err(|error| Error::internal(format!("the filter of a sweep's trials: {error}")))?;
        let query = atelier_store::RunQuery {
            workspace: &sweep.workspace,
            experiment_ids: &[sweep.experiment_id],
            filter: &filter,
            view: ViewType::All,
            order_by: &[],
            limit: MAX_TRIALS,
            offset: 0,
        };
        let mut runs: HashMap<String, Run> =
            self.store.search_runs(&query).await?.into_iter().map(|run| (run.info.run_id.to_string(), run)).collect();
        let mut trials = Vec::new();
        for job in self.store.sweep_trials(&sweep.name).await? {
            let (values, objective) = match runs.remove(&job.name) {
                Some(run) => (
                    run.params.into_iter().map(|param| (param.key, param.value)).collect(),
                    run.metrics.iter().find(|metric| metric.key == settings.primary_metric).map(|metric| metric.value),
                ),
                None => (BTreeMap::new(), None),
            };
            trials.push(TrialView { job, values, objective });
        }
        let best = best_of(settings.goal, trials.iter().map(|trial| trial.objective));
        Ok(SweepView { settings, trials, best })
    }

    pub(super) async fn drive_sweep(&self, sweep: &Job) -> Result<()> {
        let view = self.sweep_view(sweep).await?;
        let settings = &view.settings;
        let timed_out = now_millis() - sweep.created_at >= (settings.timeout as i64).saturating_mul(1000);
        if sweep.status == JobStatus::CancelRequested || timed_out {
            return self.stop_sweep(sweep, &view, timed_out).await;
        }
        if let Some(policy) = &settings.early_termination {
            let reports = self.trial_reports(&view).await?;
            for (index, trial) in view.trials.iter().enumerate() {
                if trial.job.status != JobStatus::Running {
                    continue;
                }
                let peers: Vec<Peer<'_>> = view
                    .trials
                    .iter()
                    .zip(&reports)
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .map(|(_, (peer, reports))| Peer { reports, finished: peer.job.status.is_terminal() })
                    .collect();
                if let Some(termination) = evaluate(policy, settings.goal, &reports[index], &peers) {
                    self.sweep_log(sweep, &format!("{} early-terminated: {}", trial.job.name, termination.reason))
                        .await;
                    self.stop_trial(&trial.job, &termination.reason).await?;
                }
            }
        }

        let active = view.trials.iter().filter(|trial| !trial.job.status.is_terminal()).count();
        let started = view.trials.len();
        let next_index = view.trials.iter().filter_map(|trial| trial.job.trial).max().map_or(0, |last| last + 1);
        let room = (settings.max_concurrent_trials as usize)
            .saturating_sub(active)
            .min((settings.max_total_trials as usize).saturating_sub(started));
        if room > 0 {
            if sweep.status == JobStatus::Queued {
                let moved =
                    self.transition(&sweep.name, JobStatus::Running, Some("sampling trials"), None, None).await?;
                if moved.is_none() {
                    return Ok(());
                }
            }
            let template = self.plan_of(sweep)?;
            let mut created = 0;
            for offset in 0..room {
                let index = next_index + offset as i64;
                let Some(assignment) = self.next_assignment(sweep, &view, index) else { break };
                let trial = self.create_trial(sweep, &template, index, &assignment).await?;
                let values: Vec<String> = assignment.iter().map(|(name, value)| format!("{name}={value}")).collect();
                self.sweep_log(sweep, &format!("{} queued with {}", trial.name, values.join(", "))).await;
                created += 1;
            }
            if created > 0 {
                return Ok(());
            }
        }
        // Nothing runs and nothing more is sampled: every trial was started, or the grid is done.
        if active == 0 {
            self.finish_sweep(sweep, &view).await?;
        }
        Ok(())
    }

    /// Each trial's reports of the primary metric, in step order (none before it runs).
    async fn trial_reports(&self, view: &SweepView) -> Result<Vec<Vec<f64>>> {
        let mut all = Vec::with_capacity(view.trials.len());
        for trial in &view.trials {
            let reports = if trial.objective.is_some() {
                let run_id = RunId::parse(&trial.job.name)?;
                let history = self.store.get_metric_history(&run_id, &view.settings.primary_metric, None, 0).await?;
                history.into_iter().map(|metric| metric.value).collect()
            } else {
                Vec::new()
            };
            all.push(reports);
        }
        Ok(all)
    }

    /// The values of trial `index`: `None` when the grid is done. TPE learns from the trials
    /// that ended, read back from their params.
    fn next_assignment(&self, sweep: &Job, view: &SweepView, index: i64) -> Option<Assignment> {
        let settings = &view.settings;
        let space = &settings.search_space;
        let index = u64::try_from(index).ok()?;
        // A sweep without a seed draws from its name, which is unique on the server.
        let default_seed = name_seed(&sweep.name);
        let ended: Vec<(Assignment, f64)> = match settings.sampling {
            Sampling::Bayesian => view
                .trials
                .iter()
                .filter(|trial| trial.job.status.is_terminal())
                .filter_map(|trial| {
                    let objective = trial.objective?;
                    let assignment = space
                        .iter()
                        .map(|(name, expression)| {
                            Some((name.clone(), expression.parse_value(trial.values.get(name)?)?))
                        })
                        .collect::<Option<Assignment>>()?;
                    Some((assignment, objective))
                })
                .collect(),
            _ => Vec::new(),
        };
        let history: Vec<Observation<'_>> =
            ended.iter().map(|(assignment, objective)| Observation { assignment, objective: *objective }).collect();
        settings.suggest(default_seed, index, &history)
    }

    /// Stores trial `index` of a sweep, queued: its plan is the sweep's with the values written
    /// into the command, and its run holds the values as params.
    async fn create_trial(&self, sweep: &Job, template: &JobPlan, index: i64, assignment: &Assignment) -> Result<Job> {
        let name = format!("{}_{index}", sweep.name);
        let texts: BTreeMap<String, String> =
            assignment.iter().map(|(name, value)| (name.clone(), value.to_string())).collect();
        let mut plan = template.clone();
        plan.artifact_uri = match template.artifact_uri.strip_suffix(&format!("{}/artifacts", sweep.name)) {
            Some(base) => format!("{base}{name}/artifacts"),
            None => return Err(Error::internal(format!("sweep '{}' has an unexpected artifact location", sweep.name))),
        };
        plan.job = name.clone();
        plan.command = fill_search_space(&template.command, &texts);
        // The sweep registers its best trial's outputs, not each trial.
        for output in plan.outputs.values_mut() {
            output.register_name = None;
            output.register_version = None;
        }
        let plan_text = serde_json::to_string(&plan)
            .map_err(|error| Error::internal(format!("encoding a plan failed: {error}")))?;
        let now = now_millis();
        let run = RunInfo {
            artifact_uri: plan.artifact_uri.clone(),
            run_id: RunId::parse(&name)?,
            workspace: sweep.workspace.clone(),
            experiment_id: sweep.experiment_id,
            run_name: name.clone(),
            user_id: sweep.created_by.clone(),
            status: RunStatus::Scheduled,
            start_time: Some(now),
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
        };
        let mut run_tags = job_run_tags(&sweep.tags, &name, &sweep.created_by, &name);
        run_tags.push(Tag::new("mlflow.parentRunId", sweep.name.clone()));
        let params: Vec<Param> = texts.into_iter().map(|(key, value)| Param { key, value }).collect();
        // The sweep's compute, resources, priority, tags, code and submitter; a queued job of its own.
        let trial = Job {
            name: name.clone(),
            display_name: None,
            description: None,
            kind: JobKind::Command,
            parent: Some(sweep.name.clone()),
            trial: Some(index),
            // A sweep step's trials are not steps of its pipeline.
            step: None,
            status: JobStatus::Queued,
            plan: plan_text,
            created_at: now,
            exit_code: None,
            error: None,
            warnings: Vec::new(),
            archived: false,
            runtime_pid: None,
            runtime_start: None,
            assigned_gpus: Vec::new(),
            heartbeat_at: None,
            cluster_state: None,
            events: queued_events(now),
            submission: None,
            ..sweep.clone()
        };
        let references: Vec<String> = if plan.outputs.is_empty() {
            Vec::new()
        } else {
            vec![format!("{}/", output_uri(&name, "").trim_end_matches('/'))]
        };
        let unusable = hex::encode(rand::random::<[u8; 32]>());
        self.store.create_job(&trial, &run, &run_tags, &params, &unusable, &references).await
    }

    /// Cancels a trial that has not ended: at once if its runtime was never launched, else by
    /// asking the runtime to stop. `reason` becomes its status's message.
    async fn stop_trial(&self, trial: &Job, reason: &str) -> Result<()> {
        let next = if trial.runtime_pid.is_none() && !trial.status.holds_resources() {
            JobStatus::Canceled
        } else {
            JobStatus::CancelRequested
        };
        // The reason is also the trial's error, which `job show` gives.
        self.transition(&trial.name, next, Some(reason), None, Some(reason)).await?;
        Ok(())
    }

    /// A canceled or timed-out sweep: its trials are asked to stop, and it ends once they have.
    async fn stop_sweep(&self, sweep: &Job, view: &SweepView, timed_out: bool) -> Result<()> {
        let reason = if timed_out {
            format!("the sweep reached its timeout of {} s", view.settings.timeout)
        } else {
            "the sweep was canceled".to_owned()
        };
        if timed_out && sweep.status != JobStatus::CancelRequested {
            self.transition(&sweep.name, JobStatus::CancelRequested, Some(&reason), None, None).await?;
            self.sweep_log(sweep, &format!("{reason}: canceling its trials")).await;
        }
        let mut running = 0;
        for trial in &view.trials {
            if trial.job.status.is_terminal() {
                continue;
            }
            running += 1;
            if trial.job.status != JobStatus::CancelRequested {
                self.stop_trial(&trial.job, &reason).await?;
            }
        }
        if running == 0 {
            self.transition(&sweep.name, JobStatus::Canceled, Some(&reason), None, Some(&reason)).await?;
            self.sweep_log(sweep, &format!("canceled: {reason}")).await;
        }
        Ok(())
    }

    /// Ends a sweep whose trials have all ended: `Failed` if every one failed, else
    /// `Completed`, with the best trial named on its run and its outputs registered.
    async fn finish_sweep(&self, sweep: &Job, view: &SweepView) -> Result<()> {
        let settings = &view.settings;
        if !view.trials.is_empty() && view.trials.iter().all(|trial| trial.job.status == JobStatus::Failed) {
            let message = format!("every trial failed ({} of them)", view.trials.len());
            self.transition(&sweep.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
            self.sweep_log(sweep, &format!("failed: {message}")).await;
            return Ok(());
        }
        let run_id = RunId::parse(&sweep.name)?;
        let message = match view.best_trial() {
            Some(best) => {
                let value = Value::Float(best.objective.unwrap_or(f64::NAN));
                let tag = Tag::new(BEST_TRIAL_TAG, best.job.name.clone());
                let batch = atelier_store::Batch { tags: vec![tag], ..Default::default() };
                self.store.log_batch(&sweep.workspace, &run_id, batch).await?;
                if let Err(error) = self.register_outputs_of(&best.job, &self.plan_of(sweep)?).await {
                    let message = format!("registering the best trial's outputs failed: {}", error.message);
                    self.transition(&sweep.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                    self.sweep_log(sweep, &format!("failed: {message}")).await;
                    return Ok(());
                }
                format!("best trial: {} ({} = {value})", best.job.name, settings.primary_metric)
            }
            None => format!("no trial logged the primary metric '{}'", settings.primary_metric),
        };
        if self.transition(&sweep.name, JobStatus::Completed, Some(&message), None, None).await?.is_some() {
            self.sweep_log(sweep, &format!("completed: {message}")).await;
        }
        Ok(())
    }

    /// Notes a trial's end in its sweep's log, with the best trial so far.
    pub(crate) async fn note_trial_end(&self, trial: &Job) {
        let Some(parent) = &trial.parent else { return };
        let noted = async {
            let sweep = self.store.get_job(parent).await?;
            let view = self.sweep_view(&sweep).await?;
            let objective = view
                .trials
                .iter()
                .find(|other| other.job.name == trial.name)
                .and_then(|other| other.objective)
                .map_or_else(|| "not logged".to_owned(), |value| Value::Float(value).to_string());
            let best = view.best_trial().map_or_else(
                || "none yet".to_owned(),
                |best| format!("{} ({})", best.job.name, Value::Float(best.objective.unwrap_or(f64::NAN))),
            );
            let why = trial.events.last().and_then(|event| event.message.clone()).unwrap_or_default();
            let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
            let line = format!(
                "{} {}{why}: {} = {objective}; best so far: {best}",
                trial.name,
                trial.status.as_str(),
                view.settings.primary_metric
            );
            self.sweep_log(&sweep, &line).await;
            Ok::<(), Error>(())
        };
        if let Err(error) = noted.await {
            tracing::warn!(trial = %trial.name, error = %error, "noting a trial's end failed");
        }
    }

    /// Appends a line, with the time, to a parent job's own log (`user_logs/std_log.txt`): a
    /// sweep's or a pipeline's.
    pub(super) async fn sweep_log(&self, sweep: &Job, line: &str) {
        let _one_writer = self.sweep_log_lock.lock().await;
        let appended = async {
            let size = self
                .store
                .job_log_files(&sweep.name)
                .await?
                .into_iter()
                .find(|(file, _)| file == STD_LOG)
                .map_or(0, |(_, size)| size);
            let time = atelier_core::time::format_rfc3339(now_millis());
            self.store.append_job_log(&sweep.name, STD_LOG, size, &format!("{time} {line}\n")).await?;
            Ok::<(), Error>(())
        };
        if let Err(error) = appended.await {
            tracing::warn!(sweep = %sweep.name, error = %error, "writing a sweep's log failed");
        }
    }

    /// A sweep's view for those who may read its jobs.
    pub async fn get_sweep(
        &self,
        principal: &crate::Principal,
        workspace: &atelier_core::names::WorkspaceName,
        name: &str,
    ) -> Result<SweepView> {
        let sweep = self.get_job(principal, workspace, name).await?;
        if sweep.kind != JobKind::Sweep {
            return Err(Error::invalid(format!("job '{name}' is not a sweep")));
        }
        self.sweep_view(&sweep).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_trial_is_the_goals_among_those_that_logged_it() {
        let objectives = [Some(0.5), None, Some(0.9), Some(f64::NAN)];
        assert_eq!(best_of(Goal::Maximize, objectives.into_iter()), Some(2));
        assert_eq!(best_of(Goal::Minimize, objectives.into_iter()), Some(0));
        assert_eq!(best_of(Goal::Minimize, [None, Some(f64::NAN)].into_iter()), None);
    }
}
