//! How a job's processes start: each by the runtime on this machine, all of them by one `srun`
//! over the nodes of a Slurm allocation, or by one `mpirun`; what each is told (ranks,
//! `TF_CONFIG`, the MPI's master node), and which log each line of their output goes to.

use super::shell_quote;
use super::telemetry::LogShipper;
use anyhow::Context;
use atelier_spec::JobPlan;
use serde_json::json;
use std::path::{Path, PathBuf};

/// What starts a job's processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Launcher {
    /// The runtime, one process per rank, on this machine.
    Direct,
    /// One `srun --label` over the nodes of this Slurm allocation, each process confined.
    Srun,
    /// The same `srun`, with `--mpi=pmix`: the ranks of an MPI job over several nodes.
    SrunMpi,
    /// One `mpirun --tag-output`, confined with every process it starts, on this machine.
    Mpirun,
}

/// One process the runtime starts.
pub(super) struct Process {
    /// The shell command it runs.
    pub command: String,
    /// Its own variables, over the job's.
    pub env: Vec<(String, String)>,
    /// The logs its output goes to; empty where the launcher labels each line with its rank.
    pub files: Vec<String>,
}

/// How a job's processes start.
pub(super) struct Start {
    pub launcher: Launcher,
    pub processes: Vec<Process>,
    /// Folders of each node its processes may write, completed there by the sandbox.
    pub node_folders: Vec<String>,
    /// Processes on each instance.
    per_node: i64,
}

const STD_LOG: &str = atelier_service::STD_LOG;

fn process_log(rank: impl std::fmt::Display) -> String {
    format!("user_logs/std_log_process_{rank}.txt")
}

