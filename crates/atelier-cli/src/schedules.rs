//! `atelier schedule`: Azure ML's schedule files (`az ml schedule`): create and update (the
//! file checked here, each mistake with its line, then the job file its `create_job` names read,
//! checked with the server and its code and local inputs uploaded), list, show, enable,
//! disable, trigger-now and delete.

use crate::ClientArgs;
use crate::client::{Client, segment};
use crate::output::{print_fields, print_rows};
use anyhow::Context;
use atelier_spec::schedule::{JobSource, parse_schedule};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule from Azure's schedule YAML; it is enabled and fires from its next time.
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Replace a schedule's file (trigger and job); it keeps its fires and whether it is enabled.
    Update {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// List the workspace's schedules with their last and next fire times.
    List,
    /// Show a schedule: its trigger, last and next fire, and the jobs it submitted.
    Show {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Enable a schedule: it fires from its next time after now.
    Enable {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Disable a schedule: it does not fire until enabled.
    Disable {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Submit the schedule's job now, as a fire would; its fire times do not change.
    TriggerNow {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Delete a schedule; the jobs it submitted stay.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        /// Accepted for `az ml` compatibility: deleting a schedule loses no job.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

const FIELDS: [&str; 10] = [
    "name",
    "display_name",
    "status",
    "trigger",
    "time_zone",
    "last_fire_time",
    "next_fire_time",
    "last_error",
    "created_by",
    "creation_time",
];

fn schedule_path(workspace: &str, name: &str) -> String {
    format!("/workspaces/{}/schedules/{}", segment(workspace), segment(name))
}

/// The body of a schedule's create or update: the file, and the job file `create_job` names
/// with the schedule's overrides applied, checked and its files uploaded.
async fn schedule_body(client: &Client, workspace: &str, file: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default();
    let spec = parse_schedule(&text, now).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    let mut body = json!({ "yaml": text });
    if let JobSource::File(path) = &spec.create_job.source {
        let base = file.parent().unwrap_or(Path::new("."));
        let job_file = base.join(path);
        let job_text = std::fs::read_to_string(&job_file)
            .with_context(|| format!("{}: create_job: cannot read {}", file.display(), job_file.display()))?;
        let mut document: Value =
            serde_saphyr::from_str(&job_text).map_err(|error| anyhow::anyhow!("{}: {error}", job_file.display()))?;
        let mut changed = false;
        for (field, value) in &spec.create_job.overrides {
            atelier_spec::set_field(&mut document, field, value.clone())
                .map_err(|error| anyhow::anyhow!("{}: create_job.{error}", file.display()))?;
            changed = true;
        }
        // Each fire names its own job: the file's name would be taken by the first.
        if let Some(map) = document.as_object_mut() {
            changed |= map.remove("name").is_some();
        }
        // JSON is YAML: the server reads the changed document as it reads the file.
        let job_text = if changed { serde_json::to_string_pretty(&document)? } else { job_text };
        body["job"] = crate::jobs::prepare_job(client, workspace, &job_text, &job_file, None).await?;
    }
    Ok(body)
}

pub async fn schedule(command: ScheduleCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    let ws = segment(workspace);
    // Text output: the schedule's fields, then a table of the jobs it submitted.
    let show = |schedule: Value| {
        if args.output == crate::OutputFormat::Json {
            return crate::output::print_json(&schedule);
        }
        print_fields(&schedule, &FIELDS, args.output)?;
        match schedule["jobs"].as_array() {
            Some(jobs) if !jobs.is_empty() => {
                println!("Jobs it submitted:");
                print_rows(jobs, &["name", "type", "status", "fire_time", "created_at"], args.output)
            }
            _ => Ok(()),
        }
    };
    match command {
        ScheduleCommand::Create { file } => {
            let body = schedule_body(&client, workspace, &file).await?;
            let created: Value = client.post(&format!("/workspaces/{ws}/schedules"), &body).await?;
            show(created)
        }
        ScheduleCommand::Update { name, file } => {
            let body = schedule_body(&client, workspace, &file).await?;
            let updated: Value = client.put_json(&schedule_path(workspace, &name), &body).await?;
            show(updated)
        }
        ScheduleCommand::List => {
            let schedules: Vec<Value> = client.get(&format!("/workspaces/{ws}/schedules"), &[]).await?;
            print_rows(
                &schedules,
                &["name", "display_name", "status", "last_fire_time", "next_fire_time", "last_error"],
                args.output,
            )
        }
        ScheduleCommand::Show { name } => show(client.get(&schedule_path(workspace, &name), &[]).await?),
        ScheduleCommand::Enable { name } => {
            show(client.post(&format!("{}/enable", schedule_path(workspace, &name)), &json!({})).await?)
        }
        ScheduleCommand::Disable { name } => {
            show(client.post(&format!("{}/disable", schedule_path(workspace, &name)), &json!({})).await?)
        }
        ScheduleCommand::TriggerNow { name } => {
            let job: Value = client.post(&format!("{}/trigger", schedule_path(workspace, &name)), &json!({})).await?;
            print_fields(&job, &["name", "type", "status", "experiment_name", "created_at"], args.output)
        }
        ScheduleCommand::Delete { name, yes: _ } => {
            client.delete(&schedule_path(workspace, &name)).await?;
            eprintln!("Deleted schedule {name}");
            Ok(())
        }
    }
}
