//! `atelier audit list`: the audit log, newest first. With `-w`, a workspace's (its Owners);
//! without, the whole server's (server administrators).

use crate::client::{Client, segment};
use crate::output::{local_time, print_json, table as new_table, text};
use crate::{ClientArgs, OutputFormat};
use clap::Subcommand;
use serde_json::Value;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// List audited calls, newest first: changes, denials and sign-ins.
    List {
        /// Only records since this time: a window back from now (30m, 1h, 7d) or epoch
        /// milliseconds.
        #[arg(long)]
        since: Option<String>,
        /// Only records before this time (same forms as --since).
        #[arg(long)]
        until: Option<String>,
        /// Only this user's calls.
        #[arg(long)]
        user: Option<String>,
        /// Only actions matching this pattern, with `*` wildcards ('*/delete').
        #[arg(long)]
        action: Option<String>,
        /// Only this outcome: succeeded, failed or denied.
        #[arg(long)]
        outcome: Option<String>,
        /// The most records to show (they are read a page of up to 1,000 at a time).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

pub async fn audit(command: AuditCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let AuditCommand::List { since, until, user, action, outcome, limit } = command;
    let path = match &args.workspace {
        Some(workspace) => format!("/workspaces/{}/audit", segment(workspace)),
        None => "/audit".to_owned(),
    };
    let mut query: Vec<(&str, String)> = Vec::new();
    for (name, value) in [("since", since), ("until", until), ("user", user), ("action", action), ("outcome", outcome)]
    {
        if let Some(value) = value {
            query.push((name, value));
        }
    }
    let mut records: Vec<Value> = Vec::new();
    let mut page_token: Option<String> = None;
    while records.len() < limit {
        let mut page_query = query.clone();
        page_query.push(("limit", (limit - records.len()).min(1_000).to_string()));
        if let Some(token) = &page_token {
            page_query.push(("page_token", token.clone()));
        }
        let page: Value = client.get(&path, &page_query).await?;
        if let Some(items) = page["records"].as_array() {
            records.extend(items.iter().cloned());
        }
        match page["next_page_token"].as_str() {
            Some(token) => page_token = Some(token.to_owned()),
            None => break,
        }
    }
    if args.output == OutputFormat::Json {
        return print_json(&Value::Array(records));
    }
    let mut table =
        new_table(["time", "user", "address", "workspace", "action", "target", "outcome"].map(str::to_owned).to_vec());
    for record in &records {
        let principal = match (text(&record["user"]), text(&record["job"]), text(&record["token_id"])) {
            (user, job, _) if !job.is_empty() => format!("{user} (job {job})"),
            (user, _, token) if !token.is_empty() => format!("{user} (token {token})"),
            (user, _, _) => user,
        };
        let outcome = match text(&record["error"]) {
            error if error.is_empty() => text(&record["outcome"]),
            error => format!("{} ({error})", text(&record["outcome"])),
        };
        table.add_row(vec![
            record["time"].as_i64().map(local_time).unwrap_or_default(),
            principal,
            text(&record["address"]),
            text(&record["workspace"]),
            short_action(&text(&record["action"])),
            text(&record["target"]),
            outcome,
        ]);
    }
    println!("{table}");
    Ok(())
}

/// An action string without Azure's provider prefix, which every row would repeat.
fn short_action(action: &str) -> String {
    action.strip_prefix("Microsoft.MachineLearningServices/").unwrap_or(action).to_owned()
}
