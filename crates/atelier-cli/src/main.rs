//! `atelier`: the one binary. `atelier server` runs the workspace server; every other command is
//! a client of a running server, shaped like `az ml`.
//!
//! This crate is glue, not a library: flags, wiring and printing.

mod assets;
mod audit;
mod client;
mod commands;
mod components;
mod computes;
mod data;
mod datastores;
mod endpoints;
mod environments;
mod home;
mod instances;
mod jobs;
mod launcher;
mod login;
mod memory;
mod models;
mod output;
mod pipelines;
mod roles;
mod runtime;
mod sandbox;
mod schedules;
mod sdk_files;
mod server;
mod slurm;
mod slurm_instances;
mod slurmrest;
mod sso;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "atelier", version, about = "Atelier: a self-hosted machine-learning workspace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// Options every client command shares.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,
    /// The server's URL (default: the URL the local server recorded, else http://127.0.0.1:7420).
    #[arg(long, env = "ATELIER_URL", global = true)]
    pub url: Option<String>,
    /// The API token (default: the token the local server created at $ATELIER_HOME/token).
    #[arg(long, env = "ATELIER_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Where the local server keeps its files.
    #[arg(long, env = "ATELIER_HOME", global = true)]
    pub home: Option<std::path::PathBuf>,
    /// The workspace (default: `default`; the role assignment commands need one named).
    #[arg(short = 'w', long = "workspace", env = "ATELIER_WORKSPACE", global = true)]
    pub workspace: Option<String>,
}

impl ClientArgs {
    /// The workspace a command acts in: `-w/--workspace`, else `$ATELIER_WORKSPACE`, else
    /// `default`.
    pub fn workspace(&self) -> &str {
        self.workspace.as_deref().unwrap_or("default")
    }

