//! Every change goes through a transaction that carries the request's audit record: no module
//! but the audit log's own executes a statement straight on the write pool.

#[test]
fn no_write_goes_around_the_audit_log() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "audit.rs" || path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let compact: String = line.split_whitespace().collect();
            if compact.contains(".execute(&self.write)") || (compact.contains("self.write.begin()") && name != "sql.rs")
            {
                offenders.push(format!("{name}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "write through SqlStore::begin_write or execute_write:\n{}", offenders.join("\n"));
}
