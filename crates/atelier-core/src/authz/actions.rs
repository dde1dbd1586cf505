//! Every action an Atelier operation performs, and the one table that names each with Azure
//! ML's action string. Role definitions (built-in and custom) are written in those strings.

/// What an operation does, at the granularity roles are written in: a resource of the
/// workspace and what is done to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    WorkspaceRead,
    WorkspaceWrite,
    WorkspaceDelete,
    ExperimentsRead,
    ExperimentsWrite,
    ExperimentsDelete,
    JobsRead,
    JobsWrite,
    JobsCancel,
    ModelsRead,
    ModelsWrite,
    ModelsDelete,
    DataRead,
    DataWrite,
    EnvironmentsRead,
    EnvironmentsWrite,
    ComponentsRead,
    ComponentsWrite,
    SchedulesRead,
    SchedulesWrite,
    SchedulesDelete,
    DatastoresRead,
    DatastoresWrite,
    DatastoresDelete,
    ComputesRead,
    ComputesWrite,
    ComputesDelete,
    ComputesStart,
    ComputesStop,
    ComputesRestart,
    ComputesApplicationAccess,
    EndpointsRead,
    EndpointsWrite,
    EndpointsDelete,
    EndpointsListKeys,
    EndpointsRegenerateKeys,
    EndpointsToken,
    RoleAssignmentsRead,
    RoleAssignmentsWrite,
    RoleAssignmentsDelete,
    /// Server-wide administration (users, other users' tokens, creating workspaces, defining
    /// roles, garbage collection). A flag of the user, never granted by a role.
    ServerAdmin,
}

/// One row of [`ACTIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionInfo {
    pub action: Action,
    /// Azure ML's action string, as custom roles write it.
    pub azure: &'static str,
    /// What it permits, in Atelier's words.
    pub description: &'static str,
    /// Whether a role can grant it ([`Action::ServerAdmin`] is the one that cannot).
    pub assignable: bool,
}

const fn row(action: Action, azure: &'static str, description: &'static str) -> ActionInfo {
    ActionInfo { action, azure, description, assignable: true }
}

