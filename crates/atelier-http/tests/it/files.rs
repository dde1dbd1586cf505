//! Asset files sent as text (`yaml`): the server reads them with the CLI's own parsers, so a
//! mistake is a 400 that names the field and its line, and a good file is what gets created.

use crate::common::{Response, server_with};
use axum::http::StatusCode;
use serde_json::json;

/// A 400 whose message says `line N` and names `field` where given (serde-saphyr names an
/// unknown field, not one of the wrong type: there the line says which, as in the CLI).
fn assert_bad_file(response: &Response, field: Option<&str>, line: u64, what: &str) {
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{what}: {:?}", response.body);
    let message = response.body["message"].as_str().unwrap_or_default();
    if let Some(field) = field {
        assert!(message.contains(field), "{what}: {message} names {field}");
    }
    assert!(message.contains(&format!("line {line}")), "{what}: {message} says line {line}");
}

#[tokio::test]
async fn datastore_compute_and_environment_files_are_checked_by_the_server() {
    let server = server_with(|service| service.with_master_key([7; 32])).await;
    let admin = server.admin_token.clone();
    let folder = tempfile::tempdir().unwrap();
    let local = folder.path().display().to_string();

    // Datastores.
    let datastores = "/api/v1/workspaces/default/datastores";
    let unknown = format!("name: shelf\ntype: local\npath: {local}\nshelves: 3\n");
    let response = server.post(datastores, &admin, json!({ "yaml": unknown })).await;
    assert_bad_file(&response, Some("shelves"), 4, "an unknown datastore field");
    let wrong_type = format!("name: shelf\ntype: local\npath: {local}\ntags: [a, b]\n");
    let response = server.post(datastores, &admin, json!({ "yaml": wrong_type })).await;
    assert_bad_file(&response, None, 4, "datastore tags that are not a map");
    let relative = "name: shelf\ntype: local\npath: data/here\n";
    let response = server.post(datastores, &admin, json!({ "yaml": relative })).await;
    assert_bad_file(&response, Some("path"), 3, "a relative local path");
    // The file decides: the JSON fields beside it are ignored.
    let good = format!("name: shelf\ntype: local\ndescription: on disk\npath: {local}\n");
    let response = server.post(datastores, &admin, json!({ "name": "other", "type": "s3", "yaml": good })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!(response.body["name"], "shelf");
    assert_eq!(response.body["type"], "local");
    assert_eq!(response.body["description"], "on disk");

    // Computes.
    let computes = "/api/v1/workspaces/default/computes";
    let unknown = "name: cpu-small\ntype: amlcompute\nspeed: fast\n";
    let response = server.post(computes, &admin, json!({ "yaml": unknown })).await;
    assert_bad_file(&response, Some("speed"), 3, "an unknown compute field");
    let wrong_type = "name: cpu-small\ntype: amlcompute\nmin_instances: 0\nmax_instances: many\n";
    let response = server.post(computes, &admin, json!({ "yaml": wrong_type })).await;
    assert_bad_file(&response, None, 4, "a count that is not a number");
    let good = "name: cpu-small\ntype: AmlCompute\nsize: Standard_DS3_v2\nmax_instances: 2\n";
    let response = server.post(computes, &admin, json!({ "yaml": good })).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(response.body["name"], "cpu-small");
    assert_eq!(response.body["type"], "amlcompute");

    // Environments.
    let environments = "/api/v1/workspaces/default/environments";
    let unknown = "name: sk\nimage: python:3.11-slim\nos: linux\n";
    let response = server.post(environments, &admin, json!({ "yaml": unknown })).await;
    assert_bad_file(&response, Some("os"), 3, "an unknown environment field");
    let wrong_type = "name: sk\nimage: python:3.11-slim\ntags: 7\n";
    let response = server.post(environments, &admin, json!({ "yaml": wrong_type })).await;
    assert_bad_file(&response, None, 3, "environment tags that are not a map");
    // An inline conda environment is the file's; `version` overrides the file's, as `-v` does.
    let good =
        "name: sk\nversion: \"1\"\nconda_file:\n  dependencies:\n    - python=3.11\n    - pip:\n      - scikit-learn\n";
    let response = server.post(environments, &admin, json!({ "yaml": good, "version": "7", "python": "3.9" })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!(response.body["name"], "sk");
    assert_eq!(response.body["version"], "7");
    assert_eq!(response.body["python"], "3.11");
    assert_eq!(response.body["requirements"], json!(["scikit-learn"]));

    // Requests without a file work as before.
    let response = server.post(computes, &admin, json!({ "name": "cpu-json", "type": "amlcompute" })).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
}
