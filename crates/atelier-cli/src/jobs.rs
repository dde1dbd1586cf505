//! `atelier job`, shaped like `az ml job`.
//!
//! `job create` checks the file here first (the same parser the server uses, so mistakes show
//! before anything is uploaded), uploads the `code` folder as a snapshot (honouring
//! `.amlignore` and `.gitignore`) and local input paths, reads an inline environment's conda
//! file, and submits the YAML as written.

use crate::ClientArgs;
use crate::assets::{assignment, upload_tree};
use crate::client::{Client, segment};
use crate::output::{print_fields, print_rows};
use anyhow::{Context, bail};
use atelier_spec::{JobInput, parse_job};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum JobCommand {
    /// Submit a job from a YAML file.
    Create {
        /// The job file (Azure ML's command job YAML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Set a field of the file: `--set inputs.lr=0.1` (repeatable); a relative path given here
        /// (`--set inputs.notes.path=README.md`) is relative to the current folder.
        #[arg(long = "set")]
        set: Vec<String>,
        /// The job's name (default: the file's, else a new one).
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// Follow the job's log until it ends.
        #[arg(long)]
        stream: bool,
    },
    /// Show a job.
    Show {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// List jobs, newest first.
    List {
        /// Only jobs in this status (e.g. Running, Completed).
        #[arg(long)]
        status: Option<String>,
        /// Only jobs of this experiment.
        #[arg(long)]
        experiment_name: Option<String>,
        /// Only jobs on this compute.
        #[arg(long)]
        compute: Option<String>,
        /// Only the trials of this sweep.
        #[arg(long)]
        parent_job_name: Option<String>,
        #[arg(long)]
        include_archived: bool,
        #[arg(long)]
        archived_only: bool,
        #[arg(long = "max-results")]
        max_results: Option<i64>,
    },
    /// Follow a job's log until it ends; the exit code says whether it completed.
    Stream {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Cancel a job.
    Cancel {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Download a job's artifacts (to `artifacts/`) and named outputs (to `named-outputs/<name>/`).
    Download {
        #[arg(short = 'n', long)]
        name: String,
        /// Where to put them (default: a folder named after the job).
        #[arg(short = 'p', long = "download-path")]
        download_path: Option<PathBuf>,
        /// Every output: the artifacts and each named output.
        #[arg(long)]
        all: bool,
        /// One named output.
        #[arg(long)]
        output_name: Option<String>,
    },
    /// Hide an ended job from listings.
    Archive {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Show an archived job in listings again.
    Restore {
        #[arg(short = 'n', long)]
        name: String,
    },
}

const JOB_FIELDS: [&str; 13] = [
    "name",
    "display_name",
    "status",
    "experiment_name",
    "compute",
    "created_by",
    "created_at",
    "start_time",
    "end_time",
    "exit_code",
    "error",
    "warnings",
    "snapshot",
];

/// What `job show` prints for a sweep: the job's fields, its progress and its best trial.
const SWEEP_FIELDS: [&str; 12] = [
    "name",
    "type",
    "display_name",
    "status",
    "experiment_name",
    "compute",
    "created_at",
    "start_time",
    "end_time",
    "error",
    "trials",
    "best_trial",
];

/// A sweep's `show` answer with its progress and best trial as one line each.
fn with_sweep_summary(mut job: Value) -> Value {
    let sweep = job["sweep"].clone();
    let counts: Vec<String> = sweep["trials"]
        .as_object()
        .map(|counts| counts.iter().map(|(status, count)| format!("{status}: {count}")).collect())
        .unwrap_or_default();
    job["trials"] = json!(format!("{} (at most {})", counts.join(", "), sweep["max_total_trials"]));
    let best = &sweep["best_trial"];
    job["best_trial"] = if best.is_object() {
        json!(format!(
            "{} ({} = {})",
            best["name"].as_str().unwrap_or_default(),
            sweep["primary_metric"].as_str().unwrap_or_default(),
            best["value"]
        ))
    } else {
        Value::Null
    };
    job
}

/// Sets `path` (dotted) in a YAML document read as JSON, creating mappings on the way; the
/// value is read as YAML (`--set inputs.lr=0.1` sets a number).
pub(crate) fn set_field(document: &mut Value, path: &str, value: &str) -> anyhow::Result<()> {
    let parsed: Value = serde_saphyr::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    atelier_spec::set_field(document, path, parsed).map_err(|error| anyhow::anyhow!("--set {error}"))
}

/// The files of a code folder, honouring `.amlignore` and `.gitignore`, with paths relative to
/// the folder.
fn code_files(root: &Path) -> anyhow::Result<Vec<(String, PathBuf, u64)>> {
    if root.is_file() {
        let name = root.file_name().context("the code path has no name")?.to_string_lossy().into_owned();
        let size = std::fs::metadata(root)?.len();
        return Ok(vec![(name, root.to_path_buf(), size)]);
    }
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .add_custom_ignore_filename(".amlignore")
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    for entry in walker {
        let entry = entry.context("cannot read the code folder")?;
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        let relative = entry.path().strip_prefix(root)?.to_string_lossy().replace('\\', "/");
        let size = entry.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        files.push((relative, entry.path().to_path_buf(), size));
    }
    files.sort();
    Ok(files)
}

/// Uploads a code folder as a snapshot (honouring `.amlignore` and `.gitignore`); returns its id.
pub async fn upload_code(client: &Client, workspace: &str, root: &Path, written: &str) -> anyhow::Result<String> {
    let root = root.canonicalize().with_context(|| format!("code '{written}' does not exist"))?;
    let files = code_files(&root)?;
    let total: u64 = files.iter().map(|(_, _, size)| size).sum();
    if total > atelier_service::SNAPSHOT_LIMIT_BYTES {
        bail!(
            "the code folder {} holds {total} bytes, over the snapshot limit of {}: list large files in .amlignore or .gitignore",
            root.display(),
            atelier_service::SNAPSHOT_LIMIT_BYTES
        );
    }
    let snapshot = uuid::Uuid::new_v4().simple().to_string();
    for (relative, path, _) in &files {
        let target = format!(
            "/workspaces/{}/code-uploads/{snapshot}/{}",
            segment(workspace),
            relative.split('/').map(segment).collect::<Vec<_>>().join("/")
        );
        let _: Value = client.put_file(&target, path).await?;
    }
    eprintln!("Uploaded the code snapshot: {} files, {total} bytes", files.len());
    Ok(snapshot)
}

/// Reads a job file (`text`, read from `file`) as the server will, checks it with the server,
/// then uploads its code and local inputs: the body of `POST jobs` (a schedule's `job` too).
pub async fn prepare_job(
    client: &Client,
    workspace: &str,
    text: &str,
    file: &Path,
    name: Option<String>,
) -> anyhow::Result<Value> {
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let folder_name = base
        .canonicalize()
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "Default".to_owned());
    if atelier_spec::is_pipeline(text) {
        let shown_as = file.display().to_string();
        return crate::pipelines::prepare_pipeline(client, workspace, text, &base, &shown_as, &folder_name, name).await;
    }
    let parsed = parse_job(text, &folder_name).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    // A sweep uploads what its trials use: their code and local inputs.
    let spec = parsed.command();
    let ws = segment(workspace);

    let mut body = json!({ "yaml": text, "folder_name": folder_name });
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    if let Some((image, conda_file)) = &spec.inline_environment {
        let inline = crate::environments::inline_spec(&base, image.clone(), conda_file.as_ref())
            .map_err(|error| anyhow::anyhow!("{}: environment: {error:#}", file.display()))?;
        body["inline_environment"] = json!({
            "python": inline.python,
            "requirements": inline.requirements,
            "image": inline.image,
            "channels": inline.channels,
        });
    }
    // The local inputs exist, and the server accepts every reference, before anything is
    // uploaded.
    let mut local_inputs = Vec::new();
    for (input_name, input) in &spec.inputs {
        let JobInput::Asset { path: Some(path), kind, .. } = input else { continue };
        if !atelier_spec::is_local_path(path) {
            continue;
        }
        let local = base.join(path);
        let local =
            local.canonicalize().with_context(|| format!("inputs.{input_name}.path: '{path}' does not exist"))?;
        if kind == "uri_file" && !local.is_file() {
            bail!("inputs.{input_name}.path: '{path}' is a folder, but a uri_file names one file");
        }
        local_inputs.push((input_name, local));
    }
    let _: Value = client
        .post(&format!("/workspaces/{ws}/job-checks"), &body)
        .await
        .map_err(|error| anyhow::anyhow!("{}: {error:#}", file.display()))?;
    if let Some(code) = &spec.code {
        let snapshot = upload_code(client, workspace, &base.join(code), code).await?;
        body["snapshot"] = json!(snapshot);
    }
    let mut uploads = serde_json::Map::new();
    for (input_name, local) in local_inputs {
        let upload = uuid::Uuid::new_v4().simple().to_string();
        let (top, count) = upload_tree(client, &local, &format!("/workspaces/{ws}/data-uploads/{upload}")).await?;
        eprintln!("Uploaded inputs.{input_name}: {count} files");
        uploads.insert(format!("inputs.{input_name}"), json!(top));
    }
    body["uploads"] = Value::Object(uploads);
    Ok(body)
}

fn job_path(workspace: &str, name: &str) -> String {
    format!("/workspaces/{}/jobs/{}", segment(workspace), segment(name))
}

pub async fn job(command: JobCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        JobCommand::Create { file, set, name, stream } => {
            let mut text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            if !set.is_empty() {
                let mut document: Value =
                    serde_saphyr::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
                for assignment_text in &set {
                    let (path, value) = assignment(assignment_text)?;
                    set_field(&mut document, path, &crate::assets::command_line_value(path, value)?)?;
                }
                // JSON is YAML: the server reads the changed document as it reads the file.
                text = serde_json::to_string_pretty(&document)?;
            }
            let body = prepare_job(&client, workspace, &text, &file, name).await?;
            let created: Value = client.post(&format!("/workspaces/{}/jobs", segment(workspace)), &body).await?;
            let job_name = created["name"].as_str().unwrap_or_default().to_owned();
            if stream {
                eprintln!("Job {job_name} submitted.");
                return follow(&client, workspace, &job_name).await;
            }
            print_fields(&created, &JOB_FIELDS, args.output)
        }
        JobCommand::Show { name } => {
            let job: Value = client.get(&job_path(workspace, &name), &[]).await?;
            if job["type"] == "sweep" && args.output != crate::OutputFormat::Json {
                return print_fields(&with_sweep_summary(job), &SWEEP_FIELDS, args.output);
            }
            if job["type"] == "pipeline" {
                return crate::pipelines::print_pipeline(&job, args.output);
            }
            print_fields(&job, &JOB_FIELDS, args.output)
        }
        JobCommand::List {
            status,
            experiment_name,
            compute,
            parent_job_name,
            include_archived,
            archived_only,
            max_results,
        } => {
            let mut query =
                vec![("include_archived", include_archived.to_string()), ("archived_only", archived_only.to_string())];
            let filters = [
                ("status", status),
                ("experiment_name", experiment_name),
                ("compute", compute),
                ("parent_job_name", parent_job_name),
            ];
            for (key, value) in filters {
                if let Some(value) = value {
                    query.push((key, value));
                }
            }
            if let Some(max) = max_results {
                query.push(("max_results", max.to_string()));
            }
            let jobs: Vec<Value> = client.get(&format!("/workspaces/{}/jobs", segment(workspace)), &query).await?;
            print_rows(
                &jobs,
                &["name", "display_name", "status", "experiment_name", "compute", "created_at"],
                args.output,
            )
        }
        JobCommand::Stream { name } => follow(&client, workspace, &name).await,
        JobCommand::Cancel { name } => {
            let job: Value = client.post(&format!("{}/cancel", job_path(workspace, &name)), &json!({})).await?;
            print_fields(&job, &JOB_FIELDS, args.output)
        }
        JobCommand::Archive { name } => {
            let job: Value = client.post(&format!("{}/archive", job_path(workspace, &name)), &json!({})).await?;
            print_fields(&job, &JOB_FIELDS, args.output)
        }
        JobCommand::Restore { name } => {
            let job: Value = client.post(&format!("{}/restore", job_path(workspace, &name)), &json!({})).await?;
            print_fields(&job, &JOB_FIELDS, args.output)
        }
        JobCommand::Download { name, download_path, all, output_name } => {
            let job: Value = client.get(&job_path(workspace, &name), &[]).await?;
            let root = download_path.unwrap_or_else(|| PathBuf::from(&name));
            let outputs: Vec<String> =
                job["plan"]["outputs"].as_object().map(|map| map.keys().cloned().collect()).unwrap_or_default();
            let wanted: Vec<String> = match (&output_name, all) {
                (Some(output), _) if output == "artifacts" || output == "default" => Vec::new(),
                (Some(output), _) => {
                    if !outputs.contains(output) {
                        bail!(
                            "job {name} has no output '{output}' (it has: artifacts{})",
                            outputs.iter().map(|o| format!(", {o}")).collect::<String>()
                        );
                    }
                    vec![output.clone()]
                }
                (None, true) => outputs,
                (None, false) => Vec::new(),
            };
            let artifacts = output_name.is_none() || matches!(output_name.as_deref(), Some("artifacts" | "default"));
            let mut count = 0;
            if artifacts {
                let run = job["name"].as_str().unwrap_or_default();
                let listing = format!("/workspaces/{}/runs/{}/artifacts", segment(workspace), segment(run));
                let mut folders = vec![String::new()];
                while let Some(folder) = folders.pop() {
                    let entries: Vec<Value> = client.get(&listing, &[("path", folder)]).await?;
                    for entry in entries {
                        let path = entry["path"].as_str().unwrap_or_default().to_owned();
                        if entry["is_dir"].as_bool().unwrap_or(false) {
                            folders.push(path);
                            continue;
                        }
                        let target = safe_target(&root.join("artifacts"), &path)?;
                        let encoded = path.split('/').map(segment).collect::<Vec<_>>().join("/");
                        client.get_to_file(&format!("{listing}/{encoded}"), &target).await?;
                        count += 1;
                    }
                }
            }
            for output in wanted {
                let listing: Value =
                    client.get(&format!("{}/outputs/{}", job_path(workspace, &name), segment(&output)), &[]).await?;
                for file in listing["files"].as_array().cloned().unwrap_or_default() {
                    let path = file["path"].as_str().unwrap_or_default();
                    // Paths start with the output's own name.
                    let inner = path.split_once('/').map(|(_, rest)| rest).unwrap_or(path);
                    let target = safe_target(&root.join("named-outputs").join(&output), inner)?;
                    client
                        .get_to_file(
                            &format!(
                                "{}/outputs/{}/files/{}",
                                job_path(workspace, &name),
                                segment(&output),
                                path.split('/').map(segment).collect::<Vec<_>>().join("/")
                            ),
                            &target,
                        )
                        .await?;
                    count += 1;
                }
            }
            eprintln!("Downloaded {count} files to {}", root.display());
            Ok(())
        }
    }
}

/// `root` joined with a path from the server, refusing any that would leave it.
fn safe_target(root: &Path, relative: &str) -> anyhow::Result<PathBuf> {
    let normalized = atelier_core::limits::normalize_artifact_path(relative)
        .map_err(|error| anyhow::anyhow!("{}", error.message))?;
    if normalized.is_empty() {
        bail!("the server named an empty path");
    }
    Ok(root.join(normalized))
}

/// Prints a job's log as it grows until the job ends; fails unless it completed.
async fn follow(client: &Client, workspace: &str, name: &str) -> anyhow::Result<()> {
    use std::io::Write;
    println!("RunId: {name}");
    println!("Streaming {}", atelier_service::STD_LOG);
    let mut offset = 0i64;
    loop {
        let piece: Value = client
            .get(
                &format!("{}/logs", job_path(workspace, name)),
                &[("from", offset.to_string()), ("wait", "20".to_owned())],
            )
            .await?;
        if let Some(text) = piece["text"].as_str() {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
        offset = piece["next_offset"].as_i64().unwrap_or(offset);
        if piece["ended"].as_bool().unwrap_or(false) && piece["text"].as_str().is_none_or(str::is_empty) {
            let status = piece["status"].as_str().unwrap_or_default().to_owned();
            println!();
            println!("Execution Summary");
            println!("=================");
            println!("RunId: {name}");
            println!("Status: {status}");
            if status == "Completed" {
                return Ok(());
            }
            let job: Value = client.get(&job_path(workspace, name), &[]).await?;
            let reason = job["error"].as_str().map(str::to_owned).or_else(|| {
                job["events"].as_array().and_then(|events| {
                    events.iter().rev().find_map(|event| event["message"].as_str().map(str::to_owned))
                })
            });
            match reason {
                Some(reason) => bail!("job {name} ended {status}: {reason}"),
                None => bail!("job {name} ended {status}"),
            }
        }
    }
}
