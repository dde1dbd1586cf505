use atelier_blob::BlobStore;
use atelier_http::{AppState, router};
use atelier_service::Service;
use atelier_store::SqlStore;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

pub struct TestServer {
    pub app: Router,
    pub admin_token: String,
    pub admin_password: String,
    _folder: tempfile::TempDir,
}

pub async fn server() -> TestServer {
    let folder = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", folder.path().join("db").display())).await.unwrap();
    let blobs = BlobStore::open(folder.path().join("blobs").to_str().unwrap()).unwrap();
    let service = Arc::new(Service::new(Arc::new(store), blobs));
    let secrets = service.bootstrap().await.unwrap().unwrap();
    assert!(service.bootstrap().await.unwrap().is_none(), "secrets are created only once");
    TestServer {
        app: router(AppState::new(service)),
        admin_token: secrets.admin_token,
        admin_password: secrets.admin_password,
        _folder: folder,
    }
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl TestServer {
    pub async fn request(&self, method: Method, uri: &str, auth: Option<&str>, body: Body) -> Response {
        let mut builder = Request::builder().method(method).uri(uri).header("content-type", "application/json");
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let response = self.app.clone().oneshot(builder.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Response { status, body, bytes }
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.admin_token)
    }

    pub async fn get(&self, uri: &str, token: &str) -> Response {
        self.request(Method::GET, uri, Some(&format!("Bearer {token}")), Body::empty()).await
    }

    pub async fn post(&self, uri: &str, token: &str, json: Value) -> Response {
        self.request(Method::POST, uri, Some(&format!("Bearer {token}")), Body::from(json.to_string())).await
    }

    pub async fn put_raw(&self, uri: &str, token: &str, bytes: &'static [u8]) -> Response {
        self.request(Method::PUT, uri, Some(&format!("Bearer {token}")), Body::from(bytes)).await
    }

    /// Creates a user with a role on `default` and returns a token for them.
    pub async fn user_with_role(&self, name: &str, role: &str) -> String {
        let admin = self.admin_token.clone();
        let created =
            self.post("/api/v1/users", &admin, serde_json::json!({ "name": name, "password": "password123" })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let assigned = self
            .request(
                Method::PUT,
                "/api/v1/workspaces/default/roles",
                Some(&self.bearer()),
                Body::from(serde_json::json!({ "user": name, "role": role }).to_string()),
            )
            .await;
        assert_eq!(assigned.status, StatusCode::NO_CONTENT, "{:?}", assigned.body);
        let token = self.post("/api/v1/tokens", &admin, serde_json::json!({ "user": name })).await;
        assert_eq!(token.status, StatusCode::CREATED);
        token.body["token"].as_str().unwrap().to_owned()
    }
}
