//! The authorization matrix, generated from the role table: every route of every router (the
//! native API, the MLflow API, the artifact proxy, the studio, health and scoring), for each
//! built-in role, a custom role with `NotActions`, an outsider, an administrator, a job's token
//! and no credentials, against what `atelier_core::authz` says each one may do.
//!
//! The routes are read from the sources (every `.route("…", method(handler)…)` under
//! `crates/atelier-http/src`), so a route added without an entry in [`ROUTES`] fails this test,
//! as does an entry whose route is gone. Each principal gets a server of its own, so that what
//! one may do (delete the workspace, say) changes nothing for the next. Requests name things
//! that do not exist: a permitted request is then a 404 or a 400, never a 401 or 403, and a
//! refused one must be a 403 (401 without credentials) whatever it names, which also shows that
//! every operation decides access before it looks anything up.

use crate::common::*;
use atelier_core::authz::{Action, RoleDefinition, RoleScope, built_in_role};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use std::collections::BTreeSet;
use tower::ServiceExt;

/// What a job's token may do to what an operation acts on (here always something that is not
/// its own: another run, another job, assets, accounts).
#[derive(Debug, Clone, Copy, PartialEq)]
enum On {
    /// The workspace's records (experiments, runs, jobs, endpoints, computes): a job reads them.
    Workspace,
    /// Something a job's token never touches unless it is its own (another job, an artifact or
    /// logged model of another run, assets, accounts).
    NotItsOwn,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    /// Nothing: health, the OpenAPI document, static files, the sign-in page.
    Public,
    /// Any credentials, a job's token too: who the caller is, the MLflow client's probe.
    Authenticated,
    /// A scoring request, which only the endpoint's own keys and tokens open.
    Scoring,
    /// Signing in with a user name and password in the form: a wrong pair is refused for anyone.
    SignIn,
    /// Any signed-in user, for their own account or a listing of what they may see; no job token.
    SignedIn,
    /// A server administrator.
    Admin,
    /// An action in the workspace.
    Act(Action, On),
    /// What only a job's runtime does to its own job.
    Runtime,
}

use Action::*;
use Needs::*;
use On::*;

const fn act(action: Action) -> Needs {
    Act(action, Workspace)
}

const fn private(action: Action) -> Needs {
    Act(action, NotItsOwn)
}

/// One route: method, path as mounted (`{…}` filled in by [`concrete`]), a query and a body that
/// the handler accepts (so that the request reaches the operation), and what it needs.
struct Route {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    body: &'static str,
    needs: Needs,
}

const fn r(method: &'static str, path: &'static str, needs: Needs) -> Route {
    Route { method, path, query: "", body: "", needs }
}

const fn rq(method: &'static str, path: &'static str, query: &'static str, needs: Needs) -> Route {
    Route { method, path, query, body: "", needs }
}

const fn rb(method: &'static str, path: &'static str, body: &'static str, needs: Needs) -> Route {
    Route { method, path, query: "", body, needs }
}

const RUN: &str = "0123456789abcdef0123456789abcdef";
const ML: &str = "/ws/{workspace}/api/2.0/mlflow";
const AR: &str = "/ws/{workspace}/api/2.0/mlflow-artifacts";

