//! Who may manage accounts and read `/metrics`: a job's token manages nothing of accounts,
//! tokens, roles or workspaces; `/metrics` shows each caller the endpoints they may read; a
//! token scoped to metrics reads `/metrics` and nothing else.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_service::ServingPort;
use axum::http::StatusCode;
use serde_json::json;
use std::sync::Arc;

const MLFLOW: &str = "/api/2.0/mlflow";

fn assert_denied(response: &Response, what: &str) {
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{what}: {:?}", response.body);
    assert_eq!(response.body["error_code"], "PERMISSION_DENIED", "{what}");
}

/// The code inside a job holds its token (`MLFLOW_TRACKING_TOKEN`); with it, it must not mint a
/// token for its submitter (which would outlive the job), nor touch any other account.
#[tokio::test]
async fn job_token_cannot_manage_accounts() {
    let server = server().await;
    let (job, token) = server.running_job().await;
    let admin = server.admin_token.clone();
    let created = server.post("/api/v1/workspaces", &admin, json!({ "name": "other" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    server.post("/api/v1/users", &admin, json!({ "name": "alice" })).await;
    let admin_tokens = server.get("/api/v1/tokens", &admin).await;
    let admin_token_id = admin_tokens.body[0]["id"].as_str().unwrap().to_owned();

    // What a job does stays allowed: MLflow's client on its own run.
    let search = server.post(&format!("{MLFLOW}/experiments/search"), &token, json!({})).await;
    assert_eq!(search.status, StatusCode::OK, "{:?}", search.body);
    let logged = server
        .post(
            &format!("{MLFLOW}/runs/log-metric"),
            &token,
            json!({ "run_id": job, "key": "loss", "value": 0.5, "timestamp": 1 }),
        )
        .await;
    assert_eq!(logged.status, StatusCode::OK, "{:?}", logged.body);

    let attempts = [
        ("create a token", server.post("/api/v1/tokens", &token, json!({ "description": "mine now" })).await),
        ("create a token for the submitter", server.post("/api/v1/tokens", &token, json!({ "user": "admin" })).await),
        ("create a metrics token", server.post("/api/v1/tokens", &token, json!({ "scope": "metrics" })).await),
        ("list tokens", server.get("/api/v1/tokens", &token).await),
        ("list the submitter's tokens", server.get("/api/v1/tokens?user=admin", &token).await),
        ("revoke a token", server.delete(&format!("/api/v1/tokens/{admin_token_id}"), &token).await),
        ("probe for a token", server.delete("/api/v1/tokens/000000000000", &token).await),
        ("list users", server.get("/api/v1/users", &token).await),
        ("create a user", server.post("/api/v1/users", &token, json!({ "name": "mallory" })).await),
        ("list roles", server.get("/api/v1/workspaces/default/roles", &token).await),
        (
            "assign a role",
            server.put("/api/v1/workspaces/default/roles", &token, json!({ "user": "alice", "role": "Owner" })).await,
        ),
        ("remove a role", server.delete("/api/v1/workspaces/default/roles/admin", &token).await),
        ("create a workspace", server.post("/api/v1/workspaces", &token, json!({ "name": "mine" })).await),
        ("list workspaces", server.get("/api/v1/workspaces", &token).await),
        ("read its workspace", server.get("/api/v1/workspaces/default", &token).await),
        (
            "update its workspace",
            server.patch("/api/v1/workspaces/default", &token, json!({ "description": "x" })).await,
        ),
        ("delete a workspace", server.delete("/api/v1/workspaces/other", &token).await),
    ];
    for (what, response) in &attempts {
        assert_denied(response, what);
        let message = response.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("the token of job '{job}'")), "{what}: {message}");
        assert!(message.contains("a job's powers end with the job"), "{what}: {message}");
    }
    assert_denied(&server.get("/metrics", &token).await, "read metrics");

    // Passwords and sessions have no route a job could reach, but the operation refuses too.
    let principal = server.service.authenticate_token(&token).await.unwrap();
    let error = server.service.set_password(&principal, "admin", "a new password").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::PermissionDenied);

    // Nothing changed.
    let after = server.get("/api/v1/tokens", &admin).await;
    assert_eq!(after.body.as_array().unwrap().len(), 1, "no token was made or revoked: {:?}", after.body);
    let workspaces = server.get("/api/v1/workspaces", &admin).await;
    assert_eq!(workspaces.body.as_array().unwrap().len(), 2, "{:?}", workspaces.body);
    assert_eq!(server.get("/api/v1/whoami", &admin).await.status, StatusCode::OK, "the admin's token still works");
}

