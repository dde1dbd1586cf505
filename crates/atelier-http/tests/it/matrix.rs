//! The authorization matrix, generated from the role table: every route of every router (the
//! native API, the MLflow API, the artifact proxy, the studio, health and scoring), for each
//! built-in role, a custom role with `NotActions`, an outsider, an administrator, a job's token
//! and no credentials, against what `atelier_core::authz` says each one may do.
//!
//! The routes are read from the sources (every `.route("…", method(handler)…)` under
//! `crates/atelier-http/src`), so a route added without an entry in `ROUTES` (`matrix_routes.rs`)
//! fails this test,
//! as does an entry whose route is gone. Each principal gets a server of its own, so that what
//! one may do (delete the workspace, say) changes nothing for the next. Requests name things
//! that do not exist: a permitted request is then a 404 or a 400, never a 401 or 403, and a
//! refused one must be a 403 (401 without credentials) whatever it names, which also shows that
//! every operation decides access before it looks anything up.

use crate::common::*;
use atelier_core::authz::{RoleDefinition, RoleScope, built_in_role};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use std::collections::BTreeSet;
use tower::ServiceExt;

use crate::matrix_routes::{AR, ML, Needs, On, ROUTES, RUN, Route};
use Needs::*;
use On::*;

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
        Who::Role(name) => built_in_role(name).cloned(),
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
        .replace("{*rest}", "api/status")
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
    path == "/"
        || path.starts_with("/w/")
        || ["/logout", "/workspaces", "/login", "/audit", "/account", "/users"].contains(&path)
        || path.starts_with("/account/")
        || path.starts_with("/users/")
        || path.starts_with("/tokens/")
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
