//! Confinement of the code that users submit: a job's command and a deployment's scoring
//! worker run in their own PID and mount namespaces, where the server's home (its token,
//! admin password, master key, database, other jobs' folders) is an empty, read-only folder,
//! `/tmp` is private, and no other process of the machine is visible. Only the folders a
//! process needs (its own job folder, the built environments, its socket) are bound back in.
//! Where the server runs as root, the code runs as an unprivileged user of its own
//! ([`JobUser`]), and a folder it could not enter on the way to what it is given (root's
//! `/root`, above a Python installation) is hidden and the rest bound back; elsewhere a user
//! namespace maps the server's user to root inside it. Where the
//! kernel has Landlock, the code may write only in the folders bound back read-write, its
//! private `/tmp`, `/dev` and `/proc`.
//!
//! The namespaces are made by util-linux's `unshare`; inside them, `atelier sandbox` (the same
//! binary as the server) mounts the folders, locks them (one more user namespace, or the switch
//! to the unprivileged user), restricts writes with Landlock, and runs the command. This module
//! only builds that command line; it runs nothing but the probe and the server's Python.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The unprivileged user that confined code runs as where the server runs as root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobUser {
    pub uid: u32,
    pub gid: u32,
    /// Its name, for `USER` and `LOGNAME` (it may have no entry in `/etc/passwd`).
    pub name: String,
}

/// How the server confines the processes that run users' code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Confinement {
    /// The `unshare` program.
    pub unshare: PathBuf,
    /// The `atelier` binary, whose `sandbox` command sets the mounts up inside the namespaces.
    pub exe: PathBuf,
    /// Folders that confined processes see empty: the server's home, the default home, the
    /// local artifact folder when it lies elsewhere.
    pub hidden: Vec<PathBuf>,
    /// The user confined code runs as, where the server may switch users (it runs as root):
    /// the namespaces are then made by root itself, and the code runs as this user, with no
    /// capability. `None`: a user namespace maps the server's user to root inside it.
    pub user: Option<JobUser>,
    /// The server's own Python (`python3` on its `PATH`, resolved past any shim): the
    /// interpreter of the built-in environment.
    pub python: Option<PathBuf>,
    /// Folders that every confined process sees read-only: the installation of the server's
    /// Python (bound back where a folder above it is hidden).
    pub shared: Vec<PathBuf>,
}

/// What one confined process may see of the hidden folders, and how.
#[derive(Debug, Clone, Default)]
pub struct Exposure {
    /// Folders bound back read-write.
    pub read_write: Vec<PathBuf>,
    /// Folders bound back read-only.
    pub read_only: Vec<PathBuf>,
    /// Folders of the Slurm node the process runs on, bound back read-write where they exist:
    /// paths with `${SLURMD_NODENAME}`, `${SLURM_JOB_ID}` and `${SLURM_STEP_ID}`, which the
    /// sandbox reads on that node.
    pub read_write_on_node: Vec<String>,
    /// The process's home folder, one of `read_write` (a compute instance's home); `None`: its
    /// private `/tmp`.
    pub home: Option<PathBuf>,
}

impl Confinement {
    /// The policy for a server whose home is `home`: the home and `~/.atelier` (where another
    /// server of this user keeps its secrets by default) are hidden, as is any `extra` folder.
    /// Code runs as `user` where given.
    pub fn new(unshare: PathBuf, exe: PathBuf, home: &Path, extra: &[PathBuf], user: Option<JobUser>) -> Self {
        let mut hidden = vec![home.to_path_buf()];
        if let Some(user_home) = std::env::var_os("HOME").filter(|value| !value.is_empty()) {
            hidden.push(PathBuf::from(user_home).join(".atelier"));
        }
        hidden.extend(extra.iter().cloned());
        hidden.sort();
        hidden.dedup();
        let (python, shared) = match server_python() {
            Some((executable, prefixes)) => (Some(executable), prefixes),
            None => (None, Vec::new()),
        };
        Confinement { unshare, exe, hidden, user, python, shared }
    }

