//! The conformance suite, continued: the audit log, expanded for SQLite and PostgreSQL by
//! `conformance!`. A record commits with the change it describes, or not at all.

use crate::common::*;
use atelier_core::audit::{AuditQuery, Outcome};
use atelier_core::model::*;
use atelier_core::names::UserName;
use atelier_store::audit::{AuditContext, note_action, note_principal, note_target};
use atelier_store::{AccessStore, AuditStore, Batch, SqlStore, TrackingStore};

conformance!(audit_records_commit_with_their_change, audit_log_filters_pages_and_ages);

fn user(name: &str, at: i64) -> User {
    User { name: UserName::parse(name).unwrap(), is_admin: false, created_at: at, disabled_at: None }
}

fn everything() -> AuditQuery {
    AuditQuery { limit: 100, ..AuditQuery::default() }
}

async fn audit_records_commit_with_their_change(store: &SqlStore) {
    let workspace = with_workspace(store, "audited").await;
    assert!(store.list_audit(&everything()).await.unwrap().is_empty(), "no request, no record");

    // A change made for a request commits the request's record with it.
    let context = AuditContext::new("req-1".into(), Some("10.1.2.3".into()), "POST", "/api/v1/users", 50);
    context
        .within(async {
            note_principal("admin", Some("tok1"), None);
            note_action(None, "Atelier/server/administer/action", true);
            store.create_user(&user("dora", 1), None).await.unwrap();
        })
        .await;
    assert!(context.finish(200, None, 51).is_none(), "the transaction wrote it");
    let records = store.list_audit(&everything()).await.unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        (record.user.as_deref(), record.token_id.as_deref(), record.address.as_deref(), record.request_id.as_str()),
        (Some("admin"), Some("tok1"), Some("10.1.2.3"), "req-1")
    );
    assert_eq!((record.outcome, record.target.as_str(), record.at), (Outcome::Succeeded, "POST /api/v1/users", 50));

    // A change that rolls back takes its record with it: the middleware's record says it failed.
    let context = AuditContext::new("req-2".into(), None, "POST", "/api/v1/users", 60);
    context
        .within(async {
            note_principal("admin", None, None);
            note_action(None, "Atelier/server/administer/action", true);
            store.create_user(&user("dora", 2), None).await.unwrap_err();
        })
        .await;
    let failure = context.finish(409, Some("RESOURCE_ALREADY_EXISTS"), 61).expect("recorded after the answer");
    assert_eq!(store.list_audit(&everything()).await.unwrap().len(), 1, "the rolled-back insert left no record");
    store.append_audit(&failure).await.unwrap();
    let records = store.list_audit(&everything()).await.unwrap();
    assert_eq!((records[0].outcome, records[0].error.as_deref()), (Outcome::Failed, Some("RESOURCE_ALREADY_EXISTS")));

    // A tracking write records once per request, in the batch writer's transaction.
    let info = run_info(&workspace, 0, 9, "r", 100);
    store.create_run(&info, &[]).await.unwrap();
    let context = AuditContext::new("req-3".into(), None, "POST", "/api/2.0/mlflow/runs/log-batch", 70);
    context
        .within(async {
            note_principal("alice", None, None);
            note_action(Some("audited"), "Microsoft.MachineLearningServices/workspaces/experiments/write", true);
            note_target(&format!("run {}", info.run_id));
            let batch =
                Batch { metrics: (0..50).map(|step| metric("loss", 1.0, step, 1)).collect(), ..Batch::default() };
            store.log_batch(&workspace, &info.run_id, batch).await.unwrap();
        })
        .await;
    let records = store.list_audit(&everything()).await.unwrap();
    assert_eq!(records.len(), 3, "one record for 50 metrics");
    assert_eq!(records[0].workspace.as_deref(), Some("audited"));
    assert!(records[0].target.ends_with(&format!("run {}", info.run_id)), "{}", records[0].target);
    // Again, to the series now known (on PostgreSQL, the statement that checks and writes at
    // once), with a tag: one more record, which goes with the points.
    let context = AuditContext::new("req-4".into(), None, "POST", "/api/2.0/mlflow/runs/log-batch", 80);
    context
        .within(async {
            note_principal("alice", None, None);
            note_action(Some("audited"), "Microsoft.MachineLearningServices/workspaces/experiments/write", true);
            note_target(&format!("run {}", info.run_id));
            let batch = Batch {
                metrics: (50..60).map(|step| metric("loss", 1.0, step, 1)).collect(),
                tags: vec![Tag::new("t", "v")],
                ..Batch::default()
            };
            store.log_batch(&workspace, &info.run_id, batch).await.unwrap();
        })
        .await;
    let records = store.list_audit(&everything()).await.unwrap();
    assert_eq!(records.len(), 4, "one record for the second request");
    assert_eq!((records[0].request_id.as_str(), records[0].at), ("req-4", 80));
    assert_eq!(store.get_metric_history(&info.run_id, "loss", None, 0).await.unwrap().len(), 60);

    // A write outside any request (the scheduler's, say) records nothing.
    store.create_user(&user("erin", 3), None).await.unwrap();
    assert_eq!(store.list_audit(&everything()).await.unwrap().len(), 4);
}

