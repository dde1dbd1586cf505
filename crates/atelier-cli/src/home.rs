//! Where Atelier keeps its files on this machine, for the server and for the CLI that finds the
//! server's URL and token there.

use anyhow::Context;
use std::path::PathBuf;

/// The home folder: `--home`, `$ATELIER_HOME` or `~/.atelier`.
pub fn home_folder(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(home) = explicit {
        return Ok(home);
    }
    let user_home = std::env::var_os("HOME").context("cannot find the home folder: set --home or ATELIER_HOME")?;
    Ok(PathBuf::from(user_home).join(".atelier"))
}
