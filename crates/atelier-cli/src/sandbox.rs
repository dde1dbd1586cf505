//! `atelier sandbox`: the inside of a confined process (see `atelier_service::Confinement`).
//!
//! It starts as PID 1 of fresh PID and mount namespaces made by `unshare`: as root of a fresh
//! user namespace, or, where the server runs as root, as root itself with `--as-user`. It hides
//! folders under empty read-only tmpfs mounts (the server's home), gives the process a private
//! `/tmp`, and binds back the few folders the process needs. Then it locks those mounts: with
//! `--as-user` it hands the read-write folders to that user, and the command runs as it, with
//! no capability; otherwise it moves into one more user and mount namespace, where every mount
//! made here is locked to the one beneath it. Either way the confined code cannot unmount the empty
//! folders to see what they cover. Where the kernel has Landlock, writes are then allowed only
//! in the read-write folders, the private ones, `/dev/shm`, `/dev` and `/proc`, and no
//! privilege can be gained again (`no_new_privs`: no set-user-ID program works). Then it runs
//! the command and ends with it (the kernel ends every other process of the PID namespace
//! with it).
//!
//! This runs before the async runtime starts: `unshare(CLONE_NEWUSER)` needs a single thread.

use std::ffi::{CString, OsString};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// From <linux/mount.h>; kernels since 5.2 (open_tree, move_mount) and 5.12 (mount_setattr).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
const MOUNT_ATTR_RDONLY: u64 = 1;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// A folder to show empty and read-only.
    #[arg(long)]
    hide: Vec<PathBuf>,
    /// A folder to replace with an empty writable one (a private /tmp).
    #[arg(long)]
    private: Vec<PathBuf>,
    /// A folder under a hidden one to bind back, read-write.
    #[arg(long)]
    bind: Vec<PathBuf>,
    /// A folder under a hidden one to bind back, read-only.
    #[arg(long = "ro-bind")]
    ro_bind: Vec<PathBuf>,
    /// A folder of the Slurm node this runs on, named with `${SLURMD_NODENAME}`,
    /// `${SLURM_JOB_ID}` and `${SLURM_STEP_ID}` (which Slurm sets on each node), bound
    /// read-write where it exists: the folder Slurm's PMIx server made for the step's ranks.
    #[arg(long = "bind-on-node")]
    bind_on_node: Vec<String>,
    /// Run the command as this unprivileged `UID:GID` (the sandbox then starts as real root).
    #[arg(long = "as-user", value_parser = parse_ids)]
    as_user: Option<(u32, u32)>,
    /// The name of that user, for `USER` and `LOGNAME`.
    #[arg(long = "user-name")]
    user_name: Option<String>,
    /// The command's home folder (`HOME`), one of the folders bound read-write; without it, its
    /// private `/tmp`.
    #[arg(long)]
    home: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

fn parse_ids(text: &str) -> Result<(u32, u32), String> {
    let (uid, gid) = text.split_once(':').ok_or("expected UID:GID")?;
    let number = |part: &str| part.parse::<u32>().map_err(|_| format!("expected a number, got '{part}'"));
    Ok((number(uid)?, number(gid)?))
}

/// Why setting the sandbox up failed: what was being done, and the system's answer.
struct Failure(String);

fn failure(what: impl std::fmt::Display) -> Failure {
    Failure(format!("{what}: {}", std::io::Error::last_os_error()))
}

fn c_path(path: &Path) -> Result<CString, Failure> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Failure(format!("{} holds a NUL byte", path.display())))
}

/// `template` with the Slurm variables it names taken from `variable` (this node's
/// environment); `None` where one is unset or is not a plain name.
fn on_node(template: &str, variable: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let mut path = template.to_owned();
    for name in ["SLURMD_NODENAME", "SLURM_JOB_ID", "SLURM_STEP_ID"] {
        let placeholder = format!("${{{name}}}");
        if path.contains(&placeholder) {
            let value = variable(name)?;
            let plain = !value.is_empty()
                && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && value != "."
                && value != "..";
            if !plain {
                return None;
            }
            path = path.replace(&placeholder, &value);
        }
    }
    (!path.contains("${")).then(|| PathBuf::from(path))
}

