//! Log files of a deployment (worker output, setup steps, one line per request): appended to,
//! rotated at a size, and read from the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An append-only log file (worker output, request records). At [`LOG_ROTATE_BYTES`] it is
/// renamed to `<name>.1` (replacing the one before) and started afresh, so a busy endpoint's
/// request log stays bounded on disk.
pub struct LogFile {
    pub(crate) path: PathBuf,
    pub(crate) file: Mutex<Option<(std::fs::File, u64)>>,
}

/// The size at which a log file is rotated.
pub(crate) const LOG_ROTATE_BYTES: u64 = 64 << 20;

/// The most of a log's end `tail` reads.
pub(crate) const LOG_TAIL_MAX_BYTES: u64 = 4 << 20;

impl LogFile {
    pub(crate) fn open(path: PathBuf) -> Arc<Self> {
        let file = Self::open_file(&path);
        Arc::new(LogFile { path, file: Mutex::new(file) })
    }

    pub(crate) fn open_file(path: &Path) -> Option<(std::fs::File, u64)> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).ok()?;
        let size = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        Some((file, size))
    }

    /// Appends a line with the time in front.
    pub fn line(&self, text: &str) {
        let time = atelier_core::time::format_rfc3339(atelier_service::now_millis());
        self.raw(&format!("{time} {text}\n"));
    }

    pub(crate) fn raw(&self, text: &str) {
        let Ok(mut guard) = self.file.lock() else { return };
        if guard.as_ref().is_some_and(|(_, size)| *size >= LOG_ROTATE_BYTES) {
            let mut rotated = self.path.clone().into_os_string();
            rotated.push(".1");
            let _ = std::fs::rename(&self.path, rotated);
            *guard = Self::open_file(&self.path);
        }
        if let Some((file, size)) = guard.as_mut()
            && file.write_all(text.as_bytes()).is_ok()
        {
            *size += text.len() as u64;
        }
    }

    /// The last `lines` lines (at most the last few MB of the file).
    pub fn tail(&self, lines: usize) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut file) = std::fs::File::open(&self.path) else { return String::new() };
        let size = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        let start = size.saturating_sub(LOG_TAIL_MAX_BYTES);
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
            return String::new();
        }
        let text = String::from_utf8_lossy(&bytes);
        // A read that starts mid-file starts mid-line: drop that first piece.
        let text = if start > 0 { text.split_once('\n').map_or("", |(_, rest)| rest) } else { &text };
        let all: Vec<&str> = text.lines().collect();
        let from = all.len().saturating_sub(lines.min(LOG_TAIL_MAX_LINES));
        all[from..].iter().map(|line| format!("{line}\n")).collect()
    }
}

/// The most of a log `get-logs` returns.
pub(crate) const LOG_TAIL_MAX_LINES: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_rotate_and_tail_reads_only_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(dir.path().join("requests.log"));
        let line = "x".repeat(1023);
        for _ in 0..(LOG_ROTATE_BYTES / 1024 + 10) {
            log.raw(&format!("{line}\n"));
        }
        let rotated = std::fs::metadata(dir.path().join("requests.log.1")).unwrap().len();
        assert_eq!(rotated, LOG_ROTATE_BYTES, "rotated at the limit");
        assert_eq!(std::fs::metadata(dir.path().join("requests.log")).unwrap().len(), 10 * 1024);
        log.raw("last\n");
        let tail = log.tail(2);
        assert_eq!(tail, format!("{line}\nlast\n"));
    }
}
