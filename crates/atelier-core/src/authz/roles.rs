//! Role definitions as Azure writes them: `Actions` granted, `NotActions` taken away from
//! them, and the scopes where the role may be assigned. Built-in and custom roles have the
//! same form and are decided by the same [`RoleDefinition::permits`].
//!
//! An action pattern is an action string where `*` stands for any text (slashes included),
//! compared without regard to case, as Azure compares them. A `/*/` in a pattern also stands
//! for a single `/`, so that `workspaces/computes/*/write` covers `workspaces/computes/write`
//! (how Azure's built-in AzureML Data Scientist role keeps computes out of its reach).

use super::actions::{ACTIONS, Action};
use crate::error::{Error, Result};
use crate::names::WorkspaceName;

/// Where a role may be assigned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleScope {
    /// Every workspace of the server (`/`; also Azure's subscription and resource-group scopes).
    Server,
    /// One workspace (`/workspaces/<name>`, or Azure's long form that ends in it).
    Workspace(WorkspaceName),
}

impl RoleScope {
    /// Reads a scope: `/`, `/workspaces/<name>`, or an Azure scope
    /// (`/subscriptions/<s>[/resourceGroups/<g>[/providers/Microsoft.MachineLearningServices/workspaces/<name>]]`).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || {
            Error::invalid(format!(
                "invalid scope '{text}': expected '/', '/workspaces/<name>', or an Azure scope such as \
                 '/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.MachineLearningServices/workspaces/<name>'"
            ))
        };
        let trimmed = text.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(RoleScope::Server);
        }
        let segments: Vec<&str> = trimmed.strip_prefix('/').ok_or_else(invalid)?.split('/').collect();
        match segments.as_slice() {
            ["workspaces", name] => Ok(RoleScope::Workspace(WorkspaceName::parse(name)?)),
            ["subscriptions", _] | ["subscriptions", _, "resourceGroups", _] => Ok(RoleScope::Server),
            ["subscriptions", _, "resourceGroups", _, "providers", provider, "workspaces", name]
                if provider.eq_ignore_ascii_case("Microsoft.MachineLearningServices") =>
            {
                Ok(RoleScope::Workspace(WorkspaceName::parse(name)?))
            }
            _ => Err(invalid()),
        }
    }

    /// Whether a role with this scope may be assigned on `workspace`.
    pub fn covers(&self, workspace: &WorkspaceName) -> bool {
        match self {
            RoleScope::Server => true,
            RoleScope::Workspace(name) => name == workspace,
        }
    }
}

impl std::fmt::Display for RoleScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoleScope::Server => f.write_str("/"),
            RoleScope::Workspace(name) => write!(f, "/workspaces/{name}"),
        }
    }
}

/// A role: built-in or defined by a server administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub name: String,
    pub description: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub assignable_scopes: Vec<RoleScope>,
    pub built_in: bool,
}

/// The most characters of a role's name.
pub const ROLE_NAME_MAX: usize = 128;

