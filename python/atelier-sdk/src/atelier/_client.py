"""``MLClient``: one workspace of one Atelier server, with an operation group per kind."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

from ._http import Connection, find_connection
from .exceptions import ValidationError
from .operations.assets import ComponentOperations, DataOperations, EnvironmentOperations, ModelOperations
from .operations.endpoints import OnlineDeploymentOperations, OnlineEndpointOperations
from .operations.jobs import JobOperations
from .operations.workspace_ops import ComputeOperations, ScheduleOperations, WorkspaceOperations


def _token_of(credential: Any) -> Optional[str]:
    """A credential: a token string, or an object with azure-identity's ``get_token``."""
    if credential is None:
        return None
    if isinstance(credential, str):
        return credential
    if hasattr(credential, "get_token"):
        return str(credential.get_token("atelier").token)
    raise ValidationError("credential: expected an API token (str) or an object with get_token()")


class MLClient:
    """A client for one workspace, shaped like azure-ai-ml's ``MLClient``::

        ml_client = MLClient(url="http://atelier:7420", token=token, workspace_name="vision")
        ml_client.jobs.create_or_update(command(...))

    Whatever is not given is found as the ``atelier`` CLI finds it: ``ATELIER_URL``,
    ``ATELIER_TOKEN`` and ``ATELIER_WORKSPACE``, then ``~/.atelier`` (``atelier login``'s
    credentials, or the token a local server wrote). ``subscription_id`` and
    ``resource_group_name`` are accepted and ignored, so Azure's calls port unchanged."""

    def __init__(self, credential: Any = None, subscription_id: Optional[str] = None,
                 resource_group_name: Optional[str] = None, workspace_name: Optional[str] = None, *,
                 url: Optional[str] = None, token: Optional[str] = None, timeout: float = 300.0,
                 **kwargs: Any) -> None:
        base, secret = find_connection(url, token or _token_of(credential))
        self._connection = Connection(base, secret, timeout=timeout)
        self.workspace_name = workspace_name or os.environ.get("ATELIER_WORKSPACE") or "default"
        self.subscription_id = subscription_id
        self.resource_group_name = resource_group_name
        connection, workspace = self._connection, self.workspace_name
        self.jobs = JobOperations(connection, workspace)
        self.models = ModelOperations(connection, workspace)
        self.data = DataOperations(connection, workspace)
        self.environments = EnvironmentOperations(connection, workspace)
        self.components = ComponentOperations(connection, workspace)
        self.compute = ComputeOperations(connection, workspace)
        self.online_endpoints = OnlineEndpointOperations(connection, workspace)
        self.online_deployments = OnlineDeploymentOperations(connection, workspace)
        self.workspaces = WorkspaceOperations(connection, workspace)
        self.schedules = ScheduleOperations(connection, workspace)

    @classmethod
    def from_config(cls, credential: Any = None, *, path: Optional[Any] = None, file_name: Optional[str] = None,
                    **kwargs: Any) -> "MLClient":
        """A client from a ``config.json`` (``url``, ``workspace_name``; Azure's
        ``subscription_id`` and ``resource_group`` are ignored), looked for in ``path`` or the
        current folder and its parents, also under ``.azureml/``."""
        name = file_name or "config.json"
        start = Path(str(path)) if path else Path.cwd()
        if start.is_file():
            candidates = [start]
        else:
            candidates = [folder / sub / name for folder in [start, *start.parents] for sub in ("", ".azureml")]
        for candidate in candidates:
            if candidate.is_file():
                try:
                    config = json.loads(candidate.read_text())
                except ValueError as error:
                    raise ValidationError(f"{candidate}: not valid JSON: {error}") from error
                return cls(credential, workspace_name=config.get("workspace_name"), url=config.get("url"), **kwargs)
        raise ValidationError(f"no {name} found in {start} or its parents")

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        """Creates or updates an entity through its operation group (a job, model, data asset,
        environment or component)."""
        from .entities import CommandComponent, Data, Environment, Job, Model

        if isinstance(entity, CommandComponent):
            return self.components.create_or_update(entity, **kwargs)
        if isinstance(entity, Job):
            return self.jobs.create_or_update(entity, **kwargs)
        if isinstance(entity, Model):
            return self.models.create_or_update(entity)
        if isinstance(entity, Data):
            return self.data.create_or_update(entity)
        if isinstance(entity, Environment):
            return self.environments.create_or_update(entity)
        raise ValidationError(f"create_or_update takes a job or an asset, not {type(entity).__name__}")

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        """The long-running form, for computes, endpoints, deployments, schedules and workspaces."""
        from .entities import Compute, JobSchedule, ManagedOnlineDeployment, ManagedOnlineEndpoint, Workspace

        if isinstance(entity, Compute):
            return self.compute.begin_create_or_update(entity)
        if isinstance(entity, ManagedOnlineEndpoint):
            return self.online_endpoints.begin_create_or_update(entity)
        if isinstance(entity, ManagedOnlineDeployment):
            return self.online_deployments.begin_create_or_update(entity)
        if isinstance(entity, JobSchedule):
            return self.schedules.begin_create_or_update(entity)
        if isinstance(entity, Workspace):
            return self.workspaces.begin_create(entity)
        raise ValidationError(f"begin_create_or_update takes a compute, endpoint, deployment, schedule or workspace, "
                              f"not {type(entity).__name__}")

    @property
    def url(self) -> str:
        return self._connection.url

    def __repr__(self) -> str:
        return f"MLClient(url={self.url!r}, workspace_name={self.workspace_name!r})"