/// Every route, with what it needs. The MLflow routes are listed under `/ws/{workspace}`, where
/// the principals' roles are; the same router serves `default` at the root.
const ROUTES: &[Route] = &[
    // Health, documents, static files, scoring.
    r("GET", "/healthz", Public),
    r("GET", "/health", Public),
    r("GET", "/version", Public),
    r("GET", "/readyz", Public),
    r("GET", "/api/v1/openapi.json", Public),
    rb("POST", "/endpoints/{name}/score", "{}", Scoring),
    r("GET", "/api/3.0/mlflow/server-info", Authenticated),
    r("GET", "/ajax-api/3.0/mlflow/server-info", Authenticated),
    r("GET", "/metrics", SignedIn),
    // The artifact proxy.
    rq("GET", "/ws/{workspace}/api/2.0/mlflow-artifacts/artifacts", "path=0/RUN", private(ExperimentsRead)),
    rq("GET", "/ws/{workspace}/api/2.0/mlflow-artifacts/artifacts/", "path=0/RUN", private(ExperimentsRead)),
    r("GET", "/ws/{workspace}/api/2.0/mlflow-artifacts/artifacts/{*path}", private(ExperimentsRead)),
    rb("PUT", "/ws/{workspace}/api/2.0/mlflow-artifacts/artifacts/{*path}", "x", private(ExperimentsWrite)),
    r("DELETE", "/ws/{workspace}/api/2.0/mlflow-artifacts/artifacts/{*path}", private(ExperimentsWrite)),
    // MLflow: experiments.
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/experiments/create", r#"{"name":"made-here"}"#, act(ExperimentsWrite)),
    rq("GET", "/ws/{workspace}/api/2.0/mlflow/experiments/get", "experiment_id=999", act(ExperimentsRead)),
    rq(
        "GET",
        "/ws/{workspace}/api/2.0/mlflow/experiments/get-by-name",
        "experiment_name=nothing",
        act(ExperimentsRead),
    ),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/experiments/search", "{}", act(ExperimentsRead)),
    r("GET", "/ws/{workspace}/api/2.0/mlflow/experiments/search", act(ExperimentsRead)),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/experiments/update",
        r#"{"experiment_id":"999","new_name":"x"}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/experiments/delete",
        r#"{"experiment_id":"999"}"#,
        act(ExperimentsDelete),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/experiments/restore",
        r#"{"experiment_id":"999"}"#,
        act(ExperimentsDelete),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/experiments/set-experiment-tag",
        r#"{"experiment_id":"999","key":"k","value":"v"}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/experiments/delete-experiment-tag",
        r#"{"experiment_id":"999","key":"k"}"#,
        act(ExperimentsWrite),
    ),
    // MLflow: logged models.
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/logged-models",
        r#"{"experiment_id":"0","name":"m"}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/logged-models/search",
        r#"{"experiment_ids":["0"]}"#,
        act(ExperimentsRead),
    ),
    r("GET", "/ws/{workspace}/api/2.0/mlflow/logged-models/{model_id}", private(ExperimentsRead)),
    rb(
        "PATCH",
        "/ws/{workspace}/api/2.0/mlflow/logged-models/{model_id}",
        r#"{"status":"READY"}"#,
        private(ExperimentsWrite),
    ),
    r("DELETE", "/ws/{workspace}/api/2.0/mlflow/logged-models/{model_id}", private(ExperimentsDelete)),
    rb(
        "PATCH",
        "/ws/{workspace}/api/2.0/mlflow/logged-models/{model_id}/tags",
        r#"{"tags":[{"key":"k","value":"v"}]}"#,
        private(ExperimentsWrite),
    ),
    r("DELETE", "/ws/{workspace}/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}", private(ExperimentsWrite)),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/logged-models/{model_id}/params",
        r#"{"params":[{"key":"k","value":"v"}]}"#,
        private(ExperimentsWrite),
    ),
    r("GET", "/ws/{workspace}/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories", private(ExperimentsRead)),
    // MLflow: runs and what is logged to them.
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/log-metric",
        r#"{"run_id":"RUN","key":"m","value":1,"timestamp":1}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/log-parameter",
        r#"{"run_id":"RUN","key":"p","value":"1"}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/log-batch",
        r#"{"run_id":"RUN","metrics":[{"key":"m","value":1,"timestamp":1}]}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/set-tag",
        r#"{"run_id":"RUN","key":"t","value":"v"}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/delete-tag",
        r#"{"run_id":"RUN","key":"t"}"#,
        act(ExperimentsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/log-inputs",
        r#"{"run_id":"RUN","datasets":[]}"#,
        act(ExperimentsWrite),
    ),
    rq("GET", "/ws/{workspace}/api/2.0/mlflow/metrics/get-history", "run_id=RUN&metric_key=m", act(ExperimentsRead)),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/runs/outputs", r#"{"run_id":"RUN","models":[]}"#, act(ExperimentsWrite)),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/log-model",
        r#"{"run_id":"RUN","model_json":"{}"}"#,
        act(ExperimentsWrite),
    ),
    rq(
        "GET",
        "/ws/{workspace}/api/2.0/mlflow/metrics/get-history-bulk-interval",
        "run_ids=RUN&metric_key=m",
        act(ExperimentsRead),
    ),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/runs/create", r#"{"experiment_id":"0"}"#, act(ExperimentsWrite)),
    rq("GET", "/ws/{workspace}/api/2.0/mlflow/runs/get", "run_id=RUN", act(ExperimentsRead)),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/runs/update",
        r#"{"run_id":"RUN","status":"FINISHED"}"#,
        act(ExperimentsWrite),
    ),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/runs/delete", r#"{"run_id":"RUN"}"#, act(ExperimentsDelete)),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/runs/restore", r#"{"run_id":"RUN"}"#, act(ExperimentsDelete)),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/runs/search", r#"{"experiment_ids":["0"]}"#, act(ExperimentsRead)),
    // The run is looked up first, which a job may do; another run's files are then refused to
    // it (tests/e2e/test_job_token.py), which a run that does not exist cannot show here.
    rq("GET", "/ws/{workspace}/api/2.0/mlflow/artifacts/list", "run_id=RUN", act(ExperimentsRead)),
    // MLflow: the model registry.
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/create",
        r#"{"name":"made-here"}"#,
        private(ModelsWrite),
    ),
    rq("GET", "/ws/{workspace}/api/2.0/mlflow/registered-models/get", "name=nothing", private(ModelsRead)),
    r("GET", "/ws/{workspace}/api/2.0/mlflow/registered-models/search", private(ModelsRead)),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/registered-models/search", "{}", private(ModelsRead)),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/rename",
        r#"{"name":"nothing","new_name":"x"}"#,
        private(ModelsWrite),
    ),
    rb(
        "PATCH",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/update",
        r#"{"name":"nothing","description":"d"}"#,
        private(ModelsWrite),
    ),
    rb(
        "DELETE",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/delete",
        r#"{"name":"nothing"}"#,
        private(ModelsDelete),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/get-latest-versions",
        r#"{"name":"nothing"}"#,
        private(ModelsRead),
    ),
    rq(
        "GET",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/get-latest-versions",
        "name=nothing",
        private(ModelsRead),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/set-tag",
        r#"{"name":"nothing","key":"k","value":"v"}"#,
        private(ModelsWrite),
    ),
    rb(
        "DELETE",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/delete-tag",
        r#"{"name":"nothing","key":"k"}"#,
        private(ModelsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/alias",
        r#"{"name":"nothing","alias":"a","version":"1"}"#,
        private(ModelsWrite),
    ),
    rq("GET", "/ws/{workspace}/api/2.0/mlflow/registered-models/alias", "name=nothing&alias=a", private(ModelsRead)),
    rb(
        "DELETE",
        "/ws/{workspace}/api/2.0/mlflow/registered-models/alias",
        r#"{"name":"nothing","alias":"a"}"#,
        private(ModelsWrite),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/model-versions/create",
        r#"{"name":"nothing","source":"runs:/RUN/model"}"#,
        private(ModelsWrite),
    ),
    rq("GET", "/ws/{workspace}/api/2.0/mlflow/model-versions/get", "name=nothing&version=1", private(ModelsRead)),
    r("GET", "/ws/{workspace}/api/2.0/mlflow/model-versions/search", private(ModelsRead)),
    rb("POST", "/ws/{workspace}/api/2.0/mlflow/model-versions/search", "{}", private(ModelsRead)),
    rb(
        "PATCH",
        "/ws/{workspace}/api/2.0/mlflow/model-versions/update",
        r#"{"name":"nothing","version":"1","description":"d"}"#,
        private(ModelsWrite),
    ),
    rb(
        "DELETE",
        "/ws/{workspace}/api/2.0/mlflow/model-versions/delete",
        r#"{"name":"nothing","version":"1"}"#,
        private(ModelsDelete),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/model-versions/transition-stage",
        r#"{"name":"nothing","version":"1","stage":"Staging"}"#,
        private(ModelsWrite),
    ),
    rq(
        "GET",
        "/ws/{workspace}/api/2.0/mlflow/model-versions/get-download-uri",
        "name=nothing&version=1",
        private(ModelsRead),
    ),
    rb(
        "POST",
        "/ws/{workspace}/api/2.0/mlflow/model-versions/set-tag",
        r#"{"name":"nothing","version":"1","key":"k","value":"v"}"#,
        private(ModelsWrite),
    ),
    rb(
        "DELETE",
        "/ws/{workspace}/api/2.0/mlflow/model-versions/delete-tag",
        r#"{"name":"nothing","version":"1","key":"k"}"#,
        private(ModelsWrite),
    ),
    // Native: who, roles, users, tokens.
    r("GET", "/api/v1/whoami", Authenticated),
    r("GET", "/api/v1/workspaces/{ws}/roles", private(RoleAssignmentsRead)),
    rb("PUT", "/api/v1/workspaces/{ws}/roles", r#"{"user":"nobody","role":"Reader"}"#, private(RoleAssignmentsWrite)),
    r("DELETE", "/api/v1/workspaces/{ws}/roles/{user}", private(RoleAssignmentsDelete)),
    r("GET", "/api/v1/users", Admin),
    rb("POST", "/api/v1/users", r#"{"name":"made-here"}"#, Admin),
    r("GET", "/api/v1/tokens", SignedIn),
    rb("POST", "/api/v1/tokens", "{}", SignedIn),
    r("DELETE", "/api/v1/tokens/{id}", SignedIn),
    r("GET", "/api/v1/role-definitions", SignedIn),
    rb(
        "POST",
        "/api/v1/role-definitions",
        r#"{"Name":"Made here","Actions":["*/read"],"AssignableScopes":["/"]}"#,
        Admin,
    ),
    r("GET", "/api/v1/role-definitions/{name}", SignedIn),
    rb(
        "PUT",
        "/api/v1/role-definitions/{name}",
        r#"{"Name":"nothing","Actions":["*/read"],"AssignableScopes":["/"]}"#,
        Admin,
    ),
    r("DELETE", "/api/v1/role-definitions/{name}", Admin),
    // Native: data.
    r("GET", "/api/v1/workspaces/{ws}/data", private(DataRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/data",
        r#"{"name":"nothing","version":"1","path":"azureml://datastores/workspaceblobstore/paths/none"}"#,
        private(DataWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/data/{name}/versions", private(DataRead)),
    r("GET", "/api/v1/workspaces/{ws}/data/{name}/versions/{version}", private(DataRead)),
    rb("PATCH", "/api/v1/workspaces/{ws}/data/{name}/versions/{version}", r#"{"description":"d"}"#, private(DataWrite)),
    r("POST", "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/archive", private(DataWrite)),
    r("POST", "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/restore", private(DataWrite)),
    r("GET", "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/files", private(DataRead)),
    r("GET", "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/files/{*path}", private(DataRead)),
    rb("PUT", "/api/v1/workspaces/{ws}/data-uploads/{upload}/{*path}", "x", private(DataWrite)),
    // Native: datastores.
    r("GET", "/api/v1/workspaces/{ws}/datastores", private(DatastoresRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/datastores",
        r#"{"name":"nothing","type":"azure_blob","settings":{"account_name":"acct","container_name":"c"}}"#,
        private(DatastoresWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/datastores/{name}", private(DatastoresRead)),
    r("DELETE", "/api/v1/workspaces/{ws}/datastores/{name}", private(DatastoresDelete)),
    // Native: online endpoints.
    r("GET", "/api/v1/workspaces/{ws}/online-endpoints", act(EndpointsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/online-endpoints",
        r#"{"yaml":"name: made-here-ep\nauth_mode: key\n"}"#,
        act(EndpointsWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/online-endpoints/{name}", act(EndpointsRead)),
    rb("PATCH", "/api/v1/workspaces/{ws}/online-endpoints/{name}", r#"{"description":"d"}"#, act(EndpointsWrite)),
    r("DELETE", "/api/v1/workspaces/{ws}/online-endpoints/{name}", act(EndpointsDelete)),
    r("POST", "/api/v1/workspaces/{ws}/online-endpoints/{name}/get-credentials", act(EndpointsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/online-endpoints/{name}/regenerate-keys",
        r#"{"key_type":"primary"}"#,
        act(EndpointsRegenerateKeys),
    ),
    r("GET", "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments", act(EndpointsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments",
        r#"{"yaml":"name: blue\nendpoint_name: nothing\nmodel: azureml:nothing:1\n"}"#,
        act(EndpointsWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}", act(EndpointsRead)),
    rb(
        "PUT",
        "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}",
        r#"{"yaml":"name: blue\nendpoint_name: nothing\nmodel: azureml:nothing:1\n"}"#,
        act(EndpointsWrite),
    ),
    r("DELETE", "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}", act(EndpointsDelete)),
    r("GET", "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}/logs", act(EndpointsRead)),
    r("GET", "/api/v1/workspaces/{ws}/models/{name}/deployments", act(EndpointsRead)),
    // Native: environments.
    r("GET", "/api/v1/workspaces/{ws}/environments", private(EnvironmentsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/environments",
        r#"{"name":"nothing","version":"1","python":"3.11"}"#,
        private(EnvironmentsWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/environments/{name}/versions", private(EnvironmentsRead)),
    r("GET", "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}", private(EnvironmentsRead)),
    r("POST", "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/archive", private(EnvironmentsWrite)),
    r("POST", "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/restore", private(EnvironmentsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/build", private(EnvironmentsRead)),
    r("POST", "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/build", private(EnvironmentsWrite)),
    // Native: administration.
    rb("POST", "/api/v1/gc", "{}", Admin),
    // Native: jobs and computes.
    r("GET", "/api/v1/workspaces/{ws}/jobs", act(JobsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/jobs",
        r#"{"yaml":"type: command\ncommand: echo made-here\n"}"#,
        act(JobsWrite),
    ),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/job-checks",
        r#"{"yaml":"type: command\ncommand: echo made-here\n"}"#,
        act(JobsWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}", private(JobsRead)),
    r("POST", "/api/v1/workspaces/{ws}/jobs/{name}/cancel", private(JobsCancel)),
    r("POST", "/api/v1/workspaces/{ws}/jobs/{name}/archive", private(JobsWrite)),
    r("POST", "/api/v1/workspaces/{ws}/jobs/{name}/restore", private(JobsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/logs", private(JobsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/jobs/{name}/logs",
        r#"{"file":"user_logs/std_log.txt","offset":0,"text":"a line"}"#,
        Runtime,
    ),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/logs/stream", private(JobsRead)),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/snapshot", private(JobsRead)),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/snapshot/{*path}", private(JobsRead)),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/outputs/{output}", private(JobsRead)),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/outputs/{output}/files/{*path}", private(JobsRead)),
    rb("PUT", "/api/v1/workspaces/{ws}/jobs/{name}/outputs/{output}/files/{*path}", "x", Runtime),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/inputs/{input}", private(JobsRead)),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/inputs/{input}/files/{*path}", private(JobsRead)),
    r("GET", "/api/v1/workspaces/{ws}/jobs/{name}/plan", private(JobsRead)),
    rb("POST", "/api/v1/workspaces/{ws}/jobs/{name}/status", r#"{"status":"Running"}"#, Runtime),
    rb("PUT", "/api/v1/workspaces/{ws}/code-uploads/{snapshot}/{*path}", "x", act(JobsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/computes", act(ComputesRead)),
    rb("POST", "/api/v1/workspaces/{ws}/computes", r#"{"name":"madehere","type":"amlcompute"}"#, act(ComputesWrite)),
    r("GET", "/api/v1/workspaces/{ws}/computes/{name}", act(ComputesRead)),
    r("DELETE", "/api/v1/workspaces/{ws}/computes/{name}", act(ComputesDelete)),
    // Native: models.
    r("GET", "/api/v1/workspaces/{ws}/models", private(ModelsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/models",
        r#"{"name":"nothing","path":"runs:/RUN/model"}"#,
        private(ModelsWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/models/{name}/versions", private(ModelsRead)),
    r("GET", "/api/v1/workspaces/{ws}/models/{name}/versions/{version}", private(ModelsRead)),
    rb(
        "PATCH",
        "/api/v1/workspaces/{ws}/models/{name}/versions/{version}",
        r#"{"description":"d"}"#,
        private(ModelsWrite),
    ),
    r("POST", "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/archive", private(ModelsWrite)),
    r("POST", "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/restore", private(ModelsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/files", private(ModelsRead)),
    r("GET", "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/files/{*path}", private(ModelsRead)),
    rb("PUT", "/api/v1/workspaces/{ws}/models/{name}/uploads/{upload}/{*path}", "x", private(ModelsWrite)),
    // Native: tracking.
    r("GET", "/api/v1/workspaces/{ws}/experiments", act(ExperimentsRead)),
    rb("POST", "/api/v1/workspaces/{ws}/experiments", r#"{"name":"made-here"}"#, act(ExperimentsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/experiments/{id}", act(ExperimentsRead)),
    rb("PATCH", "/api/v1/workspaces/{ws}/experiments/{id}", r#"{"name":"x"}"#, act(ExperimentsWrite)),
    r("DELETE", "/api/v1/workspaces/{ws}/experiments/{id}", act(ExperimentsDelete)),
    r("POST", "/api/v1/workspaces/{ws}/experiments/{id}/restore", act(ExperimentsDelete)),
    r("GET", "/api/v1/workspaces/{ws}/runs", act(ExperimentsRead)),
    rb("POST", "/api/v1/workspaces/{ws}/runs", r#"{"experiment_id":"0"}"#, act(ExperimentsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/runs/{run_id}", act(ExperimentsRead)),
    rb("PATCH", "/api/v1/workspaces/{ws}/runs/{run_id}", r#"{"status":"FINISHED"}"#, act(ExperimentsWrite)),
    r("DELETE", "/api/v1/workspaces/{ws}/runs/{run_id}", act(ExperimentsDelete)),
    r("POST", "/api/v1/workspaces/{ws}/runs/{run_id}/restore", act(ExperimentsDelete)),
    rb("POST", "/api/v1/workspaces/{ws}/runs/{run_id}/log", r#"{"params":{"p":"1"}}"#, act(ExperimentsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/runs/{run_id}/metrics/{key}", act(ExperimentsRead)),
    r("GET", "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts", act(ExperimentsRead)),
    r("GET", "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts/{*path}", act(ExperimentsRead)),
    rb("PUT", "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts/{*path}", "x", act(ExperimentsWrite)),
    // Native: workspaces.
    r("GET", "/api/v1/workspaces", SignedIn),
    rb("POST", "/api/v1/workspaces", r#"{"name":"made-here"}"#, Admin),
    r("GET", "/api/v1/workspaces/{ws}", private(WorkspaceRead)),
    rb("PATCH", "/api/v1/workspaces/{ws}", r#"{"description":"d"}"#, private(WorkspaceWrite)),
    // The studio.
    r("GET", "/", SignedIn),
    r("GET", "/login", Public),
    rb("POST", "/login", "user=nobody&password=wrong", SignIn),
    rb("POST", "/workspaces", "csrf=CSRF&name=made-here", Admin),
    r("GET", "/w/{ws}", private(WorkspaceRead)),
    r("GET", "/ws/{ws}/", Public),
    r("GET", "/w/{ws}/experiments/{id}", act(ExperimentsRead)),
    rb("POST", "/w/{ws}/experiments/{id}/{action}", "csrf=CSRF", act(ExperimentsDelete)),
    rq("GET", "/w/{ws}/compare", "runs=RUN&runs=fedcba9876543210fedcba9876543210", act(ExperimentsRead)),
    r("GET", "/w/{ws}/roles", private(RoleAssignmentsRead)),
    rb("POST", "/w/{ws}/roles", "csrf=CSRF&user=nobody&role=Reader", private(RoleAssignmentsWrite)),
    rb("POST", "/w/{ws}/roles/{user}/remove", "csrf=CSRF&role=Reader", private(RoleAssignmentsDelete)),
    r("GET", "/w/{ws}/data", private(DataRead)),
    r("GET", "/w/{ws}/data/{name}", private(DataRead)),
    r("GET", "/w/{ws}/datastores", private(DatastoresRead)),
    r("GET", "/w/{ws}/environments", private(EnvironmentsRead)),
    r("GET", "/w/{ws}/environments/{name}", private(EnvironmentsRead)),
    r("GET", "/w/{ws}/jobs", act(JobsRead)),
    r("GET", "/w/{ws}/jobs/{name}", private(JobsRead)),
    rb("POST", "/w/{ws}/jobs/{name}/cancel", "csrf=CSRF", private(JobsCancel)),
    r("GET", "/w/{ws}/jobs/{name}/log-stream", private(JobsRead)),
    r("GET", "/w/{ws}/jobs/{name}/files/{kind}/{*path}", private(JobsRead)),
    r("GET", "/w/{ws}/endpoints", act(EndpointsRead)),
    r("GET", "/w/{ws}/endpoints/{name}", act(EndpointsRead)),
    rb("POST", "/w/{ws}/endpoints/{name}/traffic", "csrf=CSRF&traffic=blue%3D100", act(EndpointsWrite)),
    rb("POST", "/w/{ws}/endpoints/{name}/test", "csrf=CSRF&body=%7B%7D", act(EndpointsRead)),
    r("GET", "/w/{ws}/models", private(ModelsRead)),
    r("GET", "/w/{ws}/models/{name}", private(ModelsRead)),
    r("GET", "/w/{ws}/models/{name}/versions/{version}", private(ModelsRead)),
    r("GET", "/w/{ws}/runs/{run_id}", act(ExperimentsRead)),
    r("GET", "/w/{ws}/runs/{run_id}/artifacts/{*path}", act(ExperimentsRead)),
    r("GET", "/w/{ws}/runs/{run_id}/folder", act(ExperimentsRead)),
    r("GET", "/static/studio.css", Public),
    r("GET", "/static/studio.js", Public),
    r("GET", "/static/favicon.svg", Public),
    r("GET", "/favicon.ico", Public),
    // Last: what ends the studio session, and what deletes the workspace every other request
    // is made in.
    rb("POST", "/logout", "csrf=CSRF", SignedIn),
    r("DELETE", "/api/v1/workspaces/{ws}", private(WorkspaceDelete)),
];

/// Where each source file's routes are mounted, as [`ROUTES`] writes them.
fn mount(file: &str) -> &'static str {
    if file.starts_with("mlflow") {
        ML
    } else if file == "artifacts.rs" {
        AR
    } else if file.starts_with("native/") {
        "/api/v1"
    } else {
        ""
    }
}

/// Every `METHOD path` the routers define, read from the sources.
fn routes_in_sources() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeSet::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|extension| extension != "rs") {
                continue;
            }
            let file = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let source = std::fs::read_to_string(&path).unwrap();
            let mut rest = source.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + ".route(".len()..];
                let Some(open) = rest.find('"') else { break };
                let after = &rest[open + 1..];
                let close = after.find('"').unwrap();
                let route = &after[..close];
                // The call's text, to its closing parenthesis.
                let mut depth = 1;
                let mut end = 0;
                for (index, character) in rest.char_indices() {
                    match character {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        end = index;
                        break;
                    }
                }
                let call = &rest[..end];
                for method in ["get", "post", "put", "delete", "patch"] {
                    let token = format!("{method}(");
                    let mentioned = call.match_indices(&token).any(|(index, _)| {
                        index == 0 || !call[..index].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    });
                    if mentioned {
                        found.insert(format!("{} {}{}", method.to_uppercase(), mount(&file), route));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_route_has_an_entry_and_every_entry_a_route() {
    let in_sources = routes_in_sources();
    let in_table: BTreeSet<String> = ROUTES.iter().map(|route| format!("{} {}", route.method, route.path)).collect();
    assert_eq!(in_table.len(), ROUTES.len(), "a route is listed twice");
    let missing: Vec<&String> = in_sources.difference(&in_table).collect();
    assert!(missing.is_empty(), "routes without an entry in the matrix (add each to ROUTES): {missing:#?}");
    let stale: Vec<&String> = in_table.difference(&in_sources).collect();
    assert!(stale.is_empty(), "entries whose route is gone: {stale:#?}");
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Role(&'static str),
    Custom,
    Outsider,
    Admin,
    Job,
    Nobody,
}

const CUSTOM: &str = "Model and endpoint operator";

fn custom_role() -> RoleDefinition {
    RoleDefinition::custom(
        CUSTOM,
        "reads everything, runs models and endpoints, deletes no model, reads no key",
        vec![
            "*/read".into(),
            "Microsoft.MachineLearningServices/workspaces/models/*".into(),
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*".into(),
        ],
        vec![
            "Microsoft.MachineLearningServices/workspaces/models/delete".into(),
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*/action".into(),
        ],
        vec![RoleScope::Server],
    )
    .unwrap()
}

/// What the role table says: whether `who` may do what `needs` names.
fn permitted(who: Who, needs: Needs) -> bool {
    let role = match who {
        Who::Role(name) => built_in_role(name),
        Who::Custom => Some(custom_role()),
        _ => None,
    };
    match (who, needs) {
        (_, Public) => true,
        (_, Scoring | SignIn) => false,
        (Who::Nobody, _) => false,
        (_, Authenticated) => true,
        (Who::Job, Act(action, Workspace)) => action.is_read(),
        (Who::Job, _) => false,
        (_, SignedIn) => true,
        (Who::Admin, Admin | Act(..)) => true,
        (_, Admin) => false,
        (_, Runtime) => false,
        (_, Act(action, _)) => role.is_some_and(|role| role.permits(action)),
    }
}

/// `{…}` filled in with things that do not exist (the workspace excepted).
fn concrete(template: &str) -> String {
    template
        .replace("{workspace}", "matrix")
        .replace("{ws}", "matrix")
        .replace("{run_id}", RUN)
        .replace("{model_id}", "m-0123456789abcdef0123456789abcdef")
        .replace("{*path}", "a.txt")
        .replace("{version}", "1")
        .replace("{id}", "999")
        .replace("{tag_key}", "k")
        .replace("{user}", "nobody")
        .replace("{deployment}", "blue")
        .replace("{output}", "out")
        .replace("{input}", "in")
        .replace("{upload}", "u1")
        .replace("{snapshot}", "s1")
        .replace("{key}", "m")
        .replace("{kind}", "outputs")
        .replace("{action}", "delete")
        .replace("{name}", "nothing")
        .replace("RUN", RUN)
}

struct Asker {
    server: TestServer,
    who: Who,
    /// `Authorization` for the APIs.
    bearer: Option<String>,
    /// The studio's cookie and form token, for users who sign in.
    cookie: Option<(String, String)>,
}

async fn asker(who: Who) -> Asker {
    // Jobs are never started here: whether the machine can confine them does not matter.
    let server = server_with(|service| service.with_confinement(None, true)).await;
    let admin = server.admin_token.clone();
    let created = server.post("/api/v1/workspaces", &admin, json!({ "name": "matrix" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let mut user = None;
    let bearer = match who {
        Who::Nobody => None,
        Who::Admin => {
            user = Some(("admin".to_owned(), server.admin_password.clone()));
            Some(admin.clone())
        }
        Who::Job => {
            let submitted = server
                .post("/api/v1/workspaces/matrix/jobs", &admin, json!({ "yaml": "type: command\ncommand: echo hi\n" }))
                .await;
            assert_eq!(submitted.status, StatusCode::OK, "{:?}", submitted.body);
            let name = submitted.body["name"].as_str().unwrap().to_owned();
            server.service.schedule_once().await.unwrap();
            Some(server.launched.token_of(&name).expect("the scheduler launched the job"))
        }
        Who::Role(_) | Who::Custom | Who::Outsider => {
            let name = "member";
            let made = server.post("/api/v1/users", &admin, json!({ "name": name, "password": "password123" })).await;
            assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
            let role = match who {
                Who::Role(role) => Some(role.to_owned()),
                Who::Custom => {
                    let definition = custom_role();
                    let body = json!({
                        "Name": definition.name,
                        "Actions": definition.actions,
                        "NotActions": definition.not_actions,
                        "AssignableScopes": ["/"],
                    });
                    let defined = server.post("/api/v1/role-definitions", &admin, body).await;
                    assert_eq!(defined.status, StatusCode::CREATED, "{:?}", defined.body);
                    Some(CUSTOM.to_owned())
                }
                _ => None,
            };
            if let Some(role) = role {
                let assigned =
                    server.put("/api/v1/workspaces/matrix/roles", &admin, json!({ "user": name, "role": role })).await;
                assert_eq!(assigned.status, StatusCode::NO_CONTENT, "{:?}", assigned.body);
            }
            user = Some((name.to_owned(), "password123".to_owned()));
            let token = server.post("/api/v1/tokens", &admin, json!({ "user": name })).await;
            Some(token.body["token"].as_str().unwrap().to_owned())
        }
    };
    let cookie = match user {
        Some((name, password)) => Some(sign_in(&server, &name, &password).await),
        None => None,
    };
    Asker { server, who, bearer: bearer.map(|token| format!("Bearer {token}")), cookie }
}

/// Signs in to the studio: the session cookie and the form token its pages carry.
async fn sign_in(server: &TestServer, user: &str, password: &str) -> (String, String) {
    let form = format!(
        "user={user}&password={}&next=%2F",
        form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>()
    );
    let request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let response = server.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let request = Request::get("/").header("cookie", &cookie).body(Body::empty()).unwrap();
    let page = server.app.clone().oneshot(request).await.unwrap().into_body().collect().await.unwrap().to_bytes();
    let page = String::from_utf8_lossy(&page);
    let at = page.find(r#"name="csrf" value=""#).map(|at| at + r#"name="csrf" value=""#.len()).unwrap_or(0);
    let csrf = page[at..].split('"').next().unwrap_or_default().to_owned();
    (cookie, csrf)
}

/// What an answer says about access: permitted, refused, or asked to authenticate.
#[derive(Debug, PartialEq)]
enum Outcome {
    Permitted,
    Refused,
    Unauthenticated,
}

fn studio(path: &str) -> bool {
    path == "/" || path.starts_with("/w/") || path == "/logout" || path == "/workspaces" || path == "/login"
}

async fn ask(asker: &Asker, route: &Route) -> (Outcome, u16, String) {
    let mut uri = concrete(route.path);
    if !route.query.is_empty() {
        uri.push('?');
        uri.push_str(&concrete(route.query));
    }
    let method: Method = route.method.parse().unwrap();
    let is_studio = studio(route.path);
    let mut request = Request::builder().method(method).uri(&uri);
    let mut body = concrete(route.body);
    if is_studio {
        if let Some((cookie, csrf)) = &asker.cookie {
            request = request.header("cookie", cookie);
            body = body.replace("CSRF", csrf);
        }
        request = request.header("content-type", "application/x-www-form-urlencoded");
    } else {
        if let Some(bearer) = &asker.bearer {
            request = request.header("authorization", bearer);
        }
        request = request.header("content-type", "application/json");
    }
    let response = asker.server.app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|value| form_urlencoded::parse(value.as_bytes()).map(|(k, v)| format!("{k}={v}")).collect::<String>())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>();
    let refusal = ["does not permit", "has no role", "needs a server administrator", "may not"];
    let outcome = match status.as_u16() {
        401 => Outcome::Unauthenticated,
        403 => Outcome::Refused,
        303 if location.starts_with("/login?next") => Outcome::Unauthenticated,
        303 if refusal.iter().any(|words| location.contains(words)) => Outcome::Refused,
        _ => Outcome::Permitted,
    };
    (outcome, status.as_u16(), format!("{text} {location}"))
}

#[tokio::test]
async fn every_route_answers_every_principal_as_the_role_table_says() {
    let principals = [
        Who::Role("Owner"),
        Who::Role("Contributor"),
        Who::Role("Reader"),
        Who::Role("AzureML Data Scientist"),
        Who::Role("AzureML Compute Operator"),
        Who::Custom,
        Who::Outsider,
        Who::Admin,
        Who::Job,
        Who::Nobody,
    ];
    let mut wrong = Vec::new();
    let mut cells = 0;
    for who in principals {
        let asker = asker(who).await;
        for route in ROUTES {
            cells += 1;
            let expected = match (permitted(who, route.needs), who) {
                (true, _) => Outcome::Permitted,
                (false, Who::Nobody) => Outcome::Unauthenticated,
                (false, Who::Job) if studio(route.path) => Outcome::Unauthenticated,
                (false, _) if route.needs == Scoring => Outcome::Unauthenticated,
                (false, _) => Outcome::Refused,
            };
            // A job's token does not sign in to the studio: pages send it to sign in.
            let expected = match (who, studio(route.path), expected) {
                (Who::Job, true, Outcome::Permitted) if route.needs != Public => Outcome::Unauthenticated,
                (_, _, expected) => expected,
            };
            let (outcome, status, text) = ask(&asker, route).await;
            // Scoring needs the endpoint's own credentials: a user's are refused, an endpoint
            // that does not exist is not found, and a server without a serving layer serves
            // nothing, for anyone.
            let right = match route.needs {
                Scoring => matches!(status, 401 | 404 | 503),
                SignIn => status == 401,
                _ => outcome == expected,
            };
            if !right || (status >= 500 && route.needs != Scoring) {
                wrong.push(format!(
                    "{:?} {} {}: expected {expected:?}, got {outcome:?} ({status}) {text}",
                    asker.who, route.method, route.path
                ));
            }
        }
    }
    println!("authorization matrix: {} routes x {} principals = {cells} requests", ROUTES.len(), principals.len());
    assert!(wrong.is_empty(), "{} of {cells} answers differ from the role table:\n{}", wrong.len(), wrong.join("\n"));
}