pub fn run(mut args: SandboxArgs) -> ExitCode {
    let on_this_node: Vec<PathBuf> =
        args.bind_on_node.iter().filter_map(|template| on_node(template, |name| std::env::var(name).ok())).collect();
    args.bind.extend(on_this_node.into_iter().filter(|path| path.is_dir()));
    match confine(&args) {
        Ok(()) => {}
        Err(Failure(message)) => {
            eprintln!("atelier sandbox: {message}");
            return ExitCode::from(126);
        }
    }
    let (program, rest) = match args.command.split_first() {
        Some(split) => split,
        None => return ExitCode::from(126),
    };
    let mut command = std::process::Command::new(program);
    command.args(rest);
    if args.private.iter().any(|path| path == Path::new("/tmp")) {
        // The only place, with the process's own folders, where it may write.
        command.env("TMPDIR", "/tmp").env("HOME", "/tmp");
    }
    if let Some(home) = args.home.as_ref().filter(|home| args.bind.contains(home)) {
        command.env("HOME", home);
    }
    if let Some(name) = &args.user_name {
        command.env("USER", name).env("LOGNAME", name);
    }
    if let Some((uid, gid)) = args.as_user {
        // SAFETY: `become_user` makes only async-signal-safe system calls.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || become_user(uid, gid));
        }
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!("atelier sandbox: cannot run {}: {error}", program.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    ExitCode::from(wait_for(child.id() as libc::pid_t))
}

/// As PID 1, reaps every orphan of the namespace until the command itself ends; returns its
/// exit code (128 + the signal for a command that a signal ended).
fn wait_for(pid: libc::pid_t) -> u8 {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes only into `status`.
        let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
        if reaped == -1 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return 127;
        }
        if reaped != pid {
            continue;
        }
        if libc::WIFEXITED(status) {
            return libc::WEXITSTATUS(status) as u8;
        }
        if libc::WIFSIGNALED(status) {
            return 128u8.saturating_add(libc::WTERMSIG(status) as u8);
        }
    }
}

fn is_under(path: &Path, folders: &[&PathBuf]) -> bool {
    folders.iter().any(|folder| path.starts_with(folder))
}

fn confine(args: &SandboxArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir().map_err(|error| Failure(format!("cannot read the working folder: {error}")))?;
    let covered: Vec<&PathBuf> = args.hide.iter().chain(&args.private).collect();

    // 1. Detached copies of the folders to bind back, taken while they are still visible.
    let mut binds: Vec<(PathBuf, OwnedFd, bool)> = Vec::new();
    for (path, read_only) in
        args.bind.iter().map(|path| (path, false)).chain(args.ro_bind.iter().map(|path| (path, true)))
    {
        if !is_under(path, &covered) || !path.is_dir() {
            continue;
        }
        let c = c_path(path)?;
        // SAFETY: open_tree reads the NUL-terminated path and returns a new descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                c.as_ptr(),
                OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(failure(format!("cannot take a copy of {}", path.display())));
        }
        // SAFETY: the descriptor was just returned by the kernel and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        if read_only {
            let attr = MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
            // SAFETY: mount_setattr reads `attr` of the size given, and an empty path.
            let done = unsafe {
                libc::syscall(
                    libc::SYS_mount_setattr,
                    std::os::fd::AsRawFd::as_raw_fd(&fd),
                    c"".as_ptr(),
                    libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                )
            };
            if done != 0 {
                return Err(failure(format!("cannot make {} read-only", path.display())));
            }
        }
        binds.push((path.clone(), fd, read_only));
    }

    // 2. Empty folders over the hidden ones, outer folders first; a folder already covered by
    //    an outer one no longer exists and needs nothing.
    let mut covers: Vec<(&PathBuf, bool)> =
        args.hide.iter().map(|path| (path, false)).chain(args.private.iter().map(|path| (path, true))).collect();
    covers.sort_by_key(|(path, _)| path.components().count());
    let mut mounted: Vec<&PathBuf> = Vec::new();
    for (path, writable) in covers {
        if !path.is_dir() {
            continue;
        }
        let target = c_path(path)?;
        let options = if writable { c"mode=1777" } else { c"mode=755,size=1m" };
        // SAFETY: every pointer is a NUL-terminated string that outlives the call.
        let done = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            )
        };
        if done != 0 {
            return Err(failure(format!("cannot hide {}", path.display())));
        }
        if !writable {
            mounted.push(path);
        }
    }

    // 3. The folders the process needs, back where they were.
    for (path, fd, _) in &binds {
        std::fs::create_dir_all(path)
            .map_err(|error| Failure(format!("cannot make {} inside the sandbox: {error}", path.display())))?;
        let target = c_path(path)?;
        // SAFETY: move_mount reads the NUL-terminated strings; the descriptor is open.
        let done = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                std::os::fd::AsRawFd::as_raw_fd(fd),
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if done != 0 {
            return Err(failure(format!("cannot bind {} back", path.display())));
        }
    }

    // 4. The hidden folders become read-only.
    for path in mounted {
        let target = c_path(path)?;
        // SAFETY: the target is a NUL-terminated path; the other pointers may be null here.
        let done = unsafe {
            libc::mount(
                std::ptr::null(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                std::ptr::null(),
            )
        };
        if done != 0 {
            return Err(failure(format!("cannot make {} read-only", path.display())));
        }
    }

    // 5. Lock the mounts: become the job's user, or enter one more user namespace.
    match args.as_user {
        Some((uid, gid)) => hand_over_folders(uid, gid, &args.bind)?,
        None => inner_user_namespace()?,
    }
    if std::env::set_current_dir(&cwd).is_err() {
        std::env::set_current_dir("/").map_err(|error| Failure(format!("cannot enter a working folder: {error}")))?;
    }

    // 6. Writes only where the process may write.
    let writable: Vec<&PathBuf> = args.bind.iter().chain(&args.private).collect();
    restrict_writes(&writable)
}