    /// For a job user: the folders above `exposed` that others may not enter (root's `/root`,
    /// a home of mode 0700), the outermost of each path, unless already hidden or under the
    /// private `/tmp`. The job user could not reach what is bound back beneath them, so they
    /// are hidden too (an empty folder it may enter), and only what is bound back is seen.
    fn closed_ancestors<'a>(&self, exposed: impl Iterator<Item = &'a PathBuf>) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = Vec::new();
        for path in exposed {
            let above: Vec<&Path> = path.ancestors().skip(1).collect();
            for ancestor in above.into_iter().rev().skip(1) {
                let covered = ancestor.starts_with("/tmp")
                    || self.hidden.iter().chain(&found).any(|hidden| ancestor.starts_with(hidden));
                if covered {
                    break;
                }
                let closed = std::fs::metadata(ancestor)
                    .map(|metadata| metadata.is_dir() && metadata.permissions().mode() & 0o001 == 0)
                    .unwrap_or(false);
                if closed {
                    found.push(ancestor.to_path_buf());
                    break;
                }
            }
        }
        found
    }

    /// The folders a confined process needs to run the virtual environment whose interpreter
    /// is `python` (`<venv>/bin/python`): the installation its `pyvenv.cfg` names as `home`.
    pub fn interpreter_folders(python: &Path) -> Vec<PathBuf> {
        let Some(venv) = python.parent().and_then(Path::parent) else { return Vec::new() };
        let Ok(text) = std::fs::read_to_string(venv.join("pyvenv.cfg")) else { return Vec::new() };
        text.lines()
            .filter_map(|line| line.split_once('='))
            .filter(|(key, _)| key.trim() == "home")
            .filter_map(|(_, value)| std::fs::canonicalize(value.trim()).ok())
            .filter_map(|bin| bin.parent().map(Path::to_path_buf))
            .collect()
    }

    /// The program and arguments that run `program args…` confined, seeing only `exposure` of
    /// the hidden folders. Every path is passed as its own argument: nothing is parsed by a shell.
    pub fn wrap(&self, program: &Path, args: &[String], exposure: &Exposure) -> (PathBuf, Vec<String>) {
        // Root makes the namespaces itself and the sandbox then becomes the job's user; anyone
        // else needs a user namespace, where it is root.
        let user_namespace: &[&str] = if self.user.is_some() { &[] } else { &["--user", "--map-root-user"] };
        let mut wrapped: Vec<String> = user_namespace
            .iter()
            .chain(&["--pid", "--fork", "--mount-proc", "--kill-child", "--propagation", "private", "--"])
            .map(|text| (*text).to_owned())
            .collect();
        wrapped.push(self.exe.display().to_string());
        wrapped.push("sandbox".to_owned());
        let closed = match self.user {
            Some(_) => self.closed_ancestors(exposure.read_write.iter().chain(&exposure.read_only).chain(&self.shared)),
            None => Vec::new(),
        };
        for path in self.hidden.iter().chain(&closed) {
            wrapped.extend(["--hide".to_owned(), path.display().to_string()]);
        }
        if let Some(user) = &self.user {
            wrapped.extend(["--as-user".to_owned(), format!("{}:{}", user.uid, user.gid)]);
            wrapped.extend(["--user-name".to_owned(), user.name.clone()]);
        }
        wrapped.extend(["--private".to_owned(), "/tmp".to_owned()]);
        for path in &exposure.read_write {
            wrapped.extend(["--bind".to_owned(), path.display().to_string()]);
        }
        for path in exposure.read_only.iter().chain(&self.shared) {
            wrapped.extend(["--ro-bind".to_owned(), path.display().to_string()]);
        }
        for template in &exposure.read_write_on_node {
            wrapped.extend(["--bind-on-node".to_owned(), template.clone()]);
        }
        if let Some(home) = &exposure.home {
            wrapped.extend(["--home".to_owned(), home.display().to_string()]);
        }
        wrapped.push("--".to_owned());
        wrapped.push(program.display().to_string());
        wrapped.extend(args.iter().cloned());
        (self.unshare.clone(), wrapped)
    }

    /// Checks that this machine can confine: runs a process that must not see a hidden file,
    /// nor any process but its own. Returns why not, when it cannot.
    pub fn probe(&self) -> Result<(), String> {
        // Under the first hidden folder (the home), so the probe checks the hiding jobs rely on,
        // not only the private /tmp.
        let base = self.hidden.first().cloned().unwrap_or_else(std::env::temp_dir);
        let folder = base.join(format!(".confinement-probe-{}", uuid::Uuid::new_v4().simple()));
        let result = self.probe_with(&folder);
        let _ = std::fs::remove_dir_all(&folder);
        result
    }

    fn probe_with(&self, folder: &Path) -> Result<(), String> {
        std::fs::create_dir_all(folder).map_err(|error| format!("cannot make a folder for the probe: {error}"))?;
        let secret = folder.join("secret");
        std::fs::write(&secret, "probe").map_err(|error| format!("cannot write the probe's file: {error}"))?;
        let own_pid_namespace = std::fs::read_link("/proc/self/ns/pid")
            .map_err(|error| format!("cannot read this process's PID namespace: {error}"))?;
        let mut policy = self.clone();
        if !policy.hidden.iter().any(|hidden| folder.starts_with(hidden)) {
            policy.hidden.push(folder.to_path_buf());
        }
        // The paths are arguments of the script, never part of its text.
        let script =
            "test ! -e \"$1\" && test \"$(readlink /proc/self/ns/pid)\" != \"$2\" && test \"$(id -u)\" = \"$3\"";
        let uid = self.user.as_ref().map_or(0, |user| user.uid);
        let args = [
            "-c".to_owned(),
            script.to_owned(),
            "probe".to_owned(),
            secret.display().to_string(),
            own_pid_namespace.display().to_string(),
            uid.to_string(),
        ];
        let (program, args) = policy.wrap(Path::new("/bin/sh"), &args, &Exposure::default());
        let output = std::process::Command::new(&program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|error| format!("cannot run {}: {error}", program.display()))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("").trim();
        Err(if reason.is_empty() {
            format!("a confined process could still see what it must not ({})", output.status)
        } else {
            format!("a confined process could not start: {reason}")
        })
    }
}