/// The database itself refuses to change a record, whoever asks.
async fn the_database_refuses_to_change_a_record(test: Option<TestStore>) {
    let Some(test) = test else { return };
    let context = AuditContext::new("r".into(), None, "GET", "/", 1);
    store_denial(&test, &context).await;
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let error = sqlx::query("UPDATE audit_log SET outcome = 'succeeded'").execute(&mut connection).await.unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
}

async fn store_denial(store: &SqlStore, context: &AuditContext) {
    store.append_audit(&context.finish(401, None, 1).unwrap()).await.unwrap();
}

#[tokio::test]
async fn sqlite_refuses_to_change_a_record() {
    the_database_refuses_to_change_a_record(sqlite().await).await;
}

#[tokio::test]
async fn postgres_refuses_to_change_a_record() {
    the_database_refuses_to_change_a_record(postgres().await).await;
}

async fn audit_log_filters_pages_and_ages(store: &SqlStore) {
    for (index, (workspace, user, action, outcome)) in [
        (Some("one"), "alice", "Microsoft.MachineLearningServices/workspaces/models/delete", Outcome::Succeeded),
        (Some("one"), "bob", "Microsoft.MachineLearningServices/workspaces/models/write", Outcome::Denied),
        (Some("two"), "alice", "Microsoft.MachineLearningServices/workspaces/data/write", Outcome::Succeeded),
        (None, "bob", atelier_core::audit::SIGN_IN, Outcome::Failed),
        (Some("one"), "alice", "Microsoft.MachineLearningServices/workspaces/jobs/delete", Outcome::Succeeded),
    ]
    .into_iter()
    .enumerate()
    {
        let context = AuditContext::new(format!("r{index}"), None, "POST", "/x_%", 1_000 * index as i64);
        let mut record = context.finish(403, None, 1_000 * index as i64).unwrap();
        record.workspace = workspace.map(str::to_owned);
        record.user = Some(user.to_owned());
        record.action = action.to_owned();
        record.outcome = outcome;
        store.append_audit(&record).await.unwrap();
    }
    let ids = |records: Vec<atelier_core::audit::AuditRecord>| {
        records.into_iter().map(|record| record.request_id).collect::<Vec<_>>()
    };
    let query = |change: &dyn Fn(&mut AuditQuery)| {
        let mut query = everything();
        change(&mut query);
        query
    };
    assert_eq!(ids(store.list_audit(&everything()).await.unwrap()), ["r4", "r3", "r2", "r1", "r0"], "newest first");
    let in_one = query(&|q| q.workspace = Some("one".into()));
    assert_eq!(ids(store.list_audit(&in_one).await.unwrap()), ["r4", "r1", "r0"]);
    let deletes = query(&|q| q.action = Some("*/DELETE".into()));
    assert_eq!(ids(store.list_audit(&deletes).await.unwrap()), ["r4", "r0"], "a pattern without regard to case");
    let literal = query(&|q| q.action = Some("%".into()));
    assert!(store.list_audit(&literal).await.unwrap().is_empty(), "'%' is no wildcard");
    let bob = query(&|q| q.user = Some("bob".into()));
    assert_eq!(ids(store.list_audit(&bob).await.unwrap()), ["r3", "r1"]);
    let denied = query(&|q| q.outcome = Some(Outcome::Denied));
    assert_eq!(ids(store.list_audit(&denied).await.unwrap()), ["r1"]);
    let window = query(&|q| {
        q.since = Some(1_000);
        q.until = Some(3_000);
    });
    assert_eq!(ids(store.list_audit(&window).await.unwrap()), ["r2", "r1"]);
    let first_page = query(&|q| q.limit = 2);
    let page = store.list_audit(&first_page).await.unwrap();
    let next = query(&|q| {
        q.limit = 2;
        q.before_id = Some(page[1].id);
    });
    assert_eq!(ids(store.list_audit(&next).await.unwrap()), ["r2", "r1"]);
    assert_eq!(store.purge_audit(2_000).await.unwrap(), 2, "records older than the cut go");
    assert_eq!(ids(store.list_audit(&everything()).await.unwrap()), ["r4", "r3", "r2"]);
}
