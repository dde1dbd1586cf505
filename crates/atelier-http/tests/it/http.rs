use crate::common::*;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::json;

const MLFLOW: &str = "/api/2.0/mlflow";

#[tokio::test]
async fn health_needs_no_auth_and_everything_else_does() {
    let server = server().await;
    assert_eq!(server.request(Method::GET, "/healthz", None, Body::empty()).await.status, StatusCode::OK);
    assert_eq!(server.request(Method::GET, "/readyz", None, Body::empty()).await.status, StatusCode::OK);
    assert_eq!(server.request(Method::GET, "/health", None, Body::empty()).await.status, StatusCode::OK);
    let anonymous = server.request(Method::POST, &format!("{MLFLOW}/experiments/search"), None, Body::from("{}")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error_code"], "UNAUTHENTICATED");
    let wrong = server.post(&format!("{MLFLOW}/experiments/search"), "atl_not-a-real-token", json!({})).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = server.post(&format!("{MLFLOW}/experiments/search"), &server.admin_token, json!({})).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["experiments"][0]["name"], "Default");
}

#[tokio::test]
async fn basic_auth_with_the_admin_password() {
    let server = server().await;
    let good = base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", server.admin_password));
    let response = server.request(Method::GET, "/api/v1/whoami", Some(&format!("Basic {good}")), Body::empty()).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, json!({ "user": "admin", "is_admin": true }));
    let bad = base64::engine::general_purpose::STANDARD.encode("admin:wrong");
    let response = server.request(Method::GET, "/api/v1/whoami", Some(&format!("Basic {bad}")), Body::empty()).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}