/// The processes of `plan`, running `command`; `dir` is the job's folder.
pub(super) async fn plan_start(plan: &JobPlan, command: &str, dir: &Path) -> anyhow::Result<Start> {
    // A job over several nodes of a Slurm allocation: one launcher starts every process on its
    // node; this runtime, on the first node, watches them.
    let across_nodes = plan.instance_count > 1 && std::env::var_os("SLURM_JOB_ID").is_some();
    let per_node = (plan.process_count.max(1) / plan.instance_count.max(1)).max(1);
    let total = plan.process_count.max(1);
    let master_port = free_port();
    let one = |command: String, env: Vec<(String, String)>, files: Vec<String>| Process { command, env, files };

    if plan.mpi && across_nodes {
        // Over several nodes of a Slurm allocation, Slurm starts every rank itself (`srun
        // --mpi=pmix`) and each reaches the others through the PMIx server of its node's
        // step, so no mpirun has to start daemons on other nodes from inside a confinement.
        let hosts = slurm_node_addresses().await?;
        srun_offers_pmix().await?;
        let command = format!(
            "export OMPI_COMM_WORLD_RANK=\"$SLURM_PROCID\" OMPI_COMM_WORLD_SIZE=\"$SLURM_NTASKS\" \
             OMPI_COMM_WORLD_LOCAL_RANK=\"$SLURM_LOCALID\" OMPI_COMM_WORLD_LOCAL_SIZE={per_node} \
             OMPI_COMM_WORLD_NODE_RANK=\"$SLURM_NODEID\" AZUREML_CR_NODE_RANK=\"$SLURM_NODEID\"; {command}"
        );
        let env = vec![
            ("AZ_BATCHAI_MPI_MASTER_NODE".to_owned(), hosts[0].clone()),
            ("AZ_BATCH_HOST_LIST".to_owned(), hosts.join(",")),
            ("AZUREML_NODE_COUNT".to_owned(), hosts.len().to_string()),
            // Each rank runs in a confinement of its own, so ranks on one node cannot map each
            // other's memory: they talk over TCP, as ranks on different nodes do.
            ("OMPI_MCA_btl".to_owned(), "self,tcp".to_owned()),
        ];
        return Ok(Start {
            launcher: Launcher::SrunMpi,
            processes: vec![one(command, env, Vec::new())],
            node_folders: vec![pmix_client_folder().await?],
            per_node,
        });
    }
    if plan.mpi {
        // Every process on this machine, started by the MPI's own mpirun.
        let env = vec![
            ("AZ_BATCHAI_MPI_MASTER_NODE".to_owned(), "127.0.0.1".to_owned()),
            ("AZ_BATCH_HOST_LIST".to_owned(), "127.0.0.1".to_owned()),
            ("AZUREML_NODE_COUNT".to_owned(), "1".to_owned()),
            // Open MPI refuses root unless told twice; a confined command is not root.
            ("OMPI_ALLOW_RUN_AS_ROOT".to_owned(), "1".to_owned()),
            ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM".to_owned(), "1".to_owned()),
            // On one node of a Slurm allocation, mpirun starts every process itself rather
            // than asking Slurm for daemons (which it could not from inside the confinement).
            ("OMPI_MCA_ras".to_owned(), "^slurm".to_owned()),
            ("OMPI_MCA_plm".to_owned(), "^slurm".to_owned()),
        ];
        return Ok(Start {
            launcher: Launcher::Mpirun,
            processes: vec![one(command.to_owned(), env, Vec::new())],
            node_folders: Vec::new(),
            per_node,
        });
    }
    if across_nodes {
        let command = if plan.distributed {
            // Each process learns its rank from Slurm, as Azure sets them.
            format!(
                "export RANK=\"$SLURM_PROCID\" LOCAL_RANK=\"$SLURM_LOCALID\" NODE_RANK=\"$SLURM_NODEID\" \
                 WORLD_SIZE=\"$SLURM_NTASKS\" AZUREML_CR_NODE_RANK=\"$SLURM_NODEID\"; {command}"
            )
        } else if let Some(tensorflow) = &plan.tensorflow {
            let hosts = slurm_node_addresses().await?;
            let folder = dir.join("tf_config");
            std::fs::create_dir_all(&folder)?;
            for (rank, config) in tensorflow_configs(tensorflow, per_node, &hosts, master_port).iter().enumerate() {
                std::fs::write(folder.join(format!("{rank}.json")), config)?;
            }
            format!(
                "export AZUREML_CR_NODE_RANK=\"$SLURM_NODEID\" TF_CONFIG=\"$(cat {}/\"$SLURM_PROCID\".json)\"; {command}",
                shell_quote(&folder.display().to_string())
            )
        } else {
            format!("export AZUREML_CR_NODE_RANK=\"$SLURM_NODEID\"; {command}")
        };
        let mut env = Vec::new();
        if plan.distributed {
            // The first node, where this runtime runs, holds rank 0.
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            env.push(("MASTER_ADDR".to_owned(), host.trim().to_owned()));
            env.push(("MASTER_PORT".to_owned(), master_port.to_string()));
            env.push((
                "AZUREML_CR_DISTRIBUTED_CONFIG".to_owned(),
                json!({"host_list": std::env::var("SLURM_JOB_NODELIST").unwrap_or_default()}).to_string(),
            ));
        }
        return Ok(Start {
            launcher: Launcher::Srun,
            processes: vec![one(command, env, Vec::new())],
            node_folders: Vec::new(),
            per_node,
        });
    }
    let logs = |rank: i64| if rank == 0 { vec![STD_LOG.to_owned(), process_log(0)] } else { vec![process_log(rank)] };
    let processes = if let Some(tensorflow) = &plan.tensorflow {
        tensorflow_configs(tensorflow, total, &["127.0.0.1".to_owned()], master_port)
            .into_iter()
            .zip(0..)
            .map(|(config, rank)| one(command.to_owned(), vec![("TF_CONFIG".to_owned(), config)], logs(rank)))
            .collect()
    } else if plan.distributed {
        (0..total)
            .map(|rank| {
                let env = [
                    ("RANK", rank.to_string()),
                    ("LOCAL_RANK", rank.to_string()),
                    ("WORLD_SIZE", total.to_string()),
                    ("NODE_RANK", "0".to_owned()),
                    ("MASTER_ADDR", "127.0.0.1".to_owned()),
                    ("MASTER_PORT", master_port.to_string()),
                    ("AZUREML_CR_DISTRIBUTED_CONFIG", json!({"rank": rank, "host_list": "127.0.0.1"}).to_string()),
                ];
                one(command.to_owned(), env.map(|(key, value)| (key.to_owned(), value)).to_vec(), logs(rank))
            })
            .collect()
    } else {
        // As Azure does, the command runs once per instance.
        (0..total).map(|_| one(command.to_owned(), Vec::new(), vec![STD_LOG.to_owned()])).collect()
    };
    Ok(Start { launcher: Launcher::Direct, processes, node_folders: Vec::new(), per_node })
}

impl Start {
    /// Whether the confinement wraps the launcher and all it starts, rather than each process.
    pub(super) fn confines_launcher(&self) -> bool {
        self.launcher == Launcher::Mpirun
    }

