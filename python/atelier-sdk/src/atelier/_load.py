"""``load_job``, ``load_model``, ...: entities from Azure ML's YAML files. Relative paths in a
file are read from the file's folder, as the CLI reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .entities._assets import Data, Environment, Model
from .entities._endpoint import ManagedOnlineDeployment, ManagedOnlineEndpoint
from .entities._job import CommandJob, Job, PipelineJob, SweepJob
from .entities._workspace import CommandComponent, Compute, JobSchedule, Workspace
from .exceptions import ValidationError


def _read(source: Any, params_override: Optional[List[Dict[str, Any]]] = None) -> Tuple[Dict[str, Any], Path]:
    path = Path(str(source))
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ValidationError(f"cannot read {path}: {error}") from error
    except yaml.YAMLError as error:
        raise ValidationError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise ValidationError(f"{path}: expected a mapping of fields")
    for override in params_override or []:
        for field, value in override.items():
            target = document
            parts = field.split(".")
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
    document.pop("$schema", None)
    return document, path.resolve().parent


def load_job(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> Job:
    document, base = _read(source, params_override)
    kind = document.get("type", "command")
    if kind == "sweep":
        return SweepJob._from_yaml(document, base)
    if kind == "pipeline":
        return PipelineJob._from_yaml(document, base)
    if kind != "command":
        raise ValidationError(f"{source}: type: expected command, sweep or pipeline, not '{kind}'")
    return CommandJob._from_yaml(document, base)


def load_model(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> Model:
    document, base = _read(source, params_override)
    return Model(base_path=base, **document)


def load_data(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> Data:
    document, base = _read(source, params_override)
    return Data(base_path=base, **document)


def load_environment(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> Environment:
    document, base = _read(source, params_override)
    return Environment(base_path=base, **document)


def load_component(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> CommandComponent:
    document, base = _read(source, params_override)
    component = CommandComponent._from_yaml(document, base)
    # In a pipeline, a step from this file is sent as the file, as the CLI sends it.
    component._component_file = str(Path(str(source)).resolve())  # type: ignore[attr-defined]
    return component


def load_online_endpoint(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) \
        -> ManagedOnlineEndpoint:
    document, base = _read(source, params_override)
    return ManagedOnlineEndpoint(base_path=base, **document)


def load_online_deployment(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) \
        -> ManagedOnlineDeployment:
    document, base = _read(source, params_override)
    return ManagedOnlineDeployment._from_yaml(document, base)


def load_compute(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> Compute:
    document, base = _read(source, params_override)
    return Compute(base_path=base, **document)


def load_schedule(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> JobSchedule:
    document, base = _read(source, params_override)
    create_job = document.pop("create_job", None)
    if isinstance(create_job, str) and not create_job.startswith("azureml:"):
        create_job = load_job(base / create_job)
    return JobSchedule(base_path=base, create_job=create_job, **document)


def load_workspace(source: Any, *, params_override: Optional[List[Dict[str, Any]]] = None) -> Workspace:
    document, base = _read(source, params_override)
    return Workspace(base_path=base, **document)