/// The server's `python3` (found on its `PATH`, run once): its real executable, and the
/// folders it needs (its prefix and, for a virtual environment, the base installation's).
fn server_python() -> Option<(PathBuf, Vec<PathBuf>)> {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable); print(sys.prefix); print(sys.base_prefix)"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?;
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let executable = PathBuf::from(lines.next()?);
    let mut prefixes: Vec<PathBuf> = lines.filter_map(|line| std::fs::canonicalize(line).ok()).collect();
    prefixes.dedup();
    executable.is_absolute().then_some((executable, prefixes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_passes_every_path_as_its_own_argument() {
        let policy = Confinement {
            unshare: "/usr/bin/unshare".into(),
            exe: "/opt/atelier".into(),
            hidden: vec!["/srv/home with space".into()],
            user: None,
            python: None,
            shared: vec!["/srv/python".into()],
        };
        let exposure = Exposure {
            read_write: vec!["/srv/home with space/jobs/j1".into()],
            read_only: vec!["/srv/envs".into()],
            read_write_on_node: Vec::new(),
            home: None,
        };
        let (program, args) =
            policy.wrap(Path::new("/bin/sh"), &["-c".into(), "echo $HOME; rm -rf /".into()], &exposure);
        assert_eq!(program, PathBuf::from("/usr/bin/unshare"));
        let tail: Vec<&str> = args.iter().skip_while(|arg| *arg != "sandbox").map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "sandbox",
                "--hide",
                "/srv/home with space",
                "--private",
                "/tmp",
                "--bind",
                "/srv/home with space/jobs/j1",
                "--ro-bind",
                "/srv/envs",
                "--ro-bind",
                "/srv/python",
                "--",
                "/bin/sh",
                "-c",
                "echo $HOME; rm -rf /"
            ]
        );
        assert_eq!(args[..2], ["--user", "--map-root-user"], "without a job user, a user namespace");
    }

    #[test]
    fn a_root_server_makes_the_namespaces_itself_and_names_the_job_user() {
        let policy = Confinement {
            unshare: "/usr/bin/unshare".into(),
            exe: "/opt/atelier".into(),
            hidden: vec!["/srv/home".into()],
            user: Some(JobUser { uid: 61184, gid: 61184, name: "atelier-job".into() }),
            python: None,
            shared: Vec::new(),
        };
        let (_, args) = policy.wrap(Path::new("/bin/true"), &[], &Exposure::default());
        assert!(!args.iter().any(|arg| arg == "--user" || arg == "--map-root-user"), "{args:?}");
        let at = args.iter().position(|arg| arg == "--as-user").expect("the job user is passed");
        assert_eq!(args[at + 1..at + 4], ["61184:61184", "--user-name", "atelier-job"]);
    }

    #[test]
    fn a_job_user_gets_a_way_through_folders_it_may_not_enter() {
        // Outside /tmp, which is private to confined processes anyway.
        let base = tempfile::tempdir_in("/var/tmp").or_else(|_| tempfile::tempdir()).expect("a folder");
        let closed = base.path().join("closed");
        let python = closed.join("python").join("3.11");
        std::fs::create_dir_all(&python).expect("folders");
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).expect("mode");
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).expect("mode");
        let policy = Confinement {
            unshare: "/usr/bin/unshare".into(),
            exe: "/opt/atelier".into(),
            hidden: Vec::new(),
            user: Some(JobUser { uid: 61184, gid: 61184, name: "atelier-job".into() }),
            python: None,
            shared: vec![python.clone()],
        };
        let (_, args) = policy.wrap(Path::new("/bin/true"), &[], &Exposure::default());
        let hides: Vec<&str> =
            args.windows(2).filter(|pair| pair[0] == "--hide").map(|pair| pair[1].as_str()).collect();
        let closed_text = closed.display().to_string();
        if base.path().starts_with("/tmp") {
            assert!(hides.is_empty(), "under the private /tmp nothing more is hidden: {hides:?}");
        } else {
            assert_eq!(hides, [closed_text.as_str()], "the closed folder is hidden, its Python bound back");
        }
        assert!(args.windows(2).any(|pair| pair[0] == "--ro-bind" && pair[1] == python.display().to_string()));
        let user_namespace = Confinement { user: None, ..policy };
        let (_, args) = user_namespace.wrap(Path::new("/bin/true"), &[], &Exposure::default());
        assert!(!args.iter().any(|arg| arg == "--hide"), "the server's own user enters what it may");
    }

    #[test]
    fn a_virtual_environment_needs_the_installation_it_was_made_from() {
        let base = tempfile::tempdir().expect("a folder");
        let installation = base.path().join("python-3.11");
        std::fs::create_dir_all(installation.join("bin")).expect("bin");
        let venv = base.path().join("env");
        std::fs::create_dir_all(venv.join("bin")).expect("venv");
        std::fs::write(
            venv.join("pyvenv.cfg"),
            format!("home = {}\ninclude-system-site-packages = false\n", installation.join("bin").display()),
        )
        .expect("cfg");
        let folders = Confinement::interpreter_folders(&venv.join("bin").join("python"));
        assert_eq!(folders, vec![std::fs::canonicalize(&installation).expect("canonical")]);
        assert!(Confinement::interpreter_folders(Path::new("/nonexistent/bin/python")).is_empty());
    }
}
