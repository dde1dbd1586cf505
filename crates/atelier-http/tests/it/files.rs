//! Asset files sent as text (`yaml`): the server reads them with the CLI's own parsers, so a
//! mistake is a 400 that names the field and its line, and a good file is what gets created.

use crate::common::{Response, server, server_with};
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

/// A 400 whose message says `words` (a mistake about the whole file or the request, not a line).
fn assert_bad_request(response: &Response, words: &str, what: &str) {
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{what}: {:?}", response.body);
    let message = response.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{what}: {message} says {words}");
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

#[tokio::test]
async fn model_and_data_files_are_checked_by_the_server() {
    let server = server().await;
    let admin = server.admin_token.clone();
    let upload = "0123456789abcdef0123456789abcdef";

    // Models.
    let models = "/api/v1/workspaces/default/models";
    let unknown = "name: credit\npath: runs:/0123/model\ncolour: red\n";
    let response = server.post(models, &admin, json!({ "yaml": unknown })).await;
    assert_bad_file(&response, Some("colour"), 3, "an unknown model field");
    let bad_version = "name: credit\nversion: 0\npath: runs:/0123/model\n";
    let response = server.post(models, &admin, json!({ "yaml": bad_version })).await;
    assert_bad_file(&response, Some("version"), 2, "a version that is not a positive number");
    let bad_type = "name: credit\ntype: onnx\npath: runs:/0123/model\n";
    let response = server.post(models, &admin, json!({ "yaml": bad_type })).await;
    assert_bad_file(&response, Some("type"), 2, "an unknown model type");
    let no_path = "name: credit\n";
    let response = server.post(models, &admin, json!({ "yaml": no_path })).await;
    assert_bad_request(&response, "path: a model needs a 'path'", "a model without a path");
    let local = "name: credit\ntype: mlflow_model\npath: ./model\n";
    let response = server.post(models, &admin, json!({ "yaml": local })).await;
    assert_bad_file(&response, Some("path"), 3, "a local path without its upload");
    // Who may not register one learns nothing about their file.
    let reader = server.user_with_role("reader", "Reader").await;
    let response = server.post(models, &reader, json!({ "yaml": unknown })).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{:?}", response.body);

    let uploaded =
        server.put_raw(&format!("{models}/credit/uploads/{upload}/model/MLmodel"), &admin, b"flavors: {}\n").await;
    assert_eq!(uploaded.status, StatusCode::OK, "{:?}", uploaded.body);
    let root = format!("mlflow-artifacts:/models/credit/{upload}/model");
    assert_eq!(uploaded.body["uri"], format!("{root}/MLmodel"));
    let elsewhere = format!("mlflow-artifacts:/models/other/{upload}/model");
    let response = server.post(models, &admin, json!({ "yaml": local, "upload_uri": elsewhere })).await;
    assert_bad_request(&response, "upload_uri: ", "another model's upload");
    let response = server.post(models, &admin, json!({ "yaml": local, "upload_uri": root })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!((&response.body["name"], &response.body["version"]), (&json!("credit"), &json!(1)));
    assert_eq!(response.body["path"], root, "the upload stands for the local path");
    assert_eq!(response.body["model_type"], "mlflow_model");
    let files = server.get(&format!("{models}/credit/versions/1/files"), &admin).await;
    assert_eq!(files.body[0]["path"], "model/MLmodel", "{:?}", files.body);
    // A URI is registered as written, and then there is no upload to name.
    let by_uri = format!("name: credit\nversion: 5\npath: {root}\ndescription: again\ntags: {{rank: 1}}\n");
    let response = server.post(models, &admin, json!({ "yaml": by_uri, "upload_uri": root })).await;
    assert_bad_file(&response, Some("path"), 3, "an upload beside a URI path");
    let response = server.post(models, &admin, json!({ "yaml": by_uri, "name": "ignored" })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!((&response.body["name"], &response.body["version"]), (&json!("credit"), &json!(5)));
    assert_eq!((&response.body["path"], &response.body["model_type"]), (&json!(root), &json!("custom_model")));
    assert_eq!((&response.body["description"], &response.body["tags"]), (&json!("again"), &json!({ "rank": "1" })));

    // Data assets.
    let data = "/api/v1/workspaces/default/data";
    let model_field = "name: iris\npath: iris\nstage: Production\n";
    let response = server.post(data, &admin, json!({ "yaml": model_field })).await;
    assert_bad_file(&response, Some("stage"), 3, "a model's field in a data file");
    let bad_type = "name: iris\ntype: table\npath: iris\n";
    let response = server.post(data, &admin, json!({ "yaml": bad_type })).await;
    assert_bad_file(&response, Some("type"), 2, "an unknown data type");
    let local = "name: iris\nversion: \"2024.1\"\npath: ./iris\n";
    let response = server.post(data, &admin, json!({ "yaml": local })).await;
    assert_bad_file(&response, Some("path"), 3, "a local data path without its upload");
    let response = server.post(data, &reader, json!({ "yaml": bad_type })).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{:?}", response.body);

    let uploads = format!("/api/v1/workspaces/default/data-uploads/{upload}");
    let uploaded = server.put_raw(&format!("{uploads}/iris/part.csv"), &admin, b"a,b\n1,2\n").await;
    assert_eq!(uploaded.status, StatusCode::OK, "{:?}", uploaded.body);
    let root = format!("azureml://datastores/workspaceblobstore/paths/LocalUpload/{upload}/iris");
    let response = server.post(data, &admin, json!({ "yaml": local, "upload_uri": "s3://bucket/iris" })).await;
    assert_bad_request(&response, "upload_uri: ", "an upload elsewhere");
    let response = server.post(data, &admin, json!({ "yaml": local, "upload_uri": root })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!((&response.body["name"], &response.body["version"]), (&json!("iris"), &json!("2024.1")));
    assert_eq!(response.body["path"], format!("{root}/"), "an uploaded folder is registered as a folder");
    assert_eq!(response.body["type"], "uri_folder");
    let one_file = "name: iris-part\ntype: uri_file\npath: part.csv\n";
    let response =
        server.post(data, &admin, json!({ "yaml": one_file, "upload_uri": format!("{root}/part.csv") })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!(
        (&response.body["path"], &response.body["type"]),
        (&json!(format!("{root}/part.csv")), &json!("uri_file"))
    );
    let by_uri = format!("name: iris\nversion: \"2024.2\"\npath: {root}/\n");
    let response = server.post(data, &admin, json!({ "yaml": by_uri, "upload_uri": root })).await;
    assert_bad_file(&response, Some("path"), 3, "an upload beside a data URI");
    let response = server.post(data, &admin, json!({ "yaml": by_uri })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!(response.body["path"], format!("{root}/"));

    // Requests without a file work as before.
    let fields = json!({ "name": "iris", "version": "2024.3", "path": format!("{root}/part.csv"), "type": "uri_file" });
    let response = server.post(data, &admin, fields).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    let response = server.post(models, &admin, json!({ "name": "credit", "path": "runs:/0123/model" })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!((&response.body["version"], &response.body["model_type"]), (&json!(6), &json!("custom_model")));
}