/// Users manage their own tokens; only administrators manage anyone else's.
#[tokio::test]
async fn users_manage_their_own_tokens_and_only_admins_others() {
    let server = server().await;
    let reader = server.user_with_role("reader", "Reader").await;
    let own = server.post("/api/v1/tokens", &reader, json!({ "description": "laptop" })).await;
    assert_eq!(own.status, StatusCode::CREATED, "{:?}", own.body);
    assert_eq!(own.body["user"], "reader");
    let listed = server.get("/api/v1/tokens", &reader).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.body.as_array().unwrap().iter().all(|token| token["user"] == "reader"), "{:?}", listed.body);
    let revoked = server.delete(&format!("/api/v1/tokens/{}", own.body["id"].as_str().unwrap()), &reader).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{:?}", revoked.body);
    assert_denied(&server.post("/api/v1/tokens", &reader, json!({ "user": "admin" })).await, "a token for the admin");
    assert_denied(&server.get("/api/v1/tokens?user=admin", &reader).await, "the admin's tokens");
    let everyone = server.get("/api/v1/tokens", &server.admin_token).await;
    assert_eq!(everyone.body.as_array().unwrap().len(), 2, "an admin lists everyone's: {:?}", everyone.body);
    let for_reader = server.post("/api/v1/tokens", &server.admin_token, json!({ "user": "reader" })).await;
    assert_eq!(for_reader.status, StatusCode::CREATED);
    let bad_scope = server.post("/api/v1/tokens", &reader, json!({ "scope": "everything" })).await;
    assert_eq!(bad_scope.status, StatusCode::BAD_REQUEST, "{:?}", bad_scope.body);
}

/// The endpoints the tests below create; the real serving layer keeps counters for each.
const SERVED: [&str; 2] = ["ep-a", "ep-b"];

fn shown(response: &Response) -> Vec<&'static str> {
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    let text = String::from_utf8_lossy(&response.bytes).into_owned();
    SERVED.into_iter().filter(|name| text.contains(&format!("endpoint=\"{name}\""))).collect()
}

