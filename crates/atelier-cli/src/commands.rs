//! The client commands: `workspace`, `experiment`, `run`, `user` and `token`. Each one
//! calls the native API and prints a table or JSON.

use crate::client::{Client, segment};
use crate::output::{self, print_json, table as new_table, text};
use crate::{ClientArgs, OutputFormat};
use anyhow::{Context, bail};
use clap::Subcommand;
use comfy_table::Table;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// List the workspaces you can see.
    List,
    /// Show one workspace.
    Show { name: String },
    /// Create a workspace (server administrators).
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// A tag as KEY=VALUE; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Update a workspace's description or tags (Owners and Contributors).
    Update {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Replace the tags with these KEY=VALUE pairs; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Delete a workspace and everything in it (Owners and Contributors).
    Delete { name: String },
}

#[derive(Subcommand)]
pub enum ExperimentCommand {
    /// List experiments.
    List {
        /// active, deleted or all.
        #[arg(long, default_value = "active")]
        view: String,
        /// MLflow filter, e.g. "name LIKE 'exp%'".
        #[arg(long)]
        filter: Option<String>,
    },
    /// Show an experiment by id or name.
    Show { experiment: String },
}

#[derive(Subcommand)]
pub enum RunCommand {
    /// List the runs of an experiment with their latest metrics and params.
    List {
        /// Experiment name (or id).
        #[arg(long, short = 'e')]
        experiment: String,
        /// MLflow filter, e.g. "metrics.acc > 0.9 and params.lr = '0.01'".
        #[arg(long)]
        filter: Option<String>,
        /// Ordering, e.g. "metrics.acc DESC"; repeatable.
        #[arg(long = "order-by")]
        order_by: Vec<String>,
        #[arg(long, default_value_t = 100)]
        max_results: i64,
    },
    /// Show one run.
    Show { run_id: String },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// List users.
    List,
    /// Create a user.
    Create {
        name: String,
        /// The password for signing in (at least 8 characters); without one, tokens only.
        #[arg(long, env = "ATELIER_NEW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make the user a server administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Disable a user: they keep their roles and records, but their passwords, tokens,
    /// studio sessions and jobs' tokens are refused.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token (for another user: administrators only). The token is shown once.
    Create {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// `all` (the default), or `metrics`: a token for Prometheus that reads `/metrics` (the
        /// endpoints its user may see) and nothing else.
        #[arg(long)]
        scope: Option<String>,
    },
    /// List tokens.
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

fn time_text(value: &Value) -> String {
    value.as_i64().map(output::local_time).unwrap_or_default()
}

fn duration_text(start: &Value, end: &Value) -> String {
    atelier_core::time::format_duration(start.as_i64(), end.as_i64())
}

fn parse_tags(pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut tags = Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else { bail!("invalid tag '{pair}': expected KEY=VALUE") };
        tags.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    Ok(tags)
}

fn workspace_table(workspaces: &[Value]) -> Table {
    let mut table = new_table(vec!["name".into(), "description".into(), "tags".into(), "created".into()]);
    for workspace in workspaces {
        let tags = workspace["tags"].as_object().map(|tags| {
            tags.iter().map(|(key, value)| format!("{key}={}", text(value))).collect::<Vec<_>>().join(", ")
        });
        table.add_row(vec![
            text(&workspace["name"]),
            text(&workspace["description"]),
            tags.unwrap_or_default(),
            time_text(&workspace["created_at"]),
        ]);
    }
    table
}

pub async fn workspace(command: WorkspaceCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let json_output = args.output == OutputFormat::Json;
    match command {
        WorkspaceCommand::List => {
            let workspaces: Vec<Value> = client.get("/workspaces", &[]).await?;
            if json_output {
                print_json(&Value::Array(workspaces))
            } else {
                println!("{}", workspace_table(&workspaces));
                Ok(())
            }
        }
        WorkspaceCommand::Show { name } => {
            let workspace: Value = client.get(&format!("/workspaces/{}", segment(&name)), &[]).await?;
            if json_output {
                print_json(&workspace)
            } else {
                println!("{}", workspace_table(&[workspace]));
                Ok(())
            }
        }
        WorkspaceCommand::Create { name, description, tags } => {
            let body = json!({ "name": name, "description": description, "tags": parse_tags(&tags)? });
            let workspace: Value = client.post("/workspaces", &body).await?;
            if json_output {
                print_json(&workspace)
            } else {
                println!("{}", workspace_table(&[workspace]));
                Ok(())
            }
        }
        WorkspaceCommand::Update { name, description, tags } => {
            let mut body = Map::new();
            if let Some(description) = description {
                body.insert("description".into(), Value::String(description));
            }
            if !tags.is_empty() {
                body.insert("tags".into(), Value::Object(parse_tags(&tags)?));
            }
            let workspace: Value =
                client.patch(&format!("/workspaces/{}", segment(&name)), &Value::Object(body)).await?;
            if json_output {
                print_json(&workspace)
            } else {
                println!("{}", workspace_table(&[workspace]));
                Ok(())
            }
        }
        WorkspaceCommand::Delete { name } => {
            client.delete(&format!("/workspaces/{}", segment(&name))).await?;
            if json_output {
                print_json(&json!({ "deleted": name }))
            } else {
                println!("deleted workspace '{name}'");
                Ok(())
            }
        }
    }
}

fn experiment_table(experiments: &[Value]) -> Table {
    let mut table = new_table(vec!["id".into(), "name".into(), "stage".into(), "created".into(), "last update".into()]);
    for experiment in experiments {
        table.add_row(vec![
            text(&experiment["experiment_id"]),
            text(&experiment["name"]),
            text(&experiment["lifecycle_stage"]),
            time_text(&experiment["creation_time"]),
            time_text(&experiment["last_update_time"]),
        ]);
    }
    table
}

pub async fn experiment(command: ExperimentCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let json_output = args.output == OutputFormat::Json;
    match command {
        ExperimentCommand::List { view, filter } => {
            let workspace = args.workspace();
            let mut experiments = Vec::new();
            let mut page_token: Option<String> = None;
            loop {
                let mut query = vec![("view", view.clone()), ("max_results", "1000".to_owned())];
                if let Some(filter) = &filter {
                    query.push(("filter", filter.clone()));
                }
                if let Some(token) = &page_token {
                    query.push(("page_token", token.clone()));
                }
                let page: Value =
                    client.get(&format!("/workspaces/{}/experiments", segment(workspace)), &query).await?;
                experiments.extend(page["items"].as_array().cloned().unwrap_or_default());
                page_token = page["next_page_token"].as_str().map(str::to_owned);
                if page_token.is_none() {
                    break;
                }
            }
            if json_output {
                print_json(&Value::Array(experiments))
            } else {
                println!("{}", experiment_table(&experiments));
                Ok(())
            }
        }
        ExperimentCommand::Show { experiment } => {
            let experiment: Value = client
                .get(&format!("/workspaces/{}/experiments/{}", segment(args.workspace()), segment(&experiment)), &[])
                .await?;
            if json_output {
                print_json(&experiment)
            } else {
                println!("{}", experiment_table(&[experiment]));
                Ok(())
            }
        }
    }
}

fn run_table(runs: &[Value]) -> Table {
    let metric_keys: BTreeSet<String> =
        runs.iter().filter_map(|run| run["metrics"].as_object()).flat_map(|metrics| metrics.keys().cloned()).collect();
    let param_keys: BTreeSet<String> =
        runs.iter().filter_map(|run| run["params"].as_object()).flat_map(|params| params.keys().cloned()).collect();
    let mut header: Vec<String> =
        vec!["run id".into(), "name".into(), "status".into(), "start".into(), "duration".into(), "user".into()];
    header.extend(metric_keys.iter().map(|key| format!("metrics.{key}")));
    header.extend(param_keys.iter().map(|key| format!("params.{key}")));
    let mut table = new_table(header);
    for run in runs {
        let mut row = vec![
            output::cell("run_id", Some(&run["run_id"])),
            text(&run["run_name"]),
            text(&run["status"]),
            time_text(&run["start_time"]),
            duration_text(&run["start_time"], &run["end_time"]),
            text(&run["user_id"]),
        ];
        row.extend(metric_keys.iter().map(|key| output::cell(key, Some(&run["metrics"][key]))));
        row.extend(param_keys.iter().map(|key| output::cell(key, Some(&run["params"][key]))));
        table.add_row(row);
    }
    table
}

pub async fn run(command: RunCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let json_output = args.output == OutputFormat::Json;
    match command {
        RunCommand::List { experiment, filter, order_by, max_results } => {
            let workspace = args.workspace();
            let found: Value = client
                .get(&format!("/workspaces/{}/experiments/{}", segment(workspace), segment(&experiment)), &[])
                .await?;
            let experiment_id = text(&found["experiment_id"]);
            let mut query = vec![("experiment_id", experiment_id), ("max_results", max_results.to_string())];
            if let Some(filter) = filter {
                query.push(("filter", filter));
            }
            for order in order_by {
                query.push(("order_by", order));
            }
            let page: Value = client.get(&format!("/workspaces/{}/runs", segment(workspace)), &query).await?;
            let runs = page["items"].as_array().cloned().unwrap_or_default();
            if json_output {
                print_json(&Value::Array(runs))
            } else {
                println!("{}", run_table(&runs));
                if page["next_page_token"].is_string() {
                    println!("(showing the first {max_results} runs; use --max-results to see more)");
                }
                Ok(())
            }
        }
        RunCommand::Show { run_id } => {
            let run: Value = client
                .get(&format!("/workspaces/{}/runs/{}", segment(args.workspace()), segment(&run_id)), &[])
                .await
                .with_context(|| format!("cannot show run '{run_id}'"))?;
            if json_output {
                return print_json(&run);
            }
            println!("{}", run_table(std::slice::from_ref(&run)));
            if let Some(tags) = run["tags"].as_object().filter(|tags| !tags.is_empty()) {
                let mut table = new_table(vec!["tag".into(), "value".into()]);
                for (key, value) in tags {
                    table.add_row(vec![key.clone(), output::cell(key, Some(value))]);
                }
                println!("{table}");
            }
            Ok(())
        }
    }
}

pub async fn user(command: UserCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let json_output = args.output == OutputFormat::Json;
    let users: Vec<Value> = match command {
        UserCommand::List => client.get("/users", &[]).await?,
        UserCommand::Create { name, password, admin } => {
            vec![client.post("/users", &json!({ "name": name, "password": password, "is_admin": admin })).await?]
        }
        UserCommand::Disable { name } => {
            vec![client.patch(&format!("/users/{}", segment(&name)), &json!({ "disabled": true })).await?]
        }
        UserCommand::Enable { name } => {
            vec![client.patch(&format!("/users/{}", segment(&name)), &json!({ "disabled": false })).await?]
        }
    };
    if json_output {
        return print_json(&Value::Array(users));
    }
    let mut table = new_table(vec!["name".into(), "admin".into(), "created".into(), "disabled".into()]);
    for user in &users {
        table.add_row(vec![
            text(&user["name"]),
            text(&user["is_admin"]),
            time_text(&user["created_at"]),
            time_text(&user["disabled_at"]),
        ]);
    }
    println!("{table}");
    Ok(())
}

pub async fn token(command: TokenCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let json_output = args.output == OutputFormat::Json;
    match command {
        TokenCommand::Create { user, description, expires_in_days, scope } => {
            let created: Value = client
                .post(
                    "/tokens",
                    &json!({ "user": user, "description": description, "expires_in_days": expires_in_days, "scope": scope }),
                )
                .await?;
            if json_output {
                return print_json(&created);
            }
            println!(
                "token id {} for user {} (shown once; keep it secret):",
                text(&created["id"]),
                text(&created["user"])
            );
            println!("{}", text(&created["token"]));
            Ok(())
        }
        TokenCommand::List { user } => {
            let query: Vec<(&str, String)> = user.map(|user| vec![("user", user)]).unwrap_or_default();
            let tokens: Vec<Value> = client.get("/tokens", &query).await?;
            if json_output {
                return print_json(&Value::Array(tokens));
            }
            let mut table = new_table(vec![
                "id".into(),
                "user".into(),
                "description".into(),
                "scope".into(),
                "created".into(),
                "expires".into(),
                "last used".into(),
            ]);
            for token in &tokens {
                table.add_row(vec![
                    text(&token["id"]),
                    text(&token["user"]),
                    text(&token["description"]),
                    text(&token["scope"]),
                    time_text(&token["created_at"]),
                    time_text(&token["expires_at"]),
                    time_text(&token["last_used_at"]),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            client.delete(&format!("/tokens/{}", segment(&id))).await?;
            if json_output {
                print_json(&json!({ "revoked": id }))
            } else {
                println!("revoked token {id}");
                Ok(())
            }
        }
    }
}

/// `atelier gc`.
pub async fn gc(grace_minutes: u64, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let report: Value = client.post(&format!("/gc?grace_minutes={grace_minutes}"), &json!({})).await?;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "purged {} deleted runs and {} unused uploads: {} files, {} bytes freed",
            report["runs_purged"], report["uploads_removed"], report["files_removed"], report["bytes_freed"]
        );
    }
    Ok(())
}