/// Hands the read-write folders to the job's user, which the command runs as.
fn hand_over_folders(uid: u32, gid: u32, folders: &[PathBuf]) -> Result<(), Failure> {
    for folder in folders {
        hand_over(folder, uid, gid)
            .map_err(|error| Failure(format!("cannot hand {} to the job's user: {error}", folder.display())))?;
    }
    Ok(())
}

/// In the command's process, just before it runs: becomes the job's user. Root's capabilities
/// all go with the switch, so the mounts can no longer be changed. (The sandbox itself stays
/// root: the switch would clear the parent-death signal that ends it with the server.)
fn become_user(uid: u32, gid: u32) -> std::io::Result<()> {
    // SAFETY: plain system calls on this process's credentials; a null list with length 0.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Gives `path` and everything under it (links themselves, never what they point to) to the
/// user, so the process can write its own folder.
fn hand_over(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    let metadata = std::fs::symlink_metadata(path)?;
    if metadata.is_dir() {
        for entry in std::fs::read_dir(path)? {
            hand_over(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// One more user and mount namespace, mapping its root to the outer one's: the mounts made
/// above are locked there.
fn inner_user_namespace() -> Result<(), Failure> {
    // SAFETY: unshare takes flags only; this process has a single thread.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        return Err(failure("cannot make the inner namespaces"));
    }
    for (file, text) in
        [("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", "0 0 1"), ("/proc/self/gid_map", "0 0 1")]
    {
        std::fs::write(file, text).map_err(|error| Failure(format!("cannot write {file}: {error}")))?;
    }
    Ok(())
}

/// With Landlock (where the kernel has it), this process and the command it runs may read
/// everything they can see but write only in `writable`, `/dev/shm`, and to the files of `/dev`
/// and `/proc`; they cannot signal a process outside the sandbox, and `no_new_privs` is set.
/// A kernel without Landlock keeps the namespaces' confinement alone.
fn restrict_writes(writable: &[&PathBuf]) -> Result<(), Failure> {
    use landlock::{
        ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, Scope, path_beneath_rules,
    };
    // The newest ABI this was written and tested against; older kernels get what they have.
    let abi = ABI::V6;
    let apply = || -> Result<(), RulesetError> {
        let devices = AccessFs::from_read(abi) | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev;
        let writable = writable.iter().map(|path| path.as_path()).chain([Path::new("/dev/shm")]);
        Ruleset::default()
            .handle_access(AccessFs::from_all(abi))?
            .scope(Scope::Signal)?
            .create()?
            .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))?
            .add_rules(path_beneath_rules(["/dev", "/proc"], devices))?
            .add_rules(path_beneath_rules(writable, AccessFs::from_all(abi)))?
            .restrict_self()?;
        Ok(())
    };
    apply().map_err(|error| Failure(format!("cannot restrict writes with Landlock: {error}")))
}

/// The Landlock ABI version this kernel offers, `None` where it has none.
pub fn landlock_version() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and size 0, the call only returns the ABI version.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (version > 0).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::on_node;
    use std::path::PathBuf;

    #[test]
    fn a_node_folder_takes_only_plain_slurm_names() {
        let node = |name: &str| match name {
            "SLURMD_NODENAME" => Some("n1".to_owned()),
            "SLURM_JOB_ID" => Some("42".to_owned()),
            "SLURM_STEP_ID" => Some("0".to_owned()),
            _ => None,
        };
        let template = "/var/tmp/${SLURMD_NODENAME}/spmix_appdir_1000_${SLURM_JOB_ID}.${SLURM_STEP_ID}";
        assert_eq!(on_node(template, node), Some(PathBuf::from("/var/tmp/n1/spmix_appdir_1000_42.0")));
        // A name that would climb out of the folder, an unset variable, another variable.
        assert_eq!(on_node(template, |name| (name == "SLURMD_NODENAME").then(|| "..".to_owned()).or(node(name))), None);
        assert_eq!(on_node(template, |name| (name != "SLURM_STEP_ID").then(|| "1".to_owned())), None);
        assert_eq!(on_node("/tmp/${HOME}", node), None);
    }
}