impl RoleDefinition {
    /// A custom role, checked: a name that is no built-in role's, at least one action, every
    /// pattern known (an unknown one is named, with the nearest known action strings), and at
    /// least one scope.
    pub fn custom(
        name: &str,
        description: &str,
        actions: Vec<String>,
        not_actions: Vec<String>,
        assignable_scopes: Vec<RoleScope>,
    ) -> Result<Self> {
        let name = name.trim();
        let length = name.chars().count();
        if length == 0 || length > ROLE_NAME_MAX || name.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "invalid role name '{}': expected 1 to {ROLE_NAME_MAX} characters without control characters",
                name.escape_debug()
            )));
        }
        if let Some(built_in) = built_in_role(name) {
            return Err(Error::invalid(format!(
                "role name '{name}' is the built-in role '{}': choose another name",
                built_in.name
            )));
        }
        if description.chars().count() > 1000 || description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::invalid("Description: expected at most 1000 characters without control characters"));
        }
        if actions.is_empty() {
            return Err(Error::invalid(format!(
                "role '{name}': Actions is empty: a role must grant at least one action"
            )));
        }
        for (field, patterns) in [("Actions", &actions), ("NotActions", &not_actions)] {
            for (index, pattern) in patterns.iter().enumerate() {
                check_pattern(pattern).map_err(|message| Error::invalid(format!("{field}[{index}]: {message}")))?;
            }
        }
        if assignable_scopes.is_empty() {
            return Err(Error::invalid(format!(
                "role '{name}': AssignableScopes is empty: name '/' for every workspace, or '/workspaces/<name>'"
            )));
        }
        let mut scopes = assignable_scopes;
        scopes.sort();
        scopes.dedup();
        Ok(RoleDefinition {
            name: name.to_owned(),
            description: description.to_owned(),
            actions,
            not_actions,
            assignable_scopes: scopes,
            built_in: false,
        })
    }

    /// Whether the role grants `action`: one of its `Actions` matches and none of its
    /// `NotActions` does. [`Action::ServerAdmin`] is granted by no role.
    pub fn permits(&self, action: Action) -> bool {
        let info = action.info();
        info.assignable
            && self.actions.iter().any(|pattern| pattern_matches(pattern, info.azure))
            && !self.not_actions.iter().any(|pattern| pattern_matches(pattern, info.azure))
    }

    /// Every action the role grants, in the table's order.
    pub fn granted(&self) -> Vec<Action> {
        ACTIONS.iter().map(|info| info.action).filter(|action| self.permits(*action)).collect()
    }

    /// Whether the role may be assigned on `workspace`.
    pub fn assignable_on(&self, workspace: &WorkspaceName) -> bool {
        self.assignable_scopes.iter().any(|scope| scope.covers(workspace))
    }
}

/// Checks one action pattern: action-string characters only, and at least one known action
/// that a role can grant matches it; else says what is wrong, with the nearest known actions.
pub fn check_pattern(pattern: &str) -> std::result::Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '*' | '_' | '-');
    if pattern.is_empty() || pattern.len() > 256 || !pattern.chars().all(allowed) {
        return Err(format!(
            "invalid action '{}': expected letters, digits, '.', '/', '_', '-' and '*'",
            pattern.escape_debug()
        ));
    }
    let known = ACTIONS.iter().filter(|info| info.assignable);
    if known.clone().any(|info| pattern_matches(pattern, info.azure)) {
        return Ok(());
    }
    let suggestion = crate::names::did_you_mean(pattern, &known.map(|info| info.azure.to_owned()).collect::<Vec<_>>());
    Err(format!("unknown action '{pattern}': it matches none of Atelier's actions{suggestion}"))
}

/// Whether `pattern` (with `*` wildcards) matches the action string `action`, ignoring case.
pub fn pattern_matches(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let action = action.to_ascii_lowercase();
    glob(pattern.as_bytes(), action.as_bytes())
}

/// Wildcard matching by dynamic programming (linear in pattern × text, whatever the stars):
/// `matches[i][j]` is whether `pattern[i..]` matches `text[j..]`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let width = text.len() + 1;
    let mut matches = vec![false; (pattern.len() + 1) * width];
    matches[pattern.len() * width + text.len()] = true;
    for i in (0..pattern.len()).rev() {
        for j in (0..=text.len()).rev() {
            let here = match pattern[i] {
                // Nothing more of the text, or one more character of it.
                b'*' => {
                    let more = matches[(i + 1) * width + j] || (j < text.len() && matches[i * width + j + 1]);
                    // "/*/" also stands for a single "/": the text goes on right after the slash.
                    let empty_segment = i > 0
                        && pattern[i - 1] == b'/'
                        && pattern.get(i + 1) == Some(&b'/')
                        && matches[(i + 2) * width + j];
                    more || empty_segment
                }
                byte => j < text.len() && text[j] == byte && matches[(i + 1) * width + j + 1],
            };
            matches[i * width + j] = here;
        }
    }
    matches[0]
}

const MLS: &str = "Microsoft.MachineLearningServices";

fn built_in(name: &str, description: &str, actions: &[&str], not_actions: &[&str]) -> RoleDefinition {
    let expand = |patterns: &[&str]| patterns.iter().map(|pattern| pattern.replace("{mls}", MLS)).collect();
    RoleDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        actions: expand(actions),
        not_actions: expand(not_actions),
        assignable_scopes: vec![RoleScope::Server],
        built_in: true,
    }
}