    /// The workspace, for commands where acting in `default` by mistake would do harm.
    pub fn named_workspace(&self) -> anyhow::Result<&str> {
        self.workspace.as_deref().ok_or_else(|| anyhow::anyhow!("say which workspace: -w/--workspace NAME"))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the Atelier server.
    Server(Box<server::ServerArgs>),
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: commands::WorkspaceCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Inspect experiments.
    Experiment {
        #[command(subcommand)]
        command: commands::ExperimentCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Inspect runs.
    Run {
        #[command(subcommand)]
        command: commands::RunCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Sign in with the server's single sign-on (the OpenID provider's device flow); the CLI
    /// then uses and renews the token it keeps in $ATELIER_HOME/credentials.json.
    Login {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage users (server administrators).
    User {
        #[command(subcommand)]
        command: commands::UserCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: commands::TokenCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Free what no record references: deleted runs (unless a model version names them) and
    /// local uploads no model version or data asset uses (server administrators).
    Gc {
        /// Keep what was written in the last this many minutes.
        #[arg(long, default_value_t = 60)]
        grace_minutes: u64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage environments.
    Environment {
        #[command(subcommand)]
        command: environments::EnvironmentCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage components: versioned, reusable steps of pipelines.
    Component {
        #[command(subcommand)]
        command: components::ComponentCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage schedules: jobs submitted on a cron or recurrence trigger.
    Schedule {
        #[command(subcommand)]
        command: schedules::ScheduleCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage datastores.
    Datastore {
        #[command(subcommand)]
        command: datastores::DatastoreCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage data assets.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Manage model assets (registered model versions).
    Model {
        #[command(subcommand)]
        command: models::ModelCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Submit and follow jobs.
    Job {
        #[command(subcommand)]
        command: jobs::JobCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Computes: capacity, use and queue.
    Compute {
        #[command(subcommand)]
        command: computes::ComputeCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Online endpoints: scoring URLs with keys and traffic split.
    OnlineEndpoint {
        #[command(subcommand)]
        command: endpoints::EndpointCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Deployments of online endpoints: models served by supervised workers.
    OnlineDeployment {
        #[command(subcommand)]
        command: endpoints::DeploymentCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Run one job (started by a compute backend, not by hand).
    #[command(hide = true)]
    JobRuntime {
        /// The job's folder, holding its launch file.
        dir: std::path::PathBuf,
    },
    /// Run one compute instance's server (started by the server, not by hand).
    #[command(hide = true)]
    InstanceRuntime {
        /// The instance's folder, holding its launch file.
        dir: std::path::PathBuf,
    },
    /// Run a command confined (started by the server for jobs and deployments, not by hand).
    #[command(hide = true)]
    Sandbox(sandbox::SandboxArgs),
    /// The audit log: changes, denials and sign-ins.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Roles (built-in and custom) and role assignments on workspaces.
    Role {
        #[command(subcommand)]
        command: roles::RoleCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Parses the command line. Where a required argument is missing, clap's usage line lists the
/// flags that were given, and counts those the environment gave (`ATELIER_HOME` makes `--home`
/// look required): the message is then made again without the environment's values.
fn parse() -> Cli {
    let error = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(error) => error,
    };
    if error.kind() != clap::error::ErrorKind::MissingRequiredArgument {
        error.exit();
    }
    let without_environment = Cli::command()
        .mut_args(|arg| arg.env(None::<&str>))
        .mut_subcommands(without_env)
        .try_get_matches_from(std::env::args_os());
    match without_environment {
        Err(plain) if plain.kind() == clap::error::ErrorKind::MissingRequiredArgument => plain.exit(),
        _ => error.exit(),
    }
}

/// A command and its subcommands with no argument read from the environment.
fn without_env(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| arg.env(None::<&str>)).mut_subcommands(without_env)
}

fn main() -> ExitCode {
    let command = match parse().command {
        // Before any thread starts: entering a user namespace needs a single-threaded process.
        Command::Sandbox(args) => return sandbox::run(args),
        command => command,
    };
    if matches!(command, Command::Server(_)) {
        memory::limit_arenas();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Server(args) => server::run(*args).await,
            Command::Workspace { command, client } => commands::workspace(command, client).await,
            Command::Experiment { command, client } => commands::experiment(command, client).await,
            Command::Run { command, client } => commands::run(command, client).await,
            Command::Login { client } => login::login(client).await,
            Command::User { command, client } => commands::user(command, client).await,
            Command::Token { command, client } => commands::token(command, client).await,
            Command::Role { command, client } => roles::role(command, client).await,
            Command::Audit { command, client } => audit::audit(command, client).await,
            Command::Model { command, client } => models::model(command, client).await,
            Command::Data { command, client } => data::data(command, client).await,
            Command::Datastore { command, client } => datastores::datastore(command, client).await,
            Command::Environment { command, client } => environments::environment(command, client).await,
            Command::Component { command, client } => components::component(command, client).await,
            Command::Schedule { command, client } => schedules::schedule(command, client).await,
            Command::Gc { grace_minutes, client } => commands::gc(grace_minutes, client).await,
            Command::Job { command, client } => jobs::job(command, client).await,
            Command::Compute { command, client } => computes::compute(command, client).await,
            Command::OnlineEndpoint { command, client } => endpoints::endpoint(command, client).await,
            Command::OnlineDeployment { command, client } => endpoints::deployment(command, client).await,
            Command::Sandbox(_) => Err(anyhow::anyhow!("the sandbox runs before the async runtime starts")),
            Command::InstanceRuntime { dir } => instances::run(&dir).await,
            Command::JobRuntime { dir } => {
                tracing_subscriber::fmt().with_writer(std::io::stderr).init();
                runtime::run(&dir).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if error.chain().any(|cause| {
                cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `-w/--workspace` is one global flag: before or after the verb, in every client command.
    #[test]
    fn the_workspace_flag_is_global() {
        let workspace_of = |words: &[&str]| match Cli::try_parse_from(words).map(|cli| cli.command) {
            Ok(Command::Model { client, .. } | Command::Job { client, .. } | Command::Role { client, .. }) => {
                client.workspace
            }
            Ok(_) => panic!("{words:?}: another command"),
            Err(error) => panic!("{words:?}: {error}"),
        };
        assert_eq!(workspace_of(&["atelier", "model", "list", "-w", "a"]).as_deref(), Some("a"));
        assert_eq!(workspace_of(&["atelier", "model", "-w", "b", "show", "-n", "m", "-v", "1"]).as_deref(), Some("b"));
        assert_eq!(workspace_of(&["atelier", "job", "list", "--workspace", "c"]).as_deref(), Some("c"));
        assert_eq!(workspace_of(&["atelier", "role", "assignment", "list", "--workspace", "d"]).as_deref(), Some("d"));
    }
}
