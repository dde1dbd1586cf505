//! The audit log through the HTTP layer: what a call records, what it never records, and who
//! may read it.

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn records(server: &TestServer, query: &str) -> Vec<Value> {
    let page = server.get(&format!("/api/v1/audit?{query}"), &server.admin_token).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    page.body["records"].as_array().unwrap().clone()
}

async fn sign_in_form(server: &TestServer, password: &str) -> StatusCode {
    let form = format!("user=admin&password={password}&next=%2F");
    let request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    server.app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn changes_denials_and_sign_ins_are_recorded_and_reads_are_not() {
    let server = server().await;
    let bob = server.user_with_role("bob", "Reader").await;
    let before = records(&server, "limit=1000").await.len();

    // A change: who, with which token, the action, the answer's request id.
    let created = server.post("/api/v1/users", &server.admin_token, json!({ "name": "carol" })).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let request_id = created.headers["x-request-id"].to_str().unwrap().to_owned();
    let latest = &records(&server, "limit=1").await[0];
    assert_eq!(latest["request_id"], request_id.as_str());
    assert_eq!(latest["user"], "admin");
    assert!(latest["token_id"].as_str().is_some_and(|id| !id.is_empty()), "{latest}");
    assert_eq!(latest["action"], "Atelier/server/administer/action");
    assert_eq!(latest["target"], "POST /api/v1/users");
    assert_eq!(latest["outcome"], "succeeded");

    // A read records nothing.
    let count = records(&server, "limit=1000").await.len();
    assert_eq!(server.get("/api/v1/workspaces/default/experiments", &bob).await.status, StatusCode::OK);
    assert_eq!(records(&server, "limit=1000").await.len(), count, "a read is not recorded");

    // A denial names the refused action and its workspace.
    let denied = server.post("/api/v1/workspaces/default/experiments", &bob, json!({ "name": "nope" })).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let latest = &records(&server, "limit=1").await[0];
    assert_eq!((latest["user"].as_str(), latest["outcome"].as_str()), (Some("bob"), Some("denied")));
    assert_eq!(latest["action"], "Microsoft.MachineLearningServices/workspaces/experiments/write");
    assert_eq!((latest["workspace"].as_str(), latest["error"].as_str()), (Some("default"), Some("PERMISSION_DENIED")));

    // No credentials at all.
    let anonymous = server.request(Method::DELETE, "/api/v1/workspaces/default", None, Body::empty()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let latest = &records(&server, "limit=1").await[0];
    assert_eq!((latest["user"].as_str(), latest["error"].as_str()), (None, Some("UNAUTHENTICATED")));

    // A failed change: recorded as failed, with the error's code.
    let again = server.post("/api/v1/users", &server.admin_token, json!({ "name": "carol" })).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let latest = &records(&server, "limit=1").await[0];
    assert_eq!(
        (latest["outcome"].as_str(), latest["error"].as_str()),
        (Some("failed"), Some("RESOURCE_ALREADY_EXISTS"))
    );

    // Tracking: one record per request however many metrics, naming the run.
    let run = server
        .post("/api/2.0/mlflow/runs/create", &server.admin_token, json!({ "experiment_id": "0" }))
        .await
        .body["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let metrics: Vec<Value> =
        (0..100).map(|step| json!({ "key": "loss", "value": 1.0, "timestamp": 1, "step": step })).collect();
    let logged = server
        .post("/api/2.0/mlflow/runs/log-batch", &server.admin_token, json!({ "run_id": run, "metrics": metrics }))
        .await;
    assert_eq!(logged.status, StatusCode::OK, "{:?}", logged.body);
    let latest = &records(&server, "limit=1").await[0];
    assert_eq!(latest["target"], format!("POST /api/2.0/mlflow/runs/log-batch run {run}").as_str());
    let tracked = records(&server, "limit=1000&action=*/experiments/write&outcome=succeeded").await;
    assert_eq!(tracked.len(), 2, "the run's creation and the one batch: {tracked:?}");

    // Sign-ins, refused and accepted.
    assert_eq!(sign_in_form(&server, "wrong").await, StatusCode::UNAUTHORIZED);
    let latest = &records(&server, "limit=1").await[0];
    assert_eq!(
        (latest["action"].as_str(), latest["user"].as_str(), latest["outcome"].as_str()),
        (Some("Atelier/users/signIn/action"), Some("admin"), Some("denied"))
    );
    let password = form_urlencoded::byte_serialize(server.admin_password.as_bytes()).collect::<String>();
    assert_eq!(sign_in_form(&server, &password).await, StatusCode::SEE_OTHER);
    let latest = &records(&server, "limit=1").await[0];
    assert_eq!(
        (latest["action"].as_str(), latest["outcome"].as_str()),
        (Some("Atelier/users/signIn/action"), Some("succeeded"))
    );

    // Never a secret: no password, no token appears in any record.
    let all = records(&server, "limit=1000").await;
    assert!(all.len() > before);
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&server.admin_password) && !text.contains(&server.admin_token) && !text.contains(&bob));
}

#[tokio::test]
async fn owners_read_their_workspace_and_administrators_everything() {
    let server = server().await;
    let owner = server.user_with_role("olga", "Owner").await;
    let contributor = server.user_with_role("cora", "Contributor").await;
    server.post("/api/v1/workspaces", &server.admin_token, json!({ "name": "elsewhere" })).await;
    server.post("/api/v1/workspaces/default/experiments", &contributor, json!({ "name": "mine" })).await;

    let page = server.get("/api/v1/workspaces/default/audit?user=cora", &owner).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let records = page.body["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["workspace"], "default");
    assert_eq!(server.get("/api/v1/workspaces/default/audit", &contributor).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.get("/api/v1/workspaces/elsewhere/audit", &owner).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.get("/api/v1/audit", &owner).await.status, StatusCode::FORBIDDEN);

    // Pages follow one another without overlap.
    let first = server.get("/api/v1/audit?limit=2", &server.admin_token).await;
    let token = first.body["next_page_token"].as_str().unwrap().to_owned();
    let second = server.get(&format!("/api/v1/audit?limit=2&page_token={token}"), &server.admin_token).await;
    let id = |page: &Response, index: usize| page.body["records"][index]["id"].as_i64().unwrap();
    assert!(id(&first, 1) > id(&second, 0));

    let bad = server.get("/api/v1/audit?since=yesterday", &server.admin_token).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["message"].as_str().unwrap().contains("'since'"), "{:?}", bad.body);
    let bad = server.get("/api/v1/audit?limit=0", &server.admin_token).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_server_without_auditing_records_nothing() {
    let server = server_with(|service| service.with_audit(false)).await;
    server.post("/api/v1/users", &server.admin_token, json!({ "name": "dan" })).await;
    let page = server.get("/api/v1/audit", &server.admin_token).await;
    assert_eq!(page.body["records"].as_array().unwrap().len(), 0);
}