    /// `program args` as the launcher starts it (itself possibly confined, where
    /// [`Start::confines_launcher`]), for a job whose processes work in `wd`.
    pub(super) fn launch(
        &self,
        plan: &JobPlan,
        wd: &Path,
        program: PathBuf,
        args: Vec<String>,
    ) -> (PathBuf, Vec<String>) {
        let mut launcher: Vec<String> = match self.launcher {
            Launcher::Direct => return (program, args),
            Launcher::Srun | Launcher::SrunMpi => vec![
                format!("--nodes={}", plan.instance_count),
                format!("--ntasks-per-node={}", self.per_node),
                format!("--ntasks={}", plan.instance_count * self.per_node),
                "--label".to_owned(),
                "--kill-on-bad-exit=1".to_owned(),
                "--export=ALL".to_owned(),
                format!("--chdir={}", wd.display()),
            ]
            .into_iter()
            .chain((self.launcher == Launcher::SrunMpi).then(|| "--mpi=pmix".to_owned()))
            .collect(),
            // More processes than this machine's cores is the user's choice.
            Launcher::Mpirun => ["-np", &plan.process_count.max(1).to_string(), "--tag-output", "--oversubscribe"]
                .into_iter()
                .map(str::to_owned)
                .chain(["--wdir".to_owned(), wd.display().to_string()])
                .collect(),
        };
        let name = if self.launcher == Launcher::Mpirun { "mpirun" } else { "srun" };
        launcher.push(program.display().to_string());
        launcher.extend(args);
        (PathBuf::from(name), launcher)
    }

    /// Ships a piece of the launcher's output (whole lines) to each process's log.
    pub(super) async fn ship(&self, shipper: &LogShipper, text: &str) {
        let segments = match self.launcher {
            Launcher::Direct => vec![(None, text)],
            Launcher::Srun | Launcher::SrunMpi => text.split_inclusive('\n').map(split_srun_label).collect(),
            Launcher::Mpirun => split_mpi_tags(text),
        };
        for (rank, rest) in segments {
            match rank {
                Some(0) => {
                    shipper.push(STD_LOG, rest).await;
                    shipper.push(&process_log(0), rest).await;
                }
                Some(rank) => shipper.push(&process_log(rank), rest).await,
                // srun's own lines are the runtime's; mpirun's (a process that died, an MPI
                // error) are what the user reads first.
                None if self.launcher != Launcher::Mpirun => shipper.push("system_logs/runtime.txt", rest).await,
                None => shipper.push(STD_LOG, rest).await,
            }
        }
    }

    /// Whether output reaches the logs through [`Start::ship`], labelled by rank.
    pub(super) fn labelled(&self) -> bool {
        self.launcher != Launcher::Direct
    }
}

/// Where a launcher labelled with ranks is asked for, the MPI's `mpirun` must be on the PATH
/// the job sees: a clear error otherwise.
pub(super) fn check_launcher(start: &Start, path_variable: &str) -> anyhow::Result<()> {
    if start.launcher != Launcher::Mpirun {
        return Ok(());
    }
    let found = std::env::split_paths(path_variable).any(|folder| folder.join("mpirun").is_file());
    anyhow::ensure!(
        found,
        "distribution mpi needs an MPI's mpirun (Open MPI) on the PATH of the job's nodes; none is in {path_variable}"
    );
    Ok(())
}

/// An MPI job over several nodes needs Slurm's PMIx plugin: a clear error where this cluster's
/// `srun` does not offer it.
async fn srun_offers_pmix() -> anyhow::Result<()> {
    let listing = tokio::process::Command::new("srun").arg("--mpi=list").output().await.context("cannot run srun")?;
    // srun writes the list to stderr in some versions and to stdout in others.
    let text = format!("{}{}", String::from_utf8_lossy(&listing.stdout), String::from_utf8_lossy(&listing.stderr));
    let offered: Vec<&str> =
        text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.contains(' ')).collect();
    anyhow::ensure!(
        offered.iter().any(|plugin| plugin.starts_with("pmix")),
        "distribution mpi over several nodes starts its ranks with srun --mpi=pmix, and this cluster's srun \
         offers no PMIx plugin (it offers: {}); run it on one node, where mpirun starts them",
        offered.join(", ")
    );
    Ok(())
}

