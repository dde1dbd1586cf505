"""``ml_client.models``, ``.data``, ``.environments`` and ``.components``."""

from __future__ import annotations

import uuid
from typing import Any, Optional

from .._http import segment, upload_tree
from ..entities._assets import Data, Environment, Model, local_asset_path
from ..entities._workspace import CommandComponent
from ..exceptions import ResourceNotFoundError, ValidationError
from ._base import AssetOperations, LROPoller
from ._prepare import code_request


def _taken(operations: AssetOperations, name: str, version: Optional[str]) -> None:
    """Fails before anything is uploaded when the version asked for exists."""
    if version is None:
        return
    try:
        operations.get(name, version=version)
    except ResourceNotFoundError:
        return
    raise ValidationError(f"{name} version {version} already exists; nothing was uploaded",
                          error_code="RESOURCE_ALREADY_EXISTS", status_code=409)


class ModelOperations(AssetOperations[Model]):
    collection = "models"

    def _entity(self, rest: Any) -> Model:
        return Model._from_rest(rest)

    def create_or_update(self, model: Model) -> Model:
        """Registers a model version; a local ``path`` is uploaded first. Without a version the
        next number is taken."""
        if not model.name:
            raise ValidationError("name: a model needs a name")
        body: dict = {"yaml": model._yaml_text()}
        local = local_asset_path(model)
        if local is not None:
            _taken(self, model.name, model.version)
            prefix = f"{self._ws}/models/{segment(model.name)}/uploads/{uuid.uuid4().hex}"
            body["upload_uri"] = upload_tree(self._connection, local, prefix)
        return Model._from_rest(self._connection.post(f"{self._ws}/models", body))

    def download(self, name: str, version: Optional[str] = None, *, label: Optional[str] = None,
                 download_path: Any = ".") -> None:
        """A version's files, under ``download_path``."""
        self._download_files(name, version, None if version else (label or "latest"), download_path)


class DataOperations(AssetOperations[Data]):
    collection = "data"

    def _entity(self, rest: Any) -> Data:
        return Data._from_rest(rest)

    def create_or_update(self, data: Data) -> Data:
        """Registers a data asset version; a local ``path`` is uploaded to the workspace's
        default datastore first."""
        if not data.name:
            raise ValidationError("name: a data asset needs a name")
        body: dict = {"yaml": data._yaml_text()}
        local = local_asset_path(data)
        if local is not None:
            if data.type == "uri_file" and not local.is_file():
                raise ValidationError(f"path: '{data.path}' is a folder, but a uri_file names one file")
            _taken(self, data.name, data.version)
            body["upload_uri"] = upload_tree(self._connection, local, f"{self._ws}/data-uploads/{uuid.uuid4().hex}")
        return Data._from_rest(self._connection.post(f"{self._ws}/data", body))

    def download(self, name: str, version: Optional[str] = None, *, label: Optional[str] = None,
                 download_path: Any = ".") -> None:
        self._download_files(name, version, None if version else (label or "latest"), download_path)


class EnvironmentOperations(AssetOperations[Environment]):
    collection = "environments"

    def _entity(self, rest: Any) -> Environment:
        return Environment._from_rest(rest)

    def create_or_update(self, environment: Environment) -> Environment:
        """Registers an environment version (its conda file is read here and sent inline)."""
        if not environment.name:
            raise ValidationError("name: an environment needs a name")
        created = self._connection.post(f"{self._ws}/environments", {"yaml": environment._yaml_text()})
        return Environment._from_rest(created)

    def begin_build(self, name: str, version: Optional[str] = None, *, label: Optional[str] = None) -> LROPoller[dict]:
        """Builds a version's uv environment now (jobs build it when they need it)."""
        path = self._version_path(name, version, None if version else (label or "latest")) + "/build"
        started = self._connection.post(path)
        return LROPoller(lambda: started)


class ComponentOperations(AssetOperations[CommandComponent]):
    collection = "components"

    def _entity(self, rest: Any) -> CommandComponent:
        return CommandComponent._from_rest(rest)

    def create_or_update(self, component: Any, *, version: Optional[str] = None) -> CommandComponent:
        """Registers a component version (from :func:`atelier.load_component`, a
        :class:`CommandComponent`, or a ``command(...)`` with a name); the same content registered
        again is the version that has it."""
        if not isinstance(component, CommandComponent):
            from ..entities._job import CommandJob

            if not isinstance(component, CommandJob):
                raise ValidationError(f"expected a component, got {type(component).__name__}")
            component = _as_component(component)
        if not component.name:
            raise ValidationError("name: a component needs a name")
        body = code_request(self._connection, self._workspace, component._to_dict(), component.base_path)
        if version:
            body["version"] = str(version)
        return CommandComponent._from_rest(self._connection.post(f"{self._ws}/components", body))


def _as_component(job: Any) -> CommandComponent:
    component = CommandComponent(
        name=job.name, display_name=job.display_name, description=job.description, tags=job.tags,
        command=job.command, code=job.code, environment=job.environment, inputs=job.inputs,
        outputs=dict(job.outputs), distribution=job.distribution, resources=job.resources,
        is_deterministic=job.is_deterministic, base_path=job.base_path)
    return component
