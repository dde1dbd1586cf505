//! `atelier role`: the role catalogue (Azure's built-in roles, and custom roles from Azure's
//! JSON role definitions, which server administrators define) and role assignments on
//! workspaces, shaped like `az role definition` and `az role assignment`.

use crate::client::{Client, segment};
use crate::output::{print_json, table as new_table, text};
use crate::{ClientArgs, OutputFormat};
use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum RoleCommand {
    /// List every role: the built-in ones, then the custom ones.
    List,
    /// Show a role's actions, not-actions and scopes.
    Show {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Define a custom role from Azure's JSON role definition (server administrators).
    Create {
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Replace a custom role with the definition in a file; its `Name` says which (server
    /// administrators).
    Update {
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Delete a custom role; refused while it is assigned (server administrators).
    Delete {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Role assignments on a workspace (`-w`), as `az role assignment`.
    Assignment {
        #[command(subcommand)]
        command: AssignmentCommand,
    },
    /// Assign a role to a user on a workspace (`role assignment create`).
    Assign {
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
    },
    /// Remove a user's role, or all their roles, from a workspace (`role assignment delete`).
    Remove {
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AssignmentCommand {
    /// Who holds which role on the workspace.
    List,
    /// Give a user a role on the workspace, in addition to any they hold (Owners).
    Create {
        #[arg(long)]
        user: String,
        /// A built-in role (Owner, Contributor, Reader, "AzureML Data Scientist", "AzureML
        /// Compute Operator") or a custom one.
        #[arg(long)]
        role: String,
    },
    /// Take a role, or every role, from a user on the workspace (Owners).
    Delete {
        #[arg(long)]
        user: String,
        /// Only this role; without it, all of the user's roles there.
        #[arg(long)]
        role: Option<String>,
    },
}

/// Reads a role file and checks it here, with the server's own parser, so that a mistake is
/// reported with the file's name and line before anything is sent.
fn read_role_file(file: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let role = atelier_spec::role::parse_role_definition(&text)
        .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    Ok((role.name, text))
}

pub async fn role(command: RoleCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let output = args.output;
    match command {
        RoleCommand::List => {
            let roles: Vec<Value> = client.get("/role-definitions", &[]).await?;
            if output == OutputFormat::Json {
                return print_json(&Value::Array(roles));
            }
            let mut table = new_table(vec!["name".into(), "custom".into(), "description".into()]);
            for role in &roles {
                table.add_row(vec![text(&role["Name"]), text(&role["IsCustom"]), text(&role["Description"])]);
            }
            println!("{table}");
            Ok(())
        }
        RoleCommand::Show { name } => {
            let role: Value = client.get(&format!("/role-definitions/{}", segment(&name)), &[]).await?;
            print_role(&role, output)
        }
        RoleCommand::Create { file } => {
            let (_, text) = read_role_file(&file)?;
            let role: Value = client.post_json_text("/role-definitions", text).await?;
            print_role(&role, output)
        }
        RoleCommand::Update { file } => {
            let (name, text) = read_role_file(&file)?;
            let role: Value = client.put_json_text(&format!("/role-definitions/{}", segment(&name)), text).await?;
            print_role(&role, output)
        }
        RoleCommand::Delete { name } => {
            client.delete(&format!("/role-definitions/{}", segment(&name))).await?;
            eprintln!("Deleted role {name}");
            Ok(())
        }
        RoleCommand::Assignment { command } => assignment(&client, command, &args).await,
        RoleCommand::Assign { user, role } => {
            assignment(&client, AssignmentCommand::Create { user, role }, &args).await
        }
        RoleCommand::Remove { user, role } => {
            assignment(&client, AssignmentCommand::Delete { user, role }, &args).await
        }
    }
}

async fn assignment(client: &Client, command: AssignmentCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let json_output = args.output == OutputFormat::Json;
    let workspace = args.named_workspace()?;
    let roles_path = format!("/workspaces/{}/roles", segment(workspace));
    match command {
        AssignmentCommand::Create { user, role } => {
            client.put(&roles_path, &json!({ "user": user, "role": role })).await?;
            if json_output {
                print_json(&json!({ "workspace": workspace, "user": user, "role": role }))
            } else {
                println!("assigned {role} on workspace '{workspace}' to {user}");
                Ok(())
            }
        }
        AssignmentCommand::Delete { user, role } => {
            let mut path = format!("{roles_path}/{}", segment(&user));
            if let Some(role) = &role {
                path.push_str(&format!("?role={}", segment(role)));
            }
            client.delete(&path).await?;
            if json_output {
                return print_json(&json!({ "workspace": workspace, "user": user, "role": role, "removed": true }));
            }
            match role {
                Some(role) => println!("removed {user}'s role {role} on workspace '{workspace}'"),
                None => println!("removed {user}'s roles on workspace '{workspace}'"),
            }
            Ok(())
        }
        AssignmentCommand::List => {
            let roles: Vec<Value> = client.get(&roles_path, &[]).await?;
            if json_output {
                return print_json(&Value::Array(roles));
            }
            let mut table = new_table(vec!["user".into(), "role".into()]);
            for role in &roles {
                table.add_row(vec![text(&role["user"]), text(&role["role"])]);
            }
            println!("{table}");
            Ok(())
        }
    }
}

/// A role as a two-column table (one pattern a line: action strings are long), or as the JSON
/// that `role update -f` takes back.
fn print_role(role: &Value, output: OutputFormat) -> anyhow::Result<()> {
    if output == OutputFormat::Json {
        return print_json(role);
    }
    let mut table = new_table(Vec::new());
    for field in ["Name", "IsCustom", "Description", "Actions", "NotActions", "AssignableScopes", "CreatedBy"] {
        let value = match &role[field] {
            Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("\n"),
            other => text(other),
        };
        table.add_row(vec![field.to_owned(), value]);
    }
    println!("{table}");
    Ok(())
}
