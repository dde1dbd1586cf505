//! Every public operation of `Service` (in any file under `src/`) that takes a caller
//! (`&Principal`) decides access through the one authorization place: it calls `authorize_on`
//! or `authorize_server_on` (in `src/lib.rs`), directly or through another method of `Service`
//! that does (`authorize`, `authorize_account`, `permitted_workspaces`, `job_in_workspace`, …).
//!
//! The check reads the sources as rustfmt lays them out: methods of `impl Service` blocks start
//! at four spaces of indentation and end at the first line that is exactly `    }`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The two functions where permissions are decided.
const DECIDERS: [&str; 2] = ["authorize_on", "authorize_server_on"];

/// Public methods that take a `&Principal` and need not authorize, with the reason.
const ALLOWED: [&str; 0] = [
    // None today. Sign-in (`sign_in`, `authenticate_*`, `session`) takes no principal: it makes
    // one. Add a method here only with a comment that says why it decides nothing.
];

struct Method {
    file: String,
    is_public: bool,
    takes_principal: bool,
    body: String,
}

impl Method {
    fn empty() -> Self {
        Method { file: String::new(), is_public: false, takes_principal: false, body: String::new() }
    }
}

/// The methods of every `impl Service` block in `source`, by name.
fn methods(file: &str, source: &str, into: &mut BTreeMap<String, Method>) {
    let mut in_service = false;
    let mut current: Option<(String, Method, bool)> = None;
    for line in source.lines() {
        if line.starts_with("impl Service") {
            in_service = true;
            continue;
        }
        if line == "}" {
            in_service = false;
            continue;
        }
        if !in_service {
            continue;
        }
        if let Some((name, method, in_signature)) = &mut current {
            if *in_signature {
                method.takes_principal |= line.contains("&Principal");
                if line.ends_with('{') {
                    *in_signature = false;
                }
            } else {
                method.body.push_str(line);
                method.body.push('\n');
            }
            if line == "    }" {
                into.insert(std::mem::take(name), std::mem::replace(method, Method::empty()));
                current = None;
            }
            continue;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent != 4 {
            continue;
        }
        let is_public = trimmed.starts_with("pub fn ") || trimmed.starts_with("pub async fn ");
        let signature = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .trim_start_matches("const ");
        let Some(rest) = signature.strip_prefix("fn ") else { continue };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let mut method = Method {
            file: file.to_owned(),
            is_public,
            takes_principal: line.contains("&Principal"),
            body: String::new(),
        };
        if line.ends_with('}') {
            // A method on one line.
            method.body = line.to_owned();
            into.insert(name, method);
            continue;
        }
        // A signature on one line ends with `{`; one over several lines ends at its own line.
        let in_signature = !line.ends_with('{');
        current = Some((name, method, in_signature));
    }
}

fn calls(body: &str, name: &str) -> bool {
    [format!("self.{name}("), format!("Self::{name}("), format!("self.{name}::<")]
        .iter()
        .any(|call| body.contains(call.as_str()))
}

/// How many public operations take a principal, and those of them that never authorize.
fn unauthorized_operations(sources: &[(String, String)]) -> (usize, Vec<String>) {
    let mut all = BTreeMap::new();
    for (file, source) in sources {
        methods(file, source, &mut all);
    }
    for decider in DECIDERS {
        assert!(all.contains_key(decider), "{decider} is gone from impl Service: update this test");
    }
    // Methods that authorize, directly or through another method that does.
    let mut authorizing: BTreeSet<&str> = DECIDERS.into_iter().collect();
    loop {
        let before = authorizing.len();
        for (name, method) in &all {
            if !authorizing.contains(name.as_str()) && authorizing.iter().any(|callee| calls(&method.body, callee)) {
                authorizing.insert(name.as_str());
            }
        }
        if authorizing.len() == before {
            break;
        }
    }
    let operations: Vec<(&String, &Method)> =
        all.iter().filter(|(_, method)| method.is_public && method.takes_principal).collect();
    let missing = operations
        .iter()
        .filter(|(name, _)| !authorizing.contains(name.as_str()) && !ALLOWED.contains(&name.as_str()))
        .map(|(name, method)| format!("{}: Service::{name}", method.file))
        .collect();
    (operations.len(), missing)
}

/// Every source file of the service, with its path under `src/`.
fn service_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("the service's sources") {
            let path = entry.expect("a source file").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                let name = path.strip_prefix(&src).unwrap_or(&path).display().to_string();
                sources.push((name, text));
            }
        }
    }
    sources.sort();
    sources
}

#[test]
fn every_operation_with_a_principal_authorizes() {
    let sources = service_sources();
    assert!(sources.iter().any(|(file, _)| file == "auth.rs"), "found the service's sources");
    let (checked, missing) = unauthorized_operations(&sources);
    assert!(checked > 100, "only {checked} operations found: has the layout changed?");
    assert!(
        missing.is_empty(),
        "these public operations take a principal but never call authorize, authorize_on or \
         authorize_server (directly or through another method): decide access there, or add the \
         method to ALLOWED with a comment that says why\n{}",
        missing.join("\n")
    );
}

/// The check itself: an operation that forgets to authorize is found, also when it calls a
/// method of the same name on the store; one that authorizes through a helper is not.
#[test]
fn the_check_finds_an_operation_that_does_not_authorize() {
    let source = r#"
impl Service {
    pub(crate) async fn authorize_on(&self, principal: &Principal) -> Result<()> {
        decide()
    }

    pub(crate) fn authorize_server_on(&self, principal: &Principal) -> Result<()> {
        decide()
    }

    async fn helper(&self, principal: &Principal) -> Result<()> {
        self.authorize_on(principal).await
    }

    pub async fn guarded(&self, principal: &Principal, name: &str) -> Result<()> {
        self.helper(principal).await?;
        self.store.read(name).await
    }

    pub async fn forgetful(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<()> {
        self.store.guarded(name).await
    }

    pub fn no_caller(&self) -> u64 {
        1
    }
}
"#;
    let (checked, found) = unauthorized_operations(&[("example.rs".to_owned(), source.to_owned())]);
    assert_eq!((checked, found), (2, vec!["example.rs: Service::forgetful".to_owned()]));
}