/// `/metrics`: an administrator sees every endpoint; anyone else those of the workspaces they
/// may read; a job's token nothing. A token scoped to metrics sees what its user sees and is
/// refused everywhere else.
#[tokio::test]
async fn metrics_are_scoped_and_a_metrics_token_does_nothing_else() {
    let server = server_with(|service| service.with_master_key([7; 32])).await;
    let folder = tempfile::tempdir().unwrap();
    let serving = atelier_serving::Serving::new(server.service.clone(), folder.path().join("serving")).unwrap();
    let port: Arc<dyn ServingPort> = serving.clone();
    server.service.attach_serving(port);
    let admin = server.admin_token.clone();
    for (workspace, endpoint) in [("team-a", "ep-a"), ("team-b", "ep-b")] {
        let created = server.post("/api/v1/workspaces", &admin, json!({ "name": workspace })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let created = server
            .post(
                &format!("/api/v1/workspaces/{workspace}/online-endpoints"),
                &admin,
                json!({ "yaml": format!("name: {endpoint}\nauth_mode: key\n") }),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    }
    server.post("/api/v1/users", &admin, json!({ "name": "reader" })).await;
    let assigned =
        server.put("/api/v1/workspaces/team-a/roles", &admin, json!({ "user": "reader", "role": "Reader" })).await;
    assert_eq!(assigned.status, StatusCode::NO_CONTENT, "{:?}", assigned.body);
    let reader = server.post("/api/v1/tokens", &admin, json!({ "user": "reader" })).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    server.post("/api/v1/users", &admin, json!({ "name": "outsider" })).await;
    let outsider = server.post("/api/v1/tokens", &admin, json!({ "user": "outsider" })).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(shown(&server.get("/metrics", &admin).await), SERVED, "an administrator sees every endpoint");
    assert_eq!(shown(&server.get("/metrics", &reader).await), ["ep-a"], "a Reader of team-a sees team-a's");
    assert_eq!(shown(&server.get("/metrics", &outsider).await), Vec::<&str>::new(), "no role, no endpoints");
    let (_, job_token) = server.running_job().await;
    assert_denied(&server.get("/metrics", &job_token).await, "a job's token reads no metrics");

    // The workspace listing is decided the same way.
    let listed = server.get("/api/v1/workspaces", &reader).await;
    let names: Vec<&str> = listed.body.as_array().unwrap().iter().map(|ws| ws["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["team-a"]);

    // A token for Prometheus.
    let scoped =
        server.post("/api/v1/tokens", &reader, json!({ "scope": "metrics", "description": "prometheus" })).await;
    assert_eq!(scoped.status, StatusCode::CREATED, "{:?}", scoped.body);
    let metrics_token = scoped.body["token"].as_str().unwrap().to_owned();
    let listed = server.get("/api/v1/tokens", &reader).await;
    assert!(listed.body.as_array().unwrap().iter().any(|token| token["scope"] == "metrics"), "{:?}", listed.body);
    assert_eq!(shown(&server.get("/metrics", &metrics_token).await), ["ep-a"], "it sees what its user sees");
    for (what, response) in [
        ("list workspaces", server.get("/api/v1/workspaces", &metrics_token).await),
        ("read a workspace", server.get("/api/v1/workspaces/team-a", &metrics_token).await),
        ("list endpoints", server.get("/api/v1/workspaces/team-a/online-endpoints", &metrics_token).await),
        ("search experiments", server.post(&format!("{MLFLOW}/experiments/search"), &metrics_token, json!({})).await),
        ("create a token", server.post("/api/v1/tokens", &metrics_token, json!({})).await),
        ("list tokens", server.get("/api/v1/tokens", &metrics_token).await),
    ] {
        assert_denied(&response, what);
        let message = response.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("scoped to metrics"), "{what}: {message}");
    }
    let admin_scoped = server.post("/api/v1/tokens", &admin, json!({ "scope": "metrics" })).await;
    let admin_metrics = admin_scoped.body["token"].as_str().unwrap();
    assert_eq!(shown(&server.get("/metrics", admin_metrics).await), SERVED, "an administrator's sees every endpoint");
    assert_denied(&server.get("/api/v1/users", admin_metrics).await, "an administrator's metrics token lists no users");

    // A deployment's logs are read through the port, once the service has authorized the read.
    let logs = server.get("/api/v1/workspaces/team-a/online-endpoints/ep-a/deployments/blue/logs", &outsider).await;
    assert_denied(&logs, "an outsider reads no logs");
    let logs = server.get("/api/v1/workspaces/team-a/online-endpoints/ep-a/deployments/blue/logs", &reader).await;
    assert_eq!(logs.status, StatusCode::NOT_FOUND, "a deployment that does not exist: {:?}", logs.body);
}

/// An administrator disables a user: their tokens, their password, their jobs' tokens and
/// their studio sessions are refused at once, and all work again once they are enabled. No one
/// disables themselves, and only administrators disable anyone.
#[tokio::test]
async fn disabled_users_are_refused_everywhere_until_enabled() {
    // Users' jobs run unconfined here: confinement is another test's subject.
    let server = server_with(|service| service.with_confinement(None, true)).await;
    let admin = server.admin_token.clone();
    let dora = server.user_with_role("dora", "Contributor").await;
    let basic = "Basic ZG9yYTpwYXNzd29yZDEyMw=="; // dora:password123
    let submitted = server
        .post("/api/v1/workspaces/default/jobs", &dora, json!({ "yaml": "type: command\ncommand: echo hi\n" }))
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{:?}", submitted.body);
    let job = submitted.body["name"].as_str().unwrap().to_owned();
    server.service.schedule_once().await.unwrap();
    let job_token = server.launched.token_of(&job).expect("the scheduler launched her job");
    let session = server.service.sign_in("dora", "password123", None).await.unwrap();
    let works =
        |response: &Response, what: &str| assert_eq!(response.status, StatusCode::OK, "{what}: {:?}", response.body);
    works(&server.get("/api/v1/whoami", &dora).await, "her token");
    works(
        &server.request(axum::http::Method::GET, "/api/v1/whoami", Some(basic), Default::default()).await,
        "her password",
    );
    works(&server.post(&format!("{MLFLOW}/experiments/search"), &job_token, json!({})).await, "her job's token");

    let reader = server.user_with_role("rita", "Reader").await;
    assert_denied(&server.patch("/api/v1/users/dora", &reader, json!({ "disabled": true })).await, "a reader disables");
    let own = server.patch("/api/v1/users/admin", &admin, json!({ "disabled": true })).await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST, "{:?}", own.body);
    assert!(own.body["message"].as_str().unwrap().contains("cannot disable yourself"), "{:?}", own.body);
    let missing = server.patch("/api/v1/users/nobody", &admin, json!({ "disabled": true })).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);

    let disabled = server.patch("/api/v1/users/dora", &admin, json!({ "disabled": true })).await;
    assert_eq!(disabled.status, StatusCode::OK, "{:?}", disabled.body);
    assert_eq!(disabled.body["disabled"], true);
    assert!(disabled.body["disabled_at"].as_i64().is_some(), "{:?}", disabled.body);
    let refused = |response: &Response, what: &str| {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", response.body);
    };
    refused(&server.get("/api/v1/whoami", &dora).await, "her token");
    let by_password = server.request(axum::http::Method::GET, "/api/v1/whoami", Some(basic), Default::default()).await;
    refused(&by_password, "her password");
    assert!(by_password.body["message"].as_str().unwrap().contains("'dora' is disabled"), "{:?}", by_password.body);
    let by_job = server.post(&format!("{MLFLOW}/experiments/search"), &job_token, json!({})).await;
    refused(&by_job, "her job's token");
    assert!(by_job.body["message"].as_str().unwrap().contains("is disabled"), "{:?}", by_job.body);
    assert!(server.service.session(&session.secret).await.is_err(), "her studio session ended");
    let users = server.get("/api/v1/users", &admin).await;
    let listed = users.body.as_array().unwrap().iter().find(|user| user["name"] == "dora").unwrap();
    assert_eq!(listed["disabled"], true, "{listed:?}");

    let enabled = server.patch("/api/v1/users/dora", &admin, json!({ "disabled": false })).await;
    assert_eq!(enabled.status, StatusCode::OK, "{:?}", enabled.body);
    assert_eq!(enabled.body["disabled"], false);
    works(&server.get("/api/v1/whoami", &dora).await, "her token, enabled again");
    works(&server.post(&format!("{MLFLOW}/experiments/search"), &job_token, json!({})).await, "her job's token again");
}

/// A token's listing says when it was last used (to within a minute); a new one, never.
#[tokio::test]
async fn tokens_say_when_they_were_last_used() {
    let server = server().await;
    let reader = server.user_with_role("reader", "Reader").await;
    let before = atelier_service::now_millis();
    let unused = server.post("/api/v1/tokens", &reader, json!({ "description": "unused" })).await;
    assert_eq!(unused.status, StatusCode::CREATED);
    assert!(unused.body["last_used_at"].is_null(), "{:?}", unused.body);
    assert_eq!(server.get("/api/v1/whoami", &reader).await.status, StatusCode::OK);
    // The use is written off the request's path; it lands within moments.
    let mut used = None;
    for _ in 0..100 {
        let listed = server.get("/api/v1/tokens?user=reader", &server.admin_token).await;
        let tokens = listed.body.as_array().unwrap().clone();
        let first = tokens.iter().find(|token| token["description"] != "unused").unwrap().clone();
        if !first["last_used_at"].is_null() {
            let never = tokens.iter().find(|token| token["description"] == "unused").unwrap();
            assert!(never["last_used_at"].is_null(), "a token not used says so: {never:?}");
            used = first["last_used_at"].as_i64();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let used = used.expect("the token's use was noted");
    assert!(used >= before, "{used} >= {before}");
}