/// The built-in roles, Azure's: Owner, Contributor, Reader, AzureML Data Scientist and
/// AzureML Compute Operator, made once. (Azure's Data Scientist also excludes `listKeys` actions
/// of the workspace and its computes, and hubs and feature stores, which Atelier does not have.)
pub fn built_in_roles() -> &'static [RoleDefinition] {
    static ROLES: std::sync::OnceLock<Vec<RoleDefinition>> = std::sync::OnceLock::new();
    ROLES.get_or_init(|| {
        vec![
            built_in("Owner", "Everything in the workspace, including who has access to it.", &["*"], &[]),
            built_in(
                "Contributor",
                "Everything in the workspace except granting or removing access.",
                &["*"],
                &["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"],
            ),
            built_in("Reader", "Read everything in the workspace; change nothing.", &["*/read"], &[]),
            built_in(
                "AzureML Data Scientist",
                "Everything inside the workspace (jobs, assets, datastores, endpoints) except changing or deleting \
                 the workspace, creating or deleting computes, and access.",
                &[
                    "{mls}/workspaces/*/read",
                    "{mls}/workspaces/*/action",
                    "{mls}/workspaces/*/delete",
                    "{mls}/workspaces/*/write",
                ],
                &[
                    "{mls}/workspaces/delete",
                    "{mls}/workspaces/write",
                    "{mls}/workspaces/computes/*/write",
                    "{mls}/workspaces/computes/*/delete",
                ],
            ),
            built_in(
                "AzureML Compute Operator",
                "Create, change and delete computes; nothing else (combine it with Reader or AzureML Data Scientist).",
                &["{mls}/workspaces/computes/*"],
                &[],
            ),
        ]
    })
}

