use atelier_blob::BlobStore;
use atelier_core::job::{Capacity, Job};
use atelier_http::{AppState, router};
use atelier_service::{
    BackendJob, ComputeBackend, JobShape, Launched, Phase, Placement, PortFuture, Refusal, Service, Submitted,
};
use atelier_store::Compute;
use atelier_store::SqlStore;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

pub struct TestServer {
    pub app: Router,
    pub service: Arc<Service>,
    pub admin_token: String,
    pub admin_password: String,
    /// The tokens the scheduler handed to launched jobs, by job name.
    pub launched: Arc<TokenKeeper>,
    _folder: tempfile::TempDir,
}

/// A compute backend that starts nothing: it keeps each job's token, as the job's runtime
/// would receive it, so that tests can act as the code inside a job.
pub struct TokenKeeper {
    tokens: Mutex<Vec<(String, String)>>,
    capacity: Capacity,
}

impl TokenKeeper {
    /// The token the runtime of job `name` was started with.
    pub fn token_of(&self, name: &str) -> Option<String> {
        self.tokens.lock().unwrap().iter().find(|(job, _)| job == name).map(|(_, token)| token.clone())
    }
}

impl ComputeBackend for TokenKeeper {
    fn kinds(&self) -> &'static [&'static str] {
        &["local", "amlcompute"]
    }

    fn placement(&self) -> Placement {
        Placement::Machine(self.capacity.clone())
    }

    fn check<'a>(&'a self, _compute: &'a Compute) -> PortFuture<'a, atelier_core::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn admit(&self, _compute: &Compute, _shape: &JobShape) -> Result<(), Refusal> {
        Ok(())
    }

    fn submit<'a>(
        &'a self,
        _compute: &'a Compute,
        job: &'a Job,
        token: &'a str,
        _gpus: &'a [u32],
    ) -> PortFuture<'a, atelier_core::Result<Submitted>> {
        self.tokens.lock().unwrap().push((job.name.clone(), token.to_owned()));
        let launched = Launched { pid: i64::from(std::process::id()), start: 0 };
        Box::pin(async move { Ok(Submitted { launched, shown: None }) })
    }

    /// Every runtime it "started" runs until the test reports its end.
    fn survey<'a>(
        &'a self,
        _compute: &'a Compute,
        launched: &'a [Launched],
    ) -> PortFuture<'a, atelier_core::Result<std::collections::HashMap<i64, BackendJob>>> {
        let seen = launched.iter().map(|launched| (launched.pid, BackendJob { phase: Phase::Running, shown: None }));
        let seen = seen.collect();
        Box::pin(async move { Ok(seen) })
    }

    fn cancel<'a>(&'a self, _compute: &'a Compute, _launched: Launched) -> PortFuture<'a, atelier_core::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn output_tail(&self, _compute: &Compute, _job: &str) -> Option<String> {
        None
    }
}

pub async fn server() -> TestServer {
    server_with(|service| service).await
}

/// A server whose service `configure` finishes (a master key, a serving port…). Jobs are
/// launched by a [`TokenKeeper`].
pub async fn server_with(configure: impl FnOnce(Service) -> Service) -> TestServer {
    let folder = tempfile::tempdir().unwrap();
    let (service, launched) = service_in(&folder).await;
    let service = Arc::new(configure(service));
    let secrets = service.bootstrap().await.unwrap().unwrap();
    assert!(service.bootstrap().await.unwrap().is_none(), "secrets are created only once");
    TestServer {
        app: router(AppState::new(service.clone())),
        service,
        admin_token: secrets.admin_token,
        admin_password: secrets.admin_password,
        launched,
        _folder: folder,
    }
}

async fn service_in(folder: &tempfile::TempDir) -> (Service, Arc<TokenKeeper>) {
    let store = SqlStore::connect(&database_url(folder)).await.unwrap();
    let blobs = BlobStore::open(folder.path().join("blobs").to_str().unwrap()).unwrap();
    let capacity = Capacity { cpus: 4.0, memory_mb: 8192, gpus: Vec::new(), max_jobs: None };
    let launched = Arc::new(TokenKeeper { tokens: Mutex::new(Vec::new()), capacity });
    (Service::new(Arc::new(store), blobs).with_backend(launched.clone()), launched)
}

fn database_url(folder: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", folder.path().join("db").display())
}

impl TestServer {
    /// The same server started again on its database and files, as after a restart: nothing
    /// that the old process kept in memory is there.
    pub async fn restarted(self) -> TestServer {
        let TestServer { app, service, admin_token, admin_password, _folder: folder, .. } = self;
        drop(app);
        drop(service);
        let (service, launched) = service_in(&folder).await;
        let service = Arc::new(service);
        TestServer {
            app: router(AppState::new(service.clone())),
            service,
            admin_token,
            admin_password,
            launched,
            _folder: folder,
        }
    }

    /// The URL of the server's SQLite database, for tests that go around the server.
    pub fn database_url(&self) -> String {
        database_url(&self._folder)
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
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
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Response { status, headers, body, bytes }
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

    /// Submits a command job to `default` as the administrator, lets the scheduler start it,
    /// and returns the job's name and the token its runtime (and the code it runs) gets.
    pub async fn running_job(&self) -> (String, String) {
        let submitted = self
            .post(
                "/api/v1/workspaces/default/jobs",
                &self.admin_token,
                serde_json::json!({ "yaml": "type: command\ncommand: echo hello\n" }),
            )
            .await;
        assert_eq!(submitted.status, StatusCode::OK, "{:?}", submitted.body);
        let name = submitted.body["name"].as_str().unwrap().to_owned();
        self.service.schedule_once().await.unwrap();
        let tokens = self.launched.tokens.lock().unwrap();
        let (_, token) = tokens.iter().find(|(job, _)| *job == name).expect("the scheduler launched the job");
        (name, token.clone())
    }

    pub async fn delete(&self, uri: &str, token: &str) -> Response {
        self.request(Method::DELETE, uri, Some(&format!("Bearer {token}")), Body::empty()).await
    }

    pub async fn put(&self, uri: &str, token: &str, json: Value) -> Response {
        self.request(Method::PUT, uri, Some(&format!("Bearer {token}")), Body::from(json.to_string())).await
    }

    pub async fn patch(&self, uri: &str, token: &str, json: Value) -> Response {
        self.request(Method::PATCH, uri, Some(&format!("Bearer {token}")), Body::from(json.to_string())).await
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