/// The folder Slurm's PMIx plugin makes on each node for a step's ranks, where Open MPI keeps
/// their session: `spmix_appdir_<uid>_<job>.<step>` under `SLURM_PMIX_TMPDIR`, else the
/// cluster's `PMIxCliTmpDirBase`, else the node's `TmpFS` (`%n`, the node's name). A template
/// the sandbox completes on each node.
async fn pmix_client_folder() -> anyhow::Result<String> {
    let config = tokio::process::Command::new("scontrol").args(["show", "config"]).output().await?;
    let text = String::from_utf8_lossy(&config.stdout);
    let setting = |key: &str| {
        text.lines()
            .filter_map(|line| line.split_once('='))
            .find(|(name, _)| name.trim() == key)
            .map(|(_, value)| value.trim().to_owned())
            .filter(|value| !value.is_empty() && value != "(null)")
    };
    let base = std::env::var("SLURM_PMIX_TMPDIR")
        .ok()
        .filter(|value| !value.is_empty())
        .or_else(|| setting("PMIxCliTmpDirBase"))
        .or_else(|| setting("TmpFS"))
        .unwrap_or_else(|| "/tmp".to_owned());
    let uid = nix::unistd::geteuid();
    Ok(format!(
        "{}/spmix_appdir_{uid}_${{SLURM_JOB_ID}}.${{SLURM_STEP_ID}}",
        base.trim_end_matches('/').replace("%n", "${SLURMD_NODENAME}")
    ))
}

/// Why the runtime was sent SIGTERM: in a Slurm batch job, what Slurm says of it (its time
/// limit, a preemption, an `scancel`).
pub(super) async fn terminated_reason() -> String {
    let Ok(id) = std::env::var("SLURM_JOB_ID") else { return "stopped by a SIGTERM".to_owned() };
    let asked = tokio::process::Command::new("squeue").args(["-h", "-t", "all", "-j", &id, "-o", "%r"]).output();
    let reason = match tokio::time::timeout(std::time::Duration::from_secs(5), asked).await {
        Ok(Ok(output)) => String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        _ => String::new(),
    };
    match reason.as_str() {
        "TimeLimit" => format!("Slurm ended batch job {id} at its time limit (TIMEOUT)"),
        "" | "None" => format!("Slurm canceled batch job {id} (an scancel or a preemption)"),
        other => format!("Slurm ended batch job {id} ({other})"),
    }
}

/// The addresses of the nodes of this Slurm allocation, in Slurm's order (the address Slurm
/// reaches each node at, its `NodeAddr`).
async fn slurm_node_addresses() -> anyhow::Result<Vec<String>> {
    let list = std::env::var("SLURM_JOB_NODELIST").context("not in a Slurm allocation")?;
    let names = tokio::process::Command::new("scontrol").args(["show", "hostnames", &list]).output().await?;
    let names: Vec<String> = String::from_utf8_lossy(&names.stdout).split_whitespace().map(str::to_owned).collect();
    let listing = tokio::process::Command::new("sinfo").args(["-h", "-N", "-n", &list, "-o", "%N|%o"]).output().await?;
    let addresses: std::collections::HashMap<String, String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|line| line.trim().split_once('|').map(|(name, address)| (name.to_owned(), address.to_owned())))
        .collect();
    let hosts: Vec<String> =
        names.iter().map(|name| addresses.get(name).cloned().unwrap_or_else(|| name.clone())).collect();
    anyhow::ensure!(!hosts.is_empty(), "Slurm named no nodes for allocation {list}");
    Ok(hosts)
}

/// Every process's `TF_CONFIG`, as Azure writes it: the cluster's workers and parameter servers
/// (`host:port`, process `r` on host `r / per_host`, at `base_port + r`) and the process's own
/// task.
fn tensorflow_configs(
    tensorflow: &atelier_spec::TensorflowPlan,
    per_host: i64,
    hosts: &[String],
    base_port: u16,
) -> Vec<String> {
    let total = tensorflow.workers + tensorflow.parameter_servers;
    let address = |rank: i64| {
        let host = hosts.get((rank / per_host.max(1)) as usize).or(hosts.last()).map_or("127.0.0.1", String::as_str);
        format!("{host}:{}", i64::from(base_port) + rank)
    };
    let workers: Vec<String> = (0..tensorflow.workers).map(address).collect();
    let servers: Vec<String> = (tensorflow.workers..total).map(address).collect();
    (0..total)
        .map(|rank| {
            let (kind, index) =
                if rank < tensorflow.workers { ("worker", rank) } else { ("ps", rank - tensorflow.workers) };
            let mut cluster = serde_json::Map::new();
            cluster.insert("worker".to_owned(), json!(workers));
            if !servers.is_empty() {
                cluster.insert("ps".to_owned(), json!(servers));
            }
            json!({"cluster": cluster, "task": {"type": kind, "index": index}, "environment": "cloud"}).to_string()
        })
        .collect()
}

/// `srun --label`'s `" 3: text"` → `(Some(3), "text")`; a line without a label is srun's own.
fn split_srun_label(line: &str) -> (Option<u32>, &str) {
    let labelled = line.trim_start().split_once(": ").and_then(|(rank, rest)| Some((rank.parse().ok()?, rest)));
    labelled.map_or((None, line), |(rank, rest)| (Some(rank), rest))
}

