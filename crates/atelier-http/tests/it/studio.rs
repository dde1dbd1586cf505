//! The studio's pages in-process: sign-in, cookies, CSRF, and HTML that escapes what users type.

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn send(server: &TestServer, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = server.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
    (status, headers, body)
}

async fn sign_in(server: &TestServer) -> String {
    let form = format!(
        "user=admin&password={}&next=%2F",
        form_urlencoded::byte_serialize(server.admin_password.as_bytes()).collect::<String>()
    );
    let request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let (status, headers, _) = send(server, request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(server: &TestServer, cookie: &str, uri: &str) -> (StatusCode, String) {
    let request = Request::get(uri).header("cookie", cookie).body(Body::empty()).unwrap();
    let (status, _, body) = send(server, request).await;
    (status, body)
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_back() {
    let server = server().await;
    let request = Request::get("/w/default?x=1").body(Body::empty()).unwrap();
    let (status, headers, _) = send(&server, request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers.get("location").unwrap(), "/login?next=%2Fw%2Fdefault%3Fx%3D1");
    // Only same-site paths are followed after sign-in.
    let (_, body) = page(&server, "", "/login?next=https://evil.example/").await;
    assert!(body.contains(r#"name="next" value="/""#), "{body}");
}

#[tokio::test]
async fn pages_escape_what_users_type() {
    let server = server().await;
    let name = "<script>alert(1)</script>";
    let created = server.post("/api/2.0/mlflow/experiments/create", &server.admin_token, json!({ "name": name })).await;
    let id = created.body["experiment_id"].as_str().unwrap().to_owned();
    let cookie = sign_in(&server).await;
    let (status, body) = page(&server, &cookie, "/w/default").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(name), "{body}");
    assert!(body.contains("&#60;script&#62;") || body.contains("&lt;script&gt;"), "{body}");
    let (status, body) = page(&server, &cookie, &format!("/w/default/experiments/{id}?filter=metrics.x%20%3E")).await;
    assert_eq!(status, StatusCode::OK, "a bad filter is shown on the page");
    assert!(body.contains(r#"data-testid="filter-error""#));
    let (status, _) = page(&server, &cookie, "/w/default/runs/ffffffffffffffffffffffffffffffff").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn forms_without_the_session_token_are_refused() {
    let server = server().await;
    let cookie = sign_in(&server).await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/workspaces")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("name=forged&csrf=nope"))
        .unwrap();
    let (status, _, _) = send(&server, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let missing = server.get("/api/v1/workspaces/forged", &server.admin_token).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_run_folder_downloads_as_a_tar_of_every_file() {
    let server = server().await;
    let token = server.admin_token.clone();
    let run =
        server.post("/api/2.0/mlflow/runs/create", &token, json!({ "experiment_id": "0", "run_name": "tarred" })).await;
    let info = run.body["run"]["info"].clone();
    let run_id = info["run_id"].as_str().unwrap().to_owned();
    let root = info["artifact_uri"].as_str().unwrap().strip_prefix("mlflow-artifacts:/").unwrap().to_owned();
    let long_name = format!("deep/{}.txt", "n".repeat(120));
    for (path, body) in [
        ("model/MLmodel", &b"flavors: {}"[..]),
        ("model/data/weights.bin", &[7u8; 1000][..]),
        (long_name.as_str(), &b"long"[..]),
    ] {
        let request = Request::put(format!("/api/2.0/mlflow-artifacts/artifacts/{root}/{path}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body.to_vec()))
            .unwrap();
        assert_eq!(send(&server, request).await.0, StatusCode::OK);
    }
    let cookie = sign_in(&server).await;
    let request = Request::get(format!("/w/default/runs/{run_id}/folder?path="))
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let response = server.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("content-type").unwrap(), "application/x-tar");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut found = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
        found.push((path, contents.len()));
    }
    found.sort();
    assert_eq!(
        found,
        vec![(long_name.clone(), 4), ("model/MLmodel".to_owned(), 11), ("model/data/weights.bin".to_owned(), 1000)]
    );
    // A sub-folder holds only its own files, with paths relative to it.
    let request = Request::get(format!("/w/default/runs/{run_id}/folder?path=model/data"))
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let bytes = server.app.clone().oneshot(request).await.unwrap().into_body().collect().await.unwrap().to_bytes();
    let mut archive = tar::Archive::new(&bytes[..]);
    let names: Vec<String> =
        archive.entries().unwrap().map(|entry| entry.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["weights.bin".to_owned()]);
    let escape = Request::get(format!("/w/default/runs/{run_id}/folder?path=../.."))
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&server, escape).await.0, StatusCode::BAD_REQUEST);
}

/// The y-axis tick labels of the first chart on a page.
fn y_ticks(body: &str) -> Vec<String> {
    let axis = body.split(r#"<g class="axis axis-y">"#).nth(1).unwrap_or("");
    let axis = axis.split(r#"<g class="axis axis-x">"#).next().unwrap_or("");
    axis.split(r#"class="tick-label""#)
        .skip(1)
        .filter_map(|rest| rest.split_once('>').and_then(|(_, text)| text.split_once("</text>")))
        .map(|(label, _)| label.to_owned())
        .collect()
}

fn attribute(body: &str, marker: &str, name: &str) -> f64 {
    let element = body.split(marker).nth(1).unwrap_or_else(|| panic!("no {marker} in the page"));
    let value = element.split(&format!(r#"{name}=""#)).nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    value.parse().unwrap()
}

/// A log-batch body of `loss` at `steps`, valued `value(step)` except for one spike.
fn loss_batch(run_id: &str, steps: std::ops::Range<i64>, spike: (i64, f64), value: impl Fn(i64) -> f64) -> Value {
    let metrics: Vec<_> = steps
        .map(|step| {
            let value = if step == spike.0 { spike.1 } else { value(step) };
            json!({ "key": "loss", "value": value, "timestamp": 1_700_000_000_000_i64 + step, "step": step })
        })
        .collect();
    json!({ "run_id": run_id, "metrics": metrics })
}

#[tokio::test]
async fn long_series_are_summarised_grow_with_the_run_and_zoom_to_exact_points() {
    let server = server().await;
    let token = server.admin_token.clone();
    let created = server.post("/api/2.0/mlflow/runs/create", &token, json!({ "experiment_id": "0" })).await;
    let run_id = created.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let log = |from, to, spike| loss_batch(&run_id, from..to, spike, |step| 1.0 + (step % 7) as f64 / 10.0);
    // 30,000 points (more than are drawn exactly), with one spike of 50 at step 12,345.
    for from in (0..30_000).step_by(1_000) {
        let response =
            server.post("/api/2.0/mlflow/runs/log-batch", &token, log(from, from + 1_000, (12_345, 50.0))).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
    let cookie = sign_in(&server).await;
    let uri = format!("/w/default/runs/{run_id}");
    let (status, body) = page(&server, &cookie, &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"data-points="30000""#), "the chart counts every point");
    assert!(y_ticks(&body).contains(&"50".to_owned()), "the spike is drawn: {:?}", y_ticks(&body));
    assert!(body.contains("data-live"), "a running run's page refreshes itself");

    // The run goes on: the next view has the new points, a spike of 80 among them.
    let response = server.post("/api/2.0/mlflow/runs/log-batch", &token, log(30_000, 31_000, (30_500, 80.0))).await;
    assert_eq!(response.status, StatusCode::OK);
    let (_, body) = page(&server, &cookie, &uri).await;
    assert!(body.contains(r#"data-points="31000""#));
    assert!(y_ticks(&body).contains(&"80".to_owned()), "{:?}", y_ticks(&body));

    // Zoomed to steps 12,000 to 12,600: the axis spans that range and the points there are
    // drawn exactly, the spike of 50 the highest (and not the later 80).
    let (_, zoomed) = page(&server, &cookie, &format!("{uri}?xmin=12000&xmax=12600")).await;
    let low = attribute(&zoomed, r#"class="plot-area""#, "data-x-low");
    let high = attribute(&zoomed, r#"class="plot-area""#, "data-x-high");
    assert_eq!((low, high), (12_000.0, 12_600.0));
    let ticks = y_ticks(&zoomed);
    assert!(ticks.contains(&"50".to_owned()) && !ticks.contains(&"80".to_owned()), "{ticks:?}");
    assert!(zoomed.contains(r#"data-testid="reset-zoom""#));
    // A zoom that is not two ordered numbers is no zoom.
    let (status, unzoomed) = page(&server, &cookie, &format!("{uri}?xmin=9&xmax=oops")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!unzoomed.contains(r#"data-testid="reset-zoom""#));

    let update = json!({ "run_id": run_id, "status": "FINISHED", "end_time": 1_700_000_100_000_i64 });
    assert_eq!(server.post("/api/2.0/mlflow/runs/update", &token, update).await.status, StatusCode::OK);
    let (_, body) = page(&server, &cookie, &uri).await;
    assert!(!body.contains("data-live"), "a finished run's page stays still");
}

/// A new run whose `loss` has 25,000 points, all 1.0 but a spike of 200 at step 4,321.
async fn run_with_a_long_series(server: &TestServer) -> String {
    let token = &server.admin_token;
    let created = server.post("/api/2.0/mlflow/runs/create", token, json!({ "experiment_id": "0" })).await;
    let run_id = created.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    for from in (0..25_000).step_by(1_000) {
        let batch = loss_batch(&run_id, from..from + 1_000, (4_321, 200.0), |_| 1.0);
        let response = server.post("/api/2.0/mlflow/runs/log-batch", token, batch).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
    run_id
}

/// A long series' summary is kept by the store: a restarted server's first view draws it from
/// the kept summary (and the points written since), not from the whole series. The test takes
/// the series' points away behind the server's back, so only a kept summary can still show them.
#[tokio::test]
async fn a_restarted_server_draws_a_long_series_from_its_kept_summary() {
    let server = server().await;
    let token = server.admin_token.clone();
    let run_id = run_with_a_long_series(&server).await;
    let log = |from, to, spike| loss_batch(&run_id, from..to, spike, |_| 1.0);
    let cookie = sign_in(&server).await;
    let uri = format!("/w/default/runs/{run_id}");
    let (_, body) = page(&server, &cookie, &uri).await;
    assert!(y_ticks(&body).contains(&"200".to_owned()), "{:?}", y_ticks(&body));

    let server = server.restarted().await;
    let written = server.post("/api/2.0/mlflow/runs/log-batch", &token, log(25_000, 25_100, (25_050, -100.0))).await;
    assert_eq!(written.status, StatusCode::OK);
    {
        use sqlx::Connection;
        let mut connection = sqlx::AnyConnection::connect(&server.database_url()).await.unwrap();
        sqlx::query("DELETE FROM metric_points WHERE step < 25000").execute(&mut connection).await.unwrap();
    }
    let (status, body) = page(&server, &cookie, &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"data-points="25100""#), "the kept summary and the new points");
    let ticks = y_ticks(&body);
    assert!(ticks.contains(&"200".to_owned()), "the old spike, from the kept summary: {ticks:?}");
    assert!(ticks.contains(&"-100".to_owned()), "the new one, read since: {ticks:?}");
}

/// Runs the server's background summariser until the store keeps a summary (of the one series
/// these tests write), and returns how many points it covers.
async fn summarised_in_background(server: &TestServer) -> i64 {
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&server.database_url()).await.unwrap();
    let summariser = tokio::spawn(server.service.clone().run_series_summaries());
    let started = std::time::Instant::now();
    let points = loop {
        let kept: Option<i64> =
            sqlx::query_scalar("SELECT points FROM series_summaries").fetch_optional(&mut connection).await.unwrap();
        if let Some(points) = kept {
            break points;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "no summary was kept");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    summariser.abort();
    let _ = summariser.await;
    points
}

/// The background summariser keeps a long series' summary from the points the server wrote, as
/// they came, without reading them back: the test takes the points away behind the server's
/// back before the summariser runs, so a summary read back from the store would be missing them
/// (and would not be kept at all, its count not adding up).
#[tokio::test]
async fn the_summariser_keeps_a_summary_of_the_points_as_they_were_written() {
    let server = server().await;
    let run_id = run_with_a_long_series(&server).await;
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&server.database_url()).await.unwrap();
    sqlx::query("DELETE FROM metric_points").execute(&mut connection).await.unwrap();
    assert_eq!(summarised_in_background(&server).await, 25_000);

    let server = server.restarted().await;
    let cookie = sign_in(&server).await;
    let (status, body) = page(&server, &cookie, &format!("/w/default/runs/{run_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"data-points="25000""#), "every written point is in the kept summary");
    assert!(y_ticks(&body).contains(&"200".to_owned()), "the spike too: {:?}", y_ticks(&body));
}

/// A series this server did not see whole (its first points were written before a restart)
/// is not kept from the few points it saw: the summariser's count says so, and it reads the
/// series back instead.
#[tokio::test]
async fn the_summariser_reads_back_a_series_it_did_not_see_whole() {
    let server = server().await;
    let token = server.admin_token.clone();
    let run_id = run_with_a_long_series(&server).await;
    let log = |from, to, spike| loss_batch(&run_id, from..to, spike, |_| 1.0);
    let server = server.restarted().await;
    let written = server.post("/api/2.0/mlflow/runs/log-batch", &token, log(25_000, 26_000, (25_500, -100.0))).await;
    assert_eq!(written.status, StatusCode::OK);

    assert_eq!(summarised_in_background(&server).await, 26_000, "the whole series, not the points this server wrote");

    let server = server.restarted().await;
    let cookie = sign_in(&server).await;
    let (status, body) = page(&server, &cookie, &format!("/w/default/runs/{run_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"data-points="26000""#));
    let ticks = y_ticks(&body);
    assert!(ticks.contains(&"200".to_owned()) && ticks.contains(&"-100".to_owned()), "{ticks:?}");
}

#[tokio::test]
async fn model_pages_list_versions_and_escape_names() {
    let server = server().await;
    let token = server.admin_token.clone();
    let name = "<b>scorer";
    let created = server.post("/api/2.0/mlflow/registered-models/create", &token, json!({ "name": name })).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let version = json!({ "name": name, "source": "mlflow-artifacts:/0/abc/artifacts/model" });
    assert_eq!(server.post("/api/2.0/mlflow/model-versions/create", &token, version).await.status, StatusCode::OK);
    let cookie = sign_in(&server).await;
    let (status, body) = page(&server, &cookie, "/w/default/models").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(name), "{body}");
    assert!(body.contains("&#60;b&#62;scorer") || body.contains("&lt;b&gt;scorer"), "{body}");
    let encoded = form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>().replace('+', "%20");
    let (status, body) = page(&server, &cookie, &format!("/w/default/models/{encoded}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#"data-version="1""#));
    assert!(body.contains(&format!("/w/default/models/{encoded}/versions/1")), "a version links to its page");
    // The source is on the version's own page, not squeezed into the versions table.
    let (status, body) = page(&server, &cookie, &format!("/w/default/models/{encoded}/versions/1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("mlflow-artifacts:/0/abc/artifacts/model"));
    assert!(!body.contains(name), "the name is escaped on the version page too");
    let (status, _) = page(&server, &cookie, &format!("/w/default/models/{encoded}/versions/9")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page(&server, &cookie, "/w/default/models/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_model_version_shows_the_run_and_the_data_that_produced_it() {
    let server = server().await;
    let token = server.admin_token.clone();
    let run = server.post("/api/2.0/mlflow/runs/create", &token, json!({ "experiment_id": "0" })).await;
    let run_id = run.body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let inputs = json!({
        "run_id": run_id,
        "datasets": [{
            "tags": [{ "key": "mlflow.data.context", "value": "training" }],
            "dataset": { "name": "transactions-2026", "digest": "abc123", "source_type": "local", "source": "{}" }
        }]
    });
    assert_eq!(server.post("/api/2.0/mlflow/runs/log-inputs", &token, inputs).await.status, StatusCode::OK);
    assert_eq!(
        server.post("/api/2.0/mlflow/registered-models/create", &token, json!({ "name": "scorer" })).await.status,
        StatusCode::OK
    );
    let version = json!({ "name": "scorer", "source": format!("runs:/{run_id}/model"), "run_id": run_id });
    assert_eq!(server.post("/api/2.0/mlflow/model-versions/create", &token, version).await.status, StatusCode::OK);
    let cookie = sign_in(&server).await;
    let (status, body) = page(&server, &cookie, "/w/default/models/scorer").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("/w/default/runs/{run_id}")), "the producing run is linked");
    assert!(body.contains("data: transactions-2026 (training)"), "{body}");
}
