"""Turns an entity whose file names things on this machine (a code folder, a conda file, local
inputs) into the request the server takes: the document, with each of those uploaded and named
as the CLI names them."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from .._code import upload_code
from .._http import Connection, segment, upload_tree
from ..entities._base import is_local_path
from ..exceptions import ValidationError


def inline_conda(document: Dict[str, Any], base: Path, field: str = "environment") -> None:
    """An inline environment's ``conda_file`` given as a path is read here and written inline, so
    the server reads the same environment."""
    environment = document.get(field)
    if not isinstance(environment, dict) or not isinstance(environment.get("conda_file"), str):
        return
    path = (base / environment["conda_file"]).resolve()
    try:
        conda = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValidationError(f"{field}.conda_file: cannot read {path}: {error}") from error
    environment["conda_file"] = conda


def local_input(base: Path, field: str, kind: Optional[str], path: str) -> Path:
    local = (base / path).resolve()
    if not local.exists():
        raise ValidationError(f"{field}.path: '{path}' does not exist ({local})")
    if kind == "uri_file" and not local.is_file():
        raise ValidationError(f"{field}.path: '{path}' is a folder, but a uri_file names one file")
    return local


def upload_inputs(connection: Connection, workspace: str, locals_: Dict[str, Path]) -> Dict[str, str]:
    uploads = {}
    for field, local in locals_.items():
        upload = uuid.uuid4().hex
        uploads[field] = upload_tree(connection, local, f"/workspaces/{segment(workspace)}/data-uploads/{upload}")
    return uploads


def job_request(connection: Connection, workspace: str, document: Dict[str, Any], base: Path,
                name: Optional[str] = None) -> Dict[str, Any]:
    """The body of ``POST jobs`` for a command, sweep or pipeline job's document: checked by the
    server first, then its code and local inputs uploaded."""
    document = copy.deepcopy(document)
    kind = document.get("type", "command")
    folder_name = Path.cwd().name or "Default"
    locals_: Dict[str, Path] = {}
    for input_name, value in (document.get("inputs") or {}).items():
        if isinstance(value, dict) and isinstance(value.get("path"), str) and is_local_path(value["path"]):
            field = f"inputs.{input_name}"
            locals_[field] = local_input(base, field, value.get("type"), value["path"])
    code: Dict[str, Path] = {}
    steps: Dict[str, Dict[str, Any]] = {}
    if kind == "pipeline":
        for step_name, step in (document.get("jobs") or {}).items():
            entry: Dict[str, Any] = {}
            component = step.get("component")
            if isinstance(component, str) and not component.startswith("azureml:"):
                path = (base / component).resolve()
                try:
                    text = path.read_text()
                except OSError as error:
                    raise ValidationError(f"jobs.{step_name}.component: cannot read {path}: {error}") from error
                component_document = yaml.safe_load(text) or {}
                component_base = path.parent
                if isinstance(component_document.get("environment"), dict) and \
                        isinstance(component_document["environment"].get("conda_file"), str):
                    inline_conda(component_document, component_base)
                    text = yaml.safe_dump(component_document, sort_keys=False)
                entry["component_yaml"] = text
                if component_document.get("code"):
                    code[step_name] = component_base / str(component_document["code"])
            else:
                inline_conda(step, base)
                if step.get("code"):
                    code[step_name] = base / str(step["code"])
            for input_name, value in (step.get("inputs") or {}).items():
                if isinstance(value, dict) and isinstance(value.get("path"), str) and is_local_path(value["path"]):
                    field = f"jobs.{step_name}.inputs.{input_name}"
                    locals_[field] = local_input(base, field, value.get("type"), value["path"])
            steps[step_name] = entry
    else:
        holder = document.get("trial", document) if kind == "sweep" else document
        inline_conda(holder, base)
        if holder.get("code"):
            code[""] = base / str(holder["code"])
    body: Dict[str, Any] = {"yaml": _text(document), "folder_name": folder_name}
    if kind == "pipeline":
        body["steps"] = steps
    if name:
        body["name"] = name
    connection.post(f"/workspaces/{segment(workspace)}/job-checks", body)
    for step_name, folder in code.items():
        snapshot = upload_code(connection, workspace, folder, str(folder))
        if step_name:
            body["steps"][step_name]["snapshot"] = snapshot
        else:
            body["snapshot"] = snapshot
    body["uploads"] = upload_inputs(connection, workspace, locals_)
    return body


def _text(document: Dict[str, Any]) -> str:
    import json

    # JSON is YAML: the server reads it with the parser it reads files with.
    return json.dumps(document, indent=2, default=str)


def code_request(connection: Connection, workspace: str, document: Dict[str, Any], base: Path,
                 code_field: str = "code") -> Dict[str, Any]:
    """A component's or a deployment's body: conda inline, its code uploaded as a snapshot."""
    document = copy.deepcopy(document)
    inline_conda(document, base)
    body: Dict[str, Any] = {}
    holder = document.get("code_configuration") if code_field == "code_configuration" else document
    if isinstance(holder, dict) and holder.get("code"):
        body["snapshot"] = upload_code(connection, workspace, base / str(holder["code"]), str(holder["code"]))
    body["yaml"] = _text(document)
    return body