/// Open MPI's `--tag-output` puts `[job,rank]<stdout>:` before every piece a process writes
/// (not only at the start of its lines), so pieces of two processes can share a line: the
/// text split at each tag, with the rank it names (`None` for text before the first tag:
/// mpirun's own).
fn split_mpi_tags(text: &str) -> Vec<(Option<u32>, &str)> {
    fn tag_at(text: &str) -> Option<(u32, usize)> {
        let (inside, _) = text.strip_prefix('[')?.split_once(']')?;
        let (job, rank) = inside.split_once(',')?;
        if inside.len() > 24 || job.parse::<u64>().is_err() {
            return None;
        }
        let rest = &text[inside.len() + 2..];
        let stream = ["<stdout>:", "<stderr>:"].into_iter().find(|stream| rest.starts_with(stream))?;
        Some((rank.parse().ok()?, inside.len() + 2 + stream.len()))
    }
    // A tag covers its process's text up to the end of its line: mpirun tags every line a
    // process writes, so a line without a tag is mpirun's own.
    fn add<'a>(segments: &mut Vec<(Option<u32>, &'a str)>, rank: Option<u32>, piece: &'a str) {
        match piece.find('\n').filter(|_| rank.is_some()) {
            Some(end) if end + 1 < piece.len() => {
                segments.push((rank, &piece[..=end]));
                segments.push((None, &piece[end + 1..]));
            }
            _ if piece.is_empty() => {}
            _ => segments.push((rank, piece)),
        }
    }
    let mut segments = Vec::new();
    let (mut rank, mut from, mut at) = (None, 0, 0);
    while let Some(offset) = text[at..].find('[') {
        let start = at + offset;
        match tag_at(&text[start..]) {
            Some((next, length)) => {
                add(&mut segments, rank, &text[from..start]);
                rank = Some(next);
                from = start + length;
                at = from;
            }
            None => at = start + 1,
        }
    }
    add(&mut segments, rank, &text[from..]);
    segments
}

/// A free TCP port on the loopback interface, for `MASTER_PORT`.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or(29500)
}

#[cfg(test)]
mod tests {
    use super::{split_mpi_tags, split_srun_label};

    #[test]
    fn launchers_labels_name_the_rank_of_each_line() {
        assert_eq!(split_srun_label("0: hello\n"), (Some(0), "hello\n"));
        assert_eq!(split_srun_label(" 12: a: b\n"), (Some(12), "a: b\n"));
        assert_eq!(split_srun_label("srun: error: task 1 exited\n"), (None, "srun: error: task 1 exited\n"));
        assert_eq!(split_srun_label("plain line\n"), (None, "plain line\n"));
        assert_eq!(split_mpi_tags("[1,0]<stdout>:hello\n"), [(Some(0), "hello\n")]);
        assert_eq!(
            split_mpi_tags("[1,11]<stderr>:a: [b]\n[vm:06207] *** signal ***\n"),
            [(Some(11), "a: [b]\n"), (None, "[vm:06207] *** signal ***\n")]
        );
        // Unbuffered pieces of two processes on one line.
        assert_eq!(
            split_mpi_tags("[1,1]<stdout>:rank[1,0]<stdout>:rank[1,1]<stdout>: 1\n[1,0]<stdout>: 0\n"),
            [(Some(1), "rank"), (Some(0), "rank"), (Some(1), " 1\n"), (Some(0), " 0\n")]
        );
        assert_eq!(
            split_mpi_tags("mpirun noticed that process rank 3 exited\n"),
            [(None, "mpirun noticed that process rank 3 exited\n")]
        );
    }

    #[test]
    fn tf_config_names_the_cluster_and_each_process_s_task() {
        let plan = atelier_spec::TensorflowPlan { workers: 3, parameter_servers: 1 };
        let configs = super::tensorflow_configs(&plan, 2, &["10.0.0.1".to_owned(), "10.0.0.2".to_owned()], 4000);
        let parsed: Vec<serde_json::Value> = configs.iter().map(|text| serde_json::from_str(text).unwrap()).collect();
        assert_eq!(parsed.len(), 4);
        assert_eq!(
            parsed[0]["cluster"],
            serde_json::json!({"worker": ["10.0.0.1:4000", "10.0.0.1:4001", "10.0.0.2:4002"], "ps": ["10.0.0.2:4003"]})
        );
        assert_eq!(parsed[2]["task"], serde_json::json!({"type": "worker", "index": 2}));
        assert_eq!(parsed[3]["task"], serde_json::json!({"type": "ps", "index": 0}));
        assert_eq!(parsed[1]["environment"], "cloud");
    }
}
