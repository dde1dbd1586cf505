//! The Python SDK (`python/atelier-sdk`), built into the binary: a compute instance's
//! notebooks import it (`import atelier`) from the copy its server writes beside them.

/// Every file of the `atelier` package, by its path under `src/`.
pub const SDK_FILES: &[(&str, &str)] = &[
    ("atelier/__init__.py", include_str!("../../../python/atelier-sdk/src/atelier/__init__.py")),
    ("atelier/_builders.py", include_str!("../../../python/atelier-sdk/src/atelier/_builders.py")),
    ("atelier/_client.py", include_str!("../../../python/atelier-sdk/src/atelier/_client.py")),
    ("atelier/_code.py", include_str!("../../../python/atelier-sdk/src/atelier/_code.py")),
    ("atelier/_http.py", include_str!("../../../python/atelier-sdk/src/atelier/_http.py")),
    ("atelier/_load.py", include_str!("../../../python/atelier-sdk/src/atelier/_load.py")),
    ("atelier/constants.py", include_str!("../../../python/atelier-sdk/src/atelier/constants.py")),
    ("atelier/dsl.py", include_str!("../../../python/atelier-sdk/src/atelier/dsl.py")),
    ("atelier/entities/__init__.py", include_str!("../../../python/atelier-sdk/src/atelier/entities/__init__.py")),
    ("atelier/entities/_assets.py", include_str!("../../../python/atelier-sdk/src/atelier/entities/_assets.py")),
    ("atelier/entities/_base.py", include_str!("../../../python/atelier-sdk/src/atelier/entities/_base.py")),
    ("atelier/entities/_endpoint.py", include_str!("../../../python/atelier-sdk/src/atelier/entities/_endpoint.py")),
    ("atelier/entities/_io.py", include_str!("../../../python/atelier-sdk/src/atelier/entities/_io.py")),
    ("atelier/entities/_job.py", include_str!("../../../python/atelier-sdk/src/atelier/entities/_job.py")),
    ("atelier/entities/_workspace.py", include_str!("../../../python/atelier-sdk/src/atelier/entities/_workspace.py")),
    ("atelier/exceptions.py", include_str!("../../../python/atelier-sdk/src/atelier/exceptions.py")),
    ("atelier/operations/__init__.py", include_str!("../../../python/atelier-sdk/src/atelier/operations/__init__.py")),
    ("atelier/operations/_base.py", include_str!("../../../python/atelier-sdk/src/atelier/operations/_base.py")),
    ("atelier/operations/_prepare.py", include_str!("../../../python/atelier-sdk/src/atelier/operations/_prepare.py")),
    ("atelier/operations/assets.py", include_str!("../../../python/atelier-sdk/src/atelier/operations/assets.py")),
    (
        "atelier/operations/endpoints.py",
        include_str!("../../../python/atelier-sdk/src/atelier/operations/endpoints.py"),
    ),
    ("atelier/operations/jobs.py", include_str!("../../../python/atelier-sdk/src/atelier/operations/jobs.py")),
    (
        "atelier/operations/workspace_ops.py",
        include_str!("../../../python/atelier-sdk/src/atelier/operations/workspace_ops.py"),
    ),
    ("atelier/py.typed", include_str!("../../../python/atelier-sdk/src/atelier/py.typed")),
    ("atelier/sweep.py", include_str!("../../../python/atelier-sdk/src/atelier/sweep.py")),
];

/// Writes the package under `folder` (as `folder/atelier/…`), for `PYTHONPATH`.
pub fn write_sdk(folder: &std::path::Path) -> std::io::Result<()> {
    for (path, text) in SDK_FILES {
        let target = folder.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A file added to the package (or removed) is added here too.
    #[test]
    fn every_file_of_the_package_is_built_in() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/atelier-sdk/src");
        let mut found = Vec::new();
        let mut pending = vec![root.join("atelier")];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).expect("the SDK's folder") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|name| name != "__pycache__") {
                        pending.push(path);
                    }
                } else if path.extension().is_some_and(|ext| ext == "py") || path.ends_with("py.typed") {
                    found.push(path.strip_prefix(&root).expect("under src").display().to_string());
                }
            }
        }
        found.sort();
        let mut built_in: Vec<String> = super::SDK_FILES.iter().map(|(path, _)| (*path).to_owned()).collect();
        built_in.sort();
        assert_eq!(found, built_in);
    }
}