/// Every role against a read and a write, through both APIs.
#[tokio::test]
async fn role_matrix_over_http() {
    let server = server().await;
    let reader = server.user_with_role("reader", "Reader").await;
    let contributor = server.user_with_role("contrib", "Contributor").await;
    let owner = server.user_with_role("owner", "Owner").await;
    let outsider = {
        server.post("/api/v1/users", &server.admin_token, json!({ "name": "outsider" })).await;
        server.post("/api/v1/tokens", &server.admin_token, json!({ "user": "outsider" })).await.body["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (token, can_read, can_write, can_manage) in [
        (&reader, true, false, false),
        (&contributor, true, true, false),
        (&owner, true, true, true),
        (&outsider, false, false, false),
    ] {
        let read = server.post(&format!("{MLFLOW}/runs/search"), token, json!({ "experiment_ids": ["0"] })).await;
        assert_eq!(read.status == StatusCode::OK, can_read, "{:?}", read.body);
        let write = server.post(&format!("{MLFLOW}/runs/create"), token, json!({ "experiment_id": "0" })).await;
        assert_eq!(write.status == StatusCode::OK, can_write, "{:?}", write.body);
        if !can_write {
            assert_eq!(write.status, StatusCode::FORBIDDEN);
            assert_eq!(write.body["error_code"], "PERMISSION_DENIED");
        }
        let native_write =
            server.post("/api/v1/workspaces/default/experiments", token, json!({ "name": format!("e-{token}") })).await;
        assert_eq!(native_write.status == StatusCode::CREATED, can_write, "{:?}", native_write.body);
        let manage = server
            .request(
                Method::PUT,
                "/api/v1/workspaces/default/roles",
                Some(&format!("Bearer {token}")),
                Body::from(json!({ "user": "outsider", "role": "Reader" }).to_string()),
            )
            .await;
        assert_eq!(manage.status == StatusCode::NO_CONTENT, can_manage, "{:?}", manage.body);
        if can_manage {
            server
                .request(
                    Method::DELETE,
                    "/api/v1/workspaces/default/roles/outsider",
                    Some(&server.bearer()),
                    Body::empty(),
                )
                .await;
        }
        let create_workspace = server.post("/api/v1/workspaces", token, json!({ "name": "not-allowed" })).await;
        assert_eq!(create_workspace.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn bad_input_gets_mlflow_error_codes_and_writes_nothing() {
    let server = server().await;
    let token = server.admin_token.clone();
    let malformed = server
        .request(Method::POST, &format!("{MLFLOW}/runs/create"), Some(&server.bearer()), Body::from("{not json"))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["error_code"], "INVALID_PARAMETER_VALUE");
    let run =
        server.post(&format!("{MLFLOW}/runs/create"), &token, json!({ "experiment_id": "0", "run_name": "r" })).await;
    let run_id = run.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let wrong_type = server
        .post(
            &format!("{MLFLOW}/runs/log-metric"),
            &token,
            json!({ "run_id": run_id, "key": "m", "value": "abc", "timestamp": 1 }),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert!(wrong_type.body["message"].as_str().unwrap().contains("abc"), "{:?}", wrong_type.body);
    let missing_value = server
        .post(&format!("{MLFLOW}/runs/log-metric"), &token, json!({ "run_id": run_id, "key": "m", "timestamp": 1 }))
        .await;
    assert!(missing_value.body["message"].as_str().unwrap().contains("'value'"), "{:?}", missing_value.body);
    let too_many: Vec<_> =
        (0..1001).map(|step| json!({ "key": "m", "value": 1.0, "timestamp": 1, "step": step })).collect();
    let oversized = server
        .post(&format!("{MLFLOW}/runs/log-batch"), &token, json!({ "run_id": run_id, "metrics": too_many }))
        .await;
    assert_eq!(oversized.body["error_code"], "INVALID_PARAMETER_VALUE");
    let bad_key = server
        .post(&format!("{MLFLOW}/runs/log-batch"), &token, json!({ "run_id": run_id, "metrics": [{ "key": "ok", "value": 1, "timestamp": 1 }], "params": [{ "key": "x".repeat(251), "value": "v" }] }))
        .await;
    assert_eq!(bad_key.body["error_code"], "INVALID_PARAMETER_VALUE");
    let unknown = server.get(&format!("{MLFLOW}/runs/get?run_id=ffffffffffffffffffffffffffffffff"), &token).await;
    assert_eq!(
        (unknown.status, unknown.body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    let fetched = server.get(&format!("{MLFLOW}/runs/get?run_id={run_id}"), &token).await;
    assert_eq!(fetched.body["run"]["data"]["metrics"], json!([]), "rejected batches wrote nothing");
    let bad_filter = server
        .post(&format!("{MLFLOW}/runs/search"), &token, json!({ "experiment_ids": ["0"], "filter": "metrics.acc >" }))
        .await;
    assert_eq!(bad_filter.body["error_code"], "INVALID_PARAMETER_VALUE");
    let too_many_results = server
        .post(&format!("{MLFLOW}/runs/search"), &token, json!({ "experiment_ids": ["0"], "max_results": 50001 }))
        .await;
    assert_eq!(too_many_results.body["error_code"], "INVALID_PARAMETER_VALUE");
    let double_encoded = server
        .request(
            Method::POST,
            &format!("{MLFLOW}/experiments/create"),
            Some(&server.bearer()),
            Body::from(json!(json!({ "name": "twice" }).to_string()).to_string()),
        )
        .await;
    assert_eq!(double_encoded.status, StatusCode::OK, "{:?}", double_encoded.body);
}

#[tokio::test]
async fn nan_and_infinity_follow_mlflow() {
    let server = server().await;
    let token = server.admin_token.clone();
    let run = server.post(&format!("{MLFLOW}/runs/create"), &token, json!({ "experiment_id": "0" })).await;
    let run_id = run.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let metrics = json!([
        { "key": "nan", "value": "NaN", "timestamp": 1, "step": 0 },
        { "key": "inf", "value": "Infinity", "timestamp": 1, "step": 0 },
        { "key": "ninf", "value": "-Infinity", "timestamp": 1, "step": 0 },
    ]);
    assert_eq!(
        server
            .post(&format!("{MLFLOW}/runs/log-batch"), &token, json!({ "run_id": run_id, "metrics": metrics }))
            .await
            .status,
        StatusCode::OK
    );
    let fetched = server.get(&format!("{MLFLOW}/runs/get?run_id={run_id}"), &token).await;
    let metrics = fetched.body["run"]["data"]["metrics"].as_array().unwrap().clone();
    let value = |key: &str| metrics.iter().find(|m| m["key"] == key).unwrap()["value"].clone();
    assert_eq!(value("nan"), json!("NaN"));
    assert_eq!(value("inf"), json!(f64::MAX));
    assert_eq!(value("ninf"), json!(-f64::MAX));
}

#[tokio::test]
async fn artifact_paths_cannot_escape_and_round_trip() {
    let server = server().await;
    let token = server.admin_token.clone();
    let base = "/api/2.0/mlflow-artifacts/artifacts";
    let stored = server.put_raw(&format!("{base}/0/abc/artifacts/dir/file.txt"), &token, b"hello").await;
    assert_eq!(stored.status, StatusCode::OK, "{:?}", stored.body);
    let fetched = server.get(&format!("{base}/0/abc/artifacts/dir/file.txt"), &token).await;
    assert_eq!(fetched.bytes, b"hello");
    let listed = server.get(&format!("{base}?path=0/abc/artifacts"), &token).await;
    assert_eq!(listed.body, json!({ "files": [{ "path": "dir", "is_dir": true }] }));
    let listed = server.get(&format!("{base}?path=0/abc/artifacts/dir"), &token).await;
    assert_eq!(listed.body, json!({ "files": [{ "path": "file.txt", "is_dir": false, "file_size": 5 }] }));
    for escape in ["0/../../../etc/passwd", "0/abc/%2E%2E/%2E%2E/x"] {
        let response = server.put_raw(&format!("{base}/{escape}"), &token, b"x").await;
        assert!(
            response.status == StatusCode::BAD_REQUEST || response.status == StatusCode::NOT_FOUND,
            "{escape}: {:?}",
            response.status
        );
    }
    let listing_escape = server.get(&format!("{base}?path=../.."), &token).await;
    assert_eq!(listing_escape.status, StatusCode::BAD_REQUEST);
    let absolute = server.get(&format!("{base}?path=/etc"), &token).await;
    assert_eq!(absolute.status, StatusCode::BAD_REQUEST);
    let missing = server.get(&format!("{base}/0/none.txt"), &token).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn workspaces_are_separate_mlflow_servers() {
    let server = server().await;
    let token = server.admin_token.clone();
    let created = server.post("/api/v1/workspaces", &token, json!({ "name": "team-b", "description": "B" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["mlflow_tracking_path"], "/ws/team-b");
    let in_b = server
        .post(&format!("/ws/team-b{MLFLOW}/runs/create"), &token, json!({ "experiment_id": "0", "run_name": "b-run" }))
        .await;
    let run_id = in_b.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let from_root = server.get(&format!("{MLFLOW}/runs/get?run_id={run_id}"), &token).await;
    assert_eq!(from_root.status, StatusCode::NOT_FOUND, "a run of team-b is not visible from default");
    let from_b = server.get(&format!("/ws/team-b{MLFLOW}/runs/get?run_id={run_id}"), &token).await;
    assert_eq!(from_b.body["run"]["info"]["run_name"], "b-run");
    let search_root = server.post(&format!("{MLFLOW}/runs/search"), &token, json!({ "experiment_ids": ["0"] })).await;
    assert_eq!(search_root.body["runs"], json!([]), "{:?}", search_root.body);
    let bad_name = server.post("/api/v1/workspaces", &token, json!({ "name": "x" })).await;
    assert_eq!(bad_name.status, StatusCode::BAD_REQUEST);
    assert!(bad_name.body["message"].as_str().unwrap().contains("3 to 33"));
    let unknown = server.post(&format!("/ws/nowhere{MLFLOW}/experiments/search"), &token, json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn paged_searches_return_a_token_when_a_page_is_full() {
    let server = server().await;
    let token = server.admin_token.clone();
    for _ in 0..3 {
        server.post(&format!("{MLFLOW}/runs/create"), &token, json!({ "experiment_id": "0" })).await;
    }
    let first = server
        .post(&format!("{MLFLOW}/runs/search"), &token, json!({ "experiment_ids": ["0"], "max_results": 2 }))
        .await;
    assert_eq!(first.body["runs"].as_array().unwrap().len(), 2);
    let page_token = first.body["next_page_token"].as_str().unwrap();
    let second = server
        .post(
            &format!("{MLFLOW}/runs/search"),
            &token,
            json!({ "experiment_ids": ["0"], "max_results": 2, "page_token": page_token }),
        )
        .await;
    assert_eq!(second.body["runs"].as_array().unwrap().len(), 1);
    assert!(second.body.get("next_page_token").is_none());
    let garbage = server
        .post(&format!("{MLFLOW}/runs/search"), &token, json!({ "experiment_ids": ["0"], "page_token": "garbage" }))
        .await;
    assert_eq!(garbage.body["error_code"], "INVALID_PARAMETER_VALUE");
}

#[tokio::test]
async fn openapi_document_lists_the_native_api() {
    let server = server().await;
    let response = server.request(Method::GET, "/api/v1/openapi.json", None, Body::empty()).await;
    assert_eq!(response.status, StatusCode::OK);
    let paths = response.body["paths"].as_object().unwrap();
    for path in [
        "/api/v1/workspaces",
        "/api/v1/workspaces/{ws}/runs",
        "/api/v1/workspaces/{ws}/runs/{run_id}/log",
        "/api/v1/tokens",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
}

#[tokio::test]
async fn revoked_tokens_stop_working() {
    let server = server().await;
    let created = server.post("/api/v1/tokens", &server.admin_token, json!({ "description": "temp" })).await;
    let secret = created.body["token"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(server.get("/api/v1/whoami", &secret).await.status, StatusCode::OK);
    let revoked =
        server.request(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&server.bearer()), Body::empty()).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get("/api/v1/whoami", &secret).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bulk_interval_history_samples_steps_per_run() {
    let server = server().await;
    let token = server.admin_token.clone();
    let mut run_ids = Vec::new();
    for _ in 0..2 {
        let run = server.post(&format!("{MLFLOW}/runs/create"), &token, json!({ "experiment_id": "0" })).await;
        let run_id = run.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
        let metrics: Vec<_> =
            (0..100).map(|step| json!({ "key": "loss", "value": step, "timestamp": 1, "step": step })).collect();
        server.post(&format!("{MLFLOW}/runs/log-batch"), &token, json!({ "run_id": run_id, "metrics": metrics })).await;
        run_ids.push(run_id);
    }
    let uri = format!(
        "{MLFLOW}/metrics/get-history-bulk-interval?run_ids={}&run_ids={}&metric_key=loss&max_results=10&start_step=10&end_step=59",
        run_ids[0], run_ids[1]
    );
    let response = server.get(&uri, &token).await;
    let metrics = response.body["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 20, "{:?}", response.body);
    for run_id in &run_ids {
        let steps: Vec<i64> =
            metrics.iter().filter(|m| m["run_id"] == run_id.as_str()).map(|m| m["step"].as_i64().unwrap()).collect();
        assert_eq!((steps.first(), steps.last()), (Some(&10), Some(&59)));
    }
}

#[tokio::test]
async fn run_artifact_listing_by_run_id_and_legacy_log_model() {
    let server = server().await;
    let token = server.admin_token.clone();
    let run = server.post(&format!("{MLFLOW}/runs/create"), &token, json!({ "experiment_id": "0" })).await;
    let info = run.body["run"]["info"].clone();
    let run_id = info["run_id"].as_str().unwrap().to_owned();
    let root = info["artifact_uri"].as_str().unwrap().strip_prefix("mlflow-artifacts:/").unwrap().to_owned();
    server.put_raw(&format!("/api/2.0/mlflow-artifacts/artifacts/{root}/model/MLmodel"), &token, b"flavors: {}").await;
    let listed = server.get(&format!("{MLFLOW}/artifacts/list?run_id={run_id}&path=model"), &token).await;
    assert_eq!(listed.body["files"], json!([{ "path": "model/MLmodel", "is_dir": false, "file_size": 11 }]));
    let model_json = json!({ "artifact_path": "model", "flavors": {} }).to_string();
    for _ in 0..2 {
        let logged = server
            .post(&format!("{MLFLOW}/runs/log-model"), &token, json!({ "run_id": run_id, "model_json": model_json }))
            .await;
        assert_eq!(logged.status, StatusCode::OK, "{:?}", logged.body);
    }
    let fetched = server.get(&format!("{MLFLOW}/runs/get?run_id={run_id}"), &token).await;
    let tags = fetched.body["run"]["data"]["tags"].as_array().unwrap();
    let history = tags.iter().find(|tag| tag["key"] == "mlflow.log-model.history").unwrap();
    let history: Vec<serde_json::Value> = serde_json::from_str(history["value"].as_str().unwrap()).unwrap();
    assert_eq!(history.len(), 2);
    let broken =
        server.post(&format!("{MLFLOW}/runs/log-model"), &token, json!({ "run_id": run_id, "model_json": "{" })).await;
    assert_eq!(broken.body["error_code"], "INVALID_PARAMETER_VALUE");
}

#[tokio::test]
async fn json_endpoints_require_a_json_content_type() {
    let server = server().await;
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("{MLFLOW}/experiments/create"))
        .header("authorization", server.bearer())
        .header("content-type", "text/plain")
        .body(Body::from(json!({ "name": "x" }).to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(server.app.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let with_charset = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("{MLFLOW}/experiments/create"))
        .header("authorization", server.bearer())
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(json!({ "name": "x" }).to_string()))
        .unwrap();
    assert_eq!(tower::ServiceExt::oneshot(server.app.clone(), with_charset).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn logged_model_files_are_listed_under_its_root() {
    let server = server().await;
    let token = server.admin_token.clone();
    let created =
        server.post(&format!("{MLFLOW}/logged-models"), &token, json!({ "experiment_id": "0", "name": "clf" })).await;
    let model = created.body["model"]["info"].clone();
    let model_id = model["model_id"].as_str().unwrap().to_owned();
    let root = model["artifact_uri"].as_str().unwrap().strip_prefix("mlflow-artifacts:/").unwrap().to_owned();
    server.put_raw(&format!("/api/2.0/mlflow-artifacts/artifacts/{root}/MLmodel"), &token, b"flavors: {}").await;
    let listed = server.get(&format!("{MLFLOW}/logged-models/{model_id}/artifacts/directories"), &token).await;
    assert_eq!(
        listed.body["files"],
        json!([{ "path": "MLmodel", "is_dir": false, "file_size": 11 }]),
        "{:?}",
        listed.body
    );
    let escape = server
        .get(&format!("{MLFLOW}/logged-models/{model_id}/artifacts/directories?artifact_directory_path=../.."), &token)
        .await;
    assert_eq!(escape.status, StatusCode::BAD_REQUEST);
}

/// What the framework answers before a handler runs is the one JSON error shape too, and the
/// OpenAPI document lists every operation's errors.
#[tokio::test]
async fn framework_errors_are_json_errors_and_documented() {
    use tower::ServiceExt;
    let server = server().await;
    let token = server.admin_token.clone();
    let not_json =
        server.request(Method::POST, "/api/v1/workspaces", Some(&server.bearer()), Body::from("{not json")).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.body["error_code"], "INVALID_PARAMETER_VALUE");
    assert!(not_json.body["message"].as_str().unwrap().contains("JSON"), "{:?}", not_json.body);
    let unknown_field = server.post("/api/v1/workspaces", &token, json!({ "nmae": "typo" })).await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST, "a body of the wrong shape is a 400, not axum's 422");
    assert!(unknown_field.body["message"].as_str().unwrap().contains("nmae"), "{:?}", unknown_field.body);
    let request = axum::http::Request::post("/api/v1/workspaces")
        .header("authorization", server.bearer())
        .header("content-type", "text/plain")
        .body(Body::from("name=x"))
        .unwrap();
    let response = server.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(response.headers()["content-type"], "application/json");
    let wrong_method = server.delete("/api/v1/whoami", &token).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body["error_code"], "INVALID_PARAMETER_VALUE");
    assert!(wrong_method.body["message"].as_str().unwrap().contains("method"), "{:?}", wrong_method.body);
    let mlflow_wrong_method = server.get(&format!("{MLFLOW}/runs/create"), &token).await;
    assert_eq!(mlflow_wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(mlflow_wrong_method.body["error_code"], "INVALID_PARAMETER_VALUE");

    // Found by schemathesis: a grace period of i64::MAX minutes overflowed (a panic here, a
    // wrapped and so much shorter grace in a release build).
    let huge = server.post("/api/v1/gc?grace_minutes=9223372036854775806", &token, json!({})).await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST, "{:?}", huge.body);
    assert!(huge.body["message"].as_str().unwrap().contains("grace_minutes"), "{:?}", huge.body);

    let document = server.request(Method::GET, "/api/v1/openapi.json", None, Body::empty()).await.body;
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            for status in ["400", "401", "403", "404"] {
                let response = &operation["responses"][status];
                assert!(response.is_object(), "{method} {path} does not document {status}");
            }
        }
    }
    assert!(operations > 100, "{operations} operations");
}

/// Bad input on every surface is a 4xx that says what was wrong, and changes nothing.
#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_changes_nothing() {
    let server = server().await;
    let token = server.admin_token.clone();
    let workspaces_before = server.get("/api/v1/workspaces", &token).await.body;
    let raw = |method: Method, uri: &str, body: Vec<u8>| {
        let server = &server;
        let uri = uri.to_owned();
        async move { server.request(method, &uri, Some(&server.bearer()), Body::from(body)).await }
    };

    // A body over the limit: 413 on both APIs, with the limit in the message.
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(3 << 20)).into_bytes();
    for uri in [format!("{MLFLOW}/experiments/create"), "/api/v1/workspaces".to_owned()] {
        let answer = raw(Method::POST, &uri, big.clone()).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}: {:?}", answer.body);
        assert_eq!(answer.body["error_code"], "PAYLOAD_TOO_LARGE", "{uri}");
    }

    // Not UTF-8, nested past any sense, numbers past i64: each a 400 that says so.
    let invalid_utf8 =
        raw(Method::POST, &format!("{MLFLOW}/experiments/create"), b"{\"name\": \"\xff\xfe\"}".to_vec()).await;
    assert_eq!(invalid_utf8.status, StatusCode::BAD_REQUEST);
    assert!(invalid_utf8.body["message"].as_str().unwrap().contains("JSON"), "{:?}", invalid_utf8.body);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    for uri in [format!("{MLFLOW}/runs/search"), "/api/v1/workspaces".to_owned()] {
        let answer = raw(Method::POST, &uri, deep.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}: {:?}", answer.body);
    }
    let run = server.post(&format!("{MLFLOW}/runs/create"), &token, json!({ "experiment_id": "0" })).await;
    let run_id = run.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let huge = raw(
        Method::POST,
        &format!("{MLFLOW}/runs/log-metric"),
        format!(r#"{{"run_id": "{run_id}", "key": "m", "value": 1, "timestamp": 99999999999999999999999}}"#)
            .into_bytes(),
    )
    .await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST);
    assert!(huge.body["message"].as_str().unwrap().contains("int64"), "{:?}", huge.body);
    let named = server.post("/api/v1/workspaces", &token, json!({ "name": 5 })).await;
    assert!(
        named.body["message"].as_str().unwrap().contains("name: invalid type"),
        "the field is named: {:?}",
        named.body
    );

    // Path traversal in path parameters and artifact paths never reaches a file.
    for uri in [
        "/api/v1/workspaces/default/models/..%2F..%2Fetc/versions/1".to_owned(),
        "/api/v1/workspaces/..%2Fdefault".to_owned(),
        format!("/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/..%2F..%2F..%2Fatelier.db"),
        "/api/v1/workspaces/default/data/..%2F..%2Fx/versions/1/files".to_owned(),
    ] {
        let answer = server.get(&uri, &token).await;
        assert!(answer.status.is_client_error(), "{uri}: {}", answer.status);
        assert!(answer.body["message"].is_string(), "{uri}: {:?}", answer.body);
    }

    // Control characters in names.
    for (uri, body) in [
        ("/api/v1/workspaces".to_owned(), json!({ "name": "bad\u{7}name" })),
        ("/api/v1/users".to_owned(), json!({ "name": "eve\nadmin" })),
        (format!("{MLFLOW}/experiments/create"), json!({ "name": "exp\u{0}" })),
        (format!("{MLFLOW}/registered-models/create"), json!({ "name": "model\u{1b}[31m" })),
    ] {
        let answer = server.post(&uri, &token, body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri} {body}: {:?}", answer.body);
        assert!(answer.body["message"].as_str().is_some_and(|message| !message.is_empty()));
    }

    assert_eq!(server.get("/api/v1/workspaces", &token).await.body, workspaces_before);
    let experiments = server.get("/api/v1/workspaces/default/experiments", &token).await.body;
    assert!(!experiments.to_string().contains("exp\\u0000"), "{experiments}");
    assert_eq!(server.get("/healthz", &token).await.status, StatusCode::OK);
}
