//! The audit log: the request's [`AuditContext`], which a change's own transaction appends as it
//! commits, and [`AuditStore`] for [`SqlStore`] (reading, and appending what is recorded after a
//! call's answer).
//!
//! How a record gets written with its change: the HTTP layer runs each request inside an
//! [`AuditContext`] (a tokio task-local), which the service fills as it learns who calls and
//! what they do ([`note_principal`], [`note_action`]). Every write transaction of the store
//! commits through [`WriteTx::commit`](crate::sql::WriteTx), which appends the request's record
//! first when the request is a state-changing call whose record is not yet written; the batch
//! writer does the same for the requests in its group. So the record and the change commit or
//! roll back together. What no transaction carries (a refusal, a failure, a change outside the
//! metadata store) the HTTP layer appends after the answer, from [`AuditContext::finish`].

use crate::AuditStore;
use crate::dialect::{Bind, Dialect, bound, db_error, placeholder, values_rows};
use crate::sql::SqlStore;
use async_trait::async_trait;
use atelier_core::audit::{AuditQuery, AuditRecord, Outcome, SIGN_IN};
use atelier_core::model::Millis;
use atelier_core::{Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

tokio::task_local! {
    static CONTEXT: Arc<AuditContext>;
}

/// What one request has told the audit log so far.
#[derive(Debug)]
pub struct AuditContext {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Shared with the transaction that writes it (see [`take_for_commit`]); changed in place
    /// while it is not.
    draft: Arc<AuditRecord>,
    /// Whether the call's action changes state (a write, an action, a sign-in).
    writes: bool,
    /// Whether the method may change state: a GET, HEAD or OPTIONS never records a change,
    /// whatever the actions it was authorized for (a page checks what buttons to show).
    changing_method: bool,
    /// The error code of a refused sign-in: recorded as a denial, whatever the answer.
    refused: Option<String>,
    /// The error code of a failure answered as something else (a page's redirect that shows
    /// the error).
    failure: Option<String>,
    /// The action refused with 403, and its workspace, for the record of a denial.
    denied: Option<(Option<String>, String)>,
    /// Whether a transaction has committed this request's record.
    written: bool,
    /// Whether the target names its object already (the first one named stays).
    detailed: bool,
}

impl AuditContext {
    /// A request's context: its id, the address it came from, its method and path.
    pub fn new(request_id: String, address: Option<String>, method: &str, path: &str, at: Millis) -> Arc<Self> {
        Arc::new(AuditContext {
            state: Mutex::new(State {
                draft: Arc::new(AuditRecord {
                    id: 0,
                    at,
                    user: None,
                    token_id: None,
                    job: None,
                    address,
                    workspace: None,
                    action: String::new(),
                    target: format!("{method} {}", clip(path, 512)),
                    outcome: Outcome::Succeeded,
                    error: None,
                    request_id,
                }),
                writes: false,
                changing_method: !matches!(method, "GET" | "HEAD" | "OPTIONS"),
                refused: None,
                failure: None,
                denied: None,
                written: false,
                detailed: false,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `future` (the request's handling) with this context current.
    pub async fn within<F: Future>(self: &Arc<Self>, future: F) -> F::Output {
        CONTEXT.scope(self.clone(), future).await
    }

    /// The record to append after the answer, if the call needs one that no transaction wrote:
    /// a denial (401, 403 or a refused sign-in), or a state-changing call that failed or
    /// changed something outside the metadata store. `error` is the answer's error code, if it
    /// was an error. A call whose change was recorded and that then failed gets a second
    /// record, of the failure.
    pub fn finish(&self, status: u16, error: Option<&str>, at: Millis) -> Option<AuditRecord> {
        let state = self.state();
        // Decided before the draft is copied: most requests (reads) need no record.
        let record = |outcome: Outcome, error: Option<String>| {
            Some(AuditRecord { at, outcome, error, ..AuditRecord::clone(&state.draft) })
        };
        if let Some(code) = &state.refused {
            let mut refused = record(Outcome::Denied, Some(code.clone()))?;
            if refused.action.is_empty() {
                refused.action = SIGN_IN.to_owned();
            }
            return Some(refused);
        }
        let changing = state.writes && state.changing_method;
        let error = error.or(state.failure.as_deref());
        let refused = matches!(error, Some("PERMISSION_DENIED" | "UNAUTHENTICATED"));
        if status == 401 || status == 403 || (status == 429 && changing) || (refused && state.changing_method) {
            let code = error.unwrap_or(if status == 401 { "UNAUTHENTICATED" } else { "PERMISSION_DENIED" });
            let mut denied = record(Outcome::Denied, Some(code.to_owned()))?;
            if let Some((workspace, action)) = state.denied.clone().filter(|_| status != 401) {
                denied.workspace = workspace;
                denied.action = action;
            }
            return Some(denied);
        }
        let failed = status >= 400 || state.failure.is_some();
        if !changing || (state.written && !failed) {
            return None;
        }
        if failed {
            return record(Outcome::Failed, Some(error.map_or_else(|| format!("HTTP {status}"), str::to_owned)));
        }
        record(Outcome::Succeeded, None)
    }
}

fn clip(text: &str, most: usize) -> String {
    let mut end = text.len().min(most);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn with_state(change: impl FnOnce(&mut State)) {
    let _ = CONTEXT.try_with(|context| change(&mut context.state()));
}

/// Records who calls: the user (for a job's token, its submitter), the API token's id, the job.
pub fn note_principal(user: &str, token_id: Option<&str>, job: Option<&str>) {
    with_state(|state| {
        let draft = Arc::make_mut(&mut state.draft);
        draft.user = Some(user.to_owned());
        draft.token_id = token_id.map(str::to_owned);
        draft.job = job.map(str::to_owned);
    });
}

/// Records an action the call is authorized for. The first state-changing action names the
/// call; until there is one, the latest action does.
pub fn note_action(workspace: Option<&str>, action: &str, writes: bool) {
    with_state(|state| {
        if state.writes && !writes {
            return;
        }
        if state.writes && !state.draft.action.is_empty() {
            return;
        }
        let draft = Arc::make_mut(&mut state.draft);
        draft.workspace = workspace.map(str::to_owned);
        draft.action = action.to_owned();
        state.writes = writes;
    });
}

/// Records that this call changes state although its method is GET: the single sign-on
/// callback, where the provider sends the browser back with a GET that opens a session.
pub fn note_changing_get() {
    with_state(|state| state.changing_method = true);
}

/// Records an action refused with `PERMISSION_DENIED`: a 403 answer's record names it.
pub fn note_denied(workspace: Option<&str>, action: &str) {
    with_state(|state| state.denied = Some((workspace.map(str::to_owned), action.to_owned())));
}

/// Records a refused sign-in (a wrong password, an unknown name, too many attempts), with the
/// error's code and the name that was tried.
pub fn note_refused(user: &str, code: &str) {
    with_state(|state| {
        Arc::make_mut(&mut state.draft).user = Some(clip(user, 128));
        state.refused = Some(code.to_owned());
    });
}

/// Records that the call failed with `code` where its answer does not say so by its status (a
/// studio form answers a failure with a redirect to a page that shows it).
pub fn note_failure(code: &str) {
    with_state(|state| state.failure = Some(code.to_owned()));
}

/// Adds what the call acts on where its path does not say (an MLflow run, say); the first
/// object named stays.
pub fn note_target(detail: &str) {
    with_state(|state| {
        if !state.detailed {
            state.detailed = true;
            let target = &mut Arc::make_mut(&mut state.draft).target;
            target.push(' ');
            target.push_str(&clip(detail, 256));
        }
    });
}

/// Takes the current request's record for a transaction that is about to commit a change,
/// when the request is a state-changing call whose record is not yet written. On a failed
/// commit, [`give_back`] it.
pub(crate) fn take_for_commit() -> Option<(Arc<AuditContext>, Arc<AuditRecord>)> {
    CONTEXT
        .try_with(|context| {
            let mut state = context.state();
            if !state.writes || !state.changing_method || state.written {
                return None;
            }
            state.written = true;
            Some((context.clone(), state.draft.clone()))
        })
        .ok()
        .flatten()
}

/// Undoes [`take_for_commit`] after the transaction rolled back.
pub(crate) fn give_back(context: &AuditContext) {
    context.state().written = false;
}

/// The audit log's columns, as records are written.
pub(crate) const COLUMNS: &str =
    "at, user_name, token_id, job, address, workspace, action, target, outcome, error, request_id";
pub(crate) const COLUMN_COUNT: usize = 11;

/// The statement that appends `records` and its binds; SQLite's placeholders are anonymous, so
/// on SQLite it may follow another statement in one query string (see the batch writer).
pub(crate) fn append_statement<'a>(dialect: Dialect, records: &[&'a AuditRecord]) -> (String, Vec<Bind<'a>>) {
    let sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES {}", values_rows(dialect, records.len(), COLUMN_COUNT));
    let binds = records.iter().flat_map(|record| record_binds(record)).collect();
    (sql, binds)
}

/// A record's values, in the order of [`COLUMNS`].
pub(crate) fn record_binds<'a>(record: &'a AuditRecord) -> [Bind<'a>; COLUMN_COUNT] {
    // What is absent goes in as NULL, which binds without copying anything (rows written before
    // hold "" instead: no column holds a meaningful "", so both read as `None`).
    let text = |value: &'a Option<String>| value.as_deref().map_or(Bind::Null, Bind::text);
    [
        Bind::Int(record.at),
        text(&record.user),
        text(&record.token_id),
        text(&record.job),
        text(&record.address),
        text(&record.workspace),
        Bind::text(record.action.as_str()),
        Bind::text(record.target.as_str()),
        Bind::text(record.outcome.as_str()),
        text(&record.error),
        Bind::text(record.request_id.as_str()),
    ]
}

/// Appends `records` through `connection` (a transaction's, where a change goes with them).
pub(crate) async fn append(
    connection: &mut sqlx::AnyConnection,
    dialect: Dialect,
    records: &[&AuditRecord],
) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let (sql, binds) = append_statement(dialect, records);
    bound(sql, &binds).execute(&mut *connection).await.map_err(db_error)?;
    Ok(())
}

fn row_to_record(row: &AnyRow) -> Result<AuditRecord> {
    let optional = |column: &str| -> Result<Option<String>> {
        let value: Option<String> = row.try_get(column).map_err(db_error)?;
        Ok(value.filter(|value| !value.is_empty()))
    };
    let outcome: String = row.try_get("outcome").map_err(db_error)?;
    Ok(AuditRecord {
        id: row.try_get("id").map_err(db_error)?,
        at: row.try_get("at").map_err(db_error)?,
        user: optional("user_name")?,
        token_id: optional("token_id")?,
        job: optional("job")?,
        address: optional("address")?,
        workspace: optional("workspace")?,
        action: row.try_get("action").map_err(db_error)?,
        target: row.try_get("target").map_err(db_error)?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| Error::internal(format!("stored audit outcome '{outcome}' is invalid")))?,
        error: optional("error")?,
        request_id: row.try_get("request_id").map_err(db_error)?,
    })
}

/// An action pattern with `*` wildcards as a `LIKE` pattern (lower case, escaped with `\`).
fn like_pattern(pattern: &str) -> String {
    let mut like = String::with_capacity(pattern.len() + 4);
    for c in pattern.to_lowercase().chars() {
        match c {
            '*' => like.push('%'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(c);
            }
            c => like.push(c),
        }
    }
    like
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        let _turn = self.turn().await;
        let mut connection = self.write.acquire().await.map_err(db_error)?;
        append(&mut connection, self.dialect(), &[record]).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let dialect = self.dialect();
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mut condition = |sql: &dyn Fn(&str) -> String, bind: Bind<'static>| {
            binds.push(bind);
            conditions.push(sql(&placeholder(dialect, binds.len())));
        };
        if let Some(workspace) = &query.workspace {
            condition(&|p| format!("workspace = {p}"), Bind::text(workspace.clone()));
        }
        if let Some(since) = query.since {
            condition(&|p| format!("at >= {p}"), Bind::Int(since));
        }
        if let Some(until) = query.until {
            condition(&|p| format!("at < {p}"), Bind::Int(until));
        }
        if let Some(user) = &query.user {
            condition(&|p| format!("user_name = {p}"), Bind::text(user.clone()));
        }
        if let Some(action) = &query.action {
            condition(&|p| format!("LOWER(action) LIKE {p} ESCAPE '\\'"), Bind::text(like_pattern(action)));
        }
        if let Some(outcome) = query.outcome {
            condition(&|p| format!("outcome = {p}"), Bind::text(outcome.as_str()));
        }
        if let Some(before) = query.before_id {
            condition(&|p| format!("id < {p}"), Bind::Int(before));
        }
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        binds.push(Bind::Int(query.limit.clamp(1, 1_000)));
        let sql = format!(
            "SELECT id, {COLUMNS} FROM audit_log {filter} ORDER BY id DESC LIMIT {}",
            placeholder(dialect, binds.len())
        );
        let rows = bound(sql, &binds).fetch_all(&self.read).await.map_err(db_error)?;
        rows.iter().map(row_to_record).collect()
    }

    async fn purge_audit(&self, before: Millis) -> Result<u64> {
        let _turn = self.turn().await;
        let result = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(before)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_patterns_become_escaped_like_patterns() {
        assert_eq!(like_pattern("*/Delete"), "%/delete");
        assert_eq!(like_pattern("a_b%c\\"), "a\\_b\\%c\\\\");
    }

    #[tokio::test]
    async fn a_record_is_taken_once_and_only_for_a_change() {
        let context = AuditContext::new("r1".into(), None, "POST", "/x", 1);
        context
            .within(async {
                note_action(Some("w"), "read-thing", false);
                assert!(take_for_commit().is_none(), "a read is not recorded");
                note_action(Some("w"), "write-thing", true);
                note_action(Some("w"), "read-thing", false);
                let (taken, record) = take_for_commit().expect("a write is recorded");
                assert_eq!(record.action, "write-thing");
                assert!(take_for_commit().is_none(), "once per request");
                give_back(&taken);
                assert!(take_for_commit().is_some(), "again after a rollback");
            })
            .await;
        assert!(context.finish(200, None, 2).is_none(), "recorded by its transaction");
        let failure = context.finish(400, Some("INVALID_PARAMETER_VALUE"), 2).expect("the failure after the change");
        assert_eq!(failure.outcome, Outcome::Failed);
        assert!(take_for_commit().is_none(), "no context outside a request");
    }

    #[test]
    fn denials_name_the_refused_action() {
        let context = AuditContext::new("r2".into(), Some("10.0.0.1".into()), "GET", "/y", 1);
        let record = context.finish(401, None, 3).expect("a 401 is recorded");
        assert_eq!((record.outcome, record.error.as_deref()), (Outcome::Denied, Some("UNAUTHENTICATED")));
        CONTEXT.sync_scope(context.clone(), || note_denied(Some("w"), "secret/read"));
        let record = context.finish(403, Some("PERMISSION_DENIED"), 3).expect("a 403 is recorded");
        assert_eq!((record.workspace.as_deref(), record.action.as_str()), (Some("w"), "secret/read"));
        assert!(context.finish(404, None, 3).is_none(), "a failed read is not recorded");
    }

    #[tokio::test]
    async fn a_get_records_no_change_and_a_refused_sign_in_is_a_denial() {
        let page = AuditContext::new("r3".into(), None, "GET", "/ws/w/endpoints", 1);
        page.within(async {
            note_action(Some("w"), "endpoints/write", true);
            assert!(take_for_commit().is_none(), "a page that checks a write permission changes nothing");
        })
        .await;
        assert!(page.finish(200, None, 2).is_none());
        let sign_in = AuditContext::new("r4".into(), None, "POST", "/signin", 1);
        sign_in.within(async { note_refused("mallory", "UNAUTHENTICATED") }).await;
        let record = sign_in.finish(200, None, 2).expect("the form's answer is a page, the record a denial");
        assert_eq!((record.action.as_str(), record.user.as_deref()), (SIGN_IN, Some("mallory")));
        assert_eq!(record.outcome, Outcome::Denied);
    }
}