/// The built-in role called `name`, ignoring case.
pub fn built_in_role(name: &str) -> Option<&'static RoleDefinition> {
    built_in_roles().iter().find(|role| role.name.eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(name: &str) -> Vec<Action> {
        built_in_role(name).expect("a built-in role").granted()
    }

    #[test]
    fn patterns_match_as_azure_writes_them() {
        let cases = [
            ("*", "Microsoft.MachineLearningServices/workspaces/read", true),
            ("*/read", "Microsoft.Authorization/roleAssignments/read", true),
            ("*/read", "Microsoft.MachineLearningServices/workspaces/write", false),
            (
                "microsoft.machinelearningservices/WORKSPACES/*/read",
                "Microsoft.MachineLearningServices/workspaces/models/read",
                true,
            ),
            (
                "Microsoft.MachineLearningServices/workspaces/*/read",
                "Microsoft.MachineLearningServices/workspaces/read",
                true,
            ),
            (
                "Microsoft.MachineLearningServices/workspaces/computes/*/write",
                "Microsoft.MachineLearningServices/workspaces/computes/write",
                true,
            ),
            (
                "Microsoft.MachineLearningServices/workspaces/computes/*/write",
                "Microsoft.MachineLearningServices/workspaces/models/write",
                false,
            ),
            (
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*",
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action",
                true,
            ),
            (
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*",
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                false,
            ),
            ("Microsoft.Authorization/*", "Microsoft.Authorization/roleAssignments/write", true),
            (
                "Microsoft.MachineLearningServices/workspaces/*/action",
                "Microsoft.MachineLearningServices/workspaces/jobs/cancel/action",
                true,
            ),
        ];
        for (pattern, action, expected) in cases {
            assert_eq!(pattern_matches(pattern, action), expected, "{pattern} ~ {action}");
        }
    }

    /// The built-in roles, action by action, so that a change to one cell is a visible change.
    #[test]
    fn built_in_roles_grant_what_azure_s_do() {
        use Action::*;
        let all_assignable: Vec<Action> =
            ACTIONS.iter().filter(|info| info.assignable).map(|info| info.action).collect();
        assert_eq!(granted("Owner"), all_assignable);
        let contributor: Vec<Action> = all_assignable
            .iter()
            .copied()
            .filter(|action| !matches!(action, RoleAssignmentsWrite | RoleAssignmentsDelete))
            .collect();
        assert_eq!(granted("contributor"), contributor);
        let reads: Vec<Action> = all_assignable.iter().copied().filter(|action| action.is_read()).collect();
        assert_eq!(granted("Reader"), reads);
        assert_eq!(
            granted("AzureML Compute Operator"),
            [
                ComputesRead,
                ComputesWrite,
                ComputesDelete,
                ComputesStart,
                ComputesStop,
                ComputesRestart,
                ComputesApplicationAccess
            ]
        );
        let scientist = granted("AzureML Data Scientist");
        for refused in
            [WorkspaceWrite, WorkspaceDelete, ComputesWrite, ComputesDelete, RoleAssignmentsRead, RoleAssignmentsWrite]
        {
            assert!(!scientist.contains(&refused), "Data Scientist may not {refused}");
        }
        for allowed in [
            WorkspaceRead,
            ComputesRead,
            ComputesStart,
            ComputesStop,
            ComputesApplicationAccess,
            JobsWrite,
            JobsCancel,
            EndpointsListKeys,
            DatastoresWrite,
            ModelsDelete,
        ] {
            assert!(scientist.contains(&allowed), "Data Scientist may {allowed}");
        }
        assert!(built_in_roles().iter().all(|role| !role.permits(ServerAdmin)), "no role makes an administrator");
        for role in built_in_roles() {
            for pattern in role.actions.iter().chain(&role.not_actions) {
                assert_eq!(check_pattern(pattern), Ok(()), "{}", role.name);
            }
        }
    }

    #[test]
    fn a_custom_role_takes_its_not_actions_away() {
        let role = RoleDefinition::custom(
            "Endpoint operator",
            "Runs endpoints, without their keys.",
            vec!["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*".into(), "*/read".into()],
            vec!["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*/action".into()],
            vec![RoleScope::parse("/workspaces/team-a").unwrap()],
        )
        .unwrap();
        assert!(role.permits(Action::EndpointsWrite) && role.permits(Action::ModelsRead));
        assert!(!role.permits(Action::EndpointsListKeys) && !role.permits(Action::ModelsWrite));
        assert!(role.assignable_on(&WorkspaceName::parse("team-a").unwrap()));
        assert!(!role.assignable_on(&WorkspaceName::parse("team-b").unwrap()));
    }

    #[test]
    fn custom_role_mistakes_are_named() {
        let scopes = || vec![RoleScope::Server];
        let unknown = RoleDefinition::custom(
            "x",
            "",
            vec!["*/read".into(), "Microsoft.MachineLearningServices/workspaces/model/read".into()],
            vec![],
            scopes(),
        )
        .unwrap_err();
        assert!(unknown.message.starts_with("Actions[1]: unknown action"), "{}", unknown.message);
        assert!(
            unknown.message.contains("did you mean 'Microsoft.MachineLearningServices/workspaces/models/read'"),
            "{}",
            unknown.message
        );
        let not = RoleDefinition::custom("x", "", vec!["*".into()], vec!["Microsoft.Storage/*".into()], scopes())
            .unwrap_err();
        assert!(not.message.starts_with("NotActions[0]: unknown action 'Microsoft.Storage/*'"), "{}", not.message);
        let built = RoleDefinition::custom("reader", "", vec!["*".into()], vec![], scopes()).unwrap_err();
        assert!(built.message.contains("built-in role 'Reader'"), "{}", built.message);
        let empty = RoleDefinition::custom("x", "", vec![], vec![], scopes()).unwrap_err();
        assert!(empty.message.contains("Actions is empty"));
        let nowhere = RoleDefinition::custom("x", "", vec!["*".into()], vec![], vec![]).unwrap_err();
        assert!(nowhere.message.contains("AssignableScopes is empty"));
        let admin = RoleDefinition::custom("x", "", vec!["Atelier/server/administer/action".into()], vec![], scopes());
        assert!(admin.unwrap_err().message.contains("unknown action"), "server administration is no role's to grant");
    }

    #[test]
    fn scopes_read_atelier_s_and_azure_s_forms() {
        let team = RoleScope::Workspace(WorkspaceName::parse("team-a").unwrap());
        assert_eq!(RoleScope::parse("/").unwrap(), RoleScope::Server);
        assert_eq!(RoleScope::parse("/workspaces/team-a").unwrap(), team);
        assert_eq!(
            RoleScope::parse(
                "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/team-a"
            )
            .unwrap(),
            team
        );
        assert_eq!(RoleScope::parse("/subscriptions/0000/resourceGroups/rg").unwrap(), RoleScope::Server);
        assert!(RoleScope::parse("workspaces/team-a").unwrap_err().message.contains("expected '/'"));
        assert!(RoleScope::parse("/workspaces/a b").is_err());
        assert_eq!(team.to_string(), "/workspaces/team-a");
    }
}