/// Every action, in [`Action`]'s order (a test keeps it so).
pub const ACTIONS: &[ActionInfo] = &[
    row(
        Action::WorkspaceRead,
        "Microsoft.MachineLearningServices/workspaces/read",
        "see the workspace, its description and tags",
    ),
    row(
        Action::WorkspaceWrite,
        "Microsoft.MachineLearningServices/workspaces/write",
        "change the workspace's description and tags",
    ),
    row(
        Action::WorkspaceDelete,
        "Microsoft.MachineLearningServices/workspaces/delete",
        "delete the workspace and all it holds",
    ),
    row(
        Action::ExperimentsRead,
        "Microsoft.MachineLearningServices/workspaces/experiments/read",
        "read experiments, runs, metrics, parameters, artifacts and logged models (the MLflow API)",
    ),
    row(
        Action::ExperimentsWrite,
        "Microsoft.MachineLearningServices/workspaces/experiments/write",
        "create and change experiments, runs, metrics, parameters, tags, artifacts and logged models",
    ),
    row(
        Action::ExperimentsDelete,
        "Microsoft.MachineLearningServices/workspaces/experiments/delete",
        "delete and restore experiments, runs and logged models",
    ),
    row(
        Action::JobsRead,
        "Microsoft.MachineLearningServices/workspaces/jobs/read",
        "read jobs, their logs and outputs",
    ),
    row(Action::JobsWrite, "Microsoft.MachineLearningServices/workspaces/jobs/write", "submit jobs"),
    row(Action::JobsCancel, "Microsoft.MachineLearningServices/workspaces/jobs/cancel/action", "cancel jobs"),
    row(
        Action::ModelsRead,
        "Microsoft.MachineLearningServices/workspaces/models/read",
        "read registered models and their versions",
    ),
    row(
        Action::ModelsWrite,
        "Microsoft.MachineLearningServices/workspaces/models/write",
        "register models and versions, change, archive and restore them",
    ),
    row(
        Action::ModelsDelete,
        "Microsoft.MachineLearningServices/workspaces/models/delete",
        "delete registered models and versions",
    ),
    row(Action::DataRead, "Microsoft.MachineLearningServices/workspaces/data/read", "read data assets and their files"),
    row(
        Action::DataWrite,
        "Microsoft.MachineLearningServices/workspaces/data/write",
        "create, change, archive and restore data assets",
    ),
    row(
        Action::EnvironmentsRead,
        "Microsoft.MachineLearningServices/workspaces/environments/read",
        "read environments and their builds",
    ),
    row(
        Action::EnvironmentsWrite,
        "Microsoft.MachineLearningServices/workspaces/environments/write",
        "create, archive and restore environments, and build them",
    ),
    row(
        Action::ComponentsRead,
        "Microsoft.MachineLearningServices/workspaces/components/read",
        "read components, their interfaces and code",
    ),
    row(
        Action::ComponentsWrite,
        "Microsoft.MachineLearningServices/workspaces/components/write",
        "register, archive and restore components",
    ),
    row(
        Action::SchedulesRead,
        "Microsoft.MachineLearningServices/workspaces/schedules/read",
        "read schedules and the jobs they submitted",
    ),
    row(
        Action::SchedulesWrite,
        "Microsoft.MachineLearningServices/workspaces/schedules/write",
        "create, change, enable, disable and trigger schedules",
    ),
    row(Action::SchedulesDelete, "Microsoft.MachineLearningServices/workspaces/schedules/delete", "delete schedules"),
    row(
        Action::DatastoresRead,
        "Microsoft.MachineLearningServices/workspaces/datastores/read",
        "read datastores (never their secrets)",
    ),
    row(
        Action::DatastoresWrite,
        "Microsoft.MachineLearningServices/workspaces/datastores/write",
        "create and change datastores",
    ),
    row(
        Action::DatastoresDelete,
        "Microsoft.MachineLearningServices/workspaces/datastores/delete",
        "delete datastores",
    ),
    row(Action::ComputesRead, "Microsoft.MachineLearningServices/workspaces/computes/read", "read computes"),
    row(
        Action::ComputesWrite,
        "Microsoft.MachineLearningServices/workspaces/computes/write",
        "create and change computes",
    ),
    row(Action::ComputesDelete, "Microsoft.MachineLearningServices/workspaces/computes/delete", "delete computes"),
    row(
        Action::ComputesStart,
        "Microsoft.MachineLearningServices/workspaces/computes/start/action",
        "start compute instances (one's own, or any for those who may change computes)",
    ),
    row(
        Action::ComputesStop,
        "Microsoft.MachineLearningServices/workspaces/computes/stop/action",
        "stop compute instances (one's own, or any for those who may change computes)",
    ),
    row(
        Action::ComputesRestart,
        "Microsoft.MachineLearningServices/workspaces/computes/restart/action",
        "restart compute instances (one's own, or any for those who may change computes)",
    ),
    row(
        Action::ComputesApplicationAccess,
        "Microsoft.MachineLearningServices/workspaces/computes/applicationaccess/action",
        "open a compute instance's JupyterLab (one's own, or one shared with them)",
    ),
    row(
        Action::EndpointsRead,
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read",
        "read online endpoints, deployments, their logs and counters",
    ),
    row(
        Action::EndpointsWrite,
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write",
        "create and change online endpoints and deployments, and their traffic",
    ),
    row(
        Action::EndpointsDelete,
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/delete",
        "delete online endpoints and deployments",
    ),
    row(
        Action::EndpointsListKeys,
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action",
        "read an endpoint's keys",
    ),
    row(
        Action::EndpointsRegenerateKeys,
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action",
        "regenerate an endpoint's keys",
    ),
    row(
        Action::EndpointsToken,
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/token/action",
        "get a scoring token for an endpoint",
    ),
    row(
        Action::RoleAssignmentsRead,
        "Microsoft.Authorization/roleAssignments/read",
        "see who has which role on the workspace",
    ),
    row(Action::RoleAssignmentsWrite, "Microsoft.Authorization/roleAssignments/write", "assign roles on the workspace"),
    row(Action::RoleAssignmentsDelete, "Microsoft.Authorization/roleAssignments/delete", "remove role assignments"),
    ActionInfo {
        action: Action::ServerAdmin,
        azure: "Atelier/server/administer/action",
        description: "administer the server: users, other users' tokens, workspaces' creation, role definitions",
        assignable: false,
    },
];

impl Action {
    /// This action's row of [`ACTIONS`].
    pub fn info(self) -> &'static ActionInfo {
        &ACTIONS[self as usize]
    }

    /// Azure ML's action string.
    pub fn as_str(self) -> &'static str {
        self.info().azure
    }

    /// Whether the action only reads.
    pub fn is_read(self) -> bool {
        self.as_str().ends_with("/read")
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_enum_s_order_and_names_each_action_once() {
        for (index, info) in ACTIONS.iter().enumerate() {
            assert_eq!(info.action as usize, index, "{:?} is out of order", info.action);
        }
        assert_eq!(ACTIONS.len(), Action::ServerAdmin as usize + 1);
        let mut strings: Vec<String> = ACTIONS.iter().map(|info| info.azure.to_lowercase()).collect();
        strings.sort();
        strings.dedup();
        assert_eq!(strings.len(), ACTIONS.len(), "an Azure action string is used twice");
    }
}
