//! Confinement of the code that users submit: a job's command and a deployment's scoring
//! worker run in their own user, PID and mount namespaces, where the server's home (its token,
//! admin password, master key, database, other jobs' folders) is an empty, read-only folder,
//! `/tmp` is private, and no other process of the machine is visible. Only the folders a
//! process needs (its own job folder, the built environments, its socket) are bound back in.
//!
//! The namespaces are made by util-linux's `unshare`; inside them, `atelier sandbox` (the same
//! binary as the server) mounts the folders, locks them with one more user namespace, and runs
//! the command. This module only builds that command line; it runs nothing but the probe.

use std::path::{Path, PathBuf};

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
}

/// What one confined process may see of the hidden folders, and how.
#[derive(Debug, Clone, Default)]
pub struct Exposure {
    /// Folders bound back read-write.
    pub read_write: Vec<PathBuf>,
    /// Folders bound back read-only.
    pub read_only: Vec<PathBuf>,
}

impl Confinement {
    /// The policy for a server whose home is `home`: the home and `~/.atelier` (where another
    /// server of this user keeps its secrets by default) are hidden, as is any `extra` folder.
    pub fn new(unshare: PathBuf, exe: PathBuf, home: &Path, extra: &[PathBuf]) -> Self {
        let mut hidden = vec![home.to_path_buf()];
        if let Some(user_home) = std::env::var_os("HOME").filter(|value| !value.is_empty()) {
            hidden.push(PathBuf::from(user_home).join(".atelier"));
        }
        hidden.extend(extra.iter().cloned());
        hidden.sort();
        hidden.dedup();
        Confinement { unshare, exe, hidden }
    }

    /// The program and arguments that run `program args…` confined, seeing only `exposure` of
    /// the hidden folders. Every path is passed as its own argument: nothing is parsed by a shell.
    pub fn wrap(&self, program: &Path, args: &[String], exposure: &Exposure) -> (PathBuf, Vec<String>) {
        let mut wrapped: Vec<String> = [
            "--user",
            "--map-root-user",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "--propagation",
            "private",
            "--",
        ]
        .iter()
        .map(|text| (*text).to_owned())
        .collect();
        wrapped.push(self.exe.display().to_string());
        wrapped.push("sandbox".to_owned());
        for path in &self.hidden {
            wrapped.extend(["--hide".to_owned(), path.display().to_string()]);
        }
        wrapped.extend(["--private".to_owned(), "/tmp".to_owned()]);
        for path in &exposure.read_write {
            wrapped.extend(["--bind".to_owned(), path.display().to_string()]);
        }
        for path in &exposure.read_only {
            wrapped.extend(["--ro-bind".to_owned(), path.display().to_string()]);
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
        let script = "test ! -e \"$1\" && test \"$(readlink /proc/self/ns/pid)\" != \"$2\"";
        let args = [
            "-c".to_owned(),
            script.to_owned(),
            "probe".to_owned(),
            secret.display().to_string(),
            own_pid_namespace.display().to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_passes_every_path_as_its_own_argument() {
        let policy = Confinement {
            unshare: "/usr/bin/unshare".into(),
            exe: "/opt/atelier".into(),
            hidden: vec!["/srv/home with space".into()],
        };
        let exposure =
            Exposure { read_write: vec!["/srv/home with space/jobs/j1".into()], read_only: vec!["/srv/envs".into()] };
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
                "--",
                "/bin/sh",
                "-c",
                "echo $HOME; rm -rf /"
            ]
        );
    }
}
