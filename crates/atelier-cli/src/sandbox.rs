//! `atelier sandbox`: the inside of a confined process (see `atelier_service::Confinement`).
//!
//! It starts as PID 1 of fresh user, PID and mount namespaces made by `unshare`, as root of that
//! user namespace. It hides folders under empty read-only tmpfs mounts (the server's home), gives
//! the process a private `/tmp`, binds back the few folders the process needs, then moves into
//! one more user and mount namespace: there every mount made here is locked to the one beneath
//! it, so the confined code, whatever capabilities it gains in its own namespace, cannot unmount
//! the empty folders to see what they cover. Then it runs the command and ends with it (the
//! kernel ends every other process of the PID namespace with it).
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
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

/// Why setting the sandbox up failed: what was being done, and the system's answer.
struct Failure(String);

fn failure(what: impl std::fmt::Display) -> Failure {
    Failure(format!("{what}: {}", std::io::Error::last_os_error()))
}

fn c_path(path: &Path) -> Result<CString, Failure> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Failure(format!("{} holds a NUL byte", path.display())))
}

pub fn run(args: SandboxArgs) -> ExitCode {
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
        command.env("TMPDIR", "/tmp");
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

    // 5. One more user and mount namespace: the mounts above are locked there.
    // SAFETY: unshare takes flags only; this process has a single thread.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        return Err(failure("cannot make the inner namespaces"));
    }
    for (file, text) in
        [("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", "0 0 1"), ("/proc/self/gid_map", "0 0 1")]
    {
        std::fs::write(file, text).map_err(|error| Failure(format!("cannot write {file}: {error}")))?;
    }
    if std::env::set_current_dir(&cwd).is_err() {
        std::env::set_current_dir("/").map_err(|error| Failure(format!("cannot enter a working folder: {error}")))?;
    }
    Ok(())
}
