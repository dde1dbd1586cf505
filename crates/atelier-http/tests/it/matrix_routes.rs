//! The authorization matrix's table: every route, with what it needs (see `matrix.rs`).

use atelier_core::authz::Action;

/// What a job's token may do to what an operation acts on (here always something that is not
/// its own: another run, another job, assets, accounts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum On {
    /// The workspace's records (experiments, runs, jobs, endpoints, computes): a job reads them.
    Workspace,
    /// Something a job's token never touches unless it is its own (another job, an artifact or
    /// logged model of another run, assets, accounts).
    NotItsOwn,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Needs {
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
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub query: &'static str,
    pub body: &'static str,
    pub needs: Needs,
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

pub const RUN: &str = "0123456789abcdef0123456789abcdef";
pub const ML: &str = "/ws/{workspace}/api/2.0/mlflow";
pub const AR: &str = "/ws/{workspace}/api/2.0/mlflow-artifacts";

/// Every route, with what it needs. The MLflow routes are listed under `/ws/{workspace}`, where
/// the principals' roles are; the same router serves `default` at the root.
pub const ROUTES: &[Route] = &[
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
    r("GET", "/api/v1/workspaces/{ws}/audit", private(RoleAssignmentsWrite)),
    r("GET", "/api/v1/audit", Admin),
    r("GET", "/api/v1/users", Admin),
    rb("POST", "/api/v1/users", r#"{"name":"made-here"}"#, Admin),
    rb("PATCH", "/api/v1/users/{name}", r#"{"disabled":false}"#, Admin),
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
    // Native: components.
    r("GET", "/api/v1/workspaces/{ws}/components", private(ComponentsRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/components",
        r#"{"yaml":"name: nothing\ncommand: echo\n"}"#,
        private(ComponentsWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/components/{name}/versions", private(ComponentsRead)),
    r("GET", "/api/v1/workspaces/{ws}/components/{name}/versions/{version}", private(ComponentsRead)),
    r("POST", "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/archive", private(ComponentsWrite)),
    r("POST", "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/restore", private(ComponentsWrite)),
    r("GET", "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/files", private(ComponentsRead)),
    r("GET", "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/files/{*path}", private(ComponentsRead)),
    // Native: schedules.
    r("GET", "/api/v1/workspaces/{ws}/schedules", act(SchedulesRead)),
    rb("POST", "/api/v1/workspaces/{ws}/schedules", r#"{"yaml":"name: nothing\n"}"#, act(SchedulesWrite)),
    r("GET", "/api/v1/workspaces/{ws}/schedules/{name}", act(SchedulesRead)),
    rb("PUT", "/api/v1/workspaces/{ws}/schedules/{name}", r#"{"yaml":"name: nothing\n"}"#, act(SchedulesWrite)),
    r("DELETE", "/api/v1/workspaces/{ws}/schedules/{name}", act(SchedulesDelete)),
    r("POST", "/api/v1/workspaces/{ws}/schedules/{name}/enable", act(SchedulesWrite)),
    r("POST", "/api/v1/workspaces/{ws}/schedules/{name}/disable", act(SchedulesWrite)),
    r("POST", "/api/v1/workspaces/{ws}/schedules/{name}/trigger", act(SchedulesWrite)),
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
    r("GET", "/api/v1/workspaces/{ws}/compute-instances", act(ComputesRead)),
    rb(
        "POST",
        "/api/v1/workspaces/{ws}/compute-instances",
        r#"{"yaml":"name: madehere\ntype: computeinstance\n"}"#,
        act(ComputesWrite),
    ),
    r("GET", "/api/v1/workspaces/{ws}/compute-instances/{name}", act(ComputesRead)),
    r("DELETE", "/api/v1/workspaces/{ws}/compute-instances/{name}", act(ComputesDelete)),
    r("POST", "/api/v1/workspaces/{ws}/compute-instances/{name}/start", act(ComputesStart)),
    r("POST", "/api/v1/workspaces/{ws}/compute-instances/{name}/stop", act(ComputesStop)),
    r("POST", "/api/v1/workspaces/{ws}/compute-instances/{name}/restart", act(ComputesRestart)),
    rb(
        "PUT",
        "/api/v1/workspaces/{ws}/compute-instances/{name}/sharing",
        r#"{"users":[]}"#,
        act(ComputesApplicationAccess),
    ),
    // Compute instances' JupyterLab: its owner's, or shared with them (only the role is
    // decided here, as no instance exists: the e2e suite checks owners).
    r("GET", "/ci/{ws}/{name}", Public),
    r("GET", "/ci/{ws}/{name}/", Public),
    r("GET", "/ci/{ws}/{name}/{*rest}", private(ComputesApplicationAccess)),
    r("POST", "/ci/{ws}/{name}/{*rest}", private(ComputesApplicationAccess)),
    r("PUT", "/ci/{ws}/{name}/{*rest}", private(ComputesApplicationAccess)),
    r("PATCH", "/ci/{ws}/{name}/{*rest}", private(ComputesApplicationAccess)),
    r("DELETE", "/ci/{ws}/{name}/{*rest}", private(ComputesApplicationAccess)),
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
    r("GET", "/login/oidc", Public),
    r("GET", "/login/oidc/callback", Public),
    r("GET", "/api/v1/auth/oidc", Public),
    rb("POST", "/api/v1/auth/oidc/token", r#"{"id_token":"not.a.token"}"#, Public),
    rb("POST", "/workspaces", "csrf=CSRF&name=made-here", Admin),
    r("GET", "/w/{ws}", private(WorkspaceRead)),
    r("GET", "/ws/{ws}/", Public),
    r("GET", "/w/{ws}/experiments/{id}", act(ExperimentsRead)),
    rb("POST", "/w/{ws}/experiments/{id}/{action}", "csrf=CSRF", act(ExperimentsDelete)),
    rq("GET", "/w/{ws}/compare", "runs=RUN&runs=fedcba9876543210fedcba9876543210", act(ExperimentsRead)),
    r("GET", "/w/{ws}/roles", private(RoleAssignmentsRead)),
    rb("POST", "/w/{ws}/roles", "csrf=CSRF&user=nobody&role=Reader", private(RoleAssignmentsWrite)),
    rb("POST", "/w/{ws}/roles/{user}/remove", "csrf=CSRF&role=Reader", private(RoleAssignmentsDelete)),
    r("GET", "/w/{ws}/audit", private(RoleAssignmentsWrite)),
    r("GET", "/audit", Admin),
    r("GET", "/account", SignedIn),
    rb("POST", "/account/tokens", "csrf=CSRF&description=matrix", SignedIn),
    rb(
        "POST",
        "/account/password",
        "csrf=CSRF&current=wrong-password&password=new-password-1&confirm=new-password-1",
        SignedIn,
    ),
    rb("POST", "/tokens/{id}/revoke", "csrf=CSRF", SignedIn),
    r("GET", "/users", Admin),
    rb("POST", "/users", "csrf=CSRF&name=made-in-studio", Admin),
    rb("POST", "/users/tokens", "csrf=CSRF&user=nobody", Admin),
    rb("POST", "/users/{name}/password", "csrf=CSRF&password=new-password-1", Admin),
    rb("POST", "/users/{name}/disabled", "csrf=CSRF&disabled=false", Admin),
    r("GET", "/w/{ws}/data", private(DataRead)),
    r("GET", "/w/{ws}/data/{name}", private(DataRead)),
    r("GET", "/w/{ws}/datastores", private(DatastoresRead)),
    r("GET", "/w/{ws}/environments", private(EnvironmentsRead)),
    r("GET", "/w/{ws}/environments/{name}", private(EnvironmentsRead)),
    r("GET", "/w/{ws}/components", private(ComponentsRead)),
    r("GET", "/w/{ws}/schedules", act(SchedulesRead)),
    r("GET", "/w/{ws}/compute", act(ComputesRead)),
    rb("POST", "/w/{ws}/compute/{name}/start", "csrf=CSRF", act(ComputesStart)),
    rb("POST", "/w/{ws}/compute/{name}/stop", "csrf=CSRF", act(ComputesStop)),
    r("GET", "/w/{ws}/schedules/{name}", act(SchedulesRead)),
    r("GET", "/w/{ws}/components/{name}", private(ComponentsRead)),
    r("GET", "/w/{ws}/components/{name}/versions/{version}/files/{*path}", private(ComponentsRead)),
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
