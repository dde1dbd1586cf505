//! Tidy: the tree holds no switched-off tests and no unfinished code.

use std::path::{Path, PathBuf};

fn files(root: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "__pycache__") {
                files(&path, extension, found);
            }
        } else if path.extension().is_some_and(|found_extension| found_extension == extension) {
            found.push(path);
        }
    }
}

#[test]
fn no_unfinished_or_switched_off_code() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The patterns are split so that this file does not match itself.
    let rust_banned =
        [concat!("todo", "!("), concat!("unimplemented", "!("), concat!("#[", "ignore"), concat!("dbg", "!(")];
    let mut problems = Vec::new();
    // The end-to-end suite skips only in its reference mode (run against a real MLflow server
    // to check the tests themselves), never in the project's test command.
    for (extension, banned, roots) in [("rs", &rust_banned[..], &["crates", "bench"][..])] {
        let mut found = Vec::new();
        for root in roots {
            files(&workspace.join(root), extension, &mut found);
        }
        for path in found {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (number, line) in text.lines().enumerate() {
                if let Some(pattern) = banned.iter().find(|pattern| line.contains(**pattern)) {
                    problems.push(format!("{}:{}: {pattern}", path.display(), number + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "unfinished or switched-off code:\n{}", problems.join("\n"));
}
