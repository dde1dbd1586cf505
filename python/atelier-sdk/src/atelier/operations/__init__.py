"""The operation groups of ``MLClient``."""

from ._base import ListViewType, LROPoller
from .assets import ComponentOperations, DataOperations, EnvironmentOperations, ModelOperations
from .endpoints import OnlineDeploymentOperations, OnlineEndpointOperations
from .jobs import JobOperations
from .workspace_ops import ComputeOperations, ScheduleOperations, WorkspaceOperations

__all__ = [
    "ComponentOperations", "ComputeOperations", "DataOperations", "EnvironmentOperations", "JobOperations",
    "ListViewType", "LROPoller", "ModelOperations", "OnlineDeploymentOperations", "OnlineEndpointOperations",
    "ScheduleOperations", "WorkspaceOperations",
]
