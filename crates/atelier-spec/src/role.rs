//! Azure's JSON role definition (`az role definition create --role-definition role.json`), for
//! Atelier's custom roles:
//!
//! ```json
//! { "Name": "Endpoint Operator", "IsCustom": true, "Description": "…",
//!   "Actions": ["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*", "*/read"],
//!   "NotActions": ["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*/action"],
//!   "AssignableScopes": ["/workspaces/team-a"] }
//! ```
//!
//! JSON is YAML, so the file is read by the same parser as the others and each mistake names
//! its field and line. `Id`, `IsCustom`, `CreatedBy` and `UpdatedAt` (what `atelier role show
//! -o json` adds) are accepted and ignored, so that a shown role can be edited and updated.
//! Atelier has no data-plane actions: `DataActions` and `NotDataActions` must be empty.

use crate::SpecError;
use atelier_core::authz::{RoleDefinition, RoleScope, check_pattern};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawRole {
    #[serde(rename = "Name")]
    name: Spanned<String>,
    #[serde(rename = "Description", default)]
    description: Option<String>,
    #[serde(rename = "Actions", default)]
    actions: Vec<Spanned<String>>,
    #[serde(rename = "NotActions", default)]
    not_actions: Vec<Spanned<String>>,
    #[serde(rename = "DataActions", default)]
    data_actions: Vec<Spanned<String>>,
    #[serde(rename = "NotDataActions", default)]
    not_data_actions: Vec<Spanned<String>>,
    #[serde(rename = "AssignableScopes", default)]
    assignable_scopes: Vec<Spanned<String>>,
    #[serde(rename = "Id", default)]
    _id: Option<String>,
    #[serde(rename = "IsCustom", default)]
    _is_custom: Option<bool>,
    #[serde(rename = "CreatedBy", default)]
    _created_by: Option<String>,
    #[serde(rename = "UpdatedAt", default)]
    _updated_at: Option<serde_json::Value>,
}

/// Reads and checks a role definition.
pub fn parse_role_definition(text: &str) -> Result<RoleDefinition, SpecError> {
    let raw: RawRole = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "role"))?;
    for (field, list) in [("DataActions", &raw.data_actions), ("NotDataActions", &raw.not_data_actions)] {
        if let Some(first) = list.first() {
            return Err(SpecError::new(
                format!("{field}[0]"),
                first.referenced.line(),
                format!(
                    "'{}': Atelier has no data-plane actions; write the action in Actions (scoring with an \
                     endpoint's key or token needs no role)",
                    first.value
                ),
            ));
        }
    }
    for (field, list) in [("Actions", &raw.actions), ("NotActions", &raw.not_actions)] {
        for (index, pattern) in list.iter().enumerate() {
            check_pattern(&pattern.value)
                .map_err(|message| SpecError::new(format!("{field}[{index}]"), pattern.referenced.line(), message))?;
        }
    }
    let mut scopes = Vec::with_capacity(raw.assignable_scopes.len());
    for (index, scope) in raw.assignable_scopes.iter().enumerate() {
        scopes.push(RoleScope::parse(&scope.value).map_err(|error| {
            SpecError::new(format!("AssignableScopes[{index}]"), scope.referenced.line(), error.message)
        })?);
    }
    let values = |list: Vec<Spanned<String>>| list.into_iter().map(|item| item.value).collect();
    let name_line = raw.name.referenced.line();
    RoleDefinition::custom(
        &raw.name.value,
        raw.description.as_deref().unwrap_or_default(),
        values(raw.actions),
        values(raw.not_actions),
        scopes,
    )
    .map_err(|error| {
        // What is left is about the role as a whole (its name, an empty list): the name's line.
        let field = ["Actions", "AssignableScopes", "Description"]
            .into_iter()
            .find(|field| error.message.contains(&format!("{field} ")) || error.message.starts_with(field))
            .unwrap_or("Name");
        SpecError::new(field, name_line, error.message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use atelier_core::authz::Action;

    #[test]
    fn azure_s_example_role_reads() {
        let text = r#"{
  "Name": "Data Scientist Custom",
  "IsCustom": true,
  "Description": "Can run jobs, cannot touch compute or the workspace.",
  "Actions": ["Microsoft.MachineLearningServices/workspaces/*/read",
              "Microsoft.MachineLearningServices/workspaces/*/action",
              "Microsoft.MachineLearningServices/workspaces/*/delete",
              "Microsoft.MachineLearningServices/workspaces/*/write"],
  "NotActions": ["Microsoft.MachineLearningServices/workspaces/delete",
                 "Microsoft.MachineLearningServices/workspaces/write",
                 "Microsoft.MachineLearningServices/workspaces/computes/*/write",
                 "Microsoft.MachineLearningServices/workspaces/computes/*/delete",
                 "Microsoft.Authorization/*"],
  "AssignableScopes": ["/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/team-a"]
}"#;
        let role = parse_role_definition(text).unwrap();
        assert_eq!(role.name, "Data Scientist Custom");
        assert!(role.permits(Action::JobsWrite) && !role.permits(Action::ComputesWrite));
        assert_eq!(role.assignable_scopes[0].to_string(), "/workspaces/team-a");
    }

    #[test]
    fn role_mistakes_name_the_field_and_line() {
        let cases = [
            (
                "{\n\"Name\": \"x\",\n\"Actions\": [\"*/read\",\n \"Microsoft.MachineLearningServices/workspaces/modls/write\"],\n\"AssignableScopes\": [\"/\"]}",
                "Actions[1]",
                4,
                "did you mean 'Microsoft.MachineLearningServices/workspaces/models/write'",
            ),
            ("{\"Name\": \"x\",\n\"Actions\": [\"*\"],\n\"Permissions\": []}", "role", 3, "Permissions"),
            (
                "{\"Name\": \"x\",\n\"Actions\": [\"*\"],\n\"AssignableScopes\": [\"team-a\"]}",
                "AssignableScopes[0]",
                3,
                "invalid scope",
            ),
            (
                "{\"Name\": \"x\",\n\"Actions\": [\"*\"],\n\"DataActions\": [\"Microsoft.Storage/*\"],\n\"AssignableScopes\": [\"/\"]}",
                "DataActions[0]",
                3,
                "no data-plane",
            ),
            (
                "{\"Name\": \"Owner\",\n\"Actions\": [\"*\"],\n\"AssignableScopes\": [\"/\"]}",
                "Name",
                1,
                "built-in role",
            ),
            ("{\"Name\": \"x\",\n\"Actions\": [\"*\"]}", "AssignableScopes", 1, "AssignableScopes is empty"),
            ("{\"Name\": \"x\",\n\"AssignableScopes\": [\"/\"]}", "Actions", 1, "Actions is empty"),
        ];
        crate::assert_mistakes(parse_role_definition, &cases);
    }
}
