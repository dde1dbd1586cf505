"""A job's or a component's inputs and outputs, as Azure ML's ``Input`` and ``Output``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from ._base import drop_none

LITERAL_TYPES = ("integer", "number", "string", "boolean")


class Input:
    """An input: data (``uri_file``, ``uri_folder``, ``mltable``, ``mlflow_model``,
    ``custom_model``) at a ``path`` (local, ``azureml:name:version``, ``azureml://...``), or, in a
    component's interface, a literal type with its default and bounds."""

    def __init__(self, *, type: str = "uri_folder", path: Optional[str] = None, mode: Optional[str] = None,
                 default: Any = None, optional: Optional[bool] = None, min: Optional[float] = None,
                 max: Optional[float] = None, enum: Optional[List[Any]] = None,
                 description: Optional[str] = None) -> None:
        self.type = type
        self.path = None if path is None else str(path)
        self.mode = mode
        self.default = default
        self.optional = optional
        self.min = min
        self.max = max
        self.enum = enum
        self.description = description

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({
            "type": self.type, "path": self.path, "mode": self.mode, "default": self.default,
            "optional": self.optional, "min": self.min, "max": self.max, "enum": self.enum,
            "description": self.description,
        })

    @classmethod
    def _from_dict(cls, document: Dict[str, Any]) -> "Input":
        return cls(type=document.get("type") or "uri_folder", path=document.get("path"), mode=document.get("mode"),
                   default=document.get("default"), optional=document.get("optional"), min=document.get("min"),
                   max=document.get("max"), enum=document.get("enum"), description=document.get("description"))

    def __repr__(self) -> str:
        return f"Input({', '.join(f'{k}={v!r}' for k, v in self._to_dict().items())})"


class Output:
    """An output: where a job writes (``type``, ``mode``), optionally registered as an asset
    (``name``, ``version``) when the job completes."""

    def __init__(self, *, type: str = "uri_folder", path: Optional[str] = None, mode: Optional[str] = None,
                 name: Optional[str] = None, version: Optional[str] = None,
                 description: Optional[str] = None) -> None:
        self.type = type
        self.path = path
        self.mode = mode
        self.name = name
        self.version = None if version is None else str(version)
        self.description = description

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({
            "type": self.type, "path": self.path, "mode": self.mode, "name": self.name,
            "version": self.version, "description": self.description,
        })

    @classmethod
    def _from_dict(cls, document: Optional[Dict[str, Any]]) -> "Output":
        document = document or {}
        return cls(type=document.get("type") or "uri_folder", path=document.get("path"), mode=document.get("mode"),
                   name=document.get("name"), version=document.get("version"),
                   description=document.get("description"))

    def __repr__(self) -> str:
        return f"Output({', '.join(f'{k}={v!r}' for k, v in self._to_dict().items())})"


InputValue = Union[Input, str, int, float, bool]


def input_to_yaml(value: Any) -> Any:
    """An input's value as a job file writes it."""
    if isinstance(value, Input):
        return value._to_dict()
    if hasattr(value, "_binding"):
        return value._binding()
    if hasattr(value, "_search_space"):
        raise TypeError("a search-space expression binds an input only in a sweep: call .sweep(...)")
    return value


def input_from_yaml(value: Any) -> Any:
    if isinstance(value, dict):
        return Input._from_dict(value)
    return value
