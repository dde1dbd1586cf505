//! A workspace's members and their roles.

use super::common::*;
use super::session::{Browser, Layout, forged_form, render, urlencode};
use super::workspaces::WorkspaceQuery;
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "roles.html")]
pub(super) struct RolesPage {
    layout: Layout,
    workspace: String,
    members: Vec<(String, String)>,
    /// The roles that may be assigned here, built-in first.
    roles: Vec<String>,
    can_manage: bool,
    error: Option<String>,
    /// The latest role changes, from the audit log (for those who manage members).
    rows: Vec<super::audit::AuditRow>,
}

pub(crate) async fn roles(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(query): Query<WorkspaceQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let members = state.service.list_roles(principal, &ws).await?;
        let can_manage =
            state.service.may(principal, &workspace, atelier_core::authz::Action::RoleAssignmentsWrite).await;
        let roles = if can_manage { state.service.assignable_roles(principal, &ws).await? } else { Vec::new() };
        Ok::<_, Error>((workspace, members, roles, can_manage))
    }
    .await;
    let (workspace, members, roles, can_manage) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let changes =
        super::audit::AuditFilter { action: "Microsoft.Authorization/roleAssignments/*".into(), ..Default::default() };
    let rows = if can_manage {
        match super::audit::audit_rows(&state, &browser, Some(workspace.as_str()), &changes).await {
            Ok((rows, _)) => rows,
            Err(error) => return error_page(&browser, error),
        }
    } else {
        Vec::new()
    };
    let page = RolesPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("members", format!("/w/{workspace}/roles")),
            ],
        ),
        workspace: workspace.to_string(),
        members: members.into_iter().map(|(user, role)| (user.to_string(), role)).collect(),
        roles,
        can_manage,
        error: query.error,
        rows,
    };
    render(page, StatusCode::OK)
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    role: String,
}

pub(super) fn back_to_roles(ws: &str, outcome: Result<(), Error>) -> Response {
    let mut target = format!("/w/{}/roles", urlencode(ws));
    if let Err(error) = outcome {
        // The page shows the error; the audit log records it.
        atelier_service::audit::note_failure(error.code.as_str());
        target.push_str(&format!("?error={}", urlencode(&error.message)));
    }
    Redirect::to(&target).into_response()
}

pub(crate) async fn assign_role(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let outcome = state.service.assign_role(&browser.session.principal, &ws, form.user.trim(), &form.role).await;
    back_to_roles(&ws, outcome)
}

pub(crate) async fn remove_role(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, user)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let role = Some(form.role.trim()).filter(|role| !role.is_empty());
    let outcome = state.service.remove_role(&browser.session.principal, &ws, &user, role).await;
    back_to_roles(&ws, outcome)
}
